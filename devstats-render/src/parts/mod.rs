//! Layer 1, **parts**: pieces several components build their workloads from: pod security,
//! tool-pod Jobs, PodDisruptionBudgets and autoscalers. Imports only from `core`.

pub mod hpa;
pub mod pdb;
pub mod security;
pub mod task_job;
#[cfg(test)]
pub mod testkit;
