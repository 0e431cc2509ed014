//! HorizontalPodAutoscalers (`autoscaling/v2`) for the API, static sites and (opt-in) Grafana
//! (`instance.security.autoscaling`).
//!
//! Each scales its Deployment between `minReplicas` (≥ 2) and `maxReplicas` on average CPU
//! utilization, with `behavior`: scale up at once (by up to 100 % a minute), scale down one pod
//! a minute after a stabilization window. A Deployment an HPA owns renders without
//! `spec.replicas`, so re-applying the render never resets the HPA's choice.

use std::collections::BTreeMap;

use devstats_model::hardening::HpaSettings;
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscaler,
    HorizontalPodAutoscalerBehavior, HorizontalPodAutoscalerSpec, MetricSpec, MetricTarget,
    ResourceMetricSource,
};

use crate::core::{ctx::Ctx, object::Object};

fn i32_of(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn policy(type_: &str, value: i32) -> HPAScalingPolicy {
    HPAScalingPolicy {
        type_: type_.to_owned(),
        value,
        period_seconds: 60,
    }
}

/// What keeps a web Deployment available and sized: its PodDisruptionBudget (when budgets are
/// on) and its autoscaler (when `h` is enabled). `pod_labels` are both the pods' labels (the
/// budget's selector) and the objects' labels.
#[must_use]
pub(crate) fn availability(
    ctx: &Ctx<'_>,
    deployment: &str,
    component: &str,
    pod_labels: BTreeMap<String, String>,
    h: &HpaSettings,
) -> Vec<Object> {
    let mut out = Vec::new();
    if crate::parts::pdb::enabled(ctx) {
        out.push(crate::parts::pdb::build(
            ctx,
            deployment,
            component,
            pod_labels.clone(),
            pod_labels.clone(),
        ));
    }
    if h.enabled {
        out.push(build(ctx, deployment, component, pod_labels, h));
    }
    out
}

/// The autoscaler of Deployment `deployment`; its object labels are `labels` plus the
/// recommended ones.
#[must_use]
pub(crate) fn build(
    ctx: &Ctx<'_>,
    deployment: &str,
    component: &str,
    labels: BTreeMap<String, String>,
    h: &HpaSettings,
) -> Object {
    Object::from(HorizontalPodAutoscaler {
        metadata: ctx.meta(deployment, component, labels),
        spec: HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some(crate::core::kind::Kind::DEPLOYMENT.api_version()),
                kind: crate::core::kind::Kind::DEPLOYMENT.kind.to_owned(),
                name: deployment.to_owned(),
            },
            min_replicas: Some(i32_of(h.min_replicas)),
            max_replicas: i32_of(h.max_replicas),
            metrics: Some(vec![MetricSpec {
                type_: "Resource".to_owned(),
                resource: Some(ResourceMetricSource {
                    name: "cpu".to_owned(),
                    target: MetricTarget {
                        type_: "Utilization".to_owned(),
                        average_utilization: Some(i32_of(h.cpu_utilization)),
                        ..MetricTarget::default()
                    },
                }),
                ..MetricSpec::default()
            }]),
            behavior: Some(HorizontalPodAutoscalerBehavior {
                scale_up: Some(HPAScalingRules {
                    stabilization_window_seconds: Some(0),
                    policies: Some(vec![policy("Percent", 100)]),
                    select_policy: Some("Max".to_owned()),
                    ..HPAScalingRules::default()
                }),
                scale_down: Some(HPAScalingRules {
                    stabilization_window_seconds: Some(i32_of(h.scale_down_stabilization_seconds)),
                    policies: Some(vec![policy("Pods", 1)]),
                    select_policy: Some("Min".to_owned()),
                    ..HPAScalingRules::default()
                }),
            }),
        },
        ..HorizontalPodAutoscaler::default()
    })
}
