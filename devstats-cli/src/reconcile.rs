//! One reconcile of a `DevStats` resource (`devstats_render::resource`): the operator's unit of
//! work, built from the CLI's own pieces so the operator and `devstats-k8s apply` cannot drift
//! apart.
//!
//! [`reconcile`] validates the spec with the model's rules (what `devstats-k8s validate` and
//! `import-resource` check, [`resource::model_of`]); a rejected spec is reported as
//! `Stalled=True`/`InvalidSpec` with every problem's `spec.` path, and nothing is requested from
//! the cluster. A valid spec is rendered as `apply` renders it (no `--secrets-from`: Secrets are
//! expected to exist), applied with the CLI's phased server-side apply and waits
//! ([`crate::apply::apply`]) as the cluster's field manager — the operator's cluster is
//! `KubeCluster::with_field_manager("devstats-operator")` ([`resource::FIELD_MANAGER`]) — with a
//! complete render so the inventory prune runs — with its guards always on: volume claims,
//! run-once Job records and the database are never pruned by a reconcile (the resource has no
//! field to ask for that; `devstats-k8s apply --prune-volumes --prune-database` remains the way).
//! Then the CLI's `status` snapshot and pod diagnosis ([`crate::status`], [`crate::diagnose`])
//! give the per-project phases and the problems of pods that do not start.
//!
//! [`finalize`] is the deletion path: what the inventory lists is deleted as `devstats-k8s
//! destroy` (without `--delete-volumes`) deletes it ([`crate::destroy`]), keeping volumes, Job
//! records, the namespace and the database; the caller then removes
//! [`resource::FINALIZER`].
//!
//! Not here: the watch loop, leader election and metrics of an in-cluster controller.

use std::collections::BTreeMap;
use std::time::Duration;

use devstats_render::resource::{
    self, CertificateStatus, Condition, ConditionType, DatabaseStatus, DevStats, DevStatsStatus,
    ObjectCounts, Problem, ProjectPhase, ProjectStatus, ResourceError,
};
use serde_json::Value;

use crate::apply::{ApplyConfig, ApplyError, ApplyReport};
use crate::cluster::{ApiError, Cluster};
use crate::destroy::{self, DestroyReport};
use crate::engine::Engine;
use crate::kinds::Kind;
use crate::plan::{DesiredSet, inventory};
use crate::progress::Progress;
use crate::retry::RetryPolicy;
use crate::status::{self, ProjectRow, Status};

/// The `DevStats` kind's REST coordinates (a custom resource: applied after everything built in).
pub const DEVSTATS: Kind = Kind {
    rank: crate::kinds::CUSTOM_RANK,
    group: resource::GROUP,
    version: resource::VERSION,
    kind: resource::KIND,
    plural: resource::PLURAL,
    namespaced: true,
};

/// Settings of a reconcile.
#[derive(Debug, Clone)]
pub struct ReconcileOptions {
    /// The apply settings. Prune is always on and its guards are always kept (volumes and the
    /// database are never pruned, whatever `apply.plan.prune` says); the waits are bounded by
    /// `apply.timeout` and `apply.provision_timeout`.
    pub apply: ApplyConfig,
    /// Requests at a time.
    pub concurrency: usize,
    /// Retries of transient API errors.
    pub retry: RetryPolicy,
    /// RFC 3339 time written to changed conditions (`None`: the system clock).
    pub now: Option<String>,
    /// When to reconcile again while something is progressing or degraded.
    pub requeue: Duration,
}

impl Default for ReconcileOptions {
    fn default() -> Self {
        Self {
            apply: ApplyConfig {
                timeout: Duration::from_secs(5 * 60),
                provision_timeout: Duration::from_secs(10 * 60),
                ..ApplyConfig::default()
            },
            concurrency: 16,
            retry: RetryPolicy::default(),
            now: None,
            requeue: Duration::from_secs(60),
        }
    }
}

/// What a reconcile did and what to write to the resource's status.
#[derive(Debug, Clone)]
pub struct ReconcileOutcome {
    /// The status to write through the status subresource.
    pub status: DevStatsStatus,
    /// The apply's report; `None` when nothing was applied (invalid spec, refused plan, cluster
    /// unreadable).
    pub report: Option<ApplyReport>,
    /// Reconcile again after this long (`None`: when the spec changes).
    pub requeue_after: Option<Duration>,
}

/// The outcome of [`finalize`].
#[derive(Debug, Clone)]
pub struct FinalizeOutcome {
    /// What was deleted and kept.
    pub report: DestroyReport,
    /// Whether every deletion succeeded: the caller may remove the finalizer.
    pub done: bool,
}

fn condition(type_: ConditionType, on: bool, reason: &str, message: impl Into<String>) -> Condition {
    Condition {
        type_,
        status: if on { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message: message.into(),
        last_transition_time: None,
        observed_generation: None,
    }
}

/// Now, as Kubernetes writes times (`metav1.Time`: RFC 3339 to the second, UTC).
fn now_rfc3339() -> String {
    use k8s_openapi::jiff::Timestamp;
    let now = Timestamp::now();
    Timestamp::from_second(now.as_second()).unwrap_or(now).to_string()
}

/// Fills in generations and transition times: a condition whose status is unchanged since the
/// previous status keeps its `lastTransitionTime` (as `metav1.Condition` requires).
fn finish(
    generation: Option<i64>,
    previous: Option<&DevStatsStatus>,
    mut status: DevStatsStatus,
    opts: &ReconcileOptions,
) -> DevStatsStatus {
    let now = opts.now.clone().unwrap_or_else(now_rfc3339);
    let previous: BTreeMap<ConditionType, &Condition> = previous
        .into_iter()
        .flat_map(|s| s.conditions.iter())
        .map(|c| (c.type_, c))
        .collect();
    for c in &mut status.conditions {
        c.observed_generation = generation;
        c.last_transition_time = match previous.get(&c.type_) {
            Some(p) if p.status == c.status => p.last_transition_time.clone().or(Some(now.clone())),
            _ => Some(now.clone()),
        };
    }
    status.conditions.sort_by_key(|c| c.type_);
    status.observed_generation = generation;
    status
}

/// The status of a reconcile that cannot proceed without a change of the spec or the cluster.
fn stalled(reason: &str, message: &str, problems: Vec<Problem>) -> DevStatsStatus {
    DevStatsStatus {
        conditions: vec![
            condition(ConditionType::Ready, false, reason, message),
            condition(ConditionType::Progressing, false, reason, "nothing was applied"),
            condition(ConditionType::Degraded, false, reason, ""),
            condition(ConditionType::Stalled, true, reason, message),
        ],
        problems,
        ..DevStatsStatus::default()
    }
}

/// The status while the cluster cannot be read: not ready, still progressing (the next reconcile
/// retries), not degraded; `stalled_reason` says why it is not stalled either.
fn unreadable(reason: &str, message: String, stalled_reason: &str) -> DevStatsStatus {
    DevStatsStatus {
        conditions: vec![
            condition(ConditionType::Ready, false, reason, message.clone()),
            condition(ConditionType::Progressing, true, reason, message),
            condition(ConditionType::Degraded, false, reason, ""),
            condition(ConditionType::Stalled, false, stalled_reason, ""),
        ],
        ..DevStatsStatus::default()
    }
}

/// The status of a spec the model rejects: every problem with its `spec.` path.
#[must_use]
pub fn invalid_spec_status(problems: Vec<Problem>) -> DevStatsStatus {
    let message = format!(
        "the model rejects the spec ({} problem{}); nothing was applied",
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    );
    stalled("InvalidSpec", &message, problems)
}

/// The model of a resource's spec, validated by the model's own rules.
fn validated(resource: &DevStats) -> Result<devstats_model::Model, Vec<Problem>> {
    let spec = serde_json::to_value(&resource.spec).map_err(|e| {
        vec![Problem {
            path: "spec".to_owned(),
            message: format!("cannot be read: {e}"),
        }]
    })?;
    resource::model_of(&spec).map_err(|e| match e {
        ResourceError::Invalid(ps) => ps,
        ResourceError::NotDevStats(m) => vec![Problem {
            path: "spec".to_owned(),
            message: m,
        }],
    })
}

/// Adds the owner labels ([`resource::owner_labels`]) to every object's apply body. Not part of
/// the content hash: the objects stay equal to what `devstats-k8s apply` writes.
fn label_owned(set: &mut DesiredSet, resource: &DevStats) {
    let ns = resource.metadata.namespace.as_deref().unwrap_or_default();
    let name = resource.metadata.name.as_deref().unwrap_or_default();
    let labels = resource::owner_labels(ns, name);
    for d in &mut set.objects {
        if let Some(meta) = d.body.get_mut("metadata").and_then(Value::as_object_mut) {
            let entry = meta
                .entry("labels")
                .or_insert_with(|| Value::Object(serde_json::Map::new()));
            if let Some(map) = entry.as_object_mut() {
                for (k, v) in &labels {
                    map.insert(k.clone(), Value::String(v.clone()));
                }
            }
        }
    }
}

fn phase_of(row: &ProjectRow) -> (ProjectPhase, Option<String>) {
    if let Some(d) = row.diagnoses.first() {
        return (ProjectPhase::Failed, Some(format!("{}: {}", d.object, d.message)));
    }
    if row.provisioning.starts_with("failed") {
        return (
            ProjectPhase::Failed,
            Some(format!("provisioning {}", row.provisioning)),
        );
    }
    if row.provisioning.starts_with("provisioned") {
        if row.sync.last_success.is_some() {
            return (ProjectPhase::Syncing, None);
        }
        return (ProjectPhase::Provisioned, None);
    }
    (ProjectPhase::Provisioning, Some(row.provisioning.clone()))
}

/// The status of an applied spec, from the apply report and the `status` snapshot.
fn applied_status(report: &ApplyReport, st: &Status, spec_projects: usize) -> DevStatsStatus {
    let mut problems: Vec<Problem> = Vec::new();
    let mut projects: Vec<ProjectStatus> = Vec::new();
    for row in &st.projects {
        problems.extend(row.diagnoses.iter().map(crate::diagnose::Diagnosis::problem));
        let (phase, message) = phase_of(row);
        projects.push(ProjectStatus {
            name: row.project.clone(),
            phase,
            last_sync: row.sync.last_success.clone(),
            last_affiliations: row.affiliations.last_success.clone(),
            message,
        });
    }
    projects.sort_by(|a, b| a.name.cmp(&b.name));
    problems.extend(
        st.database
            .diagnoses
            .iter()
            .map(crate::diagnose::Diagnosis::problem),
    );
    let failed_writes: Vec<Problem> = report
        .failed
        .iter()
        .map(|(object, why)| Problem {
            path: object.clone(),
            message: why.clone(),
        })
        .collect();
    problems.extend(failed_writes.iter().cloned());
    let ready_projects = projects
        .iter()
        .filter(|p| matches!(p.phase, ProjectPhase::Provisioned | ProjectPhase::Syncing))
        .count();
    let failed_projects = projects
        .iter()
        .filter(|p| p.phase == ProjectPhase::Failed)
        .count();
    let provisioning = projects
        .iter()
        .filter(|p| p.phase == ProjectPhase::Provisioning)
        .count();

    let degraded = if let Some(first) = st
        .projects
        .iter()
        .flat_map(|r| r.diagnoses.iter())
        .chain(st.database.diagnoses.iter())
        .next()
    {
        Some((
            first.cause.reason(),
            format!("{}: {}", first.object, first.message),
        ))
    } else if !failed_writes.is_empty() {
        Some((
            "ApplyFailed",
            format!("{} objects could not be written", failed_writes.len()),
        ))
    } else if failed_projects > 0 {
        Some(("ProjectFailed", format!("{failed_projects} projects failed")))
    } else {
        None
    };
    let progressing = if !report.deferred.is_empty() {
        Some((
            "Waiting",
            format!(
                "{} objects wait for what they depend on (first: {})",
                report.deferred.len(),
                report.deferred[0].0
            ),
        ))
    } else if provisioning > 0 {
        Some((
            "Provisioning",
            format!("{provisioning} projects are provisioning"),
        ))
    } else {
        None
    };
    let ready = degraded.is_none() && progressing.is_none();
    let mut conditions = vec![
        match &degraded {
            Some((r, m)) => condition(ConditionType::Degraded, true, r, m.clone()),
            None => condition(ConditionType::Degraded, false, "Healthy", ""),
        },
        match &progressing {
            Some((r, m)) => condition(ConditionType::Progressing, true, r, m.clone()),
            None => condition(ConditionType::Progressing, false, "Converged", report.summary()),
        },
        condition(ConditionType::Stalled, false, "Applied", ""),
    ];
    conditions.push(if ready {
        condition(ConditionType::Ready, true, "Applied", report.summary())
    } else {
        let (r, m) = degraded.or(progressing).unwrap_or_default();
        condition(ConditionType::Ready, false, r, m)
    });
    let n = |k: &str| report.counts.get(k).copied().unwrap_or(0) as u64;
    DevStatsStatus {
        observed_generation: None,
        conditions,
        projects,
        projects_ready: Some(format!("{ready_projects}/{spec_projects}")),
        database: Some(DatabaseStatus {
            primary: st.database.primary.clone(),
            replicas: st
                .database
                .members
                .iter()
                .filter(|m| st.database.primary.as_deref() != Some(m.pod.as_str()))
                .map(|m| m.pod.clone())
                .collect(),
        }),
        certificates: st
            .ingresses
            .iter()
            .flat_map(|i| i.tls.iter())
            .map(|(name, ok)| CertificateStatus {
                name: name.clone(),
                ready: *ok,
                message: None,
            })
            .collect(),
        objects: Some(ObjectCounts {
            applied: n("create") + n("update") + n("recreate"),
            pruned: report.pruned.len() as u64,
        }),
        problems,
    }
}

/// Reconciles one `DevStats` resource: validate, render, apply (as the cluster's field manager,
/// `devstats-operator` in the operator) with
/// guarded prune and bounded waits, then compute its status. Never panics and never fails: every
/// outcome is a status (`Stalled` for an invalid spec or a refused plan, `Degraded` for failed
/// writes or diagnosed pods, `Progressing` while waiting, `Ready` when converged).
pub async fn reconcile<C: Cluster>(
    cluster: &C,
    progress: &dyn Progress,
    resource: &DevStats,
    opts: &ReconcileOptions,
) -> ReconcileOutcome {
    let outcome = |status: DevStatsStatus, report: Option<ApplyReport>, requeue: bool| ReconcileOutcome {
        status: finish(
            resource.metadata.generation,
            resource.status.as_ref(),
            status,
            opts,
        ),
        report,
        requeue_after: requeue.then_some(opts.requeue),
    };
    let model = match validated(resource) {
        Ok(m) => m,
        Err(problems) => return outcome(invalid_spec_status(problems), None, false),
    };
    let namespace = model.instance.namespace.to_string();
    let rendered = match devstats_render::render(&model, &devstats_render::Options::default()) {
        Ok(r) => r,
        Err(e) => {
            let p = Problem {
                path: "spec".to_owned(),
                message: e.to_string(),
            };
            return outcome(stalled("RenderFailed", &e.to_string(), vec![p]), None, false);
        }
    };
    let mut set = match DesiredSet::new(&rendered, &namespace, true) {
        Ok(s) => s,
        Err(e) => {
            let e = e.to_string();
            let p = Problem {
                path: "spec".to_owned(),
                message: e.clone(),
            };
            return outcome(stalled("RenderFailed", &e, vec![p]), None, false);
        }
    };
    label_owned(&mut set, resource);
    let mut cfg = opts.apply;
    cfg.dry_run = false;
    cfg.plan.prune.enabled = true;
    cfg.plan.prune.volumes = false;
    cfg.plan.prune.database = false;
    let eng = Engine::new(cluster, opts.concurrency, opts.retry, progress);
    let report = match crate::apply::apply(&eng, &set, &cfg).await {
        Ok(r) => r,
        Err(ApplyError::Refused(reasons)) => {
            let problems = reasons
                .iter()
                .map(|r| Problem {
                    path: "plan".to_owned(),
                    message: r.clone(),
                })
                .collect();
            let message = format!("the plan is refused, nothing was written: {}", reasons.join("; "));
            return outcome(stalled("PlanRefused", &message, problems), None, true);
        }
        Err(ApplyError::Read(e)) => {
            let message = format!("cannot read the cluster, nothing was written: {e}");
            return outcome(
                unreadable("ClusterUnreadable", message, "ClusterUnreadable"),
                None,
                true,
            );
        }
    };
    let st = match status::snapshot(&eng, &namespace).await {
        Ok(snap) => status::compute(&rendered, &namespace, &snap),
        Err(e) => {
            let message = format!("applied, but the status cannot be read: {e}");
            return outcome(
                unreadable("StatusUnreadable", message, "Applied"),
                Some(report),
                true,
            );
        }
    };
    let status = applied_status(&report, &st, model.projects.len());
    let ready = status
        .conditions
        .iter()
        .any(|c| c.type_ == ConditionType::Ready && c.status == "True");
    outcome(status, Some(report), !ready)
}

/// The previous status of a resource object, when it reads as a [`DevStatsStatus`] (a status the
/// operator did not write, e.g. from a newer version, counts as none).
#[must_use]
pub fn status_of(object: &Value) -> Option<DevStatsStatus> {
    object
        .get("status")
        .and_then(|s| serde_json::from_value(s.clone()).ok())
}

/// Reads a `DevStats` resource as the API server returns it: `Err` with every problem (with its
/// `spec.` path) when its spec is not a model the model's types accept. The `status` is not
/// part of it (see [`status_of`]).
pub fn resource_of(object: &Value) -> Result<DevStats, Vec<Problem>> {
    let mut doc = object.clone();
    if let Some(o) = doc.as_object_mut() {
        o.remove("status");
    }
    let mut r: DevStats = match serde_json::from_value(doc.clone()) {
        Ok(r) => r,
        Err(e) => {
            return Err(match resource::parse_resource(&doc) {
                Err(ResourceError::Invalid(ps)) => ps,
                Err(ResourceError::NotDevStats(m)) => vec![Problem {
                    path: String::new(),
                    message: m,
                }],
                Ok(_) => vec![Problem {
                    path: String::new(),
                    message: format!("not a DevStats resource: {e}"),
                }],
            });
        }
    };
    r.status = status_of(object);
    Ok(r)
}

/// [`reconcile`] of a resource object as the API server returns it (what a controller's watch
/// gives): a spec the model's types do not accept is `Stalled`/`InvalidSpec` with every problem,
/// and nothing is requested from the cluster, as for a spec the model's rules reject.
pub async fn reconcile_object<C: Cluster>(
    cluster: &C,
    progress: &dyn Progress,
    object: &Value,
    opts: &ReconcileOptions,
) -> ReconcileOutcome {
    match resource_of(object) {
        Ok(r) => reconcile(cluster, progress, &r, opts).await,
        Err(problems) => {
            let generation = object.pointer("/metadata/generation").and_then(Value::as_i64);
            let previous = status_of(object);
            ReconcileOutcome {
                status: finish(generation, previous.as_ref(), invalid_spec_status(problems), opts),
                report: None,
                requeue_after: None,
            }
        }
    }
}

/// The deletion of a `DevStats` resource (its `metadata.deletionTimestamp` is set and it still
/// holds [`resource::FINALIZER`]): deletes what the instance namespace's inventory lists as
/// `devstats-k8s destroy` does without `--delete-volumes` — volume claims, run-once Job records,
/// the namespace and the database are kept. When [`FinalizeOutcome::done`], the caller removes
/// the finalizer. A namespace without an inventory is done at once.
pub async fn finalize<C: Cluster>(
    cluster: &C,
    progress: &dyn Progress,
    resource: &DevStats,
    opts: &ReconcileOptions,
) -> Result<FinalizeOutcome, ApiError> {
    let namespace = resource
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| resource.spec.instance.namespace.to_string());
    let eng = Engine::new(cluster, opts.concurrency, opts.retry, progress);
    let Some(parent) = eng.get(&inventory::parent_key(&namespace)).await? else {
        return Ok(FinalizeOutcome {
            report: DestroyReport::default(),
            done: true,
        });
    };
    let members = inventory::parse(&parent).map_err(|e| ApiError::transport(e.to_string()))?;
    let plan = destroy::plan(&members, false);
    let report = destroy::run(&eng, &namespace, &plan).await;
    let done = report.failed.is_empty();
    Ok(FinalizeOutcome { report, done })
}

#[cfg(test)]
mod tests {
    use super::now_rfc3339;

    #[test]
    fn now_is_written_as_kubernetes_writes_times() {
        let t = now_rfc3339();
        let shape: String = t
            .chars()
            .map(|c| if c.is_ascii_digit() { 'd' } else { c })
            .collect();
        assert_eq!(shape, "dddd-dd-ddTdd:dd:ddZ", "{t}");
    }
}
