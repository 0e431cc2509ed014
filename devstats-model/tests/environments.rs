//! Environments: a base instance plus named overlays, resolved on the located tree.
//!
//! Every problem of an overlay or of a merged instance must be located where it was written. (That
//! the golden CNCF import's `prod` and `test` environments reproduce the chart's prod and test
//! installs is tested by devstats-import's `tests/import_environments.rs`.)

use devstats_model::{
    Deployment, LoadError, Role, load_environments, parse_environments, parse_str, parse_str_env,
};

/// The golden import (the chart-compatible CNCF model with its environments).
const CNCF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/helm/cncf-imported.yaml");
const EXAMPLE: &str = include_str!("../../fixtures/example.yaml");

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn text(e: &LoadError) -> String {
    e.to_string()
}

#[test]
fn every_environment_resolves_in_file_order() -> TestResult {
    let envs = load_environments(std::path::Path::new(CNCF)).map_err(|e| text(&e))?;
    let names: Vec<(&str, bool)> = envs.iter().map(|e| (e.name.as_str(), e.default)).collect();
    assert_eq!(names, [("prod", true), ("test", false)]);
    assert!(envs.iter().all(|e| e.declared));
    // A file without environments has one, named after its instance.
    let one = parse_environments("example.yaml", &without_environments()).map_err(|e| text(&e))?;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].name, "example");
    assert!(!one[0].declared && one[0].default);
    Ok(())
}

/// The example model without its environments block.
fn without_environments() -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in EXAMPLE.lines() {
        if line.starts_with("environments:") {
            skipping = true;
            continue;
        }
        if skipping && !line.starts_with(' ') && !line.starts_with('#') {
            skipping = false;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The example model (without environments) with `block` as its environments block, inserted
/// right after the instance.
fn with_environments(block: &str) -> String {
    let base = without_environments();
    let at = base.find("\nfoundations:").map_or(base.len(), |i| i + 1);
    format!("{}{}{}", &base[..at], block, &base[at..])
}

fn line_of(src: &str, needle: &str) -> usize {
    src.lines().position(|l| l.contains(needle)).map_or(0, |i| i + 1)
}

#[test]
fn a_file_without_environments_loads_as_before() -> TestResult {
    let src = without_environments();
    let m = parse_str("example.yaml", &src).map_err(|e| text(&e))?;
    assert_eq!(m.instance.name.as_str(), "example");
    let err = parse_str_env("example.yaml", &src, Some("test"))
        .err()
        .ok_or("--env accepted without environments")?;
    assert!(text(&err).contains("defines no environments"), "{}", text(&err));
    Ok(())
}

#[test]
fn overlays_deep_merge_and_empty_ones_keep_the_base() -> TestResult {
    let src = with_environments(
        "environments:\n  default: prod\n  prod:\n  test:\n    namespace: devstats-example-test\n    role: test\n    \
         ingress:\n      issuer: {name: letsencrypt-staging}\n    patroni: {replicas: 1}\n    \
         projects: {only: [kubernetes, all]}\n    resources: {sync: null}\n",
    );
    let base = parse_str("m.yaml", &without_environments()).map_err(|e| text(&e))?;
    let prod = parse_str_env("m.yaml", &src, None).map_err(|e| text(&e))?;
    assert_eq!(prod, base, "an empty environment is the base as is");
    let test = parse_str_env("m.yaml", &src, Some("test")).map_err(|e| text(&e))?;
    let i = &test.instance;
    assert_eq!(i.namespace.as_str(), "devstats-example-test");
    assert_eq!(i.role, Role::Test);
    // Mappings merge key by key: the issuer's kind comes from the base.
    assert_eq!(i.ingress.issuer.name.as_str(), "letsencrypt-staging");
    assert_eq!(i.ingress.issuer.kind, base.instance.ingress.issuer.kind);
    assert_eq!(i.ingress.class_name, base.instance.ingress.class_name);
    assert_eq!(i.patroni.replicas, 1);
    assert_eq!(i.patroni.loop_wait, base.instance.patroni.loop_wait);
    assert_eq!(i.resources.sync, None, "null unsets an optional value");
    assert_eq!(i.resources.grafana, base.instance.resources.grafana);
    let served: Vec<&str> = test
        .projects
        .iter()
        .filter(|p| test.deployment(p) == Deployment::Full)
        .map(|p| p.name.as_str())
        .collect();
    assert_eq!(served, ["kubernetes", "all"]);
    // Half a period after prod.
    let (ps, ts) = (base.schedules()?, test.schedules()?);
    assert_ne!(ps.get("kubernetes"), ts.get("kubernetes"));
    Ok(())
}

#[test]
fn unknown_fields_and_wrong_types_in_an_overlay_are_located() -> TestResult {
    let src = with_environments(
        "environments:\n  default: prod\n  prod: {}\n  test:\n    namespce: devstats-test\n    \
         patroni: {replicas: many}\n    ingress: {clasName: nginx-test}\n",
    );
    let err = parse_str_env("m.yaml", &src, Some("test"))
        .err()
        .ok_or("accepted")?;
    let t = text(&err);
    let l = line_of(&src, "namespce:");
    assert!(
        t.contains(&format!(
            "m.yaml:{l}:5: `environments.test.namespce`: unknown field `namespce`; did you mean `namespace`?"
        )),
        "{t}"
    );
    assert!(
        t.contains("`environments.test.patroni.replicas`: expected a whole number"),
        "{t}"
    );
    assert!(t.contains("did you mean `className`?"), "{t}");
    // Found before any environment is merged: reported once, whichever environment is selected.
    let all = parse_environments("m.yaml", &src).err().ok_or("accepted")?;
    assert_eq!(text(&all), t);
    // The list of allowed fields grows with the model: not part of the snapshot.
    let allowed = regex::Regex::new(r"\(allowed: [a-zA-Z, ]+\)")?;
    insta::assert_snapshot!("overlay-structure", allowed.replace_all(&t, "(allowed: …)"));
    Ok(())
}

#[test]
fn required_fields_left_unset_are_reported_per_environment() -> TestResult {
    // The base leaves the namespace to the environments; `test` forgets it.
    let src = with_environments(
        "environments:\n  default: prod\n  prod:\n    namespace: devstats-example\n  test:\n    role: test\n",
    )
    .replacen("  namespace: devstats-example\n", "", 1);
    let prod = parse_str_env("m.yaml", &src, Some("prod")).map_err(|e| text(&e))?;
    assert_eq!(prod.instance.namespace.as_str(), "devstats-example");
    let err = parse_environments("m.yaml", &src).err().ok_or("accepted")?;
    let t = text(&err);
    let l = line_of(&src, "instance:") + 1;
    assert!(
        t.contains(&format!(
            "m.yaml:{l}:3: `instance.namespace`: missing required field `namespace` (environment `test`)"
        )),
        "{t}"
    );
    assert!(!t.contains("environment `prod`"), "{t}");
    insta::assert_snapshot!("required-per-environment", t);
    Ok(())
}

#[test]
fn rule_violations_point_at_the_overlay_or_the_base() -> TestResult {
    let src = with_environments(
        "environments:\n  default: prod\n  prod: {}\n  test:\n    ingress:\n      className: Nginx_Test\n    \
         projects:\n      only: [kubernetes, kubernets]\n",
    )
    .replacen("postgresSize: 200Gi", "postgresSize: lots", 1);
    let err = parse_environments("m.yaml", &src).err().ok_or("accepted")?;
    let t = text(&err);
    let class = line_of(&src, "className: Nginx_Test");
    assert!(
        t.contains(&format!(
            "m.yaml:{class}:18: `environments.test.ingress.className`"
        )),
        "{t}"
    );
    assert!(
        t.contains(
            "`environments.test.projects.only[1]`: unknown project `kubernets`; did you mean `kubernetes`?"
        ),
        "{t}"
    );
    // A base problem found in every environment is reported once, without an environment.
    let size = line_of(&src, "postgresSize: lots");
    assert_eq!(t.matches("instance.storage.postgresSize").count(), 1, "{t}");
    assert!(t.contains(&format!("m.yaml:{size}:")), "{t}");
    insta::assert_snapshot!("rules-in-overlays", t);
    Ok(())
}

#[test]
fn selecting_an_undefined_environment_lists_the_defined_ones() -> TestResult {
    let src = with_environments("environments:\n  default: prod\n  prod: {}\n  test: {role: test}\n");
    let err = parse_str_env("m.yaml", &src, Some("tets"))
        .err()
        .ok_or("accepted")?;
    let t = text(&err);
    let l = line_of(&src, "environments:");
    assert!(
        t.contains(&format!(
            "m.yaml:{l}:1: `environments`: the requested environment `tets` is not defined; did you mean `test`? (defined environments: `prod`, `test`)"
        )),
        "{t}"
    );
    let bad_default =
        with_environments("environments:\n  default: staging\n  prod: {}\n  test: {role: test}\n");
    let t = text(&parse_str("m.yaml", &bad_default).err().ok_or("accepted")?);
    assert!(
        t.contains("`environments.default`: the default environment `staging` is not defined"),
        "{t}"
    );
    let no_default = with_environments("environments:\n  prod: {}\n");
    let t = text(&parse_str("m.yaml", &no_default).err().ok_or("accepted")?);
    assert!(t.contains("missing required field `default`"), "{t}");
    let bad_name = with_environments("environments:\n  default: prod\n  prod: {}\n  Test_1: {}\n");
    let t = text(&parse_str("m.yaml", &bad_name).err().ok_or("accepted")?);
    assert!(
        t.contains("`environments.Test_1`: environment name `Test_1`"),
        "{t}"
    );
    Ok(())
}

#[test]
fn the_schema_describes_environments_with_optional_fields() {
    let schema = devstats_model::json_schema();
    let env = &schema["properties"]["environments"];
    assert_eq!(env["required"][0], "default");
    let overlay = &schema["$defs"]["InstanceOverlay"];
    assert!(overlay["properties"]["namespace"].is_object());
    assert!(overlay.get("required").is_none());
    // Nested definitions with required fields get relaxed copies too.
    assert!(schema["$defs"]["IssuerRefOverlay"].get("required").is_none());
    assert!(schema["$defs"]["IssuerRef"]["required"].is_array());
    assert_eq!(
        overlay["properties"]["ingress"]["$ref"],
        "#/$defs/IngressSettingsOverlay"
    );
}
