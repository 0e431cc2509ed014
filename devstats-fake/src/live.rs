//! Live states for the pure planner's tests and benchmarks.

use devstats_cli::kinds::{Kind, ObjectKey};
use devstats_cli::plan::{DesiredSet, LiveState};
use serde_json::json;

/// The live state of a cluster where every desired object exists exactly as applied and is
/// ready, as a real API server reports it after the controllers have caught up: Jobs carry a
/// `Complete` condition, StatefulSets `observedGeneration` 1 with all replicas ready, and
/// Patroni's primary Pod (`{name}-0`, labels `cluster-name` and `role: primary`) exists and is
/// Ready. Every kind was listed in full and the inventory holds the set.
#[must_use]
pub fn converged(set: &DesiredSet) -> LiveState {
    let mut live = LiveState::default();
    for d in &set.objects {
        let mut v = d.body.clone();
        if d.key.kind == Kind::JOB {
            v["status"] = json!({"conditions": [{"type": "Complete", "status": "True"}]});
        } else if d.key.kind == Kind::STATEFUL_SET {
            v["metadata"]["generation"] = json!(1);
            let r = v.pointer("/spec/replicas").cloned().unwrap_or(json!(1));
            v["status"] =
                json!({"observedGeneration": 1, "replicas": r, "readyReplicas": r, "updatedReplicas": r});
            let primary = json!({"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("{}-0", d.key.name), "namespace": d.key.namespace,
                             "labels": {"cluster-name": d.key.name, "role": "primary"}},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
            if let Some(key) = ObjectKey::of_value(&primary) {
                live.objects.insert(key, primary);
            }
        }
        live.objects.insert(d.key.clone(), v);
    }
    live.full_kinds = Kind::ALL.iter().copied().collect();
    live.listed_kinds = Kind::ALL.iter().copied().collect();
    live.inventory = Some(set.members());
    live
}
