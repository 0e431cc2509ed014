//! Ingresses: `devstats-ingress-1` for the bare foundation domains and `devstats-ingress-2..N` for
//! the project hosts, packed into TLS buckets.
//!
//! The chart (`devstats-ingress.yaml`, `devstats-ingress-projects.yaml`) renders:
//! - `devstats-ingress-1` with TLS Secret `devstats-tls-1` for the domains in its range, a
//!   host-less catch-all `/` → `devstats-static-service-default`, and per domain `apiPath` →
//!   `devstats-api-service` (unless `skipAPIIngress`) then `/` → `devstats-static-service-{shortname}`;
//! - the project hosts `{url}.{domain}` (per project in values order, per domain in domain order,
//!   then its aliases), de-duplicated and packed in order into buckets of `tlsMaxHostsPerCert`
//!   hosts, each bucket one Ingress `devstats-ingress-{i}` with one TLS entry `devstats-tls-{i}`
//!   and one rule per host → `devstats-service-{proj}:80`.
//!
//! Both carry the cert-manager ingress-shim annotations and `spec.ingressClassName`.
//!
//! We render the same objects from the model: bare domains of the served foundations, project
//! hosts from [`devstats_model::Model::project_hosts`] of fully deployed projects in rotation order
//! (`order`, then name — the chart's values order for an imported model). Bucketing depends only on
//! the model, so re-renders are identical.
//!
//! oauth2-proxy sign-in and Flagger canaries (`instance.authProxy`, `instance.canary`) move rules
//! into extra Ingresses without changing any bucket's TLS section; see [`build`] and
//! `docs/security.md`.

use devstats_model::delivery::AuthProxy;
use std::collections::{BTreeMap, BTreeSet};

use devstats_model::IssuerKind;
use devstats_model::hardening::{IngressFlavor, Routing};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule, IngressServiceBackend,
    IngressSpec, IngressTLS, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::core::common::{chart_labels, names};
use crate::core::{component::Component, ctx::Ctx, object::Object};

/// Number of the bare-domain Ingress; project buckets are numbered from the next one.
pub(crate) const DOMAINS_INGRESS: usize = 1;

/// Name of Ingress number `i`.
#[must_use]
pub(crate) fn ingress_name(i: usize) -> String {
    format!("devstats-ingress-{i}")
}

/// Name of the TLS Secret of Ingress number `i`.
#[must_use]
pub(crate) fn tls_secret(i: usize) -> String {
    format!("devstats-tls-{i}")
}

/// A path rule → `service:80` (every chart backend uses port 80 and `pathType: Prefix`).
fn rule(host: Option<&str>, path: &str, service: &str) -> IngressRule {
    IngressRule {
        host: host.map(str::to_owned),
        http: Some(HTTPIngressRuleValue {
            paths: vec![HTTPIngressPath {
                path: Some(path.to_owned()),
                path_type: "Prefix".to_owned(),
                backend: IngressBackend {
                    service: Some(IngressServiceBackend {
                        name: service.to_owned(),
                        port: Some(ServiceBackendPort {
                            number: Some(80),
                            name: None,
                        }),
                    }),
                    resource: None,
                },
            }],
        }),
    }
}

/// The controller's routing annotations (`instance.security.https`, and with `protected` the
/// external-auth settings of `instance.authProxy`): ingress-nginx `force-ssl-redirect` (its HSTS
/// header comes from the controller's ConfigMap, on by default) and `auth-*`; Traefik the
/// `router.middlewares` of [`crate::routing::traefik::traefik_middlewares`] and
/// [`crate::core::facts::traefik_forward_auth`].
fn routing_annotations(ctx: &Ctx<'_>, protected: bool) -> BTreeMap<String, String> {
    let https = &ctx.model.instance.security.https;
    let auth = crate::core::facts::auth(ctx).filter(|_| protected);
    let mut annotations = BTreeMap::new();
    match https.controller {
        IngressFlavor::IngressNginx => {
            if https.redirect {
                annotations.insert(
                    "nginx.ingress.kubernetes.io/force-ssl-redirect".to_owned(),
                    "true".to_owned(),
                );
            }
            if let Some(a) = auth {
                annotations.extend(nginx_auth_annotations(a));
            }
        }
        IngressFlavor::Traefik => {
            let ns = ctx.namespace();
            let mut middlewares = Vec::new();
            if https.redirect {
                middlewares.push(format!(
                    "{ns}-{}@kubernetescrd",
                    crate::routing::traefik::REDIRECT_MIDDLEWARE
                ));
            }
            if https.hsts.is_some() {
                middlewares.push(format!(
                    "{ns}-{}@kubernetescrd",
                    crate::routing::traefik::HSTS_MIDDLEWARE
                ));
            }
            if auth.is_some() {
                middlewares.push(format!(
                    "{ns}-{}@kubernetescrd",
                    crate::core::facts::FORWARD_AUTH_MIDDLEWARE
                ));
            }
            if !middlewares.is_empty() {
                annotations.insert(
                    "traefik.ingress.kubernetes.io/router.middlewares".to_owned(),
                    middlewares.join(","),
                );
            }
        }
    }
    annotations
}

/// Object metadata of bucket Ingress `i`: the cert-manager annotations (ingress-shim issues the
/// bucket's Certificate from this Ingress's TLS section) and the routing annotations.
fn meta(ctx: &Ctx<'_>, i: usize, protected: bool) -> ObjectMeta {
    let ing = &ctx.model.instance.ingress;
    let issuer_key = match ing.issuer.kind {
        IssuerKind::Issuer => "cert-manager.io/issuer",
        IssuerKind::ClusterIssuer => "cert-manager.io/cluster-issuer",
    };
    let mut m = ctx.meta(
        ingress_name(i),
        Component::Ingress.as_str(),
        chart_labels("ingress", None),
    );
    let mut annotations = BTreeMap::from([
        (
            "acme.cert-manager.io/http01-ingress-class".to_owned(),
            ing.class_name.to_string(),
        ),
        (issuer_key.to_owned(), ing.issuer.name.to_string()),
    ]);
    annotations.extend(routing_annotations(ctx, protected));
    m.annotations = Some(annotations);
    m
}

fn ingress(
    ctx: &Ctx<'_>,
    i: usize,
    tls_hosts: Vec<String>,
    rules: Vec<IngressRule>,
    protected: bool,
) -> Object {
    let tls = if tls_hosts.is_empty() {
        None
    } else {
        Some(vec![IngressTLS {
            hosts: Some(tls_hosts),
            secret_name: Some(tls_secret(i)),
        }])
    };
    Object::from(Ingress {
        metadata: meta(ctx, i, protected),
        spec: Some(IngressSpec {
            ingress_class_name: Some(ctx.model.instance.ingress.class_name.to_string()),
            tls,
            rules: Some(rules),
            ..IngressSpec::default()
        }),
        ..Ingress::default()
    })
}

/// Every project host with the project serving it: fully deployed projects in rotation order,
/// each project's hosts in [`devstats_model::Model::project_hosts`] order, first occurrence wins.
#[must_use]
pub(crate) fn project_hosts(ctx: &Ctx<'_>) -> Vec<(String, String)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for p in ctx.model.rotation_order() {
        for host in ctx.model.project_hosts(p) {
            if seen.insert(host.clone()) {
                out.push((host, p.name.to_string()));
            }
        }
    }
    out
}

/// The project hosts packed in order into TLS buckets of `maxHostsPerCertificate`, each with
/// its number (the first is 2: number 1 is the bare domains). Depends only on the model, so
/// re-renders never reshuffle certificates.
#[must_use]
pub(crate) fn project_buckets(ctx: &Ctx<'_>) -> Vec<(usize, Vec<(String, String)>)> {
    let per_cert = usize::try_from(ctx.model.instance.ingress.max_hosts_per_certificate)
        .unwrap_or(usize::MAX)
        .max(1);
    project_hosts(ctx)
        .chunks(per_cert)
        .enumerate()
        .map(|(n, bucket)| (DOMAINS_INGRESS + 1 + n, bucket.to_vec()))
        .collect()
}

/// Which Ingress routes a rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    /// The bucket Ingress `devstats-ingress-<i>`.
    Bucket(usize),
    /// The protected rules of bucket `i`: `devstats-ingress-<i>-auth`.
    Auth(usize),
    /// The canaried Deployment's own Ingress ([`crate::core::facts::canary_ingress`]).
    Canary(String),
}

/// One routing rule and where it goes.
struct Item {
    rule: IngressRule,
    /// Certificate bucket of its host.
    bucket: usize,
    /// Requires sign-in.
    protected: bool,
    /// Routed by a canaried Deployment's own Ingress.
    canary: Option<String>,
}

fn item(host: Option<&str>, path: &str, service: &str, bucket: usize) -> Item {
    Item {
        rule: rule(host, path, service),
        bucket,
        protected: false,
        canary: None,
    }
}

/// An Ingress without cert-manager annotations (ingress-shim ignores it, so it never claims a
/// certificate): its TLS section names the bucket Secrets its hosts' certificates are in.
fn aux_ingress(ctx: &Ctx<'_>, name: &str, items: &[Item], protected: bool) -> Object {
    let mut tls: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for it in items {
        if let Some(h) = &it.rule.host {
            let hosts = tls.entry(it.bucket).or_default();
            if !hosts.contains(h) {
                hosts.push(h.clone());
            }
        }
    }
    let mut m = ctx.meta(name, Component::Ingress.as_str(), chart_labels("ingress", None));
    let annotations = routing_annotations(ctx, protected);
    m.annotations = (!annotations.is_empty()).then_some(annotations);
    Object::from(Ingress {
        metadata: m,
        spec: Some(IngressSpec {
            ingress_class_name: Some(ctx.model.instance.ingress.class_name.to_string()),
            tls: (!tls.is_empty()).then(|| {
                tls.into_iter()
                    .map(|(i, hosts)| IngressTLS {
                        hosts: Some(hosts),
                        secret_name: Some(tls_secret(i)),
                    })
                    .collect()
            }),
            rules: Some(items.iter().map(|it| it.rule.clone()).collect()),
            ..IngressSpec::default()
        }),
        ..Ingress::default()
    })
}

/// `devstats-ingress-1` (bare domains) and one Ingress per bucket of project hosts; nothing with
/// Gateway API routing (see [`crate::routing::gateway`]).
///
/// With oauth2-proxy (`instance.authProxy`) or Flagger canaries (`instance.canary`) some rules
/// move out of the bucket Ingresses, whose TLS sections stay as they are (the certificates never
/// change):
/// - the protected rules of a bucket go to `devstats-ingress-<i>-auth`, which carries the
///   external-auth annotations; when every rule of a bucket is protected, the bucket Ingress
///   carries them itself instead;
/// - a canaried Deployment's rules go to its own Ingress ([`crate::core::facts::canary_ingress`]),
///   which Flagger copies to `<name>-canary`;
/// - these Ingresses have no cert-manager annotations, so ingress-shim never makes a second
///   Certificate for a bucket Secret they name; a bucket left with no rule at all (every host
///   canaried) gets an explicit cert-manager `Certificate` instead of its Ingress.
#[must_use]
pub(crate) fn build(ctx: &Ctx<'_>) -> Vec<Object> {
    use crate::core::facts::{
        api_canaried, api_protected, grafana_canaried, grafana_protected, static_protected,
    };
    let inst = &ctx.model.instance;
    if inst.security.routing != Routing::Ingress {
        return Vec::new();
    }
    let foundations = ctx.model.served_foundations();

    // Bare domains route to the static sites and the API, when those components are rendered.
    let statics = inst.components.static_sites;
    let api = inst.components.api && inst.ingress.api_on_bare_domains;
    let mut items = Vec::new();
    let static_item = |host: Option<&str>, service: &str| Item {
        protected: static_protected(ctx),
        ..item(host, "/", service, DOMAINS_INGRESS)
    };
    if statics {
        items.push(static_item(
            None,
            &names::static_service(crate::components::static_sites::DEFAULT_SITE),
        ));
    }
    for f in &foundations {
        let domain = f.domain.as_str();
        if api {
            items.push(Item {
                protected: api_protected(ctx),
                canary: api_canaried(ctx).then(|| names::API.to_owned()),
                ..item(
                    Some(domain),
                    &inst.ingress.api_path,
                    names::API_SERVICE,
                    DOMAINS_INGRESS,
                )
            });
        }
        if statics {
            items.push(static_item(
                Some(domain),
                &names::static_service(f.site_name().as_str()),
            ));
        }
    }
    let mut buckets: Vec<(usize, Vec<String>)> = Vec::new();
    if !items.is_empty() {
        buckets.push((
            DOMAINS_INGRESS,
            foundations.iter().map(|f| f.domain.to_string()).collect(),
        ));
    }
    for (i, bucket) in project_buckets(ctx) {
        for (h, p) in &bucket {
            items.push(Item {
                protected: grafana_protected(ctx, p),
                canary: grafana_canaried(ctx, p).then(|| names::grafana(p)),
                ..item(Some(h), "/", &names::grafana_service(p), i)
            });
        }
        buckets.push((i, bucket.into_iter().map(|(h, _)| h).collect()));
    }

    // A bucket whose remaining rules are all protected keeps them and carries the annotations.
    let fully_protected: BTreeMap<usize, bool> = buckets
        .iter()
        .map(|(i, _)| {
            let mut rest = items.iter().filter(|it| it.bucket == *i && it.canary.is_none());
            let first = rest.next();
            (
                *i,
                first.is_some_and(|f| f.protected) && rest.all(|it| it.protected),
            )
        })
        .collect();
    let mut groups: BTreeMap<Group, Vec<Item>> = BTreeMap::new();
    for it in items {
        let group = match &it.canary {
            Some(d) => Group::Canary(d.clone()),
            None if it.protected && !fully_protected[&it.bucket] => Group::Auth(it.bucket),
            None => Group::Bucket(it.bucket),
        };
        groups.entry(group).or_default().push(it);
    }

    let mut out = Vec::new();
    for (i, hosts) in buckets {
        match groups.remove(&Group::Bucket(i)) {
            Some(its) => {
                let rules = its.into_iter().map(|it| it.rule).collect();
                out.push(ingress(ctx, i, hosts, rules, fully_protected[&i]));
            }
            None => out.extend(crate::routing::tls::certificate(ctx, &tls_secret(i), hosts)),
        }
    }
    for (group, its) in groups {
        let protected = its.iter().any(|it| it.protected);
        let name = match group {
            Group::Bucket(i) => ingress_name(i),
            Group::Auth(i) => format!("{}-auth", ingress_name(i)),
            Group::Canary(d) => crate::core::facts::canary_ingress(&d),
        };
        out.push(aux_ingress(ctx, &name, &its, protected));
    }
    out
}

/// The ingress-nginx external-auth annotations.
#[must_use]
fn nginx_auth_annotations(a: &AuthProxy) -> BTreeMap<String, String> {
    let mut m = BTreeMap::from([(
        "nginx.ingress.kubernetes.io/auth-url".to_owned(),
        a.auth_url.clone(),
    )]);
    if let Some(s) = &a.signin_url {
        m.insert("nginx.ingress.kubernetes.io/auth-signin".to_owned(), s.clone());
    }
    if !a.response_headers.is_empty() {
        m.insert(
            "nginx.ingress.kubernetes.io/auth-response-headers".to_owned(),
            a.response_headers.join(","),
        );
    }
    m
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use devstats_model::{IssuerKind, Name, Project, ProjectStatus};
    use serde_json::Value;

    use super::*;
    use crate::components::grafana::test_support::{
        assert_same, chart_object, ctx, full_prod, kubernetes, ours, prod_model, project, samples,
    };

    fn hosts_of(v: &Value) -> Vec<String> {
        v["spec"]["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["host"].as_str().map(str::to_owned))
            .collect()
    }

    /// Projects (in order) reconstructed from the chart's project Ingresses: each host's first
    /// label is the project's url, its domain the foundation, its backend the project.
    fn projects_from_render(docs: &[Value]) -> Vec<Project> {
        let domain_to_foundation = BTreeMap::from([
            ("teststats.cncf.io", "test"),
            ("devstats.cncf.io", "cncf"),
            ("devstats.cd.foundation", "cdf"),
            ("devstats.graphql.org", "graphql"),
        ]);
        let mut ings: Vec<&Value> = docs
            .iter()
            .filter(|d| d["kind"] == "Ingress" && d["metadata"]["name"] != "devstats-ingress-1")
            .collect();
        ings.sort_by_key(|d| {
            d["metadata"]["name"]
                .as_str()
                .and_then(|n| n.rsplit('-').next())
                .and_then(|n| n.parse::<u32>().ok())
        });
        let mut projects: Vec<Project> = Vec::new();
        for ing in ings {
            for r in ing["spec"]["rules"].as_array().expect("rules") {
                let host = r["host"].as_str().expect("host");
                let svc = r["http"]["paths"][0]["backend"]["service"]["name"]
                    .as_str()
                    .expect("service");
                let proj = svc.strip_prefix("devstats-service-").expect("grafana service");
                let (url, domain) = host.split_once('.').expect("project host");
                let f = domain_to_foundation[domain];
                if let Some(p) = projects.iter_mut().find(|p| p.name.as_str() == proj) {
                    p.foundations.push(Name::from(f));
                } else {
                    let mut p = project(proj, &[f]);
                    p.url = Some(Name::from(url));
                    p.order = Some(u32::try_from(projects.len()).expect("few projects"));
                    projects.push(p);
                }
            }
        }
        projects
    }

    #[test]
    fn matches_the_chart_sample_and_the_full_prod_render() {
        let full = full_prod();
        let mut projects = projects_from_render(&full);
        assert_eq!(projects[0].name.as_str(), "kubernetes");
        projects[0] = kubernetes();
        // Archived and unserved projects must not move hosts.
        let mut archived = project("aaa-archived", &["cncf"]);
        archived.status = ProjectStatus::Archived;
        archived.order = Some(1);
        projects.push(archived);
        projects.push(project("aaa-unserved", &["lf"]));
        let model = prod_model(projects);
        let objs = build(&ctx(&model));
        assert_eq!(objs.len(), 9);

        let chart_ingresses = full.iter().filter(|d| d["kind"] == "Ingress").count();
        assert_eq!(chart_ingresses, objs.len());
        for o in &objs {
            assert_same(&ours(o), &chart_object(&full, "Ingress", o.name()));
        }
        let docs = samples();
        for o in &objs[..2] {
            assert_same(&ours(o), &chart_object(&docs, "Ingress", o.name()));
        }
    }

    fn big_model(reverse: bool) -> devstats_model::Model {
        let mut projects: Vec<Project> = (0..80)
            .map(|i| {
                let mut p = project(&format!("p{i:02}"), &["cncf"]);
                p.order = Some(i);
                p
            })
            .collect();
        let mut both = project("tekton", &["cncf", "cdf"]);
        both.order = Some(80);
        let mut aliased = project("aliased", &["cncf"]);
        aliased.aliases = vec!["stats.example.org".into(), "other.example.org".into()];
        aliased.order = Some(81);
        projects.extend([both, aliased]);
        if reverse {
            projects.reverse();
        }
        let mut m = prod_model(projects);
        m.instance.foundations = vec!["cncf".into(), "cdf".into()];
        m.instance.ingress.max_hosts_per_certificate = 30;
        m
    }

    #[test]
    fn buckets_cover_every_host_once_and_are_stable() {
        let model = big_model(false);
        let objs = build(&ctx(&model));
        // 80 + 2 (tekton) + 3 (aliased + 2 aliases) = 85 hosts → 30 + 30 + 25.
        assert_eq!(objs.len(), 4);
        let mut all_hosts = Vec::new();
        for (n, o) in objs.iter().enumerate().skip(1) {
            let v = ours(o);
            let i = n + 1;
            assert_eq!(v["metadata"]["name"], format!("devstats-ingress-{i}"));
            let tls = v["spec"]["tls"].as_array().expect("tls");
            assert_eq!(tls.len(), 1);
            assert_eq!(tls[0]["secretName"], format!("devstats-tls-{i}"));
            let tls_hosts: Vec<String> = tls[0]["hosts"]
                .as_array()
                .expect("hosts")
                .iter()
                .map(|h| h.as_str().expect("host").to_owned())
                .collect();
            assert!(tls_hosts.len() <= 30);
            assert_eq!(tls_hosts, hosts_of(&v));
            all_hosts.extend(tls_hosts);
        }
        assert_eq!(all_hosts.len(), 85);
        let unique: BTreeSet<&String> = all_hosts.iter().collect();
        assert_eq!(unique.len(), all_hosts.len(), "a host is routed twice");
        for h in [
            "tekton.devstats.cncf.io",
            "tekton.devstats.cd.foundation",
            "aliased.devstats.cncf.io",
            "stats.example.org",
            "other.example.org",
        ] {
            assert!(unique.contains(&h.to_owned()), "{h} missing");
        }
        let last = ours(&objs[3]);
        assert_eq!(last["spec"]["rules"][24]["host"], "other.example.org");
        assert_eq!(
            last["spec"]["rules"][24]["http"]["paths"][0]["backend"]["service"]["name"],
            "devstats-service-aliased"
        );

        // Bare domains: both served foundations, API first.
        let first = ours(&objs[0]);
        assert_eq!(
            first["spec"]["tls"][0]["hosts"],
            serde_json::json!(["devstats.cncf.io", "devstats.cd.foundation"])
        );
        assert_eq!(first["spec"]["rules"].as_array().map(Vec::len), Some(5));

        assert_eq!(build(&ctx(&model)), objs, "second render differs");
        let reversed = big_model(true);
        assert_eq!(
            build(&ctx(&reversed)),
            objs,
            "project file order changes the buckets"
        );
    }

    #[test]
    fn knobs_aliases_api_path_and_cluster_issuer() {
        let mut model = big_model(false);
        model.instance.ingress.aliases = false;
        model.instance.ingress.api_on_bare_domains = false;
        model.instance.ingress.issuer.kind = IssuerKind::ClusterIssuer;
        model.instance.ingress.issuer.name = Name::from("le");
        let objs = build(&ctx(&model));
        let first = ours(&objs[0]);
        assert_eq!(first["spec"]["rules"].as_array().map(Vec::len), Some(3));
        assert_eq!(
            first["metadata"]["annotations"]["cert-manager.io/cluster-issuer"],
            "le"
        );
        assert!(
            first["metadata"]["annotations"]
                .get("cert-manager.io/issuer")
                .is_none()
        );
        let hosts: Vec<String> = objs.iter().skip(1).flat_map(|o| hosts_of(&ours(o))).collect();
        assert_eq!(hosts.len(), 83);
        assert!(!hosts.iter().any(|h| h.ends_with("example.org")));

        model.instance.ingress.api_on_bare_domains = true;
        model.instance.ingress.api_path = "/v1/".to_owned();
        let first = ours(&build(&ctx(&model))[0]);
        assert_eq!(first["spec"]["rules"][1]["http"]["paths"][0]["path"], "/v1/");
        assert_eq!(first["spec"]["rules"][1]["host"], "devstats.cncf.io");
    }

    #[test]
    fn bare_domains_follow_the_rendered_components() {
        let mut model = devstats_model::testing::synthetic(5);
        model.instance.components.api = false;
        let set = crate::render(&model, &crate::Options::default()).expect("no dangling API backend");
        let yaml = crate::output::yaml_stream(&set.objects).expect("yaml");
        assert!(!yaml.contains("devstats-api-service"));
        model.instance.components.static_sites = false;
        let set = crate::render(&model, &crate::Options::default()).expect("no dangling static backend");
        assert!(
            set.objects
                .iter()
                .all(|r| r.object.name() != "devstats-ingress-1")
        );
    }
}
