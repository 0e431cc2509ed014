//! Typed readiness of live objects (pure functions over their JSON): StatefulSet rollout (kapp's
//! algorithm: observed generation, partition-aware updated replicas, ready replicas, revisions),
//! Patroni primary election, Job outcome with the Failed condition's reason, Deployment rollout.

use serde_json::Value;

/// The state of an object being waited for.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", content = "message", rename_all = "kebab-case")]
pub enum Readiness {
    /// Done.
    Ready,
    /// Not yet; the text says what is missing.
    Progressing(String),
    /// Will not become ready without an operator; the text says why.
    Failed(String),
}

impl Readiness {
    /// Whether it is [`Readiness::Ready`].
    #[must_use]
    pub fn is_ready(&self) -> bool {
        matches!(self, Readiness::Ready)
    }
}

fn int(v: &Value, path: &str) -> Option<i64> {
    v.pointer(path).and_then(Value::as_i64)
}

fn text<'a>(v: &'a Value, path: &str) -> Option<&'a str> {
    v.pointer(path).and_then(Value::as_str)
}

fn condition<'a>(v: &'a Value, ty: &str) -> Option<&'a Value> {
    v.pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(ty))
}

fn condition_true(v: &Value, ty: &str) -> bool {
    condition(v, ty)
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some("True")
}

fn generation_observed(v: &Value) -> Option<Readiness> {
    let generation = int(v, "/metadata/generation").unwrap_or(0);
    let observed = int(v, "/status/observedGeneration").unwrap_or(0);
    (observed < generation).then(|| {
        Readiness::Progressing(format!(
            "waiting for the controller to observe generation {generation} (seen {observed})"
        ))
    })
}

/// StatefulSet rollout: generation observed, updated replicas (minus the partition), ready
/// replicas, current revision = update revision, no extra replicas.
#[must_use]
pub fn statefulset(sts: &Value) -> Readiness {
    if let Some(r) = generation_observed(sts) {
        return r;
    }
    let replicas = int(sts, "/spec/replicas").unwrap_or(1);
    let strategy = text(sts, "/spec/updateStrategy/type").unwrap_or("RollingUpdate");
    let partition = int(sts, "/spec/updateStrategy/rollingUpdate/partition").unwrap_or(0);
    let updated = int(sts, "/status/updatedReplicas").unwrap_or(0);
    let ready = int(sts, "/status/readyReplicas").unwrap_or(0);
    let current = int(sts, "/status/replicas").unwrap_or(0);
    if strategy == "RollingUpdate" {
        let expected = (replicas - partition).max(0);
        if updated < expected {
            return Readiness::Progressing(format!("{updated}/{expected} pods updated"));
        }
        if partition == 0
            && let (Some(cur), Some(upd)) = (
                text(sts, "/status/currentRevision"),
                text(sts, "/status/updateRevision"),
            )
            && cur != upd
        {
            return Readiness::Progressing(format!("rolling update to revision {upd} in progress"));
        }
    }
    if ready < replicas {
        return Readiness::Progressing(format!("{ready}/{replicas} pods ready"));
    }
    if current > replicas {
        return Readiness::Progressing(format!("scaling down: {current} pods, {replicas} wanted"));
    }
    Readiness::Ready
}

/// Whether a pod's Ready condition is True.
#[must_use]
pub fn pod_ready(pod: &Value) -> bool {
    condition_true(pod, "Ready")
}

/// The Patroni primary of a cluster: a Ready pod labelled `cluster-name: <cluster>` and
/// `role: primary` (Patroni ≥ 3; `master` before).
#[must_use]
pub fn patroni_primary<'a>(pods: impl IntoIterator<Item = &'a Value>, cluster: &str) -> Option<String> {
    pods.into_iter()
        .filter(|p| text(p, "/metadata/labels/cluster-name") == Some(cluster))
        .filter(|p| matches!(text(p, "/metadata/labels/role"), Some("primary" | "master")))
        .find(|p| pod_ready(p))
        .and_then(|p| text(p, "/metadata/name").map(str::to_owned))
}

/// Patroni replicas of a cluster: (name, ready) of pods labelled `role: replica`.
#[must_use]
pub fn patroni_replicas<'a>(pods: impl IntoIterator<Item = &'a Value>, cluster: &str) -> Vec<(String, bool)> {
    pods.into_iter()
        .filter(|p| text(p, "/metadata/labels/cluster-name") == Some(cluster))
        .filter(|p| text(p, "/metadata/labels/role") == Some("replica"))
        .filter_map(|p| Some((text(p, "/metadata/name")?.to_owned(), pod_ready(p))))
        .collect()
}

/// The database: the StatefulSet rolled out and a primary elected (a rolled-out StatefulSet
/// whose pods run but whose leader race is not over is not a database yet).
#[must_use]
pub fn database<'a>(sts: &Value, pods: impl IntoIterator<Item = &'a Value>) -> Readiness {
    match statefulset(sts) {
        Readiness::Ready => {}
        other => return other,
    }
    let cluster = text(sts, "/metadata/name").unwrap_or_default();
    match patroni_primary(pods, cluster) {
        Some(_) => Readiness::Ready,
        None => Readiness::Progressing("pods ready, no Patroni primary elected yet".to_owned()),
    }
}

/// Job outcome: Complete, Failed (with the condition's reason and message) or running.
#[must_use]
pub fn job(job: &Value) -> Readiness {
    for ty in ["Failed", "FailureTarget"] {
        if condition_true(job, ty) {
            let c = condition(job, ty).unwrap_or(&Value::Null);
            let reason = c.get("reason").and_then(Value::as_str).unwrap_or("Failed");
            let message = c.get("message").and_then(Value::as_str).unwrap_or_default();
            return Readiness::Failed(if message.is_empty() {
                reason.to_owned()
            } else {
                format!("{reason}: {message}")
            });
        }
    }
    if condition_true(job, "Complete") {
        return Readiness::Ready;
    }
    let active = int(job, "/status/active").unwrap_or(0);
    let succeeded = int(job, "/status/succeeded").unwrap_or(0);
    let failed = int(job, "/status/failed").unwrap_or(0);
    Readiness::Progressing(format!("{active} active, {succeeded} succeeded, {failed} failed"))
}

/// Deployment rollout: generation observed, no progress-deadline failure, all replicas updated
/// and available, no old replicas left.
#[must_use]
pub fn deployment(d: &Value) -> Readiness {
    if let Some(r) = generation_observed(d) {
        return r;
    }
    if let Some(c) = condition(d, "Progressing")
        && c.get("reason").and_then(Value::as_str) == Some("ProgressDeadlineExceeded")
    {
        let message = c.get("message").and_then(Value::as_str).unwrap_or_default();
        return Readiness::Failed(format!("ProgressDeadlineExceeded: {message}"));
    }
    let replicas = int(d, "/spec/replicas").unwrap_or(1);
    let updated = int(d, "/status/updatedReplicas").unwrap_or(0);
    let total = int(d, "/status/replicas").unwrap_or(0);
    let available = int(d, "/status/availableReplicas").unwrap_or(0);
    if updated < replicas {
        return Readiness::Progressing(format!("{updated}/{replicas} replicas updated"));
    }
    if total > updated {
        return Readiness::Progressing(format!("{} old replicas terminating", total - updated));
    }
    if available < updated {
        return Readiness::Progressing(format!("{available}/{replicas} replicas available"));
    }
    Readiness::Ready
}

/// A bare pod run to completion (the chart's provisioning pods): Succeeded, Failed (with the
/// container's termination reason) or running.
#[must_use]
pub fn pod_outcome(pod: &Value) -> Readiness {
    match text(pod, "/status/phase") {
        Some("Succeeded") => Readiness::Ready,
        Some("Failed") => {
            let terminated = pod
                .pointer("/status/containerStatuses")
                .and_then(Value::as_array)
                .and_then(|cs| cs.iter().find_map(|c| c.pointer("/state/terminated")));
            let why = terminated
                .map(|t| {
                    format!(
                        "{} (exit code {})",
                        t.get("reason").and_then(Value::as_str).unwrap_or("Error"),
                        t.get("exitCode").and_then(Value::as_i64).unwrap_or(-1)
                    )
                })
                .unwrap_or_else(|| "Failed".to_owned());
            Readiness::Failed(format!("pod failed: {why}"))
        }
        Some(phase) => Readiness::Progressing(format!("pod {phase}")),
        None => Readiness::Progressing("pod pending".to_owned()),
    }
}

/// What [`crate::cluster::Cluster::wait_for`] waits on: one object and, optionally, the pods of
/// its namespace matching a label selector (the database's `cluster-name=…`, a Job's `job-name=…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitFor<'a> {
    /// The object.
    pub key: &'a crate::kinds::ObjectKey,
    /// A label selector of pods (in the object's namespace) the check also looks at.
    pub pods: Option<&'a str>,
    /// How long to wait at most.
    pub timeout: std::time::Duration,
    /// The first pause between reads of the polling fallback (doubling up to `poll_max`).
    pub poll_initial: std::time::Duration,
    /// The longest pause between reads of the polling fallback.
    pub poll_max: std::time::Duration,
}

/// How a wait ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The check said [`Readiness::Ready`].
    Ready,
    /// The check said [`Readiness::Failed`], with this text.
    Failed(String),
    /// The timeout passed; the check's last progress text.
    TimedOut(String),
}

/// The check of a wait: the live object (`None`: it does not exist) and the matching pods.
pub type Check<'a> = dyn FnMut(Option<&Value>, &[Value]) -> Readiness + 'a;

/// Called with the check's progress text (when it changes) and the time waited so far.
pub type OnProgress<'a> = dyn FnMut(&str, std::time::Duration) + 'a;

/// The live state a watch-driven wait keeps: the object and the pods by name, fed by watch
/// events; [`WaitState::evaluate`] runs the check on it.
#[derive(Debug, Default)]
pub struct WaitState {
    object: Option<Value>,
    pods: std::collections::BTreeMap<String, Value>,
    last: Option<String>,
}

fn name_of(v: &Value) -> String {
    text(v, "/metadata/name").unwrap_or_default().to_owned()
}

impl WaitState {
    /// The object now (`None`: deleted or absent).
    pub fn set_object(&mut self, v: Option<Value>) {
        self.object = v;
    }

    /// A pod added or changed.
    pub fn pod_applied(&mut self, v: Value) {
        self.pods.insert(name_of(&v), v);
    }

    /// A pod deleted.
    pub fn pod_deleted(&mut self, v: &Value) {
        self.pods.remove(&name_of(v));
    }

    /// Forgets every pod (a re-list follows).
    pub fn clear_pods(&mut self) {
        self.pods.clear();
    }

    /// Runs the check: `Some` outcome when it is ready or failed; on progress, calls `progress`
    /// when the text changed since the last evaluation.
    pub fn evaluate(
        &mut self,
        check: &mut Check<'_>,
        waited: std::time::Duration,
        progress: &mut OnProgress<'_>,
    ) -> Option<WaitOutcome> {
        let pods: Vec<Value> = self.pods.values().cloned().collect();
        match check(self.object.as_ref(), &pods) {
            Readiness::Ready => Some(WaitOutcome::Ready),
            Readiness::Failed(m) => Some(WaitOutcome::Failed(m)),
            Readiness::Progressing(m) => {
                if self.last.as_deref() != Some(m.as_str()) {
                    progress(&m, waited);
                }
                self.last = Some(m);
                None
            }
        }
    }

    /// Reports the last progress text again (a watch that sees no change for a while still
    /// tells how long it has waited).
    pub fn heartbeat(&self, waited: std::time::Duration, progress: &mut OnProgress<'_>) {
        if let Some(m) = &self.last {
            progress(m, waited);
        }
    }

    /// The outcome when the timeout passes: the check's last progress text.
    pub fn timed_out(&mut self, check: &mut Check<'_>) -> WaitOutcome {
        let pods: Vec<Value> = self.pods.values().cloned().collect();
        match check(self.object.as_ref(), &pods) {
            Readiness::Ready => WaitOutcome::Ready,
            Readiness::Failed(m) => WaitOutcome::Failed(m),
            Readiness::Progressing(m) => WaitOutcome::TimedOut(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn statefulset_states() {
        let base = json!({"metadata": {"name": "pg", "generation": 2}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 2, "replicas": 2, "readyReplicas": 2, "updatedReplicas": 2,
                       "currentRevision": "a", "updateRevision": "a"}});
        assert_eq!(statefulset(&base), Readiness::Ready);
        let mut old = base.clone();
        old["status"]["observedGeneration"] = json!(1);
        assert!(matches!(statefulset(&old), Readiness::Progressing(m) if m.contains("generation 2")));
        let mut rolling = base.clone();
        rolling["status"]["updateRevision"] = json!("b");
        assert!(matches!(statefulset(&rolling), Readiness::Progressing(m) if m.contains("revision b")));
        let mut unready = base.clone();
        unready["status"]["readyReplicas"] = json!(1);
        assert_eq!(
            statefulset(&unready),
            Readiness::Progressing("1/2 pods ready".to_owned())
        );
        let mut partitioned = base;
        partitioned["spec"]["updateStrategy"] =
            json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 1}});
        partitioned["status"]["updatedReplicas"] = json!(1);
        partitioned["status"]["updateRevision"] = json!("b");
        assert_eq!(statefulset(&partitioned), Readiness::Ready);
    }

    #[test]
    fn database_needs_a_primary() {
        let sts = json!({"metadata": {"name": "pg", "generation": 1}, "spec": {"replicas": 1},
            "status": {"observedGeneration": 1, "replicas": 1, "readyReplicas": 1, "updatedReplicas": 1}});
        let replica = json!({"metadata": {"name": "pg-0", "labels": {"cluster-name": "pg", "role": "replica"}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert!(matches!(database(&sts, [&replica]), Readiness::Progressing(_)));
        let primary = json!({"metadata": {"name": "pg-1", "labels": {"cluster-name": "pg", "role": "primary"}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(database(&sts, [&replica, &primary]), Readiness::Ready);
        assert_eq!(patroni_primary([&primary], "pg"), Some("pg-1".to_owned()));
        let legacy = json!({"metadata": {"name": "pg-2", "labels": {"cluster-name": "pg", "role": "master"}},
            "status": {"conditions": [{"type": "Ready", "status": "True"}]}});
        assert_eq!(patroni_primary([&legacy], "pg"), Some("pg-2".to_owned()));
    }

    #[test]
    fn job_outcomes() {
        assert_eq!(
            job(&json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}})),
            Readiness::Ready
        );
        assert_eq!(
            job(
                &json!({"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                "message": "Job has reached the specified backoff limit"}]}})
            ),
            Readiness::Failed("BackoffLimitExceeded: Job has reached the specified backoff limit".to_owned())
        );
        assert!(
            matches!(job(&json!({"status": {"active": 1}})), Readiness::Progressing(m) if m.starts_with("1 active"))
        );
    }

    #[test]
    fn deployment_states() {
        let d = json!({"metadata": {"generation": 3}, "spec": {"replicas": 2},
            "status": {"observedGeneration": 3, "replicas": 2, "updatedReplicas": 2, "availableReplicas": 2}});
        assert_eq!(deployment(&d), Readiness::Ready);
        let mut old = d.clone();
        old["status"]["replicas"] = json!(3);
        assert!(matches!(deployment(&old), Readiness::Progressing(m) if m.contains("old replicas")));
        let mut stuck = d;
        stuck["status"]["conditions"] = json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet x has timed out progressing."}]);
        assert!(matches!(deployment(&stuck), Readiness::Failed(_)));
    }

    #[test]
    fn pod_outcomes() {
        assert_eq!(
            pod_outcome(&json!({"status": {"phase": "Succeeded"}})),
            Readiness::Ready
        );
        let failed = json!({"status": {"phase": "Failed", "containerStatuses": [{"state": {"terminated": {"reason": "Error", "exitCode": 3}}}]}});
        assert_eq!(
            pod_outcome(&failed),
            Readiness::Failed("pod failed: Error (exit code 3)".to_owned())
        );
    }
}
