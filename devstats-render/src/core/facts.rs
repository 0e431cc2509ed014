//! Facts of the deployment that depend only on the model and that components, routing and
//! overlays share: which Deployments are canaried, which hosts require sign-in, the names and
//! labels those features agree on, and the Secrets the deployment needs. The lowest layer of the
//! crate with [`crate::core::common`]: it imports no component, router or overlay (see
//! `tests/layers.rs`).

use std::collections::BTreeMap;

use devstats_model::delivery::{AuthProxy, Canary};

use crate::core::ctx::Ctx;

/// A Secret the deployment needs, and its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredSecret {
    /// Secret name.
    pub name: String,
    /// Keys it must hold.
    pub keys: Vec<String>,
}

/// Name of the Gateway's plain-HTTP listener (its redirect route attaches to it).
pub(crate) const HTTP_LISTENER: &str = "http";

/// The pod label Flagger selects on (the first of its default `-selector-labels`) and rewrites
/// to `<value>-primary` on the primary pods.
pub(crate) const SELECTOR_LABEL: &str = "app";

/// Name of the Traefik `forwardAuth` middleware.
pub(crate) const FORWARD_AUTH_MIDDLEWARE: &str = "devstats-oauth2-proxy";

/// The oauth2-proxy settings, when on.
#[must_use]
pub(crate) fn auth<'a>(ctx: &Ctx<'a>) -> Option<&'a AuthProxy> {
    ctx.model.instance.auth_proxy.as_ref()
}

/// The canary settings, when on.
#[must_use]
pub(crate) fn canary<'a>(ctx: &Ctx<'a>) -> Option<&'a Canary> {
    ctx.model.instance.canary.as_ref()
}

/// Whether project `proj`'s Grafana is canaried.
#[must_use]
pub(crate) fn grafana_canaried(ctx: &Ctx<'_>, proj: &str) -> bool {
    canary(ctx).is_some_and(|c| c.grafana(proj))
}

/// Whether the API is canaried.
#[must_use]
pub(crate) fn api_canaried(ctx: &Ctx<'_>) -> bool {
    canary(ctx).is_some_and(|c| c.api)
}

/// Whether project `proj`'s Grafana hosts require sign-in.
#[must_use]
pub(crate) fn grafana_protected(ctx: &Ctx<'_>, proj: &str) -> bool {
    auth(ctx).is_some_and(|a| a.protect.grafana(proj))
}

/// Whether the API path requires sign-in.
#[must_use]
pub(crate) fn api_protected(ctx: &Ctx<'_>) -> bool {
    auth(ctx).is_some_and(|a| a.protect.api)
}

/// Whether the static sites require sign-in.
#[must_use]
pub(crate) fn static_protected(ctx: &Ctx<'_>) -> bool {
    auth(ctx).is_some_and(|a| a.protect.static_sites)
}

/// The Ingress a canaried Deployment's hosts are routed by (ingress-nginx): its own, since
/// Flagger copies it to `<ingress>-canary` and two Canaries may not share one.
#[must_use]
pub(crate) fn canary_ingress(deployment: &str) -> String {
    format!(
        "devstats-ingress-{}",
        deployment.strip_prefix("devstats-").unwrap_or(deployment)
    )
}

/// The pod-template labels (and Deployment selector) of a Deployment: `labels`, plus
/// `app: <deployment>` when it is canaried.
#[must_use]
pub(crate) fn template_labels(
    labels: &BTreeMap<String, String>,
    deployment: &str,
    canaried: bool,
) -> BTreeMap<String, String> {
    let mut l = labels.clone();
    if canaried {
        l.insert(SELECTOR_LABEL.to_owned(), deployment.to_owned());
    }
    l
}
