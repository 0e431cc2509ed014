//! The golden CNCF import's `prod` and `test` environments (`fixtures/helm/cncf-imported.yaml`)
//! must reproduce the chart's prod and test installs (moved from devstats-model's
//! `tests/environments.rs` with the import).

use std::collections::BTreeSet;

use devstats_import::{ImportOptions, import, parse_env_set, parse_set};
use devstats_model::{Deployment, LoadError, Model, Role, load, load_env};

/// The golden import (the chart-compatible CNCF model with its environments).
const CNCF: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/helm/cncf-imported.yaml");
const VALUES: &str = include_str!("../../fixtures/helm/values.yaml");
const PROJECTS: &str =
    include_str!("../../fixtures/upstream/cncf_devstats-docker-images__devstats-helm__projects.yaml");

type TestResult = Result<(), Box<dyn std::error::Error>>;

type Sets = Vec<(String, String)>;

/// The `--set`s and `--env-set`s recorded in the fixture's header comment.
fn header_args() -> Result<(Sets, Sets), Box<dyn std::error::Error>> {
    let text = std::fs::read_to_string(CNCF)?;
    let header = text.lines().next().ok_or("no header")?;
    let body = header
        .strip_suffix("; edit freely.")
        .ok_or("header without its end")?;
    let (mut base, mut test) = (Vec::new(), Vec::new());
    let words: Vec<&str> = body.split(' ').collect();
    for pair in words.windows(2) {
        let arg = pair[1].trim_matches('\'');
        match pair[0] {
            "--set" => base.extend(parse_set(arg)?),
            "--env-set" => {
                let (name, sets) = parse_env_set(arg)?;
                assert_eq!(name, "test");
                test.extend(sets);
            }
            _ => {}
        }
    }
    Ok((base, test))
}

fn import_with(sets: Vec<(String, String)>) -> Result<Model, Box<dyn std::error::Error>> {
    let opts = ImportOptions {
        sets,
        projects_yaml: Some(PROJECTS.to_owned()),
        recompute_schedules: false,
    };
    Ok(import(VALUES, &opts)?.model)
}

fn text(e: &LoadError) -> String {
    e.to_string()
}

#[test]
fn cncf_default_environment_is_prod_and_equals_the_prod_install() -> TestResult {
    let path = std::path::Path::new(CNCF);
    let default = load(path).map_err(|e| text(&e))?;
    let prod = load_env(path, Some("prod")).map_err(|e| text(&e))?;
    assert_eq!(default, prod);
    let (base_sets, _) = header_args()?;
    let chart = import_with(base_sets)?;
    assert_eq!(prod.instance, chart.instance);
    assert_eq!(prod.foundations, chart.foundations);
    // Projects are shared between environments; they differ from a prod-only import only in the
    // suspension of projects prod does not deploy (the test-only ones, suspended on prod only).
    for (a, b) in prod.projects.iter().zip(&chart.projects) {
        if a != b {
            assert_eq!(prod.deployment(a), Deployment::None, "{}", a.name);
            assert_eq!(a.suspended, !b.suspended, "{}", a.name);
        }
        assert_eq!(prod.deployment(a), chart.deployment(b));
    }
    assert_eq!(prod.schedules()?, chart.schedules()?);
    Ok(())
}

#[test]
fn cncf_test_environment_reproduces_the_test_install() -> TestResult {
    let test = load_env(std::path::Path::new(CNCF), Some("test")).map_err(|e| text(&e))?;
    let i = &test.instance;
    assert_eq!(i.name.as_str(), "test");
    assert_eq!(i.namespace.as_str(), "devstats-test");
    assert_eq!(i.role, Role::Test);
    assert_eq!(i.ingress.class_name.as_str(), "nginx-test");
    assert_eq!(i.ingress.issuer.name.as_str(), "letsencrypt-test");
    assert_eq!(i.images.provision.as_str(), "lukaszgryglicki/devstats-test");
    assert_eq!(i.images.affiliations.as_str(), "lukaszgryglicki/devstats-test");
    assert_eq!(i.images.sync.as_str(), "lukaszgryglicki/devstats-minimal-test");
    assert_eq!(i.images.api.as_str(), "lukaszgryglicki/devstats-api-test");
    let served: Vec<&str> = i.foundations.iter().map(|f| f.as_str()).collect();
    assert_eq!(served, ["test"]);
    assert_eq!(
        test.foundation("test").map(|f| f.site_name().as_str()),
        Some("test")
    );

    // Served projects: exactly the chart's projects flagged for domain 0 (the test domain).
    let values: serde_json::Value = serde_saphyr::from_str(VALUES)?;
    let chart_test: BTreeSet<String> = values["projects"]
        .as_array()
        .ok_or("no projects")?
        .iter()
        .filter(|p| p["domains"][0].as_u64() == Some(1))
        .filter_map(|p| p["proj"].as_str().map(str::to_owned))
        .collect();
    let ours: BTreeSet<String> = test
        .projects
        .iter()
        .filter(|p| test.deployment(p) == Deployment::Full)
        .map(|p| p.name.to_string())
        .collect();
    assert_eq!(ours, chart_test);
    assert_eq!(ours.len(), 12);
    // They run: not suspended, and enabled for the tools by the projects override.
    for p in test.projects.iter().filter(|p| ours.contains(p.name.as_str())) {
        assert!(!p.suspended, "{} is suspended on test", p.name);
        assert!(
            i.tools.projects_override.contains(&format!("+{}", p.name)),
            "{} is not enabled by projectsOverride",
            p.name
        );
    }
    // Schedules: computed for the test role (half a period after prod).
    assert_eq!(test.schedules()?.len(), 12);

    // The overlay reproduces what importing the test install directly gives.
    let (mut sets, test_sets) = header_args()?;
    sets.extend(test_sets);
    let chart = import_with(sets)?;
    assert_eq!(test.instance, chart.instance);
    Ok(())
}
