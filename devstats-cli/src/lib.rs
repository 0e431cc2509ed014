//! The apply engine of `devstats-k8s`: a pure planner ([`plan`]), the Kubernetes client layer
//! behind a small trait ([`cluster::Cluster`], implemented over `kube`, and in the tests by the
//! in-memory `FakeCluster` of the dev-only crate devstats-fake), and the executors of `apply`, `diff`, `status`, `destroy` and `run`.
//!
//! Exit codes of the commands built on it: 0 ok, 1 drift or findings, 2 error.

pub mod apply;
pub mod cluster;
pub mod destroy;
pub mod diagnose;
pub mod diff;
pub mod engine;
pub mod kinds;
pub mod plan;
pub mod progress;
pub mod reconcile;
pub mod retry;
pub mod run_task;
pub mod ssa;
pub mod status;
pub mod takeover;
pub mod waits;
