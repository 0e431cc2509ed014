//! The executor against the in-memory API server: first apply, zero-write re-apply, waits,
//! deferral, prune, day-2 flows, retries, conflicts, interrupted applies, and request counts.

mod apply_support;

use std::collections::BTreeMap;

use apply_support::{apply, config, desired, model, no_wait};
use devstats_cli::apply::ApplyError;
use devstats_cli::cluster::ApiError;
use devstats_cli::kinds::{Kind, ObjectKey};
use devstats_cli::plan::inventory;
use devstats_fake::{FakeCluster, Verb};
use devstats_model::{Model, ProjectStatus};
use serde_json::Value;

const NS: &str = "devstats-example";

fn key(kind: Kind, name: &str) -> ObjectKey {
    ObjectKey::new(kind, Some(NS), name)
}

fn inventory_of(fake: &FakeCluster, ns: &str) -> Vec<String> {
    let parent = fake.object(&inventory::parent_key(ns)).expect("inventory exists");
    let mut lines: Vec<String> = inventory::parse(&parent)
        .expect("parses")
        .iter()
        .map(|(k, g)| inventory::line(k, *g))
        .collect();
    lines.sort();
    lines
}

/// Every live object we manage, by key, with its applied hash.
fn state(fake: &FakeCluster) -> BTreeMap<ObjectKey, Option<String>> {
    fake.keys()
        .into_iter()
        .filter(|k| k.kind != Kind::POD)
        .map(|k| {
            let h = fake
                .object(&k)
                .and_then(|v| {
                    v.pointer("/metadata/annotations/devstats.cncf.io~1applied-hash")
                        .cloned()
                })
                .and_then(|v| v.as_str().map(str::to_owned));
            (k, h)
        })
        .collect()
}

/// An empty cluster with the `monitoring` namespace, where kube-prometheus-stack runs (the CNCF
/// model puts its ops dashboards there).
fn cluster_with_monitoring() -> FakeCluster {
    let fake = FakeCluster::new();
    fake.insert(
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}),
    );
    fake
}

fn fresh(m: &Model) -> FakeCluster {
    let fake = cluster_with_monitoring();
    let set = desired(m);
    let report = apply(&fake, &set, &config()).expect("applies");
    assert!(report.ok(), "{:?}", report.failed);
    fake
}

#[test]
fn first_apply_then_unchanged_reapply_is_zero_writes() {
    let m = model("example.yaml");
    let set = desired(&m);
    let fake = cluster_with_monitoring();
    let first = apply(&fake, &set, &config()).expect("applies");
    assert!(first.ok(), "{:?}", first.failed);
    assert!(first.deferred.is_empty(), "{:?}", first.deferred);
    // Every object, plus the inventory once.
    assert_eq!(first.requests.writes, set.objects.len() + 1);
    assert_eq!(inventory_of(&fake, NS).len(), set.objects.len());
    for d in &set.objects {
        assert!(fake.object(&d.key).is_some(), "{} missing", d.key);
    }
    fake.reset_requests();
    let again = apply(&fake, &set, &config()).expect("applies");
    assert_eq!(
        again.requests.writes,
        0,
        "{:?}",
        fake.requests()
            .iter()
            .filter(|r| r.is_write())
            .collect::<Vec<_>>()
    );
    assert_eq!(fake.writes(), 0);
    assert!(again.summary().starts_with("no changes"), "{}", again.summary());
    // One GET of the inventory and one LIST per kind; no per-object reads.
    assert!(
        again.requests.reads <= Kind::ALL.len() + 1,
        "{} reads",
        again.requests.reads
    );
}

#[test]
fn cncf_request_counts() {
    let m = model("cncf.yaml");
    let t = std::time::Instant::now();
    let rendered = apply_support::render(&m);
    let render_ms = t.elapsed().as_millis();
    let t = std::time::Instant::now();
    let set =
        devstats_cli::plan::DesiredSet::new(&rendered, m.instance.namespace.as_str(), true).expect("desired");
    eprintln!(
        "cncf: render {render_ms} ms, desired set (hashes, graph) {} ms",
        t.elapsed().as_millis()
    );
    let fake = cluster_with_monitoring();
    let mut cfg = no_wait();
    cfg.plan.max_parallel = 1000;
    // Fresh cluster, no waits: the database and everything that does not need it.
    let first = apply(&fake, &set, &cfg).expect("applies");
    assert!(first.ok(), "{:?}", first.failed);
    let second = apply(&fake, &set, &cfg).expect("applies");
    assert!(second.ok(), "{:?}", second.failed);
    let third = apply(&fake, &set, &cfg).expect("applies");
    let fourth = apply(&fake, &set, &cfg).expect("applies");
    assert!(
        fourth.deferred.is_empty(),
        "{:?}",
        &fourth.deferred[..fourth.deferred.len().min(3)]
    );
    let unchanged = apply(&fake, &set, &cfg).expect("applies");
    eprintln!(
        "cncf: {} objects; no-wait applies: {:?} writes; unchanged re-apply: {} writes, {} reads, {} ms",
        set.objects.len(),
        [
            first.requests.writes,
            second.requests.writes,
            third.requests.writes,
            fourth.requests.writes
        ],
        unchanged.requests.writes,
        unchanged.requests.reads,
        unchanged.elapsed_ms
    );
    assert_eq!(unchanged.requests.writes, 0);
    // One LIST per rendered (kind, namespace) and the instance's Pods and Jobs, one GET of the
    // inventory and one of each namespace the render uses but does not create.
    let pairs: std::collections::BTreeSet<(Kind, Option<String>)> = set
        .objects
        .iter()
        .map(|d| (d.key.kind, d.key.namespace.clone()))
        .collect();
    let listed = pairs.iter().filter(|(k, _)| k.namespaced).count() + 2;
    assert!(
        unchanged.requests.reads <= listed + 1 + 1,
        "{} reads, {listed} lists",
        unchanged.requests.reads
    );
    // A waiting apply on a fresh cluster does it all in one go.
    let fake = cluster_with_monitoring();
    let mut cfg = config();
    cfg.plan.max_parallel = 1000;
    let all = apply(&fake, &set, &cfg).expect("applies");
    assert!(
        all.ok() && all.deferred.is_empty(),
        "{:?} {:?}",
        all.failed,
        all.deferred.first()
    );
    assert_eq!(all.requests.writes, set.objects.len() + 1);
    eprintln!(
        "cncf: waiting first apply: {} writes, {} reads",
        all.requests.writes, all.requests.reads
    );
}

#[test]
fn no_wait_first_apply_defers_and_a_later_apply_converges() {
    let m = model("example.yaml");
    let set = desired(&m);
    let fake = cluster_with_monitoring();
    let first = apply(&fake, &set, &no_wait()).expect("applies");
    assert!(first.ok());
    assert!(
        fake.object(&key(Kind::STATEFUL_SET, "devstats-postgres"))
            .is_some()
    );
    assert!(
        fake.object(&key(Kind::JOB, "devstats-provision-bootstrap"))
            .is_none()
    );
    assert!(fake.object(&key(Kind::CRON_JOB, "devstats-kubernetes")).is_none());
    assert!(
        first
            .deferred
            .iter()
            .any(|(k, _)| k.ends_with("devstats-provision-kubernetes"))
    );
    // The database is ready now (simulated controllers): the next apply runs the bootstrap…
    let second = apply(&fake, &set, &no_wait()).expect("applies");
    assert!(
        fake.object(&key(Kind::JOB, "devstats-provision-bootstrap"))
            .is_some()
    );
    assert!(!second.deferred.is_empty());
    // …then the provisioning (at most --max-parallel at a time), then the project workloads.
    let mut rounds = 0;
    loop {
        let r = apply(&fake, &set, &no_wait()).expect("applies");
        rounds += 1;
        if r.deferred.is_empty() {
            break;
        }
        assert!(rounds < 5, "does not converge: {:?}", r.deferred);
    }
    let last = apply(&fake, &set, &no_wait()).expect("applies");
    assert_eq!(last.requests.writes, 0);
}

#[test]
fn provisioning_respects_max_parallel_without_waits() {
    let m = model("cncf.yaml");
    let set = desired(&m);
    let fake = cluster_with_monitoring();
    let mut cfg = no_wait();
    cfg.plan.max_parallel = 3;
    fake.set_controllers(true);
    apply(&fake, &set, &cfg).expect("applies"); // database
    apply(&fake, &set, &cfg).expect("applies"); // bootstrap
    fake.set_controllers(false); // provisioning Jobs keep running
    let r = apply(&fake, &set, &cfg).expect("applies");
    let jobs = fake
        .keys()
        .into_iter()
        .filter(|k| k.kind == Kind::JOB && k.name != "devstats-provision-bootstrap")
        .count();
    assert_eq!(jobs, 3);
    assert!(r.deferred.iter().any(|(_, why)| why.contains("--max-parallel")));
    // Running ones still hold their slots.
    apply(&fake, &set, &cfg).expect("applies");
    assert_eq!(fake.keys().into_iter().filter(|k| k.kind == Kind::JOB).count(), 4);
}

#[test]
fn waits_report_failure_reasons_and_block_dependents() {
    let m = model("example.yaml");
    let set = desired(&m);
    let fake = cluster_with_monitoring();
    fake.fail_job("devstats-provision-podman");
    let r = apply(&fake, &set, &config()).expect("applies");
    assert!(!r.ok());
    let (_, why) = r
        .failed
        .iter()
        .find(|(k, _)| k.ends_with("devstats-provision-podman"))
        .expect("failed");
    assert!(why.contains("BackoffLimitExceeded"), "{why}");
    assert!(
        r.failed
            .iter()
            .any(|(k, why)| k.ends_with("/devstats-podman") && why.contains("devstats-provision-podman"))
    );
    assert!(fake.object(&key(Kind::CRON_JOB, "devstats-podman")).is_none());
    assert!(fake.object(&key(Kind::CRON_JOB, "devstats-kubernetes")).is_some());
    // The next apply does not re-run it: it reports it as a finding and defers the project.
    let again = apply(&fake, &set, &config()).expect("applies");
    assert!(
        again
            .findings
            .iter()
            .any(|(k, _)| k.ends_with("devstats-provision-podman"))
    );
    assert!(
        again
            .deferred
            .iter()
            .any(|(k, _)| k.ends_with("/devstats-podman"))
    );
    assert_eq!(
        fake.requests()
            .iter()
            .filter(|r| r.verb == Verb::Create && r.target.ends_with("devstats-provision-podman"))
            .count(),
        1
    );
}

#[test]
fn wait_timeout_is_reported() {
    let m = model("example.yaml");
    let set = desired(&m);
    let fake = cluster_with_monitoring();
    fake.set_controllers(false);
    let r = apply(&fake, &set, &config()).expect("applies");
    let (_, why) = r
        .failed
        .iter()
        .find(|(k, _)| k.contains("StatefulSet"))
        .expect("sts failed");
    assert!(why.contains("timed out") && why.contains("generation"), "{why}");
    assert!(
        fake.object(&key(Kind::JOB, "devstats-provision-bootstrap"))
            .is_none()
    );
}

#[test]
fn transient_errors_are_retried() {
    let m = model("example.yaml");
    let set = desired(&m);
    let fake = cluster_with_monitoring();
    fake.fail_next(Verb::List, ApiError::from_response(429, b"", Some(0)), 2);
    fake.fail_next(Verb::Apply, ApiError::from_response(503, b"", None), 3);
    fake.fail_next(Verb::Create, ApiError::transport("timed out"), 1);
    fake.fail_next(
        Verb::Get,
        ApiError::from_response(
            500,
            br#"{"reason":"InternalError","message":"etcdserver: request timed out"}"#,
            None,
        ),
        1,
    );
    let r = apply(&fake, &set, &config()).expect("applies");
    assert!(r.ok(), "{:?}", r.failed);
    assert_eq!(r.requests.retries, 7);
}

#[test]
fn field_manager_conflicts_name_the_manager_and_need_force() {
    let m = model("example.yaml");
    let fake = fresh(&m);
    let g = key(Kind::DEPLOYMENT, "devstats-grafana-kubernetes");
    // `kubectl scale` to 3: an Update by another manager with a different value.
    fake.edit(&g, |v| v["spec"]["replicas"] = 3.into());
    fake.set_foreign_owner(&g, ".spec.replicas", "kubectl-edit");
    let mut m2 = m.clone();
    m2.instance.images.grafana = devstats_model::ImageRef::from("x/grafana:2");
    let set2 = desired(&m2);
    let r = apply(&fake, &set2, &config()).expect("applies");
    let (_, why) = r
        .failed
        .iter()
        .find(|(k, _)| k.ends_with("devstats-grafana-kubernetes"))
        .expect("conflict");
    assert!(
        why.contains(".spec.replicas owned by \"kubectl-edit\"") && why.contains("--force-conflicts"),
        "{why}"
    );
    // Failed applies do not prune.
    assert!(r.pruned.is_empty());
    let mut forced = config();
    forced.force_conflicts = true;
    let r = apply(&fake, &set2, &forced).expect("applies");
    assert!(r.ok(), "{:?}", r.failed);
}

#[test]
fn immutable_statefulset_change_is_refused_without_writes() {
    let m = model("example.yaml");
    let fake = fresh(&m);
    fake.reset_requests();
    let mut m2 = m.clone();
    m2.instance.storage.postgres_size = devstats_model::Quantity("500Gi".to_owned());
    match apply(&fake, &desired(&m2), &config()) {
        Err(ApplyError::Refused(r)) => assert!(r[0].contains("volumeClaimTemplates"), "{r:?}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(fake.writes(), 0);
}

#[test]
fn interrupted_apply_converges_when_run_again() {
    let m = model("example.yaml");
    let set = desired(&m);
    let reference = fresh(&m);
    let expected = state(&reference);
    for cut in [0, 1, 2, 5, 13, 29, 40] {
        let fake = cluster_with_monitoring();
        fake.interrupt_after_writes(Some(cut));
        let r = apply(&fake, &set, &config());
        if let Ok(r) = &r {
            assert!(!r.ok() || cut >= set.objects.len(), "cut {cut}: no failure");
        }
        fake.interrupt_after_writes(None);
        let again = apply(&fake, &set, &config()).expect("applies");
        assert!(again.ok(), "cut {cut}: {:?}", again.failed);
        assert_eq!(state(&fake), expected, "cut {cut}");
        let last = apply(&fake, &set, &config()).expect("applies");
        assert_eq!(last.requests.writes, 0, "cut {cut}");
        // Run-once Jobs were created exactly once.
        let creates = fake
            .requests()
            .iter()
            .filter(|r| r.verb == Verb::Create && r.ok && r.target.contains("Job "))
            .count();
        assert_eq!(creates, 5, "cut {cut}");
    }
}

#[test]
fn day2_add_a_project() {
    let m = model("example.yaml");
    let fake = fresh(&m);
    fake.reset_requests();
    let mut m2 = m.clone();
    let mut p = devstats_model::testing::project(
        "falco",
        Some(9),
        4,
        vec![devstats_model::Name::from("example")],
        false,
    );
    p.main_repo = Some(devstats_model::RepoName::from("falcosecurity/falco"));
    m2.projects.push(p);
    let r = apply(&fake, &desired(&m2), &config()).expect("applies");
    assert!(r.ok(), "{:?}", r.failed);
    for k in [
        key(Kind::PERSISTENT_VOLUME_CLAIM, "devstats-pvc-falco"),
        key(Kind::JOB, "devstats-provision-falco"),
        key(Kind::CRON_JOB, "devstats-falco"),
        key(Kind::CRON_JOB, "devstats-affiliations-falco"),
        key(Kind::DEPLOYMENT, "devstats-grafana-falco"),
        key(Kind::SERVICE, "devstats-service-falco"),
    ] {
        assert!(fake.object(&k).is_some(), "{k} missing");
    }
    let hosts: Vec<String> = fake
        .keys()
        .into_iter()
        .filter(|k| k.kind == Kind::INGRESS)
        .filter_map(|k| fake.object(&k))
        .flat_map(|i| {
            i.pointer("/spec/rules")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
        })
        .filter_map(|r| r.get("host").and_then(Value::as_str).map(str::to_owned))
        .collect();
    assert!(hosts.iter().any(|h| h.starts_with("falco.")), "{hosts:?}");
    assert!(r.pruned.is_empty());
    eprintln!("add a project: {}", r.summary());
}

#[test]
fn day2_archive_a_project() {
    let m = model("example.yaml");
    let fake = fresh(&m);
    let mut m2 = m.clone();
    m2.projects
        .iter_mut()
        .find(|p| p.name.as_str() == "podman")
        .expect("podman")
        .status = ProjectStatus::Archived;
    let gone: Vec<ObjectKey> = desired(&m)
        .keys()
        .difference(&desired(&m2).keys())
        .cloned()
        .collect();
    let r = apply(&fake, &desired(&m2), &config()).expect("applies");
    assert!(r.ok(), "{:?}", r.failed);
    // Everything of the project but its data: CronJobs, Grafana (and what comes with it), Service.
    for k in [
        key(Kind::CRON_JOB, "devstats-podman"),
        key(Kind::CRON_JOB, "devstats-affiliations-podman"),
        key(Kind::DEPLOYMENT, "devstats-grafana-podman"),
        key(Kind::SERVICE, "devstats-service-podman"),
    ] {
        assert!(gone.contains(&k), "{k} is still rendered");
        assert!(fake.object(&k).is_none(), "{k} still there");
    }
    assert_eq!(r.pruned.len(), gone.len() - 1, "{:?}", r.pruned);
    assert!(gone.iter().all(|k| k.name.contains("podman")), "{gone:?}");
    assert!(
        fake.object(&key(Kind::PERSISTENT_VOLUME_CLAIM, "devstats-pvc-podman"))
            .is_some()
    );
    assert!(
        fake.object(&key(Kind::JOB, "devstats-provision-podman"))
            .is_some()
    );
    assert!(
        fake.object(&key(Kind::STATEFUL_SET, "devstats-postgres"))
            .is_some()
    );
    let again = apply(&fake, &desired(&m2), &config()).expect("applies");
    assert_eq!(again.requests.writes, 0);
    // Re-activating it does not re-provision: its provisioning Job is still recorded.
    fake.reset_requests();
    let back = apply(&fake, &desired(&m), &config()).expect("applies");
    assert!(back.ok());
    assert!(
        !fake
            .requests()
            .iter()
            .any(|r| r.is_write() && r.target.contains("Job devstats-example/devstats-provision"))
    );
}

#[test]
fn day2_rename_a_host_touches_only_the_ingress() {
    let m = model("example.yaml");
    let fake = fresh(&m);
    fake.reset_requests();
    let mut m2 = m.clone();
    m2.projects
        .iter_mut()
        .find(|p| p.name.as_str() == "prometheus")
        .expect("p")
        .url = Some(devstats_model::Name::from("prom"));
    let r = apply(&fake, &desired(&m2), &config()).expect("applies");
    assert!(r.ok(), "{:?}", r.failed);
    let writes: Vec<String> = fake
        .requests()
        .iter()
        .filter(|q| q.is_write())
        .map(|q| q.target.clone())
        .collect();
    assert!(!writes.is_empty());
    assert!(
        writes
            .iter()
            .all(|t| t.starts_with("Ingress ") || t.starts_with("Deployment ")),
        "{writes:?}"
    );
    eprintln!("rename a host: {} ({:?})", r.summary(), r.counts);
}

#[test]
fn day2_move_a_project_between_foundations() {
    let m = model("cncf.yaml");
    let fake = cluster_with_monitoring();
    let mut cfg = config();
    cfg.plan.max_parallel = 1000;
    let set = desired(&m);
    assert!(apply(&fake, &set, &cfg).expect("applies").ok());
    fake.reset_requests();
    // Move a CNCF project to another served foundation.
    let served: Vec<String> = m.instance.foundations.iter().map(|f| f.to_string()).collect();
    let mut m2 = m.clone();
    let p = m2
        .projects
        .iter_mut()
        .find(|p| {
            p.foundations.len() == 1
                && p.foundations[0].as_str() == "cncf"
                && p.status == ProjectStatus::Active
        })
        .expect("a cncf project");
    let name = p.name.to_string();
    let target = served
        .iter()
        .find(|f| f.as_str() != "cncf")
        .expect("another foundation")
        .clone();
    p.foundations = vec![devstats_model::Name::from(target.as_str())];
    let r = apply(&fake, &desired(&m2), &cfg).expect("applies");
    assert!(r.ok(), "{:?}", r.failed);
    // Its data and provisioning record stay; nothing is re-provisioned.
    assert!(
        !fake
            .requests()
            .iter()
            .any(|q| q.is_write() && q.target.starts_with("Job "))
    );
    assert!(
        fake.object(&ObjectKey::new(
            Kind::PERSISTENT_VOLUME_CLAIM,
            Some(m.instance.namespace.as_str()),
            &format!("devstats-pvc-{name}")
        ))
        .is_some()
    );
    eprintln!("move {name} cncf → {target}: {} ({:?})", r.summary(), r.counts);
}

#[test]
fn helper_pods_are_replaced_when_changed_and_left_alone_otherwise() {
    let mut m = model("example.yaml");
    m.instance.components.reports = true;
    m.instance.components.tests = true;
    let set = desired(&m);
    assert!(set.objects.iter().any(|d| d.key.kind == Kind::POD));
    let fake = fresh(&m);
    fake.reset_requests();
    let again = apply(&fake, &set, &config()).expect("applies");
    assert_eq!(again.requests.writes, 0);
    let mut m2 = m.clone();
    m2.instance.images.reports = devstats_model::ImageRef::from("x/reports:2");
    let r = apply(&fake, &desired(&m2), &config()).expect("applies");
    assert!(r.ok(), "{:?}", r.failed);
    assert_eq!(r.counts.get("recreate"), Some(&1), "{:?}", r.counts);
    let verbs: Vec<Verb> = fake
        .requests()
        .iter()
        .filter(|q| q.is_write())
        .map(|q| q.verb)
        .collect();
    assert_eq!(verbs, [Verb::Delete, Verb::Apply]);
}

/// With a 10 ms round trip per request (a nearby API server), what a sequential client would
/// spend in round trips alone versus what apply takes: kubectl's server-side apply needs at least
/// one round trip per object (1,515 × 10 ms ≈ 15 s) plus discovery.
#[test]
fn cncf_timing_with_network_latency() {
    let m = model("cncf.yaml");
    let set = desired(&m);
    let fake = cluster_with_monitoring();
    fake.set_latency(std::time::Duration::from_millis(10));
    let mut cfg = no_wait();
    cfg.plan.max_parallel = 1000;
    let t = std::time::Instant::now();
    let first = apply(&fake, &set, &cfg).expect("applies");
    let first_ms = t.elapsed().as_millis();
    assert!(first.ok());
    // Make everything exist (database ready → bootstrap → provisioning → workloads).
    for _ in 0..3 {
        apply(&fake, &set, &cfg).expect("applies");
    }
    let t = std::time::Instant::now();
    let unchanged = apply(&fake, &set, &cfg).expect("applies");
    let unchanged_ms = t.elapsed().as_millis();
    assert_eq!(unchanged.requests.writes, 0);
    eprintln!(
        "cncf with 10 ms latency: first apply --no-wait {first_ms} ms ({} writes); unchanged re-apply {unchanged_ms} ms ({} reads, 0 writes); sequential round trips alone: {} ms",
        first.requests.writes,
        unchanged.requests.reads,
        set.objects.len() * 10
    );
    assert!(
        first_ms < 15_000 / 5,
        "first apply {first_ms} ms is not 5× faster than one round trip per object"
    );
}

/// The CNCF model puts its ops dashboards into kube-prometheus-stack's `monitoring` namespace,
/// which the render does not create: on a cluster without it the apply is refused before the
/// first write, naming the namespace and the objects (not a 404 per dashboard halfway through).
#[test]
fn a_namespace_the_render_does_not_create_must_exist() {
    let m = model("cncf.yaml");
    let fake = FakeCluster::new();
    match apply(&fake, &desired(&m), &config()) {
        Err(ApplyError::Refused(r)) => {
            assert!(
                r.iter().any(|r| r.contains("namespace monitoring does not exist")
                    && r.contains("ConfigMap monitoring/devstats-prod-dashboard")),
                "{r:?}"
            );
        }
        other => panic!("expected a refusal, got {:?}", other.map(|r| r.failed)),
    }
    assert_eq!(fake.writes(), 0);
}
