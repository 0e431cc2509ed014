//! Validation of custom resources against the `openAPIV3Schema` of their CRD, vendored under
//! `fixtures/crds/` (one file per kind and version: `apiVersion`, `kind`, `plural` and the
//! `schema`; `fixtures/crds/SOURCES.md` names where each came from).
//!
//! The checks follow what the API server does with a structural schema under strict field
//! validation (`kubectl apply --validate=strict`, server-side apply):
//! - a field the schema does not declare is an error, unless the object's schema says
//!   `x-kubernetes-preserve-unknown-fields: true` or gives `additionalProperties` (a map);
//!   an object schema with neither properties nor additionalProperties accepts no field
//!   (the API server would prune them all) — except the root `metadata`, which the API server
//!   validates as `ObjectMeta`;
//! - `type` (with `nullable`), `x-kubernetes-int-or-string`, `enum`, `required`, `pattern`,
//!   `minLength`/`maxLength`, `minimum`/`maximum`, `minItems`/`maxItems`, `maxProperties`,
//!   `x-kubernetes-list-type: set|map` uniqueness, and the value validations `allOf`, `anyOf`,
//!   `oneOf`, `not` (whose sub-schemas never declare fields, so they do not check unknown ones);
//! - not checked: `format` (the API server ignores unknown formats and ours are informative),
//!   CEL rules (`x-kubernetes-validations`), defaults.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

/// The vendored CRD schemas.
pub fn crds_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/crds"))
}

/// One vendored schema file.
#[derive(Debug, Clone)]
pub struct CrdSchema {
    /// File name, e.g. `flagger.app_v1beta1_Canary.yaml`.
    pub file: String,
    /// `apiVersion` of the kind.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// The resource plural.
    pub plural: String,
    /// The `openAPIV3Schema`.
    pub schema: Value,
}

/// Every schema of `dir`, by (apiVersion, kind). Panics on a malformed file or a duplicate.
pub fn load(dir: &Path) -> BTreeMap<(String, String), CrdSchema> {
    let mut out = BTreeMap::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    for path in files {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let field = |k: &str| {
            doc[k]
                .as_str()
                .unwrap_or_else(|| panic!("{}: no `{k}`", path.display()))
                .to_owned()
        };
        let schema = doc["schema"].clone();
        assert!(schema.is_object(), "{}: no `schema`", path.display());
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 file name")
            .to_owned();
        let c = CrdSchema {
            file,
            api_version: field("apiVersion"),
            kind: field("kind"),
            plural: field("plural"),
            schema,
        };
        let key = (c.api_version.clone(), c.kind.clone());
        if let Some(old) = out.insert(key, c) {
            panic!(
                "{} and another file both define {} {}",
                old.file, old.api_version, old.kind
            );
        }
    }
    out
}

/// Problems of `value` against `schema` (empty: valid). Paths are JSONPath-like (`.spec.x[0]`).
pub fn validate(value: &Value, schema: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(value, schema, "", true, true, &mut errors);
    errors
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn at(path: &str) -> &str {
    if path.is_empty() { "<root>" } else { path }
}

/// `structural`: the schema declares fields (false inside allOf/anyOf/oneOf/not, whose
/// sub-schemas only constrain values).
fn check(value: &Value, schema: &Value, path: &str, structural: bool, root: bool, errors: &mut Vec<String>) {
    let Some(s) = schema.as_object() else {
        errors.push(format!("{}: malformed schema", at(path)));
        return;
    };
    let flag = |k: &str| s.get(k).and_then(Value::as_bool).unwrap_or(false);
    let preserve = flag("x-kubernetes-preserve-unknown-fields");

    if value.is_null() && flag("nullable") {
        return;
    }
    if flag("x-kubernetes-int-or-string") {
        if !matches!(type_name(value), "integer" | "string") {
            errors.push(format!(
                "{}: expected an integer or a string, got {}",
                at(path),
                type_name(value)
            ));
        }
    } else if let Some(t) = s.get("type").and_then(Value::as_str) {
        let actual = type_name(value);
        let ok = actual == t || (t == "number" && actual == "integer");
        if !ok {
            errors.push(format!("{}: expected {t}, got {actual}", at(path)));
            return;
        }
    }

    if let Some(allowed) = s.get("enum").and_then(Value::as_array)
        && !allowed.iter().any(|a| a == value)
    {
        errors.push(format!(
            "{}: {value} is not one of {}",
            at(path),
            Value::Array(allowed.clone())
        ));
    }

    match value {
        Value::String(text) => {
            let len = u64::try_from(text.chars().count()).unwrap_or(u64::MAX);
            if let Some(min) = s.get("minLength").and_then(Value::as_u64)
                && len < min
            {
                errors.push(format!("{}: {value} is shorter than {min}", at(path)));
            }
            if let Some(max) = s.get("maxLength").and_then(Value::as_u64)
                && len > max
            {
                errors.push(format!("{}: {value} is longer than {max}", at(path)));
            }
            if let Some(p) = s.get("pattern").and_then(Value::as_str) {
                match regex::Regex::new(p) {
                    Ok(re) if re.is_match(text) => {}
                    Ok(_) => errors.push(format!("{}: {value} does not match {p}", at(path))),
                    Err(e) => errors.push(format!("{}: schema pattern {p} does not compile: {e}", at(path))),
                }
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            if let Some(min) = s.get("minimum").and_then(Value::as_f64)
                && x < min
            {
                errors.push(format!("{}: {n} is below the minimum {min}", at(path)));
            }
            if let Some(max) = s.get("maximum").and_then(Value::as_f64)
                && x > max
            {
                errors.push(format!("{}: {n} is above the maximum {max}", at(path)));
            }
        }
        Value::Array(items) => {
            let len = u64::try_from(items.len()).unwrap_or(u64::MAX);
            if let Some(min) = s.get("minItems").and_then(Value::as_u64)
                && len < min
            {
                errors.push(format!("{}: {len} items, fewer than {min}", at(path)));
            }
            if let Some(max) = s.get("maxItems").and_then(Value::as_u64)
                && len > max
            {
                errors.push(format!("{}: {len} items, more than {max}", at(path)));
            }
            if let Some(item_schema) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(
                        item,
                        item_schema,
                        &format!("{path}[{i}]"),
                        structural,
                        false,
                        errors,
                    );
                }
            }
            match s.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("set") => {
                    let mut seen = BTreeSet::new();
                    for item in items {
                        if !seen.insert(item.to_string()) {
                            errors.push(format!("{}: duplicate set item {item}", at(path)));
                        }
                    }
                }
                Some("map") => {
                    let keys: Vec<&str> = s
                        .get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|k| k.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let mut seen = BTreeSet::new();
                    for item in items {
                        let key: Vec<String> = keys.iter().map(|k| item[*k].to_string()).collect();
                        if !seen.insert(key.clone()) {
                            errors.push(format!("{}: duplicate map-list key {key:?}", at(path)));
                        }
                    }
                }
                _ => {}
            }
        }
        Value::Object(fields) => {
            if let Some(required) = s.get("required").and_then(Value::as_array) {
                for r in required.iter().filter_map(Value::as_str) {
                    if !fields.contains_key(r) {
                        errors.push(format!("{}: required field `{r}` is missing", at(path)));
                    }
                }
            }
            if let Some(max) = s.get("maxProperties").and_then(Value::as_u64)
                && u64::try_from(fields.len()).unwrap_or(u64::MAX) > max
            {
                errors.push(format!("{}: more than {max} properties", at(path)));
            }
            let properties = s.get("properties").and_then(Value::as_object);
            let additional = s.get("additionalProperties");
            for (k, v) in fields {
                let sub = format!("{path}.{k}");
                if root && k == "metadata" {
                    // Validated by the API server as ObjectMeta (ours is k8s-openapi's).
                    if !v.is_object() {
                        errors.push(format!("{sub}: expected object, got {}", type_name(v)));
                    }
                    continue;
                }
                if let Some(p) = properties.and_then(|p| p.get(k)) {
                    check(v, p, &sub, structural, false, errors);
                } else if let Some(a) = additional.filter(|a| a.is_object()) {
                    check(v, a, &sub, structural, false, errors);
                } else if structural && !preserve && additional != Some(&Value::Bool(true)) {
                    errors.push(format!("{sub}: unknown field (not in the schema)"));
                }
            }
        }
        Value::Bool(_) | Value::Null => {}
    }

    // Value validations: sub-schemas constrain values, they do not declare fields.
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for sub in all {
            check(value, sub, path, false, false, errors);
        }
    }
    let passes = |sub: &Value| {
        let mut e = Vec::new();
        check(value, sub, path, false, false, &mut e);
        e.is_empty()
    };
    if let Some(any) = s.get("anyOf").and_then(Value::as_array)
        && !any.iter().any(passes)
    {
        errors.push(format!(
            "{}: matches none of anyOf {}",
            at(path),
            Value::Array(any.clone())
        ));
    }
    if let Some(one) = s.get("oneOf").and_then(Value::as_array) {
        let n = one.iter().filter(|sub| passes(sub)).count();
        if n != 1 {
            errors.push(format!(
                "{}: matches {n} of oneOf {} (exactly one required)",
                at(path),
                Value::Array(one.clone())
            ));
        }
    }
    if let Some(not) = s.get("not")
        && passes(not)
    {
        errors.push(format!("{}: matches the forbidden schema {not}", at(path)));
    }
}
