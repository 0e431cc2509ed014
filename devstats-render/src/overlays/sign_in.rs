//! oauth2-proxy sign-in (`instance.authProxy`); off unless the model sets it, and off, nothing
//! here renders and no other object changes.
//!
//! Protected hosts and paths are routed by Ingresses that carry the controller's external-auth
//! settings: ingress-nginx `auth-url`/`auth-signin`/`auth-response-headers` annotations, or for
//! Traefik a `forwardAuth` `Middleware` (`devstats-oauth2-proxy`) added to `router.middlewares`.
//! Those annotations apply to a whole Ingress, so [`crate::routing::ingress`] moves protected
//! rules into separate Ingresses without touching the certificate buckets (see there).
//! oauth2-proxy itself runs elsewhere; the ingress controller calls it, not our pods, so no
//! NetworkPolicy flow is needed.

use devstats_model::hardening::{IngressFlavor, Routing};
use serde::Serialize;

use crate::core::common::chart_labels;
use crate::core::facts::{FORWARD_AUTH_MIDDLEWARE, auth};
use crate::core::{component::Component, ctx::Ctx, object::CustomResource, object::Object};

#[derive(Serialize)]
struct Body<S: Serialize> {
    spec: S,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ForwardAuthSpec {
    forward_auth: ForwardAuth,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ForwardAuth {
    address: String,
    trust_forward_header: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    auth_response_headers: Vec<String>,
}

/// The Traefik `forwardAuth` Middleware the protected Ingresses reference (Traefik only).
#[must_use]
pub(crate) fn traefik_forward_auth(ctx: &Ctx<'_>) -> Option<Object> {
    let a = auth(ctx)?;
    let inst = &ctx.model.instance;
    if inst.security.routing != Routing::Ingress || inst.security.https.controller != IngressFlavor::Traefik {
        return None;
    }
    let meta = ctx.meta(
        FORWARD_AUTH_MIDDLEWARE,
        Component::Ingress.as_str(),
        chart_labels("auth", None),
    );
    let spec = ForwardAuthSpec {
        forward_auth: ForwardAuth {
            address: a.auth_url.clone(),
            trust_forward_header: true,
            auth_response_headers: a.response_headers.clone(),
        },
    };
    CustomResource::new(crate::routing::traefik::MIDDLEWARE, meta, &Body { spec })
        .ok()
        .map(Object::Custom)
}
