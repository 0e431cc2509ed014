//! A snapshot of the live cluster, as the planner reads it.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::inventory::Members;
use crate::kinds::{Kind, ObjectKey};

/// A snapshot of the live objects an apply needs, read with one LIST per kind (metadata-only for
/// kinds whose spec and status the planner does not need).
#[derive(Debug, Clone, Default)]
pub struct LiveState {
    /// Live objects by key.
    pub objects: BTreeMap<ObjectKey, Value>,
    /// Kinds whose bodies in `objects` are complete (not metadata-only).
    pub full_kinds: BTreeSet<Kind>,
    /// Kinds that were listed: a key of such a kind missing from `objects` does not exist.
    pub listed_kinds: BTreeSet<Kind>,
    /// The inventory's member list with each member's recorded prune guard (`None`: no
    /// inventory yet).
    pub inventory: Option<Members>,
    /// Custom resource kinds the API server does not serve (their CRD is not installed): listing
    /// them answered 404.
    pub unserved_kinds: BTreeSet<Kind>,
    /// Namespaces that rendered objects go to but that neither the render creates nor the
    /// cluster has (e.g. the monitoring namespace of the dashboards).
    pub missing_namespaces: BTreeSet<String>,
}

impl LiveState {
    /// A live object.
    #[must_use]
    pub fn get(&self, key: &ObjectKey) -> Option<&Value> {
        self.objects.get(key)
    }

    /// Live objects of a kind.
    pub fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Value> {
        self.objects
            .iter()
            .filter(move |(k, _)| k.kind == kind)
            .map(|(_, v)| v)
    }

    /// Whether the live body of `key` is complete (listed in full or fetched).
    #[must_use]
    pub fn has_full(&self, key: &ObjectKey) -> bool {
        self.full_kinds.contains(&key.kind)
            || self
                .objects
                .get(key)
                .is_some_and(|v| v.get("spec").is_some() || v.get("data").is_some())
    }
}
