//! devstats-operator: the in-cluster controller that reconciles `DevStats` resources
//! (`devstats.cncf.io/v1alpha1`) with the engine of `devstats-k8s apply` (docs/operator.md is
//! the runbook).
//!
//! - [`step`]: the work on one resource (finalizer, reconcile, status, events, requeue,
//!   deletion), over the CLI's `Cluster` trait;
//! - [`backoff`]: per-object exponential backoff of failures (the error policy);
//! - [`election`]: leader election over a Lease, client-go's semantics;
//! - [`metrics`]: the Prometheus metrics; [`serve`]: `/metrics`, `/healthz`, `/readyz`;
//! - [`controller`]: the kube-runtime `Controller`s and the events `Recorder`.

pub mod backoff;
pub mod controller;
pub mod election;
pub mod metrics;
pub mod serve;
pub mod step;

use std::time::Duration;

/// Writes one log line to stderr, prefixed with the UTC time.
pub fn log(message: &str) {
    let now = k8s_openapi::jiff::Timestamp::now();
    let now = k8s_openapi::jiff::Timestamp::from_second(now.as_second()).unwrap_or(now);
    eprintln!("{now} {message}");
}

/// Parses a duration such as `90s`, `10m`, `1h`, `1h30m` or `500ms` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}` is not a duration; write e.g. 30s, 10m, 1h30m or 500ms");
    let s = s.trim();
    if s.is_empty() {
        return Err(bad());
    }
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    let mut total = Duration::ZERO;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        if digits == 0 {
            return Err(bad());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let part = match &rest[..unit_len] {
            "ms" => Duration::from_millis(n),
            "s" => Duration::from_secs(n),
            "m" => Duration::from_secs(n.saturating_mul(60)),
            "h" => Duration::from_secs(n.saturating_mul(3600)),
            _ => return Err(bad()),
        };
        total = total.saturating_add(part);
        rest = &rest[unit_len..];
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_duration;
    use std::time::Duration;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        for bad in ["", "m", "10x", "1.5m", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
