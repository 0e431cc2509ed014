//! The diagnosis against recorded pod, claim, Job, Deployment and Event bodies (one fixture per
//! cause under `tests/fixtures/diagnose/`; `SOURCES.md` there says where each message format
//! comes from). Each test checks the typed cause and its facts, then snapshots the text `status`
//! prints.

use std::path::PathBuf;

use devstats_cli::diagnose::{self, Cause, ClaimWhy, Diagnosis, MissingRef, PodInput, Probe};
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/diagnose"))
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn list(v: &Value, field: &str) -> Vec<Value> {
    v.get(field)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Runs the diagnosis the fixture's objects call for.
fn diagnose(name: &str) -> Vec<Diagnosis> {
    let f = fixture(name);
    let events = list(&f, "events");
    let claims = list(&f, "claims");
    let mut out = Vec::new();
    if let Some(pod) = f.get("pod") {
        assert!(diagnose::pod_unhealthy(pod), "{name}: the pod is not Ready");
        out.extend(diagnose::pod(&PodInput {
            pod,
            events: &events,
            claims: &claims,
            logs: f.get("logs").and_then(Value::as_str),
        }));
    }
    if let Some(job) = f.get("job") {
        let pods = list(&f, "pods");
        out.extend(diagnose::job(
            job,
            &pods,
            &events,
            f.get("logs").and_then(Value::as_str),
        ));
    }
    if let Some(sts) = f.get("statefulset") {
        out.extend(diagnose::statefulset(sts, &events));
    }
    if let Some(dep) = f.get("deployment") {
        out.extend(diagnose::deployment(dep, &events));
    }
    out
}

fn text(ds: &[Diagnosis]) -> String {
    ds.iter().map(|d| format!("{d}\n")).collect()
}

fn only(name: &str) -> Diagnosis {
    let ds = diagnose(name);
    assert_eq!(ds.len(), 1, "{name}: {ds:#?}");
    ds.into_iter().next().expect("one")
}

#[test]
fn image_not_found_names_the_image() {
    let d = only("image_pull");
    assert_eq!(
        d.object,
        "Pod devstats-example/devstats-grafana-kubernetes-5d8c7b9f4-x2x9q"
    );
    let Cause::ImagePull {
        image,
        reason,
        detail,
        container,
    } = &d.cause
    else {
        panic!("{d:?}")
    };
    assert_eq!(image, "cncf/devstats-grafana:bad-tag");
    assert_eq!(reason, "ImagePullBackOff");
    assert_eq!(container, "grafana");
    assert!(detail.starts_with("rpc error: code = NotFound"), "{detail}");
    assert_eq!(d.cause.reason(), "ImagePullFailed");
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn image_unauthorized_suggests_pull_secrets() {
    let d = only("image_pull_unauthorized");
    assert!(matches!(&d.cause, Cause::ImagePull { reason, .. } if reason == "ErrImagePull"));
    assert!(d.fix.contains("imagePullSecrets"), "{}", d.fix);
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn invalid_image_name() {
    let d = only("invalid_image_name");
    assert!(
        matches!(&d.cause, Cause::ImagePull { reason, image, .. } if reason == "InvalidImageName" && image == "cncf/devstats-grafana:")
    );
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn unschedulable_names_the_node_selector_labels() {
    let d = only("unschedulable_node_selector");
    let Cause::Unschedulable {
        node_selector,
        selector_mismatch,
        insufficient,
        taints,
        ..
    } = &d.cause
    else {
        panic!("{d:?}")
    };
    assert!(*selector_mismatch);
    assert_eq!(
        node_selector.get("node").map(String::as_str),
        Some("devstats-app")
    );
    assert!(insufficient.is_empty() && taints.is_empty());
    assert!(d.fix.contains("node=devstats-app"), "{}", d.fix);
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn unschedulable_names_resources_and_taints() {
    let d = only("unschedulable_resources_taints");
    let Cause::Unschedulable {
        insufficient,
        taints,
        selector_mismatch,
        ..
    } = &d.cause
    else {
        panic!("{d:?}")
    };
    assert_eq!(insufficient, &["memory"]);
    assert_eq!(taints, &["node-role.kubernetes.io/control-plane"]);
    assert!(!selector_mismatch);
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn claim_without_storage_class() {
    // The scheduler's "unbound immediate PersistentVolumeClaims" defers to the claim's diagnosis.
    let d = only("pvc_no_storage_class");
    assert_eq!(
        d.object,
        "PersistentVolumeClaim devstats-example/pgdata-devstats-postgres-0"
    );
    assert!(matches!(
        &d.cause,
        Cause::ClaimPending {
            why: ClaimWhy::NoStorageClass,
            storage_class: None,
            ..
        }
    ));
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn claim_with_a_missing_storage_class() {
    let d = only("pvc_storage_class_not_found");
    assert!(matches!(
        &d.cause,
        Cause::ClaimPending { why: ClaimWhy::StorageClassNotFound(c), .. } if c == "fast-ssd"
    ));
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn claim_whose_provisioning_failed_uses_the_newest_event() {
    // WaitForFirstConsumer, then ExternalProvisioning, then ProvisioningFailed: the newest says why.
    let d = only("pvc_provisioning_failed");
    assert!(matches!(
        &d.cause,
        Cause::ClaimPending { why: ClaimWhy::ProvisioningFailed(m), storage_class: Some(c), .. }
            if m.contains("ResourceExhausted") && c == "gp3"
    ));
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn quota_rejection_on_the_replicaset() {
    let d = only("quota_exceeded");
    assert_eq!(
        d.object,
        "Deployment devstats-example/devstats-grafana-kubernetes"
    );
    let Cause::QuotaExceeded { detail } = &d.cause else {
        panic!("{d:?}")
    };
    assert!(detail.starts_with("exceeded quota: devstats-quota"), "{detail}");
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn quota_without_limits_on_the_statefulset() {
    let d = only("statefulset_quota");
    assert_eq!(d.object, "StatefulSet devstats-example/devstats-postgres");
    let Cause::QuotaExceeded { detail } = &d.cause else {
        panic!("{d:?}")
    };
    assert!(
        detail.starts_with("failed quota: devstats-quota: must specify limits.cpu"),
        "{detail}"
    );
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn limitrange_rejection_on_the_job() {
    let d = only("limitrange_job");
    let Cause::LimitRange { detail } = &d.cause else {
        panic!("{d:?}")
    };
    assert!(
        detail.contains("maximum cpu usage per Container is 1"),
        "{detail}"
    );
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn crash_loop_oom_killed() {
    let d = only("crashloop_oom");
    assert!(matches!(
        &d.cause,
        Cause::CrashLoop { exit_code: Some(137), reason: Some(r), restarts: 5, .. } if r == "OOMKilled"
    ));
    assert!(d.fix.contains("memory limit"), "{}", d.fix);
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn crash_loop_keeps_the_last_log_lines() {
    let d = only("crashloop_error");
    let Cause::CrashLoop {
        exit_code, last_logs, ..
    } = &d.cause
    else {
        panic!("{d:?}")
    };
    assert_eq!(*exit_code, Some(1));
    assert_eq!(last_logs.len(), diagnose::LOG_LINES);
    assert!(last_logs.last().is_some_and(|l| l.contains("connection refused")));
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn readiness_probe_failing() {
    let d = only("probe_readiness");
    let Cause::ProbeFailing { probe, detail, count } = &d.cause else {
        panic!("{d:?}")
    };
    assert_eq!(*probe, Probe::Readiness);
    // The newest message, the counts of both Events.
    assert_eq!(detail, "HTTP probe failed with statuscode: 503");
    assert_eq!(*count, 27);
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn liveness_probe_failing() {
    let d = only("probe_liveness");
    assert!(matches!(
        &d.cause,
        Cause::ProbeFailing {
            probe: Probe::Liveness,
            ..
        }
    ));
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn job_backoff_limit() {
    let d = only("job_backoff_limit");
    assert_eq!(d.object, "Job devstats-example/devstats-kubernetes-29412420");
    let Cause::JobBackoffLimit {
        failed,
        limit,
        last_pod,
        exit_code,
        last_logs,
        ..
    } = &d.cause
    else {
        panic!("{d:?}")
    };
    assert_eq!((*failed, *limit), (3, 2));
    // The newest of the three failed pods.
    assert_eq!(last_pod.as_deref(), Some("devstats-kubernetes-29412420-zt8wm"));
    assert_eq!(*exit_code, Some(2));
    assert!(
        last_logs
            .iter()
            .any(|l| l.contains("password authentication failed"))
    );
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn job_deadline() {
    let d = only("job_deadline");
    assert!(matches!(&d.cause, Cause::JobDeadline { seconds: Some(3600) }));
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn missing_secret_key_is_named() {
    let d = only("config_missing_key");
    assert!(matches!(
        &d.cause,
        Cause::ContainerConfig { missing: Some(MissingRef { kind, name, key: Some(key) }), .. }
            if kind == "Secret" && name == "pg-db" && key == "PG_PASS"
    ));
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn missing_secret_is_named() {
    let d = only("config_missing_secret");
    assert!(matches!(
        &d.cause,
        Cause::ContainerConfig { missing: Some(MissingRef { kind, name, key: None }), .. }
            if kind == "Secret" && name == "pg-db"
    ));
    insta::assert_snapshot!(text(&[d]));
}

#[test]
fn events_of_other_objects_are_ignored() {
    // The image-pull pod's Events moved to another pod (same name, other uid): the status alone
    // still names the cause, without the runtime's detail.
    let f = fixture("image_pull");
    let mut events = list(&f, "events");
    for e in &mut events {
        e["involvedObject"]["uid"] = Value::String("00000000-0000-4000-8000-000000000000".to_owned());
    }
    let ds = diagnose::pod(&PodInput {
        pod: &f["pod"],
        events: &events,
        claims: &[],
        logs: None,
    });
    assert_eq!(ds.len(), 1);
    assert!(matches!(&ds[0].cause, Cause::ImagePull { detail, .. } if detail.is_empty()));
}

#[test]
fn the_json_form_is_tagged_by_cause() {
    let d = only("image_pull");
    let v = serde_json::to_value(&d).expect("serializes");
    assert_eq!(v["cause"], "image_pull");
    assert_eq!(v["image"], "cncf/devstats-grafana:bad-tag");
    assert!(v["fix"].as_str().is_some_and(|f| !f.is_empty()));
    let u = serde_json::to_value(only("unschedulable_node_selector")).expect("serializes");
    assert_eq!(u["cause"], "unschedulable");
    assert_eq!(u["node_selector"]["node"], "devstats-app");
    let c = serde_json::to_value(only("pvc_storage_class_not_found")).expect("serializes");
    assert_eq!(c["why"]["why"], "storage_class_not_found");
    assert_eq!(c["why"]["detail"], "fast-ssd");
    let p = d.problem();
    assert_eq!(p.path, d.object);
    assert!(p.message.starts_with("ImagePullFailed: "));
}

proptest::proptest! {
    /// Whatever the messages say (another release's wording, truncation, non-ASCII), the
    /// diagnosis does not panic and still names the cause the structured fields give.
    #[test]
    fn arbitrary_messages_never_panic(msg in "\\PC{0,80}", sched in "[0-9a-z/(){}:,. '\"-]{0,120}") {
        let mut f = fixture("config_missing_key");
        f["pod"]["status"]["containerStatuses"][0]["state"]["waiting"]["message"] = Value::String(msg.clone());
        let events = list(&f, "events");
        let ds = diagnose::pod(&PodInput { pod: &f["pod"], events: &events, claims: &[], logs: Some(&msg) });
        let config = matches!(ds.first().map(|d| &d.cause), Some(Cause::ContainerConfig { .. }));
        proptest::prop_assert!(config, "{:?}", ds);

        let mut u = fixture("unschedulable_resources_taints");
        let mut events = list(&u, "events");
        events[0]["message"] = Value::String(sched.clone());
        u["pod"]["status"]["conditions"][0]["message"] = Value::String(sched.clone());
        let ds = diagnose::pod(&PodInput { pod: &u["pod"], events: &events, claims: &[], logs: None });
        // "unbound immediate PersistentVolumeClaims" defers to the claim; anything else is unschedulable.
        proptest::prop_assert!(ds.len() <= 1);
        for d in &ds {
            let unschedulable = matches!(d.cause, Cause::Unschedulable { .. });
            proptest::prop_assert!(unschedulable, "{:?}", d);
            proptest::prop_assert!(!d.fix.is_empty());
        }

        let q = fixture("quota_exceeded");
        let mut events = list(&q, "events");
        for e in &mut events {
            e["message"] = Value::String(msg.clone());
        }
        let ds = diagnose::deployment(&q["deployment"], &events);
        proptest::prop_assert_eq!(ds.len(), 1);
    }
}
