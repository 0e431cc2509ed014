//! `devstats-k8s render MODEL --gitops DIR`: writes the Flux repository tree of
//! [`devstats_render::gitops`] into DIR.
//!
//! DIR must be empty (hidden entries such as a clone's `.git` aside) or written by an earlier
//! `--gitops` render (a marker file lists the files it wrote). A render replaces what earlier renders wrote under the rendered environments'
//! directories (`clusters/<env>/`, `apps/<env>/`, `infrastructure/<env>/`): unchanged files are not
//! rewritten, files no longer rendered are removed, other environments' files and foreign files
//! (e.g. `flux bootstrap`'s) are left alone, and placeholders (SealedSecrets, the `flux-system`
//! stub) are written only when absent.

use std::collections::BTreeSet;
use std::path::{Component, Path};
use std::process::ExitCode;

use devstats_model::GitOpsSecrets;
use devstats_render::gitops::{GitOpsEnv, GitOpsFile, env_roots, tree};
use miette::{IntoDiagnostic, WrapErr, miette};

/// Marker file that identifies a directory written by `render --gitops` and lists its files.
const MARKER: &str = ".devstats-k8s-gitops";
/// Marker prefix of files written once and kept (placeholders the operator fills in).
const KEEP: &str = "keep ";

/// What a write did.
#[derive(Debug, Default)]
struct Counts {
    written: usize,
    unchanged: usize,
    removed: usize,
    kept: usize,
}

/// Runs `render --gitops DIR` for environment `env` (every environment when `None`).
pub fn run(model: &Path, env: Option<&str>, dir: &Path) -> miette::Result<ExitCode> {
    let envs: Vec<(String, devstats_model::Model)> = match env {
        Some(name) => {
            let m = devstats_model::load_env(model, Some(name)).map_err(crate::diag::report)?;
            vec![(name.to_owned(), m)]
        }
        None => devstats_model::load_environments(model)
            .map_err(crate::diag::report)?
            .into_iter()
            .map(|e| (e.name, e.model))
            .collect(),
    };
    let list: Vec<GitOpsEnv<'_>> = envs
        .iter()
        .map(|(name, model)| GitOpsEnv { name, model })
        .collect();
    let files = tree(&list).map_err(|e| miette!("{}: {e}", model.display()))?;
    let roots: Vec<String> = list.iter().flat_map(|e| env_roots(e.name)).collect();
    let counts = write_tree(dir, &files, &roots)?;
    let names: Vec<&str> = list.iter().map(|e| e.name).collect();
    eprintln!(
        "{}: environment{} {}: {} files ({} written, {} unchanged, {} removed, {} placeholders kept)",
        dir.display(),
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        files.len(),
        counts.written,
        counts.unchanged,
        counts.removed,
        counts.kept
    );
    for (name, model) in &envs {
        if model.instance.gitops.secrets == GitOpsSecrets::Omit {
            eprintln!(
                "note: environment {name}: Secrets are not in the tree; they must exist before the first \
                 sync: see {}",
                dir.join("apps").join(name).join("SECRETS.md").display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A generated relative path, checked to stay inside the tree.
fn safe(rel: &str) -> miette::Result<&Path> {
    let p = Path::new(rel);
    if p.components().all(|c| matches!(c, Component::Normal(_))) {
        Ok(p)
    } else {
        Err(miette!("refusing to write outside the tree: {rel}"))
    }
}

fn write_tree(dir: &Path, files: &[GitOpsFile], roots: &[String]) -> miette::Result<Counts> {
    let marker = dir.join(MARKER);
    let mut previous: Vec<String> = Vec::new();
    if dir.exists() {
        // Hidden entries (`.git`, `.gitignore` of a fresh clone) do not make it foreign.
        let non_empty = std::fs::read_dir(dir)
            .into_diagnostic()
            .wrap_err_with(|| format!("reading {}", dir.display()))?
            .filter_map(Result::ok)
            .any(|e| !e.file_name().to_string_lossy().starts_with('.'));
        if marker.exists() {
            let text = std::fs::read_to_string(&marker).into_diagnostic()?;
            previous = text
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .map(str::to_owned)
                .collect();
        } else if non_empty {
            return Err(miette!(
                "{} is not empty and was not written by `render --gitops`; refusing to write into it",
                dir.display()
            ));
        }
    }
    std::fs::create_dir_all(dir).into_diagnostic()?;
    let in_roots = |p: &str| roots.iter().any(|r| p.starts_with(r.as_str()));
    let new: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
    let mut counts = Counts::default();
    let mut entries: BTreeSet<String> = BTreeSet::new();
    for entry in &previous {
        if let Some(p) = entry.strip_prefix(KEEP) {
            // Placeholders the operator may have filled in: never removed.
            if dir.join(safe(p)?).exists() && !new.contains(p) {
                entries.insert(entry.clone());
            }
            continue;
        }
        if new.contains(entry.as_str()) {
            continue;
        }
        if !in_roots(entry) {
            entries.insert(entry.clone());
            continue;
        }
        let path = dir.join(safe(entry)?);
        if path.is_file() {
            std::fs::remove_file(&path)
                .into_diagnostic()
                .wrap_err_with(|| format!("removing {}", path.display()))?;
            counts.removed += 1;
        }
        let mut parent = path.parent();
        while let Some(p) = parent {
            if p == dir || std::fs::remove_dir(p).is_err() {
                break;
            }
            parent = p.parent();
        }
    }
    for f in files {
        let path = dir.join(safe(&f.path)?);
        if f.create_only {
            entries.insert(format!("{KEEP}{}", f.path));
            if path.exists() {
                counts.kept += 1;
                continue;
            }
        } else {
            entries.insert(f.path.clone());
        }
        if std::fs::read(&path).ok().as_deref() == Some(f.contents.as_bytes()) {
            counts.unchanged += 1;
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).into_diagnostic()?;
        }
        std::fs::write(&path, &f.contents)
            .into_diagnostic()
            .wrap_err_with(|| format!("writing {}", path.display()))?;
        counts.written += 1;
    }
    let mut text = String::from(
        "# Files written by devstats-k8s render --gitops (removed when no longer rendered; `keep`: \
         written once, never overwritten or removed). Do not edit.\n",
    );
    for e in &entries {
        text.push_str(e);
        text.push('\n');
    }
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(&marker, text).into_diagnostic()?;
    }
    Ok(counts)
}
