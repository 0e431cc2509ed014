//! The operator's reconcile against the in-memory API server: a `DevStats` resource made by
//! `export-resource`'s library code (`DevStats::from_model`) converges to `Ready=True` with the
//! object set `apply` writes; spec changes prune (keeping volumes) and create; hand-deleted objects
//! come back; an invalid spec is `Stalled`/`InvalidSpec` with `spec.` paths and no request; a bad
//! image is `Degraded` with the pull diagnosis; status writes leave `metadata.generation`; the
//! deletion path keeps volumes and the database.

mod apply_support;

use std::collections::BTreeSet;

use apply_support::{apply, block_on, config, desired, model};
use devstats_cli::cluster::EVENT;
use devstats_cli::kinds::{Kind, ObjectKey};
use devstats_cli::progress::Silent;
use devstats_cli::reconcile::{self, DEVSTATS, ReconcileOptions, ReconcileOutcome};
use devstats_cli::retry::RetryPolicy;
use devstats_fake::{FakeCluster, kubelet};
use devstats_model::Model;
use devstats_render::PruneGuard;
use devstats_render::resource::{self, ConditionType, DevStats, DevStatsStatus, ProjectPhase};
use serde_json::{Value, json};

const NS: &str = "devstats-example";
const BAD: &str = "lukaszgryglicki/devstats-grafana:does-not-exist";

fn rkey() -> ObjectKey {
    ObjectKey::new(DEVSTATS, Some(NS), "example")
}

fn opts() -> ReconcileOptions {
    ReconcileOptions {
        apply: config(),
        concurrency: 32,
        retry: RetryPolicy::immediate(6),
        now: Some("2026-12-03T12:00:00Z".to_owned()),
        ..ReconcileOptions::default()
    }
}

/// A cluster with the namespaces the resource and the CNCF ops dashboards live in.
fn cluster() -> FakeCluster {
    let fake = FakeCluster::new().with_field_manager(resource::FIELD_MANAGER);
    for ns in ["monitoring", NS] {
        fake.insert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
    }
    fake
}

/// What `kubectl apply --server-side -f` of `export-resource`'s output does, with the operator's
/// finalizer on it (the operator adds it before its first reconcile).
fn submit(fake: &FakeCluster, m: &Model) -> DevStats {
    let mut r = DevStats::from_model(m, None);
    r.metadata.finalizers = Some(vec![resource::FINALIZER.to_owned()]);
    let body = serde_json::to_value(&r).expect("serializes");
    block_on(fake.apply_as("kubectl", &rkey(), &body, false, false)).expect("stored");
    read(fake)
}

fn read(fake: &FakeCluster) -> DevStats {
    serde_json::from_value(fake.object(&rkey()).expect("resource exists")).expect("a DevStats")
}

fn run(fake: &FakeCluster, r: &DevStats) -> ReconcileOutcome {
    block_on(reconcile::reconcile(fake, &Silent, r, &opts()))
}

fn cond(s: &DevStatsStatus, t: ConditionType) -> (&str, &str) {
    let c = s
        .conditions
        .iter()
        .find(|c| c.type_ == t)
        .unwrap_or_else(|| panic!("no {t:?} condition: {s:#?}"));
    (c.status.as_str(), c.reason.as_str())
}

/// Live objects the apply manages (no Pods, Events or the resource itself).
fn managed(fake: &FakeCluster) -> BTreeSet<ObjectKey> {
    fake.keys()
        .into_iter()
        .filter(|k| k.kind != Kind::POD && k.kind != EVENT && k.kind != DEVSTATS)
        .collect()
}

fn write_status(fake: &FakeCluster, s: &DevStatsStatus) {
    let v = serde_json::to_value(s).expect("status serializes");
    fake.write_status(&rkey(), &v).expect("status written");
}

#[test]
fn example_converges_ready_with_the_objects_apply_writes() {
    let m = model("example.yaml");
    let fake = cluster();
    let r = submit(&fake, &m);
    assert_eq!(r.metadata.generation, Some(1));
    let out = run(&fake, &r);
    let s = &out.status;
    assert_eq!(cond(s, ConditionType::Ready), ("True", "Applied"), "{s:#?}");
    assert_eq!(cond(s, ConditionType::Stalled).0, "False");
    assert_eq!(cond(s, ConditionType::Degraded).0, "False");
    assert_eq!(cond(s, ConditionType::Progressing), ("False", "Converged"));
    assert_eq!(s.observed_generation, Some(1));
    assert!(s.conditions.iter().all(|c| c.observed_generation == Some(1)
        && c.last_transition_time.as_deref() == Some("2026-12-03T12:00:00Z")));
    assert!(s.problems.is_empty(), "{:#?}", s.problems);
    assert_eq!(s.projects.len(), m.projects.len());
    assert!(
        s.projects.iter().all(|p| p.phase != ProjectPhase::Failed),
        "{:#?}",
        s.projects
    );
    assert_eq!(s.projects_ready, Some(format!("{n}/{n}", n = m.projects.len())));
    let set = desired(&m);
    let counts = s.objects.expect("object counts");
    assert_eq!(counts.applied as usize, set.objects.len());
    assert_eq!(counts.pruned, 0);
    assert!(out.requeue_after.is_none());

    // The same object set as `devstats-k8s apply`.
    let cli = cluster();
    let report = apply(&cli, &set, &config()).expect("applies");
    assert!(report.ok(), "{:?}", report.failed);
    assert_eq!(managed(&fake), managed(&cli));

    // Written as devstats-operator, labelled with the owner resource.
    let deploy = managed(&fake)
        .into_iter()
        .find(|k| k.kind == Kind::DEPLOYMENT)
        .expect("a Deployment");
    let live = fake.object(&deploy).expect("live");
    let managers: Vec<&str> = live["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .filter_map(|e| e["manager"].as_str())
        .collect();
    assert_eq!(managers, vec![resource::FIELD_MANAGER]);
    assert_eq!(
        live.pointer("/metadata/labels/devstats.cncf.io~1resource"),
        Some(&json!(format!("{NS}.example")))
    );

    // A second reconcile of the same generation writes nothing and keeps transition times.
    write_status(&fake, &out.status);
    fake.reset_requests();
    let mut opts2 = opts();
    opts2.now = Some("2026-12-03T13:00:00Z".to_owned());
    let again = block_on(reconcile::reconcile(&fake, &Silent, &read(&fake), &opts2));
    assert_eq!(fake.writes(), 0, "{:?}", fake.requests());
    assert_eq!(cond(&again.status, ConditionType::Ready).0, "True");
    assert!(
        again
            .status
            .conditions
            .iter()
            .all(|c| c.last_transition_time.as_deref() == Some("2026-12-03T12:00:00Z"))
    );
}

#[test]
fn removing_a_project_prunes_it_but_keeps_its_volumes_and_adding_it_back_creates_it() {
    let m = model("example.yaml");
    let fake = cluster();
    let out = run(&fake, &submit(&fake, &m));
    assert_eq!(cond(&out.status, ConditionType::Ready).0, "True");
    let gone = "podman";
    let mine: Vec<(ObjectKey, PruneGuard)> = desired(&m)
        .objects
        .iter()
        .filter(|d| d.project.as_deref() == Some(gone))
        .map(|d| (d.key.clone(), d.policy.prune))
        .collect();
    let (guarded, unguarded): (Vec<_>, Vec<_>) = mine.iter().partition(|(_, g)| *g != PruneGuard::None);
    assert!(!unguarded.is_empty() && !guarded.is_empty(), "{mine:?}");
    assert!(
        guarded
            .iter()
            .any(|(k, _)| k.kind == Kind::PERSISTENT_VOLUME_CLAIM)
            || guarded.iter().any(|(k, _)| k.kind == Kind::JOB),
        "{guarded:?}"
    );

    let mut smaller = m.clone();
    smaller.projects.retain(|p| p.name.as_str() != gone);
    let r = submit(&fake, &smaller);
    assert_eq!(
        r.metadata.generation,
        Some(2),
        "a spec change bumps the generation"
    );
    let out = run(&fake, &r);
    assert_eq!(
        cond(&out.status, ConditionType::Ready).0,
        "True",
        "{:#?}",
        out.status
    );
    assert_eq!(out.status.observed_generation, Some(2));
    assert_eq!(out.status.projects.len(), m.projects.len() - 1);
    for (k, _) in &unguarded {
        assert!(fake.object(k).is_none(), "{k} pruned");
    }
    for (k, _) in &guarded {
        assert!(fake.object(k).is_some(), "{k} kept");
    }
    let counts = out.status.objects.expect("counts");
    assert_eq!(counts.pruned as usize, unguarded.len());

    let r = submit(&fake, &m);
    assert_eq!(r.metadata.generation, Some(3));
    let out = run(&fake, &r);
    assert_eq!(
        cond(&out.status, ConditionType::Ready).0,
        "True",
        "{:#?}",
        out.status
    );
    for (k, _) in &mine {
        assert!(fake.object(k).is_some(), "{k} back");
    }
    assert!(out.status.objects.expect("counts").applied as usize >= unguarded.len());
}

#[test]
fn a_deployment_deleted_by_hand_is_recreated() {
    let m = model("example.yaml");
    let fake = cluster();
    let r = submit(&fake, &m);
    run(&fake, &r);
    let deploy = managed(&fake)
        .into_iter()
        .find(|k| k.kind == Kind::DEPLOYMENT)
        .expect("a Deployment");
    fake.remove(&deploy);
    let out = run(&fake, &read(&fake));
    assert!(fake.object(&deploy).is_some(), "{deploy} recreated");
    assert_eq!(cond(&out.status, ConditionType::Ready).0, "True");
    assert_eq!(out.status.objects.expect("counts").applied, 1);
}

#[test]
fn an_invalid_spec_is_stalled_with_field_paths_and_no_request() {
    let mut m = model("example.yaml");
    m.projects[1].name = m.projects[0].name.clone();
    let fake = cluster();
    let r = submit(&fake, &m);
    fake.reset_requests();
    let out = run(&fake, &r);
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
    let s = &out.status;
    assert_eq!(cond(s, ConditionType::Stalled), ("True", "InvalidSpec"), "{s:#?}");
    assert_eq!(cond(s, ConditionType::Ready), ("False", "InvalidSpec"));
    assert_eq!(s.observed_generation, Some(1));
    assert!(!s.problems.is_empty());
    assert!(
        s.problems
            .iter()
            .all(|p| p.path.starts_with("spec.") || p.path == "spec"),
        "{:#?}",
        s.problems
    );
    assert!(
        s.problems
            .iter()
            .any(|p| p.path.starts_with("spec.projects[") && p.message.contains("unique")),
        "{:#?}",
        s.problems
    );
    assert!(out.report.is_none());
    assert!(managed(&fake).iter().all(|k| k.kind == Kind::NAMESPACE));
}

/// The kubelet of a project's Grafana pod whose image does not exist.
fn kubelet_cannot_pull(fake: &FakeCluster, project: &str) -> String {
    kubelet::cannot_pull_image(fake, NS, &format!("devstats-grafana-{project}")).0
}

#[test]
fn a_failing_provisioning_job_is_degraded_and_names_the_job() {
    let m = model("example.yaml");
    let fake = cluster();
    fake.fail_job("devstats-provision-podman");
    let r = submit(&fake, &m);
    let s = run(&fake, &r).status;
    assert_eq!(cond(&s, ConditionType::Ready).0, "False", "{:?}", s.conditions);
    assert_eq!(cond(&s, ConditionType::Degraded).0, "True", "{:?}", s.conditions);
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
fn a_bad_image_is_degraded_with_the_pull_diagnosis() {
    let mut m = model("example.yaml");
    m.instance.images.grafana = BAD.into();
    let project = m
        .projects
        .iter()
        .find(|p| p.status == devstats_model::ProjectStatus::Active)
        .map(|p| p.name.to_string())
        .expect("an active project");
    let fake = cluster();
    let r = submit(&fake, &m);
    run(&fake, &r);
    let pod = kubelet_cannot_pull(&fake, &project);
    let out = run(&fake, &read(&fake));
    let s = &out.status;
    assert_eq!(
        cond(s, ConditionType::Degraded),
        ("True", "ImagePullFailed"),
        "{s:#?}"
    );
    assert_eq!(cond(s, ConditionType::Ready), ("False", "ImagePullFailed"));
    let p = s
        .problems
        .iter()
        .find(|p| p.path == format!("Pod {NS}/{pod}"))
        .unwrap_or_else(|| panic!("{:#?}", s.problems));
    assert!(
        p.message.starts_with("ImagePullFailed: ") && p.message.contains(BAD),
        "{}",
        p.message
    );
    let row = s.projects.iter().find(|r| r.name == project).expect("project");
    assert_eq!(row.phase, ProjectPhase::Failed);
    assert!(out.requeue_after.is_some());
}

#[test]
fn status_writes_leave_the_generation_and_main_writes_ignore_status() {
    let m = model("example.yaml");
    let fake = cluster();
    let r = submit(&fake, &m);
    let out = run(&fake, &r);
    let before = fake.object(&rkey()).expect("live");
    write_status(&fake, &out.status);
    let after = fake.object(&rkey()).expect("live");
    assert_eq!(after["metadata"]["generation"], json!(1));
    assert_ne!(
        after["metadata"]["resourceVersion"],
        before["metadata"]["resourceVersion"]
    );
    assert_eq!(after["spec"], before["spec"]);
    assert_eq!(read(&fake).status.as_ref(), Some(&out.status));

    // A main-resource write carrying a status: the status is ignored, the generation stays.
    let mut body = serde_json::to_value(DevStats::from_model(&m, None)).expect("body");
    body["status"] = json!({"observedGeneration": 99});
    block_on(fake.apply_as("kubectl", &rkey(), &body, false, false)).expect("stored");
    let live = read(&fake);
    assert_eq!(live.metadata.generation, Some(1));
    assert_eq!(live.status.as_ref(), Some(&out.status));

    // A metadata-only change leaves the generation too; a spec change bumps it.
    body["metadata"]["labels"] = json!({"team": "devstats"});
    block_on(fake.apply_as("kubectl", &rkey(), &body, false, false)).expect("stored");
    assert_eq!(read(&fake).metadata.generation, Some(1));
    let mut changed = m.clone();
    changed.instance.images.grafana = BAD.into();
    submit(&fake, &changed);
    assert_eq!(read(&fake).metadata.generation, Some(2));
}

/// The finalizer removal a controller sends (an update of `metadata.finalizers`).
fn drop_finalizer(fake: &FakeCluster, key: &ObjectKey, finalizer: &str) {
    fake.update_with(key, |o| {
        if let Some(fs) = o
            .pointer_mut("/metadata/finalizers")
            .and_then(Value::as_array_mut)
        {
            fs.retain(|f| f.as_str() != Some(finalizer));
        }
    })
    .expect("updated");
}

#[test]
fn finalize_keeps_volumes_and_the_database() {
    let m = model("example.yaml");
    let fake = cluster();
    run(&fake, &submit(&fake, &m));
    let before = managed(&fake);
    let kept_kinds = |k: &ObjectKey| k.kind == Kind::PERSISTENT_VOLUME_CLAIM || k.kind == Kind::STATEFUL_SET;
    assert!(before.iter().any(kept_kinds));

    // `kubectl delete ds example`: the finalizer holds the resource.
    block_on(devstats_cli::cluster::Cluster::delete(&fake, &rkey())).expect("delete accepted");
    let deleting = read(&fake);
    assert!(deleting.metadata.deletion_timestamp.is_some());

    let out = block_on(reconcile::finalize(&fake, &Silent, &deleting, &opts())).expect("finalizes");
    assert!(out.done, "{:?}", out.report.failed);
    assert!(!out.report.deleted.is_empty());
    let after = managed(&fake);
    for k in before.iter().filter(|k| kept_kinds(k)) {
        assert!(after.contains(k), "{k} kept");
    }
    assert!(
        after
            .iter()
            .all(|k| k.kind != Kind::DEPLOYMENT && k.kind != Kind::CRON_JOB),
        "{after:?}"
    );

    // The caller drops the finalizer; the server removes the resource.
    drop_finalizer(&fake, &rkey(), resource::FINALIZER);
    assert!(fake.object(&rkey()).is_none());
}

#[test]
fn a_finalizer_holds_a_deleted_object_until_removed() {
    let fake = cluster();
    let key = ObjectKey::new(Kind::CONFIG_MAP, Some(NS), "held");
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "held", "namespace": NS, "finalizers": ["a/one", "b/two"]}});
    block_on(fake.apply_as("kubectl", &key, &body, false, false)).expect("stored");
    block_on(devstats_cli::cluster::Cluster::delete(&fake, &key)).expect("delete accepted");
    let v: Value = fake.object(&key).expect("still there");
    let stamp = v["metadata"]["deletionTimestamp"].clone();
    assert!(stamp.is_string());
    block_on(devstats_cli::cluster::Cluster::delete(&fake, &key)).expect("again");
    assert_eq!(
        fake.object(&key).expect("still there")["metadata"]["deletionTimestamp"],
        stamp
    );
    drop_finalizer(&fake, &key, "a/one");
    assert!(fake.object(&key).is_some(), "one finalizer left");
    drop_finalizer(&fake, &key, "b/two");
    assert!(fake.object(&key).is_none());
}
