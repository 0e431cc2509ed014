//! The rules of `instance` settings defined in [`crate::delivery`]: every problem, located.

use crate::diagnostics::Problem;
use crate::hardening::{IngressFlavor, Routing};
use crate::source::Path;
use crate::types::Model;
use crate::values::Name;
use std::collections::BTreeSet;

fn http_url(s: &str) -> bool {
    (s.starts_with("http://") || s.starts_with("https://")) && !s.contains(char::is_whitespace)
}

/// An HTTP header name (RFC 9110 token).
fn header_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

/// Checks `names` (under `path`) against the projects the instance deploys fully.
fn check_projects(model: &Model, path: &Path, names: &[Name], out: &mut Vec<Problem>) {
    let deployed: BTreeSet<&str> = model
        .projects
        .iter()
        .filter(|p| model.deployment(p) == crate::types::Deployment::Full)
        .map(|p| p.name.as_str())
        .collect();
    for (i, n) in names.iter().enumerate() {
        if deployed.contains(n.as_str()) {
            continue;
        }
        let mut msg = if model.project(n.as_str()).is_some() {
            format!("project `{n}` has no Grafana in this instance (archived, unserved or excluded)")
        } else {
            format!("unknown project `{n}`")
        };
        if model.project(n.as_str()).is_none()
            && let Some(s) = crate::structure::suggest(n.as_str(), deployed.iter().copied())
        {
            msg.push_str(&format!("; did you mean `{s}`?"));
        }
        out.push(Problem::new(path.index(i), msg).help("name a project this instance deploys"));
    }
}

/// Checks the delivery settings of a model; returns every problem.
#[must_use]
pub fn validate(model: &Model) -> Vec<Problem> {
    let mut out = Vec::new();
    let inst = &model.instance;
    let routing = &inst.security.routing;
    let controller = inst.security.https.controller;

    if let Some(a) = &inst.auth_proxy {
        let ap = Path::root().key("instance").key("authProxy");
        let mut push = |path: Path, msg: String, help: &str| out.push(Problem::new(path, msg).help(help));
        if !http_url(&a.auth_url) {
            push(
                ap.key("authUrl"),
                format!("`{}` is not an http(s) URL", a.auth_url),
                "e.g. http://oauth2-proxy.oauth2-proxy.svc.cluster.local/oauth2/auth",
            );
        }
        if let Some(s) = &a.signin_url
            && !http_url(s)
        {
            push(
                ap.key("signinUrl"),
                format!("`{s}` is not an http(s) URL"),
                "e.g. https://auth.devstats.cncf.io/oauth2/start?rd=https://$host$escaped_request_uri",
            );
        }
        for (i, h) in a.response_headers.iter().enumerate() {
            if !header_name(h) {
                push(
                    ap.key("responseHeaders").index(i),
                    format!("`{h}` is not an HTTP header name"),
                    "e.g. X-Auth-Request-User",
                );
            }
        }
        let p = &a.protect;
        if !(p.all_grafanas || p.api || p.static_sites || !p.grafanas.is_empty()) {
            push(
                ap.key("protect"),
                "protects nothing".to_owned(),
                "set allGrafanas, grafanas, api or staticSites (or remove authProxy)",
            );
        }
        match routing {
            Routing::GatewayApi(_) => push(
                ap.clone(),
                "oauth2-proxy protection is not supported with Gateway API routing: Gateway API has \
                 no standard external-auth filter and devstats-k8s renders no implementation-specific \
                 policy (such as Envoy Gateway's SecurityPolicy)"
                    .to_owned(),
                "use security.routing: ingress, or put oauth2-proxy in front of the Gateway yourself",
            ),
            Routing::Ingress => {
                if controller == IngressFlavor::IngressNginx && a.signin_url.is_none() {
                    push(
                        ap.key("signinUrl"),
                        "ingress-nginx needs the sign-in URL (auth-signin) to redirect browsers".to_owned(),
                        "e.g. https://auth.devstats.cncf.io/oauth2/start?rd=https://$host$escaped_request_uri",
                    );
                }
            }
        }
        if !inst.components.ingress {
            push(
                ap.clone(),
                "no Ingress is rendered (components.ingress is off), so nothing can be protected".to_owned(),
                "turn components.ingress on or remove authProxy",
            );
        }
        if p.api && !(inst.components.api && inst.ingress.api_on_bare_domains) {
            push(
                ap.key("protect").key("api"),
                "the API is not routed (components.api or ingress.apiOnBareDomains is off)".to_owned(),
                "remove protect.api",
            );
        }
        if p.static_sites && !inst.components.static_sites {
            push(
                ap.key("protect").key("staticSites"),
                "the static sites are not rendered (components.staticSites is off)".to_owned(),
                "remove protect.staticSites",
            );
        }
        check_projects(model, &ap.key("protect").key("grafanas"), &p.grafanas, &mut out);
    }

    if let Some(c) = &inst.canary {
        let cp = Path::root().key("instance").key("canary");
        let mut push = |path: Path, msg: String, help: &str| out.push(Problem::new(path, msg).help(help));
        if !(c.api || c.all_grafanas || !c.grafanas.is_empty()) {
            push(
                cp.clone(),
                "canaries nothing".to_owned(),
                "set api, allGrafanas or grafanas (or remove canary)",
            );
        }
        if !inst.components.ingress {
            push(
                cp.clone(),
                "Flagger shifts traffic through the Ingress or HTTPRoute, but components.ingress is off"
                    .to_owned(),
                "turn components.ingress on or remove canary",
            );
        }
        if *routing == Routing::Ingress && controller == IngressFlavor::Traefik {
            push(
                cp.clone(),
                "Flagger's Traefik provider shifts traffic with TraefikService objects, which \
                 devstats-k8s does not render (it routes with Ingresses)"
                    .to_owned(),
                "use ingress-nginx (security.https.controller: ingress-nginx) or Gateway API routing",
            );
        }
        if c.api && !(inst.components.api && inst.ingress.api_on_bare_domains) {
            push(
                cp.key("api"),
                "the API is not routed (components.api or ingress.apiOnBareDomains is off)".to_owned(),
                "remove canary.api",
            );
        }
        let a = &c.analysis;
        let ana = cp.key("analysis");
        let interval_ok = a
            .interval
            .strip_suffix(['s', 'm'])
            .is_some_and(|n| n.chars().all(|d| d.is_ascii_digit()) && n.parse::<u32>().is_ok_and(|v| v > 0));
        if !interval_ok {
            push(
                ana.key("interval"),
                format!("`{}` is not an interval Flagger accepts", a.interval),
                "seconds or minutes, e.g. 30s or 1m",
            );
        }
        if a.threshold == 0 {
            push(
                ana.key("threshold"),
                "0 failed checks would roll back at once".to_owned(),
                "allowed: 1 or more",
            );
        }
        if a.max_weight == 0 || a.max_weight > 100 {
            push(
                ana.key("maxWeight"),
                format!("{} % is not a traffic share", a.max_weight),
                "allowed: 1 to 100",
            );
        }
        if a.step_weight == 0 || a.step_weight > a.max_weight {
            push(
                ana.key("stepWeight"),
                format!(
                    "step {} % does not reach maxWeight {} % in steps",
                    a.step_weight, a.max_weight
                ),
                "allowed: 1 to maxWeight",
            );
        }
        if a.min_success_rate > 100 {
            push(
                ana.key("minSuccessRate"),
                format!("{} % is not a rate", a.min_success_rate),
                "allowed: 0 to 100",
            );
        }
        if a.max_duration_ms == 0 {
            push(
                ana.key("maxDurationMs"),
                "0 ms fails every check".to_owned(),
                "e.g. 500",
            );
        }
        for (field, url) in [
            ("metricsServer", &c.metrics_server),
            ("loadTesterUrl", &c.load_tester_url),
        ] {
            if let Some(u) = url
                && !http_url(u)
            {
                push(
                    cp.key(field),
                    format!("`{u}` is not an http(s) URL"),
                    "e.g. http://flagger-loadtester.test/",
                );
            }
        }
        let auto = &inst.security.autoscaling;
        for (on, replicas, hpa, field) in [
            (c.api, inst.replicas.api, auto.api.enabled, "api"),
            (
                c.all_grafanas || !c.grafanas.is_empty(),
                inst.replicas.grafana,
                auto.grafana.enabled,
                "grafana",
            ),
        ] {
            if on && replicas > 1 && !hpa {
                out.push(
                    Problem::new(
                        Path::root().key("instance").key("replicas").key(field),
                        format!(
                            "{replicas} replicas cannot be kept with a canary: a canaried Deployment is \
                             rendered without spec.replicas (Flagger scales it) and Flagger starts the \
                             primary with the target's replica count"
                        ),
                    )
                    .help(format!(
                        "enable security.autoscaling.{field} (Flagger copies the HPA to the primary), or use 1 replica"
                    )),
                );
            }
        }
        check_projects(model, &cp.key("grafanas"), &c.grafanas, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::delivery::*;
    #[allow(unused_imports)]
    use crate::types::*;
    #[allow(unused_imports)]
    use crate::values::*;

    #[test]
    fn yaml_spellings_and_defaults() {
        let c: Canary =
            serde_saphyr::from_str("grafanas: [kubernetes]\nanalysis: {threshold: 3}\n").expect("parses");
        assert!(c.grafana("kubernetes") && !c.grafana("prometheus") && !c.api);
        assert_eq!(c.analysis.threshold, 3);
        assert_eq!(c.analysis.interval, "1m");
        assert_eq!(c.progress_deadline_seconds, 600);
        let a: AuthProxy = serde_saphyr::from_str(
            "authUrl: http://o/oauth2/auth\nsigninUrl: https://a/oauth2/start\nprotect: {allGrafanas: true}\n",
        )
        .expect("parses");
        assert!(a.protect.grafana("anything") && !a.protect.api);
        assert!(serde_saphyr::from_str::<AuthProxy>("authUrl: x\nprotect: {grafana: true}\n").is_err());
    }

    #[test]
    fn header_names() {
        assert!(header_name("X-Auth-Request-User"));
        assert!(!header_name("X Auth"));
        assert!(!header_name(""));
    }
}
