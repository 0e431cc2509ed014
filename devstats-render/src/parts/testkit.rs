//! Shared test support (compiled only for tests): the chart's renders as JSON values, our objects
//! as JSON values, and a comparison that names the JSON path of every difference.

use std::io::Read;
use std::sync::OnceLock;

use serde_json::Value;

use crate::core::object::Object;

fn fixture(name: &str) -> String {
    format!("{}/../fixtures/helm/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// Parses multi-document YAML into JSON values (comment-only documents skipped).
pub fn parse_docs(text: &str) -> Vec<Value> {
    text.split("\n---\n")
        .filter(|d| {
            d.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .map(|d| serde_saphyr::from_str::<Value>(d).unwrap_or_else(|e| panic!("chart document: {e}\n{d}")))
        .filter(|v| !v.is_null())
        .collect()
}

/// The objects of `rendered-samples-prod.yaml` (one per chart template and kind), parsed once.
pub fn samples() -> &'static [Value] {
    static SAMPLES: OnceLock<Vec<Value>> = OnceLock::new();
    SAMPLES.get_or_init(|| {
        parse_docs(&std::fs::read_to_string(fixture("rendered-samples-prod.yaml")).expect("samples fixture"))
    })
}

fn load_full(mode: &str) -> Vec<Value> {
    let bytes = std::fs::read(fixture(&format!("rendered-{mode}-defaults.yaml.gz"))).expect("render fixture");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .expect("gunzip");
    parse_docs(&text)
}

/// The objects of the full render `rendered-{mode}-defaults.yaml.gz` (`prod` or `test`), parsed once.
pub fn full(mode: &str) -> &'static [Value] {
    static PROD: OnceLock<Vec<Value>> = OnceLock::new();
    static TEST: OnceLock<Vec<Value>> = OnceLock::new();
    match mode {
        "prod" => PROD.get_or_init(|| load_full("prod")),
        "test" => TEST.get_or_init(|| load_full("test")),
        _ => panic!("no render for mode {mode}"),
    }
}

/// Writes the chart's nulls the way we render them: `env: null` dropped, env `value: null` as `""`.
pub fn normalise_nulls(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.get("env").is_some_and(Value::is_null) {
                m.remove("env");
            }
            if let Some(Value::Array(env)) = m.get_mut("env") {
                for e in env {
                    if e.get("value").is_some_and(Value::is_null) {
                        e["value"] = Value::String(String::new());
                    }
                }
            }
            m.values_mut().for_each(normalise_nulls);
        }
        Value::Array(a) => a.iter_mut().for_each(normalise_nulls),
        _ => {}
    }
}

/// The chart object of `kind` named `name` in `docs`, nulls normalised.
pub fn chart_object(docs: &[Value], kind: &str, name: &str) -> Value {
    let mut v = docs
        .iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the chart render"))
        .clone();
    normalise_nulls(&mut v);
    as_stored(&mut v);
    v
}

/// Writes a chart object the way the API server stores it, which is what our render writes:
/// quantities in canonical form (`1000m` → `1`), `fieldRef.apiVersion: v1`, and claim templates
/// with the server's defaults (`apiVersion`, `kind`, `volumeMode: Filesystem`, `status.phase`).
pub fn as_stored(v: &mut Value) {
    crate::core::quantity::canonicalize_json(v);
    stored_defaults(v);
}

fn stored_defaults(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Object(f)) = m.get_mut("fieldRef") {
                f.entry("apiVersion")
                    .or_insert_with(|| Value::String("v1".to_owned()));
            }
            if let Some(Value::Array(ts)) = m.get_mut("volumeClaimTemplates") {
                for t in ts.iter_mut().filter_map(Value::as_object_mut) {
                    t.entry("apiVersion").or_insert_with(|| "v1".into());
                    t.entry("kind").or_insert_with(|| "PersistentVolumeClaim".into());
                    if let Some(Value::Object(spec)) = t.get_mut("spec") {
                        spec.entry("volumeMode").or_insert_with(|| "Filesystem".into());
                    }
                    t.entry("status")
                        .or_insert_with(|| serde_json::json!({"phase": "Pending"}));
                }
            }
            m.values_mut().for_each(stored_defaults);
        }
        Value::Array(a) => a.iter_mut().for_each(stored_defaults),
        _ => {}
    }
}

/// Our object as JSON, without the `app.kubernetes.io/*` labels on its object metadata.
pub fn ours(o: &Object) -> Value {
    let mut v = serde_json::to_value(o).unwrap_or_else(|e| panic!("serializing {}: {e}", o.id()));
    if let Some(Value::Object(labels)) = v.pointer_mut("/metadata/labels") {
        labels.retain(|k, _| !k.starts_with("app.kubernetes.io/"));
    }
    v
}

fn diff_into(path: &str, ours: &Value, expected: &Value, out: &mut Vec<String>) {
    match (ours, expected) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys().filter(|k| !x.contains_key(*k))) {
                let p = format!("{path}/{k}");
                match (x.get(k), y.get(k)) {
                    (Some(l), Some(r)) => diff_into(&p, l, r, out),
                    (l, r) => out.push(format!("{p}: ours {l:?} != chart {r:?}")),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            if x.len() != y.len() {
                out.push(format!(
                    "{path}: ours has {} elements, chart {}",
                    x.len(),
                    y.len()
                ));
            }
            for (i, (l, r)) in x.iter().zip(y).enumerate() {
                diff_into(&format!("{path}/{i}"), l, r, out);
            }
        }
        _ if ours == expected => {}
        _ => out.push(format!("{path}: ours {ours} != chart {expected}")),
    }
}

/// Every difference between our object and the expected one, as `path: ours … != chart …`.
pub fn diff(ours: &Value, expected: &Value) -> Vec<String> {
    let mut out = Vec::new();
    diff_into("", ours, expected, &mut out);
    out
}

/// Asserts that our object equals the expected one, listing the JSON path of every difference.
pub fn assert_same(ours: &Value, expected: &Value) {
    let d = diff(ours, expected);
    assert!(
        d.is_empty(),
        "{} {}: differences:\n  {}",
        expected["kind"],
        expected["metadata"]["name"],
        d.join("\n  ")
    );
}
