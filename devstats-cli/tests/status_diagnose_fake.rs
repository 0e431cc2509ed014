//! `status` diagnoses a project whose Grafana image cannot be pulled, against the in-memory API
//! server: the model names a bad image, apply renders and applies it, and the test plays the
//! kubelet (a pod from the applied Deployment's template, waiting in `ErrImagePull`, with the
//! kubelet's Events). A healthy apply has no diagnoses. The same case runs the real binary over
//! HTTP (`devstats_fake::http`), so `devstats-k8s status` lists the Events through the kube client
//! and prints the pull failure, in text and in `-o json`, with exit code 1.

mod apply_support;

use apply_support::{apply, block_on, config, desired, model, render};
use devstats_cli::diagnose::Cause;
use devstats_cli::engine::Engine;
use devstats_cli::kinds::{Kind, ObjectKey};
use devstats_cli::progress::Silent;
use devstats_cli::retry::RetryPolicy;
use devstats_cli::status::{self, Status};
use devstats_fake::http::{crds_of, kubeconfig, serve_loopback};
use devstats_fake::{FakeCluster, Verb, kubelet};
use devstats_model::{Model, ProjectStatus};
use serde_json::{Value, json};

const NS: &str = "devstats-example";
const BAD: &str = "lukaszgryglicki/devstats-grafana:does-not-exist";

fn applied(m: &Model) -> FakeCluster {
    let fake = FakeCluster::new();
    fake.insert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}));
    let report = apply(&fake, &desired(m), &config()).expect("applies");
    assert!(report.ok(), "{:?}", report.failed);
    fake
}

fn status_of(fake: &FakeCluster, m: &Model) -> Status {
    let progress = Silent;
    let eng = Engine::new(fake, 8, RetryPolicy::immediate(2), &progress);
    let snap = block_on(status::snapshot(&eng, NS)).expect("snapshot");
    status::compute(&render(m), NS, &snap)
}

fn first_active(m: &Model) -> String {
    m.projects
        .iter()
        .find(|p| p.status == ProjectStatus::Active)
        .map(|p| p.name.to_string())
        .expect("an active project")
}

/// What the kubelet does with a project's Grafana pod whose image does not exist.
fn kubelet_cannot_pull(fake: &FakeCluster, project: &str) -> (String, String) {
    kubelet::cannot_pull_image(fake, NS, &format!("devstats-grafana-{project}"))
}

#[test]
fn a_healthy_apply_has_no_diagnoses() {
    let m = model("example.yaml");
    let fake = applied(&m);
    let s = status_of(&fake, &m);
    assert!(
        s.projects.iter().all(|r| r.diagnoses.is_empty()) && s.database.diagnoses.is_empty(),
        "{s:#?}"
    );
    // The Events were listed.
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.verb == Verb::List && r.target == "Event" && r.ok)
    );
}

#[test]
fn status_reports_the_pull_failure_naming_the_image() {
    let mut m = model("example.yaml");
    m.instance.images.grafana = BAD.into();
    let project = first_active(&m);
    let fake = applied(&m);
    let (pod, image) = kubelet_cannot_pull(&fake, &project);
    assert_eq!(image, BAD, "the model's image reached the Deployment");

    let s = status_of(&fake, &m);
    let row = s
        .projects
        .iter()
        .find(|r| r.project == project)
        .expect("project row");
    assert_eq!(row.diagnoses.len(), 1, "{:#?}", row.diagnoses);
    let d = &row.diagnoses[0];
    assert_eq!(d.object, format!("Pod {NS}/{pod}"));
    match &d.cause {
        Cause::ImagePull {
            image,
            reason,
            detail,
            ..
        } => {
            assert_eq!(image, BAD);
            assert_eq!(reason, "ErrImagePull");
            assert!(detail.contains("not found"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    // Other projects are unaffected.
    assert!(
        s.projects
            .iter()
            .filter(|r| r.project != project)
            .all(|r| r.diagnoses.is_empty())
    );
    // A finding (exit code 1), in the text and in `-o json`.
    assert!(s.findings >= 2, "grafana 0/1 and the diagnosis: {}", s.findings);
    let table = status::table(&s);
    assert!(
        table.contains(&format!("project {project}: why it is not ready"))
            && table.contains(&format!("cannot pull image \"{BAD}\" (ErrImagePull)"))
            && table.contains("fix: check that"),
        "{table}"
    );
    let json = serde_json::to_value(&s).expect("serializes");
    let diag = json["projects"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["project"] == project.as_str()))
        .map(|p| p["diagnoses"][0].clone())
        .expect("json row");
    assert_eq!(diag["cause"], "image_pull");
    assert_eq!(diag["image"], BAD);
}

#[test]
fn crash_loop_reads_the_last_log_lines() {
    let m = model("example.yaml");
    let project = first_active(&m);
    let fake = applied(&m);
    let (pod, _) = kubelet_cannot_pull(&fake, &project);
    // The image was fixed; the container now exits.
    fake.edit(&ObjectKey::new(Kind::POD, Some(NS), &pod), |p| {
        p["status"]["phase"] = json!("Running");
        p["status"]["containerStatuses"][0]["restartCount"] = json!(4);
        p["status"]["containerStatuses"][0]["state"] = json!({"waiting": {"reason": "CrashLoopBackOff",
            "message": format!("back-off 1m20s restarting failed container=grafana pod={pod}_{NS}(a3f1c9e2-7b4d-4c8a-9e1f-2d3c4b5a6f70)")}});
        p["status"]["containerStatuses"][0]["lastState"] =
            json!({"terminated": {"exitCode": 1, "reason": "Error"}});
    });
    let log: String = (1..=30).map(|i| format!("line {i}\n")).collect();
    fake.set_log(&pod, &log);
    let s = status_of(&fake, &m);
    let row = s.projects.iter().find(|r| r.project == project).expect("row");
    let Some(Cause::CrashLoop {
        exit_code, last_logs, ..
    }) = row.diagnoses.first().map(|d| &d.cause)
    else {
        panic!("{:#?}", row.diagnoses)
    };
    assert_eq!(*exit_code, Some(1));
    assert_eq!(last_logs.first().map(String::as_str), Some("line 21"));
    assert_eq!(last_logs.last().map(String::as_str), Some("line 30"));
}

#[test]
fn devstats_k8s_status_over_http_prints_the_pull_failure() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-diagnose-http");
    std::fs::create_dir_all(&dir).expect("tmp dir");
    // The example model with a Grafana image that does not exist.
    let example = apply_support::fixture("example.yaml");
    let text = std::fs::read_to_string(&example).expect("example");
    let good = "grafana: lukaszgryglicki/devstats-grafana:2026-11-01";
    assert!(text.contains(good), "the example's Grafana image moved");
    let model_path = dir.join("bad-image.yaml");
    std::fs::write(&model_path, text.replace(good, &format!("grafana: {BAD}"))).expect("model");
    let m = devstats_model::load(&model_path).expect("loads");
    let project = first_active(&m);

    let cluster = std::sync::Arc::new(FakeCluster::new());
    cluster.insert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}));
    let set = render(&m);
    let addr = serve_loopback(cluster.clone(), crds_of(set.objects.iter().map(|r| &r.object)))
        .expect("loopback server");
    let kc = dir.join("kubeconfig");
    std::fs::write(&kc, kubeconfig(addr)).expect("kubeconfig");
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_devstats-k8s"))
            .args(args)
            .arg("--kubeconfig")
            .arg(&kc)
            .env_remove("KUBECONFIG")
            .output()
            .expect("runs")
    };
    let model_arg = model_path.display().to_string();
    let out = run(&["apply", &model_arg, "--timeout", "60s"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    kubelet_cannot_pull(&cluster, &project);

    let out = run(&["status", &model_arg]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("project {project}: why it is not ready"))
            && stdout.contains(&format!(
                "cannot pull image \"{BAD}\" (ErrImagePull): rpc error: code = NotFound"
            )),
        "{stdout}"
    );

    let out = run(&["status", &model_arg, "-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    let row = v["projects"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["project"] == project.as_str()))
        .expect("project");
    assert_eq!(row["diagnoses"][0]["cause"], "image_pull");
    assert_eq!(row["diagnoses"][0]["image"], BAD);
}
