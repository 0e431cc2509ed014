//! The binary as a user runs it: exit codes, messages, output streams.

use std::path::PathBuf;
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_devstats-k8s"))
}

fn fixture(rel: &str) -> String {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/"))
        .join(rel)
        .display()
        .to_string()
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn validate_reports_counts() {
    let out = run(&["validate", &fixture("example.yaml")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 foundations, 4 projects"), "{stdout}");
}

#[test]
fn validate_cncf_reports_283_projects() {
    let out = run(&["validate", &fixture("cncf.yaml")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("283 projects"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn every_invalid_fixture_exits_2_with_a_location() {
    let dir = PathBuf::from(fixture("invalid"));
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("dir") {
        let path = entry.expect("entry").path();
        let p = path.display().to_string();
        let out = run(&["validate", &p]);
        assert_eq!(out.status.code(), Some(2), "{p}: {}", text(&out.stderr));
        let err = text(&out.stderr);
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        if stem != "empty" {
            assert!(
                err.contains(&format!("{p}:")),
                "{p}: no file:line:column in\n{err}"
            );
        }
        assert!(!err.contains("panicked"), "{p} panicked:\n{err}");
        let out = run(&["render", &p]);
        assert_eq!(out.status.code(), Some(2), "render {p}");
        assert!(
            out.stdout.is_empty(),
            "render {p} printed objects although the model is invalid"
        );
        n += 1;
    }
    assert!(n >= 20);
}

#[test]
fn render_writes_yaml_and_lists_required_secrets() {
    let out = run(&["render", &fixture("example.yaml")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("---\napiVersion: v1\nkind: Namespace\n"),
        "{}",
        &stdout[..200.min(stdout.len())]
    );
    assert!(
        text(&out.stderr).contains("pg-db"),
        "required secrets are listed on stderr"
    );
    assert!(
        !stdout.contains("kind: Secret"),
        "no Secret without --secrets-from"
    );
}

#[test]
fn render_json_is_a_v1_list() {
    let out = run(&["render", &fixture("example.yaml"), "-o", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    assert_eq!(v["kind"], "List");
    assert!(v["items"].as_array().is_some_and(|a| a.len() > 10));
}

#[test]
fn render_selection_errors_exit_2() {
    let out = run(&["render", &fixture("example.yaml"), "--only", "grafanas"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid value 'grafanas' for '--only")
            && text(&out.stderr).contains("similar value exists: 'grafana'"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["render", &fixture("example.yaml"), "--project", "kubernets"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("did you mean 'kubernetes'"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn render_with_secrets_renders_data_but_never_prints_it_elsewhere() {
    let dir = std::env::temp_dir().join(format!("devstats-secrets-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    for key in [
        "PG_ADMIN_USER",
        "PG_HOST",
        "PG_HOST_RO",
        "PG_PASS",
        "PG_PASS_RO",
        "PG_PASS_TEAM",
        "PG_PASS_REP",
        "PG_PORT",
        "PG_USER_RO",
        "GHA2DB_GITHUB_OAUTH",
        "GF_SECURITY_ADMIN_USER",
        "GF_SECURITY_ADMIN_PASSWORD",
    ] {
        std::fs::write(dir.join(format!("{key}.secret")), format!("s3cr3t-{key}")).expect("write");
    }
    let out = run(&[
        "render",
        &fixture("example.yaml"),
        "--secrets-from",
        &dir.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.matches("kind: Secret").count(), 3);
    assert!(!text(&out.stderr).contains("s3cr3t"));
    // A missing key is an error naming the key, not the values.
    std::fs::remove_file(dir.join("PG_PASS.secret")).expect("rm");
    let out = run(&[
        "render",
        &fixture("example.yaml"),
        "--secrets-from",
        &dir.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("PG_PASS.secret") && !err.contains("s3cr3t"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn schema_is_json() {
    let out = run(&["schema"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert!(v["properties"]["projects"].is_object());
}

#[test]
fn help_has_examples() {
    for cmd in [&["--help"][..], &["validate", "--help"], &["render", "--help"]] {
        let out = run(cmd);
        assert_eq!(out.status.code(), Some(0));
        assert!(text(&out.stdout).contains("Example"), "{cmd:?}");
    }
}

#[test]
fn bad_arguments_exit_2() {
    assert_eq!(run(&["render"]).status.code(), Some(2));
    assert_eq!(run(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(
        run(&["validate", "/nonexistent/model.yaml"]).status.code(),
        Some(2)
    );
}

/// The sibling charts' values: GraphQL imports to a model that loads; LF is refused with exit 2,
/// the file:line:column of the deciding key and the reason; nothing is written.
#[test]
fn import_helm_sibling_dialects() {
    let dir = std::env::temp_dir().join(format!("devstats-import-dialects-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // `import-helm fixtures/helm/{name}-values.yaml -o {dir}/{name}.yaml`: (exit code, stderr, written).
    let import_helm = |name: &str| {
        let out_path = dir.join(format!("{name}.yaml"));
        let values = fixture(&format!("helm/{name}-values.yaml"));
        let out = run(&["import-helm", &values, "-o", &out_path.display().to_string()]);
        (out.status.code(), text(&out.stderr), out_path.exists())
    };

    let (code, stderr, written) = import_helm("graphql");
    assert_eq!((code, written), (Some(0), true), "{stderr}");
    assert!(stderr.contains("cncf/devstats-helm-graphql values"), "{stderr}");
    assert!(stderr.contains("1 foundations, 5 projects (5 served"), "{stderr}");

    let (code, stderr, written) = import_helm("lf");
    assert_eq!((code, written), (Some(2), false), "{stderr}");
    // The report is wrapped to the terminal width: compare its words.
    let flat = stderr
        .split_whitespace()
        .filter(|w| !matches!(*w, "│" | "×"))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(flat.contains("lf-values.yaml:144:14: `serviceType`:"), "{stderr}");
    assert!(flat.contains("devstats-helm-lf"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn completions_and_man_page_come_from_the_flags() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        // Subcommands and long flags (fish writes them as `-l take-over`).
        for word in ["apply", "completions", "take-over", "migrate-patroni-dcs"] {
            assert!(script.contains(word), "{shell}: {word}");
        }
    }
    let out = run(&["completions", "powershell-9"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["man"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert!(
        page.starts_with(".ie") || page.contains(".TH devstats-k8s"),
        "roff"
    );
    for section in [
        "\"DEVSTATS-K8S APPLY\"",
        "\"DEVSTATS-K8S RUN\"",
        "migrate\\-patroni\\-dcs",
    ] {
        assert!(page.contains(section), "{section}");
    }
}

#[test]
fn export_and_import_resource_round_trip_the_cncf_prod_model() {
    let dir = std::env::temp_dir().join(format!("devstats-resource-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let res = dir.join("prod-ds.yaml");
    let model = dir.join("prod.yaml");
    let out = run(&[
        "export-resource",
        &fixture("cncf.yaml"),
        "--env",
        "prod",
        "-o",
        &res.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let written = std::fs::read_to_string(&res).expect("resource");
    assert!(
        written.starts_with("apiVersion: devstats.cncf.io/v1alpha1\nkind: DevStats\nmetadata:\n  name: prod\n  namespace: devstats-prod\n"),
        "{}",
        &written[..200.min(written.len())]
    );
    let out = run(&[
        "import-resource",
        &res.display().to_string(),
        "-o",
        &model.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let original =
        devstats_model::load_env(std::path::Path::new(&fixture("cncf.yaml")), Some("prod")).expect("prod");
    let back = devstats_model::load(&model).expect("imported model loads");
    assert!(back == original, "model -> resource -> model changed the model");

    // --name; a spec the model rejects: exit 2, every problem under `spec.`.
    let out = run(&[
        "export-resource",
        &fixture("cncf.yaml"),
        "--env",
        "test",
        "--name",
        "devstats",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("  name: devstats\n  namespace: devstats-test\n"),
        "{}",
        &stdout[..200]
    );
    let bad = dir.join("bad.yaml");
    std::fs::write(
        &bad,
        written.replacen("    role: prod\n", "    role: staging\n", 1),
    )
    .expect("write");
    let out = run(&["import-resource", &bad.display().to_string()]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("`spec.instance.role`"), "{err}");
    assert!(err.contains("allowed: test, prod"), "{err}");
    assert!(out.stdout.is_empty());
    let out = run(&["import-resource", &fixture("example.yaml")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not a DevStats"),
        "{}",
        text(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn install_prints_the_operator_install() {
    let out = run(&["install", &fixture("cncf.yaml")]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\n"),
        "{}",
        &stdout[..200]
    );
    // A Role in each served namespace of both environments and the operator's own.
    for ns in ["devstats-operator", "devstats-prod", "devstats-test"] {
        assert!(
            stdout.contains(&format!("kind: Role\nmetadata:\n  labels:\n    app.kubernetes.io/managed-by: devstats-k8s\n    app.kubernetes.io/name: devstats-operator\n    app.kubernetes.io/part-of: devstats\n    app.kubernetes.io/version: \"{}\"\n  name: devstats-operator\n  namespace: {ns}\n", env!("CARGO_PKG_VERSION"))),
            "no Role in {ns}"
        );
    }
    let out = run(&["install", &fixture("cncf.yaml"), "--env", "test"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("namespace: devstats-prod\n"));
    let out = run(&["install", &fixture("cncf.yaml"), "--env", "nope"]);
    assert_eq!(out.status.code(), Some(2));
}
