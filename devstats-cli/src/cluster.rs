//! The client layer: a small [`Cluster`] trait (list, get, apply, create, delete, logs, pod proxy)
//! with the real implementation over `kube::Client` ([`KubeCluster`]) and the API error type.
//!
//! Requests follow the API's own semantics: server-side apply is a PATCH with
//! `application/apply-patch+yaml` and `fieldManager=devstats-k8s` (`force=true` only on request,
//! `dryRun=All` for diffs); lists are paginated and may ask for metadata only
//! (`PartialObjectMetadataList`), so Secret values are never read to decide what to write.
//! One request per call: retries are the caller's ([`crate::retry`]).

use std::time::Duration;

use http::{Method, Request, StatusCode};
use serde_json::Value;

use crate::kinds::{Kind, ObjectKey};
use crate::plan::FIELD_MANAGER;
use crate::waits::{Check, OnProgress, WaitFor, WaitOutcome, WaitState};

/// One cause of an API error (`details.causes[]` of a `Status`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Cause {
    /// e.g. `FieldManagerConflict`, `FieldValueInvalid`.
    pub reason: String,
    /// Human text, e.g. `conflict with "kubectl-edit" using apps/v1`.
    pub message: String,
    /// The field, e.g. `.spec.replicas`.
    pub field: String,
}

/// An API error: the HTTP status and the `Status` body, or a transport failure (code 0).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApiError {
    /// HTTP status code; 0 for transport errors (connection, timeout).
    pub code: u16,
    /// `Status.reason`, e.g. `Conflict`, `Invalid`, `NotFound`.
    pub reason: String,
    /// `Status.message`.
    pub message: String,
    /// `Status.details.causes`.
    pub causes: Vec<Cause>,
    /// `Retry-After` (seconds) or `details.retryAfterSeconds`.
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.code == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "{} {}: {}", self.code, self.reason, self.message)
        }
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    /// A transport error (no response).
    #[must_use]
    pub fn transport(message: impl Into<String>) -> Self {
        Self {
            code: 0,
            reason: "Transport".to_owned(),
            message: message.into(),
            causes: Vec::new(),
            retry_after: None,
        }
    }

    /// Parses an error response (a `Status` body when there is one).
    #[must_use]
    pub fn from_response(code: u16, body: &[u8], retry_after: Option<u64>) -> Self {
        let status: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let text = |p: &str| {
            status
                .pointer(p)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let causes = status
            .pointer("/details/causes")
            .and_then(Value::as_array)
            .map(|cs| {
                cs.iter()
                    .map(|c| Cause {
                        reason: c
                            .get("reason")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        message: c
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        field: c
                            .get("field")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut message = text("/message");
        if message.is_empty() {
            message = String::from_utf8_lossy(body).chars().take(300).collect();
        }
        let reason = match text("/reason") {
            r if r.is_empty() => StatusCode::from_u16(code)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("Error")
                .replace(' ', ""),
            r => r,
        };
        Self {
            code,
            reason,
            message,
            causes,
            retry_after: retry_after.or_else(|| {
                status
                    .pointer("/details/retryAfterSeconds")
                    .and_then(Value::as_u64)
            }),
        }
    }

    /// 404.
    #[must_use]
    pub fn is_not_found(&self) -> bool {
        self.code == 404
    }

    /// 409 AlreadyExists (a create of an existing object).
    #[must_use]
    pub fn is_already_exists(&self) -> bool {
        self.code == 409 && self.reason == "AlreadyExists"
    }

    /// 409 from server-side apply: fields owned by another manager.
    #[must_use]
    pub fn is_field_conflict(&self) -> bool {
        self.code == 409
            && (self.causes.iter().any(|c| c.reason == "FieldManagerConflict")
                || self.message.starts_with("Apply failed with"))
    }

    /// 422 naming an immutable field.
    #[must_use]
    pub fn is_immutable(&self) -> bool {
        self.code == 422
            && (self.message.contains("field is immutable")
                || self.message.contains("Forbidden: updates to statefulset spec"))
    }

    /// Worth retrying: throttled (429), server errors (500, 502, 503, 504), transport failures,
    /// and optimistic-concurrency conflicts (409 Conflict that is not a field-manager conflict).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(self.code, 0 | 429 | 500 | 502 | 503 | 504)
            || (self.code == 409 && self.reason == "Conflict" && !self.is_field_conflict())
    }

    /// The managers and fields of a field-manager conflict, as text for the operator.
    #[must_use]
    pub fn conflict_summary(&self) -> String {
        let mut by_manager: std::collections::BTreeMap<String, Vec<String>> =
            std::collections::BTreeMap::new();
        for c in &self.causes {
            let manager = c
                .message
                .split('"')
                .nth(1)
                .map_or_else(|| c.message.clone(), str::to_owned);
            by_manager.entry(manager).or_default().push(c.field.clone());
        }
        if by_manager.is_empty() {
            return self.message.clone();
        }
        by_manager
            .iter()
            .map(|(m, fields)| format!("{} owned by \"{m}\"", fields.join(", ")))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// List options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListOptions {
    /// Only metadata (`PartialObjectMetadataList`): no spec, status or data.
    pub metadata_only: bool,
    /// A label selector.
    pub label_selector: Option<String>,
}

/// Core `v1` Events (namespaced). Not in the kinds table: devstats-k8s never applies, prunes or
/// inventories Events; `status` only lists them to diagnose pods ([`crate::diagnose`]).
pub const EVENT: Kind = Kind {
    rank: crate::kinds::CUSTOM_RANK,
    group: "",
    version: "v1",
    kind: "Event",
    plural: "events",
    namespaced: true,
};

/// Log options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogOptions {
    /// The container (when the pod has several).
    pub container: Option<String>,
    /// Only the last lines.
    pub tail_lines: Option<u32>,
}

/// The API operations devstats-k8s uses. Implemented by [`KubeCluster`] and, for the tests, by
/// the in-memory `FakeCluster` of the dev-only crate devstats-fake.
#[allow(async_fn_in_trait)] // used through generics within one task; no Send bound needed
pub trait Cluster {
    /// Lists a kind in a namespace (all pages).
    async fn list(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Vec<Value>, ApiError>;
    /// Gets one object; `None` when it does not exist.
    async fn get(&self, key: &ObjectKey) -> Result<Option<Value>, ApiError>;
    /// Server-side apply (field manager `devstats-k8s`); returns the resulting object.
    async fn apply(
        &self,
        key: &ObjectKey,
        body: &Value,
        force: bool,
        dry_run: bool,
    ) -> Result<Value, ApiError>;
    /// Replaces `metadata.managedFields` of an object (a JSON patch with a `test` of
    /// `resourceVersion`, as kubectl's `csaupgrade` sends it): moves field ownership between
    /// managers without changing the object. Fails (422) when the object changed since it was read.
    async fn patch_managed_fields(
        &self,
        key: &ObjectKey,
        resource_version: &str,
        managed_fields: &Value,
    ) -> Result<Value, ApiError>;
    /// Replaces the status of the object at `key` through its status subresource (`PUT
    /// …/status`); the server ignores changes outside `status` and keeps `metadata.generation`.
    /// 404 when the object does not exist.
    async fn replace_status(&self, key: &ObjectKey, status: &Value) -> Result<Value, ApiError>;
    /// Creates an object (POST); 409 AlreadyExists when it exists.
    async fn create(&self, key: &ObjectKey, body: &Value) -> Result<Value, ApiError>;
    /// Deletes an object (background propagation); 404 when it does not exist.
    async fn delete(&self, key: &ObjectKey) -> Result<(), ApiError>;
    /// A pod's log.
    async fn logs(&self, namespace: &str, pod: &str, opts: &LogOptions) -> Result<String, ApiError>;
    /// Follows a pod's log until the container ends, passing chunks to `sink`.
    async fn follow_logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<(), ApiError>;
    /// GET through the API server's pod proxy (`pods/{pod}:{port}/proxy/{path}`), e.g. Patroni's
    /// REST API.
    async fn pod_proxy_get(
        &self,
        namespace: &str,
        pod: &str,
        port: u16,
        path: &str,
    ) -> Result<String, ApiError>;
    /// Runs `command` in a container with the file `data` on its stdin (`pods/exec`, what
    /// `kubectl cp` does) and waits for it to exit; an error when it exits non-zero.
    async fn exec_stdin(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        command: &[&str],
        data: &std::path::Path,
    ) -> Result<(), ApiError>;
    /// Waits until `check`, run on the live object of `w.key` (and the pods `w.pods` selects),
    /// says ready or failed, or `w.timeout` passes; `progress` hears each new progress text.
    /// Implementations watch (the check runs on every change: [`KubeCluster`] with kube-runtime's
    /// `watcher`, re-listing after a 410 or a broken stream); this default polls ([`poll_for`]).
    /// An error when a read fails for a reason retrying does not fix (403, 404 of the kind, …).
    async fn wait_for(
        &self,
        w: &WaitFor<'_>,
        check: &mut Check<'_>,
        progress: &mut OnProgress<'_>,
    ) -> Result<WaitOutcome, ApiError> {
        poll_for(self, w, check, progress).await
    }
}

/// [`Cluster::wait_for`] by polling: GET the object (and LIST the pods) with pauses from
/// `w.poll_initial` doubling to `w.poll_max`, until the check decides or `w.timeout` passes.
pub async fn poll_for<C: Cluster + ?Sized>(
    cluster: &C,
    w: &WaitFor<'_>,
    check: &mut Check<'_>,
    progress: &mut OnProgress<'_>,
) -> Result<WaitOutcome, ApiError> {
    let started = std::time::Instant::now();
    let mut delay = w.poll_initial;
    let mut state = WaitState::default();
    loop {
        state.set_object(cluster.get(w.key).await?);
        if let Some(sel) = w.pods {
            let opts = ListOptions {
                metadata_only: false,
                label_selector: Some(sel.to_owned()),
            };
            state.clear_pods();
            for p in cluster.list(Kind::POD, w.key.namespace.as_deref(), &opts).await? {
                state.pod_applied(p);
            }
        }
        let elapsed = started.elapsed();
        if elapsed >= w.timeout {
            return Ok(state.timed_out(check));
        }
        if let Some(done) = state.evaluate(check, elapsed, progress) {
            return Ok(done);
        }
        tokio::time::sleep(delay.min(w.timeout.saturating_sub(elapsed))).await;
        delay = (delay * 2).min(w.poll_max);
    }
}

/// A kube-runtime watcher error as an [`ApiError`], `None` when retrying can fix it (a 410
/// "Expired" the watcher answers with a re-list, throttling, a server error, a broken stream).
fn watch_error(e: &kube::runtime::watcher::Error) -> Option<ApiError> {
    use kube::runtime::watcher::Error as W;
    let api = |s: &kube::core::Status| ApiError {
        code: s.code,
        reason: s.reason.clone(),
        message: s.message.clone(),
        causes: Vec::new(),
        retry_after: None,
    };
    let e = match e {
        W::InitialListFailed(kube::Error::Api(s))
        | W::WatchStartFailed(kube::Error::Api(s))
        | W::WatchFailed(kube::Error::Api(s)) => api(s),
        W::WatchError(s) => api(s),
        _ => return None,
    };
    (!e.is_transient() && e.code != 410).then_some(e)
}

/// The kube-runtime `watcher` of `kind` in `namespace`, selected by `config`, as JSON values.
fn watch_values(
    client: &kube::Client,
    kind: Kind,
    namespace: Option<&str>,
    config: kube::runtime::watcher::Config,
) -> futures::stream::LocalBoxStream<
    'static,
    Result<kube::runtime::watcher::Event<Value>, kube::runtime::watcher::Error>,
> {
    use futures::StreamExt as _;
    use kube::runtime::WatchStreamExt as _;
    use kube::runtime::watcher::Event;
    let ar = kube::core::ApiResource {
        group: kind.group.to_owned(),
        version: kind.version.to_owned(),
        api_version: kind.api_version(),
        kind: kind.kind.to_owned(),
        plural: kind.plural.to_owned(),
    };
    let api: kube::Api<kube::core::DynamicObject> = match namespace {
        Some(ns) if kind.namespaced => kube::Api::namespaced_with(client.clone(), ns, &ar),
        _ => kube::Api::all_with(client.clone(), &ar),
    };
    kube::runtime::watcher(api, config)
        .default_backoff()
        .map(|r| {
            r.map(|e| {
                let v = |o: kube::core::DynamicObject| serde_json::to_value(o).unwrap_or(Value::Null);
                match e {
                    Event::Apply(o) => Event::Apply(v(o)),
                    Event::Delete(o) => Event::Delete(v(o)),
                    Event::Init => Event::Init,
                    Event::InitApply(o) => Event::InitApply(v(o)),
                    Event::InitDone => Event::InitDone,
                }
            })
        })
        .boxed_local()
}

/// Percent-encodes a query value.
#[must_use]
pub fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(char::from(b)),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The server-side apply parameters (kube-core's [`PatchParams`]): field manager `manager`,
/// `force=true` only on request, `dryRun=All` for diffs.
///
/// [`PatchParams`]: kube::api::PatchParams
#[must_use]
pub fn apply_params(manager: &str, force: bool, dry_run: bool) -> kube::api::PatchParams {
    let mut pp = kube::api::PatchParams::apply(manager);
    if force {
        pp = pp.force();
    }
    if dry_run {
        pp = pp.dry_run();
    }
    pp
}

/// The JSON patch that replaces `metadata.managedFields` only if the object is unchanged
/// (kubectl `csaupgrade`'s form).
#[must_use]
pub fn managed_fields_patch(resource_version: &str, managed_fields: &Value) -> Value {
    serde_json::json!([
        {"op": "test", "path": "/metadata/resourceVersion", "value": resource_version},
        {"op": "replace", "path": "/metadata/managedFields", "value": managed_fields},
    ])
}

/// The list parameters (kube-core's [`ListParams`]) of one page.
///
/// [`ListParams`]: kube::api::ListParams
#[must_use]
pub fn list_params(opts: &ListOptions, limit: u32, continue_token: Option<&str>) -> kube::api::ListParams {
    let mut lp = kube::api::ListParams::default().limit(limit);
    if let Some(sel) = &opts.label_selector {
        lp = lp.labels(sel);
    }
    if let Some(c) = continue_token {
        lp = lp.continue_token(c);
    }
    lp
}

/// `Accept` for metadata-only lists (falls back to full JSON on servers without it).
pub const METADATA_ACCEPT: &str =
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";

/// Page size of lists.
pub const PAGE: u32 = 500;

/// Why [`KubeCluster::connect`] failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The `--kubeconfig` file cannot be read or used.
    #[error("--kubeconfig {}: {source}", path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: kube::config::KubeconfigError,
    },
    /// The default kubeconfig (with `--context`) cannot be used.
    #[error("kubeconfig: {0}")]
    Kubeconfig(kube::config::KubeconfigError),
    /// Neither in-cluster nor kubeconfig configuration could be loaded.
    #[error("kubeconfig: {0}")]
    Infer(kube::config::InferConfigError),
    /// The client cannot be built from the configuration.
    #[error("cannot build a client: {0}")]
    Client(kube::Error),
}

/// The real cluster, over a `kube::Client`. Applies and creates as its field manager
/// (`devstats-k8s` unless [`KubeCluster::with_field_manager`] says otherwise).
#[derive(Clone)]
pub struct KubeCluster {
    client: kube::Client,
    field_manager: String,
}

impl KubeCluster {
    /// Wraps a client (built from a kubeconfig, or a mock service in tests).
    #[must_use]
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            field_manager: FIELD_MANAGER.to_owned(),
        }
    }

    /// The same cluster, applying and creating as field manager `manager` (the operator is
    /// `devstats-operator`).
    #[must_use]
    pub fn with_field_manager(mut self, manager: &str) -> Self {
        manager.clone_into(&mut self.field_manager);
        self
    }

    /// The field manager of applies and creates.
    #[must_use]
    pub fn field_manager(&self) -> &str {
        &self.field_manager
    }

    /// The underlying client (for kube's typed APIs, e.g. kube-runtime's controller).
    #[must_use]
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// Connects with a kubeconfig file and/or context (else the default loading rules). Client
    /// retries are off: [`crate::retry`] retries with its own policy.
    pub async fn connect(
        kubeconfig: Option<&std::path::Path>,
        context: Option<&str>,
    ) -> Result<Self, ConnectError> {
        let options = kube::config::KubeConfigOptions {
            context: context.map(str::to_owned),
            ..kube::config::KubeConfigOptions::default()
        };
        let mut config = match kubeconfig {
            Some(path) => {
                let file = |source| ConnectError::File {
                    path: path.to_owned(),
                    source,
                };
                let kc = kube::config::Kubeconfig::read_from(path).map_err(file)?;
                kube::Config::from_custom_kubeconfig(kc, &options)
                    .await
                    .map_err(file)?
            }
            None if context.is_some() => kube::Config::from_kubeconfig(&options)
                .await
                .map_err(ConnectError::Kubeconfig)?,
            None => kube::Config::infer().await.map_err(ConnectError::Infer)?,
        };
        config.default_retry = false;
        config.read_timeout = Some(Duration::from_secs(60));
        config.write_timeout = Some(Duration::from_secs(60));
        let client = kube::Client::try_from(config).map_err(ConnectError::Client)?;
        Ok(Self::new(client))
    }

    async fn send(
        &self,
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        accept: &str,
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), ApiError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(http::header::ACCEPT, accept);
        if let Some(ct) = content_type {
            builder = builder.header(http::header::CONTENT_TYPE, ct);
        }
        let req = builder
            .body(body)
            .map_err(|e| ApiError::transport(format!("bad request {uri}: {e}")))?;
        self.send_request(req, accept).await
    }

    /// Sends a request built by kube-core (its `Accept` replaced by `accept`).
    async fn send_request(&self, req: Request<Vec<u8>>, accept: &str) -> Result<(u16, Vec<u8>), ApiError> {
        let uri = req.uri().to_string();
        let (mut parts, body) = req.into_parts();
        let accept = http::HeaderValue::from_str(accept)
            .map_err(|e| ApiError::transport(format!("bad request {uri}: {e}")))?;
        parts.headers.insert(http::header::ACCEPT, accept);
        let req = Request::from_parts(parts, kube::client::Body::from(body));
        let res = self
            .client
            .send(req)
            .await
            .map_err(|e| ApiError::transport(format!("{uri}: {e}")))?;
        let status = res.status().as_u16();
        let retry_after = res
            .headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = res
            .into_body()
            .collect_bytes()
            .await
            .map_err(|e| ApiError::transport(format!("{uri}: reading the response: {e}")))?;
        if (200..300).contains(&status) {
            Ok((status, bytes.to_vec()))
        } else {
            Err(ApiError::from_response(status, &bytes, retry_after))
        }
    }

    async fn json(
        &self,
        method: Method,
        uri: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<Value, ApiError> {
        let (_, bytes) = self
            .send(method, uri, content_type, "application/json", body)
            .await?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::transport(format!("{uri}: invalid JSON: {e}")))
    }

    /// Sends a request built by kube-core and parses its JSON answer.
    async fn json_request(
        &self,
        req: Result<Request<Vec<u8>>, kube::core::request::Error>,
    ) -> Result<Value, ApiError> {
        let req = req.map_err(|e| ApiError::transport(format!("bad request: {e}")))?;
        let uri = req.uri().to_string();
        let (_, bytes) = self.send_request(req, "application/json").await?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::transport(format!("{uri}: invalid JSON: {e}")))
    }
}

/// kube-core's request builder for the collection of `key`.
fn request_of(key: &ObjectKey) -> kube::core::Request {
    kube::core::Request::new(key.kind.collection_path(key.namespace.as_deref()))
}

fn to_bytes(v: &Value) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(v).map_err(|e| ApiError::transport(format!("cannot serialize: {e}")))
}

impl Cluster for KubeCluster {
    /// Watches with kube-runtime's `watcher`: the object with `fieldSelector=metadata.name=…`,
    /// the pods with their label selector; list, then watch from the list's resourceVersion
    /// (bookmarks on), re-listing after 410 Expired or a broken stream, with backoff.
    async fn wait_for(
        &self,
        w: &WaitFor<'_>,
        check: &mut Check<'_>,
        progress: &mut OnProgress<'_>,
    ) -> Result<WaitOutcome, ApiError> {
        use futures::StreamExt as _;
        use kube::runtime::watcher::{Config, Event};
        let started = tokio::time::Instant::now();
        let deadline = started + w.timeout;
        let ns = w.key.namespace.as_deref();
        let mut objects = watch_values(
            &self.client,
            w.key.kind,
            ns,
            Config::default().fields(&format!("metadata.name={}", w.key.name)),
        );
        let mut pods = match w.pods {
            Some(sel) => watch_values(&self.client, Kind::POD, ns, Config::default().labels(sel)),
            None => futures::stream::pending().boxed_local(),
        };
        let mut state = WaitState::default();
        // Decide only on a complete view: the object listed, and the pods when there are any.
        let (mut objects_listed, mut pods_listed) = (false, w.pods.is_none());
        let mut heartbeat =
            tokio::time::interval_at(started + w.poll_max, w.poll_max.max(Duration::from_millis(10)));
        loop {
            let changed = tokio::select! {
                _ = heartbeat.tick() => { state.heartbeat(started.elapsed(), progress); false }
                e = objects.next() => match e {
                    Some(Ok(Event::Apply(o) | Event::InitApply(o))) => { state.set_object(Some(o)); true }
                    Some(Ok(Event::Delete(_))) => { state.set_object(None); true }
                    Some(Ok(Event::Init)) => { state.set_object(None); false }
                    Some(Ok(Event::InitDone)) => { objects_listed = true; true }
                    Some(Err(e)) => match watch_error(&e) { Some(e) => return Err(e), None => false },
                    None => false,
                },
                e = pods.next() => match e {
                    Some(Ok(Event::Apply(p) | Event::InitApply(p))) => { state.pod_applied(p); true }
                    Some(Ok(Event::Delete(p))) => { state.pod_deleted(&p); true }
                    Some(Ok(Event::Init)) => { state.clear_pods(); false }
                    Some(Ok(Event::InitDone)) => { pods_listed = true; true }
                    Some(Err(e)) => match watch_error(&e) { Some(e) => return Err(e), None => false },
                    None => false,
                },
                () = tokio::time::sleep_until(deadline) => return Ok(state.timed_out(check)),
            };
            if changed
                && objects_listed
                && pods_listed
                && let Some(done) = state.evaluate(check, started.elapsed(), progress)
            {
                return Ok(done);
            }
        }
    }

    async fn list(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Vec<Value>, ApiError> {
        let path = kind.collection_path(namespace);
        let accept = if opts.metadata_only {
            METADATA_ACCEPT
        } else {
            "application/json"
        };
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let req = kube::core::Request::new(path.clone())
                .list(&list_params(opts, PAGE, token.as_deref()))
                .map_err(|e| ApiError::transport(format!("bad request {path}: {e}")))?;
            let uri = req.uri().to_string();
            let (_, bytes) = self.send_request(req, accept).await?;
            let page: Value = serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::transport(format!("{uri}: invalid JSON: {e}")))?;
            if let Some(list) = page.get("items").and_then(Value::as_array) {
                for item in list {
                    let mut item = item.clone();
                    // Items of a list carry no apiVersion/kind; metadata-only items say
                    // PartialObjectMetadata. Normalize to the listed kind.
                    if let Some(obj) = item.as_object_mut() {
                        obj.insert("apiVersion".to_owned(), Value::String(kind.api_version()));
                        obj.insert("kind".to_owned(), Value::String(kind.kind.to_owned()));
                    }
                    items.push(item);
                }
            }
            token = page
                .pointer("/metadata/continue")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(str::to_owned);
            if token.is_none() {
                return Ok(items);
            }
        }
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Value>, ApiError> {
        let get = request_of(key).get(&key.name, &kube::api::GetParams::default());
        match self.json_request(get).await {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn apply(
        &self,
        key: &ObjectKey,
        body: &Value,
        force: bool,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let pp = apply_params(&self.field_manager, force, dry_run);
        self.json_request(request_of(key).patch(&key.name, &pp, &kube::api::Patch::Apply(body)))
            .await
    }

    async fn patch_managed_fields(
        &self,
        key: &ObjectKey,
        resource_version: &str,
        managed_fields: &Value,
    ) -> Result<Value, ApiError> {
        self.json(
            Method::PATCH,
            &key.path(),
            Some("application/json-patch+json"),
            to_bytes(&managed_fields_patch(resource_version, managed_fields))?,
        )
        .await
    }

    /// Reads the object, sets `status`, and sends it with the resourceVersion read, so a
    /// concurrent write makes the server answer 409 Conflict instead of losing it.
    async fn replace_status(&self, key: &ObjectKey, status: &Value) -> Result<Value, ApiError> {
        let get = request_of(key).get(&key.name, &kube::api::GetParams::default());
        let mut obj = self.json_request(get).await?;
        obj["status"] = status.clone();
        let pp = kube::api::PostParams::default();
        self.json_request(request_of(key).replace_subresource("status", &key.name, &pp, to_bytes(&obj)?))
            .await
    }

    async fn create(&self, key: &ObjectKey, body: &Value) -> Result<Value, ApiError> {
        let pp = kube::api::PostParams {
            field_manager: Some(self.field_manager.clone()),
            ..kube::api::PostParams::default()
        };
        self.json_request(request_of(key).create(&pp, to_bytes(body)?))
            .await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), ApiError> {
        self.json_request(request_of(key).delete(&key.name, &kube::api::DeleteParams::background()))
            .await
            .map(|_| ())
    }

    async fn logs(&self, namespace: &str, pod: &str, opts: &LogOptions) -> Result<String, ApiError> {
        let mut uri = format!("/api/v1/namespaces/{namespace}/pods/{pod}/log?timestamps=false");
        if let Some(c) = &opts.container {
            uri.push_str(&format!("&container={}", encode_query(c)));
        }
        if let Some(n) = opts.tail_lines {
            uri.push_str(&format!("&tailLines={n}"));
        }
        let (_, bytes) = self.send(Method::GET, &uri, None, "*/*", Vec::new()).await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn follow_logs(
        &self,
        namespace: &str,
        pod: &str,
        container: Option<&str>,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Result<(), ApiError> {
        use http_body_util::BodyExt as _;
        let mut uri = format!("/api/v1/namespaces/{namespace}/pods/{pod}/log?follow=true");
        if let Some(c) = container {
            uri.push_str(&format!("&container={}", encode_query(c)));
        }
        let req = Request::builder()
            .method(Method::GET)
            .uri(&uri)
            .body(kube::client::Body::empty())
            .map_err(|e| ApiError::transport(format!("bad request {uri}: {e}")))?;
        let res = self
            .client
            .send(req)
            .await
            .map_err(|e| ApiError::transport(format!("{uri}: {e}")))?;
        let status = res.status().as_u16();
        let mut body = res.into_body();
        if !(200..300).contains(&status) {
            let bytes = body
                .collect_bytes()
                .await
                .map_err(|e| ApiError::transport(format!("{uri}: {e}")))?;
            return Err(ApiError::from_response(status, &bytes, None));
        }
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ApiError::transport(format!("{uri}: {e}")))?;
            if let Some(data) = frame.data_ref() {
                sink(data);
            }
        }
        Ok(())
    }

    async fn pod_proxy_get(
        &self,
        namespace: &str,
        pod: &str,
        port: u16,
        path: &str,
    ) -> Result<String, ApiError> {
        let uri = format!(
            "/api/v1/namespaces/{namespace}/pods/{pod}:{port}/proxy/{}",
            path.trim_start_matches('/')
        );
        let (_, bytes) = self
            .send(Method::GET, &uri, None, "application/json", Vec::new())
            .await?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn exec_stdin(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        command: &[&str],
        data: &std::path::Path,
    ) -> Result<(), ApiError> {
        use k8s_openapi::api::core::v1::Pod;
        use kube::api::{Api, AttachParams};
        let io = |what: &str, e: &dyn std::fmt::Display| ApiError::transport(format!("{what}: {e}"));
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let params = AttachParams::default()
            .container(container)
            .stdin(true)
            .stdout(false)
            .stderr(true);
        let mut proc = pods
            .exec(pod, command.iter().copied(), &params)
            .await
            .map_err(|e| io(&format!("exec in pod {namespace}/{pod}"), &e))?;
        let status = proc.take_status();
        let mut stderr = proc.stderr();
        let mut stdin = proc
            .stdin()
            .ok_or_else(|| ApiError::transport("exec: no stdin stream"))?;
        let mut file = tokio::fs::File::open(data)
            .await
            .map_err(|e| io(&data.display().to_string(), &e))?;
        tokio::io::copy(&mut file, &mut stdin)
            .await
            .map_err(|e| io("upload", &e))?;
        tokio::io::AsyncWriteExt::shutdown(&mut stdin)
            .await
            .map_err(|e| io("upload", &e))?;
        drop(stdin);
        let mut err_text = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = tokio::io::AsyncReadExt::read_to_string(e, &mut err_text).await;
        }
        let outcome = match status {
            Some(s) => s.await,
            None => None,
        };
        proc.join().await.map_err(|e| io("exec", &e))?;
        match outcome {
            Some(st) if st.status.as_deref() != Some("Success") => Err(ApiError::transport(format!(
                "`{}` in {namespace}/{pod} failed: {} {}",
                command.join(" "),
                st.message.unwrap_or_default(),
                err_text.trim()
            ))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_field_manager_conflict() {
        let body = br#"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Apply failed with 1 conflict: conflict with \"kubectl-edit\" using apps/v1: .spec.replicas","reason":"Conflict","details":{"causes":[{"reason":"FieldManagerConflict","message":"conflict with \"kubectl-edit\" using apps/v1","field":".spec.replicas"}]},"code":409}"#;
        let e = ApiError::from_response(409, body, None);
        assert!(e.is_field_conflict());
        assert!(!e.is_transient());
        assert_eq!(e.conflict_summary(), ".spec.replicas owned by \"kubectl-edit\"");
    }

    #[test]
    fn optimistic_conflict_is_transient() {
        let body = br#"{"kind":"Status","status":"Failure","message":"Operation cannot be fulfilled on configmaps \"x\": the object has been modified; please apply your changes to the latest version and try again","reason":"Conflict","code":409}"#;
        assert!(ApiError::from_response(409, body, None).is_transient());
    }

    #[test]
    fn classifies_codes() {
        assert!(ApiError::from_response(429, b"", Some(2)).is_transient());
        assert!(ApiError::from_response(503, b"oops", None).is_transient());
        assert!(!ApiError::from_response(403, b"", None).is_transient());
        let imm = ApiError::from_response(
            422,
            br#"{"message":"Job.batch \"x\" is invalid: spec.template: Invalid value: core.PodTemplateSpec{}: field is immutable","reason":"Invalid","code":422}"#,
            None,
        );
        assert!(imm.is_immutable());
        assert_eq!(ApiError::from_response(404, b"", None).reason, "NotFound");
    }

    #[test]
    fn requests_are_built_with_kube_core_params() {
        let key = ObjectKey::new(Kind::CONFIG_MAP, Some("ns"), "cm");
        let body = serde_json::json!({});
        let uri = |pp: &kube::api::PatchParams| {
            request_of(&key)
                .patch(&key.name, pp, &kube::api::Patch::Apply(&body))
                .expect("valid")
                .uri()
                .to_string()
        };
        assert_eq!(
            uri(&apply_params(FIELD_MANAGER, false, false)),
            "/api/v1/namespaces/ns/configmaps/cm?&fieldManager=devstats-k8s"
        );
        assert_eq!(
            uri(&apply_params("devstats-operator", true, true)),
            "/api/v1/namespaces/ns/configmaps/cm?&dryRun=All&force=true&fieldManager=devstats-operator"
        );
        let opts = ListOptions {
            metadata_only: true,
            label_selector: Some("a=b,c in (d)".to_owned()),
        };
        let list = kube::core::Request::new("/api/v1/configmaps")
            .list(&list_params(&opts, 500, Some("t=")))
            .expect("valid");
        assert_eq!(
            list.uri().to_string(),
            "/api/v1/configmaps?&labelSelector=a%3Db%2Cc+in+%28d%29&limit=500&continue=t%3D"
        );
        let delete = request_of(&key)
            .delete(&key.name, &kube::api::DeleteParams::background())
            .expect("valid");
        assert_eq!(delete.body().as_slice(), br#"{"propagationPolicy":"Background"}"#);
    }
}
