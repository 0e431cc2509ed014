//! Import of the real `cncf/devstats-helm` values into the model.
//!
//! `fixtures/helm/cncf-imported.yaml` is the golden import of the CNCF production chart values. Regenerate it with
//!
//! ```sh
//! UPDATE_FIXTURES=1 cargo test -p devstats-import --test helm_import
//! ```

use devstats_import::{
    Dialect, EnvironmentImport, ImportError, ImportOptions, Imported, header_with_environments, import,
    import_environments, parse_env_set, parse_set,
};
use devstats_model::{Deployment, Model, ProjectStatus, Role, parse_str};

const VALUES: &str = include_str!("../../fixtures/helm/values.yaml");
/// The sibling charts' values (fixtures/helm/SOURCES.md).
const GRAPHQL_VALUES: &str = include_str!("../../fixtures/helm/graphql-values.yaml");
const EXAMPLE_VALUES: &str = include_str!("../../fixtures/helm/example-values.yaml");
const LF_VALUES: &str = include_str!("../../fixtures/helm/lf-values.yaml");
const PROJECTS: &str =
    include_str!("../../fixtures/upstream/cncf_devstats-docker-images__devstats-helm__projects.yaml");
const CNCF_FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/helm/cncf-imported.yaml");

/// Paths as written in the fixture's header (relative to the workspace root).
const VALUES_PATH: &str = "fixtures/helm/values.yaml";
const PROJECTS_PATH: &str = "fixtures/upstream/cncf_devstats-docker-images__devstats-helm__projects.yaml";

/// The production install as the runbooks do it: prod server, prod namespace and ingress class,
/// domains and static sites 1.. (CNCF, CDF, GraphQL; the test domain is the test instance's), the
/// prod API image, and the backups job's own prod flags.
const PROD_SETS: &[&str] = &[
    "namespace=devstats-prod",
    "testServer=",
    "prodServer=1",
    "ingressClass=nginx-prod",
    "indexDomainsFrom=1",
    "indexStaticsFrom=1",
    "apiImage=lukaszgryglicki/devstats-api-prod",
    "backupsTestServer=",
    "backupsProdServer=1",
];

/// The test install as the runbooks do it, on top of the prod settings: the test namespace and
/// server role, ingress class `nginx-test`, the test issuer (`sslEnv=test` →
/// `letsencrypt-test`), only domain and static site 0 (the test foundation), the test images and
/// the backups job's test flags.
const TEST_ENV_SETS: &[&str] = &[
    "test:namespace=devstats-test",
    "test:testServer=1",
    "test:prodServer=",
    "test:ingressClass=nginx-test",
    "test:sslEnv=test",
    "test:indexDomainsFrom=0",
    "test:indexDomainsTo=1",
    "test:indexStaticsFrom=0",
    "test:indexStaticsTo=1",
    "test:provisionImage=lukaszgryglicki/devstats-test",
    "test:affiliationsImage=lukaszgryglicki/devstats-test",
    "test:syncImage=lukaszgryglicki/devstats-minimal-test",
    "test:apiImage=lukaszgryglicki/devstats-api-test",
    "test:backupsTestServer=1",
    "test:backupsProdServer=",
    r"test:projectsOverride=+azf\,+cii\,+cncf\,+fn\,+godotengine\,+linux\,+opencontainers\,+openfaas\,+openwhisk\,+riff\,+sam\,+zephyr",
];

type TestResult = Result<(), Box<dyn std::error::Error>>;

fn sets(args: &[&str]) -> Result<Vec<(String, String)>, ImportError> {
    let mut out = Vec::new();
    for a in args {
        out.extend(parse_set(a)?);
    }
    Ok(out)
}

/// Imports `values` with the `--set`s `set` (no projects.yaml).
fn import_with(values: &str, set: &[&str]) -> Result<Imported, Box<dyn std::error::Error>> {
    let opts = ImportOptions {
        sets: sets(set)?,
        ..ImportOptions::default()
    };
    Ok(import(values, &opts)?)
}

/// The error of importing `values` with the `--set`s `set`; `what` names what must not import.
fn import_err(values: &str, set: &[&str], what: &str) -> Result<ImportError, Box<dyn std::error::Error>> {
    match import_with(values, set) {
        Ok(_) => Err(format!("imported {what}").into()),
        Err(e) => Ok(*e.downcast::<ImportError>()?),
    }
}

fn import_prod() -> Result<Imported, ImportError> {
    import(
        VALUES,
        &ImportOptions {
            sets: sets(PROD_SETS)?,
            projects_yaml: Some(PROJECTS.to_owned()),
            recompute_schedules: false,
        },
    )
}

/// The CNCF model: the prod install as the base and default environment `prod`, plus `test`.
fn import_cncf() -> Result<Imported, ImportError> {
    let mut envs: Vec<EnvironmentImport> = Vec::new();
    for arg in TEST_ENV_SETS {
        let (name, pairs) = parse_env_set(arg)?;
        match envs.iter_mut().find(|e| e.name == name) {
            Some(e) => e.sets.extend(pairs),
            None => envs.push(EnvironmentImport { name, sets: pairs }),
        }
    }
    import_environments(
        VALUES,
        &ImportOptions {
            sets: sets(PROD_SETS)?,
            projects_yaml: Some(PROJECTS.to_owned()),
            recompute_schedules: false,
        },
        "prod",
        &envs,
    )
}

/// The model file text exactly as `devstats-k8s import-helm` writes it.
fn prod_text() -> Result<String, Box<dyn std::error::Error>> {
    let imported = import_cncf()?;
    let sets: Vec<String> = PROD_SETS.iter().map(|s| (*s).to_owned()).collect();
    let env_sets: Vec<String> = TEST_ENV_SETS.iter().map(|s| (*s).to_owned()).collect();
    let mut text = header_with_environments(
        VALUES_PATH,
        Some(PROJECTS_PATH),
        &sets,
        false,
        Some("prod"),
        &env_sets,
    );
    text.push_str(&imported.to_yaml()?);
    Ok(text)
}

/// Serializes and reloads through the validating loader.
fn roundtrip(model: &Model) -> Result<Model, Box<dyn std::error::Error>> {
    let text = model.to_yaml()?;
    let loaded = parse_str("imported.yaml", &text).map_err(|e| e.to_string())?;
    Ok(loaded)
}

#[test]
fn cncf_fixture_is_golden() -> TestResult {
    let text = prod_text()?;
    if std::env::var_os("UPDATE_FIXTURES").is_some() {
        std::fs::write(CNCF_FIXTURE, &text)?;
    }
    let on_disk = std::fs::read_to_string(CNCF_FIXTURE).unwrap_or_default();
    assert!(
        on_disk == text,
        "fixtures/helm/cncf-imported.yaml is not what the import produces; regenerate it with\n  \
         UPDATE_FIXTURES=1 cargo test -p devstats-import --test helm_import\nand review the diff"
    );
    let model = parse_str("fixtures/helm/cncf-imported.yaml", &on_disk).map_err(|e| e.to_string())?;
    assert_eq!(model.projects.len(), 283);
    Ok(())
}

#[test]
fn cncf_environments_import_warnings() -> TestResult {
    let imported = import_cncf()?;
    let env_warnings: Vec<&String> = imported
        .warnings
        .iter()
        .filter(|w| w.starts_with("environment `"))
        .collect();
    eprintln!("{env_warnings:#?}");
    Ok(())
}

#[test]
fn prod_import_matches_the_chart() -> TestResult {
    let imported = import_prod()?;
    let model = roundtrip(&imported.model)?;
    assert_eq!(
        model, imported.model,
        "serialization round trip changes the model"
    );

    assert_eq!(model.instance.name.as_str(), "prod");
    assert_eq!(model.instance.namespace.as_str(), "devstats-prod");
    assert_eq!(model.instance.role, Role::Prod);
    assert_eq!(model.instance.ingress.class_name.as_str(), "nginx-prod");
    let served: Vec<&str> = model.instance.foundations.iter().map(|f| f.as_str()).collect();
    assert_eq!(served, ["cncf", "cdf", "graphql"]);
    let names: Vec<&str> = model.foundations.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["test", "cncf", "cdf", "graphql"]);
    let cncf = model.foundation("cncf").ok_or("no cncf")?;
    assert_eq!(cncf.domain.as_str(), "devstats.cncf.io");
    assert_eq!(cncf.site_name().as_str(), "prod");
    assert_eq!(cncf.aggregate.as_ref().map(|a| a.as_str()), Some("all"));
    assert_eq!(
        model
            .foundation("cdf")
            .and_then(|f| f.aggregate.as_ref())
            .map(|a| a.as_str()),
        Some("allcdf")
    );
    assert_eq!(
        model
            .foundation("graphql")
            .and_then(|f| f.aggregate.as_ref())
            .map(|a| a.as_str()),
        Some("graphql")
    );

    assert_eq!(model.projects.len(), 283);
    let full = model
        .projects
        .iter()
        .filter(|p| model.deployment(p) == Deployment::Full)
        .count();
    assert_eq!(full, 243, "projects fully deployed by prod");
    assert_eq!(model.schedules()?.len(), 243);

    let tekton = model.project("tekton").ok_or("no tekton")?;
    let tf: Vec<&str> = tekton.foundations.iter().map(|f| f.as_str()).collect();
    assert_eq!(tf, ["cncf", "cdf"]);

    let k8s = model.project("kubernetes").ok_or("no kubernetes")?;
    assert_eq!(k8s.url(), "k8s");
    assert_eq!(k8s.database(), "gha");
    assert_eq!(k8s.max_history, 2);
    assert_eq!(k8s.affiliations.skip_update_percent, Some(60));
    assert!(k8s.github.orgs.iter().any(|o| o == "kubernetes-sigs"));
    let sched = model.schedules()?;
    let ks = sched.get("kubernetes").ok_or("no kubernetes schedule")?;
    assert_eq!(ks.sync, "4 0,6,12,18 * * *");
    assert_eq!(ks.affiliations, "0 20 28 * *");

    // The algorithm reproduces every prod schedule: no override is needed.
    let overrides: Vec<&str> = model
        .projects
        .iter()
        .filter(|p| p.schedule.sync.is_some() || p.schedule.affiliations.is_some())
        .map(|p| p.name.as_str())
        .collect();
    assert!(overrides.is_empty(), "schedule overrides: {overrides:?}");
    assert!(
        !imported.warnings.iter().any(|w| w.starts_with("schedules:")),
        "{:?}",
        imported.warnings
    );

    // Statuses: 26 archived in the values + keptn (Archived in projects.yaml, not served).
    let archived = model
        .projects
        .iter()
        .filter(|p| p.status == ProjectStatus::Archived)
        .count();
    assert_eq!(archived, 27);
    let keptn = model.project("keptn").ok_or("no keptn")?;
    assert_eq!(keptn.status, ProjectStatus::Archived);
    assert_eq!(keptn.foundations.first().map(|f| f.as_str()), Some("cncf"));
    assert_eq!(model.deployment(keptn), Deployment::VolumeOnly);
    let prestodb = model.project("prestodb").ok_or("no prestodb")?;
    assert_eq!(prestodb.status, ProjectStatus::Disabled);
    assert_eq!(model.deployment(prestodb), Deployment::None);
    // Test-only projects belong to the test foundation and are not deployed by prod.
    let linux = model.project("linux").ok_or("no linux")?;
    assert_eq!(linux.foundations.first().map(|f| f.as_str()), Some("test"));
    assert_eq!(model.deployment(linux), Deployment::None);
    // openmetrics is Archived in projects.yaml but the chart serves it: kept active, warned.
    let om = model.project("openmetrics").ok_or("no openmetrics")?;
    assert_eq!(model.deployment(om), Deployment::Full);
    assert!(imported.warnings.iter().any(|w| w.contains("`openmetrics`")));
    // curvine is missing from projects.yaml; nodejs and tektoncdf are only there.
    assert!(imported.warnings.iter().any(|w| w.contains("`curvine`")));
    assert!(
        imported
            .warnings
            .iter()
            .any(|w| w.contains("nodejs") && w.contains("tektoncdf"))
    );
    let curvine = model.project("curvine").ok_or("no curvine")?;
    assert_eq!(curvine.github.repos.len(), 1);

    // The prod install sets the backups job's own flags to prod: role follows the instance.
    assert_eq!(model.instance.components.backups.role, None);
    assert_eq!(model.instance.components.backups.schedule.as_str(), "45 3 29 * *");
    Ok(())
}

#[test]
fn chart_defaults_import_and_validate() -> TestResult {
    let imported = import(VALUES, &ImportOptions::default())?;
    let model = roundtrip(&imported.model)?;
    assert_eq!(model.instance.role, Role::Test);
    assert_eq!(model.instance.name.as_str(), "test");
    assert_eq!(model.instance.namespace.as_str(), "devstats-test");
    let served: Vec<&str> = model.instance.foundations.iter().map(|f| f.as_str()).collect();
    assert_eq!(served, ["test", "cncf", "cdf", "graphql"]);
    assert_eq!(model.projects.len(), 283);
    // 243 prod projects + 12 test-only ones.
    assert_eq!(model.summary().served, 255);
    // Without projects.yaml the archived-only projects have no foundation and keptn is disabled.
    assert_eq!(
        model.project("keptn").map(|p| p.status),
        Some(ProjectStatus::Disabled)
    );
    // The test schedules in values.yaml were generated from an older project list: they are kept.
    assert!(model.projects.iter().any(|p| p.schedule.sync.is_some()));
    assert!(imported.warnings.iter().any(|w| w.starts_with("schedules:")));
    assert!(imported.warnings.iter().any(|w| w.contains("no projects.yaml")));

    // --recompute-schedules drops every override.
    let recomputed = import(
        VALUES,
        &ImportOptions {
            recompute_schedules: true,
            ..ImportOptions::default()
        },
    )?;
    assert!(
        recomputed
            .model
            .projects
            .iter()
            .all(|p| p.schedule.sync.is_none() && p.schedule.affiliations.is_none())
    );
    roundtrip(&recomputed.model)?;
    Ok(())
}

#[test]
fn retry_timeout_is_fixed_with_a_warning() -> TestResult {
    let imported = import(VALUES, &ImportOptions::default())?;
    let p = &imported.model.instance.patroni;
    assert_eq!((p.loop_wait, p.ttl), (15, 60));
    assert_eq!(p.retry_timeout, 22);
    assert!(u64::from(p.loop_wait) + 2 * u64::from(p.retry_timeout) <= u64::from(p.ttl));
    // The live pods keep the chart's env until the takeover is done.
    assert_eq!(
        p.chart_env,
        Some(devstats_model::PatroniChartEnv {
            retry_timeout: Some(60),
            float_maximum_lag: true
        })
    );
    assert!(
        imported
            .warnings
            .iter()
            .any(|w| w.contains("loop_wait + 2 × retry_timeout <= ttl") && w.contains("15 + 2 × 60 > 60")),
        "{:?}",
        imported.warnings
    );

    // A consistent setting is kept as is, without warning.
    let ok = import_with(VALUES, &["patroniRetryTimeout=20"])?;
    assert_eq!(ok.model.instance.patroni.retry_timeout, 20);
    assert!(!ok.warnings.iter().any(|w| w.contains("retry_timeout")));
    let chart_env = ok.model.instance.patroni.chart_env.as_ref();
    assert_eq!(chart_env.map(|c| c.retry_timeout), Some(None));
    Ok(())
}

#[test]
fn set_parsing_and_typing() -> TestResult {
    assert_eq!(
        parse_set("namespace=devstats-prod,testServer=,prodServer=1")?,
        [
            ("namespace".to_owned(), "devstats-prod".to_owned()),
            ("testServer".to_owned(), String::new()),
            ("prodServer".to_owned(), "1".to_owned()),
        ]
    );
    assert_eq!(
        parse_set(r"projectsOverride=+cncf\,+linux")?,
        [("projectsOverride".to_owned(), "+cncf,+linux".to_owned())]
    );
    assert!(matches!(parse_set("skipAliases"), Err(ImportError::Set { .. })));
    assert!(matches!(parse_set("a=1,b"), Err(ImportError::Set { .. })));

    let imported = import(
        VALUES,
        &ImportOptions {
            sets: sets(&[
                "skipAliases=1",
                "skipVacuum=0",
                "skipAffiliationsImport=",
                "reportsPod=true",
                "nSyncCPUs=",
                "patroniTtl=90",
                "postgresRandomPageCost=1.5",
                "postgresHotStandby=off",
                "appNodeSelector.node=apps",
                r"dbNodeSelector.kubernetes\.io/hostname=db1",
                "sslEnv=test",
                "giantSync=",
                "backupsOnlyProjects=kubernetes prometheus",
            ])?,
            ..ImportOptions::default()
        },
    )?;
    let m = roundtrip(&imported.model)?;
    let i = &m.instance;
    assert!(!i.ingress.aliases);
    assert_eq!(i.ingress.issuer.name.as_str(), "letsencrypt-test");
    assert!(i.components.vacuum.enabled);
    assert!(i.components.affiliations_import.enabled);
    assert_eq!(i.components.affiliations_import.schedule.as_str(), "10 1 * * *");
    assert!(i.components.reports);
    assert_eq!(i.tools.sync_cpus, None);
    assert_eq!(i.tools.giant_sync, devstats_model::GiantMode::None);
    assert_eq!(i.patroni.ttl, 90);
    assert_eq!(i.patroni.retry_timeout, 37);
    assert!((i.patroni.postgres.random_page_cost - 1.5).abs() < f64::EPSILON);
    assert!(!i.patroni.postgres.hot_standby);
    assert_eq!(i.node_selectors.app.get("node").map(String::as_str), Some("apps"));
    assert_eq!(
        i.node_selectors
            .db
            .get("kubernetes.io/hostname")
            .map(String::as_str),
        Some("db1")
    );
    let only: Vec<&str> = i
        .components
        .backups
        .only_projects
        .iter()
        .map(|n| n.as_str())
        .collect();
    assert_eq!(only, ["kubernetes", "prometheus"]);

    // A bad value names its key.
    let err = import_err(VALUES, &["patroniTtl=soon"], "a bad number")?;
    assert!(err.to_string().contains("patroniTtl"), "{err}");
    Ok(())
}

#[test]
fn maximum_lag_stays_an_integer() -> TestResult {
    let imported = import(VALUES, &ImportOptions::default())?;
    assert_eq!(
        imported.model.instance.patroni.maximum_lag_on_failover,
        53_687_091_200
    );
    let text = imported.model.to_yaml()?;
    assert!(text.contains("maximumLagOnFailover: 53687091200"), "{text}");
    assert!(!text.contains("e+10"));
    // Helm's float rendering given back through --set is read as the same integer.
    let again = import(
        VALUES,
        &ImportOptions {
            sets: sets(&["patroniMaximumLagOnFailover=5.36870912e+10"])?,
            ..ImportOptions::default()
        },
    )?;
    assert_eq!(
        again.model.instance.patroni.maximum_lag_on_failover,
        53_687_091_200
    );
    Ok(())
}

#[test]
fn secret_values_are_never_copied() -> TestResult {
    let imported = import(
        VALUES,
        &ImportOptions {
            sets: sets(&[
                "pgPass=hunter2-pg",
                "githubOAuth=ghp_topsecret",
                "grafanaPassword=hunter2-grafana",
                "pgHost=db.internal",
            ])?,
            projects_yaml: Some(PROJECTS.to_owned()),
            recompute_schedules: false,
        },
    )?;
    let text = imported.model.to_yaml()?;
    for secret in ["hunter2-pg", "ghp_topsecret", "hunter2-grafana", "db.internal"] {
        assert!(
            !text.contains(secret),
            "secret value {secret} copied into the model"
        );
        assert!(
            !imported.warnings.iter().any(|w| w.contains(secret)),
            "secret value {secret} printed in a warning"
        );
    }
    let w = imported
        .warnings
        .iter()
        .find(|w| w.starts_with("secret values ignored"))
        .ok_or("no secrets warning")?;
    assert!(w.contains("pgPass") && w.contains("githubOAuth") && w.contains("supply them at apply time"));
    Ok(())
}

#[test]
fn unrepresentable_keys_are_warned() -> TestResult {
    let imported = import(
        VALUES,
        &ImportOptions {
            sets: sets(&[
                "indexCronsFrom=10",
                "provisionPodName=fix",
                "provisionCommand=./devstats-helm/reinit.sh",
                "skipCrons=1",
                "overwritePostgresCommand=true",
                "notAChartKey=1",
            ])?,
            ..ImportOptions::default()
        },
    )?;
    let has = |needle: &str| imported.warnings.iter().any(|w| w.contains(needle));
    assert!(has("`indexCronsFrom/To`") && has("--only"));
    assert!(has("`provisionPodName`") && has("`run` command"));
    assert!(has("`provisionCommand`"));
    assert!(has("`skipCrons`"));
    assert!(has("`overwritePostgresCommand`"));
    assert!(has("notAChartKey"));
    roundtrip(&imported.model)?;
    Ok(())
}

#[test]
fn no_unexpected_warnings_for_the_real_values() -> TestResult {
    let imported = import_prod()?;
    // Every key of the real values.yaml is understood.
    assert!(
        !imported
            .warnings
            .iter()
            .any(|w| w.contains("not chart keys") || w.contains("not read by")),
        "{:#?}",
        imported.warnings
    );
    Ok(())
}

/// `fixtures/cncf.yaml` is the production model an operator keeps: the import plus the changes
/// its header lists. This pins those changes, so a change to the import (or to the fixture) that
/// is not one of them fails here, in every environment.
#[test]
fn production_model_is_the_import_plus_its_listed_changes() -> TestResult {
    let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures"));
    let production = devstats_model::load_environments(&root.join("cncf.yaml")).map_err(|e| e.to_string())?;
    let imported = devstats_model::load_environments(&root.join("helm/cncf-imported.yaml"))
        .map_err(|e| e.to_string())?;
    let names = |envs: &[devstats_model::EnvModel]| envs.iter().map(|e| e.name.clone()).collect::<Vec<_>>();
    assert_eq!(names(&production), names(&imported));
    for (p, i) in production.iter().zip(&imported) {
        let mut p = p.model.clone();
        let mut cncf_layout = devstats_model::hardening::Security::hardened();
        cncf_layout.network_policies.ingress_controller =
            devstats_model::hardening::IngressControllerPeer::in_instance_namespace();
        assert_eq!(
            p.instance.security, cncf_layout,
            "{}: hardened, with the ingress controllers inside the instance namespace",
            i.name
        );
        assert_ne!(p.instance.security, i.model.instance.security);
        // Undo the listed changes: hardening, disaster recovery and canaries (prod), sign-in
        // (test), monitoring. The images are the import's (upstream's `latest`).
        p.instance.security = i.model.instance.security.clone();
        assert!(
            !p.instance.disaster_recovery.wal_archiving.enabled,
            "{}: WAL archiving needs an image nobody publishes: off",
            i.name
        );
        assert_eq!(
            p.instance.disaster_recovery.dumps.offsite.enabled,
            i.name == "prod",
            "{}: off-site dump copies in prod only",
            i.name
        );
        p.instance.disaster_recovery = i.model.instance.disaster_recovery.clone();
        assert!(p.instance.monitoring.enabled, "{}: monitoring on", i.name);
        p.instance.monitoring = i.model.instance.monitoring.clone();
        assert_eq!(
            p.instance.canary.is_some(),
            i.name == "prod",
            "{}: canaries in prod",
            i.name
        );
        assert_eq!(
            p.instance.auth_proxy.is_some(),
            i.name == "test",
            "{}: sign-in on test",
            i.name
        );
        p.instance.canary = i.model.instance.canary.clone();
        p.instance.auth_proxy = i.model.instance.auth_proxy.clone();
        // The takeover is done: the live chart's Patroni env (`patroni.chartEnv`) is gone.
        assert!(p.instance.patroni.chart_env.is_none(), "{}: no chartEnv", i.name);
        assert!(
            i.model.instance.patroni.chart_env.is_some(),
            "{}: the import keeps it",
            i.name
        );
        p.instance.patroni.chart_env = i.model.instance.patroni.chart_env.clone();
        assert_eq!(p, i.model, "{}: only the listed changes", i.name);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Sibling charts
// ---------------------------------------------------------------------------------------------

/// Projects as (name, database, hosts, sync schedule override).
fn served(m: &Model) -> Vec<(String, String, Vec<String>, Option<String>)> {
    m.projects
        .iter()
        .filter(|p| m.deployment(p) == Deployment::Full)
        .map(|p| {
            (
                p.name.to_string(),
                p.database().to_owned(),
                m.project_hosts(p),
                p.schedule.sync.as_ref().map(|s| s.as_str().to_owned()),
            )
        })
        .collect()
}

/// The warnings and the model file text, for a snapshot.
fn snapshot_text(imported: &Imported) -> Result<String, Box<dyn std::error::Error>> {
    let mut text = format!("dialect: {}\nwarnings:\n", imported.dialect.chart());
    for w in &imported.warnings {
        text.push_str(&format!("- {w}\n"));
    }
    text.push_str("---\n");
    text.push_str(&imported.to_yaml()?);
    Ok(text)
}

/// Imports a sibling chart's values as that dialect, into a model that validates and reloads with
/// one foundation; snapshots the warnings and the model file as `snapshot`.
fn import_sibling(
    values: &str,
    dialect: Dialect,
    snapshot: &str,
) -> Result<(Imported, Model), Box<dyn std::error::Error>> {
    let imported = import(values, &ImportOptions::default())?;
    assert_eq!(imported.dialect, dialect);
    let problems = devstats_model::validate::validate(&imported.model);
    assert!(problems.is_empty(), "{problems:?}");
    let m = roundtrip(&imported.model)?;
    assert_eq!(m.foundations.len(), 1);
    insta::assert_snapshot!(snapshot, snapshot_text(&imported)?);
    Ok((imported, m))
}

fn has_warning(imported: &Imported, part: &str) -> bool {
    imported.warnings.iter().any(|w| w.contains(part))
}

#[test]
fn graphql_chart_imports_as_one_foundation() -> TestResult {
    let (imported, m) = import_sibling(GRAPHQL_VALUES, Dialect::Graphql, "graphql-import")?;
    let f = &m.foundations[0];
    assert_eq!(
        (f.name.as_str(), f.domain.as_str()),
        ("graphql", "devstats.graphql.org")
    );
    assert_eq!(f.aggregate.as_ref().map(|a| a.as_str()), Some("graphql"));
    let host = |p: &str| vec![format!("{p}.devstats.graphql.org")];
    let cron = |c: &str| Some(c.to_owned());
    assert_eq!(
        served(&m),
        [
            (
                "graphql".to_owned(),
                "graphql".to_owned(),
                // `mainProject: graphql`: the bare domain is graphql's Grafana.
                vec![
                    "graphql.devstats.graphql.org".to_owned(),
                    "devstats.graphql.org".to_owned()
                ],
                cron("7 * * * *"),
            ),
            (
                "graphqljs".into(),
                "graphqljs".into(),
                host("graphqljs"),
                cron("10 * * * *")
            ),
            (
                "graphiql".into(),
                "graphiql".into(),
                host("graphiql"),
                cron("12 * * * *")
            ),
            (
                "graphqlspec".into(),
                "graphqlspec".into(),
                host("graphqlspec"),
                cron("14 * * * *")
            ),
            (
                "expressgraphql".into(),
                "expressgraphql".into(),
                host("expressgraphql"),
                cron("16 * * * *")
            ),
        ]
    );
    let i = &m.instance;
    assert_eq!(i.ingress.class_name.as_str(), "nginx");
    assert_eq!(i.ingress.issuer.name.as_str(), "letsencrypt-prod");
    assert!(i.components.postgres && i.components.bootstrap);
    assert!(!i.components.api && !i.components.static_sites && !i.components.backups.enabled);
    assert_eq!(i.patroni.replicas, 3);
    assert_eq!(i.storage.postgres_size.as_str(), "100Gi");
    assert_eq!(i.replicas.grafana, 2);
    assert_eq!(i.images.provision.as_str(), "lukaszgryglicki/devstats-test");
    assert_eq!(i.images.affiliations.as_str(), "lukaszgryglicki/devstats-test");
    assert_eq!(i.tools.projects_file, "gql/projects.yaml");
    assert!(
        !has_warning(&imported, "not chart keys the import knows"),
        "{:#?}",
        imported.warnings
    );
    Ok(())
}

#[test]
fn example_chart_imports_as_one_foundation() -> TestResult {
    let (imported, m) = import_sibling(EXAMPLE_VALUES, Dialect::Example, "example-import")?;
    assert_eq!(m.foundations[0].name.as_str(), "devstats-demo");
    assert_eq!(m.foundations[0].domain.as_str(), "devstats-demo.net");
    let got: Vec<(String, String, Vec<String>)> =
        served(&m).into_iter().map(|(n, d, h, _)| (n, d, h)).collect();
    let want: Vec<(String, String, Vec<String>)> = ["cncf", "prometheus", "kubeflow", "istio"]
        .iter()
        .map(|p| {
            (
                (*p).to_owned(),
                (*p).to_owned(),
                vec![format!("{p}.devstats-demo.net")],
            )
        })
        .collect();
    assert_eq!(got, want);
    assert!(
        has_warning(&imported, "requests no certificate"),
        "{:#?}",
        imported.warnings
    );
    Ok(())
}

#[test]
fn lf_chart_is_refused_with_the_reason() -> TestResult {
    let err = import_err(LF_VALUES, &[], "the LF chart's values")?;
    let ImportError::Refused { key, at, .. } = &err else {
        return Err(format!("not a refusal: {err}").into());
    };
    assert_eq!(key, "serviceType");
    let at = at.ok_or("no location")?;
    assert_eq!((at.line, at.column), (144, 14));
    let msg = err.to_string();
    for part in [
        "cncf/devstats-helm-lf",
        "105 projects",
        "LoadBalancer",
        "external PostgreSQL",
        "Elasticsearch",
    ] {
        assert!(msg.contains(part), "{part}: {msg}");
    }
    insta::assert_snapshot!("lf-refusal", msg);
    Ok(())
}

#[test]
fn single_cron_values_without_a_domain_are_refused() -> TestResult {
    let err = import_err(
        GRAPHQL_VALUES,
        &["domainName=null"],
        "single-cron values without a domain",
    )?;
    assert!(matches!(err, ImportError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("no `domainName`"), "{err}");
    // With a domain from --set it imports.
    let imported = import_with(EXAMPLE_VALUES, &["domainName=devstats.example.org"])?;
    assert_eq!(imported.model.foundations[0].name.as_str(), "example");
    assert_eq!(imported.model.summary().served, 4);
    // A main project that is not listed names the key and its line.
    let values = GRAPHQL_VALUES.replace("mainProject: graphql", "mainProject: nosuch");
    let err = import_err(&values, &[], "an unknown mainProject")?;
    assert!(
        err.to_string()
            .starts_with("`mainProject`: 'nosuch' is not a listed project"),
        "{err}"
    );
    assert_eq!(err.location().map(|p| p.line), Some(126));
    Ok(())
}

/// Every way to an empty deployment is an error that says why.
#[test]
fn an_import_serving_no_project_is_refused() -> TestResult {
    let no_projects =
        |values: &str, set: &[&str]| -> Result<(String, String, Option<usize>), Box<dyn std::error::Error>> {
            let err = import_err(values, set, "a model serving no project")?;
            let ImportError::NoProjects { key, .. } = &err else {
                return Err(format!("not a no-projects error: {err}").into());
            };
            Ok((key.clone(), err.to_string(), err.location().map(|p| p.line)))
        };

    let (key, msg, line) = no_projects("namespace: devstats\nprojects: []\n", &[])?;
    assert_eq!((key.as_str(), line), ("projects", Some(2)));
    assert!(msg.contains("the values file lists no `projects`"), "{msg}");

    let (key, msg, line) = no_projects(VALUES, &["projects=null"])?;
    assert_eq!((key.as_str(), line), ("projects", None));
    assert!(msg.contains("lists no `projects`"), "{msg}");

    let (key, msg, _) = no_projects(VALUES, &["indexDomainsFrom=4"])?;
    assert_eq!(key, "indexDomainsFrom");
    assert!(
        msg.contains("selects none of the 4 domains (test, cncf, cdf, graphql)"),
        "{msg}"
    );

    let (key, msg, line) = no_projects(
        "projects:\n- proj: a\n  disk: 1Gi\n  domains: [0, 0, 0, 0]\n- proj: b\n  disk: 1Gi\n",
        &[],
    )?;
    assert_eq!((key.as_str(), line), ("projects", Some(2)));
    assert!(msg.contains("none of the 2 listed projects is served"), "{msg}");

    let ranges = [
        "indexPVsTo=0",
        "indexProvisionsTo=0",
        "indexCronsTo=0",
        "indexAffiliationsTo=0",
        "indexGrafanasTo=0",
        "indexServicesTo=0",
        "indexIngressesTo=0",
    ];
    let (key, msg, _) = no_projects(GRAPHQL_VALUES, &ranges)?;
    assert_eq!(key, "indexPVsTo");
    assert!(
        msg.contains("every one of the 5 listed projects is outside the index ranges"),
        "{msg}"
    );
    // One range still selecting projects is not an empty deployment (the model ignores ranges).
    import_with(GRAPHQL_VALUES, &ranges[..6])?;
    insta::assert_snapshot!("no-projects", msg);
    Ok(())
}

/// Import errors name `line:column` of the values file (not for `--set` values).
#[test]
fn import_errors_carry_locations() -> TestResult {
    let values =
        "namespace: devstats\npostgresNodes: -1\nprojects:\n- proj: a\n  disk: 1Gi\n  domains: [1]\n";
    let err = import_err(values, &[], "postgresNodes -1")?;
    assert_eq!(err.to_string(), "`postgresNodes`: -1: must be at least 1");
    let at = err.location().ok_or("no location")?;
    assert_eq!((at.line, at.column), (2, 16));
    let err = import_err(&values.replace("-1", "0"), &[], "postgresNodes 0")?;
    assert!(err.to_string().ends_with("must be at least 1"), "{err}");

    let err = import_err(
        &values.replace("postgresNodes: -1", "patroniTtl: -5"),
        &[],
        "a negative ttl",
    )?;
    assert_eq!(err.to_string(), "`patroniTtl`: -5: must be at least 0");

    // A missing project key points at the project.
    let err = import_err(
        "projects:\n- proj: a\n  domains: [1]\n",
        &[],
        "a project without disk",
    )?;
    assert!(
        err.to_string().starts_with("`projects[0] (a).disk`: missing"),
        "{err}"
    );
    assert_eq!(err.location().map(|p| (p.line, p.column)), Some((2, 3)));

    // From --set: no location in the file.
    let err = import_err(VALUES, &["postgresNodes=-1"], "--set postgresNodes=-1")?;
    assert!(err.to_string().contains("must be at least 1"), "{err}");
    assert_eq!(err.location(), None);

    // Text that is not YAML: the model loader's message, at the character it stops at.
    let err = import_err("namespace: devstats\npostgresNodes: [\n", &[], "an unclosed list")?;
    assert!(
        err.to_string().starts_with("values file: YAML syntax error: "),
        "{err}"
    );
    assert_eq!(err.location().map(|p| (p.line, p.column)), Some((3, 1)));
    // A projects.yaml of the wrong shape: serde-saphyr's message without its own position
    // prefix, at its position.
    let err = import(
        VALUES,
        &ImportOptions {
            projects_yaml: Some("projects: 3\n".to_owned()),
            ..ImportOptions::default()
        },
    )
    .err()
    .ok_or("imported a projects.yaml whose projects are a number")?;
    assert_eq!(err.to_string(), "projects.yaml: expected mapping start");
    assert_eq!(err.location().map(|p| (p.line, p.column)), Some((1, 11)));
    Ok(())
}
