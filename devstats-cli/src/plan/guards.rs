//! Changes apply must never make implicitly, decided before the first write.
//!
//! **Patroni's DCS.** Switching a *running* Patroni cluster between Endpoints and ConfigMaps
//! (`PATRONI_KUBERNETES_USE_ENDPOINTS`, `instance.security.patroni.dcs`) by a rolling update takes
//! the database down (production audit, Patroni 4.x `ha.py`, `api.py`, `config.py`):
//!
//! - the old-mode primary loses its Role rules on Endpoints, cannot renew its leader lock and
//!   demotes itself at once: a write outage;
//! - `patronictl pause` lives in the old DCS: the new one is neither paused nor led, so the first
//!   restarted member follows nobody, its readiness fails and the rollout stalls;
//! - the first member to take the new lock seeds the configuration from the image's
//!   `bootstrap.dcs`: every DCS-only setting (max_connections, max_worker_processes,
//!   wal_keep_size, the archive settings) is lost, and the next primary restart meets "too many
//!   clients".
//!
//! So apply refuses such a change unless the operator ran the documented migration
//! (`docs/security.md`, "Changing Patroni's DCS"): paused, saved `patronictl show-config`, and
//! **stopped every member** (the StatefulSet scaled to 0), then `apply --migrate-patroni-dcs`.
//! The flag alone is not enough: with members still running the apply is refused as well.

use serde_json::Value;

use crate::kinds::Kind;
use crate::plan::desired::DesiredSet;
use crate::plan::live::LiveState;

/// The environment variable that selects Patroni's Kubernetes DCS mode.
const USE_ENDPOINTS: &str = "PATRONI_KUBERNETES_USE_ENDPOINTS";

/// The value of `USE_ENDPOINTS` in a StatefulSet body's containers: `Some(true)` Endpoints,
/// `Some(false)` ConfigMaps, `None` when no container sets it (not a Patroni StatefulSet).
fn use_endpoints(sts: &Value) -> Option<bool> {
    let containers = sts.pointer("/spec/template/spec/containers")?.as_array()?;
    containers.iter().find_map(|c| {
        c.get("env")?.as_array()?.iter().find_map(|e| {
            (e.get("name")?.as_str()? == USE_ENDPOINTS)
                .then(|| e.get("value").and_then(Value::as_str).unwrap_or_default() == "true")
        })
    })
}

fn mode(endpoints: bool) -> &'static str {
    if endpoints { "Endpoints" } else { "ConfigMaps" }
}

/// Refusals for Patroni StatefulSets whose live DCS mode differs from the rendered one.
/// `migrate`: the operator says the documented migration's preparation is done.
#[must_use]
pub fn patroni_dcs(set: &DesiredSet, live: &LiveState, migrate: bool) -> Vec<String> {
    let mut out = Vec::new();
    for d in set.objects.iter().filter(|d| d.key.kind == Kind::STATEFUL_SET) {
        let Some(want) = use_endpoints(&d.body) else {
            continue;
        };
        let Some(l) = live.get(&d.key) else {
            continue;
        };
        // A live body without its spec (metadata-only list): the planner fetches full bodies of
        // changed StatefulSets; an unchanged one cannot have switched.
        let Some(have) = use_endpoints(l).or_else(|| l.pointer("/spec/template").map(|_| false)) else {
            continue;
        };
        if have == want {
            continue;
        }
        let replicas = l.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
        let running = l.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0);
        let stopped = replicas == 0 && running == 0;
        if migrate && stopped {
            continue;
        }
        let why = if migrate {
            format!(
                "{} still runs {running} member(s) (spec.replicas {replicas}): stop every member first \
                 (`kubectl -n {ns} scale sts {name} --replicas=0`, after `patronictl pause` and saving \
                 `patronictl show-config`)",
                d.key,
                ns = d.key.namespace.as_deref().unwrap_or_default(),
                name = d.key.name,
            )
        } else {
            format!(
                "{}: the model switches the running Patroni cluster's DCS from {} to {} \
                 (instance.security.patroni.dcs). A rolling switch demotes the primary and loses the \
                 DCS-only settings: keep `dcs: {}` for this cluster, or follow docs/security.md \
                 \"Changing Patroni's DCS\" (pause, save show-config, stop every member) and apply \
                 with --migrate-patroni-dcs",
                d.key,
                mode(have),
                mode(want),
                if have { "endpoints" } else { "configMaps" },
            )
        };
        out.push(why);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sts(endpoints: &str) -> Value {
        json!({"spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "p", "env": [{"name": USE_ENDPOINTS, "value": endpoints}]}]}}},
            "status": {"replicas": 3}})
    }

    #[test]
    fn reads_the_mode() {
        assert_eq!(use_endpoints(&sts("true")), Some(true));
        assert_eq!(use_endpoints(&sts("false")), Some(false));
        assert_eq!(use_endpoints(&json!({"spec": {}})), None);
    }
}
