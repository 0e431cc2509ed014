//! Leader election over a `coordination.k8s.io/v1` Lease, with client-go's semantics
//! (`k8s.io/client-go/tools/leaderelection`, `tryAcquireOrRenew`):
//!
//! - the Lease names its holder (`spec.holderIdentity`, the pod name), `leaseDurationSeconds`,
//!   `acquireTime`, `renewTime` and `leaseTransitions`;
//! - a candidate that finds no Lease creates it (POST: of two candidates racing, the second gets
//!   409 AlreadyExists);
//! - a Lease held by someone else is taken over only when it has not changed for
//!   `leaseDurationSeconds` **as observed by the candidate's own clock** (client-go compares
//!   `observedTime + leaseDuration` with now, never the holder's `renewTime`, so clock skew
//!   between nodes does not matter);
//! - every write carries the `resourceVersion` read, so of two candidates taking over (or a
//!   holder renewing while another takes over) exactly one succeeds, the other gets 409 Conflict
//!   and stays a candidate. The write is a server-side apply whose object carries
//!   `metadata.resourceVersion`, which the API server treats as a precondition like an update's
//!   (kubernetes/website#40179);
//! - the holder renews every retry period; when it could not renew for `renewDeadline` it is no
//!   longer the leader;
//! - on a clean shutdown the holder releases the Lease (holder emptied, duration 1 s), so a
//!   standby takes over at its next try instead of waiting for the expiry.
//!
//! The timings are kube-controller-manager's defaults (`--leader-elect-lease-duration=15s`,
//! `--leader-elect-renew-deadline=10s`, `--leader-elect-retry-period=2s`; kube-controller-manager
//! reference, and client-go's `LeaderElectionConfig` documentation). Time is passed in (`now` for
//! the expiry, `wall` for the recorded times), so the logic is tested without sleeping.

use std::time::{Duration, Instant};

use devstats_cli::cluster::{ApiError, Cluster};
use devstats_cli::kinds::{Kind, ObjectKey};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use serde_json::Value;

/// The `Lease` kind (`coordination.k8s.io/v1`, namespaced).
pub const LEASE: Kind = Kind {
    rank: devstats_cli::kinds::CUSTOM_RANK,
    group: "coordination.k8s.io",
    version: "v1",
    kind: "Lease",
    plural: "leases",
    namespaced: true,
};

/// Where and as whom to elect.
#[derive(Debug, Clone)]
pub struct LeaseConfig {
    /// The Lease's namespace (the operator's own: `POD_NAMESPACE`).
    pub namespace: String,
    /// The Lease's name.
    pub name: String,
    /// This candidate (the pod name: `POD_NAME`).
    pub identity: String,
    /// How long a Lease that does not change stays held (15 s).
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up (10 s).
    pub renew_deadline: Duration,
    /// How often candidates try and the leader renews (2 s).
    pub retry_period: Duration,
}

impl LeaseConfig {
    /// client-go's / kube-controller-manager's timings: 15 s, 10 s, 2 s.
    #[must_use]
    pub fn new(namespace: &str, name: &str, identity: &str) -> Self {
        Self {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
            identity: identity.to_owned(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }

    /// The Lease's key.
    #[must_use]
    pub fn key(&self) -> ObjectKey {
        ObjectKey::new(LEASE, Some(&self.namespace), &self.name)
    }
}

/// The result of one [`Elector::try_acquire_or_renew`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// This candidate became the holder (the Lease was free, absent, released or expired).
    Acquired,
    /// This candidate held the Lease and renewed it.
    Renewed,
    /// Someone else holds the Lease and it has not expired.
    HeldBy(String),
    /// Another candidate wrote the Lease first (409); try again at the next retry.
    Lost,
}

impl Attempt {
    /// Whether this candidate holds the Lease after the attempt.
    #[must_use]
    pub fn is_leader(&self) -> bool {
        matches!(self, Self::Acquired | Self::Renewed)
    }
}

/// What the candidate last saw of the Lease, and when by its own clock.
#[derive(Debug, Clone)]
struct Observed {
    resource_version: String,
    at: Instant,
}

/// One candidate.
#[derive(Debug)]
pub struct Elector {
    config: LeaseConfig,
    observed: Option<Observed>,
}

fn micro(t: Timestamp) -> MicroTime {
    // MicroTime is written with microseconds; keep no finer digits than that.
    let us = t.as_microsecond();
    MicroTime(Timestamp::from_microsecond(us).unwrap_or(t))
}

fn secs(d: Duration) -> i32 {
    i32::try_from(d.as_secs()).unwrap_or(i32::MAX)
}

fn to_value(lease: &Lease) -> Result<Value, ApiError> {
    let mut v = serde_json::to_value(lease).map_err(|e| ApiError::transport(format!("Lease: {e}")))?;
    if let Some(o) = v.as_object_mut() {
        o.insert("apiVersion".to_owned(), Value::String(LEASE.api_version()));
        o.insert("kind".to_owned(), Value::String(LEASE.kind.to_owned()));
    }
    Ok(v)
}

impl Elector {
    /// A candidate that has not looked at the Lease yet.
    #[must_use]
    pub fn new(config: LeaseConfig) -> Self {
        Self {
            config,
            observed: None,
        }
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &LeaseConfig {
        &self.config
    }

    fn observe(&mut self, live: &Value, now: Instant) {
        let rv = live
            .pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if self.observed.as_ref().is_none_or(|o| o.resource_version != rv) {
            self.observed = Some(Observed {
                resource_version: rv,
                at: now,
            });
        }
    }

    fn lease(&self, spec: LeaseSpec, resource_version: Option<String>) -> Lease {
        Lease {
            metadata: ObjectMeta {
                name: Some(self.config.name.clone()),
                namespace: Some(self.config.namespace.clone()),
                resource_version,
                ..ObjectMeta::default()
            },
            spec: Some(spec),
        }
    }

    /// One try (client-go's `tryAcquireOrRenew`): create the Lease when absent, renew it when
    /// held by this candidate, take it over when free or expired (by this candidate's clock,
    /// `now`); every write guarded by the resourceVersion read. `wall` is written as
    /// `acquireTime`/`renewTime`.
    pub async fn try_acquire_or_renew<C: Cluster>(
        &mut self,
        cluster: &C,
        now: Instant,
        wall: Timestamp,
    ) -> Result<Attempt, ApiError> {
        let key = self.config.key();
        let me = self.config.identity.clone();
        let Some(live) = cluster.get(&key).await? else {
            let lease = self.lease(
                LeaseSpec {
                    holder_identity: Some(me),
                    lease_duration_seconds: Some(secs(self.config.lease_duration)),
                    acquire_time: Some(micro(wall)),
                    renew_time: Some(micro(wall)),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                },
                None,
            );
            return match cluster.create(&key, &to_value(&lease)?).await {
                Ok(created) => {
                    self.observe(&created, now);
                    Ok(Attempt::Acquired)
                }
                Err(e) if e.is_already_exists() => Ok(Attempt::Lost),
                Err(e) => Err(e),
            };
        };
        self.observe(&live, now);
        let current: Lease = serde_json::from_value(live.clone())
            .map_err(|e| ApiError::transport(format!("{key}: not a Lease: {e}")))?;
        let spec = current.spec.unwrap_or_default();
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let mine = holder.as_deref() == Some(me.as_str());
        if let Some(h) = &holder
            && !mine
        {
            let duration =
                Duration::from_secs(u64::try_from(spec.lease_duration_seconds.unwrap_or(0)).unwrap_or(0));
            let seen = self.observed.as_ref().map_or(now, |o| o.at);
            if seen + duration > now {
                return Ok(Attempt::HeldBy(h.clone()));
            }
        }
        let transitions = spec.lease_transitions.unwrap_or(0);
        let next = LeaseSpec {
            holder_identity: Some(me),
            lease_duration_seconds: Some(secs(self.config.lease_duration)),
            acquire_time: if mine {
                spec.acquire_time.clone().or(Some(micro(wall)))
            } else {
                Some(micro(wall))
            },
            renew_time: Some(micro(wall)),
            lease_transitions: Some(if mine { transitions } else { transitions + 1 }),
            ..LeaseSpec::default()
        };
        let lease = self.lease(next, current.metadata.resource_version);
        match cluster.apply(&key, &to_value(&lease)?, true, false).await {
            Ok(written) => {
                self.observe(&written, now);
                Ok(if mine { Attempt::Renewed } else { Attempt::Acquired })
            }
            Err(e) if e.code == 409 && !e.is_field_conflict() => Ok(Attempt::Lost),
            Err(e) => Err(e),
        }
    }

    /// Gives the Lease up if this candidate holds it (client-go's `release`): holder emptied,
    /// duration 1 s, so a standby acquires it at its next try. `Ok(false)` when it was not held.
    pub async fn release<C: Cluster>(&mut self, cluster: &C, wall: Timestamp) -> Result<bool, ApiError> {
        let key = self.config.key();
        let Some(live) = cluster.get(&key).await? else {
            return Ok(false);
        };
        let current: Lease = serde_json::from_value(live)
            .map_err(|e| ApiError::transport(format!("{key}: not a Lease: {e}")))?;
        let spec = current.spec.unwrap_or_default();
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return Ok(false);
        }
        let next = LeaseSpec {
            holder_identity: Some(String::new()),
            lease_duration_seconds: Some(1),
            acquire_time: Some(micro(wall)),
            renew_time: Some(micro(wall)),
            lease_transitions: spec.lease_transitions,
            ..LeaseSpec::default()
        };
        let lease = self.lease(next, current.metadata.resource_version);
        cluster.apply(&key, &to_value(&lease)?, true, false).await?;
        Ok(true)
    }
}
