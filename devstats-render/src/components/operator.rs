//! The operator's install: the `DevStats` CustomResourceDefinition (its schema generated from the
//! model's own types) and what runs the operator — Namespace, ServiceAccount, least-privilege
//! RBAC derived from what the render produces, a hardened Deployment, its PodDisruptionBudget, a
//! metrics Service and a ServiceMonitor. `docs/operator.md` is the runbook.
//!
//! # The CRD schema is structural
//!
//! Kubernetes requires a *structural* `openAPIV3Schema` for `apiextensions.k8s.io/v1` CRDs
//! ("Specifying a structural schema" in the Kubernetes docs, *Extend the Kubernetes API with
//! CustomResourceDefinitions*):
//!
//! 1. every node (the root, each `properties` / `additionalProperties` value, each `items`) has
//!    a non-empty `type`, unless it sets `x-kubernetes-int-or-string: true` or
//!    `x-kubernetes-preserve-unknown-fields: true`;
//! 2. a field or item named inside `allOf`/`anyOf`/`oneOf`/`not` is also specified outside them;
//! 3. `description`, `type`, `default`, `additionalProperties` and `nullable` are never set inside
//!    `allOf`/`anyOf`/`oneOf`/`not`;
//! 4. `metadata` may only constrain `name` and `generateName`.
//!
//! Besides: no `$ref` (the apiserver does not resolve references), `properties` and
//! `additionalProperties` are mutually exclusive, `uniqueItems: true` is refused, and a
//! `default` must be pruned (no field the schema does not know) and valid against its node
//! ("Defaulting" in the same page); defaults are not allowed inside the logical junctors.
//!
//! [`structural`] rewrites the schemars JSON Schema (draft 2020-12, the one `devstats-k8s schema`
//! prints) into that form: `$ref`s are inlined, `Option<T>` (`anyOf [T, null]`, `type: [T, null]`)
//! becomes `nullable: true`, unit enums (`oneOf` of `const` strings) become `enum`s, externally
//! tagged enums whose variants are all objects become one object with every variant's key and a
//! `oneOf` of `required` (exactly one key), and enums mixing a string and object variants
//! (`routing: ingress | {gatewayApi: …}`) become `x-kubernetes-preserve-unknown-fields` nodes —
//! the only ones; the model's own validation checks them (the operator puts every problem in the
//! resource's status). Formats Kubernetes does not know (`uint32` …) are dropped (their
//! `minimum: 0` stays).

use std::collections::{BTreeMap, BTreeSet};

use devstats_model::Model;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource, Namespace,
    ObjectFieldSelector, PodSecurityContext, PodSpec, PodTemplateSpec, ResourceRequirements, SeccompProfile,
    SecurityContext, Service, ServiceAccount, ServicePort, ServiceSpec, TopologySpreadConstraint, Volume,
    VolumeMount,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceDefinition, CustomResourceDefinitionNames,
    CustomResourceDefinitionSpec, CustomResourceDefinitionVersion, CustomResourceSubresources,
    CustomResourceValidation, JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use k8s_openapi::{Metadata, Resource};
use serde::Serialize;
use serde_json::{Map, Value, json};

use crate::core::object::CustomResource;
use crate::core::resource::{
    DevStatsStatus, GROUP, KIND, OPERATOR_NAME, PLURAL, SHORT_NAME, SINGULAR, VERSION,
};
use crate::core::{ctx::Rendered, object::Object};

/// Name of the CRD object (`<plural>.<group>`).
pub const CRD_NAME: &str = "devstats.devstats.cncf.io";
/// The operator's image repository; the tag is the crate version.
pub const IMAGE_REPOSITORY: &str = "ghcr.io/cncf/devstats-operator";
/// Port of the operator's `/healthz` and `/readyz`.
pub const PROBE_PORT: i32 = 8081;
/// Port of the operator's Prometheus `/metrics`.
pub const METRICS_PORT: i32 = 8080;
/// Name of the metrics port (Service and container).
pub const METRICS_PORT_NAME: &str = "metrics";
/// The non-root user the operator runs as (distroless `nonroot`).
pub const OPERATOR_UID: i64 = 65532;
/// Replicas of the operator: one leader, one standby (leader election through a Lease).
pub const REPLICAS: i32 = 2;

/// Why the CRD schema could not be built (a model type schemars renders in a shape the rewrite
/// does not know; a bug, caught by the tests).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot make the CRD schema structural at {path}: {message}")]
pub struct SchemaError {
    /// JSON pointer-ish path of the node in the schemars schema.
    pub path: String,
    /// What was found.
    pub message: String,
}

/// The operator's image: [`IMAGE_REPOSITORY`] tagged with this crate's version.
#[must_use]
pub fn image() -> String {
    format!("{IMAGE_REPOSITORY}:{}", env!("CARGO_PKG_VERSION"))
}

/// The JSON Schema of the model (`schemars`, what `devstats-k8s schema` prints, without the
/// file-level `environments`): the source of the CRD's `spec` schema.
#[must_use]
pub fn model_json_schema() -> Value {
    schemars::schema_for!(Model).to_value()
}

/// The JSON Schema of [`DevStatsStatus`] (`schemars`).
#[must_use]
pub fn status_json_schema() -> Value {
    schemars::schema_for!(DevStatsStatus).to_value()
}

/// Formats the apiserver validates (k8s.io/kube-openapi `strfmt` defaults, plus the integer and
/// number widths of OpenAPI); others are dropped.
const KNOWN_FORMATS: &[&str] = &[
    "int32",
    "int64",
    "float",
    "double",
    "byte",
    "binary",
    "date",
    "date-time",
    "duration",
    "password",
    "uri",
    "email",
    "hostname",
    "ipv4",
    "ipv6",
    "cidr",
    "mac",
    "uuid",
];

/// Keys kept on a node as they are (value validations and documentation).
const KEPT: &[&str] = &[
    "description",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "required",
    "default",
    "nullable",
];

/// Rewrites a schemars JSON Schema (with `$defs`) into a structural schema (see the module docs).
pub fn structural(schema: &Value) -> Result<Value, SchemaError> {
    let defs = schema
        .get("$defs")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut r = Rewriter {
        defs,
        stack: Vec::new(),
    };
    let mut out = r.node(schema, "")?;
    if let Some(o) = out.as_object_mut() {
        o.remove("title");
    }
    Ok(out)
}

struct Rewriter {
    defs: Map<String, Value>,
    stack: Vec<String>,
}

fn err(path: &str, message: impl Into<String>) -> SchemaError {
    SchemaError {
        path: if path.is_empty() { "/".into() } else { path.into() },
        message: message.into(),
    }
}

fn is_null_type(v: &Value) -> bool {
    v.get("type").and_then(Value::as_str) == Some("null") && v.as_object().is_some_and(|o| o.len() == 1)
}

/// `base` with every key of `over` but the listed ones laid over it.
fn overlay(base: &Value, over: &Map<String, Value>, skip: &[&str]) -> Value {
    let mut out = base.as_object().cloned().unwrap_or_default();
    for (k, v) in over {
        if !skip.contains(&k.as_str()) {
            out.insert(k.clone(), v.clone());
        }
    }
    Value::Object(out)
}

impl Rewriter {
    fn node(&mut self, v: &Value, path: &str) -> Result<Value, SchemaError> {
        let Some(n) = v.as_object() else {
            return match v {
                Value::Bool(true) => Ok(json!({"x-kubernetes-preserve-unknown-fields": true})),
                _ => Err(err(path, format!("unexpected schema {v}"))),
            };
        };
        // `$ref`: inline the definition, the referencing node's keys (description, default)
        // laid over it.
        if let Some(r) = n.get("$ref").and_then(Value::as_str) {
            let name = r
                .strip_prefix("#/$defs/")
                .ok_or_else(|| err(path, format!("reference {r} is not into $defs")))?
                .to_owned();
            if self.stack.contains(&name) {
                return Err(err(path, format!("recursive type {name} cannot be inlined")));
            }
            let def = self
                .defs
                .get(&name)
                .cloned()
                .ok_or_else(|| err(path, format!("undefined {r}")))?;
            self.stack.push(name);
            let out = self.node(&overlay(&def, n, &["$ref"]), path);
            self.stack.pop();
            return out;
        }
        // `Option<T>`: `anyOf [T, {type: null}]`.
        if let Some(any) = n.get("anyOf").and_then(Value::as_array) {
            let non_null: Vec<&Value> = any.iter().filter(|b| !is_null_type(b)).collect();
            if non_null.len() == 1 && any.len() == 2 {
                let mut merged = overlay(non_null[0], n, &["anyOf"]);
                // The referencing node's description wins over the definition's.
                if let (Some(d), Some(m)) = (n.get("description"), merged.as_object_mut()) {
                    m.insert("description".into(), d.clone());
                }
                let mut out = self.node(&merged, path)?;
                set_nullable(&mut out);
                return Ok(out);
            }
            return Err(err(path, "anyOf other than Option<T>"));
        }
        if let Some(one) = n.get("oneOf").and_then(Value::as_array) {
            return self.one_of(n, one, path);
        }
        let mut out = Map::new();
        let mut nullable = false;
        match n.get("type") {
            Some(Value::String(t)) => {
                out.insert("type".into(), Value::String(t.clone()));
            }
            Some(Value::Array(ts)) => {
                let non_null: Vec<&Value> = ts.iter().filter(|t| t.as_str() != Some("null")).collect();
                if non_null.len() != 1 {
                    return Err(err(path, format!("a node of several types {ts:?}")));
                }
                nullable = non_null.len() < ts.len();
                out.insert("type".into(), non_null[0].clone());
            }
            Some(other) => return Err(err(path, format!("type {other}"))),
            None => {}
        }
        for k in KEPT {
            if let Some(v) = n.get(*k) {
                out.insert((*k).to_owned(), v.clone());
            }
        }
        if let Some(c) = n.get("const") {
            out.insert("enum".into(), Value::Array(vec![c.clone()]));
        }
        if let Some(e) = n.get("enum") {
            out.insert("enum".into(), e.clone());
        }
        if let Some(f) = n.get("format").and_then(Value::as_str)
            && KNOWN_FORMATS.contains(&f)
        {
            out.insert("format".into(), Value::String(f.to_owned()));
        }
        if let Some(props) = n.get("properties").and_then(Value::as_object) {
            let mut p = Map::new();
            for (k, v) in props {
                p.insert(k.clone(), self.node(v, &format!("{path}/properties/{k}"))?);
            }
            out.insert("properties".into(), Value::Object(p));
        } else if let Some(ap) = n.get("additionalProperties") {
            match ap {
                Value::Bool(false) => {}
                Value::Bool(true) => {
                    out.insert("x-kubernetes-preserve-unknown-fields".into(), Value::Bool(true));
                }
                schema => {
                    out.insert(
                        "additionalProperties".into(),
                        self.node(schema, &format!("{path}/additionalProperties"))?,
                    );
                }
            }
        }
        if let Some(items) = n.get("items") {
            out.insert("items".into(), self.node(items, &format!("{path}/items"))?);
        }
        if n.get("uniqueItems") == Some(&Value::Bool(true)) {
            out.insert("x-kubernetes-list-type".into(), Value::String("set".into()));
        }
        // Draft 2020-12 numeric exclusive bounds → OpenAPI v3.0 boolean ones.
        for (ex, bound) in [("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")] {
            if let Some(x) = out.get(ex).filter(|x| x.is_number()).cloned() {
                out.insert(bound.into(), x);
                out.insert(ex.into(), Value::Bool(true));
            }
        }
        if !out.contains_key("type")
            && out.get("x-kubernetes-preserve-unknown-fields") != Some(&Value::Bool(true))
        {
            return Err(err(path, "a node without a type"));
        }
        if out.get("default") == Some(&Value::Null) {
            out.remove("default");
        }
        let mut out = Value::Object(out);
        if nullable {
            set_nullable(&mut out);
        }
        Ok(out)
    }

    fn one_of(&mut self, n: &Map<String, Value>, one: &[Value], path: &str) -> Result<Value, SchemaError> {
        // Resolve each branch (a branch may itself be a $ref).
        let mut branches = Vec::new();
        for (i, b) in one.iter().enumerate() {
            branches.push(self.node(b, &format!("{path}/oneOf/{i}"))?);
        }
        let ty = |b: &Value| b.get("type").and_then(Value::as_str).map(str::to_owned);
        let strings: Vec<&Value> = branches
            .iter()
            .filter(|b| ty(b).as_deref() == Some("string"))
            .collect();
        let objects: Vec<&Value> = branches
            .iter()
            .filter(|b| ty(b).as_deref() == Some("object"))
            .collect();
        if strings.len() + objects.len() != branches.len() {
            return Err(err(
                path,
                "oneOf with branches that are neither strings nor objects",
            ));
        }
        let mut out = Map::new();
        let variants: Vec<String> = branches
            .iter()
            .map(|b| {
                let name = match b.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
                    Some(Value::String(s)) => format!("`{s}`"),
                    _ => b
                        .get("properties")
                        .and_then(Value::as_object)
                        .map(|p| {
                            p.keys()
                                .map(|k| format!("`{k}: {{…}}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        })
                        .unwrap_or_default(),
                };
                match b.get("description").and_then(Value::as_str) {
                    Some(d) => format!("{name}: {d}"),
                    None => name,
                }
            })
            .collect();
        let description = match n.get("description").and_then(Value::as_str) {
            Some(d) => format!("{d}\n\nOne of:\n- {}", variants.join("\n- ")),
            None => format!("One of:\n- {}", variants.join("\n- ")),
        };
        out.insert("description".into(), Value::String(description));
        if objects.is_empty() {
            // A unit enum.
            let mut values = Vec::new();
            for b in &strings {
                match b.get("enum").and_then(Value::as_array) {
                    Some(e) if e.len() == 1 => values.push(e[0].clone()),
                    _ => return Err(err(path, "a string variant that is not a constant")),
                }
            }
            out.insert("type".into(), Value::String("string".into()));
            out.insert("enum".into(), Value::Array(values));
        } else if strings.is_empty() {
            // Externally tagged variants: one object with every variant's key, exactly one set.
            let mut props = Map::new();
            let mut exactly_one = Vec::new();
            for b in &objects {
                let p = b
                    .get("properties")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                for (k, v) in &p {
                    if props.insert(k.clone(), v.clone()).is_some() {
                        return Err(err(path, format!("two variants with the key {k}")));
                    }
                }
                match b.get("required") {
                    Some(r) => exactly_one.push(json!({ "required": r })),
                    None => return Err(err(path, "an object variant without a required key")),
                }
            }
            out.insert("type".into(), Value::String("object".into()));
            out.insert("properties".into(), Value::Object(props));
            out.insert("oneOf".into(), Value::Array(exactly_one));
        } else {
            // A string or an object: Kubernetes has no type for it; the model validates it.
            out.insert("x-kubernetes-preserve-unknown-fields".into(), Value::Bool(true));
            return Ok(Value::Object(out));
        }
        if let Some(d) = n.get("default").filter(|d| !d.is_null()) {
            out.insert("default".into(), d.clone());
        }
        Ok(Value::Object(out))
    }
}

fn set_nullable(v: &mut Value) {
    if let Some(o) = v.as_object_mut()
        && o.contains_key("type")
    {
        o.insert("nullable".into(), Value::Bool(true));
    }
}

/// Marks a list of objects as a map keyed by `key` (`x-kubernetes-list-type: map`), so the
/// operator's server-side apply of the status merges entries by key.
fn list_map(schema: &mut Value, field: &str, key: &str) {
    if let Some(p) = schema.pointer_mut(&format!("/properties/{field}"))
        && let Some(o) = p.as_object_mut()
    {
        o.insert("x-kubernetes-list-type".into(), json!("map"));
        o.insert("x-kubernetes-list-map-keys".into(), json!([key]));
    }
}

/// The structural `openAPIV3Schema` of the `DevStats` kind: `spec` is the model, `status` the
/// operator's report.
pub fn open_api_schema() -> Result<Value, SchemaError> {
    let spec = structural(&model_json_schema())?;
    let mut status = structural(&status_json_schema())?;
    list_map(&mut status, "conditions", "type");
    list_map(&mut status, "projects", "name");
    let mut spec = spec;
    if let Some(o) = spec.as_object_mut() {
        o.insert(
            "description".into(),
            json!("The model of one environment: instance, foundations, projects (the model file's fields; `devstats-k8s schema` documents them)."),
        );
    }
    if let Some(o) = status.as_object_mut() {
        o.insert(
            "description".into(),
            json!("What the operator last observed (written through the status subresource)."),
        );
    }
    Ok(json!({
        "type": "object",
        "description": "One DevStats environment, reconciled by devstats-operator with the same render, policy and planner as `devstats-k8s apply`.",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "devstats.cncf.io/v1alpha1"},
            "kind": {"type": "string", "description": "DevStats"},
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }))
}

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), OPERATOR_NAME.to_owned()),
        ("app.kubernetes.io/part-of".to_owned(), "devstats".to_owned()),
        (
            "app.kubernetes.io/version".to_owned(),
            env!("CARGO_PKG_VERSION").to_owned(),
        ),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            "devstats-k8s".to_owned(),
        ),
    ])
}

fn selector_labels() -> BTreeMap<String, String> {
    BTreeMap::from([("app.kubernetes.io/name".to_owned(), OPERATOR_NAME.to_owned())])
}

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(labels()),
        ..ObjectMeta::default()
    }
}

/// The `DevStats` CustomResourceDefinition: one version (`v1alpha1`, served and stored), the
/// status subresource, printer columns Ready / Projects / Age, short name `ds`.
pub fn crd() -> Result<CustomResourceDefinition, SchemaError> {
    let schema = open_api_schema()?;
    let props: JSONSchemaProps = serde_json::from_value(schema).map_err(|e| err("/", e.to_string()))?;
    let column = |name: &str, ty: &str, path: &str, description: &str| CustomResourceColumnDefinition {
        name: name.to_owned(),
        type_: ty.to_owned(),
        json_path: path.to_owned(),
        description: Some(description.to_owned()),
        ..CustomResourceColumnDefinition::default()
    };
    Ok(CustomResourceDefinition {
        metadata: meta(CRD_NAME, None),
        spec: CustomResourceDefinitionSpec {
            group: GROUP.to_owned(),
            names: CustomResourceDefinitionNames {
                kind: KIND.to_owned(),
                list_kind: Some(format!("{KIND}List")),
                plural: PLURAL.to_owned(),
                singular: Some(SINGULAR.to_owned()),
                short_names: Some(vec![SHORT_NAME.to_owned()]),
                categories: Some(vec!["devstats".to_owned()]),
            },
            scope: "Namespaced".to_owned(),
            versions: vec![CustomResourceDefinitionVersion {
                name: VERSION.to_owned(),
                served: true,
                storage: true,
                schema: Some(CustomResourceValidation {
                    open_api_v3_schema: Some(props),
                }),
                subresources: Some(CustomResourceSubresources {
                    status: Some(k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceSubresourceStatus(
                        json!({}),
                    )),
                    scale: None,
                }),
                additional_printer_columns: Some(vec![
                    column(
                        "Ready",
                        "string",
                        ".status.conditions[?(@.type==\"Ready\")].status",
                        "The Ready condition.",
                    ),
                    column(
                        "Projects",
                        "string",
                        ".status.projectsReady",
                        "Projects provisioned or syncing / projects of the spec.",
                    ),
                    column(
                        "Age",
                        "date",
                        ".metadata.creationTimestamp",
                        "Time since the resource was created.",
                    ),
                ]),
                ..CustomResourceDefinitionVersion::default()
            }],
            ..CustomResourceDefinitionSpec::default()
        },
        status: None,
    })
}

/// One RBAC rule.
fn rule(group: &str, resources: &[&str], verbs: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(resources.iter().map(|r| (*r).to_owned()).collect()),
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        ..PolicyRule::default()
    }
}

/// What the apply engine does to a rendered kind: read it (plan, waits), create and patch it
/// (server-side apply), delete it (prune).
const MANAGE: &[&str] = &["get", "list", "watch", "create", "patch", "update", "delete"];

/// Rules for the cluster-scoped rendered objects (Namespaces, ClusterIssuers …): listing,
/// watching and creating the kind, and reading, patching and deleting only the rendered names.
fn cluster_rules_for(objects: &[&Object]) -> Vec<PolicyRule> {
    let mut by_kind: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for o in objects.iter().filter(|o| o.namespace().is_none()) {
        by_kind
            .entry((o.group(), o.plural()))
            .or_default()
            .insert(o.name());
    }
    let mut out = Vec::new();
    for ((g, plural), names) in by_kind {
        out.push(rule(g, &[plural], &["list", "watch", "create"]));
        out.push(PolicyRule {
            resource_names: Some(names.into_iter().map(str::to_owned).collect()),
            ..rule(g, &[plural], &["get", "patch", "update", "delete"])
        });
    }
    out
}

/// Rules for the rendered objects of `objects` that live in `namespace`, one rule per API
/// group, resources sorted.
fn rules_for(objects: &[&Object], namespace: Option<&str>) -> Vec<PolicyRule> {
    let mut by_group: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for o in objects.iter().filter(|o| o.namespace() == namespace) {
        by_group.entry(o.group()).or_default().insert(o.plural());
    }
    by_group
        .into_iter()
        .map(|(g, rs)| rule(g, &rs.into_iter().collect::<Vec<_>>(), MANAGE))
        .collect()
}

/// The operator's install, each object typed, for the environments whose renders are given.
#[derive(Debug, Clone, PartialEq)]
pub struct Install {
    /// The `DevStats` CRD.
    pub crd: CustomResourceDefinition,
    /// Namespace `devstats-operator`.
    pub namespace: Namespace,
    /// The operator's ServiceAccount.
    pub service_account: ServiceAccount,
    /// Cluster-wide: the `DevStats` resources, and the cluster-scoped kinds the render produces.
    pub cluster_role: ClusterRole,
    /// Binds [`Install::cluster_role`] to the ServiceAccount.
    pub cluster_role_binding: ClusterRoleBinding,
    /// One Role per namespace the operator serves (the kinds rendered there), plus the leader
    /// election Lease in its own namespace.
    pub roles: Vec<Role>,
    /// One RoleBinding per Role.
    pub role_bindings: Vec<RoleBinding>,
    /// The operator.
    pub deployment: Deployment,
    /// Keeps one operator pod through drains.
    pub pdb: PodDisruptionBudget,
    /// The metrics Service.
    pub service: Service,
    /// prometheus-operator `ServiceMonitor` of the metrics Service.
    pub service_monitor: CustomResource,
}

impl Install {
    /// Every object as JSON, in apply order (CRD and namespace first, the Deployment after its
    /// RBAC).
    pub fn documents(&self) -> Result<Vec<Value>, serde_json::Error> {
        let mut out = vec![
            typed(&self.crd)?,
            typed(&self.namespace)?,
            typed(&self.service_account)?,
            typed(&self.cluster_role)?,
            typed(&self.cluster_role_binding)?,
        ];
        for r in &self.roles {
            out.push(typed(r)?);
        }
        for b in &self.role_bindings {
            out.push(typed(b)?);
        }
        out.push(typed(&self.service)?);
        out.push(typed(&self.deployment)?);
        out.push(typed(&self.pdb)?);
        out.push(serde_json::to_value(&self.service_monitor)?);
        Ok(out)
    }

    /// The install as one YAML stream (each document starting with `---`).
    pub fn yaml(&self) -> Result<String, String> {
        let mut out = String::new();
        for d in self.documents().map_err(|e| e.to_string())? {
            out.push_str("---\n");
            out.push_str(&serde_saphyr::to_string(&d).map_err(|e| e.to_string())?);
            if !out.ends_with('\n') {
                out.push('\n');
            }
        }
        Ok(out)
    }
}

/// A typed object as JSON with its `apiVersion` and `kind` (k8s-openapi serializes them).
fn typed<T: Serialize + Resource + Metadata>(o: &T) -> Result<Value, serde_json::Error> {
    serde_json::to_value(o)
}

/// The prometheus-operator `ServiceMonitor` body.
#[derive(Serialize)]
struct MonitorBody {
    spec: MonitorSpec,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MonitorSpec {
    selector: LabelSelector,
    endpoints: Vec<MonitorEndpoint>,
}

#[derive(Serialize)]
struct MonitorEndpoint {
    port: String,
    path: String,
    interval: String,
}

/// Builds the install for the environments whose rendered objects are `renders`: the RBAC
/// covers exactly the kinds those renders produce, in the namespaces they produce them in.
pub fn install(renders: &[&[Rendered]]) -> Result<Install, SchemaError> {
    let ns = Some(OPERATOR_NAME);
    let objects: Vec<&Object> = renders.iter().flat_map(|r| r.iter().map(|r| &r.object)).collect();
    let served: BTreeSet<&str> = objects.iter().filter_map(|o| o.namespace()).collect();

    let subject = Subject {
        kind: "ServiceAccount".to_owned(),
        name: OPERATOR_NAME.to_owned(),
        namespace: Some(OPERATOR_NAME.to_owned()),
        ..Subject::default()
    };

    // Cluster-wide: the DevStats resources (watched in every namespace), their status and
    // finalizers, and the cluster-scoped kinds the render produces (Namespaces, ClusterIssuers).
    let mut cluster_rules = vec![
        rule(GROUP, &[PLURAL], &["get", "list", "watch", "patch", "update"]),
        rule(GROUP, &["devstats/status"], &["get", "patch", "update"]),
        rule(GROUP, &["devstats/finalizers"], &["update"]),
    ];
    cluster_rules.extend(cluster_rules_for(&objects));
    let cluster_role = ClusterRole {
        metadata: meta(OPERATOR_NAME, None),
        rules: Some(cluster_rules),
        ..ClusterRole::default()
    };
    let cluster_role_binding = ClusterRoleBinding {
        metadata: meta(OPERATOR_NAME, None),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_owned()),
            kind: "ClusterRole".to_owned(),
            name: OPERATOR_NAME.to_owned(),
        },
        subjects: Some(vec![subject.clone()]),
    };

    let mut roles = Vec::new();
    let mut role_bindings = Vec::new();
    let bind = |name: &str, namespace: &str| RoleBinding {
        metadata: meta(name, Some(namespace)),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_owned()),
            kind: "Role".to_owned(),
            name: name.to_owned(),
        },
        subjects: Some(vec![subject.clone()]),
    };
    // Its own namespace: the leader-election Lease and Events about itself.
    roles.push(Role {
        metadata: meta(OPERATOR_NAME, ns),
        rules: Some(vec![
            rule(
                "coordination.k8s.io",
                &["leases"],
                &["get", "list", "watch", "create", "update", "patch"],
            ),
            rule("events.k8s.io", &["events"], &["create", "patch"]),
        ]),
    });
    role_bindings.push(bind(OPERATOR_NAME, OPERATOR_NAME));
    // Instance namespaces (the rendered Namespaces) hold the DevStats resource and the
    // inventory; workload namespaces have pods to wait for and diagnose.
    let instance_namespaces: BTreeSet<&str> = objects
        .iter()
        .filter(|o| matches!(o, Object::Namespace(_)))
        .map(|o| o.name())
        .collect();
    let workload_namespaces: BTreeSet<&str> = objects
        .iter()
        .filter(|o| o.pod_spec().is_some())
        .filter_map(|o| o.namespace())
        .collect();
    for n in &served {
        // The kinds the render puts in this namespace, plus what the engine itself needs there:
        // the inventory ConfigMap (devstats-k8s-inventory) and Events on the DevStats resource
        // in an instance namespace; pods, their logs and events for the waits and the
        // diagnosis where pods run.
        let mut rules = rules_for(&objects, Some(n));
        if instance_namespaces.contains(n) {
            let has_config_maps = rules.iter().any(|r| {
                r.api_groups.as_deref() == Some(&[String::new()])
                    && r.resources
                        .as_ref()
                        .is_some_and(|rs| rs.iter().any(|x| x == "configmaps"))
            });
            if !has_config_maps {
                rules.push(rule("", &["configmaps"], MANAGE));
            }
            rules.push(rule("events.k8s.io", &["events"], &["create", "patch"]));
        }
        if workload_namespaces.contains(n) {
            rules.push(rule("", &["pods", "pods/log"], &["get", "list", "watch"]));
            rules.push(rule("", &["events"], &["get", "list", "watch"]));
        }
        // RBAC escalation prevention: a Role can only be created by someone who holds every
        // permission it grants (Kubernetes docs, "Using RBAC Authorization", "Privilege
        // escalation prevention"). So the operator holds the rendered Roles' rules (Patroni's
        // on pods, endpoints …) in their namespace, and not `escalate` or `bind`.
        for o in objects.iter().filter(|o| o.namespace() == Some(n)) {
            if let Object::Role(r) = o {
                for granted in r.rules.iter().flatten() {
                    if !rules.contains(granted) {
                        rules.push(granted.clone());
                    }
                }
            }
        }
        roles.push(Role {
            metadata: meta(OPERATOR_NAME, Some(n)),
            rules: Some(rules),
        });
        role_bindings.push(bind(OPERATOR_NAME, n));
    }

    let container = Container {
        name: "operator".to_owned(),
        image: Some(image()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        // The served namespaces: the instance namespaces, where the DevStats resources live
        // (the Roles above grant nothing elsewhere).
        args: Some(
            [
                format!("--metrics-address=0.0.0.0:{METRICS_PORT}"),
                format!("--probe-address=0.0.0.0:{PROBE_PORT}"),
                "--leader-elect".to_owned(),
            ]
            .into_iter()
            .chain(instance_namespaces.iter().map(|n| format!("--namespace={n}")))
            .collect(),
        ),
        // The Lease holder identity and namespace (downward API).
        env: Some(
            [
                ("POD_NAME", "metadata.name"),
                ("POD_NAMESPACE", "metadata.namespace"),
            ]
            .into_iter()
            .map(|(name, field)| EnvVar {
                name: name.to_owned(),
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        field_path: field.to_owned(),
                        ..ObjectFieldSelector::default()
                    }),
                    ..EnvVarSource::default()
                }),
                ..EnvVar::default()
            })
            .collect(),
        ),
        ports: Some(vec![
            ContainerPort {
                name: Some(METRICS_PORT_NAME.to_owned()),
                container_port: METRICS_PORT,
                protocol: Some("TCP".to_owned()),
                ..ContainerPort::default()
            },
            ContainerPort {
                name: Some("probes".to_owned()),
                container_port: PROBE_PORT,
                protocol: Some("TCP".to_owned()),
                ..ContainerPort::default()
            },
        ]),
        liveness_probe: Some(crate::parts::security::http_probe("/healthz", PROBE_PORT, 20, 3)),
        readiness_probe: Some(crate::parts::security::http_probe("/readyz", PROBE_PORT, 10, 3)),
        resources: Some(ResourceRequirements {
            requests: Some(BTreeMap::from([
                ("cpu".to_owned(), Quantity("100m".to_owned())),
                ("memory".to_owned(), Quantity("256Mi".to_owned())),
            ])),
            limits: Some(BTreeMap::from([
                ("cpu".to_owned(), Quantity("1".to_owned())),
                ("memory".to_owned(), Quantity("1Gi".to_owned())),
            ])),
            ..ResourceRequirements::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            privileged: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                add: None,
            }),
            ..SecurityContext::default()
        }),
        volume_mounts: Some(vec![VolumeMount {
            name: "tmp".to_owned(),
            mount_path: "/tmp".to_owned(),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    };
    let mut pod_labels = labels();
    pod_labels.extend(selector_labels());
    let deployment = Deployment {
        metadata: meta(OPERATOR_NAME, ns),
        spec: DeploymentSpec {
            replicas: Some(REPLICAS),
            selector: LabelSelector {
                match_labels: Some(selector_labels()),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".to_owned()),
                ..DeploymentStrategy::default()
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(OPERATOR_NAME.to_owned()),
                    automount_service_account_token: Some(true),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(true),
                        run_as_user: Some(OPERATOR_UID),
                        run_as_group: Some(OPERATOR_UID),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".to_owned(),
                            localhost_profile: None,
                        }),
                        ..PodSecurityContext::default()
                    }),
                    containers: vec![container],
                    volumes: Some(vec![Volume {
                        name: "tmp".to_owned(),
                        empty_dir: Some(EmptyDirVolumeSource::default()),
                        ..Volume::default()
                    }]),
                    termination_grace_period_seconds: Some(30),
                    // The leader and the standby on different nodes when there are several.
                    topology_spread_constraints: Some(vec![TopologySpreadConstraint {
                        max_skew: 1,
                        topology_key: "kubernetes.io/hostname".to_owned(),
                        when_unsatisfiable: "ScheduleAnyway".to_owned(),
                        label_selector: Some(LabelSelector {
                            match_labels: Some(selector_labels()),
                            ..LabelSelector::default()
                        }),
                        ..TopologySpreadConstraint::default()
                    }]),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        status: None,
    };
    let pdb = PodDisruptionBudget {
        metadata: meta(OPERATOR_NAME, ns),
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            unhealthy_pod_eviction_policy: Some("AlwaysAllow".to_owned()),
            selector: Some(LabelSelector {
                match_labels: Some(selector_labels()),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        status: None,
    };
    let metrics_name = format!("{OPERATOR_NAME}-metrics");
    let service = Service {
        metadata: meta(&metrics_name, ns),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels()),
            ports: Some(vec![ServicePort {
                name: Some(METRICS_PORT_NAME.to_owned()),
                port: METRICS_PORT,
                target_port: Some(IntOrString::String(METRICS_PORT_NAME.to_owned())),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    };
    let service_monitor = CustomResource::new(
        crate::components::monitoring::SERVICE_MONITOR,
        meta(OPERATOR_NAME, ns),
        &MonitorBody {
            spec: MonitorSpec {
                selector: LabelSelector {
                    match_labels: Some(selector_labels()),
                    ..LabelSelector::default()
                },
                endpoints: vec![MonitorEndpoint {
                    port: METRICS_PORT_NAME.to_owned(),
                    path: "/metrics".to_owned(),
                    interval: "30s".to_owned(),
                }],
            },
        },
    )
    .map_err(|e| err("ServiceMonitor", e.to_string()))?;
    Ok(Install {
        crd: crd()?,
        namespace: Namespace {
            metadata: {
                let mut m = meta(OPERATOR_NAME, None);
                m.labels.get_or_insert_with(BTreeMap::new).extend([
                    (
                        "pod-security.kubernetes.io/enforce".to_owned(),
                        "restricted".to_owned(),
                    ),
                    (
                        "pod-security.kubernetes.io/enforce-version".to_owned(),
                        "latest".to_owned(),
                    ),
                ]);
                m
            },
            ..Namespace::default()
        },
        service_account: ServiceAccount {
            metadata: meta(OPERATOR_NAME, ns),
            ..ServiceAccount::default()
        },
        cluster_role,
        cluster_role_binding,
        roles,
        role_bindings,
        deployment,
        pdb,
        service,
        service_monitor,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_model_schema_becomes_structural() {
        let s = open_api_schema().unwrap_or_else(|e| panic!("{e}"));
        let text = s.to_string();
        assert!(!text.contains("$ref"));
        assert!(!text.contains("anyOf"));
    }
}
