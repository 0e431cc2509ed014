//! The real binary against an API server over HTTP: the in-memory fake served by
//! `devstats_fake::http` on loopback, reached through a kubeconfig, so the kube client, URLs,
//! query strings, content types and `Status` error bodies are all exercised as a user runs them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use devstats_cli::kinds::{Kind, ObjectKey};
use devstats_fake::FakeCluster;
use devstats_fake::http::{crds_of, kubeconfig, serve_loopback};

/// A fake API server on a loopback port with the CRDs `crds`, served by a background thread for
/// the test's lifetime.
fn start(crds: Vec<Kind>) -> (Arc<FakeCluster>, SocketAddr) {
    let cluster = Arc::new(FakeCluster::new());
    let addr = serve_loopback(Arc::clone(&cluster), crds).expect("loopback server");
    (cluster, addr)
}

fn fixture(rel: &str) -> String {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/"))
        .join(rel)
        .display()
        .to_string()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

struct Session {
    cluster: Arc<FakeCluster>,
    kubeconfig: PathBuf,
}

impl Session {
    /// A server with the CRDs the example model needs (cert-manager's ClusterIssuer).
    fn new(name: &str) -> Self {
        let model = devstats_model::load(Path::new(&fixture("example.yaml"))).expect("example");
        let set = devstats_render::render(&model, &devstats_render::Options::default()).expect("renders");
        Self::with_crds(name, crds_of(set.objects.iter().map(|r| &r.object)))
    }

    fn with_crds(name: &str, crds: Vec<Kind>) -> Self {
        let (cluster, addr) = start(crds);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("apply-http-{name}"));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let path = dir.join("kubeconfig");
        std::fs::write(&path, kubeconfig(addr)).expect("kubeconfig");
        Self {
            cluster,
            kubeconfig: path,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut argv: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        argv.push("--kubeconfig".to_owned());
        argv.push(self.kubeconfig.display().to_string());
        Command::new(env!("CARGO_BIN_EXE_devstats-k8s"))
            .args(&argv)
            .env_remove("KUBECONFIG")
            .output()
            .expect("runs")
    }
}

fn ok(out: &Output, what: &str) -> String {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}:\nstdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

#[test]
fn apply_reapply_diff_status_and_destroy_over_http() {
    let s = Session::new("lifecycle");
    let example = fixture("example.yaml");

    // First apply: everything is created, phase by phase, with the waits.
    let first = ok(&s.run(&["apply", &example, "--timeout", "60s"]), "first apply");
    assert!(first.contains("created"), "{first}");
    let live = s.cluster.keys();
    assert!(
        live.iter().any(|k| k.kind == Kind::STATEFUL_SET) && live.iter().any(|k| k.kind == Kind::INGRESS),
        "{live:?}"
    );

    // Unchanged re-apply: zero writes, and it says so.
    s.cluster.reset_requests();
    let again = ok(&s.run(&["apply", &example]), "re-apply");
    assert!(again.contains("no changes"), "{again}");
    assert_eq!(s.cluster.writes(), 0, "{again}");

    // No drift: diff exits 0 (regression: the dry-run preview once carried JSON-pointer-escaped
    // label keys and dropped server-set fields, so every object looked changed).
    let diff = s.run(&["diff", &example]);
    assert_eq!(
        diff.status.code(),
        Some(0),
        "{}{}",
        text(&diff.stdout),
        text(&diff.stderr)
    );

    // Someone edits a Deployment by hand: diff shows it and exits 1.
    let api = ObjectKey::new(Kind::DEPLOYMENT, Some("devstats-example"), "devstats-api");
    s.cluster.edit(&api, |v| {
        v["spec"]["template"]["spec"]["containers"][0]["image"] = "someone/else:1".into();
    });
    let drift = s.run(&["diff", &example]);
    assert_eq!(
        drift.status.code(),
        Some(1),
        "{}{}",
        text(&drift.stdout),
        text(&drift.stderr)
    );
    let shown = text(&drift.stdout);
    assert!(
        shown.contains("someone/else:1") && shown.contains("devstats-api"),
        "{shown}"
    );
    // apply sends only what the model changed, so the hand edit stays; --resync repairs it.
    s.cluster.reset_requests();
    ok(&s.run(&["apply", &example]), "apply");
    assert_eq!(s.cluster.writes(), 0, "{:?}", s.cluster.requests());
    let resync = ok(&s.run(&["apply", &example, "--resync", "--no-prune"]), "resync");
    assert!(s.cluster.writes() > 0, "{resync}");
    let after = s.run(&["diff", &example]);
    assert_eq!(
        after.status.code(),
        Some(0),
        "{}{}",
        text(&after.stdout),
        text(&after.stderr)
    );

    // Status, for people and for scripts.
    // Exit 1: findings, since nothing issues certificates or addresses here (no cert-manager, no
    // ingress controller).
    let out = s.run(&["status", &example]);
    let status = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{status}{}", text(&out.stderr));
    assert!(
        status.contains("kubernetes")
            && status.contains("provisioned")
            && status.contains("primary devstats-postgres-0"),
        "{status}"
    );
    assert!(status.contains("tls devstats-tls-1 (MISSING)"), "{status}");
    let json = s.run(&["status", &example, "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("status -o json is JSON");
    assert!(v["projects"].as_array().is_some_and(|p| !p.is_empty()), "{v}");

    // Logs of the newest provisioning pod, whole and followed (a chunked stream over HTTP).
    let pod = s
        .cluster
        .keys()
        .into_iter()
        .find(|k| k.kind == Kind::POD && k.name.starts_with("devstats-provision-kubernetes"))
        .expect("the provisioning pod");
    s.cluster.set_log(&pod.name, "provisioned kubernetes\n");
    for follow in [false, true] {
        let mut args = vec!["logs", example.as_str(), "kubernetes", "--component", "provision"];
        if follow {
            args.push("-f");
        }
        let out = ok(&s.run(&args), "logs");
        assert!(out.contains("provisioned kubernetes"), "follow={follow}: {out}");
    }

    // Destroy: volumes and the namespace stay without --delete-volumes.
    let destroy = ok(&s.run(&["destroy", &example, "--yes"]), "destroy");
    let left = s.cluster.keys();
    assert!(
        !left.iter().any(|k| k.kind == Kind::DEPLOYMENT),
        "{destroy}\n{left:?}"
    );
    assert!(
        left.iter().any(|k| k.kind == Kind::PERSISTENT_VOLUME_CLAIM),
        "{destroy}\nPVCs kept: {left:?}"
    );
}

#[test]
fn api_errors_arrive_as_status_objects() {
    let s = Session::new("errors");
    let example = fixture("example.yaml");
    ok(&s.run(&["apply", &example, "--timeout", "60s"]), "first apply");
    // Another manager owns a field we send: the conflict names it and nothing is forced.
    let api = ObjectKey::new(Kind::DEPLOYMENT, Some("devstats-example"), "devstats-api");
    s.cluster.edit(&api, |v| {
        v["spec"]["template"]["spec"]["containers"][0]["image"] = "someone/else:1".into();
    });
    s.cluster
        .set_foreign_owner(&api, ".spec.template", "kubectl-edit");
    let out = s.run(&["apply", &example, "--resync"]);
    assert_ne!(out.status.code(), Some(0));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(said.contains("kubectl-edit"), "{said}");
    assert!(said.contains("--force-conflicts"), "{said}");
    // With --force-conflicts it goes through.
    ok(
        &s.run(&["apply", &example, "--resync", "--force-conflicts"]),
        "forced",
    );
}

/// A model that renders a custom resource whose CRD the cluster lacks is refused before the first
/// write, naming the kind and what provides it (not a 404 halfway through the apply).
#[test]
fn missing_crd_is_refused_before_any_write() {
    let s = Session::with_crds("no-crds", Vec::new());
    let out = s.run(&["apply", &fixture("example.yaml")]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("does not serve cert-manager.io/v1 ClusterIssuer")
            && said.contains("install cert-manager"),
        "{said}"
    );
    assert_eq!(s.cluster.writes(), 0, "{:?}", s.cluster.requests());
}

/// The CNCF production model end to end: monitoring (dashboards in kube-prometheus-stack's
/// namespace), disaster recovery, canaries. After an apply, diff finds no drift in any namespace
/// (regression: diff once read only the instance namespace and reported the dashboards as new),
/// and a re-apply makes no write.
#[test]
fn cncf_apply_then_diff_is_clean_in_every_namespace() {
    let cncf = fixture("cncf.yaml");
    let model = devstats_model::load(Path::new(&cncf)).expect("cncf");
    let set = devstats_render::render(&model, &devstats_render::Options::default()).expect("renders");
    let s = Session::with_crds("cncf", crds_of(set.objects.iter().map(|r| &r.object)));
    s.cluster.insert(
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}),
    );
    ok(&s.run(&["apply", &cncf, "--timeout", "60s"]), "apply");
    assert!(
        s.cluster
            .keys()
            .iter()
            .any(|k| k.namespace.as_deref() == Some("monitoring") && k.kind == Kind::CONFIG_MAP)
    );
    let diff = s.run(&["diff", &cncf]);
    assert_eq!(diff.status.code(), Some(0), "{}", text(&diff.stdout));
    s.cluster.reset_requests();
    ok(&s.run(&["apply", &cncf]), "re-apply");
    assert_eq!(s.cluster.writes(), 0);
}

#[test]
fn the_operator_applies_as_its_own_field_manager_through_the_kube_client() {
    use devstats_cli::cluster::{Cluster, KubeCluster};
    let s = Session::with_crds("operator-manager", Vec::new());
    s.cluster.insert(
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}),
    );
    let key = ObjectKey::new(Kind::CONFIG_MAP, Some("default"), "probe");
    let body = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "probe", "namespace": "default"}, "data": {"a": "1"}});
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let kube = KubeCluster::connect(Some(&s.kubeconfig), None)
            .await
            .expect("connects")
            .with_field_manager("devstats-operator");
        kube.apply(&key, &body, false, false).await.expect("applied");
    });
    let live = s.cluster.object(&key).expect("stored");
    let managers: Vec<(&str, &str)> = live
        .pointer("/metadata/managedFields")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| Some((e.get("manager")?.as_str()?, e.get("operation")?.as_str()?)))
        .collect();
    assert_eq!(managers, vec![("devstats-operator", "Apply")], "{live:#}");
}

#[test]
fn status_is_written_through_the_status_subresource_by_the_kube_client() {
    use devstats_cli::cluster::KubeCluster;
    use devstats_cli::reconcile::DEVSTATS;
    let s = Session::with_crds("operator-status", vec![DEVSTATS]);
    s.cluster
        .insert(serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ds"}}));
    let key = ObjectKey::new(DEVSTATS, Some("ds"), "example");
    let resource = serde_json::json!({"apiVersion": "devstats.cncf.io/v1alpha1", "kind": "DevStats",
        "metadata": {"name": "example", "namespace": "ds"}, "spec": {"instance": {"namespace": "ds"}}});
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(s.cluster.apply_as("kubectl", &key, &resource, false, false))
        .expect("resource stored");
    let status =
        serde_json::json!({"observedGeneration": 1, "conditions": [{"type": "Ready", "status": "True"}]});
    let written = rt.block_on(async {
        let kube = KubeCluster::connect(Some(&s.kubeconfig), None)
            .await
            .expect("connects");
        devstats_cli::cluster::Cluster::replace_status(&kube, &key, &status).await
    });
    let written = written.expect("status written");
    assert_eq!(written["status"], status);
    let live = s.cluster.object(&key).expect("stored");
    assert_eq!(live["status"], status);
    // The status subresource changes neither the spec nor the generation.
    assert_eq!(live["spec"], serde_json::json!({"instance": {"namespace": "ds"}}));
    assert_eq!(live.pointer("/metadata/generation"), Some(&serde_json::json!(1)));
}
