//! The rules of `instance` settings defined in [`crate::hardening`]: every problem, located.

use crate::diagnostics::Problem;
use crate::hardening::*;
use crate::source::Path;
use crate::types::Model;
use crate::values::ImageRef;

/// Checks the security settings of a model; returns every problem.
#[must_use]
pub fn validate(model: &Model) -> Vec<Problem> {
    let mut out = Vec::new();
    let inst = &model.instance;
    let s = &inst.security;
    let sp = Path::root().key("instance").key("security");
    let mut push = |path: Path, msg: String, help: &str| out.push(Problem::new(path, msg).help(help));

    if s.pod_security.enforce == Some(PsaLevel::Restricted) {
        push(
            sp.key("podSecurity").key("enforce"),
            "`restricted` would reject the Grafana and DevStats tool pods, whose images must run as root"
                .to_owned(),
            "use `baseline` to enforce and `restricted` to warn and audit (see docs/security.md)",
        );
    }
    let v = &s.pod_security.version;
    let version_ok = v == "latest"
        || v.strip_prefix("v1.")
            .is_some_and(|m| !m.is_empty() && m.chars().all(|c| c.is_ascii_digit()));
    if !version_ok {
        push(
            sp.key("podSecurity").key("version"),
            format!("`{v}` is not a Pod Security Standards version"),
            "allowed: latest or v1.N, e.g. v1.33",
        );
    }
    if s.pods.run_as_user < 10_000 {
        push(
            sp.key("pods").key("runAsUser"),
            format!("UID {} may collide with a host user", s.pods.run_as_user),
            "allowed: 10000 or more",
        );
    }
    if let Some(r) = &s.pods.default_resources {
        for (which, cm) in [("requests", &r.requests), ("limits", &r.limits)] {
            for (field, q) in [("cpu", &cm.cpu), ("memory", &cm.memory)] {
                if let Err(e) = q.check_positive() {
                    push(
                        sp.key("pods").key("defaultResources").key(which).key(field),
                        e,
                        "allowed: a positive Kubernetes quantity such as 512Mi, 250m",
                    );
                }
            }
        }
    }

    let require = s.images.require;
    if require != Pinning::Any {
        let ip = Path::root().key("instance").key("images");
        let bad = |i: &ImageRef| i.check().is_ok() && !require.accepts(i.pin());
        let msg = |i: &ImageRef| {
            let what = match i.pin() {
                crate::values::ImagePin::Latest => "is not pinned (no tag, or `:latest`)",
                crate::values::ImagePin::Tag => "is pinned by tag, not by digest",
                crate::values::ImagePin::Digest => "is pinned by digest",
            };
            format!(
                "image `{i}` {what}; security.images.require asks for {}",
                require.describe()
            )
        };
        let help = "pin it (repo:TAG for an image you tag and push, repo@sha256:… for a digest), or relax instance.security.images.require (any, tag, digest); upstream publishes latest only";
        for (field, img) in inst.images.named() {
            if bad(img) {
                push(ip.key(field), msg(img), help);
            }
        }
        for (i, f) in model.foundations.iter().enumerate() {
            if bad(&f.static_image) {
                push(
                    Path::root().key("foundations").index(i).key("staticImage"),
                    msg(&f.static_image),
                    help,
                );
            }
        }
    }

    let r = &s.rollout;
    if let Some(grace) = r.termination_grace_period_seconds
        && r.pre_stop_seconds > 0
        && grace <= r.pre_stop_seconds
    {
        push(
            sp.key("rollout").key("terminationGracePeriodSeconds"),
            format!(
                "{grace} s leave no time to stop after the {} s preStop sleep",
                r.pre_stop_seconds
            ),
            "make it longer than preStopSeconds, e.g. preStopSeconds + 30",
        );
    }

    let a = &s.autoscaling;
    for (field, h) in [
        ("api", &a.api),
        ("staticSites", &a.static_sites),
        ("grafana", &a.grafana),
    ] {
        if !h.enabled {
            continue;
        }
        let hp = sp.key("autoscaling").key(field);
        if h.min_replicas < 2 {
            push(
                hp.key("minReplicas"),
                format!("{} replica is no availability", h.min_replicas),
                "allowed: 2 or more",
            );
        }
        if h.max_replicas <= h.min_replicas {
            push(
                hp.key("maxReplicas"),
                format!(
                    "maxReplicas {} leaves the autoscaler nothing to scale above minReplicas {}",
                    h.max_replicas, h.min_replicas
                ),
                "allowed: more than minReplicas",
            );
        }
        if h.cpu_utilization == 0 || h.cpu_utilization > 100 {
            push(
                hp.key("cpuUtilization"),
                format!("{} % is not a utilization target", h.cpu_utilization),
                "allowed: 1 to 100",
            );
        }
    }
    let res = &inst.resources;
    for (field, on, spec) in [
        ("api", a.api.enabled, &res.api),
        ("staticSites", a.static_sites.enabled, &res.static_sites),
        ("grafana", a.grafana.enabled, &res.grafana),
    ] {
        if on && spec.is_none() && s.pods.default_resources.is_none() {
            push(
                sp.key("autoscaling").key(field),
                "a CPU utilization target needs a CPU request, but the pods have no resources".to_owned(),
                "set instance.resources for it, or security.pods.defaultResources",
            );
        }
    }

    let np = &s.network_policies;
    let npp = sp.key("networkPolicies");
    for (i, c) in np.api_server.cidrs.iter().enumerate() {
        if let Err(e) = check_cidr(c) {
            push(npp.key("apiServer").key("cidrs").index(i), e, "e.g. 10.0.0.1/32");
        }
    }
    if np.enabled && np.api_server.cidrs.is_empty() {
        push(
            npp.key("apiServer").key("cidrs"),
            "Patroni could not reach the Kubernetes API server, its DCS".to_owned(),
            "list the API server endpoints' CIDRs",
        );
    }
    for (i, port) in np.api_server.ports.iter().enumerate() {
        if *port == 0 {
            push(
                npp.key("apiServer").key("ports").index(i),
                "port 0 is not a port".to_owned(),
                "allowed: 1 to 65535",
            );
        }
    }
    for (i, c) in np.private_cidrs.iter().enumerate() {
        if let Err(e) = check_cidr(c) {
            push(npp.key("privateCidrs").index(i), e, "e.g. 10.0.0.0/8");
        }
    }
    let ic = &np.ingress_controller;
    let icp = npp.key("ingressController");
    if np.enabled && ic.inside() {
        if ic.pod_labels.is_empty() {
            push(
                icp.key("podLabels"),
                "a controller in the instance namespace needs its pod labels: without them its policy would select every pod".to_owned(),
                "e.g. app.kubernetes.io/name: ingress-nginx, app.kubernetes.io/component: controller",
            );
        }
        if ic.traffic_ports.is_empty() {
            push(
                icp.key("trafficPorts"),
                "no client could reach the controller".to_owned(),
                "list its HTTP and HTTPS container ports, e.g. [80, 443]",
            );
        }
    }
    for (i, port) in ic.traffic_ports.iter().enumerate() {
        if *port == 0 {
            push(
                icp.key("trafficPorts").index(i),
                "port 0 is not a port".to_owned(),
                "allowed: 1 to 65535",
            );
        }
    }
    for (field, port) in [("webhookPort", ic.webhook_port), ("metricsPort", ic.metrics_port)] {
        if port == Some(0) {
            push(
                icp.key(field),
                "port 0 is not a port".to_owned(),
                "allowed: 1 to 65535, or null",
            );
        }
    }
    for (k, val) in &np.dns.pod_labels {
        if k.is_empty() || val.is_empty() {
            push(
                npp.key("dns").key("podLabels"),
                "label keys and values must not be empty".to_owned(),
                "e.g. k8s-app: kube-dns",
            );
        }
    }

    if let Some(issuer) = &s.https.issuer {
        let ip = sp.key("https").key("issuer");
        if !issuer.server.starts_with("https://") {
            push(
                ip.key("server"),
                format!("`{}` is not an https:// ACME directory URL", issuer.server),
                "e.g. https://acme-v02.api.letsencrypt.org/directory",
            );
        }
        if let Some(email) = &issuer.email
            && !email.contains('@')
        {
            push(
                ip.key("email"),
                format!("`{email}` is not an e-mail address"),
                "e.g. devstats@example.org",
            );
        }
    }
    if let Routing::GatewayApi(_) = &s.routing {
        let listeners = gateway_listener_count(model);
        if listeners > MAX_GATEWAY_LISTENERS {
            push(
                sp.key("routing").key("gatewayApi"),
                format!(
                    "the Gateway would need {listeners} listeners (two per served foundation, one per alias host, one for HTTP)"
                ),
                "a Gateway allows at most 64: serve fewer alias hosts or foundations per instance",
            );
        }
    }
    out
}

/// Listeners of the Gateway that Gateway API routing renders: HTTP, then per served foundation
/// its bare domain and its project wildcard, then one per alias host.
#[must_use]
pub fn gateway_listener_count(model: &Model) -> usize {
    let served = model
        .foundations
        .iter()
        .filter(|f| model.instance.foundations.contains(&f.name))
        .count();
    let aliases: std::collections::BTreeSet<&str> = if model.instance.ingress.aliases {
        model
            .projects
            .iter()
            .flat_map(|p| p.aliases.iter().map(|a| a.as_str()))
            .collect()
    } else {
        std::collections::BTreeSet::new()
    };
    1 + 2 * served + aliases.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::hardening::*;
    #[allow(unused_imports)]
    use crate::types::*;
    #[allow(unused_imports)]
    use crate::values::*;

    #[test]
    fn chart_compatible_turns_everything_off() {
        let c = Security::chart_compatible();
        assert!(!c.pods.security_context && !c.pods.disable_service_account_token);
        assert!(c.pod_security.enforce.is_none());
        assert!(!c.rollout.strategy && !c.rollout.probes && !c.rollout.disruption_budgets);
        assert!(!c.autoscaling.api.enabled && !c.autoscaling.static_sites.enabled);
        assert!(!c.network_policies.enabled);
        assert!(c.https.issuer.is_none() && !c.https.redirect && c.https.hsts.is_none());
        assert_eq!(c.routing, Routing::Ingress);
        assert_eq!(c.patroni.dcs, PatroniDcs::Endpoints);
        assert_eq!(Security::default(), Security::hardened());
    }

    #[test]
    fn cidrs_and_hsts() {
        assert!(check_cidr("10.0.0.0/8").is_ok());
        assert!(check_cidr("fd00::/8").is_ok());
        assert!(check_cidr("10.0.0.0/33").is_err());
        assert!(check_cidr("10.0.0.0").is_err());
        assert_eq!(Hsts::default().header(), "max-age=31536000");
        let h = Hsts {
            max_age_seconds: 60,
            include_subdomains: true,
            preload: true,
        };
        assert_eq!(h.header(), "max-age=60; includeSubDomains; preload");
    }

    #[test]
    fn yaml_spellings() {
        let s: Security = serde_saphyr::from_str(
            "routing: {gatewayApi: {className: eg}}\nhttps: {issuer: {solver: {dns01: {route53: {region: eu-west-1}}}}}\npatroni: {dcs: endpoints}\n",
        )
        .expect("parses");
        assert_eq!(
            s.routing,
            Routing::GatewayApi(GatewaySettings {
                class_name: Name::from("eg"),
                name: Name::from("devstats"),
            })
        );
        assert_eq!(s.patroni.dcs, PatroniDcs::Endpoints);
        assert!(matches!(
            s.https.issuer.map(|i| i.solver),
            Some(AcmeSolver::Dns01(Dns01::Route53 { .. }))
        ));
        let s: Security = serde_saphyr::from_str("routing: ingress\n").expect("parses");
        assert_eq!(s.routing, Routing::Ingress);
    }
}
