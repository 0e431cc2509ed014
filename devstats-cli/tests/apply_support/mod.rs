//! Shared helpers of the apply tests: fixtures, renders, a runtime, an engine over a cluster.

#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use devstats_cli::apply::{ApplyConfig, ApplyError, ApplyReport};
use devstats_cli::cluster::Cluster;
use devstats_cli::engine::Engine;
use devstats_cli::plan::DesiredSet;
use devstats_cli::progress::Silent;
use devstats_cli::retry::RetryPolicy;
use devstats_model::Model;
use devstats_render::{Options, RenderSet};

pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/")).join(rel)
}

pub fn model(rel: &str) -> Model {
    devstats_model::load(&fixture(rel)).expect("fixture loads")
}

pub fn render(m: &Model) -> RenderSet {
    devstats_render::render(m, &Options::default()).expect("renders")
}

pub fn desired(m: &Model) -> DesiredSet {
    DesiredSet::new(&render(m), m.instance.namespace.as_str(), true).expect("desired set")
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

pub fn config() -> ApplyConfig {
    ApplyConfig {
        timeout: Duration::from_millis(300),
        provision_timeout: Duration::from_millis(300),
        poll_initial: Duration::from_millis(1),
        poll_max: Duration::from_millis(5),
        ..ApplyConfig::default()
    }
}

pub fn no_wait() -> ApplyConfig {
    let mut c = config();
    c.plan.wait = false;
    c
}

pub fn apply<C: Cluster>(
    cluster: &C,
    set: &DesiredSet,
    cfg: &ApplyConfig,
) -> Result<ApplyReport, ApplyError> {
    let progress = Silent;
    let eng = Engine::new(cluster, 32, RetryPolicy::immediate(6), &progress);
    block_on(devstats_cli::apply::apply(&eng, set, cfg))
}

pub mod http_fake {
    //! Serves a [`FakeCluster`] over HTTP through `tower_test`'s mock service, so that
    //! [`KubeCluster`] is tested with real request paths, query strings, headers and `Status`
    //! bodies, and the fake's semantics behind them.

    use std::sync::{Arc, Mutex};

    use devstats_cli::cluster::{ApiError, Cluster, KubeCluster, ListOptions, LogOptions};
    use devstats_cli::kinds::{Kind, ObjectKey};
    use devstats_fake::FakeCluster;
    use http::{Request, Response};
    use kube::client::Body;
    use serde_json::{Value, json};

    /// One request as the server saw it.
    #[derive(Debug, Clone)]
    pub struct Seen {
        pub method: String,
        pub path: String,
        pub query: String,
        pub content_type: String,
        pub accept: String,
        pub body: Vec<u8>,
    }

    pub type Log = Arc<Mutex<Vec<Seen>>>;

    /// Starts serving; returns the client side and the request log.
    pub fn start(fake: Arc<FakeCluster>) -> (KubeCluster, Log) {
        let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let log: Log = Arc::new(Mutex::new(Vec::new()));
        let seen = log.clone();
        tokio::spawn(async move {
            while let Some((req, send)) = handle.next_request().await {
                let (parts, body) = req.into_parts();
                let bytes = body.collect_bytes().await.map(|b| b.to_vec()).unwrap_or_default();
                let header = |h: http::header::HeaderName| {
                    parts
                        .headers
                        .get(h)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned()
                };
                let s = Seen {
                    method: parts.method.to_string(),
                    path: parts.uri.path().to_owned(),
                    query: parts.uri.query().unwrap_or_default().to_owned(),
                    content_type: header(http::header::CONTENT_TYPE),
                    accept: header(http::header::ACCEPT),
                    body: bytes,
                };
                seen.lock().expect("log").push(s.clone());
                let (code, body) = route(&fake, &s).await;
                let resp = Response::builder()
                    .status(code)
                    .header("content-type", "application/json")
                    .body(Body::from(body.into_bytes()))
                    .expect("response");
                send.send_response(resp);
            }
        });
        let client = kube::Client::new(mock, "default");
        (KubeCluster::new(client), log)
    }

    fn query(s: &Seen, key: &str) -> Option<String> {
        s.query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == key).then(|| percent_decode(v))
        })
    }

    fn percent_decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%'
                && i + 2 < bytes.len()
                && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
            {
                out.push(b);
                i += 3;
                continue;
            }
            // application/x-www-form-urlencoded: `+` is a space (Go's url.ParseQuery, which
            // the API server uses, decodes it so; kube-core writes spaces as `+`).
            out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    fn status(e: &ApiError) -> (u16, String) {
        let code = if e.code == 0 { 504 } else { e.code };
        let causes: Vec<Value> = e
            .causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        (
            code,
            json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": e.message,
                   "reason": e.reason, "details": {"causes": causes}, "code": code})
            .to_string(),
        )
    }

    /// Parses `/api/v1/...` and `/apis/g/v/...` into (kind, namespace, name, subresource).
    /// Kind, namespace, name, subresource.
    type Route = (Kind, Option<String>, Option<String>, Option<String>);

    fn parse_path(path: &str) -> Option<Route> {
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let (group, rest) = match *segs.first()? {
            "api" => ("", &segs[2..]),
            "apis" => (*segs.get(1)?, &segs[3..]),
            _ => return None,
        };
        let (ns, plural, name, sub) = if rest.first() == Some(&"namespaces") && rest.len() >= 3 {
            (
                Some(rest[1].to_owned()),
                rest[2],
                rest.get(3).map(|s| (*s).to_owned()),
                rest.get(4).map(|s| (*s).to_owned()),
            )
        } else {
            (None, *rest.first()?, rest.get(1).map(|s| (*s).to_owned()), None)
        };
        let kind = Kind::known()
            .into_iter()
            .find(|k| k.group == group && k.plural == plural)?;
        Some((kind, ns, name, sub))
    }

    async fn route(fake: &FakeCluster, s: &Seen) -> (u16, String) {
        let Some((kind, ns, name, sub)) = parse_path(&s.path) else {
            return (
                404,
                json!({"kind": "Status", "reason": "NotFound", "message": format!("no route for {} {}", s.method, s.path), "code": 404})
                    .to_string(),
            );
        };
        let ok = |v: Value| (200u16, v.to_string());
        let key = |name: &str| ObjectKey::new(kind, ns.as_deref(), name);
        let body: Value = serde_json::from_slice(&s.body).unwrap_or(Value::Null);
        let result = match (s.method.as_str(), name.as_deref(), sub.as_deref()) {
            ("GET", None, _) => {
                let opts = ListOptions {
                    metadata_only: s.accept.contains("PartialObjectMetadataList"),
                    label_selector: query(s, "labelSelector"),
                };
                fake.list(kind, ns.as_deref(), &opts).await.map(|items| {
                    let list_kind = if opts.metadata_only { "PartialObjectMetadataList" } else { "List" };
                    // Items of a real list carry no apiVersion/kind.
                    let items: Vec<Value> = items
                        .into_iter()
                        .map(|mut i| {
                            if let Some(o) = i.as_object_mut() {
                                o.remove("apiVersion");
                                o.remove("kind");
                            }
                            i
                        })
                        .collect();
                    ok(json!({"kind": list_kind, "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}))
                })
            }
            ("GET", Some(n), Some("log")) => fake
                .logs(ns.as_deref().unwrap_or_default(), n, &LogOptions::default())
                .await
                .map(|t| (200, t)),
            ("GET", Some(n), Some("proxy")) => fake
                .pod_proxy_get(
                    ns.as_deref().unwrap_or_default(),
                    n.split(':').next().unwrap_or(n),
                    8008,
                    "cluster",
                )
                .await
                .map(|t| (200, t)),
            ("GET", Some(n), _) => match fake.get(&key(n)).await {
                Ok(Some(v)) => Ok(ok(v)),
                Ok(None) => Err(ApiError::from_response(
                    404,
                    json!({"reason": "NotFound", "message": format!("{} \"{n}\" not found", kind.plural)})
                        .to_string()
                        .as_bytes(),
                    None,
                )),
                Err(e) => Err(e),
            },
            ("PATCH", Some(n), _) => {
                assert_eq!(s.content_type, "application/apply-patch+yaml");
                assert_eq!(query(s, "fieldManager").as_deref(), Some("devstats-k8s"));
                let force = query(s, "force").as_deref() == Some("true");
                let dry = query(s, "dryRun").as_deref() == Some("All");
                fake.apply(&key(n), &body, force, dry).await.map(ok)
            }
            ("POST", None, _) => {
                let n = body
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                fake.create(&key(&n), &body).await.map(|v| (201, v.to_string()))
            }
            ("DELETE", Some(n), _) => fake
                .delete(&key(n))
                .await
                .map(|()| ok(json!({"kind": "Status", "status": "Success"}))),
            _ => Err(ApiError::from_response(405, b"", None)),
        };
        match result {
            Ok(r) => r,
            Err(e) => status(&e),
        }
    }
}
