//! The `devstats-operator` binary end to end, as it runs in a cluster: its kube client, the
//! kube-runtime `Controller` and its watches, the Lease election and the events `Recorder`, all
//! over HTTP against the fake API server (`devstats_fake::http`, which serves watches the way
//! kube-apiserver does: list, then a watch from the list's resourceVersion, bookmarks, 410
//! Expired). The resource is written as `kubectl apply --server-side` writes it; the test only
//! reads what the operator wrote. Covers the operator issue's acceptance on this fake: converge
//! to `Ready=True` with the objects the CLI applies, a hand-deleted Deployment corrected within
//! one resync, a removed project pruned with its volume kept, a bad image shown in the status,
//! deletion through the finalizer keeping the volumes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use devstats_cli::cluster::{Cluster, EVENT};
use devstats_cli::kinds::{CUSTOM_RANK, Kind, ObjectKey};
use devstats_cli::reconcile::DEVSTATS;
use devstats_fake::http::{crds_of, kubeconfig, serve_loopback};
use devstats_fake::{FakeCluster, kubelet};
use devstats_model::Model;
use devstats_operator::election::LEASE;
use devstats_render::resource::{self, ConditionType, DevStats, DevStatsStatus};
use serde_json::{Value, json};

const NS: &str = "devstats-example";
/// The resync the operator runs with: drift is corrected within it.
const RESYNC: Duration = Duration::from_secs(3);
/// kube-runtime's `Recorder` writes `events.k8s.io/v1` Events.
const EVENT_V1: Kind = Kind {
    rank: CUSTOM_RANK,
    group: "events.k8s.io",
    version: "v1",
    kind: "Event",
    plural: "events",
    namespaced: true,
};

fn model() -> Model {
    let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/example.yaml"));
    devstats_model::load(path).expect("fixture loads")
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn rkey() -> ObjectKey {
    ObjectKey::new(DEVSTATS, Some(NS), "example")
}

/// The fake API server on loopback, with the CRDs of the example's render, `DevStats`, and the
/// namespaces that exist before the operator runs.
struct Server {
    cluster: Arc<FakeCluster>,
    kubeconfig: PathBuf,
    log: PathBuf,
}

impl Server {
    fn start(name: &str) -> Self {
        let set = devstats_render::render(&model(), &devstats_render::Options::default()).expect("renders");
        let mut crds = crds_of(set.objects.iter().map(|r| &r.object));
        crds.extend([DEVSTATS, LEASE, EVENT_V1]);
        let cluster = Arc::new(FakeCluster::new());
        for ns in ["monitoring", NS, resource::OPERATOR_NAME] {
            cluster.insert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}));
        }
        let addr = serve_loopback(Arc::clone(&cluster), crds).expect("loopback server");
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("operator-http-{name}"));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let kc = dir.join("kubeconfig");
        std::fs::write(&kc, kubeconfig(addr)).expect("kubeconfig");
        Self {
            cluster,
            kubeconfig: kc,
            log: dir.join("operator.log"),
        }
    }

    /// What `kubectl apply --server-side -f` of `export-resource`'s output writes.
    fn submit(&self, m: &Model) {
        let body = serde_json::to_value(DevStats::from_model(m, None)).expect("serializes");
        block_on(self.cluster.apply_as("kubectl", &rkey(), &body, false, false)).expect("stored");
    }

    fn status(&self) -> Option<DevStatsStatus> {
        let live = self.cluster.object(&rkey())?;
        serde_json::from_value(live.get("status")?.clone()).ok()
    }

    fn operator_log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `f` until it gives a value, or fails after `within` with the operator's log.
    fn eventually<T>(&self, what: &str, within: Duration, mut f: impl FnMut() -> Option<T>) -> T {
        let start = Instant::now();
        loop {
            if let Some(v) = f() {
                return v;
            }
            assert!(
                start.elapsed() < within,
                "{what}: not within {within:?}\nstatus: {:#?}\noperator log:\n{}",
                self.status(),
                self.operator_log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// The operator process; killed when dropped.
struct Operator(Child);

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(server: &Server) -> Operator {
    let log = std::fs::File::create(&server.log).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_devstats-operator"))
        .args([
            "--namespace",
            NS,
            "--leader-elect",
            "--resync",
            "3s",
            "--rollout-timeout",
            "20s",
            "--provision-timeout",
            "20s",
            "--metrics-address",
            "127.0.0.1:0",
            "--probe-address",
            "127.0.0.1:0",
        ])
        .env("KUBECONFIG", &server.kubeconfig)
        .env("POD_NAME", "devstats-operator-0")
        .env("POD_NAMESPACE", resource::OPERATOR_NAME)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("the operator starts");
    Operator(child)
}

fn condition(s: &DevStatsStatus, t: ConditionType) -> Option<(&str, &str)> {
    s.conditions
        .iter()
        .find(|c| c.type_ == t)
        .map(|c| (c.status.as_str(), c.reason.as_str()))
}

/// Ready=True for generation `g`.
fn ready_at(s: &DevStatsStatus, g: i64) -> bool {
    s.observed_generation == Some(g) && condition(s, ConditionType::Ready).map(|c| c.0) == Some("True")
}

/// The keys of the objects `apply` writes for `m` (what the render produces).
fn rendered(m: &Model) -> BTreeSet<ObjectKey> {
    let set = devstats_render::render(m, &devstats_render::Options::default()).expect("renders");
    set.objects
        .iter()
        .map(|r| {
            let kind = Kind::of_object(&r.object).expect("a known kind");
            ObjectKey::new(kind, r.object.namespace(), r.object.name())
        })
        .collect()
}

fn pvcs(fake: &FakeCluster) -> Vec<ObjectKey> {
    fake.keys()
        .into_iter()
        .filter(|k| k.kind == Kind::PERSISTENT_VOLUME_CLAIM)
        .collect()
}

#[test]
fn the_operator_binary_converges_corrects_drift_prunes_diagnoses_and_finalizes_over_http() {
    let server = Server::start("converge");
    let fake = &server.cluster;
    let _operator = spawn(&server);
    let m = model();
    server.submit(&m);
    let long = Duration::from_secs(90);

    // Converges: the finalizer first, then every rendered object, Ready=True at generation 1.
    server.eventually("Ready=True at generation 1", long, || {
        server.status().filter(|s| ready_at(s, 1))
    });
    let live = fake.object(&rkey()).expect("resource");
    assert_eq!(live["metadata"]["finalizers"], json!([resource::FINALIZER]));
    let want = rendered(&m);
    let missing: Vec<&ObjectKey> = want.iter().filter(|k| fake.object(k).is_none()).collect();
    assert!(missing.is_empty(), "not applied: {missing:?}");
    // Applied as devstats-operator; the Lease held by this pod; Events on the resource.
    // podman: a project nothing else in the example refers to (removing it leaves a valid model).
    let project = "podman";
    let deploy = ObjectKey::new(Kind::DEPLOYMENT, Some(NS), &format!("devstats-grafana-{project}"));
    assert!(want.contains(&deploy), "{deploy} is rendered");
    let managers: Vec<String> = fake.object(&deploy).expect("live")["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .filter_map(|e| e["manager"].as_str().map(str::to_owned))
        .collect();
    assert!(
        managers.iter().any(|m| m == resource::FIELD_MANAGER),
        "{managers:?}"
    );
    let lease = fake
        .object(&ObjectKey::new(
            LEASE,
            Some(resource::OPERATOR_NAME),
            resource::OPERATOR_NAME,
        ))
        .expect("the Lease");
    assert_eq!(lease["spec"]["holderIdentity"], "devstats-operator-0");
    let events: Vec<Value> = fake
        .keys()
        .into_iter()
        .filter(|k| (k.kind == EVENT_V1 || k.kind == EVENT) && k.namespace.as_deref() == Some(NS))
        .filter_map(|k| fake.object(&k))
        .collect();
    assert!(
        events.iter().any(|e| e["regarding"]["kind"] == resource::KIND),
        "no Event on the resource: {events:#?}"
    );

    // Drift: a Deployment deleted by hand is back within one resync.
    fake.remove(&deploy);
    let removed = Instant::now();
    server.eventually("the deleted Deployment recreated", RESYNC * 2, || {
        fake.object(&deploy)
    });
    eprintln!(
        "drift corrected after {:?} (resync {RESYNC:?})",
        removed.elapsed()
    );

    // A project with an image that cannot be pulled: Degraded, the pull failure in the status.
    let (_, image) = kubelet::cannot_pull_image(fake, NS, &deploy.name);
    let degraded = server.eventually("the pull failure in the status", long, || {
        server.status().filter(|s| {
            condition(s, ConditionType::Degraded).map(|c| c.0) == Some("True")
                && s.problems.iter().any(|p| p.message.contains(&image))
        })
    });
    assert!(
        degraded.problems.iter().any(|p| p.message.contains("pull")),
        "{:#?}",
        degraded.problems
    );

    // Removing a project from the resource prunes its objects and keeps its volume.
    let mut smaller = m.clone();
    smaller.projects.retain(|p| p.name.as_str() != project);
    let volumes = pvcs(fake);
    assert!(!volumes.is_empty());
    server.submit(&smaller);
    server.eventually("the project's Deployment pruned", long, || {
        fake.object(&deploy).is_none().then_some(())
    });
    server.eventually("Ready=True at generation 2", long, || {
        server.status().filter(|s| ready_at(s, 2))
    });
    let gone: Vec<ObjectKey> = rendered(&m).difference(&rendered(&smaller)).cloned().collect();
    assert!(!gone.is_empty());
    for k in &gone {
        let kept = fake.object(k).is_some();
        let volume = k.kind == Kind::PERSISTENT_VOLUME_CLAIM;
        // Guarded besides volumes: the run-once provisioning Job (the record it ran).
        if !volume && k.kind != Kind::JOB {
            assert!(!kept, "{k} pruned");
        }
    }
    for v in &volumes {
        assert!(fake.object(v).is_some(), "{v} kept");
    }

    // Deleting the resource runs the finalizer: the objects go, the volumes stay, then the
    // resource goes.
    block_on(fake.delete(&rkey())).expect("deletion accepted");
    server.eventually("the resource gone", long, || {
        fake.object(&rkey()).is_none().then_some(())
    });
    for v in &volumes {
        assert!(fake.object(v).is_some(), "{v} kept after deletion");
    }
    assert!(
        fake.keys().into_iter().all(|k| k.kind != Kind::DEPLOYMENT),
        "{:?}",
        fake.keys()
    );
}
