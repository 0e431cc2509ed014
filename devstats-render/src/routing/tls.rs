//! cert-manager objects (`cert-manager.io/v1`): how the hosts get their certificates
//! (`instance.security.https`).
//!
//! - The `Issuer` or `ClusterIssuer` named by `instance.ingress.issuer`, when
//!   `https.issuer` is set: ACME (Let's Encrypt) with an HTTP-01 solver through the ingress class
//!   (or the Gateway's HTTP listener with Gateway API routing) or a DNS-01 solver (Cloudflare,
//!   Route 53). Its ACME account key lives in Secret `<issuer>-account-key`, which cert-manager
//!   creates.
//! - With Gateway API routing, one `Certificate` per TLS bucket (`devstats-tls-<i>`, the same
//!   buckets and Secret names as the Ingresses'), since a Gateway listener names Secrets rather
//!   than hosts.
//!
//! The Traefik `Middleware`s for the HTTP → HTTPS redirect and HSTS are in
//! [`traefik`](crate::routing::traefik).

use devstats_model::IssuerKind;
use devstats_model::hardening::{AcmeSolver, Dns01, Routing};
use serde::Serialize;
use serde_json::{Value, json};

use crate::core::common::chart_labels;
use crate::core::{component::Component, ctx::Ctx, kind::Kind, object::CustomResource, object::Object};

/// `cert-manager.io/v1` `Issuer`.
pub(crate) const ISSUER: Kind = Kind::ISSUER;
/// `cert-manager.io/v1` `ClusterIssuer`.
pub(crate) const CLUSTER_ISSUER: Kind = Kind::CLUSTER_ISSUER;
/// `cert-manager.io/v1` `Certificate`.
pub(crate) const CERTIFICATE: Kind = Kind::CERTIFICATE;

#[derive(Serialize)]
struct Body<S: Serialize> {
    spec: S,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IssuerSpec {
    acme: Acme,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Acme {
    server: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    email: Option<String>,
    private_key_secret_ref: NameRef,
    solvers: Vec<Value>,
}

#[derive(Serialize)]
struct NameRef {
    name: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CertificateSpec {
    secret_name: String,
    issuer_ref: IssuerRef,
    dns_names: Vec<String>,
    private_key: PrivateKey,
}

#[derive(Serialize)]
struct IssuerRef {
    name: String,
    kind: &'static str,
    group: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PrivateKey {
    rotation_policy: &'static str,
}

/// A custom object of the HTTPS setup (labelled `type: tls`, component `ingress`); `None` if the
/// spec does not serialize.
pub(crate) fn custom<S: Serialize>(kind: Kind, ctx: &Ctx<'_>, name: &str, spec: S) -> Option<Object> {
    let meta = ctx.meta(name, Component::Ingress.as_str(), chart_labels("tls", None));
    CustomResource::new(kind, meta, &Body { spec })
        .ok()
        .map(Object::Custom)
}

/// The HTTP-01 or DNS-01 solver of the issuer.
fn solver(ctx: &Ctx<'_>, s: &AcmeSolver) -> Value {
    let inst = &ctx.model.instance;
    match s {
        AcmeSolver::Http01 => match &inst.security.routing {
            Routing::Ingress => {
                json!({"http01": {"ingress": {"ingressClassName": inst.ingress.class_name.as_str()}}})
            }
            Routing::GatewayApi(g) => json!({"http01": {"gatewayHTTPRoute": {"parentRefs": [{
                "name": g.name.as_str(),
                "namespace": ctx.namespace(),
                "kind": "Gateway",
                "sectionName": crate::core::facts::HTTP_LISTENER,
            }]}}}),
        },
        AcmeSolver::Dns01(Dns01::Cloudflare { api_token_secret }) => json!({"dns01": {"cloudflare": {
            "apiTokenSecretRef": {"name": api_token_secret.name.as_str(), "key": api_token_secret.key}
        }}}),
        AcmeSolver::Dns01(Dns01::Route53 {
            region,
            hosted_zone_id,
        }) => {
            let mut r = json!({"region": region});
            if let Some(z) = hosted_zone_id {
                r["hostedZoneID"] = Value::from(z.as_str());
            }
            json!({"dns01": {"route53": r}})
        }
    }
}

/// The issuer named by `instance.ingress.issuer`, when `https.issuer` is set.
#[must_use]
pub(crate) fn issuer(ctx: &Ctx<'_>) -> Option<Object> {
    let inst = &ctx.model.instance;
    let acme = inst.security.https.issuer.as_ref()?;
    let name = inst.ingress.issuer.name.as_str();
    let kind = match inst.ingress.issuer.kind {
        IssuerKind::Issuer => ISSUER,
        IssuerKind::ClusterIssuer => CLUSTER_ISSUER,
    };
    custom(
        kind,
        ctx,
        name,
        IssuerSpec {
            acme: Acme {
                server: acme.server.clone(),
                email: acme.email.clone(),
                private_key_secret_ref: NameRef {
                    name: format!("{name}-account-key"),
                },
                solvers: vec![solver(ctx, &acme.solver)],
            },
        },
    )
}

/// The `Certificate` of TLS Secret `secret` for `hosts` (Gateway API routing).
#[must_use]
pub(crate) fn certificate(ctx: &Ctx<'_>, secret: &str, hosts: Vec<String>) -> Option<Object> {
    let issuer = &ctx.model.instance.ingress.issuer;
    custom(
        CERTIFICATE,
        ctx,
        secret,
        CertificateSpec {
            secret_name: secret.to_owned(),
            issuer_ref: IssuerRef {
                name: issuer.name.to_string(),
                kind: match issuer.kind {
                    IssuerKind::Issuer => "Issuer",
                    IssuerKind::ClusterIssuer => "ClusterIssuer",
                },
                group: "cert-manager.io",
            },
            dns_names: hosts,
            private_key: PrivateKey {
                rotation_policy: "Always",
            },
        },
    )
}
