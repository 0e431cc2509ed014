//! "Why doesn't it start": pure diagnosis of a pod (and its claims, its Job, its controller) from
//! the objects and Events the API server returns, with the fix to try. No IO: `status` feeds it
//! LIST results, and the operator will fill `DevStatsStatus.problems` from the same
//! [`Diagnosis`] values ([`Diagnosis::problem`]).
//!
//! The reason strings and message formats matched here are the kubelet's, the scheduler's, the
//! persistent-volume controller's, the Job and ReplicaSet controllers' and the quota / LimitRange
//! admission plugins'; `tests/fixtures/diagnose/SOURCES.md` names where each comes from.
//!
//! Each check reads the structured fields first (container `state.waiting.reason`, the
//! `PodScheduled` condition, a claim's `status.phase`, a Job's `Failed` condition) and only uses
//! Event messages for the detail (which image, which labels, which quota), so a changed message
//! wording degrades the detail, not the diagnosis.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::kinds::Kind;

/// How many log lines a crash-loop diagnosis keeps.
pub const LOG_LINES: usize = 10;

/// Which probe fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Probe {
    /// `readinessProbe`.
    Readiness,
    /// `livenessProbe`.
    Liveness,
    /// `startupProbe`.
    Startup,
}

/// Why a claim is Pending.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "why", content = "detail")]
pub enum ClaimWhy {
    /// No `storageClassName` and no default StorageClass (`FailedBinding`).
    NoStorageClass,
    /// The named StorageClass does not exist.
    StorageClassNotFound(String),
    /// The provisioner failed (capacity, quota of the storage backend, …): its message.
    ProvisioningFailed(String),
    /// `volumeBindingMode: WaitForFirstConsumer`: binds once the pod is scheduled.
    WaitForFirstConsumer,
    /// Waiting for an external provisioner that has not answered.
    ExternalProvisioning(String),
    /// Pending with no Event that says why.
    Unknown,
}

/// A missing Secret or ConfigMap (or key of one) a container refers to.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MissingRef {
    /// `Secret` or `ConfigMap`.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// The missing key, when the object exists but the key does not.
    pub key: Option<String>,
}

/// The diagnosed cause, with the facts that name it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "cause")]
pub enum Cause {
    /// The image cannot be pulled (`ErrImagePull`, `ImagePullBackOff`, `InvalidImageName`,
    /// `ErrImageNeverPull`).
    ImagePull {
        /// Container name.
        container: String,
        /// The image reference.
        image: String,
        /// The waiting reason.
        reason: String,
        /// The runtime's error (from the `Failed` Event or the waiting message).
        detail: String,
    },
    /// The scheduler finds no node (`PodScheduled=False`, `Unschedulable`).
    Unschedulable {
        /// The pod's `nodeSelector`.
        node_selector: BTreeMap<String, String>,
        /// Whether the pod has a required node affinity.
        node_affinity: bool,
        /// Resources no node has enough of (`Insufficient cpu`).
        insufficient: Vec<String>,
        /// Taints the pod does not tolerate (`key: value`).
        taints: Vec<String>,
        /// Nodes do not match the selector or affinity.
        selector_mismatch: bool,
        /// The scheduler's message.
        detail: String,
    },
    /// A claim of the pod is Pending.
    ClaimPending {
        /// Claim name.
        claim: String,
        /// Its `storageClassName`.
        storage_class: Option<String>,
        /// Why.
        why: ClaimWhy,
    },
    /// A ResourceQuota rejected the pod (`exceeded quota`, `failed quota`).
    QuotaExceeded {
        /// The admission message.
        detail: String,
    },
    /// A LimitRange rejected the pod (`maximum cpu usage per Container is …`).
    LimitRange {
        /// The admission message.
        detail: String,
    },
    /// Another admission rejection of pod creation (`FailedCreate`).
    CreateRejected {
        /// The controller's message.
        detail: String,
    },
    /// The container keeps exiting (`CrashLoopBackOff`).
    CrashLoop {
        /// Container name.
        container: String,
        /// Exit code of the last run.
        exit_code: Option<i64>,
        /// Reason of the last run (`Error`, `OOMKilled`, …).
        reason: Option<String>,
        /// Restarts so far.
        restarts: i64,
        /// The last log lines, when read.
        last_logs: Vec<String>,
    },
    /// A probe fails (`Unhealthy` Events).
    ProbeFailing {
        /// Which probe.
        probe: Probe,
        /// The kubelet's message without the `… probe failed: ` prefix.
        detail: String,
        /// How often (the Event's `count`).
        count: i64,
    },
    /// The Job failed more than `backoffLimit` times.
    JobBackoffLimit {
        /// Failed pods.
        failed: i64,
        /// `spec.backoffLimit` (Kubernetes' default 6 when unset).
        limit: i64,
        /// The newest failed pod, when it still exists.
        last_pod: Option<String>,
        /// Its exit code.
        exit_code: Option<i64>,
        /// Its termination reason (`Error`, `OOMKilled`, …).
        reason: Option<String>,
        /// Its last log lines, when read.
        last_logs: Vec<String>,
    },
    /// The Job ran longer than `activeDeadlineSeconds`.
    JobDeadline {
        /// `spec.activeDeadlineSeconds`.
        seconds: Option<i64>,
    },
    /// A Secret or ConfigMap (or a key of one) the container needs is missing
    /// (`CreateContainerConfigError`).
    ContainerConfig {
        /// Container name.
        container: String,
        /// What is missing, when the message names it.
        missing: Option<MissingRef>,
        /// The kubelet's message.
        detail: String,
    },
}

impl Cause {
    /// A CamelCase reason for a status condition (`ImagePullFailed`, `Unschedulable`, …).
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Cause::ImagePull { .. } => "ImagePullFailed",
            Cause::Unschedulable { .. } => "Unschedulable",
            Cause::ClaimPending { .. } => "ClaimPending",
            Cause::QuotaExceeded { .. } => "QuotaExceeded",
            Cause::LimitRange { .. } => "LimitRangeRejected",
            Cause::CreateRejected { .. } => "CreateRejected",
            Cause::CrashLoop { .. } => "CrashLoopBackOff",
            Cause::ProbeFailing { .. } => "ProbeFailing",
            Cause::JobBackoffLimit { .. } => "BackoffLimitExceeded",
            Cause::JobDeadline { .. } => "DeadlineExceeded",
            Cause::ContainerConfig { .. } => "CreateContainerConfigError",
        }
    }
}

/// One diagnosis: the object, the cause, a message, and the fix to try.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnosis {
    /// `Kind namespace/name` of the object the cause is about.
    pub object: String,
    /// The cause.
    #[serde(flatten)]
    pub cause: Cause,
    /// What is wrong, in one sentence.
    pub message: String,
    /// What to try.
    pub fix: String,
}

impl Diagnosis {
    fn new(object: String, cause: Cause) -> Self {
        let (message, fix) = explain(&cause);
        Self {
            object,
            cause,
            message,
            fix,
        }
    }

    /// As a problem of the `DevStats` resource's status.
    #[must_use]
    pub fn problem(&self) -> devstats_render::resource::Problem {
        devstats_render::resource::Problem {
            path: self.object.clone(),
            message: format!("{}: {} Fix: {}", self.cause.reason(), self.message, self.fix),
        }
    }
}

impl std::fmt::Display for Diagnosis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}\n  fix: {}", self.object, self.message, self.fix)?;
        if let Cause::CrashLoop { last_logs, .. } | Cause::JobBackoffLimit { last_logs, .. } = &self.cause
            && !last_logs.is_empty()
        {
            write!(f, "\n  last log lines:")?;
            for l in last_logs {
                write!(f, "\n    | {l}")?;
            }
        }
        Ok(())
    }
}

fn quoted_list(m: &BTreeMap<String, String>) -> String {
    m.iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn explain(cause: &Cause) -> (String, String) {
    match cause {
        Cause::ImagePull {
            container,
            image,
            reason,
            detail,
        } => {
            let message = format!(
                "container {container} cannot pull image \"{image}\" ({reason}){}",
                if detail.is_empty() {
                    String::new()
                } else {
                    format!(": {detail}")
                }
            );
            let fix = if reason == "InvalidImageName" {
                format!("\"{image}\" is not a valid image reference; correct the image in the model")
            } else if reason == "ErrImageNeverPull" {
                format!("imagePullPolicy is Never and \"{image}\" is not on the node; load it there or allow pulls")
            } else if detail.contains("unauthorized")
                || detail.contains("denied")
                || detail.contains("authentication required")
                || detail.contains("401")
                || detail.contains("403")
            {
                format!("the registry refused access to \"{image}\": add imagePullSecrets with credentials for it, or use a public image")
            } else {
                format!("check that \"{image}\" exists (repository and tag) and that the nodes can reach its registry; correct the image (and tag) in the model and apply")
            };
            (message, fix)
        }
        Cause::Unschedulable {
            node_selector,
            node_affinity,
            insufficient,
            taints,
            selector_mismatch,
            detail,
        } => {
            let message = format!("no node can run the pod: {detail}");
            let mut fixes = Vec::new();
            if *selector_mismatch {
                if node_selector.is_empty() {
                    fixes.push(if *node_affinity {
                        "no node matches the pod's required node affinity: label a node to match it or relax the affinity".to_owned()
                    } else {
                        "no node matches the pod's node affinity/selector".to_owned()
                    });
                } else {
                    fixes.push(format!(
                        "no node has the labels {}{}: label a node (kubectl label node NODE {}) or change the node selector in the model",
                        quoted_list(node_selector),
                        if *node_affinity { " (and the required node affinity)" } else { "" },
                        node_selector
                            .iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(" ")
                    ));
                }
            }
            if !insufficient.is_empty() {
                fixes.push(format!(
                    "not enough {} on any node: lower the requests in the model or add nodes",
                    insufficient.join(", ")
                ));
            }
            if !taints.is_empty() {
                fixes.push(format!(
                    "the nodes have taints the pod does not tolerate ({}): add a toleration or untaint a node",
                    taints.join(", ")
                ));
            }
            if fixes.is_empty() {
                fixes.push("read the scheduler's message above; kubectl describe nodes shows labels, taints and allocatable resources".to_owned());
            }
            (message, fixes.join("; "))
        }
        Cause::ClaimPending {
            claim,
            storage_class,
            why,
        } => {
            let class = storage_class
                .as_deref()
                .map_or_else(|| "no storage class".to_owned(), |c| format!("storage class \"{c}\""));
            match why {
                ClaimWhy::NoStorageClass => (
                    format!("claim {claim} is Pending: it names no storage class and the cluster has no default one"),
                    "set a storage class in the model (instance storage class) or mark one default (annotation storageclass.kubernetes.io/is-default-class=true)".to_owned(),
                ),
                ClaimWhy::StorageClassNotFound(c) => (
                    format!("claim {claim} is Pending: storage class \"{c}\" does not exist"),
                    "use an existing storage class (kubectl get storageclass) in the model".to_owned(),
                ),
                ClaimWhy::ProvisioningFailed(d) => (
                    format!("claim {claim} ({class}) is Pending: provisioning failed: {d}"),
                    "the storage backend could not create the volume (capacity or backend quota): free capacity, lower the requested size, or use another storage class".to_owned(),
                ),
                ClaimWhy::WaitForFirstConsumer => (
                    format!("claim {claim} ({class}) waits for its first consumer: it binds when the pod is scheduled"),
                    "not a fault by itself; if the pod stays Pending, see why it is not scheduled".to_owned(),
                ),
                ClaimWhy::ExternalProvisioning(d) => (
                    format!("claim {claim} ({class}) is Pending: {d}"),
                    "check that the storage class's provisioner (CSI driver) is running".to_owned(),
                ),
                ClaimWhy::Unknown => (
                    format!("claim {claim} ({class}) is Pending"),
                    "kubectl describe pvc shows the provisioner's events; check the storage class and its provisioner".to_owned(),
                ),
            }
        }
        Cause::QuotaExceeded { detail } => (
            format!("a ResourceQuota rejected the pod: {detail}"),
            if detail.contains("must specify") {
                "the namespace's ResourceQuota covers resources the containers do not set: set their requests/limits in the model (or drop those resources from the quota)".to_owned()
            } else {
                "raise the namespace's ResourceQuota (kubectl describe resourcequota) or lower the requests/limits in the model".to_owned()
            },
        ),
        Cause::LimitRange { detail } => (
            format!("a LimitRange rejected the pod: {detail}"),
            "set the container's requests/limits in the model within the namespace's LimitRange (kubectl describe limitrange), or change the LimitRange".to_owned(),
        ),
        Cause::CreateRejected { detail } => (
            format!("the pod could not be created: {detail}"),
            "the API server rejected the pod; the message names the admission rule".to_owned(),
        ),
        Cause::CrashLoop {
            container,
            exit_code,
            reason,
            restarts,
            ..
        } => {
            let last = match (reason.as_deref(), exit_code) {
                (Some(r), Some(c)) => format!("{r}, exit code {c}"),
                (Some(r), None) => r.to_owned(),
                (None, Some(c)) => format!("exit code {c}"),
                (None, None) => "unknown exit".to_owned(),
            };
            let message =
                format!("container {container} keeps exiting (CrashLoopBackOff, {restarts} restarts; last run: {last})");
            let fix = if reason.as_deref() == Some("OOMKilled") || *exit_code == Some(137) {
                "the container ran out of memory: raise its memory limit in the model".to_owned()
            } else {
                format!("read its log (devstats-k8s logs, kubectl logs --previous -c {container}) for the error and fix the configuration it names")
            };
            (message, fix)
        }
        Cause::ProbeFailing {
            probe,
            detail,
            count,
        } => {
            let what = match probe {
                Probe::Readiness => "readiness",
                Probe::Liveness => "liveness",
                Probe::Startup => "startup",
            };
            (
                format!("its {what} probe fails ({count}×): {detail}"),
                match probe {
                    Probe::Readiness => "the application runs but does not answer its readiness check: read its log; if it is only slow, raise the probe's thresholds".to_owned(),
                    Probe::Liveness => "the kubelet restarts the container because its liveness check fails: read its log; if it starts slowly, raise initialDelaySeconds or add a startup probe".to_owned(),
                    Probe::Startup => "the application does not start within the startup probe's budget: read its log; raise failureThreshold × periodSeconds if it is only slow".to_owned(),
                },
            )
        }
        Cause::JobBackoffLimit {
            failed,
            limit,
            last_pod,
            exit_code,
            reason,
            ..
        } => {
            let last = match (last_pod, reason, exit_code) {
                (Some(p), r, c) => format!(
                    "; last pod {p}: {}{}",
                    r.as_deref().unwrap_or("failed"),
                    c.map(|c| format!(", exit code {c}")).unwrap_or_default()
                ),
                _ => String::new(),
            };
            (
                format!("the Job failed {failed} times and reached its backoff limit ({limit}){last}"),
                if reason.as_deref() == Some("OOMKilled") {
                    "its pods ran out of memory: raise the memory limit in the model; then delete the Job and apply again (or wait for the next schedule)".to_owned()
                } else {
                    "read the failed pod's log (devstats-k8s logs) for the error; after fixing it, delete the Job and apply again (or wait for the next schedule)".to_owned()
                },
            )
        }
        Cause::JobDeadline { seconds } => (
            format!(
                "the Job ran longer than its deadline{}",
                seconds.map(|s| format!(" ({s}s)")).unwrap_or_default()
            ),
            "the run is too slow for its activeDeadlineSeconds: raise the deadline in the model, or find what it waits for in its log".to_owned(),
        ),
        Cause::ContainerConfig {
            container,
            missing,
            detail,
        } => match missing {
            Some(MissingRef { kind, name, key: Some(key) }) => (
                format!("container {container} cannot start: key {key} is missing in {kind} {name}"),
                format!("add key {key} to {kind} {name} (or correct the reference in the model)"),
            ),
            Some(MissingRef { kind, name, key: None }) => (
                format!("container {container} cannot start: {kind} {name} does not exist"),
                format!("create {kind} {name} in the namespace (apply --secrets-from DIR creates the Secrets the model names) or correct the reference"),
            ),
            None => (
                format!("container {container} cannot start: {detail}"),
                "the container's configuration refers to something missing; the message names it".to_owned(),
            ),
        },
    }
}

fn text<'a>(v: &'a Value, p: &str) -> Option<&'a str> {
    v.pointer(p).and_then(Value::as_str)
}

fn tail(logs: Option<&str>) -> Vec<String> {
    logs.map(|l| {
        let lines: Vec<&str> = l.lines().filter(|s| !s.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(LOG_LINES)..]
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    })
    .unwrap_or_default()
}

/// The newest failed pod of a Job (label `job-name`, phase `Failed`), whose log explains it.
#[must_use]
pub fn last_failed_pod<'a>(job: &Value, pods: impl IntoIterator<Item = &'a Value>) -> Option<&'a Value> {
    let name = text(job, "/metadata/name")?;
    pods.into_iter()
        .filter(|p| {
            (text(p, "/metadata/labels/job-name") == Some(name)
                || text(p, "/metadata/labels/batch.kubernetes.io~1job-name") == Some(name))
                && text(p, "/status/phase") == Some("Failed")
        })
        .max_by(|a, b| text(a, "/metadata/creationTimestamp").cmp(&text(b, "/metadata/creationTimestamp")))
}

fn object_name(kind: &str, v: &Value) -> String {
    format!(
        "{kind} {}/{}",
        text(v, "/metadata/namespace").unwrap_or_default(),
        text(v, "/metadata/name").unwrap_or_default()
    )
}

/// Whether an Event is about the object `kind`/`name` (and `uid`, when both carry one).
#[must_use]
pub fn involves(event: &Value, kind: &str, name: &str, uid: Option<&str>) -> bool {
    let io = |f: &str| {
        event
            .pointer(&format!("/involvedObject/{f}"))
            .or_else(|| event.pointer(&format!("/regarding/{f}")))
            .and_then(Value::as_str)
    };
    io("kind") == Some(kind)
        && io("name") == Some(name)
        && match (uid, io("uid")) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
}

/// The time an Event last happened (`lastTimestamp`, else `eventTime`, else `firstTimestamp`).
fn when(event: &Value) -> &str {
    text(event, "/lastTimestamp")
        .or_else(|| text(event, "/series/lastObservedTime"))
        .or_else(|| text(event, "/eventTime"))
        .or_else(|| text(event, "/firstTimestamp"))
        .unwrap_or_default()
}

fn reason(e: &Value) -> &str {
    text(e, "/reason").unwrap_or_default()
}

fn message(e: &Value) -> &str {
    text(e, "/message")
        .or_else(|| text(e, "/note"))
        .unwrap_or_default()
}

/// Events about one object, newest first.
fn events_of<'a>(events: &'a [Value], kind: &str, name: &str, uid: Option<&str>) -> Vec<&'a Value> {
    let mut out: Vec<&Value> = events.iter().filter(|e| involves(e, kind, name, uid)).collect();
    out.sort_by(|a, b| when(b).cmp(when(a)));
    out
}

/// What a pod diagnosis reads.
#[derive(Debug, Clone, Copy)]
pub struct PodInput<'a> {
    /// The pod, as the API returns it.
    pub pod: &'a Value,
    /// Events of the namespace (those about the pod and its claims are used).
    pub events: &'a [Value],
    /// Claims of the namespace (those the pod mounts are used).
    pub claims: &'a [Value],
    /// The last log lines of the crash-looping container, when read.
    pub logs: Option<&'a str>,
}

/// Whether the pod needs a diagnosis: not Ready and not Succeeded.
#[must_use]
pub fn pod_unhealthy(pod: &Value) -> bool {
    if text(pod, "/status/phase") == Some("Succeeded") {
        return false;
    }
    !pod.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| text(c, "/type") == Some("Ready") && text(c, "/status") == Some("True"))
        })
}

/// The container of a pod whose log [`pod`] would show (the first crash-looping one).
#[must_use]
pub fn crashing_container(pod: &Value) -> Option<String> {
    statuses(pod)
        .find(|c| text(c, "/state/waiting/reason") == Some("CrashLoopBackOff"))
        .and_then(|c| text(c, "/name"))
        .map(str::to_owned)
}

fn statuses(pod: &Value) -> impl Iterator<Item = &Value> {
    ["/status/initContainerStatuses", "/status/containerStatuses"]
        .into_iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
}

fn spec_image<'a>(pod: &'a Value, container: &str) -> Option<&'a str> {
    ["/spec/initContainers", "/spec/containers"]
        .into_iter()
        .filter_map(|p| pod.pointer(p).and_then(Value::as_array))
        .flatten()
        .find(|c| text(c, "/name") == Some(container))
        .and_then(|c| text(c, "/image"))
}

const PULL_REASONS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
];

/// Diagnoses one pod (its containers, its scheduling, its claims, its probes). Empty when it
/// finds no known cause.
#[must_use]
pub fn pod(input: &PodInput<'_>) -> Vec<Diagnosis> {
    let pod = input.pod;
    let name = text(pod, "/metadata/name").unwrap_or_default();
    let uid = text(pod, "/metadata/uid");
    let object = object_name("Pod", pod);
    let events = events_of(input.events, "Pod", name, uid);
    let mut out = Vec::new();

    for c in statuses(pod) {
        let cname = text(c, "/name").unwrap_or_default();
        let waiting = text(c, "/state/waiting/reason").unwrap_or_default();
        let wmsg = text(c, "/state/waiting/message").unwrap_or_default();
        if PULL_REASONS.contains(&waiting) {
            // The status's `image` is the spec's image until it is pulled.
            let image = spec_image(pod, cname)
                .or_else(|| text(c, "/image"))
                .unwrap_or_default()
                .to_owned();
            let needle = format!("\"{image}\"");
            let detail = events
                .iter()
                .filter(|e| reason(e) == "Failed" || reason(e) == "InspectFailed")
                .map(|e| message(e))
                .find(|m| m.contains(&needle) && !m.starts_with("Error: "))
                .map(|m| {
                    // "Failed to pull image \"x\": <runtime error>"
                    m.split_once(&format!("{needle}: "))
                        .map_or(m, |(_, rest)| rest)
                        .to_owned()
                })
                .unwrap_or_else(|| {
                    if wmsg.starts_with("Back-off pulling image") {
                        String::new()
                    } else {
                        wmsg.to_owned()
                    }
                });
            out.push(Diagnosis::new(
                object.clone(),
                Cause::ImagePull {
                    container: cname.to_owned(),
                    image,
                    reason: waiting.to_owned(),
                    detail,
                },
            ));
        } else if waiting == "CreateContainerConfigError" {
            let detail = if wmsg.is_empty() {
                events
                    .iter()
                    .filter(|e| reason(e) == "Failed")
                    .map(|e| message(e).trim_start_matches("Error: "))
                    .next()
                    .unwrap_or_default()
            } else {
                wmsg
            };
            out.push(Diagnosis::new(
                object.clone(),
                Cause::ContainerConfig {
                    container: cname.to_owned(),
                    missing: missing_ref(detail),
                    detail: detail.to_owned(),
                },
            ));
        } else if waiting == "CrashLoopBackOff" {
            let last = c.pointer("/lastState/terminated");
            let last_logs = tail(input.logs);
            out.push(Diagnosis::new(
                object.clone(),
                Cause::CrashLoop {
                    container: cname.to_owned(),
                    exit_code: last.and_then(|t| t.get("exitCode")).and_then(Value::as_i64),
                    reason: last
                        .and_then(|t| t.get("reason"))
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    restarts: c.get("restartCount").and_then(Value::as_i64).unwrap_or(0),
                    last_logs,
                },
            ));
        }
    }

    if let Some(d) = unschedulable(pod, &events) {
        out.push(Diagnosis::new(object.clone(), d));
    }

    // Claims the pod mounts, while it is not scheduled: the scheduler binds (or waits for) a
    // pod's claims before it places the pod, so a scheduled pod's claims are bound.
    let scheduled = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| text(c, "/type") == Some("PodScheduled") && text(c, "/status") == Some("True"))
        });
    let ns = text(pod, "/metadata/namespace");
    for claim_name in (!scheduled).then_some(pod).into_iter().flat_map(|pod| {
        pod.pointer("/spec/volumes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| text(v, "/persistentVolumeClaim/claimName"))
    }) {
        let Some(claim) = input.claims.iter().find(|c| {
            text(c, "/metadata/name") == Some(claim_name)
                && (ns.is_none() || text(c, "/metadata/namespace") == ns)
        }) else {
            continue;
        };
        if let Some(d) = self::claim(claim, input.events) {
            out.push(d);
        }
    }

    // Probes: only when no earlier cause explains it (a crash loop also fails its probes).
    if out.is_empty() && pod_unhealthy(pod) {
        let mut by_probe: BTreeMap<Probe, (String, i64)> = BTreeMap::new();
        for e in events.iter().filter(|e| reason(e) == "Unhealthy") {
            let m = message(e);
            let (probe, rest) = if let Some(r) = m.strip_prefix("Readiness probe failed: ") {
                (Probe::Readiness, r)
            } else if let Some(r) = m.strip_prefix("Liveness probe failed: ") {
                (Probe::Liveness, r)
            } else if let Some(r) = m.strip_prefix("Startup probe failed: ") {
                (Probe::Startup, r)
            } else {
                continue;
            };
            let count = e.get("count").and_then(Value::as_i64).unwrap_or(1);
            // Newest first: keep the first message, add up the counts.
            by_probe
                .entry(probe)
                .and_modify(|(_, n)| *n += count)
                .or_insert_with(|| (rest.trim().to_owned(), count));
        }
        for (probe, (detail, count)) in by_probe {
            out.push(Diagnosis::new(
                object.clone(),
                Cause::ProbeFailing { probe, detail, count },
            ));
        }
    }
    out
}

/// Parses the kubelet's CreateContainerConfigError messages.
fn missing_ref(msg: &str) -> Option<MissingRef> {
    // `couldn't find key KEY in Secret NS/NAME` / `... in ConfigMap NS/NAME`
    let lower = msg.to_ascii_lowercase();
    if let Some(i) = lower.find("couldn't find key ") {
        let rest = &msg[i + "couldn't find key ".len()..];
        let (key, rest) = rest.split_once(" in ")?;
        let (kind, obj) = rest.split_once(' ')?;
        let name = obj.trim().rsplit('/').next()?.to_owned();
        return Some(MissingRef {
            kind: kind.to_owned(),
            name,
            key: Some(key.to_owned()),
        });
    }
    // `secret "NAME" not found` / `configmap "NAME" not found`
    for (prefix, kind) in [
        ("secret \"", Kind::SECRET.kind),
        ("configmap \"", Kind::CONFIG_MAP.kind),
    ] {
        if let Some(i) = lower.find(prefix) {
            let rest = &msg[i + prefix.len()..];
            let (name, tail) = rest.split_once('"')?;
            if tail.trim_start().starts_with("not found") {
                return Some(MissingRef {
                    kind: kind.to_owned(),
                    name: name.to_owned(),
                    key: None,
                });
            }
        }
    }
    None
}

fn unschedulable(pod: &Value, events: &[&Value]) -> Option<Cause> {
    let cond = pod
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| text(c, "/type") == Some("PodScheduled")))?;
    if text(cond, "/status") != Some("False") || text(cond, "/reason") != Some("Unschedulable") {
        return None;
    }
    let detail = events
        .iter()
        .find(|e| reason(e) == "FailedScheduling")
        .map(|e| message(e))
        .or_else(|| text(cond, "/message"))
        .unwrap_or_default();
    // "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match ... preemption: ..."
    let head = detail.split(" preemption:").next().unwrap_or(detail);
    let reasons = head.split_once(": ").map_or(head, |(_, r)| r);
    let mut insufficient = Vec::new();
    let mut taints = Vec::new();
    let mut selector_mismatch = false;
    for part in reasons.trim_end_matches('.').split(", ") {
        // Strip the node count.
        let part = part
            .trim()
            .split_once(' ')
            .filter(|(n, _)| n.chars().all(|c| c.is_ascii_digit()))
            .map_or(part.trim(), |(_, r)| r);
        if let Some(r) = part.strip_prefix("Insufficient ") {
            insufficient.push(r.trim_end_matches('.').to_owned());
        } else if let Some(t) = part.strip_prefix("node(s) had untolerated taint ") {
            let t = t.trim_end_matches('.').trim_matches(|c| c == '{' || c == '}');
            let t = t.trim_end_matches(": ").trim_end_matches(':');
            taints.push(t.trim().to_owned());
        } else if part.starts_with("node(s) did not have enough free storage") {
            insufficient.push("free storage for the pod's volumes".to_owned());
        } else if part.starts_with("node(s) didn't match Pod's node affinity/selector") {
            selector_mismatch = true;
        }
    }
    if detail.contains("unbound immediate PersistentVolumeClaims") {
        // The claim's own diagnosis says why; the scheduling one adds nothing.
        return None;
    }
    let node_selector = pod
        .pointer("/spec/nodeSelector")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let node_affinity = pod
        .pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution")
        .is_some();
    Some(Cause::Unschedulable {
        node_selector,
        node_affinity,
        insufficient,
        taints,
        selector_mismatch,
        detail: head.trim().trim_end_matches('.').to_owned() + ".",
    })
}

/// Diagnoses a Pending claim from its Events. `None` when it is not Pending (a claim without a
/// phase counts as Pending, the API server's default).
#[must_use]
pub fn claim(claim: &Value, events: &[Value]) -> Option<Diagnosis> {
    if text(claim, "/status/phase").unwrap_or("Pending") != "Pending" {
        return None;
    }
    let name = text(claim, "/metadata/name").unwrap_or_default();
    let evs = events_of(
        events,
        "PersistentVolumeClaim",
        name,
        text(claim, "/metadata/uid"),
    );
    let why = evs
        .iter()
        .find_map(|e| {
            let m = message(e);
            match reason(e) {
                "FailedBinding" if m.contains("no storage class is set") => Some(ClaimWhy::NoStorageClass),
                "ProvisioningFailed" => Some(
                    match m
                        .strip_prefix("storageclass.storage.k8s.io \"")
                        .and_then(|r| r.split_once("\" not found"))
                    {
                        Some((c, _)) => ClaimWhy::StorageClassNotFound(c.to_owned()),
                        None => ClaimWhy::ProvisioningFailed(m.to_owned()),
                    },
                ),
                "WaitForFirstConsumer" => Some(ClaimWhy::WaitForFirstConsumer),
                "ExternalProvisioning" => Some(ClaimWhy::ExternalProvisioning(m.to_owned())),
                _ => None,
            }
        })
        .unwrap_or(ClaimWhy::Unknown);
    Some(Diagnosis::new(
        object_name("PersistentVolumeClaim", claim),
        Cause::ClaimPending {
            claim: name.to_owned(),
            storage_class: text(claim, "/spec/storageClassName").map(str::to_owned),
            why,
        },
    ))
}

/// Diagnoses a failed Job (its `Failed` condition, with the exit of its newest failed pod among
/// `pods` and that pod's last log lines `logs`) and pod-creation rejections on it.
#[must_use]
pub fn job<'a>(
    job: &Value,
    pods: impl IntoIterator<Item = &'a Value>,
    events: &[Value],
    logs: Option<&str>,
) -> Vec<Diagnosis> {
    let name = text(job, "/metadata/name").unwrap_or_default();
    let object = object_name("Job", job);
    let mut out = create_failures(
        &object,
        &events_of(events, "Job", name, text(job, "/metadata/uid")),
    );
    let failed = job
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| text(c, "/type") == Some("Failed") && text(c, "/status") == Some("True"))
        });
    if let Some(c) = failed {
        match text(c, "/reason") {
            Some("BackoffLimitExceeded") => {
                let pod = last_failed_pod(job, pods);
                let terminated = pod.and_then(|p| {
                    statuses(p).find_map(|c| {
                        c.pointer("/state/terminated")
                            .filter(|t| t.get("exitCode").and_then(Value::as_i64) != Some(0))
                    })
                });
                out.push(Diagnosis::new(
                    object.clone(),
                    Cause::JobBackoffLimit {
                        failed: job.pointer("/status/failed").and_then(Value::as_i64).unwrap_or(0),
                        limit: job
                            .pointer("/spec/backoffLimit")
                            .and_then(Value::as_i64)
                            .unwrap_or(6),
                        last_pod: pod.and_then(|p| text(p, "/metadata/name")).map(str::to_owned),
                        exit_code: terminated.and_then(|t| t.get("exitCode")).and_then(Value::as_i64),
                        reason: terminated
                            .and_then(|t| t.get("reason"))
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        last_logs: if pod.is_some() { tail(logs) } else { Vec::new() },
                    },
                ));
            }
            Some("DeadlineExceeded") => out.push(Diagnosis::new(
                object.clone(),
                Cause::JobDeadline {
                    seconds: job.pointer("/spec/activeDeadlineSeconds").and_then(Value::as_i64),
                },
            )),
            _ => {}
        }
    }
    out
}

/// `FailedCreate` Events of the ReplicaSets of a Deployment (named `<deployment>-<hash>`),
/// diagnosed as quota / LimitRange / other rejections (the newest of each message).
#[must_use]
pub fn deployment(deployment: &Value, events: &[Value]) -> Vec<Diagnosis> {
    let name = text(deployment, "/metadata/name").unwrap_or_default();
    let prefix = format!("{name}-");
    let mut evs: Vec<&Value> = events
        .iter()
        .filter(|e| {
            text(e, "/involvedObject/kind") == Some("ReplicaSet")
                && text(e, "/involvedObject/name")
                    .and_then(|n| n.strip_prefix(&prefix))
                    .is_some_and(|hash| !hash.is_empty() && hash.chars().all(|c| c.is_ascii_alphanumeric()))
        })
        .collect();
    evs.sort_by(|a, b| when(b).cmp(when(a)));
    create_failures(&object_name(Kind::DEPLOYMENT.kind, deployment), &evs)
}

/// `FailedCreate` Events of a StatefulSet.
#[must_use]
pub fn statefulset(sts: &Value, events: &[Value]) -> Vec<Diagnosis> {
    let name = text(sts, "/metadata/name").unwrap_or_default();
    create_failures(
        &object_name(Kind::STATEFUL_SET.kind, sts),
        &events_of(events, Kind::STATEFUL_SET.kind, name, text(sts, "/metadata/uid")),
    )
}

/// Diagnoses the newest `FailedCreate` Event of a controller (Events newest first).
fn create_failures(object: &str, events: &[&Value]) -> Vec<Diagnosis> {
    let Some(e) = events.iter().find(|e| reason(e) == "FailedCreate") else {
        return Vec::new();
    };
    let m = message(e);
    // "Error creating: pods \"x\" is forbidden: <why>" (ReplicaSet, Job controllers) or
    // "create Pod x in StatefulSet y failed error: pods \"x\" is forbidden: <why>".
    let detail = m
        .split_once(" is forbidden: ")
        .map_or(m, |(_, why)| why)
        .to_owned();
    let cause = if detail.contains("exceeded quota") || detail.contains("failed quota") {
        Cause::QuotaExceeded { detail }
    } else if detail.contains(" usage per Container is ")
        || detail.contains(" usage per Pod is ")
        || detail.contains("limit to request ratio per")
    {
        Cause::LimitRange { detail }
    } else {
        Cause::CreateRejected { detail }
    };
    vec![Diagnosis::new(object.to_owned(), cause)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_missing_refs() {
        assert_eq!(
            missing_ref("couldn't find key PG_PASS in Secret devstats/pg-secrets"),
            Some(MissingRef {
                kind: "Secret".to_owned(),
                name: "pg-secrets".to_owned(),
                key: Some("PG_PASS".to_owned())
            })
        );
        assert_eq!(
            missing_ref("configmap \"grafana-ini\" not found"),
            Some(MissingRef {
                kind: "ConfigMap".to_owned(),
                name: "grafana-ini".to_owned(),
                key: None
            })
        );
        assert_eq!(missing_ref("something else"), None);
    }

    #[test]
    fn a_ready_pod_has_no_diagnosis() {
        let pod = serde_json::json!({"metadata": {"name": "p", "namespace": "n"},
            "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
        assert!(!pod_unhealthy(&pod));
        let d = self::pod(&PodInput {
            pod: &pod,
            events: &[],
            claims: &[],
            logs: None,
        });
        assert!(d.is_empty(), "{d:?}");
    }
}
