//! Layer 1, **parts**: pieces several components build their workloads from: pod security,
//! tool-pod Jobs, PodDisruptionBudgets and autoscalers. Imports only from `core`.

pub(crate) mod hpa;
pub(crate) mod pdb;
pub(crate) mod security;
pub(crate) mod task_job;
#[cfg(test)]
pub(crate) mod testkit;
