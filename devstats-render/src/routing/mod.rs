//! Layer 3, **routing**: how requests reach the workloads: Ingresses, Gateway API routes, TLS
//! (cert-manager issuers and certificates) and Traefik's middlewares. Imports from the layers
//! below.

pub mod gateway;
pub mod ingress;
pub mod tls;
pub mod traefik;
