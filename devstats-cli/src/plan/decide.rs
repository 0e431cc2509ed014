//! The decision: given the desired set and a snapshot of the live cluster, what happens to each
//! object, what is pruned, and what the inventory becomes. Pure.

use std::collections::{BTreeMap, BTreeSet};

use devstats_render::Component;
use serde_json::Value;

use super::desired::{DesiredSet, live_hash};
use super::graph::{EdgeKind, topo_order};
use super::inventory::Members;
use super::live::LiveState;
use super::policy::{self, ImmutableChange, Resolution};
use crate::kinds::{Kind, ObjectKey};
use crate::waits::{self, Readiness};
use devstats_render::{PruneGuard, Ready, Write};

/// Prune options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneOptions {
    /// Prune at all (only a complete render prunes).
    pub enabled: bool,
    /// Also delete PVCs and run-once Job records (`--prune-volumes`).
    pub volumes: bool,
    /// Also delete the Patroni StatefulSet (`--prune-database`).
    pub database: bool,
    /// Refuse when more than this many objects would be deleted.
    pub max_deletes: usize,
}

impl Default for PruneOptions {
    fn default() -> Self {
        Self {
            enabled: true,
            volumes: false,
            database: false,
            max_deletes: 50,
        }
    }
}

/// Planner options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOptions {
    /// Whether the executor waits for readiness (`--no-wait` turns it off).
    pub wait: bool,
    /// Provisioning Jobs running at a time.
    pub max_parallel: usize,
    /// Recreate objects whose immutable fields changed when that only interrupts (Service,
    /// Deployment selector, RoleBinding roleRef).
    pub allow_recreate: bool,
    /// Send every object, also those whose live applied-hash equals the desired one: repairs
    /// hand edits (`diff` shows them), at the cost of one write per object.
    pub resync: bool,
    /// Prune.
    pub prune: PruneOptions,
    /// The operator prepared the documented Patroni DCS migration (members stopped): a DCS
    /// change of a live Patroni StatefulSet is applied instead of refused (`plan::guards`).
    pub migrate_patroni_dcs: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        Self {
            wait: true,
            max_parallel: 4,
            allow_recreate: false,
            resync: false,
            prune: PruneOptions::default(),
            migrate_patroni_dcs: false,
        }
    }
}

/// What happens to one desired object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// The live content hash equals the desired one: no request.
    Unchanged,
    /// Server-side apply (`exists`: an update, else a create).
    Apply {
        /// Whether the object exists.
        exists: bool,
    },
    /// Create (POST): create-only objects and run-once Jobs. An existing object is never touched.
    Create,
    /// A create-only object that exists: never updated.
    Keep,
    /// Delete, wait until gone, apply: immutable fields changed (or a helper Pod changed).
    Recreate {
        /// The immutable fields that changed.
        changes: Vec<ImmutableChange>,
    },
    /// A run-once Job that already succeeded (or whose chart pod completed): not run again.
    Done {
        /// Why it is worth mentioning (template changed, provisioned by the chart).
        note: Option<String>,
    },
    /// A run-once Job (or chart pod) still running: waited for, not touched.
    Running,
    /// A run-once Job that failed: not re-run by apply; its dependents are deferred.
    Failed {
        /// The Job's failure reason.
        reason: String,
    },
    /// Not written in this apply; a later apply does it.
    Deferred {
        /// Why.
        reason: String,
    },
    /// Cannot be applied; the whole apply is refused before any write.
    Refused {
        /// Why and what to do.
        reason: String,
    },
}

impl Action {
    /// Requests that write (a recreate is a delete and an apply).
    #[must_use]
    pub fn writes(&self) -> usize {
        match self {
            Action::Apply { .. } | Action::Create => 1,
            Action::Recreate { .. } => 2,
            _ => 0,
        }
    }

    /// A short verb for reports.
    #[must_use]
    pub fn label(&self) -> &'static str {
        match self {
            Action::Unchanged => "unchanged",
            Action::Apply { exists: true } => "update",
            Action::Apply { exists: false } | Action::Create => "create",
            Action::Keep => "keep",
            Action::Recreate { .. } => "recreate",
            Action::Done { .. } => "done",
            Action::Running => "running",
            Action::Failed { .. } => "failed",
            Action::Deferred { .. } => "deferred",
            Action::Refused { .. } => "refused",
        }
    }

    fn blocks_dependents(&self) -> Option<&str> {
        match self {
            Action::Failed { reason } | Action::Deferred { reason } | Action::Refused { reason } => {
                Some(reason)
            }
            _ => None,
        }
    }
}

/// The plan for one desired object.
#[derive(Debug, Clone)]
pub struct PlannedObject {
    /// Index into [`DesiredSet::objects`].
    pub index: usize,
    /// What happens.
    pub action: Action,
    /// The body to send (the desired body, minus fields owned by others such as HPA replicas).
    pub body: Value,
    /// Whether the live object is ready now (for dependencies on it).
    pub ready_now: bool,
    /// Whether the executor waits for its readiness (when waiting is on).
    pub wait: bool,
}

/// The whole plan.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// One entry per desired object, same order.
    pub objects: Vec<PlannedObject>,
    /// Refusals: when any, nothing is written.
    pub refusals: Vec<String>,
    /// Inventory members to delete after a successful apply, in deletion (reverse apply) order.
    pub prune: Vec<ObjectKey>,
    /// Inventory members not in the render that are kept, with the flag that would delete them.
    pub kept: Vec<(ObjectKey, String)>,
    /// Inventory members not in the render that no longer exist (dropped from the inventory).
    pub gone: Vec<ObjectKey>,
    /// The inventory written before any other write: old ∪ desired, so an interrupted apply
    /// still knows everything it may have created.
    pub inventory_before: Members,
    /// Whether `inventory_before` differs from the live inventory (a write).
    pub inventory_before_changed: bool,
    /// The inventory after a successful apply and prune.
    pub inventory_after: Members,
}

impl Plan {
    /// Requests that write, if everything goes as planned (objects, inventory, prune).
    #[must_use]
    pub fn write_count(&self) -> usize {
        let objects: usize = self.objects.iter().map(|p| p.action.writes()).sum();
        let inv_before = usize::from(self.inventory_before_changed);
        let inv_after = usize::from(self.inventory_after != self.inventory_before);
        objects + inv_before + inv_after + self.prune.len()
    }

    /// Count of objects per action label.
    #[must_use]
    pub fn counts(&self) -> BTreeMap<&'static str, usize> {
        let mut out = BTreeMap::new();
        for p in &self.objects {
            *out.entry(p.action.label()).or_insert(0) += 1;
        }
        out
    }
}

fn readiness_now(set: &DesiredSet, i: usize, live: &LiveState) -> Readiness {
    let d = &set.objects[i];
    let Some(obj) = live.get(&d.key) else {
        return Readiness::Progressing("does not exist".to_owned());
    };
    match d.policy.ready {
        Ready::Primary => waits::database(obj, live.of_kind(Kind::POD)),
        Ready::Rollout if d.key.kind == Kind::STATEFUL_SET => waits::statefulset(obj),
        Ready::Rollout if live.has_full(&d.key) => waits::deployment(obj),
        Ready::Complete => waits::job(obj),
        Ready::Rollout | Ready::Exists => Readiness::Ready,
    }
}

/// The live chart pod of the same name as a run-once Job (the chart ran provisioning as bare
/// Pods `devstats-provision-{proj}`).
fn chart_pod<'a>(live: &'a LiveState, key: &ObjectKey) -> Option<&'a Value> {
    live.get(&ObjectKey::new(Kind::POD, key.namespace.as_deref(), &key.name))
}

fn run_once_action(set: &DesiredSet, i: usize, live: &LiveState) -> Action {
    let d = &set.objects[i];
    let change_note = |obj: &Value| {
        (live_hash(obj) != Some(d.hash.as_str())).then(|| {
            let hint = match &d.project {
                Some(p) => format!("devstats-k8s run provision --project {p}"),
                None => "delete the Job by hand".to_owned(),
            };
            format!("completed; its template changed since: not re-run (to re-run: `{hint}`)")
        })
    };
    if let Some(job) = live.get(&d.key) {
        return match waits::job(job) {
            Readiness::Ready => Action::Done {
                note: change_note(job),
            },
            Readiness::Failed(reason) => Action::Failed {
                reason: match &d.project {
                    Some(p) => format!(
                        "{reason}; apply never re-runs it: inspect with `devstats-k8s logs {p} --component provision`, \
                         then `devstats-k8s run provision --project {p}`"
                    ),
                    None => format!("{reason}; apply never re-runs it: delete the Job to run it again"),
                },
            },
            Readiness::Progressing(_) => Action::Running,
        };
    }
    if let Some(pod) = chart_pod(live, &d.key) {
        return match waits::pod_outcome(pod) {
            Readiness::Ready => Action::Done {
                note: Some("completed by the chart (pod); not run again".to_owned()),
            },
            Readiness::Failed(reason) => Action::Failed {
                reason: format!("the chart's pod {}: {reason}", d.key.name),
            },
            Readiness::Progressing(state) => Action::Deferred {
                reason: format!("the chart's pod {} is still running ({state})", d.key.name),
            },
        };
    }
    Action::Create
}

fn apply_action(set: &DesiredSet, i: usize, live: &LiveState, opts: &PlanOptions, body: &Value) -> Action {
    let d = &set.objects[i];
    let Some(obj) = live.get(&d.key) else {
        return Action::Apply { exists: false };
    };
    if live_hash(obj) == Some(d.hash.as_str()) && !opts.resync {
        return Action::Unchanged;
    }
    if d.policy.write == Write::Replace {
        return Action::Recreate { changes: Vec::new() };
    }
    if !policy::needs_live_spec(d.key.kind) || !live.has_full(&d.key) {
        return Action::Apply { exists: true };
    }
    let changes = policy::immutable_changes(&d.key, body, obj);
    if changes.is_empty() {
        return Action::Apply { exists: true };
    }
    let mut refusals = Vec::new();
    for c in &changes {
        match &c.resolution {
            Resolution::Refuse(text) => refusals.push(text.clone()),
            Resolution::RecreateWithFlag if !opts.allow_recreate => refusals.push(format!(
                "{}: {} is immutable (live {}, model {}); re-run with --allow-recreate to delete and \
                 re-create it (a short interruption). Nothing was written.",
                d.key, c.path, c.live, c.desired
            )),
            _ => {}
        }
    }
    if refusals.is_empty() {
        Action::Recreate { changes }
    } else {
        Action::Refused {
            reason: refusals.join("\n"),
        }
    }
}

/// Decides every object, the prune set and the inventory.
#[must_use]
pub fn plan(set: &DesiredSet, live: &LiveState, opts: &PlanOptions) -> Plan {
    let hpa: BTreeSet<(Option<String>, String)> = policy::hpa_targets(
        &live
            .of_kind(Kind::HORIZONTAL_POD_AUTOSCALER)
            .cloned()
            .collect::<Vec<_>>(),
    )
    .into_iter()
    .collect();
    // Deployments a Canary (desired, or live with its spec) targets: Flagger owns their replicas.
    let canaries: Vec<&Value> = set
        .objects
        .iter()
        .filter(|d| d.key.kind == Kind::CANARY)
        .map(|d| &d.body)
        .chain(
            live.objects
                .iter()
                .filter(|(k, _)| k.kind == Kind::CANARY)
                .map(|(_, v)| v),
        )
        .collect();
    let canaried: BTreeSet<(Option<String>, String)> =
        policy::canary_targets(&canaries).into_iter().collect();
    let mut objects: Vec<PlannedObject> = Vec::with_capacity(set.objects.len());
    for (i, d) in set.objects.iter().enumerate() {
        let mut body = d.body.clone();
        let key = (d.key.namespace.clone(), d.key.name.clone());
        if d.key.kind == Kind::DEPLOYMENT && (hpa.contains(&key) || canaried.contains(&key)) {
            policy::drop_replicas(&mut body);
        }
        let action = match d.policy.write {
            Write::CreateOnly => {
                if live.get(&d.key).is_some() {
                    Action::Keep
                } else {
                    Action::Create
                }
            }
            Write::RunOnce => run_once_action(set, i, live),
            Write::Apply | Write::Replace => apply_action(set, i, live, opts, &body),
        };
        let ready_now = match &action {
            Action::Done { .. } => true,
            _ => readiness_now(set, i, live).is_ready(),
        };
        objects.push(PlannedObject {
            index: i,
            action,
            body,
            ready_now,
            wait: false,
        });
    }

    // Dependencies, in topological order: deferral of run-once Jobs whose dependencies are not
    // ready (without waits), the provisioning slot limit, and propagation across ready edges.
    let mut ready_deps: Vec<Vec<usize>> = vec![Vec::new(); set.objects.len()];
    let mut ready_dependents: Vec<Vec<usize>> = vec![Vec::new(); set.objects.len()];
    for e in &set.edges {
        if e.kind == EdgeKind::Ready {
            ready_deps[e.from].push(e.to);
            ready_dependents[e.to].push(e.from);
        }
    }
    let order =
        topo_order(set.objects.len(), &set.edges).unwrap_or_else(|_| (0..set.objects.len()).collect());
    let mut provisioning_slots = opts.max_parallel.saturating_sub(
        objects
            .iter()
            .filter(|p| set.objects[p.index].component == Component::Provision && p.action == Action::Running)
            .count(),
    );
    for &i in &order {
        let acts = objects[i].action.writes() > 0 || objects[i].action == Action::Running;
        if !acts {
            continue;
        }
        let mut deferral = None;
        for &dep in &ready_deps[i] {
            if let Some(reason) = objects[dep].action.blocks_dependents() {
                deferral = Some(format!("needs {}: {}", set.objects[dep].key, first_line(reason)));
                break;
            }
        }
        let run_once_create =
            set.objects[i].policy.write == Write::RunOnce && objects[i].action == Action::Create;
        if deferral.is_none() && run_once_create && !opts.wait {
            for &dep in &ready_deps[i] {
                if !objects[dep].ready_now {
                    deferral = Some(format!(
                        "needs {} ready (it is not yet; apply without --no-wait waits for it, or apply again later)",
                        set.objects[dep].key
                    ));
                    break;
                }
            }
            if deferral.is_none() && set.objects[i].component == Component::Provision {
                if provisioning_slots == 0 {
                    deferral = Some(format!(
                        "at most {} provisioning Jobs run at a time (--max-parallel); apply again when one completes",
                        opts.max_parallel
                    ));
                } else {
                    provisioning_slots -= 1;
                }
            }
        }
        if let Some(reason) = deferral {
            objects[i].action = Action::Deferred { reason };
        }
    }

    // Waits: written workloads, run-once Jobs created or running, and dependencies that acting
    // objects need ready but that are not ready now.
    if opts.wait {
        for i in 0..objects.len() {
            let kind = set.objects[i].key.kind;
            let written = objects[i].action.writes() > 0;
            objects[i].wait = match &objects[i].action {
                Action::Running => true,
                Action::Apply { .. } | Action::Recreate { .. } | Action::Create => {
                    written && (kind == Kind::STATEFUL_SET || kind == Kind::DEPLOYMENT || kind == Kind::JOB)
                }
                Action::Unchanged | Action::Keep => {
                    !objects[i].ready_now
                        && ready_dependents[i]
                            .iter()
                            .any(|&d| objects[d].action.writes() > 0 || objects[d].action == Action::Running)
                }
                _ => false,
            };
        }
    }

    let refusals: Vec<String> = objects
        .iter()
        .filter_map(|p| match &p.action {
            Action::Refused { reason } => Some(reason.clone()),
            _ => None,
        })
        .collect();

    let mut out = Plan {
        objects,
        refusals,
        ..Plan::default()
    };
    refuse_unserved_kinds(set, live, &mut out);
    out.refusals.extend(crate::plan::guards::patroni_dcs(
        set,
        live,
        opts.migrate_patroni_dcs,
    ));
    for ns in &live.missing_namespaces {
        let users: Vec<String> = set
            .objects
            .iter()
            .filter(|d| d.key.namespace.as_deref() == Some(ns.as_str()))
            .map(|d| d.key.to_string())
            .collect();
        out.refusals.push(format!(
            "namespace {ns} does not exist and is not part of this deployment, but {} rendered \
             object{} go{} there ({}): create it (or install what owns it, e.g. kube-prometheus-stack \
             for the dashboards), or point the model elsewhere",
            users.len(),
            if users.len() == 1 { "" } else { "s" },
            if users.len() == 1 { "es" } else { "" },
            users.iter().take(3).cloned().collect::<Vec<_>>().join(", "),
        ));
    }
    plan_prune(set, live, opts, &mut out);
    out
}

/// Objects of a kind the cluster does not serve cannot be applied: say so before the first write,
/// once per kind, with what to install or turn off (instead of a 404 halfway through the apply).
fn refuse_unserved_kinds(set: &DesiredSet, live: &LiveState, out: &mut Plan) {
    let mut by_kind: BTreeMap<Kind, Vec<&str>> = BTreeMap::new();
    for d in set
        .objects
        .iter()
        .filter(|d| live.unserved_kinds.contains(&d.key.kind))
    {
        by_kind.entry(d.key.kind).or_default().push(d.key.name.as_str());
    }
    for (kind, names) in by_kind {
        out.refusals.push(format!(
            "the cluster does not serve {} {} (no CustomResourceDefinition for {}.{}), needed by {}              rendered object{} ({}{}): install {} first, or turn off the model setting that renders it",
            kind.api_version(),
            kind.kind,
            kind.plural,
            kind.group,
            names.len(),
            if names.len() == 1 { "" } else { "s" },
            names.iter().take(3).copied().collect::<Vec<_>>().join(", "),
            if names.len() > 3 { ", …" } else { "" },
            provider_of(kind.group),
        ));
    }
}

/// Who provides the CRDs of an API group.
fn provider_of(group: &str) -> &'static str {
    match group {
        "cert-manager.io" => "cert-manager",
        "gateway.networking.k8s.io" => "the Gateway API CRDs and a Gateway implementation",
        "monitoring.coreos.com" => "the Prometheus Operator (e.g. kube-prometheus-stack)",
        "flagger.app" => "Flagger",
        "traefik.io" | "traefik.containo.us" => "Traefik",
        "external-secrets.io" => "External Secrets Operator",
        "bitnami.com" => "Sealed Secrets",
        g if g.ends_with("toolkit.fluxcd.io") => "Flux",
        _ => "the operator that provides it",
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or_default()
}

fn plan_prune(set: &DesiredSet, live: &LiveState, opts: &PlanOptions, out: &mut Plan) {
    let old = live.inventory.clone().unwrap_or_default();
    let desired = set.members();
    // What is rendered is recorded with its guard now (a line of an older inventory gains one).
    out.inventory_before = old.clone();
    out.inventory_before
        .extend(desired.iter().map(|(k, g)| (k.clone(), *g)));
    out.inventory_before_changed = live.inventory.is_none() || out.inventory_before != old;
    out.inventory_after = out.inventory_before.clone();
    if !opts.prune.enabled || !set.complete {
        return;
    }
    let external = |k: &ObjectKey| k.kind == Kind::SECRET && set.external_secrets.contains(&k.name);
    let mut delete = Vec::new();
    let mut kept = Vec::new();
    let mut gone = Vec::new();
    for (key, recorded) in old.iter().filter(|(k, _)| !desired.contains_key(*k)) {
        if external(key) {
            kept.push((
                key.clone(),
                "a required Secret (not rendered without --secrets-from)".to_owned(),
            ));
            continue;
        }
        // The guard recorded when it was applied: its render policy, never its name or kind.
        let reason = match recorded {
            Some(PruneGuard::Volumes) if !opts.prune.volumes => {
                Some("holds data or records a provisioned database; --prune-volumes deletes it")
            }
            Some(PruneGuard::Database) if !opts.prune.database => {
                Some("part of the database; --prune-database deletes it")
            }
            Some(PruneGuard::Namespace) => Some("namespaces are only deleted by `destroy --delete-volumes`"),
            None if !(opts.prune.volumes && opts.prune.database) => Some(
                "recorded without a prune guard by an older devstats-k8s; --prune-volumes \
                 --prune-database deletes it",
            ),
            _ => None,
        };
        if let Some(reason) = reason {
            kept.push((key.clone(), reason.to_owned()));
            continue;
        }
        if live.listed_kinds.contains(&key.kind) && live.get(key).is_none() {
            gone.push(key.clone());
        } else {
            delete.push(key.clone());
        }
    }
    delete.sort_by(|a, b| b.apply_order().cmp(&a.apply_order()));
    if !delete.is_empty() && set.objects.is_empty() {
        out.refusals.push(format!(
            "the render is empty but the inventory lists {} objects; refusing to prune them all \
             (check the model file; `destroy` deletes everything deliberately)",
            delete.len()
        ));
    } else if delete.len() > opts.prune.max_deletes {
        out.refusals.push(format!(
            "prune would delete {} objects, more than --max-deletes {}: {}{}; re-run with \
             --max-deletes {} if that is intended, or --no-prune",
            delete.len(),
            opts.prune.max_deletes,
            delete
                .iter()
                .take(5)
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            if delete.len() > 5 { ", ..." } else { "" },
            delete.len()
        ));
    }
    out.inventory_after = desired
        .into_iter()
        .chain(
            kept.iter()
                .map(|(k, _)| (k.clone(), old.get(k).copied().flatten())),
        )
        .collect();
    out.prune = delete;
    out.kept = kept;
    out.gone = gone;
}
