//! Import of a `cncf/devstats-helm` values file into the model.
//!
//! [`import`] reads the chart's `values.yaml` (text), applies `--set key=value` overrides with
//! Helm's semantics, and builds a [`Model`] that describes what that chart release deploys:
//!
//! - `domains` become [`Foundation`]s (`test` → `test`, `prod` → `cncf` with site `prod`, `cdf` →
//!   `cdf`, `graphql` → `graphql`, any other short name → a foundation of that name);
//! - the instance takes its role from `testServer`/`prodServer` (like the chart's schedule choice)
//!   and serves the domains in `[indexDomainsFrom, indexDomainsTo)`;
//! - every top-level knob with a place in the model is copied (images, storage, resources,
//!   Patroni, CronJob policies, tool settings …);
//! - `projects` become [`Project`]s in values order, their foundations taken from the `domains`
//!   flag vector; the chart's precomputed schedules are kept as overrides where they differ from
//!   the computed ones, so that importing changes nothing live.
//!
//! Optionally the images' `devstats-helm/projects.yaml` adds GitHub selectors (parsed from
//! `command_line`), maturity and archived status.
//!
//! Values the model cannot represent (index ranges, object name overrides, command overrides,
//! partial-release skip flags) produce a warning each that says what to use instead. Secret
//! values are never copied.
//!
//! The sibling charts' values are told apart by their keys ([`Dialect`]):
//!
//! - `cncf/devstats-helm-graphql` and `cncf/devstats-helm-example` (`domainName`, one `cron` per
//!   project, no `domains`) import as one foundation on `domainName` serving every listed project,
//!   each project's `cron` kept as its sync schedule, `mainProject` as the alias that routes the
//!   bare domain to that project's Grafana, and the API, static sites and backups off (those charts
//!   have none);
//! - `cncf/devstats-helm-lf` (`deployEnv`, `esSecret`, `esBulkSize`, `useES` …) is refused with
//!   [`ImportError::Refused`]: LoadBalancer Services instead of Ingress hosts, an external
//!   PostgreSQL and Elasticsearch have no place in the model;
//! - one `cron` per project without `domainName` is refused too (nothing says where to serve).
//!
//! An import that would serve no project is [`ImportError::NoProjects`], never an empty model.
//! Errors about a key in the values file carry its line and column ([`ImportError::location`]).
//!
//! The function is pure: no IO, deterministic output, no panics.
//!
//! ```
//! use devstats_import::{ImportOptions, import};
//!
//! let values = include_str!("../../fixtures/helm/values.yaml");
//! let opts = ImportOptions {
//!     sets: vec![("prodServer".into(), "1".into()), ("testServer".into(), String::new())],
//!     ..ImportOptions::default()
//! };
//! let imported = import(values, &opts).expect("imports");
//! assert_eq!(imported.model.projects.len(), 283);
//! assert_eq!(imported.model.instance.role, devstats_model::Role::Prod);
//! ```

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::Deserialize;
use serde_json::{Map, Value};

use devstats_model::environments::Environments;
use devstats_model::source::{Node, Path as SourcePath, Pos, Step};
use devstats_model::types::{
    AccessMode, AffiliationSettings, BackupsJob, Components, CpuMemory, CronPolicy, Foundation, GiantMode,
    GithubSelectors, Images, IngressSettings, Instance, IssuerKind, IssuerRef, Maturity, Model,
    NodeSelectors, Patroni, PostgresParameters, Project, ProjectStatus, PullPolicy, Replicas, ReservedSlot,
    ResourceSpec, Resources, Role, ScheduleOverride, ScheduleSettings, ScheduledJob, SecretNames, Storage,
    ToolSettings, WalLevel,
};
use devstats_model::values::{
    CronSchedule, DbName, Hostname, ImageRef, Name, PgDuration, PgSize, Quantity, RepoName, RunLimits,
};

/// What to import besides the values file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// `--set key=value` overrides, applied in order with Helm's typing (see [`parse_set`]).
    pub sets: Vec<(String, String)>,
    /// Text of the images' `devstats-helm/projects.yaml` (GitHub selectors, maturity, archived
    /// status); without it every project selects only its main repository.
    pub projects_yaml: Option<String>,
    /// Drop the chart's precomputed schedules and use the computed ones everywhere.
    pub recompute_schedules: bool,
}

/// The result of an import.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The model (run it through [`devstats_model::validate::validate`] or serialize and load it); with
    /// environments, its instance is the base.
    pub model: Model,
    /// Everything that was not carried over exactly, one sentence each.
    pub warnings: Vec<String>,
    /// The environments block, for [`import_environments`].
    pub environments: Option<Environments>,
    /// Which chart's values these are.
    pub dialect: Dialect,
}

impl Imported {
    /// The model file text (without header): the model and its environments block.
    ///
    /// # Errors
    ///
    /// The serializer's message (not expected for imported models).
    pub fn to_yaml(&self) -> std::result::Result<String, String> {
        devstats_model::environments::model_file_yaml(&self.model, self.environments.as_ref())
    }
}

/// One environment of [`import_environments`]: its name and the `--set` overrides applied after
/// the base ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvironmentImport {
    /// Environment name, e.g. `test`.
    pub name: String,
    /// Its overrides, e.g. `namespace=devstats-test`, `testServer=1`.
    pub sets: Vec<(String, String)>,
}

/// Parses one `--env-set NAME:KEY=VALUE[,KEY=VALUE…]` argument.
///
/// # Errors
///
/// [`ImportError::Set`] when the environment name or a pair is missing.
pub fn parse_env_set(arg: &str) -> Result<(String, Vec<(String, String)>)> {
    let Some((name, rest)) = arg.split_once(':') else {
        return Err(ImportError::Set {
            arg: arg.to_owned(),
            message: "expected ENV:key=value, e.g. test:namespace=devstats-test".into(),
        });
    };
    let name = name.trim();
    if let Err(e) = Name::from(name).check() {
        return Err(ImportError::Set {
            arg: arg.to_owned(),
            message: format!("environment name `{name}` {e}"),
        });
    }
    Ok((name.to_owned(), parse_set(rest)?))
}

/// Imports a values file as a model with environments: the base instance is what `opts` installs,
/// and each environment is what `opts` plus the environment's own overrides install, written as
/// the difference of its instance from the base (an overlay). `default` names the default
/// environment; when it is not among `envs` it is added first as the base as is (`{}`).
///
/// Environments share foundations and projects: per-project differences of an environment's
/// import (e.g. the chart's precomputed test schedules) are not carried over and are warned
/// about; an environment's schedules are computed from its role (test runs half a period after
/// prod).
///
/// # Errors
///
/// Like [`import`], for the base or any environment; [`ImportError::Set`] for a bad environment
/// name or a name given twice.
pub fn import_environments(
    values_yaml: &str,
    opts: &ImportOptions,
    default: &str,
    envs: &[EnvironmentImport],
) -> Result<Imported> {
    let env_error = |name: &str, message: String| ImportError::Set {
        arg: format!("--env-set {name}:…"),
        message,
    };
    let mut names: Vec<&str> = Vec::new();
    for name in std::iter::once(default).chain(envs.iter().map(|e| e.name.as_str())) {
        if let Err(e) = Name::from(name).check() {
            return Err(env_error(name, format!("environment name `{name}` {e}")));
        }
        if name == devstats_model::environments::DEFAULT_KEY {
            return Err(env_error(
                name,
                "`default` is reserved; name the environment otherwise".into(),
            ));
        }
        if names.contains(&name) && name != default {
            return Err(env_error(name, format!("environment `{name}` is given twice")));
        }
        names.push(name);
    }
    let mut base = import(values_yaml, opts)?;
    let located = |m: &Model| {
        devstats_model::environments::located(&m.instance).map_err(|message| invalid("instance", message))
    };
    let base_node = located(&base.model)?;
    let empty = || devstats_model::source::Node {
        pos: devstats_model::source::Pos::default(),
        len: 0,
        kind: devstats_model::source::NodeKind::Map(Vec::new()),
    };
    let mut overlays = Vec::new();
    if !envs.iter().any(|e| e.name == default) {
        overlays.push((Name::from(default), empty()));
    }
    let mut warnings = Vec::new();
    let mut env_models: Vec<Model> = Vec::new();
    for env in envs {
        let mut o = opts.clone();
        o.sets.extend(env.sets.iter().cloned());
        let imported = import(values_yaml, &o).map_err(|e| env_error(&env.name, e.to_string()))?;
        let node = located(&imported.model)?;
        let overlay = devstats_model::environments::diff(&base_node, &node).unwrap_or_else(empty);
        for w in &imported.warnings {
            // Precomputed schedules are settled below (environments share the projects).
            if !base.warnings.contains(w) && !w.starts_with("schedules:") {
                warnings.push(format!("environment `{}`: {w}", env.name));
            }
        }
        // Projects are shared: compare them without what is per environment (schedules are
        // computed from the environment's role, suspension is settled below).
        let shared = |p: &Project| Project {
            schedule: ScheduleOverride::default(),
            suspended: false,
            ..p.clone()
        };
        let mut schedules = Vec::new();
        let mut others = Vec::new();
        for (a, b) in base.model.projects.iter().zip(&imported.model.projects) {
            if shared(a) != shared(b) {
                others.push(a.name.as_str());
            } else if a.schedule != b.schedule
                && imported.model.deployment(b) == devstats_model::Deployment::Full
            {
                schedules.push(a.name.as_str());
            }
        }
        if !schedules.is_empty() {
            warnings.push(format!(
                "environment `{}`: the chart's precomputed schedules of {} served project(s) differ from \
                 the computed ones; environments share the projects, so the computed schedules are used \
                 ({})",
                env.name,
                schedules.len(),
                schedules.join(", ")
            ));
        }
        if !others.is_empty() {
            warnings.push(format!(
                "environment `{}`: {} project(s) import differently with its overrides; environments \
                 share the projects, so the base's are kept ({})",
                env.name,
                others.len(),
                others.join(", ")
            ));
        }
        overlays.push((Name::from(env.name.as_str()), overlay));
        env_models.push(imported.model);
    }
    // Suspension follows the chart's flag of the environments that run the project's CronJobs
    // (`suspendCronTest` on test, `suspendCronProd` on prod).
    if !envs.iter().any(|e| e.name == default) {
        env_models.push(base.model.clone());
    }
    let mut conflicts = Vec::new();
    for p in &mut base.model.projects {
        let values: BTreeSet<bool> = env_models
            .iter()
            .filter_map(|m| {
                m.project(p.name.as_str())
                    .filter(|q| m.deployment(q) == devstats_model::Deployment::Full)
                    .map(|q| q.suspended)
            })
            .collect();
        match values.iter().collect::<Vec<_>>().as_slice() {
            [one] => p.suspended = **one,
            [_, _] => conflicts.push(p.name.to_string()),
            _ => {}
        }
    }
    if !conflicts.is_empty() {
        warnings.push(format!(
            "{} project(s) are suspended in some environments that deploy them and not in others; \
             kept as the base import has them: {}",
            conflicts.len(),
            conflicts.join(", ")
        ));
    }
    base.warnings.extend(warnings);
    base.environments = Some(Environments {
        default: Name::from(default),
        overlays,
    });
    Ok(base)
}

/// Why an import failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The values text is not YAML.
    #[error("values file: {message}")]
    ValuesYaml {
        /// The parser's message.
        message: String,
        /// Where in the values file the parser stopped.
        at: Option<Pos>,
    },
    /// The values text is not a mapping of keys.
    #[error("values file: the top level must be a mapping of keys, like the chart's values.yaml")]
    NotAMapping,
    /// The projects.yaml text is not usable.
    #[error("projects.yaml: {message}")]
    ProjectsYaml {
        /// What is wrong.
        message: String,
        /// Where in the projects.yaml file it is.
        at: Option<Pos>,
    },
    /// A `--set` argument is malformed.
    #[error("--set {arg}: {message}")]
    Set {
        /// The argument as given.
        arg: String,
        /// What is wrong.
        message: String,
    },
    /// A values key holds something the model cannot take.
    #[error("`{key}`: {message}")]
    Invalid {
        /// The key, e.g. `patroniTtl` or `projects[3] (fluentd).disk`.
        key: String,
        /// What is wrong.
        message: String,
        /// Where the key's value is in the values file (`None` for `--set` values and keys the
        /// file does not have).
        at: Option<Pos>,
    },
    /// The values are of a chart (dialect) or use a feature the model cannot deploy faithfully:
    /// an import would render a different installation than the chart does.
    #[error("`{key}`: {message}")]
    Refused {
        /// The key that decides it, e.g. `serviceType`.
        key: String,
        /// Which chart the values are of, what the model cannot represent, and what to do.
        message: String,
        /// Where the key is in the values file.
        at: Option<Pos>,
    },
    /// The imported model would serve no project: it would render an empty deployment.
    #[error("`{key}`: {message}")]
    NoProjects {
        /// The key that empties it: `projects`, or e.g. `indexDomainsFrom`.
        key: String,
        /// Why no project is served and what to do.
        message: String,
        /// Where the project list (or the key that empties it) is in the values file.
        at: Option<Pos>,
    },
    /// Schedules cannot be computed for the imported model.
    #[error("cannot compute schedules: {message}")]
    Schedules {
        /// The scheduler's message.
        message: String,
    },
}

impl ImportError {
    /// Where in the values file the problem is (1-based line and column), when it is there.
    #[must_use]
    pub fn location(&self) -> Option<Pos> {
        match self {
            Self::Invalid { at, .. }
            | Self::Refused { at, .. }
            | Self::NoProjects { at, .. }
            | Self::ValuesYaml { at, .. }
            | Self::ProjectsYaml { at, .. } => *at,
            _ => None,
        }
    }

    /// Fills in the location of the error's key from the located values tree, unless the key's
    /// value came from a `--set` (then the file is not where it is).
    fn located(mut self, tree: Option<&Node>, sets: &[(String, String)]) -> Self {
        let Some(tree) = tree else { return self };
        let (key, at) = match &mut self {
            Self::Invalid { key, at, .. }
            | Self::Refused { key, at, .. }
            | Self::NoProjects { key, at, .. } => (key.clone(), at),
            _ => return self,
        };
        if at.is_some() {
            return self;
        }
        let path = key_to_path(&key);
        let Some(Step::Key(top)) = path.0.first() else {
            return self;
        };
        if sets.iter().any(|(k, _)| key_path(k).first() == Some(top)) {
            return self;
        }
        let (node, whole) = tree.lookup(&path);
        // A missing key is pointed at through the mapping that should hold it.
        if whole || !std::ptr::eq(node, tree) {
            *at = Some(node.pos);
        }
        self
    }
}

/// The values path of an error key such as `projects[3] (fluentd).disk` (the parenthesized
/// project names are dropped).
fn key_to_path(key: &str) -> SourcePath {
    let mut path = SourcePath::root();
    let mut cur = String::new();
    let mut chars = key.chars().peekable();
    let flush = |cur: &mut String, path: &mut SourcePath| {
        let k = cur.trim();
        if !k.is_empty() {
            *path = path.key(k);
        }
        cur.clear();
    };
    while let Some(c) = chars.next() {
        match c {
            '.' => flush(&mut cur, &mut path),
            '[' => {
                flush(&mut cur, &mut path);
                let digits: String = chars.by_ref().take_while(|&d| d != ']').collect();
                if let Ok(i) = digits.trim().parse::<usize>() {
                    path = path.index(i);
                }
            }
            '(' => {
                for d in chars.by_ref() {
                    if d == ')' {
                        break;
                    }
                }
            }
            _ => cur.push(c),
        }
    }
    flush(&mut cur, &mut path);
    path
}

type Result<T> = std::result::Result<T, ImportError>;

fn invalid(key: &str, message: impl Into<String>) -> ImportError {
    ImportError::Invalid {
        key: key.to_owned(),
        message: message.into(),
        at: None,
    }
}

// ---------------------------------------------------------------------------------------------
// --set
// ---------------------------------------------------------------------------------------------

/// Splits one `--set` argument into `(key, value)` pairs like Helm: pairs are separated by
/// commas (`\,` is a literal comma), each pair is `key=value`, and an empty value is allowed
/// (`testServer=`).
///
/// # Errors
///
/// [`ImportError::Set`] when a pair has no `=` or an empty key.
pub fn parse_set(arg: &str) -> Result<Vec<(String, String)>> {
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut chars = arg.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                cur.push(',');
                chars.next();
            }
            ',' => parts.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    parts.push(cur);
    let mut out = Vec::new();
    for part in parts {
        let Some((key, value)) = part.split_once('=') else {
            return Err(ImportError::Set {
                arg: arg.to_owned(),
                message: format!("`{part}` has no '=': expected key=value (an empty value is `key=`)"),
            });
        };
        if key.trim().is_empty() {
            return Err(ImportError::Set {
                arg: arg.to_owned(),
                message: format!("`{part}` has an empty key"),
            });
        }
        out.push((key.trim().to_owned(), value.to_owned()));
    }
    Ok(out)
}

/// Helm's typing of a `--set` value: `true`/`false` → booleans, `null` → removes the key,
/// integers without a leading zero → numbers, everything else (including `""`) → a string.
fn helm_typed(v: &str) -> Value {
    if v.eq_ignore_ascii_case("true") {
        return Value::Bool(true);
    }
    if v.eq_ignore_ascii_case("false") {
        return Value::Bool(false);
    }
    if v == "null" {
        return Value::Null;
    }
    if v == "0" {
        return Value::from(0);
    }
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    if !digits.starts_with('0')
        && let Ok(i) = v.parse::<i64>()
    {
        return Value::from(i);
    }
    Value::String(v.to_owned())
}

/// Splits a key on unescaped dots (`a\.b` is one key `a.b`).
fn key_path(key: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = key.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'.') => {
                if let Some(last) = out.last_mut() {
                    last.push('.');
                }
                chars.next();
            }
            '.' => out.push(String::new()),
            _ => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out
}

fn apply_set(map: &mut Map<String, Value>, key: &str, value: &str) -> Result<()> {
    let arg = format!("{key}={value}");
    let path = key_path(key);
    if path.iter().any(|s| s.is_empty()) {
        return Err(ImportError::Set {
            arg,
            message: "the key has an empty component".into(),
        });
    }
    if path.iter().any(|s| s.contains('[')) {
        return Err(ImportError::Set {
            arg,
            message: "list indices are not supported; edit the values file or the imported model".into(),
        });
    }
    let typed = helm_typed(value);
    let Some((last, parents)) = path.split_last() else {
        return Ok(());
    };
    let mut cur = map;
    for p in parents {
        let slot = cur.entry(p.clone()).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        match slot {
            Value::Object(m) => cur = m,
            _ => return Ok(()),
        }
    }
    if typed.is_null() {
        cur.remove(last);
    } else {
        cur.insert(last.clone(), typed);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Loose values access
// ---------------------------------------------------------------------------------------------

/// Go template truthiness: `""`, `0`, `false`, `null` and empty lists/maps are false.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A scalar as the chart would print it; `None` for lists and mappings.
fn scalar_string(v: &Value) -> Option<String> {
    match v {
        Value::Null => Some(String::new()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    let from_f64 = |f: f64| {
        (f.is_finite() && f >= 0.0 && f.fract() == 0.0 && f < 18_446_744_073_709_551_615.0)
            .then_some(f as u64)
    };
    match v {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().and_then(from_f64)),
        Value::String(s) => {
            let t = s.trim();
            t.parse::<u64>()
                .ok()
                .or_else(|| t.parse::<f64>().ok().and_then(from_f64))
        }
        _ => None,
    }
}

fn as_f64(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
}

fn as_onoff(v: &Value) -> Option<bool> {
    match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_u64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "on" | "true" | "yes" | "1" => Some(true),
            "off" | "false" | "no" | "0" | "" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// A mapping of values with a record of which keys were read.
struct Obj<'a> {
    map: &'a Map<String, Value>,
    prefix: String,
    used: Cell<BTreeSet<String>>,
}

impl<'a> Obj<'a> {
    fn new(map: &'a Map<String, Value>, prefix: String) -> Self {
        Self {
            map,
            prefix,
            used: Cell::new(BTreeSet::new()),
        }
    }

    fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    fn mark(&self, key: &str) {
        let mut u = self.used.take();
        u.insert(key.to_owned());
        self.used.set(u);
    }

    /// The value of `key` unless it is missing or null.
    fn raw(&self, key: &str) -> Option<&'a Value> {
        self.mark(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Keys present but never read.
    fn unused(&self) -> Vec<&'a str> {
        let used = self.used.take();
        let out = self
            .map
            .keys()
            .filter(|k| !used.contains(*k))
            .map(String::as_str)
            .collect();
        self.used.set(used);
        out
    }

    fn truthy(&self, key: &str) -> bool {
        self.raw(key).is_some_and(truthy)
    }

    /// Truthiness, or `default` when the key is missing.
    fn flag(&self, key: &str, default: bool) -> bool {
        self.raw(key).map_or(default, truthy)
    }

    fn string(&self, key: &str, default: &str) -> Result<String> {
        match self.raw(key) {
            None => Ok(default.to_owned()),
            Some(v) => scalar_string(v)
                .ok_or_else(|| invalid(&self.path(key), "must be a single value, not a list or mapping")),
        }
    }

    /// The string, `None` when missing or empty.
    fn opt_string(&self, key: &str) -> Result<Option<String>> {
        Ok(Some(self.string(key, "")?).filter(|s| !s.trim().is_empty()))
    }

    fn u64(&self, key: &str, default: u64) -> Result<u64> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => as_u64(v).ok_or_else(|| {
                let message = if as_f64(v).is_some_and(|f| f < 0.0) {
                    format!("{}: must be at least 0", show(v))
                } else {
                    format!("{} is not a whole number", show(v))
                };
                invalid(&self.path(key), message)
            }),
        }
    }

    /// A whole number of at least `min`.
    fn u32_at_least(&self, key: &str, default: u32, min: u32) -> Result<u32> {
        if let Some(v) = self.raw(key)
            && as_f64(v).is_some_and(|f| f < f64::from(min))
        {
            return Err(invalid(
                &self.path(key),
                format!("{}: must be at least {min}", show(v)),
            ));
        }
        self.u32(key, default)
    }

    fn u32(&self, key: &str, default: u32) -> Result<u32> {
        let n = self.u64(key, u64::from(default))?;
        u32::try_from(n).map_err(|_| invalid(&self.path(key), format!("{n} is too large")))
    }

    /// A whole number; `None` when missing (then `default`), empty or null.
    fn opt_u32(&self, key: &str, default: Option<u32>) -> Result<Option<u32>> {
        if !self.map.contains_key(key) {
            self.mark(key);
            return Ok(default);
        }
        match self.raw(key) {
            None => Ok(None),
            Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(_) => self.u32(key, 0).map(Some),
        }
    }

    fn f64(&self, key: &str, default: f64) -> Result<f64> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => {
                as_f64(v).ok_or_else(|| invalid(&self.path(key), format!("{} is not a number", show(v))))
            }
        }
    }

    fn onoff(&self, key: &str, default: bool) -> Result<bool> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => as_onoff(v).ok_or_else(|| {
                invalid(
                    &self.path(key),
                    format!("{} is not on/off or true/false", show(v)),
                )
            }),
        }
    }

    fn giant(&self, key: &str, default: GiantMode) -> Result<GiantMode> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => match scalar_string(v).as_deref().map(str::trim) {
                Some("lock") => Ok(GiantMode::Lock),
                Some("wait") => Ok(GiantMode::Wait),
                Some("") => Ok(GiantMode::None),
                _ => Err(invalid(
                    &self.path(key),
                    format!("{} is not lock, wait or ''", show(v)),
                )),
            },
        }
    }

    fn selector(&self, key: &str, default: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>> {
        match self.raw(key) {
            None => Ok(default.clone()),
            Some(Value::String(s)) if s.is_empty() => Ok(BTreeMap::new()),
            Some(Value::Object(m)) => m
                .iter()
                .map(|(k, v)| {
                    scalar_string(v)
                        .map(|s| (k.clone(), s))
                        .ok_or_else(|| invalid(&format!("{}.{k}", self.path(key)), "must be a single value"))
                })
                .collect(),
            Some(v) => Err(invalid(
                &self.path(key),
                format!("{} is not a mapping of labels", show(v)),
            )),
        }
    }

    fn access_mode(&self, key: &str, default: AccessMode) -> Result<AccessMode> {
        let s = self.string(key, default.as_str())?;
        match s.trim() {
            "ReadWriteOnce" => Ok(AccessMode::ReadWriteOnce),
            "ReadWriteMany" => Ok(AccessMode::ReadWriteMany),
            "ReadOnlyMany" => Ok(AccessMode::ReadOnlyMany),
            "ReadWriteOncePod" => Ok(AccessMode::ReadWriteOncePod),
            other => Err(invalid(
                &self.path(key),
                format!("'{other}' is not ReadWriteOnce, ReadWriteMany, ReadOnlyMany or ReadWriteOncePod"),
            )),
        }
    }
}

/// A short rendering of a value for messages.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// projects.yaml
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
struct ProjectsFile {
    #[serde(default)]
    projects: BTreeMap<String, PyProject>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct PyProject {
    status: Option<String>,
    command_line: Vec<String>,
    shared_db: Option<String>,
    disabled: Option<bool>,
}

/// GitHub selectors from a projects.yaml `command_line`: items split on ','; `regexp:` items are
/// regular expressions, items with '/' are repositories, the rest organisations.
fn github_from_command_line(lines: &[String]) -> GithubSelectors {
    let mut g = GithubSelectors::default();
    for item in lines.iter().flat_map(|l| l.split(',')) {
        let item = item.trim();
        if item.is_empty() {
            continue;
        }
        if let Some(re) = item.strip_prefix("regexp:") {
            g.regexps.push(re.trim().to_owned());
        } else if item.contains('/') {
            g.repos.push(item.to_owned());
        } else {
            g.orgs.push(item.to_owned());
        }
    }
    g
}

fn foundation_of_shared_db(db: &str) -> Option<&'static str> {
    match db {
        "allprj" => Some("cncf"),
        "allcdf" => Some("cdf"),
        "graphql" => Some("graphql"),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Tables of chart keys the model does not represent
// ---------------------------------------------------------------------------------------------

/// Object name, path, port and policy keys with fixed values in the model: (key, chart default).
const FIXED_KEYS: &[(&str, &str)] = &[
    ("pvName", "devstats-pvc"),
    ("provisionPodName", "devstats-provision"),
    ("syncPodName", "devstats"),
    ("affiliationsPodName", "devstats-affiliations"),
    ("grafanaPodName", "devstats-grafana"),
    ("servicePodName", "devstats-service"),
    ("bootstrapPodName", "devstats-provision-bootstrap"),
    ("backupsPodName", "devstats-backups"),
    ("vacuumPodName", "devstats-vacuum"),
    ("affiliationsImportPodName", "devstats-affiliations-import"),
    ("apiPodName", "devstats-api"),
    ("apiServiceName", "devstats-api-service"),
    ("reportsPodName", "devstats-reports"),
    ("testsPodName", "devstats-tests"),
    ("postgresSvcName", "devstats-postgres"),
    ("backupsPVName", "devstats-backups"),
    ("testNamespace", "devstats-test"),
    ("prodNamespace", "devstats-prod"),
    ("secretType", "Opaque"),
    ("volumeName", "data"),
    ("volumeMountName", "data"),
    ("volumeMountPath", "/root"),
    ("backupsVolumeMountPath", "/usr/share/nginx/html/backups"),
    ("reportsVolumeMountPath", "/data"),
    ("grafanaPort", "3000"),
    ("apiPort", "8080"),
    ("postgresPort", "5432"),
    ("provisionRestartPolicy", "Never"),
    ("bootstrapRestartPolicy", "Never"),
    ("syncRestartPolicy", "Never"),
    ("affiliationsRestartPolicy", "Never"),
    ("backupsRestartPolicy", "Never"),
    ("vacuumRestartPolicy", "Never"),
    ("reportsRestartPolicy", "Never"),
    ("testsRestartPolicy", "Never"),
    ("grafanaRestartPolicy", "Always"),
    ("apiRestartPolicy", "Always"),
    ("grafanaMaxSurge", "1"),
    ("grafanaMaxUnavailable", "0"),
    ("apiMaxSurge", "1"),
    ("apiMaxUnavailable", "0"),
    ("tlsProjectsIngressStart", "2"),
    ("concurrencyPolicy", "Forbid"),
];

/// Container commands: (key, chart default).
const COMMAND_KEYS: &[(&str, &str)] = &[
    ("provisionCommand", "./devstats-helm/deploy_all.sh"),
    ("bootstrapCommand", "./devstats-helm/deploy_all.sh"),
    ("syncCommand", "devstats"),
    ("affiliationsCommand", "./devstats-helm/affs.sh"),
    (
        "affiliationsImportCommand",
        "./devstats-helm/import_affs_shared.sh",
    ),
    ("grafanaCommand", "grafana_start.sh"),
    ("apiCommand", "api"),
    ("backupsCommand", "./devstats-helm/backups.sh"),
    ("vacuumCommand", "./devel/vacuum_all.sh"),
    ("reportsCommand", "/bin/sleep"),
];

/// Container argument overrides (unset by default, except the reports pod's).
const COMMAND_ARGS_KEYS: &[&str] = &[
    "provisionCommandArgs",
    "bootstrapCommandArgs",
    "syncCommandArgs",
    "affiliationsCommandArgs",
    "affiliationsImportCommandArgs",
    "grafanaCommandArgs",
    "apiCommandArgs",
    "backupsCommandArgs",
    "vacuumCommandArgs",
];

/// Partial-release gates: rendering only part of the chart.
const PARTIAL_GATES: &[&str] = &[
    "skipSecrets",
    "skipPGSecret",
    "skipGitHubSecret",
    "skipGrafanaSecret",
    "skipNamespaces",
    "skipPVs",
    "skipBackupsPV",
    "skipProvisions",
    "skipCrons",
    "skipAffiliations",
    "skipGrafanas",
    "skipServices",
];

/// Per-project index ranges (half-open list positions).
const PROJECT_RANGES: &[&str] = &[
    "indexPVs",
    "indexProvisions",
    "indexCrons",
    "indexAffiliations",
    "indexGrafanas",
    "indexServices",
    "indexIngresses",
];

/// Secret values; never copied into the model.
const SECRET_KEYS: &[&str] = &[
    "pgAdminUser",
    "pgHost",
    "pgHostRO",
    "pgPass",
    "pgPassRO",
    "pgPassTeam",
    "pgPassRep",
    "pgPort",
    "pgUserRO",
    "githubOAuth",
    "grafanaUser",
    "grafanaPassword",
];

/// Keys the chart's templates never read.
const UNUSED_BY_CHART: &[&str] = &["name", "nameOverride", "fullnameOverride"];

/// Per-project keys read by the chart.
const PROJECT_KEYS: &[&str] = &[
    "proj",
    "url",
    "db",
    "icon",
    "org",
    "repo",
    "cronTest",
    "cronProd",
    "affCronTest",
    "affCronProd",
    "suspendCronTest",
    "suspendCronProd",
    "affSkipTemp",
    "disk",
    "domains",
    "ga",
    "i",
    "certNum",
    "maxHist",
    "maxRunDuration",
    "durablePQ",
    "noDurable",
    "skipGHAPI",
    "skipGetRepos",
    "skipUpdAffs",
    "skipImpAffs",
    "affsLockDB",
    "skipAffsLock",
    "archived",
    "aliases",
];

const DEFAULT_DOMAINS: &[(&str, &str, &str)] = &[
    (
        "teststats.cncf.io",
        "lukaszgryglicki/devstats-static-test",
        "test",
    ),
    ("devstats.cncf.io", "lukaszgryglicki/devstats-static-prod", "prod"),
    (
        "devstats.cd.foundation",
        "lukaszgryglicki/devstats-static-cdf",
        "cdf",
    ),
    (
        "devstats.graphql.org",
        "lukaszgryglicki/devstats-static-graphql",
        "graphql",
    ),
];

/// Foundation of a domain short name, and its display name.
fn foundation_of_shortname(short: &str) -> (&str, Option<&'static str>) {
    match short {
        "test" => ("test", None),
        "prod" => ("cncf", Some("Cloud Native Computing Foundation")),
        "cdf" => ("cdf", Some("Continuous Delivery Foundation")),
        "graphql" => ("graphql", Some("GraphQL Foundation")),
        other => (other, None),
    }
}

/// The aggregate ("All …") project of a known foundation.
fn aggregate_of(foundation: &str) -> Option<&'static str> {
    match foundation {
        "cncf" => Some("all"),
        "cdf" => Some("allcdf"),
        "graphql" => Some("graphql"),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// Dialects: the sibling charts
// ---------------------------------------------------------------------------------------------

/// Which chart a values file is for, told apart by its keys.
///
/// The sibling charts share most key names with `cncf/devstats-helm` but not their meaning: one
/// foundation per chart instead of a `domains` list, and one `cron` per project instead of
/// `cronProd`/`cronTest`/`affCron*` and per-project `domains` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// `cncf/devstats-helm`: `domains`, per-project `domains` flags and `cronProd`/`cronTest`.
    #[default]
    DevstatsHelm,
    /// `cncf/devstats-helm-graphql`: `domainName` and `mainProject`, one `cron` per project.
    Graphql,
    /// `cncf/devstats-helm-example`: `domainName` without `mainProject`, one `cron` per project.
    Example,
    /// `cncf/devstats-helm-lf`: `deployEnv`, the Elasticsearch keys, LoadBalancer services
    /// (refused).
    Lf,
    /// Projects with one `cron` but neither `domainName` nor the LF keys (refused).
    SingleCron,
}

impl Dialect {
    /// The chart repository whose values these are.
    #[must_use]
    pub fn chart(self) -> &'static str {
        match self {
            Self::DevstatsHelm => "cncf/devstats-helm",
            Self::Graphql => "cncf/devstats-helm-graphql",
            Self::Example => "cncf/devstats-helm-example",
            Self::Lf => "cncf/devstats-helm-lf",
            Self::SingleCron => "a single-domain sibling chart",
        }
    }

    /// The GraphQL and example charts: one foundation on `domainName`.
    #[must_use]
    pub fn single_domain(self) -> bool {
        matches!(self, Self::Graphql | Self::Example)
    }

    /// Tells the dialect from the keys: main-chart keys win, then the LF chart's own keys, then
    /// `domainName` (with `mainProject`: GraphQL), then the projects' single `cron`.
    fn detect(map: &Map<String, Value>) -> Self {
        let projects = map.get("projects").and_then(Value::as_array);
        let project_has = |k: &str| projects.is_some_and(|a| a.iter().any(|p| p.get(k).is_some()));
        if map.contains_key("domains") || ["cronProd", "cronTest", "domains"].iter().any(|k| project_has(k)) {
            Self::DevstatsHelm
        } else if LF_KEYS.iter().any(|k| map.contains_key(*k)) {
            Self::Lf
        } else if map.contains_key("domainName") {
            if map.contains_key("mainProject") {
                Self::Graphql
            } else {
                Self::Example
            }
        } else if project_has("cron") || map.contains_key("mainProject") {
            Self::SingleCron
        } else {
            Self::DevstatsHelm
        }
    }
}

/// Keys only `cncf/devstats-helm-lf` reads: `deployEnv` picks the secret files
/// (templates/devstats-secrets.yaml: `secrets/PG_PASS.{deployEnv}.secret` …), the rest are its
/// Elasticsearch settings (templates/devstats-hourly-sync.yaml: `GHA2DB_USE_ES`,
/// `GHA2DB_USE_ES_RAW`, `GHA2DB_ES_BULK_SIZE`, `GHA2DB_ES_URL` from the `esSecret` Secret).
const LF_KEYS: &[&str] = &[
    "deployEnv",
    "esSecret",
    "esBulkSize",
    "useES",
    "useESRaw",
    "esHost",
    "esPort",
    "esProto",
    "esURL",
];

fn listed_projects(map: &Map<String, Value>) -> usize {
    map.get("projects").and_then(Value::as_array).map_or(0, Vec::len)
}

/// `cncf/devstats-helm-lf` values are refused: the chart (at a53278a6) serves each project's
/// Grafana through its own Service of `serviceType` (LoadBalancer in its values;
/// templates/devstats-service.yaml) and renders no Ingress and no domain; it has no PostgreSQL
/// templates (the host is the `pgHost` secret) and every sync CronJob reads `GHA2DB_ES_URL` from
/// the `esSecret` Secret (templates/devstats-hourly-sync.yaml). None of that has a place in the
/// model, and what the model would render instead (Ingress hosts on a domain, its own Patroni
/// cluster) is a different, empty installation.
fn refuse_lf(map: &Map<String, Value>) -> ImportError {
    let present: Vec<String> = LF_KEYS
        .iter()
        .filter(|k| map.contains_key(**k))
        .map(|k| format!("`{k}`"))
        .collect();
    let service_type = map.get("serviceType").and_then(scalar_string);
    let key = if service_type.is_some() {
        "serviceType"
    } else {
        LF_KEYS
            .iter()
            .copied()
            .find(|k| map.contains_key(*k))
            .unwrap_or("deployEnv")
    };
    let exposure = match service_type.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => format!("its own `{t}` Service"),
        _ => "its own Service".to_owned(),
    };
    ImportError::Refused {
        key: key.to_owned(),
        message: format!(
            "these are cncf/devstats-helm-lf values ({}), which the model cannot deploy as that chart \
             does: the chart exposes each of its {} projects' Grafana through {exposure} with no Ingress \
             and no domain, connects to an external PostgreSQL (it renders none; the host is the \
             `pgHost` secret) and points every sync job at Elasticsearch (`esSecret`, GHA2DB_ES_URL). \
             The model serves projects only as Ingress hosts `{{project}}.{{domain}}` of a foundation, \
             from its own Patroni cluster, and has no Elasticsearch output, so the import would be a \
             new, empty installation rather than this one. Nothing was imported; to move these \
             projects to devstats-k8s, write a model with a foundation for the domain they should be \
             served on and list them there (each `proj`, `db`, `repo`, `disk` and `cron` is a \
             project's name, database, mainRepo, disk and schedule.sync; see docs/helm-parity.md)",
            present.join(", "),
            listed_projects(map),
        ),
        at: None,
    }
}

/// Projects with one `cron` (the GraphQL/example dialect) but no `domainName`: nothing says where
/// they are served.
fn refuse_domainless_sibling(map: &Map<String, Value>) -> ImportError {
    ImportError::Refused {
        key: if map.contains_key("mainProject") {
            "mainProject".to_owned()
        } else {
            "projects".to_owned()
        },
        message: "the projects have one `cron` each, as in the cncf/devstats-helm-graphql and \
                  cncf/devstats-helm-example charts, but the values have no `domainName`, the domain \
                  those charts serve every project on (`{proj}.{domainName}`); pass --set \
                  domainName=DOMAIN (and mainProject=PROJECT for the bare domain)"
            .to_owned(),
        at: None,
    }
}

/// Every chart renders a project's objects only when its list position is inside each per-object
/// range (`indexGrafanasFrom/To` …; e.g. devstats-helm-graphql/templates/devstats-grafana.yaml).
/// When no range selects any project, the values deploy no project at all.
fn check_project_ranges(map: &Map<String, Value>) -> Result<()> {
    let n = listed_projects(map) as u64;
    if n == 0 {
        return Ok(());
    }
    let bound = |k: &str, d: u64| map.get(k).and_then(as_u64).unwrap_or(d);
    let mut set = Vec::new();
    for r in PROJECT_RANGES {
        let (f, t) = (bound(&format!("{r}From"), 0), bound(&format!("{r}To"), 300));
        if f < t.min(n) {
            return Ok(());
        }
        if map.contains_key(&format!("{r}From")) || map.contains_key(&format!("{r}To")) {
            set.push((*r, f, t));
        }
    }
    // Name the bound that empties the first range set in the values.
    let key = set.first().map_or_else(
        || "indexGrafanasTo".to_owned(),
        |(r, f, _)| {
            if *f >= n && map.contains_key(&format!("{r}From")) || !map.contains_key(&format!("{r}To")) {
                format!("{r}From")
            } else {
                format!("{r}To")
            }
        },
    );
    let ranges: Vec<String> = set
        .iter()
        .map(|(r, f, t)| format!("{r}From/To = [{f}, {t})"))
        .collect();
    Err(ImportError::NoProjects {
        key,
        message: format!(
            "every one of the {n} listed projects is outside the index ranges ({}), so these values \
             deploy no project and the import would render an empty deployment; the model imports \
             every listed project, so drop the ranges (select projects when rendering with \
             `--project`) or fix them",
            ranges.join(", ")
        ),
        at: None,
    })
}

/// The foundation of a single-domain chart: `domainName` (a known DevStats domain keeps its
/// foundation's name, e.g. devstats.graphql.org → `graphql`; another domain is named after its
/// first label, e.g. devstats-demo.net → `devstats-demo`).
fn single_domain(c: &Obj<'_>) -> Result<(Vec<Foundation>, Vec<Domain>)> {
    let host = c.string("domainName", "")?.trim().to_ascii_lowercase();
    if host.is_empty() {
        return Err(invalid(
            "domainName",
            "is empty: the domain every project is served on (`{proj}.{domainName}`), e.g. devstats.graphql.org",
        ));
    }
    let (name, display, image) = match DEFAULT_DOMAINS.iter().find(|(h, _, _)| *h == host) {
        Some((_, image, short)) => {
            let (f, d) = foundation_of_shortname(short);
            (f.to_owned(), d, (*image).to_owned())
        }
        None => {
            let label = host.strip_prefix("devstats.").unwrap_or(&host);
            let label = label.split('.').next().unwrap_or_default();
            let name = if Name::from(label).check().is_ok() {
                label.to_owned()
            } else {
                "devstats".to_owned()
            };
            (name, None, Images::default().static_default.to_string())
        }
    };
    let name = Name(name);
    Ok((
        vec![Foundation {
            name: name.clone(),
            display_name: display.map(str::to_owned),
            domain: Hostname(host),
            site: None,
            static_image: ImageRef(image),
            aggregate: None,
        }],
        vec![Domain { foundation: name }],
    ))
}

/// What the GraphQL and example charts render differently from `cncf/devstats-helm`, applied to
/// the imported instance (templates at cncf/devstats-helm-graphql 329f6889 / aa3308bb and
/// cncf/devstats-helm-example 26f81761 / 2a642d25).
fn single_domain_instance(
    c: &Obj<'_>,
    dialect: Dialect,
    model: &mut Model,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let chart = dialect.chart();
    let domain = model
        .foundations
        .first()
        .map_or_else(|| Hostname(String::new()), |f| f.domain.clone());

    // devstats-ingress.yaml (GraphQL): `host: {{ .Values.domainName }}` → the Service of
    // `mainProject`; the model routes it as that project's alias.
    if let Some(main) = c.opt_string("mainProject")? {
        let main = main.trim();
        let Some(p) = model.projects.iter_mut().find(|p| p.name.as_str() == main) else {
            return Err(invalid(
                "mainProject",
                format!(
                    "'{main}' is not a listed project: the chart routes the bare domain {domain} to \
                     devstats-service-{main}, which it does not render; name one of the `projects`"
                ),
            ));
        };
        if !p.aliases.contains(&domain) {
            p.aliases.push(domain.clone());
        }
        if !model.instance.ingress.aliases {
            warnings.push(format!(
                "`skipAliases` is set, so the bare domain {domain} is not routed to `mainProject` \
                 {main} as the chart does"
            ));
        }
    }

    // devstats-ingress.yaml: `kubernetes.io/ingress.class: "nginx"`, fixed.
    if !c.map.contains_key("ingressClass") {
        model.instance.ingress.class_name = Name::from("nginx");
    }
    if dialect == Dialect::Example {
        // devstats-helm-example/templates/devstats-ingress.yaml: the cert-manager annotations are
        // commented out and the hosts are `{{ .proj }}.devstats-demo.net`, not domainName.
        warnings.push(format!(
            "the {chart} chart's Ingress requests no certificate (its cert-manager annotations are \
             commented out; Secret devstats-tls is made by hand); the model's Ingresses have \
             cert-manager issue them from Issuer {}",
            model.instance.ingress.issuer.name
        ));
        if domain.as_str() != "devstats-demo.net" {
            warnings.push(format!(
                "the {chart} chart's Ingress hard-codes the hosts `{{proj}}.devstats-demo.net`; the \
                 model serves the projects on `domainName` ({domain})"
            ));
        }
    }

    // devstats-provisions.yaml: `USE_FLAGS: '{{ .Values.useFlags }}'`.
    if c.map.contains_key("useFlags") && !c.map.contains_key("useFlagsProv") {
        model.instance.tools.use_flags_provision = c.truthy("useFlags");
    }

    // devstats-helm-example/templates/devstats-service.yaml: `type: {{ .Values.serviceType }}`.
    if let Some(t) = c.opt_string("serviceType")?
        && t.trim() != "ClusterIP"
    {
        warnings.push(format!(
            "`serviceType` = '{}' is not representable: the model's project Services are ClusterIP \
             behind the Ingress; ignored",
            t.trim()
        ));
    }

    // The model's affiliations CronJobs run in the chart's tool image (devstats-provisions.yaml:
    // `image: {{ .Values.provisionImage }}`) unless one is given.
    if !c.map.contains_key("affiliationsImage") {
        model.instance.images.affiliations = model.instance.images.provision.clone();
    }
    // devstats-postgres-statefulset.yaml sets no Patroni timing or PostgreSQL parameters.
    if model.instance.components.postgres {
        warnings.push(format!(
            "the {chart} chart's Patroni StatefulSet sets no timing or PostgreSQL parameters (Patroni's \
             and PostgreSQL's defaults); the model renders its own defaults (instance.patroni)"
        ));
    }

    // The charts have no API, static-site, backups, vacuum, reports or affiliations templates.
    let comp = &mut model.instance.components;
    comp.api = false;
    comp.static_sites = false;
    comp.backups.enabled = false;
    comp.vacuum.enabled = false;
    comp.affiliations_import.enabled = false;
    warnings.push(format!(
        "the {chart} chart renders no API, static sites or backups CronJob, so they are off in the \
         imported model (instance.components); it renders no affiliations CronJobs either, but the \
         model renders one per project (`devstats-affiliations-{{proj}}`, computed schedules), and \
         the backups volume"
    ));
    warnings.push(format!(
        "the {chart} chart installs into the Helm release's namespace (its templates set none); the \
         model uses `{}`: pass --set namespace=NAME for yours",
        model.instance.namespace
    ));
    warnings.push(format!(
        "the {chart} chart renders API versions removed from current Kubernetes (extensions/v1beta1 \
         Deployments and Ingress, batch/v1beta1 CronJobs); the model renders apps/v1, \
         networking.k8s.io/v1 and batch/v1"
    ));
    Ok(())
}

/// An import must serve at least one project; otherwise it says why.
fn check_served(c: &Obj<'_>, model: &Model, listed: usize) -> Result<()> {
    if model.summary().served > 0 {
        return Ok(());
    }
    let no_projects = |key: &str, message: String| ImportError::NoProjects {
        key: key.to_owned(),
        message,
        at: None,
    };
    if listed == 0 {
        return Err(no_projects(
            "projects",
            "the values file lists no `projects`, so the import would serve no project and render an \
             empty deployment; list the projects this release serves (`projects:` with `- proj: NAME`, \
             `disk`, `domains` flags …)"
                .to_owned(),
        ));
    }
    let bound = |k: &str, d: u64| c.map.get(k).and_then(as_u64).unwrap_or(d);
    if model.instance.foundations.is_empty() {
        let names: Vec<&str> = model.foundations.iter().map(|f| f.name.as_str()).collect();
        let key = if c.map.contains_key("indexDomainsFrom") {
            "indexDomainsFrom"
        } else {
            "indexDomainsTo"
        };
        return Err(no_projects(
            key,
            format!(
                "`indexDomainsFrom/To` = [{}, {}) selects none of the {} domains ({}), so none of the \
                 {listed} listed projects is served and the import would render an empty deployment; \
                 set indexDomainsFrom/To to the domains this release serves",
                bound("indexDomainsFrom", 0),
                bound("indexDomainsTo", 4),
                names.len(),
                names.join(", ")
            ),
        ));
    }
    let served: Vec<&str> = model.instance.foundations.iter().map(Name::as_str).collect();
    let archived = model
        .projects
        .iter()
        .filter(|p| p.status == ProjectStatus::Archived)
        .count();
    Err(no_projects(
        "projects",
        format!(
            "none of the {listed} listed projects is served by this instance, which serves {}: {} have \
             no `domains` flag for a served domain and {archived} are archived, so the import would \
             render an empty deployment; set the projects' `domains` flags, or serve their domains \
             with indexDomainsFrom/To",
            served.join(", "),
            listed - archived,
        ),
    ))
}

// ---------------------------------------------------------------------------------------------
// Header
// ---------------------------------------------------------------------------------------------

fn shell_word(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '=' | ':' | ',' | '+' | '@')
        });
    if safe {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The comment line that starts an imported model file, e.g. `# Imported by devstats-k8s
/// import-helm from values.yaml --set namespace=devstats-prod; edit freely.` (with a newline).
#[must_use]
pub fn header(values: &str, projects: Option<&str>, sets: &[String], recompute_schedules: bool) -> String {
    let mut s = format!(
        "# Imported by devstats-k8s import-helm from {}",
        shell_word(values)
    );
    if let Some(p) = projects {
        let _ = write!(s, " --projects {}", shell_word(p));
    }
    for set in sets {
        let _ = write!(s, " --set {}", shell_word(set));
    }
    if recompute_schedules {
        s.push_str(" --recompute-schedules");
    }
    s.push_str("; edit freely.\n");
    s
}

// ---------------------------------------------------------------------------------------------
// Import
// ---------------------------------------------------------------------------------------------

/// [`header`] plus the environment arguments of `import-helm` (`--default-env`, `--env-set`).
#[must_use]
pub fn header_with_environments(
    values: &str,
    projects: Option<&str>,
    sets: &[String],
    recompute_schedules: bool,
    default_env: Option<&str>,
    env_sets: &[String],
) -> String {
    let mut s = header(values, projects, sets, recompute_schedules);
    let Some(line) = s.strip_suffix("; edit freely.\n") else {
        return s;
    };
    let mut line = line.to_owned();
    if let Some(d) = default_env {
        let _ = write!(line, " --default-env {}", shell_word(d));
    }
    for e in env_sets {
        let _ = write!(line, " --env-set {}", shell_word(e));
    }
    line.push_str("; edit freely.\n");
    s = line;
    s
}

/// YAML reading like Go's yaml.v2 (Helm, DevStats): a repeated key keeps its last value (the
/// images' projects.yaml repeats `annotation_regexp` once).
fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
    }
}

struct Domain {
    foundation: Name,
}

/// Imports a chart values file (text) into a model.
///
/// # Errors
///
/// [`ImportError`] when the values or projects.yaml text is not YAML, a `--set` is malformed, a
/// key holds a value the model cannot take (the error names the key and, when it is in the file,
/// its [`ImportError::location`]), the values are of a chart the model cannot deploy
/// ([`ImportError::Refused`]), or the model would serve no project ([`ImportError::NoProjects`]).
pub fn import(values_yaml: &str, opts: &ImportOptions) -> Result<Imported> {
    import_values(values_yaml, opts).map_err(|e| {
        let tree = devstats_model::source::parse(values_yaml).ok().flatten();
        e.located(tree.as_ref(), &opts.sets)
    })
}

/// The message and position of a YAML reader error, like a model file's: a syntax error as the
/// model's located parser reports it (`YAML syntax error: …` at the offending character), any
/// other error as serde-saphyr's first line without its own `line N column M` prefix, at its
/// location.
fn yaml_error(text: &str, e: &serde_saphyr::Error) -> (String, Option<Pos>) {
    if let Err(syntax) = devstats_model::source::parse(text) {
        return (format!("YAML syntax error: {}", syntax.message), Some(syntax.pos));
    }
    let first = e.to_string().lines().next().unwrap_or_default().to_owned();
    let Some(loc) = e.location() else {
        return (first, None);
    };
    let (line, column) = (loc.line() as usize, loc.column() as usize);
    let prefix = format!("error: line {line} column {column}: ");
    let message = first
        .strip_prefix(&prefix)
        .map_or_else(|| first.clone(), str::to_owned);
    let offset = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum::<usize>()
        + column.saturating_sub(1);
    (message, Some(Pos { offset, line, column }))
}

fn import_values(values_yaml: &str, opts: &ImportOptions) -> Result<Imported> {
    let parsed: Value = serde_saphyr::from_str_with_options(values_yaml, yaml_options()).map_err(|e| {
        let (message, at) = yaml_error(values_yaml, &e);
        ImportError::ValuesYaml { message, at }
    })?;
    let Value::Object(mut map) = parsed else {
        return Err(ImportError::NotAMapping);
    };
    for (k, v) in &opts.sets {
        apply_set(&mut map, k, v)?;
    }
    let py: Option<ProjectsFile> = match &opts.projects_yaml {
        None => None,
        Some(text) => Some(
            serde_saphyr::from_str_with_options(text, yaml_options()).map_err(|e| {
                let (message, at) = yaml_error(text, &e);
                ImportError::ProjectsYaml { message, at }
            })?,
        ),
    };
    let dialect = Dialect::detect(&map);
    if dialect == Dialect::Lf {
        return Err(refuse_lf(&map));
    }
    if dialect == Dialect::SingleCron {
        return Err(refuse_domainless_sibling(&map));
    }
    let mut warnings = Vec::new();
    let c = Obj::new(&map, String::new());
    check_project_ranges(&map)?;

    let (test_server, prod_server) = (c.flag("testServer", true), c.flag("prodServer", false));
    let role = if test_server && !prod_server {
        Role::Test
    } else {
        Role::Prod
    };

    // Domains → foundations.
    let (foundations, domains) = if dialect.single_domain() {
        single_domain(&c)?
    } else {
        import_domains(&c)?
    };

    // Instance.
    let mut instance = import_instance(&c, dialect, role, &domains, &mut warnings)?;

    // Projects.
    let projects_value = c.raw("projects");
    let empty = Vec::new();
    let list = match projects_value {
        None => &empty,
        Some(Value::Array(a)) => a,
        Some(v) => {
            return Err(invalid(
                "projects",
                format!("{} is not a list of projects", show(v)),
            ));
        }
    };
    let skip_ga = c.truthy("skipGA");
    let mut projects = Vec::with_capacity(list.len());
    let mut chart_schedules = Vec::with_capacity(list.len());
    let mut unknown_project_keys: BTreeMap<String, usize> = BTreeMap::new();
    let mut cert_nums = 0usize;
    let mut py_disabled = BTreeSet::new();
    for (i, item) in list.iter().enumerate() {
        let Value::Object(pm) = item else {
            return Err(invalid(&format!("projects[{i}]"), "is not a mapping"));
        };
        let (project, sched) = import_project(
            i,
            pm,
            dialect,
            role,
            &domains,
            py.as_ref(),
            skip_ga,
            &mut warnings,
            &mut cert_nums,
            &mut py_disabled,
        )?;
        let known = |k: &str| PROJECT_KEYS.contains(&k) || (dialect.single_domain() && k == "cron");
        for k in pm.keys().filter(|k| !known(k)) {
            *unknown_project_keys.entry(k.clone()).or_default() += 1;
        }
        projects.push(project);
        chart_schedules.push(sched);
    }
    for (k, n) in &unknown_project_keys {
        warnings.push(format!(
            "projects: key `{k}` (in {n} project(s)) is not read by the chart; ignored"
        ));
    }
    if cert_nums > 0 {
        warnings.push(format!(
            "projects: `certNum` is set on {cert_nums} project(s); ignored: project hosts are packed into \
             certificates automatically (instance.ingress.maxHostsPerCertificate)"
        ));
    }

    // projects.yaml cross-check.
    if let Some(py) = &py {
        let names: BTreeSet<&str> = projects.iter().map(|p| p.name.as_str()).collect();
        let extra: Vec<&str> = py
            .projects
            .keys()
            .map(String::as_str)
            .filter(|n| !names.contains(n))
            .collect();
        if !extra.is_empty() {
            warnings.push(format!(
                "projects.yaml: {} project(s) not in the values are not imported: {}",
                extra.len(),
                extra.join(", ")
            ));
        }
    } else {
        warnings.push(
            "no projects.yaml given: every project selects only its main repository on GitHub; pass \
             the images' devstats-helm/projects.yaml for the real orgs, repos and regexps"
                .to_owned(),
        );
    }

    // Schedule settings: splitcrons reserves the first slot for db `gha` and the last for `allprj`.
    let slot_project = |db: &str, name: &str| {
        projects
            .iter()
            .find(|p| p.database() == db)
            .or_else(|| projects.iter().find(|p| p.name.as_str() == name))
            .map(|p| p.name.clone())
    };
    let defaults = ScheduleSettings::default();
    instance.schedules = ScheduleSettings {
        first: slot_project("gha", "kubernetes").map(|project| ReservedSlot {
            project,
            hours: defaults.first.as_ref().map_or(36, |r| r.hours),
        }),
        last: slot_project("allprj", "all").map(|project| ReservedSlot {
            project,
            hours: defaults.last.as_ref().map_or(36, |r| r.hours),
        }),
        ..defaults
    };

    let mut model = Model {
        instance,
        foundations,
        projects,
    };

    // Aggregates.
    for f in &mut model.foundations {
        if let Some(agg) = aggregate_of(f.name.as_str())
            && model
                .projects
                .iter()
                .any(|p| p.name.as_str() == agg && p.foundations.contains(&f.name))
        {
            f.aggregate = Some(Name::from(agg));
        }
    }

    // Projects disabled in projects.yaml that this instance deploys run only when
    // `projectsOverride` enables them (`+name`).
    let enabled: BTreeSet<&str> = model
        .instance
        .tools
        .projects_override
        .split(',')
        .filter_map(|s| s.trim().strip_prefix('+'))
        .collect();
    let idle: Vec<&str> = model
        .projects
        .iter()
        .filter(|p| py_disabled.contains(p.name.as_str()) && !enabled.contains(p.name.as_str()))
        .filter(|p| model.deployment(p) == devstats_model::Deployment::Full)
        .map(|p| p.name.as_str())
        .collect();
    if !idle.is_empty() {
        warnings.push(format!(
            "{} project(s) deployed by this instance are disabled in projects.yaml and not enabled by \
             `projectsOverride` (tools.projectsOverride: '+name,…'), so their jobs do nothing: {}",
            idle.len(),
            idle.join(", ")
        ));
    }

    if dialect.single_domain() {
        single_domain_instance(&c, dialect, &mut model, &mut warnings)?;
    }

    // Schedules: keep the chart's where they differ from the computed ones.
    keep_chart_schedules(
        &mut model,
        &chart_schedules,
        opts.recompute_schedules,
        &mut warnings,
    )?;

    check_served(&c, &model, list.len())?;

    // Keys nobody read.
    let unused: Vec<&str> = c.unused();
    if !unused.is_empty() {
        warnings.push(format!(
            "{} key(s) are not chart keys the import knows; ignored: {}",
            unused.len(),
            unused.join(", ")
        ));
    }

    Ok(Imported {
        model,
        warnings,
        environments: None,
        dialect,
    })
}

fn import_domains(c: &Obj<'_>) -> Result<(Vec<Foundation>, Vec<Domain>)> {
    let mut foundations = Vec::new();
    let mut domains = Vec::new();
    let mut push = |host: String, image: String, short: String| {
        let (fname, display) = foundation_of_shortname(&short);
        let name = Name::from(fname);
        foundations.push(Foundation {
            name: name.clone(),
            display_name: display.map(str::to_owned),
            domain: Hostname(host),
            site: (fname != short).then(|| Name(short.clone())),
            static_image: ImageRef(image),
            aggregate: None,
        });
        domains.push(Domain { foundation: name });
    };
    match c.raw("domains") {
        None => {
            for (host, image, short) in DEFAULT_DOMAINS {
                push((*host).to_owned(), (*image).to_owned(), (*short).to_owned());
            }
        }
        Some(Value::Array(list)) => {
            for (j, d) in list.iter().enumerate() {
                let Value::Object(m) = d else {
                    return Err(invalid(
                        &format!("domains[{j}]"),
                        "is not a mapping with name, image, shortname",
                    ));
                };
                let o = Obj::new(m, format!("domains[{j}]"));
                let host = o.string("name", "")?;
                let short = o.string("shortname", "")?;
                if host.is_empty() || short.is_empty() {
                    return Err(invalid(
                        &format!("domains[{j}]"),
                        "needs `name` (the domain) and `shortname`",
                    ));
                }
                let image = o.string("image", "")?;
                push(host, image, short);
            }
        }
        Some(v) => {
            return Err(invalid(
                "domains",
                format!("{} is not a list of domains", show(v)),
            ));
        }
    }
    Ok((foundations, domains))
}

fn resource_spec(c: &Obj<'_>, x: &str, default: Option<&ResourceSpec>) -> Result<Option<ResourceSpec>> {
    let enabled = c.flag(&format!("use{x}ResourcesLimits"), default.is_some());
    let d = |f: fn(&ResourceSpec) -> &Quantity| default.map_or_else(String::new, |r| f(r).to_string());
    let rc = c.string(&format!("requests{x}CPU"), &d(|r| &r.requests.cpu))?;
    let rm = c.string(&format!("requests{x}Memory"), &d(|r| &r.requests.memory))?;
    let lc = c.string(&format!("limits{x}CPU"), &d(|r| &r.limits.cpu))?;
    let lm = c.string(&format!("limits{x}Memory"), &d(|r| &r.limits.memory))?;
    if !enabled {
        return Ok(None);
    }
    Ok(Some(ResourceSpec {
        requests: CpuMemory {
            cpu: Quantity(rc),
            memory: Quantity(rm),
        },
        limits: CpuMemory {
            cpu: Quantity(lc),
            memory: Quantity(lm),
        },
    }))
}

fn cron_policy(c: &Obj<'_>, prefix: &str, default: CronPolicy) -> Result<CronPolicy> {
    Ok(CronPolicy {
        successful_jobs_history: c.u32(
            &format!("{prefix}CronHistoryLimit"),
            default.successful_jobs_history,
        )?,
        failed_jobs_history: c.u32(
            &format!("{prefix}CronFailedHistoryLimit"),
            default.failed_jobs_history,
        )?,
        starting_deadline_seconds: c.u32(
            &format!("{prefix}CronStartingDeadlineSeconds"),
            default.starting_deadline_seconds,
        )?,
    })
}

fn cron(c: &Obj<'_>, key: &str, default: &CronSchedule) -> Result<CronSchedule> {
    Ok(CronSchedule(c.string(key, default.as_str())?.trim().to_owned()))
}

#[allow(clippy::too_many_lines)]
fn import_instance(
    c: &Obj<'_>,
    dialect: Dialect,
    role: Role,
    domains: &[Domain],
    warnings: &mut Vec<String>,
) -> Result<Instance> {
    let role_name = match role {
        Role::Test => "test",
        Role::Prod => "prod",
    };
    let namespace = c.string("namespace", "devstats-test")?;

    // Served domains.
    let from = c.u64("indexDomainsFrom", 0)?;
    let to = c.u64("indexDomainsTo", 4)?;
    let mut served: Vec<Name> = Vec::new();
    for (j, d) in domains.iter().enumerate() {
        let j = j as u64;
        if j >= from && j < to && !served.contains(&d.foundation) {
            served.push(d.foundation.clone());
        }
    }
    let sfrom = c.u64("indexStaticsFrom", 0)?;
    let sto = c.u64("indexStaticsTo", 4)?;
    let n_domains = domains.len() as u64;
    if (sfrom, sto.min(n_domains)) != (from, to.min(n_domains)) {
        warnings.push(format!(
            "`indexStaticsFrom/To` = [{sfrom}, {sto}) differs from `indexDomainsFrom/To` = [{from}, {to}); \
             the model renders the static sites of the served foundations only ({})",
            served.iter().map(Name::as_str).collect::<Vec<_>>().join(", ")
        ));
    }

    // Ingress.
    let di = IngressSettings::default();
    let ingress = IngressSettings {
        class_name: Name(c.string("ingressClass", di.class_name.as_str())?),
        issuer: IssuerRef {
            kind: IssuerKind::Issuer,
            name: Name(format!("letsencrypt-{}", c.string("sslEnv", "prod")?)),
        },
        max_hosts_per_certificate: c.u32("tlsMaxHostsPerCert", di.max_hosts_per_certificate)?,
        aliases: !c.truthy("skipAliases"),
        api_path: c.string("apiPath", &di.api_path)?,
        api_on_bare_domains: !c.truthy("skipAPIIngress"),
    };

    // Images.
    let dim = Images::default();
    let img = |key: &str, d: &ImageRef| c.string(key, d.as_str()).map(ImageRef);
    let pull = c.string("imagePullPolicy", dim.pull_policy.as_str())?;
    let images = Images {
        pull_policy: match pull.trim() {
            "Always" => PullPolicy::Always,
            "IfNotPresent" => PullPolicy::IfNotPresent,
            "Never" => PullPolicy::Never,
            other => {
                return Err(invalid(
                    "imagePullPolicy",
                    format!("'{other}' is not Always, IfNotPresent or Never"),
                ));
            }
        },
        provision: img("provisionImage", &dim.provision)?,
        sync: img("syncImage", &dim.sync)?,
        affiliations: img("affiliationsImage", &dim.affiliations)?,
        grafana: img("grafanaImage", &dim.grafana)?,
        api: img("apiImage", &dim.api)?,
        static_default: img("staticImage", &dim.static_default)?,
        postgres: img("postgresImageName", &dim.postgres)?,
        backups: img("backupsImage", &dim.backups)?,
        vacuum: img("vacuumImage", &dim.vacuum)?,
        reports: img("reportsImage", &dim.reports)?,
        tests: img("testsImage", &dim.tests)?,
    };

    // Storage.
    let ds = Storage::default();
    let storage = Storage {
        class_name: c.string("storageClass", &ds.class_name)?,
        access_mode: c.access_mode("storageAccessModes", ds.access_mode)?,
        postgres_size: Quantity(c.string("postgresStorageSize", ds.postgres_size.as_str())?),
        backups: devstats_model::types::BackupsVolume {
            class_name: c.string("backupsStorageClass", &ds.backups.class_name)?,
            access_mode: c.access_mode("backupsStorageAccessModes", ds.backups.access_mode)?,
            size: Quantity(c.string("backupsPVSize", ds.backups.size.as_str())?),
        },
    };

    let dn = NodeSelectors::default();
    let node_selectors = NodeSelectors {
        app: c.selector("appNodeSelector", &dn.app)?,
        db: c.selector("dbNodeSelector", &dn.db)?,
        backups: c.selector("backupsNodeSelector", &dn.backups)?,
        static_sites: BTreeMap::new(),
    };

    let dr = Resources::default();
    let resources = Resources {
        provision: resource_spec(c, "Provisions", dr.provision.as_ref())?,
        bootstrap: resource_spec(c, "Bootstrap", dr.bootstrap.as_ref())?,
        sync: resource_spec(c, "Crons", dr.sync.as_ref())?,
        affiliations: resource_spec(c, "Affiliations", dr.affiliations.as_ref())?,
        grafana: resource_spec(c, "Grafanas", dr.grafana.as_ref())?,
        api: resource_spec(c, "API", dr.api.as_ref())?,
        static_sites: resource_spec(c, "Statics", dr.static_sites.as_ref())?,
        backups: resource_spec(c, "Backups", dr.backups.as_ref())?,
        vacuum: resource_spec(c, "Vacuum", dr.vacuum.as_ref())?,
        reports: resource_spec(c, "Reports", dr.reports.as_ref())?,
        postgres: resource_spec(c, "Postgres", dr.postgres.as_ref())?,
    };

    let drep = Replicas::default();
    let replicas = Replicas {
        grafana: c.u32("grafanaNReplicas", drep.grafana)?,
        api: c.u32("apiNReplicas", drep.api)?,
        static_sites: c.u32("staticNReplicas", drep.static_sites)?,
    };

    let dsec = SecretNames::default();
    let secrets = SecretNames {
        postgres: Name(c.string("pgSecret", dsec.postgres.as_str())?),
        github: Name(c.string("oauthSecret", dsec.github.as_str())?),
        grafana: Name(c.string("grafanaSecret", dsec.grafana.as_str())?),
    };

    let patroni = import_patroni(c, dialect, warnings)?;
    let components = import_components(c, role, warnings)?;
    let tools = import_tools(c)?;

    // Keys with no place in the model.
    for (key, default) in FIXED_KEYS {
        if let Some(v) = c.raw(key)
            && scalar_string(v).is_none_or(|s| s.trim() != *default)
        {
            warnings.push(format!(
                "`{key}` = {} is not representable (the model uses the chart's default \
                 '{default}'); ignored{}",
                show(v),
                if key.ends_with("PodName") || *key == "pvName" {
                    ": for one-off maintenance pods use the `run` command"
                } else {
                    ""
                }
            ));
        }
    }
    for (key, default) in COMMAND_KEYS {
        if let Some(v) = c.raw(key)
            && scalar_string(v).is_none_or(|s| s.trim() != *default)
        {
            warnings.push(format!(
                "`{key}` = {} overrides a container command; ignored: run maintenance scripts with \
                 the `run` command",
                show(v)
            ));
        }
    }
    for key in COMMAND_ARGS_KEYS {
        if c.truthy(key) {
            warnings.push(format!(
                "`{key}` overrides container arguments; ignored: run maintenance scripts with the \
                 `run` command"
            ));
        }
    }
    match c.raw("reportsCommandArgs") {
        None => {}
        Some(Value::Array(a)) if a.len() == 1 && a.first().and_then(Value::as_str) == Some("36525d") => {}
        Some(_) => warnings.push(
            "`reportsCommandArgs` overrides the reports pod's arguments; ignored: use the `run` command"
                .to_owned(),
        ),
    }
    if c.truthy("overwritePostgresCommand") {
        warnings.push(
            "`overwritePostgresCommand` replaces the Patroni command (`postgresCommand`, \
             `postgresCommandArgs`); ignored: for a debug shell use the `run` command"
                .to_owned(),
        );
    }
    c.mark("postgresCommand");
    c.mark("postgresCommandArgs");
    if c.truthy("bootstrapMountBackups") {
        warnings.push(
            "`bootstrapMountBackups` turns the bootstrap pod into a debug pod; ignored: use the `run` command"
                .to_owned(),
        );
    }
    for key in PARTIAL_GATES {
        if c.truthy(key) {
            warnings.push(format!(
                "`{key}` renders only part of the chart; ignored: the model describes the whole instance, \
                 select objects when rendering with `--only`/`--project`"
            ));
        }
    }
    let n_projects = match c.map.get("projects") {
        Some(Value::Array(a)) => a.len() as u64,
        _ => 0,
    };
    for r in PROJECT_RANGES {
        let f = c.u64(&format!("{r}From"), 0)?;
        let t = c.u64(&format!("{r}To"), 300)?;
        if f > 0 || t < n_projects {
            warnings.push(format!(
                "`{r}From/To` = [{f}, {t}) selects projects by list position; ignored: every project is \
                 imported, select projects when rendering with `--only`/`--project`"
            ));
        }
    }
    let secrets_present: Vec<&str> = SECRET_KEYS
        .iter()
        .copied()
        .filter(|k| c.raw(k).is_some())
        .collect();
    if !secrets_present.is_empty() {
        warnings.push(format!(
            "secret values ignored ({}); supply them at apply time",
            secrets_present.join(", ")
        ));
    }
    for k in UNUSED_BY_CHART {
        c.mark(k);
    }

    Ok(Instance {
        name: Name::from(role_name),
        namespace: Name(namespace),
        role,
        foundations: served,
        projects: devstats_model::types::ProjectSelection::default(),
        ingress,
        images,
        storage,
        node_selectors,
        resources,
        replicas,
        secrets,
        patroni,
        components,
        schedules: ScheduleSettings::default(),
        tools,
        gitops: devstats_model::types::GitOps::default(),
        // Hardening is opt-in for an imported installation: it renders what the chart renders.
        security: devstats_model::hardening::Security::chart_compatible(),
        // Off, as the chart: the operator opts in (docs/backup-and-restore.md).
        disaster_recovery: devstats_model::backup::DisasterRecovery::default(),
        // Monitoring is opt-in too (off by default).
        monitoring: devstats_model::monitoring::Monitoring::default(),
        auth_proxy: None,
        canary: None,
    })
}

fn import_patroni(c: &Obj<'_>, dialect: Dialect, warnings: &mut Vec<String>) -> Result<Patroni> {
    let d = Patroni::default();
    let dp = PostgresParameters::default();
    let loop_wait = c.u32("patroniLoopWait", d.loop_wait)?;
    let ttl = c.u32("patroniTtl", d.ttl)?;
    // cncf/devstats-helm defaults `patroniRetryTimeout` to 60; the single-domain charts'
    // StatefulSet sets no Patroni timing at all (devstats-helm-graphql/templates/
    // devstats-postgres-statefulset.yaml), so the model's defaults apply there.
    let retry_default = if dialect.single_domain() {
        d.retry_timeout
    } else {
        60
    };
    let chart_retry = c.u32("patroniRetryTimeout", retry_default)?;
    let mut retry_timeout = chart_retry;
    // The live pods run the chart's env: `chartEnv` renders it as is, so that a takeover restarts
    // no database pod; the model's own fields hold the values to move to afterwards.
    let mut chart_env = devstats_model::PatroniChartEnv::default();
    if u64::from(loop_wait) + 2 * u64::from(retry_timeout) > u64::from(ttl) {
        retry_timeout = ttl.saturating_sub(loop_wait) / 2;
        chart_env.retry_timeout = Some(chart_retry);
        warnings.push(format!(
            "patroni: the chart's timing violates Patroni's rule loop_wait + 2 × retry_timeout <= ttl \
             ({loop_wait} + 2 × {chart_retry} > {ttl}); retryTimeout set to {retry_timeout}, and \
             chartEnv.retryTimeout keeps the live {chart_retry} so that taking over restarts nothing; \
             after the takeover remove patroni.chartEnv (one rolling restart of devstats-postgres)"
        ));
    }
    let maximum_lag_on_failover = c.u64("patroniMaximumLagOnFailover", d.maximum_lag_on_failover)?;
    // Helm renders a number of the values file as a float64 (`5.36870912e+10` from 10⁶ up).
    chart_env.float_maximum_lag = maximum_lag_on_failover >= 1_000_000;
    let size = |key: &str, d: &PgSize| c.string(key, d.as_str()).map(|s| PgSize(s.trim().to_owned()));
    let dur = |key: &str, d: &PgDuration| c.string(key, d.as_str()).map(|s| PgDuration(s.trim().to_owned()));
    let wal_level = match c.string("postgresWalLevel", "replica")?.trim() {
        "minimal" => WalLevel::Minimal,
        "replica" => WalLevel::Replica,
        "logical" => WalLevel::Logical,
        other => {
            return Err(invalid(
                "postgresWalLevel",
                format!("'{other}' is not minimal, replica or logical"),
            ));
        }
    };
    Ok(Patroni {
        replicas: c.u32_at_least("postgresNodes", d.replicas, 1)?,
        loop_wait,
        ttl,
        retry_timeout,
        master_start_timeout: c.u32("patroniMasterStartTimeout", d.master_start_timeout)?,
        maximum_lag_on_failover,
        chart_env: (chart_env != devstats_model::PatroniChartEnv::default()).then_some(chart_env),
        postgres: PostgresParameters {
            shared_buffers: size("postgresSharedBuffers", &dp.shared_buffers)?,
            max_connections: c.u32("postgresMaxConn", dp.max_connections)?,
            max_parallel_workers_per_gather: c.u32(
                "postgresMaxParallelWorkersPerGather",
                dp.max_parallel_workers_per_gather,
            )?,
            max_worker_processes: c.u32("postgresMaxWorkerProcesses", dp.max_worker_processes)?,
            max_parallel_workers: c.u32("postgresMaxParallelWorkers", dp.max_parallel_workers)?,
            work_mem: size("postgresWorkMem", &dp.work_mem)?,
            wal_buffers: size("postgresWalBuffers", &dp.wal_buffers)?,
            max_temp_file: size("postgresMaxTempFile", &dp.max_temp_file)?,
            use_slots: c.onoff("postgresUseSlots", dp.use_slots)?,
            hot_standby: c.onoff("postgresHotStandby", dp.hot_standby)?,
            hot_standby_feedback: c.onoff("postgresHotStandbyFeedback", dp.hot_standby_feedback)?,
            wal_log_hints: c.onoff("postgresWalLogHints", dp.wal_log_hints)?,
            wal_keep_size: size("postgresWalKeepSize", &dp.wal_keep_size)?,
            wal_level,
            max_wal_senders: c.u32("postgresMaxWalSenders", dp.max_wal_senders)?,
            max_replication_slots: c.u32("postgresMaxReplicationSlots", dp.max_replication_slots)?,
            autovacuum_max_workers: c.u32("postgresAutovacuumMaxWorkers", dp.autovacuum_max_workers)?,
            autovacuum_naptime: dur("postgresAutovacuumNaptime", &dp.autovacuum_naptime)?,
            autovacuum_vacuum_cost_limit: c.u32(
                "postgresAutovacuumVacuumCostLimit",
                dp.autovacuum_vacuum_cost_limit,
            )?,
            autovacuum_vacuum_threshold: c.u32(
                "postgresAutovacuumVacuumThreshold",
                dp.autovacuum_vacuum_threshold,
            )?,
            autovacuum_vacuum_scale_factor: c.f64(
                "postgresAutovacuumVacuumScaleFactor",
                dp.autovacuum_vacuum_scale_factor,
            )?,
            autovacuum_analyze_threshold: c.u32(
                "postgresAutovacuumAnalyzeThreshold",
                dp.autovacuum_analyze_threshold,
            )?,
            autovacuum_analyze_scale_factor: c.f64(
                "postgresAutovacuumAnalyzeScaleFactor",
                dp.autovacuum_analyze_scale_factor,
            )?,
            maintenance_work_mem: size("postgresMaintenanceWorkMem", &dp.maintenance_work_mem)?,
            idle_transaction_timeout: dur("postgresIdleTransactionTimeout", &dp.idle_transaction_timeout)?,
            max_wal_size: size("postgresMaxWalSize", &dp.max_wal_size)?,
            min_wal_size: size("postgresMinWalSize", &dp.min_wal_size)?,
            checkpoint_completion_target: c.f64(
                "postgresCheckpointCompletionTarget",
                dp.checkpoint_completion_target,
            )?,
            default_statistics_target: c
                .u32("postgresDefaultStatisticsTarget", dp.default_statistics_target)?,
            cache_size: size("postgresCacheSize", &dp.cache_size)?,
            io_concurrency: c.u32("postgresIOConcurrency", dp.io_concurrency)?,
            random_page_cost: c.f64("postgresRandomPageCost", dp.random_page_cost)?,
        },
    })
}

fn import_components(c: &Obj<'_>, role: Role, warnings: &mut Vec<String>) -> Result<Components> {
    let d = Components::default();
    let db = &d.backups;
    // Read both flags (no short-circuit) so both count as read keys.
    let (backups_test, backups_prod) = (
        c.flag("backupsTestServer", true),
        c.flag("backupsProdServer", false),
    );
    let backups_role = if backups_test && !backups_prod {
        Role::Test
    } else {
        Role::Prod
    };
    let backups_test_cron = cron(c, "backupsCronTest", &CronSchedule::from("45 3 30 * *"))?;
    let backups_prod_cron = cron(c, "backupsCronProd", &db.schedule)?;
    let suspend_test = c.truthy("backupsSuspendCronTest");
    let suspend_prod = c.truthy("backupsSuspendCronProd");
    let (schedule, suspend) = match backups_role {
        Role::Test => (backups_test_cron, suspend_test),
        Role::Prod => (backups_prod_cron, suspend_prod),
    };
    let enabled = !c.truthy("skipBackups");
    if enabled && backups_role != role {
        warnings.push(format!(
            "backups: the chart chooses the backups role from `backupsTestServer`/`backupsProdServer`, \
             which make it {} on this {} instance; kept as components.backups.role (pass --set \
             backupsTestServer={},backupsProdServer={} if that is not intended)",
            role_str(backups_role),
            role_str(role),
            if role == Role::Test { "1" } else { "" },
            if role == Role::Prod { "1" } else { "" },
        ));
    }
    let only = c.string("backupsOnlyProjects", "")?;
    let backups = BackupsJob {
        enabled,
        schedule,
        suspend,
        role: (backups_role != role).then_some(backups_role),
        only_projects: only
            .split(|ch: char| ch == ',' || ch.is_whitespace())
            .filter(|s| !s.is_empty())
            .map(Name::from)
            .collect(),
        no_age: c.truthy("backupsNoAge"),
        giant: c.giant("giantBackups", db.giant)?,
        backoff_limit: c.u32("backupsBackoffLimit", db.backoff_limit)?,
        policy: cron_policy(c, "backups", db.policy)?,
    };
    let ai = &d.affiliations_import;
    let ai_prod = cron(c, "affiliationsImportCron", &ai.schedule)?;
    let ai_test = cron(c, "affiliationsImportCronTest", &CronSchedule::from("10 1 * * *"))?;
    let affiliations_policy = cron_policy(c, "affiliations", d.affiliations)?;
    Ok(Components {
        postgres: !c.truthy("skipPostgres"),
        bootstrap: !c.truthy("skipBootstrap"),
        api: !c.truthy("skipAPI"),
        static_sites: !c.truthy("skipStatic"),
        ingress: !c.truthy("skipIngress"),
        sync: cron_policy(c, "sync", d.sync)?,
        affiliations: affiliations_policy,
        backups,
        affiliations_import: ScheduledJob {
            enabled: !c.flag("skipAffiliationsImport", true),
            schedule: match role {
                Role::Test => ai_test,
                Role::Prod => ai_prod,
            },
            policy: affiliations_policy,
        },
        vacuum: ScheduledJob {
            enabled: !c.flag("skipVacuum", true),
            schedule: cron(c, "vacuumCron", &d.vacuum.schedule)?,
            policy: cron_policy(c, "vacuum", d.vacuum.policy)?,
        },
        reports: c.truthy("reportsPod"),
        tests: c.truthy("runTests"),
    })
}

fn role_str(r: Role) -> &'static str {
    match r {
        Role::Test => "test",
        Role::Prod => "prod",
    }
}

fn import_tools(c: &Obj<'_>) -> Result<ToolSettings> {
    let d = ToolSettings::default();
    let dg = &d.github;
    let dm = &d.maintenance;
    let dd = &d.debug;
    let s = |key: &str, d: &str| c.string(key, d);
    let f = |key: &str, d: bool| c.flag(key, d);
    let mut t = ToolSettings {
        projects_file: s("projectsFile", &d.projects_file)?,
        projects_override: s("projectsOverride", &d.projects_override)?,
        restore_from: s("restoreFrom", &d.restore_from)?,
        affiliations_json: s("affiliations", &d.affiliations_json)?,
        company_acquisitions: s("companyAcq", &d.company_acquisitions)?,
        affiliations_database: s("affiliationsDB", &d.affiliations_database)?,
        fetch_commits_mode: c.u32("fetchCommitsMode", d.fetch_commits_mode)?,
        git_commits_batch: c.u32("gitCommitsBatch", d.git_commits_batch)?,
        provision_cpus: c.opt_u32("nCPUs", d.provision_cpus)?,
        sync_cpus: c.opt_u32("nSyncCPUs", d.sync_cpus)?,
        affiliations_cpus: c.opt_u32("nAffsCPUs", d.affiliations_cpus)?,
        giant_bootstrap: c.giant("giantBoot", d.giant_bootstrap)?,
        giant_provision: c.giant("giantProv", d.giant_provision)?,
        giant_sync: c.giant("giantSync", d.giant_sync)?,
        giant_affiliations: c.giant("giantAffs", d.giant_affiliations)?,
        wait_for_bootstrap_seconds: c.u32("waitForBootstrap", d.wait_for_bootstrap_seconds)?,
        wait_for_postgres_seconds: c.u32("waitForPostgres", d.wait_for_postgres_seconds)?,
        skip_temp: f("skipTemp", d.skip_temp),
        use_flags_provision: f("useFlagsProv", d.use_flags_provision),
        use_flags_affiliations: f("useFlagsAffs", d.use_flags_affiliations),
        get_affs_files: f("getAffsFiles", d.get_affs_files),
        affiliations_get_affs_files: f("affiliationsGetAffsFiles", d.affiliations_get_affs_files),
        affiliations_import_get_affs_files: f(
            "affiliationsImportGetAffsFiles",
            d.affiliations_import_get_affs_files,
        ),
        affiliations_import_check_sha: f("affiliationsImportCheckSHA", d.affiliations_import_check_sha),
        check_imported_sha: f("checkImportedSHA", d.check_imported_sha),
        affs_fdw_use_password: f("affsFdwUsePassword", d.affs_fdw_use_password),
        allow_metric_fail: f("allowMetricFail", d.allow_metric_fail),
        force_compute_all: f("forceComputeAll", d.force_compute_all),
        recalc_reciprocal: c.opt_u32("recalcReciprocal", d.recalc_reciprocal)?,
        skip_metrics: s("skipMetrics", &d.skip_metrics)?,
        only_metrics: s("onlyMetrics", &d.only_metrics)?,
        exclude_vars: s("excludeVars", &d.exclude_vars)?,
        periods: s("periods", &d.periods)?,
        max_run_duration: c.opt_string("maxRunDuration")?.map(RunLimits),
        skip_rand: f("skipRand", d.skip_rand),
        skip_add_all: f("skipAddAll", d.skip_add_all),
        force_add_all: f("forceAddAll", d.force_add_all),
        health: f("health", d.health),
        skip_import_affs_percent: c.opt_u32("skipImpAffs", d.skip_import_affs_percent)?,
        skip_update_affs_percent: c.opt_u32("skipUpdAffs", d.skip_update_affs_percent)?,
        skip_github_api: f("ghaAPISkip", d.skip_github_api),
        skip_get_repos: f("skipGetRepos", d.skip_get_repos),
        ..ToolSettings::default()
    };
    t.github = devstats_model::types::GithubApiSettings {
        skip_issues: f("ghapiSkipIssues", dg.skip_issues),
        skip_prs: f("ghapiSkipPRs", dg.skip_prs),
        skip_comments: f("ghapiSkipComments", dg.skip_comments),
        skip_reviews: f("ghapiSkipReviews", dg.skip_reviews),
        skip_forks: f("ghapiSkipForks", dg.skip_forks),
        skip_releases: f("ghapiSkipReleases", dg.skip_releases),
        skip_stars: f("ghapiSkipStars", dg.skip_stars),
        allow_insert_fail: f("ghapiAllowInsertFail", dg.allow_insert_fail),
        restore_orphan_commits: f("ghapiRestoreOrphanCommits", dg.restore_orphan_commits),
        date_from: s("ghapiDtFrom", &dg.date_from)?,
        date_to: s("ghapiDtTo", &dg.date_to)?,
        recent_range: s("ghapiRecentRange", &dg.recent_range)?,
        orphan_commits_range: s("ghapiOrphanCommitsRange", &dg.orphan_commits_range)?,
        recent_repos_range: s("ghapiRecentReposRange", &dg.recent_repos_range)?,
    };
    t.maintenance = devstats_model::types::MaintenanceSettings {
        repos_dir: s("reposDir", &dm.repos_dir)?,
        gha2db_local: f("gha2dbLocal", dm.gha2db_local),
        input_dbs: s("inputDBs", &dm.input_dbs)?,
        output_db: s("outputDB", &dm.output_db)?,
        only_tables: s("onlyTables", &dm.only_tables)?,
        skip_tables: s("skipTables", &dm.skip_tables)?,
        ignore_no_db: f("ignoreNoDB", dm.ignore_no_db),
        skip_dbs: s("skipDBs", &dm.skip_dbs)?,
        merge_date_from: s("mergeDtFrom", &dm.merge_date_from)?,
        use_batch: f("useBatch", dm.use_batch),
        batch_size: s("batchSize", &dm.batch_size)?,
        parallel: s("parallel", &dm.parallel)?,
        bootstrap_user_drop: f("bootstrapUDrop", dm.bootstrap_user_drop),
        bootstrap_logs_drop: f("bootstrapLDrop", dm.bootstrap_logs_drop),
        bootstrap_no_create: f("bootstrapNoCreate", dm.bootstrap_no_create),
        use_repos: s("useRepos", &dm.use_repos)?,
        reinit_drop_db: f("reinitDropDB", dm.reinit_drop_db),
        delete_annotations: f("deleteAnnotations", dm.delete_annotations),
        tsdb_drop: f("tsdbDrop", dm.tsdb_drop),
        merge_mode: s("mergeMode", &dm.merge_mode)?,
        only_gha: f("onlyGHA", dm.only_gha),
        skip_ecfrg_reset: f("skipECFRGReset", dm.skip_ecfrg_reset),
        skip_gha: f("skipGHA", dm.skip_gha),
        metrics_yaml: s("metricsYAML", &dm.metrics_yaml)?,
        tags_yaml: s("tagsYAML", &dm.tags_yaml)?,
        columns_yaml: s("columnsYAML", &dm.columns_yaml)?,
    };
    t.debug = devstats_model::types::DebugSettings {
        level: c.opt_u32("debug", dd.level)?,
        command: c.opt_u32("cmdDebug", dd.command)?,
        github: c.opt_u32("githubDebug", dd.github)?,
        query_out: f("queryOut", dd.query_out),
    };
    Ok(t)
}

/// The chart's schedules of one project for the instance's role.
struct ChartSchedule {
    sync: Option<String>,
    affiliations: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn import_project(
    i: usize,
    pm: &Map<String, Value>,
    dialect: Dialect,
    role: Role,
    domains: &[Domain],
    py: Option<&ProjectsFile>,
    skip_ga: bool,
    warnings: &mut Vec<String>,
    cert_nums: &mut usize,
    py_disabled: &mut BTreeSet<String>,
) -> Result<(Project, ChartSchedule)> {
    let o = Obj::new(pm, format!("projects[{i}]"));
    let proj = o.string("proj", "")?.trim().to_owned();
    if proj.is_empty() {
        return Err(invalid(
            &format!("projects[{i}].proj"),
            "missing: every project needs a name",
        ));
    }
    let o = Obj::new(pm, format!("projects[{i}] ({proj})"));
    let differs = |key: &str| -> Result<Option<String>> {
        Ok(o.opt_string(key)?
            .map(|s| s.trim().to_owned())
            .filter(|s| *s != proj))
    };
    let url = differs("url")?.map(Name);
    let database = differs("db")?.map(DbName);
    let icon = differs("icon")?;
    let display_name = o.string("org", &proj)?;
    let display_name = if display_name.trim().is_empty() {
        proj.clone()
    } else {
        display_name
    };
    let main_repo = o
        .opt_string("repo")?
        .map(|s| s.trim().to_owned())
        .filter(|s| s != "-")
        .map(RepoName);
    let disk = o.string("disk", "")?;
    if disk.trim().is_empty() {
        return Err(invalid(
            &o.path("disk"),
            "missing: the size of the project volume, e.g. 3Gi",
        ));
    }

    // Domain flags → foundations. The single-domain charts have no flags: every listed project is
    // served on `domainName` (their templates range over all `projects`).
    let flags: Vec<bool> = match o.raw("domains") {
        None if dialect.single_domain() => vec![true],
        None => Vec::new(),
        Some(Value::Array(a)) => a.iter().map(truthy).collect(),
        Some(v) => {
            return Err(invalid(
                &o.path("domains"),
                format!("{} is not a list of 0/1 flags", show(v)),
            ));
        }
    };
    let mut foundations: Vec<Name> = Vec::new();
    for (j, on) in flags.iter().enumerate() {
        if !on {
            continue;
        }
        match domains.get(j) {
            Some(d) => {
                if !foundations.contains(&d.foundation) {
                    foundations.push(d.foundation.clone());
                }
            }
            None => warnings.push(format!(
                "{}: flag for domain {j} but only {} domains are defined; ignored",
                o.path("domains"),
                domains.len()
            )),
        }
    }
    let has_flags = !foundations.is_empty();

    // projects.yaml.
    let entry = py.and_then(|f| f.projects.get(&proj));
    if py.is_some() && entry.is_none() {
        warnings.push(format!(
            "project `{proj}` is not in projects.yaml; its GitHub selectors default to its main repository"
        ));
    }
    let py_status = entry.and_then(|e| e.status.as_deref()).map(str::trim);
    let maturity = match py_status {
        Some("Graduated") => Some(Maturity::Graduated),
        Some("Incubating") => Some(Maturity::Incubating),
        Some("Sandbox") => Some(Maturity::Sandbox),
        _ => None,
    };
    let py_archived = py_status == Some("Archived");

    // Status.
    let status = if o.truthy("archived") || (py_archived && !has_flags) {
        ProjectStatus::Archived
    } else if py_archived {
        let served: Vec<&str> = foundations.iter().map(Name::as_str).collect();
        warnings.push(format!(
            "project `{proj}` is Archived in projects.yaml but the values serve it ({}); kept active as \
             the chart deploys it: set `status: archived` to archive it",
            served.join(", ")
        ));
        ProjectStatus::Active
    } else if has_flags {
        ProjectStatus::Active
    } else {
        ProjectStatus::Disabled
    };
    if entry.and_then(|e| e.disabled) == Some(true) && has_flags && status == ProjectStatus::Active {
        py_disabled.insert(proj.clone());
    }
    if !has_flags
        && status == ProjectStatus::Archived
        && let Some(f) = entry
            .and_then(|e| e.shared_db.as_deref())
            .and_then(foundation_of_shared_db)
        && domains.iter().any(|d| d.foundation.as_str() == f)
    {
        foundations.push(Name::from(f));
    }

    let mut github = entry
        .map(|e| github_from_command_line(&e.command_line))
        .unwrap_or_default();
    if github.is_empty()
        && let Some(r) = &main_repo
    {
        github.repos.push(r.to_string());
    }

    let aliases = match o.raw("aliases") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                scalar_string(v)
                    .map(|s| Hostname(s.trim().to_owned()))
                    .ok_or_else(|| invalid(&o.path("aliases"), "must be a list of host names"))
            })
            .collect::<Result<Vec<_>>>()?,
        Some(Value::String(s)) if s.is_empty() => Vec::new(),
        Some(v) => {
            return Err(invalid(
                &o.path("aliases"),
                format!("{} is not a list of host names", show(v)),
            ));
        }
    };

    let suspended = match role {
        Role::Test => o.truthy("suspendCronTest"),
        Role::Prod => o.truthy("suspendCronProd"),
    };
    let (sync_key, aff_key, other_keys) = match role {
        Role::Test => (
            "cronTest",
            "affCronTest",
            ["cronProd", "affCronProd", "suspendCronProd"],
        ),
        Role::Prod => (
            "cronProd",
            "affCronProd",
            ["cronTest", "affCronTest", "suspendCronTest"],
        ),
    };
    let sched = if dialect.single_domain() {
        // One `cron` per project, the sync CronJob's schedule; these charts have no affiliations
        // CronJobs (devstats-helm-graphql/templates/devstats-hourly-sync.yaml: `schedule: '{{ .cron }}'`).
        ChartSchedule {
            sync: o.opt_string("cron")?.map(|s| s.trim().to_owned()),
            affiliations: None,
        }
    } else {
        ChartSchedule {
            sync: o.opt_string(sync_key)?.map(|s| s.trim().to_owned()),
            affiliations: o.opt_string(aff_key)?.map(|s| s.trim().to_owned()),
        }
    };
    for k in other_keys {
        o.mark(k);
    }
    o.mark("i");
    if o.truthy("certNum") {
        *cert_nums += 1;
    }

    let affiliations = AffiliationSettings {
        skip_temp: o.truthy("affSkipTemp"),
        skip_github_api: o.truthy("skipGHAPI"),
        skip_get_repos: o.truthy("skipGetRepos"),
        skip_update_percent: o.opt_u32("skipUpdAffs", None)?,
        skip_import_percent: o.opt_u32("skipImpAffs", None)?,
        lock_database: o.opt_string("affsLockDB")?.map(|s| DbName(s.trim().to_owned())),
        skip_lock: o.truthy("skipAffsLock"),
    };
    let ga = o.opt_string("ga")?;

    let project = Project {
        name: Name(proj.clone()),
        display_name,
        url,
        database,
        icon,
        main_repo,
        foundations,
        status,
        maturity,
        order: u32::try_from(i).ok(),
        disk: Quantity(disk.trim().to_owned()),
        github,
        aliases,
        suspended,
        schedule: ScheduleOverride::default(),
        max_history: o.u32("maxHist", 8)?,
        max_run_duration: o
            .opt_string("maxRunDuration")?
            .map(|s| RunLimits(s.trim().to_owned())),
        durable_pq: o.truthy("durablePQ"),
        no_durable: o.truthy("noDurable"),
        affiliations,
        google_analytics: if skip_ga { None } else { ga },
    };
    Ok((project, sched))
}

fn keep_chart_schedules(
    model: &mut Model,
    chart: &[ChartSchedule],
    recompute: bool,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let computed = model.schedules().map_err(|e| ImportError::Schedules {
        message: e.to_string(),
    })?;
    let mut differing = 0usize;
    for (p, ch) in model.projects.iter_mut().zip(chart) {
        let Some(got) = computed.get(p.name.as_str()) else {
            continue;
        };
        let sync = ch.sync.as_ref().filter(|s| **s != got.sync);
        let aff = ch.affiliations.as_ref().filter(|s| **s != got.affiliations);
        if sync.is_none() && aff.is_none() {
            continue;
        }
        differing += 1;
        if !recompute {
            p.schedule = ScheduleOverride {
                sync: sync.map(|s| CronSchedule(s.clone())),
                affiliations: aff.map(|s| CronSchedule(s.clone())),
            };
        }
    }
    if differing > 0 {
        let served = computed.len();
        warnings.push(if recompute {
            format!(
                "schedules: {differing} of {served} served projects get computed schedules that differ \
                 from the chart's (--recompute-schedules)"
            )
        } else {
            format!(
                "schedules: {differing} of {served} served projects keep the chart's schedule as an override \
                 because it differs from the computed one; pass --recompute-schedules to drop the overrides"
            )
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_parsing() {
        assert_eq!(
            parse_set("a=1,b=,c=x\\,y").ok(),
            Some(vec![
                ("a".to_owned(), "1".to_owned()),
                ("b".to_owned(), String::new()),
                ("c".to_owned(), "x,y".to_owned()),
            ])
        );
        assert!(parse_set("novalue").is_err());
        assert!(parse_set("=x").is_err());
        assert_eq!(helm_typed("1"), Value::from(1));
        assert_eq!(helm_typed("0"), Value::from(0));
        assert_eq!(helm_typed("007"), Value::from("007"));
        assert_eq!(helm_typed(""), Value::from(""));
        assert_eq!(helm_typed("TRUE"), Value::Bool(true));
        assert_eq!(helm_typed("1.5"), Value::from("1.5"));
        assert_eq!(key_path("a\\.b.c"), vec!["a.b".to_owned(), "c".to_owned()]);
    }

    #[test]
    fn truthiness() {
        for v in [
            Value::Null,
            Value::from(""),
            Value::from(0),
            Value::Bool(false),
            Value::from(0.0),
        ] {
            assert!(!truthy(&v), "{v}");
        }
        for v in [
            Value::from("0"),
            Value::from(1),
            Value::Bool(true),
            Value::from("x"),
        ] {
            assert!(truthy(&v), "{v}");
        }
    }

    #[test]
    fn command_line() {
        let g = github_from_command_line(&[" a, b/c ,regexp:(?i)^x/(y|z)$,, d".to_owned()]);
        assert_eq!(g.orgs, ["a", "d"]);
        assert_eq!(g.repos, ["b/c"]);
        assert_eq!(g.regexps, ["(?i)^x/(y|z)$"]);
    }

    #[test]
    fn numbers() {
        assert_eq!(as_u64(&Value::from("5.36870912e+10")), Some(53_687_091_200));
        assert_eq!(as_u64(&Value::from(53_687_091_200u64)), Some(53_687_091_200));
        assert_eq!(as_u64(&Value::from("x")), None);
        assert_eq!(as_f64(&Value::from("0.25")), Some(0.25));
    }
}
