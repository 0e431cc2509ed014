//! The request runtime shared by every command: a cluster, a concurrency limit, retries, request
//! counters and progress events.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;
use tokio::sync::Semaphore;

use crate::cluster::{ApiError, Cluster, ListOptions, LogOptions};
use crate::kinds::{Kind, ObjectKey};
use crate::progress::{Event, Progress};
use crate::retry::{RetryPolicy, with_retry};

/// A cluster with limits, retries, counters and progress.
pub struct Engine<'a, C> {
    /// The cluster.
    pub cluster: &'a C,
    /// Progress events.
    pub progress: &'a dyn Progress,
    retry: RetryPolicy,
    limit: Semaphore,
    reads: AtomicUsize,
    writes: AtomicUsize,
    retries: AtomicUsize,
}

/// Request counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counters {
    /// Read requests (lists, gets, logs), including retried attempts.
    pub reads: usize,
    /// Write requests (apply, create, delete; not dry runs), including retried attempts.
    pub writes: usize,
    /// Retried attempts.
    pub retries: usize,
}

impl<'a, C: Cluster> Engine<'a, C> {
    /// An engine making at most `concurrency` requests at a time.
    pub fn new(cluster: &'a C, concurrency: usize, retry: RetryPolicy, progress: &'a dyn Progress) -> Self {
        Self {
            cluster,
            progress,
            retry,
            limit: Semaphore::new(concurrency.max(1)),
            reads: AtomicUsize::new(0),
            writes: AtomicUsize::new(0),
            retries: AtomicUsize::new(0),
        }
    }

    /// Request counts so far.
    #[must_use]
    pub fn counters(&self) -> Counters {
        Counters {
            reads: self.reads.load(Ordering::Relaxed),
            writes: self.writes.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
        }
    }

    async fn call<T, F, Fut>(&self, what: &str, write: bool, mut op: F) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let counter = if write { &self.writes } else { &self.reads };
        with_retry(
            &self.retry,
            |attempt, e| {
                self.retries.fetch_add(1, Ordering::Relaxed);
                self.progress.event(&Event::Retry {
                    object: what.to_owned(),
                    attempt,
                    error: e.to_string(),
                });
            },
            || {
                let fut = op();
                async {
                    let _permit = self.limit.acquire().await.ok();
                    counter.fetch_add(1, Ordering::Relaxed);
                    fut.await
                }
            },
        )
        .await
    }

    /// LIST (all pages).
    pub async fn list(
        &self,
        kind: Kind,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Vec<Value>, ApiError> {
        self.call(kind.plural, false, || self.cluster.list(kind, namespace, opts))
            .await
    }

    /// GET; `None` when missing.
    pub async fn get(&self, key: &ObjectKey) -> Result<Option<Value>, ApiError> {
        self.call(&key.to_string(), false, || self.cluster.get(key)).await
    }

    /// Server-side apply.
    pub async fn apply(
        &self,
        key: &ObjectKey,
        body: &Value,
        force: bool,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        self.call(&key.to_string(), !dry_run, || {
            self.cluster.apply(key, body, force, dry_run)
        })
        .await
    }

    /// Replaces an object's `metadata.managedFields` (guarded by its `resourceVersion`).
    pub async fn patch_managed_fields(
        &self,
        key: &ObjectKey,
        resource_version: &str,
        managed_fields: &Value,
    ) -> Result<Value, ApiError> {
        self.call(&key.to_string(), true, || {
            self.cluster
                .patch_managed_fields(key, resource_version, managed_fields)
        })
        .await
    }

    /// Create; an existing object is `Ok(false)`.
    pub async fn create(&self, key: &ObjectKey, body: &Value) -> Result<bool, ApiError> {
        match self
            .call(&key.to_string(), true, || self.cluster.create(key, body))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_already_exists() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Delete; a missing object is `Ok(false)`.
    pub async fn delete(&self, key: &ObjectKey) -> Result<bool, ApiError> {
        match self
            .call(&key.to_string(), true, || self.cluster.delete(key))
            .await
        {
            Ok(()) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A pod's log.
    pub async fn logs(&self, namespace: &str, pod: &str, opts: &LogOptions) -> Result<String, ApiError> {
        self.call(pod, false, || self.cluster.logs(namespace, pod, opts))
            .await
    }

    /// GET through the pod proxy (one attempt: used for optional information).
    pub async fn pod_proxy_get(
        &self,
        namespace: &str,
        pod: &str,
        port: u16,
        path: &str,
    ) -> Result<String, ApiError> {
        let _permit = self.limit.acquire().await.ok();
        self.reads.fetch_add(1, Ordering::Relaxed);
        self.cluster.pod_proxy_get(namespace, pod, port, path).await
    }
}
