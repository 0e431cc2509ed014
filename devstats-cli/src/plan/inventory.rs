//! The inventory: what devstats-k8s applied, stored ApplySet-style (KEP-3659) in a ConfigMap
//! parent object `devstats-k8s-inventory` in the instance namespace.
//!
//! Prune is inventory − render, never a label query: Patroni puts the chart's labels on its own
//! Endpoints, ConfigMaps and Services, so selecting by label would delete the database's leader
//! state. The parent carries `applyset.kubernetes.io/id` and `contains-group-kinds`; the member
//! list is the `objects` data key, one `Kind[.group] namespace name guard` line per object (`-`
//! for cluster-scoped), so it stays small (about 70 bytes per object). The guard is the object's
//! [`PruneGuard`] when it was applied (from its render policy), so prune and `destroy` know what
//! guards an object the render no longer has; a line without one (written by an older
//! devstats-k8s) reads as unknown.

use std::collections::{BTreeMap, BTreeSet};

use devstats_render::PruneGuard;
use serde_json::{Value, json};

use super::json::{base64_url, sha256_hex};
use crate::kinds::{Kind, ObjectKey};

/// Name of the inventory ConfigMap.
pub const NAME: &str = "devstats-k8s-inventory";
/// Data key holding the member list.
pub const DATA_KEY: &str = "objects";
/// ApplySet ID label (on the parent).
pub const ID_LABEL: &str = "applyset.kubernetes.io/id";
/// ApplySet membership label (on every member's metadata, never on pod templates).
pub const PART_OF_LABEL: &str = "applyset.kubernetes.io/part-of";
/// ApplySet tooling annotation.
pub const TOOLING_ANNOTATION: &str = "applyset.kubernetes.io/tooling";
/// ApplySet group-kinds annotation.
pub const GROUP_KINDS_ANNOTATION: &str = "applyset.kubernetes.io/contains-group-kinds";

/// The members of an inventory with the prune guard recorded for each (`None`: a line written by
/// an older devstats-k8s, without a guard).
pub type Members = BTreeMap<ObjectKey, Option<PruneGuard>>;

/// The ApplySet ID of a ConfigMap parent: `applyset-<base64url(sha256(name.namespace.ConfigMap.))>-v1`.
#[must_use]
pub fn applyset_id(namespace: &str) -> String {
    let digest = sha256_hex(format!("{NAME}.{namespace}.ConfigMap.").as_bytes());
    let bytes: Vec<u8> = (0..digest.len() / 2)
        .filter_map(|i| u8::from_str_radix(&digest[2 * i..2 * i + 2], 16).ok())
        .collect();
    format!("applyset-{}-v1", base64_url(&bytes))
}

/// The key of the inventory parent.
#[must_use]
pub fn parent_key(namespace: &str) -> ObjectKey {
    ObjectKey::new(Kind::CONFIG_MAP, Some(namespace), NAME)
}

/// One member line.
#[must_use]
pub fn line(key: &ObjectKey, guard: Option<PruneGuard>) -> String {
    let mut out = format!(
        "{} {} {}",
        key.kind.inventory_token(),
        key.namespace.as_deref().unwrap_or("-"),
        key.name
    );
    if let Some(g) = guard {
        out.push(' ');
        out.push_str(g.as_str());
    }
    out
}

/// Parses a member line.
#[must_use]
pub fn parse_line(s: &str) -> Option<(ObjectKey, Option<PruneGuard>)> {
    let mut parts = s.split_whitespace();
    let token = parts.next()?;
    let ns = parts.next()?;
    let kind = Kind::parse_inventory_token(token, ns != "-")?;
    let name = parts.next()?;
    let guard = match parts.next() {
        None => None,
        Some(g) => Some(PruneGuard::parse(g)?),
    };
    if parts.next().is_some() {
        return None;
    }
    Some((ObjectKey::new(kind, (ns != "-").then_some(ns), name), guard))
}

/// A line of the inventory that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("inventory {NAME}: cannot read line `{line}`")]
pub struct InventoryError {
    /// The line.
    pub line: String,
}

/// Reads the member list of a live parent. Lines of unknown kinds are reported, not dropped
/// silently.
pub fn parse(parent: &Value) -> Result<Members, InventoryError> {
    let text = parent
        .pointer(&format!("/data/{DATA_KEY}"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut out = Members::new();
    for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match parse_line(l) {
            Some((k, g)) => {
                out.insert(k, g);
            }
            None => return Err(InventoryError { line: l.to_owned() }),
        }
    }
    Ok(out)
}

/// The parent ConfigMap listing `members`.
#[must_use]
pub fn parent(namespace: &str, members: &Members) -> Value {
    let mut lines: Vec<String> = members.iter().map(|(k, g)| line(k, *g)).collect();
    lines.sort();
    let mut text = lines.join("\n");
    text.push('\n');
    let group_kinds: BTreeSet<String> = members.keys().map(|k| k.kind.group_kind()).collect();
    let namespaces: BTreeSet<&str> = members
        .keys()
        .filter_map(|k| k.namespace.as_deref())
        .filter(|ns| *ns != namespace)
        .collect();
    let mut annotations = BTreeMap::from([
        (
            TOOLING_ANNOTATION.to_owned(),
            format!("devstats-k8s/v{}", env!("CARGO_PKG_VERSION")),
        ),
        (
            GROUP_KINDS_ANNOTATION.to_owned(),
            group_kinds.into_iter().collect::<Vec<_>>().join(","),
        ),
    ]);
    if !namespaces.is_empty() {
        annotations.insert(
            "applyset.kubernetes.io/additional-namespaces".to_owned(),
            namespaces.into_iter().collect::<Vec<_>>().join(","),
        );
    }
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": NAME,
            "namespace": namespace,
            "labels": {
                ID_LABEL: applyset_id(namespace),
                "app.kubernetes.io/managed-by": devstats_render::common::MANAGED_BY,
            },
            "annotations": annotations,
        },
        "data": { DATA_KEY: text },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip() {
        for key in [
            ObjectKey::new(Kind::NAMESPACE, None, "devstats-prod"),
            ObjectKey::new(Kind::DEPLOYMENT, Some("devstats-prod"), "devstats-grafana-x"),
            ObjectKey::new(Kind::SECRET, Some("devstats-prod"), "pg-db"),
        ] {
            for guard in [None, Some(PruneGuard::None), Some(PruneGuard::Database)] {
                assert_eq!(parse_line(&line(&key, guard)), Some((key.clone(), guard)));
            }
        }
        assert_eq!(parse_line("Widget.example.com ns x"), None);
        assert_eq!(parse_line("Secret ns x sometimes"), None);
        assert_eq!(
            parse_line("StatefulSet.apps ns devstats-postgres database"),
            Some((
                ObjectKey::new(Kind::STATEFUL_SET, Some("ns"), "devstats-postgres"),
                Some(PruneGuard::Database)
            ))
        );
        let custom = ObjectKey::new(
            Kind::custom("cert-manager.io", "v1", "ClusterIssuer", "clusterissuers", false),
            None,
            "letsencrypt",
        );
        assert_eq!(
            line(&custom, None),
            "ClusterIssuer.cert-manager.io/v1/clusterissuers - letsencrypt"
        );
        assert_eq!(parse_line(&line(&custom, None)), Some((custom, None)));
    }

    #[test]
    fn parent_round_trip() {
        let members: Members = [
            (
                ObjectKey::new(Kind::NAMESPACE, None, "ns"),
                Some(PruneGuard::Namespace),
            ),
            (ObjectKey::new(Kind::CRON_JOB, Some("ns"), "devstats-x"), None),
        ]
        .into_iter()
        .collect();
        let p = parent("ns", &members);
        assert_eq!(parse(&p), Ok(members));
        assert_eq!(
            p.pointer("/metadata/annotations/applyset.kubernetes.io~1contains-group-kinds"),
            Some(&Value::String("CronJob.batch,Namespace".to_owned()))
        );
    }

    #[test]
    fn applyset_id_has_the_kep_shape() {
        let id = applyset_id("devstats-prod");
        assert!(id.starts_with("applyset-") && id.ends_with("-v1"), "{id}");
        // 32 bytes of SHA-256 → 43 base64url characters.
        assert_eq!(id.len(), "applyset-".len() + 43 + "-v1".len());
    }
}
