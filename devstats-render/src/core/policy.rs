//! The apply policy of a rendered object: how it is written, what guards its deletion, what
//! "ready" means for it and its apply phase. Set once, when the object is built (see
//! [`ApplyPolicy::of`] and the builders that override it, e.g. Patroni's); the planner, `destroy`,
//! `diff` and the GitOps writer read it and derive nothing from names or kinds.

use serde::Serialize;

use crate::core::{component::Component, kind::Kind, object::Object};

/// How an object is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Write {
    /// Server-side apply whenever the content differs from the live one.
    Apply,
    /// Created when missing and never updated: another controller writes it (Patroni's config
    /// Endpoints, whose `subsets` and annotations Patroni owns).
    CreateOnly,
    /// A run-once Job (bootstrap, provisioning): created when missing; a live Job is never
    /// updated, replaced or re-run by `apply`.
    RunOnce,
    /// Deleted and created again when it changed (bare helper Pods, whose spec is immutable).
    Replace,
}

/// What it takes to delete an object that left the model (apply's prune, `destroy`, Flux).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PruneGuard {
    /// Deleted like anything else.
    None,
    /// Holds data (volume claims) or records a provisioned database (run-once Jobs): apply needs
    /// `--prune-volumes`, destroy `--delete-volumes`; Flux never prunes it.
    Volumes,
    /// The database (Patroni's StatefulSet, its ServiceAccount, RBAC, Services, config Endpoints
    /// and the database Secret): apply needs `--prune-database`, destroy `--delete-volumes`;
    /// Flux never prunes it.
    Database,
    /// The Namespace: apply never deletes it, destroy only with `--delete-volumes`; Flux never
    /// prunes it.
    Namespace,
}

impl PruneGuard {
    /// The token of the guard in the inventory.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            PruneGuard::None => "none",
            PruneGuard::Volumes => "volumes",
            PruneGuard::Database => "database",
            PruneGuard::Namespace => "namespace",
        }
    }

    /// Parses [`PruneGuard::as_str`].
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        [
            PruneGuard::None,
            PruneGuard::Volumes,
            PruneGuard::Database,
            PruneGuard::Namespace,
        ]
        .into_iter()
        .find(|g| g.as_str() == s)
    }
}

/// What "ready" means for an object (what a dependent waits for).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Ready {
    /// Written is enough.
    Exists,
    /// Rolled out (a Deployment or StatefulSet with its pods updated and ready).
    Rollout,
    /// Completed (a Job).
    Complete,
    /// Rolled out with a Patroni primary elected (the database StatefulSet).
    Primary,
}

/// The apply policy of one rendered object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApplyPolicy {
    /// Apply phase.
    pub phase: Phase,
    /// How it is written.
    pub write: Write,
    /// What guards its deletion.
    pub prune: PruneGuard,
    /// What ready means for it.
    pub ready: Ready,
}

impl ApplyPolicy {
    /// The policy of an object built by `component`, before a builder's own choices (see
    /// [`ApplyPolicy::database`] and the setters).
    #[must_use]
    pub fn of(component: Component, o: &Object) -> Self {
        let (phase, write, prune, ready) = match o {
            Object::Namespace(_) => (
                Phase::Namespace,
                Write::Apply,
                PruneGuard::Namespace,
                Ready::Exists,
            ),
            Object::Secret(_)
            | Object::ServiceAccount(_)
            | Object::Role(_)
            | Object::RoleBinding(_)
            | Object::ConfigMap(_)
            | Object::NetworkPolicy(_) => (Phase::Config, Write::Apply, PruneGuard::None, Ready::Exists),
            Object::PersistentVolumeClaim(_) => {
                (Phase::Storage, Write::Apply, PruneGuard::Volumes, Ready::Exists)
            }
            Object::Endpoints(_) => (Phase::Database, Write::Apply, PruneGuard::None, Ready::Exists),
            Object::StatefulSet(_) => (Phase::Database, Write::Apply, PruneGuard::None, Ready::Rollout),
            Object::Job(_) => {
                let phase = if component == Component::Bootstrap {
                    Phase::Bootstrap
                } else {
                    Phase::Provision
                };
                let once = matches!(component, Component::Bootstrap | Component::Provision);
                if once {
                    (phase, Write::RunOnce, PruneGuard::Volumes, Ready::Complete)
                } else {
                    (phase, Write::Apply, PruneGuard::None, Ready::Complete)
                }
            }
            Object::CronJob(_) => (Phase::Schedules, Write::Apply, PruneGuard::None, Ready::Exists),
            Object::Deployment(_) => (Phase::Workloads, Write::Apply, PruneGuard::None, Ready::Rollout),
            Object::Pod(_) => (Phase::Workloads, Write::Replace, PruneGuard::None, Ready::Exists),
            Object::Service(_) | Object::PodDisruptionBudget(_) | Object::HorizontalPodAutoscaler(_) => {
                (Phase::Workloads, Write::Apply, PruneGuard::None, Ready::Exists)
            }
            Object::Ingress(_) => (Phase::Routing, Write::Apply, PruneGuard::None, Ready::Exists),
            Object::Custom(c) => {
                let phase = match c.kind {
                    Kind::ISSUER | Kind::CLUSTER_ISSUER | Kind::CERTIFICATE => Phase::Config,
                    Kind::GATEWAY | Kind::HTTP_ROUTE => Phase::Routing,
                    _ => Phase::Workloads,
                };
                (phase, Write::Apply, PruneGuard::None, Ready::Exists)
            }
        };
        Self {
            phase,
            write,
            prune,
            ready,
        }
    }

    /// This policy as part of the database: guarded by [`PruneGuard::Database`].
    #[must_use]
    pub fn database(self) -> Self {
        Self {
            prune: PruneGuard::Database,
            ..self
        }
    }

    /// This policy in another phase.
    #[must_use]
    pub fn in_phase(self, phase: Phase) -> Self {
        Self { phase, ..self }
    }

    /// This policy with another write mode.
    #[must_use]
    pub fn written(self, write: Write) -> Self {
        Self { write, ..self }
    }

    /// This policy with another readiness.
    #[must_use]
    pub fn ready_when(self, ready: Ready) -> Self {
        Self { ready, ..self }
    }

    /// Whether Flux must never prune it (`kustomize.toolkit.fluxcd.io/prune: disabled`): exactly
    /// the objects apply refuses to prune without a flag.
    #[must_use]
    pub fn flux_prune_disabled(self) -> bool {
        self.prune != PruneGuard::None
    }
}

/// Apply phases, in order. Objects of a phase only reference objects of earlier phases (or of
/// the same phase), so applying phase by phase never creates a dangling reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// The namespace.
    Namespace,
    /// Secrets, ServiceAccount, RBAC.
    Config,
    /// PersistentVolumeClaims.
    Storage,
    /// Patroni: Endpoints, Services, StatefulSet.
    Database,
    /// The bootstrap Job (logs database, users, grants).
    Bootstrap,
    /// Per-project provisioning Jobs.
    Provision,
    /// CronJobs.
    Schedules,
    /// Deployments, their Services, helper pods.
    Workloads,
    /// Ingresses.
    Routing,
}

impl Phase {
    /// All phases in order.
    pub const ALL: [Phase; 9] = [
        Phase::Namespace,
        Phase::Config,
        Phase::Storage,
        Phase::Database,
        Phase::Bootstrap,
        Phase::Provision,
        Phase::Schedules,
        Phase::Workloads,
        Phase::Routing,
    ];

    /// Lowercase name, e.g. `database`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Namespace => "namespace",
            Phase::Config => "config",
            Phase::Storage => "storage",
            Phase::Database => "database",
            Phase::Bootstrap => "bootstrap",
            Phase::Provision => "provision",
            Phase::Schedules => "schedules",
            Phase::Workloads => "workloads",
            Phase::Routing => "routing",
        }
    }
}
