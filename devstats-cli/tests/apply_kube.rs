//! The client layer over kube's mock service: request shapes (server-side apply PATCH, field
//! manager, force, dry run, metadata-only paginated lists, DELETE options), the API server's error
//! answers (409 field-manager conflicts with managedFields causes, 422 immutable fields, 429 with
//! Retry-After, 5xx, 404) and a whole apply through HTTP.

mod apply_support;

use std::sync::Arc;

use apply_support::http_fake;
use apply_support::{config, desired, model};
use devstats_cli::apply::{ApplyReport, describe_write_error};
use devstats_cli::cluster::{Cluster, KubeCluster, ListOptions};
use devstats_cli::engine::Engine;
use devstats_cli::kinds::{Kind, ObjectKey};
use devstats_cli::progress::Silent;
use devstats_cli::retry::RetryPolicy;
use devstats_fake::FakeCluster;
use http::{Request, Response};
use kube::client::Body;
use serde_json::{Value, json};

type Handle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

fn scripted() -> (KubeCluster, Handle) {
    let (mock, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (KubeCluster::new(kube::Client::new(mock, "default")), handle)
}

fn respond(code: u16, body: &Value, headers: &[(&str, &str)]) -> Response<Body> {
    let mut b = Response::builder()
        .status(code)
        .header("content-type", "application/json");
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::from(body.to_string().into_bytes()))
        .expect("response")
}

fn deployment_key() -> ObjectKey {
    ObjectKey::new(Kind::DEPLOYMENT, Some("ns"), "devstats-grafana-x")
}

#[tokio::test]
async fn server_side_apply_request_shape() {
    let (cluster, mut handle) = scripted();
    let server = tokio::spawn(async move {
        let (req, send) = handle.next_request().await.expect("request");
        assert_eq!(req.method(), "PATCH");
        assert_eq!(
            req.uri().path(),
            "/apis/apps/v1/namespaces/ns/deployments/devstats-grafana-x"
        );
        // kube-core's query serializer starts with a `&` after the `?` (as every request of
        // kube's own `Api` does); the API server skips the empty pair.
        assert_eq!(req.uri().query(), Some("&fieldManager=devstats-k8s"));
        assert_eq!(req.headers()["content-type"], "application/apply-patch+yaml");
        let body = req.into_body().collect_bytes().await.expect("body");
        let v: Value = serde_json::from_slice(&body).expect("json body");
        send.send_response(respond(200, &v, &[]));
        let (req, send) = handle.next_request().await.expect("request");
        assert_eq!(
            req.uri().query(),
            Some("&dryRun=All&force=true&fieldManager=devstats-k8s")
        );
        send.send_response(respond(200, &json!({}), &[]));
    });
    let body =
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "devstats-grafana-x"}});
    let out = cluster
        .apply(&deployment_key(), &body, false, false)
        .await
        .expect("applies");
    assert_eq!(out, body);
    cluster
        .apply(&deployment_key(), &body, true, true)
        .await
        .expect("dry run");
    server.await.expect("server");
}

#[tokio::test]
async fn conflict_names_the_other_manager_and_fields() {
    let (cluster, mut handle) = scripted();
    tokio::spawn(async move {
        let (_, send) = handle.next_request().await.expect("request");
        send.send_response(respond(
            409,
            &json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                "message": "Apply failed with 2 conflicts: conflicts with \"kubectl-edit\" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"grafana\"].image",
                "reason": "Conflict",
                "details": {"name": "devstats-grafana-x", "group": "apps", "kind": "deployments", "causes": [
                    {"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-edit\" using apps/v1", "field": ".spec.replicas"},
                    {"reason": "FieldManagerConflict", "message": "conflict with \"kubectl-edit\" using apps/v1", "field": ".spec.template.spec.containers[name=\"grafana\"].image"}]},
                "code": 409}),
            &[],
        ));
    });
    let progress = Silent;
    let eng = Engine::new(&cluster, 4, RetryPolicy::immediate(5), &progress);
    let e = eng
        .apply(&deployment_key(), &json!({}), false, false)
        .await
        .expect_err("conflict");
    assert!(e.is_field_conflict() && !e.is_transient());
    assert_eq!(
        eng.counters().retries,
        0,
        "a field conflict is an answer, not retried"
    );
    let text = describe_write_error(&deployment_key(), &e);
    assert!(
        text.contains(
            ".spec.replicas, .spec.template.spec.containers[name=\"grafana\"].image owned by \"kubectl-edit\""
        ),
        "{text}"
    );
    assert!(text.contains("--force-conflicts"), "{text}");
}

#[tokio::test]
async fn immutable_field_422_is_explained() {
    let (cluster, mut handle) = scripted();
    tokio::spawn(async move {
        let (_, send) = handle.next_request().await.expect("request");
        send.send_response(respond(
            422,
            &json!({"kind": "Status", "status": "Failure", "reason": "Invalid", "code": 422,
                "message": "Job.batch \"devstats-provision-x\" is invalid: spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable",
                "details": {"causes": [{"reason": "FieldValueInvalid", "message": "Invalid value: ...: field is immutable", "field": "spec.template"}]}}),
            &[],
        ));
    });
    let key = ObjectKey::new(Kind::JOB, Some("ns"), "devstats-provision-x");
    let e = cluster
        .apply(&key, &json!({}), false, false)
        .await
        .expect_err("422");
    assert!(e.is_immutable());
    let text = describe_write_error(&key, &e);
    assert!(
        text.contains("immutable field") && text.contains("keep the live value"),
        "{text}"
    );
    assert!(!text.starts_with("422"), "not a raw 422: {text}");
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_with_retry_after() {
    let (cluster, mut handle) = scripted();
    tokio::spawn(async move {
        let (_, send) = handle.next_request().await.expect("1");
        send.send_response(respond(429, &json!({"kind": "Status", "reason": "TooManyRequests", "message": "too many requests", "code": 429}), &[("retry-after", "0")]));
        let (_, send) = handle.next_request().await.expect("2");
        send.send_response(respond(503, &json!({"kind": "Status", "reason": "ServiceUnavailable", "message": "etcd leader changed", "code": 503}), &[]));
        let (_, send) = handle.next_request().await.expect("3");
        send.send_response(respond(200, &json!({"metadata": {"name": "x"}}), &[]));
    });
    let progress = devstats_cli::progress::Recorder::default();
    let eng = Engine::new(&cluster, 4, RetryPolicy::immediate(5), &progress);
    let got = eng.get(&deployment_key()).await.expect("succeeds");
    assert!(got.is_some());
    assert_eq!(eng.counters().retries, 2);
    assert_eq!(eng.counters().reads, 3);
    let retries = progress
        .events()
        .into_iter()
        .filter(|e| matches!(e, devstats_cli::progress::Event::Retry { .. }))
        .count();
    assert_eq!(retries, 2);
}

#[tokio::test]
async fn not_found_is_none_and_delete_of_missing_is_ok() {
    let (cluster, mut handle) = scripted();
    tokio::spawn(async move {
        for _ in 0..2 {
            let (req, send) = handle.next_request().await.expect("request");
            if req.method() == "DELETE" {
                let body = req.into_body().collect_bytes().await.expect("body");
                let v: Value = serde_json::from_slice(&body).expect("json");
                assert_eq!(v["propagationPolicy"], "Background");
            }
            send.send_response(respond(404, &json!({"kind": "Status", "reason": "NotFound", "message": "deployments.apps \"devstats-grafana-x\" not found", "code": 404}), &[]));
        }
    });
    assert_eq!(cluster.get(&deployment_key()).await.expect("ok"), None);
    let progress = Silent;
    let eng = Engine::new(&cluster, 4, RetryPolicy::immediate(5), &progress);
    assert_eq!(eng.delete(&deployment_key()).await, Ok(false));
}

#[tokio::test]
async fn lists_are_paginated_and_metadata_only() {
    let (cluster, mut handle) = scripted();
    tokio::spawn(async move {
        let (req, send) = handle.next_request().await.expect("page 1");
        assert_eq!(req.uri().path(), "/api/v1/namespaces/ns/secrets");
        assert_eq!(req.uri().query(), Some("&limit=500"));
        assert!(
            req.headers()["accept"]
                .to_str()
                .expect("accept")
                .starts_with("application/json;as=PartialObjectMetadataList")
        );
        send.send_response(respond(200, &json!({"kind": "PartialObjectMetadataList", "metadata": {"continue": "abc=="}, "items": [{"metadata": {"name": "a", "namespace": "ns"}}]}), &[]));
        let (req, send) = handle.next_request().await.expect("page 2");
        assert_eq!(req.uri().query(), Some("&limit=500&continue=abc%3D%3D"));
        send.send_response(respond(200, &json!({"kind": "PartialObjectMetadataList", "metadata": {}, "items": [{"metadata": {"name": "b", "namespace": "ns"}}]}), &[]));
    });
    let items = cluster
        .list(
            Kind::SECRET,
            Some("ns"),
            &ListOptions {
                metadata_only: true,
                label_selector: None,
            },
        )
        .await
        .expect("lists");
    let keys: Vec<String> = items
        .iter()
        .map(|i| ObjectKey::of_value(i).expect("key").to_string())
        .collect();
    assert_eq!(keys, ["Secret ns/a", "Secret ns/b"]);
}

async fn run_apply(cluster: &KubeCluster, set: &devstats_cli::plan::DesiredSet) -> ApplyReport {
    let progress = Silent;
    let eng = Engine::new(cluster, 16, RetryPolicy::immediate(5), &progress);
    devstats_cli::apply::apply(&eng, set, &config())
        .await
        .expect("applies")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_apply_over_http_then_zero_writes() {
    let fake = Arc::new(FakeCluster::new());
    let (cluster, log) = http_fake::start(fake.clone());
    let set = desired(&model("example.yaml"));
    let first = run_apply(&cluster, &set).await;
    assert!(first.ok(), "{:?}", first.failed);
    let seen = log.lock().expect("log").clone();
    // No discovery requests; the namespace is created first, then the inventory.
    assert!(
        seen.iter()
            .all(|s| !s.path.ends_with("/api") && !s.path.ends_with("/apis"))
    );
    let writes: Vec<&http_fake::Seen> = seen.iter().filter(|s| s.method != "GET").collect();
    assert_eq!(writes[0].path, "/api/v1/namespaces/devstats-example");
    assert_eq!(
        writes[1].path,
        "/api/v1/namespaces/devstats-example/configmaps/devstats-k8s-inventory"
    );
    assert!(writes[1].query.contains("force=true"));
    let posts: Vec<&str> = writes
        .iter()
        .filter(|s| s.method == "POST")
        .map(|s| s.path.as_str())
        .collect();
    assert!(
        posts
            .iter()
            .all(|p| p.ends_with("/jobs") || p.ends_with("/endpoints")),
        "{posts:?}"
    );
    assert_eq!(writes.len(), set.objects.len() + 1);
    log.lock().expect("log").clear();
    let again = run_apply(&cluster, &set).await;
    assert_eq!(again.requests.writes, 0);
    let seen = log.lock().expect("log").clone();
    assert!(seen.iter().all(|s| s.method == "GET"));
    let secrets = seen.iter().find(|s| s.path.ends_with("/secrets"));
    assert!(
        secrets.is_none_or(|s| s.accept.contains("PartialObjectMetadataList")),
        "Secret values are never read"
    );
    let pods = seen
        .iter()
        .find(|s| s.path.ends_with("/pods"))
        .expect("pods listed");
    assert!(
        pods.query
            .contains("labelSelector=type+in+%28boot%2Cpostgres%2Cprovision%29"),
        "{}",
        pods.query
    );
}
