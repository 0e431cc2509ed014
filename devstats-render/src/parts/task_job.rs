//! One-off task Jobs (`devstats-k8s run restore`, `run grafana-data`): a hardened tool pod, run
//! once (`backoffLimit: 0`), removed an hour after it ends unless kept, labelled with its task.

use std::collections::BTreeMap;

use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};

use crate::core::{ctx::Ctx, object::Object};
use crate::parts::security::{self, Workload};

/// What differs between the task Jobs.
pub(crate) struct TaskJob<'a> {
    /// The Job's name.
    pub name: &'a str,
    /// Its component (the `app.kubernetes.io/component` label).
    pub component: &'a str,
    /// The task (label `devstats.cncf.io/task`).
    pub task: &'a str,
    /// The pod's labels before the task label (they choose its NetworkPolicy).
    pub labels: BTreeMap<String, String>,
    /// Keep it after it ends (no TTL).
    pub keep: bool,
    /// `activeDeadlineSeconds`.
    pub deadline_seconds: Option<i64>,
}

/// The Job running `pod` (hardened as a tool job) for `t`.
#[must_use]
pub(crate) fn build(ctx: &Ctx<'_>, t: TaskJob<'_>, mut pod: PodSpec) -> Object {
    pod.restart_policy = Some("Never".to_owned());
    security::harden_pod(ctx, &mut pod, Workload::Tool);
    let mut labels = t.labels;
    labels.insert("devstats.cncf.io/task".to_owned(), t.task.to_owned());
    let mut job = Object::from(Job {
        metadata: ctx.meta(t.name, t.component, labels.clone()),
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: t.deadline_seconds,
            ttl_seconds_after_finished: (!t.keep).then_some(3600),
            template: PodTemplateSpec {
                metadata: Some(ctx.pod_meta(t.name, labels)),
                spec: Some(pod),
            },
            ..JobSpec::default()
        }),
        ..Job::default()
    });
    security::suppress(ctx, &mut job);
    job
}
