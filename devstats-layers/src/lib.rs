//! A crate's module graph, read from its sources, for tests that keep the workspace's houses in
//! order: which module imports which ([`ModuleGraph::read`]), the import circles
//! ([`ModuleGraph::cycles`]) and, for a crate whose top-level folders are layers, the imports
//! that point up ([`ModuleGraph::upward_imports`]). Dev-only; no dependencies.
//!
//! The module tree comes from the `mod` declarations, starting at the crate root (`lib.rs` or
//! `main.rs`); `#[cfg(test)]` items (test modules, test helpers) are left out, and so are
//! comments and string literals. An import is any path that names a module of the crate:
//! `crate::a::b…`, `super::…`, `self::…`, or a path starting with one of the current module's
//! own child modules, with `use` groups (`crate::{a::{b, c}, d}`) expanded. A path names the
//! deepest module it walks through (`crate::core::ctx::Ctx` names `core::ctx`).
//!
//! Not an import: a `mod` declaration, and the crate root's `pub use` lines (its public facade
//! re-exports modules that may use the root's own items, which is no circle in the code).
//!
//! It is a reader, not a compiler: macros are not expanded and an item imported under one name
//! and re-exported under another is followed only by its path. That is enough for the codes it
//! reads, and its tests say what it sees.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// A module path inside the crate, `""` for the crate root, e.g. `core::ctx`.
pub type ModulePath = String;

/// The modules of one crate and which modules each one's code names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleGraph {
    /// Every module (root included) and the modules its code names (not itself).
    pub imports: BTreeMap<ModulePath, BTreeSet<ModulePath>>,
    /// The source file of each module, relative to the source folder.
    pub files: BTreeMap<ModulePath, String>,
}

impl ModuleGraph {
    /// Reads the crate rooted at `dir/root` (e.g. `src`, `lib.rs`) from disk.
    ///
    /// # Panics
    /// When a file cannot be read or a declared module has no file: a test helper.
    #[must_use]
    pub fn read(dir: &Path, root: &str) -> Self {
        let mut files = BTreeMap::new();
        collect(dir, dir, &mut files);
        Self::from_files(&files, root)
    }

    /// The graph of the crate whose files (paths relative to the source folder, `/`-separated)
    /// are `files`, rooted at `root`.
    ///
    /// # Panics
    /// When a declared module has no file.
    #[must_use]
    pub fn from_files(files: &BTreeMap<String, String>, root: &str) -> Self {
        // The module tree, from the `mod` declarations.
        let mut modules: BTreeMap<ModulePath, (String, String)> = BTreeMap::new(); // path -> (file, code)
        let mut todo = vec![(String::new(), root.to_owned())];
        while let Some((module, file)) = todo.pop() {
            let src = files
                .get(&file)
                .unwrap_or_else(|| panic!("module `{module}`: no file {file}"));
            let code = product_code(src);
            // Children live next to a root or mod.rs file, else in a folder named like the file.
            let dir = match file.rsplit_once('/') {
                Some((d, "mod.rs")) => format!("{d}/"),
                Some((d, name)) => format!("{d}/{}/", name.trim_end_matches(".rs")),
                None if file == root => String::new(),
                None => format!("{}/", file.trim_end_matches(".rs")),
            };
            for child in mod_declarations(&code) {
                let path = join(&module, &child);
                let flat = format!("{dir}{child}.rs");
                let nested = format!("{dir}{child}/mod.rs");
                let f = if files.contains_key(&flat) {
                    flat
                } else if files.contains_key(&nested) {
                    nested
                } else {
                    panic!("module `{path}`: neither {flat} nor {nested}")
                };
                todo.push((path, f));
            }
            modules.insert(module, (file, code));
        }
        let known: BTreeSet<ModulePath> = modules.keys().cloned().collect();
        let mut imports = BTreeMap::new();
        for (module, (_, code)) in &modules {
            let code = if module.is_empty() {
                without_pub_use(code)
            } else {
                code.clone()
            };
            let mut deps: BTreeSet<ModulePath> = paths(&code, module, &known)
                .iter()
                .map(|p| resolve(p, &known))
                .collect();
            deps.remove(module);
            imports.insert(module.clone(), deps);
        }
        let files = modules.into_iter().map(|(m, (f, _))| (m, f)).collect();
        Self { imports, files }
    }

    /// The import circles: each set of two or more modules that all reach each other, sorted.
    #[must_use]
    pub fn cycles(&self) -> Vec<Vec<ModulePath>> {
        let reach = |from: &str| -> BTreeSet<ModulePath> {
            let mut seen = BTreeSet::new();
            let mut todo = vec![from.to_owned()];
            while let Some(m) = todo.pop() {
                for d in self.imports.get(&m).into_iter().flatten() {
                    if seen.insert(d.clone()) {
                        todo.push(d.clone());
                    }
                }
            }
            seen
        };
        let reaches: BTreeMap<&ModulePath, BTreeSet<ModulePath>> =
            self.imports.keys().map(|m| (m, reach(m))).collect();
        let mut done = BTreeSet::new();
        let mut out = Vec::new();
        for m in self.imports.keys() {
            if done.contains(m) || !reaches[m].contains(m) {
                continue;
            }
            let circle: Vec<ModulePath> = reaches[m]
                .iter()
                .filter(|o| reaches.get(o).is_some_and(|r| r.contains(m)))
                .cloned()
                .collect();
            done.extend(circle.iter().cloned());
            out.push(circle);
        }
        out
    }

    /// For a crate whose top-level modules are layers, lowest first (`layers`), and whose root
    /// sits between layers `root_after - 1` and `root_after`: every import that points to a
    /// higher layer, and every top-level module that is not a layer, as messages.
    #[must_use]
    pub fn upward_imports(&self, layers: &[&str], root_after: usize) -> Vec<String> {
        let rank = |m: &str| -> Option<f64> {
            if m.is_empty() {
                // Between two layers: after `root_after - 1`, before `root_after`.
                #[allow(clippy::cast_precision_loss)]
                return Some(root_after as f64 - 0.5);
            }
            let top = m.split("::").next().unwrap_or(m);
            #[allow(clippy::cast_precision_loss)]
            layers.iter().position(|l| *l == top).map(|i| i as f64)
        };
        let name = |m: &str| -> String {
            if m.is_empty() {
                "the crate root".to_owned()
            } else {
                format!("`{m}`")
            }
        };
        let layer = |m: &str| -> String {
            if m.is_empty() {
                "root".to_owned()
            } else {
                m.split("::").next().unwrap_or(m).to_owned()
            }
        };
        let mut out = Vec::new();
        for (m, deps) in &self.imports {
            let Some(rm) = rank(m) else {
                out.push(format!(
                    "{} ({}) is in no layer folder; layers: {}",
                    name(m),
                    self.files[m],
                    layers.join(", ")
                ));
                continue;
            };
            for d in deps {
                if let Some(rd) = rank(d)
                    && rd > rm
                {
                    out.push(format!(
                        "{} ({}) imports {} ({}), a higher layer",
                        name(m),
                        layer(m),
                        name(d),
                        layer(d)
                    ));
                }
            }
        }
        out
    }
}

fn join(parent: &str, child: &str) -> ModulePath {
    if parent.is_empty() {
        child.to_owned()
    } else {
        format!("{parent}::{child}")
    }
}

fn collect(root: &Path, dir: &Path, files: &mut BTreeMap<String, String>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for e in entries {
        let p = e.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path();
        if p.is_dir() {
            collect(root, &p, files);
        } else if p.extension().is_some_and(|x| x == "rs") {
            let rel = p
                .strip_prefix(root)
                .unwrap_or(&p)
                .to_string_lossy()
                .replace('\\', "/");
            let src = std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            files.insert(rel, src);
        }
    }
}

/// The code of a source file as the checker reads it: comments and the contents of string and
/// character literals blanked, `#[cfg(test)]` items removed.
#[must_use]
pub fn product_code(src: &str) -> String {
    without_test_items(&blank_comments_and_literals(src))
}

fn blank_comments_and_literals(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0usize;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    if b[i] == '\n' {
                        out.push('\n');
                    }
                    i += 1;
                }
            }
        } else if c == 'r'
            && (next == Some('"') || next == Some('#'))
            && !b
                .get(i.wrapping_sub(1))
                .is_some_and(|p| p.is_alphanumeric() || *p == '_')
        {
            // A raw string r"…" or r#"…"#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                match b.get(j) {
                    None => break,
                    Some('"') if (1..=hashes).all(|k| b.get(j + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some('\n') => out.push('\n'),
                    _ => {}
                }
                j += 1;
            }
            out.push_str("\"\"");
            i = j;
        } else if c == '"' {
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    i += 1;
                }
                if b.get(i) == Some(&'\n') {
                    out.push('\n');
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{1F600}'), or a lifetime ('a), left as it is.
            if next == Some('\\') {
                // Past the backslash and the escaped character.
                let mut j = i + 3;
                while j < b.len() && b[j] != '\'' {
                    j += 1;
                }
                out.push_str("' '");
                i = j + 1;
            } else if b.get(i + 2) == Some(&'\'') {
                out.push_str("' '");
                i += 3;
            } else {
                out.push(c);
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// Removes each item marked `#[cfg(test)]` (with the attributes after it): up to its `;` or its
/// balanced `{…}` block.
fn without_test_items(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(i) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..i]);
        let item = &rest[i..];
        let b = item.as_bytes();
        let mut j = 0;
        // Open `[` `(` `{` (attributes, parameter lists, bodies) within the item.
        let (mut bracket, mut paren, mut brace) = (0i32, 0i32, 0i32);
        while j < b.len() {
            let flat = bracket == 0 && paren == 0 && brace == 0;
            match b[j] {
                // The end of the enclosing block or list: the item ended before it.
                b'}' | b')' if flat => break,
                b';' | b',' if flat => {
                    j += 1;
                    break;
                }
                b'[' => bracket += 1,
                b']' => bracket -= 1,
                b'(' => paren += 1,
                b')' => paren -= 1,
                b'{' => brace += 1,
                b'}' => {
                    brace -= 1;
                    if brace == 0 && bracket == 0 && paren == 0 {
                        j += 1;
                        break;
                    }
                }
                _ => {}
            }
            j += 1;
        }
        rest = &item[j.min(item.len())..];
    }
    out.push_str(rest);
    out
}

/// The crate root's code without its `pub use …;` lines (the facade).
fn without_pub_use(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(i) = rest.find("pub use ") {
        out.push_str(&rest[..i]);
        let j = rest[i..].find(';').map_or(rest.len(), |j| i + j + 1);
        rest = &rest[j..];
    }
    out.push_str(rest);
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn ident_at(s: &str) -> &str {
    let end = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
    &s[..end]
}

/// The names of the `mod x;` declarations (not inline `mod x { … }` blocks) in product code.
fn mod_declarations(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (i, _) in code.match_indices("mod ") {
        if code[..i].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let rest = &code[i + 4..];
        let name = ident_at(rest.trim_start());
        let after = rest.trim_start()[name.len()..].trim_start();
        if !name.is_empty() && after.starts_with(';') {
            out.push(name.to_owned());
        }
    }
    out
}

/// Every path in `code` (of module `module`) that starts at a module of the crate, as absolute
/// segment lists from the crate root; `use` groups expanded.
fn paths(code: &str, module: &str, known: &BTreeSet<ModulePath>) -> Vec<Vec<String>> {
    let here: Vec<String> = if module.is_empty() {
        Vec::new()
    } else {
        module.split("::").map(str::to_owned).collect()
    };
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < code.len() {
        let c = bytes[i] as char;
        let boundary = i == 0 || {
            let p = bytes[i - 1] as char;
            !(is_ident(p) || p == ':')
        };
        if !(boundary && (c.is_ascii_alphabetic() || c == '_')) {
            i += 1;
            continue;
        }
        let word = ident_at(&code[i..]);
        let after = &code[i + word.len()..];
        if !after.starts_with("::") {
            i += word.len();
            continue;
        }
        // Where the path starts.
        let mut base: Option<Vec<String>> = match word {
            "crate" => Some(Vec::new()),
            "self" => Some(here.clone()),
            "super" => here.split_last().map(|(_, p)| p.to_vec()),
            w if known.contains(&join(module, w)) => {
                let mut b = here.clone();
                b.push(w.to_owned());
                Some(b)
            }
            _ => None,
        };
        let mut j = i + word.len() + 2;
        // `super::super::…`
        while word == "super" && code[j..].starts_with("super::") {
            base = base.and_then(|b| b.split_last().map(|(_, p)| p.to_vec()));
            j += "super::".len();
        }
        let Some(base) = base else {
            i = j;
            continue;
        };
        let (trees, end) = use_tree(code, j);
        for t in trees {
            let mut p = base.clone();
            p.extend(t);
            out.push(p);
        }
        i = end.max(j);
    }
    out
}

/// Parses a use tree (`a::b`, `a::{b, c::d}`, `*`) at `start`: its paths and where it ends.
fn use_tree(code: &str, start: usize) -> (Vec<Vec<String>>, usize) {
    let mut i = skip_ws(code, start);
    if code[i..].starts_with('{') {
        let mut out = Vec::new();
        i += 1;
        loop {
            i = skip_ws(code, i);
            if i >= code.len() {
                return (out, i);
            }
            if code[i..].starts_with('}') {
                return (out, i + 1);
            }
            if code[i..].starts_with(',') {
                i += 1;
                continue;
            }
            let (trees, end) = use_tree(code, i);
            out.extend(trees);
            // Skip an alias (`as x`) and anything else up to the next `,` or `}`.
            i = end;
            while i < code.len() && !code[i..].starts_with(',') && !code[i..].starts_with('}') {
                if code[i..].starts_with('{') {
                    // Malformed for a use tree (e.g. a struct literal): stop here.
                    return (out, i);
                }
                i += code[i..].chars().next().map_or(1, char::len_utf8);
            }
        }
    }
    let word = ident_at(&code[i..]);
    if word.is_empty() {
        return (vec![Vec::new()], i);
    }
    let after = i + word.len();
    if code[after..].starts_with("::") {
        let (trees, end) = use_tree(code, after + 2);
        let out = trees
            .into_iter()
            .map(|mut t| {
                if word != "self" {
                    t.insert(0, word.to_owned());
                }
                t
            })
            .collect();
        return (out, end);
    }
    let segment = if word == "self" {
        Vec::new()
    } else {
        vec![word.to_owned()]
    };
    (vec![segment], after)
}

fn skip_ws(code: &str, mut i: usize) -> usize {
    while i < code.len() && code.as_bytes()[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

/// The deepest module a path (segments from the root) walks through.
fn resolve(path: &[String], known: &BTreeSet<ModulePath>) -> ModulePath {
    let mut best = String::new();
    let mut cur = String::new();
    for s in path {
        cur = join(&cur, s);
        if known.contains(&cur) {
            best.clone_from(&cur);
        } else {
            break;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> BTreeMap<String, String> {
        list.iter()
            .map(|(p, s)| ((*p).to_owned(), (*s).to_owned()))
            .collect()
    }

    fn set(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn reads_paths_groups_super_and_children_not_comments_strings_or_tests() {
        let g = ModuleGraph::from_files(
            &files(&[
                (
                    "lib.rs",
                    "pub mod a;\nmod b;\n#[cfg(test)]\nmod t;\npub use crate::b::X;\nfn f() { a::g(); }",
                ),
                (
                    "a/mod.rs",
                    "pub mod x;\npub mod y;\nuse crate::{b, a::{x::{P, Q}, y}};\n// crate::c\nconst S: &str = \"crate::c::q\";",
                ),
                (
                    "a/x.rs",
                    "use super::y::Z;\nfn f<'a>(c: char) -> bool { c == '{' }\nuse crate::b;",
                ),
                (
                    "a/y.rs",
                    "use super::super::b as bee;\n#[cfg(test)]\nmod tests {\n    use crate::a::x;\n}\nfn g() { self::h(); }",
                ),
                (
                    "b.rs",
                    "use crate::render;\n/* crate::a::x */\nlet s = r#\"crate::a\"#;",
                ),
                ("t.rs", "use crate::a;"),
            ]),
            "lib.rs",
        );
        assert_eq!(
            g.imports.keys().cloned().collect::<Vec<_>>(),
            ["", "a", "a::x", "a::y", "b"],
            "test-only modules are left out"
        );
        assert_eq!(
            g.imports[""],
            set(&["a"]),
            "the facade's pub use is not an import"
        );
        assert_eq!(g.imports["a"], set(&["a::x", "a::y", "b"]));
        assert_eq!(g.imports["a::x"], set(&["a::y", "b"]));
        assert_eq!(g.imports["a::y"], set(&["b"]));
        assert_eq!(g.imports["b"], set(&[""]), "crate::render names the root");
        assert_eq!(g.files["a::x"], "a/x.rs");
        assert_eq!(
            g.cycles(),
            [["", "a", "a::x", "a::y", "b"].map(str::to_owned).to_vec()],
            "b names the root, which names a"
        );
    }

    #[test]
    fn finds_circles_and_upward_imports() {
        let g = ModuleGraph::from_files(
            &files(&[
                ("lib.rs", "mod low;\nmod high;\nmod stray;\nuse crate::high::h;"),
                ("low/mod.rs", "mod p;\nmod q;"),
                ("low/p.rs", "use crate::low::q::x;"),
                ("low/q.rs", "fn f() { crate::low::p::y(); crate::high::z::w(); }"),
                ("high/mod.rs", "mod z;"),
                ("high/z.rs", "use crate::{low::p, f};"),
                ("stray.rs", ""),
            ]),
            "lib.rs",
        );
        assert_eq!(
            g.cycles(),
            vec![vec![
                "high::z".to_owned(),
                "low::p".to_owned(),
                "low::q".to_owned()
            ]]
        );
        assert_eq!(
            g.upward_imports(&["low", "high"], 2),
            [
                "`high::z` (high) imports the crate root (root), a higher layer",
                "`low::q` (low) imports `high::z` (high), a higher layer",
                "`stray` (stray.rs) is in no layer folder; layers: low, high",
            ]
        );
        assert_eq!(
            g.upward_imports(&["low", "high"], 1),
            [
                "the crate root (root) imports `high` (high), a higher layer",
                "`low::q` (low) imports `high::z` (high), a higher layer",
                "`stray` (stray.rs) is in no layer folder; layers: low, high",
            ]
        );
    }
}
