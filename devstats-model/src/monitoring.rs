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

use crate::values::{CpuMemory, ResourceSpec};
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
pub(crate) fn is_label_key(k: &str) -> bool {
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
pub(crate) fn is_label_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.ends_with(|c: char| c.is_ascii_alphanumeric())
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
}
