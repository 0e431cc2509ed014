//! `apply`: read the live state (one LIST per kind), plan (pure), then write in dependency order
//! with bounded concurrency and typed waits, prune what the inventory lists and the render no
//! longer has, and record the inventory.
//!
//! Crash safety: the inventory is first extended to old ∪ desired, before any other write, so an
//! apply interrupted at any point has recorded everything it may have created; re-running it
//! re-plans from the live state (written objects carry their content hash) and converges.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use devstats_render::Component;
use futures::future::{FutureExt as _, LocalBoxFuture, join_all};
use futures::stream::{FuturesUnordered, StreamExt as _};
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::cluster::{ApiError, Cluster, ListOptions};
use crate::engine::{Counters, Engine};
use crate::kinds::{Kind, ObjectKey};
use crate::plan::graph::{EdgeKind, topo_order};
use crate::plan::inventory;
use crate::plan::policy::needs_live_spec;
use crate::plan::{Action, DesiredSet, LiveState, Plan, PlanOptions, live_hash};
use crate::progress::Event;
use crate::waits::{self, Readiness, WaitFor, WaitOutcome};
use devstats_render::{Ready, Write};

/// Apply settings.
#[derive(Debug, Clone, Copy)]
pub struct ApplyConfig {
    /// Planner options (waits, provisioning parallelism, recreate, prune).
    pub plan: PlanOptions,
    /// Take over fields owned by other managers (`--force-conflicts`).
    pub force_conflicts: bool,
    /// Only show the plan.
    pub dry_run: bool,
    /// Longest wait for one rollout or the database.
    pub timeout: Duration,
    /// Longest wait for one bootstrap or provisioning Job.
    pub provision_timeout: Duration,
    /// First poll interval of waits.
    pub poll_initial: Duration,
    /// Longest poll interval of waits.
    pub poll_max: Duration,
}

impl Default for ApplyConfig {
    fn default() -> Self {
        Self {
            plan: PlanOptions::default(),
            force_conflicts: false,
            dry_run: false,
            timeout: Duration::from_secs(15 * 60),
            provision_timeout: Duration::from_secs(72 * 3600),
            poll_initial: Duration::from_secs(1),
            poll_max: Duration::from_secs(10),
        }
    }
}

/// Why an apply did not start writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyError {
    /// The plan refuses (immutable changes, unsafe prune): nothing was written.
    Refused(Vec<String>),
    /// Reading the live state failed: nothing was written.
    Read(String),
}

impl std::fmt::Display for ApplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApplyError::Refused(r) => write!(f, "apply refused, nothing was written:\n  {}", r.join("\n  ")),
            ApplyError::Read(e) => write!(f, "cannot read the cluster, nothing was written: {e}"),
        }
    }
}

impl std::error::Error for ApplyError {}

/// What an apply did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ApplyReport {
    /// Objects per planned action.
    pub counts: BTreeMap<String, usize>,
    /// Requests.
    pub requests: Counters,
    /// Objects that failed, with the reason.
    pub failed: Vec<(String, String)>,
    /// Objects not written in this apply, with the reason.
    pub deferred: Vec<(String, String)>,
    /// Run-once Jobs that failed before this apply (not re-run): findings.
    pub findings: Vec<(String, String)>,
    /// Deleted objects.
    pub pruned: Vec<String>,
    /// Objects not rendered but kept, with the flag that would delete them.
    pub kept: Vec<(String, String)>,
    /// Information for the operator.
    pub notes: Vec<String>,
    /// Only the plan was shown.
    pub dry_run: bool,
    /// Wall time.
    pub elapsed_ms: u64,
}

impl ApplyReport {
    /// Whether everything planned succeeded.
    #[must_use]
    pub fn ok(&self) -> bool {
        self.failed.is_empty()
    }

    /// The one-line summary.
    #[must_use]
    pub fn summary(&self) -> String {
        let n = |k: &str| self.counts.get(k).copied().unwrap_or(0);
        let total: usize = self.counts.values().sum();
        let secs = self.elapsed_ms as f64 / 1000.0;
        let reqs = format!(
            "{} writes, {} reads{}",
            self.requests.writes,
            self.requests.reads,
            if self.requests.retries > 0 {
                format!(", {} retries", self.requests.retries)
            } else {
                String::new()
            }
        );
        if self.dry_run {
            return format!(
                "dry run: {total} objects: {} to create, {} to update, {} to recreate, {} unchanged, {} deferred; \
                 {} to prune. Nothing was written ({reqs}, {secs:.1}s).",
                n("create"),
                n("update"),
                n("recreate"),
                n("unchanged"),
                n("deferred"),
                self.pruned.len()
            );
        }
        if self.requests.writes == 0 && self.ok() && self.deferred.is_empty() {
            return format!("no changes: {total} objects up to date, 0 writes ({reqs}, {secs:.1}s)");
        }
        let mut s = format!(
            "{}: {} created, {} updated, {} recreated, {} unchanged",
            if self.ok() { "applied" } else { "apply FAILED" },
            n("create"),
            n("update"),
            n("recreate"),
            n("unchanged") + n("keep") + n("done")
        );
        if !self.deferred.is_empty() {
            s.push_str(&format!(", {} deferred", self.deferred.len()));
        }
        if !self.failed.is_empty() {
            s.push_str(&format!(", {} failed", self.failed.len()));
        }
        s.push_str(&format!("; {} pruned ({reqs}, {secs:.1}s)", self.pruned.len()));
        s
    }
}

/// Reads what the planner needs: the inventory, one LIST per kind and namespace (metadata only
/// except StatefulSets, Jobs, Pods and HPAs, whose spec and status matter), GETs of cluster-scoped
/// objects, and the full body of changed objects with immutable fields (GET each, or one full LIST
/// when many of a kind changed).
pub async fn read_live<C: Cluster>(eng: &Engine<'_, C>, set: &DesiredSet) -> Result<LiveState, ApiError> {
    let pod_types = pod_types(set);
    let pod_types = &pod_types;
    let full = |k: Kind| !list_options(k, pod_types).metadata_only;
    let parent_key = inventory::parent_key(&set.namespace);
    let mut namespaces: BTreeSet<String> = set
        .objects
        .iter()
        .filter_map(|d| d.key.namespace.clone())
        .collect();
    namespaces.insert(set.namespace.clone());
    let mut kinds = set.kinds();
    kinds.insert(Kind::POD);
    kinds.insert(Kind::JOB);
    if kinds.contains(&Kind::DEPLOYMENT) {
        kinds.insert(Kind::HORIZONTAL_POD_AUTOSCALER);
    }
    // One LIST per (kind, namespace) the render has, plus the instance namespace's Pods, Jobs
    // and HPAs (the planner reads their state), not every kind in every namespace.
    let mut pair_set: BTreeSet<(Kind, String)> = set
        .objects
        .iter()
        .filter_map(|d| Some((d.key.kind, d.key.namespace.clone()?)))
        .collect();
    for k in [Kind::POD, Kind::JOB, Kind::HORIZONTAL_POD_AUTOSCALER] {
        if kinds.contains(&k) {
            pair_set.insert((k, set.namespace.clone()));
        }
    }
    let pairs: Vec<(Kind, String)> = pair_set.into_iter().collect();
    let list_all = |pairs: Vec<(Kind, String)>| {
        join_all(pairs.into_iter().map(|(k, ns)| async move {
            let r = eng.list(k, Some(&ns), &list_options(k, pod_types)).await;
            (k, r)
        }))
    };
    let cluster_scoped: Vec<ObjectKey> = set
        .objects
        .iter()
        .filter(|d| !d.key.kind.namespaced)
        .map(|d| d.key.clone())
        .collect();
    // Cluster-scoped custom kinds are listed too: a GET of one answers 404 both when the object
    // is missing and when its CRD is, a LIST only when the CRD is.
    let custom_cluster_kinds: Vec<Kind> = kinds
        .iter()
        .copied()
        .filter(|k| !k.namespaced && !k.is_builtin())
        .collect();
    let metadata = ListOptions {
        metadata_only: true,
        label_selector: None,
    };
    let (parent, lists, scoped, custom) = futures::join!(
        eng.get(&parent_key),
        list_all(pairs),
        join_all(cluster_scoped.iter().map(|k| eng.get(k))),
        join_all(custom_cluster_kinds.iter().map(|&k| {
            let metadata = &metadata;
            async move { (k, eng.list(k, None, metadata).await) }
        }))
    );
    let mut live = LiveState::default();
    let absorb = |live: &mut LiveState,
                  results: Vec<(Kind, Result<Vec<Value>, ApiError>)>|
     -> Result<(), ApiError> {
        for (k, r) in results {
            let items = match r {
                Ok(items) => items,
                // Optional kinds: an HPA API that is missing or forbidden means no HPAs.
                Err(e) if k == Kind::HORIZONTAL_POD_AUTOSCALER && matches!(e.code, 403 | 404) => Vec::new(),
                // A custom resource whose CRD is not installed: none exist, and the planner
                // refuses to apply any (before the first write, with what to install).
                Err(e) if !k.is_builtin() && e.code == 404 => {
                    live.unserved_kinds.insert(k);
                    Vec::new()
                }
                Err(e) => return Err(e),
            };
            live.listed_kinds.insert(k);
            if full(k) {
                live.full_kinds.insert(k);
            }
            for item in items {
                if let Some(key) = ObjectKey::of_item(k, &item) {
                    live.objects.insert(key, item);
                }
            }
        }
        Ok(())
    };
    absorb(&mut live, lists)?;
    absorb(&mut live, custom)?;
    // Namespaces other than the ones the render creates must already exist.
    let rendered_ns: BTreeSet<&str> = set
        .objects
        .iter()
        .filter(|d| d.key.kind == Kind::NAMESPACE)
        .map(|d| d.key.name.as_str())
        .collect();
    let foreign: Vec<ObjectKey> = namespaces
        .iter()
        .filter(|ns| **ns != set.namespace && !rendered_ns.contains(ns.as_str()))
        .map(|ns| ObjectKey::new(Kind::NAMESPACE, None, ns))
        .collect();
    for (key, r) in foreign
        .iter()
        .zip(join_all(foreign.iter().map(|k| eng.get(k))).await)
    {
        if r?.is_none() {
            live.missing_namespaces.insert(key.name.clone());
        }
    }
    for (key, r) in cluster_scoped.iter().zip(scoped) {
        if let Some(v) = r? {
            live.objects.insert(key.clone(), v);
        }
    }
    let inventory = match parent? {
        Some(p) => Some(inventory::parse(&p).map_err(|e| ApiError::transport(e.to_string()))?),
        None => None,
    };
    if let Some(inv) = &inventory {
        let missing: BTreeSet<(Kind, String)> = inv
            .keys()
            .filter(|k| k.kind.namespaced && !live.listed_kinds.contains(&k.kind))
            .filter_map(|k| Some((k.kind, k.namespace.clone()?)))
            .collect();
        let results = list_all(missing.into_iter().collect()).await;
        absorb(&mut live, results)?;
    }
    live.inventory = inventory;

    // Full bodies of changed objects whose immutable fields must be compared.
    let mut need: BTreeMap<(Kind, String), Vec<ObjectKey>> = BTreeMap::new();
    for d in &set.objects {
        if d.policy.write == Write::Apply
            && needs_live_spec(d.key.kind)
            && !live.full_kinds.contains(&d.key.kind)
            && let Some(l) = live.get(&d.key)
            && live_hash(l) != Some(d.hash.as_str())
        {
            need.entry((d.key.kind, d.key.namespace.clone().unwrap_or_default()))
                .or_default()
                .push(d.key.clone());
        }
    }
    for ((kind, ns), keys) in need {
        if keys.len() > 20 {
            let items = eng.list(kind, Some(&ns), &ListOptions::default()).await?;
            for item in items {
                if let Some(key) = ObjectKey::of_item(kind, &item) {
                    live.objects.insert(key, item);
                }
            }
        } else {
            let got = join_all(keys.iter().map(|k| eng.get(k))).await;
            for (key, r) in keys.iter().zip(got) {
                match r? {
                    Some(v) => {
                        live.objects.insert(key.clone(), v);
                    }
                    None => {
                        live.objects.remove(key);
                    }
                }
            }
        }
    }
    Ok(live)
}

/// How `apply` lists a kind: metadata only, except the kinds whose spec and status the planner
/// reads. Pods and Jobs are narrowed by their `type` label to the database, bootstrap,
/// provisioning and rendered helper pods (not the thousands that CronJobs leave behind).
#[must_use]
pub fn list_options(kind: Kind, pod_types: &BTreeSet<String>) -> ListOptions {
    match kind {
        Kind::POD => ListOptions {
            metadata_only: false,
            label_selector: Some(format!(
                "type in ({})",
                pod_types.iter().map(String::as_str).collect::<Vec<_>>().join(",")
            )),
        },
        Kind::JOB => ListOptions {
            metadata_only: false,
            label_selector: Some("type in (boot,provision)".to_owned()),
        },
        Kind::STATEFUL_SET | Kind::HORIZONTAL_POD_AUTOSCALER => ListOptions::default(),
        _ => ListOptions {
            metadata_only: true,
            label_selector: None,
        },
    }
}

/// The `type` labels of the pods `apply` reads: the database, bootstrap and provisioning pods, and
/// the rendered bare Pods.
#[must_use]
pub fn pod_types(set: &DesiredSet) -> BTreeSet<String> {
    let mut types: BTreeSet<String> = ["boot", "postgres", "provision"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    for d in set.objects.iter().filter(|d| d.key.kind == Kind::POD) {
        if let Some(t) = d.body.pointer("/metadata/labels/type").and_then(Value::as_str) {
            types.insert(t.to_owned());
        }
    }
    types
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum NodeState {
    Pending,
    Running,
    Done,
    Deferred,
    Failed,
}

/// The outcome text of a write error, for the operator (never a raw 409/422).
#[must_use]
pub fn describe_write_error(key: &ObjectKey, e: &ApiError) -> String {
    if e.is_field_conflict() {
        format!(
            "{key}: conflict: {}; someone changed these fields with another tool. Re-run with \
             --force-conflicts to take them back (the model's values win), or put the live values into the model",
            e.conflict_summary()
        )
    } else if e.is_immutable() {
        format!(
            "{key}: the API server refused to change an immutable field ({}); the offline check did not \
             predict it: keep the live value in the model, or delete the object deliberately",
            e.message
        )
    } else if e.code == 404 && e.message.contains("namespaces") {
        format!(
            "{key}: {}: apply the Namespace first (it is not in this selection)",
            e.message
        )
    } else {
        format!("{key}: {e}")
    }
}

/// The readiness check of object `d` over its live state (and, for the database, its pods).
fn readiness(d: &crate::plan::Desired, obj: Option<&Value>, pods: &[Value]) -> Readiness {
    let Some(obj) = obj else {
        return Readiness::Progressing("does not exist yet".to_owned());
    };
    match d.policy.ready {
        Ready::Primary => waits::database(obj, pods.iter()),
        Ready::Rollout if d.key.kind == Kind::STATEFUL_SET => waits::statefulset(obj),
        Ready::Rollout => waits::deployment(obj),
        Ready::Complete => waits::job(obj),
        Ready::Exists => Readiness::Ready,
    }
}

/// Why writing, deleting or waiting for one object failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    /// A request about it failed (described with what to do, [`describe_write_error`]).
    #[error("{}", describe_write_error(.key, .error))]
    Api {
        /// The object.
        key: ObjectKey,
        /// The API's answer.
        error: ApiError,
    },
    /// It failed to become ready (a failed Job, a crash-looping rollout).
    #[error("{key}: {message}")]
    Failed {
        /// The object.
        key: ObjectKey,
        /// What its status says.
        message: String,
    },
    /// It was not ready within the timeout.
    #[error("{key}: timed out after {secs}s: {message}")]
    TimedOut {
        /// The object.
        key: ObjectKey,
        /// The timeout.
        secs: u64,
        /// Its last progress message.
        message: String,
    },
    /// It was still there after a delete, for the whole timeout.
    #[error("{key}: still present {secs}s after delete")]
    StillPresent {
        /// The object.
        key: ObjectKey,
        /// The timeout.
        secs: u64,
    },
}

impl ObjectError {
    /// A failed request about `key`.
    #[must_use]
    pub fn api(key: &ObjectKey, error: ApiError) -> Self {
        Self::Api {
            key: key.clone(),
            error,
        }
    }
}

/// Waits until object `i` is ready, failed, or the timeout passes.
async fn wait_ready<C: Cluster>(
    eng: &Engine<'_, C>,
    set: &DesiredSet,
    i: usize,
    cfg: &ApplyConfig,
) -> Result<(), ObjectError> {
    let d = &set.objects[i];
    let timeout = if d.policy.write == Write::RunOnce {
        cfg.provision_timeout
    } else {
        cfg.timeout
    };
    let object = d.key.to_string();
    let phase = d.policy.phase.as_str().to_owned();
    eng.progress.event(&Event::WaitStart {
        object: object.clone(),
        phase: phase.clone(),
    });
    let started = Instant::now();
    let done = |ok: bool, message: String| {
        eng.progress.event(&Event::WaitDone {
            object: object.clone(),
            phase: phase.clone(),
            ok,
            message,
            elapsed_secs: started.elapsed().as_secs(),
        });
    };
    let pods = (d.policy.ready == Ready::Primary).then(|| format!("cluster-name={}", d.key.name));
    let w = WaitFor {
        key: &d.key,
        pods: pods.as_deref(),
        timeout,
        poll_initial: cfg.poll_initial,
        poll_max: cfg.poll_max,
    };
    let outcome = eng
        .cluster
        .wait_for(&w, &mut |obj, pods| readiness(d, obj, pods), &mut |m, waited| {
            eng.progress.event(&Event::WaitProgress {
                object: object.clone(),
                message: m.to_owned(),
                elapsed_secs: waited.as_secs(),
            });
        })
        .await
        .map_err(|e| ObjectError::api(&d.key, e))?;
    match outcome {
        WaitOutcome::Ready => {
            done(true, "ready".to_owned());
            Ok(())
        }
        WaitOutcome::Failed(m) => {
            done(false, m.clone());
            Err(ObjectError::Failed {
                key: d.key.clone(),
                message: m,
            })
        }
        WaitOutcome::TimedOut(m) => {
            done(false, format!("timed out after {}s: {m}", timeout.as_secs()));
            Err(ObjectError::TimedOut {
                key: d.key.clone(),
                secs: timeout.as_secs(),
                message: m,
            })
        }
    }
}

/// Waits until an object is gone (after a delete), on [`Cluster::wait_for`].
async fn wait_gone<C: Cluster>(
    eng: &Engine<'_, C>,
    key: &ObjectKey,
    cfg: &ApplyConfig,
) -> Result<(), ObjectError> {
    let w = WaitFor {
        key,
        pods: None,
        timeout: cfg.timeout,
        poll_initial: cfg.poll_initial,
        poll_max: cfg.poll_max,
    };
    let gone = |obj: Option<&Value>, _: &[Value]| match obj {
        None => Readiness::Ready,
        Some(_) => Readiness::Progressing("still present".to_owned()),
    };
    match eng
        .cluster
        .wait_for(&w, &mut { gone }, &mut |_, _| {})
        .await
        .map_err(|e| ObjectError::api(key, e))?
    {
        WaitOutcome::Ready => Ok(()),
        WaitOutcome::Failed(_) | WaitOutcome::TimedOut(_) => Err(ObjectError::StillPresent {
            key: key.clone(),
            secs: cfg.timeout.as_secs(),
        }),
    }
}

async fn run_node<C: Cluster>(
    eng: &Engine<'_, C>,
    set: &DesiredSet,
    plan: &Plan,
    i: usize,
    cfg: &ApplyConfig,
    slots: &Semaphore,
) -> Result<(), ObjectError> {
    let d = &set.objects[i];
    let p = &plan.objects[i];
    let provisioning =
        d.component == Component::Provision && matches!(p.action, Action::Create | Action::Running);
    let _slot = if provisioning && cfg.plan.wait {
        slots.acquire().await.ok()
    } else {
        None
    };
    let err = |e: ApiError| ObjectError::api(&d.key, e);
    match &p.action {
        Action::Apply { .. } => {
            eng.apply(&d.key, &p.body, cfg.force_conflicts, false)
                .await
                .map_err(err)?;
        }
        Action::Create => {
            eng.create(&d.key, &p.body).await.map_err(err)?;
        }
        Action::Recreate { .. } => {
            eng.delete(&d.key).await.map_err(err)?;
            wait_gone(eng, &d.key, cfg).await?;
            eng.apply(&d.key, &p.body, cfg.force_conflicts, false)
                .await
                .map_err(err)?;
        }
        _ => {}
    }
    if p.action.writes() > 0 {
        eng.progress.event(&Event::Applied {
            object: d.key.to_string(),
            phase: d.policy.phase.as_str().to_owned(),
            action: p.action.label().to_owned(),
        });
    }
    if cfg.plan.wait && p.wait {
        wait_ready(eng, set, i, cfg).await?;
    }
    Ok(())
}

fn notes(set: &DesiredSet, plan: &Plan) -> Vec<String> {
    let mut changed = Vec::new();
    let mut chart = Vec::new();
    for p in &plan.objects {
        if let Action::Done { note: Some(n) } = &p.action {
            let name = set.objects[p.index].key.name.clone();
            if n.starts_with("completed by the chart") {
                chart.push(name);
            } else {
                changed.push((name, set.objects[p.index].project.clone()));
            }
        }
    }
    let mut out = Vec::new();
    let list = |names: Vec<String>| {
        let n = names.len();
        let mut s = names.into_iter().take(8).collect::<Vec<_>>().join(", ");
        if n > 8 {
            s.push_str(&format!(", ... ({n} in all)"));
        }
        s
    };
    if !chart.is_empty() {
        out.push(format!(
            "{} run-once Jobs are already done by the chart's pods and are not run again: {}",
            chart.len(),
            list(chart)
        ));
    }
    if !changed.is_empty() {
        let example = changed
            .iter()
            .find_map(|(_, p)| p.clone())
            .unwrap_or_else(|| "PROJECT".to_owned());
        out.push(format!(
            "{} completed run-once Jobs have a changed template and are not re-run: {} \
             (to re-provision one: `devstats-k8s run provision --project {example}`)",
            changed.len(),
            list(changed.into_iter().map(|(n, _)| n).collect())
        ));
    }
    out
}

/// Runs an apply.
pub async fn apply<C: Cluster>(
    eng: &Engine<'_, C>,
    set: &DesiredSet,
    cfg: &ApplyConfig,
) -> Result<ApplyReport, ApplyError> {
    let started = Instant::now();
    let live = read_live(eng, set)
        .await
        .map_err(|e| ApplyError::Read(e.to_string()))?;
    let plan = crate::plan::plan(set, &live, &cfg.plan);
    if !plan.refusals.is_empty() {
        return Err(ApplyError::Refused(plan.refusals));
    }
    let mut report = ApplyReport {
        counts: plan
            .counts()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
        dry_run: cfg.dry_run,
        notes: notes(set, &plan),
        kept: plan
            .kept
            .iter()
            .map(|(k, r)| (k.to_string(), r.clone()))
            .collect(),
        ..ApplyReport::default()
    };
    let mut phases: Vec<(String, usize, usize)> = Vec::new();
    for (d, p) in set.objects.iter().zip(&plan.objects) {
        let name = d.policy.phase.as_str();
        if phases.last().is_none_or(|(n, _, _)| n != name) {
            phases.push((name.to_owned(), 0, 0));
        }
        if let Some(last) = phases.last_mut() {
            last.1 += 1;
            last.2 += usize::from(p.action.writes() > 0);
        }
    }
    eng.progress.event(&Event::Plan {
        phases,
        counts: report.counts.clone(),
        writes: plan.write_count(),
        prune: plan.prune.len(),
    });
    for note in &report.notes {
        eng.progress.event(&Event::Note {
            message: note.clone(),
        });
    }
    for (d, p) in set.objects.iter().zip(&plan.objects) {
        match &p.action {
            Action::Deferred { reason } => {
                report.deferred.push((d.key.to_string(), reason.clone()));
                eng.progress.event(&Event::Deferred {
                    object: d.key.to_string(),
                    reason: reason.clone(),
                });
            }
            Action::Failed { reason } => {
                report.findings.push((d.key.to_string(), reason.clone()));
                eng.progress.event(&Event::Failed {
                    object: d.key.to_string(),
                    error: reason.clone(),
                });
            }
            _ => {}
        }
    }
    for (k, r) in &report.kept {
        eng.progress.event(&Event::Kept {
            object: k.clone(),
            reason: r.clone(),
        });
    }
    if cfg.dry_run {
        for (d, p) in set.objects.iter().zip(&plan.objects) {
            if p.action.writes() > 0 {
                let extra = match &p.action {
                    Action::Recreate { changes } if !changes.is_empty() => format!(
                        " ({})",
                        changes
                            .iter()
                            .map(|c| format!("{}: {} → {}", c.path, c.live, c.desired))
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                    _ => String::new(),
                };
                eng.progress.event(&Event::Note {
                    message: format!("would {} {}{extra}", p.action.label(), d.key),
                });
            }
        }
        for k in &plan.prune {
            eng.progress.event(&Event::Note {
                message: format!("would delete {k}"),
            });
        }
        report.pruned = plan.prune.iter().map(ToString::to_string).collect();
        report.requests = eng.counters();
        report.elapsed_ms = elapsed_ms(started);
        emit_summary(eng, &report);
        return Ok(report);
    }

    let n = set.objects.len();
    let mut state: Vec<NodeState> = plan
        .objects
        .iter()
        .map(|p| match &p.action {
            Action::Deferred { .. } | Action::Failed { .. } => NodeState::Deferred,
            a if a.writes() > 0 || (cfg.plan.wait && p.wait) => NodeState::Pending,
            _ => NodeState::Done,
        })
        .collect();
    let slots = Semaphore::new(cfg.plan.max_parallel.max(1));

    // The namespace first, then the inventory (old ∪ desired), then everything else.
    for (i, d) in set.objects.iter().enumerate() {
        if d.key.kind == Kind::NAMESPACE && state[i] == NodeState::Pending {
            match run_node(eng, set, &plan, i, cfg, &slots).await {
                Ok(()) => state[i] = NodeState::Done,
                Err(e) => {
                    state[i] = NodeState::Failed;
                    fail(eng, &mut report, &d.key, e);
                }
            }
        }
    }
    let mut inventory_now = live.inventory.clone();
    if plan.inventory_before_changed && !state.contains(&NodeState::Failed) {
        match write_inventory(eng, &set.namespace, &plan.inventory_before).await {
            Ok(()) => inventory_now = Some(plan.inventory_before.clone()),
            Err(e) => {
                // Without the inventory, nothing may be created: it could never be pruned.
                fail(eng, &mut report, &inventory::parent_key(&set.namespace), e);
                report.requests = eng.counters();
                report.elapsed_ms = elapsed_ms(started);
                emit_summary(eng, &report);
                return Ok(report);
            }
        }
    }

    let mut deps: Vec<Vec<(usize, EdgeKind)>> = vec![Vec::new(); n];
    for e in &set.edges {
        deps[e.from].push((e.to, e.kind));
    }
    let order = topo_order(n, &set.edges).unwrap_or_else(|_| (0..n).collect());
    let mut running: FuturesUnordered<LocalBoxFuture<'_, (usize, Result<(), ObjectError>)>> =
        FuturesUnordered::new();
    let mut pending: Vec<usize> = order
        .into_iter()
        .filter(|&i| state[i] == NodeState::Pending)
        .collect();
    loop {
        let mut still = Vec::with_capacity(pending.len());
        for i in pending {
            let mut startable = true;
            let mut blocked: Option<(NodeState, String)> = None;
            for &(dep, kind) in &deps[i] {
                match (&state[dep], kind) {
                    (NodeState::Failed, _) => {
                        blocked = Some((
                            NodeState::Failed,
                            format!("needs {}, which failed", set.objects[dep].key),
                        ));
                        break;
                    }
                    (NodeState::Deferred, EdgeKind::Ready) if cfg.plan.wait => {
                        blocked = Some((
                            NodeState::Deferred,
                            format!("needs {}, which is deferred", set.objects[dep].key),
                        ));
                        break;
                    }
                    (NodeState::Done | NodeState::Deferred, _) => {}
                    (NodeState::Pending | NodeState::Running, _) => startable = false,
                }
            }
            if let Some((st, reason)) = blocked {
                let key = &set.objects[i].key;
                if st == NodeState::Failed {
                    fail(eng, &mut report, key, format!("{key}: not applied: {reason}"));
                } else {
                    report.deferred.push((key.to_string(), reason.clone()));
                    eng.progress.event(&Event::Deferred {
                        object: key.to_string(),
                        reason,
                    });
                }
                state[i] = st;
            } else if startable {
                state[i] = NodeState::Running;
                let slots = &slots;
                let plan = &plan;
                running.push(async move { (i, run_node(eng, set, plan, i, cfg, slots).await) }.boxed_local());
            } else {
                still.push(i);
            }
        }
        pending = still;
        let Some((i, result)) = running.next().await else {
            break;
        };
        match result {
            Ok(()) => state[i] = NodeState::Done,
            Err(e) => {
                state[i] = NodeState::Failed;
                fail(eng, &mut report, &set.objects[i].key, e);
            }
        }
    }

    // Prune (only after a successful apply), in reverse apply order, one kind at a time.
    let mut members = inventory_now.clone().unwrap_or_default();
    if report.ok() {
        members = plan.inventory_after.clone();
        let mut groups: BTreeMap<std::cmp::Reverse<u8>, Vec<&ObjectKey>> = BTreeMap::new();
        for k in &plan.prune {
            groups.entry(std::cmp::Reverse(k.kind.rank)).or_default().push(k);
        }
        for keys in groups.values() {
            let results = join_all(keys.iter().map(|k| eng.delete(k))).await;
            for (k, r) in keys.iter().zip(results) {
                match r {
                    Ok(_) => {
                        report.pruned.push(k.to_string());
                        eng.progress.event(&Event::Deleted {
                            object: k.to_string(),
                        });
                    }
                    Err(e) => {
                        let recorded = plan.inventory_before.get(*k).copied().flatten();
                        members.insert((*k).clone(), recorded);
                        fail(eng, &mut report, k, describe_write_error(k, &e));
                    }
                }
            }
        }
    }
    if inventory_now.as_ref() != Some(&members)
        && !(members.is_empty() && inventory_now.is_none())
        && let Err(e) = write_inventory(eng, &set.namespace, &members).await
    {
        fail(eng, &mut report, &inventory::parent_key(&set.namespace), e);
    }
    report.requests = eng.counters();
    report.elapsed_ms = elapsed_ms(started);
    emit_summary(eng, &report);
    Ok(report)
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn fail<C: Cluster>(
    eng: &Engine<'_, C>,
    report: &mut ApplyReport,
    key: &ObjectKey,
    error: impl std::fmt::Display,
) {
    let error = error.to_string();
    eng.progress.event(&Event::Failed {
        object: key.to_string(),
        error: error.clone(),
    });
    report.failed.push((key.to_string(), error));
}

fn emit_summary<C: Cluster>(eng: &Engine<'_, C>, report: &ApplyReport) {
    eng.progress.event(&Event::Summary {
        ok: report.ok(),
        writes: report.requests.writes,
        reads: report.requests.reads,
        retries: report.requests.retries,
        elapsed_ms: report.elapsed_ms,
        message: report.summary(),
    });
}

/// Writes the inventory parent (server-side apply, forced: the parent is ours alone).
pub async fn write_inventory<C: Cluster>(
    eng: &Engine<'_, C>,
    namespace: &str,
    members: &inventory::Members,
) -> Result<(), ObjectError> {
    let key = inventory::parent_key(namespace);
    eng.apply(&key, &inventory::parent(namespace, members), true, false)
        .await
        .map(|_| ())
        .map_err(|e| ObjectError::api(&key, e))
}
