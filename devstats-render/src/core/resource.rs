//! The `DevStats` custom resource (`devstats.cncf.io/v1alpha1`, kind `DevStats`, namespaced): one
//! resource is one environment of a model. Its spec is the model itself (instance, foundations,
//! projects; environments stay a file-level feature), its status is what the operator reports.
//!
//! Plain serde + schemars types, no kube: the CRD is built from these types' JSON Schema, the
//! CLI's `export-resource` writes them, and the operator (`devstats-operator`) reads and writes
//! them. Status field names are the contract between the operator, `docs/operator.md` and
//! whoever reads the resource with `kubectl get ds -o yaml`.

use std::collections::BTreeMap;

use devstats_model::Model;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// API group of the resource.
pub const GROUP: &str = "devstats.cncf.io";
/// API version (without the group).
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` as written in objects.
pub const API_VERSION: &str = "devstats.cncf.io/v1alpha1";
/// Kind of the resource.
pub const KIND: &str = "DevStats";
/// Plural resource name (REST path segment).
pub const PLURAL: &str = "devstats";
/// Singular name.
pub const SINGULAR: &str = "devstats";
/// Short name for kubectl (`kubectl get ds`).
pub const SHORT_NAME: &str = "ds";
/// Field manager the operator applies with.
pub const FIELD_MANAGER: &str = "devstats-operator";
/// Name of the operator's Deployment, ServiceAccount and Lease, and of its namespace.
pub const OPERATOR_NAME: &str = "devstats-operator";
/// Finalizer the operator puts on every resource it reconciles.
pub const FINALIZER: &str = "devstats.cncf.io/finalizer";

/// A `DevStats` resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DevStats {
    /// Always [`API_VERSION`].
    pub api_version: String,
    /// Always [`KIND`].
    pub kind: String,
    /// Name, namespace, labels, generation, finalizers.
    pub metadata: ObjectMeta,
    /// The model: instance, foundations, projects.
    pub spec: Model,
    /// What the operator last observed; absent until its first reconcile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<DevStatsStatus>,
}

/// Status of a `DevStats` resource, written by the operator through the status subresource.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DevStatsStatus {
    /// `metadata.generation` of the spec this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Progressing`, `Degraded`, `Stalled` (see [`ConditionType`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// One entry per project of the spec, sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub projects: Vec<ProjectStatus>,
    /// `<provisioned or syncing>/<projects of the spec>`, e.g. `241/243`: the `Projects` column
    /// of `kubectl get ds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projects_ready: Option<String>,
    /// The Patroni cluster's members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DatabaseStatus>,
    /// cert-manager Certificates (or Ingress TLS Secrets) of the served hosts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<CertificateStatus>,
    /// Counts of the last reconcile's writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objects: Option<ObjectCounts>,
    /// Model problems (the spec was rejected, nothing applied) or diagnosed pod failures.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<Problem>,
}

/// The condition types the operator sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
pub enum ConditionType {
    /// Every object applied and every wait met.
    Ready,
    /// A reconcile is applying or waiting.
    Progressing,
    /// Applied, but something is not healthy (a pod not ready, a Job failed).
    Degraded,
    /// The reconcile cannot proceed without a change (invalid spec, refused plan).
    Stalled,
}

/// A status condition, shaped like `metav1.Condition`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Which condition.
    #[serde(rename = "type")]
    pub type_: ConditionType,
    /// `True`, `False` or `Unknown`.
    pub status: String,
    /// CamelCase reason, e.g. `InvalidSpec`, `Applied`, `ImagePullFailed`.
    pub reason: String,
    /// Human-readable detail.
    #[serde(default)]
    pub message: String,
    /// RFC 3339 time the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// Generation this condition was computed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

/// Lifecycle of one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProjectPhase {
    /// Its provisioning Job has not completed yet.
    Provisioning,
    /// Provisioned; no sync has run yet.
    Provisioned,
    /// Provisioned and its sync CronJob has run.
    Syncing,
    /// Provisioning or a workload failed (see `message`).
    Failed,
}

/// Status of one project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProjectStatus {
    /// Project name.
    pub name: String,
    /// Its phase.
    pub phase: ProjectPhase,
    /// RFC 3339 time of the last successful sync run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sync: Option<String>,
    /// RFC 3339 time of the last successful affiliations run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_affiliations: Option<String>,
    /// Why it failed or what it waits for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Patroni members.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DatabaseStatus {
    /// Pod name of the primary, if one is elected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<String>,
    /// Pod names of the replicas.
    #[serde(default)]
    pub replicas: Vec<String>,
}

/// One certificate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertificateStatus {
    /// Certificate (or TLS Secret) name.
    pub name: String,
    /// Whether it is issued and valid.
    pub ready: bool,
    /// cert-manager's message when not ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Write counts of a reconcile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectCounts {
    /// Objects created or patched.
    pub applied: u64,
    /// Objects deleted by prune.
    pub pruned: u64,
}

/// A problem with its field path (`spec.projects[3].repos`) or object (`Pod/grafana-x`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// Field path or object the problem is about.
    pub path: String,
    /// What is wrong and what is allowed, or the diagnosed cause and the fix to try.
    pub message: String,
}

/// Labels every object the operator applies carries in addition to the render's, naming its owner
/// resource (`devstats.cncf.io/resource: <namespace>.<name>`).
pub fn owner_labels(namespace: &str, name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([(format!("{GROUP}/resource"), format!("{namespace}.{name}"))])
}

impl DevStats {
    /// The resource of one environment's model: named `name` (the instance name when `None`), in
    /// the instance namespace, its spec the model.
    #[must_use]
    pub fn from_model(model: &Model, name: Option<&str>) -> Self {
        Self {
            api_version: API_VERSION.to_owned(),
            kind: KIND.to_owned(),
            metadata: ObjectMeta {
                name: Some(name.unwrap_or(model.instance.name.as_str()).to_owned()),
                namespace: Some(model.instance.namespace.to_string()),
                ..ObjectMeta::default()
            },
            spec: model.clone(),
            status: None,
        }
    }
}

/// Why a document is not a `DevStats` resource whose spec the model accepts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResourceError {
    /// Not a mapping, or not of this apiVersion and kind.
    #[error("{0}")]
    NotDevStats(String),
    /// The model rejects the spec: every problem, its path under `spec.`.
    #[error("{} problem{} in the spec:\n  {}", .0.len(), if .0.len() == 1 { "" } else { "s" },
        .0.iter().map(|p| format!("{}: {}", p.path, p.message)).collect::<Vec<_>>().join("\n  "))]
    Invalid(Vec<Problem>),
}

/// The model of a resource's `spec`, validated by the model's own rules (structure, every rule,
/// schedules — what `devstats-k8s validate` checks). A rejected spec gives every problem with its
/// field path under `spec.` (`spec.projects[3].repos`), the form the operator reports in
/// `status.problems`.
pub fn model_of(spec: &serde_json::Value) -> Result<Model, ResourceError> {
    let text = serde_saphyr::to_string(spec)
        .map_err(|e| ResourceError::NotDevStats(format!("spec cannot be read as YAML: {e}")))?;
    devstats_model::parse_str("spec", &text).map_err(|e| match e {
        devstats_model::LoadError::Invalid(inv) => ResourceError::Invalid(
            inv.problems
                .iter()
                .map(|p| {
                    let at = p.path.to_string();
                    let path = if at == "(document)" {
                        "spec".to_owned()
                    } else {
                        format!("spec.{at}")
                    };
                    let message = match &p.help {
                        Some(h) => format!("{}; {h}", p.message),
                        None => p.message.clone(),
                    };
                    Problem { path, message }
                })
                .collect(),
        ),
        other => ResourceError::NotDevStats(other.to_string()),
    })
}

/// Reads a `DevStats` resource document (apiVersion and kind checked) and returns its name and
/// the model of its spec.
pub fn parse_resource(doc: &serde_json::Value) -> Result<(Option<String>, Model), ResourceError> {
    let api = doc.get("apiVersion").and_then(serde_json::Value::as_str);
    let kind = doc.get("kind").and_then(serde_json::Value::as_str);
    if api != Some(API_VERSION) || kind != Some(KIND) {
        return Err(ResourceError::NotDevStats(format!(
            "not a DevStats resource: apiVersion {} kind {} (expected {API_VERSION} {KIND})",
            api.unwrap_or("(none)"),
            kind.unwrap_or("(none)")
        )));
    }
    let Some(spec) = doc.get("spec") else {
        return Err(ResourceError::Invalid(vec![Problem {
            path: "spec".to_owned(),
            message: "missing; the spec is the model (instance, foundations, projects)".to_owned(),
        }]));
    };
    let name = doc
        .pointer("/metadata/name")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    Ok((name, model_of(spec)?))
}
