//! Parity comparator between a real Helm render of `cncf/devstats-helm` and our render (test
//! infrastructure, dev-only: used by devstats-render's `tests/parity.rs`; its own tests are
//! `tests/parity_comparator.rs`).
//!
//! Both sides are lists of Kubernetes objects as `serde_json::Value`. Objects are matched by
//! (kind, namespace, name), normalised to their *functional* content (what the API server and the
//! kubelet act on) and diffed field by field. Every difference must either be explained by one of
//! the deliberate, documented deviations in [`DEVIATIONS`] (each one a `## id` section of
//! `docs/helm-parity.md`) or it is reported in [`ParityReport::unexplained`].
//!
//! Equivalences applied to both sides (not deviations, just "the same object to Kubernetes"):
//! - `status` is dropped; `metadata.name`/`metadata.namespace` inside pod templates are dropped;
//! - env `value: null` ≡ `value: ""` ≡ no value, `env: null` ≡ `env: []` ≡ no env;
//! - the few API-server defaults listed in [`API_DEFAULTS_DOC`];
//! - CPU, memory and storage quantities compare by value (`1000m` ≡ `1`, `4Gi` ≡ `4096Mi`);
//! - Secret data compare by key only (the chart's values are placeholders).
//!
//! Lists of uniquely named elements (env, containers, volumes, mounts, ports) are matched by
//! name: a missing, added or reordered name is reported once, and differences inside matched
//! elements are reported at the chart's index.
//!
//! Labels and annotations: every chart label/annotation on *object* metadata must be present on
//! ours with the same value, and we may add `app.kubernetes.io/*` labels and any annotation there.
//! Pod-template labels and annotations must be exactly equal: changing them would restart every
//! pod when a running chart deployment is taken over.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

// ---------------------------------------------------------------------------------------------
// Loading chart renders
// ---------------------------------------------------------------------------------------------

/// Loads a `helm template` style render: optionally gzipped, multi-document YAML with `# Source:`
/// comments. Every non-empty document becomes one `Value`. Panics with the file and line on error.
pub fn load_chart_render(path: &Path) -> Vec<Value> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let text = if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("gunzipping {}: {e}", path.display()));
        text
    } else {
        String::from_utf8(bytes).unwrap_or_else(|e| panic!("{} is not UTF-8: {e}", path.display()))
    };
    parse_multi_doc(&text, &path.display().to_string())
}

/// Splits multi-document YAML on `---` lines and parses each document; comment-only, empty and
/// `null` documents are skipped. `origin` only labels error messages.
pub fn parse_multi_doc(text: &str, origin: &str) -> Vec<Value> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut start_line = 1;
    let mut flush = |doc: &mut String, start: usize| {
        let has_content = doc.lines().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        });
        if has_content {
            let value: Value = serde_saphyr::from_str(doc)
                .unwrap_or_else(|e| panic!("{origin}: YAML document starting at line {start}: {e}"));
            if !value.is_null() {
                docs.push(value);
            }
        }
        doc.clear();
    };
    for (i, line) in text.lines().enumerate() {
        if line.trim_end() == "---" {
            flush(&mut current, start_line);
            start_line = i + 2;
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    flush(&mut current, start_line);
    docs
}

// ---------------------------------------------------------------------------------------------
// Deviations
// ---------------------------------------------------------------------------------------------

/// A deliberate, documented difference between the chart's render and ours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Deviation {
    /// Stable id; also a `## id` heading in `docs/helm-parity.md`.
    pub id: &'static str,
    /// One-line summary.
    pub description: &'static str,
}

/// Chart Pods `devstats-provision-*` are our batch/v1 Jobs of the same name.
pub const PROVISION_AS_JOB: &str = "provision-as-job";
/// Per-project objects of projects the instance does not serve (or archived ones) are absent.
pub const SERVED_PROJECTS_ONLY: &str = "served-projects-only";
/// Only the instance's Namespace is rendered.
pub const INSTANCE_NAMESPACE_ONLY: &str = "instance-namespace-only";
/// Integer env values are rendered as integers, not Helm's float rendering.
pub const INTEGER_ENV_VALUES: &str = "integer-env-values";
/// Patroni's retry timeout lowered to satisfy `loop_wait + 2 × retry_timeout <= ttl`.
pub const PATRONI_TIMING: &str = "patroni-timing";
/// Env `value: null` / `env: null` are rendered as `""` / no env.
pub const NULL_ENV_VALUES: &str = "null-env-values";
/// `app.kubernetes.io/*` labels are added on object metadata.
pub const RECOMMENDED_LABELS: &str = "recommended-labels";
/// Annotations are added on object metadata.
pub const ADDED_ANNOTATIONS: &str = "added-annotations";
/// Project Ingress hosts of absent projects are gone, so the 35-host buckets move.
pub const INGRESS_HOSTS: &str = "ingress-hosts";
/// Secrets are not rendered without secret data.
pub const SECRETS_NOT_RENDERED: &str = "secrets-not-rendered";

/// Every deviation the comparator may accept.
pub const DEVIATIONS: &[Deviation] = &[
    Deviation {
        id: PROVISION_AS_JOB,
        description: "chart Pods devstats-provision-{proj|bootstrap} are batch/v1 Jobs with the same pod spec",
    },
    Deviation {
        id: SERVED_PROJECTS_ONLY,
        description: "no per-project objects for projects the instance does not serve; archived keep their PVC",
    },
    Deviation {
        id: INSTANCE_NAMESPACE_ONLY,
        description: "only the instance's Namespace, not always both devstats-test and devstats-prod",
    },
    Deviation {
        id: INTEGER_ENV_VALUES,
        description: "integer env values as integers (chart: Helm float64 rendering such as 5.36870912e+10)",
    },
    Deviation {
        id: PATRONI_TIMING,
        description: "PATRONI_RETRY_TIMEOUT lowered so that loop_wait + 2 × retry_timeout <= ttl (chart: 15 + 2 × 60 > 60)",
    },
    Deviation {
        id: NULL_ENV_VALUES,
        description: "env value null (and env: null) rendered as \"\" (no env list); same to Kubernetes",
    },
    Deviation {
        id: RECOMMENDED_LABELS,
        description: "app.kubernetes.io/* labels added on object metadata (never on pod templates)",
    },
    Deviation {
        id: ADDED_ANNOTATIONS,
        description: "annotations added on object metadata (never on pod templates)",
    },
    Deviation {
        id: INGRESS_HOSTS,
        description: "hosts of absent projects are not routed, so project hosts move between TLS buckets",
    },
    Deviation {
        id: SECRETS_NOT_RENDERED,
        description: "Secrets pg-db, github-oauth, grafana-secret are not rendered without secret data",
    },
];

/// Looks a deviation up by id.
pub fn deviation(id: &str) -> Option<&'static Deviation> {
    DEVIATIONS.iter().find(|d| d.id == id)
}

// ---------------------------------------------------------------------------------------------
// Rule data
// ---------------------------------------------------------------------------------------------

/// The API-server defaults filled in on both sides when absent (the only ones; see
/// [`normalise`]). Each one is applied because the chart itself is inconsistent about it, so a
/// typed renderer that always (or never) writes it must not be flagged.
pub const API_DEFAULTS_DOC: &[&str] = &[
    // The chart never writes Service.spec.type; a typed renderer may write `ClusterIP`.
    "Service spec.type = ClusterIP",
    // devstats-api-service and devstats-service-* write `protocol: TCP`, the Patroni Services omit it.
    "Service spec.ports[].protocol = TCP",
    // The Patroni Services omit targetPort (the API server copies `port`), the others write it.
    "Service spec.ports[].targetPort = port",
    // Patroni writes container `protocol: TCP`, Grafana/API/static omit it.
    "container ports[].protocol = TCP",
    // Grafana/API Deployments write `restartPolicy: Always`, static and Patroni pods omit it.
    "PodSpec restartPolicy = Always",
    // The chart writes `type: Opaque` on Secrets; a renderer may leave the default.
    "Secret type = Opaque",
    // The API server stores TypeMeta on StatefulSet claim templates; the chart omits it and
    // k8s-openapi always serialises it (seen in the first real parity run).
    "StatefulSet spec.volumeClaimTemplates[] apiVersion = v1, kind = PersistentVolumeClaim",
    // The server stores these in claim templates; `volumeClaimTemplates` is atomic, so a second
    // field manager must write them to apply without a conflict (the 2026 takeover run).
    "StatefulSet spec.volumeClaimTemplates[] spec.volumeMode = Filesystem, status.phase = Pending",
    // The server stores `apiVersion: v1` in env `fieldRef`s; written for the same reason.
    "container env[].valueFrom.fieldRef.apiVersion = v1",
];

/// A kind mapping: a chart object of `chart_kind` whose name starts with `name_prefix` may be
/// rendered by us as `ours_kind` with the same name, pod spec under `spec.template`.
struct KindMapping {
    chart_kind: &'static str,
    name_prefix: &'static str,
    ours_api_version: &'static str,
    ours_kind: &'static str,
    /// Fields (JSON pointers) only our object may set.
    ours_only_fields: &'static [&'static str],
    deviation: &'static str,
}

const KIND_MAPPINGS: &[KindMapping] = &[KindMapping {
    chart_kind: "Pod",
    name_prefix: "devstats-provision-",
    ours_api_version: "batch/v1",
    ours_kind: "Job",
    ours_only_fields: &["/spec/ttlSecondsAfterFinished", "/spec/backoffLimit"],
    deviation: PROVISION_AS_JOB,
}];

/// A per-project object: `kind` named `{name_prefix}{proj}` with label `proj: {proj}`.
struct PerProjectObject {
    kind: &'static str,
    name_prefix: &'static str,
    /// Still rendered for archived projects (their data is kept).
    kept_when_archived: bool,
}

const PER_PROJECT_OBJECTS: &[PerProjectObject] = &[
    PerProjectObject {
        kind: "PersistentVolumeClaim",
        name_prefix: "devstats-pvc-",
        kept_when_archived: true,
    },
    PerProjectObject {
        kind: "Pod",
        name_prefix: "devstats-provision-",
        kept_when_archived: false,
    },
    PerProjectObject {
        kind: "CronJob",
        name_prefix: "devstats-",
        kept_when_archived: false,
    },
    PerProjectObject {
        kind: "CronJob",
        name_prefix: "devstats-affiliations-",
        kept_when_archived: false,
    },
    PerProjectObject {
        kind: "Deployment",
        name_prefix: "devstats-grafana-",
        kept_when_archived: false,
    },
    PerProjectObject {
        kind: "Service",
        name_prefix: "devstats-service-",
        kept_when_archived: false,
    },
];

/// The chart's Secrets (all three carry placeholder data in the fixtures).
const CHART_SECRETS: &[&str] = &["pg-db", "github-oauth", "grafana-secret"];

/// Label keys we may add on object metadata, by prefix, and the deviation explaining them.
const ADDED_LABEL_PREFIXES: &[(&str, &str)] = &[("app.kubernetes.io/", RECOMMENDED_LABELS)];
/// Annotation keys we may add on object metadata, by prefix ("" = any).
const ADDED_ANNOTATION_PREFIXES: &[(&str, &str)] = &[("", ADDED_ANNOTATIONS)];

/// Project Ingresses are `devstats-ingress-N` for N >= 2 (`devstats-ingress-1` serves the bare
/// domains and is compared like any other object).
const PROJECT_INGRESS_PREFIX: &str = "devstats-ingress-";
const FIRST_PROJECT_BUCKET: usize = 2;
/// At most this many hosts per project Ingress / certificate.
pub const MAX_HOSTS_PER_BUCKET: usize = 35;
const TLS_SECRET_PREFIX: &str = "devstats-tls-";
const PROJECT_SERVICE_PREFIX: &str = "devstats-service-";

/// Does a deviation explain this chart object's absence from our render?
type MissingRule = fn(&ObjKey, &Value, &ParityContext) -> bool;
/// Does a deviation explain this differing scalar (path, chart value, our value)?
type LeafRule = fn(&Leaf<'_>) -> bool;

/// A differing scalar, with both (normalised) objects for rules that look at siblings.
struct Leaf<'a> {
    path: &'a [String],
    chart: &'a Value,
    ours: &'a Value,
    chart_root: &'a Value,
    ours_root: &'a Value,
}

impl Leaf<'_> {
    /// For `…/env/N/value`: the env var's name on the chart side.
    fn env_name(&self) -> Option<&str> {
        let n = self.path.len();
        if n < 3 || self.path[n - 1] != "value" || self.path[n - 3] != "env" {
            return None;
        }
        let name_ptr = format!("{}/name", pointer(&self.path[..n - 1]));
        self.chart_root.pointer(&name_ptr).and_then(Value::as_str)
    }

    /// For an env value: an integer env var of the same container, on one side.
    fn sibling_int(&self, root: &Value, var: &str) -> Option<i64> {
        let env = root
            .pointer(&pointer(&self.path[..self.path.len() - 2]))?
            .as_array()?;
        let e = env
            .iter()
            .find(|e| e.get("name").and_then(Value::as_str) == Some(var))?;
        e.get("value")?.as_str()?.parse().ok()
    }
}

/// Rules explaining a chart object that is absent from our render.
const MISSING_RULES: &[(&str, MissingRule)] = &[
    (INSTANCE_NAMESPACE_ONLY, other_namespace_object),
    (SERVED_PROJECTS_ONLY, absent_project_object),
    (SECRETS_NOT_RENDERED, unrendered_secret),
];

/// Rules explaining a differing scalar: (deviation, predicate on path, chart value, our value).
const LEAF_RULES: &[(&str, LeafRule)] = &[
    (INTEGER_ENV_VALUES, integer_env_value_as_float),
    (PATRONI_TIMING, patroni_retry_timeout_fixed),
];

fn other_namespace_object(key: &ObjKey, _: &Value, ctx: &ParityContext) -> bool {
    key.kind == "Namespace" && key.name != ctx.namespace
}

fn absent_project_object(key: &ObjKey, chart: &Value, ctx: &ParityContext) -> bool {
    let Some(proj) = chart.pointer("/metadata/labels/proj").and_then(Value::as_str) else {
        return false;
    };
    let Some(absence) = ctx.absent_projects.get(proj) else {
        return false;
    };
    PER_PROJECT_OBJECTS.iter().any(|p| {
        p.kind == key.kind
            && key.name == format!("{}{proj}", p.name_prefix)
            && !(p.kept_when_archived && *absence == ProjectAbsence::Archived)
    })
}

fn unrendered_secret(key: &ObjKey, _: &Value, ctx: &ParityContext) -> bool {
    key.kind == "Secret" && !ctx.secrets_rendered && CHART_SECRETS.contains(&key.name.as_str())
}

/// `…/env/N/value`: the chart has Helm's float64 rendering of our integer.
fn integer_env_value_as_float(leaf: &Leaf<'_>) -> bool {
    if leaf.env_name().is_none() {
        return false;
    }
    let (Some(c), Some(o)) = (leaf.chart.as_str(), leaf.ours.as_str()) else {
        return false;
    };
    match o.parse::<i128>() {
        Ok(int) if o == int.to_string() => c != o && c == go_float_string(int),
        _ => false,
    }
}

/// `PATRONI_RETRY_TIMEOUT`: the chart's timing breaks Patroni's rule
/// `loop_wait + 2 × retry_timeout <= ttl`, ours keeps the same `PATRONI_LOOP_WAIT` and
/// `PATRONI_TTL` and a smaller retry timeout that satisfies it.
fn patroni_retry_timeout_fixed(leaf: &Leaf<'_>) -> bool {
    if leaf.env_name() != Some("PATRONI_RETRY_TIMEOUT") {
        return false;
    }
    let int = |v: &Value| v.as_str().and_then(|s| s.parse::<i64>().ok());
    let (Some(chart_retry), Some(ours_retry)) = (int(leaf.chart), int(leaf.ours)) else {
        return false;
    };
    let timing = |root: &Value| {
        Some((
            leaf.sibling_int(root, "PATRONI_LOOP_WAIT")?,
            leaf.sibling_int(root, "PATRONI_TTL")?,
        ))
    };
    match (timing(leaf.chart_root), timing(leaf.ours_root)) {
        (Some((loop_wait, ttl)), Some(ours_timing)) => {
            ours_timing == (loop_wait, ttl)
                && loop_wait + 2 * chart_retry > ttl
                && loop_wait + 2 * ours_retry <= ttl
                && ours_retry > 0
        }
        _ => false,
    }
}

/// How Go's `fmt` prints `float64(n)` with `%v` (what Helm does with integer values, which it
/// parses as float64): shortest digits, `%e` form from exponent 6 up, e.g. `5.36870912e+10`.
/// Exact for |n| < 2^53.
pub fn go_float_string(n: i128) -> String {
    if n == 0 {
        return "0".to_owned();
    }
    let sign = if n < 0 { "-" } else { "" };
    let digits = n.unsigned_abs().to_string();
    let exp = digits.len() - 1;
    if exp < 6 {
        return format!("{sign}{digits}");
    }
    let trimmed = digits.trim_end_matches('0');
    let mantissa = if trimmed.len() > 1 {
        format!("{}.{}", &trimmed[..1], &trimmed[1..])
    } else {
        trimmed.to_owned()
    };
    format!("{sign}{mantissa}e+{exp:02}")
}

// ---------------------------------------------------------------------------------------------
// Context and report
// ---------------------------------------------------------------------------------------------

/// Why a project of the chart's `projects:` list gets fewer objects from us.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProjectAbsence {
    /// Not served by this instance: none of its per-project objects (and no Ingress host).
    NotServed,
    /// Archived: only its PVC `devstats-pvc-{proj}` is kept.
    Archived,
}

/// What our model says about the instance being compared.
#[derive(Clone, Debug, Default)]
pub struct ParityContext {
    /// The instance's namespace (`devstats-test`, `devstats-prod`).
    pub namespace: String,
    /// Projects (chart `proj`) for which our model renders fewer objects, and why.
    pub absent_projects: BTreeMap<String, ProjectAbsence>,
    /// Whether our render included Secrets (with data); then they are compared by keys.
    pub secrets_rendered: bool,
    /// Kinds we may render although the chart does not (listed in `allowed_extra`).
    pub allowed_extra_kinds: BTreeSet<String>,
}

impl ParityContext {
    /// Context for the instance living in `namespace`, every project served, no secrets.
    pub fn new(namespace: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            ..Self::default()
        }
    }

    /// Marks `proj` as not served by this instance.
    pub fn not_served(mut self, proj: impl Into<String>) -> Self {
        self.absent_projects
            .insert(proj.into(), ProjectAbsence::NotServed);
        self
    }

    /// Marks `proj` as archived (keeps its PVC).
    pub fn archived(mut self, proj: impl Into<String>) -> Self {
        self.absent_projects.insert(proj.into(), ProjectAbsence::Archived);
        self
    }

    /// Says whether our render contains the Secrets.
    pub fn with_secrets_rendered(mut self, rendered: bool) -> Self {
        self.secrets_rendered = rendered;
        self
    }

    /// Allows extra objects of `kind` in our render.
    pub fn allow_extra_kind(mut self, kind: impl Into<String>) -> Self {
        self.allowed_extra_kinds.insert(kind.into());
        self
    }
}

/// The outcome of [`compare`].
#[derive(Clone, Debug, Default)]
pub struct ParityReport {
    /// Differences no deviation explains: `Kind ns/name: /json/pointer: chart X != ours Y`.
    pub unexplained: Vec<String>,
    /// Deviations that explained something, with the number of objects concerned.
    pub deviations_used: BTreeMap<&'static str, usize>,
    /// Objects we render that the chart does not, of kinds not allowed by the context.
    pub extra_ours: Vec<String>,
    /// Objects we render that the chart does not, of kinds the context allows.
    pub allowed_extra: Vec<String>,
    /// Number of chart objects matched with one of ours and compared.
    pub compared: usize,
}

/// How many differences [`ParityReport::summary`] prints.
pub const SUMMARY_LIMIT: usize = 50;

impl ParityReport {
    /// No unexplained difference and no unexpected extra object.
    pub fn is_clean(&self) -> bool {
        self.unexplained.is_empty() && self.extra_ours.is_empty()
    }

    /// Readable summary: counts, then the first [`SUMMARY_LIMIT`] differences and extras.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{} object(s) compared, {} unexplained difference(s), {} unexpected extra object(s)\n",
            self.compared,
            self.unexplained.len(),
            self.extra_ours.len()
        );
        push_limited(&mut s, "unexplained differences", &self.unexplained);
        push_limited(&mut s, "objects only in our render", &self.extra_ours);
        if !self.deviations_used.is_empty() {
            s.push_str("deviations used (objects):");
            for (id, n) in &self.deviations_used {
                s.push_str(&format!(" {id}={n}"));
            }
            s.push('\n');
        }
        s
    }

    fn use_deviation(&mut self, id: &'static str) {
        *self.deviations_used.entry(id).or_insert(0) += 1;
    }
}

fn push_limited(s: &mut String, title: &str, lines: &[String]) {
    if lines.is_empty() {
        return;
    }
    s.push_str(&format!("{title}:\n"));
    for line in lines.iter().take(SUMMARY_LIMIT) {
        s.push_str("  ");
        s.push_str(line);
        s.push('\n');
    }
    if lines.len() > SUMMARY_LIMIT {
        s.push_str(&format!("  ... and {} more\n", lines.len() - SUMMARY_LIMIT));
    }
}

impl fmt::Display for ParityReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.summary())
    }
}

/// Path of the operator document listing the deviations.
pub fn parity_doc_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/helm-parity.md")
}

/// The `## id` headings of `docs/helm-parity.md`.
pub fn documented_ids() -> BTreeSet<String> {
    let path = parity_doc_path();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    text.lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(|h| h.trim().trim_matches('`').to_owned())
        .collect()
}

/// Panics unless every deviation used by `report` is a `## id` section of `docs/helm-parity.md`.
pub fn assert_documented(report: &ParityReport) {
    let documented = documented_ids();
    let missing: Vec<&str> = report
        .deviations_used
        .keys()
        .copied()
        .filter(|id| !documented.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "deviations used but not documented as `## id` in {}: {missing:?}",
        parity_doc_path().display()
    );
}

/// Panics with the summary unless the report is clean; also checks the documentation.
pub fn assert_parity(report: &ParityReport) {
    assert!(
        report.is_clean(),
        "render differs from the Helm chart:\n{}",
        report.summary()
    );
    assert_documented(report);
}

// ---------------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------------

/// Identity of an object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ObjKey {
    kind: String,
    namespace: String,
    name: String,
}

impl ObjKey {
    fn of(v: &Value) -> Self {
        let s = |p: &str| {
            v.pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Self {
            kind: s("/kind"),
            namespace: s("/metadata/namespace"),
            name: s("/metadata/name"),
        }
    }
}

impl fmt::Display for ObjKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.namespace.is_empty() {
            write!(f, "{} {}", self.kind, self.name)
        } else {
            write!(f, "{} {}/{}", self.kind, self.namespace, self.name)
        }
    }
}

fn index<'a>(objs: &'a [Value], side: &str, report: &mut ParityReport) -> BTreeMap<ObjKey, &'a Value> {
    let mut ix = BTreeMap::new();
    for v in objs {
        let key = ObjKey::of(v);
        if ix.insert(key.clone(), v).is_some() {
            report
                .unexplained
                .push(format!("{key}: rendered twice in {side}"));
        }
    }
    ix
}

/// Compares the chart's render with ours. See the module documentation for the rules.
pub fn compare(chart: &[Value], ours: &[Value], ctx: &ParityContext) -> ParityReport {
    let mut report = ParityReport::default();
    let chart_ix = index(chart, "the chart render", &mut report);
    let ours_ix = index(ours, "our render", &mut report);
    let mut matched: BTreeSet<ObjKey> = BTreeSet::new();

    // Project Ingresses are compared as a group when absent projects had hosts in the chart.
    let grouped_ns = ingress_group_namespaces(&chart_ix, ctx);
    for ns in &grouped_ns {
        compare_project_ingresses(ns, &chart_ix, &ours_ix, ctx, &mut report, &mut matched);
    }

    for (key, chart_obj) in &chart_ix {
        if key.kind == "Ingress" && grouped_ns.contains(&key.namespace) && project_bucket(&key.name).is_some()
        {
            continue;
        }
        if let Some(ours_obj) = ours_ix.get(key) {
            matched.insert(key.clone());
            report.compared += 1;
            compare_pair(&mut report, &key.to_string(), chart_obj, ours_obj, &[], None);
            continue;
        }
        if let Some((mapping, ours_key, ours_obj)) = mapped_counterpart(key, &ours_ix) {
            matched.insert(ours_key);
            report.compared += 1;
            let id = format!(
                "{}→{} {}/{}",
                key.kind, mapping.ours_kind, key.namespace, key.name
            );
            let as_ours = wrap_pod(chart_obj, mapping);
            compare_pair(
                &mut report,
                &id,
                &as_ours,
                ours_obj,
                mapping.ours_only_fields,
                Some(mapping.deviation),
            );
            continue;
        }
        match MISSING_RULES
            .iter()
            .find(|(_, applies)| applies(key, chart_obj, ctx))
        {
            Some((id, _)) => report.use_deviation(id),
            None => report
                .unexplained
                .push(format!("{key}: missing from our render (the chart renders it)")),
        }
    }

    for key in ours_ix.keys() {
        if matched.contains(key) {
            continue;
        }
        if ctx.allowed_extra_kinds.contains(&key.kind) {
            report.allowed_extra.push(key.to_string());
        } else {
            report.extra_ours.push(key.to_string());
        }
    }
    report
}

fn mapped_counterpart<'a>(
    key: &ObjKey,
    ours_ix: &BTreeMap<ObjKey, &'a Value>,
) -> Option<(&'static KindMapping, ObjKey, &'a Value)> {
    KIND_MAPPINGS
        .iter()
        .filter(|m| m.chart_kind == key.kind && key.name.starts_with(m.name_prefix))
        .find_map(|m| {
            let ours_key = ObjKey {
                kind: m.ours_kind.to_owned(),
                ..key.clone()
            };
            ours_ix.get(&ours_key).map(|v| (m, ours_key, *v))
        })
}

/// The chart Pod as the workload object we render instead: same metadata, pod labels and
/// annotations on the template, pod spec under `spec.template.spec`.
fn wrap_pod(pod: &Value, mapping: &KindMapping) -> Value {
    let meta = pod.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut template_meta = Map::new();
    for k in ["labels", "annotations"] {
        if let Some(v) = meta.get(k) {
            template_meta.insert(k.to_owned(), v.clone());
        }
    }
    json!({
        "apiVersion": mapping.ours_api_version,
        "kind": mapping.ours_kind,
        "metadata": meta,
        "spec": {
            "template": {
                "metadata": template_meta,
                "spec": pod.get("spec").cloned().unwrap_or_else(|| json!({})),
            }
        }
    })
}

fn compare_pair(
    report: &mut ParityReport,
    id: &str,
    chart: &Value,
    ours: &Value,
    ours_only_ok: &[&str],
    mapping_deviation: Option<&'static str>,
) {
    if mapping_deviation.is_none() && chart == ours {
        return; // fast path: identical objects normalise identically
    }
    let c = normalise(chart);
    let o = normalise(ours);
    let kind = c
        .value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut d = Differ {
        id,
        chart_root: &c.value,
        ours_root: &o.value,
        kind: &kind,
        ours_only_ok,
        ours_only_deviation: mapping_deviation,
        out: &mut report.unexplained,
        used: mapping_deviation.into_iter().collect(),
    };
    d.diff(&mut Vec::new(), Some(&c.value), Some(&o.value));
    let mut used = d.used;
    // Empty env values written differently (null vs "" vs nothing) are the same to Kubernetes.
    let differs = c
        .empty_forms
        .iter()
        .any(|(k, form)| o.empty_forms.get(k).is_some_and(|f| f != form));
    if differs {
        used.insert(NULL_ENV_VALUES);
    }
    for id in used {
        report.use_deviation(id);
    }
}

// ---------------------------------------------------------------------------------------------
// Normalisation
// ---------------------------------------------------------------------------------------------

/// An object reduced to its functional content.
struct Normalised {
    value: Value,
    /// `containers/{c}/env[/{var}]` → how an empty env (value) was written: "null", "\"\"",
    /// "[]" or "absent". Used to count [`NULL_ENV_VALUES`].
    empty_forms: BTreeMap<String, &'static str>,
}

fn normalise(obj: &Value) -> Normalised {
    let mut value = obj.clone();
    let mut forms = BTreeMap::new();
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if let Some(m) = value.as_object_mut() {
        m.remove("status");
    }
    let template = match kind.as_str() {
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => Some("/spec/template"),
        "CronJob" => Some("/spec/jobTemplate/spec/template"),
        _ => None,
    };
    if let Some(p) = template
        && let Some(t) = value.pointer_mut(p)
    {
        normalise_pod_template(t, &mut forms);
    }
    match kind.as_str() {
        "Pod" => {
            if let Some(spec) = value.get_mut("spec") {
                normalise_pod_spec(spec, &mut forms);
            }
        }
        "Service" => normalise_service(&mut value),
        "StatefulSet" => normalise_claim_templates(&mut value),
        "Secret" => normalise_secret(&mut value),
        _ => {}
    }
    Normalised {
        value,
        empty_forms: forms,
    }
}

fn normalise_pod_template(t: &mut Value, forms: &mut BTreeMap<String, &'static str>) {
    let Some(t) = t.as_object_mut() else { return };
    if let Some(Value::Object(meta)) = t.get_mut("metadata") {
        // Ignored by Kubernetes inside a pod template (pods get generated names).
        meta.remove("name");
        meta.remove("namespace");
        if meta.is_empty() {
            t.remove("metadata");
        }
    }
    if let Some(spec) = t.get_mut("spec") {
        normalise_pod_spec(spec, forms);
    }
}

fn normalise_pod_spec(spec: &mut Value, forms: &mut BTreeMap<String, &'static str>) {
    let Some(spec) = spec.as_object_mut() else { return };
    // API default (PodSpec.restartPolicy): the chart writes it on Grafana/API, omits it elsewhere.
    spec.entry("restartPolicy").or_insert_with(|| json!("Always"));
    for list in ["initContainers", "containers"] {
        if let Some(Value::Array(containers)) = spec.get_mut(list) {
            for c in containers {
                normalise_container(list, c, forms);
            }
        }
    }
}

fn normalise_container(list: &str, c: &mut Value, forms: &mut BTreeMap<String, &'static str>) {
    let Some(c) = c.as_object_mut() else { return };
    let cname = c.get("name").and_then(Value::as_str).unwrap_or("?").to_owned();
    let env_key = format!("{list}/{cname}/env");
    match c.get_mut("env") {
        None => {
            forms.insert(env_key, "absent");
        }
        Some(Value::Null) => {
            forms.insert(env_key, "null");
            c.remove("env");
        }
        Some(Value::Array(env)) => {
            for e in env.iter_mut() {
                let Some(e) = e.as_object_mut() else { continue };
                let var = e.get("name").and_then(Value::as_str).unwrap_or("?").to_owned();
                let key = format!("{list}/{cname}/env/{var}");
                // API default: the server stores `fieldRef.apiVersion: v1`.
                if let Some(Value::Object(f)) = e.get_mut("valueFrom").and_then(|v| v.get_mut("fieldRef")) {
                    f.entry("apiVersion").or_insert_with(|| json!("v1"));
                }
                match e.get("value") {
                    Some(Value::Null) => {
                        forms.insert(key, "null");
                        e.remove("value");
                    }
                    Some(Value::String(s)) if s.is_empty() => {
                        forms.insert(key, "\"\"");
                        e.remove("value");
                    }
                    None if !e.contains_key("valueFrom") => {
                        forms.insert(key, "absent");
                    }
                    _ => {}
                }
            }
            if env.is_empty() {
                forms.insert(env_key, "[]");
                c.remove("env");
            }
        }
        Some(_) => {}
    }
    // API default (ContainerPort.protocol): Patroni writes TCP, the other workloads omit it.
    if let Some(Value::Array(ports)) = c.get_mut("ports") {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            p.entry("protocol").or_insert_with(|| json!("TCP"));
        }
    }
}

fn normalise_service(v: &mut Value) {
    let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    // API default (ServiceSpec.type): the chart never writes it.
    spec.entry("type").or_insert_with(|| json!("ClusterIP"));
    if let Some(Value::Array(ports)) = spec.get_mut("ports") {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            // API default (ServicePort.protocol): API/Grafana Services write TCP, Patroni's omit it.
            p.entry("protocol").or_insert_with(|| json!("TCP"));
            // API default (ServicePort.targetPort = port): the Patroni Services omit it.
            if !p.contains_key("targetPort")
                && let Some(port) = p.get("port").cloned()
            {
                p.insert("targetPort".to_owned(), port);
            }
        }
    }
}

fn normalise_claim_templates(v: &mut Value) {
    if let Some(Value::Array(templates)) = v.pointer_mut("/spec/volumeClaimTemplates") {
        for t in templates.iter_mut().filter_map(Value::as_object_mut) {
            // API default: the API server stores the claim templates' TypeMeta.
            t.entry("apiVersion").or_insert_with(|| json!("v1"));
            t.entry("kind").or_insert_with(|| json!("PersistentVolumeClaim"));
            // API defaults inside the (atomic) claim templates: `volumeMode` and `status.phase`.
            if let Some(Value::Object(spec)) = t.get_mut("spec") {
                spec.entry("volumeMode").or_insert_with(|| json!("Filesystem"));
            }
            t.entry("status").or_insert_with(|| json!({"phase": "Pending"}));
        }
    }
}

const SECRET_VALUE: &str = "<value not compared>";

fn normalise_secret(v: &mut Value) {
    let Some(obj) = v.as_object_mut() else { return };
    // Only the keys matter: the chart's values are placeholders. stringData is write-only data.
    let mut keys = Map::new();
    for field in ["data", "stringData"] {
        if let Some(Value::Object(m)) = obj.remove(field) {
            for k in m.keys() {
                keys.insert(k.clone(), json!(SECRET_VALUE));
            }
        }
    }
    if !keys.is_empty() {
        obj.insert("data".to_owned(), Value::Object(keys));
    }
    // API default (Secret.type).
    obj.entry("type").or_insert_with(|| json!("Opaque"));
}

// ---------------------------------------------------------------------------------------------
// Structural diff
// ---------------------------------------------------------------------------------------------

struct Differ<'a> {
    id: &'a str,
    chart_root: &'a Value,
    ours_root: &'a Value,
    kind: &'a str,
    ours_only_ok: &'a [&'a str],
    ours_only_deviation: Option<&'static str>,
    out: &'a mut Vec<String>,
    used: BTreeSet<&'static str>,
}

/// JSON pointer of a path.
fn pointer(path: &[String]) -> String {
    if path.is_empty() {
        return "/".to_owned();
    }
    path.iter()
        .map(|s| format!("/{}", s.replace('~', "~0").replace('/', "~1")))
        .collect()
}

fn show(v: Option<&Value>) -> String {
    const MAX: usize = 160;
    let Some(v) = v else { return "<absent>".to_owned() };
    let s = v.to_string();
    if s.chars().count() > MAX {
        let cut: String = s.chars().take(MAX).collect();
        format!("{cut}…")
    } else {
        s
    }
}

impl Differ<'_> {
    fn report(&mut self, path: &[String], chart: Option<&Value>, ours: Option<&Value>) {
        self.out.push(format!(
            "{}: {}: chart {} != ours {}",
            self.id,
            pointer(path),
            show(chart),
            show(ours)
        ));
    }

    /// Object metadata (not pod-template metadata): labels/annotations may be added.
    fn is_object_metadata(&self, path: &[String]) -> bool {
        match path {
            [m] => m == "metadata",
            [s, jt, m] => self.kind == "CronJob" && s == "spec" && jt == "jobTemplate" && m == "metadata",
            _ => false,
        }
    }

    fn diff(&mut self, path: &mut Vec<String>, chart: Option<&Value>, ours: Option<&Value>) {
        if chart == ours {
            return;
        }
        if self.is_object_metadata(path)
            && let (None | Some(Value::Object(_)), None | Some(Value::Object(_))) = (chart, ours)
        {
            // An absent metadata is an empty one (e.g. a CronJob's jobTemplate.metadata).
            let empty = Map::new();
            let c = chart.and_then(Value::as_object).unwrap_or(&empty);
            let o = ours.and_then(Value::as_object).unwrap_or(&empty);
            self.diff_metadata(path, c, o);
            return;
        }
        match (chart, ours) {
            (Some(Value::Object(c)), Some(Value::Object(o))) => {
                let keys: BTreeSet<&String> = c.keys().chain(o.keys()).collect();
                for k in keys {
                    path.push(k.clone());
                    self.diff(path, c.get(k), o.get(k));
                    path.pop();
                }
            }
            (Some(Value::Array(c)), Some(Value::Array(o))) => self.diff_array(path, c, o),
            (None, Some(o)) => {
                let p = pointer(path);
                match self.ours_only_deviation {
                    Some(dev) if self.ours_only_ok.contains(&p.as_str()) => {
                        self.used.insert(dev);
                    }
                    _ => self.report(path, None, Some(o)),
                }
            }
            (Some(c), Some(o)) if is_quantity_path(path) && same_quantity(c, o) => {}
            (Some(c), Some(o)) => match LEAF_RULES.iter().find(|(_, applies)| {
                applies(&Leaf {
                    path,
                    chart: c,
                    ours: o,
                    chart_root: self.chart_root,
                    ours_root: self.ours_root,
                })
            }) {
                Some((dev, _)) => {
                    self.used.insert(dev);
                }
                None => self.report(path, Some(c), Some(o)),
            },
            _ => self.report(path, chart, ours),
        }
    }

    fn diff_metadata(&mut self, path: &mut Vec<String>, c: &Map<String, Value>, o: &Map<String, Value>) {
        let keys: BTreeSet<&String> = c.keys().chain(o.keys()).collect();
        for k in keys {
            path.push(k.clone());
            match k.as_str() {
                "labels" => self.diff_additive(path, c.get(k), o.get(k), ADDED_LABEL_PREFIXES),
                "annotations" => self.diff_additive(path, c.get(k), o.get(k), ADDED_ANNOTATION_PREFIXES),
                _ => self.diff(path, c.get(k), o.get(k)),
            }
            path.pop();
        }
    }

    /// A string map where every chart entry must be in ours and ours may add keys matching
    /// one of `added` (prefix, deviation).
    fn diff_additive(
        &mut self,
        path: &mut Vec<String>,
        chart: Option<&Value>,
        ours: Option<&Value>,
        added: &[(&str, &'static str)],
    ) {
        let empty = Map::new();
        let (c, o) = match (chart, ours) {
            (None | Some(Value::Object(_)), None | Some(Value::Object(_))) => (
                chart.and_then(Value::as_object).unwrap_or(&empty),
                ours.and_then(Value::as_object).unwrap_or(&empty),
            ),
            _ => return self.diff(path, chart, ours),
        };
        for (k, v) in c {
            path.push(k.clone());
            self.diff(path, Some(v), o.get(k));
            path.pop();
        }
        for (k, v) in o.iter().filter(|(k, _)| !c.contains_key(*k)) {
            match added.iter().find(|(prefix, _)| k.starts_with(prefix)) {
                Some((_, dev)) => {
                    self.used.insert(dev);
                }
                None => {
                    path.push(k.clone());
                    self.report(path, None, Some(v));
                    path.pop();
                }
            }
        }
    }

    fn diff_array(&mut self, path: &mut Vec<String>, c: &[Value], o: &[Value]) {
        if let (Some(cn), Some(on)) = (element_names(c), element_names(o))
            && cn != on
        {
            self.diff_named(path, c, o, &cn, &on);
            return;
        }
        for i in 0..c.len().max(o.len()) {
            path.push(i.to_string());
            self.diff(path, c.get(i), o.get(i));
            path.pop();
        }
    }

    /// Lists of named elements (env, containers, volumes, mounts, ports) whose names differ:
    /// report missing, added and reordered names, then compare the elements by name.
    fn diff_named(&mut self, path: &mut Vec<String>, c: &[Value], o: &[Value], cn: &[&str], on: &[&str]) {
        let in_ours: BTreeMap<&str, usize> = on.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        let in_chart: BTreeMap<&str, usize> = cn.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        for (ci, name) in cn.iter().enumerate() {
            if !in_ours.contains_key(name) {
                path.extend([ci.to_string(), "name".to_owned()]);
                self.report(path, Some(&json!(name)), None);
                path.truncate(path.len() - 2);
            }
        }
        for (oi, name) in on.iter().enumerate() {
            if !in_chart.contains_key(name) {
                path.extend([oi.to_string(), "name".to_owned()]);
                self.report(path, None, Some(&json!(name)));
                path.truncate(path.len() - 2);
            }
        }
        let common_c: Vec<&str> = cn.iter().copied().filter(|n| in_ours.contains_key(n)).collect();
        let common_o: Vec<&str> = on.iter().copied().filter(|n| in_chart.contains_key(n)).collect();
        if let Some((a, b)) = common_c.iter().zip(&common_o).find(|(a, b)| a != b) {
            let ci = in_chart[a];
            path.extend([ci.to_string(), "name".to_owned()]);
            let p = pointer(path);
            path.truncate(path.len() - 2);
            self.out.push(format!(
                "{}: {p}: chart {} != ours {} (order differs: ours has {} at index {})",
                self.id,
                json!(a),
                json!(b),
                json!(a),
                in_ours[a]
            ));
        }
        for (ci, name) in cn.iter().enumerate() {
            if let Some(&oi) = in_ours.get(name) {
                path.push(ci.to_string());
                self.diff(path, Some(&c[ci]), Some(&o[oi]));
                path.pop();
            }
        }
    }
}

/// Names of the elements if every element is an object with a unique string `name`.
fn element_names(list: &[Value]) -> Option<Vec<&str>> {
    let names: Vec<&str> = list
        .iter()
        .map(|e| e.get("name").and_then(Value::as_str))
        .collect::<Option<_>>()?;
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    (!names.is_empty() && unique.len() == names.len()).then_some(names)
}

// ---------------------------------------------------------------------------------------------
// Quantities
// ---------------------------------------------------------------------------------------------

/// `…/resources/{requests,limits}/X` (containers, PVCs, claim templates) and `…/sizeLimit`.
fn is_quantity_path(path: &[String]) -> bool {
    let n = path.len();
    (n >= 3 && path[n - 3] == "resources" && (path[n - 2] == "requests" || path[n - 2] == "limits"))
        || path.last().is_some_and(|l| l == "sizeLimit")
}

fn same_quantity(a: &Value, b: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match (
        text(a).as_deref().and_then(parse_quantity),
        text(b).as_deref().and_then(parse_quantity),
    ) {
        (Some(x), Some(y)) => quantity_eq(x, y),
        _ => false,
    }
}

/// A Kubernetes quantity as `mantissa × 10^exp10 × 2^exp2`.
pub type Quantity = (i128, i32, u32);

/// Parses a Kubernetes resource quantity (`1000m`, `0.5`, `4Gi`, `1e3`, `2k`).
pub fn parse_quantity(s: &str) -> Option<Quantity> {
    let s = s.trim();
    const BINARY: &[(&str, u32)] = &[
        ("Ki", 10),
        ("Mi", 20),
        ("Gi", 30),
        ("Ti", 40),
        ("Pi", 50),
        ("Ei", 60),
    ];
    const DECIMAL: &[(&str, i32)] = &[
        ("n", -9),
        ("u", -6),
        ("m", -3),
        ("k", 3),
        ("M", 6),
        ("G", 9),
        ("T", 12),
        ("P", 15),
        ("E", 18),
    ];
    // Decimal exponent form first ("1e3", "1E3"); a bare trailing "E" is the exa suffix.
    if let Some(pos) = s.find(['e', 'E'])
        && let Ok(exp) = s[pos + 1..].parse::<i32>()
    {
        let (m, e) = parse_decimal(&s[..pos])?;
        return Some((m, e.checked_add(exp)?, 0));
    }
    if let Some((num, b)) = BINARY
        .iter()
        .find_map(|(suf, b)| s.strip_suffix(suf).map(|n| (n, *b)))
    {
        let (m, e) = parse_decimal(num)?;
        return Some((m, e, b));
    }
    if let Some((num, d)) = DECIMAL
        .iter()
        .find_map(|(suf, d)| s.strip_suffix(suf).map(|n| (n, *d)))
    {
        let (m, e) = parse_decimal(num)?;
        return Some((m, e.checked_add(d)?, 0));
    }
    let (m, e) = parse_decimal(s)?;
    Some((m, e, 0))
}

/// `[+-]digits[.digits]` as (mantissa, exp10).
fn parse_decimal(s: &str) -> Option<(i128, i32)> {
    let (neg, s) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits = format!("{int}{frac}");
    let m: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().ok()?
    };
    let e = -i32::try_from(frac.len()).ok()?;
    Some((if neg { -m } else { m }, e))
}

/// Exact equality of two quantities (false if the arithmetic overflows).
pub fn quantity_eq(a: Quantity, b: Quantity) -> bool {
    let e = a.1.min(b.1);
    let p = a.2.min(b.2);
    let scale = |(m, e10, e2): Quantity| -> Option<i128> {
        let m = m.checked_mul(10i128.checked_pow(u32::try_from(e10 - e).ok()?)?)?;
        let shift = e2 - p;
        if shift >= 126 {
            return None;
        }
        m.checked_mul(1i128 << shift)
    };
    match (scale(a), scale(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

// ---------------------------------------------------------------------------------------------
// Project Ingresses
// ---------------------------------------------------------------------------------------------

/// `devstats-ingress-N` with N >= 2 → N.
fn project_bucket(name: &str) -> Option<usize> {
    name.strip_prefix(PROJECT_INGRESS_PREFIX)?
        .parse()
        .ok()
        .filter(|n| *n >= FIRST_PROJECT_BUCKET)
}

/// One routed path of a project Ingress: (host, path, pathType, backend service, backend port).
type RuleKey = (String, String, String, String, String);

/// Rules of an Ingress with the index of the rule they come from.
fn rule_keys(ing: &Value) -> Vec<(RuleKey, usize)> {
    let mut out = Vec::new();
    let rules = ing
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (ri, rule) in rules.iter().enumerate() {
        let host = rule.get("host").and_then(Value::as_str).unwrap_or_default();
        let paths = rule
            .pointer("/http/paths")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for p in paths {
            let s = |ptr: &str| {
                p.pointer(ptr)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            };
            // `number` or `name` (a named port), whichever is set.
            let port = p
                .pointer("/backend/service/port/number")
                .or_else(|| p.pointer("/backend/service/port/name"))
                .or_else(|| p.pointer("/backend/service/port"))
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .unwrap_or_default();
            out.push((
                (
                    host.to_owned(),
                    s("/path"),
                    s("/pathType"),
                    s("/backend/service/name"),
                    port,
                ),
                ri,
            ));
        }
    }
    out
}

fn tls_hosts(ing: &Value) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let tls = ing
        .pointer("/spec/tls")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (ti, t) in tls.iter().enumerate() {
        let hosts = t
            .get("hosts")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (hi, h) in hosts.iter().enumerate() {
            out.push((h.as_str().unwrap_or_default().to_owned(), ti, hi));
        }
    }
    out
}

fn service_project<'a>(service: &'a str, ctx: &ParityContext) -> Option<&'a str> {
    service
        .strip_prefix(PROJECT_SERVICE_PREFIX)
        .filter(|p| ctx.absent_projects.contains_key(*p))
}

/// Namespaces whose chart project Ingresses route hosts of projects absent from our render.
fn ingress_group_namespaces(chart_ix: &BTreeMap<ObjKey, &Value>, ctx: &ParityContext) -> BTreeSet<String> {
    chart_ix
        .iter()
        .filter(|(k, _)| k.kind == "Ingress" && project_bucket(&k.name).is_some())
        .filter(|(_, v)| {
            rule_keys(v)
                .iter()
                .any(|((.., svc, _), _)| service_project(svc, ctx).is_some())
        })
        .map(|(k, _)| k.namespace.clone())
        .collect()
}

fn project_ingresses<'a>(ix: &BTreeMap<ObjKey, &'a Value>, ns: &str) -> Vec<(usize, ObjKey, &'a Value)> {
    let mut v: Vec<_> = ix
        .iter()
        .filter(|(k, _)| k.kind == "Ingress" && k.namespace == ns)
        .filter_map(|(k, v)| project_bucket(&k.name).map(|n| (n, k.clone(), *v)))
        .collect();
    v.sort_by_key(|(n, ..)| *n);
    v
}

/// The [`INGRESS_HOSTS`] comparison: the same routed rules and TLS hosts across all project
/// Ingresses (minus those of absent projects), each Ingress shaped like the chart's, with one
/// TLS entry `devstats-tls-N` of at most [`MAX_HOSTS_PER_BUCKET`] hosts covering its rules.
fn compare_project_ingresses(
    ns: &str,
    chart_ix: &BTreeMap<ObjKey, &Value>,
    ours_ix: &BTreeMap<ObjKey, &Value>,
    ctx: &ParityContext,
    report: &mut ParityReport,
    matched: &mut BTreeSet<ObjKey>,
) {
    let chart_ings = project_ingresses(chart_ix, ns);
    let ours_ings = project_ingresses(ours_ix, ns);
    let show_rule = |(host, path, _, svc, port): &RuleKey| format!("{host}{path} -> {svc}:{port}");

    let collect_rules = |ings: &[(usize, ObjKey, &Value)], dups: &mut Vec<String>| {
        let mut m: BTreeMap<RuleKey, (ObjKey, usize)> = BTreeMap::new();
        for (_, k, v) in ings {
            for (rule, ri) in rule_keys(v) {
                if let Some((first, _)) = m.get(&rule) {
                    dups.push(format!(
                        "{k}: /spec/rules/{ri}/host: rule {} is also routed by {first}",
                        show_rule(&rule)
                    ));
                } else {
                    m.insert(rule, (k.clone(), ri));
                }
            }
        }
        m
    };
    let mut dups = Vec::new();
    let chart_rules = collect_rules(&chart_ings, &mut dups);
    dups.clear(); // the chart de-duplicates hosts itself; only ours is checked
    let ours_rules = collect_rules(&ours_ings, &mut dups);
    report.unexplained.append(&mut dups);

    let mut removed = 0usize;
    let mut moved = Vec::new();
    let mut absent_hosts: BTreeSet<&str> = BTreeSet::new();
    for (rule, (ck, ri)) in &chart_rules {
        match ours_rules.get(rule) {
            Some((ok, _)) if ok.name != ck.name => moved.push((rule, ck, ok)),
            Some(_) => {}
            None if service_project(&rule.3, ctx).is_some() => {
                removed += 1;
                absent_hosts.insert(&rule.0);
            }
            None => report.unexplained.push(format!(
                "{ck}: /spec/rules/{ri}/host: chart {} != ours <absent> (rule {} is in none of our project Ingresses)",
                json!(rule.0),
                show_rule(rule)
            )),
        }
    }
    for (rule, (ok, ri)) in &ours_rules {
        if !chart_rules.contains_key(rule) {
            report.unexplained.push(format!(
                "{ok}: /spec/rules/{ri}/host: chart <absent> != ours {} (rule {} is in none of the chart's project Ingresses)",
                json!(rule.0),
                show_rule(rule)
            ));
        }
    }
    if removed == 0 {
        // Hosts may only move between certificates because hosts of absent projects left.
        for (rule, ck, ok) in &moved {
            report.unexplained.push(format!(
                "{ck}: /spec/rules: rule {} moved to {ok} although no host was removed",
                show_rule(rule)
            ));
        }
    } else {
        report.use_deviation(INGRESS_HOSTS);
    }

    let chart_tls: BTreeMap<String, (ObjKey, usize, usize)> = chart_ings
        .iter()
        .flat_map(|(_, k, v)| {
            tls_hosts(v)
                .into_iter()
                .map(move |(h, ti, hi)| (h, (k.clone(), ti, hi)))
        })
        .collect();
    let ours_tls: BTreeMap<String, (ObjKey, usize, usize)> = ours_ings
        .iter()
        .flat_map(|(_, k, v)| {
            tls_hosts(v)
                .into_iter()
                .map(move |(h, ti, hi)| (h, (k.clone(), ti, hi)))
        })
        .collect();
    for (host, (ck, ti, hi)) in &chart_tls {
        if !ours_tls.contains_key(host) && !absent_hosts.contains(host.as_str()) {
            report.unexplained.push(format!(
                "{ck}: /spec/tls/{ti}/hosts/{hi}: chart {} != ours <absent> (in none of our project Ingresses)",
                json!(host)
            ));
        }
    }
    for (host, (ok, ti, hi)) in &ours_tls {
        if !chart_tls.contains_key(host) {
            report.unexplained.push(format!(
                "{ok}: /spec/tls/{ti}/hosts/{hi}: chart <absent> != ours {} (in none of the chart's project Ingresses)",
                json!(host)
            ));
        }
    }

    // Per Ingress: everything but rules and TLS like the chart's Ingress of the same name (or the
    // chart's first project Ingress), plus the bucket invariants.
    let shape = |v: &Value| {
        let mut v = v.clone();
        if let Some(spec) = v.get_mut("spec").and_then(Value::as_object_mut) {
            spec.remove("rules");
            spec.remove("tls");
        }
        if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("name");
        }
        v
    };
    for (i, (n, key, ours)) in ours_ings.iter().enumerate() {
        matched.insert(key.clone());
        report.compared += 1;
        let id = key.to_string();
        let expected_n = FIRST_PROJECT_BUCKET + i;
        if *n != expected_n {
            report.unexplained.push(format!(
                "{id}: /metadata/name: chart {} != ours {} (project Ingresses must be numbered without gaps)",
                json!(format!("{PROJECT_INGRESS_PREFIX}{expected_n}")),
                json!(key.name)
            ));
        }
        let reference = chart_ix
            .get(key)
            .copied()
            .or_else(|| chart_ings.first().map(|(_, _, v)| *v));
        if let Some(reference) = reference {
            compare_pair(report, &id, &shape(reference), &shape(ours), &[], None);
        }
        let tls = ours
            .pointer("/spec/tls")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        if tls.len() != 1 {
            report.unexplained.push(format!(
                "{id}: /spec/tls: chart 1 entry != ours {} entries",
                tls.len()
            ));
        }
        let want_secret = format!("{TLS_SECRET_PREFIX}{n}");
        if let Some(t) = tls.first()
            && t.get("secretName").and_then(Value::as_str) != Some(want_secret.as_str())
        {
            report.unexplained.push(format!(
                "{id}: /spec/tls/0/secretName: chart {} != ours {}",
                json!(want_secret),
                show(t.get("secretName"))
            ));
        }
        let hosts: BTreeSet<String> = tls_hosts(ours).into_iter().map(|(h, ..)| h).collect();
        if hosts.len() > MAX_HOSTS_PER_BUCKET {
            report.unexplained.push(format!(
                "{id}: /spec/tls/0/hosts: {} hosts, more than {MAX_HOSTS_PER_BUCKET} per certificate",
                hosts.len()
            ));
        }
        let rule_hosts: BTreeSet<String> = rule_keys(ours).into_iter().map(|(r, _)| r.0).collect();
        if rule_hosts != hosts {
            let not_in_tls: Vec<&String> = rule_hosts.difference(&hosts).collect();
            let not_routed: Vec<&String> = hosts.difference(&rule_hosts).collect();
            report.unexplained.push(format!(
                "{id}: /spec/tls/0/hosts: rule hosts without TLS {not_in_tls:?}, TLS hosts without rule {not_routed:?}"
            ));
        }
    }
}
