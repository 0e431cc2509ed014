//! Waits on watches: `apply` with waits against the in-memory fake finishes on watch events
//! (the waited objects are not polled with GETs), a Job failing mid-run is reported as soon as it
//! fails (not at the next poll), and a timeout is reported with the same message as before.

mod apply_support;

use std::time::{Duration, Instant};

use apply_support::{block_on, config, desired, model};
use devstats_cli::apply::ApplyConfig;
use devstats_cli::cluster::Cluster;
use devstats_cli::engine::Engine;
use devstats_cli::kinds::{Kind, ObjectKey};
use devstats_cli::progress::Silent;
use devstats_cli::retry::RetryPolicy;
use devstats_cli::run_task::{RunConfig, RunOutcome, run};
use devstats_cli::waits::{self, WaitFor, WaitOutcome};
use devstats_fake::{FakeCluster, Verb};
use serde_json::json;

const NS: &str = "devstats-example";

fn monitoring() -> FakeCluster {
    let fake = FakeCluster::new();
    fake.insert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "monitoring"}}));
    fake
}

/// A controller coming late: every 20ms, runs the simulated controllers on each workload that
/// has no status yet (as a StatefulSet/Job controller reacting to a new object would).
async fn late_controllers(fake: &FakeCluster) {
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        fake.set_controllers(true);
        for k in fake.keys() {
            let workload = [Kind::STATEFUL_SET, Kind::DEPLOYMENT, Kind::JOB].contains(&k.kind);
            if workload && fake.object(&k).is_some_and(|o| o.get("status").is_none()) {
                let _ = fake.update_with(&k, |_| {});
            }
        }
        fake.set_controllers(false);
    }
}

/// GETs per target in the request log.
fn gets(fake: &FakeCluster, target: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.verb == Verb::Get && r.target == target)
        .count()
}

#[test]
fn apply_with_waits_finishes_on_watch_events_without_polling() {
    let m = model("example.yaml");
    let set = desired(&m);
    let fake = monitoring();
    fake.set_controllers(false);
    // A polling wait at these settings would GET each waited object every millisecond or two.
    let cfg = ApplyConfig {
        timeout: Duration::from_secs(20),
        provision_timeout: Duration::from_secs(20),
        ..config()
    };
    let progress = Silent;
    let eng = Engine::new(&fake, 32, RetryPolicy::immediate(6), &progress);
    let started = Instant::now();
    let report = block_on(async {
        tokio::select! {
            r = devstats_cli::apply::apply(&eng, &set, &cfg) => r,
            () = late_controllers(&fake) => unreachable!("the controllers loop forever"),
        }
    })
    .expect("applies");
    assert!(report.ok(), "{:?}", report.failed);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    let waited: Vec<&ObjectKey> = set
        .objects
        .iter()
        .filter(|d| [Kind::STATEFUL_SET, Kind::DEPLOYMENT, Kind::JOB].contains(&d.key.kind))
        .map(|d| &d.key)
        .collect();
    assert!(!waited.is_empty());
    let watches = fake.requests().iter().filter(|r| r.verb == Verb::Watch).count();
    assert!(
        watches >= waited.len(),
        "{watches} watches for {} waits",
        waited.len()
    );
    for k in waited {
        // No GET loop: at most the one read the plan itself may make.
        assert!(
            gets(&fake, &k.to_string()) <= 1,
            "{k}: {} GETs",
            gets(&fake, &k.to_string())
        );
    }
}

#[test]
fn a_failing_job_is_reported_as_soon_as_it_fails() {
    let fake = FakeCluster::new();
    fake.set_controllers(false);
    let key = ObjectKey::new(Kind::JOB, Some(NS), "devstats-run-vars-k8s-z");
    let job = json!({"apiVersion": "batch/v1", "kind": "Job",
        "metadata": {"name": key.name, "namespace": NS},
        "spec": {"template": {"metadata": {"labels": {"app": "devstats-run"}},
                 "spec": {"restartPolicy": "Never", "containers": [{"name": "task", "image": "x"}]}}}});
    // Polling every 10 minutes would report the failure only after 10 minutes.
    let cfg = RunConfig {
        timeout: Duration::from_secs(3600),
        poll: Duration::from_secs(600),
        follow: false,
        upload: None,
    };
    let progress = Silent;
    let eng = Engine::new(&fake, 8, RetryPolicy::immediate(3), &progress);
    let fail_later = async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        fake.fail_job(&key.name);
        fake.set_controllers(true);
        fake.update_with(&key, |_| {}).expect("the Job exists");
        std::future::pending::<()>().await;
    };
    let started = Instant::now();
    let mut out = |_: &[u8]| {};
    let outcome = block_on(async {
        tokio::select! {
            r = run(&eng, &key, &job, false, false, &cfg, &mut out) => r,
            () = fail_later => unreachable!(),
        }
    })
    .expect("runs");
    assert_eq!(
        outcome,
        RunOutcome::Failed("BackoffLimitExceeded: Job has reached the specified backoff limit".to_owned())
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(gets(&fake, &key.to_string()), 0, "{:?}", fake.requests());
}

#[test]
fn a_wait_timeout_keeps_its_message() {
    let m = model("example.yaml");
    let set = desired(&m);
    let fake = monitoring();
    fake.set_controllers(false);
    let r = apply_support::apply(&fake, &set, &config()).expect("applies");
    let (k, why) = r
        .failed
        .iter()
        .find(|(k, _)| k.contains("StatefulSet"))
        .expect("sts failed");
    assert!(
        why.starts_with(&format!(
            "{k}: timed out after 0s: waiting for the controller to observe generation 1"
        )),
        "{why}"
    );
}

#[test]
fn wait_for_sees_deletion_and_pods_on_the_watch() {
    let fake = FakeCluster::new();
    fake.set_controllers(false);
    let key = ObjectKey::new(Kind::CONFIG_MAP, Some(NS), "c");
    fake.insert(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": NS}}));
    let w = WaitFor {
        key: &key,
        pods: Some("cluster-name=db"),
        timeout: Duration::from_secs(30),
        poll_initial: Duration::from_secs(600),
        poll_max: Duration::from_secs(600),
    };
    let mut seen = Vec::new();
    let later = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        fake.insert(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "db-0", "namespace": NS, "labels": {"cluster-name": "db", "role": "primary"}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}}));
        tokio::time::sleep(Duration::from_millis(50)).await;
        fake.remove(&key);
        std::future::pending::<()>().await;
    };
    let mut check = |obj: Option<&serde_json::Value>, pods: &[serde_json::Value]| {
        seen.push((obj.is_some(), pods.len()));
        match obj {
            None => waits::Readiness::Ready,
            Some(_) => waits::Readiness::Progressing(format!("{} pods", pods.len())),
        }
    };
    let mut progress = |_: &str, _: Duration| {};
    let outcome = block_on(async {
        tokio::select! {
            r = fake.wait_for(&w, &mut check, &mut progress) => r,
            () = later => unreachable!(),
        }
    })
    .expect("waits");
    assert_eq!(outcome, WaitOutcome::Ready);
    assert_eq!(seen, vec![(true, 0), (true, 1), (false, 1)]);
}

#[test]
fn a_quiet_wait_still_reports_progress_and_times_out() {
    let fake = FakeCluster::new();
    let key = ObjectKey::new(Kind::CONFIG_MAP, Some(NS), "never");
    let w = WaitFor {
        key: &key,
        pods: None,
        timeout: Duration::from_millis(400),
        poll_initial: Duration::from_millis(50),
        poll_max: Duration::from_millis(50),
    };
    let mut reports = Vec::new();
    let mut check = |obj: Option<&serde_json::Value>, _: &[serde_json::Value]| match obj {
        Some(_) => waits::Readiness::Ready,
        None => waits::Readiness::Progressing("does not exist yet".to_owned()),
    };
    let mut progress = |m: &str, waited: Duration| reports.push((m.to_owned(), waited));
    let outcome = block_on(fake.wait_for(&w, &mut check, &mut progress)).expect("waits");
    assert_eq!(outcome, WaitOutcome::TimedOut("does not exist yet".to_owned()));
    // Nothing changed, yet the wait told how long it had waited, about every poll_max.
    assert!(reports.len() >= 4, "{reports:?}");
    assert!(reports.windows(2).all(|p| p[0].1 <= p[1].1), "{reports:?}");
    assert_eq!(gets(&fake, &key.to_string()), 0);
}
