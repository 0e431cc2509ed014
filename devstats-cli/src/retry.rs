//! Retries of transient API errors with exponential backoff and jitter: throttling (429, honouring
//! `Retry-After`), server errors (500, 502, 503, 504), transport failures and timeouts, and
//! optimistic-concurrency conflicts. Field-manager conflicts, validation errors (422), 403 and 404
//! are answers, not accidents: they are returned at once.

use std::future::Future;
use std::time::Duration;

use crate::cluster::ApiError;

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all (1 = no retry).
    pub attempts: u32,
    /// First delay.
    pub base: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 8,
            base: Duration::from_millis(200),
            max: Duration::from_secs(15),
        }
    }
}

impl RetryPolicy {
    /// No delays (tests).
    #[must_use]
    pub fn immediate(attempts: u32) -> Self {
        Self {
            attempts,
            base: Duration::ZERO,
            max: Duration::ZERO,
        }
    }

    /// The delay before retry number `attempt` (1-based), or the server's `Retry-After`.
    #[must_use]
    pub fn delay(&self, attempt: u32, error: &ApiError) -> Duration {
        if let Some(secs) = error.retry_after {
            return Duration::from_secs(secs).min(self.max.max(Duration::from_secs(1)));
        }
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max);
        // Jitter up to a quarter of the delay, so concurrent retries do not synchronize.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let quarter = exp.as_nanos() / 4;
        let jitter = if quarter == 0 {
            0
        } else {
            u128::from(nanos) % quarter
        };
        exp + Duration::from_nanos(u64::try_from(jitter).unwrap_or(0))
    }
}

/// Runs `op` until it succeeds, fails permanently, or the attempts are used up. `on_retry` is told
/// about each retried error.
pub async fn with_retry<T, F, Fut>(
    policy: &RetryPolicy,
    mut on_retry: impl FnMut(u32, &ApiError),
    mut op: F,
) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ApiError>>,
{
    let mut attempt = 1;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() && attempt < policy.attempts => {
                on_retry(attempt, &e);
                let delay = policy.delay(attempt, &e);
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[tokio::test]
    async fn retries_transient_then_succeeds() {
        let calls = Cell::new(0);
        let retried = Cell::new(0);
        let r = with_retry(
            &RetryPolicy::immediate(5),
            |_, _| retried.set(retried.get() + 1),
            || {
                calls.set(calls.get() + 1);
                let n = calls.get();
                async move {
                    if n < 3 {
                        Err(ApiError::from_response(503, b"", None))
                    } else {
                        Ok(n)
                    }
                }
            },
        )
        .await;
        assert_eq!(r, Ok(3));
        assert_eq!(retried.get(), 2);
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let calls = Cell::new(0);
        let r: Result<(), _> = with_retry(
            &RetryPolicy::immediate(5),
            |_, _| {},
            || {
                calls.set(calls.get() + 1);
                async { Err(ApiError::from_response(422, b"", None)) }
            },
        )
        .await;
        assert!(r.is_err());
        assert_eq!(calls.get(), 1);
    }

    #[test]
    fn backoff_grows_and_honours_retry_after() {
        let p = RetryPolicy::default();
        let e = ApiError::from_response(500, b"", None);
        assert!(p.delay(1, &e) < p.delay(4, &e));
        assert!(p.delay(30, &e) <= p.max + p.max / 4);
        assert_eq!(
            p.delay(1, &ApiError::from_response(429, b"", Some(3))),
            Duration::from_secs(3)
        );
    }
}
