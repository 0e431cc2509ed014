//! The rules of `instance` settings defined in [`crate::monitoring`]: every problem, located.

use crate::diagnostics::Problem;
use crate::monitoring::*;
use crate::source::Path;
use crate::types::Model;
use std::collections::BTreeMap;

/// Checks the monitoring settings of a model; returns every problem. Nothing is checked while
/// monitoring is off.
#[must_use]
pub fn validate(model: &Model) -> Vec<Problem> {
    let inst = &model.instance;
    let m = &inst.monitoring;
    let mut out = Vec::new();
    if !m.enabled {
        return out;
    }
    let mp = Path::root().key("instance").key("monitoring");
    let mut push = |path: Path, msg: String, help: &str| out.push(Problem::new(path, msg).help(help));

    if m.selector_labels.is_empty() {
        push(
            mp.key("selectorLabels"),
            "no selector labels: Prometheus would never discover the monitors and rules".to_owned(),
            "give the labels the Prometheus resource selects monitors by, e.g. release: kube-prometheus-stack",
        );
    }
    let labels = |path: Path, map: &BTreeMap<String, String>, push: &mut dyn FnMut(Path, String, &str)| {
        for (k, v) in map {
            if !is_label_key(k) {
                push(
                    path.key(k),
                    format!("`{k}` is not a label key"),
                    "allowed: [prefix/]name, name of letters, digits, '-', '_', '.' (at most 63)",
                );
            }
            if !is_label_value(v) {
                push(
                    path.key(k),
                    format!("`{v}` is not a label value"),
                    "allowed: letters, digits, '-', '_', '.' (at most 63), starting and ending alphanumeric",
                );
            }
        }
    };
    labels(mp.key("selectorLabels"), &m.selector_labels, &mut push);
    if !is_duration(&m.scrape_interval) {
        push(
            mp.key("scrapeInterval"),
            format!("`{}` is not a Prometheus duration", m.scrape_interval),
            "e.g. 30s, 1m",
        );
    }

    let e = &m.exporter;
    let ep = mp.key("exporter");
    if e.enabled {
        if let Err(err) = e.image.check() {
            push(
                ep.key("image"),
                format!("image `{}`: {err}", e.image),
                "e.g. repo:tag",
            );
        } else if !inst.security.images.require.accepts(e.image.pin()) {
            push(
                ep.key("image"),
                format!(
                    "image `{}` is not pinned as security.images.require asks ({})",
                    e.image,
                    inst.security.images.require.describe()
                ),
                "pin it by tag or digest, or relax security.images.require",
            );
        }
        let r = &e.resources;
        for (which, cm) in [("requests", &r.requests), ("limits", &r.limits)] {
            for (field, q) in [("cpu", &cm.cpu), ("memory", &cm.memory)] {
                if let Err(err) = q.check_positive() {
                    push(
                        ep.key("resources").key(which).key(field),
                        err,
                        "allowed: a positive Kubernetes quantity such as 64Mi, 50m",
                    );
                }
            }
        }
        for (field, req, lim) in [
            ("cpu", &r.requests.cpu, &r.limits.cpu),
            ("memory", &r.requests.memory, &r.limits.memory),
        ] {
            if let (Ok(a), Ok(b)) = (req.to_milli(), lim.to_milli())
                && a > b
            {
                push(
                    ep.key("resources").key("requests").key(field),
                    format!("request {req} is larger than the limit {lim}"),
                    "a request must not exceed its limit",
                );
            }
        }
        if !inst.components.postgres {
            push(
                ep.key("enabled"),
                "the exporter is a sidecar of Patroni, which this instance does not render".to_owned(),
                "set exporter.enabled: false, or enable components.postgres",
            );
        }
    }

    let d = &m.dashboards;
    let dp = mp.key("dashboards");
    if d.enabled {
        if d.labels.is_empty() {
            push(
                dp.key("labels"),
                "no labels: the Grafana sidecar would never load the dashboards".to_owned(),
                "e.g. grafana_dashboard: \"1\"",
            );
        }
        labels(dp.key("labels"), &d.labels, &mut push);
        if let Some(ns) = &d.namespace
            && let Err(err) = ns.check()
        {
            push(dp.key("namespace"), err, "a namespace name, e.g. monitoring");
        }
        if d.folder.as_deref().is_some_and(str::is_empty) {
            push(
                dp.key("folder"),
                "the folder name is empty".to_owned(),
                "name a folder, e.g. DevStats, or leave it unset",
            );
        }
    }

    let a = &m.alerts;
    let ap = mp.key("alerts");
    for (field, v) in [
        ("syncStaleHours", a.sync_stale_hours.unwrap_or(1)),
        ("replicationLagSeconds", a.replication_lag_seconds),
        ("certificateExpiryDays", a.certificate_expiry_days),
        ("backupMaxAgeHours", a.backup_max_age_hours),
    ] {
        if v == 0 {
            push(
                ap.key(field),
                "0 would alert at once".to_owned(),
                "allowed: 1 or more",
            );
        }
    }
    if a.pvc_free_percent == 0 || a.pvc_free_percent > 99 {
        push(
            ap.key("pvcFreePercent"),
            format!("{} % is not a free-space threshold", a.pvc_free_percent),
            "allowed: 1 to 99",
        );
    }
    let every = inst.schedules.sync_every_hours;
    if let Some(h) = a.sync_stale_hours
        && h != 0
        && h <= every
    {
        push(
            ap.key("syncStaleHours"),
            format!("{h} h would alert between two syncs, which run every {every} h"),
            "allowed: more than schedules.syncEveryHours, e.g. twice it plus one",
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    #[allow(unused_imports)]
    use crate::monitoring::*;
    #[allow(unused_imports)]
    use crate::types::*;
    #[allow(unused_imports)]
    use crate::values::*;

    #[test]
    fn durations_and_labels() {
        for ok in ["30s", "1m", "1h30m", "500ms", "2d"] {
            assert!(is_duration(ok), "{ok}");
        }
        for bad in ["", "30", "s", "1.5m", "30 s", "-1s"] {
            assert!(!is_duration(bad), "{bad}");
        }
        assert!(is_label_key("release") && is_label_key("app.kubernetes.io/name"));
        assert!(!is_label_key("") && !is_label_key("a b") && !is_label_key("/x"));
        assert!(is_label_value("1") && is_label_value("kube-prometheus-stack") && is_label_value(""));
        assert!(!is_label_value("-x") && !is_label_value("a b"));
    }

    #[test]
    fn nothing_is_checked_while_off_and_everything_when_on() {
        let src = include_str!("../../../fixtures/example.yaml");
        let mut model = crate::parse_str("example.yaml", src).expect("valid");
        model.instance.monitoring.selector_labels.clear();
        model.instance.monitoring.scrape_interval = "soon".to_owned();
        assert!(validate(&model).is_empty(), "off: no problems");
        model.instance.monitoring.enabled = true;
        let problems = validate(&model);
        let paths: Vec<String> = problems.iter().map(|p| p.path.to_string()).collect();
        assert_eq!(
            paths,
            [
                "instance.monitoring.selectorLabels",
                "instance.monitoring.scrapeInterval"
            ],
            "{problems:?}"
        );
        model.instance.monitoring = Monitoring {
            enabled: true,
            ..Monitoring::default()
        };
        assert!(validate(&model).is_empty());
    }

    #[test]
    fn yaml_spellings_and_defaults() {
        let m: Monitoring = serde_saphyr::from_str(
            "enabled: true\nselectorLabels: {release: prom}\nalerts: {syncStaleHours: 5}\ndashboards: {namespace: monitoring}\n",
        )
        .expect("parses");
        assert!(m.enabled && m.exporter.enabled && m.dashboards.enabled);
        assert_eq!(m.selector_labels.get("release").map(String::as_str), Some("prom"));
        assert_eq!(m.alerts.sync_stale_hours, Some(5));
        assert_eq!(AlertThresholds::default().sync_stale_hours(6), 13);
        assert_eq!(m.alerts.replication_lag_seconds, 300);
        assert_eq!(m.dashboards.namespace, Some(Name::from("monitoring")));
        assert!(Monitoring::default().is_default() && !Monitoring::default().enabled);
        assert!(ImageRef::from(PostgresExporter::default().image.as_str()).is_pinned());
    }
}
