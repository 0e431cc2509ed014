//! Environments: one model file describes several installs of the same deployment (dev, test,
//! staging, prod …) as a base `instance` plus named overlays.
//!
//! ```yaml
//! instance:            # the base: everything the environments share
//!   name: prod
//!   namespace: devstats-prod
//!   role: prod
//!   foundations: [cncf, cdf, graphql]
//! environments:
//!   default: prod      # used when no environment is selected (`--env`)
//!   prod: {}           # the base as is
//!   test:              # a partial instance, deep-merged over the base
//!     name: test
//!     namespace: devstats-test
//!     role: test       # schedules run half a period after prod
//!     foundations: [test]
//!     ingress: {className: nginx-test, issuer: {name: letsencrypt-test}}
//!     patroni: {replicas: 3}
//! ```
//!
//! An overlay is a partial [`Instance`](crate::Instance): mappings merge key by key, scalars and
//! lists replace. Merging happens on the located YAML tree, so every problem of a merged
//! instance points at the `file:line:column` where the offending value was written — in the base
//! or in the overlay — and names the overlay's path (`environments.test.ingress.className`) when
//! the value came from there. Overlays are checked against the instance's schema with every field
//! optional (unknown fields get a "did you mean", wrong types are reported); each merged instance
//! is then checked in full (required fields, every rule, schedules).

use std::collections::BTreeSet;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

use crate::diagnostics::Problem;
use crate::source::{self, Node, NodeKind, Path, Pos, Step};
use crate::types::Model;
use crate::values::Name;

/// Top-level key of the environments block.
pub const KEY: &str = "environments";
/// Key of the default environment's name inside the block.
pub const DEFAULT_KEY: &str = "default";

/// The environments block of a model file: the default environment and each overlay.
#[derive(Debug, Clone, PartialEq)]
pub struct Environments {
    /// The environment used when none is selected.
    pub default: Name,
    /// Each environment's overlay (a partial instance; an empty mapping keeps the base), in file
    /// order.
    pub overlays: Vec<(Name, Node)>,
}

impl Serialize for Environments {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.overlays.len() + 1))?;
        m.serialize_entry(DEFAULT_KEY, self.default.as_str())?;
        for (name, overlay) in &self.overlays {
            m.serialize_entry(name.as_str(), &NodeSer(overlay))?;
        }
        m.end()
    }
}

/// One environment of a model file, resolved: the model whose instance is the base merged with
/// the environment's overlay.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvModel {
    /// The environment's name; for a file without environments, the instance's name.
    pub name: String,
    /// Whether this is the default environment (always true for a file without environments).
    pub default: bool,
    /// Whether the file declares environments.
    pub declared: bool,
    /// The resolved model.
    pub model: Model,
}

/// Which environments to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Which<'a> {
    /// The named one, or the default one.
    One(Option<&'a str>),
    /// Every declared environment.
    All,
}

// -------------------------------------------------------------------------------------------------
// Schema
// -------------------------------------------------------------------------------------------------

fn refs_of(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                if k == "$ref"
                    && let Some(name) = x.as_str().and_then(|r| r.strip_prefix("#/$defs/"))
                {
                    out.push(name.to_owned());
                } else {
                    refs_of(x, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| refs_of(x, out)),
        _ => {}
    }
}

fn has_required(v: &Value) -> bool {
    match v {
        Value::Object(m) => m
            .iter()
            .any(|(k, x)| (k == "required" && x.is_array()) || has_required(x)),
        Value::Array(a) => a.iter().any(has_required),
        _ => false,
    }
}

/// Removes `required` and points references to relaxed definitions at their `…Overlay` copies.
fn relax(v: &mut Value, relaxed: &BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            if m.get("required").is_some_and(Value::is_array) {
                m.remove("required");
            }
            for (k, x) in m.iter_mut() {
                if k == "$ref"
                    && let Some(name) = x.as_str().and_then(|r| r.strip_prefix("#/$defs/"))
                    && relaxed.contains(name)
                {
                    *x = Value::String(format!("#/$defs/{name}Overlay"));
                } else {
                    relax(x, relaxed);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| relax(x, relaxed)),
        _ => {}
    }
}

/// Adds the `environments` block to the model's JSON Schema, with `InstanceOverlay` (and relaxed
/// copies of the definitions it uses): the instance with every field optional.
pub fn extend_schema(schema: &mut Value) {
    let Some(defs) = schema.get("$defs").and_then(Value::as_object).cloned() else {
        return;
    };
    // Definitions reachable from Instance, and those of them that need a relaxed copy (they, or
    // a definition they use, have required fields).
    let mut reach = BTreeSet::new();
    let mut stack = vec!["Instance".to_owned()];
    while let Some(n) = stack.pop() {
        if reach.insert(n.clone())
            && let Some(d) = defs.get(&n)
        {
            refs_of(d, &mut stack);
        }
    }
    let mut relaxed: BTreeSet<String> = reach
        .iter()
        .filter(|n| defs.get(*n).is_some_and(has_required))
        .cloned()
        .collect();
    loop {
        let before = relaxed.len();
        for n in &reach {
            let mut uses = Vec::new();
            if let Some(d) = defs.get(n) {
                refs_of(d, &mut uses);
            }
            if uses.iter().any(|u| relaxed.contains(u)) {
                relaxed.insert(n.clone());
            }
        }
        if relaxed.len() == before {
            break;
        }
    }
    let mut extra = Map::new();
    for n in &relaxed {
        if let Some(d) = defs.get(n) {
            let mut copy = d.clone();
            relax(&mut copy, &relaxed);
            extra.insert(format!("{n}Overlay"), copy);
        }
    }
    if let Some(Value::Object(o)) = extra.get_mut("InstanceOverlay") {
        o.insert(
            "description".into(),
            Value::String(
                "An environment: any part of `instance`, deep-merged over it (mappings merge key by \
                 key, scalars and lists replace)."
                    .into(),
            ),
        );
    }
    if let Some(Value::Object(d)) = schema.get_mut("$defs") {
        d.extend(extra);
    }
    if let Some(Value::Object(props)) = schema.get_mut("properties") {
        props.insert(
            KEY.into(),
            serde_json::json!({
                "description": "Named environments (test, staging, prod …): each is a partial instance \
                    deep-merged over `instance`; `default` names the one used when none is selected.",
                "type": "object",
                "properties": {
                    DEFAULT_KEY: {
                        "$ref": "#/$defs/Name",
                        "description": "The environment used when none is selected (`--env`)."
                    }
                },
                "additionalProperties": {
                    "anyOf": [{ "$ref": "#/$defs/InstanceOverlay" }, { "type": "null" }]
                },
                "required": [DEFAULT_KEY]
            }),
        );
    }
}

/// The schema used for a file with environments before merging: the base instance may leave
/// required fields to the environments.
pub(crate) fn base_relaxed_schema(full: &Value) -> Value {
    let mut s = full.clone();
    if let Some(Value::Object(props)) = s.get_mut("properties") {
        props.insert(
            "instance".into(),
            serde_json::json!({
                "$ref": "#/$defs/InstanceOverlay",
                "description": "The base instance: what the environments share."
            }),
        );
    }
    s
}

// -------------------------------------------------------------------------------------------------
// Located trees: lookup, merge, diff, emit
// -------------------------------------------------------------------------------------------------

fn entry<'a>(items: &'a [(Node, Node)], key: &str) -> Option<(&'a Node, &'a Node)> {
    items
        .iter()
        .find(|(k, _)| k.scalar() == Some(key))
        .map(|(k, v)| (k, v))
}

fn is_null(node: &Node) -> bool {
    matches!(&node.kind, NodeKind::Scalar { value, quoted: false } if matches!(value.as_str(), "" | "~" | "null" | "Null" | "NULL"))
}

/// The `environments` entry (key and value) of a model file's root, if any.
#[must_use]
pub fn find(root: &Node) -> Option<(&Node, &Node)> {
    match &root.kind {
        NodeKind::Map(items) => entry(items, KEY),
        _ => None,
    }
}

/// Deep merge of a partial instance over a base: mappings merge key by key (the overlay's keys
/// win, new keys are appended in overlay order), anything else is replaced (so `null` unsets an
/// optional value). Nodes keep their source positions.
#[must_use]
pub fn merge(base: &Node, overlay: &Node) -> Node {
    match (&base.kind, &overlay.kind) {
        (NodeKind::Map(b), NodeKind::Map(o)) => {
            let mut items: Vec<(Node, Node)> = Vec::with_capacity(b.len() + o.len());
            for (k, v) in b {
                match k.scalar().and_then(|key| entry(o, key)) {
                    Some((ok, ov)) => items.push((ok.clone(), merge(v, ov))),
                    None => items.push((k.clone(), v.clone())),
                }
            }
            for (k, v) in o {
                if k.scalar().and_then(|key| entry(b, key)).is_none() {
                    items.push((k.clone(), v.clone()));
                }
            }
            Node {
                pos: base.pos,
                len: base.len,
                kind: NodeKind::Map(items),
            }
        }
        _ => overlay.clone(),
    }
}

/// Structural equality, ignoring positions.
fn same(a: &Node, b: &Node) -> bool {
    match (&a.kind, &b.kind) {
        (NodeKind::Scalar { value: x, quoted: qx }, NodeKind::Scalar { value: y, quoted: qy }) => {
            x == y && (qx == qy || (!looks_typed(x)))
        }
        (NodeKind::Seq(x), NodeKind::Seq(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (NodeKind::Map(x), NodeKind::Map(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| {
                    k.scalar()
                        .and_then(|key| entry(y, key))
                        .is_some_and(|(_, w)| same(v, w))
                })
        }
        _ => false,
    }
}

/// True when a plain scalar with this text would not be a string (null, boolean or number).
fn looks_typed(s: &str) -> bool {
    matches!(s, "" | "~" | "null" | "Null" | "NULL")
        || matches!(s, "true" | "false" | "True" | "False" | "TRUE" | "FALSE")
        || s.parse::<i128>().is_ok()
        || s.parse::<f64>().is_ok()
}

fn scalar_node(value: &str) -> Node {
    Node {
        pos: Pos::default(),
        len: 0,
        kind: NodeKind::Scalar {
            value: value.to_owned(),
            quoted: false,
        },
    }
}

/// The overlay that turns `base` into `target` (both as serialized by the model): changed keys
/// of mappings, recursively, and the whole value where anything else differs. `None` when equal.
/// A key that `target` leaves out is set to null (an empty list where the base has a list).
#[must_use]
pub fn diff(base: &Node, target: &Node) -> Option<Node> {
    if same(base, target) {
        return None;
    }
    match (&base.kind, &target.kind) {
        (NodeKind::Map(b), NodeKind::Map(t)) => {
            let mut items = Vec::new();
            for (k, tv) in t {
                let Some(key) = k.scalar() else { continue };
                match entry(b, key) {
                    Some((_, bv)) => {
                        if let Some(d) = diff(bv, tv) {
                            items.push((scalar_node(key), d));
                        }
                    }
                    None => items.push((scalar_node(key), tv.clone())),
                }
            }
            for (k, bv) in b {
                let Some(key) = k.scalar() else { continue };
                if entry(t, key).is_none() {
                    let gone = match bv.kind {
                        NodeKind::Seq(_) => Node {
                            pos: Pos::default(),
                            len: 0,
                            kind: NodeKind::Seq(Vec::new()),
                        },
                        _ => scalar_node("null"),
                    };
                    items.push((scalar_node(key), gone));
                }
            }
            Some(Node {
                pos: Pos::default(),
                len: 0,
                kind: NodeKind::Map(items),
            })
        }
        _ => Some(target.clone()),
    }
}

/// Serializes a located tree with the types a YAML reader gives its plain scalars.
pub(crate) struct NodeSer<'a>(pub(crate) &'a Node);

impl Serialize for NodeSer<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0.kind {
            NodeKind::Scalar { value, quoted: true } => s.serialize_str(value),
            NodeKind::Scalar { value, quoted: false } => {
                let v = value.as_str();
                if matches!(v, "" | "~" | "null" | "Null" | "NULL") {
                    s.serialize_unit()
                } else if matches!(v, "true" | "True" | "TRUE") {
                    s.serialize_bool(true)
                } else if matches!(v, "false" | "False" | "FALSE") {
                    s.serialize_bool(false)
                } else if let Ok(i) = v.parse::<i64>() {
                    s.serialize_i64(i)
                } else if let Ok(u) = v.parse::<u64>() {
                    s.serialize_u64(u)
                } else if let Ok(f) = v.parse::<f64>()
                    && f.is_finite()
                {
                    s.serialize_f64(f)
                } else {
                    s.serialize_str(v)
                }
            }
            NodeKind::Seq(items) => {
                let mut q = s.serialize_seq(Some(items.len()))?;
                for it in items {
                    q.serialize_element(&NodeSer(it))?;
                }
                q.end()
            }
            NodeKind::Map(items) => {
                let mut m = s.serialize_map(Some(items.len()))?;
                for (k, v) in items {
                    m.serialize_entry(k.scalar().unwrap_or_default(), &NodeSer(v))?;
                }
                m.end()
            }
        }
    }
}

// -------------------------------------------------------------------------------------------------
// Resolution
// -------------------------------------------------------------------------------------------------

/// Number of leading steps of `steps` that resolve in `node`.
fn depth(node: &Node, steps: &[Step]) -> usize {
    let mut cur = node;
    for (i, step) in steps.iter().enumerate() {
        let next = match (step, &cur.kind) {
            (Step::Key(k), NodeKind::Map(items)) => entry(items, k).map(|(_, v)| v),
            (Step::Index(n), NodeKind::Seq(items)) => items.get(*n),
            _ => None,
        };
        match next {
            Some(n) => cur = n,
            None => return i,
        }
    }
    steps.len()
}

/// Names the overlay's path for a problem of the merged instance whose value (or enclosing
/// mapping) was written in the overlay.
fn rewrite(p: &mut Problem, env: &str, base: &Node, overlay: &Node) {
    let Some((Step::Key(first), rest)) = p.path.0.split_first() else {
        return;
    };
    if first != "instance" {
        return;
    }
    let od = depth(overlay, rest);
    if od == rest.len() || od > depth(base, rest) {
        let mut steps = vec![Step::Key(KEY.into()), Step::Key(env.into())];
        steps.extend(rest.iter().cloned());
        p.path = source::Path(steps);
    }
}

fn names_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The problem for `--env NAME` on a file without environments.
pub(crate) fn undeclared(root: &Node, name: &str) -> Problem {
    Problem::new(
        Path::root(),
        format!("environment `{name}` was requested, but the model defines no environments"),
    )
    .help("add an `environments:` block (see docs/environments.md), or select no environment")
    .at(root)
}

/// Resolves the environments of a file whose root has an `environments` block. `full` is the
/// model's schema, `check` runs the rules and schedules on one resolved model.
pub(crate) fn resolve(
    root: &Node,
    which: Which<'_>,
    full: &Value,
    relaxed: &Value,
    check: &dyn Fn(&Model) -> Vec<Problem>,
) -> Result<Vec<EnvModel>, Vec<Problem>> {
    // 1. Structure: overlays (and the base) with every instance field optional.
    let structural = crate::structure::check(root, relaxed);
    if !structural.is_empty() {
        return Err(structural);
    }
    let (Some((env_key, env_node)), NodeKind::Map(root_items)) = (find(root), &root.kind) else {
        return Err(vec![Problem::new(Path::root(), "no environments block").at(root)]);
    };
    let env_items: &[(Node, Node)] = match &env_node.kind {
        NodeKind::Map(items) => items,
        _ => &[],
    };
    let ep = Path::root().key(KEY);
    let mut problems = Vec::new();

    // 2. The block: names, default, the requested environment.
    let mut names: Vec<(&str, &Node)> = Vec::new();
    for (k, v) in env_items {
        let Some(name) = k.scalar() else { continue };
        if name == DEFAULT_KEY {
            continue;
        }
        if let Err(e) = Name::from(name).check() {
            problems.push(
                Problem::new(ep.key(name), format!("environment name `{name}` {e}"))
                    .help("allowed: DNS-1123 label: lowercase a-z, 0-9 and '-', at most 63 characters")
                    .at(k),
            );
        }
        names.push((name, v));
    }
    let defined: Vec<&str> = names.iter().map(|(n, _)| *n).collect();
    if names.is_empty() {
        problems.push(
            Problem::new(ep.clone(), "no environment is defined")
                .help("add at least one environment, e.g. `prod: {}` (the base as is)")
                .at(env_key),
        );
        return Err(problems);
    }
    let default_node = entry(env_items, DEFAULT_KEY).map(|(_, v)| v);
    let default = default_node.and_then(Node::scalar).unwrap_or_default();
    if !defined.contains(&default) {
        let mut msg = format!("the default environment `{default}` is not defined");
        if let Some(s) = crate::structure::suggest(default, defined.iter().copied()) {
            msg.push_str(&format!("; did you mean `{s}`?"));
        }
        let mut p = Problem::new(ep.key(DEFAULT_KEY), msg)
            .help(format!("defined environments: {}", names_list(&defined)));
        if let Some(n) = default_node {
            p = p.at(n);
        }
        problems.push(p);
    }
    let selected: Vec<(&str, &Node)> = match which {
        Which::All => names.clone(),
        Which::One(requested) => {
            let want = requested.unwrap_or(default);
            match names.iter().find(|(n, _)| *n == want) {
                Some(found) => vec![*found],
                None if requested.is_some() => {
                    let mut msg = format!("the requested environment `{want}` is not defined");
                    if let Some(s) = crate::structure::suggest(want, defined.iter().copied()) {
                        msg.push_str(&format!("; did you mean `{s}`?"));
                    }
                    problems.push(
                        Problem::new(ep.clone(), msg)
                            .help(format!("defined environments: {}", names_list(&defined)))
                            .at(env_key),
                    );
                    Vec::new()
                }
                None => Vec::new(),
            }
        }
    };
    if !problems.is_empty() {
        return Err(problems);
    }

    // 3. Each selected environment: merge, check in full, deserialize, check the rules.
    let empty = Node {
        pos: root.pos,
        len: 0,
        kind: NodeKind::Map(Vec::new()),
    };
    let base = root_items
        .iter()
        .find(|(k, _)| k.scalar() == Some("instance"))
        .map_or(&empty, |(_, v)| v);
    let mut per_env: Vec<(&str, Vec<Problem>)> = Vec::new();
    let mut resolved = Vec::new();
    for (name, overlay) in &selected {
        // An empty environment (`prod:` or `prod: {}`) is the base as is.
        let merged_instance = if is_null(overlay) {
            base.clone()
        } else {
            merge(base, overlay)
        };
        let merged_root = Node {
            pos: root.pos,
            len: root.len,
            kind: NodeKind::Map(
                root_items
                    .iter()
                    .filter(|(k, _)| k.scalar() != Some(KEY))
                    .map(|(k, v)| {
                        if k.scalar() == Some("instance") {
                            (k.clone(), merged_instance.clone())
                        } else {
                            (k.clone(), v.clone())
                        }
                    })
                    .collect(),
            ),
        };
        let mut found = crate::structure::check(&merged_root, full);
        let mut model = None;
        if found.is_empty() {
            match read_model(&merged_root) {
                Ok(m) => {
                    found = check(&m);
                    model = Some(m);
                }
                Err(p) => found.push(p),
            }
        }
        for p in &mut found {
            p.locate(Some(&merged_root));
            rewrite(p, name, base, overlay);
        }
        if found.is_empty()
            && let Some(model) = model
        {
            resolved.push(EnvModel {
                name: (*name).to_owned(),
                default: *name == default,
                declared: true,
                model,
            });
        }
        per_env.push((name, found));
    }

    // 4. One report: a problem found in some environments only says in which.
    let checked = per_env.len();
    let mut grouped: Vec<(Problem, Vec<&str>)> = Vec::new();
    for (name, found) in per_env {
        for p in found {
            match grouped.iter_mut().find(|(q, _)| *q == p) {
                Some((_, envs)) => envs.push(name),
                None => grouped.push((p, vec![name])),
            }
        }
    }
    if grouped.is_empty() {
        return Ok(resolved);
    }
    let mut out = Vec::with_capacity(grouped.len());
    for (mut p, envs) in grouped {
        let in_overlay = matches!(p.path.0.first(), Some(Step::Key(k)) if k == KEY);
        let everywhere = checked > 1 && envs.len() == checked;
        if !(in_overlay || everywhere) {
            let which = if envs.len() == 1 {
                format!(" (environment {})", names_list(&envs))
            } else {
                format!(" (environments {})", names_list(&envs))
            };
            p.message.push_str(&which);
            let in_instance = matches!(p.path.0.first(), Some(Step::Key(k)) if k == "instance");
            if in_instance && p.message.starts_with("missing required field") {
                let rest = source::Path(p.path.0[1..].to_vec());
                let places: Vec<String> = envs.iter().map(|e| format!("`{KEY}.{e}.{rest}`")).collect();
                p.help = Some(format!(
                    "set it in `{}` (every environment) or in {}",
                    p.path,
                    places.join(", ")
                ));
            }
        }
        out.push(p);
    }
    Err(out)
}

/// Reads a model from a merged tree, straight from the tree (no YAML written and read again):
/// an error is at the node it is about, which is where the merged value came from.
fn read_model(root: &Node) -> Result<Model, Problem> {
    crate::node_de::from_node::<Model>(root).map_err(crate::node_de::NodeError::into_problem)
}

/// Rules that involve the instance's project selection: every named project must exist.
pub(crate) fn check_selection(model: &Model) -> Vec<Problem> {
    let mut out = Vec::new();
    let sel = &model.instance.projects;
    let sp = Path::root().key("instance").key("projects");
    for (field, list) in [("only", &sel.only), ("exclude", &sel.exclude)] {
        for (i, name) in list.iter().enumerate() {
            if model.project(name.as_str()).is_none() {
                let mut msg = format!("unknown project `{name}`");
                if let Some(s) =
                    crate::structure::suggest(name.as_str(), model.projects.iter().map(|p| p.name.as_str()))
                {
                    msg.push_str(&format!("; did you mean `{s}`?"));
                }
                out.push(
                    Problem::new(sp.key(field).index(i), msg).help("name a project defined in `projects`"),
                );
            }
        }
    }
    out
}

/// The environments block of a located model file, for tools that write model files.
#[must_use]
pub fn declared(root: &Node) -> Option<Environments> {
    let (_, node) = find(root)?;
    let NodeKind::Map(items) = &node.kind else {
        return None;
    };
    let default = entry(items, DEFAULT_KEY)
        .and_then(|(_, v)| v.scalar())
        .map(Name::from)?;
    let overlays = items
        .iter()
        .filter_map(|(k, v)| {
            let name = k.scalar()?;
            (name != DEFAULT_KEY).then(|| (Name::from(name), v.clone()))
        })
        .collect();
    Some(Environments { default, overlays })
}

/// A model file's text: the model with an environments block after `instance`.
pub fn model_file_yaml(model: &Model, environments: Option<&Environments>) -> Result<String, String> {
    #[derive(serde::Serialize)]
    struct File<'a> {
        instance: &'a crate::types::Instance,
        #[serde(skip_serializing_if = "Option::is_none")]
        environments: Option<&'a Environments>,
        foundations: &'a [crate::types::Foundation],
        projects: &'a [crate::types::Project],
    }
    serde_saphyr::to_string(&File {
        instance: &model.instance,
        environments,
        foundations: &model.foundations,
        projects: &model.projects,
    })
    .map_err(|e| e.to_string())
}

/// The located tree of a value as the model serializes it (e.g. an [`crate::Instance`]).
pub fn located<T: Serialize>(value: &T) -> Result<Node, String> {
    let text = serde_saphyr::to_string(value).map_err(|e| e.to_string())?;
    match source::parse(&text) {
        Ok(Some(node)) => Ok(node),
        Ok(None) => Err("empty serialization".into()),
        Err(e) => Err(e.message),
    }
}

/// The model's JSON Schema (draft 2020-12), as `devstats-k8s schema` prints it.
#[must_use]
pub fn json_schema() -> Value {
    let mut schema = schemars::schema_for!(Model).to_value();
    if let Some(obj) = schema.as_object_mut() {
        obj.insert("title".into(), Value::String("devstats-k8s model".into()));
    }
    extend_schema(&mut schema);
    schema
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(src: &str) -> Node {
        source::parse(src).expect("parses").expect("document")
    }

    #[test]
    fn merge_is_deep_for_mappings_and_replaces_the_rest() {
        let base = tree("a: 1\nb:\n  c: 2\n  d: [x, y]\ne: keep\n");
        let over = tree("b:\n  d: [z]\n  f: new\na: 5\n");
        let m = merge(&base, &over);
        assert!(
            same(&m, &tree("a: 5\nb:\n  c: 2\n  d: [z]\n  f: new\ne: keep\n")),
            "{m:?}"
        );
        // Positions: replaced values point into the overlay, kept ones into the base.
        let (a, _) = m.lookup(&Path::root().key("a"));
        assert_eq!(a.pos.line, 4);
        let (c, _) = m.lookup(&Path::root().key("b").key("c"));
        assert_eq!(c.pos.line, 3);
    }

    #[test]
    fn diff_and_merge_are_inverse() {
        let base = tree("a: 1\nb:\n  c: 2\n  d: [x]\n  g: q\n");
        let target = tree("a: 1\nb:\n  c: 3\n  d: [x, y]\n");
        let d = diff(&base, &target).expect("differs");
        let merged = merge(&base, &d);
        assert!(
            same(&merged, &tree("a: 1\nb:\n  c: 3\n  d: [x, y]\n  g: null\n")),
            "{merged:?}"
        );
        assert!(diff(&base, &base).is_none());
    }
}
