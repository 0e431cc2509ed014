//! The kubelet's side of a pod that does not start, for tests of diagnosis and status: what a
//! real kubelet and the Deployment controller write when a container's image cannot be pulled.

use devstats_cli::cluster::EVENT;
use devstats_cli::kinds::{Kind, ObjectKey};
use serde_json::{Value, json};

use crate::FakeCluster;

/// A kubelet Event about container `container` of pod `pod`.
#[allow(clippy::too_many_arguments)]
fn event(
    ns: &str,
    container: &str,
    n: u32,
    pod: &str,
    uid: &str,
    reason: &str,
    message: &str,
    typ: &str,
    count: i64,
) -> Value {
    json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{pod}.17e0a1b2c3d4e6{n:02x}"), "namespace": ns},
        "involvedObject": {"kind": "Pod", "namespace": ns, "name": pod, "uid": uid, "apiVersion": "v1",
                           "fieldPath": format!("spec.containers{{{container}}}")},
        "reason": reason, "message": message, "type": typ, "count": count,
        "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": "2026-12-03T07:10:00Z", "lastTimestamp": format!("2026-12-03T07:1{n}:00Z"),
        "eventTime": null, "reportingComponent": "kubelet", "reportingInstance": "node-1"})
}

/// What the kubelet does with a pod of Deployment `namespace/deployment` whose image does not
/// exist, as a real cluster shows it: the pod (owned by the Deployment's ReplicaSet, scheduled,
/// `Pending`, its container waiting in `ErrImagePull` with containerd's message), the kubelet's
/// `Pulling` and `Failed` Events, and the Deployment's status with nothing ready. Returns the
/// pod's name and the image.
///
/// # Panics
///
/// When the Deployment is not stored or has no pod template with a container.
pub fn cannot_pull_image(fake: &FakeCluster, namespace: &str, deployment: &str) -> (String, String) {
    let deploy_key = ObjectKey::new(Kind::DEPLOYMENT, Some(namespace), deployment);
    let deploy = fake.object(&deploy_key).expect("deployment applied");
    let template = deploy.pointer("/spec/template").cloned().expect("pod template");
    let image = template
        .pointer("/spec/containers/0/image")
        .and_then(Value::as_str)
        .expect("image")
        .to_owned();
    let container = template
        .pointer("/spec/containers/0/name")
        .and_then(Value::as_str)
        .expect("container name")
        .to_owned();
    let rs = format!("{deployment}-5d8c7b9f4");
    let pod_name = format!("{rs}-x2x9q");
    let uid = "a3f1c9e2-7b4d-4c8a-9e1f-2d3c4b5a6f70";
    let mut labels = template
        .pointer("/metadata/labels")
        .cloned()
        .unwrap_or_else(|| json!({}));
    labels["pod-template-hash"] = json!("5d8c7b9f4");
    let mut spec = template.get("spec").cloned().expect("spec");
    spec["nodeName"] = json!("node-1");
    fake.insert(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": pod_name, "namespace": namespace, "uid": uid, "labels": labels,
                     "generateName": format!("{rs}-"), "creationTimestamp": "2026-12-03T07:10:00Z",
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs,
                                          "uid": "5b0e7f61-1d2c-4a8e-9f3b-3c1d2e4f5a6b", "controller": true,
                                          "blockOwnerDeletion": true}]},
        "spec": spec,
        "status": {"phase": "Pending", "hostIP": "172.18.0.3", "podIP": "10.244.1.7", "qosClass": "Burstable",
                   "startTime": "2026-12-03T07:10:00Z",
                   "conditions": [
                       {"type": "Initialized", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-12-03T07:10:00Z"},
                       {"type": "Ready", "status": "False", "lastProbeTime": null, "lastTransitionTime": "2026-12-03T07:10:00Z",
                        "reason": "ContainersNotReady", "message": format!("containers with unready status: [{container}]")},
                       {"type": "ContainersReady", "status": "False", "lastProbeTime": null, "lastTransitionTime": "2026-12-03T07:10:00Z",
                        "reason": "ContainersNotReady", "message": format!("containers with unready status: [{container}]")},
                       {"type": "PodScheduled", "status": "True", "lastProbeTime": null, "lastTransitionTime": "2026-12-03T07:10:00Z"}],
                   "containerStatuses": [{"name": container, "image": image, "imageID": "", "ready": false,
                       "restartCount": 0, "started": false, "lastState": {},
                       "state": {"waiting": {"reason": "ErrImagePull",
                           "message": format!("rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/{image}\": failed to resolve reference \"docker.io/{image}\": docker.io/{image}: not found")}}}]}}));
    let pull_error = format!(
        "Failed to pull image \"{image}\": rpc error: code = NotFound desc = failed to pull and unpack image \"docker.io/{image}\": failed to resolve reference \"docker.io/{image}\": docker.io/{image}: not found"
    );
    for e in [
        event(
            namespace,
            &container,
            1,
            &pod_name,
            uid,
            "Pulling",
            &format!("Pulling image \"{image}\""),
            "Normal",
            3,
        ),
        event(
            namespace,
            &container,
            2,
            &pod_name,
            uid,
            "Failed",
            &pull_error,
            "Warning",
            3,
        ),
        event(
            namespace,
            &container,
            3,
            &pod_name,
            uid,
            "Failed",
            "Error: ErrImagePull",
            "Warning",
            3,
        ),
    ] {
        fake.insert_as(EVENT, e);
    }
    // The Deployment controller's view: nothing ready.
    fake.edit(&deploy_key, |d| {
        d["status"]["readyReplicas"] = json!(0);
        d["status"]["availableReplicas"] = json!(0);
        d["status"]["unavailableReplicas"] = json!(1);
    });
    (pod_name, image)
}
