//! Progress of an apply: typed events, shown as a progress bar per phase (objects applied / total)
//! and a spinner per wait with its elapsed time on a terminal, plain lines otherwise, or a JSON
//! event stream (`-o json`) for CI.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// One thing that happened.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// The plan: per phase, objects in all and objects to act on.
    Plan {
        /// `(phase, total, to act on)` in phase order.
        phases: Vec<(String, usize, usize)>,
        /// Objects per action.
        counts: BTreeMap<String, usize>,
        /// Planned writes.
        writes: usize,
        /// Planned deletions (prune).
        prune: usize,
    },
    /// An object was written (or its action completed).
    Applied {
        /// `Kind ns/name`.
        object: String,
        /// Render phase.
        phase: String,
        /// create, update, recreate, …
        action: String,
    },
    /// A wait started.
    WaitStart {
        /// `Kind ns/name`.
        object: String,
        /// Render phase.
        phase: String,
    },
    /// A wait is still going.
    WaitProgress {
        /// `Kind ns/name`.
        object: String,
        /// What is missing.
        message: String,
        /// Seconds waited.
        elapsed_secs: u64,
    },
    /// A wait ended.
    WaitDone {
        /// `Kind ns/name`.
        object: String,
        /// Render phase.
        phase: String,
        /// Ready (true) or failed/timed out.
        ok: bool,
        /// Outcome.
        message: String,
        /// Seconds waited.
        elapsed_secs: u64,
    },
    /// A request is retried.
    Retry {
        /// What was being done.
        object: String,
        /// Attempt that failed.
        attempt: u32,
        /// The error.
        error: String,
    },
    /// An object was not written in this apply.
    Deferred {
        /// `Kind ns/name`.
        object: String,
        /// Why.
        reason: String,
    },
    /// An object failed.
    Failed {
        /// `Kind ns/name`.
        object: String,
        /// The error.
        error: String,
    },
    /// An object was deleted (prune, destroy).
    Deleted {
        /// `Kind ns/name`.
        object: String,
    },
    /// An object was kept although not rendered.
    Kept {
        /// `Kind ns/name`.
        object: String,
        /// Why, and which flag would delete it.
        reason: String,
    },
    /// Information.
    Note {
        /// Text.
        message: String,
    },
    /// The end.
    Summary {
        /// Whether everything planned succeeded.
        ok: bool,
        /// Requests that wrote.
        writes: usize,
        /// Requests that read.
        reads: usize,
        /// Retried requests.
        retries: usize,
        /// Wall time in milliseconds.
        elapsed_ms: u64,
        /// One-line summary.
        message: String,
    },
}

/// Receives events.
pub trait Progress: Sync {
    /// Handles one event.
    fn event(&self, e: &Event);
}

/// Discards events.
#[derive(Debug, Default)]
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _: &Event) {}
}

/// Keeps events (tests).
#[derive(Debug, Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    /// The events so far.
    #[must_use]
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

impl Progress for Recorder {
    fn event(&self, e: &Event) {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(e.clone());
    }
}

/// One JSON object per line on stdout.
#[derive(Debug, Default)]
pub struct JsonLines;

impl Progress for JsonLines {
    fn event(&self, e: &Event) {
        if let Ok(line) = serde_json::to_string(e) {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
        }
    }
}

/// Plain lines on stderr (no terminal, or `--progress plain`). Waits report at most every 30 s.
#[derive(Debug, Default)]
pub struct Plain {
    last_wait_report: Mutex<BTreeMap<String, u64>>,
}

/// Text of an event for humans; `None` for events shown only as bars.
#[must_use]
pub fn describe(e: &Event) -> Option<String> {
    Some(match e {
        Event::Plan {
            phases,
            counts,
            writes,
            prune,
        } => {
            let counts = counts
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect::<Vec<_>>()
                .join(", ");
            let total: usize = phases.iter().map(|(_, t, _)| t).sum();
            format!("plan: {total} objects ({counts}); {writes} writes, {prune} to prune")
        }
        Event::Applied { object, action, .. } => format!("{action:>9} {object}"),
        Event::WaitStart { object, .. } => format!("  waiting for {object}"),
        Event::WaitProgress {
            object,
            message,
            elapsed_secs,
        } => format!("  waiting for {object} ({elapsed_secs}s): {message}"),
        Event::WaitDone {
            object,
            ok,
            message,
            elapsed_secs,
            ..
        } => format!(
            "  {} {object} after {elapsed_secs}s: {message}",
            if *ok { "ready" } else { "FAILED" }
        ),
        Event::Retry {
            object,
            attempt,
            error,
        } => format!("  retry {attempt} {object}: {error}"),
        Event::Deferred { object, reason } => format!(" deferred {object}: {reason}"),
        Event::Failed { object, error } => format!("   FAILED {object}: {error}"),
        Event::Deleted { object } => format!("  deleted {object}"),
        Event::Kept { object, reason } => format!("     kept {object}: {reason}"),
        Event::Note { message } => format!("note: {message}"),
        Event::Summary { message, .. } => message.clone(),
    })
}

impl Progress for Plain {
    fn event(&self, e: &Event) {
        if let Event::WaitProgress {
            object, elapsed_secs, ..
        } = e
        {
            let mut last = self
                .last_wait_report
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let prev = last.get(object).copied().unwrap_or(0);
            if *elapsed_secs < prev + 30 {
                return;
            }
            last.insert(object.clone(), *elapsed_secs);
        }
        if let Some(text) = describe(e) {
            let mut err = std::io::stderr().lock();
            let _ = writeln!(err, "{text}");
        }
    }
}

/// Progress bars on a terminal (stderr).
pub struct Bars {
    multi: MultiProgress,
    phases: Mutex<BTreeMap<String, ProgressBar>>,
    waits: Mutex<BTreeMap<String, ProgressBar>>,
}

impl Default for Bars {
    fn default() -> Self {
        Self {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            phases: Mutex::new(BTreeMap::new()),
            waits: Mutex::new(BTreeMap::new()),
        }
    }
}

impl Bars {
    fn line(&self, text: &str) {
        let _ = self.multi.println(text);
    }
}

impl Progress for Bars {
    fn event(&self, e: &Event) {
        match e {
            Event::Plan { phases, .. } => {
                if let Some(text) = describe(e) {
                    self.line(&text);
                }
                let style = ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> ");
                let mut bars = self.phases.lock().unwrap_or_else(PoisonError::into_inner);
                for (phase, total, todo) in phases {
                    let bar = self.multi.add(ProgressBar::new(*total as u64));
                    bar.set_style(style.clone());
                    bar.set_prefix(phase.clone());
                    bar.set_position((total - todo) as u64);
                    if *todo == 0 {
                        bar.finish_with_message("unchanged");
                    }
                    bars.insert(phase.clone(), bar);
                }
            }
            Event::Applied { phase, .. } => {
                if let Some(bar) = self
                    .phases
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(phase)
                {
                    bar.inc(1);
                    if bar.position() >= bar.length().unwrap_or(0) {
                        bar.finish_with_message("done");
                    }
                }
            }
            Event::WaitStart { object, .. } => {
                let spinner = self.multi.add(ProgressBar::new_spinner());
                spinner.set_style(
                    ProgressStyle::with_template("  {spinner} {elapsed:>4} {prefix} {msg}")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                spinner.set_prefix(object.clone());
                spinner.enable_steady_tick(Duration::from_millis(200));
                self.waits
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(object.clone(), spinner);
            }
            Event::WaitProgress { object, message, .. } => {
                if let Some(s) = self
                    .waits
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(object)
                {
                    s.set_message(message.clone());
                }
            }
            Event::WaitDone { object, .. } => {
                if let Some(s) = self
                    .waits
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .remove(object)
                {
                    s.finish_and_clear();
                }
                if let Some(text) = describe(e) {
                    self.line(&text);
                }
            }
            Event::Summary { .. } => {
                for bar in self
                    .phases
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .values()
                {
                    if !bar.is_finished() {
                        bar.abandon();
                    }
                }
                if let Some(text) = describe(e) {
                    self.line(&text);
                }
            }
            other => {
                if let Some(text) = describe(other) {
                    self.line(&text);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events() -> Vec<Event> {
        vec![
            Event::Plan {
                phases: vec![("namespace".to_owned(), 1, 1), ("workloads".to_owned(), 3, 0)],
                counts: BTreeMap::from([("create".to_owned(), 1), ("unchanged".to_owned(), 3)]),
                writes: 2,
                prune: 0,
            },
            Event::Applied {
                object: "Namespace ns".to_owned(),
                phase: "namespace".to_owned(),
                action: "create".to_owned(),
            },
            Event::WaitStart {
                object: "StatefulSet ns/pg".to_owned(),
                phase: "database".to_owned(),
            },
            Event::WaitProgress {
                object: "StatefulSet ns/pg".to_owned(),
                message: "1/3 pods ready".to_owned(),
                elapsed_secs: 31,
            },
            Event::WaitDone {
                object: "StatefulSet ns/pg".to_owned(),
                phase: "database".to_owned(),
                ok: true,
                message: "ready".to_owned(),
                elapsed_secs: 40,
            },
            Event::Summary {
                ok: true,
                writes: 2,
                reads: 15,
                retries: 0,
                elapsed_ms: 900,
                message: "applied".to_owned(),
            },
        ]
    }

    #[test]
    fn every_sink_takes_every_event() {
        let bars = Bars::default();
        let plain = Plain::default();
        let rec = Recorder::default();
        for e in events() {
            bars.event(&e);
            plain.event(&e);
            rec.event(&e);
        }
        assert_eq!(rec.events().len(), 6);
    }

    #[test]
    fn json_events_are_tagged() {
        let text = serde_json::to_string(&events()[1]).unwrap_or_default();
        assert_eq!(
            text,
            r#"{"event":"applied","object":"Namespace ns","phase":"namespace","action":"create"}"#
        );
        assert!(describe(&events()[0]).is_some_and(|t| t.contains("4 objects") && t.contains("2 writes")));
    }
}
