//! The controller's Prometheus metrics, rendered by hand in the text exposition format (version
//! 0.0.4: `# HELP`, `# TYPE`, one `name{labels} value` line per series; histograms as cumulative
//! `_bucket{le=…}` series with `+Inf`, then `_sum` and `_count`;
//! <https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format>).
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `devstats_operator_reconcile_duration_seconds` | histogram | time of one reconcile of one resource (apply, waits, status) |
//! | `devstats_operator_reconcile_errors_total` | counter | reconciles that failed (a request the step itself makes failed, or the deletion is not finished) |
//! | `devstats_operator_objects_applied_total` | counter | objects created or changed by reconciles |
//! | `devstats_operator_objects_pruned_total` | counter | objects deleted by the inventory prune of reconciles |
//! | `devstats_operator_projects` | gauge | projects of each resource by phase (`namespace`, `name`, `phase` labels) |
//! | `devstats_operator_leader` | gauge | 1 while this replica holds the leader Lease, else 0 |

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Upper bounds (seconds) of the reconcile duration buckets: a no-change reconcile takes well
/// under a second, a first install waits for rollouts and provisioning Jobs for minutes.
pub const DURATION_BUCKETS: [f64; 11] = [0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0];

/// The phases reported by `devstats_operator_projects` (those of `status.projects[].phase`).
pub const PHASES: [&str; 4] = ["provisioning", "provisioned", "syncing", "failed"];

#[derive(Debug, Default)]
struct Histogram {
    /// Observations at or below each bound of [`DURATION_BUCKETS`] (not cumulative here).
    buckets: [u64; DURATION_BUCKETS.len()],
    /// Observations above the last bound.
    over: u64,
    sum: f64,
    count: u64,
}

/// The metrics of one controller process.
#[derive(Debug, Default)]
pub struct Metrics {
    duration: Mutex<Histogram>,
    errors: AtomicU64,
    applied: AtomicU64,
    pruned: AtomicU64,
    /// `(namespace, name)` → count per phase (indexed as [`PHASES`]).
    projects: Mutex<BTreeMap<(String, String), [u64; PHASES.len()]>>,
    leader: AtomicBool,
}

impl Metrics {
    /// Records the duration of one reconcile.
    pub fn observe_reconcile(&self, took: Duration) {
        let secs = took.as_secs_f64();
        let mut h = self.duration.lock().unwrap_or_else(PoisonError::into_inner);
        match DURATION_BUCKETS.iter().position(|b| secs <= *b) {
            Some(i) => h.buckets[i] += 1,
            None => h.over += 1,
        }
        h.sum += secs;
        h.count += 1;
    }

    /// Counts a failed reconcile.
    pub fn count_error(&self) {
        self.errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts objects applied and pruned by a reconcile.
    pub fn count_objects(&self, applied: u64, pruned: u64) {
        self.applied.fetch_add(applied, Ordering::Relaxed);
        self.pruned.fetch_add(pruned, Ordering::Relaxed);
    }

    /// Sets the projects of resource `namespace/name` by phase (`phase` is one of [`PHASES`];
    /// others are ignored).
    pub fn set_projects<'a>(&self, namespace: &str, name: &str, phases: impl IntoIterator<Item = &'a str>) {
        let mut counts = [0u64; PHASES.len()];
        for p in phases {
            if let Some(i) = PHASES.iter().position(|x| *x == p) {
                counts[i] += 1;
            }
        }
        self.projects
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((namespace.to_owned(), name.to_owned()), counts);
    }

    /// Forgets a deleted resource's projects.
    pub fn forget(&self, namespace: &str, name: &str) {
        self.projects
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(namespace.to_owned(), name.to_owned()));
    }

    /// Sets the leader gauge.
    pub fn set_leader(&self, leader: bool) {
        self.leader.store(leader, Ordering::Relaxed);
    }

    /// Failed reconciles so far.
    #[must_use]
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }

    /// The Prometheus text exposition of every metric.
    #[must_use]
    pub fn render(&self) -> String {
        let mut out = String::new();
        let h = self.duration.lock().unwrap_or_else(PoisonError::into_inner);
        let name = "devstats_operator_reconcile_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time of one reconcile of one DevStats resource."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, n) in DURATION_BUCKETS.iter().zip(h.buckets) {
            cumulative += n;
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", cumulative + h.over);
        let _ = writeln!(out, "{name}_sum {}", h.sum);
        let _ = writeln!(out, "{name}_count {}", h.count);
        drop(h);
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            let _ = writeln!(out, "{name} {v}");
        };
        counter(
            &mut out,
            "devstats_operator_reconcile_errors_total",
            "Reconciles that failed.",
            self.errors.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "devstats_operator_objects_applied_total",
            "Objects created or changed by reconciles.",
            self.applied.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "devstats_operator_objects_pruned_total",
            "Objects deleted by the inventory prune of reconciles.",
            self.pruned.load(Ordering::Relaxed),
        );
        let name = "devstats_operator_projects";
        let _ = writeln!(out, "# HELP {name} Projects of each DevStats resource by phase.");
        let _ = writeln!(out, "# TYPE {name} gauge");
        for ((ns, n), counts) in self
            .projects
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            for (phase, count) in PHASES.iter().zip(counts) {
                let _ = writeln!(
                    out,
                    "{name}{{namespace=\"{}\",name=\"{}\",phase=\"{phase}\"}} {count}",
                    escape(ns),
                    escape(n)
                );
            }
        }
        let name = "devstats_operator_leader";
        let _ = writeln!(out, "# HELP {name} 1 while this replica holds the leader Lease.");
        let _ = writeln!(out, "# TYPE {name} gauge");
        let _ = writeln!(out, "{name} {}", u8::from(self.leader.load(Ordering::Relaxed)));
        out
    }
}

/// Escapes a label value (backslash, double quote and line feed, as the text format requires).
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
