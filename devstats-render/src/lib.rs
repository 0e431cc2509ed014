//! Pure functions from the DevStats model to Kubernetes objects (k8s-openapi types), one module per
//! DevStats component, a cross-object reference check, and output as YAML, JSON or one file per object.
//!
//! No IO, no async, no network: like kube-rs's `kube-core`. Output is deterministic: objects come in
//! apply order ([`Phase`], then kind, then name), maps are `BTreeMap`s, and project order in the
//! model file does not matter.
//!
//! # Layout
//!
//! The sources are layered; a folder is a layer, and a module imports only from its own layer
//! or lower ones, never in a circle (`tests/layers.rs` checks both):
//!
//! | layer | folder | what |
//! |---|---|---|
//! | 0 | `core/` | objects, kinds, apply policy and phase, names, labels, model facts, [`Ctx`], [`Rendered`] |
//! | 1 | `parts/` | pod security, tool-pod Jobs, PodDisruptionBudgets, autoscalers |
//! | 2 | `components/` | one file per `--only` component (`grafana.rs` builds the Grafana Deployments and Services, `sync.rs` the sync CronJobs, `patroni.rs` the database, …) |
//! | 3 | `routing/` | Ingresses, Gateway API routes, TLS, Traefik middlewares |
//! | 4 | `overlays/` | Flagger canaries, oauth2-proxy sign-in, NetworkPolicies |
//! | 5 | `check/` | the cross-object reference check |
//! | 6 | `output/` | YAML, JSON, files, the GitOps tree |
//!
//! This file is the assembly ([`render`] builds every component, checks references, selects)
//! and the crate's public facade below. How each object is applied, pruned and waited for is its
//! [`ApplyPolicy`] (`core/policy.rs`), set when it is built and carried on its [`Rendered`].

mod check;
mod components;
mod core;
pub mod output;
mod overlays;
mod parts;
mod routing;

// The public facade: the paths other crates (the CLI, the tests, the benches) use, kept stable
// whatever layer folder an item lives in.
pub use crate::check::refs;
pub use crate::components::{disaster_recovery, grafana_data, monitoring, operator};
pub use crate::core::component::{Component, Selection};
pub use crate::core::ctx::{Ctx, Rendered};
pub use crate::core::error::{BrokenReference, MissingSecretKey, RenderError, SelectionProblem};
pub use crate::core::facts::RequiredSecret;
pub use crate::core::kind::Kind;
pub use crate::core::object::{CustomResource, Object};
pub use crate::core::policy::{ApplyPolicy, Phase, PruneGuard, Ready, Write};
pub use crate::core::reference::{Reference, Via};
pub use crate::core::secret_value::{SecretValue, SecretValues};
pub use crate::core::{common, kind, quantity, resource};
pub use crate::output::gitops;

use devstats_model::{Deployment, Model};

use crate::components::{
    affiliations, api, backups, bootstrap, grafana, namespace, patroni, provision, reports, secrets,
    static_sites, sync, volumes,
};
use crate::overlays::{canary, network_policy, sign_in};
use crate::parts::security;
use crate::routing::{gateway, ingress, tls, traefik};

/// Render options.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// What to render.
    pub selection: Selection,
    /// Secret values (files named by key); without them Secrets are left out and listed as required.
    pub secrets: Option<SecretValues>,
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
    crate::check::refs::check(&all, &required_secrets)?;
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
                // to `--only grafana`), but grafana.rs does not know the canary overlay.
                let mut grafana = grafana::build(ctx, p);
                grafana.extend(canary::grafana_canary(ctx, p.name.as_str()));
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
        api.extend(canary::api_canary(ctx));
        out.push(Component::Api, None, api);
    }
    if c.ingress {
        out.push(Component::Ingress, None, ingress::build(ctx));
        out.push(Component::Ingress, None, gateway::build(ctx));
        out.push(Component::Ingress, None, tls::issuer(ctx).into_iter().collect());
        let https = &model.instance.security.https;
        if model.instance.security.routing == devstats_model::hardening::Routing::Ingress
            && https.controller == devstats_model::hardening::IngressFlavor::Traefik
        {
            out.push(Component::Ingress, None, traefik::traefik_middlewares(ctx));
        }
        out.push(
            Component::Ingress,
            None,
            sign_in::traefik_forward_auth(ctx).into_iter().collect(),
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
