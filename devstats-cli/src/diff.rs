//! `diff`: what `apply` would change, computed by the API server itself (server-side apply with
//! `dryRun=All` against the live objects), so defaulting and admission are accounted for. Output
//! is a unified diff per object, Secret values masked as `<sha256:…, n bytes>`; objects that
//! `apply` would prune are shown as removed.

use std::collections::BTreeMap;

use futures::future::join_all;
use serde_json::Value;

use crate::apply::describe_write_error;
use crate::cluster::{Cluster, ListOptions};
use crate::engine::{Counters, Engine};
use crate::kinds::{Kind, ObjectKey};
use crate::plan::json::sha256_hex;
use crate::plan::{DesiredSet, HASH_ANNOTATION, inventory};
use devstats_render::{PruneGuard, Write};

/// How an object differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Would be created.
    Added,
    /// Would be changed.
    Changed,
    /// Would be pruned.
    Removed,
}

/// One object's difference.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ObjectDiff {
    /// `Kind ns/name`.
    pub object: String,
    /// Added, changed or removed.
    pub change: Change,
    /// Unified diff (no colour), Secret values masked.
    pub diff: String,
}

/// The result of a diff.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DiffReport {
    /// Objects that differ.
    pub diffs: Vec<ObjectDiff>,
    /// Objects without drift.
    pub unchanged: usize,
    /// Objects that could not be compared (e.g. a field-manager conflict), with the reason.
    pub errors: Vec<(String, String)>,
    /// Information (run-once Jobs, create-only objects).
    pub notes: Vec<String>,
    /// Requests made.
    pub requests: Counters,
}

impl DiffReport {
    /// 0 no drift, 1 drift, 2 errors.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        if !self.errors.is_empty() {
            2
        } else if self.diffs.is_empty() {
            0
        } else {
            1
        }
    }
}

/// Removes what the server owns or generates, and our hash annotation (a changed hash alone is
/// not drift).
#[must_use]
pub fn normalize(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(obj) = v.as_object_mut() {
        obj.remove("status");
    }
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in [
            "managedFields",
            "resourceVersion",
            "uid",
            "generation",
            "creationTimestamp",
            "selfLink",
        ] {
            meta.remove(k);
        }
        let empty = meta
            .get_mut("annotations")
            .and_then(Value::as_object_mut)
            .map(|a| {
                a.remove(HASH_ANNOTATION);
                a.is_empty()
            })
            .unwrap_or(false);
        if empty {
            meta.remove("annotations");
        }
    }
    v
}

/// Replaces every value of a Secret's `data` and `stringData` by `<sha256:8 hex digits, n bytes>`
/// (of the decoded bytes), so a diff shows which keys changed and never what they hold.
pub fn mask_secret(v: &mut Value) {
    if v.get("kind").and_then(Value::as_str) != Some(Kind::SECRET.kind) {
        return;
    }
    for field in ["data", "stringData"] {
        if let Some(map) = v.get_mut(field).and_then(Value::as_object_mut) {
            for val in map.values_mut() {
                let raw = val.as_str().unwrap_or_default();
                let bytes = if field == "data" {
                    decode_base64(raw).unwrap_or_else(|| raw.as_bytes().to_vec())
                } else {
                    raw.as_bytes().to_vec()
                };
                let hash = sha256_hex(&bytes);
                *val = Value::String(format!("<sha256:{}, {} bytes>", &hash[..8], bytes.len()));
            }
        }
    }
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut buf = 0u32;
    let mut bits = 0u32;
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' | b'\n' | b'\r' => continue,
            _ => return None,
        };
        buf = (buf << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((buf >> bits) & 0xff).unwrap_or(0));
        }
    }
    Some(out)
}

/// YAML text of a JSON value (keys sorted).
#[must_use]
pub fn yaml(v: &Value) -> String {
    let sorted: Value = serde_json::from_str(&crate::plan::json::canonical(v)).unwrap_or(Value::Null);
    serde_saphyr::to_string(&sorted).unwrap_or_else(|_| crate::plan::json::canonical(v))
}

/// A unified diff of two texts, with `---`/`+++` headers naming the object.
#[must_use]
pub fn unified(old: &str, new: &str, object: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("{object} (live)"), &format!("{object} (after apply)"))
        .to_string()
}

/// Colours a unified diff for a terminal.
#[must_use]
pub fn colorize(diff: &str) -> String {
    diff.lines()
        .map(|l| {
            if l.starts_with("+++") || l.starts_with("---") {
                format!("\x1b[1m{l}\x1b[0m")
            } else if l.starts_with('+') {
                format!("\x1b[32m{l}\x1b[0m")
            } else if l.starts_with('-') {
                format!("\x1b[31m{l}\x1b[0m")
            } else if l.starts_with("@@") {
                format!("\x1b[36m{l}\x1b[0m")
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

fn masked_yaml(v: &Value) -> String {
    let mut v = normalize(v);
    mask_secret(&mut v);
    yaml(&v)
}

/// Diffs the desired set against the cluster.
pub async fn diff<C: Cluster>(eng: &Engine<'_, C>, set: &DesiredSet, force_conflicts: bool) -> DiffReport {
    let mut report = DiffReport::default();
    // Live objects: one full LIST per kind (Secrets included; their values are masked before any
    // output), GETs for cluster-scoped ones.
    let mut live: BTreeMap<ObjectKey, Value> = BTreeMap::new();
    // One LIST per rendered (kind, namespace): most objects live in the instance namespace, the
    // ops dashboards in the monitoring one.
    let pairs: Vec<(Kind, String)> = set
        .objects
        .iter()
        .filter_map(|d| Some((d.key.kind, d.key.namespace.clone()?)))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let pods_opts = ListOptions {
        label_selector: Some("type in (boot,provision)".to_owned()),
        ..ListOptions::default()
    };
    let full = ListOptions::default();
    let lists = join_all(pairs.iter().map(|(k, ns)| eng.list(*k, Some(ns), &full))).await;
    for ((k, _), r) in pairs.iter().zip(lists) {
        match r {
            Ok(items) => {
                for item in items {
                    if let Some(key) = ObjectKey::of_item(*k, &item) {
                        live.insert(key, item);
                    }
                }
            }
            Err(e) => report.errors.push((k.plural.to_owned(), e.to_string())),
        }
    }
    let chart_pods: Vec<String> = eng
        .list(Kind::POD, Some(&set.namespace), &pods_opts)
        .await
        .unwrap_or_default()
        .iter()
        .filter(|p| p.pointer("/status/phase").and_then(Value::as_str) == Some("Succeeded"))
        .filter_map(|p| {
            p.pointer("/metadata/name")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect();
    for d in set.objects.iter().filter(|d| !d.key.kind.namespaced) {
        match eng.get(&d.key).await {
            Ok(Some(v)) => {
                live.insert(d.key.clone(), v);
            }
            Ok(None) => {}
            Err(e) => report.errors.push((d.key.to_string(), e.to_string())),
        }
    }
    if !report.errors.is_empty() {
        report.requests = eng.counters();
        return report;
    }
    let inventory = match eng.get(&inventory::parent_key(&set.namespace)).await {
        Ok(Some(p)) => inventory::parse(&p).unwrap_or_default(),
        _ => Default::default(),
    };

    let results = join_all(set.objects.iter().map(|d| {
        let live = live.get(&d.key);
        let chart_done = chart_pods.contains(&d.key.name);
        async move {
            match (d.policy.write, live) {
                (Write::CreateOnly, Some(_)) => Ok(None),
                (Write::RunOnce, Some(_)) => Ok(None),
                (Write::RunOnce, None) if chart_done => Ok(None),
                (Write::CreateOnly | Write::RunOnce, None) => Ok(Some((
                    Change::Added,
                    unified("", &masked_yaml(&d.body), &d.key.to_string()),
                ))),
                (_, None) => {
                    // A dry-run create validates the object; its result shows the defaults.
                    let after = match eng.apply(&d.key, &d.body, force_conflicts, true).await {
                        Ok(v) => v,
                        Err(e) if e.code == 404 => d.body.clone(),
                        Err(e) => return Err(describe_write_error(&d.key, &e)),
                    };
                    Ok(Some((
                        Change::Added,
                        unified("", &masked_yaml(&after), &d.key.to_string()),
                    )))
                }
                (_, Some(l)) => {
                    let after = eng
                        .apply(&d.key, &d.body, force_conflicts, true)
                        .await
                        .map_err(|e| describe_write_error(&d.key, &e))?;
                    let (a, b) = (masked_yaml(l), masked_yaml(&after));
                    Ok((a != b).then(|| (Change::Changed, unified(&a, &b, &d.key.to_string()))))
                }
            }
        }
    }))
    .await;
    for (d, r) in set.objects.iter().zip(results) {
        match r {
            Ok(Some((change, diff))) => report.diffs.push(ObjectDiff {
                object: d.key.to_string(),
                change,
                diff,
            }),
            Ok(None) => report.unchanged += 1,
            Err(e) => report.errors.push((d.key.to_string(), e)),
        }
    }
    if set.complete {
        for (key, recorded) in inventory.iter().filter(|(k, _)| !set.index.contains_key(*k)) {
            if key.kind == Kind::SECRET && set.external_secrets.contains(&key.name) {
                continue;
            }
            let Some(l) = live.get(key) else {
                continue;
            };
            if *recorded != Some(PruneGuard::None) {
                report.notes.push(format!(
                    "{key} is no longer rendered but kept (guarded; see `apply --help`)"
                ));
                continue;
            }
            report.diffs.push(ObjectDiff {
                object: key.to_string(),
                change: Change::Removed,
                diff: unified(&masked_yaml(l), "", &key.to_string()),
            });
        }
    }
    report.requests = eng.counters();
    report
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn secrets_are_masked() {
        // "hunter2" base64
        let mut s =
            json!({"kind": "Secret", "data": {"PG_PASS.secret": "aHVudGVyMg=="}, "stringData": {"x": "abc"}});
        mask_secret(&mut s);
        let text = s.to_string();
        assert!(
            !text.contains("aHVudGVyMg") && !text.contains("hunter2") && !text.contains("abc\""),
            "{text}"
        );
        let expected = format!("<sha256:{}, 7 bytes>", &sha256_hex(b"hunter2")[..8]);
        assert_eq!(s["data"]["PG_PASS.secret"], Value::String(expected));
        assert_eq!(
            s["stringData"]["x"].as_str().map(|v| v.ends_with(", 3 bytes>")),
            Some(true)
        );
    }

    #[test]
    fn normalize_strips_server_fields_and_our_hash() {
        let v = json!({"metadata": {"name": "x", "uid": "u", "resourceVersion": "1", "generation": 2,
            "managedFields": [{}], "creationTimestamp": "t", "annotations": {"devstats.cncf.io/applied-hash": "h"}},
            "spec": {"a": 1}, "status": {"b": 2}});
        assert_eq!(
            normalize(&v),
            json!({"metadata": {"name": "x"}, "spec": {"a": 1}})
        );
    }

    #[test]
    fn unified_diff_has_headers() {
        let d = unified("a: 1\nb: 2\n", "a: 1\nb: 3\n", "ConfigMap ns/x");
        assert!(
            d.contains("--- ConfigMap ns/x (live)") && d.contains("-b: 2") && d.contains("+b: 3"),
            "{d}"
        );
        assert!(colorize(&d).contains("\x1b[32m+b: 3"));
    }

    #[test]
    fn base64_decodes() {
        assert_eq!(decode_base64("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(decode_base64("!"), None);
    }
}
