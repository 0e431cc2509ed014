//! `run restore` against the in-memory API server: the Job is the pure restore Job of
//! `devstats_render::disaster_recovery` (snapshotted there), created once, its log streamed, its
//! outcome reported; bad `--from` values are refused before any request.

mod apply_support;

use std::time::Duration;

use apply_support::{block_on, model};
use devstats_cli::engine::Engine;
use devstats_cli::kinds::{Kind, ObjectKey};
use devstats_cli::progress::Silent;
use devstats_cli::retry::RetryPolicy;
use devstats_cli::run_task::{self, RunConfig, RunOutcome};
use devstats_fake::FakeCluster;
use devstats_model::backup::{ObjectStore, ObjectStoreCredentials};
use devstats_model::{Model, Name};
use serde_json::Value;

const NAME: &str = "devstats-run-restore-kubernetes-1";

/// `fixtures/cncf.yaml` without disaster recovery (its `prod` environment turns it on).
fn cncf_plain() -> Model {
    let mut m = model("cncf.yaml");
    m.instance.disaster_recovery = devstats_model::backup::DisasterRecovery::default();
    m
}

/// `fixtures/cncf.yaml` with an object store and the off-site dump copy.
fn cncf_with_store() -> Model {
    let mut m = cncf_plain();
    let d = &mut m.instance.disaster_recovery;
    d.object_store = Some(ObjectStore {
        endpoint: "http://minio.backup.svc:9000".to_owned(),
        bucket: "devstats".to_owned(),
        prefix: "prod".to_owned(),
        region: "us-east-1".to_owned(),
        path_style: true,
        credentials: ObjectStoreCredentials {
            secret: Name::from("minio-creds"),
            access_key_id_key: "accesskey".to_owned(),
            secret_access_key_key: "secretkey".to_owned(),
        },
        rclone_image: devstats_model::backup::default_rclone_image(),
    });
    d.dumps.offsite.enabled = true;
    assert!(devstats_model::validate::validate(&m).is_empty());
    m
}

fn cfg() -> RunConfig {
    RunConfig {
        timeout: Duration::from_secs(5),
        poll: Duration::from_millis(1),
        follow: true,
        upload: None,
    }
}

fn run(fake: &FakeCluster, job: &Value) -> (Result<RunOutcome, String>, String) {
    let silent = Silent;
    let eng = Engine::new(fake, 4, RetryPolicy::immediate(2), &silent);
    let key = ObjectKey::new(Kind::JOB, Some("devstats-prod"), NAME);
    let mut log = Vec::new();
    let out = block_on(run_task::run(
        &eng,
        &key,
        job,
        false,
        false,
        &cfg(),
        &mut |b: &[u8]| {
            log.extend_from_slice(b);
        },
    ));
    (
        out.map_err(|e| e.to_string()),
        String::from_utf8_lossy(&log).into_owned(),
    )
}

fn env_of(job: &Value, container: &str) -> Vec<(String, String)> {
    let spec = &job["spec"]["template"]["spec"];
    spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(spec["initContainers"].as_array().into_iter().flatten())
        .filter(|c| c["name"] == container)
        .flat_map(|c| c["env"].as_array().cloned().unwrap_or_default())
        .map(|e| {
            (
                e["name"].as_str().unwrap_or_default().to_owned(),
                e["value"].as_str().unwrap_or("<secret>").to_owned(),
            )
        })
        .collect()
}

#[test]
fn restore_from_the_volume_creates_the_job_and_streams_its_log() {
    let m = cncf_plain();
    let job = run_task::restore_job(&m, "kubernetes", None, NAME, false).expect("job");
    assert_eq!(job["kind"], "Job");
    assert_eq!(job["metadata"]["namespace"], "devstats-prod");
    assert_eq!(job["spec"]["ttlSecondsAfterFinished"], 3600);
    // Without disasterRecovery there is no restore NetworkPolicy: the backups job's applies.
    assert_eq!(
        job["spec"]["template"]["metadata"]["labels"]["type"],
        "backups-sync"
    );
    let env = env_of(&job, "restore");
    assert!(
        env.contains(&("DUMP".to_owned(), "/root/gha.dump".to_owned())),
        "{env:?}"
    );
    assert!(env.contains(&("DB".to_owned(), "gha".to_owned())));
    assert_eq!(
        job["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
        "devstats-backups"
    );

    let fake = FakeCluster::new();
    fake.set_log(&format!("{NAME}-x7k2p"), "RESTORED gha\n");
    let (out, log) = run(&fake, &job);
    assert_eq!(out, Ok(RunOutcome::Succeeded));
    assert_eq!(log, "RESTORED gha\n");
    let created = fake
        .object(&ObjectKey::new(Kind::JOB, Some("devstats-prod"), NAME))
        .expect("created");
    // Stored as sent, plus the server's defaults (terminationMessagePath, …).
    assert!(devstats_cli::plan::json::is_subset(
        &job["spec"]["template"],
        &created["spec"]["template"]
    ));
    // One create; no update, patch or delete.
    let writes: Vec<_> = fake.requests().into_iter().filter(|r| r.is_write()).collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
}

#[test]
fn restore_from_the_object_store_fetches_first_and_reports_failure() {
    let m = cncf_with_store();
    let job = run_task::restore_job(&m, "kubernetes", Some("2026-11-29"), NAME, true).expect("job");
    assert!(job["spec"].get("ttlSecondsAfterFinished").is_none(), "--keep");
    assert_eq!(job["spec"]["template"]["metadata"]["labels"]["type"], "restore");
    let fetch = env_of(&job, "fetch");
    for (k, v) in [
        ("GENERATION", "2026-11-29"),
        ("DB", "gha"),
        ("REMOTE", "store:devstats/prod"),
        ("RCLONE_CONFIG_STORE_ENDPOINT", "http://minio.backup.svc:9000"),
        ("RCLONE_CONFIG_STORE_FORCE_PATH_STYLE", "true"),
        ("RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY", "<secret>"),
    ] {
        assert!(fetch.contains(&(k.to_owned(), v.to_owned())), "{k}: {fetch:?}");
    }
    assert!(env_of(&job, "restore").contains(&("DUMP".to_owned(), "/restore/gha.dump".to_owned())));

    let fake = FakeCluster::new();
    fake.fail_job(NAME);
    let (out, _) = run(&fake, &job);
    assert!(
        matches!(&out, Ok(RunOutcome::Failed(r)) if r.contains("BackoffLimitExceeded")),
        "{out:?}"
    );
}

#[test]
fn bad_restore_arguments_are_refused_without_a_cluster() {
    let plain = cncf_plain();
    let store = cncf_with_store();
    for (m, project, from, needle) in [
        (&plain, "kubernetes", Some("latest"), "objectStore"),
        (&store, "kubernetes", Some("last-week"), "allowed: latest"),
        (
            &store,
            "kubernetes",
            Some("dumps/2026-11-29/prometheus.dump"),
            "gha.dump",
        ),
        (&store, "nope", None, "unknown project"),
    ] {
        let e = run_task::restore_job(m, project, from, NAME, false)
            .expect_err(needle)
            .to_string();
        assert!(e.contains(needle), "{from:?}: {e}");
    }
}
