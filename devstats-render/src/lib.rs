//! Pure functions from the DevStats model to Kubernetes objects (k8s-openapi types), one module per
//! DevStats component, a cross-object reference check, and output as YAML, JSON or one file per object.
//!
//! No IO, no async, no network: like kube-rs's `kube-core`. Output is deterministic: objects come in
//! apply order ([`Phase`], then kind, then name), maps are `BTreeMap`s, and project order in the
//! model file does not matter.
//!
//! Where is X built? One hop: `grafana.rs` builds the Grafana Deployments and Services,
//! `sync.rs` the sync CronJobs, `patroni.rs` the database, `ingress.rs` the Ingresses, and so on.
//! How each object is applied, pruned and waited for is its [`ApplyPolicy`] (`policy.rs`), set
//! when it is built and carried on its [`Rendered`].

pub mod affiliations;
pub mod api;
pub mod backups;
pub mod bootstrap;
pub mod cert_manager;
pub mod common;
pub mod delivery;
pub mod disaster_recovery;
pub mod facts;
pub mod flux;
pub mod gateway;
pub mod gitops;
pub mod grafana;
pub mod grafana_data;
pub mod hpa;
pub mod ingress;
pub mod kind;
pub mod monitoring;
pub mod namespace;
pub mod network_policy;
pub mod object;
pub mod operator;
pub mod output;
pub mod patroni;
pub mod pdb;
pub mod policy;
pub mod provision;
pub mod quantity;
pub mod reference;
pub mod refs;
pub mod reports;
pub mod resource;
pub mod secrets;
pub mod security;
pub mod static_sites;
pub mod sync;
pub mod task_job;
#[cfg(test)]
mod testkit;
pub mod volumes;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use devstats_model::schedule::ProjectSchedule;
use devstats_model::{Deployment, Model, Project};

pub use kind::Kind;
pub use object::{CustomResource, Object};
pub use policy::{ApplyPolicy, PruneGuard, Ready, Write};
pub use reference::{Reference, Via};
pub use secrets::{RequiredSecret, SecretValue, SecretValues};

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

macro_rules! components {
    ($($variant:ident => $name:literal, $per_project:literal, $doc:literal;)*) => {
        /// A DevStats component, for `--only` selection.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Component { $(#[doc = $doc] $variant,)* }

        impl Component {
            /// Every component.
            pub const ALL: &'static [Component] = &[$(Component::$variant,)*];
            /// The CLI spelling.
            #[must_use]
            pub fn as_str(self) -> &'static str { match self { $(Component::$variant => $name,)* } }
            /// True for components with one object (set) per project.
            #[must_use]
            pub fn per_project(self) -> bool { match self { $(Component::$variant => $per_project,)* } }
            /// What it renders.
            #[must_use]
            pub fn description(self) -> &'static str { match self { $(Component::$variant => $doc,)* } }
        }

        impl FromStr for Component {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($name => Ok(Component::$variant),)*
                    _ => Err(format!(
                        "unknown component '{s}'; allowed: {}",
                        Component::ALL.iter().map(|c| c.as_str()).collect::<Vec<_>>().join(", ")
                    )),
                }
            }
        }
    };
}

components! {
    Namespace => "namespace", false, "the instance Namespace and its NetworkPolicies";
    Secrets => "secrets", false, "the PostgreSQL, GitHub and Grafana Secrets (only with secret data)";
    Volumes => "volumes", true, "per-project PersistentVolumeClaims";
    BackupsVolume => "backups-volume", false, "the shared backups PersistentVolumeClaim";
    Postgres => "postgres", false, "Patroni: ServiceAccount, Role, RoleBinding, Endpoints, Services, StatefulSet";
    Bootstrap => "bootstrap", false, "the bootstrap Job";
    Provision => "provision", true, "per-project provisioning Jobs";
    Sync => "sync", true, "per-project sync CronJobs";
    Affiliations => "affiliations", true, "per-project affiliations CronJobs";
    AffiliationsImport => "affiliations-import", false, "the shared affiliations import CronJob";
    Grafana => "grafana", true, "per-project Grafana Deployments and Services";
    Api => "api", false, "the API Deployment and Service";
    Static => "static", false, "static site Deployments and Services";
    Ingress => "ingress", false, "Ingresses or Gateway API routes (bare domains and bucketed project hosts), and the cert-manager issuer";
    Backups => "backups", false, "the logical backups CronJob";
    BaseBackup => "base-backup", false, "the WAL-G base backup CronJob and its ServiceAccount, Role, RoleBinding (instance.disasterRecovery)";
    BackupsCopy => "backups-copy", false, "the dump generations and off-site copy CronJob (instance.disasterRecovery)";
    RestoreDrill => "restore-drill", false, "the restore drill CronJob (instance.disasterRecovery)";
    Vacuum => "vacuum", false, "the vacuum CronJob";
    Reports => "reports", false, "the reports pod";
    Tests => "tests", false, "the tests pod";
    Monitoring => "monitoring", false, "prometheus-operator PodMonitor, ServiceMonitor and PrometheusRule, and the ops dashboard ConfigMaps (with monitoring.enabled)";
}

impl fmt::Display for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which part of the deployment to render (instead of the chart's 23 skip gates and 9 index ranges).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Only these components (all when empty).
    pub only: BTreeSet<Component>,
    /// Only these projects' objects (all when empty). Without `only`, selecting projects renders
    /// just the per-project components.
    pub projects: BTreeSet<String>,
    /// Only projects of these foundations, and these foundations' static sites (all when empty).
    pub foundations: BTreeSet<String>,
}

impl Selection {
    /// Everything.
    #[must_use]
    pub fn all() -> Self {
        Self::default()
    }

    fn narrowed(&self) -> bool {
        !self.projects.is_empty() || !self.foundations.is_empty()
    }

    /// Whether a component is selected.
    #[must_use]
    pub fn component(&self, c: Component) -> bool {
        if !self.only.is_empty() {
            return self.only.contains(&c);
        }
        !self.narrowed() || c.per_project() || (c == Component::Static && !self.foundations.is_empty())
    }

    /// Whether a project is selected.
    #[must_use]
    pub fn project(&self, p: &Project) -> bool {
        (self.projects.is_empty() || self.projects.contains(p.name.as_str()))
            && (self.foundations.is_empty()
                || p.foundations
                    .iter()
                    .any(|f| self.foundations.contains(f.as_str())))
    }

    /// Checks that every named project, foundation and component exists.
    pub fn check(&self, model: &Model) -> Result<(), RenderError> {
        let mut problems = Vec::new();
        for p in &self.projects {
            if model.project(p).is_none() {
                problems.push(SelectionProblem::UnknownProject {
                    name: p.clone(),
                    suggestion: devstats_model::structure::suggest(
                        p,
                        model.projects.iter().map(|p| p.name.as_str()),
                    )
                    .map(str::to_owned),
                });
            }
        }
        for f in &self.foundations {
            if model.foundation(f).is_none() {
                problems.push(SelectionProblem::UnknownFoundation {
                    name: f.clone(),
                    defined: model.foundations.iter().map(|f| f.name.to_string()).collect(),
                });
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(RenderError::Selection(problems))
        }
    }
}

/// A name in a [`Selection`] that the model does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionProblem {
    /// `--project` names no project.
    #[error("unknown project '{name}'{}", suggestion.as_ref().map(|s| format!("; did you mean '{s}'?")).unwrap_or_default())]
    UnknownProject {
        /// The name given.
        name: String,
        /// The closest project name, if one is close.
        suggestion: Option<String>,
    },
    /// `--foundation` names no foundation.
    #[error("unknown foundation '{name}'; defined: {}", defined.join(", "))]
    UnknownFoundation {
        /// The name given.
        name: String,
        /// The foundations the model defines.
        defined: Vec<String>,
    },
}

/// A key that secret data given to the render lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{secret} needs key {key} (file {key})")]
pub struct MissingSecretKey {
    /// The Secret.
    pub secret: String,
    /// The key (and the file it is read from).
    pub key: String,
}

/// `items` displayed, joined by `sep`.
fn joined<T: fmt::Display>(items: &[T], sep: &str) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

/// Render options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// What to render.
    pub selection: Selection,
    /// Secret values (files named by key); without them Secrets are left out and listed as required.
    pub secrets: Option<SecretValues>,
}

/// Why rendering failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The schedule parameters are unusable.
    #[error("cannot compute schedules: {0}")]
    Schedule(#[from] devstats_model::schedule::ScheduleError),
    /// Secret data was given but incomplete.
    #[error("secret data is incomplete: {}", joined(.0, "; "))]
    Secrets(Vec<MissingSecretKey>),
    /// The selection names things that do not exist.
    #[error("{}", joined(.0, "; "))]
    Selection(Vec<SelectionProblem>),
    /// Rendered objects reference objects that do not exist.
    #[error("{} broken reference{}:\n  {}", .0.len(), if .0.len() == 1 { "" } else { "s" }, joined(.0, "\n  "))]
    References(Vec<refs::BrokenReference>),
}

/// Everything the builders need: the model and what is derived from it once.
pub struct Ctx<'a> {
    /// The model.
    pub model: &'a Model,
    /// Computed schedules by project name.
    pub schedules: BTreeMap<String, ProjectSchedule>,
    /// Secret values, when rendering Secrets.
    pub secrets: Option<&'a SecretValues>,
}

impl<'a> Ctx<'a> {
    /// Derives schedules etc. from a validated model.
    pub fn new(model: &'a Model, secrets: Option<&'a SecretValues>) -> Result<Self, RenderError> {
        Ok(Self {
            model,
            schedules: model.schedules()?,
            secrets,
        })
    }
}

/// One rendered object with its place in the deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// How it is applied, pruned and waited for, and its phase (set by its builder).
    pub policy: ApplyPolicy,
    /// Component that built it.
    pub component: Component,
    /// The project it belongs to, for per-project objects.
    pub project: Option<String>,
    /// The foundation it belongs to, for per-foundation objects (static sites).
    pub foundation: Option<String>,
    /// The object.
    pub object: Object,
}

/// The result of a render.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderSet {
    /// Objects in canonical (apply) order.
    pub objects: Vec<Rendered>,
    /// Secrets the workloads need that were not rendered (no secret data given).
    pub required_secrets: Vec<RequiredSecret>,
    /// The name of the Secret holding the database credentials (`instance.secrets.postgres`):
    /// whoever reads it waits for the database.
    pub database_secret: String,
}

/// Renders the selected objects of a validated model and returns them in canonical apply order.
///
/// Everything is built and every cross-object reference checked first; the selection then filters
/// the result, so a partial render is always a subset of a consistent whole.
pub fn render(model: &Model, opts: &Options) -> Result<RenderSet, RenderError> {
    opts.selection.check(model)?;
    let ctx = Ctx::new(model, opts.secrets.as_ref())?;
    let (all, required_secrets) = build_all(&ctx)?;
    let database_secret = model.instance.secrets.postgres.to_string();
    refs::check(&all, &required_secrets)?;
    let sel = &opts.selection;
    if *sel == Selection::all() {
        return Ok(RenderSet {
            objects: all,
            required_secrets,
            database_secret,
        });
    }
    let objects = all
        .into_iter()
        .filter(|r| {
            sel.component(r.component)
                && match (&r.project, &r.foundation) {
                    (Some(p), _) => model.project(p).is_some_and(|p| sel.project(p)),
                    (None, Some(f)) => sel.foundations.is_empty() || sel.foundations.contains(f),
                    (None, None) => true,
                }
        })
        .collect();
    let required_secrets = if sel.component(Component::Secrets) {
        required_secrets
    } else {
        Vec::new()
    };
    Ok(RenderSet {
        objects,
        required_secrets,
        database_secret,
    })
}

/// The objects built so far, each with its policy.
struct Built(Vec<Rendered>);

impl Built {
    /// Objects whose builder chose each one's policy.
    fn push_with(&mut self, component: Component, project: Option<&str>, objs: Vec<(Object, ApplyPolicy)>) {
        for (object, policy) in objs {
            self.0.push(Rendered {
                policy,
                component,
                project: project.map(str::to_owned),
                foundation: None,
                object,
            });
        }
    }

    /// Objects with the component's default policies ([`ApplyPolicy::of`]).
    fn push(&mut self, component: Component, project: Option<&str>, objs: Vec<Object>) {
        let objs = objs
            .into_iter()
            .map(|o| {
                let p = ApplyPolicy::of(component, &o);
                (o, p)
            })
            .collect();
        self.push_with(component, project, objs);
    }
}

fn build_all(ctx: &Ctx<'_>) -> Result<(Vec<Rendered>, Vec<RequiredSecret>), RenderError> {
    let model = ctx.model;
    let c = &model.instance.components;
    let mut out = Built(Vec::new());
    out.push(Component::Namespace, None, vec![namespace::build(ctx)]);
    out.push(Component::Namespace, None, network_policy::build(ctx));
    let mut required_secrets = Vec::new();
    match ctx.secrets {
        Some(_) => out.push_with(Component::Secrets, None, secrets::build(ctx)?),
        None => required_secrets = secrets::required(ctx),
    }
    if c.postgres {
        out.push_with(Component::Postgres, None, patroni::build(ctx));
    }
    out.push(Component::BackupsVolume, None, vec![volumes::backups_pvc(ctx)]);
    if c.bootstrap {
        out.push(Component::Bootstrap, None, vec![bootstrap::build(ctx)]);
    }
    for p in model.projects_by_name() {
        let name = Some(p.name.as_str());
        match model.deployment(p) {
            Deployment::None => {}
            Deployment::VolumeOnly => out.push(Component::Volumes, name, vec![volumes::project_pvc(ctx, p)]),
            Deployment::Full => {
                out.push(Component::Volumes, name, vec![volumes::project_pvc(ctx, p)]);
                out.push(Component::Provision, name, vec![provision::build(ctx, p)]);
                out.push(Component::Sync, name, vec![sync::build(ctx, p)]);
                out.push(Component::Affiliations, name, vec![affiliations::build(ctx, p)]);
                // The Flagger Canary is an overlay of the component: it belongs to it (and
                // to `--only grafana`), but grafana.rs does not know delivery.
                let mut grafana = grafana::build(ctx, p);
                grafana.extend(delivery::grafana_canary(ctx, p.name.as_str()));
                out.push(Component::Grafana, name, grafana);
            }
        }
    }
    if c.affiliations_import.enabled {
        out.push(
            Component::AffiliationsImport,
            None,
            vec![affiliations::import(ctx)],
        );
    }
    if c.api {
        let mut api = api::build(ctx);
        api.extend(delivery::api_canary(ctx));
        out.push(Component::Api, None, api);
    }
    if c.ingress {
        out.push(Component::Ingress, None, ingress::build(ctx));
        out.push(Component::Ingress, None, gateway::build(ctx));
        out.push(
            Component::Ingress,
            None,
            cert_manager::issuer(ctx).into_iter().collect(),
        );
        let https = &model.instance.security.https;
        if model.instance.security.routing == devstats_model::hardening::Routing::Ingress
            && https.controller == devstats_model::hardening::IngressFlavor::Traefik
        {
            out.push(Component::Ingress, None, cert_manager::traefik_middlewares(ctx));
        }
        out.push(
            Component::Ingress,
            None,
            delivery::traefik_forward_auth(ctx).into_iter().collect(),
        );
    }
    if c.backups.enabled {
        out.push(Component::Backups, None, vec![backups::build(ctx)]);
    }
    if c.vacuum.enabled {
        out.push(Component::Vacuum, None, vec![backups::vacuum(ctx)]);
    }
    out.push(Component::BaseBackup, None, disaster_recovery::base_backup(ctx));
    out.push(
        Component::BackupsCopy,
        None,
        disaster_recovery::backups_copy(ctx).into_iter().collect(),
    );
    out.push(
        Component::RestoreDrill,
        None,
        disaster_recovery::restore_drill(ctx).into_iter().collect(),
    );
    if c.reports {
        out.push(Component::Reports, None, vec![reports::reports(ctx)]);
    }
    if c.tests {
        out.push(Component::Tests, None, vec![reports::tests(ctx)]);
    }
    if c.static_sites {
        for (foundation, object) in static_sites::build(ctx) {
            out.0.push(Rendered {
                policy: ApplyPolicy::of(Component::Static, &object),
                component: Component::Static,
                project: None,
                foundation,
                object,
            });
        }
    }
    let mut out = out.0;
    for object in monitoring::build(ctx, &out) {
        out.push(Rendered {
            policy: ApplyPolicy::of(Component::Monitoring, &object),
            component: Component::Monitoring,
            project: None,
            foundation: None,
            object,
        });
    }
    if security::hardened(ctx) {
        for r in &mut out {
            security::suppress(ctx, &mut r.object);
        }
    }
    Ok((canonical_order(out), required_secrets))
}

/// Sorts into apply order (phase, kind, name). Objects are large, so a permutation is sorted and
/// applied in place, cycle by cycle (each object swapped at most once per position; no second
/// vector of objects alive at the peak).
fn canonical_order(mut objects: Vec<Rendered>) -> Vec<Rendered> {
    let mut order: Vec<usize> = (0..objects.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&objects[a], &objects[b]);
        (a.policy.phase, a.object.typed_kind().rank, a.object.name()).cmp(&(
            b.policy.phase,
            b.object.typed_kind().rank,
            b.object.name(),
        ))
    });
    // Position k takes the object at order[k]; a done position is marked usize::MAX.
    for start in 0..order.len() {
        let mut cur = start;
        while order[cur] != usize::MAX {
            let src = order[cur];
            order[cur] = usize::MAX;
            if src == start {
                break;
            }
            objects.swap(cur, src);
            cur = src;
        }
    }
    objects
}
