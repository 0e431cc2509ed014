//! Server-side apply field ownership, as the API server computes it (for the takeover's
//! field-manager migration and for the fake API server of the dev-only crate devstats-fake, which
//! adds the conflicts and the ownership transitions of an apply): field sets of an applied
//! object, their `managedFields` `fieldsV1` form, paths into an object, and the merge of an
//! applied configuration into a live object.
//!
//! What a real server does (Kubernetes docs "Server-Side Apply": "Field management", "Conflicts",
//! "Merge strategy"; sigs.k8s.io/structured-merge-diff `fieldpath` and `merge/update.go`):
//!
//! - Every manager has one entry per operation (`Apply` or `Update`) in `metadata.managedFields`
//!   with the set of fields it owns, as `fieldsV1`: `f:<name>` for a field, `k:{"name":"x"}` for an
//!   element of a list-map, `v:<json>` for an element of a set, `.` for an element that is itself
//!   a member. Leaves (scalars, atomic lists and maps, empty maps) are members; a map with children
//!   is not.
//! - An apply by manager B that *changes the value* of a field another manager owns is a conflict
//!   (409, `reason: Conflict`, one `FieldManagerConflict` cause per field); applying the *same*
//!   value makes B a co-owner, no conflict. With `force=true` B takes the fields over (removed from
//!   the other managers' sets). Values are compared as sent: the server stores quantities in
//!   canonical form (`2000m` as `2`), so applying `2000m` over another manager's stored `2` is a
//!   conflict.
//! - A field that B applied before and no longer applies is removed from B's set, and from the
//!   object when no other manager owns it.
//! - Lists merge by their schema's `x-kubernetes-list-type`: `map` lists by their
//!   `x-kubernetes-list-map-keys`, `set` lists by value, `atomic` lists (and lists without
//!   markers, as in custom resources without schema) are replaced whole and owned as one field.
//!   The keys used here are those of k8s.io/api `core/v1/types.go` (`+listType=map`,
//!   `+listMapKey=…`): containers, initContainers, ephemeralContainers, env, volumes,
//!   imagePullSecrets, resourceClaims by `name`; volumeMounts by `mountPath`; volumeDevices by
//!   `devicePath`; container ports by `containerPort`+`protocol`; Service ports by
//!   `port`+`protocol`; hostAliases by `ip`; topologySpreadConstraints by
//!   `topologyKey`+`whenUnsatisfiable`; ownerReferences by `uid`; `finalizers` is a set.
//!   Atomic: args, command, tolerations, envFrom, volumeClaimTemplates, accessModes, RBAC rules
//!   and subjects, Ingress rules and tls, label selector expressions.
//! - `apiVersion`, `kind`, `metadata.name`, `metadata.namespace`, the server-set metadata and
//!   `status` are not owned.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value, json};

use crate::kinds::Kind;

/// One step of a field path.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Seg {
    /// A field of a map (`f:name`).
    Field(String),
    /// An element of a list-map, by its key fields (`k:{...}`; the canonical JSON of the key).
    Key(String),
    /// An element of a set, by value (`v:...`).
    Value(String),
}

/// A field path.
pub type Path = Vec<Seg>;

/// A set of owned fields.
pub type FieldSet = BTreeSet<Path>;

/// The kind of list at a path.
enum ListType {
    Map(&'static [&'static str]),
    Set,
    Atomic,
}

/// The list type of field `name` (whose elements are `items`) in an object of `kind`.
fn list_type(kind: &str, parent: &[Seg], name: &str, items: &[Value]) -> ListType {
    let top_spec = matches!(parent, [Seg::Field(s)] if s == "spec");
    match name {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => ListType::Map(&["name"]),
        "volumeMounts" => ListType::Map(&["mountPath"]),
        "volumeDevices" => ListType::Map(&["devicePath"]),
        "hostAliases" => ListType::Map(&["ip"]),
        "topologySpreadConstraints" => ListType::Map(&["topologyKey", "whenUnsatisfiable"]),
        "ownerReferences" => ListType::Map(&["uid"]),
        "finalizers" => ListType::Set,
        "ports" if items.iter().all(|i| i.get("containerPort").is_some()) && !items.is_empty() => {
            ListType::Map(&["containerPort", "protocol"])
        }
        "ports" if kind == Kind::SERVICE.kind && top_spec => ListType::Map(&["port", "protocol"]),
        _ => ListType::Atomic,
    }
}

/// The key of a list-map element (missing `protocol` is the schema default `TCP`).
fn element_key(item: &Value, keys: &[&str]) -> String {
    let mut m = BTreeMap::new();
    for k in keys {
        match item.get(*k) {
            Some(v) => {
                m.insert((*k).to_owned(), v.clone());
            }
            None if *k == "protocol" => {
                m.insert((*k).to_owned(), json!("TCP"));
            }
            None => {}
        }
    }
    serde_json::to_string(&m).unwrap_or_default()
}

fn is_untracked_top(seg: &str) -> bool {
    matches!(seg, "apiVersion" | "kind" | "status")
}

fn is_untracked_meta(seg: &str) -> bool {
    !matches!(seg, "labels" | "annotations" | "ownerReferences" | "finalizers")
}

/// The fields an applied (or written) object sets: every leaf, every list-map and set element.
#[must_use]
pub fn field_set(kind: &str, obj: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    if let Some(m) = obj.as_object() {
        for (k, v) in m {
            if is_untracked_top(k) {
                continue;
            }
            if k == "metadata" {
                for (mk, mv) in v.as_object().into_iter().flatten() {
                    if !is_untracked_meta(mk) {
                        walk(
                            kind,
                            &mut vec![Seg::Field(k.clone()), Seg::Field(mk.clone())],
                            mv,
                            &mut out,
                        );
                    }
                }
                continue;
            }
            walk(kind, &mut vec![Seg::Field(k.clone())], v, &mut out);
        }
    }
    out
}

fn walk(kind: &str, path: &mut Path, v: &Value, out: &mut FieldSet) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, child) in m {
                path.push(Seg::Field(k.clone()));
                walk(kind, path, child, out);
                path.pop();
            }
        }
        Value::Array(items) => {
            let Some(Seg::Field(name)) = path.last().cloned() else {
                out.insert(path.clone());
                return;
            };
            let parent = path[..path.len() - 1].to_vec();
            match list_type(kind, &parent, &name, items) {
                ListType::Atomic => {
                    out.insert(path.clone());
                }
                ListType::Set => {
                    for i in items {
                        path.push(Seg::Value(i.to_string()));
                        out.insert(path.clone());
                        path.pop();
                    }
                }
                ListType::Map(keys) => {
                    for i in items {
                        path.push(Seg::Key(element_key(i, keys)));
                        out.insert(path.clone());
                        walk(kind, path, i, out);
                        path.pop();
                    }
                }
            }
        }
        _ => {
            out.insert(path.clone());
        }
    }
}

/// The `fieldsV1` form of a field set.
#[must_use]
pub fn to_fields_v1(set: &FieldSet) -> Value {
    #[derive(Default)]
    struct Node {
        member: bool,
        children: BTreeMap<String, Node>,
    }
    fn name(s: &Seg) -> String {
        match s {
            Seg::Field(f) => format!("f:{f}"),
            Seg::Key(k) => format!("k:{k}"),
            Seg::Value(v) => format!("v:{v}"),
        }
    }
    fn emit(n: &Node) -> Value {
        let mut m = Map::new();
        if n.member && !n.children.is_empty() {
            m.insert(".".to_owned(), json!({}));
        }
        for (k, c) in &n.children {
            m.insert(k.clone(), emit(c));
        }
        Value::Object(m)
    }
    let mut root = Node::default();
    for p in set {
        let mut cur = &mut root;
        for s in p {
            cur = cur.children.entry(name(s)).or_default();
        }
        cur.member = true;
    }
    emit(&root)
}

/// The field set of a `fieldsV1` value.
#[must_use]
pub fn from_fields_v1(v: &Value) -> FieldSet {
    fn go(v: &Value, path: &mut Path, out: &mut FieldSet) {
        let Some(m) = v.as_object() else { return };
        for (k, child) in m {
            if k == "." {
                out.insert(path.clone());
                continue;
            }
            let seg = if let Some(f) = k.strip_prefix("f:") {
                Seg::Field(f.to_owned())
            } else if let Some(key) = k.strip_prefix("k:") {
                Seg::Key(key.to_owned())
            } else if let Some(val) = k.strip_prefix("v:") {
                Seg::Value(val.to_owned())
            } else {
                continue;
            };
            path.push(seg);
            if child.as_object().is_none_or(Map::is_empty) {
                out.insert(path.clone());
            } else {
                go(child, path, out);
            }
            path.pop();
        }
    }
    let mut out = FieldSet::new();
    go(v, &mut Vec::new(), &mut out);
    out
}

/// A path as the API server names it in conflicts: `.spec.template.spec.containers[name="x"].image`.
#[must_use]
pub fn display(path: &Path) -> String {
    let mut s = String::new();
    for seg in path {
        match seg {
            Seg::Field(f) => {
                s.push('.');
                s.push_str(f);
            }
            Seg::Key(k) => {
                let m: BTreeMap<String, Value> = serde_json::from_str(k).unwrap_or_default();
                let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v}")).collect();
                s.push_str(&format!("[{}]", parts.join(",")));
            }
            Seg::Value(v) => s.push_str(&format!("[={v}]")),
        }
    }
    s
}

fn key_fields(seg_key: &str) -> BTreeMap<String, Value> {
    serde_json::from_str(seg_key).unwrap_or_default()
}

fn matches_key(item: &Value, key: &BTreeMap<String, Value>) -> bool {
    key.iter().all(|(k, want)| match item.get(k) {
        Some(v) => v == want,
        None => k == "protocol" && want == "TCP",
    })
}

/// Whether `item` is the JSON value written as `text`.
fn is_json(item: &Value, text: &str) -> bool {
    serde_json::from_str::<Value>(text).is_ok_and(|v| v == *item)
}

/// The value at `path`, if present.
#[must_use]
pub fn value_at<'a>(v: &'a Value, path: &[Seg]) -> Option<&'a Value> {
    let mut cur = v;
    for seg in path {
        cur = match seg {
            Seg::Field(f) => cur.get(f)?,
            Seg::Key(k) => {
                let key = key_fields(k);
                cur.as_array()?.iter().find(|i| matches_key(i, &key))?
            }
            Seg::Value(val) => cur.as_array()?.iter().find(|i| is_json(i, val))?,
        };
    }
    Some(cur)
}

/// Removes the value at `path` (a field, a list-map element or a set element).
pub fn remove_at(v: &mut Value, path: &[Seg]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    let mut cur = v;
    for seg in parent {
        let next = match seg {
            Seg::Field(f) => cur.get_mut(f),
            Seg::Key(k) => {
                let key = key_fields(k);
                cur.as_array_mut()
                    .and_then(|a| a.iter_mut().find(|i| matches_key(i, &key)))
            }
            Seg::Value(val) => cur
                .as_array_mut()
                .and_then(|a| a.iter_mut().find(|i| is_json(i, val))),
        };
        let Some(n) = next else { return };
        cur = n;
    }
    match last {
        Seg::Field(f) => {
            if let Some(m) = cur.as_object_mut() {
                m.remove(f);
            }
        }
        Seg::Key(k) => {
            let key = key_fields(k);
            if let Some(a) = cur.as_array_mut() {
                a.retain(|i| !matches_key(i, &key));
            }
        }
        Seg::Value(val) => {
            if let Some(a) = cur.as_array_mut() {
                a.retain(|i| !is_json(i, val));
            }
        }
    }
}

/// Merges an applied configuration into a live object: maps field by field, list-maps and sets by
/// element, atomic lists and scalars replaced.
#[must_use]
pub fn merge(kind: &str, live: &Value, applied: &Value) -> Value {
    merge_at(kind, &mut Vec::new(), live, applied)
}

fn merge_at(kind: &str, path: &mut Path, live: &Value, applied: &Value) -> Value {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            let mut out = l.clone();
            for (k, av) in a {
                path.push(Seg::Field(k.clone()));
                let merged = match l.get(k) {
                    Some(lv) => merge_at(kind, path, lv, av),
                    None => av.clone(),
                };
                path.pop();
                out.insert(k.clone(), merged);
            }
            Value::Object(out)
        }
        (Value::Array(l), Value::Array(a)) => {
            let Some(Seg::Field(name)) = path.last().cloned() else {
                return applied.clone();
            };
            let parent = path[..path.len() - 1].to_vec();
            match list_type(kind, &parent, &name, a) {
                ListType::Atomic => applied.clone(),
                ListType::Set => {
                    let mut out = l.clone();
                    for i in a {
                        if !out.contains(i) {
                            out.push(i.clone());
                        }
                    }
                    Value::Array(out)
                }
                ListType::Map(keys) => {
                    let mut out = l.clone();
                    for ai in a {
                        let key = key_fields(&element_key(ai, keys));
                        match out.iter_mut().find(|i| matches_key(i, &key)) {
                            Some(li) => {
                                path.push(Seg::Key(element_key(ai, keys)));
                                *li = merge_at(kind, path, li, ai);
                                path.pop();
                            }
                            None => out.push(ai.clone()),
                        }
                    }
                    Value::Array(out)
                }
            }
        }
        _ => applied.clone(),
    }
}

/// One manager's entry of `metadata.managedFields`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedEntry {
    /// The field manager.
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// The API version it wrote with.
    pub api_version: String,
    /// Its fields.
    pub fields: FieldSet,
}

impl ManagedEntry {
    /// The JSON entry.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version,
               "time": "2026-01-01T00:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": to_fields_v1(&self.fields)})
    }
}

/// The entries of an object's `metadata.managedFields`.
#[must_use]
pub fn managed_fields(obj: &Value) -> Vec<ManagedEntry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| ManagedEntry {
            manager: e
                .get("manager")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            operation: e
                .get("operation")
                .and_then(Value::as_str)
                .unwrap_or("Update")
                .to_owned(),
            api_version: e
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            fields: e.get("fieldsV1").map(from_fields_v1).unwrap_or_default(),
        })
        .collect()
}

/// Quantities in canonical form, as the server stores them (built-in kinds).
pub fn canonicalize_quantities(v: &mut Value) {
    devstats_render::quantity::canonicalize_json(v);
}

/// The server defaults that matter for a second manager's apply: `fieldRef.apiVersion: v1`;
/// claim templates' `apiVersion`, `kind`, `spec.volumeMode: Filesystem`, `status.phase: Pending`;
/// a Service's `type: ClusterIP` and `sessionAffinity: None`; a container's
/// `terminationMessagePath` and `terminationMessagePolicy`.
pub fn apply_defaults(kind: &str, v: &mut Value) {
    fn go(v: &mut Value) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Object(f)) = m.get_mut("fieldRef") {
                    f.entry("apiVersion").or_insert_with(|| json!("v1"));
                }
                if let Some(Value::Array(ts)) = m.get_mut("volumeClaimTemplates") {
                    for t in ts.iter_mut().filter_map(Value::as_object_mut) {
                        t.entry("apiVersion").or_insert_with(|| json!("v1"));
                        t.entry("kind").or_insert_with(|| json!("PersistentVolumeClaim"));
                        if let Some(Value::Object(spec)) = t.get_mut("spec") {
                            spec.entry("volumeMode").or_insert_with(|| json!("Filesystem"));
                        }
                        t.entry("status").or_insert_with(|| json!({"phase": "Pending"}));
                    }
                }
                for list in ["containers", "initContainers"] {
                    if let Some(Value::Array(cs)) = m.get_mut(list) {
                        for c in cs.iter_mut().filter_map(Value::as_object_mut) {
                            if c.contains_key("image") {
                                c.entry("terminationMessagePath")
                                    .or_insert_with(|| json!("/dev/termination-log"));
                                c.entry("terminationMessagePolicy")
                                    .or_insert_with(|| json!("File"));
                            }
                        }
                    }
                }
                m.values_mut().for_each(go);
            }
            Value::Array(a) => a.iter_mut().for_each(go),
            _ => {}
        }
    }
    if kind == Kind::SERVICE.kind
        && let Some(Value::Object(spec)) = v.get_mut("spec")
    {
        spec.entry("type").or_insert_with(|| json!("ClusterIP"));
        spec.entry("sessionAffinity").or_insert_with(|| json!("None"));
    }
    go(v);
}

/// Drops `null` members (the server decodes into typed objects: a null is an unset field).
pub fn strip_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|_, x| !x.is_null());
            m.values_mut().for_each(strip_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

/// An object of a built-in kind as the server stores it: no nulls, no empty env values
/// (`EnvVar.value` is `omitempty`), canonical quantities, the defaults of [`apply_defaults`].
pub fn as_stored(kind: &str, v: &mut Value) {
    fn empty_env(v: &mut Value) {
        match v {
            Value::Object(m) => {
                if let Some(Value::Array(env)) = m.get_mut("env") {
                    for e in env.iter_mut().filter_map(Value::as_object_mut) {
                        if e.get("value").is_some_and(|x| x.as_str() == Some("")) {
                            e.remove("value");
                        }
                    }
                }
                m.values_mut().for_each(empty_env);
            }
            Value::Array(a) => a.iter_mut().for_each(empty_env),
            _ => {}
        }
    }
    strip_nulls(v);
    empty_env(v);
    canonicalize_quantities(v);
    apply_defaults(kind, v);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(cpu: &str, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "g", "namespace": "n", "labels": {"a": "b"}},
               "spec": {"replicas": 1, "template": {"spec": {"containers": [
                   {"name": "x", "image": image, "args": ["a", "b"],
                    "ports": [{"containerPort": 80}],
                    "env": [{"name": "E", "value": "1"}],
                    "resources": {"limits": {"cpu": cpu}}}]}}}})
    }

    #[test]
    fn field_sets_follow_the_list_types() {
        let set = field_set("Deployment", &deployment("2", "i:1"));
        let shown: Vec<String> = set.iter().map(display).collect();
        for want in [
            ".metadata.labels.a",
            ".spec.replicas",
            ".spec.template.spec.containers[name=\"x\"]",
            ".spec.template.spec.containers[name=\"x\"].args",
            ".spec.template.spec.containers[name=\"x\"].env[name=\"E\"].value",
            ".spec.template.spec.containers[name=\"x\"].ports[containerPort=80,protocol=\"TCP\"].containerPort",
            ".spec.template.spec.containers[name=\"x\"].resources.limits.cpu",
        ] {
            assert!(shown.contains(&want.to_owned()), "{want} not in {shown:#?}");
        }
        assert!(!shown.iter().any(|s| s.contains("args[")));
        assert!(
            !shown
                .iter()
                .any(|s| s.starts_with(".metadata.name") || s.starts_with(".kind"))
        );
        // fieldsV1 round trip, with "." for an element that has children.
        let v1 = to_fields_v1(&set);
        assert_eq!(from_fields_v1(&v1), set);
        let c = &v1["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"x\"}"];
        assert_eq!(c["."], json!({}));
        assert_eq!(c["f:args"], json!({}));
    }

    #[test]
    fn merge_by_key_and_removal() {
        let live = deployment("2", "i:1");
        let mut applied = deployment("2", "i:2");
        applied["spec"]["template"]["spec"]["containers"][0]["env"] = json!([{"name": "F", "value": "2"}]);
        let merged = merge("Deployment", &live, &applied);
        let env = &merged["spec"]["template"]["spec"]["containers"][0]["env"];
        assert_eq!(env.as_array().map(Vec::len), Some(2), "{env}");
        let mut m = merged.clone();
        let path = field_set("Deployment", &live)
            .into_iter()
            .find(|p| display(p).ends_with("env[name=\"E\"]"))
            .expect("element path");
        remove_at(&mut m, &path);
        assert_eq!(
            m["spec"]["template"]["spec"]["containers"][0]["env"],
            json!([{"name": "F", "value": "2"}])
        );
    }
}
