//! `status` and `logs`: one row per project (provisioning, last sync and affiliations runs, Grafana
//! replicas, hosts), the database (Patroni primary, replicas, lag when Patroni's REST API is
//! reachable through the API server's pod proxy) and Ingress/TLS readiness. Computed by pure
//! functions from one LIST per kind. Pods that are not Ready, failed Jobs and Deployments or
//! StatefulSets that cannot create their pods are diagnosed from their status and the namespace's
//! Events ([`crate::diagnose`]): each diagnosis is a finding.

use std::collections::{BTreeMap, BTreeSet};

use devstats_render::common::names;
use devstats_render::{Component, Object, RenderSet};
use futures::future::join_all;
use serde_json::Value;

use crate::cluster::{ApiError, Cluster, EVENT, ListOptions, LogOptions};
use crate::diagnose::{self, Diagnosis, PodInput};
use crate::engine::Engine;
use crate::kinds::{Kind, ObjectKey};
use crate::waits::{self, Readiness};

/// The last run of a CronJob.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CronRun {
    /// Whether the CronJob exists.
    pub exists: bool,
    /// `spec.suspend`.
    pub suspended: bool,
    /// `status.lastScheduleTime`.
    pub last_schedule: Option<String>,
    /// `status.lastSuccessfulTime`.
    pub last_success: Option<String>,
    /// Name of the newest Job it started.
    pub last_job: Option<String>,
    /// `succeeded`, `failed: reason`, `running`, or `never run`.
    pub result: String,
}

/// One project.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ProjectRow {
    /// Project name.
    pub project: String,
    /// `active` or `archived`.
    pub status: String,
    /// Provisioning state.
    pub provisioning: String,
    /// Sync CronJob.
    pub sync: CronRun,
    /// Affiliations CronJob.
    pub affiliations: CronRun,
    /// Ready / wanted Grafana replicas.
    pub grafana: Option<(i64, i64)>,
    /// Hosts routed to its Grafana.
    pub hosts: Vec<String>,
    /// Problems.
    pub findings: Vec<String>,
    /// Why its pods, Jobs or Grafana do not start.
    pub diagnoses: Vec<Diagnosis>,
}

/// A Patroni member.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Member {
    /// Pod name.
    pub pod: String,
    /// `primary` or `replica`.
    pub role: String,
    /// Pod Ready.
    pub ready: bool,
    /// Replication lag (bytes), when Patroni's REST API answered.
    pub lag: Option<String>,
}

/// The database.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DatabaseRow {
    /// StatefulSet readiness text.
    pub statefulset: String,
    /// Members.
    pub members: Vec<Member>,
    /// The primary's pod.
    pub primary: Option<String>,
    /// Why its pods do not start.
    pub diagnoses: Vec<Diagnosis>,
}

/// An Ingress.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct IngressRow {
    /// Name.
    pub name: String,
    /// Hosts.
    pub hosts: usize,
    /// Load balancer address.
    pub address: Option<String>,
    /// TLS Secrets, with whether each exists.
    pub tls: Vec<(String, bool)>,
}

/// The whole status.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    /// Namespace.
    pub namespace: String,
    /// Projects.
    pub projects: Vec<ProjectRow>,
    /// Database.
    pub database: DatabaseRow,
    /// Ingresses.
    pub ingresses: Vec<IngressRow>,
    /// Count of findings.
    pub findings: usize,
}

/// Live objects by kind.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Objects by key.
    pub objects: BTreeMap<ObjectKey, Value>,
    /// Patroni's `/cluster` answer, when reachable.
    pub patroni: Option<Value>,
    /// The namespace's Events (empty when they cannot be listed).
    pub events: Vec<Value>,
    /// The last log lines of crash-looping pods, by pod name.
    pub logs: BTreeMap<String, String>,
}

impl Snapshot {
    fn get(&self, kind: Kind, ns: &str, name: &str) -> Option<&Value> {
        self.objects.get(&ObjectKey::new(kind, Some(ns), name))
    }
    fn of_kind(&self, kind: Kind) -> impl Iterator<Item = &Value> {
        self.objects
            .iter()
            .filter(move |(k, _)| k.kind == kind)
            .map(|(_, v)| v)
    }
}

fn text<'a>(v: &'a Value, p: &str) -> Option<&'a str> {
    v.pointer(p).and_then(Value::as_str)
}

/// The newest Job a CronJob created (by owner reference).
fn last_job<'a>(snap: &'a Snapshot, cronjob: &str) -> Option<&'a Value> {
    snap.of_kind(Kind::JOB)
        .filter(|j| {
            j.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|o| {
                    o.iter()
                        .any(|r| text(r, "/kind") == Some("CronJob") && text(r, "/name") == Some(cronjob))
                })
        })
        .max_by(|a, b| text(a, "/metadata/creationTimestamp").cmp(&text(b, "/metadata/creationTimestamp")))
}

fn cron_run(snap: &Snapshot, ns: &str, name: &str) -> CronRun {
    let Some(cj) = snap.get(Kind::CRON_JOB, ns, name) else {
        return CronRun {
            result: "missing".to_owned(),
            ..CronRun::default()
        };
    };
    let job = last_job(snap, name);
    let result = match job.map(waits::job) {
        None => "never run".to_owned(),
        Some(Readiness::Ready) => "succeeded".to_owned(),
        Some(Readiness::Failed(r)) => format!("failed: {r}"),
        Some(Readiness::Progressing(_)) => "running".to_owned(),
    };
    CronRun {
        exists: true,
        suspended: cj
            .pointer("/spec/suspend")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        last_schedule: text(cj, "/status/lastScheduleTime").map(str::to_owned),
        last_success: text(cj, "/status/lastSuccessfulTime").map(str::to_owned),
        last_job: job.and_then(|j| text(j, "/metadata/name")).map(str::to_owned),
        result,
    }
}

fn provisioning(snap: &Snapshot, ns: &str, project: &str) -> String {
    let name = names::provision(project);
    if let Some(job) = snap.get(Kind::JOB, ns, &name) {
        return match waits::job(job) {
            Readiness::Ready => "provisioned".to_owned(),
            Readiness::Failed(r) => format!("failed: {r}"),
            Readiness::Progressing(m) => format!("running ({m})"),
        };
    }
    if let Some(pod) = snap.get(Kind::POD, ns, &name) {
        return match waits::pod_outcome(pod) {
            Readiness::Ready => "provisioned (chart pod)".to_owned(),
            Readiness::Failed(r) => format!("failed (chart pod): {r}"),
            Readiness::Progressing(m) => format!("running (chart pod, {m})"),
        };
    }
    "not provisioned".to_owned()
}

/// Hosts per Service, from the rendered Ingresses.
fn hosts_by_service(set: &RenderSet) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &set.objects {
        if let Object::Ingress(ing) = &r.object {
            for rule in ing.spec.iter().flat_map(|s| s.rules.iter().flatten()) {
                let Some(host) = &rule.host else { continue };
                for p in rule.http.iter().flat_map(|h| h.paths.iter()) {
                    if let Some(svc) = &p.backend.service {
                        out.entry(svc.name.clone()).or_default().insert(host.clone());
                    }
                }
            }
        }
    }
    out
}

fn owned_by_job(pod: &Value) -> bool {
    pod.pointer("/metadata/ownerReferences")
        .and_then(Value::as_array)
        .is_some_and(|o| o.iter().any(|r| text(r, "/kind") == Some("Job")))
}

/// Diagnoses pods that are not Ready.
fn diagnose_pods<'a>(snap: &Snapshot, pods: impl Iterator<Item = &'a Value>) -> Vec<Diagnosis> {
    let claims: Vec<Value> = snap.of_kind(Kind::PERSISTENT_VOLUME_CLAIM).cloned().collect();
    pods.filter(|p| diagnose::pod_unhealthy(p))
        .flat_map(|p| {
            let name = text(p, "/metadata/name").unwrap_or_default();
            diagnose::pod(&PodInput {
                pod: p,
                events: &snap.events,
                claims: &claims,
                logs: snap.logs.get(name).map(String::as_str),
            })
        })
        .collect()
}

/// Diagnoses a project: its Grafana pods and Deployment, and its provisioning and newest sync /
/// affiliations Jobs (with their pods that are still Pending or running).
fn diagnose_project(snap: &Snapshot, ns: &str, project: &str) -> Vec<Diagnosis> {
    let of_project = |p: &&Value| text(p, "/metadata/labels/proj") == Some(project);
    let mut out = diagnose_pods(
        snap,
        snap.of_kind(Kind::POD)
            .filter(of_project)
            .filter(|p| !owned_by_job(p)),
    );
    let grafana = names::grafana(project);
    if let Some(d) = snap.get(Kind::DEPLOYMENT, ns, &grafana) {
        let ready = d
            .pointer("/status/readyReplicas")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let want = d.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
        if ready < want {
            out.extend(diagnose::deployment(d, &snap.events));
        }
    }
    let jobs = [
        snap.get(Kind::JOB, ns, &names::provision(project)),
        last_job(snap, &names::sync(project)),
        last_job(snap, &names::affiliations(project)),
    ];
    for job in jobs.into_iter().flatten() {
        if matches!(waits::job(job), Readiness::Ready) {
            continue;
        }
        let failed_pod =
            diagnose::last_failed_pod(job, snap.of_kind(Kind::POD)).and_then(|p| text(p, "/metadata/name"));
        out.extend(diagnose::job(
            job,
            snap.of_kind(Kind::POD),
            &snap.events,
            failed_pod.and_then(|p| snap.logs.get(p)).map(String::as_str),
        ));
        let name = text(job, "/metadata/name").unwrap_or_default();
        out.extend(diagnose_pods(
            snap,
            snap.of_kind(Kind::POD).filter(|p| {
                text(p, "/metadata/labels/job-name") == Some(name)
                    && matches!(text(p, "/status/phase"), Some("Pending" | "Running") | None)
            }),
        ));
    }
    out
}

/// Computes the status from a render and a snapshot of the cluster.
#[must_use]
pub fn compute(set: &RenderSet, namespace: &str, snap: &Snapshot) -> Status {
    let hosts = hosts_by_service(set);
    let mut projects: BTreeMap<String, bool> = BTreeMap::new();
    for r in &set.objects {
        if let Some(p) = &r.project {
            let active = projects.entry(p.clone()).or_insert(false);
            *active |= r.component == Component::Provision;
        }
    }
    let mut rows = Vec::new();
    for (p, active) in projects {
        let mut row = ProjectRow {
            project: p.clone(),
            status: if active { "active" } else { "archived" }.to_owned(),
            ..ProjectRow::default()
        };
        if active {
            row.provisioning = provisioning(snap, namespace, &p);
            row.sync = cron_run(snap, namespace, &names::sync(&p));
            row.affiliations = cron_run(snap, namespace, &names::affiliations(&p));
            row.grafana = snap
                .get(Kind::DEPLOYMENT, namespace, &names::grafana(&p))
                .map(|d| {
                    (
                        d.pointer("/status/readyReplicas")
                            .and_then(Value::as_i64)
                            .unwrap_or(0),
                        d.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1),
                    )
                });
            row.hosts = hosts
                .get(&names::grafana_service(&p))
                .map(|h| h.iter().cloned().collect())
                .unwrap_or_default();
            if row.provisioning.starts_with("failed") || row.provisioning == "not provisioned" {
                row.findings.push(format!("provisioning: {}", row.provisioning));
            }
            for (what, run) in [("sync", &row.sync), ("affiliations", &row.affiliations)] {
                if run.result.starts_with("failed") || run.result == "missing" {
                    row.findings.push(format!("{what}: {}", run.result));
                }
            }
            match row.grafana {
                Some((ready, want)) if ready < want => {
                    row.findings.push(format!("grafana: {ready}/{want} ready"))
                }
                None => row.findings.push("grafana: missing".to_owned()),
                _ => {}
            }
            row.diagnoses = diagnose_project(snap, namespace, &p);
        } else {
            row.provisioning = provisioning(snap, namespace, &p);
        }
        rows.push(row);
    }

    let mut database = DatabaseRow::default();
    let pods: Vec<&Value> = snap.of_kind(Kind::POD).collect();
    match snap.get(Kind::STATEFUL_SET, namespace, names::POSTGRES) {
        Some(sts) => {
            database.statefulset = match waits::statefulset(sts) {
                Readiness::Ready => "ready".to_owned(),
                Readiness::Progressing(m) | Readiness::Failed(m) => m,
            };
            database.primary = waits::patroni_primary(pods.iter().copied(), names::POSTGRES);
            let lags: BTreeMap<String, String> = snap
                .patroni
                .as_ref()
                .and_then(|c| c.get("members"))
                .and_then(Value::as_array)
                .map(|ms| {
                    ms.iter()
                        .filter_map(|m| {
                            let name = text(m, "/name")?.to_owned();
                            let lag = m.get("lag").map(|l| match l {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })?;
                            Some((name, lag))
                        })
                        .collect()
                })
                .unwrap_or_default();
            if !matches!(waits::statefulset(sts), Readiness::Ready) {
                database.diagnoses = diagnose::statefulset(sts, &snap.events);
            }
            database.diagnoses.extend(diagnose_pods(
                snap,
                pods.iter()
                    .copied()
                    .filter(|p| text(p, "/metadata/labels/cluster-name") == Some(names::POSTGRES)),
            ));
            for p in pods
                .iter()
                .filter(|p| text(p, "/metadata/labels/cluster-name") == Some(names::POSTGRES))
            {
                let pod = text(p, "/metadata/name").unwrap_or_default().to_owned();
                let role = match text(p, "/metadata/labels/role") {
                    Some("primary" | "master") => "primary",
                    Some("replica") => "replica",
                    _ => "unknown",
                };
                database.members.push(Member {
                    lag: lags.get(&pod).cloned(),
                    pod,
                    role: role.to_owned(),
                    ready: waits::pod_ready(p),
                });
            }
        }
        None => database.statefulset = "missing".to_owned(),
    }

    let mut ingresses = Vec::new();
    for r in &set.objects {
        if let Object::Ingress(ing) = &r.object {
            let name = r.object.name().to_owned();
            let live = snap.get(Kind::INGRESS, namespace, &name);
            let address = live.and_then(|l| {
                l.pointer("/status/loadBalancer/ingress/0")
                    .and_then(|i| i.get("ip").or_else(|| i.get("hostname")))
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
            let tls = ing
                .spec
                .iter()
                .flat_map(|s| s.tls.iter().flatten())
                .filter_map(|t| t.secret_name.clone())
                .map(|s| {
                    let present = snap.get(Kind::SECRET, namespace, &s).is_some();
                    (s, present)
                })
                .collect();
            ingresses.push(IngressRow {
                name,
                hosts: ing.spec.iter().flat_map(|s| s.rules.iter().flatten()).count(),
                address,
                tls,
            });
        }
    }
    let mut findings: usize = rows.iter().map(|r| r.findings.len() + r.diagnoses.len()).sum();
    findings += database.diagnoses.len();
    if database.primary.is_none() {
        findings += 1;
    }
    findings += ingresses
        .iter()
        .map(|i| i.tls.iter().filter(|(_, ok)| !ok).count() + usize::from(i.address.is_none()))
        .sum::<usize>();
    Status {
        namespace: namespace.to_owned(),
        projects: rows,
        database,
        ingresses,
        findings,
    }
}

/// Reads what [`compute`] needs: Jobs, CronJobs, Deployments, StatefulSets, Ingresses, Pods and
/// PersistentVolumeClaims (full), Secrets (metadata only) and Events (when they can be listed),
/// then asks Patroni's REST API for replication lag and reads the last log lines of crash-looping
/// pods and of the newest failed pod of each failed Job (at most [`MAX_LOGS`] pods).
pub async fn snapshot<C: Cluster>(eng: &Engine<'_, C>, namespace: &str) -> Result<Snapshot, ApiError> {
    let kinds = [
        (Kind::JOB, false),
        (Kind::CRON_JOB, false),
        (Kind::DEPLOYMENT, false),
        (Kind::STATEFUL_SET, false),
        (Kind::INGRESS, false),
        (Kind::POD, false),
        (Kind::PERSISTENT_VOLUME_CLAIM, false),
        (Kind::SECRET, true),
    ];
    let lists = join_all(kinds.iter().map(|(k, meta)| {
        let opts = ListOptions {
            metadata_only: *meta,
            label_selector: None,
        };
        async move { (*k, eng.list(*k, Some(namespace), &opts).await) }
    }))
    .await;
    let mut snap = Snapshot::default();
    for (k, r) in lists {
        for item in r? {
            if let Some(key) = ObjectKey::of_item(k, &item) {
                snap.objects.insert(key, item);
            }
        }
    }
    // Events only add detail: a user who may not list them still gets the status.
    snap.events = eng
        .list(EVENT, Some(namespace), &ListOptions::default())
        .await
        .unwrap_or_default();
    // Crash-looping containers, and the newest failed pod of each failed Job.
    let mut read: Vec<(String, Option<String>)> = snap
        .of_kind(Kind::POD)
        .filter_map(|p| {
            Some((
                text(p, "/metadata/name")?.to_owned(),
                Some(diagnose::crashing_container(p)?),
            ))
        })
        .collect();
    read.extend(
        snap.of_kind(Kind::JOB)
            .filter(|j| matches!(waits::job(j), Readiness::Failed(_)))
            .filter_map(|j| diagnose::last_failed_pod(j, snap.of_kind(Kind::POD)))
            .filter_map(|p| Some((text(p, "/metadata/name")?.to_owned(), None))),
    );
    read.truncate(MAX_LOGS);
    let logs = join_all(read.into_iter().map(|(pod, container)| async move {
        let opts = LogOptions {
            container,
            tail_lines: Some(diagnose::LOG_LINES as u32),
        };
        let text = eng.logs(namespace, &pod, &opts).await.ok();
        (pod, text)
    }))
    .await;
    snap.logs = logs
        .into_iter()
        .filter_map(|(pod, text)| Some((pod, text?)))
        .collect();
    let primary = waits::patroni_primary(snap.of_kind(Kind::POD), names::POSTGRES);
    if let Some(p) = primary
        && let Ok(text) = eng.pod_proxy_get(namespace, &p, 8008, "cluster").await
    {
        snap.patroni = serde_json::from_str(&text).ok();
    }
    Ok(snap)
}

/// How many crash-looping pods' logs [`snapshot`] reads.
pub const MAX_LOGS: usize = 20;

fn push_diagnoses(out: &mut String, ds: &[Diagnosis]) {
    for d in ds {
        for line in d.to_string().lines() {
            out.push_str("  ");
            out.push_str(line);
            out.push('\n');
        }
    }
}

/// The status as a text table.
#[must_use]
pub fn table(s: &Status) -> String {
    let mut out = String::new();
    out.push_str(&format!(
        "{:<28} {:<9} {:<26} {:<34} {:<34} {:<8} {}\n",
        "PROJECT", "STATUS", "PROVISIONING", "SYNC (last run)", "AFFILIATIONS (last run)", "GRAFANA", "HOST"
    ));
    let run = |c: &CronRun| {
        if !c.exists {
            return c.result.clone();
        }
        let when = c.last_schedule.as_deref().unwrap_or("-");
        format!(
            "{}{} {when}",
            if c.suspended { "suspended, " } else { "" },
            c.result
        )
    };
    for r in &s.projects {
        let grafana = r
            .grafana
            .map_or_else(|| "-".to_owned(), |(a, b)| format!("{a}/{b}"));
        out.push_str(&format!(
            "{:<28} {:<9} {:<26} {:<34} {:<34} {:<8} {}\n",
            r.project,
            r.status,
            r.provisioning,
            if r.status == "active" {
                run(&r.sync)
            } else {
                "-".to_owned()
            },
            if r.status == "active" {
                run(&r.affiliations)
            } else {
                "-".to_owned()
            },
            grafana,
            r.hosts.first().map_or("-", String::as_str)
        ));
    }
    for r in s.projects.iter().filter(|r| !r.diagnoses.is_empty()) {
        out.push_str(&format!("\nproject {}: why it is not ready\n", r.project));
        push_diagnoses(&mut out, &r.diagnoses);
    }
    out.push_str(&format!(
        "\ndatabase {}: {}; primary {}\n",
        names::POSTGRES,
        s.database.statefulset,
        s.database.primary.as_deref().unwrap_or("NONE")
    ));
    for m in &s.database.members {
        out.push_str(&format!(
            "  {:<24} {:<8} {:<6} lag {}\n",
            m.pod,
            m.role,
            if m.ready { "ready" } else { "NOT READY" },
            m.lag.as_deref().unwrap_or("unknown")
        ));
    }
    if !s.database.diagnoses.is_empty() {
        out.push_str("  why it is not ready:\n");
        push_diagnoses(&mut out, &s.database.diagnoses);
    }
    for i in &s.ingresses {
        let tls: Vec<String> = i
            .tls
            .iter()
            .map(|(n, ok)| format!("{n}{}", if *ok { "" } else { " (MISSING)" }))
            .collect();
        out.push_str(&format!(
            "ingress {}: {} hosts, address {}, tls {}\n",
            i.name,
            i.hosts,
            i.address.as_deref().unwrap_or("(none yet)"),
            if tls.is_empty() {
                "-".to_owned()
            } else {
                tls.join(", ")
            }
        ));
    }
    out.push_str(&format!("{} findings\n", s.findings));
    out
}

/// Which pods `logs` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogComponent {
    /// The newest sync run.
    Sync,
    /// The newest affiliations run.
    Affiliations,
    /// Grafana.
    Grafana,
    /// The provisioning run (Job pod or the chart's pod).
    Provision,
}

impl LogComponent {
    /// The pod template `type` label.
    #[must_use]
    pub fn type_label(self) -> &'static str {
        match self {
            LogComponent::Sync => "sync",
            LogComponent::Affiliations => "affiliations",
            LogComponent::Grafana => "grafana",
            LogComponent::Provision => "provision",
        }
    }
}

/// The newest pod of a project's component.
pub async fn newest_pod<C: Cluster>(
    eng: &Engine<'_, C>,
    namespace: &str,
    project: &str,
    component: LogComponent,
) -> Result<Option<String>, ApiError> {
    let opts = ListOptions {
        metadata_only: true,
        label_selector: Some(format!("proj={project},type={}", component.type_label())),
    };
    let pods = eng.list(Kind::POD, Some(namespace), &opts).await?;
    Ok(pods
        .iter()
        .max_by(|a, b| text(a, "/metadata/creationTimestamp").cmp(&text(b, "/metadata/creationTimestamp")))
        .and_then(|p| text(p, "/metadata/name"))
        .map(str::to_owned))
}

/// Why a project's log cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogsError {
    /// A request failed.
    #[error("{0}")]
    Api(#[from] ApiError),
    /// The project's component has no pod.
    #[error(
        "no {} pod of project {project} in {namespace} (labels proj={project},type={})",
        component.type_label(),
        component.type_label()
    )]
    NoPod {
        /// The component.
        component: LogComponent,
        /// The project.
        project: String,
        /// The namespace.
        namespace: String,
    },
}

/// The newest pod of a project's component, or why there is none.
pub async fn log_pod<C: Cluster>(
    eng: &Engine<'_, C>,
    namespace: &str,
    project: &str,
    component: LogComponent,
) -> Result<String, LogsError> {
    newest_pod(eng, namespace, project, component)
        .await?
        .ok_or_else(|| LogsError::NoPod {
            component,
            project: project.to_owned(),
            namespace: namespace.to_owned(),
        })
}

/// The log of the newest pod of a project's component.
pub async fn logs<C: Cluster>(
    eng: &Engine<'_, C>,
    namespace: &str,
    project: &str,
    component: LogComponent,
    tail: Option<u32>,
) -> Result<(String, String), LogsError> {
    let pod = log_pod(eng, namespace, project, component).await?;
    let opts = LogOptions {
        container: None,
        tail_lines: tail,
    };
    let text = eng.logs(namespace, &pod, &opts).await?;
    Ok((pod, text))
}
