//! Proptest strategies for generated, always-valid models (feature `testing`), shared by the
//! workspace's property tests.

use proptest::prelude::*;

use crate::{Foundation, Hostname, ImageRef, Instance, Model, Name, Project, ProjectStatus, Quantity, Role};

/// A minimal valid project.
#[must_use]
pub fn project(
    name: &str,
    order: Option<u32>,
    disk_gi: u32,
    foundations: Vec<Name>,
    archived: bool,
) -> Project {
    Project {
        name: Name::from(name),
        display_name: format!("Project {name}"),
        url: None,
        database: None,
        icon: None,
        main_repo: None,
        foundations,
        status: if archived {
            ProjectStatus::Archived
        } else {
            ProjectStatus::Active
        },
        maturity: None,
        order,
        disk: Quantity(format!("{disk_gi}Gi")),
        github: crate::GithubSelectors {
            orgs: vec![format!("{name}-org")],
            repos: vec![],
            regexps: vec![],
        },
        aliases: vec![],
        suspended: false,
        schedule: crate::ScheduleOverride::default(),
        max_history: 8,
        max_run_duration: None,
        durable_pq: true,
        no_durable: false,
        affiliations: crate::AffiliationSettings::default(),
        google_analytics: None,
    }
}

/// Two foundations, `alpha` (site `alpha`) and `beta` (site `b`).
#[must_use]
pub fn foundations() -> Vec<Foundation> {
    vec![
        Foundation {
            name: Name::from("alpha"),
            display_name: None,
            domain: Hostname::from("stats.alpha.org"),
            site: None,
            static_image: ImageRef::from("example/static-alpha:1"),
            aggregate: None,
        },
        Foundation {
            name: Name::from("beta"),
            display_name: Some("Beta Foundation".into()),
            domain: Hostname::from("stats.beta.org"),
            site: Some(Name::from("b")),
            static_image: ImageRef::from("example/static-beta:1"),
            aggregate: None,
        },
    ]
}

/// A synthetic instance with `n` active projects in `alpha` (every 7th also in `beta`).
#[must_use]
pub fn synthetic(n: usize) -> Model {
    let projects = (0..n)
        .map(|i| {
            let mut fs = vec![Name::from("alpha")];
            if i % 7 == 0 {
                fs.push(Name::from("beta"));
            }
            project(&format!("p{i:05}"), Some(i as u32), 3 + (i % 5) as u32, fs, false)
        })
        .collect();
    let mut instance = Instance::new("synthetic", "devstats-synthetic", Role::Prod, &["alpha", "beta"]);
    instance.schedules.first = None;
    instance.schedules.last = None;
    Model {
        instance,
        foundations: foundations(),
        projects,
    }
}

prop_compose! {
    /// A valid model with 1–40 projects, random foundations, order, status and role.
    pub fn arb_model()(
        names in proptest::collection::btree_set("[a-z][a-z0-9]{0,12}", 1..40),
        disks in proptest::collection::vec(1u32..500, 40),
        flags in proptest::collection::vec(any::<(bool, bool, bool)>(), 40),
        role in prop_oneof![Just(Role::Prod), Just(Role::Test)],
        replicas in 1u32..9,
    ) -> Model {
        let projects = names.iter().enumerate().map(|(i, n)| {
            let (in_beta, ordered, archived) = flags[i];
            let mut fs = vec![Name::from("alpha")];
            if in_beta { fs.push(Name::from("beta")); }
            project(n, ordered.then_some(i as u32), disks[i], fs, archived)
        }).collect();
        let mut instance = Instance::new("inst", "devstats-inst", role, &["alpha", "beta"]);
        instance.schedules.first = None;
        instance.schedules.last = None;
        instance.patroni.replicas = replicas;
        instance.storage.postgres_size = Quantity::from("100Gi");
        Model { instance, foundations: foundations(), projects }
    }
}
