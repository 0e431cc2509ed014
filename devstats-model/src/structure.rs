//! Structural check of the located YAML tree against the model's JSON Schema, before serde sees it,
//! so that *every* unknown field, missing field and wrongly typed value is reported at once
//! (serde stops at the first). Unknown fields get a "did you mean" suggestion.

use serde_json::{Map, Value};

use crate::diagnostics::Problem;
use crate::source::{Node, NodeKind, Path};
use crate::source::{is_bool, is_null, parse_int};

/// Checks `root` against `schema`, returning every structural problem.
#[must_use]
pub fn check(root: &Node, schema: &Value) -> Vec<Problem> {
    let mut out = Vec::new();
    Checker { root: schema }.node(root, schema, &Path::root(), &mut out);
    out
}

struct Checker<'s> {
    root: &'s Value,
}

fn describe(node: &Node) -> String {
    match &node.kind {
        NodeKind::Scalar { value, quoted } => {
            if is_null(node) {
                "nothing (null)".into()
            } else if *quoted {
                format!("the string '{}'", truncate(value))
            } else {
                format!("'{}'", truncate(value))
            }
        }
        NodeKind::Seq(_) => "a list".into(),
        NodeKind::Map(_) => "a mapping".into(),
    }
}

fn truncate(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s.to_owned()
    }
}

impl<'s> Checker<'s> {
    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        let mut cur = schema;
        for _ in 0..32 {
            match cur.get("$ref").and_then(Value::as_str) {
                Some(r) => {
                    let Some(ptr) = r.strip_prefix('#') else {
                        return cur;
                    };
                    match self.root.pointer(ptr) {
                        Some(next) => cur = next,
                        None => return cur,
                    }
                }
                None => return cur,
            }
        }
        cur
    }

    fn node(&self, node: &Node, schema: &Value, path: &Path, out: &mut Vec<Problem>) {
        let schema = self.resolve(schema);
        if let Some(alts) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
        {
            self.alternatives(node, alts, path, out);
            return;
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            self.enumeration(node, values, path, out);
            return;
        }
        if let Some(c) = schema.get("const") {
            self.enumeration(node, std::slice::from_ref(c), path, out);
            return;
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => return,
        };
        if types.contains(&"null") && is_null(node) {
            return;
        }
        let want = |t: &str| types.contains(&t);
        match &node.kind {
            NodeKind::Map(items) if want("object") => self.object(node, items, schema, path, out),
            NodeKind::Seq(items) if want("array") => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.node(item, item_schema, &path.index(i), out);
                    }
                }
            }
            NodeKind::Scalar { value, quoted } => {
                // A whole number where one is wanted: only its range can be wrong.
                if want("integer") && !quoted && self.integer_in_range(value, schema, path, node, out) {
                    return;
                }
                let ok = (want("string") && !is_null(node))
                    || (want("boolean") && !quoted && is_bool(value))
                    || (want("number") && !quoted && value.parse::<f64>().is_ok_and(f64::is_finite));
                if !ok {
                    out.push(self.type_problem(node, &types, path, schema));
                }
            }
            _ => out.push(self.type_problem(node, &types, path, schema)),
        }
    }

    /// True when `value` is a whole number (problems are pushed if it is out of range).
    fn integer_in_range(
        &self,
        value: &str,
        schema: &Value,
        path: &Path,
        node: &Node,
        out: &mut Vec<Problem>,
    ) -> bool {
        let Some(n) = parse_int(value) else { return false };
        let (lo, hi) = match schema.get("format").and_then(Value::as_str) {
            Some("uint8") => (0, i128::from(u8::MAX)),
            Some("uint16") => (0, i128::from(u16::MAX)),
            Some("uint32" | "uint") => (0, i128::from(u32::MAX)),
            Some("uint64") => (0, i128::from(u64::MAX)),
            Some("int32") => (i128::from(i32::MIN), i128::from(i32::MAX)),
            _ => (i128::from(i64::MIN), i128::from(u64::MAX)),
        };
        if n < lo || n > hi {
            out.push(
                Problem::new(path.clone(), format!("{n} is out of range"))
                    .help(format!("allowed: a whole number from {lo} to {hi}"))
                    .at(node),
            );
        }
        true
    }

    fn type_problem(&self, node: &Node, types: &[&str], path: &Path, schema: &Value) -> Problem {
        let names: Vec<&str> = types
            .iter()
            .filter(|t| **t != "null")
            .map(|t| match *t {
                "object" => "a mapping",
                "array" => "a list",
                "integer" => "a whole number",
                "number" => "a number",
                "boolean" => "true or false",
                "string" => "a string",
                other => other,
            })
            .collect();
        let mut p = Problem::new(
            path.clone(),
            format!("expected {}, found {}", names.join(" or "), describe(node)),
        )
        .at(node);
        if let Some(d) = schema.get("description").and_then(Value::as_str) {
            p = p.help(first_sentence(d));
        }
        p
    }

    fn enumeration(&self, node: &Node, values: &[Value], path: &Path, out: &mut Vec<Problem>) {
        let allowed: Vec<String> = values
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        let found = node.scalar().map(str::to_owned);
        if let Some(f) = &found
            && !is_null(node)
            && allowed.iter().any(|a| a == f)
        {
            return;
        }
        let mut msg = format!("{} is not allowed here", describe(node));
        if let Some(f) = &found
            && let Some(s) = suggest(f, allowed.iter().map(String::as_str))
        {
            msg.push_str(&format!("; did you mean '{s}'?"));
        }
        out.push(
            Problem::new(path.clone(), msg)
                .help(format!("allowed: {}", allowed.join(", ")))
                .at(node),
        );
    }

    fn alternatives(&self, node: &Node, alts: &[Value], path: &Path, out: &mut Vec<Problem>) {
        // Option<T>: null is one alternative.
        let mut best: Option<Vec<Problem>> = None;
        let mut consts = Vec::new();
        for alt in alts {
            let alt_r = self.resolve(alt);
            if let Some(c) = alt_r.get("const") {
                consts.push(c.clone());
            } else if let Some(vs) = alt_r.get("enum").and_then(Value::as_array) {
                consts.extend(vs.iter().cloned());
            }
            let mut probs = Vec::new();
            self.node(node, alt, path, &mut probs);
            if probs.is_empty() {
                return;
            }
            let is_null_alt = alt_r.get("type").and_then(Value::as_str) == Some("null");
            if !is_null_alt && best.as_ref().is_none_or(|b| probs.len() < b.len()) {
                best = Some(probs);
            }
        }
        if consts.len() == alts.len() {
            self.enumeration(node, &consts, path, out);
        } else if let Some(b) = best {
            out.extend(b);
        }
    }

    fn object(
        &self,
        node: &Node,
        items: &[(Node, Node)],
        schema: &Value,
        path: &Path,
        out: &mut Vec<Problem>,
    ) {
        let empty = Map::new();
        let props = schema
            .get("properties")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let additional = schema.get("additionalProperties");
        // A set, not a list: a mapping of n keys is checked in O(n log n), not O(n²).
        let mut seen: std::collections::BTreeSet<&str> = std::collections::BTreeSet::new();
        for (key, value) in items {
            let Some(k) = key.scalar() else {
                out.push(Problem::new(path.clone(), "mapping keys must be plain strings").at(key));
                continue;
            };
            if seen.contains(&k) {
                out.push(
                    Problem::new(path.key(k), format!("field `{k}` is given twice"))
                        .help("remove one of them")
                        .at(key),
                );
                continue;
            }
            seen.insert(k);
            let child = path.key(k);
            if let Some(prop) = props.get(k) {
                self.node(value, prop, &child, out);
            } else {
                match additional {
                    Some(Value::Bool(false)) => {
                        let mut msg = format!("unknown field `{k}`");
                        if let Some(s) = suggest(k, props.keys().map(String::as_str)) {
                            msg.push_str(&format!("; did you mean `{s}`?"));
                        }
                        let allowed: Vec<&str> = props.keys().map(String::as_str).collect();
                        out.push(
                            Problem::new(child, msg)
                                .help(format!("allowed: {}", allowed.join(", ")))
                                .at(key),
                        );
                    }
                    Some(extra @ Value::Object(_)) => self.node(value, extra, &child, out),
                    _ => {}
                }
            }
        }
        if let Some(req) = schema.get("required").and_then(Value::as_array) {
            for r in req.iter().filter_map(Value::as_str) {
                if !seen.contains(r) {
                    let mut p = Problem::new(path.key(r), format!("missing required field `{r}`")).at(node);
                    p.len = 0;
                    if let Some(d) = props
                        .get(r)
                        .map(|s| self.resolve(s))
                        .and_then(|s| s.get("description"))
                        .and_then(Value::as_str)
                    {
                        p = p.help(first_sentence(d));
                    }
                    out.push(p);
                }
            }
        }
    }
}

fn first_sentence(s: &str) -> String {
    s.split("\n\n").next().unwrap_or(s).replace('\n', " ")
}

/// Longest word [`suggest`] looks for a near miss of.
pub const MAX_SUGGEST_LEN: usize = 256;

/// The closest candidate to `word`, if close enough to be a likely typo.
#[must_use]
pub fn suggest<'a>(word: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    // No field or name is this long; comparing a huge key with every candidate would only cost.
    if word.len() > MAX_SUGGEST_LEN {
        return None;
    }
    let lower = word.to_ascii_lowercase();
    candidates
        .map(|c| (strsim::jaro_winkler(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}
