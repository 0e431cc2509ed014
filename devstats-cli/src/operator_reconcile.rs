//! One reconcile of a `DevStats` resource (`devstats.cncf.io/v1alpha1`), free of kube-runtime so
//! it runs over any [`Cluster`] (the tests run it against the in-memory `FakeCluster`).
//!
//! The steps are the CLI's own: the spec is validated by the model's rules (what
//! `devstats-k8s validate` checks, [`devstats_render::resource::model_of`]); an invalid spec gives
//! `Stalled=True` reason `InvalidSpec` with every problem and its field path, and nothing is
//! applied. A valid spec is rendered (the render `devstats-k8s render` uses), planned and applied
//! by [`crate::apply::apply`] (phased server-side apply, the same waits, run-once provisioning,
//! inventory prune with its guards: PVCs, run-once Job records and the Patroni StatefulSet are
//! never pruned — the operator passes `volumes: false, database: false`, the defaults of
//! `apply --prune`). The returned [`DevStatsStatus`] carries the conditions, `observedGeneration`,
//! per-project phases and the diagnosis of pods that do not start ([`crate::status::compute`],
//! [`crate::diagnose`]).
//!
//! Not done here (see docs/operator.md): writes go through the [`Cluster`] trait, whose apply uses
//! the CLI's field manager, not `devstats-operator`; the caller writes the status.

use devstats_render::resource::{
    Condition, ConditionType, DevStatsStatus, ObjectCounts, Problem, ProjectPhase, ProjectStatus,
    ResourceError, model_of,
};
use serde_json::Value;

use crate::apply::{ApplyConfig, ApplyError, ApplyReport};
use crate::cluster::Cluster;
use crate::engine::Engine;
use crate::plan::DesiredSet;

/// What one reconcile did.
#[derive(Debug, Clone, Default)]
pub struct Reconciled {
    /// The status to write through the status subresource.
    pub status: DevStatsStatus,
    /// The apply's report; `None` when nothing was applied (invalid spec, refused or unreadable).
    pub report: Option<ApplyReport>,
}

fn condition(
    type_: ConditionType,
    on: bool,
    reason: &str,
    message: &str,
    generation: Option<i64>,
) -> Condition {
    Condition {
        type_,
        status: if on { "True" } else { "False" }.to_owned(),
        reason: reason.to_owned(),
        message: message.to_owned(),
        last_transition_time: None,
        observed_generation: generation,
    }
}

/// A status whose reconcile stopped before writing: `Stalled=True` with `reason`, not ready.
fn stalled(generation: Option<i64>, reason: &str, message: &str, problems: Vec<Problem>) -> DevStatsStatus {
    DevStatsStatus {
        observed_generation: generation,
        conditions: vec![
            condition(ConditionType::Ready, false, reason, message, generation),
            condition(ConditionType::Progressing, false, reason, message, generation),
            condition(ConditionType::Degraded, false, reason, "", generation),
            condition(ConditionType::Stalled, true, reason, message, generation),
        ],
        problems,
        ..DevStatsStatus::default()
    }
}

fn phase_of(row: &crate::status::ProjectRow) -> (ProjectPhase, Option<String>) {
    if row.provisioning.starts_with("failed") {
        return (ProjectPhase::Failed, Some(row.provisioning.clone()));
    }
    if let Some(d) = row.diagnoses.first() {
        return (ProjectPhase::Failed, Some(d.message.clone()));
    }
    if !row.provisioning.starts_with("provisioned") {
        return (ProjectPhase::Provisioning, Some(row.provisioning.clone()));
    }
    if row.sync.last_success.is_some() {
        (ProjectPhase::Syncing, None)
    } else {
        (ProjectPhase::Provisioned, None)
    }
}

/// Reconciles one `DevStats` resource (a JSON object with `metadata` and `spec`): validate,
/// render, plan, apply (with `cfg`; its prune volume/database guards are forced off), then read
/// the namespace back for project phases and diagnoses.
pub async fn reconcile<C: Cluster>(eng: &Engine<'_, C>, resource: &Value, cfg: &ApplyConfig) -> Reconciled {
    let generation = resource.pointer("/metadata/generation").and_then(Value::as_i64);
    let spec = resource.get("spec").cloned().unwrap_or(Value::Null);
    let model = match model_of(&spec) {
        Ok(m) => m,
        Err(ResourceError::Invalid(problems)) => {
            let message = problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.message))
                .collect::<Vec<_>>()
                .join("; ");
            return Reconciled {
                status: stalled(generation, "InvalidSpec", &message, problems),
                report: None,
            };
        }
        Err(ResourceError::NotDevStats(m)) => {
            return Reconciled {
                status: stalled(
                    generation,
                    "InvalidSpec",
                    &m,
                    vec![Problem {
                        path: "spec".to_owned(),
                        message: m.clone(),
                    }],
                ),
                report: None,
            };
        }
    };
    let namespace = model.instance.namespace.to_string();
    let rendered = match devstats_render::render(&model, &devstats_render::Options::default()) {
        Ok(r) => r,
        Err(e) => {
            let m = e.to_string();
            return Reconciled {
                status: stalled(generation, "RenderFailed", &m.to_string(), Vec::new()),
                report: None,
            };
        }
    };
    let set = match DesiredSet::new(&rendered, &namespace, true) {
        Ok(s) => s,
        Err(m) => {
            return Reconciled {
                status: stalled(generation, "RenderFailed", &m.to_string(), Vec::new()),
                report: None,
            };
        }
    };
    let mut cfg = *cfg;
    cfg.dry_run = false;
    cfg.plan.prune.volumes = false;
    cfg.plan.prune.database = false;
    let report = match crate::apply::apply(eng, &set, &cfg).await {
        Ok(r) => r,
        Err(ApplyError::Refused(reasons)) => {
            let problems = reasons
                .iter()
                .map(|r| Problem {
                    path: "plan".to_owned(),
                    message: r.clone(),
                })
                .collect();
            return Reconciled {
                status: stalled(generation, "PlanRefused", &reasons.join("; "), problems),
                report: None,
            };
        }
        Err(ApplyError::Read(m)) => {
            // Transient: the caller requeues with backoff; not a spec problem.
            let mut status = stalled(generation, "ClusterUnreadable", &m, Vec::new());
            status.conditions.retain(|c| c.type_ != ConditionType::Stalled);
            status.conditions.push(condition(
                ConditionType::Stalled,
                false,
                "ClusterUnreadable",
                &m,
                generation,
            ));
            return Reconciled { status, report: None };
        }
    };
    let mut status = DevStatsStatus {
        observed_generation: generation,
        objects: Some(ObjectCounts {
            applied: report
                .counts
                .iter()
                .filter(|(k, _)| matches!(k.as_str(), "create" | "update" | "recreate"))
                .map(|(_, v)| *v as u64)
                .sum::<u64>()
                .saturating_sub(report.failed.len() as u64),
            pruned: report.pruned.len() as u64,
        }),
        ..DevStatsStatus::default()
    };
    let mut problems: Vec<Problem> = report
        .failed
        .iter()
        .chain(&report.findings)
        .map(|(o, m)| Problem {
            path: o.clone(),
            message: m.clone(),
        })
        .collect();
    match crate::status::snapshot(eng, &namespace).await {
        Ok(snap) => {
            let st = crate::status::compute(&rendered, &namespace, &snap);
            for row in &st.projects {
                let (phase, message) = phase_of(row);
                status.projects.push(ProjectStatus {
                    name: row.project.clone(),
                    phase,
                    last_sync: row.sync.last_success.clone(),
                    last_affiliations: row.affiliations.last_success.clone(),
                    message,
                });
                problems.extend(row.diagnoses.iter().map(crate::diagnose::Diagnosis::problem));
            }
        }
        Err(e) => problems.push(Problem {
            path: "status".to_owned(),
            message: format!("cannot read the namespace back: {e}"),
        }),
    }
    status.projects.sort_by(|a, b| a.name.cmp(&b.name));
    let ready_projects = status
        .projects
        .iter()
        .filter(|p| matches!(p.phase, ProjectPhase::Provisioned | ProjectPhase::Syncing))
        .count();
    status.projects_ready = Some(format!("{ready_projects}/{}", status.projects.len()));
    let waiting = !report.deferred.is_empty()
        || status
            .projects
            .iter()
            .any(|p| p.phase == ProjectPhase::Provisioning);
    let degraded = !problems.is_empty() || status.projects.iter().any(|p| p.phase == ProjectPhase::Failed);
    let first = |v: &[Problem]| {
        v.first()
            .map(|p| format!("{}: {}", p.path, p.message))
            .unwrap_or_default()
    };
    let (ready_reason, ready_msg) = if degraded {
        ("Degraded", first(&problems))
    } else if waiting {
        (
            "Progressing",
            report
                .deferred
                .first()
                .map(|(o, m)| format!("{o}: {m}"))
                .unwrap_or_default(),
        )
    } else {
        ("Applied", report.summary())
    };
    let degraded_reason = report
        .failed
        .first()
        .map(|_| "ApplyFailed".to_owned())
        .or_else(|| {
            status
                .projects
                .iter()
                .find(|p| p.phase == ProjectPhase::Failed)
                .map(|_| "ProjectFailed".to_owned())
        })
        .unwrap_or_else(|| if degraded { "Unhealthy" } else { "Healthy" }.to_owned());
    status.conditions = vec![
        condition(
            ConditionType::Ready,
            !degraded && !waiting,
            ready_reason,
            &ready_msg,
            generation,
        ),
        condition(
            ConditionType::Progressing,
            waiting && !degraded,
            if waiting { "Waiting" } else { "Reconciled" },
            "",
            generation,
        ),
        condition(
            ConditionType::Degraded,
            degraded,
            &degraded_reason,
            &first(&problems),
            generation,
        ),
        condition(ConditionType::Stalled, false, "Reconciled", "", generation),
    ];
    status.problems = problems;
    Reconciled {
        status,
        report: Some(report),
    }
}

/// The cleanup of a deleted `DevStats` resource (before its finalizer is removed): deletes the
/// inventory's members of `namespace` as `devstats-k8s destroy` without `--delete-volumes` does —
/// PVCs, run-once Job records, the Patroni StatefulSet and the namespace are kept (the resource
/// has no field to delete them yet). No inventory: nothing to delete.
pub async fn cleanup<C: Cluster>(
    eng: &Engine<'_, C>,
    namespace: &str,
) -> Result<crate::destroy::DestroyReport, crate::cluster::ApiError> {
    let Some(parent) = eng.get(&crate::plan::inventory::parent_key(namespace)).await? else {
        return Ok(crate::destroy::DestroyReport::default());
    };
    let members = crate::plan::inventory::parse(&parent)
        .map_err(|e| crate::cluster::ApiError::transport(e.to_string()))?;
    let plan = crate::destroy::plan(&members, false);
    Ok(crate::destroy::run(eng, namespace, &plan).await)
}
