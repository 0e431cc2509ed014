//! The Traefik `Middleware`s (`traefik.io/v1alpha1`) the Ingresses reference for the HTTP → HTTPS
//! redirect and HSTS (`instance.security.https`, Traefik only). The oauth2-proxy `forwardAuth`
//! Middleware is part of the sign-in overlay ([`sign_in`](crate::overlays::sign_in)).

use devstats_model::hardening::Hsts;
use serde_json::{Value, json};

use crate::core::{ctx::Ctx, kind::Kind, object::Object};
use crate::routing::tls::custom;

/// `traefik.io/v1alpha1` `Middleware`.
pub(crate) const MIDDLEWARE: Kind = Kind::MIDDLEWARE;

/// Name of the Traefik redirect middleware.
pub(crate) const REDIRECT_MIDDLEWARE: &str = "devstats-https-redirect";
/// Name of the Traefik HSTS middleware.
pub(crate) const HSTS_MIDDLEWARE: &str = "devstats-hsts";

/// The Traefik middlewares the Ingresses reference (redirect, HSTS), as configured.
#[must_use]
pub(crate) fn traefik_middlewares(ctx: &Ctx<'_>) -> Vec<Object> {
    let https = &ctx.model.instance.security.https;
    let mut out = Vec::new();
    if https.redirect {
        out.extend(custom(
            MIDDLEWARE,
            ctx,
            REDIRECT_MIDDLEWARE,
            json!({"redirectScheme": {"scheme": "https", "permanent": true}}),
        ));
    }
    if let Some(h) = &https.hsts {
        out.extend(custom(MIDDLEWARE, ctx, HSTS_MIDDLEWARE, traefik_hsts(h)));
    }
    out
}

fn traefik_hsts(h: &Hsts) -> Value {
    json!({"headers": {
        "stsSeconds": h.max_age_seconds,
        "stsIncludeSubdomains": h.include_subdomains,
        "stsPreload": h.preload,
    }})
}
