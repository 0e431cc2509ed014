//! The typed model of a DevStats deployment: **foundations → projects → GitHub repos**, plus the
//! instance (namespace, ingress, images, storage, Patroni …) that serves them.
//!
//! - [`load`] / [`parse_str`] read a model file, check its structure against the JSON Schema, check
//!   every rule, and report *all* problems with `file:line:column` and field path.
//! - [`environments`]: a file may declare environments (test, prod …) overlaying its instance;
//!   [`load_env`] resolves one (the default without a name), [`load_environments`] all of them.
//! - [`Model::schedules`] computes sync and affiliations cron schedules (the `splitcrons` algorithm).
//! - No Kubernetes types and no IO beyond reading the file it is given.
//!
//! ```
//! let src = include_str!("../../fixtures/example.yaml");
//! let model = devstats_model::parse_str("example.yaml", src).expect("valid");
//! assert!(model.projects.len() >= 3);
//! ```

pub mod backup;
pub mod delivery;
pub mod diagnostics;
pub mod environments;
pub mod hardening;
pub mod monitoring;
mod node_de;
pub mod schedule;
pub mod source;
pub mod structure;
#[cfg(feature = "testing")]
pub mod testing;
pub mod types;
pub mod validate;
pub mod values;

use std::sync::{Arc, OnceLock};

pub use diagnostics::{Invalid, LoadError, Problem};
pub use environments::{EnvModel, Environments, json_schema};
pub use types::*;
pub use values::*;

use source::Path;

/// Largest model file accepted: 64 MiB, eight times a generated 10,000-project model (about
/// 8 MiB). Files are read only up to this size, so a huge or endless input costs no more.
pub const MAX_FILE_BYTES: usize = 64 << 20;

fn schema() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA.get_or_init(environments::json_schema)
}

/// The schema of a file with environments before merging (the base instance may be partial).
fn relaxed_schema() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA.get_or_init(|| environments::base_relaxed_schema(schema()))
}

/// Reads and validates a model file; with environments, resolves the default one.
pub fn load(path: &std::path::Path) -> Result<Model, LoadError> {
    load_env(path, None)
}

/// Reads and validates a model file and resolves environment `env` (the model's default
/// environment when `None`). Naming an environment the file does not define is a located problem
/// that lists the defined ones.
pub fn load_env(path: &std::path::Path, env: Option<&str>) -> Result<Model, LoadError> {
    let (file, src) = read(path)?;
    parse_str_env(&file, &src, env)
}

/// Reads and validates a model file and resolves every environment it declares (in file order),
/// or its one instance when it declares none. Problems of all environments are reported at once.
pub fn load_environments(path: &std::path::Path) -> Result<Vec<EnvModel>, LoadError> {
    let (file, src) = read(path)?;
    parse_environments(&file, &src)
}

/// The problem of a file over [`MAX_FILE_BYTES`]; `size` is its length when known (a pipe is
/// only known to be longer than the limit).
fn too_large(file: &str, size: Option<u64>) -> LoadError {
    let what = match size {
        Some(n) => format!("the file is {} ({n} bytes)", mib(n)),
        None => "the file is longer".to_owned(),
    };
    invalid(
        file,
        "",
        vec![
            Problem::new(
                Path::root(),
                format!(
                    "{what}; a model file may be at most {} ({MAX_FILE_BYTES} bytes)",
                    mib(MAX_FILE_BYTES as u64)
                ),
            )
            .help("a 10,000-project model is about 8 MiB; is this the right file?"),
        ],
    )
}

/// `n` bytes in MiB with one decimal.
#[allow(clippy::cast_precision_loss)]
fn mib(n: u64) -> String {
    format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20))
}

/// Reads at most [`MAX_FILE_BYTES`] (plus one, to tell a longer file): the size is checked
/// before anything else, so no later step ever sees a larger text.
fn read_capped(path: &std::path::Path, file: &str) -> Result<Vec<u8>, LoadError> {
    use std::io::Read as _;
    let io = |e: std::io::Error| LoadError::Io {
        file: file.to_owned(),
        message: e.to_string(),
    };
    let f = std::fs::File::open(path).map_err(io)?;
    let known = f
        .metadata()
        .ok()
        .filter(std::fs::Metadata::is_file)
        .map(|m| m.len());
    if let Some(n) = known
        && n > MAX_FILE_BYTES as u64
    {
        return Err(too_large(file, Some(n)));
    }
    let mut bytes = Vec::with_capacity(known.map_or(0, |n| usize::try_from(n).unwrap_or(0)));
    f.take(MAX_FILE_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(too_large(file, None));
    }
    Ok(bytes)
}

fn read(path: &std::path::Path) -> Result<(String, String), LoadError> {
    let file = path.display().to_string();
    let bytes = read_capped(path, &file)?;
    match String::from_utf8(bytes) {
        Ok(s) => Ok((file, s)),
        Err(e) => {
            let off = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
            let valid = std::str::from_utf8(&e.as_bytes()[..off]).unwrap_or_default();
            let line = valid.matches('\n').count() + 1;
            let column = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            let mut p = Problem::new(
                Path::root(),
                format!("the file is not UTF-8 (invalid byte at offset {off})"),
            )
            .help("save the file as UTF-8");
            p.pos = Some(source::Pos {
                offset: off,
                line,
                column,
            });
            p.len = 1;
            Err(invalid(&file, &text, vec![p]))
        }
    }
}

fn invalid(file: &str, src: &str, problems: Vec<Problem>) -> LoadError {
    let mut inv = Invalid {
        file: file.to_owned(),
        source: Arc::from(src),
        problems,
    };
    inv.normalize();
    LoadError::Invalid(Box::new(inv))
}

/// Parses and validates model text; `file` names it in messages. With environments, resolves the
/// default one.
pub fn parse_str(file: &str, src: &str) -> Result<Model, LoadError> {
    parse_str_env(file, src, None)
}

/// Parses and validates model text and resolves environment `env` (the default one when `None`).
pub fn parse_str_env(file: &str, src: &str, env: Option<&str>) -> Result<Model, LoadError> {
    let mut all = parse_inner(file, src, environments::Which::One(env))?;
    match all.pop() {
        Some(e) => Ok(e.model),
        None => Err(invalid(
            file,
            src,
            vec![Problem::new(Path::root(), "no environment was resolved")],
        )),
    }
}

/// Parses and validates model text and resolves every environment it declares (in file order),
/// or its one instance when it declares none.
pub fn parse_environments(file: &str, src: &str) -> Result<Vec<EnvModel>, LoadError> {
    parse_inner(file, src, environments::Which::All)
}

/// The rules, the project selection and the schedules of one resolved model (unlocated).
fn check_model(model: &Model) -> Vec<Problem> {
    let mut problems = validate::validate(model);
    problems.extend(environments::check_selection(model));
    if problems.is_empty()
        && let Err(e) = model.schedules()
    {
        problems.push(Problem::new(
            Path::root().key("instance").key("schedules"),
            e.to_string(),
        ));
    }
    problems
}

fn parse_inner(file: &str, src: &str, which: environments::Which<'_>) -> Result<Vec<EnvModel>, LoadError> {
    if src.len() > MAX_FILE_BYTES {
        return Err(too_large(file, Some(src.len() as u64)));
    }
    let root = match source::parse(src) {
        Ok(Some(root)) => root,
        Ok(None) => {
            return Err(invalid(
                file,
                src,
                vec![
                    Problem::new(Path::root(), "the file is empty")
                        .help("a model has `instance`, `foundations` and `projects`"),
                ],
            ));
        }
        Err(e) => {
            let mut p = Problem::new(Path::root(), format!("YAML syntax error: {}", e.message));
            p.pos = Some(e.pos);
            p.len = 1;
            if e.message.contains("found a tab") {
                // The parser points at the token it was scanning; point at the tab itself.
                p.pos = Some(next_tab(src, e.pos));
                p = p.help("indent with spaces: YAML does not allow tabs in indentation");
            }
            return Err(invalid(file, src, vec![p]));
        }
    };
    if environments::find(&root).is_some() {
        return environments::resolve(&root, which, schema(), relaxed_schema(), &check_model)
            .map_err(|problems| invalid(file, src, problems));
    }
    if let environments::Which::One(Some(name)) = which {
        return Err(invalid(file, src, vec![environments::undeclared(&root, name)]));
    }
    let structural = structure::check(&root, schema());
    if !structural.is_empty() {
        return Err(invalid(file, src, structural));
    }
    let model: Model = match node_de::from_node(&root) {
        Ok(m) => m,
        Err(e) => return Err(invalid(file, src, vec![e.into_problem()])),
    };
    let mut problems = check_model(&model);
    if problems.is_empty() {
        return Ok(vec![EnvModel {
            name: model.instance.name.to_string(),
            default: true,
            declared: false,
            model,
        }]);
    }
    for p in &mut problems {
        p.locate(Some(&root));
    }
    Err(invalid(file, src, problems))
}

/// The position of the first tab at or after `from` (`from` itself when there is none).
fn next_tab(src: &str, from: source::Pos) -> source::Pos {
    let start = from.offset.min(src.len());
    let Some(rel) = src.get(start..).and_then(|rest| rest.find('\t')) else {
        return from;
    };
    let between = &src[start..start + rel];
    match between.rfind('\n') {
        None => source::Pos {
            offset: start + rel,
            line: from.line,
            column: from.column + between.chars().count(),
        },
        Some(nl) => source::Pos {
            offset: start + rel,
            line: from.line + between.matches('\n').count(),
            column: between[nl + 1..].chars().count() + 1,
        },
    }
}
