//! The fake's watches over HTTP, read by a real kube client and kube-runtime's `watcher`:
//! `ADDED` for existing objects, `MODIFIED` on apply and status writes, `DELETED`, label and
//! field selectors (an object leaving a label selector is `DELETED`), bookmarks, `410 Expired`
//! for a too-old resourceVersion (and the watcher recovering by listing again), and
//! `timeoutSeconds` ending a stream.

use std::sync::Arc;
use std::time::Duration;

use devstats_cli::cluster::{ApiError, Cluster};
use devstats_cli::kinds::{Kind, ObjectKey};
use devstats_fake::http::serve_loopback;
use devstats_fake::{FakeCluster, Verb};
use futures::{Stream, StreamExt as _};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::runtime::watcher;
use serde_json::{Value, json};

const NS: &str = "w";

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

fn start() -> (Arc<FakeCluster>, std::net::SocketAddr) {
    let fake = Arc::new(FakeCluster::new());
    fake.insert(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}));
    let addr = serve_loopback(Arc::clone(&fake), Vec::new()).expect("loopback server");
    (fake, addr)
}

/// A kube client of the server at `addr` (inside a runtime).
fn connect(addr: std::net::SocketAddr) -> kube::Client {
    let url: http::Uri = format!("http://{addr}").parse().expect("url");
    kube::Client::try_from(kube::Config::new(url)).expect("client")
}

fn cm(name: &str, app: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
           "metadata": {"name": name, "namespace": NS, "labels": {"app": app}}, "data": {"k": "v"}})
}

fn key(name: &str) -> ObjectKey {
    ObjectKey::new(Kind::CONFIG_MAP, Some(NS), name)
}

/// The next event, within 5 seconds.
async fn next<K>(s: &mut (impl Stream<Item = kube::Result<WatchEvent<K>>> + Unpin)) -> WatchEvent<K> {
    tokio::time::timeout(Duration::from_secs(5), s.next())
        .await
        .expect("an event within 5s")
        .expect("the stream goes on")
        .expect("a decodable event")
}

fn described<K: kube::Resource>(e: &WatchEvent<K>) -> String {
    let name = |o: &K| o.meta().name.clone().unwrap_or_default();
    match e {
        WatchEvent::Added(o) => format!("ADDED {}", name(o)),
        WatchEvent::Modified(o) => format!("MODIFIED {}", name(o)),
        WatchEvent::Deleted(o) => format!("DELETED {}", name(o)),
        WatchEvent::Bookmark(b) => format!("BOOKMARK {}", b.metadata.resource_version),
        WatchEvent::Error(s) => format!("ERROR {} {}", s.code, s.reason),
    }
}

#[test]
fn added_modified_deleted_from_a_list_and_from_zero() {
    let (fake, addr) = start();
    fake.insert(cm("a", "x"));
    fake.insert(cm("b", "y"));
    block_on(async {
        let client = connect(addr);
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
        // From "0": the objects that exist, as ADDED.
        let mut all = api
            .watch(&WatchParams::default(), "0")
            .await
            .expect("watch")
            .boxed();
        let mut first = vec![described(&next(&mut all).await), described(&next(&mut all).await)];
        first.sort();
        assert_eq!(first, ["ADDED a", "ADDED b"]);
        // From a list's resourceVersion: only what changes after it.
        let list = api.list(&ListParams::default()).await.expect("list");
        let rv = list
            .metadata
            .resource_version
            .clone()
            .expect("a list has a resourceVersion");
        assert_eq!(rv, fake.resource_version().to_string());
        let mut after = api
            .watch(&WatchParams::default(), &rv)
            .await
            .expect("watch")
            .boxed();
        let mut changed = cm("a", "x");
        changed["data"]["k"] = json!("w");
        fake.apply(&key("a"), &changed, false, false)
            .await
            .expect("applies");
        let e = next(&mut after).await;
        let WatchEvent::Modified(o) = &e else {
            panic!("{}", described(&e))
        };
        assert_eq!(
            o.data.as_ref().and_then(|d| d.get("k")).map(String::as_str),
            Some("w")
        );
        let rv_a = o.metadata.resource_version.clone().expect("rv");
        assert!(rv_a.parse::<u64>().expect("numeric") > rv.parse::<u64>().expect("numeric"));
        fake.delete(&key("a")).await.expect("deletes");
        let e = next(&mut after).await;
        assert_eq!(described(&e), "DELETED a");
        let WatchEvent::Deleted(o) = &e else {
            unreachable!()
        };
        assert_eq!(
            o.metadata.resource_version,
            Some(fake.resource_version().to_string())
        );
        // The first watch saw the same, in order.
        assert_eq!(described(&next(&mut all).await), "MODIFIED a");
        assert_eq!(described(&next(&mut all).await), "DELETED a");
    });
    assert!(fake.requests().iter().any(|r| r.verb == Verb::Watch));
}

#[test]
fn status_writes_and_finalized_deletion_are_events() {
    let (fake, addr) = start();
    let dkey = ObjectKey::new(Kind::DEPLOYMENT, Some(NS), "d");
    fake.set_controllers(false);
    block_on(async {
        let client = connect(addr);
        let body = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "d", "namespace": NS, "finalizers": ["example.com/keep"]},
            "spec": {"selector": {"matchLabels": {"app": "d"}},
                     "template": {"metadata": {"labels": {"app": "d"}},
                                  "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
        fake.apply(&dkey, &body, false, false).await.expect("applies");
        let api: Api<Deployment> = Api::namespaced(client.clone(), NS);
        let rv = fake.resource_version().to_string();
        let mut s = api
            .watch(&WatchParams::default(), &rv)
            .await
            .expect("watch")
            .boxed();
        fake.replace_status(&dkey, &json!({"observedGeneration": 1, "readyReplicas": 1}))
            .await
            .expect("status");
        let e = next(&mut s).await;
        let WatchEvent::Modified(o) = &e else {
            panic!("{}", described(&e))
        };
        assert_eq!(o.status.as_ref().and_then(|st| st.ready_replicas), Some(1));
        // A delete with a finalizer only marks it; clearing the finalizer deletes it.
        fake.delete(&dkey).await.expect("deletes");
        let e = next(&mut s).await;
        let WatchEvent::Modified(o) = &e else {
            panic!("{}", described(&e))
        };
        assert!(o.metadata.deletion_timestamp.is_some());
        fake.update_with(&dkey, |v| v["metadata"]["finalizers"] = json!([]))
            .expect("updates");
        assert_eq!(described(&next(&mut s).await), "DELETED d");
        assert!(fake.object(&dkey).is_none());
    });
}

#[test]
fn label_and_field_selectors_filter_events() {
    let (fake, addr) = start();
    fake.insert(cm("a", "x"));
    fake.insert(cm("b", "y"));
    block_on(async {
        let client = connect(addr);
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
        let rv = fake.resource_version().to_string();
        let mut x = api
            .watch(&WatchParams::default().labels("app=x"), &rv)
            .await
            .expect("watch")
            .boxed();
        let mut b = api
            .watch(&WatchParams::default().fields("metadata.name=b"), &rv)
            .await
            .expect("watch")
            .boxed();
        // b moves into app=x: ADDED for the label watch; then out again: DELETED.
        fake.edit(&key("b"), |v| v["metadata"]["labels"]["app"] = json!("x"));
        fake.edit(&key("a"), |v| v["data"]["k"] = json!("2"));
        fake.edit(&key("b"), |v| v["metadata"]["labels"]["app"] = json!("z"));
        assert_eq!(described(&next(&mut x).await), "ADDED b");
        assert_eq!(described(&next(&mut x).await), "MODIFIED a");
        assert_eq!(described(&next(&mut x).await), "DELETED b");
        // The field watch sees b's two changes and nothing of a.
        assert_eq!(described(&next(&mut b).await), "MODIFIED b");
        assert_eq!(described(&next(&mut b).await), "MODIFIED b");
        assert!(
            tokio::time::timeout(Duration::from_millis(300), b.next())
                .await
                .is_err(),
            "no event about a"
        );
        // A field the server does not support is a 400, as on a real server.
        let err = api
            .list(&ListParams::default().fields("data.k=v"))
            .await
            .expect_err("unsupported field");
        assert!(matches!(&err, kube::Error::Api(s) if s.code == 400), "{err}");
    });
}

#[test]
fn bookmarks_carry_only_the_resource_version() {
    let (fake, addr) = start();
    fake.set_bookmark_interval(Duration::from_millis(100));
    fake.insert(cm("a", "x"));
    block_on(async {
        let client = connect(addr);
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
        let rv = fake.resource_version().to_string();
        // Changes elsewhere move the version the bookmark reports.
        fake.insert(json!({"apiVersion": "v1", "kind": "ConfigMap",
                           "metadata": {"name": "o", "namespace": "other"}}));
        let mut s = api
            .watch(&WatchParams::default(), &rv)
            .await
            .expect("watch")
            .boxed();
        let e = next(&mut s).await;
        let WatchEvent::Bookmark(b) = &e else {
            panic!("{}", described(&e))
        };
        assert_eq!(b.metadata.resource_version, fake.resource_version().to_string());
        assert_eq!(b.types.kind, "ConfigMap");
        let mut without = api
            .watch(&WatchParams::default().disable_bookmarks(), &rv)
            .await
            .expect("watch")
            .boxed();
        assert!(
            tokio::time::timeout(Duration::from_millis(400), without.next())
                .await
                .is_err()
        );
    });
}

#[test]
fn a_too_old_resource_version_is_410_expired_and_ends_the_stream() {
    let (fake, addr) = start();
    fake.insert(cm("a", "x"));
    let old = fake.resource_version().to_string();
    for i in 0..=devstats_fake::watch::HISTORY {
        fake.edit(&key("a"), |v| v["data"]["k"] = json!(i.to_string()));
    }
    block_on(async {
        let client = connect(addr);
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
        let mut s = api
            .watch(&WatchParams::default(), &old)
            .await
            .expect("watch")
            .boxed();
        let e = next(&mut s).await;
        let WatchEvent::Error(st) = &e else {
            panic!("{}", described(&e))
        };
        assert_eq!((st.code, st.reason.as_str()), (410, "Expired"));
        assert!(
            st.message
                .starts_with(&format!("too old resource version: {old} (")),
            "{}",
            st.message
        );
        let end = tokio::time::timeout(Duration::from_secs(2), s.next()).await;
        assert!(end.expect("ends").is_none());
        // A recent version is still served.
        let recent = (fake.resource_version() - 10).to_string();
        let mut r = api
            .watch(&WatchParams::default(), &recent)
            .await
            .expect("watch")
            .boxed();
        assert_eq!(described(&next(&mut r).await), "MODIFIED a");
    });
}

#[test]
fn timeout_seconds_ends_the_stream() {
    let (fake, addr) = start();
    block_on(async {
        let client = connect(addr);
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
        let rv = fake.resource_version().to_string();
        let started = std::time::Instant::now();
        let mut s = api
            .watch(&WatchParams::default().timeout(1).disable_bookmarks(), &rv)
            .await
            .expect("watch")
            .boxed();
        let end = tokio::time::timeout(Duration::from_secs(5), s.next())
            .await
            .expect("ends in time");
        assert!(end.is_none());
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "{:?}",
            started.elapsed()
        );
    });
}

#[test]
fn the_watcher_lists_watches_and_relists_after_410() {
    let (fake, addr) = start();
    fake.insert(cm("a", "x"));
    block_on(async {
        let client = connect(addr);
        let api: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
        // Short watches, so the watcher starts new ones from its last resourceVersion.
        let mut w = watcher(api, watcher::Config::default().timeout(1).disable_bookmarks()).boxed();
        let name = |o: &ConfigMap| o.metadata.name.clone().unwrap_or_default();
        macro_rules! step {
            () => {
                tokio::time::timeout(Duration::from_secs(10), w.next())
                    .await
                    .expect("an event within 10s")
                    .expect("the watcher goes on")
            };
        }
        assert!(matches!(step!(), Ok(watcher::Event::Init)));
        assert!(matches!(step!(), Ok(watcher::Event::InitApply(o)) if name(&o) == "a"));
        assert!(matches!(step!(), Ok(watcher::Event::InitDone)));
        fake.insert(cm("b", "x"));
        assert!(matches!(step!(), Ok(watcher::Event::Apply(o)) if name(&o) == "b"));
        // The next watch fails (a 500: the kube client itself retries 503s); while the watcher
        // is down, the history moves past its version.
        fake.fail_next(Verb::Watch, ApiError::from_response(500, b"", None), 1);
        let e = step!();
        assert!(e.is_err(), "{e:?}");
        for i in 0..=devstats_fake::watch::HISTORY {
            fake.insert(json!({"apiVersion": "v1", "kind": "ConfigMap",
                               "metadata": {"name": format!("o{}", i % 3), "namespace": "other"}}));
        }
        fake.insert(cm("c", "x"));
        // 410 Expired, then a new list with everything there is now.
        let e = step!();
        assert!(
            matches!(&e, Err(watcher::Error::WatchError(s)) if s.code == 410 && s.reason == "Expired"),
            "{e:?}"
        );
        assert!(matches!(step!(), Ok(watcher::Event::Init)));
        let mut listed = Vec::new();
        loop {
            match step!() {
                Ok(watcher::Event::InitApply(o)) => listed.push(name(&o)),
                Ok(watcher::Event::InitDone) => break,
                other => panic!("{other:?}"),
            }
        }
        listed.sort();
        assert_eq!(listed, ["a", "b", "c"]);
    });
}
