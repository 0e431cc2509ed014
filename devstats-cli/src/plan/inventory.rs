//! The inventory: what devstats-k8s applied, stored ApplySet-style (KEP-3659) in a ConfigMap
//! parent object `devstats-k8s-inventory` in the instance namespace.
//!
//! Prune is inventory − render, never a label query: Patroni puts the chart's labels on its own
//! Endpoints, ConfigMaps and Services, so selecting by label would delete the database's leader
//! state. The parent carries `applyset.kubernetes.io/id` and `contains-group-kinds`; the member
//! list is the `objects` data key, one `Kind[.group] namespace name` line per object (`-` for
//! cluster-scoped), so it stays small (about 60 bytes per object).

use std::collections::{BTreeMap, BTreeSet};

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
pub fn line(key: &ObjectKey) -> String {
    format!(
        "{} {} {}",
        key.kind.inventory_token(),
        key.namespace.as_deref().unwrap_or("-"),
        key.name
    )
}

/// Parses a member line.
#[must_use]
pub fn parse_line(s: &str) -> Option<ObjectKey> {
    let mut parts = s.split_whitespace();
    let token = parts.next()?;
    let ns = parts.next()?;
    let kind = Kind::parse_inventory_token(token, ns != "-")?;
    let name = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    Some(ObjectKey::new(kind, (ns != "-").then_some(ns), name))
}

/// Reads the member list of a live parent. Lines of unknown kinds are reported, not dropped
/// silently.
pub fn parse(parent: &Value) -> Result<BTreeSet<ObjectKey>, String> {
    let text = parent
        .pointer(&format!("/data/{DATA_KEY}"))
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut out = BTreeSet::new();
    for l in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        match parse_line(l) {
            Some(k) => {
                out.insert(k);
            }
            None => return Err(format!("inventory {NAME}: cannot read line `{l}`")),
        }
    }
    Ok(out)
}

/// The parent ConfigMap listing `members`.
#[must_use]
pub fn parent(namespace: &str, members: &BTreeSet<ObjectKey>) -> Value {
    let mut lines: Vec<String> = members.iter().map(line).collect();
    lines.sort();
    let mut text = lines.join("\n");
    text.push('\n');
    let group_kinds: BTreeSet<String> = members.iter().map(|k| k.kind.group_kind()).collect();
    let namespaces: BTreeSet<&str> = members
        .iter()
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
            assert_eq!(parse_line(&line(&key)), Some(key));
        }
        assert_eq!(parse_line("Widget.example.com ns x"), None);
        let custom = ObjectKey::new(
            Kind::custom("cert-manager.io", "v1", "ClusterIssuer", "clusterissuers", false),
            None,
            "letsencrypt",
        );
        assert_eq!(
            line(&custom),
            "ClusterIssuer.cert-manager.io/v1/clusterissuers - letsencrypt"
        );
        assert_eq!(parse_line(&line(&custom)), Some(custom));
    }

    #[test]
    fn parent_round_trip() {
        let members: BTreeSet<ObjectKey> = [
            ObjectKey::new(Kind::NAMESPACE, None, "ns"),
            ObjectKey::new(Kind::CRON_JOB, Some("ns"), "devstats-x"),
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
