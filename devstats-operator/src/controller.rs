//! The kube-runtime wiring: one `Controller` over `DevStats` objects per served namespace (or
//! one over all namespaces), each reconcile an [`Operator::reconcile_object`] step, the error
//! policy [`Operator::error_policy`], events through kube-runtime's `Recorder`.
//!
//! `DevStats` is read as a `DynamicObject` of [`api_resource`] (devstats-render has no kube
//! dependency, so its type does not implement `kube::Resource`); the step parses it with the
//! model's own reader ([`devstats_cli::reconcile::resource_of`]), which reports a spec the
//! model rejects as a status instead of failing to deserialize.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use devstats_cli::cluster::KubeCluster;
use devstats_render::resource;
use futures::StreamExt as _;
use k8s_openapi::api::core::v1::ObjectReference;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::{Controller, controller, watcher};
use serde_json::Value;

use crate::serve::Health;
use crate::step::{Events, Note, Operator, Severity, StepError};

/// The `DevStats` resource for kube's dynamic API.
#[must_use]
pub fn api_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk(resource::GROUP, resource::VERSION, resource::KIND),
        resource::PLURAL,
    )
}

/// Events through kube-runtime's `Recorder` (events.k8s.io/v1, reporting controller
/// `devstats-operator`, reporting instance the pod name; repeats within 6 minutes become a
/// series of one Event).
pub struct KubeEvents {
    recorder: Recorder,
}

impl std::fmt::Debug for KubeEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KubeEvents").finish_non_exhaustive()
    }
}

impl KubeEvents {
    /// A recorder reporting as `devstats-operator`, instance `instance` (the pod name).
    #[must_use]
    pub fn new(client: kube::Client, instance: &str) -> Self {
        let reporter = Reporter {
            controller: resource::OPERATOR_NAME.to_owned(),
            instance: Some(instance.to_owned()),
        };
        Self {
            recorder: Recorder::new(client, reporter),
        }
    }
}

impl Events for KubeEvents {
    async fn publish(&self, regarding: &ObjectReference, note: Note) {
        let event = Event {
            type_: match note.severity {
                Severity::Normal => EventType::Normal,
                Severity::Warning => EventType::Warning,
            },
            reason: note.reason.clone(),
            note: Some(note.note.clone()),
            action: note.action.clone(),
            secondary: None,
        };
        if let Err(e) = self.recorder.publish(&event, regarding).await {
            crate::log(&format!(
                "event {} on {}/{}: {e}",
                note.reason,
                regarding.namespace.as_deref().unwrap_or_default(),
                regarding.name.as_deref().unwrap_or_default()
            ));
        }
    }
}

/// The operator as run in the cluster.
pub type KubeOperator = Operator<KubeCluster, KubeEvents>;

/// Runs the controllers over `namespaces` (all namespaces when empty) until `shutdown` turns
/// true (graceful: reconciles in flight finish). Marks `health` ready once every watch has
/// listed its objects.
pub async fn run(
    client: kube::Client,
    operator: Arc<KubeOperator>,
    namespaces: &[String],
    concurrency: u16,
    shutdown: tokio::sync::watch::Receiver<bool>,
    health: Arc<Health>,
) {
    let ar = api_resource();
    let apis: Vec<Api<DynamicObject>> = if namespaces.is_empty() {
        vec![Api::all_with(client, &ar)]
    } else {
        namespaces
            .iter()
            .map(|ns| Api::namespaced_with(client.clone(), ns, &ar))
            .collect()
    };
    let mut streams = Vec::new();
    let mut stores = Vec::new();
    for api in apis {
        let c = Controller::new_with(api, watcher::Config::default(), ar.clone())
            .with_config(controller::Config::default().concurrency(concurrency));
        stores.push(c.store());
        let mut rx = shutdown.clone();
        let c = c.graceful_shutdown_on(async move {
            let _ = rx.wait_for(|stop| *stop).await;
        });
        let stream = c.run(
            |obj: Arc<DynamicObject>, op: Arc<KubeOperator>| async move {
                // The engine's futures are not `Send` (devstats-k8s runs them in one task), and
                // kube-runtime spawns reconciles on the runtime: each runs on a blocking thread
                // that drives it with the runtime's handle (its I/O and timers stay the runtime's).
                let handle = tokio::runtime::Handle::current();
                tokio::task::spawn_blocking(move || {
                    let v = serde_json::to_value(&*obj).unwrap_or(Value::Null);
                    handle.block_on(op.reconcile_object(&v))
                })
                .await
                .unwrap_or_else(|e| Err(StepError::Aborted(e.to_string())))
            },
            |obj: Arc<DynamicObject>, err, op: Arc<KubeOperator>| {
                let v = serde_json::to_value(&*obj).unwrap_or(Value::Null);
                op.error_policy(&v, err)
            },
            operator.clone(),
        );
        streams.push(stream.boxed());
    }
    let ready = health.clone();
    tokio::spawn(async move {
        for s in stores {
            if s.wait_until_ready().await.is_err() {
                return;
            }
        }
        ready.ready.store(true, Ordering::Relaxed);
    });
    futures::stream::select_all(streams)
        .for_each(|r| async move {
            match r {
                Ok((obj, _)) => crate::log(&format!(
                    "reconciled DevStats {}/{}",
                    obj.namespace.as_deref().unwrap_or_default(),
                    obj.name
                )),
                Err(controller::Error::ReconcilerFailed(e, obj)) => crate::log(&format!(
                    "DevStats {}/{}: {e}",
                    obj.namespace.as_deref().unwrap_or_default(),
                    obj.name
                )),
                Err(e) => crate::log(&format!("controller: {e}")),
            }
        })
        .await;
}
