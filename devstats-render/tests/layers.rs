//! The render crate's layers: a module's layer is its folder under `src/` (`core/`, `parts/`, …),
//! a module imports only from its own layer or lower ones, and no modules import each other in
//! a circle, directly or through others. Read from the sources by `devstats-layers` (paths in
//! product code, outside comments, strings and `#[cfg(test)]` items), so a new upward import, a
//! circle, or a module outside the layer folders fails here.
//!
//! The order of the layers is the one thing written down here; which module is in which layer
//! is where its file is. `lib.rs` is the assembly: its `render` uses every layer up to `check`,
//! and `output` (the GitOps tree renders each environment) may call it; its `pub use` facade is
//! not an import.

use std::collections::BTreeMap;
use std::path::Path;

use devstats_layers::ModuleGraph;

/// The layers, lowest first.
const LAYERS: &[&str] = &[
    "core",
    "parts",
    "components",
    "routing",
    "overlays",
    "check",
    "output",
];
/// The crate root (`render`) sits below this layer.
const ROOT_BELOW: usize = 6;

fn render_crate() -> ModuleGraph {
    ModuleGraph::read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), "lib.rs")
}

#[test]
fn imports_point_down_and_never_in_a_circle() {
    let g = render_crate();
    assert!(g.imports.len() > 40, "read only {} modules", g.imports.len());
    // Imports the reader must see, so a reader that sees nothing cannot pass.
    for (m, d) in [
        ("overlays::canary", "routing::gateway"),
        ("overlays::sign_in", "routing::traefik"),
        ("check::refs", "components::monitoring"),
        ("components::api", "core::facts"),
        ("output::gitops", ""),
        ("", "check::refs"),
    ] {
        assert!(
            g.imports[m].contains(d),
            "`{m}` imports `{d}`, read: {:?}",
            g.imports[m]
        );
    }
    let problems = g.upward_imports(LAYERS, ROOT_BELOW);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let c = g.cycles();
    assert!(c.is_empty(), "import circles: {c:?}");
}

/// The real sources with `edit` applied to one file: what the test above would read.
fn edited(file: &str, edit: impl Fn(&str) -> String) -> ModuleGraph {
    let g = render_crate();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files: BTreeMap<String, String> = g
        .files
        .values()
        .map(|f| {
            let text = std::fs::read_to_string(src.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"));
            let text = if f == file { edit(&text) } else { text };
            (f.clone(), text)
        })
        .collect();
    ModuleGraph::from_files(&files, "lib.rs")
}

#[test]
fn an_upward_import_a_circle_or_a_stray_module_fails() {
    // core importing a component: upward.
    let g = edited("core/facts.rs", |s| {
        format!("{s}\nuse crate::components::grafana::build;\n")
    });
    assert_eq!(
        g.upward_imports(LAYERS, ROOT_BELOW),
        ["`core::facts` (core) imports `components::grafana` (components), a higher layer"]
    );
    // A component calling the assembly: upward too (the root is above `check`).
    let g = edited("components/api.rs", |s| {
        format!("{s}\nfn f() {{ let _ = crate::render; }}\n")
    });
    assert_eq!(
        g.upward_imports(LAYERS, ROOT_BELOW),
        ["`components::api` (components) imports the crate root (root), a higher layer"]
    );
    // Two components importing each other: same layer, but a circle.
    let g = edited("components/sync.rs", |s| {
        format!("{s}\nuse crate::components::affiliations::build as affiliations;\n")
    });
    assert!(g.upward_imports(LAYERS, ROOT_BELOW).is_empty());
    assert_eq!(
        g.cycles(),
        [[
            "components::affiliations".to_owned(),
            "components::sync".to_owned()
        ]]
    );
    // A module outside the layer folders.
    let mut files: BTreeMap<String, String> = BTreeMap::new();
    for f in render_crate().files.values() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src").join(f);
        files.insert(f.clone(), std::fs::read_to_string(path).unwrap_or_default());
    }
    if let Some(lib) = files.get_mut("lib.rs") {
        lib.push_str("\nmod helpers;\n");
    }
    files.insert("helpers.rs".to_owned(), String::new());
    let problems = ModuleGraph::from_files(&files, "lib.rs").upward_imports(LAYERS, ROOT_BELOW);
    assert_eq!(
        problems,
        [
            "`helpers` (helpers.rs) is in no layer folder; layers: core, parts, components, routing, overlays, check, output"
        ]
    );
}
