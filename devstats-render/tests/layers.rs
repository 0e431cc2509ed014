//! The render crate's layers: a module imports only from its own layer or lower ones, and no two
//! modules import each other, directly or through others. Read from the sources (`crate::`
//! paths outside comments and `#[cfg(test)]` code), so a new upward import fails here.
//!
//! | layer | modules | what |
//! |---|---|---|
//! | 0 core | `common`, `facts`, `kind`, `object`, `policy`, `reference`, `resource`, `quantity` | objects, kinds, policies, names, labels, facts of the model |
//! | 1 parts | `security`, `task_job`, `pdb`, `hpa`, `testkit` | pod security, tool pods, availability |
//! | 2 components | one per `--only` name (and `operator`, `monitoring`, whose exporter sidecar is part of Patroni's pod) | |
//! | 3 routing | `cert_manager`, `gateway`, `ingress` | hosts, TLS, Traefik middlewares |
//! | 4 overlays | `delivery`, `network_policy` | sign-in, canaries, network policy |
//! | 5 check | `refs` | the cross-object reference check |
//! | 6 output | `output`, `gitops`, `flux` | YAML, JSON, files, the GitOps tree |
//!
//! `lib.rs` assembles the layers and may use all of them. Items defined at the crate root
//! (`crate::Ctx`, `crate::Component`, …) are not modules and are not checked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

const LAYERS: &[(&str, &[&str])] = &[
    (
        "core",
        &[
            "common",
            "facts",
            "kind",
            "object",
            "policy",
            "reference",
            "resource",
            "quantity",
        ],
    ),
    ("parts", &["security", "task_job", "pdb", "hpa", "testkit"]),
    (
        "components",
        &[
            "namespace",
            "secrets",
            "volumes",
            "patroni",
            "bootstrap",
            "provision",
            "sync",
            "affiliations",
            "grafana",
            "grafana_data",
            "api",
            "static_sites",
            "backups",
            "disaster_recovery",
            "reports",
            "operator",
            "monitoring",
        ],
    ),
    ("routing", &["cert_manager", "gateway", "ingress"]),
    ("overlays", &["delivery", "network_policy"]),
    ("check", &["refs"]),
    ("output", &["output", "gitops", "flux"]),
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, mods)| mods.contains(&module))
}

/// The product code of a source file: before its `#[cfg(test)]` module, without comments.
fn product_code(src: &str) -> String {
    let code = src.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with("//") { "" } else { l }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The crate modules a file's product code names: `crate::m::…` paths and the modules inside
/// `use crate::{…}` groups.
fn imports(code: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // A `use crate::{a::b, c, d::{e, f}}` group: the names at depth 1.
            let mut depth = 1usize;
            let mut at_item_start = true;
            let mut j = 0;
            let bytes = group.as_bytes();
            while j < bytes.len() && depth > 0 {
                let c = bytes[j] as char;
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    ',' if depth == 1 => at_item_start = true,
                    c if depth == 1 && at_item_start && (c.is_ascii_alphabetic() || c == '_') => {
                        let name = ident_at(&group[j..]);
                        if modules.contains(name) {
                            out.insert(name.to_owned());
                        }
                        at_item_start = false;
                        j += name.len();
                        continue;
                    }
                    _ => {}
                }
                j += 1;
            }
            rest = &group[j..];
        } else {
            let name = ident_at(rest);
            if modules.contains(name) {
                out.insert(name.to_owned());
            }
        }
    }
    out
}

/// Every module's imports, from the files below `src` (`m.rs` or `m/…`).
fn graph(files: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    let module_of = |path: &str| -> String {
        let first = path.split('/').next().unwrap_or(path);
        first.trim_end_matches(".rs").to_owned()
    };
    let modules: BTreeSet<String> = files
        .keys()
        .map(|p| module_of(p))
        .filter(|m| m != "lib")
        .collect();
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (path, src) in files {
        let m = module_of(path);
        if m == "lib" {
            continue;
        }
        let mut deps = imports(&product_code(src), &modules);
        deps.remove(&m);
        g.entry(m).or_default().extend(deps);
    }
    g
}

/// Upward imports and unknown modules, as messages.
fn layer_violations(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut out = Vec::new();
    for (m, deps) in g {
        let Some(lm) = layer_of(m) else {
            out.push(format!(
                "module `{m}` is in no layer: add it to LAYERS in tests/layers.rs"
            ));
            continue;
        };
        for d in deps {
            match layer_of(d) {
                Some(ld) if ld > lm => out.push(format!(
                    "`{m}` ({}) imports `{d}` ({}), a higher layer",
                    LAYERS[lm].0, LAYERS[ld].0
                )),
                _ => {}
            }
        }
    }
    out
}

/// The import cycles (strongly connected components of more than one module).
fn cycles(g: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    // Two modules are in one cycle when each reaches the other.
    let reach = |from: &str| -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![from.to_owned()];
        while let Some(m) = todo.pop() {
            for d in g.get(&m).into_iter().flatten() {
                if seen.insert(d.clone()) {
                    todo.push(d.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> = g.keys().map(|m| (m, reach(m))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for m in g.keys() {
        if done.contains(m) || !reaches[m].contains(m) {
            continue;
        }
        let comp: Vec<String> = reaches[m]
            .iter()
            .filter(|o| reaches.get(o).is_some_and(|r| r.contains(m)))
            .cloned()
            .collect();
        done.extend(comp.iter().cloned());
        out.push(comp);
    }
    out
}

fn sources() -> BTreeMap<String, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    let mut todo = vec![root.clone()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let p = e.unwrap_or_else(|e| panic!("{e}")).path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p
                    .strip_prefix(&root)
                    .unwrap_or(&p)
                    .to_string_lossy()
                    .replace('\\', "/");
                let src = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
                files.insert(rel, src);
            }
        }
    }
    files
}

#[test]
fn imports_point_down_and_never_in_a_circle() {
    let g = graph(&sources());
    assert!(g.len() > 30, "read only {} modules", g.len());
    // Imports the reader must see (downward ones), so an empty graph cannot pass.
    for (m, d) in [
        ("delivery", "gateway"),
        ("delivery", "ingress"),
        ("refs", "monitoring"),
        ("api", "facts"),
    ] {
        assert!(g[m].contains(d), "`{m}` imports `{d}`, read: {:?}", g[m]);
    }
    let problems = layer_violations(&g);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    let c = cycles(&g);
    assert!(c.is_empty(), "import cycles: {c:?}");
}

#[test]
fn the_checker_sees_upward_imports_groups_and_cycles() {
    let files: BTreeMap<String, String> = [
        ("lib.rs", "pub mod common; use crate::refs::check;"),
        (
            "common.rs",
            "use crate::{Ctx, ingress::build};\n// crate::output in a comment\n",
        ),
        (
            "ingress.rs",
            "fn f() { crate::common::x(); }\n#[cfg(test)]\nmod tests { use crate::refs; }",
        ),
        ("refs.rs", "use crate::{\n    common::{a, b},\n    delivery,\n};"),
        ("delivery.rs", ""),
        ("output/yaml.rs", "use crate::refs::x;"),
    ]
    .into_iter()
    .map(|(p, s)| (p.to_owned(), s.to_owned()))
    .collect();
    let g = graph(&files);
    assert_eq!(g["common"], BTreeSet::from(["ingress".to_owned()]));
    assert_eq!(g["ingress"], BTreeSet::from(["common".to_owned()]));
    assert_eq!(
        g["refs"],
        BTreeSet::from(["common".to_owned(), "delivery".to_owned()])
    );
    assert_eq!(g["output"], BTreeSet::from(["refs".to_owned()]));
    assert!(!g.contains_key("lib"));
    assert_eq!(
        layer_violations(&g),
        vec!["`common` (core) imports `ingress` (routing), a higher layer".to_owned()]
    );
    assert_eq!(cycles(&g), vec![vec!["common".to_owned(), "ingress".to_owned()]]);
}
