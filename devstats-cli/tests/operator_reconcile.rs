//! The operator's reconcile ([`devstats_cli::operator_reconcile::reconcile`]) against the
//! in-memory API server: convergence to what `apply` produces, resync of hand deletions, project
//! removal keeping the PVC, failures in the status, and invalid specs applying nothing.

mod apply_support;

use std::collections::BTreeMap;

use apply_support::{apply, block_on, config, desired, model};
use devstats_cli::engine::Engine;
use devstats_cli::kinds::{Kind, ObjectKey};
use devstats_cli::operator_reconcile::{Reconciled, reconcile};
use devstats_cli::progress::Silent;
use devstats_cli::retry::RetryPolicy;
use devstats_fake::FakeCluster;
use devstats_model::Model;
use devstats_render::resource::{ConditionType, DevStats, DevStatsStatus, ProjectPhase};
use serde_json::Value;

const NS: &str = "devstats-example";

fn key(kind: Kind, name: &str) -> ObjectKey {
    ObjectKey::new(kind, Some(NS), name)
}

fn cluster() -> FakeCluster {
    let fake = FakeCluster::new();
    fake.insert(
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}),
    );
    fake
}

fn resource(m: &Model, generation: i64) -> Value {
    let mut r = serde_json::to_value(DevStats::from_model(m, None)).expect("serializes");
    r["metadata"]["generation"] = Value::from(generation);
    r
}

fn run(fake: &FakeCluster, res: &Value) -> Reconciled {
    let progress = Silent;
    let eng = Engine::new(fake, 32, RetryPolicy::immediate(6), &progress);
    block_on(reconcile(&eng, res, &config()))
}

fn cond(s: &DevStatsStatus, t: ConditionType) -> &devstats_render::resource::Condition {
    s.conditions.iter().find(|c| c.type_ == t).expect("condition set")
}

/// Every live object but Pods, with its applied hash.
fn state(fake: &FakeCluster) -> BTreeMap<ObjectKey, Option<String>> {
    fake.keys()
        .into_iter()
        .filter(|k| k.kind != Kind::POD)
        .map(|k| {
            let h = fake.object(&k).and_then(|v| {
                v.pointer("/metadata/annotations/devstats.cncf.io~1applied-hash")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            (k, h)
        })
        .collect()
}

#[test]
fn example_converges_to_what_apply_produces_and_is_ready() {
    let m = model("example.yaml");
    let by_operator = cluster();
    let r = run(&by_operator, &resource(&m, 3));
    let report = r.report.expect("applied");
    assert!(report.ok(), "{:?}", report.failed);
    let s = &r.status;
    assert_eq!(s.observed_generation, Some(3));
    assert_eq!(cond(s, ConditionType::Ready).status, "True", "{:?}", s.conditions);
    assert_eq!(cond(s, ConditionType::Ready).reason, "Applied");
    assert_eq!(
        cond(s, ConditionType::Degraded).status,
        "False",
        "{:?}",
        s.problems
    );
    assert_eq!(cond(s, ConditionType::Stalled).status, "False");
    assert!(s.problems.is_empty(), "{:?}", s.problems);
    assert_eq!(s.projects.len(), m.projects.len());
    assert!(
        s.projects
            .iter()
            .all(|p| matches!(p.phase, ProjectPhase::Provisioned | ProjectPhase::Syncing)),
        "{:?}",
        s.projects
    );
    assert!(s.objects.expect("counts").applied > 0);

    let by_cli = cluster();
    let rep = apply(&by_cli, &desired(&m), &config()).expect("applies");
    assert!(rep.ok());
    assert_eq!(state(&by_operator), state(&by_cli));

    // A second reconcile writes nothing.
    by_operator.reset_requests();
    let again = run(&by_operator, &resource(&m, 3));
    assert_eq!(again.status.objects.expect("counts").applied, 0);
    assert_eq!(by_operator.writes(), 0);
}

#[test]
fn a_deployment_deleted_by_hand_is_recreated_on_the_next_reconcile() {
    let m = model("example.yaml");
    let fake = cluster();
    run(&fake, &resource(&m, 1));
    let grafana = key(Kind::DEPLOYMENT, "devstats-grafana-podman");
    assert!(fake.object(&grafana).is_some());
    fake.remove(&grafana);
    let r = run(&fake, &resource(&m, 1));
    assert!(fake.object(&grafana).is_some(), "not recreated");
    assert_eq!(
        cond(&r.status, ConditionType::Ready).status,
        "True",
        "{:?}",
        r.status
    );
}

#[test]
fn removing_a_project_prunes_its_objects_but_keeps_its_pvc() {
    let m = model("example.yaml");
    let fake = cluster();
    run(&fake, &resource(&m, 1));
    let mut m2 = m.clone();
    m2.projects.retain(|p| p.name.as_str() != "podman");
    let r = run(&fake, &resource(&m2, 2));
    let report = r.report.expect("applied");
    assert!(report.ok(), "{:?}", report.failed);
    assert!(!report.pruned.is_empty());
    assert!(
        fake.object(&key(Kind::DEPLOYMENT, "devstats-grafana-podman"))
            .is_none()
    );
    assert!(fake.object(&key(Kind::CRON_JOB, "devstats-podman")).is_none());
    assert!(
        fake.object(&key(Kind::PERSISTENT_VOLUME_CLAIM, "devstats-pvc-podman"))
            .is_some(),
        "the PVC of a removed project is kept"
    );
    assert_eq!(r.status.observed_generation, Some(2));
    assert!(r.status.projects.iter().all(|p| p.name != "podman"));
    assert_eq!(
        r.status.objects.expect("counts").pruned,
        report.pruned.len() as u64
    );
}

#[test]
fn a_failing_provisioning_job_is_degraded_with_the_diagnosis() {
    let m = model("example.yaml");
    let fake = cluster();
    fake.fail_job("devstats-provision-podman");
    let r = run(&fake, &resource(&m, 1));
    let s = &r.status;
    assert_eq!(cond(s, ConditionType::Ready).status, "False");
    assert_eq!(
        cond(s, ConditionType::Degraded).status,
        "True",
        "{:?}",
        s.conditions
    );
    let podman = s.projects.iter().find(|p| p.name == "podman").expect("podman");
    assert_eq!(podman.phase, ProjectPhase::Failed, "{podman:?}");
    assert!(
        s.problems
            .iter()
            .any(|p| p.path.contains("devstats-provision-podman")),
        "{:?}",
        s.problems
    );
}

#[test]
fn an_invalid_spec_is_stalled_with_field_paths_and_applies_nothing() {
    let m = model("example.yaml");
    let fake = cluster();
    let mut res = resource(&m, 4);
    res["spec"]["projects"][0]["name"] = Value::from("Not A Name!");
    res["spec"]["instance"]["namespace"] = Value::from("UPPER_case");
    fake.reset_requests();
    let r = run(&fake, &res);
    assert!(r.report.is_none());
    assert_eq!(fake.writes(), 0);
    assert_eq!(fake.reads(), 0);
    let s = &r.status;
    assert_eq!(s.observed_generation, Some(4));
    let stalled = cond(s, ConditionType::Stalled);
    assert_eq!(
        (stalled.status.as_str(), stalled.reason.as_str()),
        ("True", "InvalidSpec")
    );
    assert_eq!(cond(s, ConditionType::Ready).status, "False");
    let paths: Vec<&str> = s.problems.iter().map(|p| p.path.as_str()).collect();
    assert!(
        paths.iter().any(|p| p.starts_with("spec.projects[0]")),
        "{paths:?}"
    );
    assert!(
        paths.iter().any(|p| p.starts_with("spec.instance.namespace")),
        "{paths:?}"
    );
    for p in &paths {
        assert!(stalled.message.contains(p), "{p} not in {}", stalled.message);
    }
}

fn devstats_key(m: &Model) -> ObjectKey {
    use devstats_render::resource::{GROUP, KIND, PLURAL, VERSION};
    ObjectKey::new(
        Kind::custom(GROUP, VERSION, KIND, PLURAL, true),
        Some(m.instance.namespace.as_str()),
        m.instance.name.as_str(),
    )
}

#[test]
fn the_fake_serves_devstats_like_a_crd_with_the_status_subresource_and_finalizers() {
    use devstats_cli::cluster::Cluster;
    let m = model("example.yaml");
    let fake = cluster();
    fake.insert(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}));
    let ds = devstats_key(&m);
    let mut body = resource(&m, 7);
    body["metadata"]["finalizers"] = serde_json::json!([devstats_render::resource::FINALIZER]);
    body["status"] = serde_json::json!({"observedGeneration": 99});
    let created = block_on(fake.create(&ds, &body)).expect("creates");
    assert_eq!(
        created.pointer("/metadata/generation"),
        Some(&Value::from(1)),
        "set by the server"
    );
    assert!(created.get("status").is_none(), "status of a create is ignored");

    let live = fake.object(&ds).expect("stored");
    let r = run(&fake, &live);
    assert_eq!(r.status.observed_generation, Some(1));
    let st = serde_json::to_value(&r.status).expect("serializes");
    let after = fake.write_status(&ds, &st).expect("status written");
    assert_eq!(
        after.pointer("/metadata/generation"),
        Some(&Value::from(1)),
        "status does not move it"
    );

    // A metadata-only change keeps the generation; a spec change moves it; status is kept.
    let mut labelled = fake.object(&ds).expect("live");
    labelled["metadata"]["labels"] = serde_json::json!({"team": "a"});
    labelled["status"] = serde_json::json!({});
    let v = block_on(fake.apply(&ds, &labelled, true, false)).expect("applies");
    assert_eq!(v.pointer("/metadata/generation"), Some(&Value::from(1)));
    assert_eq!(v.get("status"), Some(&st), "main-resource writes ignore status");
    let mut changed = v.clone();
    changed["spec"]["projects"]
        .as_array_mut()
        .expect("projects")
        .pop();
    let v = block_on(fake.apply(&ds, &changed, true, false)).expect("applies");
    assert_eq!(v.pointer("/metadata/generation"), Some(&Value::from(2)));

    // Delete with the finalizer: kept, marked; cleanup keeps volumes and the database.
    block_on(fake.delete(&ds)).expect("deletes");
    let marked = fake.object(&ds).expect("kept while finalizers remain");
    assert!(marked.pointer("/metadata/deletionTimestamp").is_some());
    let progress = Silent;
    let eng = Engine::new(&fake, 32, RetryPolicy::immediate(6), &progress);
    let report = block_on(devstats_cli::operator_reconcile::cleanup(&eng, NS)).expect("cleans up");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert!(
        fake.object(&key(Kind::DEPLOYMENT, "devstats-grafana-podman"))
            .is_none()
    );
    assert!(
        fake.object(&key(Kind::PERSISTENT_VOLUME_CLAIM, "devstats-pvc-podman"))
            .is_some()
    );
    assert!(
        fake.keys().iter().any(|k| k.kind == Kind::STATEFUL_SET),
        "the Patroni StatefulSet is kept"
    );
    fake.update_with(&ds, |o| o["metadata"]["finalizers"] = serde_json::json!([]))
        .expect("removes the finalizer");
    assert!(fake.object(&ds).is_none(), "deleted once the finalizers are gone");
}
