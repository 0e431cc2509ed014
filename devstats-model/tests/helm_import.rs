//! Import of the real `cncf/devstats-helm` values into the model.
//!
//! `fixtures/helm/cncf-imported.yaml` is the golden import of the CNCF production chart values. Regenerate it with
//!
//! ```sh
//! UPDATE_FIXTURES=1 cargo test -p devstats-model --test helm_import
//! ```

use devstats_model::helm_import::{
    EnvironmentImport, ImportError, ImportOptions, Imported, header_with_environments, import,
    import_environments, parse_env_set, parse_set,
};
use devstats_model::{Deployment, Model, ProjectStatus, Role, parse_str};

const VALUES: &str = include_str!("../../fixtures/helm/values.yaml");
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
         UPDATE_FIXTURES=1 cargo test -p devstats-model --test helm_import\nand review the diff"
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
    let ok = import(
        VALUES,
        &ImportOptions {
            sets: sets(&["patroniRetryTimeout=20"])?,
            ..ImportOptions::default()
        },
    )?;
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
    let err = import(
        VALUES,
        &ImportOptions {
            sets: sets(&["patroniTtl=soon"])?,
            ..ImportOptions::default()
        },
    )
    .err()
    .ok_or("accepted a bad number")?;
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
        assert_eq!(
            p.instance.security,
            devstats_model::hardening::Security::hardened(),
            "{}: hardened",
            i.name
        );
        assert_ne!(p.instance.security, i.model.instance.security);
        // Undo the listed changes: hardening, pinned tags, disaster recovery and canaries (prod),
        // sign-in (test), monitoring.
        p.instance.security = i.model.instance.security.clone();
        assert_eq!(
            p.instance.disaster_recovery.wal_archiving.enabled,
            i.name == "prod",
            "{}: WAL archiving on in prod only",
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
        let unpin = |img: &mut devstats_model::ImageRef| {
            assert!(img.is_pinned(), "{}: {img} is pinned", i.name);
            *img = devstats_model::ImageRef(img.as_str().trim_end_matches(":2026-11-01").to_owned());
        };
        for img in p.instance.images.all_mut() {
            unpin(img);
        }
        for f in &mut p.foundations {
            unpin(&mut f.static_image);
        }
        assert_eq!(p, i.model, "{}: only the listed changes", i.name);
    }
    Ok(())
}
