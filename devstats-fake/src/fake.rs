//! An in-memory API server for tests and measurements: objects by key, a request log (to count
//! reads and writes), scripted faults (429/5xx/transport errors on the next requests), an
//! interruption switch (every write fails after N writes), real server-side-apply field
//! ownership, immutable-field rejections with the real 422 texts, and simulated controllers
//! (StatefulSets, Deployments and Jobs become ready or complete; Patroni elects a primary).
//!
//! Server-side apply is modelled on what a real API server does ([`devstats_cli::ssa`] has the details
//! and the sources):
//!
//! - each write records `metadata.managedFields`: an `Apply` entry per applying manager (its
//!   fields exactly the applied object's field set), an `Update` entry for POSTs; list-maps are
//!   merged and owned by key, atomic lists whole;
//! - an apply that changes the value of a field another manager owns fails with the real 409
//!   `Status` (`Apply failed with N conflict(s): conflict with "helm" using apps/v1: .spec…`, one
//!   `FieldManagerConflict` cause per field); the same value is shared ownership; `force=true`
//!   takes the fields over;
//! - fields a manager stops applying leave its set, and the object when nobody else owns them;
//! - stored objects carry canonical quantities (`2000m` is stored as `2`, and applying `2000m`
//!   over another manager's stored `2` conflicts, as on a real server) and the server defaults a
//!   second manager would otherwise differ on (`fieldRef.apiVersion`, claim templates'
//!   `apiVersion`/`kind`/`volumeMode`/`status`, Service `type`/`sessionAffinity`, containers'
//!   `terminationMessagePath`/`terminationMessagePolicy`);
//! - `metadata.managedFields` can be replaced with a JSON patch guarded by a `test` of
//!   `resourceVersion` (what kubectl's `csaupgrade` sends), see [`Cluster::patch_managed_fields`].
//!
//! Object lifecycle as the API server runs it: `metadata.generation` is 1 on create and grows only
//! when `spec` changes; writes to a `devstats.cncf.io` custom resource (and creates) ignore
//! `.status`, which only the status subresource ([`Cluster::replace_status`], or
//! [`FakeCluster::write_status`] without a request) changes; an apply whose object carries
//! `metadata.resourceVersion` succeeds only at that version (409 Conflict "the object has been
//! modified" otherwise, as for an update: the leader-election Lease is renewed this way); deleting
//! an object with `metadata.finalizers` only sets `metadata.deletionTimestamp` (which later writes
//! keep), and the object goes when an update ([`FakeCluster::update_with`], or an apply) empties
//! them. Custom resources such as `DevStats` are stored like any object (by [`Kind`]).
//!
//! Not modelled: other defaults (probes' `timeoutSeconds`, `dnsPolicy`, `schedulerName`, …, none of
//! which the render sets differently from the server), schema-driven list types of custom
//! resources (their lists are atomic, their maps granular, as for a CRD without markers), field
//! ownership of `status`, and `Update` operations other than POST.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde_json::{Value, json};

use devstats_cli::cluster::{ApiError, Cluster, ListOptions, LogOptions};
use devstats_cli::kinds::{Kind, ObjectKey};
use devstats_cli::plan::FIELD_MANAGER;
use devstats_cli::plan::json::is_subset;
use devstats_cli::plan::policy::immutable_paths;
use devstats_cli::ssa;
use devstats_cli::waits::{Check, OnProgress, WaitFor, WaitOutcome, WaitState};

use crate::ownership;
use crate::watch::{EventType, Source, Store, Watch, WatchOptions, labels_match};

/// The verb of a recorded request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verb {
    /// LIST.
    List,
    /// GET.
    Get,
    /// Server-side apply (PATCH).
    Apply,
    /// POST.
    Create,
    /// DELETE.
    Delete,
    /// Pod logs.
    Logs,
    /// Pod proxy.
    Proxy,
    /// Pod exec with stdin.
    Exec,
    /// A JSON patch of `metadata.managedFields`.
    Patch,
    /// A `PUT` of the status subresource.
    Status,
    /// A watch (`GET …?watch=true`), recorded when it starts.
    Watch,
}

/// One recorded request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Verb.
    pub verb: Verb,
    /// The object (`Kind ns/name`) or the listed kind.
    pub target: String,
    /// Server-side dry run.
    pub dry_run: bool,
    /// Whether it succeeded.
    pub ok: bool,
}

impl Request {
    /// Whether it changed (or tried to change) state.
    #[must_use]
    pub fn is_write(&self) -> bool {
        matches!(
            self.verb,
            Verb::Apply | Verb::Create | Verb::Delete | Verb::Patch | Verb::Status
        ) && !self.dry_run
    }
}

/// One `exec_stdin` the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    /// `namespace/pod`.
    pub pod: String,
    /// The container.
    pub container: String,
    /// The command.
    pub command: Vec<String>,
    /// Bytes sent on stdin.
    pub bytes: u64,
}

#[derive(Debug, Default)]
struct State {
    uploads: Vec<Upload>,
    objects: Store,
    requests: Vec<Request>,
    faults: Vec<(Verb, ApiError, usize)>,
    writes_left: Option<usize>,
    controllers: bool,
    failing_jobs: BTreeSet<String>,
    logs: BTreeMap<String, String>,
    bookmark_interval: Option<std::time::Duration>,
    latency: std::time::Duration,
    field_manager: Option<String>,
}

/// The in-memory cluster.
#[derive(Debug, Default)]
pub struct FakeCluster {
    state: Mutex<State>,
}

/// Sets the member at JSON pointer `path` (RFC 6901: `~1` is `/`, `~0` is `~`), creating objects
/// on the way.
fn ptr_set(v: &mut Value, path: &str, value: Value) {
    let mut cur = v;
    let parts: Vec<String> = path
        .trim_start_matches('/')
        .split('/')
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect();
    for (i, p) in parts.iter().enumerate() {
        if !cur.is_object() {
            *cur = json!({});
        }
        let Some(obj) = cur.as_object_mut() else {
            return;
        };
        if i + 1 == parts.len() {
            obj.insert(p.clone(), value);
            return;
        }
        cur = obj.entry(p.clone()).or_insert_with(|| json!({}));
    }
}

fn int(v: &Value, path: &str) -> i64 {
    v.pointer(path).and_then(Value::as_i64).unwrap_or(0)
}

/// Splits a selector on the commas that are not inside parentheses.
impl FakeCluster {
    /// An empty cluster whose controllers make workloads ready and Jobs complete at once.
    #[must_use]
    pub fn new() -> Self {
        let fake = Self::default();
        fake.lock().controllers = true;
        fake
    }

    /// The same cluster, its [`Cluster::apply`] and [`Cluster::create`] made as field manager
    /// `manager` (as `KubeCluster::with_field_manager`; `devstats-k8s` by default).
    #[must_use]
    pub fn with_field_manager(self, manager: &str) -> Self {
        self.lock().field_manager = Some(manager.to_owned());
        self
    }

    /// The field manager of [`Cluster::apply`] and [`Cluster::create`].
    #[must_use]
    pub fn field_manager(&self) -> String {
        self.lock()
            .field_manager
            .clone()
            .unwrap_or_else(|| FIELD_MANAGER.to_owned())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Turns the simulated controllers on or off (off: nothing ever becomes ready).
    pub fn set_controllers(&self, on: bool) {
        self.lock().controllers = on;
    }

    /// Adds or replaces a live object as is.
    pub fn insert(&self, v: Value) {
        if let Some(key) = ObjectKey::of_value(&v) {
            self.lock().objects.put_raw(&key, v);
        }
    }

    /// Adds or replaces a live object of a kind outside the kinds table as is, e.g. an `Event`
    /// ([`devstats_cli::cluster::EVENT`]) the kubelet, the scheduler or a controller would write.
    pub fn insert_as(&self, kind: Kind, v: Value) {
        if let Some(key) = ObjectKey::of_item(kind, &v) {
            self.lock().objects.put_raw(&key, v);
        }
    }

    /// A live object.
    #[must_use]
    pub fn object(&self, key: &ObjectKey) -> Option<Value> {
        self.lock().objects.get(key).cloned()
    }

    /// Every live key.
    #[must_use]
    pub fn keys(&self) -> Vec<ObjectKey> {
        self.lock().objects.keys().cloned().collect()
    }

    /// Mutates a live object in place.
    pub fn edit(&self, key: &ObjectKey, f: impl FnOnce(&mut Value)) {
        self.lock().objects.modify(key, f);
    }

    /// Removes a live object without a request (a controller or a person did it).
    pub fn remove(&self, key: &ObjectKey) {
        self.lock().objects.remove(key);
    }

    /// The version of the latest change (what a list answers as its `metadata.resourceVersion`).
    #[must_use]
    pub fn resource_version(&self) -> u64 {
        self.lock().objects.resource_version()
    }

    /// How often a watch with `allowWatchBookmarks` gets a `BOOKMARK` when nothing else happens
    /// (a real server: about once a minute; the default here too).
    pub fn set_bookmark_interval(&self, every: std::time::Duration) {
        self.lock().bookmark_interval = Some(every);
    }

    pub(crate) fn with_store<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        f(&self.lock().objects)
    }

    /// Starts a watch of `kind` in `namespace` (all namespaces when `None`), as `GET
    /// …?watch=true` does on a real server (see [`crate::watch`]). Recorded as a [`Verb::Watch`]
    /// request; scripted faults for [`Verb::Watch`] fail it. 400 for an invalid
    /// `resourceVersion` or an unsupported field selector.
    pub async fn watch(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        opts: &WatchOptions,
    ) -> Result<Watch<'_>, ApiError> {
        self.begin(Verb::Watch, kind.kind.to_owned(), false).await?;
        let s = self.lock();
        let every = s.bookmark_interval.unwrap_or(std::time::Duration::from_secs(60));
        Watch::start(self, kind, namespace, opts, &s.objects, every)
    }

    /// A list with its `resourceVersion` (read together, so a watch from it misses nothing) and
    /// an optional field selector (`metadata.name`, `metadata.namespace`), as the HTTP server
    /// answers it. Recorded as a [`Verb::List`] request.
    pub async fn list_at(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        opts: &ListOptions,
        field_selector: Option<&str>,
    ) -> Result<(Vec<Value>, u64), ApiError> {
        self.begin(Verb::List, kind.kind.to_owned(), false).await?;
        if let Some(sel) = field_selector {
            crate::watch::check_field_selector(sel)?;
        }
        let s = self.lock();
        let items = s
            .objects
            .iter()
            .filter(|(k, _)| k.kind == kind && (namespace.is_none() || k.namespace.as_deref() == namespace))
            .filter(|(_, v)| opts.label_selector.as_deref().is_none_or(|sel| labels_match(v, sel)))
            .filter(|(k, _)| field_selector.is_none_or(|sel| crate::watch::fields_match(k, sel)))
            .map(|(_, v)| {
                if opts.metadata_only {
                    json!({"apiVersion": kind.api_version(), "kind": kind.kind, "metadata": v.get("metadata")})
                } else {
                    v.clone()
                }
            })
            .collect();
        Ok((items, s.objects.resource_version()))
    }

    /// The request log.
    #[must_use]
    pub fn requests(&self) -> Vec<Request> {
        self.lock().requests.clone()
    }

    /// Clears the request log.
    pub fn reset_requests(&self) {
        self.lock().requests.clear();
    }

    /// Successful writes in the log.
    #[must_use]
    pub fn writes(&self) -> usize {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.is_write() && r.ok)
            .count()
    }

    /// Requests in the log that are not writes.
    #[must_use]
    pub fn reads(&self) -> usize {
        self.lock().requests.iter().filter(|r| !r.is_write()).count()
    }

    /// The next `times` requests with `verb` fail with `error`.
    pub fn fail_next(&self, verb: Verb, error: ApiError, times: usize) {
        self.lock().faults.push((verb, error, times));
    }

    /// After `n` more successful writes, every write fails with a transport error (an apply
    /// interrupted by a lost connection); `None` lifts it.
    pub fn interrupt_after_writes(&self, n: Option<usize>) {
        self.lock().writes_left = n;
    }

    /// Jobs with this name fail (BackoffLimitExceeded) instead of completing.
    pub fn fail_job(&self, name: &str) {
        self.lock().failing_jobs.insert(name.to_owned());
    }

    /// Another field manager owns `field` (e.g. `.spec.replicas`) of an object, as after a
    /// `kubectl edit` (an `Update` entry in `metadata.managedFields`): an apply that changes its
    /// value conflicts unless forced.
    pub fn set_foreign_owner(&self, key: &ObjectKey, field: &str, manager: &str) {
        self.lock().objects.modify(key, |v| {
            let set: ssa::FieldSet = [ownership::parse_dotted(field)].into_iter().collect();
            let entries =
                ownership::after_update(&ssa::managed_fields(v), manager, &key.kind.api_version(), &set);
            ownership::set_managed_fields(v, &entries);
        });
    }

    /// Every request takes this long (a network round trip), without blocking other requests.
    pub fn set_latency(&self, latency: std::time::Duration) {
        self.lock().latency = latency;
    }

    /// The `exec_stdin` calls received, in order.
    #[must_use]
    pub fn uploads(&self) -> Vec<Upload> {
        self.lock().uploads.clone()
    }

    /// The log a pod returns.
    pub fn set_log(&self, pod: &str, text: &str) {
        self.lock().logs.insert(pod.to_owned(), text.to_owned());
    }

    async fn begin(&self, verb: Verb, target: String, dry_run: bool) -> Result<(), ApiError> {
        let latency = self.lock().latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let mut s = self.lock();
        let fault = s
            .faults
            .iter_mut()
            .find(|(v, _, n)| *v == verb && *n > 0)
            .map(|(_, e, n)| {
                *n -= 1;
                e.clone()
            });
        let write = matches!(
            verb,
            Verb::Apply | Verb::Create | Verb::Delete | Verb::Patch | Verb::Status
        ) && !dry_run;
        let interrupted = write && s.writes_left == Some(0);
        let outcome = match (fault, interrupted) {
            (Some(e), _) => Err(e),
            (None, true) => Err(ApiError::transport("connection reset by peer (interrupted)")),
            (None, false) => Ok(()),
        };
        s.requests.push(Request {
            verb,
            target,
            dry_run,
            ok: outcome.is_ok(),
        });
        if write
            && outcome.is_ok()
            && let Some(n) = s.writes_left.as_mut()
        {
            *n = n.saturating_sub(1);
        }
        outcome
    }

    fn not_found(key: &ObjectKey) -> ApiError {
        ApiError::from_response(
            404,
            json!({"kind": "Status", "reason": "NotFound", "code": 404,
                   "message": format!("{} \"{}\" not found", key.kind.plural, key.name)})
            .to_string()
            .as_bytes(),
            None,
        )
    }

    fn immutable_error(key: &ObjectKey, path: &str) -> ApiError {
        let message = if key.kind == Kind::STATEFUL_SET {
            format!(
                "StatefulSet.apps \"{}\" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
                key.name
            )
        } else {
            format!(
                "{}.{} \"{}\" is invalid: {}: Invalid value: \"...\": field is immutable",
                key.kind.kind,
                key.kind.group,
                key.name,
                path.trim_start_matches('/').replace('/', ".")
            )
        };
        ApiError::from_response(
            422,
            json!({"kind": "Status", "reason": "Invalid", "code": 422, "message": message})
                .to_string()
                .as_bytes(),
            None,
        )
    }

    /// Canonical quantities and server defaults, as a real server stores an object.
    fn as_stored(key: &ObjectKey, v: &mut Value) {
        if key.kind.is_builtin() {
            ssa::as_stored(key.kind.kind, v);
        } else {
            ssa::strip_nulls(v);
        }
    }

    /// The optimistic-concurrency 409 of a write whose `resourceVersion` is not the live one
    /// (apiserver `OptimisticLockErrorMsg`).
    fn modified_error(key: &ObjectKey) -> ApiError {
        let resource = if key.kind.group.is_empty() {
            key.kind.plural.to_owned()
        } else {
            format!("{}.{}", key.kind.plural, key.kind.group)
        };
        ApiError::from_response(
            409,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict", "code": 409,
                   "message": format!("Operation cannot be fulfilled on {resource} \"{}\": the object has been modified; please apply your changes to the latest version and try again", key.name),
                   "details": {"name": key.name, "group": key.kind.group, "kind": key.kind.plural}})
            .to_string()
            .as_bytes(),
            None,
        )
    }

    fn patch_test_failed(key: &ObjectKey) -> ApiError {
        ApiError::from_response(
            422,
            json!({"kind": "Status", "reason": "Invalid", "code": 422,
                   "message": format!("{} \"{}\": the server rejected our request due to an error in our request: testing value /metadata/resourceVersion failed: test failed", key.kind.plural, key.name)})
            .to_string()
            .as_bytes(),
            None,
        )
    }

    fn conflict_error(key: &ObjectKey, conflicts: &[ownership::Conflict]) -> ApiError {
        let causes: Vec<Value> = conflicts
            .iter()
            .map(|c| {
                json!({"reason": "FieldManagerConflict",
                       "message": format!("conflict with \"{}\" using {}", c.manager, c.api_version),
                       "field": ssa::display(&c.path)})
            })
            .collect();
        let n = conflicts.len();
        let listed = if n == 1 {
            format!(
                "conflict with \"{}\" using {}: {}",
                conflicts[0].manager,
                conflicts[0].api_version,
                ssa::display(&conflicts[0].path)
            )
        } else {
            let mut by: BTreeMap<(&str, &str), Vec<String>> = BTreeMap::new();
            for c in conflicts {
                by.entry((c.manager.as_str(), c.api_version.as_str()))
                    .or_default()
                    .push(ssa::display(&c.path));
            }
            let group = |(m, v): &(&str, &str), fields: &[String]| {
                format!(
                    "\"{m}\" using {v}:{}",
                    fields.iter().map(|f| format!("\n- {f}")).collect::<String>()
                )
            };
            if by.len() == 1 {
                by.iter()
                    .map(|(k, f)| format!("conflicts with {}", group(k, f)))
                    .collect()
            } else {
                let groups: Vec<String> = by.iter().map(|(k, f)| group(k, f)).collect();
                format!("conflicts with:\n{}", groups.join("\n"))
            }
        };
        let message = format!(
            "Apply failed with {n} conflict{}: {listed}",
            if n == 1 { "" } else { "s" }
        );
        ApiError::from_response(
            409,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Conflict", "code": 409,
                   "message": message, "details": {"name": key.name, "group": key.kind.group, "kind": key.kind.plural, "causes": causes}})
            .to_string()
            .as_bytes(),
            None,
        )
    }

    /// An update (`PUT`, or a JSON patch such as kube-runtime's finalizer removal) of the live
    /// object changed by `f`, stored as the server stores writes (generation, status kept for
    /// custom resources, deletion once an object being deleted has no finalizers). 404 when missing.
    pub fn update_with(&self, key: &ObjectKey, f: impl FnOnce(&mut Value)) -> Result<Value, ApiError> {
        let mut s = self.lock();
        let Some(mut obj) = s.objects.get(key).cloned() else {
            return Err(Self::not_found(key));
        };
        f(&mut obj);
        Ok(Self::store(&mut s, key, &obj))
    }

    /// Writes `status` through the status subresource (`PUT .../status`): on a real server only
    /// `status` changes (metadata and spec of the request are ignored), `resourceVersion` moves,
    /// `metadata.generation` does not. 404 when the object is missing.
    pub fn write_status(&self, key: &ObjectKey, status: &Value) -> Result<Value, ApiError> {
        self.lock()
            .objects
            .modify(key, |obj| ptr_set(obj, "/status", status.clone()))
            .ok_or_else(|| Self::not_found(key))
    }

    /// Server-side apply as field manager `manager` (e.g. `helm`, as Helm 4 applies a chart).
    pub async fn apply_as(
        &self,
        manager: &str,
        key: &ObjectKey,
        body: &Value,
        force: bool,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        self.begin(Verb::Apply, key.to_string(), dry_run).await?;
        let mut s = self.lock();
        if let Some(ns) = &key.namespace
            && !s.objects.contains_key(&ObjectKey::new(Kind::NAMESPACE, None, ns))
        {
            return Err(ApiError::from_response(
                404,
                json!({"reason": "NotFound", "message": format!("namespaces \"{ns}\" not found")})
                    .to_string()
                    .as_bytes(),
                None,
            ));
        }
        let live = s.objects.get(key).cloned();
        // A `metadata.resourceVersion` in the applied object is a precondition, as for an update:
        // the live object must be at that version, else 409 Conflict "the object has been
        // modified" (kubernetes/website#40179: controllers applying with a resourceVersion get
        // exactly this error). Leader election relies on it to renew its Lease.
        if let Some(rv) = body
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .filter(|rv| !rv.is_empty())
        {
            let live_rv = live
                .as_ref()
                .and_then(|l| l.pointer("/metadata/resourceVersion"))
                .and_then(Value::as_str);
            if live_rv != Some(rv) {
                return Err(Self::modified_error(key));
            }
        }
        let kind = key.kind.kind;
        let mut body = body.clone();
        ssa::strip_nulls(&mut body);
        let body = &body;
        let set = ssa::field_set(kind, body);
        let (mut new, entries) = match &live {
            Some(l) => (ssa::merge(kind, l, body), ssa::managed_fields(l)),
            None => (body.clone(), Vec::new()),
        };
        let conflicts = match &live {
            Some(l) => ownership::conflicts(&entries, manager, &set, l, &new),
            None => Vec::new(),
        };
        if !conflicts.is_empty() && !force {
            return Err(Self::conflict_error(key, &conflicts));
        }
        if let Some(live) = &live {
            for path in immutable_paths(key.kind) {
                if let Some(d) = body.pointer(path)
                    && !is_subset(d, live.pointer(path).unwrap_or(&Value::Null))
                {
                    return Err(Self::immutable_error(key, path));
                }
            }
        }
        let forced = if force { conflicts } else { Vec::new() };
        let (entries, removed) =
            ownership::after_apply(&entries, manager, &key.kind.api_version(), &set, &forced);
        for p in &removed {
            ssa::remove_at(&mut new, p);
        }
        Self::as_stored(key, &mut new);
        ownership::set_managed_fields(&mut new, &entries);
        if dry_run {
            // What the apply would store, computed on a scratch copy: the same merge as a real
            // apply (kept labels, server-set fields, status), nothing persisted.
            let mut scratch = State {
                objects: s.objects.scratch(key),
                ..State::default()
            };
            let mut preview = Self::store(&mut scratch, key, &new);
            if let Some(rv) = live.as_ref().and_then(|o| o.pointer("/metadata/resourceVersion")) {
                ptr_set(&mut preview, "/metadata/resourceVersion", rv.clone());
            }
            return Ok(preview);
        }
        Ok(Self::store(&mut s, key, &new))
    }

    /// Stores `body` as the new state of `key` (create or update) and runs the controllers.
    fn store(s: &mut State, key: &ObjectKey, body: &Value) -> Value {
        let rv = s.objects.next_rv();
        let old = s.objects.get(key).cloned();
        let mut new = body.clone();
        let generation = match &old {
            Some(o) if o.get("spec") != new.get("spec") => int(o, "/metadata/generation") + 1,
            Some(o) => int(o, "/metadata/generation").max(1),
            None => 1,
        };
        if let Some(o) = &old {
            for path in [
                "/metadata/uid",
                "/metadata/creationTimestamp",
                "/metadata/deletionTimestamp",
            ] {
                if let Some(v) = o.pointer(path) {
                    ptr_set(&mut new, path, v.clone());
                }
            }
            for map in ["labels", "annotations"] {
                if let Some(live) = o.pointer(&format!("/metadata/{map}")).and_then(Value::as_object) {
                    for (k, v) in live {
                        if new
                            .pointer(&format!("/metadata/{map}"))
                            .and_then(|m| m.get(k))
                            .is_none()
                        {
                            ptr_set(
                                &mut new,
                                &format!("/metadata/{map}/{}", k.replace('/', "~1")),
                                v.clone(),
                            );
                        }
                    }
                }
            }
            if new.pointer("/spec/replicas").is_none()
                && let Some(r) = o.pointer("/spec/replicas")
            {
                ptr_set(&mut new, "/spec/replicas", r.clone());
            }
            if let Some(st) = o.get("status") {
                ptr_set(&mut new, "/status", st.clone());
            }
            if key.kind == Kind::SERVICE
                && new.pointer("/spec/clusterIP").is_none()
                && let Some(ip) = o.pointer("/spec/clusterIP")
            {
                ptr_set(&mut new, "/spec/clusterIP", ip.clone());
            }
        } else {
            ptr_set(&mut new, "/metadata/uid", Value::String(format!("uid-{rv}")));
            ptr_set(
                &mut new,
                "/metadata/creationTimestamp",
                Value::String("2026-01-01T00:00:00Z".to_owned()),
            );
            if key.kind == Kind::SERVICE && new.pointer("/spec/clusterIP").is_none() {
                ptr_set(
                    &mut new,
                    "/spec/clusterIP",
                    Value::String(format!("10.0.{}.{}", rv / 250, rv % 250)),
                );
            }
        }
        ptr_set(
            &mut new,
            "/metadata/resourceVersion",
            Value::String(rv.to_string()),
        );
        ptr_set(&mut new, "/metadata/generation", json!(generation));
        if key.kind.group == devstats_render::resource::GROUP {
            // A custom resource whose CRD enables the status subresource (ours does): writes to
            // the main resource ignore `status` (the live one is kept, none on create), and
            // `metadata.generation` starts at 1 and moves only when `spec` changes (above) —
            // "PUT/POST/PATCH requests to the custom resource ignore changes to the status
            // stanza" (CustomResourceSubresourceStatus, apiextensions.k8s.io/v1;
            // https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#status-subresource).
            match old.as_ref().and_then(|o| o.get("status")) {
                Some(st) => ptr_set(&mut new, "/status", st.clone()),
                None => {
                    if let Some(m) = new.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
        }
        let finalizing = new.pointer("/metadata/deletionTimestamp").is_some()
            && new
                .pointer("/metadata/finalizers")
                .and_then(Value::as_array)
                .is_none_or(Vec::is_empty);
        if finalizing {
            // The last finalizer is gone from an object being deleted: the server deletes it
            // (watches see MODIFIED for the deletionTimestamp earlier, then DELETED).
            s.objects.remove(key);
            return new;
        }
        if s.controllers {
            Self::reconcile(s, key, &mut new);
        }
        s.objects.put(key, new)
    }

    /// Simulated controllers.
    fn reconcile(s: &mut State, key: &ObjectKey, obj: &mut Value) {
        let generation = int(obj, "/metadata/generation");
        let ns = key.namespace.clone().unwrap_or_default();
        let template_labels = |obj: &Value| {
            obj.pointer("/spec/template/metadata/labels")
                .cloned()
                .unwrap_or_else(|| json!({}))
        };
        match key.kind.kind {
            "StatefulSet" => {
                let replicas = obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
                let revision = format!("{}-rev{generation}", key.name);
                ptr_set(
                    obj,
                    "/status",
                    json!({"observedGeneration": generation, "replicas": replicas, "readyReplicas": replicas,
                           "updatedReplicas": replicas, "availableReplicas": replicas,
                           "currentRevision": revision, "updateRevision": revision}),
                );
                for i in 0..replicas {
                    let mut labels = template_labels(obj);
                    if labels.get("cluster-name").is_some() {
                        ptr_set(
                            &mut labels,
                            "/role",
                            json!(if i == 0 { "primary" } else { "replica" }),
                        );
                    }
                    let name = format!("{}-{i}", key.name);
                    let pod = json!({"apiVersion": "v1", "kind": "Pod",
                        "metadata": {"name": name, "namespace": ns, "labels": labels},
                        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}});
                    s.objects.put(&ObjectKey::new(Kind::POD, Some(&ns), &name), pod);
                }
            }
            "Deployment" => {
                let replicas = obj.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
                ptr_set(
                    obj,
                    "/status",
                    json!({"observedGeneration": generation, "replicas": replicas, "readyReplicas": replicas,
                           "updatedReplicas": replicas, "availableReplicas": replicas}),
                );
            }
            "Job" => {
                if obj.pointer("/status/conditions").is_some() {
                    return;
                }
                let failed = s.failing_jobs.contains(&key.name);
                let condition = if failed {
                    json!({"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                           "message": "Job has reached the specified backoff limit"})
                } else {
                    json!({"type": "Complete", "status": "True"})
                };
                ptr_set(
                    obj,
                    "/status",
                    json!({"conditions": [condition], "succeeded": i64::from(!failed), "failed": i64::from(failed)}),
                );
                let mut labels = template_labels(obj);
                ptr_set(&mut labels, "/job-name", json!(key.name));
                let name = format!("{}-x7k2p", key.name);
                let pod = json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "namespace": ns, "labels": labels,
                                 "creationTimestamp": "2026-01-01T00:00:00Z"},
                    "status": {"phase": if failed { "Failed" } else { "Succeeded" }}});
                s.objects.put(&ObjectKey::new(Kind::POD, Some(&ns), &name), pod);
            }
            _ => {}
        }
    }
}

impl Source for FakeCluster {
    fn notify(&self) -> std::sync::Arc<tokio::sync::Notify> {
        std::sync::Arc::clone(&self.lock().objects.notify)
    }

    fn read(&self, f: &mut dyn FnMut(&Store)) {
        f(&self.lock().objects);
    }
}

impl Cluster for FakeCluster {
    /// On the fake's own watches ([`FakeCluster::watch`]), as a client's list-then-watch: the
    /// state read at a resourceVersion (no request), then watches of the object
    /// (`metadata.name=…`) and of the pods from that version; the check runs on every event;
    /// an `ERROR` (410 Expired) or an ended stream reads the state again.
    async fn wait_for(
        &self,
        w: &WaitFor<'_>,
        check: &mut Check<'_>,
        progress: &mut OnProgress<'_>,
    ) -> Result<WaitOutcome, ApiError> {
        let started = tokio::time::Instant::now();
        let deadline = started + w.timeout;
        let ns = w.key.namespace.as_deref();
        let mut state = WaitState::default();
        loop {
            let rv = self.with_store(|s| {
                state.set_object(s.get(w.key).cloned());
                state.clear_pods();
                if let Some(sel) = w.pods {
                    for (k, v) in s.iter() {
                        if k.kind == Kind::POD && k.namespace.as_deref() == ns && labels_match(v, sel) {
                            state.pod_applied(v.clone());
                        }
                    }
                }
                s.resource_version().to_string()
            });
            if let Some(done) = state.evaluate(check, started.elapsed(), progress) {
                return Ok(done);
            }
            let from = |label_selector: Option<&str>, field_selector: Option<String>| WatchOptions {
                resource_version: Some(rv.clone()),
                label_selector: label_selector.map(str::to_owned),
                field_selector,
                ..WatchOptions::default()
            };
            let mut objects = self
                .watch(
                    w.key.kind,
                    ns,
                    &from(None, Some(format!("metadata.name={}", w.key.name))),
                )
                .await?;
            let mut pods = match w.pods {
                Some(sel) => Some(self.watch(Kind::POD, ns, &from(Some(sel), None)).await?),
                None => None,
            };
            let every = w.poll_max.max(std::time::Duration::from_millis(10));
            let mut heartbeat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            loop {
                let next_pod = async {
                    match pods.as_mut() {
                        Some(p) => p.next().await,
                        None => std::future::pending().await,
                    }
                };
                let event = tokio::select! {
                    _ = heartbeat.tick() => {
                        state.heartbeat(started.elapsed(), progress);
                        continue;
                    }
                    e = objects.next() => e.map(|e| (false, e)),
                    e = next_pod => e.map(|e| (true, e)),
                    () = tokio::time::sleep_until(deadline) => return Ok(state.timed_out(check)),
                };
                let Some((is_pod, e)) = event else { break };
                match (is_pod, e.kind) {
                    (_, EventType::Error) => break,
                    (_, EventType::Bookmark) => continue,
                    (false, EventType::Deleted) => state.set_object(None),
                    (false, _) => state.set_object(Some(e.object)),
                    (true, EventType::Deleted) => state.pod_deleted(&e.object),
                    (true, _) => state.pod_applied(e.object),
                }
                if let Some(done) = state.evaluate(check, started.elapsed(), progress) {
                    return Ok(done);
                }
            }
        }
    }

    async fn list(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Vec<Value>, ApiError> {
        Ok(self.list_at(kind, namespace, opts, None).await?.0)
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Value>, ApiError> {
        self.begin(Verb::Get, key.to_string(), false).await?;
        Ok(self.lock().objects.get(key).cloned())
    }

    async fn apply(
        &self,
        key: &ObjectKey,
        body: &Value,
        force: bool,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let manager = self.field_manager();
        self.apply_as(&manager, key, body, force, dry_run).await
    }

    async fn patch_managed_fields(
        &self,
        key: &ObjectKey,
        resource_version: &str,
        managed_fields: &Value,
    ) -> Result<Value, ApiError> {
        self.begin(Verb::Patch, key.to_string(), false).await?;
        let mut s = self.lock();
        let Some(obj) = s.objects.get(key) else {
            return Err(Self::not_found(key));
        };
        let live_rv = obj
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if live_rv != resource_version {
            return Err(Self::patch_test_failed(key));
        }
        s.objects
            .modify(key, |obj| {
                ptr_set(obj, "/metadata/managedFields", managed_fields.clone());
                let entries = ssa::managed_fields(obj);
                ownership::set_managed_fields(obj, &entries);
            })
            .ok_or_else(|| Self::not_found(key))
    }

    async fn replace_status(&self, key: &ObjectKey, status: &Value) -> Result<Value, ApiError> {
        self.begin(Verb::Status, key.to_string(), false).await?;
        self.write_status(key, status)
    }

    async fn create(&self, key: &ObjectKey, body: &Value) -> Result<Value, ApiError> {
        self.begin(Verb::Create, key.to_string(), false).await?;
        let mut s = self.lock();
        if s.objects.contains_key(key) {
            return Err(ApiError::from_response(
                409,
                json!({"kind": "Status", "reason": "AlreadyExists", "code": 409,
                       "message": format!("{} \"{}\" already exists", key.kind.plural, key.name)})
                .to_string()
                .as_bytes(),
                None,
            ));
        }
        let mut new = body.clone();
        Self::as_stored(key, &mut new);
        let set = ssa::field_set(key.kind.kind, body);
        let manager = s
            .field_manager
            .clone()
            .unwrap_or_else(|| FIELD_MANAGER.to_owned());
        let entries = ownership::after_update(&[], &manager, &key.kind.api_version(), &set);
        ownership::set_managed_fields(&mut new, &entries);
        Ok(Self::store(&mut s, key, &new))
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), ApiError> {
        self.begin(Verb::Delete, key.to_string(), false).await?;
        let mut s = self.lock();
        // A real kube-apiserver does not remove an object that has finalizers: it sets
        // `metadata.deletionTimestamp` (once; later deletes leave it), answers 202, and deletes
        // the object when an update empties `metadata.finalizers`
        // (https://kubernetes.io/docs/concepts/overview/working-with-objects/finalizers/).
        let has_finalizers = s
            .objects
            .get(key)
            .and_then(|o| o.pointer("/metadata/finalizers"))
            .and_then(Value::as_array)
            .is_some_and(|f| !f.is_empty());
        if has_finalizers {
            let deleting = s
                .objects
                .get(key)
                .is_some_and(|o| o.pointer("/metadata/deletionTimestamp").is_some());
            if !deleting {
                s.objects.modify(key, |o| {
                    ptr_set(o, "/metadata/deletionTimestamp", json!("2026-01-01T00:00:01Z"));
                });
            }
            return Ok(());
        }
        if s.objects.remove(key).is_none() {
            return Err(Self::not_found(key));
        }
        if key.kind == Kind::NAMESPACE {
            s.objects
                .retain(|k, _| k.namespace.as_deref() != Some(key.name.as_str()));
        }
        if key.kind == Kind::JOB {
            s.objects.retain(|k, v| {
                !(k.kind == Kind::POD
                    && v.pointer("/metadata/labels/job-name").and_then(Value::as_str)
                        == Some(key.name.as_str()))
            });
        }
        Ok(())
    }

    async fn logs(&self, _namespace: &str, pod: &str, opts: &LogOptions) -> Result<String, ApiError> {
        self.begin(Verb::Logs, pod.to_owned(), false).await?;
        let text = self.lock().logs.get(pod).cloned().unwrap_or_default();
        // `tailLines` as the kubelet serves it: the last N lines, each with its newline.
        Ok(match opts.tail_lines {
            Some(n) => {
                let lines: Vec<&str> = text.split_inclusive('\n').collect();
                lines[lines.len().saturating_sub(n as usize)..].concat()
            }
            None => text,
        })
    }

    async fn follow_logs(
        &self,
        _namespace: &str,
        pod: &str,
        _container: Option<&str>,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<(), ApiError> {
        self.begin(Verb::Logs, pod.to_owned(), false).await?;
        let text = self.lock().logs.get(pod).cloned().unwrap_or_default();
        sink(text.as_bytes());
        Ok(())
    }

    async fn pod_proxy_get(
        &self,
        _namespace: &str,
        pod: &str,
        _port: u16,
        _path: &str,
    ) -> Result<String, ApiError> {
        self.begin(Verb::Proxy, pod.to_owned(), false).await?;
        Ok(json!({"members": [{"name": pod, "role": "leader", "state": "running", "lag": 0}]}).to_string())
    }

    async fn exec_stdin(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        command: &[&str],
        data: &std::path::Path,
    ) -> Result<(), ApiError> {
        self.begin(Verb::Exec, format!("Pod {namespace}/{pod}"), false)
            .await?;
        let bytes = std::fs::metadata(data)
            .map_err(|e| ApiError::transport(format!("{}: {e}", data.display())))?
            .len();
        let mut s = self.lock();
        if !s
            .objects
            .contains_key(&ObjectKey::new(Kind::POD, Some(namespace), pod))
        {
            return Err(Self::not_found(&ObjectKey::new(Kind::POD, Some(namespace), pod)));
        }
        s.uploads.push(Upload {
            pod: format!("{namespace}/{pod}"),
            container: container.to_owned(),
            command: command.iter().map(|c| (*c).to_owned()).collect(),
            bytes,
        });
        Ok(())
    }
}
