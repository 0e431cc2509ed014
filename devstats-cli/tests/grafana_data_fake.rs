//! `run grafana-data` against the in-memory API server: the archive is checked before any
//! request, the Job (the pure `devstats_render::grafana_data::job`) is created, the archive is
//! uploaded into its pod through pods/exec with stdin, and its outcome is reported.

mod apply_support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use apply_support::{block_on, model};
use devstats_cli::engine::Engine;
use devstats_cli::kinds::{Kind, ObjectKey};
use devstats_cli::progress::Silent;
use devstats_cli::retry::RetryPolicy;
use devstats_cli::run_task::{self, RunConfig, RunOutcome, UploadStep};
use devstats_fake::{FakeCluster, Upload};
use serde_json::Value;

const NAME: &str = "devstats-run-grafana-data-shared-1";

/// A ustar archive of `files` (name, content), as `tar cf` writes it.
fn tar(dir: &Path, file: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        let size = format!("{:011o}", data.len());
        h[124..135].copy_from_slice(size.as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    let path = dir.join(file);
    std::fs::write(&path, out).unwrap_or_else(|e| panic!("{e}"));
    path
}

/// A directory of the test's own (tests run in parallel).
fn tmp(test: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("grafana-data")
        .join(test);
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("{e}"));
    d
}

/// What upstream's `tar cf devstats-grafana.tar grafana/runq grafana/sqlitedb grafana/replacer
/// grafana/shared grafana/img/*.svg … grafana/dashboards/*/*.json` holds.
fn upstream_like(dir: &Path) -> PathBuf {
    tar(
        dir,
        "devstats-grafana.tar",
        &[
            ("grafana/runq", b"\x7fELF"),
            ("grafana/sqlitedb", b"\x7fELF"),
            ("grafana/replacer", b"\x7fELF"),
            ("grafana/shared/grafana.ini.example", b"[server]\n"),
            ("grafana/img/kubernetes.svg", b"<svg/>"),
            ("grafana/dashboards/kubernetes/dashboards.json", b"{}"),
        ],
    )
}

#[test]
fn the_archive_is_checked_before_any_request() {
    let dir = tmp("checked");
    assert_eq!(
        run_task::check_grafana_archive(&upstream_like(&dir)).map_err(|e| e.to_string()),
        Ok(6)
    );
    let partial = tar(
        &dir,
        "partial.tar",
        &[("grafana/shared/x", b"x"), ("grafana/runq", b"x")],
    );
    let err = run_task::check_grafana_archive(&partial)
        .expect_err("incomplete")
        .to_string();
    assert!(
        err.contains("grafana/dashboards/") && err.contains("grafana/sqlitedb"),
        "{err}"
    );
    let garbage = dir.join("garbage.tar");
    std::fs::write(&garbage, vec![b'x'; 2048]).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        run_task::check_grafana_archive(&garbage)
            .expect_err("garbage")
            .to_string()
            .contains("not a tar archive")
    );
    let missing = run_task::check_grafana_archive(&dir.join("nope.tar"))
        .expect_err("missing")
        .to_string();
    assert!(missing.contains("nope.tar"), "{missing}");
}

#[test]
fn the_job_runs_as_a_tool_job_on_the_backups_volume_without_network() {
    let m = model("cncf.yaml");
    let job = run_task::grafana_data_job(&m, NAME).expect("job");
    let pod = &job["spec"]["template"]["spec"];
    assert_eq!(job["metadata"]["namespace"], "devstats-prod");
    assert_eq!(job["spec"]["backoffLimit"], 0);
    assert_eq!(pod["containers"][0]["image"], "lukaszgryglicki/devstats-test");
    let volumes = pod["volumes"].to_string();
    assert!(volumes.contains("devstats-backups"), "{volumes}");
    // Root (the volume's data is root-owned), no token, every capability dropped.
    assert_eq!(pod["automountServiceAccountToken"], false);
    assert_eq!(
        pod["containers"][0]["securityContext"]["capabilities"]["drop"][0],
        "ALL"
    );
    // Its pod type has no NetworkPolicy: default-deny leaves it no network, which it needs none of.
    assert_eq!(
        job["spec"]["template"]["metadata"]["labels"]["type"],
        "grafana-data"
    );
    let script = pod["containers"][0]["command"][2].as_str().unwrap_or_default();
    assert!(
        script.contains("mv /data/grafana.new/grafana /data/grafana"),
        "swapped in by rename"
    );
}

#[test]
fn run_grafana_data_uploads_the_archive_into_the_jobs_pod() {
    let dir = tmp("uploads");
    let archive = upstream_like(&dir);
    let m = model("cncf.yaml");
    let job = run_task::grafana_data_job(&m, NAME).expect("job");
    let fake = FakeCluster::new();
    let silent = Silent;
    let eng = Engine::new(&fake, 4, RetryPolicy::immediate(2), &silent);
    let key = ObjectKey::new(Kind::JOB, Some("devstats-prod"), NAME);
    let cfg = RunConfig {
        timeout: Duration::from_secs(5),
        poll: Duration::from_millis(1),
        follow: false,
        upload: Some(UploadStep {
            container: devstats_render::grafana_data::CONTAINER.to_owned(),
            command: devstats_render::grafana_data::UPLOAD_COMMAND
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
            path: archive.clone(),
        }),
    };
    let out = block_on(run_task::run(
        &eng,
        &key,
        &job,
        false,
        false,
        &cfg,
        &mut |_: &[u8]| {},
    ));
    assert_eq!(out, Ok(RunOutcome::Succeeded));
    let uploads = fake.uploads();
    let size = std::fs::metadata(&archive).map(|m| m.len()).unwrap_or_default();
    assert_eq!(
        uploads,
        vec![Upload {
            pod: format!("devstats-prod/{NAME}-x7k2p"),
            container: "grafana-data".to_owned(),
            command: devstats_render::grafana_data::UPLOAD_COMMAND
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
            bytes: size,
        }]
    );
    let created: Value = fake.object(&key).expect("job created");
    assert_eq!(created["metadata"]["name"], NAME);
}
