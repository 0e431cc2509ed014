//! Metrics, alerts and ops dashboards (`instance.monitoring`), for a cluster running the
//! prometheus-operator (`monitoring.coreos.com/v1`), usually through kube-prometheus-stack.
//!
//! Off by default (a model that does not mention `monitoring`, and every Helm import, renders
//! nothing of it). When enabled the render adds a `postgres_exporter` sidecar to Patroni, a
//! PodMonitor for Patroni, a ServiceMonitor for the Grafanas, one PrometheusRule and ops
//! dashboards as ConfigMaps for the Grafana dashboard sidecar. `docs/metrics.md` explains what is
//! collected and why, what each alert means, and how Prometheus discovers the monitors.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::diagnostics::Problem;
use crate::source::Path;
use crate::types::{CpuMemory, Model, ResourceSpec};
use crate::values::{ImageRef, Name};

/// Metrics, alerts and ops dashboards of an instance. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Monitoring {
    /// Render the monitoring objects (and the Patroni exporter sidecar).
    pub enabled: bool,
    /// Labels put on every PodMonitor, ServiceMonitor and PrometheusRule: they must match the
    /// Prometheus resource's `podMonitorSelector`, `serviceMonitorSelector` and `ruleSelector`
    /// (kube-prometheus-stack: `release: <its Helm release name>`), or Prometheus never
    /// discovers them. Must not be empty.
    pub selector_labels: BTreeMap<String, String>,
    /// How often Prometheus scrapes the targets, e.g. `30s` (a Prometheus duration).
    pub scrape_interval: String,
    /// The `postgres_exporter` sidecar of the Patroni pods.
    pub exporter: PostgresExporter,
    /// The ops dashboards.
    pub dashboards: Dashboards,
    /// Alert thresholds of the PrometheusRule.
    pub alerts: AlertThresholds,
}

impl Default for Monitoring {
    fn default() -> Self {
        Self {
            enabled: false,
            selector_labels: BTreeMap::from([("release".to_owned(), "kube-prometheus-stack".to_owned())]),
            scrape_interval: "30s".to_owned(),
            exporter: PostgresExporter::default(),
            dashboards: Dashboards::default(),
            alerts: AlertThresholds::default(),
        }
    }
}

impl Monitoring {
    /// True for the defaults (omitted when the model is written).
    #[must_use]
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// The `postgres_exporter` sidecar (prometheus-community) of every Patroni pod: it connects to
/// the local PostgreSQL with the superuser credentials of the PostgreSQL Secret and serves
/// `/metrics` on port 9187.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PostgresExporter {
    /// Add the sidecar (without it only Patroni's own `/metrics` is scraped).
    pub enabled: bool,
    /// The exporter image (subject to `security.images.require`).
    pub image: ImageRef,
    /// Requests and limits of the sidecar.
    pub resources: ResourceSpec,
}

impl Default for PostgresExporter {
    fn default() -> Self {
        Self {
            enabled: true,
            image: ImageRef::from("quay.io/prometheuscommunity/postgres-exporter:v0.17.1"),
            resources: ResourceSpec {
                requests: CpuMemory {
                    cpu: "50m".into(),
                    memory: "64Mi".into(),
                },
                limits: CpuMemory {
                    cpu: "500m".into(),
                    memory: "256Mi".into(),
                },
            },
        }
    }
}

/// Ops dashboards (DevStats jobs, Patroni, backups) as ConfigMaps, which the Grafana dashboard
/// sidecar of kube-prometheus-stack loads (for the cluster Grafana, not the DevStats Grafanas).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Dashboards {
    /// Render the dashboard ConfigMaps.
    pub enabled: bool,
    /// Namespace of the ConfigMaps (unset: the instance namespace). The sidecar must search it
    /// (kube-prometheus-stack: `grafana.sidecar.dashboards.searchNamespace`).
    pub namespace: Option<Name>,
    /// Labels the sidecar selects dashboards by (kube-prometheus-stack: `grafana_dashboard: "1"`).
    pub labels: BTreeMap<String, String>,
    /// Grafana folder, written as the `grafana_folder` annotation (only honoured when the
    /// sidecar's `folderAnnotation` is configured); unset: no annotation.
    pub folder: Option<String>,
}

impl Default for Dashboards {
    fn default() -> Self {
        Self {
            enabled: true,
            namespace: None,
            labels: BTreeMap::from([("grafana_dashboard".to_owned(), "1".to_owned())]),
            folder: None,
        }
    }
}

/// Alert thresholds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AlertThresholds {
    /// A project's sync CronJob is stale when it has not succeeded for this many hours (more
    /// than the instance's `schedules.syncEveryHours`). Unset: twice `syncEveryHours` plus one,
    /// so one failed run does not alert but two in a row do.
    pub sync_stale_hours: Option<u32>,
    /// Replication lag of a replica, in seconds, above which it alerts.
    pub replication_lag_seconds: u32,
    /// A volume alerts when less than this percentage of it is free (1 to 99).
    pub pvc_free_percent: u32,
    /// A TLS certificate alerts this many days before it expires.
    pub certificate_expiry_days: u32,
    /// The least age, in hours, at which a backup CronJob is too old. Each backup CronJob's own
    /// threshold is one schedule period plus a day (the monthly logical backup: 63 days, the
    /// weekly base backup: 8 days); this floor only raises shorter ones.
    pub backup_max_age_hours: u32,
}

impl AlertThresholds {
    /// The sync staleness threshold in hours for syncs every `sync_every_hours`.
    #[must_use]
    pub fn sync_stale_hours(&self, sync_every_hours: u32) -> u32 {
        self.sync_stale_hours
            .unwrap_or_else(|| sync_every_hours.saturating_mul(2).saturating_add(1))
    }
}

impl Default for AlertThresholds {
    fn default() -> Self {
        Self {
            sync_stale_hours: None,
            replication_lag_seconds: 300,
            pvc_free_percent: 10,
            certificate_expiry_days: 14,
            backup_max_age_hours: 8 * 24,
        }
    }
}

/// Whether `s` is a Prometheus duration such as `30s`, `1m`, `1h30m` (units ms, s, m, h, d, w, y).
#[must_use]
pub fn is_duration(s: &str) -> bool {
    let mut rest = s;
    let mut any = false;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return false;
        }
        rest = &rest[digits..];
        let unit = ["ms", "s", "m", "h", "d", "w", "y"]
            .into_iter()
            .find(|u| rest.starts_with(u));
        match unit {
            Some(u) => rest = &rest[u.len()..],
            None => return false,
        }
        any = true;
    }
    any
}

/// Whether `k` is a valid label key (optional DNS prefix `/`, name of at most 63 characters).
fn is_label_key(k: &str) -> bool {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let prefix_ok = prefix.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 253
            && p.split('.').all(|l| {
                !l.is_empty()
                    && l.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            })
    });
    name_ok && prefix_ok
}

/// Whether `v` is a valid label value (at most 63 characters, alphanumeric ends).
fn is_label_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric())
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
}

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
        let src = include_str!("../../fixtures/example.yaml");
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
