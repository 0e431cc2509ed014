//! Facts about the Kubernetes API the planner needs besides each object's render policy
//! ([`ApplyPolicy`](devstats_render::ApplyPolicy): write mode, prune guard, readiness and phase,
//! set by the object's builder): immutable fields (checked offline, before any write) and fields
//! owned by an HPA or by Flagger (a canaried Deployment's `spec.replicas`).

use std::cmp::Ordering;

use serde_json::Value;

use super::json::{compare_quantities, is_subset, short};
use crate::kinds::{Kind, ObjectKey};

/// What an immutable-field change requires.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Resolution {
    /// Delete and create again, which apply does by itself (Jobs that are not run-once).
    Recreate,
    /// Delete and create again, only with `--allow-recreate` (a Service's clusterIP, a
    /// Deployment's selector, a RoleBinding's roleRef: a short interruption).
    RecreateWithFlag,
    /// Refused: the object holds data or identity (StatefulSet, PVC); the text says what to do.
    Refuse(String),
}

/// One immutable field whose desired value differs from the live one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ImmutableChange {
    /// JSON path, e.g. `.spec.volumeClaimTemplates`.
    pub path: String,
    /// Live value (shortened).
    pub live: String,
    /// Desired value (shortened).
    pub desired: String,
    /// What it takes.
    pub resolution: Resolution,
}

/// Immutable paths per kind (Kubernetes 1.33): the fields the API server rejects changes to.
/// StatefulSet: only replicas, ordinals, template, updateStrategy,
/// persistentVolumeClaimRetentionPolicy and minReadySeconds may change.
#[must_use]
pub fn immutable_paths(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::STATEFUL_SET => &[
            "/spec/selector",
            "/spec/serviceName",
            "/spec/volumeClaimTemplates",
            "/spec/podManagementPolicy",
        ],
        Kind::JOB => &[
            "/spec/template",
            "/spec/selector",
            "/spec/completions",
            "/spec/completionMode",
        ],
        Kind::DEPLOYMENT => &["/spec/selector"],
        Kind::SERVICE => &["/spec/clusterIP"],
        Kind::PERSISTENT_VOLUME_CLAIM => &[
            "/spec/storageClassName",
            "/spec/accessModes",
            "/spec/volumeMode",
            "/spec/selector",
            "/spec/volumeName",
        ],
        Kind::ROLE_BINDING => &["/roleRef"],
        _ => &[],
    }
}

/// Whether the planner needs the live object's full body to check immutable fields.
#[must_use]
pub fn needs_live_spec(kind: Kind) -> bool {
    !immutable_paths(kind).is_empty()
}

fn statefulset_refusal(key: &ObjectKey, path: &str) -> String {
    let ns = key.namespace.as_deref().unwrap_or("default");
    format!(
        "{key}: {path} cannot be changed on a live StatefulSet (Kubernetes allows only replicas, \
         template, updateStrategy, ordinals, minReadySeconds and persistentVolumeClaimRetentionPolicy \
         to change). Deleting it would stop the database. To change it deliberately: \
         `kubectl -n {ns} delete statefulset {} --cascade=orphan` (pods and volumes stay), then apply \
         again; or keep the live value in the model. Nothing was written.",
        key.name
    )
}

/// Immutable fields whose desired value differs from the live object.
#[must_use]
pub fn immutable_changes(key: &ObjectKey, desired: &Value, live: &Value) -> Vec<ImmutableChange> {
    let mut out = Vec::new();
    for path in immutable_paths(key.kind) {
        let Some(d) = desired.pointer(path) else {
            continue;
        };
        let l = live.pointer(path);
        // A headless Service keeps "None"; an unset clusterIP is allocated by the server.
        if is_subset(d, l.unwrap_or(&Value::Null)) {
            continue;
        }
        let dotted = path.replace('/', ".");
        let resolution = match key.kind {
            Kind::STATEFUL_SET => Resolution::Refuse(statefulset_refusal(key, &dotted)),
            Kind::JOB => Resolution::Recreate,
            Kind::PERSISTENT_VOLUME_CLAIM => Resolution::Refuse(format!(
                "{key}: {dotted} cannot be changed on a bound claim; the claim holds the project's \
                 data. Keep the live value in the model, or migrate the data to a new claim by hand. \
                 Nothing was written."
            )),
            _ => Resolution::RecreateWithFlag,
        };
        out.push(ImmutableChange {
            path: dotted,
            live: short(l),
            desired: short(Some(d)),
            resolution,
        });
    }
    if key.kind == Kind::PERSISTENT_VOLUME_CLAIM {
        let d = desired
            .pointer("/spec/resources/requests/storage")
            .and_then(Value::as_str);
        let l = live
            .pointer("/spec/resources/requests/storage")
            .and_then(Value::as_str);
        if let (Some(d), Some(l)) = (d, l)
            && compare_quantities(d, l) == Some(Ordering::Less)
        {
            out.push(ImmutableChange {
                path: ".spec.resources.requests.storage".to_owned(),
                live: l.to_owned(),
                desired: d.to_owned(),
                resolution: Resolution::Refuse(format!(
                    "{key}: a volume claim can only grow ({l} live, {d} in the model); \
                     set at least {l} in the model. Nothing was written."
                )),
            });
        }
    }
    out
}

/// `(namespace, name)` of the Deployment that `obj`'s reference at `ref_ptr` names, if it names one.
fn deployment_ref(obj: &Value, ref_ptr: &str) -> Option<(Option<String>, String)> {
    let target = obj.pointer(ref_ptr)?;
    (target.get("kind")?.as_str()? == Kind::DEPLOYMENT.kind).then(|| {
        (
            obj.pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_owned),
            target
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        )
    })
}

/// The Deployments a live HorizontalPodAutoscaler scales (their `spec.replicas` is the HPA's).
#[must_use]
pub fn hpa_targets(hpas: &[Value]) -> Vec<(Option<String>, String)> {
    hpas.iter()
        .filter_map(|h| deployment_ref(h, "/spec/scaleTargetRef"))
        .collect()
}

/// The Deployments Flagger Canaries target (their `spec.replicas` is Flagger's: it scales the
/// target to zero between releases), from Canary bodies (desired or live).
#[must_use]
pub fn canary_targets(canaries: &[&Value]) -> Vec<(Option<String>, String)> {
    canaries
        .iter()
        .filter(|c| {
            c.get("kind")
                .and_then(Value::as_str)
                .is_none_or(|k| k == "Canary")
        })
        .filter_map(|c| deployment_ref(c, "/spec/targetRef"))
        .collect()
}

/// Removes `spec.replicas` from an apply body (the field is owned by an HPA or Flagger).
pub fn drop_replicas(body: &mut Value) {
    if let Some(spec) = body.get_mut("spec").and_then(Value::as_object_mut) {
        spec.remove("replicas");
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn key(kind: Kind, name: &str) -> ObjectKey {
        ObjectKey::new(kind, Some("ns"), name)
    }

    #[test]
    fn statefulset_volume_claim_change_is_refused() {
        let desired = json!({"spec": {"serviceName": "pg", "volumeClaimTemplates": [{"metadata": {"name": "pgdata"}, "spec": {"resources": {"requests": {"storage": "20Gi"}}}}]}});
        let live = json!({"spec": {"serviceName": "pg", "volumeClaimTemplates": [{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "pgdata"}, "spec": {"volumeMode": "Filesystem", "resources": {"requests": {"storage": "10Gi"}}}, "status": {"phase": "Pending"}}]}});
        let changes = immutable_changes(&key(Kind::STATEFUL_SET, "devstats-postgres"), &desired, &live);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].path, ".spec.volumeClaimTemplates");
        assert!(matches!(&changes[0].resolution, Resolution::Refuse(t) if t.contains("--cascade=orphan")));
    }

    #[test]
    fn statefulset_defaults_are_not_changes() {
        let desired = json!({"spec": {"serviceName": "pg", "selector": {"matchLabels": {"a": "b"}}, "volumeClaimTemplates": [{"metadata": {"name": "pgdata"}, "spec": {"resources": {"requests": {"storage": "1Gi"}}}}]}});
        let live = json!({"spec": {"serviceName": "pg", "podManagementPolicy": "OrderedReady", "selector": {"matchLabels": {"a": "b"}}, "volumeClaimTemplates": [{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "pgdata"}, "spec": {"volumeMode": "Filesystem", "resources": {"requests": {"storage": "1024Mi"}}}}]}});
        assert!(immutable_changes(&key(Kind::STATEFUL_SET, "devstats-postgres"), &desired, &live).is_empty());
    }

    #[test]
    fn job_template_change_is_recreate() {
        let desired = json!({"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "b"}]}}}});
        let live = json!({"spec": {"template": {"metadata": {"labels": {"job-name": "x"}}, "spec": {"containers": [{"name": "c", "image": "a", "terminationMessagePath": "/dev/termination-log"}]}}}});
        let changes = immutable_changes(&key(Kind::JOB, "x"), &desired, &live);
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].resolution, Resolution::Recreate);
    }

    #[test]
    fn service_cluster_ip() {
        let live = json!({"spec": {"clusterIP": "10.0.0.1"}});
        assert_eq!(
            immutable_changes(
                &key(Kind::SERVICE, "s"),
                &json!({"spec": {"clusterIP": "None"}}),
                &live
            )[0]
            .resolution,
            Resolution::RecreateWithFlag
        );
        assert!(
            immutable_changes(&key(Kind::SERVICE, "s"), &json!({"spec": {"ports": []}}), &live).is_empty()
        );
    }

    #[test]
    fn pvc_may_grow_not_shrink() {
        let live = json!({"spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "ssd", "resources": {"requests": {"storage": "10Gi"}}}});
        let grow = json!({"spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "20Gi"}}}});
        assert!(immutable_changes(&key(Kind::PERSISTENT_VOLUME_CLAIM, "p"), &grow, &live).is_empty());
        let shrink = json!({"spec": {"resources": {"requests": {"storage": "5Gi"}}}});
        assert_eq!(
            immutable_changes(&key(Kind::PERSISTENT_VOLUME_CLAIM, "p"), &shrink, &live).len(),
            1
        );
        let class = json!({"spec": {"storageClassName": "hdd"}});
        assert!(matches!(
            immutable_changes(&key(Kind::PERSISTENT_VOLUME_CLAIM, "p"), &class, &live)[0].resolution,
            Resolution::Refuse(_)
        ));
    }

    #[test]
    fn hpa_target_and_drop() {
        let hpas = vec![
            json!({"metadata": {"namespace": "ns"}, "spec": {"scaleTargetRef": {"kind": "Deployment", "name": "d"}}}),
        ];
        assert_eq!(hpa_targets(&hpas), vec![(Some("ns".to_owned()), "d".to_owned())]);
        let mut body = json!({"spec": {"replicas": 2, "template": {}}});
        drop_replicas(&mut body);
        assert_eq!(body, json!({"spec": {"template": {}}}));
    }

    #[test]
    fn canary_targets_own_replicas() {
        let canary = json!({"apiVersion": "flagger.app/v1beta1", "kind": "Canary", "metadata": {"namespace": "ns", "name": "c"}, "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d"}}});
        let metadata_only = json!({"metadata": {"namespace": "ns", "name": "c"}});
        let service_target = json!({"kind": "Canary", "metadata": {"namespace": "ns"}, "spec": {"targetRef": {"kind": "Service", "name": "s"}}});
        assert_eq!(
            canary_targets(&[&canary, &metadata_only, &service_target]),
            vec![(Some("ns".to_owned()), "d".to_owned())]
        );
    }
}
