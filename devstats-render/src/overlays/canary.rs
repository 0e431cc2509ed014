//! Flagger canaries (`instance.canary`). Off unless the model sets them; off, nothing here renders
//! and no other object changes. oauth2-proxy sign-in is the other overlay of the routes
//! ([`sign_in`](crate::overlays::sign_in)).
//!
//! **Flagger.** One `Canary` (`flagger.app/v1beta1`) per canaried Deployment (the API,
//! project Grafanas), named like the Deployment. Flagger then owns, and we never render:
//! - the Services `<service>` (the name our Ingresses/HTTPRoutes already use), `<service>-primary`
//!   and `<service>-canary`, so the canaried Deployment's own Service is not rendered;
//! - the Deployment `<deployment>-primary` (a copy of ours whose selector and pods carry
//!   `app: <deployment>-primary`; every other pod label is copied) and, with an HPA,
//!   `<hpa>-primary`;
//! - with ingress-nginx, the Ingress `<ingress>-canary` (a copy of the Canary's own Ingress,
//!   [`canary_ingress`](crate::core::facts::canary_ingress)); with Gateway API, the HTTPRoute `<service>` (so our own route for those
//!   hosts is not rendered).
//!
//! A canaried Deployment carries the selector label `app: <deployment>` (Flagger's first
//! selector label; the chart's `name: devstats` is shared by every DevStats pod and would make the
//! primaries of different Deployments select each other's pods) and no `spec.replicas` (Flagger
//! scales it to zero between releases). PodDisruptionBudgets and NetworkPolicies never select on
//! `app`, so they cover the primary pods too.

use std::collections::BTreeMap;

use devstats_model::delivery::Canary;
use devstats_model::hardening::Routing;
use serde::Serialize;

use crate::core::common::{chart_labels, names};
use crate::core::facts::{canary, canary_ingress};
use crate::core::{component::Component, ctx::Ctx, kind::Kind, object::CustomResource, object::Object};

/// `flagger.app/v1beta1` `Canary`.
pub(crate) const CANARY: Kind = Kind::CANARY;

/// Whether Flagger shifts traffic through Ingresses (ingress-nginx) rather than HTTPRoutes.
fn nginx(ctx: &Ctx<'_>) -> bool {
    ctx.model.instance.security.routing == Routing::Ingress
}

#[derive(Serialize)]
struct Body<S: Serialize> {
    spec: S,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CanarySpec {
    provider: &'static str,
    target_ref: Ref,
    #[serde(skip_serializing_if = "Option::is_none")]
    autoscaler_ref: Option<Ref>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ingress_ref: Option<Ref>,
    progress_deadline_seconds: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics_server: Option<String>,
    service: CanaryService,
    analysis: Analysis,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Ref {
    api_version: String,
    kind: &'static str,
    name: String,
}

impl Ref {
    fn to(kind: Kind, name: String) -> Self {
        Self {
            api_version: kind.api_version(),
            kind: kind.kind,
            name,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CanaryService {
    name: String,
    port: i32,
    target_port: i32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hosts: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    gateway_refs: Vec<GatewayRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    r#match: Vec<UriMatch>,
    #[serde(skip_serializing_if = "Option::is_none")]
    headers: Option<Headers>,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary: Option<ServiceMetadata>,
    #[serde(skip_serializing_if = "Option::is_none")]
    canary: Option<ServiceMetadata>,
}

/// Metadata Flagger adds to a Service it generates.
#[derive(Serialize)]
struct ServiceMetadata {
    labels: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GatewayRef {
    name: String,
    namespace: String,
    section_name: String,
}

#[derive(Serialize)]
struct UriMatch {
    uri: Prefix,
}

#[derive(Serialize)]
struct Prefix {
    prefix: String,
}

#[derive(Serialize)]
struct Headers {
    response: HeaderOps,
}

#[derive(Serialize)]
struct HeaderOps {
    set: BTreeMap<String, String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Analysis {
    interval: String,
    threshold: u32,
    max_weight: u32,
    step_weight: u32,
    metrics: Vec<Metric>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    webhooks: Vec<Webhook>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Metric {
    name: &'static str,
    interval: String,
    threshold_range: Range,
}

#[derive(Serialize)]
struct Range {
    #[serde(skip_serializing_if = "Option::is_none")]
    min: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max: Option<u32>,
}

#[derive(Serialize)]
struct Webhook {
    name: &'static str,
    #[serde(rename = "type")]
    type_: &'static str,
    url: String,
    timeout: &'static str,
    metadata: BTreeMap<&'static str, String>,
}

/// What one Canary shifts traffic for.
struct Target {
    /// The Deployment (and Canary, HPA) name.
    deployment: String,
    /// The Service our routes use (Flagger's apex Service).
    service: String,
    /// The container port.
    target_port: i32,
    /// Whether an HPA scales the Deployment.
    autoscaled: bool,
    /// Its public hosts (Gateway API `hosts`; the first one is load-tested).
    hosts: Vec<String>,
    /// Gateway listeners its hosts attach to.
    sections: Vec<String>,
    /// Path prefix it serves on its hosts (the API path), `None` for whole hosts.
    path: Option<String>,
    /// The load-test command (run by flagger-loadtester) for `url`.
    load: String,
    /// Labels of the primary and canary Services Flagger generates (`service.primary` /
    /// `service.canary` metadata): what the Grafanas' ServiceMonitor selects and its target label
    /// `proj`, so a canaried Grafana is scraped like the others. Not on the apex Service: it
    /// selects the primary pods too, which would be scraped twice.
    service_labels: Option<BTreeMap<String, String>>,
}

fn canary_object(ctx: &Ctx<'_>, c: &Canary, t: Target) -> Option<Object> {
    let inst = &ctx.model.instance;
    let a = &c.analysis;
    let nginx = nginx(ctx);
    let (gateway_refs, hosts, headers, matches) = match &inst.security.routing {
        Routing::Ingress => (Vec::new(), Vec::new(), None, Vec::new()),
        Routing::GatewayApi(g) => (
            t.sections
                .iter()
                .map(|s| GatewayRef {
                    name: g.name.to_string(),
                    namespace: ctx.namespace().to_owned(),
                    section_name: s.clone(),
                })
                .collect(),
            t.hosts.clone(),
            inst.security.https.hsts.as_ref().map(|h| Headers {
                response: HeaderOps {
                    set: BTreeMap::from([("Strict-Transport-Security".to_owned(), h.header())]),
                },
            }),
            t.path
                .iter()
                .map(|p| UriMatch {
                    uri: Prefix { prefix: p.clone() },
                })
                .collect(),
        ),
    };
    let webhooks = c
        .load_tester_url
        .iter()
        .map(|url| Webhook {
            name: "load-test",
            type_: "rollout",
            url: url.clone(),
            timeout: "15s",
            metadata: BTreeMap::from([("type", "cmd".to_owned()), ("cmd", t.load.clone())]),
        })
        .collect();
    let spec = CanarySpec {
        provider: if nginx { "nginx" } else { "gatewayapi:v1" },
        target_ref: Ref::to(Kind::DEPLOYMENT, t.deployment.clone()),
        autoscaler_ref: t
            .autoscaled
            .then(|| Ref::to(Kind::HORIZONTAL_POD_AUTOSCALER, t.deployment.clone())),
        ingress_ref: nginx.then(|| Ref::to(Kind::INGRESS, canary_ingress(&t.deployment))),
        progress_deadline_seconds: c.progress_deadline_seconds,
        metrics_server: c.metrics_server.clone(),
        service: CanaryService {
            name: t.service,
            port: 80,
            target_port: t.target_port,
            hosts,
            gateway_refs,
            r#match: matches,
            headers,
            primary: t.service_labels.clone().map(|labels| ServiceMetadata { labels }),
            canary: t.service_labels.map(|labels| ServiceMetadata { labels }),
        },
        analysis: Analysis {
            interval: a.interval.clone(),
            threshold: a.threshold,
            max_weight: a.max_weight,
            step_weight: a.step_weight,
            metrics: vec![
                Metric {
                    name: "request-success-rate",
                    interval: a.interval.clone(),
                    threshold_range: Range {
                        min: Some(a.min_success_rate),
                        max: None,
                    },
                },
                Metric {
                    name: "request-duration",
                    interval: a.interval.clone(),
                    threshold_range: Range {
                        min: None,
                        max: Some(a.max_duration_ms),
                    },
                },
            ],
            webhooks,
        },
    };
    let component = if t.deployment == names::API {
        Component::Api
    } else {
        Component::Grafana
    };
    let proj = t.deployment.strip_prefix("devstats-grafana-");
    let meta = ctx.meta(
        t.deployment.as_str(),
        component.as_str(),
        chart_labels("canary", proj),
    );
    CustomResource::new(CANARY, meta, &Body { spec })
        .ok()
        .map(Object::Custom)
}

/// `hey` for `interval` at 5 requests a second from 2 workers.
fn hey(interval: &str, extra: &str, url: &str) -> String {
    format!("hey -z {interval} -q 5 -c 2 {extra}{url}")
}

/// The Canary of project `proj`'s Grafana, when canaried.
#[must_use]
pub(crate) fn grafana_canary(ctx: &Ctx<'_>, proj: &str) -> Option<Object> {
    let c = canary(ctx).filter(|c| c.grafana(proj))?;
    let hosts = crate::routing::ingress::project_hosts(ctx)
        .into_iter()
        .filter(|(_, p)| p == proj)
        .map(|(h, _)| h)
        .collect::<Vec<_>>();
    let sections = crate::routing::gateway::project_sections(ctx)
        .remove(proj)
        .unwrap_or_default();
    let load = hosts
        .first()
        .map(|h| hey(&c.analysis.interval, "", &format!("https://{h}/api/health")))
        .unwrap_or_default();
    canary_object(
        ctx,
        c,
        Target {
            deployment: names::grafana(proj),
            service: names::grafana_service(proj),
            target_port: crate::components::grafana::PORT,
            autoscaled: ctx.model.instance.security.autoscaling.grafana.enabled,
            hosts,
            sections,
            path: None,
            load,
            service_labels: Some(crate::components::monitoring::grafana_service_labels(proj)),
        },
    )
}

/// The API's Canary, when canaried.
#[must_use]
pub(crate) fn api_canary(ctx: &Ctx<'_>) -> Option<Object> {
    let c = canary(ctx).filter(|c| c.api)?;
    let inst = &ctx.model.instance;
    let hosts: Vec<String> = ctx
        .model
        .served_foundations()
        .iter()
        .map(|f| f.domain.to_string())
        .collect();
    let api_path = inst.ingress.api_path.clone();
    let load = hosts
        .first()
        .map(|h| {
            let slash = if api_path.ends_with('/') { "" } else { "/" };
            hey(
                &c.analysis.interval,
                r#"-m POST -T application/json -d '{"api":"ListAPIs"}' "#,
                &format!("https://{h}{api_path}{slash}v1"),
            )
        })
        .unwrap_or_default();
    canary_object(
        ctx,
        c,
        Target {
            deployment: names::API.to_owned(),
            service: names::API_SERVICE.to_owned(),
            target_port: crate::components::api::PORT,
            autoscaled: inst.security.autoscaling.api.enabled,
            sections: crate::routing::gateway::site_sections(ctx),
            hosts,
            path: Some(api_path),
            load,
            service_labels: None,
        },
    )
}
