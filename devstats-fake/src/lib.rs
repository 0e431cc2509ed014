//! Test infrastructure, not part of the product: the in-memory Kubernetes API server
//! ([`FakeCluster`], implementing [`devstats_cli::cluster::Cluster`]) with server-side-apply field
//! ownership, simulated controllers and watches ([`watch`]), and the same fake served over HTTP
//! ([`http`]) so the real binary and its kube client can run end to end without a cluster (example
//! `fake-apiserver`). Used by devstats-cli's tests as a dev-dependency; the release binary does not
//! link it (nor its HTTP server).

mod fake;
pub mod http;
pub mod kubelet;
pub mod live;
mod ownership;
pub mod watch;

pub use fake::{FakeCluster, Request, Upload, Verb};
