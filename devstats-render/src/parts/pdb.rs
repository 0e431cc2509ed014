//! PodDisruptionBudgets (`policy/v1`) for Grafana, the API, static sites and Patroni
//! (`instance.security.rollout.disruptionBudgets`).
//!
//! Each allows one unavailable pod (`maxUnavailable: 1`, never 0, which would block node
//! drains) and lets unhealthy pods be evicted (`unhealthyPodEvictionPolicy: AlwaysAllow`), so a
//! crash-looping pod never blocks a drain. The budget has the name of its workload.

use std::collections::BTreeMap;

use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::core::{ctx::Ctx, object::Object};

/// Whether the model asks for disruption budgets.
#[must_use]
pub(crate) fn enabled(ctx: &Ctx<'_>) -> bool {
    ctx.model.instance.security.rollout.disruption_budgets
}

/// The budget of the workload `name` whose pods carry `pod_labels`; its object labels are
/// `labels` plus the recommended ones.
#[must_use]
pub(crate) fn build(
    ctx: &Ctx<'_>,
    name: &str,
    component: &str,
    labels: BTreeMap<String, String>,
    pod_labels: BTreeMap<String, String>,
) -> Object {
    Object::from(PodDisruptionBudget {
        metadata: ctx.meta(name, component, labels),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            unhealthy_pod_eviction_policy: Some("AlwaysAllow".to_owned()),
            selector: Some(LabelSelector {
                match_labels: Some(pod_labels),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    })
}
