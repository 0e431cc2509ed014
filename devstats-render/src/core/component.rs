//! The `--only` components and the [`Selection`] of what to render.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use devstats_model::{Model, Project};

use crate::core::error::{RenderError, SelectionProblem};

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
