//! The one table of Kubernetes kinds: the built-in kinds DevStats renders and the custom
//! resource kinds it renders (cert-manager, Traefik, Gateway API, prometheus-operator, Flagger),
//! each with its REST coordinates (group, version, plural, scope) and its apply-order rank.
//!
//! Render sorts by it ([`crate::core::policy::Phase`], then [`Kind::rank`], then name) and the CLI reaches
//! (and prunes, in reverse rank) every object by it, so the two can never disagree. A static
//! table instead of API discovery: every request path is known up front, so an apply makes no
//! discovery round-trips. Kinds outside the table (a custom kind named by an older inventory)
//! are registered with [`Kind::custom`] and found again by [`Kind::find`]. Pure data: no IO.
//!
//! The built-in rows are checked against k8s-openapi's `Resource` constants by a test in
//! `object.rs`.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::{Mutex, OnceLock, PoisonError};

/// Rank of every custom resource kind (those of the table and those registered at runtime):
/// applied within its phase after the RBAC objects and before storage, so cert-manager issuers,
/// Traefik Middlewares and Canaries exist before the objects that name them; pruned accordingly.
pub const CUSTOM_RANK: u8 = 7;

/// A Kubernetes kind with its REST coordinates and apply-order rank.
///
/// Ordered by rank first, so a sort by kind is apply order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Kind {
    /// Apply-order rank within a phase: lower is applied earlier and deleted later.
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
    ($(#[$list_doc:meta])* $list:ident: $($konst:ident = ($rank:expr, $group:literal, $version:literal, $kind:literal, $plural:literal, $ns:literal);)*) => {
        impl Kind {
            $(
                #[doc = concat!("`", $kind, "` (`", $group, "` `", $version, "`).")]
                pub const $konst: Kind = Kind {
                    rank: $rank,
                    group: $group,
                    version: $version,
                    kind: $kind,
                    plural: $plural,
                    namespaced: $ns,
                };
            )*
            $(#[$list_doc])*
            pub const $list: &'static [Kind] = &[$(Kind::$konst,)*];
        }
    };
}

kinds! {
    /// Every built-in kind, in apply order.
    ALL:
    NAMESPACE = (0, "", "v1", "Namespace", "namespaces", false);
    NETWORK_POLICY = (1, "networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", true);
    SECRET = (2, "", "v1", "Secret", "secrets", true);
    CONFIG_MAP = (3, "", "v1", "ConfigMap", "configmaps", true);
    SERVICE_ACCOUNT = (4, "", "v1", "ServiceAccount", "serviceaccounts", true);
    ROLE = (5, "rbac.authorization.k8s.io", "v1", "Role", "roles", true);
    ROLE_BINDING = (6, "rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings", true);
    PERSISTENT_VOLUME_CLAIM = (8, "", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", true);
    ENDPOINTS = (9, "", "v1", "Endpoints", "endpoints", true);
    SERVICE = (10, "", "v1", "Service", "services", true);
    STATEFUL_SET = (11, "apps", "v1", "StatefulSet", "statefulsets", true);
    JOB = (12, "batch", "v1", "Job", "jobs", true);
    CRON_JOB = (13, "batch", "v1", "CronJob", "cronjobs", true);
    DEPLOYMENT = (14, "apps", "v1", "Deployment", "deployments", true);
    POD = (15, "", "v1", "Pod", "pods", true);
    POD_DISRUPTION_BUDGET = (16, "policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", true);
    HORIZONTAL_POD_AUTOSCALER = (17, "autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", true);
    INGRESS = (18, "networking.k8s.io", "v1", "Ingress", "ingresses", true);
}

kinds! {
    /// Every custom resource kind DevStats renders (all of rank [`CUSTOM_RANK`]).
    CUSTOM:
    ISSUER = (CUSTOM_RANK, "cert-manager.io", "v1", "Issuer", "issuers", true);
    CLUSTER_ISSUER = (CUSTOM_RANK, "cert-manager.io", "v1", "ClusterIssuer", "clusterissuers", false);
    CERTIFICATE = (CUSTOM_RANK, "cert-manager.io", "v1", "Certificate", "certificates", true);
    MIDDLEWARE = (CUSTOM_RANK, "traefik.io", "v1alpha1", "Middleware", "middlewares", true);
    GATEWAY = (CUSTOM_RANK, "gateway.networking.k8s.io", "v1", "Gateway", "gateways", true);
    HTTP_ROUTE = (CUSTOM_RANK, "gateway.networking.k8s.io", "v1", "HTTPRoute", "httproutes", true);
    POD_MONITOR = (CUSTOM_RANK, "monitoring.coreos.com", "v1", "PodMonitor", "podmonitors", true);
    SERVICE_MONITOR = (CUSTOM_RANK, "monitoring.coreos.com", "v1", "ServiceMonitor", "servicemonitors", true);
    PROMETHEUS_RULE = (CUSTOM_RANK, "monitoring.coreos.com", "v1", "PrometheusRule", "prometheusrules", true);
    CANARY = (CUSTOM_RANK, "flagger.app", "v1beta1", "Canary", "canaries", true);
}

/// Interned names of kinds outside the table (a handful per process).
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

/// Kinds outside the table registered by this process.
fn registered() -> &'static Mutex<BTreeSet<Kind>> {
    static KINDS: OnceLock<Mutex<BTreeSet<Kind>>> = OnceLock::new();
    KINDS.get_or_init(|| Mutex::new(BTreeSet::new()))
}

impl Kind {
    /// Finds a kind by API group and kind name: the built-in kinds, the custom kinds of the
    /// table, then those registered by [`Kind::custom`].
    #[must_use]
    pub fn find(group: &str, kind: &str) -> Option<Kind> {
        Kind::ALL
            .iter()
            .chain(Kind::CUSTOM)
            .copied()
            .find(|k| k.group == group && k.kind == kind)
            .or_else(|| {
                registered()
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .iter()
                    .copied()
                    .find(|k| k.group == group && k.kind == kind)
            })
    }

    /// A custom resource kind (rank [`CUSTOM_RANK`]), registered for later lookups when it is
    /// not in the table.
    #[must_use]
    pub fn custom(group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) -> Kind {
        if let Some(k) = Kind::CUSTOM.iter().find(|k| {
            k.group == group
                && k.version == version
                && k.kind == kind
                && k.plural == plural
                && k.namespaced == namespaced
        }) {
            return *k;
        }
        let k = Kind {
            rank: CUSTOM_RANK,
            group: intern(group),
            version: intern(version),
            kind: intern(kind),
            plural: intern(plural),
            namespaced,
        };
        registered()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(k);
        k
    }

    /// Every kind known to this process: the table and the custom kinds registered.
    #[must_use]
    pub fn known() -> Vec<Kind> {
        let mut out = Kind::ALL.to_vec();
        out.extend_from_slice(Kind::CUSTOM);
        out.extend(
            registered()
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .iter()
                .copied(),
        );
        out
    }

    /// Whether the kind is built into Kubernetes ([`Kind::ALL`]).
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
        assert_eq!(
            Kind::CLUSTER_ISSUER.object_path(Some("ignored"), "le"),
            "/apis/cert-manager.io/v1/clusterissuers/le"
        );
    }

    #[test]
    fn group_kind_round_trip() {
        for k in Kind::ALL.iter().chain(Kind::CUSTOM) {
            assert_eq!(Kind::parse_group_kind(&k.group_kind()), Some(*k));
            assert_eq!(Kind::from_type_meta(&k.api_version(), k.kind), Some(*k));
            assert_eq!(
                Kind::parse_inventory_token(&k.inventory_token(), k.namespaced),
                Some(*k)
            );
        }
    }

    #[test]
    fn ranks_are_unique_and_ordered() {
        let ranks: Vec<u8> = Kind::ALL.iter().map(|k| k.rank).collect();
        let mut sorted = ranks.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(ranks, sorted);
        assert!(
            !ranks.contains(&CUSTOM_RANK),
            "custom resources share no rank with a built-in"
        );
        assert!(
            Kind::CUSTOM
                .iter()
                .all(|k| k.rank == CUSTOM_RANK && !k.is_builtin())
        );
    }

    #[test]
    fn a_custom_kind_of_the_table_is_the_table_row() {
        assert_eq!(
            Kind::custom("flagger.app", "v1beta1", "Canary", "canaries", true),
            Kind::CANARY
        );
        let other = Kind::custom("example.com", "v1", "Widget", "widgets", true);
        assert_eq!(Kind::find("example.com", "Widget"), Some(other));
        assert!(Kind::known().contains(&other));
    }
}
