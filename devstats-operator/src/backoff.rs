//! Per-object exponential backoff of failed reconciles (the controller's error policy): the
//! first failure of an object retries after `base`, each further consecutive failure doubles the
//! delay up to `cap`; a successful reconcile resets the object. The same shape as client-go's
//! per-item exponential failure rate limiter (`workqueue.NewItemExponentialFailureRateLimiter`,
//! 5 ms to 1000 s there; a reconcile here is much heavier, so the defaults are 5 s to 5 min).

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Consecutive failures by object.
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    failures: Mutex<BTreeMap<String, u32>>,
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new(Duration::from_secs(5), Duration::from_secs(5 * 60))
    }
}

impl Backoff {
    /// A backoff from `base` doubling up to `cap`.
    #[must_use]
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self {
            base,
            cap,
            failures: Mutex::new(BTreeMap::new()),
        }
    }

    /// Records one more failure of `object` and returns how long to wait before retrying it.
    pub fn failed(&self, object: &str) -> Duration {
        let mut f = self.failures.lock().unwrap_or_else(PoisonError::into_inner);
        let n = f.entry(object.to_owned()).or_insert(0);
        let delay = self
            .base
            .checked_mul(2u32.saturating_pow(*n))
            .map_or(self.cap, |d| d.min(self.cap));
        *n = n.saturating_add(1);
        delay
    }

    /// `object` reconciled: its next failure starts from `base` again.
    pub fn succeeded(&self, object: &str) {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(object);
    }

    /// Consecutive failures of `object`.
    #[must_use]
    pub fn failures(&self, object: &str) -> u32 {
        self.failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(object)
            .copied()
            .unwrap_or(0)
    }
}
