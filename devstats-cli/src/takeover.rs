//! `apply --take-over MANAGER`: take over the objects a chart install created (Helm 4 applies
//! them server-side as field manager `helm`) without conflicts and without restarting what did
//! not change.
//!
//! 1. **Plan**, before any write: every live object the chart created (label
//!    `app.kubernetes.io/managed-by: Helm`, or an `Apply` entry of MANAGER in `managedFields`)
//!    that the model changes, marked when it restarts pods (its pod template changes, as the
//!    server would store it), is deleted (prune) or re-created (immutable fields).
//! 2. **Conflicts**: a field MANAGER applied whose live value differs from the model's is listed
//!    with both values and refused (nothing written) unless `--force-conflicts`.
//! 3. **Migration** (kubectl's client-side → server-side upgrade, `csaupgrade`): for each such
//!    object, the fields of MANAGER's `Apply` entry whose live value equals the model's move to an
//!    `Apply` entry of `devstats-k8s` (one JSON patch of `metadata.managedFields`, guarded by the
//!    object's `resourceVersion`); fields the model does not set stay MANAGER's.
//! 4. The normal apply.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::apply::{ApplyConfig, ApplyError, ApplyReport, read_live};
use crate::cluster::Cluster;
use crate::engine::Engine;
use crate::kinds::{Kind, ObjectKey};
use crate::plan::{Action, DesiredSet, FIELD_MANAGER};
use crate::progress::Event;
use crate::ssa;

/// One field whose live value (owned by the chart's manager) differs from the model's.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldConflict {
    /// The object.
    pub object: String,
    /// The field, as the API server names it.
    pub field: String,
    /// The model's value.
    pub ours: String,
    /// The live value.
    pub live: String,
}

/// What a takeover found and did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct TakeoverReport {
    /// Live objects the chart created that the model renders.
    pub chart_objects: usize,
    /// Chart objects the model changes.
    pub changed: Vec<String>,
    /// Chart objects whose pod template changes (their pods restart).
    pub restarts: Vec<String>,
    /// Chart objects that are deleted and re-created (immutable fields).
    pub recreates: Vec<String>,
    /// Objects the apply would delete (prune).
    pub deletes: Vec<String>,
    /// Chart objects whose field ownership moved to `devstats-k8s`.
    pub migrated: usize,
    /// Fields moved.
    pub migrated_fields: usize,
    /// Conflicting fields.
    pub conflicts: Vec<FieldConflict>,
}

fn chart_created(live: &Value, manager: &str) -> bool {
    live.pointer("/metadata/labels/app.kubernetes.io~1managed-by")
        .and_then(Value::as_str)
        == Some("Helm")
        || ssa::managed_fields(live)
            .iter()
            .any(|e| e.manager == manager && e.operation == "Apply")
}

fn template_pointer(kind: Kind) -> Option<&'static str> {
    match kind {
        Kind::DEPLOYMENT | Kind::STATEFUL_SET | Kind::JOB => Some("/spec/template"),
        // Not rendered, but a chart install being taken over may have one.
        k if k.group == "apps" && k.kind == "DaemonSet" => Some("/spec/template"),
        Kind::CRON_JOB => Some("/spec/jobTemplate/spec/template"),
        _ => None,
    }
}

/// The object the server would store after applying `body` over `live` (merge, canonical
/// quantities, defaults), for predicting changes.
fn predicted(key: &ObjectKey, live: &Value, body: &Value) -> Value {
    let mut v = ssa::merge(key.kind.kind, live, body);
    if key.kind.is_builtin() {
        ssa::as_stored(key.kind.kind, &mut v);
    }
    v
}

fn spec_of(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("status");
        if let Some(Value::Object(meta)) = m.get_mut("metadata") {
            meta.retain(|k, _| k == "labels" || k == "annotations");
        }
    }
    v
}

fn short(v: Option<&Value>) -> String {
    let text = v.map_or_else(|| "<absent>".to_owned(), Value::to_string);
    if text.chars().count() > 120 {
        format!("{}…", text.chars().take(120).collect::<String>())
    } else {
        text
    }
}

/// Takes over the chart-created objects (see the module docs), then applies.
pub async fn take_over<C: Cluster>(
    eng: &Engine<'_, C>,
    set: &DesiredSet,
    cfg: &ApplyConfig,
    manager: &str,
) -> Result<(TakeoverReport, Option<ApplyReport>), ApplyError> {
    let read = |e: crate::cluster::ApiError| ApplyError::Read(e.to_string());
    let live = read_live(eng, set).await.map_err(read)?;
    let plan = crate::plan::plan(set, &live, &cfg.plan);
    if !plan.refusals.is_empty() {
        return Err(ApplyError::Refused(plan.refusals));
    }
    let mut report = TakeoverReport {
        deletes: plan.prune.iter().map(ToString::to_string).collect(),
        ..TakeoverReport::default()
    };
    // The migration of each chart object: (key, resourceVersion, new managedFields).
    let mut patches: Vec<(ObjectKey, String, Value, usize)> = Vec::new();
    for (d, p) in set.objects.iter().zip(&plan.objects) {
        let Some(listed) = live.get(&d.key) else {
            continue;
        };
        // The lists are metadata-only for most kinds: the full object of a chart candidate.
        let full = if live.has_full(&d.key) {
            listed.clone()
        } else {
            match eng.get(&d.key).await.map_err(read)? {
                Some(v) => v,
                None => continue,
            }
        };
        if !chart_created(&full, manager) {
            continue;
        }
        report.chart_objects += 1;
        let name = d.key.to_string();
        let after = predicted(&d.key, &full, &p.body);
        if spec_of(&after) != spec_of(&full) {
            report.changed.push(name.clone());
        }
        if let Some(ptr) = template_pointer(d.key.kind)
            && after.pointer(ptr) != full.pointer(ptr)
        {
            report.restarts.push(name.clone());
        }
        if matches!(p.action, Action::Recreate { .. }) {
            report.recreates.push(name.clone());
        }
        // Field ownership: MANAGER's applied fields that the model sets to the same value move.
        let entries = ssa::managed_fields(&full);
        let ours_set = ssa::field_set(d.key.kind.kind, &p.body);
        // Both sides as stored (our `value: ""` is stored as no value, as the chart's null).
        let mut ours_stored = p.body.clone();
        if d.key.kind.is_builtin() {
            ssa::as_stored(d.key.kind.kind, &mut ours_stored);
        }
        let mut moved = ssa::FieldSet::new();
        for e in entries
            .iter()
            .filter(|e| e.manager == manager && e.operation == "Apply")
        {
            for path in &e.fields {
                if !ours_set.contains(path) {
                    continue;
                }
                let element = matches!(path.last(), Some(ssa::Seg::Key(_) | ssa::Seg::Value(_)));
                let theirs = ssa::value_at(&full, path);
                let ours = ssa::value_at(&ours_stored, path);
                if element || theirs == ours {
                    moved.insert(path.clone());
                } else {
                    report.conflicts.push(FieldConflict {
                        object: name.clone(),
                        field: ssa::display(path),
                        ours: short(ours),
                        live: short(theirs),
                    });
                }
            }
        }
        if moved.is_empty() {
            continue;
        }
        let mut new_entries: Vec<ssa::ManagedEntry> = entries.clone();
        for e in &mut new_entries {
            if e.manager == manager && e.operation == "Apply" {
                e.fields.retain(|p| !moved.contains(p));
            }
        }
        let api_version = d.key.kind.api_version();
        match new_entries
            .iter_mut()
            .find(|e| e.manager == FIELD_MANAGER && e.operation == "Apply")
        {
            Some(e) => e.fields.extend(moved.iter().cloned()),
            None => new_entries.push(ssa::ManagedEntry {
                manager: FIELD_MANAGER.to_owned(),
                operation: "Apply".to_owned(),
                api_version,
                fields: moved.clone(),
            }),
        }
        let json: Vec<Value> = new_entries
            .iter()
            .filter(|e| !e.fields.is_empty())
            .map(ssa::ManagedEntry::to_json)
            .collect();
        let rv = full
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        patches.push((d.key.clone(), rv, Value::Array(json), moved.len()));
    }
    print_plan(eng, &report, manager, patches.len());
    if !report.conflicts.is_empty() && !cfg.force_conflicts {
        let mut reasons = vec![format!(
            "{} field(s) that \"{manager}\" applied have a different value in the model; put the live \
             values into the model, or re-run with --force-conflicts to apply the model's:",
            report.conflicts.len()
        )];
        reasons.extend(
            report
                .conflicts
                .iter()
                .map(|c| format!("{} {}: ours {}, live {}", c.object, c.field, c.ours, c.live)),
        );
        return Err(ApplyError::Refused(reasons));
    }
    if cfg.dry_run {
        return Ok((report, None));
    }
    for (key, rv, fields, n) in &patches {
        match eng.patch_managed_fields(key, rv, fields).await {
            Ok(_) => {
                report.migrated += 1;
                report.migrated_fields += n;
            }
            Err(e) => eng.progress.event(&Event::Note {
                message: format!("take over: {key}: field ownership not moved ({e}); its apply may conflict"),
            }),
        }
    }
    eng.progress.event(&Event::Note {
        message: format!(
            "take over: moved {} fields of {} objects from \"{manager}\" to \"{FIELD_MANAGER}\"",
            report.migrated_fields, report.migrated
        ),
    });
    let applied = crate::apply::apply(eng, set, cfg).await?;
    Ok((report, Some(applied)))
}

fn list(names: &[String]) -> String {
    let n = names.len();
    let mut s = names.iter().take(8).cloned().collect::<Vec<_>>().join(", ");
    if n > 8 {
        s.push_str(&format!(", ... ({n} in all)"));
    }
    s
}

fn print_plan<C: Cluster>(eng: &Engine<'_, C>, r: &TakeoverReport, manager: &str, to_migrate: usize) {
    let note = |message: String| eng.progress.event(&Event::Note { message });
    note(format!(
        "take over from \"{manager}\": {} live objects the chart created; {} change, {} restart pods, \
         {} re-created, {} deleted; {} to move to \"{FIELD_MANAGER}\"; {} conflicts",
        r.chart_objects,
        r.changed.len(),
        r.restarts.len(),
        r.recreates.len(),
        r.deletes.len(),
        to_migrate,
        r.conflicts.len()
    ));
    let groups: BTreeMap<&str, &Vec<String>> = [
        ("restarts pods (pod template changes)", &r.restarts),
        ("re-created (delete, then create)", &r.recreates),
        ("deleted", &r.deletes),
    ]
    .into_iter()
    .filter(|(_, v)| !v.is_empty())
    .collect();
    for (what, names) in groups {
        note(format!("take over: {what}: {}", list(names)));
    }
    let others: Vec<String> = r
        .changed
        .iter()
        .filter(|c| !r.restarts.contains(c) && !r.recreates.contains(c))
        .cloned()
        .collect();
    if !others.is_empty() {
        note(format!(
            "take over: updated in place, no restart: {}",
            list(&others)
        ));
    }
    for c in &r.conflicts {
        note(format!(
            "take over: conflict: {} {}: ours {}, live {} (owned by \"{manager}\")",
            c.object, c.field, c.ours, c.live
        ));
    }
}
