//! Monitoring (`instance.monitoring`, `docs/metrics.md`): the CNCF production model with
//! monitoring enabled renders the Patroni exporter sidecar, a PodMonitor, a ServiceMonitor, a
//! PrometheusRule and the ops dashboards (snapshotted), the reference check rejects unknown
//! metrics, broken monitor selectors and name matchers that match nothing, and with monitoring
//! off the render does not change.
//!
//! The monitored render (hardened, as `fixtures/cncf.yaml` is) is written to `$CARGO_TARGET_TMPDIR/monitoring-cncf.yaml`,
//! which `.ci/run` scores with checkov and kubernetes-validate like the hardened render.

use std::collections::BTreeMap;

use devstats_model::monitoring::Monitoring;
use devstats_model::{Model, Name};
use devstats_render::{Component, Object, Options, Rendered, output, refs, render};
use serde_json::Value;

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/")).join(name)
}

/// The monitoring settings the CNCF production instance would use (see `docs/metrics.md`).
fn prod_monitoring() -> Monitoring {
    let mut m = Monitoring {
        enabled: true,
        ..Monitoring::default()
    };
    m.dashboards.namespace = Some(Name::from("monitoring"));
    m.dashboards.folder = Some("DevStats".to_owned());
    m
}

/// `fixtures/cncf.yaml` (the hardened production model) with monitoring enabled.
fn cncf_monitored() -> Model {
    let mut m = devstats_model::load(&fixture("cncf.yaml")).unwrap_or_else(|e| panic!("{e}"));
    assert!(m.instance.security.pods.security_context, "cncf.yaml is hardened");
    // The backup alerts below are about the chart's backups job alone.
    m.instance.disaster_recovery = devstats_model::backup::DisasterRecovery::default();
    m.instance.monitoring = prod_monitoring();
    let problems = devstats_model::validate::validate(&m);
    assert!(problems.is_empty(), "{problems:?}");
    m
}

fn rendered(m: &Model) -> Vec<Rendered> {
    render(m, &Options::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .objects
}

fn json(o: &Object) -> Value {
    serde_json::to_value(o).unwrap_or_else(|e| panic!("{}: {e}", o.id()))
}

fn find<'a>(set: &'a [Rendered], kind: &str, name: &str) -> &'a Rendered {
    set.iter()
        .find(|r| r.object.kind() == kind && r.object.name() == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn monitored_cncf_render_snapshots_and_linter_input() {
    let m = cncf_monitored();
    let set = rendered(&m);
    let yaml = output::yaml_stream(&set).expect("yaml");
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("monitoring-cncf.yaml");
    std::fs::write(&out, &yaml).unwrap_or_else(|e| panic!("{}: {e}", out.display()));

    let mut kinds = BTreeMap::new();
    for r in set.iter().filter(|r| r.component == Component::Monitoring) {
        *kinds.entry(r.object.kind()).or_insert(0) += 1;
        let name = format!(
            "monitoring-{}-{}",
            r.object.kind().to_ascii_lowercase(),
            r.object.name()
        );
        insta::assert_snapshot!(name, output::yaml_stream(std::slice::from_ref(r)).expect("yaml"));
    }
    assert_eq!(
        kinds,
        BTreeMap::from([
            ("ConfigMap", 3),
            ("PodMonitor", 1),
            ("PrometheusRule", 1),
            ("ServiceMonitor", 1)
        ])
    );

    // Every monitor and rule carries the selector labels Prometheus discovers them by.
    for r in set.iter().filter(|r| r.component == Component::Monitoring) {
        let labels = r.object.meta().labels.clone().unwrap_or_default();
        if r.object.kind() == "ConfigMap" {
            assert_eq!(labels.get("grafana_dashboard").map(String::as_str), Some("1"));
            assert_eq!(r.object.namespace(), Some("monitoring"));
        } else {
            assert_eq!(
                labels.get("release").map(String::as_str),
                Some("kube-prometheus-stack"),
                "{}",
                r.object.id()
            );
        }
    }

    // The exporter sidecar: hardened like Patroni, credentials by secretKeyRef.
    let sts = json(&find(&set, "StatefulSet", "devstats-postgres").object);
    let containers = sts["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    let exporter = containers
        .iter()
        .find(|c| c["name"] == "postgres-exporter")
        .expect("exporter sidecar");
    insta::assert_snapshot!(
        "monitoring-exporter-sidecar",
        serde_saphyr::to_string(exporter).expect("yaml")
    );
    assert_eq!(containers[0]["ports"][0]["name"], "patroni");
    let pg_policy = json(&find(&set, "NetworkPolicy", "devstats-postgres").object);
    let from_monitoring = pg_policy["spec"]["ingress"]
        .as_array()
        .expect("ingress")
        .iter()
        .find(|r| r["from"][0]["namespaceSelector"].is_object())
        .expect("monitoring rule");
    assert_eq!(
        from_monitoring["ports"],
        serde_json::json!([{"port": 8008, "protocol": "TCP"}, {"port": 9187, "protocol": "TCP"}])
    );
}

#[test]
fn sync_rules_select_exactly_the_sync_cronjobs() {
    let set = rendered(&cncf_monitored());
    let rule = json(&find(&set, "PrometheusRule", "devstats").object);
    let expr = rule["spec"]["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .find(|r| r["alert"] == "DevStatsSyncStale")
        .and_then(|r| r["expr"].as_str().map(str::to_owned))
        .expect("sync stale rule");
    let sel = devstats_render::monitoring::parse_promql(&expr).expect("parses");
    let re = sel
        .iter()
        .flat_map(|s| s.matchers.iter())
        .find(|(l, op, _)| l == "cronjob" && op == "=~")
        .map(|(_, _, v)| regex::Regex::new(&format!("^(?:{v})$")).expect("regex"))
        .expect("cronjob matcher");
    let mut synced = 0;
    for r in set.iter().filter(|r| r.object.kind() == "CronJob") {
        let is_sync = r.component == Component::Sync;
        assert_eq!(re.is_match(r.object.name()), is_sync, "{}", r.object.name());
        synced += usize::from(is_sync);
    }
    assert!(synced > 100, "{synced} sync CronJobs");
}

/// Replaces the expression of alert `alert` in the rendered PrometheusRule.
fn set_expr(set: &mut [Rendered], alert: &str, expr: &str) {
    for r in set.iter_mut() {
        if let Object::Custom(c) = &mut r.object
            && c.kind == devstats_render::Kind::PROMETHEUS_RULE
        {
            let groups = c
                .body
                .get_mut("spec")
                .and_then(|s| s.get_mut("groups"))
                .and_then(Value::as_array_mut)
                .expect("groups");
            for g in groups {
                for rule in g["rules"].as_array_mut().into_iter().flatten() {
                    if rule["alert"] == alert {
                        rule["expr"] = Value::from(expr);
                    }
                }
            }
        }
    }
}

#[test]
fn the_reference_check_rejects_unknown_metrics_and_broken_monitors() {
    let mut m = cncf_monitored();
    // Secrets are required, not rendered: list them so only monitoring problems remain.
    let required = render(&m, &Options::default()).expect("renders").required_secrets;
    let check = |set: &[Rendered]| match refs::check(set, &required) {
        Ok(()) => String::new(),
        Err(e) => e.to_string(),
    };
    let set = rendered(&m);
    assert_eq!(check(&set), "", "the render itself is consistent");

    // The old postgres_exporter name, which the current exporter no longer serves.
    let mut bad = set.clone();
    set_expr(&mut bad, "PostgresReplicationLag", "pg_replication_lag > 300");
    let e = check(&bad);
    assert!(
        e.contains("metric pg_replication_lag is served by no known exporter"),
        "{e}"
    );

    // A matcher that matches no rendered CronJob (e.g. a backup job that is not rendered).
    let mut bad = set.clone();
    set_expr(
        &mut bad,
        "DevStatsBackupTooOld",
        r#"time() - kube_cronjob_status_last_successful_time{cronjob="devstats-restore-drill"} > 1"#,
    );
    let e = check(&bad);
    assert!(
        e.contains(r#"cronjob="devstats-restore-drill" matches no rendered CronJob"#),
        "{e}"
    );

    // An unknown function and an unparsable expression.
    let mut bad = set.clone();
    set_expr(&mut bad, "PostgresNoPrimary", "frobnicate(patroni_primary) < 1");
    assert!(check(&bad).contains("unknown function `frobnicate`"));

    // A PodMonitor port the pods do not have.
    let mut bad = set.clone();
    for r in &mut bad {
        if let Object::Custom(c) = &mut r.object
            && c.kind == devstats_render::Kind::POD_MONITOR
            && let Some(e) = c
                .body
                .get_mut("spec")
                .and_then(|s| s.pointer_mut("/podMetricsEndpoints/1/port"))
        {
            *e = Value::from("metrics");
        }
    }
    let e = check(&bad);
    assert!(
        e.contains("the selected pods have no container port named `metrics`"),
        "{e}"
    );

    // A ServiceMonitor selecting no Service.
    let mut bad = set.clone();
    for r in &mut bad {
        if let Object::Custom(c) = &mut r.object
            && c.kind == devstats_render::Kind::SERVICE_MONITOR
            && let Some(e) = c
                .body
                .get_mut("spec")
                .and_then(|s| s.pointer_mut("/selector/matchLabels/type"))
        {
            *e = Value::from("grafana-service");
        }
    }
    let e = check(&bad);
    assert!(e.contains("matches no rendered Service"), "{e}");
    assert!(
        e.contains("comes from grafana, which no rendered monitor scrapes"),
        "dashboards lose their Grafana metrics: {e}"
    );

    // Without the exporter, its metrics are not allowed (nothing scrapes them).
    m.instance.monitoring.exporter.enabled = false;
    let no_exporter = rendered(&m);
    let mut bad = no_exporter.clone();
    set_expr(&mut bad, "PostgresNoPrimary", "pg_up == 0");
    let e = check(&bad);
    assert!(
        e.contains("metric pg_up comes from postgres_exporter, which no rendered monitor scrapes"),
        "{e}"
    );
    let sts = json(&find(&no_exporter, "StatefulSet", "devstats-postgres").object);
    assert_eq!(
        sts["spec"]["template"]["spec"]["containers"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(check(&no_exporter), "", "no exporter metric left behind");
}

#[test]
fn monitoring_off_changes_nothing() {
    let mut m = devstats_model::load(&fixture("cncf.yaml")).unwrap_or_else(|e| panic!("{e}"));
    m.instance.monitoring = Monitoring::default();
    let plain = output::yaml_stream(&rendered(&m)).expect("yaml");
    // Settings other than `enabled` do not matter while it is off.
    m.instance.monitoring = Monitoring {
        enabled: false,
        ..prod_monitoring()
    };
    m.instance.monitoring.selector_labels.clear();
    let off = output::yaml_stream(&rendered(&m)).expect("yaml");
    assert!(plain == off, "monitoring off must render byte-identical objects");
    assert!(!plain.contains("monitoring.coreos.com"));
}

#[test]
fn example_dashboards_are_stable_json_and_use_known_metrics() {
    let mut m = devstats_model::load(&fixture("example.yaml")).unwrap_or_else(|e| panic!("{e}"));
    m.instance.monitoring.enabled = true;
    assert!(devstats_model::validate::validate(&m).is_empty());
    let a = rendered(&m);
    let b = rendered(&m);
    assert_eq!(a, b);
    let maps: Vec<&Rendered> = a
        .iter()
        .filter(|r| r.object.kind() == "ConfigMap" && r.component == Component::Monitoring)
        .collect();
    assert!(!maps.is_empty());
    for r in maps {
        let Object::ConfigMap(cm) = &r.object else {
            unreachable!()
        };
        for (key, text) in cm.data.iter().flatten() {
            let d: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert!(d["uid"].as_str().is_some_and(|u| u.starts_with("devstats-")));
            let panels = d["panels"].as_array().expect("panels");
            assert!(!panels.is_empty());
            for p in panels {
                for t in p["targets"].as_array().into_iter().flatten() {
                    let expr = t["expr"].as_str().expect("expr");
                    for s in devstats_render::monitoring::parse_promql(expr).expect("parses") {
                        assert!(
                            devstats_render::monitoring::exporter_of(&s.metric).is_some(),
                            "{key}: {}",
                            s.metric
                        );
                    }
                }
            }
        }
    }
}
