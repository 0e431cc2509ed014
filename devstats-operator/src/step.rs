//! The controller's work on one `DevStats` resource, over the CLI's [`Cluster`] trait (so it
//! runs against the in-memory API server in tests and over `KubeCluster` in the cluster):
//!
//! 1. **Finalizer.** A live resource without [`resource::FINALIZER`] gets it first. It is added
//!    and removed by server-side apply as the operator's field manager: `metadata.finalizers` is
//!    a set (`+listType=set` in `ObjectMeta`), so applying `[devstats.cncf.io/finalizer]` adds
//!    our element and keeps everybody else's, and an apply without it removes only ours — no
//!    read-modify-write race with other finalizers. (kube-runtime's `finalizer::finalizer` does
//!    the same with a JSON patch guarded by a `test` of the list; it needs a typed `Api`, which
//!    the in-memory server does not offer.) The same step goes on to reconcile.
//! 2. **Reconcile.** [`reconcile::reconcile_object`] validates, renders, applies, prunes with the
//!    guards and computes the status; the status is written through the status subresource
//!    ([`Cluster::replace_status`]) only when it changed, so a status write (itself a watch
//!    event) does not start an endless loop of reconciles.
//! 3. **Events** (events.k8s.io, through [`Events`]): one when the headline changes (`Ready`,
//!    or the reason it is not: `Stalled`'s, `Degraded`'s, `Progressing`'s), one per project
//!    whose phase changes (not on the first status: 243 events at install tell nothing the
//!    status does not), and a `Warning` for each failed reconcile.
//! 4. **Requeue** after the resync period (drift correction: a reconcile re-applies what was
//!    changed or deleted by hand), sooner while something is progressing. A failed step is an
//!    error; the error policy ([`Operator::error_policy`]) retries it with per-object
//!    exponential backoff ([`Backoff`]).
//! 5. **Deletion** (`metadata.deletionTimestamp` set, our finalizer present):
//!    [`reconcile::finalize`] deletes what the inventory lists, keeping volumes, Job records, the
//!    namespace and the database; only when it reports `done` is the finalizer removed (and the
//!    API server deletes the resource). A deletion that is not finished is an error, retried
//!    with backoff, the finalizer kept.

use std::time::{Duration, Instant};

use devstats_cli::cluster::{ApiError, Cluster};
use devstats_cli::kinds::ObjectKey;
use devstats_cli::progress::Progress;
use devstats_cli::reconcile::{self, DEVSTATS, ReconcileOptions};
use devstats_render::resource::{self, ConditionType, DevStatsStatus, ProjectPhase};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::controller::Action;
use serde_json::{Value, json};

use crate::backoff::Backoff;
use crate::metrics::Metrics;

/// `Normal` or `Warning` (the two `type`s of an Event).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Something expected happened.
    Normal,
    /// Something needs attention.
    Warning,
}

/// An event about a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// `Normal` or `Warning`.
    pub severity: Severity,
    /// CamelCase reason, e.g. `Ready`, `ImagePullFailed`, `ProjectFailed`.
    pub reason: String,
    /// What the controller was doing: `Reconcile` or `Finalize`.
    pub action: String,
    /// Human text (at most 1 kB: the API's limit on `note`).
    pub note: String,
}

/// Where the step's events go: kube-runtime's events Recorder in the cluster
/// ([`crate::controller::KubeEvents`]), a list in tests. Publishing is best effort: a failure
/// is logged by the implementation, never fails the reconcile.
#[allow(async_fn_in_trait)] // used through generics with concrete types, like `Cluster`
pub trait Events {
    /// Publishes `note` about the object `regarding`.
    async fn publish(&self, regarding: &ObjectReference, note: Note);
}

/// Why a step failed (the error policy backs off on it).
#[derive(Debug, Clone, thiserror::Error)]
pub enum StepError {
    /// The object has no name or namespace.
    #[error("a DevStats object without a name or namespace")]
    Unnamed,
    /// A request of the step failed.
    #[error("{object}: {what}: {source}")]
    Api {
        /// `DevStats ns/name`.
        object: String,
        /// What the step was doing.
        what: &'static str,
        /// The API error.
        source: Box<ApiError>,
    },
    /// The cluster could not be read, so nothing was applied (the status says so).
    #[error("{object}: {message}")]
    Unreadable {
        /// `DevStats ns/name`.
        object: String,
        /// The status condition's message.
        message: String,
    },
    /// The deletion is not finished: some objects could not be deleted.
    #[error(
        "{object}: the deletion is not finished, {failed} objects could not be deleted (first: {first}); the finalizer stays"
    )]
    Unfinished {
        /// `DevStats ns/name`.
        object: String,
        /// How many deletions failed.
        failed: usize,
        /// The first failure.
        first: String,
    },
    /// The reconcile's task ended without a result (it panicked or was cancelled).
    #[error("the reconcile ended without a result: {0}")]
    Aborted(String),
    /// Our finalizer is still listed after we removed ours: another field manager applied it too.
    #[error(
        "{object}: {finalizer} is also applied by another field manager ({managers}); remove it from their configuration"
    )]
    FinalizerHeld {
        /// `DevStats ns/name`.
        object: String,
        /// The finalizer.
        finalizer: &'static str,
        /// The other managers owning `metadata.finalizers`.
        managers: String,
    },
}

/// Settings of the controller's steps.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The reconcile settings (wait bounds, concurrency, retries).
    pub reconcile: ReconcileOptions,
    /// How often a resource is reconciled even when nothing changed (drift correction).
    pub resync: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            reconcile: ReconcileOptions::default(),
            resync: Duration::from_secs(10 * 60),
        }
    }
}

/// The controller's state shared by all steps: the cluster (applying as
/// `devstats-operator`), the events sink, metrics, the backoff and the settings.
#[derive(Debug)]
pub struct Operator<C, E> {
    /// The cluster client.
    pub cluster: C,
    /// The events sink.
    pub events: E,
    /// The metrics.
    pub metrics: std::sync::Arc<Metrics>,
    /// Per-object backoff of failures.
    pub backoff: Backoff,
    /// Settings.
    pub settings: Settings,
    /// Reconciles running now (a stopping process waits for them).
    pub in_flight: std::sync::atomic::AtomicUsize,
}

fn text(v: &Value, p: &str) -> Option<String> {
    v.pointer(p).and_then(Value::as_str).map(str::to_owned)
}

/// The object reference of a resource object (for events).
#[must_use]
pub fn reference(object: &Value) -> ObjectReference {
    ObjectReference {
        api_version: Some(resource::API_VERSION.to_owned()),
        kind: Some(resource::KIND.to_owned()),
        name: text(object, "/metadata/name"),
        namespace: text(object, "/metadata/namespace"),
        uid: text(object, "/metadata/uid"),
        resource_version: text(object, "/metadata/resourceVersion"),
        ..ObjectReference::default()
    }
}

fn key_of(object: &Value) -> Option<ObjectKey> {
    let name = text(object, "/metadata/name")?;
    let ns = text(object, "/metadata/namespace")?;
    Some(ObjectKey::new(DEVSTATS, Some(&ns), &name))
}

fn has_finalizer(object: &Value) -> bool {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .is_some_and(|f| f.iter().any(|x| x.as_str() == Some(resource::FINALIZER)))
}

/// The body that applies (`on`) or drops (`!on`) our finalizer.
fn finalizer_body(key: &ObjectKey, on: bool) -> Value {
    let meta = ObjectMeta {
        name: Some(key.name.clone()),
        namespace: key.namespace.clone(),
        finalizers: on.then(|| vec![resource::FINALIZER.to_owned()]),
        ..ObjectMeta::default()
    };
    json!({"apiVersion": resource::API_VERSION, "kind": resource::KIND,
           "metadata": serde_json::to_value(meta).unwrap_or(Value::Null)})
}

fn truncate(s: &str) -> String {
    if s.len() <= 1024 {
        return s.to_owned();
    }
    let mut end = 1021;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

fn phase_name(p: ProjectPhase) -> String {
    serde_json::to_value(p)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn camel(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The status's headline: `(severity, reason, message)` — `Ready`, or why it is not.
fn headline(s: &DevStatsStatus) -> (Severity, String, String) {
    let cond = |t: ConditionType| s.conditions.iter().find(|c| c.type_ == t && c.status == "True");
    if let Some(c) = cond(ConditionType::Ready) {
        return (Severity::Normal, "Ready".to_owned(), c.message.clone());
    }
    if let Some(c) = cond(ConditionType::Stalled).or_else(|| cond(ConditionType::Degraded)) {
        return (Severity::Warning, c.reason.clone(), c.message.clone());
    }
    if let Some(c) = cond(ConditionType::Progressing) {
        return (Severity::Normal, c.reason.clone(), c.message.clone());
    }
    let c = s.conditions.iter().find(|c| c.type_ == ConditionType::Ready);
    (
        Severity::Normal,
        c.map(|c| c.reason.clone()).unwrap_or_default(),
        c.map(|c| c.message.clone()).unwrap_or_default(),
    )
}

/// The events of a status change: the headline when it changed, and each project whose phase
/// changed (none on the first status).
#[must_use]
pub fn transitions(previous: Option<&DevStatsStatus>, next: &DevStatsStatus) -> Vec<Note> {
    let mut out = Vec::new();
    let (severity, reason, message) = headline(next);
    if previous.map(|p| headline(p).1) != Some(reason.clone()) {
        out.push(Note {
            severity,
            reason,
            action: "Reconcile".to_owned(),
            note: truncate(&message),
        });
    }
    let Some(previous) = previous else {
        return out;
    };
    for p in &next.projects {
        let before = previous
            .projects
            .iter()
            .find(|q| q.name == p.name)
            .map(|q| q.phase);
        if before == Some(p.phase) {
            continue;
        }
        let from = before.map_or_else(|| "new".to_owned(), phase_name);
        let to = phase_name(p.phase);
        let mut note = format!("project {}: {from} -> {to}", p.name);
        if let Some(m) = &p.message {
            note.push_str(": ");
            note.push_str(m);
        }
        out.push(Note {
            severity: if p.phase == ProjectPhase::Failed {
                Severity::Warning
            } else {
                Severity::Normal
            },
            reason: format!("Project{}", camel(&to)),
            action: "Reconcile".to_owned(),
            note: truncate(&note),
        });
    }
    out
}

impl<C: Cluster, E: Events> Operator<C, E> {
    /// One step for `object` (a `DevStats` as the API server returns it), timed, counted and,
    /// on failure, published as a `Warning` event `ReconcileFailed`. A success resets the
    /// object's backoff.
    pub async fn reconcile_object(&self, object: &Value) -> Result<Action, StepError> {
        use std::sync::atomic::Ordering;
        let started = Instant::now();
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        let result = self.step(object).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.metrics.observe_reconcile(started.elapsed());
        let name = key_of(object).map(|k| k.to_string()).unwrap_or_default();
        match &result {
            Ok(_) => self.backoff.succeeded(&name),
            Err(e) => {
                self.metrics.count_error();
                self.events
                    .publish(
                        &reference(object),
                        Note {
                            severity: Severity::Warning,
                            reason: "ReconcileFailed".to_owned(),
                            action: if object.pointer("/metadata/deletionTimestamp").is_some() {
                                "Finalize"
                            } else {
                                "Reconcile"
                            }
                            .to_owned(),
                            note: truncate(&e.to_string()),
                        },
                    )
                    .await;
            }
        }
        result
    }

    /// The error policy: retry the object after its next backoff delay.
    pub fn error_policy(&self, object: &Value, _error: &StepError) -> Action {
        let name = key_of(object).map(|k| k.to_string()).unwrap_or_default();
        Action::requeue(self.backoff.failed(&name))
    }

    async fn set_finalizer(&self, key: &ObjectKey, on: bool) -> Result<Option<Value>, StepError> {
        let api = |what: &'static str| {
            move |source: ApiError| StepError::Api {
                object: key.to_string(),
                what,
                source: Box::new(source),
            }
        };
        let what = if on {
            "adding the finalizer"
        } else {
            "removing the finalizer"
        };
        match self
            .cluster
            .apply(key, &finalizer_body(key, on), false, false)
            .await
        {
            Ok(v) => Ok(Some(v)),
            // The last finalizer gone, the server may have deleted the object already.
            Err(e) if !on && e.is_not_found() => Ok(None),
            Err(e) => Err(api(what)(e)),
        }
    }

    async fn step(&self, object: &Value) -> Result<Action, StepError> {
        let key = key_of(object).ok_or(StepError::Unnamed)?;
        let api = |what: &'static str| {
            let object = key.to_string();
            move |source: ApiError| StepError::Api {
                object: object.clone(),
                what,
                source: Box::new(source),
            }
        };
        let regarding = reference(object);
        let ns = key.namespace.clone().unwrap_or_default();
        let progress: &dyn Progress = &devstats_cli::progress::Silent;
        let opts = &self.settings.reconcile;
        if object.pointer("/metadata/deletionTimestamp").is_some() {
            if !has_finalizer(object) {
                return Ok(Action::await_change());
            }
            let note = match reconcile::resource_of(object) {
                Ok(r) => {
                    let out = reconcile::finalize(&self.cluster, progress, &r, opts)
                        .await
                        .map_err(api("finalizing"))?;
                    if !out.done {
                        let first = out
                            .report
                            .failed
                            .first()
                            .map(|(o, why)| format!("{o}: {why}"))
                            .unwrap_or_default();
                        return Err(StepError::Unfinished {
                            object: key.to_string(),
                            failed: out.report.failed.len(),
                            first,
                        });
                    }
                    format!(
                        "deleted {} objects; volumes, run-once Job records, the namespace and the database are kept",
                        out.report.deleted.len()
                    )
                }
                Err(_) => "the spec cannot be read, so nothing was deleted; `devstats-k8s destroy` removes what it applied".to_owned(),
            };
            if let Some(after) = self.set_finalizer(&key, false).await?
                && has_finalizer(&after)
            {
                let managers: Vec<String> = after
                    .pointer("/metadata/managedFields")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|e| e.pointer("/fieldsV1/f:metadata/f:finalizers").is_some())
                    .filter_map(|e| e.get("manager").and_then(Value::as_str).map(str::to_owned))
                    .collect();
                return Err(StepError::FinalizerHeld {
                    object: key.to_string(),
                    finalizer: resource::FINALIZER,
                    managers: managers.join(", "),
                });
            }
            self.metrics.forget(&ns, &key.name);
            self.events
                .publish(
                    &regarding,
                    Note {
                        severity: Severity::Normal,
                        reason: "Finalized".to_owned(),
                        action: "Finalize".to_owned(),
                        note: truncate(&note),
                    },
                )
                .await;
            return Ok(Action::await_change());
        }
        if !has_finalizer(object) {
            self.set_finalizer(&key, true).await?;
        }
        let outcome = reconcile::reconcile_object(&self.cluster, progress, object, opts).await;
        let previous = reconcile::status_of(object);
        if previous.as_ref() != Some(&outcome.status) {
            let status = serde_json::to_value(&outcome.status).unwrap_or(Value::Null);
            self.cluster
                .replace_status(&key, &status)
                .await
                .map_err(api("writing the status"))?;
        }
        for note in transitions(previous.as_ref(), &outcome.status) {
            self.events.publish(&regarding, note).await;
        }
        if outcome.report.is_some()
            && let Some(o) = outcome.status.objects
        {
            self.metrics.count_objects(o.applied, o.pruned);
        }
        let phases: Vec<String> = outcome
            .status
            .projects
            .iter()
            .map(|p| phase_name(p.phase))
            .collect();
        self.metrics
            .set_projects(&ns, &key.name, phases.iter().map(String::as_str));
        if let Some(c) = outcome.status.conditions.iter().find(|c| {
            c.type_ == ConditionType::Ready
                && matches!(c.reason.as_str(), "ClusterUnreadable" | "StatusUnreadable")
        }) {
            return Err(StepError::Unreadable {
                object: key.to_string(),
                message: c.message.clone(),
            });
        }
        let resync = self.settings.resync;
        Ok(Action::requeue(
            outcome.requeue_after.map_or(resync, |d| d.min(resync)),
        ))
    }
}
