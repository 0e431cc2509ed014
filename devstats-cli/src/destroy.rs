//! `destroy`: deletes everything the inventory lists, in reverse apply order. Without
//! `--delete-volumes` it keeps the data: PVCs, run-once Job records, the Namespace, and the
//! database (the Patroni StatefulSet with its ServiceAccount, RBAC, Services, config Endpoints and
//! the `pg-db` Secret, without which running members would lose their leader lock).

use std::collections::{BTreeMap, BTreeSet};

use devstats_render::common::names;
use futures::future::join_all;

use crate::apply::{describe_write_error, write_inventory};
use crate::cluster::Cluster;
use crate::engine::Engine;
use crate::kinds::{Kind, ObjectKey};
use crate::plan::graph::DATABASE_SECRET;
use crate::plan::inventory;
use crate::plan::policy::is_run_once_name;
use crate::progress::Event;

/// What destroy deletes and keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DestroyPlan {
    /// In deletion order.
    pub delete: Vec<ObjectKey>,
    /// Kept, with why.
    pub keep: Vec<(ObjectKey, String)>,
}

/// Whether an object is part of the database (kept with the data).
#[must_use]
pub fn is_database_object(key: &ObjectKey) -> bool {
    key.name.starts_with(names::POSTGRES) || (key.kind == Kind::SECRET && key.name == DATABASE_SECRET)
}

/// Plans a destroy of the inventory members.
#[must_use]
pub fn plan(members: &BTreeSet<ObjectKey>, delete_volumes: bool) -> DestroyPlan {
    let mut out = DestroyPlan::default();
    for key in members {
        let keep = if delete_volumes {
            None
        } else if key.kind == Kind::PERSISTENT_VOLUME_CLAIM {
            Some("volume (data)")
        } else if key.kind == Kind::NAMESPACE {
            Some("namespace (holds the data)")
        } else if is_run_once_name(key) {
            Some("record of a provisioned database")
        } else if is_database_object(key) {
            Some("database")
        } else {
            None
        };
        match keep {
            Some(why) => out
                .keep
                .push((key.clone(), format!("{why}; --delete-volumes deletes it"))),
            None => out.delete.push(key.clone()),
        }
    }
    out.delete.sort_by(|a, b| b.apply_order().cmp(&a.apply_order()));
    out
}

/// The result of a destroy.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct DestroyReport {
    /// Deleted.
    pub deleted: Vec<String>,
    /// Already gone.
    pub missing: Vec<String>,
    /// Failed, with the error.
    pub failed: Vec<(String, String)>,
    /// Kept.
    pub kept: Vec<(String, String)>,
}

/// Runs a destroy plan: deletions one kind at a time (reverse apply order), then the inventory
/// rewritten to what is kept (or deleted with everything).
pub async fn run<C: Cluster>(eng: &Engine<'_, C>, namespace: &str, plan: &DestroyPlan) -> DestroyReport {
    let mut report = DestroyReport {
        kept: plan
            .keep
            .iter()
            .map(|(k, w)| (k.to_string(), w.clone()))
            .collect(),
        ..DestroyReport::default()
    };
    let mut groups: BTreeMap<std::cmp::Reverse<u8>, Vec<&ObjectKey>> = BTreeMap::new();
    for k in &plan.delete {
        groups.entry(std::cmp::Reverse(k.kind.rank)).or_default().push(k);
    }
    let mut remaining: BTreeSet<ObjectKey> = plan.keep.iter().map(|(k, _)| k.clone()).collect();
    let mut namespace_deleted = false;
    for keys in groups.values() {
        let results = join_all(keys.iter().map(|k| eng.delete(k))).await;
        for (k, r) in keys.iter().zip(results) {
            match r {
                Ok(true) => {
                    eng.progress.event(&Event::Deleted {
                        object: k.to_string(),
                    });
                    report.deleted.push(k.to_string());
                    if k.kind == Kind::NAMESPACE && k.name == namespace {
                        namespace_deleted = true;
                    }
                }
                Ok(false) => report.missing.push(k.to_string()),
                Err(e) => {
                    let text = describe_write_error(k, &e);
                    eng.progress.event(&Event::Failed {
                        object: k.to_string(),
                        error: text.clone(),
                    });
                    report.failed.push((k.to_string(), text));
                    remaining.insert((*k).clone());
                }
            }
        }
    }
    if !namespace_deleted {
        let parent = inventory::parent_key(namespace);
        let r = if remaining.is_empty() {
            eng.delete(&parent)
                .await
                .map(|_| ())
                .map_err(|e| describe_write_error(&parent, &e))
        } else {
            write_inventory(eng, namespace, &remaining).await
        };
        if let Err(e) = r {
            report.failed.push((parent.to_string(), e));
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(kind: Kind, name: &str) -> ObjectKey {
        ObjectKey::new(kind, Some("ns"), name)
    }

    #[test]
    fn keeps_data_unless_asked() {
        let members: BTreeSet<ObjectKey> = [
            ObjectKey::new(Kind::NAMESPACE, None, "ns"),
            k(Kind::PERSISTENT_VOLUME_CLAIM, "devstats-pvc-x"),
            k(Kind::STATEFUL_SET, "devstats-postgres"),
            k(Kind::ENDPOINTS, "devstats-postgres-config"),
            k(Kind::SECRET, "pg-db"),
            k(Kind::SECRET, "github-oauth"),
            k(Kind::JOB, "devstats-provision-x"),
            k(Kind::CRON_JOB, "devstats-x"),
            k(Kind::INGRESS, "devstats-ingress"),
            k(Kind::DEPLOYMENT, "devstats-grafana-x"),
        ]
        .into_iter()
        .collect();
        let p = plan(&members, false);
        let deleted: Vec<String> = p.delete.iter().map(ToString::to_string).collect();
        assert_eq!(
            deleted,
            [
                "Ingress ns/devstats-ingress",
                "Deployment ns/devstats-grafana-x",
                "CronJob ns/devstats-x",
                "Secret ns/github-oauth"
            ]
        );
        assert_eq!(p.keep.len(), 6);
        let all = plan(&members, true);
        assert_eq!(all.delete.len(), members.len());
        assert_eq!(all.delete.last().map(|k| k.kind), Some(Kind::NAMESPACE));
    }
}
