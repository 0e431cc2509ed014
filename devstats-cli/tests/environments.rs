//! `--env` and `render --gitops` as a user runs them.

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(rel: &str) -> String {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/"))
        .join(rel)
        .display()
        .to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_devstats-k8s"))
        .args(args)
        .output()
        .expect("runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("devstats-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn validate_checks_every_environment() {
    let out = run(&["validate", &fixture("cncf.yaml")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("environment `prod` (default): valid:"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "environment `test`: valid: 4 foundations, 283 projects (12 served by instance `test`)"
        ),
        "{stdout}"
    );
    let out = run(&["validate", &fixture("cncf.yaml"), "--env", "tset"]);
    assert_eq!(out.status.code(), Some(2));
    // miette wraps at the terminal width, and where depends on the length of the file's path
    // (the checkout's location): compare the words, not the lines.
    let err = text(&out.stderr)
        .split_whitespace()
        .filter(|w| !matches!(*w, "│" | "·"))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        err.contains("`tset` is not defined; did you mean `test`?"),
        "{err}"
    );
    assert!(err.contains("defined environments: `prod`, `test`"), "{err}");
}

#[test]
fn render_env_selects_an_environment() {
    let default = run(&["render", &fixture("cncf.yaml")]);
    let prod = run(&["render", &fixture("cncf.yaml"), "--env", "prod"]);
    assert_eq!(prod.status.code(), Some(0), "{}", text(&prod.stderr));
    assert!(default.stdout == prod.stdout, "the default environment is prod");
    let test = run(&["render", &fixture("cncf.yaml"), "--env", "test"]);
    assert_eq!(test.status.code(), Some(0), "{}", text(&test.stderr));
    let stdout = text(&test.stdout);
    assert!(stdout.contains("namespace: devstats-test"));
    assert!(!stdout.contains("namespace: devstats-prod"));
    assert!(stdout.contains("ingressClassName: nginx-test"));
}

#[test]
fn gitops_tree_is_written_once_and_rerendered_without_changes() {
    let dir = temp("gitops");
    let d = dir.display().to_string();
    let first = run(&["render", &fixture("example.yaml"), "--gitops", &d]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    assert!(first.stdout.is_empty(), "the tree goes to files, not stdout");
    for f in [
        "clusters/prod/apps.yaml",
        "clusters/test/source.yaml",
        "apps/prod/database/statefulset-devstats-postgres.yaml",
        "apps/test/config/sealedsecret-pg-db.yaml",
        "infrastructure/prod/helmrelease-cert-manager.yaml",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    // The operator seals a placeholder: later renders keep it.
    let sealed = dir.join("apps/test/config/sealedsecret-pg-db.yaml");
    std::fs::write(&sealed, "sealed by the operator\n").expect("write");
    let again = run(&["render", &fixture("example.yaml"), "--gitops", &d]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert!(
        text(&again.stderr).contains("(0 written"),
        "{}",
        text(&again.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&sealed).expect("read"),
        "sealed by the operator\n"
    );
    // One environment: the other's files stay.
    let test_only = run(&[
        "render",
        &fixture("example.yaml"),
        "--env",
        "test",
        "--gitops",
        &d,
    ]);
    assert_eq!(test_only.status.code(), Some(0), "{}", text(&test_only.stderr));
    assert!(dir.join("clusters/prod/apps.yaml").is_file());
    let _ = std::fs::remove_dir_all(&dir);

    // A foreign directory is refused; conflicting options are refused before any IO.
    let foreign = temp("foreign");
    std::fs::create_dir_all(&foreign).expect("mkdir");
    std::fs::write(foreign.join("notes.txt"), "mine").expect("write");
    let f = foreign.display().to_string();
    let out = run(&["render", &fixture("example.yaml"), "--gitops", &f]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("refusing"), "{}", text(&out.stderr));
    let _ = std::fs::remove_dir_all(&foreign);
    for extra in [["--only", "sync"], ["-o", "json"], ["--secrets-from", "x"]] {
        let out = run(&[
            "render",
            &fixture("example.yaml"),
            "--gitops",
            "unused",
            extra[0],
            extra[1],
        ]);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(
            text(&out.stderr).contains("--gitops cannot be combined"),
            "{extra:?}"
        );
    }
}

/// `import-helm` with the arguments recorded in the golden import's header writes it again.
#[test]
fn import_helm_with_environments_writes_the_cncf_fixture() {
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let fixture_text =
        std::fs::read_to_string(root.join("fixtures/helm/cncf-imported.yaml")).expect("fixture");
    let header = fixture_text.lines().next().expect("header");
    let args = header
        .strip_prefix("# Imported by devstats-k8s import-helm from ")
        .and_then(|h| h.strip_suffix("; edit freely."))
        .expect("header format");
    let mut argv: Vec<String> = vec!["import-helm".into()];
    argv.extend(args.split(' ').map(|a| a.trim_matches('\'').to_owned()));
    let out = Command::new(env!("CARGO_BIN_EXE_devstats-k8s"))
        .current_dir(&root)
        .args(&argv)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout) == fixture_text,
        "import-helm does not reproduce fixtures/helm/cncf-imported.yaml"
    );
}
