//! The desired set: rendered objects → desired objects with content hashes and their render
//! policies, and the hash annotation that records what was applied.

use std::collections::{BTreeMap, BTreeSet};

use devstats_render::{ApplyPolicy, Component, RenderSet};
use serde_json::Value;

use super::graph::{self, Edge};
use super::{inventory, json};
use crate::kinds::{Kind, ObjectKey};

/// The field manager of every write.
pub const FIELD_MANAGER: &str = devstats_render::common::MANAGED_BY;
/// The annotation holding the content hash of what was applied (object metadata only, never pod
/// templates, so it never restarts a pod).
pub const HASH_ANNOTATION: &str = "devstats.cncf.io/applied-hash";
/// Version of the hashing scheme, mixed into every hash.
const HASH_SCHEME: &str = "devstats-k8s/1";

/// One object to make true in the cluster.
#[derive(Debug, Clone)]
pub struct Desired {
    /// Identity.
    pub key: ObjectKey,
    /// Component that built it.
    pub component: Component,
    /// Project, for per-project objects.
    pub project: Option<String>,
    /// How it is written, pruned and waited for, and its phase: the render's policy, as its
    /// builder set it.
    pub policy: ApplyPolicy,
    /// Content hash of the rendered object.
    pub hash: String,
    /// The server-side apply body: the rendered object plus the hash annotation and the ApplySet
    /// membership label on its metadata.
    pub body: Value,
}

/// Why a render cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum DesiredError {
    /// An object does not serialize.
    #[error("{key}: {source}")]
    Serialize {
        /// The object.
        key: Box<ObjectKey>,
        /// Why.
        source: serde_json::Error,
    },
    /// Two objects have one identity.
    #[error("{0} is rendered twice")]
    Twice(Box<ObjectKey>),
    /// The dependency graph has a cycle.
    #[error("dependency cycle through {0}")]
    Cycle(Box<ObjectKey>),
}

/// Everything one apply wants: objects in render order, the dependency graph, and what is needed
/// to prune safely.
#[derive(Debug, Clone)]
pub struct DesiredSet {
    /// The instance namespace, where the inventory lives.
    pub namespace: String,
    /// Objects in render (apply) order.
    pub objects: Vec<Desired>,
    /// Dependencies between `objects` (indexes).
    pub edges: Vec<Edge>,
    /// Index by key.
    pub index: BTreeMap<ObjectKey, usize>,
    /// Whether this is the full render (no `--only`/`--project`/`--foundation`): only then are
    /// objects missing from it pruned.
    pub complete: bool,
    /// Secrets the workloads need that were not rendered (no `--secrets-from`): never pruned.
    pub external_secrets: BTreeSet<String>,
}

impl DesiredSet {
    /// Builds the desired set of a render. `complete` says whether the render is unselected.
    pub fn new(set: &RenderSet, namespace: &str, complete: bool) -> Result<Self, DesiredError> {
        let applyset = inventory::applyset_id(namespace);
        let mut objects = Vec::with_capacity(set.objects.len());
        let mut index = BTreeMap::new();
        for r in &set.objects {
            let key = ObjectKey::new(r.object.typed_kind(), r.object.namespace(), r.object.name());
            let mut body = serde_json::to_value(&r.object).map_err(|source| DesiredError::Serialize {
                key: Box::new(key.clone()),
                source,
            })?;
            let hash = hash_of(&body);
            annotate(&mut body, &hash, &applyset);
            if index.insert(key.clone(), objects.len()).is_some() {
                return Err(DesiredError::Twice(Box::new(key)));
            }
            objects.push(Desired {
                key,
                component: r.component,
                project: r.project.clone(),
                policy: r.policy,
                hash,
                body,
            });
        }
        let edges = graph::edges(&set.objects, &set.database_secret);
        if let Err(i) = graph::topo_order(objects.len(), &edges) {
            return Err(DesiredError::Cycle(Box::new(objects[i].key.clone())));
        }
        Ok(Self {
            namespace: namespace.to_owned(),
            objects,
            edges,
            index,
            complete,
            external_secrets: set.required_secrets.iter().map(|s| s.name.clone()).collect(),
        })
    }

    /// The keys of every desired object.
    #[must_use]
    pub fn keys(&self) -> BTreeSet<ObjectKey> {
        self.index.keys().cloned().collect()
    }

    /// The desired objects as inventory members, each with its prune guard.
    #[must_use]
    pub fn members(&self) -> inventory::Members {
        self.objects
            .iter()
            .map(|d| (d.key.clone(), Some(d.policy.prune)))
            .collect()
    }

    /// Kinds among the desired objects.
    #[must_use]
    pub fn kinds(&self) -> BTreeSet<Kind> {
        self.objects.iter().map(|d| d.key.kind).collect()
    }
}

/// The content hash of a rendered object's JSON.
#[must_use]
pub fn hash_of(body: &Value) -> String {
    let mut text = String::from(HASH_SCHEME);
    text.push('\n');
    text.push_str(&json::canonical(body));
    let mut h = json::sha256_hex(text.as_bytes());
    h.truncate(32);
    h
}

/// Adds the hash annotation and the ApplySet membership label to an object's metadata.
pub fn annotate(body: &mut Value, hash: &str, applyset: &str) {
    let Some(meta) = body.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    let annotations = meta
        .entry("annotations")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if let Some(a) = annotations.as_object_mut() {
        a.insert(HASH_ANNOTATION.to_owned(), Value::String(hash.to_owned()));
    }
    let labels = meta
        .entry("labels")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if let Some(l) = labels.as_object_mut() {
        l.insert(
            inventory::PART_OF_LABEL.to_owned(),
            Value::String(applyset.to_owned()),
        );
    }
}

/// The hash annotation of a live object.
#[must_use]
pub fn live_hash(live: &Value) -> Option<&str> {
    live.pointer("/metadata/annotations")
        .and_then(|a| a.get(HASH_ANNOTATION))
        .and_then(Value::as_str)
}
