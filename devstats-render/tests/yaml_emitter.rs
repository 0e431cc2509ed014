//! The fast YAML emitter (`output::yaml`) writes exactly what serde-saphyr writes: over the whole
//! fixture corpus (every model file, every environment, every `--only` component, with and
//! without Secrets, and the feature variants the CRD tests render), and over arbitrary
//! JSON-shaped values with adversarial strings. The property test asserts identical bytes; the
//! emitter makes no deliberate deviation, so there is no "parses back to the same value" case.

mod support;

use devstats_model::Name;
use devstats_model::delivery::Protected;
use devstats_model::hardening::IngressFlavor;
use devstats_render::output::{self, yaml};
use devstats_render::{Component, Object, Options, Rendered, SecretValue, SecretValues, Selection, render};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use support::models::{auth_proxy, canary, cncf_hardened, fixture};

/// serde-saphyr's stream of `objects`, as `output::yaml_stream` wrote it before the fast emitter.
fn saphyr_stream(objects: &[Rendered]) -> String {
    let mut out = String::new();
    for r in objects {
        let d = output::object_yaml_saphyr(r).expect("serializes");
        out.push_str("---\n");
        out.push_str(&d);
        if !d.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Asserts that every object and the whole stream come out identical, and that no object needed
/// the serde-saphyr fallback. Returns the number of objects checked.
fn check(what: &str, objects: &[Rendered]) -> usize {
    for r in objects {
        let fast = yaml::to_string(&r.object).unwrap_or_else(|e| panic!("{what}: {}: {e}", r.object.id()));
        let reference = output::object_yaml_saphyr(r).expect("serializes");
        if fast != reference {
            let first = fast
                .lines()
                .zip(reference.lines())
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            panic!(
                "{what}: {} differs at line {}:\nfast:      {:?}\nsaphyr:    {:?}",
                r.object.id(),
                first + 1,
                fast.lines().nth(first),
                reference.lines().nth(first)
            );
        }
    }
    let stream = output::yaml_stream(objects).expect("yaml");
    assert!(stream == saphyr_stream(objects), "{what}: the streams differ");
    let mut written = Vec::new();
    output::write_yaml_stream(objects, &mut written).expect("writes");
    assert!(written == stream.as_bytes(), "{what}: the written stream differs");
    for ((path, text), r) in output::files(objects).expect("files").iter().zip(objects) {
        assert_eq!(
            *text,
            output::object_yaml_saphyr(r).expect("serializes"),
            "{what}: {path}"
        );
    }
    objects.len()
}

fn all_secrets(model: &devstats_model::Model) -> SecretValues {
    let set = render(model, &Options::default()).expect("renders");
    let mut values = SecretValues::new();
    for s in &set.required_secrets {
        for k in &s.keys {
            // Bytes that base64-encode to `+`, `/` and `=` padding, and a trailing newline.
            values.insert(
                k.clone(),
                SecretValue::new(format!("{k}\u{fb}\u{ff}\n").into_bytes()),
            );
        }
    }
    values
}

fn check_model(what: &str, model: &devstats_model::Model) -> usize {
    let mut n = 0;
    let all = render(model, &Options::default()).unwrap_or_else(|e| panic!("{what}: {e}"));
    n += check(what, &all.objects);
    let secrets = Options {
        selection: Selection::all(),
        secrets: Some(all_secrets(model)),
    };
    let with = render(model, &secrets).unwrap_or_else(|e| panic!("{what} with Secrets: {e}"));
    assert!(
        with.objects.iter().any(|r| r.object.kind() == "Secret"),
        "{what}: Secrets rendered"
    );
    n += check(&format!("{what} with Secrets"), &with.objects);
    for c in Component::ALL {
        let opts = Options {
            selection: Selection {
                only: [*c].into(),
                ..Selection::default()
            },
            secrets: None,
        };
        if let Ok(set) = render(model, &opts) {
            n += check(&format!("{what} --only {c:?}"), &set.objects);
        }
    }
    n
}

#[test]
fn the_fixture_corpus_comes_out_byte_identical() {
    let mut n = 0;
    for file in ["cncf.yaml", "example.yaml", "helm/cncf-imported.yaml"] {
        let envs =
            devstats_model::load_environments(&fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        for env in envs {
            n += check_model(&format!("fixtures/{file}, environment {}", env.name), &env.model);
        }
    }
    // The feature variants of the CRD tests: oauth2-proxy, canaries, Traefik.
    let hardened = cncf_hardened();
    let mut nginx = hardened.clone();
    nginx.instance.auth_proxy = Some(auth_proxy(Protected {
        grafanas: vec![Name::from("kubernetes"), Name::from("prometheus")],
        api: true,
        static_sites: true,
        ..Protected::default()
    }));
    nginx.instance.canary = Some(canary());
    let mut traefik = hardened.clone();
    traefik.instance.security.https.controller = IngressFlavor::Traefik;
    traefik.instance.auth_proxy = Some(auth_proxy(Protected {
        all_grafanas: true,
        ..Protected::default()
    }));
    for (what, m) in [
        ("hardened CNCF", &hardened),
        ("hardened CNCF, oauth2-proxy and canaries", &nginx),
        ("hardened CNCF, oauth2-proxy, Traefik", &traefik),
    ] {
        n += check(what, &render(m, &Options::default()).expect("renders").objects);
    }
    n += check(
        "synthetic(300)",
        &render(&devstats_model::testing::synthetic(300), &Options::default())
            .expect("renders")
            .objects,
    );
    assert!(n > 10_000, "objects checked: {n}");
}

/// A value the fast emitter does not write itself (a float) still comes out as serde-saphyr
/// writes it: `object_yaml` falls back for that object.
#[test]
fn values_outside_the_subset_fall_back_to_serde_saphyr() {
    let model = devstats_model::load(&fixture("cncf.yaml")).expect("loads");
    let mut set = render(&model, &Options::default()).expect("renders");
    let r = set
        .objects
        .iter_mut()
        .find(|r| matches!(r.object, Object::Custom(_)))
        .expect("a custom resource");
    let Object::Custom(c) = &mut r.object else {
        unreachable!()
    };
    c.body.insert(
        "ratio".into(),
        json!({"threshold": 0.25, "big": 1e300, "n": [1.0, -0.5]}),
    );
    assert!(
        yaml::to_string(&r.object).is_err(),
        "floats are outside the subset"
    );
    assert_eq!(
        output::object_yaml(r).expect("yaml"),
        output::object_yaml_saphyr(r).expect("yaml")
    );
    let objs = std::slice::from_ref(&*r);
    assert_eq!(output::yaml_stream(objs).expect("yaml"), saphyr_stream(objs));
}

// ------------------------------------------------------------------------------------------
// Arbitrary JSON-shaped values
// ------------------------------------------------------------------------------------------

/// Pieces that YAML treats specially somewhere: indicators, white space, line breaks, control
/// and format characters, words YAML 1.1 reads as booleans, null or numbers, date and
/// sexagesimal shapes, document markers, non-ASCII text.
const PIECES: &[&str] = &[
    "",
    " ",
    "  ",
    "\t",
    "\n",
    "\n\n",
    "\r",
    "\r\n",
    ":",
    ": ",
    "#",
    " #",
    "- ",
    "-",
    "?",
    "? ",
    "'",
    "\"",
    "\\",
    "ü",
    "字",
    "😀",
    "\u{85}",
    "\u{a0}",
    "\u{3000}",
    "\u{feff}",
    "\u{2028}",
    "\u{2029}",
    "\u{fffe}",
    "\u{1}",
    "\u{1b}",
    "\u{7f}",
    "\u{9f}",
    "\0",
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "n",
    "true",
    "False",
    "null",
    "Null",
    "~",
    "0x1",
    "0o17",
    "0b101",
    "1e3",
    "-1E+3",
    ".inf",
    "-.Inf",
    ".NaN",
    "nan",
    "inf",
    "Inf",
    "NaN",
    "Y",
    "On",
    "NO",
    "TRUE",
    "nULL",
    "1_000",
    "_",
    "1",
    "0",
    "007",
    "+1",
    ".",
    "..",
    "1.5",
    "2024-01-02",
    "2024-1-2 10:20:30",
    "T",
    "12:30",
    "1:20:30",
    "190:20",
    "a",
    "word ",
    "key",
    "x",
    "[",
    "]",
    "{",
    "}",
    ",",
    "*",
    "&",
    "!",
    "|",
    ">",
    "%",
    "@",
    "`",
    "---",
    "...",
    "<<",
    "=",
    "http://a/b?c=d#e",
    "$(VAR)",
    "a=b",
];

fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(prop::sample::select(PIECES), 0..6).prop_map(|p| p.concat()),
        // Long lines: folded-block candidates (over 80 characters) with spaces to wrap at.
        1 => (prop::collection::vec(prop::sample::select(PIECES), 0..4), 60..140usize, prop::sample::select(&[" ", "  ", "x", " \t", "ü "][..]))
            .prop_map(|(p, n, sep)| {
                let mut s = p.concat();
                while s.chars().count() < n {
                    s.push_str("word");
                    s.push_str(sep);
                }
                s
            }),
        1 => any::<String>(),
        1 => "[ -~]{0,12}",
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        nasty_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(5, 48, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(nasty_string(), inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

/// A struct with a flattened map: serde serializes it as a map of unknown length (the shape of
/// `CustomResource`), which serde-saphyr lays out differently from a map of known length.
#[derive(serde::Serialize)]
struct Flattened {
    first: Value,
    #[serde(flatten)]
    rest: Map<String, Value>,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_values_come_out_byte_identical(v in json_value()) {
        let fast = yaml::to_string(&v).expect("JSON-shaped values are in the subset");
        prop_assert_eq!(fast, serde_saphyr::to_string(&v).expect("serializes"));
        // The same value as a mapping value, a sequence item, and inside both.
        let wrapped = json!({"k": v.clone(), "s": [v.clone(), [v.clone()], {"m": v.clone()}]});
        prop_assert_eq!(yaml::to_string(&wrapped).expect("in the subset"), serde_saphyr::to_string(&wrapped).expect("serializes"));
    }

    #[test]
    fn maps_of_unknown_length_come_out_byte_identical(first in json_value(), rest in prop::collection::btree_map(nasty_string(), json_value(), 0..4)) {
        let flat = Flattened { first, rest: rest.into_iter().collect() };
        let nested = json!({"outer": serde_json::to_value(&flat).expect("to a value")});
        prop_assert_eq!(yaml::to_string(&flat).expect("in the subset"), serde_saphyr::to_string(&flat).expect("serializes"));
        let as_items = vec![&flat, &flat];
        prop_assert_eq!(yaml::to_string(&as_items).expect("in the subset"), serde_saphyr::to_string(&as_items).expect("serializes"));
        let mut deep = std::collections::BTreeMap::new();
        deep.insert("value", &flat);
        prop_assert_eq!(yaml::to_string(&deep).expect("in the subset"), serde_saphyr::to_string(&deep).expect("serializes"));
        prop_assert_eq!(yaml::to_string(&nested).expect("in the subset"), serde_saphyr::to_string(&nested).expect("serializes"));
    }

    #[test]
    fn strings_come_out_byte_identical_in_every_position(s in nasty_string()) {
        let v = json!({"key": s.clone(), "items": [s.clone(), [s.clone()]], "nested": {"deeper": [{"k": s.clone(), "j": s.clone()}]}});
        let mut keyed = Map::new();
        keyed.insert(s.clone(), Value::String(s.clone()));
        let keyed = Value::Object(keyed);
        for v in [Value::String(s.clone()), v, keyed] {
            prop_assert_eq!(yaml::to_string(&v).expect("in the subset"), serde_saphyr::to_string(&v).expect("serializes"));
        }
    }
}
