//! The cluster commands as a user runs them, without a cluster: help with examples, and bad input
//! exiting 2 before any API call (the kubeconfig is not even read).

use std::path::PathBuf;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_devstats-k8s"))
        .args(args)
        .env("KUBECONFIG", "/nonexistent/kubeconfig")
        .output()
        .expect("runs")
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

#[test]
fn every_cluster_command_has_help_with_examples() {
    let top = text(&run(&["--help"]).stdout);
    for cmd in ["apply", "diff", "status", "logs", "destroy", "run"] {
        assert!(top.contains(cmd), "{cmd} missing from --help:\n{top}");
        let out = run(&[cmd, "--help"]);
        assert_eq!(out.status.code(), Some(0));
        let help = text(&out.stdout);
        assert!(
            help.contains("Examples:") && help.contains(&format!("devstats-k8s {cmd} ")),
            "{cmd}:\n{help}"
        );
        assert!(
            help.contains("--context") && help.contains("--kubeconfig"),
            "{cmd}:\n{help}"
        );
    }
    let apply = text(&run(&["apply", "--help"]).stdout);
    for flag in [
        "--env",
        "--secrets-from",
        "--force-conflicts",
        "--no-wait",
        "--timeout",
        "--max-parallel",
        "--dry-run",
        "--prune-volumes",
        "--max-deletes",
        "--allow-recreate",
        "--only",
        "--project",
    ] {
        assert!(apply.contains(flag), "apply --help lacks {flag}");
    }
}

#[test]
fn an_invalid_model_exits_2_before_reading_the_kubeconfig() {
    let dir = PathBuf::from(fixture("invalid"));
    let first = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "yaml") && !p.ends_with("empty.yaml"))
        .expect("an invalid fixture");
    let p = first.display().to_string();
    for args in [
        vec!["apply", p.as_str()],
        vec!["diff", p.as_str()],
        vec!["status", p.as_str()],
        vec!["destroy", p.as_str(), "--yes"],
        vec!["run", "vars", p.as_str(), "--project", "x"],
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(err.contains(&p), "{args:?}: no location:\n{err}");
        assert!(
            !err.contains("kubeconfig"),
            "{args:?}: touched the kubeconfig:\n{err}"
        );
    }
}

#[test]
fn bad_flags_exit_2_before_any_api_call() {
    let model = fixture("example.yaml");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["apply", &model, "--only", "nope"],
            "invalid value 'nope' for '--only",
        ),
        (vec!["apply", &model, "--project", "nope"], "unknown project"),
        (vec!["apply", &model, "--timeout", "soon"], "expected e.g. 90s"),
        (vec!["apply", &model, "--max-parallel", "0"], "0"),
        (vec!["apply", &model, "--env", "nope"], "nope"),
        (
            vec!["run", "rm-rf", &model, "--project", "kubernetes"],
            "unknown task",
        ),
        (vec!["run", "vars", &model, "--project", "nope"], "nope"),
        (
            vec![
                "run",
                "provision",
                &model,
                "--project",
                "kubernetes",
                "--set",
                "A=1",
            ],
            "--set is not allowed",
        ),
        (
            vec![
                "run",
                "vars",
                &model,
                "--project",
                "kubernetes",
                "--set",
                "novalue",
            ],
            "KEY=VALUE",
        ),
        (vec!["logs", &model, "nope"], "unknown project"),
        (
            vec![
                "run",
                "restore",
                &model,
                "--project",
                "kubernetes",
                "--from",
                "latest",
            ],
            "objectStore",
        ),
        (
            vec![
                "run",
                "vars",
                &model,
                "--project",
                "kubernetes",
                "--from",
                "latest",
            ],
            "--from is only allowed with `run restore`",
        ),
        (
            vec![
                "run",
                "restore",
                &model,
                "--project",
                "kubernetes",
                "--set",
                "JOBS=8",
            ],
            "--set is not allowed with `run restore`",
        ),
    ];
    for (args, needle) in cases {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        let err = text(&out.stderr);
        assert!(err.contains(needle), "{args:?}: expected `{needle}` in:\n{err}");
        assert!(
            !err.contains("/nonexistent/kubeconfig"),
            "{args:?}: read the kubeconfig:\n{err}"
        );
    }
}

#[test]
fn a_valid_model_with_no_cluster_fails_on_the_kubeconfig_with_exit_2() {
    let out = run(&[
        "apply",
        &fixture("example.yaml"),
        "--kubeconfig",
        "/nonexistent/kubeconfig",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("/nonexistent/kubeconfig"),
        "{}",
        text(&out.stderr)
    );
}
