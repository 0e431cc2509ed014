//! The kinds devstats-k8s reads and writes, with their REST coordinates.
//!
//! A static table instead of API discovery: every request path is known up front, so an apply
//! makes no discovery round-trips.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Mutex, OnceLock, PoisonError};

use serde_json::Value;

/// Rank of kinds outside the static table (custom resources): applied last, deleted first.
pub const CUSTOM_RANK: u8 = 18;

/// Interned names of kinds outside the static table (a handful per process).
fn intern(s: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
    let mut names = NAMES
        .get_or_init(|| Mutex::new(BTreeSet::new()))
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    if let Some(n) = names.get(s) {
        return n;
    }
    let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// Kinds outside the static table seen by this process.
fn dynamic_kinds() -> &'static Mutex<BTreeSet<Kind>> {
    static KINDS: OnceLock<Mutex<BTreeSet<Kind>>> = OnceLock::new();
    KINDS.get_or_init(|| Mutex::new(BTreeSet::new()))
}

/// A Kubernetes kind with its REST coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kind {
    /// Apply-order rank: lower is applied earlier and deleted later.
    pub rank: u8,
    /// API group (empty for core).
    pub group: &'static str,
    /// API version within the group.
    pub version: &'static str,
    /// `kind`.
    pub kind: &'static str,
    /// The resource's plural URL segment.
    pub plural: &'static str,
    /// Whether objects of this kind live in a namespace.
    pub namespaced: bool,
}

macro_rules! kinds {
    ($($konst:ident = ($rank:literal, $group:literal, $version:literal, $kind:literal, $plural:literal, $ns:literal);)*) => {
        impl Kind {
            $(
                #[doc = concat!("`", $kind, "`.")]
                pub const $konst: Kind = Kind {
                    rank: $rank,
                    group: $group,
                    version: $version,
                    kind: $kind,
                    plural: $plural,
                    namespaced: $ns,
                };
            )*
            /// Every kind, in apply order.
            pub const ALL: &'static [Kind] = &[$(Kind::$konst,)*];
        }
    };
}

kinds! {
    NAMESPACE = (0, "", "v1", "Namespace", "namespaces", false);
    NETWORK_POLICY = (1, "networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true);
    CONFIG_MAP = (2, "", "v1", "ConfigMap", "configmaps", true);
    SECRET = (3, "", "v1", "Secret", "secrets", true);
    SERVICE_ACCOUNT = (4, "", "v1", "ServiceAccount", "serviceaccounts", true);
    ROLE = (5, "rbac.authorization.k8s.io", "v1", "Role", "roles", true);
    ROLE_BINDING = (6, "rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true);
    PERSISTENT_VOLUME_CLAIM = (7, "", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true);
    ENDPOINTS = (8, "", "v1", "Endpoints", "endpoints", true);
    SERVICE = (9, "", "v1", "Service", "services", true);
    STATEFUL_SET = (10, "apps", "v1", "StatefulSet", "statefulsets", true);
    JOB = (11, "batch", "v1", "Job", "jobs", true);
    CRON_JOB = (12, "batch", "v1", "CronJob", "cronjobs", true);
    DEPLOYMENT = (13, "apps", "v1", "Deployment", "deployments", true);
    POD = (14, "", "v1", "Pod", "pods", true);
    POD_DISRUPTION_BUDGET = (15, "policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true);
    HORIZONTAL_POD_AUTOSCALER = (16, "autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true);
    INGRESS = (17, "networking.k8s.io", "v1", "Ingress", "ingresses", true);
}

impl Kind {
    /// Finds a kind by API group and kind name (the static table, then the custom kinds seen).
    #[must_use]
    pub fn find(group: &str, kind: &str) -> Option<Kind> {
        Kind::ALL
            .iter()
            .copied()
            .find(|k| k.group == group && k.kind == kind)
            .or_else(|| {
                dynamic_kinds()
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .iter()
                    .copied()
                    .find(|k| k.group == group && k.kind == kind)
            })
    }

    /// A kind outside the static table (a custom resource), registered for later lookups.
    #[must_use]
    pub fn custom(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Kind {
        let k = Kind {
            rank: CUSTOM_RANK,
            group: intern(group),
            version: intern(version),
            kind: intern(kind),
            plural: intern(plural),
            namespaced,
        };
        dynamic_kinds()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(k);
        k
    }

    /// Every kind known to this process: the static table and the custom kinds seen.
    #[must_use]
    pub fn known() -> Vec<Kind> {
        let mut out = Kind::ALL.to_vec();
        out.extend(
            dynamic_kinds()
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .copied(),
        );
        out
    }

    /// Whether the kind is in the static table (built into Kubernetes).
    #[must_use]
    pub fn is_builtin(&self) -> bool {
        Kind::ALL.contains(self)
    }

    /// Finds a kind from an object's `apiVersion` and `kind`.
    #[must_use]
    pub fn from_type_meta(api_version: &str, kind: &str) -> Option<Kind> {
        let group = api_version.rsplit_once('/').map(|(g, _)| g).unwrap_or_default();
        Kind::find(group, kind)
    }

    /// The kind of a rendered object (custom resources are registered from their type info).
    #[must_use]
    pub fn of_object(o: &devstats_render::Object) -> Option<Kind> {
        if let Some(k) = Kind::ALL
            .iter()
            .copied()
            .find(|k| k.group == o.group() && k.kind == o.kind())
        {
            return Some(k);
        }
        let version = o.api_version().rsplit('/').next()?;
        let namespaced = match o {
            devstats_render::Object::Custom(c) => c.namespaced,
            other => other.namespace().is_some(),
        };
        Some(Kind::custom(o.group(), version, o.kind(), o.plural(), namespaced))
    }

    /// `apiVersion`, e.g. `apps/v1`.
    #[must_use]
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `Kind.group` as ApplySet writes it (`Deployment.apps`, `Secret`).
    #[must_use]
    pub fn group_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_owned()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// Parses `Kind.group`.
    #[must_use]
    pub fn parse_group_kind(s: &str) -> Option<Kind> {
        match s.split_once('.') {
            Some((kind, group)) => Kind::find(group, kind),
            None => Kind::find("", s),
        }
    }

    /// `Kind.group` for built-in kinds; `Kind.group/version/plural` for custom ones, so an
    /// inventory line says how to reach (and prune) it even when the render no longer has it.
    #[must_use]
    pub fn inventory_token(&self) -> String {
        if self.is_builtin() {
            self.group_kind()
        } else {
            format!("{}/{}/{}", self.group_kind(), self.version, self.plural)
        }
    }

    /// Parses [`Kind::inventory_token`]; `namespaced` comes from the line.
    #[must_use]
    pub fn parse_inventory_token(s: &str, namespaced: bool) -> Option<Kind> {
        let mut parts = s.split('/');
        let gk = parts.next()?;
        match (parts.next(), parts.next()) {
            (None, _) => Kind::parse_group_kind(gk),
            (Some(version), Some(plural)) => {
                let (kind, group) = gk.split_once('.').unwrap_or((gk, ""));
                Some(Kind::custom(group, version, kind, plural, namespaced))
            }
            _ => None,
        }
    }

    fn prefix(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    /// The collection path, e.g. `/apis/apps/v1/namespaces/ns/deployments`.
    #[must_use]
    pub fn collection_path(&self, namespace: Option<&str>) -> String {
        match namespace {
            Some(ns) if self.namespaced => format!("{}/namespaces/{ns}/{}", self.prefix(), self.plural),
            _ => format!("{}/{}", self.prefix(), self.plural),
        }
    }

    /// The object path, e.g. `/apis/apps/v1/namespaces/ns/deployments/name`.
    #[must_use]
    pub fn object_path(&self, namespace: Option<&str>, name: &str) -> String {
        format!("{}/{name}", self.collection_path(namespace))
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind)
    }
}

/// Identity of one object: kind, namespace, name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    /// The kind.
    pub kind: Kind,
    /// The namespace (`None` for cluster-scoped kinds).
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl ObjectKey {
    /// A key.
    #[must_use]
    pub fn new(kind: Kind, namespace: Option<&str>, name: &str) -> Self {
        Self {
            kind,
            namespace: if kind.namespaced {
                namespace.map(str::to_owned)
            } else {
                None
            },
            name: name.to_owned(),
        }
    }

    /// The key of a JSON object (from `apiVersion`, `kind`, `metadata`), when it is a known kind.
    #[must_use]
    pub fn of_value(v: &Value) -> Option<Self> {
        let kind = Kind::from_type_meta(v.get("apiVersion")?.as_str()?, v.get("kind")?.as_str()?)?;
        let name = v.pointer("/metadata/name")?.as_str()?;
        let ns = v.pointer("/metadata/namespace").and_then(Value::as_str);
        Some(Self::new(kind, ns, name))
    }

    /// The key of a listed item whose kind is known from the list request.
    #[must_use]
    pub fn of_item(kind: Kind, v: &Value) -> Option<Self> {
        let name = v.pointer("/metadata/name")?.as_str()?;
        let ns = v.pointer("/metadata/namespace").and_then(Value::as_str);
        Some(Self::new(kind, ns, name))
    }

    /// The object's REST path.
    #[must_use]
    pub fn path(&self) -> String {
        self.kind.object_path(self.namespace.as_deref(), &self.name)
    }

    /// Sort key for apply order (kind rank, then namespace and name).
    #[must_use]
    pub fn apply_order(&self) -> (u8, Option<&str>, &str) {
        (self.kind.rank, self.namespace.as_deref(), &self.name)
    }
}

impl serde::Serialize for ObjectKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {ns}/{}", self.kind.kind, self.name),
            None => write!(f, "{} {}", self.kind.kind, self.name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            Kind::DEPLOYMENT.object_path(Some("ns"), "x"),
            "/apis/apps/v1/namespaces/ns/deployments/x"
        );
        assert_eq!(
            Kind::NAMESPACE.object_path(Some("ignored"), "ns"),
            "/api/v1/namespaces/ns"
        );
        assert_eq!(
            Kind::SECRET.collection_path(Some("ns")),
            "/api/v1/namespaces/ns/secrets"
        );
    }

    #[test]
    fn group_kind_round_trip() {
        for k in Kind::ALL {
            assert_eq!(Kind::parse_group_kind(&k.group_kind()), Some(*k));
            assert_eq!(Kind::from_type_meta(&k.api_version(), k.kind), Some(*k));
        }
    }

    #[test]
    fn ranks_are_unique_and_ordered() {
        let ranks: Vec<u8> = Kind::ALL.iter().map(|k| k.rank).collect();
        let mut sorted = ranks.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(ranks, sorted);
    }
}
