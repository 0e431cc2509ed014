//! Watches of the fake API server, modelled on what kube-apiserver does (sources below):
//!
//! - **One increasing `resourceVersion` for every object.** Every change of any object (create,
//!   update, status write, deletion) gets the next version; a list answers the collection's
//!   `metadata.resourceVersion`, the version of the latest change, "the resource version of the
//!   list at the moment it was served" ("Efficient detection of changes",
//!   <https://kubernetes.io/docs/reference/using-api/api-concepts/#efficient-detection-of-changes>).
//! - **A bounded history.** A real server keeps changes for a limited time (etcd compaction, the
//!   watch cache's window; "Clusters using etcd 3 preserve changes in the last 5 minutes by
//!   default"); here, the last [`HISTORY`] changes. A watch from an older `resourceVersion` is
//!   answered 200 and then one `ERROR` event with a `Status` of code 410, reason `Expired`
//!   (`too old resource version: X (Y)`), and ends; the client must list again ("410 Gone
//!   responses", same page; kube-runtime's `watcher` re-lists on it).
//! - **Events.** `ADDED`, `MODIFIED`, `DELETED`, filtered by namespace (the URL), `labelSelector`
//!   and `fieldSelector` (`metadata.name=`, `metadata.namespace=`, `!=` too). An object that stops
//!   matching a label selector arrives as `DELETED`, one that starts matching as `ADDED` (the watch
//!   cache's filtering, `k8s.io/apiserver/pkg/storage/cacher`'s `cacheWatcher.convertToWatchEvent`).
//!   A `DELETED` event carries the object at the version of its deletion. Deleting an object with
//!   finalizers is a `MODIFIED` (`deletionTimestamp` set), then `DELETED` when an update clears them.
//! - **Where a watch starts.** From `resourceVersion` N: every change after N ("Start at Exact").
//!   Without one (or `0`): synthetic `ADDED` events for the objects that exist, then changes from now
//!   ("Get State and Start at Most Recent"/"at Any", "Semantics for watch",
//!   <https://kubernetes.io/docs/reference/using-api/api-concepts/#semantics-for-watch>).
//! - **Bookmarks.** With `allowWatchBookmarks=true` the server may send `BOOKMARK` events whose
//!   object has only `kind`, `apiVersion` and `metadata.resourceVersion` (the version the watch has
//!   seen up to), "at the server's discretion" — a real server sends about one a minute; here every
//!   [`crate::FakeCluster::set_bookmark_interval`] ("Watch bookmarks",
//!   <https://kubernetes.io/docs/reference/using-api/api-concepts/#watch-bookmarks>, KEP-956).
//! - **`timeoutSeconds`** ends the stream (cleanly) after that long.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Notify;

use devstats_cli::cluster::ApiError;
use devstats_cli::kinds::{Kind, ObjectKey};

/// How many changes the fake remembers for watches.
pub const HISTORY: usize = 2000;

/// The type of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// Created (or started matching the watch's selectors).
    Added,
    /// Changed.
    Modified,
    /// Deleted (or stopped matching the watch's selectors).
    Deleted,
    /// Progress: the watch has seen every change up to the object's `metadata.resourceVersion`.
    Bookmark,
    /// An error (a `Status` object), after which the watch ends.
    Error,
}

impl EventType {
    /// The wire name (`ADDED`, …).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Added => "ADDED",
            Self::Modified => "MODIFIED",
            Self::Deleted => "DELETED",
            Self::Bookmark => "BOOKMARK",
            Self::Error => "ERROR",
        }
    }
}

/// One watch event.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchEvent {
    /// Its type.
    pub kind: EventType,
    /// The object (a `Status` for errors).
    pub object: Value,
}

impl WatchEvent {
    /// The line the HTTP server sends: `{"type":…,"object":…}`.
    #[must_use]
    pub fn to_json(&self) -> Value {
        json!({"type": self.kind.as_str(), "object": self.object})
    }
}

/// Watch parameters (the query parameters of `GET …?watch=true`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchOptions {
    /// `resourceVersion`: start after it; `None`, empty or `0`: send the current objects first.
    pub resource_version: Option<String>,
    /// `labelSelector`.
    pub label_selector: Option<String>,
    /// `fieldSelector`: `metadata.name` and `metadata.namespace` terms.
    pub field_selector: Option<String>,
    /// `allowWatchBookmarks`.
    pub bookmarks: bool,
    /// `timeoutSeconds`.
    pub timeout: Option<Duration>,
}

/// One recorded change.
#[derive(Debug, Clone)]
struct Change {
    rv: u64,
    kind: EventType,
    key: ObjectKey,
    old: Option<Value>,
    new: Value,
}

/// The object store: objects by key, the global resourceVersion and the change log. Reads go
/// through `Deref`; every write records a change and wakes the watches.
#[derive(Debug, Default)]
pub(crate) struct Store {
    objects: BTreeMap<ObjectKey, Value>,
    rv: u64,
    log: VecDeque<Change>,
    /// Every change after this version is in `log`.
    log_start: u64,
    pub(crate) notify: Arc<Notify>,
}

impl std::ops::Deref for Store {
    type Target = BTreeMap<ObjectKey, Value>;
    fn deref(&self) -> &Self::Target {
        &self.objects
    }
}

fn set_rv(v: &mut Value, rv: u64) {
    if let Some(m) = v.as_object_mut() {
        let meta = m.entry("metadata").or_insert_with(|| json!({}));
        if let Some(meta) = meta.as_object_mut() {
            meta.insert("resourceVersion".to_owned(), Value::String(rv.to_string()));
        }
    }
}

impl Store {
    /// The version of the latest change.
    pub(crate) fn resource_version(&self) -> u64 {
        self.rv
    }

    /// The version the next change will get.
    pub(crate) fn next_rv(&self) -> u64 {
        self.rv + 1
    }

    /// A copy for a dry run: the objects and the version, no log, no watches.
    pub(crate) fn scratch(&self, key: &ObjectKey) -> Self {
        let mut s = Self {
            rv: self.rv,
            ..Self::default()
        };
        if let Some(o) = self.objects.get(key) {
            s.objects.insert(key.clone(), o.clone());
        }
        s
    }

    fn record(&mut self, kind: EventType, key: &ObjectKey, old: Option<Value>, new: Value) {
        self.log.push_back(Change {
            rv: self.rv,
            kind,
            key: key.clone(),
            old,
            new,
        });
        while self.log.len() > HISTORY {
            if let Some(c) = self.log.pop_front() {
                self.log_start = c.rv;
            }
        }
        self.notify.notify_waiters();
    }

    /// Stores `v` at the next version (stamped into `metadata.resourceVersion`); returns it.
    pub(crate) fn put(&mut self, key: &ObjectKey, mut v: Value) -> Value {
        self.rv += 1;
        set_rv(&mut v, self.rv);
        let old = self.objects.insert(key.clone(), v.clone());
        let kind = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(kind, key, old, v.clone());
        v
    }

    /// Stores `v` as is (a test's fixture): its own `metadata.resourceVersion` is kept when it
    /// has one, else it gets the next version.
    pub(crate) fn put_raw(&mut self, key: &ObjectKey, mut v: Value) {
        self.rv += 1;
        if v.pointer("/metadata/resourceVersion").is_none() {
            set_rv(&mut v, self.rv);
        }
        let old = self.objects.insert(key.clone(), v.clone());
        let kind = if old.is_some() {
            EventType::Modified
        } else {
            EventType::Added
        };
        self.record(kind, key, old, v);
    }

    /// Changes the object at `key` in place at the next version; `None` when it does not exist.
    pub(crate) fn modify(&mut self, key: &ObjectKey, f: impl FnOnce(&mut Value)) -> Option<Value> {
        let old = self.objects.get(key)?.clone();
        let mut new = old.clone();
        f(&mut new);
        Some(self.put_changed(key, old, new))
    }

    fn put_changed(&mut self, key: &ObjectKey, old: Value, mut new: Value) -> Value {
        self.rv += 1;
        // A test's edit that sets a resourceVersion itself keeps it.
        let rv_path = "/metadata/resourceVersion";
        if new.pointer(rv_path) == old.pointer(rv_path) {
            set_rv(&mut new, self.rv);
        }
        self.objects.insert(key.clone(), new.clone());
        self.record(EventType::Modified, key, Some(old), new.clone());
        new
    }

    /// Deletes the object at `key` (a `DELETED` change carrying it at the deletion's version).
    pub(crate) fn remove(&mut self, key: &ObjectKey) -> Option<Value> {
        let old = self.objects.remove(key)?;
        self.rv += 1;
        let mut gone = old.clone();
        set_rv(&mut gone, self.rv);
        self.record(EventType::Deleted, key, Some(old.clone()), gone);
        Some(old)
    }

    /// Deletes every object `keep` says no to.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&ObjectKey, &Value) -> bool) {
        let gone: Vec<ObjectKey> = self
            .objects
            .iter()
            .filter(|(k, v)| !keep(k, v))
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            self.remove(&k);
        }
    }
}

fn selector_terms(selector: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(selector[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(selector[start..].trim());
    out.into_iter().filter(|t| !t.is_empty()).collect()
}

/// Equality (`k=v`), set (`k in (a,b)`) and existence (`k`) selectors.
pub(crate) fn labels_match(v: &Value, selector: &str) -> bool {
    let label = |k: &str| {
        v.pointer("/metadata/labels")
            .and_then(|l| l.get(k.trim()))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    selector_terms(selector).into_iter().all(|term| {
        if let Some((k, set)) = term.split_once(" in ") {
            let values: Vec<&str> = set
                .trim()
                .trim_start_matches('(')
                .trim_end_matches(')')
                .split(',')
                .map(str::trim)
                .collect();
            label(k).is_some_and(|l| values.contains(&l.as_str()))
        } else if let Some((k, val)) = term.split_once('=') {
            label(k).as_deref() == Some(val.trim())
        } else {
            label(term).is_some()
        }
    })
}

/// Whether `v` (at `key`) matches a field selector of `metadata.name` / `metadata.namespace`
/// terms (`=`, `==`, `!=`). Other fields match nothing (a real server answers 400 for fields a
/// kind does not support; `FakeCluster::watch` checks them first).
pub(crate) fn fields_match(key: &ObjectKey, selector: &str) -> bool {
    selector.split(',').filter(|t| !t.trim().is_empty()).all(|term| {
        let (field, value, equal) = if let Some((f, v)) = term.split_once("!=") {
            (f, v, false)
        } else if let Some((f, v)) = term.split_once("==") {
            (f, v, true)
        } else if let Some((f, v)) = term.split_once('=') {
            (f, v, true)
        } else {
            return false;
        };
        let actual = match field.trim() {
            "metadata.name" => key.name.as_str(),
            "metadata.namespace" => key.namespace.as_deref().unwrap_or_default(),
            _ => return false,
        };
        (actual == value.trim()) == equal
    })
}

/// Checks a field selector's fields (400 BadRequest as a real server for unsupported ones).
pub(crate) fn check_field_selector(selector: &str) -> Result<(), ApiError> {
    for term in selector.split(',').filter(|t| !t.trim().is_empty()) {
        let field = term.split(['=', '!']).next().unwrap_or_default().trim();
        if !matches!(field, "metadata.name" | "metadata.namespace") {
            return Err(ApiError::from_response(
                400,
                json!({"kind": "Status", "status": "Failure", "reason": "BadRequest", "code": 400,
                       "message": format!("field label not supported: {field}")})
                .to_string()
                .as_bytes(),
                None,
            ));
        }
    }
    Ok(())
}

/// Where a watch reads the store (the fake cluster, under its lock).
pub(crate) trait Source {
    /// Notified on every change.
    fn notify(&self) -> Arc<Notify>;
    /// Runs `f` on the store.
    fn read(&self, f: &mut dyn FnMut(&Store));
}

/// A running watch (`FakeCluster::watch`); [`Watch::next`] gives its events, `None` when it ends.
pub struct Watch<'a> {
    source: &'a dyn Source,
    kind: Kind,
    namespace: Option<String>,
    opts: WatchOptions,
    cursor: u64,
    pending: VecDeque<WatchEvent>,
    deadline: Option<tokio::time::Instant>,
    next_bookmark: tokio::time::Instant,
    interval: Duration,
    done: bool,
}

impl std::fmt::Debug for Watch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("kind", &self.kind.kind)
            .field("namespace", &self.namespace)
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

fn expired(requested: u64, oldest: u64) -> WatchEvent {
    WatchEvent {
        kind: EventType::Error,
        object: json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": format!("too old resource version: {requested} ({oldest})"),
                       "reason": "Expired", "code": 410}),
    }
}

impl<'a> Watch<'a> {
    pub(crate) fn start(
        source: &'a dyn Source,
        kind: Kind,
        namespace: Option<&str>,
        opts: &WatchOptions,
        store: &Store,
        interval: Duration,
    ) -> Result<Self, ApiError> {
        if let Some(sel) = &opts.field_selector {
            check_field_selector(sel)?;
        }
        let now = tokio::time::Instant::now();
        let mut w = Self {
            source,
            kind,
            namespace: namespace.map(str::to_owned),
            opts: opts.clone(),
            cursor: store.rv,
            pending: VecDeque::new(),
            deadline: opts.timeout.map(|t| now + t),
            next_bookmark: now + interval,
            interval,
            done: false,
        };
        match opts.resource_version.as_deref().unwrap_or_default() {
            "" | "0" => {
                for (k, v) in store.iter() {
                    if w.matches(k, v) {
                        w.pending.push_back(WatchEvent {
                            kind: EventType::Added,
                            object: v.clone(),
                        });
                    }
                }
            }
            rv => {
                let Ok(rv) = rv.parse::<u64>() else {
                    return Err(ApiError::from_response(
                        400,
                        json!({"kind": "Status", "status": "Failure", "reason": "BadRequest", "code": 400,
                               "message": format!("invalid resource version: {rv}")})
                        .to_string()
                        .as_bytes(),
                        None,
                    ));
                };
                w.cursor = rv;
            }
        }
        Ok(w)
    }

    fn matches(&self, key: &ObjectKey, v: &Value) -> bool {
        key.kind == self.kind
            && (self.namespace.is_none() || key.namespace == self.namespace)
            && self
                .opts
                .label_selector
                .as_deref()
                .is_none_or(|s| labels_match(v, s))
            && self
                .opts
                .field_selector
                .as_deref()
                .is_none_or(|s| fields_match(key, s))
    }

    /// Takes the changes after the cursor from the log; an `Expired` error when they are gone.
    fn catch_up(&mut self, store: &Store) {
        if self.cursor < store.log_start {
            self.pending.push_back(expired(self.cursor, store.log_start));
            self.done = true;
            return;
        }
        for c in store.log.iter().filter(|c| c.rv > self.cursor) {
            let was = c.old.as_ref().is_some_and(|o| self.matches(&c.key, o));
            let is = c.kind != EventType::Deleted && self.matches(&c.key, &c.new);
            let kind = match (was, is) {
                (false, true) => EventType::Added,
                (true, true) => EventType::Modified,
                (true, false) => EventType::Deleted,
                (false, false) => continue,
            };
            self.pending.push_back(WatchEvent {
                kind,
                object: c.new.clone(),
            });
        }
        self.cursor = self.cursor.max(store.rv);
    }

    /// The next event; `None` once the watch has ended (its timeout, or after an error).
    pub async fn next(&mut self) -> Option<WatchEvent> {
        loop {
            if let Some(e) = self.pending.pop_front() {
                return Some(e);
            }
            if self.done {
                return None;
            }
            let notify = self.source.notify();
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let source = self.source;
            source.read(&mut |store| self.catch_up(store));
            if !self.pending.is_empty() {
                continue;
            }
            let far = tokio::time::Instant::now() + Duration::from_secs(86_400);
            let deadline = self.deadline.unwrap_or(far);
            let bookmark = if self.opts.bookmarks {
                self.next_bookmark
            } else {
                far
            };
            tokio::select! {
                () = &mut notified => {}
                () = tokio::time::sleep_until(deadline) => {
                    self.done = true;
                }
                () = tokio::time::sleep_until(bookmark) => {
                    self.next_bookmark = tokio::time::Instant::now() + self.interval;
                    return Some(WatchEvent {
                        kind: EventType::Bookmark,
                        object: json!({"apiVersion": self.kind.api_version(), "kind": self.kind.kind,
                                       "metadata": {"resourceVersion": self.cursor.to_string()}}),
                    });
                }
            }
        }
    }
}
