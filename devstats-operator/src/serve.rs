//! The operator's HTTP endpoints (hyper, HTTP/1.1): `/metrics` on the metrics address,
//! `/healthz` and `/readyz` on the probe address.
//!
//! - `/healthz` answers 200 while the process runs (the kubelet restarts a pod whose liveness
//!   probe fails; a stuck controller is not detected here, a lost Lease exits the process).
//! - `/readyz` answers 200 once the replica is ready: a standby after its first look at the
//!   Lease, the leader once its `DevStats` caches are synced; 503 before.
//! - `/metrics` is the Prometheus text format ([`crate::metrics`]).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;

use crate::metrics::Metrics;

/// What a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoints {
    /// `/metrics`.
    Metrics,
    /// `/healthz` and `/readyz`.
    Probes,
}

/// The state the endpoints report.
#[derive(Debug, Default)]
pub struct Health {
    /// The replica is ready (see the module docs).
    pub ready: AtomicBool,
    /// The metrics.
    pub metrics: Arc<Metrics>,
}

fn reply(code: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from(body)));
    *res.status_mut() = code;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        res.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    res
}

/// The answer to one request.
#[must_use]
pub fn respond(endpoints: Endpoints, health: &Health, method: &Method, path: &str) -> Response<Full<Bytes>> {
    if method != Method::GET && method != Method::HEAD {
        return reply(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".to_owned(),
        );
    }
    match (endpoints, path) {
        (Endpoints::Metrics, "/metrics") => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            health.metrics.render(),
        ),
        (Endpoints::Probes, "/healthz") => reply(StatusCode::OK, "text/plain", "ok\n".to_owned()),
        (Endpoints::Probes, "/readyz") if health.ready.load(Ordering::Relaxed) => {
            reply(StatusCode::OK, "text/plain", "ok\n".to_owned())
        }
        (Endpoints::Probes, "/readyz") => reply(
            StatusCode::SERVICE_UNAVAILABLE,
            "text/plain",
            "not ready: the Lease or the DevStats caches are not read yet\n".to_owned(),
        ),
        _ => reply(StatusCode::NOT_FOUND, "text/plain", "not found\n".to_owned()),
    }
}

/// Serves `endpoints` on `address` until the process ends.
pub async fn serve(address: SocketAddr, endpoints: Endpoints, health: Arc<Health>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(address).await?;
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                crate::log(&format!("{address}: accept: {e}"));
                continue;
            }
        };
        let health = health.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let res = respond(endpoints, &health, req.method(), req.uri().path());
                async move { Ok::<_, Infallible>(res) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
