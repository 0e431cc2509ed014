//! No import circle anywhere in the workspace: in no crate do two modules import each other,
//! directly or through others. Crates cannot form circles (Cargo refuses), so this reads each
//! crate's module graph from its sources (`devstats-layers`: `mod` declarations, `crate::` /
//! `super::` / `self::` paths outside comments, strings and `#[cfg(test)]` items) and fails
//! on every circle, naming its modules. The render crate's layer order is checked by its own
//! `tests/layers.rs`.
//!
//! The model's section modules (`backup`, `delivery`, `hardening`, `monitoring`) hold only their
//! types, below `types::Model`; their rules live in `validate/<section>.rs`, above it. The JSON
//! Schema is built in `environments` (it extends the model's with the environments), so
//! `structure` only checks a tree against it. [`KNOWN`] is empty: every circle fails.

use std::path::{Path, PathBuf};

use devstats_layers::ModuleGraph;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the CLI sits in the workspace")
        .to_path_buf()
}

/// Every crate root of the workspace: (crate folder, root file), binaries included.
const CRATES: &[(&str, &str)] = &[
    ("devstats-model", "lib.rs"),
    ("devstats-render", "lib.rs"),
    ("devstats-import", "lib.rs"),
    ("devstats-cli", "lib.rs"),
    ("devstats-cli", "main.rs"),
    ("devstats-fake", "lib.rs"),
    ("devstats-parity", "lib.rs"),
    ("devstats-layers", "lib.rs"),
    ("devstats-operator", "lib.rs"),
    ("devstats-operator", "main.rs"),
];

/// Circles that exist and are yet to be broken: (crate, root, modules). None left.
const KNOWN: &[(&str, &str, &[&str])] = &[];

fn graph(krate: &str, root: &str) -> ModuleGraph {
    ModuleGraph::read(&workspace().join(krate).join("src"), root)
}

#[test]
fn no_crate_has_an_import_circle() {
    let mut problems = Vec::new();
    for (krate, root) in CRATES {
        let known: Vec<Vec<String>> = KNOWN
            .iter()
            .filter(|(k, r, _)| k == krate && r == root)
            .map(|(_, _, c)| c.iter().map(|m| (*m).to_owned()).collect())
            .collect();
        let circles = graph(krate, root).cycles();
        for circle in &circles {
            if !known.contains(circle) {
                problems.push(format!("{krate} ({root}): {}", circle.join(" → ")));
            }
        }
        for k in &known {
            if !circles.contains(k) {
                problems.push(format!(
                    "{krate} ({root}): the known circle {k:?} is gone; remove it from KNOWN"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "import circles (`` is the crate root):\n{}",
        problems.join("\n")
    );
}

#[test]
fn every_crate_root_is_listed_and_read() {
    // A new crate or binary must be added to CRATES.
    let members = std::fs::read_to_string(workspace().join("Cargo.toml")).expect("Cargo.toml");
    for e in std::fs::read_dir(workspace()).expect("workspace") {
        let dir = e.expect("entry").path();
        let name = dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        if !members.contains(&format!("\"{name}\"")) || !dir.join("Cargo.toml").exists() {
            continue;
        }
        for root in ["lib.rs", "main.rs"] {
            if dir.join("src").join(root).exists() {
                assert!(
                    CRATES.contains(&(name.as_str(), root)),
                    "{name}/src/{root} is not in CRATES"
                );
            }
        }
    }
    // The reader sees the CLI's real imports, so an empty graph cannot pass.
    let cli = graph("devstats-cli", "lib.rs");
    assert!(
        cli.imports.len() > 20,
        "read only {} CLI modules",
        cli.imports.len()
    );
    assert!(
        cli.imports["plan::decide"].contains("plan::graph"),
        "{:?}",
        cli.imports["plan::decide"]
    );
    let bin = graph("devstats-cli", "main.rs");
    assert!(bin.imports.contains_key("ops"), "{:?}", bin.imports.keys());
}

#[test]
fn a_circle_in_the_cli_fails() {
    // plan::graph importing plan::decide, which imports plan::graph.
    let src = workspace().join("devstats-cli/src");
    let g = ModuleGraph::read(&src, "lib.rs");
    let files = g
        .files
        .values()
        .map(|f| {
            let mut text = std::fs::read_to_string(src.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            if f == "plan/graph.rs" {
                text.push_str("\nuse super::decide::Decision;\n");
            }
            (f.clone(), text)
        })
        .collect();
    let circles = ModuleGraph::from_files(&files, "lib.rs").cycles();
    assert!(
        circles
            .iter()
            .any(|c| c.contains(&"plan::graph".to_owned()) && c.contains(&"plan::decide".to_owned())),
        "{circles:?}"
    );
}
