//! The field-ownership transitions of server-side apply as the fake API server performs them:
//! conflicts of an apply with other managers' fields, the managed fields after an `Apply` or an
//! `Update`, and writing them back into `metadata.managedFields`. The field sets, their
//! `fieldsV1` form and the merge are [`devstats_cli::ssa`]'s (shared with the take-over); its
//! module documentation has what a real server does and the sources.

use devstats_cli::ssa::{FieldSet, ManagedEntry, Path, Seg, value_at};
use serde_json::Value;

/// Parses the dotted form of a plain field path (`.spec.replicas`).
#[must_use]
pub fn parse_dotted(field: &str) -> Path {
    field
        .trim_start_matches('.')
        .split('.')
        .filter(|s| !s.is_empty())
        .map(|s| Seg::Field(s.to_owned()))
        .collect()
}

/// Writes the entries into `metadata.managedFields` (empty entries dropped, as the server does).
pub fn set_managed_fields(obj: &mut Value, entries: &[ManagedEntry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(ManagedEntry::to_json)
        .collect();
    if let Some(meta) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        if list.is_empty() {
            meta.remove("managedFields");
        } else {
            meta.insert("managedFields".to_owned(), Value::Array(list));
        }
    }
}

/// Whether `a` is `b` or inside it, or contains it.
fn related(a: &[Seg], b: &[Seg]) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// A field another manager owns that an apply changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The owner.
    pub manager: String,
    /// The owner's API version.
    pub api_version: String,
    /// The field.
    pub path: Path,
}

/// The conflicts of applying `applied` (field set `set`) by `manager` onto `live` (merged result
/// `merged`): fields of other managers whose value the apply changes.
#[must_use]
pub fn conflicts(
    entries: &[ManagedEntry],
    manager: &str,
    set: &FieldSet,
    live: &Value,
    merged: &Value,
) -> Vec<Conflict> {
    let mut out = Vec::new();
    for e in entries.iter().filter(|e| e.manager != manager) {
        for p in &e.fields {
            // An element of a list-map or set is owned as present, not by value: its fields are
            // compared one by one.
            if matches!(p.last(), Some(Seg::Key(_) | Seg::Value(_))) || !set.iter().any(|q| related(p, q)) {
                continue;
            }
            if value_at(live, p) != value_at(merged, p) {
                out.push(Conflict {
                    manager: e.manager.clone(),
                    api_version: e.api_version.clone(),
                    path: p.clone(),
                });
            }
        }
    }
    out
}

/// The new managed fields after an apply by `manager` with field set `set`: its `Apply` entry is
/// `set`; with `force`, the conflicting fields leave the other managers' sets. Returns the new
/// entries and the fields `manager` no longer applies that nobody else owns (to remove).
#[must_use]
pub fn after_apply(
    entries: &[ManagedEntry],
    manager: &str,
    api_version: &str,
    set: &FieldSet,
    forced: &[Conflict],
) -> (Vec<ManagedEntry>, Vec<Path>) {
    let previous: FieldSet = entries
        .iter()
        .filter(|e| e.manager == manager && e.operation == "Apply")
        .flat_map(|e| e.fields.iter().cloned())
        .collect();
    let mut out: Vec<ManagedEntry> = entries
        .iter()
        .filter(|e| !(e.manager == manager && e.operation == "Apply"))
        .cloned()
        .collect();
    for e in &mut out {
        e.fields
            .retain(|p| !forced.iter().any(|c| c.manager == e.manager && c.path == *p));
    }
    let others: FieldSet = out.iter().flat_map(|e| e.fields.iter().cloned()).collect();
    // Another manager keeps a field when it owns it, something inside it, or an atomic field
    // around it (a leaf of its set, not a list element whose fields it lists).
    let keeps = |p: &Path| {
        others.iter().any(|o| {
            o.starts_with(p)
                || (p.starts_with(o)
                    && !matches!(o.last(), Some(Seg::Key(_) | Seg::Value(_)))
                    && !others.iter().any(|x| x.len() > o.len() && x.starts_with(o)))
        })
    };
    let removed: Vec<Path> = previous
        .difference(set)
        .filter(|p| !keeps(p) && !set.iter().any(|q| q.starts_with(p)))
        .cloned()
        .collect();
    out.insert(
        0,
        ManagedEntry {
            manager: manager.to_owned(),
            operation: "Apply".to_owned(),
            api_version: api_version.to_owned(),
            fields: set.clone(),
        },
    );
    (out, removed)
}

/// An `Update` by `manager` (POST, PUT, non-apply PATCH) of the fields `set`: it takes them from
/// every other manager, without conflicts.
#[must_use]
pub fn after_update(
    entries: &[ManagedEntry],
    manager: &str,
    api_version: &str,
    set: &FieldSet,
) -> Vec<ManagedEntry> {
    let mut out: Vec<ManagedEntry> = entries.to_vec();
    for e in &mut out {
        if !(e.manager == manager && e.operation == "Update") {
            e.fields.retain(|p| !set.contains(p));
        }
    }
    match out
        .iter_mut()
        .find(|e| e.manager == manager && e.operation == "Update")
    {
        Some(e) => e.fields.extend(set.iter().cloned()),
        None => out.push(ManagedEntry {
            manager: manager.to_owned(),
            operation: "Update".to_owned(),
            api_version: api_version.to_owned(),
            fields: set.clone(),
        }),
    }
    out
}
