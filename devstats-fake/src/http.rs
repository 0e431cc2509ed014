//! The in-memory [`FakeCluster`] served over HTTP as a Kubernetes API server, so the real binary,
//! with its real kube client, kubeconfig handling, URLs, query strings, content types and
//! `Status` error bodies, can be run end to end without a cluster: by the CLI tests
//! (`tests/apply_http.rs`) and by hand (`cargo run -p devstats-fake --example fake-apiserver`).
//!
//! It speaks the subset of the API devstats-k8s uses: GET/LIST (with `labelSelector`,
//! `fieldSelector` on `metadata.name`/`metadata.namespace`, metadata-only `Accept`, the
//! collection's current `resourceVersion`), watches (`watch=true`, see [`crate::watch`]),
//! server-side apply (`PATCH` with `application/apply-patch+yaml`, `fieldManager`, `force`,
//! `dryRun`), `POST`, `DELETE`, pod logs (`follow`) and the pod proxy. Errors are real `Status`
//! objects; a scripted transport error closes the connection.

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use serde_json::{Value, json};

use devstats_cli::cluster::{ApiError, Cluster, ListOptions, LogOptions};
use devstats_cli::kinds::{Kind, ObjectKey};

use crate::FakeCluster;

/// Where a request path points.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// A collection: LIST or POST.
    Collection(Kind, Option<String>),
    /// One object.
    Object(ObjectKey),
    /// An object's status subresource (`…/{name}/status`).
    Status(ObjectKey),
    /// A pod's log.
    Log { namespace: String, pod: String },
    /// The pod proxy.
    Proxy {
        namespace: String,
        pod: String,
        port: u16,
        path: String,
    },
}

/// Finds the kind of `group/version` with URL segment `plural`: a built-in kind, or a custom kind
/// whose CRD this server has.
fn kind_of(crds: &[Kind], group: &str, version: &str, plural: &str, namespaced: bool) -> Option<Kind> {
    // Events are served as a real server does (`status` lists them), though nothing applies them.
    Kind::ALL
        .iter()
        .chain(crds)
        .chain(std::iter::once(&devstats_cli::cluster::EVENT))
        .copied()
        .find(|k| {
            k.group == group && k.version == version && k.plural == plural && k.namespaced == namespaced
        })
}

/// Parses `/api/v1/...` and `/apis/{group}/{version}/...` paths.
fn target(crds: &[Kind], path: &str) -> Result<Target, String> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => {
            return Err(format!(
                "the server could not find the requested resource ({path})"
            ));
        }
    };
    let unknown = |plural: &str| {
        format!("the server could not find the requested resource ({group}/{version} {plural})")
    };
    let find = |plural: &str, namespaced: bool| {
        kind_of(crds, group, version, plural, namespaced).ok_or_else(|| unknown(plural))
    };
    Ok(match rest {
        ["namespaces", ns, "pods", pod, "log"] if group.is_empty() => Target::Log {
            namespace: (*ns).to_owned(),
            pod: (*pod).to_owned(),
        },
        ["namespaces", ns, "pods", pod_port, "proxy", path @ ..] if group.is_empty() => {
            let (pod, port) = pod_port.split_once(':').ok_or_else(|| unknown("pods/proxy"))?;
            Target::Proxy {
                namespace: (*ns).to_owned(),
                pod: pod.to_owned(),
                port: port.parse().map_err(|_| unknown("pods/proxy"))?,
                path: path.join("/"),
            }
        }
        ["namespaces", ns, plural] => Target::Collection(find(plural, true)?, Some((*ns).to_owned())),
        ["namespaces", ns, plural, name] => {
            Target::Object(ObjectKey::new(find(plural, true)?, Some(ns), name))
        }
        ["namespaces", ns, plural, name, "status"] => {
            Target::Status(ObjectKey::new(find(plural, true)?, Some(ns), name))
        }
        [plural, name, "status"] => Target::Status(ObjectKey::new(find(plural, false)?, None, name)),
        [plural] => Target::Collection(find(plural, false)?, None),
        [plural, name] => Target::Object(ObjectKey::new(find(plural, false)?, None, name)),
        _ => return Err(unknown(&rest.join("/"))),
    })
}

/// The query parameters of a request.
fn query(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_owned(), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| char::from(c).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn param<'a>(q: &'a [(String, String)], name: &str) -> Option<&'a str> {
    q.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

fn respond(code: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = code;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        res.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    res
}

fn ok_json(v: &Value) -> Response<Full<Bytes>> {
    respond(StatusCode::OK, "application/json", v.to_string().into_bytes())
}

/// An error as the API server sends it: a `Status` object.
fn status(e: &ApiError) -> Response<Full<Bytes>> {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut details = json!({"causes": e.causes});
    if let Some(s) = e.retry_after {
        details["retryAfterSeconds"] = json!(s);
    }
    let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                      "message": e.message, "reason": e.reason, "details": details, "code": e.code});
    let mut res = respond(code, "application/json", body.to_string().into_bytes());
    if let Some(s) = e.retry_after
        && let Ok(v) = http::HeaderValue::from_str(&s.to_string())
    {
        res.headers_mut().insert(http::header::RETRY_AFTER, v);
    }
    res
}

fn not_found(message: String) -> Response<Full<Bytes>> {
    status(&ApiError {
        code: 404,
        reason: "NotFound".to_owned(),
        message,
        causes: Vec::new(),
        retry_after: None,
    })
}

fn bad_request(message: String) -> Response<Full<Bytes>> {
    status(&ApiError {
        code: 400,
        reason: "BadRequest".to_owned(),
        message,
        causes: Vec::new(),
        retry_after: None,
    })
}

/// A transport failure scripted on the fake: the connection is dropped without a response.
#[derive(Debug)]
struct Dropped(String);

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Dropped {}

type Reply = Result<Response<Full<Bytes>>, Dropped>;

fn api(r: Result<Response<Full<Bytes>>, ApiError>) -> Reply {
    match r {
        Ok(res) => Ok(res),
        Err(e) if e.code == 0 => Err(Dropped(e.message)),
        Err(e) => Ok(status(&e)),
    }
}

/// A response body: whole, or a watch's stream of events.
type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, std::convert::Infallible>;

/// Handles one request: a watch (`GET` of a collection with `watch=true`/`watch=1`), or any
/// other request ([`handle_plain`]).
async fn handle(
    cluster: Arc<FakeCluster>,
    crds: Arc<Vec<Kind>>,
    req: Request<Incoming>,
) -> Result<Response<Body>, Dropped> {
    let q = query(&req);
    let watching = matches!(param(&q, "watch"), Some("true" | "1"));
    if req.method() == Method::GET
        && watching
        && let Ok(Target::Collection(kind, ns)) = target(&crds, req.uri().path())
    {
        return watch(cluster, kind, ns, &q).await;
    }
    handle_plain(cluster, crds, req)
        .await
        .map(|res| res.map(BodyExt::boxed_unsync))
}

/// Serves a watch: `200`, `Content-Type: application/json`, a chunked body of one
/// `{"type":…,"object":…}` line per event (`Transfer-Encoding: chunked`, as kube-apiserver's
/// watch handler streams it), ending when the watch ends (`timeoutSeconds`, an `ERROR` event)
/// or the client goes away. An invalid `resourceVersion` or field selector is a plain 400.
async fn watch(
    cluster: Arc<FakeCluster>,
    kind: Kind,
    ns: Option<String>,
    q: &[(String, String)],
) -> Result<Response<Body>, Dropped> {
    let opts = crate::watch::WatchOptions {
        resource_version: param(q, "resourceVersion").map(str::to_owned),
        label_selector: param(q, "labelSelector").map(str::to_owned),
        field_selector: param(q, "fieldSelector").map(str::to_owned),
        bookmarks: matches!(param(q, "allowWatchBookmarks"), Some("true" | "1")),
        timeout: param(q, "timeoutSeconds")
            .and_then(|t| t.parse::<u64>().ok())
            .map(std::time::Duration::from_secs),
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(64);
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<Result<(), ApiError>>();
    tokio::task::spawn_local(async move {
        // The watch borrows the cluster: it lives in this task, which owns an `Arc` of it.
        let mut w = match cluster.watch(kind, ns.as_deref(), &opts).await {
            Ok(w) => {
                let _ = started_tx.send(Ok(()));
                w
            }
            Err(e) => {
                let _ = started_tx.send(Err(e));
                return;
            }
        };
        while let Some(event) = w.next().await {
            let mut line = event.to_json().to_string().into_bytes();
            line.push(b'\n');
            if tx.send(Bytes::from(line)).await.is_err() {
                return; // the client went away
            }
        }
    });
    // Faults and bad parameters are answered as plain errors, before the 200.
    match started_rx.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return api(Err(e)).map(|res| res.map(BodyExt::boxed_unsync)),
        Err(_) => return Err(Dropped("the watch ended before it started".to_owned())),
    }
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(hyper::body::Frame::data(b)), rx))
    });
    let mut res = Response::new(BodyExt::boxed_unsync(http_body_util::StreamBody::new(stream)));
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(res)
}

/// Handles one request other than a watch.
async fn handle_plain(cluster: Arc<FakeCluster>, crds: Arc<Vec<Kind>>, req: Request<Incoming>) -> Reply {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let q = query(&req);
    let accept = req
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let content_type = req
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Err(Dropped(format!("reading the request body: {e}"))),
    };
    // Apply patches are YAML, which JSON is a subset of; devstats-k8s sends JSON.
    let parsed_body = || -> Result<Value, String> {
        serde_json::from_slice(&body).map_err(|e| format!("invalid body: {e}"))
    };
    let target = match target(&crds, &path) {
        Ok(t) => t,
        Err(message) => return Ok(not_found(message)),
    };
    match (method, target) {
        (Method::GET, Target::Collection(kind, ns)) => {
            let opts = ListOptions {
                metadata_only: accept.contains("as=PartialObjectMetadataList"),
                label_selector: param(&q, "labelSelector").map(str::to_owned),
            };
            let fields = param(&q, "fieldSelector").filter(|f| !f.is_empty());
            api(cluster
                .list_at(kind, ns.as_deref(), &opts, fields)
                .await
                .map(|(items, rv)| {
                    let (api_version, list_kind) = if opts.metadata_only {
                        (
                            "meta.k8s.io/v1".to_owned(),
                            "PartialObjectMetadataList".to_owned(),
                        )
                    } else {
                        (kind.api_version(), format!("{}List", kind.kind))
                    };
                    ok_json(&json!({"apiVersion": api_version, "kind": list_kind,
                                "metadata": {"resourceVersion": rv.to_string()}, "items": items}))
                }))
        }
        (Method::GET, Target::Object(key)) => api(cluster.get(&key).await.map(|o| match o {
            Some(v) => ok_json(&v),
            None => not_found(format!("{} \"{}\" not found", key.kind.plural, key.name)),
        })),
        (Method::PATCH, Target::Object(key)) if content_type.starts_with("application/json-patch+json") => {
            // Only the managedFields patch (`test` resourceVersion, `replace` managedFields).
            let ops = match parsed_body() {
                Ok(v) => v,
                Err(message) => return Ok(bad_request(message)),
            };
            let op = |name: &str, path: &str| {
                ops.as_array().into_iter().flatten().find(|o| {
                    o.get("op").and_then(Value::as_str) == Some(name)
                        && o.get("path").and_then(Value::as_str) == Some(path)
                })
            };
            let (Some(test), Some(replace)) = (
                op("test", "/metadata/resourceVersion"),
                op("replace", "/metadata/managedFields"),
            ) else {
                return Ok(bad_request(
                    "only a JSON patch of /metadata/managedFields with a test of /metadata/resourceVersion is served".to_owned(),
                ));
            };
            let rv = test.get("value").and_then(Value::as_str).unwrap_or_default();
            let fields = replace.get("value").cloned().unwrap_or(Value::Null);
            api(cluster
                .patch_managed_fields(&key, rv, &fields)
                .await
                .map(|o| ok_json(&o)))
        }
        (Method::PATCH, Target::Object(key)) => {
            if !content_type.starts_with("application/apply-patch") {
                return Ok(respond(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "text/plain",
                    format!("only server-side apply is served, not {content_type}").into_bytes(),
                ));
            }
            if param(&q, "fieldManager").is_none_or(str::is_empty) {
                return Ok(bad_request("PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch".to_owned()));
            }
            let v = match parsed_body() {
                Ok(v) => v,
                Err(message) => return Ok(bad_request(message)),
            };
            let force = param(&q, "force") == Some("true");
            let dry_run = param(&q, "dryRun") == Some("All");
            let manager = param(&q, "fieldManager").unwrap_or_default().to_owned();
            api(cluster
                .apply_as(&manager, &key, &v, force, dry_run)
                .await
                .map(|o| ok_json(&o)))
        }
        (Method::POST, Target::Collection(kind, ns)) => {
            let v = match parsed_body() {
                Ok(v) => v,
                Err(message) => return Ok(bad_request(message)),
            };
            let name = v
                .pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let key = ObjectKey::new(kind, ns.as_deref(), name);
            api(cluster.create(&key, &v).await.map(|o| {
                let mut res = ok_json(&o);
                *res.status_mut() = StatusCode::CREATED;
                res
            }))
        }
        // `PUT …/status` (what `kubectl replace --subresource=status` and kube-rs'
        // `replace_status` send): a whole object whose changes outside `status` are ignored; its
        // `metadata.resourceVersion`, when set, must be the live one or the server answers 409
        // Conflict ("the object has been modified; please apply your changes to the latest
        // version and try again"), as for any update.
        (Method::PUT, Target::Status(key)) => {
            let v = match parsed_body() {
                Ok(v) => v,
                Err(message) => return Ok(bad_request(message)),
            };
            let live = match cluster.get(&key).await {
                Ok(Some(live)) => live,
                Ok(None) => {
                    return Ok(not_found(format!(
                        "{} \"{}\" not found",
                        key.kind.plural, key.name
                    )));
                }
                Err(e) => return api(Err(e)),
            };
            let sent_rv = v.pointer("/metadata/resourceVersion").and_then(Value::as_str);
            let live_rv = live.pointer("/metadata/resourceVersion").and_then(Value::as_str);
            if sent_rv.is_some_and(|rv| Some(rv) != live_rv) {
                return Ok(status(&ApiError {
                    code: 409,
                    reason: "Conflict".to_owned(),
                    message: format!(
                        "Operation cannot be fulfilled on {}.{} \"{}\": the object has been modified; please apply your changes to the latest version and try again",
                        key.kind.plural, key.kind.group, key.name
                    ),
                    causes: Vec::new(),
                    retry_after: None,
                }));
            }
            let new_status = v.get("status").cloned().unwrap_or(Value::Null);
            api(cluster.write_status(&key, &new_status).map(|o| ok_json(&o)))
        }
        (Method::DELETE, Target::Object(key)) => api(cluster
            .delete(&key)
            .await
            .map(|()| ok_json(&json!({"kind": "Status", "apiVersion": "v1", "status": "Success"})))),
        (Method::GET, Target::Log { namespace, pod }) => {
            let container = param(&q, "container").map(str::to_owned);
            if param(&q, "follow") == Some("true") {
                let mut out = Vec::new();
                let r = cluster
                    .follow_logs(&namespace, &pod, container.as_deref(), &mut |chunk| {
                        out.extend_from_slice(chunk)
                    })
                    .await;
                api(r.map(|()| respond(StatusCode::OK, "text/plain", out)))
            } else {
                let opts = LogOptions {
                    container,
                    tail_lines: param(&q, "tailLines").and_then(|n| n.parse().ok()),
                };
                api(cluster
                    .logs(&namespace, &pod, &opts)
                    .await
                    .map(|s| respond(StatusCode::OK, "text/plain", s.into_bytes())))
            }
        }
        (
            Method::GET,
            Target::Proxy {
                namespace,
                pod,
                port,
                path,
            },
        ) => api(cluster
            .pod_proxy_get(&namespace, &pod, port, &format!("/{path}"))
            .await
            .map(|s| respond(StatusCode::OK, "application/json", s.into_bytes()))),
        (m, t) => Ok(respond(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            format!("{m} is not served for {t:?}").into_bytes(),
        )),
    }
}

/// Serves `cluster` with the CRDs `crds` on a free loopback port from a background thread that
/// lives as long as the process (a test's server), and returns the address to reach it.
///
/// # Errors
///
/// When no loopback port can be bound.
pub fn serve_loopback(cluster: Arc<FakeCluster>, crds: Vec<Kind>) -> std::io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return;
        };
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, async move {
            if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                let _ = serve(cluster, listener, crds).await;
            }
        });
    });
    Ok(addr)
}

/// Serves `cluster` on `listener` until the task is dropped, with the built-in kinds and the
/// custom kinds `crds` (the CustomResourceDefinitions this server has; see [`crds_of`]). Run it on
/// a current-thread runtime inside a [`tokio::task::LocalSet`] (the request futures are not
/// `Send`).
pub async fn serve(
    cluster: Arc<FakeCluster>,
    listener: tokio::net::TcpListener,
    crds: Vec<Kind>,
) -> std::io::Result<()> {
    let crds = Arc::new(crds);
    loop {
        let (stream, _) = listener.accept().await?;
        let cluster = Arc::clone(&cluster);
        let crds = Arc::clone(&crds);
        tokio::task::spawn_local(async move {
            let service =
                hyper::service::service_fn(move |req| handle(Arc::clone(&cluster), Arc::clone(&crds), req));
            // A dropped connection is how a scripted transport error looks to the client.
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A kubeconfig for a server at `addr` (plain HTTP, no credentials), context `fake`.
#[must_use]
pub fn kubeconfig(addr: SocketAddr) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: http://{addr}\n\
         contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake\n\
         current-context: fake\nusers:\n- name: fake\n  user: {{}}\n"
    )
}

/// The custom kinds of `objects`: the CRDs a server needs to accept them.
pub fn crds_of<'a>(objects: impl IntoIterator<Item = &'a devstats_render::Object>) -> Vec<Kind> {
    let kinds: std::collections::BTreeSet<Kind> = objects
        .into_iter()
        .filter_map(Kind::of_object)
        .filter(|k| !k.is_builtin())
        .collect();
    kinds.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(
            target(&[], "/api/v1/namespaces/devstats-prod/services/x"),
            Ok(Target::Object(ObjectKey::new(
                Kind::SERVICE,
                Some("devstats-prod"),
                "x"
            )))
        );
        assert_eq!(
            target(&[], "/api/v1/namespaces/devstats-prod"),
            Ok(Target::Object(ObjectKey::new(
                Kind::NAMESPACE,
                None,
                "devstats-prod"
            )))
        );
        assert_eq!(
            target(&[], "/apis/batch/v1/namespaces/n/cronjobs"),
            Ok(Target::Collection(Kind::CRON_JOB, Some("n".to_owned())))
        );
        assert_eq!(
            target(&[], "/api/v1/namespaces/n/pods/p/log"),
            Ok(Target::Log {
                namespace: "n".to_owned(),
                pod: "p".to_owned()
            })
        );
        assert_eq!(
            target(
                &[],
                "/api/v1/namespaces/n/pods/devstats-postgres-0:8008/proxy/cluster"
            ),
            Ok(Target::Proxy {
                namespace: "n".to_owned(),
                pod: "devstats-postgres-0".to_owned(),
                port: 8008,
                path: "cluster".to_owned()
            })
        );
        assert!(target(&[], "/apis/example.com/v1/widgets").is_err());
        assert_eq!(decode("a%3Db%2Cc+d"), "a=b,c d");
    }
}
