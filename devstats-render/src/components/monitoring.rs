//! Metrics, alerts and ops dashboards for the prometheus-operator (`monitoring.coreos.com/v1`),
//! from `instance.monitoring` (`docs/metrics.md`). Nothing is rendered while it is off.
//!
//! - Patroni pods get a `postgres_exporter` sidecar ([`patroni_pod`], called by `patroni.rs`;
//!   it reads the superuser credentials from the PostgreSQL Secret by `secretKeyRef`), and their
//!   ports are named so that a PodMonitor can address them.
//! - `PodMonitor devstats-postgres`: Patroni's own `/metrics` (REST API, 8008) and the
//!   exporter's (9187) on every member.
//! - `ServiceMonitor devstats-grafana`: every project Grafana's `/metrics` (3000), through its
//!   Service, with the project as a target label. The API serves no Prometheus metrics (its
//!   binary has no metrics endpoint), so it is watched through kube-state-metrics only.
//! - `PrometheusRule devstats`: one rule per concern (sync stale or failing, provisioning failed,
//!   no Patroni primary, failover, replication lag, volume filling, certificate expiring, backup
//!   too old, Grafana down). Per-project concerns select their objects by one name regex, built
//!   from the rendered objects, instead of one rule per project.
//! - Ops dashboards (DevStats jobs, Patroni, backups) as ConfigMaps for the Grafana dashboard
//!   sidecar, built from typed panels.
//!
//! Every monitor and rule carries `monitoring.selectorLabels`, which the Prometheus resource
//! selects them by. Every expression names only metrics of [`KNOWN_METRICS`]; the reference
//! check (`refs.rs`) enforces it with [`parse_promql`].

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, Container, ContainerPort, PodSpec, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use serde::Serialize;

use crate::core::common::{Env, chart_labels, names, resources};
use crate::core::{
    component::Component, ctx::Ctx, ctx::Rendered, kind::Kind, object::CustomResource, object::Object,
};

/// `monitoring.coreos.com/v1` `PodMonitor`.
pub(crate) const POD_MONITOR: Kind = Kind::POD_MONITOR;
/// `monitoring.coreos.com/v1` `ServiceMonitor`.
pub(crate) const SERVICE_MONITOR: Kind = Kind::SERVICE_MONITOR;
/// `monitoring.coreos.com/v1` `PrometheusRule`.
pub(crate) const PROMETHEUS_RULE: Kind = Kind::PROMETHEUS_RULE;

/// Port of the `postgres_exporter` sidecar.
pub(crate) const EXPORTER_PORT: i32 = 9187;
/// Name of the exporter's container port (PodMonitor `port`).
pub(crate) const EXPORTER_PORT_NAME: &str = "exporter";
/// Name of Patroni's REST API container port (PodMonitor `port`).
pub(crate) const PATRONI_PORT_NAME: &str = "patroni";
/// Name of PostgreSQL's container port.
const POSTGRES_PORT_NAME: &str = "postgresql";
/// Patroni's REST API port.
const PATRONI_PORT: i32 = 8008;
/// PostgreSQL's port.
const PG_PORT: i32 = 5432;
/// The exporter sidecar container.
pub(crate) const EXPORTER_CONTAINER: &str = "postgres-exporter";
/// The PodMonitor of Patroni.
pub(crate) const POSTGRES_MONITOR: &str = "devstats-postgres";
/// The ServiceMonitor of the Grafanas.
pub(crate) const GRAFANA_MONITOR: &str = "devstats-grafana";

/// The labels the Grafanas' ServiceMonitor selects (the chart's Service labels `name`, `type:
/// service`, and our `app.kubernetes.io/component: grafana`).
fn grafana_monitor_selector() -> BTreeMap<String, String> {
    let mut sel = chart_labels("service", None);
    sel.insert(
        "app.kubernetes.io/component".to_owned(),
        Component::Grafana.as_str().to_owned(),
    );
    sel
}

/// The labels a Grafana Service needs to be scraped: the monitor's selector and the target label
/// `proj` (used for the Services Flagger generates for a canaried Grafana).
#[must_use]
pub(crate) fn grafana_service_labels(proj: &str) -> BTreeMap<String, String> {
    let mut l = grafana_monitor_selector();
    l.insert("proj".to_owned(), proj.to_owned());
    l
}
/// The PrometheusRule.
pub(crate) const RULE: &str = "devstats";
/// UID the exporter runs as without pod hardening (the image's `nobody`).
const NOBODY: i64 = 65534;

/// Metrics the rules and dashboards may name, per exporter. The reference check rejects any
/// other name, so a typo or a metric no exporter serves fails the render instead of producing
/// an alert that can never fire.
pub(crate) const KNOWN_METRICS: &[(&str, &[&str])] = &[
    (
        "kube-state-metrics",
        &[
            "kube_cronjob_created",
            "kube_cronjob_spec_suspend",
            "kube_cronjob_status_active",
            "kube_cronjob_status_last_schedule_time",
            "kube_cronjob_status_last_successful_time",
            "kube_deployment_status_replicas_available",
            "kube_job_failed",
            "kube_job_status_completion_time",
            "kube_job_status_start_time",
            "kube_statefulset_status_replicas_ready",
        ],
    ),
    (
        "kubelet",
        &[
            "kubelet_volume_stats_available_bytes",
            "kubelet_volume_stats_capacity_bytes",
        ],
    ),
    (
        "cert-manager",
        &["certmanager_certificate_expiration_timestamp_seconds"],
    ),
    (
        "patroni",
        &[
            "patroni_postgres_running",
            "patroni_postgres_timeline",
            "patroni_primary",
            "patroni_replica",
            "patroni_xlog_location",
            "patroni_xlog_replayed_location",
        ],
    ),
    (
        "postgres_exporter",
        &[
            "pg_database_size_bytes",
            "pg_replication_lag_seconds",
            "pg_settings_max_connections",
            "pg_stat_activity_count",
            "pg_stat_activity_max_tx_duration",
            "pg_stat_database_blks_hit",
            "pg_stat_database_blks_read",
            "pg_stat_database_xact_commit",
            "pg_stat_database_xact_rollback",
            "pg_up",
        ],
    ),
    ("grafana", &["grafana_http_request_duration_seconds_count"]),
    ("prometheus", &["up"]),
];

/// The exporter serving `metric`, if it is a known metric.
#[must_use]
pub fn exporter_of(metric: &str) -> Option<&'static str> {
    KNOWN_METRICS
        .iter()
        .find(|(_, ms)| ms.contains(&metric))
        .map(|(e, _)| *e)
}

/// Whether monitoring is on.
#[must_use]
pub(crate) fn enabled(ctx: &Ctx<'_>) -> bool {
    ctx.model.instance.monitoring.enabled
}

/// Whether Patroni gets the exporter sidecar.
#[must_use]
pub(crate) fn exporter_enabled(ctx: &Ctx<'_>) -> bool {
    let inst = &ctx.model.instance;
    inst.monitoring.enabled && inst.monitoring.exporter.enabled && inst.components.postgres
}

/// The CronJobs whose age the backup alerts watch, with the age after which each is too old
/// (seconds): every backup CronJob the model renders (logical backups, base backups, off-site
/// copy, restore drill), each at one schedule period plus a day
/// ([`crate::components::disaster_recovery::alerts`]), at least `alerts.backupMaxAgeHours`.
#[must_use]
pub(crate) fn backup_jobs(ctx: &Ctx<'_>) -> Vec<(String, u64)> {
    let floor = u64::from(ctx.model.instance.monitoring.alerts.backup_max_age_hours) * 3600;
    crate::components::disaster_recovery::alerts(ctx.model)
        .into_iter()
        .map(|a| (a.cronjob.to_owned(), a.max_age_seconds.max(floor)))
        .collect()
}

/// Patroni pod hook: names the REST API and PostgreSQL ports of the Patroni container (the
/// PodMonitor addresses ports by name) and adds the exporter sidecar when it is enabled. A no-op
/// while monitoring is off. Called before the pod is hardened, so the sidecar gets the pod's
/// hardening too.
pub(crate) fn patroni_pod(ctx: &Ctx<'_>, pod: &mut PodSpec) {
    if !enabled(ctx) {
        return;
    }
    let inst = &ctx.model.instance;
    for c in &mut pod.containers {
        for p in c.ports.iter_mut().flatten() {
            match p.container_port {
                PATRONI_PORT => p.name = Some(PATRONI_PORT_NAME.to_owned()),
                PG_PORT => p.name = Some(POSTGRES_PORT_NAME.to_owned()),
                _ => {}
            }
        }
    }
    if !exporter_enabled(ctx) {
        return;
    }
    let pg = inst.secrets.postgres.as_str();
    let e = &inst.monitoring.exporter;
    pod.containers.push(Container {
        name: EXPORTER_CONTAINER.to_owned(),
        image: Some(e.image.as_str().to_owned()),
        image_pull_policy: ctx.pull_policy(),
        ports: Some(vec![ContainerPort {
            container_port: EXPORTER_PORT,
            name: Some(EXPORTER_PORT_NAME.to_owned()),
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        env: Env::new()
            .val(
                "DATA_SOURCE_URI",
                format!("localhost:{PG_PORT}/postgres?sslmode=disable"),
            )
            .secret("DATA_SOURCE_USER", pg, "PG_ADMIN_USER.secret")
            .secret("DATA_SOURCE_PASS", pg, "PG_PASS.secret")
            .build(),
        resources: resources(Some(&e.resources)),
        readiness_probe: Some(crate::parts::security::tcp_probe(EXPORTER_PORT, 10, 3)),
        liveness_probe: Some(crate::parts::security::tcp_probe(EXPORTER_PORT, 20, 6)),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            privileged: Some(false),
            read_only_root_filesystem: Some(true),
            run_as_non_root: Some(true),
            run_as_user: Some(NOBODY),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                add: None,
            }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    });
}

// ---------------------------------------------------------------------------------------------
// Typed bodies of the prometheus-operator kinds.

#[derive(Serialize)]
struct Body<S: Serialize> {
    spec: S,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodMonitorSpec {
    selector: LabelSelector,
    pod_metrics_endpoints: Vec<Endpoint>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceMonitorSpec {
    selector: LabelSelector,
    endpoints: Vec<Endpoint>,
    target_labels: Vec<String>,
}

/// A `podMetricsEndpoints` or `endpoints` item.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Endpoint {
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target_port: Option<i32>,
    path: &'static str,
    interval: String,
}

#[derive(Serialize)]
struct RuleSpec {
    groups: Vec<RuleGroup>,
}

#[derive(Serialize)]
struct RuleGroup {
    name: String,
    rules: Vec<AlertRule>,
}

/// One alerting rule.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct AlertRule {
    /// Alert name.
    pub alert: &'static str,
    /// PromQL expression.
    pub expr: String,
    /// How long the expression must hold.
    #[serde(rename = "for", skip_serializing_if = "Option::is_none")]
    pub for_: Option<&'static str>,
    /// `severity`.
    pub labels: BTreeMap<&'static str, &'static str>,
    /// `summary` and `description`.
    pub annotations: BTreeMap<&'static str, String>,
}

fn alert(
    name: &'static str,
    expr: String,
    for_: Option<&'static str>,
    severity: &'static str,
    summary: String,
    description: &str,
) -> AlertRule {
    AlertRule {
        alert: name,
        expr,
        for_,
        labels: BTreeMap::from([("severity", severity)]),
        annotations: BTreeMap::from([("summary", summary), ("description", description.to_owned())]),
    }
}

/// Metadata of a monitoring object: the instance labels plus the selector labels.
fn meta(ctx: &Ctx<'_>, name: &str) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
    let mut m = ctx.meta(
        name,
        Component::Monitoring.as_str(),
        chart_labels("monitoring", None),
    );
    let labels = m.labels.get_or_insert_with(BTreeMap::new);
    for (k, v) in &ctx.model.instance.monitoring.selector_labels {
        labels.insert(k.clone(), v.clone());
    }
    m
}

fn custom<S: Serialize>(kind: Kind, ctx: &Ctx<'_>, name: &str, spec: S) -> Option<Object> {
    CustomResource::new(kind, meta(ctx, name), &Body { spec })
        .ok()
        .map(Object::Custom)
}

/// The Patroni pod labels (the StatefulSet's selector).
fn patroni_selector() -> LabelSelector {
    let mut l = chart_labels("postgres", None);
    l.insert("cluster-name".to_owned(), names::POSTGRES.to_owned());
    LabelSelector {
        match_labels: Some(l),
        ..LabelSelector::default()
    }
}

// ---------------------------------------------------------------------------------------------
// Name selectors.

/// Escapes a literal for a PromQL (RE2) regex.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A regex matching exactly `wanted` among `all` (names of one kind): their common prefix
/// followed by `.+` when that matches nothing else, else the prefix and an alternation.
fn name_regex(wanted: &BTreeSet<String>, all: &BTreeSet<String>) -> String {
    let mut it = wanted.iter();
    let Some(first) = it.next() else {
        return String::new();
    };
    let mut prefix = first.as_str();
    for w in it {
        let n = prefix
            .char_indices()
            .zip(w.chars())
            .take_while(|((_, a), b)| a == b)
            .count();
        prefix = &prefix[..prefix.char_indices().nth(n).map_or(prefix.len(), |(i, _)| i)];
    }
    if wanted.len() > 1 {
        let others = all
            .iter()
            .filter(|n| n.starts_with(prefix) && n.len() > prefix.len())
            .any(|n| !wanted.contains(n));
        let exact_prefix = wanted.contains(prefix);
        if !others && !exact_prefix {
            return format!("{}.+", escape(prefix));
        }
    }
    if wanted.len() == 1 {
        return escape(first);
    }
    let alts: Vec<String> = wanted.iter().map(|w| escape(&w[prefix.len()..])).collect();
    format!("{}({})", escape(prefix), alts.join("|"))
}

/// Names of the rendered objects of one kind, and of those of it whose pod `type` label is one
/// of `types`.
fn names_by_type(objects: &[Rendered], kind: Kind, types: &[&str]) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut all = BTreeSet::new();
    let mut wanted = BTreeSet::new();
    for r in objects.iter().filter(|r| r.object.typed_kind() == kind) {
        all.insert(r.object.name().to_owned());
        let t = r.object.pod_labels().and_then(|l| l.get("type"));
        if t.is_some_and(|t| types.contains(&t.as_str())) {
            wanted.insert(r.object.name().to_owned());
        }
    }
    (wanted, all)
}

// ---------------------------------------------------------------------------------------------
// Rules.

/// The rule groups of the PrometheusRule, from the objects rendered so far.
#[must_use]
pub(crate) fn rule_groups(ctx: &Ctx<'_>, objects: &[Rendered]) -> Vec<(String, Vec<AlertRule>)> {
    let inst = &ctx.model.instance;
    let a = &inst.monitoring.alerts;
    let stale_hours = a.sync_stale_hours(inst.schedules.sync_every_hours);
    let ns = ctx.namespace();
    let mut groups = Vec::new();

    let (sync, cronjobs) = names_by_type(objects, Kind::CRON_JOB, &["sync"]);
    if !sync.is_empty() {
        let sel = format!(r#"namespace="{ns}",cronjob=~"{}""#, name_regex(&sync, &cronjobs));
        let stale = format!(
            "(time() - kube_cronjob_status_last_successful_time{{{sel}}}) > {} unless on (namespace, cronjob) (kube_cronjob_spec_suspend{{namespace=\"{ns}\"}} == 1)",
            u64::from(stale_hours) * 3600
        );
        let failing = format!(
            "(kube_cronjob_status_last_schedule_time{{{sel}}} > on (namespace, cronjob) kube_cronjob_status_last_successful_time{{namespace=\"{ns}\"}}) and on (namespace, cronjob) (kube_cronjob_status_active{{namespace=\"{ns}\"}} == 0)"
        );
        groups.push((
            "devstats.sync".to_owned(),
            vec![
                alert(
                    "DevStatsSyncStale",
                    stale,
                    Some("15m"),
                    "warning",
                    format!(
                        "Sync {{{{ $labels.cronjob }}}} has not succeeded for more than {stale_hours} h"
                    ),
                    "The project's dashboards fall behind GitHub. Look at the last Jobs of the CronJob (devstats-k8s logs, kubectl get jobs) and at Patroni; a sync that keeps failing also raises DevStatsSyncFailing.",
                ),
                alert(
                    "DevStatsSyncFailing",
                    failing,
                    Some("15m"),
                    "warning",
                    "The last run of sync {{ $labels.cronjob }} failed".to_owned(),
                    "The last scheduled Job ended without success and no Job runs. Read its pod logs; GitHub API rate limits, GH Archive outages and database errors are the usual causes. The next run retries.",
                ),
            ],
        ));
    }

    let (provision, jobs) = names_by_type(objects, Kind::JOB, &["provision", "boot"]);
    if !provision.is_empty() {
        groups.push((
            "devstats.provision".to_owned(),
            vec![alert(
                "DevStatsProvisionFailed",
                format!(
                    r#"kube_job_failed{{namespace="{ns}",condition="true",job_name=~"{}"}} > 0"#,
                    name_regex(&provision, &jobs)
                ),
                None,
                "warning",
                "Provisioning Job {{ $labels.job_name }} failed".to_owned(),
                "The project's database was not (fully) created, so its sync and Grafana have nothing to show. Read the Job's logs, fix the cause, delete the Job and apply again.",
            )],
        ));
    }

    if inst.components.postgres {
        let scope = format!(r#"namespace="{ns}",scope="{}""#, names::POSTGRES);
        let mut rules = vec![
            alert(
                "PostgresNoPrimary",
                format!("(max(patroni_primary{{{scope}}}) or vector(0)) < 1"),
                Some("2m"),
                "critical",
                "Patroni cluster devstats-postgres has no primary".to_owned(),
                "Nothing can write: syncs and provisioning fail. Check the Patroni pods (devstats-k8s status, patronictl list) and their access to the Kubernetes API (the DCS). 'or vector(0)' makes this fire also when every member is gone.",
            ),
            alert(
                "PostgresFailoverHappened",
                format!(
                    "changes((max by (namespace, scope) (patroni_postgres_timeline{{{scope}}}))[30m:1m]) > 0"
                ),
                None,
                "warning",
                "Patroni cluster devstats-postgres failed over (new timeline)".to_owned(),
                "A replica was promoted. Find out why the old primary lost the leader lock (node, OOM, API server reachability) and check that it rejoined as a replica.",
            ),
        ];
        if exporter_enabled(ctx) {
            rules.push(alert(
                "PostgresReplicationLag",
                format!(
                    r#"pg_replication_lag_seconds{{namespace="{ns}",pod=~"{}-[0-9]+"}} > {}"#,
                    names::POSTGRES,
                    a.replication_lag_seconds
                ),
                Some("5m"),
                "warning",
                format!(
                    "Replica {{{{ $labels.pod }}}} lags more than {} s behind the primary",
                    a.replication_lag_seconds
                ),
                "Read-only users (Grafanas, the API) see old data, and a failover to this replica would lose transactions. Check its disk and network, and long-running queries on it (hot_standby_feedback).",
            ));
            rules.push(alert(
                "PostgresExporterCannotConnect",
                format!(r#"pg_up{{namespace="{ns}"}} == 0"#),
                Some("5m"),
                "warning",
                "postgres_exporter in {{ $labels.pod }} cannot reach PostgreSQL".to_owned(),
                "PostgreSQL in this member is down or refuses the exporter's credentials (the PostgreSQL Secret's superuser).",
            ));
        }
        groups.push(("devstats.postgres".to_owned(), rules));
    }

    groups.push((
        "devstats.storage".to_owned(),
        vec![alert(
            "DevStatsVolumeFillingUp",
            format!(
                r#"kubelet_volume_stats_available_bytes{{namespace="{ns}"}} / kubelet_volume_stats_capacity_bytes{{namespace="{ns}"}} * 100 < {}"#,
                a.pvc_free_percent
            ),
            Some("5m"),
            "warning",
            format!(
                "Volume {{{{ $labels.persistentvolumeclaim }}}} has less than {} % free",
                a.pvc_free_percent
            ),
            "Grow the volume (storage class with allowVolumeExpansion) or free space: old dumps on the backups volume, WAL on Patroni's volume when a replica or archiving is stuck.",
        )],
    ));

    if inst.components.ingress {
        groups.push((
            "devstats.tls".to_owned(),
            vec![alert(
                "DevStatsCertificateExpiring",
                format!(
                    r#"certmanager_certificate_expiration_timestamp_seconds{{namespace="{ns}"}} - time() < {}"#,
                    u64::from(a.certificate_expiry_days) * 86400
                ),
                Some("1h"),
                "warning",
                format!(
                    "Certificate {{{{ $labels.name }}}} expires in less than {} days",
                    a.certificate_expiry_days
                ),
                "cert-manager renews 30 days before expiry, so renewal is failing: kubectl describe certificate, order and challenge; check the issuer and the HTTP-01 solver's reachability.",
            )],
        ));
    }

    let backups = backup_jobs(ctx);
    if !backups.is_empty() {
        let rules = backups
            .iter()
            .map(|(job, age)| {
                let sel = format!(r#"namespace="{ns}",cronjob="{job}""#);
                alert(
                    "DevStatsBackupTooOld",
                    format!(
                        "(time() - kube_cronjob_status_last_successful_time{{{sel}}} > {age}) or ((time() - kube_cronjob_created{{{sel}}} > {age}) unless on (namespace, cronjob) kube_cronjob_status_last_successful_time{{{sel}}})"
                    ),
                    None,
                    "critical",
                    format!(
                        "Backup {{{{ $labels.cronjob }}}} has not succeeded for more than {} h",
                        age / 3600
                    ),
                    "The newest restorable copy is older than the recovery point objective. Read the last backup Job's logs and check the backups volume's free space.",
                )
            })
            .collect();
        groups.push(("devstats.backups".to_owned(), rules));
    }

    let (grafanas, deployments) = names_by_type(objects, Kind::DEPLOYMENT, &["grafana"]);
    if !grafanas.is_empty() {
        groups.push((
            "devstats.grafana".to_owned(),
            vec![alert(
                "DevStatsGrafanaDown",
                format!(
                    r#"kube_deployment_status_replicas_available{{namespace="{ns}",deployment=~"{}"}} < 1"#,
                    name_regex(&grafanas, &deployments)
                ),
                Some("10m"),
                "critical",
                "Grafana {{ $labels.deployment }} has no available replica".to_owned(),
                "The project's dashboards are down. Check the pods (crash loop, failed probes, PostgreSQL unreachable) with devstats-k8s status and logs.",
            )],
        ));
    }
    groups
}

// ---------------------------------------------------------------------------------------------
// Dashboards.

/// A Grafana dashboard (the fields the sidecar's provisioning needs).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Dashboard {
    /// Unique id.
    pub uid: String,
    /// Title.
    pub title: String,
    /// Tags.
    pub tags: Vec<&'static str>,
    /// Time zone.
    pub timezone: &'static str,
    /// Dashboard JSON schema version.
    pub schema_version: u32,
    /// Auto refresh.
    pub refresh: &'static str,
    /// Default time range.
    pub time: TimeRange,
    /// Whether it can be edited in Grafana (provisioned dashboards are not saved back).
    pub editable: bool,
    /// Template variables (the data source).
    pub templating: Templating,
    /// Panels.
    pub panels: Vec<Panel>,
}

/// A time range.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TimeRange {
    /// From, e.g. `now-24h`.
    pub from: &'static str,
    /// To.
    pub to: &'static str,
}

/// Template variables.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Templating {
    /// The variables.
    pub list: Vec<Variable>,
}

/// A data source variable.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Variable {
    /// Name (`datasource`).
    pub name: &'static str,
    /// Label.
    pub label: &'static str,
    /// `datasource`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The data source type (`prometheus`).
    pub query: &'static str,
}

/// A panel.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Panel {
    /// Unique id in the dashboard.
    pub id: u32,
    /// Title.
    pub title: &'static str,
    /// What it shows.
    pub description: &'static str,
    /// `timeseries` or `stat`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Position.
    pub grid_pos: GridPos,
    /// The data source (the `datasource` variable).
    pub datasource: DataSource,
    /// Units.
    pub field_config: FieldConfig,
    /// Queries.
    pub targets: Vec<Target>,
}

/// Panel position.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct GridPos {
    /// Height.
    pub h: u32,
    /// Width (of 24).
    pub w: u32,
    /// Column.
    pub x: u32,
    /// Row.
    pub y: u32,
}

/// A data source reference.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct DataSource {
    /// `prometheus`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `${datasource}`.
    pub uid: &'static str,
}

/// Field config.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FieldConfig {
    /// Defaults.
    pub defaults: FieldDefaults,
}

/// Field defaults.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct FieldDefaults {
    /// Unit, e.g. `s`, `bytes`, `percent`.
    pub unit: &'static str,
}

/// A PromQL query.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Target {
    /// `A`, `B` …
    pub ref_id: String,
    /// PromQL.
    pub expr: String,
    /// Legend.
    pub legend_format: &'static str,
}

struct PanelSpec {
    title: &'static str,
    description: &'static str,
    kind: &'static str,
    unit: &'static str,
    queries: Vec<(String, &'static str)>,
}

fn panel(
    title: &'static str,
    description: &'static str,
    unit: &'static str,
    queries: Vec<(String, &'static str)>,
) -> PanelSpec {
    PanelSpec {
        title,
        description,
        kind: "timeseries",
        unit,
        queries,
    }
}

fn stat(title: &'static str, description: &'static str, query: String) -> PanelSpec {
    PanelSpec {
        title,
        description,
        kind: "stat",
        unit: "none",
        queries: vec![(query, "")],
    }
}

/// Lays panels out two per row (stats four per row).
fn dashboard(ctx: &Ctx<'_>, key: &str, title: &str, specs: Vec<PanelSpec>) -> Dashboard {
    let inst = ctx.model.instance.name.as_str();
    let mut panels = Vec::new();
    let (mut x, mut y, mut row_h) = (0, 0, 0);
    for (i, s) in specs.into_iter().enumerate() {
        let (w, h) = if s.kind == "stat" { (6, 4) } else { (12, 8) };
        if x + w > 24 {
            x = 0;
            y += row_h;
            row_h = 0;
        }
        panels.push(Panel {
            id: u32::try_from(i + 1).unwrap_or(u32::MAX),
            title: s.title,
            description: s.description,
            kind: s.kind,
            grid_pos: GridPos { h, w, x, y },
            datasource: DataSource {
                kind: "prometheus",
                uid: "${datasource}",
            },
            field_config: FieldConfig {
                defaults: FieldDefaults { unit: s.unit },
            },
            targets: s
                .queries
                .into_iter()
                .enumerate()
                .map(|(j, (expr, legend))| Target {
                    ref_id: char::from(b'A' + u8::try_from(j).unwrap_or(25).min(25)).to_string(),
                    expr,
                    legend_format: legend,
                })
                .collect(),
        });
        x += w;
        row_h = row_h.max(h);
    }
    Dashboard {
        uid: format!("devstats-{inst}-{key}"),
        title: format!("DevStats {inst}: {title}"),
        tags: vec!["devstats"],
        timezone: "utc",
        schema_version: 39,
        refresh: "5m",
        time: TimeRange {
            from: "now-24h",
            to: "now",
        },
        editable: false,
        templating: Templating {
            list: vec![Variable {
                name: "datasource",
                label: "Data source",
                kind: "datasource",
                query: "prometheus",
            }],
        },
        panels,
    }
}

/// The ops dashboards (key, dashboard).
#[must_use]
pub(crate) fn dashboards(ctx: &Ctx<'_>, objects: &[Rendered]) -> Vec<(&'static str, Dashboard)> {
    let inst = &ctx.model.instance;
    let ns = ctx.namespace();
    let n = format!(r#"namespace="{ns}""#);
    let mut out = Vec::new();

    let (grafanas, deployments) = names_by_type(objects, Kind::DEPLOYMENT, &["grafana"]);
    let mut jobs = vec![
        stat(
            "CronJobs whose last run failed",
            "CronJobs whose last scheduled Job ended without success and that run nothing now.",
            format!(
                "count((kube_cronjob_status_last_schedule_time{{{n}}} > on (namespace, cronjob) kube_cronjob_status_last_successful_time{{{n}}}) and on (namespace, cronjob) (kube_cronjob_status_active{{{n}}} == 0)) or vector(0)"
            ),
        ),
        stat(
            "Jobs running",
            "Jobs the CronJobs of the namespace run now.",
            format!("sum(kube_cronjob_status_active{{{n}}}) or vector(0)"),
        ),
        stat(
            "Failed Jobs kept",
            "Failed Jobs still in the namespace (provisioning and CronJob runs).",
            format!(r#"count(kube_job_failed{{{n},condition="true"}} > 0) or vector(0)"#),
        ),
        panel(
            "Hours since the last success (20 oldest)",
            "Per CronJob: data freshness of the project it syncs. Sync should stay below the stale threshold.",
            "h",
            vec![(
                format!("topk(20, (time() - kube_cronjob_status_last_successful_time{{{n}}}) / 3600)"),
                "{{cronjob}}",
            )],
        ),
        panel(
            "Duration of finished Jobs (20 longest)",
            "Wall time of the Jobs still kept, per Job: a sync that grows towards the sync period will overlap the next one.",
            "s",
            vec![(
                format!(
                    "topk(20, kube_job_status_completion_time{{{n}}} - kube_job_status_start_time{{{n}}})"
                ),
                "{{job_name}}",
            )],
        ),
    ];
    if !grafanas.is_empty() {
        let g = name_regex(&grafanas, &deployments);
        jobs.push(stat(
            "Grafanas without an available replica",
            "Project Grafana Deployments that serve nothing.",
            format!(
                r#"count(kube_deployment_status_replicas_available{{{n},deployment=~"{g}"}} < 1) or vector(0)"#
            ),
        ));
        jobs.push(panel(
            "Grafana requests per second (10 busiest projects)",
            "From each Grafana's /metrics, scraped through the devstats-grafana ServiceMonitor.",
            "reqps",
            vec![(
                format!(
                    "topk(10, sum by (proj) (rate(grafana_http_request_duration_seconds_count{{{n}}}[5m])))"
                ),
                "{{proj}}",
            )],
        ));
    }
    out.push(("jobs", dashboard(ctx, "jobs", "jobs", jobs)));

    if inst.components.postgres {
        let s = format!(r#"{n},scope="{}""#, names::POSTGRES);
        let mut pg = vec![
            stat(
                "Primaries",
                "Patroni members that hold the leader lock: exactly 1 is healthy.",
                format!("sum(patroni_primary{{{s}}}) or vector(0)"),
            ),
            stat(
                "Members running PostgreSQL",
                "Patroni members whose PostgreSQL runs.",
                format!("sum(patroni_postgres_running{{{s}}}) or vector(0)"),
            ),
            stat(
                "Ready members",
                "Ready pods of the StatefulSet (kube-state-metrics).",
                format!(
                    r#"sum(kube_statefulset_status_replicas_ready{{{n},statefulset="{}"}}) or vector(0)"#,
                    names::POSTGRES
                ),
            ),
            panel(
                "Timeline per member",
                "A step is a failover or switchover.",
                "none",
                vec![(
                    format!("max by (pod) (patroni_postgres_timeline{{{s}}})"),
                    "{{pod}}",
                )],
            ),
            panel(
                "Replay lag per replica (bytes)",
                "WAL the replica has received but not replayed, relative to the primary's position (Patroni).",
                "bytes",
                vec![(
                    format!(
                        "scalar(max(patroni_xlog_location{{{s}}})) - (patroni_xlog_replayed_location{{{s}}} and on (pod) (patroni_replica{{{s}}} == 1))"
                    ),
                    "{{pod}}",
                )],
            ),
            panel(
                "Database volume free",
                "Free space of each member's data volume.",
                "percent",
                vec![(
                    format!(
                        r#"kubelet_volume_stats_available_bytes{{{n},persistentvolumeclaim=~"pgdata-{}-[0-9]+"}} / kubelet_volume_stats_capacity_bytes{{{n},persistentvolumeclaim=~"pgdata-{}-[0-9]+"}} * 100"#,
                        names::POSTGRES,
                        names::POSTGRES
                    ),
                    "{{persistentvolumeclaim}}",
                )],
            ),
        ];
        if exporter_enabled(ctx) {
            pg.extend([
                panel(
                    "Replication lag (seconds)",
                    "Time since the last transaction the replica replayed (postgres_exporter): grows also when the primary is idle.",
                    "s",
                    vec![(format!("pg_replication_lag_seconds{{{n}}}"), "{{pod}}")],
                ),
                panel(
                    "Connections vs max_connections",
                    "Client connections per member against its limit.",
                    "none",
                    vec![
                        (format!("sum by (pod) (pg_stat_activity_count{{{n}}})"), "{{pod}} connections"),
                        (format!("max by (pod) (pg_settings_max_connections{{{n}}})"), "{{pod}} max"),
                    ],
                ),
                panel(
                    "Transactions per second",
                    "Commits and rollbacks per member.",
                    "ops",
                    vec![
                        (
                            format!("sum by (pod) (rate(pg_stat_database_xact_commit{{{n}}}[5m]))"),
                            "{{pod}} commits",
                        ),
                        (
                            format!("sum by (pod) (rate(pg_stat_database_xact_rollback{{{n}}}[5m]))"),
                            "{{pod}} rollbacks",
                        ),
                    ],
                ),
                panel(
                    "Cache hit ratio",
                    "Share of block reads served from shared buffers.",
                    "percentunit",
                    vec![(
                        format!(
                            "sum by (pod) (rate(pg_stat_database_blks_hit{{{n}}}[5m])) / (sum by (pod) (rate(pg_stat_database_blks_hit{{{n}}}[5m])) + sum by (pod) (rate(pg_stat_database_blks_read{{{n}}}[5m])))"
                        ),
                        "{{pod}}",
                    )],
                ),
                panel(
                    "Longest running transaction",
                    "Per member: long transactions hold back vacuum and replicas (hot_standby_feedback).",
                    "s",
                    vec![(format!("max by (pod) (pg_stat_activity_max_tx_duration{{{n}}})"), "{{pod}}")],
                ),
                panel(
                    "Largest databases",
                    "Size of the 20 largest project databases: the growth forecast of the data volume.",
                    "bytes",
                    vec![(
                        format!("topk(20, max by (datname) (pg_database_size_bytes{{{n}}}))"),
                        "{{datname}}",
                    )],
                ),
            ]);
        }
        out.push(("patroni", dashboard(ctx, "patroni", "Patroni", pg)));
    }

    let backups = backup_jobs(ctx);
    if !backups.is_empty() {
        let jobs: BTreeSet<String> = backups.iter().map(|(j, _)| j.clone()).collect();
        let all: BTreeSet<String> = objects
            .iter()
            .filter(|r| r.object.typed_kind() == Kind::CRON_JOB)
            .map(|r| r.object.name().to_owned())
            .collect();
        let re = name_regex(&jobs, &all);
        out.push((
            "backups",
            dashboard(
                ctx,
                "backups",
                "backups",
                vec![
                    panel(
                        "Hours since the last successful backup",
                        "Per backup CronJob: the age of the newest restorable copy (recovery point).",
                        "h",
                        vec![(
                            format!(
                                r#"(time() - kube_cronjob_status_last_successful_time{{{n},cronjob=~"{re}"}}) / 3600"#
                            ),
                            "{{cronjob}}",
                        )],
                    ),
                    panel(
                        "Backup duration",
                        "Wall time of the backup Jobs still kept.",
                        "s",
                        vec![(
                            format!(
                                r#"kube_job_status_completion_time{{{n},job_name=~"({re})-[0-9]+"}} - kube_job_status_start_time{{{n},job_name=~"({re})-[0-9]+"}}"#
                            ),
                            "{{job_name}}",
                        )],
                    ),
                    panel(
                        "Backups volume free",
                        "Free space of the shared backups volume the dumps are written to.",
                        "percent",
                        vec![(
                            format!(
                                r#"kubelet_volume_stats_available_bytes{{{n},persistentvolumeclaim="{pvc}"}} / kubelet_volume_stats_capacity_bytes{{{n},persistentvolumeclaim="{pvc}"}} * 100"#,
                                pvc = names::BACKUPS_PVC
                            ),
                            "{{persistentvolumeclaim}}",
                        )],
                    ),
                ],
            ),
        ));
    }
    out
}

/// The dashboard ConfigMap for one dashboard.
fn dashboard_config_map(ctx: &Ctx<'_>, key: &str, d: &Dashboard) -> Option<Object> {
    let inst = &ctx.model.instance;
    let dm = &inst.monitoring.dashboards;
    let mut meta = ctx.meta(
        format!("devstats-{}-dashboard-{key}", inst.name),
        Component::Monitoring.as_str(),
        chart_labels("dashboard", None),
    );
    if let Some(ns) = &dm.namespace {
        meta.namespace = Some(ns.to_string());
    }
    let labels = meta.labels.get_or_insert_with(BTreeMap::new);
    for (k, v) in &dm.labels {
        labels.insert(k.clone(), v.clone());
    }
    if let Some(folder) = &dm.folder {
        meta.annotations = Some(BTreeMap::from([("grafana_folder".to_owned(), folder.clone())]));
    }
    let json = serde_json::to_string_pretty(d).ok()?;
    Some(Object::from(ConfigMap {
        metadata: meta,
        data: Some(BTreeMap::from([(
            format!("devstats-{}-{key}.json", inst.name),
            json,
        )])),
        ..ConfigMap::default()
    }))
}

/// Every monitoring object (none while monitoring is off), built after the other components so
/// that the rules can select exactly the rendered objects.
#[must_use]
pub(crate) fn build(ctx: &Ctx<'_>, objects: &[Rendered]) -> Vec<Object> {
    if !enabled(ctx) {
        return Vec::new();
    }
    let inst = &ctx.model.instance;
    let m = &inst.monitoring;
    let interval = m.scrape_interval.clone();
    let mut out = Vec::new();
    if inst.components.postgres {
        let mut endpoints = vec![Endpoint {
            port: Some(PATRONI_PORT_NAME.to_owned()),
            target_port: None,
            path: "/metrics",
            interval: interval.clone(),
        }];
        if exporter_enabled(ctx) {
            endpoints.push(Endpoint {
                port: Some(EXPORTER_PORT_NAME.to_owned()),
                target_port: None,
                path: "/metrics",
                interval: interval.clone(),
            });
        }
        out.extend(custom(
            POD_MONITOR,
            ctx,
            POSTGRES_MONITOR,
            PodMonitorSpec {
                selector: patroni_selector(),
                pod_metrics_endpoints: endpoints,
            },
        ));
    }
    if objects
        .iter()
        .any(|r| r.object.typed_kind() == Kind::DEPLOYMENT && r.component == Component::Grafana)
    {
        let sel = grafana_monitor_selector();
        out.extend(custom(
            SERVICE_MONITOR,
            ctx,
            GRAFANA_MONITOR,
            ServiceMonitorSpec {
                selector: LabelSelector {
                    match_labels: Some(sel),
                    ..LabelSelector::default()
                },
                endpoints: vec![Endpoint {
                    port: None,
                    target_port: Some(crate::components::grafana::PORT),
                    path: "/metrics",
                    interval,
                }],
                target_labels: vec!["proj".to_owned()],
            },
        ));
    }
    let groups = rule_groups(ctx, objects)
        .into_iter()
        .map(|(name, rules)| RuleGroup { name, rules })
        .collect();
    out.extend(custom(PROMETHEUS_RULE, ctx, RULE, RuleSpec { groups }));
    if m.dashboards.enabled {
        for (key, d) in dashboards(ctx, objects) {
            out.extend(dashboard_config_map(ctx, key, &d));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// PromQL scanning (for the reference check).

/// A vector selector of a PromQL expression: the metric name and its label matchers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    /// Metric name.
    pub metric: String,
    /// `(label, operator, value)`: operator `=`, `!=`, `=~` or `!~`.
    pub matchers: Vec<(String, String, String)>,
}

const KEYWORDS: &[&str] = &["and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"];
const LABEL_LISTS: &[&str] = &["by", "without", "on", "ignoring", "group_left", "group_right"];
const AGGREGATORS: &[&str] = &[
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];
const FUNCTIONS: &[&str] = &[
    "abs",
    "absent",
    "avg_over_time",
    "changes",
    "clamp_max",
    "clamp_min",
    "count_over_time",
    "delta",
    "deriv",
    "histogram_quantile",
    "increase",
    "irate",
    "label_replace",
    "last_over_time",
    "max_over_time",
    "min_over_time",
    "predict_linear",
    "rate",
    "resets",
    "round",
    "scalar",
    "sort",
    "sort_desc",
    "sum_over_time",
    "time",
    "timestamp",
    "vector",
];

/// Scans a PromQL expression for its vector selectors. Errors on an unknown function, a
/// selector without a metric name, or unbalanced brackets and strings.
pub fn parse_promql(expr: &str) -> Result<Vec<Selector>, String> {
    let b = expr.as_bytes();
    let mut i = 0;
    let mut out: Vec<Selector> = Vec::new();
    // Whether the previous token was a metric name (a following `{` belongs to it).
    let mut after_metric = false;
    let skip_ws = |mut j: usize| {
        while j < b.len() && b[j].is_ascii_whitespace() {
            j += 1;
        }
        j
    };
    let string_end = |start: usize| -> Result<usize, String> {
        let q = b[start];
        let mut j = start + 1;
        while j < b.len() {
            if b[j] == b'\\' {
                j += 2;
                continue;
            }
            if b[j] == q {
                return Ok(j + 1);
            }
            j += 1;
        }
        Err(format!("unterminated string at byte {start}"))
    };
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if c == b'"' || c == b'\'' || c == b'`' {
            i = string_end(i)?;
            after_metric = false;
            continue;
        }
        if c == b'{' {
            if !after_metric {
                return Err(format!("selector without a metric name at byte {i}"));
            }
            let mut j = i + 1;
            loop {
                j = skip_ws(j);
                if j >= b.len() {
                    return Err("unterminated label matchers".to_owned());
                }
                if b[j] == b'}' {
                    j += 1;
                    break;
                }
                if b[j] == b',' {
                    j += 1;
                    continue;
                }
                let start = j;
                while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                    j += 1;
                }
                let label = &expr[start..j];
                j = skip_ws(j);
                let op_start = j;
                while j < b.len() && matches!(b[j], b'=' | b'!' | b'~') {
                    j += 1;
                }
                let op = &expr[op_start..j];
                j = skip_ws(j);
                if label.is_empty() || !matches!(op, "=" | "!=" | "=~" | "!~") || j >= b.len() || b[j] != b'"'
                {
                    return Err(format!("malformed label matcher at byte {start}"));
                }
                let end = string_end(j)?;
                let value = expr[j + 1..end - 1].replace("\\\\", "\\");
                if let Some(sel) = out.last_mut() {
                    sel.matchers.push((label.to_owned(), op.to_owned(), value));
                }
                j = end;
            }
            i = j;
            after_metric = false;
            continue;
        }
        if c == b'[' {
            match expr[i..].find(']') {
                Some(k) => i += k + 1,
                None => return Err("unterminated range".to_owned()),
            }
            after_metric = false;
            continue;
        }
        if c.is_ascii_digit() || c == b'.' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
            after_metric = false;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' || c == b':' {
            let start = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
                i += 1;
            }
            let word = &expr[start..i];
            let next = skip_ws(i);
            let paren = next < b.len() && b[next] == b'(';
            after_metric = false;
            if LABEL_LISTS.contains(&word) {
                if paren {
                    match expr[next..].find(')') {
                        Some(k) => i = next + k + 1,
                        None => return Err("unterminated label list".to_owned()),
                    }
                }
            } else if KEYWORDS.contains(&word) || AGGREGATORS.contains(&word) {
            } else if paren {
                if !FUNCTIONS.contains(&word) {
                    return Err(format!("unknown function `{word}`"));
                }
            } else {
                out.push(Selector {
                    metric: word.to_owned(),
                    matchers: Vec::new(),
                });
                after_metric = true;
            }
            continue;
        }
        // Operators and parentheses.
        after_metric = false;
        i += 1;
    }
    let open = expr.matches('(').count();
    if open != expr.matches(')').count() {
        return Err("unbalanced parentheses".to_owned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn name_regexes_match_exactly_the_wanted_names() {
        let all = set(&[
            "devstats-a",
            "devstats-b",
            "devstats-affiliations-a",
            "devstats-backups",
        ]);
        assert_eq!(
            name_regex(&set(&["devstats-a", "devstats-b"]), &all),
            "devstats-(a|b)"
        );
        assert_eq!(
            name_regex(&set(&["devstats-affiliations-a"]), &all),
            "devstats-affiliations-a"
        );
        let g = set(&["devstats-grafana-a", "devstats-grafana-b"]);
        let mut all = g.clone();
        all.insert("devstats-api".to_owned());
        assert_eq!(name_regex(&g, &all), "devstats-grafana-.+");
        assert_eq!(escape("a.b"), "a\\.b");
    }

    #[test]
    fn promql_selectors_functions_and_label_lists() {
        let sels = parse_promql(
            r#"(max(patroni_primary{namespace="ns",scope="x"}) or vector(0)) < 1 unless on (namespace, cronjob) changes((max by (scope) (patroni_postgres_timeline))[30m:1m]) > 1e3"#,
        )
        .expect("parses");
        let metrics: Vec<&str> = sels.iter().map(|s| s.metric.as_str()).collect();
        assert_eq!(metrics, ["patroni_primary", "patroni_postgres_timeline"]);
        assert_eq!(
            sels[0].matchers,
            vec![
                ("namespace".to_owned(), "=".to_owned(), "ns".to_owned()),
                ("scope".to_owned(), "=".to_owned(), "x".to_owned())
            ]
        );
        assert!(parse_promql("frobnicate(up)").is_err());
        assert!(parse_promql(r#"{__name__="up"}"#).is_err());
        assert!(parse_promql("sum(up").is_err());
        assert!(parse_promql(r#"up{a="b}"#).is_err());
    }

    #[test]
    fn every_known_metric_has_one_exporter() {
        let mut seen = BTreeSet::new();
        for (_, ms) in KNOWN_METRICS {
            for m in *ms {
                assert!(seen.insert(*m), "{m} listed twice");
                assert_eq!(parse_promql(m).map(|s| s.len()), Ok(1), "{m}");
            }
        }
        assert_eq!(exporter_of("patroni_primary"), Some("patroni"));
        assert_eq!(exporter_of("pg_replication_lag"), None);
    }
}
