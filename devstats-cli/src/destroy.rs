//! `destroy`: deletes everything the inventory lists, in reverse apply order. Without
//! `--delete-volumes` it keeps what the inventory records as guarded (each object's render
//! policy when it was applied, [`PruneGuard`]): volume claims and run-once Job records, the
//! Namespace, and the database (the Patroni StatefulSet with its ServiceAccount, RBAC, Services,
//! config Endpoints and the database Secret, without which running members would lose their
//! leader lock). Nothing is judged by its name.

use std::collections::BTreeMap;

use devstats_render::PruneGuard;
use futures::future::join_all;

use crate::apply::{ObjectError, describe_write_error, write_inventory};
use crate::cluster::Cluster;
use crate::engine::Engine;
use crate::kinds::{Kind, ObjectKey};
use crate::plan::inventory::{self, Members};
use crate::progress::Event;

/// What destroy deletes and keeps.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DestroyPlan {
    /// In deletion order.
    pub delete: Vec<ObjectKey>,
    /// Kept, with why.
    pub keep: Vec<(ObjectKey, String)>,
    /// The guard the inventory records for each member (what a rewritten inventory keeps).
    #[serde(skip)]
    pub recorded: Members,
}

/// Why destroy keeps an object without `--delete-volumes`, from its recorded guard.
fn kept_because(guard: Option<PruneGuard>) -> Option<&'static str> {
    match guard {
        Some(PruneGuard::None) => None,
        Some(PruneGuard::Volumes) => Some("volume (data) or record of a provisioned database"),
        Some(PruneGuard::Database) => Some("database"),
        Some(PruneGuard::Namespace) => Some("namespace (holds the data)"),
        None => Some("recorded without a prune guard by an older devstats-k8s (an `apply` records it)"),
    }
}

/// Plans a destroy of the inventory members.
#[must_use]
pub fn plan(members: &Members, delete_volumes: bool) -> DestroyPlan {
    let mut out = DestroyPlan {
        recorded: members.clone(),
        ..DestroyPlan::default()
    };
    for (key, guard) in members {
        let keep = if delete_volumes {
            None
        } else {
            kept_because(*guard)
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
    let recorded = |k: &ObjectKey| (k.clone(), plan.recorded.get(k).copied().flatten());
    let mut remaining: Members = plan.keep.iter().map(|(k, _)| recorded(k)).collect();
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
                    let (k, g) = recorded(k);
                    remaining.insert(k, g);
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
                .map_err(|e| ObjectError::api(&parent, e))
        } else {
            write_inventory(eng, namespace, &remaining).await
        };
        if let Err(e) = r {
            report.failed.push((parent.to_string(), e.to_string()));
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(kind: Kind, name: &str, guard: PruneGuard) -> (ObjectKey, Option<PruneGuard>) {
        (ObjectKey::new(kind, Some("ns"), name), Some(guard))
    }

    #[test]
    fn keeps_data_unless_asked() {
        use PruneGuard::{Database, Namespace, None as Unguarded, Volumes};
        let members: Members = [
            (ObjectKey::new(Kind::NAMESPACE, None, "ns"), Some(Namespace)),
            k(Kind::PERSISTENT_VOLUME_CLAIM, "devstats-pvc-x", Volumes),
            k(Kind::STATEFUL_SET, "devstats-postgres", Database),
            k(Kind::ENDPOINTS, "devstats-postgres-config", Database),
            k(Kind::SECRET, "pg-db", Database),
            k(Kind::SECRET, "github-oauth", Unguarded),
            k(Kind::JOB, "devstats-provision-x", Volumes),
            k(Kind::CRON_JOB, "devstats-x", Unguarded),
            k(Kind::INGRESS, "devstats-ingress", Unguarded),
            k(Kind::DEPLOYMENT, "devstats-grafana-x", Unguarded),
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

    #[test]
    fn the_recorded_guard_decides_not_the_name() {
        // Named like the database but recorded unguarded (the base backup CronJob): deleted.
        // Named like nothing special but recorded as the database (a renamed Secret): kept.
        // An older inventory line without a guard: kept.
        let members: Members = [
            k(Kind::CRON_JOB, "devstats-postgres-basebackup", PruneGuard::None),
            k(Kind::SECRET, "my-db-credentials", PruneGuard::Database),
            (ObjectKey::new(Kind::SERVICE, Some("ns"), "devstats-api"), None),
        ]
        .into_iter()
        .collect();
        let p = plan(&members, false);
        let deleted: Vec<String> = p.delete.iter().map(ToString::to_string).collect();
        assert_eq!(deleted, ["CronJob ns/devstats-postgres-basebackup"]);
        let kept: Vec<String> = p.keep.iter().map(|(k, _)| k.to_string()).collect();
        assert_eq!(kept, ["Secret ns/my-db-credentials", "Service ns/devstats-api"]);
    }
}
