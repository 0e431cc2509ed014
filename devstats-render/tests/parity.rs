//! Parity with the real devstats-helm chart: import the chart's values (test = chart defaults;
//! prod = the overrides of `fixtures/helm/SOURCES.md`), render, and compare with the real Helm
//! renders. Every chart object must have a counterpart with equal functional fields; every
//! difference must be a deviation documented in `docs/helm-parity.md`.

use std::path::PathBuf;

use devstats_import::{ImportOptions, import};
use devstats_model::{Deployment, Model};
use devstats_parity::{self as parity, ParityContext};
use devstats_render::{Options, render};

fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/")).join(rel)
}

fn imported(sets: &[(&str, &str)]) -> Model {
    let values = std::fs::read_to_string(fixture("helm/values.yaml")).expect("values.yaml");
    let opts = ImportOptions {
        sets: sets
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        projects_yaml: None,
        recompute_schedules: false,
    };
    // Hardening is opt-in for an imported installation: the import writes the chart-compatible
    // settings, and the parity below holds with them as imported.
    let model = import(&values, &opts).expect("the chart's values import").model;
    // The imported model must be a valid model file.
    let yaml = model.to_yaml().expect("serializes");
    devstats_model::parse_str("imported.yaml", &yaml).expect("the imported model validates")
}

fn context(model: &Model) -> ParityContext {
    let mut ctx = ParityContext::new(model.instance.namespace.as_str());
    for p in &model.projects {
        ctx = match model.deployment(p) {
            Deployment::Full => ctx,
            Deployment::VolumeOnly => ctx.archived(p.name.as_str()),
            Deployment::None => ctx.not_served(p.name.as_str()),
        };
    }
    ctx
}

fn check(model: &Model, chart_render: &str) -> parity::ParityReport {
    let set = render(model, &Options::default()).expect("renders");
    let ours: Vec<serde_json::Value> = set
        .objects
        .iter()
        .map(|r| serde_json::to_value(&r.object).expect("json"))
        .collect();
    let chart = parity::load_chart_render(&fixture(chart_render));
    let report = parity::compare(&chart, &ours, &context(model));
    assert!(report.is_clean(), "{}", report.summary());
    parity::assert_documented(&report);
    report
}

#[test]
fn parity_with_the_chart_test_defaults() {
    let model = imported(&[]);
    let report = check(&model, "helm/rendered-test-defaults.yaml.gz");
    assert!(
        report.compared > 1000,
        "compared only {} objects",
        report.compared
    );
}

#[test]
fn parity_with_the_chart_prod_render() {
    let model = imported(&[
        ("namespace", "devstats-prod"),
        ("testServer", ""),
        ("prodServer", "1"),
        ("ingressClass", "nginx-prod"),
    ]);
    let report = check(&model, "helm/rendered-prod-defaults.yaml.gz");
    assert!(
        report.compared > 1000,
        "compared only {} objects",
        report.compared
    );
}

fn prod() -> Model {
    imported(&[
        ("namespace", "devstats-prod"),
        ("testServer", ""),
        ("prodServer", "1"),
        ("ingressClass", "nginx-prod"),
    ])
}

fn report_for(model: &Model, chart_render: &str) -> parity::ParityReport {
    let set = render(model, &Options::default()).expect("renders");
    let ours: Vec<serde_json::Value> = set
        .objects
        .iter()
        .map(|r| serde_json::to_value(&r.object).expect("json"))
        .collect();
    parity::compare(
        &parity::load_chart_render(&fixture(chart_render)),
        &ours,
        &context(model),
    )
}

/// The parity test must fail when a functional field is altered in our model: an image, a
/// schedule, an env value, a volume size, a host.
#[test]
fn parity_fails_when_a_functional_field_changes() {
    let base = prod();
    let chart = "helm/rendered-prod-defaults.yaml.gz";
    type Mutation = (&'static str, fn(&mut Model));
    let mutations: [Mutation; 6] = [
        ("sync image", |m| {
            m.instance.images.sync = "lukaszgryglicki/devstats-minimal-prod:other".into()
        }),
        ("grafana image", |m| {
            m.instance.images.grafana = "example/grafana".into()
        }),
        ("a schedule", |m| {
            let p = m
                .projects
                .iter_mut()
                .find(|p| p.name.as_str() == "prometheus")
                .expect("prometheus");
            p.schedule.sync = Some("5 * * * *".into());
        }),
        ("an env value", |m| m.instance.tools.git_commits_batch = 999),
        ("a volume", |m| {
            let p = m
                .projects
                .iter_mut()
                .find(|p| p.name.as_str() == "kubernetes")
                .expect("kubernetes");
            p.disk = "51Gi".into();
        }),
        ("a host", |m| {
            let p = m
                .projects
                .iter_mut()
                .find(|p| p.name.as_str() == "prometheus")
                .expect("prometheus");
            p.url = Some("prom".into());
        }),
    ];
    for (what, mutate) in mutations {
        let mut m = base.clone();
        mutate(&mut m);
        let report = report_for(&m, chart);
        assert!(
            !report.is_clean(),
            "changing {what} went unnoticed by the parity comparison"
        );
    }
}

#[test]
fn parity_reports_its_deviations() {
    // The import keeps the live chart's Patroni env (`patroni.chartEnv`), so that a takeover
    // restarts nothing: neither Patroni deviation is used.
    let report = report_for(&prod(), "helm/rendered-prod-defaults.yaml.gz");
    let used: Vec<&str> = report.deviations_used.keys().copied().collect();
    for id in [
        "provision-as-job",
        "served-projects-only",
        "instance-namespace-only",
        "secrets-not-rendered",
    ] {
        assert!(used.contains(&id), "deviation {id} not exercised; used: {used:?}");
    }
    for id in ["integer-env-values", "patroni-timing"] {
        assert!(
            !used.contains(&id),
            "deviation {id} used by the import; used: {used:?}"
        );
    }
    // Without it (the model after the takeover), both are.
    let mut after = prod();
    assert!(after.instance.patroni.chart_env.is_some());
    after.instance.patroni.chart_env = None;
    let report = report_for(&after, "helm/rendered-prod-defaults.yaml.gz");
    let used: Vec<&str> = report.deviations_used.keys().copied().collect();
    for id in ["integer-env-values", "patroni-timing"] {
        assert!(used.contains(&id), "deviation {id} not exercised; used: {used:?}");
    }
}
