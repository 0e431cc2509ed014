//! Snapshots of the exact bytes we emit: the whole render of `fixtures/example.yaml`, and one
//! object of every kind and component from `fixtures/cncf.yaml` (kubernetes for per-project ones).
//! Review every `.snap` change: these are the objects operators apply.

use std::collections::BTreeSet;

use devstats_render::{Options, output, render};

fn load(name: &str) -> devstats_model::Model {
    let path = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/")).join(name);
    devstats_model::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn example_render_yaml() {
    let set = render(&load("example.yaml"), &Options::default()).expect("renders");
    insta::assert_snapshot!("example", output::yaml_stream(&set.objects).expect("yaml"));
}

#[test]
fn cncf_one_object_per_kind() {
    let set = render(&load("cncf.yaml"), &Options::default()).expect("renders");
    let mut seen = BTreeSet::new();
    for r in &set.objects {
        let kind = r.object.kind();
        // One object per (kind, component): kubernetes' for per-project components.
        let pick = r.project.as_deref().is_none_or(|p| p == "kubernetes");
        if pick && seen.insert((kind, r.component)) {
            let name = format!("cncf-{}-{}", kind.to_ascii_lowercase(), r.component.as_str());
            insta::assert_snapshot!(name, output::yaml_stream(std::slice::from_ref(r)).expect("yaml"));
        }
    }
    assert!(seen.len() >= 12, "kinds covered: {seen:?}");
}

#[test]
fn cncf_counts() {
    let set = render(&load("cncf.yaml"), &Options::default()).expect("renders");
    let mut counts = std::collections::BTreeMap::new();
    for r in &set.objects {
        *counts.entry(r.object.kind()).or_insert(0usize) += 1;
    }
    insta::assert_debug_snapshot!("cncf-counts", counts);
}
