//! Layer 3, **routing**: how requests reach the workloads: Ingresses, Gateway API routes, TLS
//! (cert-manager issuers and certificates) and Traefik's middlewares. Imports from the layers
//! below.

pub(crate) mod gateway;
pub(crate) mod ingress;
pub(crate) mod tls;
pub(crate) mod traefik;
