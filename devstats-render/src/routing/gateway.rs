//! Gateway API routing (`instance.security.routing: {gatewayApi: …}`): one `Gateway` and
//! `HTTPRoute`s (`gateway.networking.k8s.io/v1`) instead of the Ingresses, for clusters whose
//! controller implements Gateway API (ingress-nginx is retired).
//!
//! A listener carries one hostname and a Gateway at most 64 listeners, so the Gateway has:
//! - `http` (port 80, no hostname): the HTTP → HTTPS redirect route and cert-manager's HTTP-01
//!   solver routes;
//! - per served foundation `https-<site>` (its bare domain) and `https-<site>-projects`
//!   (`*.<domain>`, the project hosts);
//! - per alias host `alias-<host>`.
//!
//! HTTPS listeners terminate TLS with the Secrets of the same host buckets the Ingresses use
//! (`devstats-tls-<i>`, at most `maxHostsPerCertificate` hosts each, stable across re-renders),
//! issued by one cert-manager `Certificate` per bucket; a wildcard listener lists every bucket
//! Secret holding one of its hosts, and the controller picks the certificate by SNI.
//!
//! Routes: `devstats-https-redirect` (301 to HTTPS on `http`), `devstats-site-<site>` per
//! foundation (API path → API, `/` → its static site), `devstats-site-default` (host-less
//! catch-all → the default static site) and `devstats-route-<project>` (its hosts → its
//! Grafana). With HSTS on, every HTTPS rule sets `Strict-Transport-Security`.

use std::collections::{BTreeMap, BTreeSet};

use devstats_model::hardening::Routing;
use serde::Serialize;
use serde_json::{Value, json};

use crate::core::common::{chart_labels, names};
use crate::core::{component::Component, ctx::Ctx, kind::Kind, object::Object};
use crate::routing::ingress::{DOMAINS_INGRESS, project_buckets, tls_secret};

/// `gateway.networking.k8s.io/v1` `Gateway`.
pub(crate) const GATEWAY: Kind = Kind::GATEWAY;
/// `gateway.networking.k8s.io/v1` `HTTPRoute`.
pub(crate) const HTTP_ROUTE: Kind = Kind::HTTP_ROUTE;
/// Name of the plain HTTP listener.
pub(crate) use crate::core::facts::HTTP_LISTENER;
/// Port of every Service the routes send to.
const SERVICE_PORT: i32 = 80;

#[derive(Serialize)]
struct Body<S: Serialize> {
    spec: S,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GatewaySpec {
    gateway_class_name: String,
    listeners: Vec<Listener>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Listener {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hostname: Option<String>,
    port: i32,
    protocol: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    tls: Option<ListenerTls>,
    allowed_routes: AllowedRoutes,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListenerTls {
    mode: &'static str,
    certificate_refs: Vec<SecretRef>,
}

#[derive(Serialize)]
struct SecretRef {
    kind: &'static str,
    name: String,
}

#[derive(Serialize)]
struct AllowedRoutes {
    namespaces: RouteNamespaces,
}

#[derive(Serialize)]
struct RouteNamespaces {
    from: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HttpRouteSpec {
    parent_refs: Vec<ParentRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hostnames: Vec<String>,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ParentRef {
    name: String,
    section_name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    matches: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    filters: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    backend_refs: Vec<BackendRef>,
}

#[derive(Serialize)]
struct BackendRef {
    name: String,
    port: i32,
}

fn https_listener(name: String, hostname: String, secrets: Vec<String>) -> Listener {
    Listener {
        name,
        hostname: Some(hostname),
        port: 443,
        protocol: "HTTPS",
        tls: Some(ListenerTls {
            mode: "Terminate",
            certificate_refs: secrets
                .into_iter()
                .map(|name| SecretRef {
                    kind: Kind::SECRET.kind,
                    name,
                })
                .collect(),
        }),
        allowed_routes: same_namespace(),
    }
}

fn same_namespace() -> AllowedRoutes {
    AllowedRoutes {
        namespaces: RouteNamespaces { from: "Same" },
    }
}

fn prefix(path: &str) -> Value {
    json!({"path": {"type": "PathPrefix", "value": path}})
}

/// Listener name of an alias host.
fn alias_listener(host: &str) -> String {
    format!("alias-{}", host.replace('.', "-"))
}

/// The listeners of the Gateway and which listener serves each host.
struct Plan {
    /// TLS Secret → hosts of each certificate bucket.
    buckets: Vec<(String, Vec<String>)>,
    /// The project host buckets (as the Ingresses' ones).
    project_buckets: Vec<(usize, Vec<(String, String)>)>,
    listeners: Vec<Listener>,
    /// Project host → listener.
    listener_of: BTreeMap<String, String>,
    /// Foundation → its bare-domain listener.
    site_listener: BTreeMap<String, String>,
}

fn plan(ctx: &Ctx<'_>) -> Plan {
    let inst = &ctx.model.instance;
    let foundations = ctx.model.served_foundations();
    let statics = inst.components.static_sites;
    let api = inst.components.api && inst.ingress.api_on_bare_domains;
    let sites = statics || api;

    // Buckets: 1 = the bare domains, then the project hosts.
    let mut buckets: Vec<(String, Vec<String>)> = Vec::new();
    if sites && !foundations.is_empty() {
        buckets.push((
            tls_secret(DOMAINS_INGRESS),
            foundations.iter().map(|f| f.domain.to_string()).collect(),
        ));
    }
    let project_buckets = project_buckets(ctx);
    let mut secret_of: BTreeMap<&str, String> = BTreeMap::new();
    for (i, bucket) in &project_buckets {
        for (host, _) in bucket {
            secret_of.insert(host.as_str(), tls_secret(*i));
        }
        buckets.push((tls_secret(*i), bucket.iter().map(|(h, _)| h.clone()).collect()));
    }

    // Listeners, and which listener serves each host.
    let mut listeners = vec![Listener {
        name: HTTP_LISTENER.to_owned(),
        hostname: None,
        port: 80,
        protocol: "HTTP",
        tls: None,
        allowed_routes: same_namespace(),
    }];
    let mut listener_of: BTreeMap<String, String> = BTreeMap::new();
    let mut site_listener: BTreeMap<String, String> = BTreeMap::new();
    for f in &foundations {
        let site = f.site_name().as_str();
        let domain = f.domain.as_str();
        if sites {
            let name = format!("https-{site}");
            site_listener.insert(f.name.to_string(), name.clone());
            listeners.push(https_listener(
                name,
                domain.to_owned(),
                vec![tls_secret(DOMAINS_INGRESS)],
            ));
        }
        let suffix = format!(".{domain}");
        let project_hosts: Vec<&str> = secret_of
            .keys()
            .copied()
            .filter(|h| h.strip_suffix(&suffix).is_some_and(|l| !l.contains('.')))
            .collect();
        if project_hosts.is_empty() {
            continue;
        }
        let name = format!("https-{site}-projects");
        let secrets: BTreeSet<String> = project_hosts
            .iter()
            .filter_map(|h| secret_of.get(h).cloned())
            .collect();
        for h in &project_hosts {
            listener_of.insert((*h).to_owned(), name.clone());
        }
        listeners.push(https_listener(
            name,
            format!("*.{domain}"),
            secrets.into_iter().collect(),
        ));
    }
    for (host, secret) in &secret_of {
        if listener_of.contains_key(*host) {
            continue;
        }
        let name = alias_listener(host);
        listener_of.insert((*host).to_owned(), name.clone());
        listeners.push(https_listener(name, (*host).to_owned(), vec![secret.clone()]));
    }
    Plan {
        buckets,
        project_buckets,
        listeners,
        listener_of,
        site_listener,
    }
}

/// The listener sections a route attaches to: `sections`, plus the HTTP listener when HTTP is
/// served rather than redirected.
fn with_http(ctx: &Ctx<'_>, mut sections: Vec<String>) -> Vec<String> {
    if !ctx.model.instance.security.https.redirect {
        sections.push(HTTP_LISTENER.to_owned());
    }
    sections
}

/// Per project, the Gateway listeners its hosts attach to (in host order, then `http` when
/// HTTP is not redirected); empty without Gateway API routing.
#[must_use]
pub(crate) fn project_sections(ctx: &Ctx<'_>) -> BTreeMap<String, Vec<String>> {
    if !matches!(ctx.model.instance.security.routing, Routing::GatewayApi(_)) {
        return BTreeMap::new();
    }
    let plan = plan(ctx);
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (_, bucket) in &plan.project_buckets {
        for (host, proj) in bucket {
            let sections = out.entry(proj.clone()).or_default();
            if let Some(l) = plan.listener_of.get(host)
                && !sections.contains(l)
            {
                sections.push(l.clone());
            }
        }
    }
    out.into_iter().map(|(p, s)| (p, with_http(ctx, s))).collect()
}

/// The bare-domain listeners (the API's and static sites' routes attach to them), then `http`
/// when HTTP is not redirected; empty without Gateway API routing.
#[must_use]
pub(crate) fn site_sections(ctx: &Ctx<'_>) -> Vec<String> {
    if !matches!(ctx.model.instance.security.routing, Routing::GatewayApi(_)) {
        return Vec::new();
    }
    let plan = plan(ctx);
    let sections = ctx
        .model
        .served_foundations()
        .iter()
        .filter_map(|f| plan.site_listener.get(f.name.as_str()).cloned())
        .collect();
    with_http(ctx, sections)
}

/// The Gateway, its HTTPRoutes and the bucket Certificates (nothing with Ingress routing).
///
/// A canaried project (`instance.canary`) gets no `devstats-route-<project>`, and a canaried
/// API no API rule in the site routes: Flagger writes the HTTPRoute of their hosts
/// ([`crate::overlays::canary`]).
#[must_use]
pub(crate) fn build(ctx: &Ctx<'_>) -> Vec<Object> {
    let inst = &ctx.model.instance;
    let Routing::GatewayApi(g) = &inst.security.routing else {
        return Vec::new();
    };
    let https = &inst.security.https;
    let gw = g.name.as_str();
    let foundations = ctx.model.served_foundations();
    let statics = inst.components.static_sites;
    let api = inst.components.api && inst.ingress.api_on_bare_domains;
    let Plan {
        buckets,
        project_buckets,
        listeners,
        listener_of,
        site_listener,
    } = plan(ctx);
    let https_listeners: Vec<String> = listeners
        .iter()
        .filter(|l| l.tls.is_some())
        .map(|l| l.name.clone())
        .collect();

    let hsts: Vec<Value> = https
        .hsts
        .iter()
        .map(|h| {
            json!({"type": "ResponseHeaderModifier", "responseHeaderModifier": {
                "set": [{"name": "Strict-Transport-Security", "value": h.header()}]
            }})
        })
        .collect();
    let parents = |sections: Vec<String>| -> Vec<ParentRef> {
        with_http(ctx, sections)
            .into_iter()
            .map(|s| ParentRef {
                name: gw.to_owned(),
                section_name: s,
            })
            .collect()
    };
    let backend = |service: String| {
        vec![BackendRef {
            name: service,
            port: SERVICE_PORT,
        }]
    };

    let mut out = Vec::new();
    let meta = |name: &str| ctx.meta(name, Component::Ingress.as_str(), chart_labels("ingress", None));
    let mut push = |kind: Kind, name: &str, body: &dyn erased::Body| {
        if let Some(o) = body.custom(kind, meta(name)) {
            out.push(o);
        }
    };
    push(
        GATEWAY,
        gw,
        &Body {
            spec: GatewaySpec {
                gateway_class_name: g.class_name.to_string(),
                listeners,
            },
        },
    );
    if https.redirect {
        push(
            HTTP_ROUTE,
            "devstats-https-redirect",
            &Body {
                spec: HttpRouteSpec {
                    parent_refs: vec![ParentRef {
                        name: gw.to_owned(),
                        section_name: HTTP_LISTENER.to_owned(),
                    }],
                    hostnames: Vec::new(),
                    rules: vec![Rule {
                        matches: Vec::new(),
                        filters: vec![json!({"type": "RequestRedirect", "requestRedirect": {
                            "scheme": "https", "statusCode": 301
                        }})],
                        backend_refs: Vec::new(),
                    }],
                },
            },
        );
    }
    if statics && !https_listeners.is_empty() {
        push(
            HTTP_ROUTE,
            "devstats-site-default",
            &Body {
                spec: HttpRouteSpec {
                    parent_refs: parents(https_listeners.clone()),
                    hostnames: Vec::new(),
                    rules: vec![Rule {
                        matches: vec![prefix("/")],
                        filters: hsts.clone(),
                        backend_refs: backend(names::static_service(
                            crate::components::static_sites::DEFAULT_SITE,
                        )),
                    }],
                },
            },
        );
    }
    for f in &foundations {
        let Some(listener) = site_listener.get(f.name.as_str()) else {
            continue;
        };
        let mut rules = Vec::new();
        if api && !crate::core::facts::api_canaried(ctx) {
            rules.push(Rule {
                matches: vec![prefix(&inst.ingress.api_path)],
                filters: hsts.clone(),
                backend_refs: backend(names::API_SERVICE.to_owned()),
            });
        }
        if statics {
            rules.push(Rule {
                matches: vec![prefix("/")],
                filters: hsts.clone(),
                backend_refs: backend(names::static_service(f.site_name().as_str())),
            });
        }
        if rules.is_empty() {
            continue;
        }
        push(
            HTTP_ROUTE,
            &format!("devstats-site-{}", f.site_name()),
            &Body {
                spec: HttpRouteSpec {
                    parent_refs: parents(vec![listener.clone()]),
                    hostnames: vec![f.domain.to_string()],
                    rules,
                },
            },
        );
    }
    let mut by_project: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (_, bucket) in &project_buckets {
        for (host, proj) in bucket {
            by_project.entry(proj.as_str()).or_default().push(host.as_str());
        }
    }
    for (proj, hosts) in &by_project {
        if crate::core::facts::grafana_canaried(ctx, proj) {
            continue;
        }
        let mut sections: Vec<String> = Vec::new();
        for h in hosts {
            if let Some(l) = listener_of.get(*h)
                && !sections.contains(l)
            {
                sections.push(l.clone());
            }
        }
        push(
            HTTP_ROUTE,
            &format!("devstats-route-{proj}"),
            &Body {
                spec: HttpRouteSpec {
                    parent_refs: parents(sections),
                    hostnames: hosts.iter().map(|h| (*h).to_owned()).collect(),
                    rules: vec![Rule {
                        matches: Vec::new(),
                        filters: hsts.clone(),
                        backend_refs: backend(names::grafana_service(proj)),
                    }],
                },
            },
        );
    }
    for (secret, hosts) in buckets {
        out.extend(crate::routing::tls::certificate(ctx, &secret, hosts));
    }
    out
}

/// Type erasure for the bodies pushed above.
mod erased {
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use serde::Serialize;

    use crate::core::{kind::Kind, object::CustomResource, object::Object};

    /// A serializable custom resource body.
    pub(super) trait Body {
        /// Builds the object (None if the body does not serialize, which typed bodies never do).
        fn custom(&self, kind: Kind, meta: ObjectMeta) -> Option<Object>;
    }

    impl<S: Serialize> Body for super::Body<S> {
        fn custom(&self, kind: Kind, meta: ObjectMeta) -> Option<Object> {
            CustomResource::new(kind, meta, self).ok().map(Object::Custom)
        }
    }
}
