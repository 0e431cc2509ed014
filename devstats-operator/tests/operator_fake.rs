//! The controller's logic against the in-memory API server (no HTTP, no watches): the step on
//! one resource (finalizer, status through the status subresource, events, requeue, deletion,
//! backoff of failures), the Lease election, the metrics and the probe endpoints.
//!
//! What the fake does as a real kube-apiserver does, for what is used here: a `Lease` is an
//! ordinary namespaced object; an apply whose object carries `metadata.resourceVersion` is
//! refused with 409 Conflict when the live object is at another version; a POST of an
//! existing object is 409 AlreadyExists; `metadata.finalizers` is a set owned per field
//! manager; deleting an object with finalizers only sets `deletionTimestamp`, and the object
//! goes when the last finalizer is removed; the status subresource changes only `status`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use devstats_cli::apply::ApplyConfig;
use devstats_cli::cluster::{ApiError, Cluster};
use devstats_cli::kinds::{Kind, ObjectKey};
use devstats_cli::reconcile::{DEVSTATS, ReconcileOptions};
use devstats_cli::retry::RetryPolicy;
use devstats_fake::{FakeCluster, Verb};
use devstats_model::Model;
use devstats_operator::backoff::Backoff;
use devstats_operator::election::{Attempt, Elector, LEASE, LeaseConfig};
use devstats_operator::metrics::Metrics;
use devstats_operator::serve::{Endpoints, Health, respond};
use devstats_operator::step::{Events, Note, Operator, Settings, Severity, StepError};
use devstats_render::resource::{self, ConditionType, DevStats, DevStatsStatus};
use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::controller::Action;
use serde_json::{Value, json};

const NS: &str = "devstats-example";
const RESYNC: Duration = Duration::from_secs(600);

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn model() -> Model {
    let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/example.yaml"));
    devstats_model::load(path).expect("fixture loads")
}

/// The events the step published.
#[derive(Debug, Default)]
struct Recorded(Mutex<Vec<Note>>);

impl Recorded {
    fn take(&self) -> Vec<Note> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Events for Recorded {
    async fn publish(&self, regarding: &ObjectReference, note: Note) {
        assert_eq!(regarding.kind.as_deref(), Some(resource::KIND));
        assert_eq!(regarding.namespace.as_deref(), Some(NS));
        self.0.lock().unwrap_or_else(PoisonError::into_inner).push(note);
    }
}

fn operator() -> Operator<FakeCluster, Recorded> {
    let fake = FakeCluster::new().with_field_manager(resource::FIELD_MANAGER);
    for ns in ["monitoring", NS] {
        fake.insert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
    }
    Operator {
        cluster: fake,
        events: Recorded::default(),
        metrics: Arc::new(Metrics::default()),
        backoff: Backoff::default(),
        settings: Settings {
            reconcile: ReconcileOptions {
                apply: ApplyConfig {
                    timeout: Duration::from_millis(300),
                    provision_timeout: Duration::from_millis(300),
                    poll_initial: Duration::from_millis(1),
                    poll_max: Duration::from_millis(5),
                    ..ApplyConfig::default()
                },
                concurrency: 32,
                retry: RetryPolicy::immediate(3),
                now: Some("2026-12-03T12:00:00Z".to_owned()),
                ..ReconcileOptions::default()
            },
            resync: RESYNC,
        },
        in_flight: Default::default(),
    }
}

fn rkey() -> ObjectKey {
    ObjectKey::new(DEVSTATS, Some(NS), "example")
}

/// `kubectl apply --server-side` of `export-resource`'s output (no finalizer: the operator adds it).
fn submit(op: &Operator<FakeCluster, Recorded>, body: &Value) -> Value {
    block_on(op.cluster.apply_as("kubectl", &rkey(), body, false, false)).expect("stored");
    live(op)
}

fn resource_body(m: &Model) -> Value {
    serde_json::to_value(DevStats::from_model(m, None)).expect("serializes")
}

fn live(op: &Operator<FakeCluster, Recorded>) -> Value {
    op.cluster.object(&rkey()).expect("the resource exists")
}

fn status(v: &Value) -> DevStatsStatus {
    serde_json::from_value(v["status"].clone()).expect("a status")
}

fn cond(s: &DevStatsStatus, t: ConditionType) -> (String, String) {
    let c = s.conditions.iter().find(|c| c.type_ == t).expect("condition");
    (c.status.clone(), c.reason.clone())
}

fn requests(fake: &FakeCluster, verb: Verb) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.verb == verb && r.target.starts_with("DevStats"))
        .count()
}

fn unavailable() -> ApiError {
    ApiError::from_response(
        503,
        br#"{"kind":"Status","reason":"ServiceUnavailable","message":"etcd is unavailable","code":503}"#,
        None,
    )
}

#[test]
fn a_step_adds_the_finalizer_writes_the_status_through_the_subresource_and_requeues_at_resync() {
    let op = operator();
    let obj = submit(&op, &resource_body(&model()));
    assert!(obj["metadata"].get("finalizers").is_none());

    let action = block_on(op.reconcile_object(&obj)).expect("reconciled");
    assert_eq!(
        action,
        Action::requeue(RESYNC),
        "Ready: the next reconcile is the resync"
    );

    let after = live(&op);
    assert_eq!(after["metadata"]["finalizers"], json!([resource::FINALIZER]));
    // Our element of the set, owned by our field manager; kubectl's fields untouched.
    let entries = after["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields");
    let ours = entries
        .iter()
        .find(|e| e["manager"] == resource::FIELD_MANAGER)
        .expect("an entry of devstats-operator");
    assert!(
        ours.pointer("/fieldsV1/f:metadata/f:finalizers").is_some(),
        "{ours:#}"
    );
    assert!(entries.iter().any(|e| e["manager"] == "kubectl"));
    // The status came through the status subresource; the spec generation did not move.
    assert_eq!(requests(&op.cluster, Verb::Status), 1);
    assert_eq!(after["metadata"]["generation"], json!(1));
    let s = status(&after);
    assert_eq!(
        cond(&s, ConditionType::Ready),
        ("True".to_owned(), "Applied".to_owned())
    );
    assert_eq!(s.observed_generation, Some(1));
    let notes = op.events.take();
    assert_eq!(notes.len(), 1, "{notes:#?}");
    assert_eq!(
        (notes[0].severity, notes[0].reason.as_str()),
        (Severity::Normal, "Ready")
    );

    // Nothing changed: the next step applies nothing; its status differs only in the write
    // counts of the last reconcile (`objects.applied` 0), written once; the one after writes
    // nothing at all (so the status write, itself a watch event, does not loop), and neither
    // tells anything.
    op.cluster.reset_requests();
    let action = block_on(op.reconcile_object(&after)).expect("reconciled");
    assert_eq!(action, Action::requeue(RESYNC));
    let writes: Vec<String> = op
        .cluster
        .requests()
        .into_iter()
        .filter(|r| r.is_write())
        .map(|r| format!("{:?} {}", r.verb, r.target))
        .collect();
    assert_eq!(writes, [format!("Status DevStats {NS}/example")]);
    assert_eq!(status(&live(&op)).objects.map(|o| o.applied), Some(0));
    op.cluster.reset_requests();
    block_on(op.reconcile_object(&live(&op))).expect("reconciled");
    assert_eq!(op.cluster.writes(), 0, "{:?}", op.cluster.requests());
    assert!(op.events.take().is_empty());

    // Drift: a Deployment deleted by hand comes back at the next (resync) step.
    let deploy = op
        .cluster
        .keys()
        .into_iter()
        .find(|k| k.kind == Kind::DEPLOYMENT)
        .expect("a Deployment");
    op.cluster.remove(&deploy);
    block_on(op.reconcile_object(&live(&op))).expect("reconciled");
    assert!(op.cluster.object(&deploy).is_some(), "{deploy} recreated");

    let text = op.metrics.render();
    let projects = model().projects.len();
    assert!(
        text.contains(&format!(
            "devstats_operator_projects{{namespace=\"{NS}\",name=\"example\",phase=\"provisioned\"}} {projects}"
        )),
        "{text}"
    );
    assert!(
        text.contains("devstats_operator_reconcile_duration_seconds_count 4"),
        "{text}"
    );
    assert!(
        text.contains("devstats_operator_reconcile_errors_total 0"),
        "{text}"
    );
    assert!(
        !text.contains("devstats_operator_objects_applied_total 0\n"),
        "{text}"
    );
}

#[test]
fn a_deletion_that_cannot_finish_keeps_the_finalizer_and_is_an_error() {
    let op = operator();
    let obj = submit(&op, &resource_body(&model()));
    block_on(op.reconcile_object(&obj)).expect("reconciled");
    let claims: Vec<ObjectKey> = op
        .cluster
        .keys()
        .into_iter()
        .filter(|k| k.kind == Kind::PERSISTENT_VOLUME_CLAIM)
        .collect();
    assert!(!claims.is_empty());
    op.events.take();

    // kubectl delete: the finalizer holds the resource, marked for deletion.
    block_on(op.cluster.delete(&rkey())).expect("deleted");
    let marked = live(&op);
    assert!(marked["metadata"].get("deletionTimestamp").is_some());

    // A deletion that cannot finish keeps the finalizer and is an error.
    op.cluster.fail_next(Verb::Delete, unavailable(), 1000);
    let e = block_on(op.reconcile_object(&marked)).expect_err("deletions fail");
    assert!(matches!(e, StepError::Unfinished { .. }), "{e}");
    assert!(live(&op)["metadata"]["finalizers"] == json!([resource::FINALIZER]));
    assert_eq!(op.events.take()[0].reason, "ReconcileFailed");
}

#[test]
fn deletion_runs_finalize_and_the_resource_goes_when_it_is_done() {
    let op = operator();
    let obj = submit(&op, &resource_body(&model()));
    block_on(op.reconcile_object(&obj)).expect("reconciled");
    let claims: Vec<ObjectKey> = op
        .cluster
        .keys()
        .into_iter()
        .filter(|k| k.kind == Kind::PERSISTENT_VOLUME_CLAIM)
        .collect();
    let deployments = op
        .cluster
        .keys()
        .into_iter()
        .filter(|k| k.kind == Kind::DEPLOYMENT)
        .count();
    assert!(!claims.is_empty() && deployments > 0);
    op.events.take();
    block_on(op.cluster.delete(&rkey())).expect("deleted");
    let action = block_on(op.reconcile_object(&live(&op))).expect("finalized");
    assert_eq!(action, Action::await_change());
    assert!(
        op.cluster.object(&rkey()).is_none(),
        "the finalizer removed, the server deleted it"
    );
    assert!(
        claims.iter().all(|k| op.cluster.object(k).is_some()),
        "volume claims kept"
    );
    assert_eq!(
        op.cluster
            .keys()
            .into_iter()
            .filter(|k| k.kind == Kind::DEPLOYMENT)
            .count(),
        0
    );
    let notes = op.events.take();
    assert_eq!(
        notes.iter().map(|n| n.reason.as_str()).collect::<Vec<_>>(),
        ["Finalized"]
    );
    assert!(!op.metrics.render().contains("name=\"example\""));
}

#[test]
fn a_failing_step_is_an_error_the_error_policy_backs_off_on_with_growing_delays() {
    let op = operator();
    let obj = submit(&op, &resource_body(&model()));
    // The status subresource answers 503 twice.
    op.cluster.fail_next(Verb::Status, unavailable(), 2);
    let mut delays = Vec::new();
    for _ in 0..2 {
        let e = block_on(op.reconcile_object(&live(&op))).expect_err("status write fails");
        assert!(
            matches!(&e, StepError::Api { what: "writing the status", source, .. } if source.code == 503),
            "{e}"
        );
        delays.push(op.error_policy(&obj, &e));
    }
    assert_eq!(
        delays,
        [
            Action::requeue(Duration::from_secs(5)),
            Action::requeue(Duration::from_secs(10))
        ]
    );
    assert_eq!(op.metrics.errors(), 2);
    let warnings: Vec<Note> = op
        .events
        .take()
        .into_iter()
        .filter(|n| n.severity == Severity::Warning)
        .collect();
    assert_eq!(warnings.len(), 2);
    assert!(
        warnings
            .iter()
            .all(|n| n.reason == "ReconcileFailed" && n.note.contains("503"))
    );
    // The next step succeeds and resets the object's backoff.
    block_on(op.reconcile_object(&live(&op))).expect("reconciled");
    assert_eq!(op.backoff.failures(&rkey().to_string()), 0);
    let e = StepError::Unnamed;
    assert_eq!(op.error_policy(&obj, &e), Action::requeue(Duration::from_secs(5)));

    // An unreadable cluster is an error too (after the status says so).
    let op = operator();
    let obj = submit(&op, &resource_body(&model()));
    op.cluster.fail_next(Verb::List, unavailable(), 100_000);
    let e = block_on(op.reconcile_object(&obj)).expect_err("cannot read");
    assert!(matches!(e, StepError::Unreadable { .. }), "{e}");
    let s = status(&live(&op));
    assert_eq!(
        cond(&s, ConditionType::Ready),
        ("False".to_owned(), "ClusterUnreadable".to_owned())
    );
}

#[test]
fn backoff_doubles_per_object_up_to_the_cap_and_resets() {
    let b = Backoff::new(Duration::from_secs(5), Duration::from_secs(60));
    let delays: Vec<u64> = (0..7).map(|_| b.failed("a").as_secs()).collect();
    assert_eq!(delays, [5, 10, 20, 40, 60, 60, 60]);
    assert_eq!(b.failed("b").as_secs(), 5, "per object");
    b.succeeded("a");
    assert_eq!(b.failed("a").as_secs(), 5);
    for _ in 0..100 {
        b.failed("c");
    }
    assert_eq!(b.failed("c").as_secs(), 60, "no overflow");
}

#[test]
fn a_spec_the_model_rejects_is_stalled_with_a_warning_and_nothing_applied() {
    let op = operator();
    let mut body = resource_body(&model());
    body["spec"]["instance"]["role"] = json!("staging");
    let obj = submit(&op, &body);
    op.cluster.reset_requests();
    let action = block_on(op.reconcile_object(&obj)).expect("a status, not an error");
    assert_eq!(action, Action::requeue(RESYNC));
    // The finalizer and the status: nothing else was written.
    let writes: Vec<String> = op
        .cluster
        .requests()
        .into_iter()
        .filter(|r| r.is_write())
        .map(|r| format!("{:?} {}", r.verb, r.target))
        .collect();
    assert_eq!(
        writes,
        [
            format!("Apply DevStats {NS}/example"),
            format!("Status DevStats {NS}/example")
        ]
    );
    let s = status(&live(&op));
    assert_eq!(
        cond(&s, ConditionType::Stalled),
        ("True".to_owned(), "InvalidSpec".to_owned())
    );
    assert!(
        s.problems.iter().any(|p| p.path == "spec.instance.role"),
        "{:#?}",
        s.problems
    );
    let notes = op.events.take();
    assert_eq!(
        notes
            .iter()
            .map(|n| (n.severity, n.reason.as_str()))
            .collect::<Vec<_>>(),
        [(Severity::Warning, "InvalidSpec")]
    );
}

// ---- leader election --------------------------------------------------------------------

const LEASE_NS: &str = "devstats-operator";

fn lease_cluster() -> FakeCluster {
    let fake = FakeCluster::new().with_field_manager(resource::FIELD_MANAGER);
    fake.insert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": LEASE_NS}}));
    fake
}

fn elector(identity: &str) -> Elector {
    Elector::new(LeaseConfig::new(LEASE_NS, "devstats-operator", identity))
}

fn lease(fake: &FakeCluster) -> Value {
    fake.object(&ObjectKey::new(LEASE, Some(LEASE_NS), "devstats-operator"))
        .expect("the Lease")
}

fn wall(s: i64) -> Timestamp {
    Timestamp::from_second(1_796_000_000 + s).expect("time")
}

#[test]
fn a_free_lease_is_acquired_a_fresh_one_is_not_an_expired_one_is_taken_over() {
    let fake = lease_cluster();
    let t0 = Instant::now();
    let mut a = elector("pod-a");
    let mut b = elector("pod-b");

    // Absent: created, held by a.
    assert_eq!(
        block_on(a.try_acquire_or_renew(&fake, t0, wall(0))),
        Ok(Attempt::Acquired)
    );
    let l = lease(&fake);
    assert_eq!(l["spec"]["holderIdentity"], "pod-a");
    assert_eq!(l["spec"]["leaseDurationSeconds"], 15);
    assert_eq!(l["spec"]["leaseTransitions"], 0);

    // Held and fresh: b waits (its own clock: 14 s after it first saw this version).
    assert_eq!(
        block_on(b.try_acquire_or_renew(&fake, t0, wall(0))),
        Ok(Attempt::HeldBy("pod-a".to_owned()))
    );
    assert_eq!(
        block_on(b.try_acquire_or_renew(&fake, t0 + Duration::from_secs(14), wall(14))),
        Ok(Attempt::HeldBy("pod-a".to_owned()))
    );
    // a renews: the Lease changes, so b's 15 s start again.
    assert_eq!(
        block_on(a.try_acquire_or_renew(&fake, t0 + Duration::from_secs(10), wall(10))),
        Ok(Attempt::Renewed)
    );
    let renewed = lease(&fake);
    assert_ne!(renewed["spec"]["renewTime"], l["spec"]["renewTime"]);
    assert_eq!(renewed["spec"]["acquireTime"], l["spec"]["acquireTime"]);
    assert_eq!(
        block_on(b.try_acquire_or_renew(&fake, t0 + Duration::from_secs(16), wall(16))),
        Ok(Attempt::HeldBy("pod-a".to_owned())),
        "renewed at 10 s, first seen by b at 16 s"
    );
    // a stops renewing: 15 s after b saw the last change, b takes over.
    assert_eq!(
        block_on(b.try_acquire_or_renew(&fake, t0 + Duration::from_secs(32), wall(32))),
        Ok(Attempt::Acquired)
    );
    let taken = lease(&fake);
    assert_eq!(taken["spec"]["holderIdentity"], "pod-b");
    assert_eq!(taken["spec"]["leaseTransitions"], 1);
    // a comes back: no longer the leader.
    assert_eq!(
        block_on(a.try_acquire_or_renew(&fake, t0 + Duration::from_secs(33), wall(33))),
        Ok(Attempt::HeldBy("pod-b".to_owned()))
    );
    // b releases on shutdown; a acquires at its next try, without waiting for an expiry.
    assert_eq!(block_on(b.release(&fake, wall(34))), Ok(true));
    assert_eq!(lease(&fake)["spec"]["holderIdentity"], "");
    assert_eq!(
        block_on(a.try_acquire_or_renew(&fake, t0 + Duration::from_secs(35), wall(35))),
        Ok(Attempt::Acquired)
    );
    assert_eq!(
        block_on(b.release(&fake, wall(36))),
        Ok(false),
        "not b's to release"
    );
}

#[test]
fn of_two_candidates_taking_over_at_once_one_wins_the_other_gets_the_conflict() {
    let fake = lease_cluster();
    let t0 = Instant::now();
    let mut a = elector("pod-a");
    let mut b = elector("pod-b");
    let mut c = elector("pod-c");
    block_on(a.try_acquire_or_renew(&fake, t0, wall(0))).expect("a");
    block_on(b.try_acquire_or_renew(&fake, t0, wall(0))).expect("b");
    block_on(c.try_acquire_or_renew(&fake, t0, wall(0))).expect("c");
    // Both read the expired Lease before either writes (every request takes 5 ms, interleaved).
    fake.set_latency(Duration::from_millis(5));
    let later = t0 + Duration::from_secs(20);
    let (rb, rc) = block_on(async {
        tokio::join!(
            b.try_acquire_or_renew(&fake, later, wall(20)),
            c.try_acquire_or_renew(&fake, later, wall(20))
        )
    });
    let mut outcomes = vec![rb.expect("b"), rc.expect("c")];
    outcomes.sort_by_key(|a| format!("{a:?}"));
    assert_eq!(outcomes, [Attempt::Acquired, Attempt::Lost]);
    assert_eq!(lease(&fake)["spec"]["leaseTransitions"], 1);
}

#[test]
fn the_fake_refuses_a_write_at_a_stale_resource_version_as_a_real_server_does() {
    let fake = lease_cluster();
    block_on(elector("pod-a").try_acquire_or_renew(&fake, Instant::now(), wall(0))).expect("a");
    let key = ObjectKey::new(LEASE, Some(LEASE_NS), "devstats-operator");
    let mut stale = lease(&fake);
    stale["metadata"]["resourceVersion"] = json!("999");
    stale["spec"]["holderIdentity"] = json!("pod-x");
    let e = block_on(fake.apply(&key, &stale, true, false)).expect_err("stale");
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    assert!(
        e.message
            .contains("leases.coordination.k8s.io \"devstats-operator\": the object has been modified")
    );
    assert!(e.is_transient() && !e.is_field_conflict());
    assert_eq!(lease(&fake)["spec"]["holderIdentity"], "pod-a");
}

// ---- metrics and probes -----------------------------------------------------------------

#[test]
fn metrics_render_in_the_prometheus_text_format() {
    let m = Metrics::default();
    m.observe_reconcile(Duration::from_millis(300));
    m.observe_reconcile(Duration::from_secs(20));
    m.observe_reconcile(Duration::from_secs(3600));
    m.count_error();
    m.count_objects(7, 2);
    m.set_projects("ns", "prod", ["syncing", "syncing", "failed", "bogus"]);
    m.set_leader(true);
    let text = m.render();
    for line in [
        "# TYPE devstats_operator_reconcile_duration_seconds histogram",
        "devstats_operator_reconcile_duration_seconds_bucket{le=\"0.25\"} 0",
        "devstats_operator_reconcile_duration_seconds_bucket{le=\"0.5\"} 1",
        "devstats_operator_reconcile_duration_seconds_bucket{le=\"30\"} 2",
        "devstats_operator_reconcile_duration_seconds_bucket{le=\"600\"} 2",
        "devstats_operator_reconcile_duration_seconds_bucket{le=\"+Inf\"} 3",
        "devstats_operator_reconcile_duration_seconds_sum 3620.3",
        "devstats_operator_reconcile_duration_seconds_count 3",
        "# TYPE devstats_operator_reconcile_errors_total counter",
        "devstats_operator_reconcile_errors_total 1",
        "devstats_operator_objects_applied_total 7",
        "devstats_operator_objects_pruned_total 2",
        "# TYPE devstats_operator_projects gauge",
        "devstats_operator_projects{namespace=\"ns\",name=\"prod\",phase=\"syncing\"} 2",
        "devstats_operator_projects{namespace=\"ns\",name=\"prod\",phase=\"failed\"} 1",
        "devstats_operator_projects{namespace=\"ns\",name=\"prod\",phase=\"provisioning\"} 0",
        "devstats_operator_leader 1",
    ] {
        assert!(text.lines().any(|l| l == line), "missing `{line}` in\n{text}");
    }
    // Every sample line is `name{labels} value` with a numeric value, after its TYPE.
    for l in text.lines().filter(|l| !l.starts_with('#')) {
        let (_, value) = l.rsplit_once(' ').expect("name value");
        assert!(value.parse::<f64>().is_ok(), "{l}");
    }
    m.forget("ns", "prod");
    assert!(!m.render().contains("name=\"prod\""));
}

#[test]
fn probes_and_metrics_endpoints() {
    let health = Health::default();
    let get = |e, p| respond(e, &health, &http::Method::GET, p);
    assert_eq!(get(Endpoints::Probes, "/healthz").status(), 200);
    assert_eq!(get(Endpoints::Probes, "/readyz").status(), 503);
    health.ready.store(true, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(get(Endpoints::Probes, "/readyz").status(), 200);
    let metrics = get(Endpoints::Metrics, "/metrics");
    assert_eq!(metrics.status(), 200);
    assert_eq!(
        metrics.headers()[http::header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert_eq!(get(Endpoints::Metrics, "/healthz").status(), 404);
    assert_eq!(get(Endpoints::Probes, "/metrics").status(), 404);
    assert_eq!(
        respond(Endpoints::Probes, &health, &http::Method::POST, "/healthz").status(),
        405
    );
}
