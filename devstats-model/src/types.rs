//! The typed DevStats model: one [`Model`] file describes an [`Instance`] (one deployed stack), the
//! [`Foundation`]s it knows and the [`Project`]s with their GitHub repositories.
//!
//! Defaults are those of the `cncf/devstats-helm` chart, so a model only states what differs.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::schedule;
/// CPU and memory settings live in `values` (the area modules use them); re-exported here, where
/// they always were.
pub use crate::values::{CpuMemory, ResourceSpec};
use crate::values::{
    CronSchedule, DbName, Hostname, ImageRef, Name, PgDuration, PgSize, Quantity, RepoName, RunLimits,
};

fn is_false(b: &bool) -> bool {
    !*b
}
fn is_true(b: &bool) -> bool {
    *b
}
fn yes() -> bool {
    true
}
fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// A whole model file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Model {
    /// The deployed stack: namespace, ingress, images, storage, database, components.
    pub instance: Instance,
    /// Foundations (CNCF, CDF, GraphQL, test …): each has a domain and a static site.
    pub foundations: Vec<Foundation>,
    /// Projects: one DevStats instance (database, Grafana, sync jobs) each.
    pub projects: Vec<Project>,
}

/// Test or production behaviour of the DevStats tools (`TEST_SERVER` / `PROD_SERVER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// A test server: `TEST_SERVER=1`, schedules shifted by half a period.
    Test,
    /// The production server: `PROD_SERVER=1`.
    Prod,
}

/// One deployed DevStats stack (what the chart calls test or prod server).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Instance {
    /// Short name of the instance, e.g. `prod`.
    pub name: Name,
    /// Namespace every object goes to, e.g. `devstats-prod`.
    pub namespace: Name,
    /// Test or production behaviour.
    pub role: Role,
    /// Foundations whose projects and sites this instance serves.
    pub foundations: Vec<Name>,
    /// Which projects of the served foundations it deploys (all of them when unset).
    #[serde(default, skip_serializing_if = "ProjectSelection::is_all")]
    pub projects: ProjectSelection,
    /// Ingress, hosts and TLS certificates.
    #[serde(default)]
    pub ingress: IngressSettings,
    /// Container images.
    #[serde(default)]
    pub images: Images,
    /// Storage classes and sizes.
    #[serde(default)]
    pub storage: Storage,
    /// Node selectors per workload group.
    #[serde(default)]
    pub node_selectors: NodeSelectors,
    /// CPU and memory per component; `null` leaves a component without a resources block.
    #[serde(default)]
    pub resources: Resources,
    /// Replica counts and rollout settings.
    #[serde(default)]
    pub replicas: Replicas,
    /// Names of the Secrets the workloads read (values never live in the model).
    #[serde(default)]
    pub secrets: SecretNames,
    /// The Patroni PostgreSQL cluster.
    #[serde(default)]
    pub patroni: Patroni,
    /// Optional and singleton components.
    #[serde(default)]
    pub components: Components,
    /// How sync and affiliations schedules are computed.
    #[serde(default)]
    pub schedules: ScheduleSettings,
    /// Settings passed to the DevStats tools as environment variables.
    #[serde(default)]
    pub tools: ToolSettings,
    /// Layout and contents of the Flux repository tree (`render --gitops`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub gitops: GitOps,
    /// Production hardening: secured pods, zero-downtime rollouts, autoscaling, isolation, HTTPS
    /// (`docs/security.md`). Unset: the hardened defaults; the Helm import writes the
    /// chart-compatible settings.
    #[serde(default, skip_serializing_if = "is_default")]
    pub security: crate::hardening::Security,
    /// Backups and disaster recovery: WAL archiving and base backups to object storage, dump
    /// retention and off-site copy, restore drill (`docs/backup-and-restore.md`). Unset:
    /// everything off, as the chart.
    #[serde(default, skip_serializing_if = "crate::backup::DisasterRecovery::is_default")]
    pub disaster_recovery: crate::backup::DisasterRecovery,
    /// Metrics, alerts and ops dashboards for the prometheus-operator (`docs/metrics.md`).
    /// Unset: off.
    #[serde(default, skip_serializing_if = "crate::monitoring::Monitoring::is_default")]
    pub monitoring: crate::monitoring::Monitoring,
    /// oauth2-proxy sign-in in front of chosen hosts (`docs/security.md`). Unset: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_proxy: Option<crate::delivery::AuthProxy>,
    /// Flagger canary releases of the API and project Grafanas (`docs/delivery.md`). Unset: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub canary: Option<crate::delivery::Canary>,
}

impl Instance {
    /// An instance with the chart's defaults for everything but its identity.
    #[must_use]
    pub fn new(name: &str, namespace: &str, role: Role, foundations: &[&str]) -> Self {
        Self {
            name: Name::from(name),
            namespace: Name::from(namespace),
            role,
            foundations: foundations.iter().map(|f| Name::from(*f)).collect(),
            projects: ProjectSelection::default(),
            ingress: IngressSettings::default(),
            images: Images::default(),
            storage: Storage::default(),
            node_selectors: NodeSelectors::default(),
            resources: Resources::default(),
            replicas: Replicas::default(),
            secrets: SecretNames::default(),
            patroni: Patroni::default(),
            components: Components::default(),
            schedules: ScheduleSettings::default(),
            tools: ToolSettings::default(),
            gitops: GitOps::default(),
            security: crate::hardening::Security::chart_compatible(),
            disaster_recovery: crate::backup::DisasterRecovery::default(),
            monitoring: crate::monitoring::Monitoring::default(),
            auth_proxy: None,
            canary: None,
        }
    }
}

/// Which projects of the served foundations an instance deploys: e.g. a test environment that
/// serves only a few projects of a foundation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ProjectSelection {
    /// Deploy only these projects (every project of the served foundations when empty).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<Name>,
    /// Never deploy these projects.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<Name>,
}

impl ProjectSelection {
    /// True when every project of the served foundations is deployed.
    #[must_use]
    pub fn is_all(&self) -> bool {
        self.only.is_empty() && self.exclude.is_empty()
    }

    /// Whether the project named `name` is selected.
    #[must_use]
    pub fn includes(&self, name: &Name) -> bool {
        (self.only.is_empty() || self.only.contains(name)) && !self.exclude.contains(name)
    }
}

/// The Flux repository tree that `render --gitops` writes (see `docs/environments.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct GitOps {
    /// The Git repository Flux reads the tree from.
    pub repository: GitRepositorySettings,
    /// Directory of the tree inside the repository (empty: the repository root), e.g. `deploy`.
    pub path: String,
    /// How often Flux reconciles each Kustomization, e.g. `10m`.
    pub interval: String,
    /// How the Secrets the workloads read appear in the tree (never as plaintext).
    pub secrets: GitOpsSecrets,
    /// Third-party controllers the deployment needs, as Flux HelmReleases under `infrastructure/`.
    pub infrastructure: Infrastructure,
    /// What Flux applies: the rendered objects (default), or the operator's install and one
    /// `DevStats` resource that the operator in the cluster reconciles.
    #[serde(skip_serializing_if = "GitOpsCarries::is_objects")]
    pub carries: GitOpsCarries,
}

/// What the GitOps tree of an environment holds for Flux to apply.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum GitOpsCarries {
    /// The rendered objects, one Flux Kustomization per apply phase (`apps/<env>/<phase>/`).
    #[default]
    Objects,
    /// The operator's install (`apps/<env>/operator/`) and the environment's `DevStats`
    /// resource with its Namespace and Secrets (`apps/<env>/resource/`): Flux applies those, the
    /// operator applies the objects.
    Resource,
}

impl GitOpsCarries {
    /// Whether it is [`GitOpsCarries::Objects`] (the default, left out when written).
    #[must_use]
    pub fn is_objects(&self) -> bool {
        *self == GitOpsCarries::Objects
    }
}

impl Default for GitOps {
    fn default() -> Self {
        Self {
            repository: GitRepositorySettings::default(),
            path: String::new(),
            interval: "10m".into(),
            secrets: GitOpsSecrets::Omit,
            infrastructure: Infrastructure::default(),
            carries: GitOpsCarries::Objects,
        }
    }
}

/// The Git repository of the GitOps tree (a Flux `GitRepository`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct GitRepositorySettings {
    /// Clone URL, e.g. `https://github.com/cncf/devstats-deploy` or `ssh://git@github.com/cncf/devstats-deploy`.
    pub url: String,
    /// Branch Flux follows.
    pub branch: String,
    /// How often Flux fetches the repository, e.g. `5m`.
    pub interval: String,
    /// Secret in `flux-system` holding the credentials of a private repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<Name>,
}

impl Default for GitRepositorySettings {
    fn default() -> Self {
        Self {
            url: "https://github.com/cncf/devstats-deploy".into(),
            branch: "main".into(),
            interval: "5m".into(),
            secret_ref: None,
        }
    }
}

/// How Secrets appear in the GitOps tree. Secret values never do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum GitOpsSecrets {
    /// Leave Secrets out; `apps/<env>/SECRETS.md` lists what must exist before the first sync.
    #[default]
    Omit,
    /// One `ExternalSecret` (`external-secrets.io/v1`) per Secret, read from an external store.
    ExternalSecret(ExternalSecretSettings),
    /// One `SealedSecret` placeholder per Secret, written once, for the operator to seal.
    SealedSecretPlaceholder,
}

/// Where External Secrets Operator reads the Secrets from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExternalSecretSettings {
    /// The `SecretStore` or `ClusterSecretStore` to read from.
    pub store: Name,
    /// Kind of the store.
    #[serde(default)]
    pub kind: SecretStoreKind,
    /// Prefix of the remote keys: Secret `pg-db` is read from remote key `{prefix}pg-db`, one
    /// property per Secret key.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_key_prefix: String,
    /// How often the Secrets are refreshed from the store, e.g. `1h`.
    #[serde(default = "one_hour")]
    pub refresh_interval: String,
}

fn one_hour() -> String {
    "1h".into()
}

/// Kind of an External Secrets Operator store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum SecretStoreKind {
    /// A namespaced `SecretStore` in the instance namespace.
    SecretStore,
    /// A cluster-wide `ClusterSecretStore`.
    #[default]
    ClusterSecretStore,
}

impl SecretStoreKind {
    /// The Kubernetes kind.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SecretStore => "SecretStore",
            Self::ClusterSecretStore => "ClusterSecretStore",
        }
    }
}

/// An ingress controller installed by the GitOps tree, serving the instance's ingress class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum IngressController {
    /// ingress-nginx (kubernetes/ingress-nginx; retired upstream, prefer traefik for new clusters).
    IngressNginx,
    /// Traefik (Ingress provider).
    Traefik,
}

/// Third-party controllers rendered as Flux `HelmRelease`s (all off by default). Cluster-wide
/// controllers (cert-manager, prometheus-operator, External Secrets, Sealed Secrets) belong to one
/// environment per cluster; an ingress controller serves one ingress class.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Infrastructure {
    /// cert-manager (issues the Ingresses' certificates).
    pub cert_manager: bool,
    /// An ingress controller for `ingress.className` (none when unset).
    pub ingress_controller: Option<IngressController>,
    /// kube-prometheus-stack (prometheus-operator, Prometheus, Alertmanager, Grafana).
    pub prometheus_operator: bool,
    /// External Secrets Operator (for `secrets: {externalSecret: …}`).
    pub external_secrets: bool,
    /// Sealed Secrets controller (for `secrets: sealedSecretPlaceholder`).
    pub sealed_secrets: bool,
    /// Helm chart versions (semver ranges Flux resolves).
    pub versions: ChartVersions,
}

/// Helm chart versions of the infrastructure controllers (semver ranges, e.g. `1.18.x`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ChartVersions {
    /// Chart `cert-manager` (charts.jetstack.io).
    pub cert_manager: String,
    /// Chart `ingress-nginx`.
    pub ingress_nginx: String,
    /// Chart `traefik`.
    pub traefik: String,
    /// Chart `kube-prometheus-stack`.
    pub kube_prometheus_stack: String,
    /// Chart `external-secrets`.
    pub external_secrets: String,
    /// Chart `sealed-secrets`.
    pub sealed_secrets: String,
}

impl Default for ChartVersions {
    fn default() -> Self {
        Self {
            cert_manager: "1.18.x".into(),
            ingress_nginx: "4.13.x".into(),
            traefik: "37.x".into(),
            kube_prometheus_stack: "77.x".into(),
            external_secrets: "0.19.x".into(),
            sealed_secrets: "2.17.x".into(),
        }
    }
}

/// Which cert-manager issuer kind signs the certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum IssuerKind {
    /// A namespaced `Issuer` (annotation `cert-manager.io/issuer`).
    #[default]
    Issuer,
    /// A `ClusterIssuer` (annotation `cert-manager.io/cluster-issuer`).
    ClusterIssuer,
}

/// A reference to a cert-manager issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssuerRef {
    /// Issuer or ClusterIssuer.
    #[serde(default)]
    pub kind: IssuerKind,
    /// Its name, e.g. `letsencrypt-prod`.
    pub name: Name,
}

/// Ingress, hosts and TLS.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct IngressSettings {
    /// `spec.ingressClassName` and the ACME HTTP-01 ingress class.
    pub class_name: Name,
    /// cert-manager issuer of the certificates.
    pub issuer: IssuerRef,
    /// Project hosts per certificate (Let's Encrypt allows 100 SANs; smaller limits blast radius).
    pub max_hosts_per_certificate: u32,
    /// Serve project aliases as extra hosts.
    pub aliases: bool,
    /// Route `<domain>/api/` to the API on every bare domain.
    pub api_path: String,
    /// Route the bare domains' API path to the API.
    pub api_on_bare_domains: bool,
}

impl Default for IngressSettings {
    fn default() -> Self {
        Self {
            class_name: Name::from("nginx-test"),
            issuer: IssuerRef {
                kind: IssuerKind::Issuer,
                name: Name::from("letsencrypt-prod"),
            },
            max_hosts_per_certificate: 35,
            aliases: true,
            api_path: "/api/".into(),
            api_on_bare_domains: true,
        }
    }
}

/// Kubernetes image pull policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
pub enum PullPolicy {
    /// Always pull.
    #[default]
    Always,
    /// Pull when not present on the node.
    IfNotPresent,
    /// Never pull.
    Never,
}

impl PullPolicy {
    /// The Kubernetes spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Always => "Always",
            Self::IfNotPresent => "IfNotPresent",
            Self::Never => "Never",
        }
    }
}

/// Container images per component.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Images {
    /// Pull policy of every container.
    pub pull_policy: PullPolicy,
    /// Provisioning and bootstrap jobs.
    pub provision: ImageRef,
    /// Sync CronJobs.
    pub sync: ImageRef,
    /// Affiliations CronJobs and the shared affiliations import.
    pub affiliations: ImageRef,
    /// Grafana Deployments.
    pub grafana: ImageRef,
    /// The API.
    pub api: ImageRef,
    /// The default static site (foundation sites have their own image).
    pub static_default: ImageRef,
    /// Patroni/PostgreSQL.
    pub postgres: ImageRef,
    /// The backups CronJob.
    pub backups: ImageRef,
    /// The vacuum CronJob.
    pub vacuum: ImageRef,
    /// The reports pod.
    pub reports: ImageRef,
    /// The tests pod.
    pub tests: ImageRef,
}

impl Images {
    /// Every image with its field name in the model file (`instance.images.<name>`).
    #[must_use]
    pub fn named(&self) -> [(&'static str, &ImageRef); 11] {
        [
            ("provision", &self.provision),
            ("sync", &self.sync),
            ("affiliations", &self.affiliations),
            ("grafana", &self.grafana),
            ("api", &self.api),
            ("staticDefault", &self.static_default),
            ("postgres", &self.postgres),
            ("backups", &self.backups),
            ("vacuum", &self.vacuum),
            ("reports", &self.reports),
            ("tests", &self.tests),
        ]
    }

    /// Every image of the instance, mutable (e.g. to pin them all to one tag).
    pub fn all_mut(&mut self) -> [&mut ImageRef; 11] {
        [
            &mut self.provision,
            &mut self.sync,
            &mut self.affiliations,
            &mut self.grafana,
            &mut self.api,
            &mut self.static_default,
            &mut self.postgres,
            &mut self.backups,
            &mut self.vacuum,
            &mut self.reports,
            &mut self.tests,
        ]
    }
}

impl Default for Images {
    fn default() -> Self {
        let i = |s: &str| ImageRef(format!("lukaszgryglicki/{s}"));
        Self {
            pull_policy: PullPolicy::Always,
            provision: i("devstats-prod"),
            sync: i("devstats-minimal-prod"),
            affiliations: i("devstats-prod"),
            grafana: i("devstats-grafana"),
            api: i("devstats-api-test"),
            static_default: i("devstats-static-default"),
            postgres: i("devstats-patroni-18-hll"),
            backups: i("devstats-test"),
            vacuum: i("devstats-test"),
            reports: i("devstats-reports"),
            tests: i("devstats-tests"),
        }
    }
}

/// PersistentVolumeClaim access mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AccessMode {
    /// Mounted read-write by one node.
    ReadWriteOnce,
    /// Mounted read-write by many nodes.
    ReadWriteMany,
    /// Mounted read-only by many nodes.
    ReadOnlyMany,
    /// Mounted read-write by one pod.
    ReadWriteOncePod,
}

impl AccessMode {
    /// The Kubernetes spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ReadWriteOnce => "ReadWriteOnce",
            Self::ReadWriteMany => "ReadWriteMany",
            Self::ReadOnlyMany => "ReadOnlyMany",
            Self::ReadWriteOncePod => "ReadWriteOncePod",
        }
    }
}

/// Storage classes and sizes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Storage {
    /// Storage class of project volumes and of the database.
    pub class_name: String,
    /// Access mode of project volumes and of the database.
    pub access_mode: AccessMode,
    /// Size of each PostgreSQL member's volume.
    pub postgres_size: Quantity,
    /// The shared backups volume (mounted by Grafana, static sites, backups, reports).
    pub backups: BackupsVolume,
}

/// The shared backups volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupsVolume {
    /// Storage class (must support the access mode; the chart uses an NFS class for RWX).
    pub class_name: String,
    /// Access mode.
    pub access_mode: AccessMode,
    /// Size.
    pub size: Quantity,
}

impl Default for Storage {
    fn default() -> Self {
        Self {
            class_name: "openebs-hostpath".into(),
            access_mode: AccessMode::ReadWriteOnce,
            postgres_size: Quantity::from("23000Gi"),
            backups: BackupsVolume {
                class_name: "nfs-openebs-localstorage".into(),
                access_mode: AccessMode::ReadWriteMany,
                size: Quantity::from("2Ti"),
            },
        }
    }
}

/// Node selectors per workload group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct NodeSelectors {
    /// Application workloads: jobs, Grafana, API.
    pub app: BTreeMap<String, String>,
    /// Database nodes: Patroni and the reports pod.
    pub db: BTreeMap<String, String>,
    /// The backups CronJob.
    pub backups: BTreeMap<String, String>,
    /// Static sites (the chart sets none).
    pub static_sites: BTreeMap<String, String>,
}

impl Default for NodeSelectors {
    fn default() -> Self {
        let one = |k: &str, v: &str| BTreeMap::from([(k.to_owned(), v.to_owned())]);
        Self {
            app: one("node", "devstats-app"),
            db: one("node2", "devstats-db"),
            backups: one("node", "devstats-app"),
            static_sites: BTreeMap::new(),
        }
    }
}

fn res(rc: &str, rm: &str, lc: &str, lm: &str) -> Option<ResourceSpec> {
    Some(ResourceSpec {
        requests: CpuMemory {
            cpu: rc.into(),
            memory: rm.into(),
        },
        limits: CpuMemory {
            cpu: lc.into(),
            memory: lm.into(),
        },
    })
}

/// Resources per component (chart defaults; `null` = no resources block).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Resources {
    /// Provisioning jobs.
    pub provision: Option<ResourceSpec>,
    /// The bootstrap job.
    pub bootstrap: Option<ResourceSpec>,
    /// Sync CronJobs.
    pub sync: Option<ResourceSpec>,
    /// Affiliations CronJobs.
    pub affiliations: Option<ResourceSpec>,
    /// Grafana Deployments.
    pub grafana: Option<ResourceSpec>,
    /// The API.
    pub api: Option<ResourceSpec>,
    /// Static sites.
    pub static_sites: Option<ResourceSpec>,
    /// The backups CronJob.
    pub backups: Option<ResourceSpec>,
    /// The vacuum CronJob.
    pub vacuum: Option<ResourceSpec>,
    /// The reports pod.
    pub reports: Option<ResourceSpec>,
    /// Patroni/PostgreSQL members.
    pub postgres: Option<ResourceSpec>,
}

impl Default for Resources {
    fn default() -> Self {
        Self {
            provision: res("1000m", "4Gi", "10000m", "256Gi"),
            bootstrap: res("1000m", "1Gi", "8000m", "32Gi"),
            sync: res("1000m", "2Gi", "6000m", "256Gi"),
            affiliations: res("1000m", "2Gi", "10000m", "256Gi"),
            grafana: res("50m", "256Mi", "1000m", "2Gi"),
            api: res("1000m", "512Mi", "4000m", "6Gi"),
            static_sites: res("500m", "512Mi", "2000m", "4Gi"),
            backups: res("1000m", "1Gi", "4000m", "100Gi"),
            vacuum: res("200m", "256Mi", "500m", "2Gi"),
            reports: res("1000m", "1Gi", "2000m", "16Gi"),
            postgres: res("32000m", "128Gi", "160000m", "1Ti"),
        }
    }
}

/// Replica counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Replicas {
    /// Replicas of each project's Grafana.
    pub grafana: u32,
    /// Replicas of the API.
    pub api: u32,
    /// Replicas of each static site.
    pub static_sites: u32,
}

impl Default for Replicas {
    fn default() -> Self {
        Self {
            grafana: 1,
            api: 1,
            static_sites: 1,
        }
    }
}

/// Names of the Secrets; their values are supplied at apply time, never in the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct SecretNames {
    /// PostgreSQL connection and passwords (`PG_*.secret` keys).
    pub postgres: Name,
    /// GitHub OAuth token(s) (`GHA2DB_GITHUB_OAUTH.secret`).
    pub github: Name,
    /// Grafana admin credentials (`GF_SECURITY_ADMIN_*.secret`).
    pub grafana: Name,
}

impl Default for SecretNames {
    fn default() -> Self {
        Self {
            postgres: Name::from("pg-db"),
            github: Name::from("github-oauth"),
            grafana: Name::from("grafana-secret"),
        }
    }
}

/// PostgreSQL WAL level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum WalLevel {
    /// Minimal WAL (no replication).
    Minimal,
    /// Physical replication (the default).
    #[default]
    Replica,
    /// Logical decoding.
    Logical,
}

/// The Patroni PostgreSQL cluster (StatefulSet `devstats-postgres`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Patroni {
    /// Cluster members (one per node: required anti-affinity).
    pub replicas: u32,
    /// Patroni `loop_wait` seconds.
    pub loop_wait: u32,
    /// Patroni `ttl` seconds (must be ≥ loop_wait + 2 × retry_timeout).
    pub ttl: u32,
    /// Patroni `retry_timeout` seconds.
    pub retry_timeout: u32,
    /// Patroni `master_start_timeout` seconds.
    pub master_start_timeout: u32,
    /// Patroni `maximum_lag_on_failover` bytes (an integer, never a float).
    pub maximum_lag_on_failover: u64,
    /// PostgreSQL parameters rendered into Patroni's local configuration.
    pub postgres: PostgresParameters,
    /// The Patroni env exactly as a live chart install has it, so that taking the chart's
    /// StatefulSet over restarts no database pod (`import-helm` writes it when the chart's env
    /// differs from what the fields above render). Remove it after the takeover to roll out the
    /// fields above (one rolling restart of `devstats-postgres`; docs/helm-parity.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chart_env: Option<PatroniChartEnv>,
}

/// The chart's literal Patroni env values kept for a takeover (see [`Patroni::chart_env`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PatroniChartEnv {
    /// `PATRONI_RETRY_TIMEOUT` as installed (the chart's 60 breaks Patroni's rule
    /// `loop_wait + 2 × retry_timeout <= ttl`; `retryTimeout` holds the value to move to).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_timeout: Option<u32>,
    /// `PATRONI_MAXIMUM_LAG_ON_FAILOVER` in Helm's float64 form (`5.36870912e+10`), as the chart
    /// renders a number from its values file.
    pub float_maximum_lag: bool,
}

impl Default for Patroni {
    fn default() -> Self {
        Self {
            replicas: 6,
            loop_wait: 15,
            ttl: 60,
            retry_timeout: 20,
            master_start_timeout: 600,
            maximum_lag_on_failover: 53_687_091_200,
            postgres: PostgresParameters::default(),
            chart_env: None,
        }
    }
}

/// PostgreSQL parameters (the `PATRONI_POSTGRES_*` variables of the DevStats Patroni image).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PostgresParameters {
    /// `shared_buffers`.
    pub shared_buffers: PgSize,
    /// `max_connections`.
    pub max_connections: u32,
    /// `max_parallel_workers_per_gather`.
    pub max_parallel_workers_per_gather: u32,
    /// `max_worker_processes`.
    pub max_worker_processes: u32,
    /// `max_parallel_workers`.
    pub max_parallel_workers: u32,
    /// `work_mem`.
    pub work_mem: PgSize,
    /// `wal_buffers`.
    pub wal_buffers: PgSize,
    /// `temp_file_limit`.
    pub max_temp_file: PgSize,
    /// Use replication slots.
    pub use_slots: bool,
    /// `hot_standby`.
    pub hot_standby: bool,
    /// `hot_standby_feedback`.
    pub hot_standby_feedback: bool,
    /// `wal_log_hints`.
    pub wal_log_hints: bool,
    /// `wal_keep_size`.
    pub wal_keep_size: PgSize,
    /// `wal_level`.
    pub wal_level: WalLevel,
    /// `max_wal_senders`.
    pub max_wal_senders: u32,
    /// `max_replication_slots`.
    pub max_replication_slots: u32,
    /// `autovacuum_max_workers`.
    pub autovacuum_max_workers: u32,
    /// `autovacuum_naptime`.
    pub autovacuum_naptime: PgDuration,
    /// `autovacuum_vacuum_cost_limit`.
    pub autovacuum_vacuum_cost_limit: u32,
    /// `autovacuum_vacuum_threshold`.
    pub autovacuum_vacuum_threshold: u32,
    /// `autovacuum_vacuum_scale_factor`.
    pub autovacuum_vacuum_scale_factor: f64,
    /// `autovacuum_analyze_threshold`.
    pub autovacuum_analyze_threshold: u32,
    /// `autovacuum_analyze_scale_factor`.
    pub autovacuum_analyze_scale_factor: f64,
    /// `maintenance_work_mem`.
    pub maintenance_work_mem: PgSize,
    /// `idle_in_transaction_session_timeout`.
    pub idle_transaction_timeout: PgDuration,
    /// `max_wal_size`.
    pub max_wal_size: PgSize,
    /// `min_wal_size`.
    pub min_wal_size: PgSize,
    /// `checkpoint_completion_target`.
    pub checkpoint_completion_target: f64,
    /// `default_statistics_target`.
    pub default_statistics_target: u32,
    /// `effective_cache_size`.
    pub cache_size: PgSize,
    /// `effective_io_concurrency`.
    pub io_concurrency: u32,
    /// `random_page_cost`.
    pub random_page_cost: f64,
}

impl Default for PostgresParameters {
    fn default() -> Self {
        let s = |v: &str| PgSize::from(v);
        Self {
            shared_buffers: s("500GB"),
            max_connections: 1024,
            max_parallel_workers_per_gather: 28,
            max_worker_processes: 32,
            max_parallel_workers: 32,
            work_mem: s("8GB"),
            wal_buffers: s("1GB"),
            max_temp_file: s("200GB"),
            use_slots: true,
            hot_standby: true,
            hot_standby_feedback: true,
            wal_log_hints: true,
            wal_keep_size: s("100GB"),
            wal_level: WalLevel::Replica,
            max_wal_senders: 10,
            max_replication_slots: 10,
            autovacuum_max_workers: 1,
            autovacuum_naptime: PgDuration::from("120s"),
            autovacuum_vacuum_cost_limit: 100,
            autovacuum_vacuum_threshold: 150,
            autovacuum_vacuum_scale_factor: 0.25,
            autovacuum_analyze_threshold: 100,
            autovacuum_analyze_scale_factor: 0.2,
            maintenance_work_mem: s("2GB"),
            idle_transaction_timeout: PgDuration::from("30min"),
            max_wal_size: s("128GB"),
            min_wal_size: s("4GB"),
            checkpoint_completion_target: 0.9,
            default_statistics_target: 1000,
            cache_size: s("256GB"),
            io_concurrency: 8,
            random_page_cost: 1.1,
        }
    }
}

/// History limits and deadline of a CronJob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CronPolicy {
    /// `successfulJobsHistoryLimit`.
    pub successful_jobs_history: u32,
    /// `failedJobsHistoryLimit`.
    pub failed_jobs_history: u32,
    /// `startingDeadlineSeconds`.
    pub starting_deadline_seconds: u32,
}

impl CronPolicy {
    const fn new(
        successful_jobs_history: u32,
        failed_jobs_history: u32,
        starting_deadline_seconds: u32,
    ) -> Self {
        Self {
            successful_jobs_history,
            failed_jobs_history,
            starting_deadline_seconds,
        }
    }
}

/// Giant-lock mode of a DevStats job (`GIANT`): coordination through a database flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum GiantMode {
    /// Take the giant lock.
    Lock,
    /// Wait while the giant lock is held.
    Wait,
    /// Ignore the giant lock.
    #[default]
    None,
}

impl GiantMode {
    /// The `GIANT` value.
    #[must_use]
    pub fn env_value(self) -> &'static str {
        match self {
            Self::Lock => "lock",
            Self::Wait => "wait",
            Self::None => "",
        }
    }
}

/// Singletons and optional components.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Components {
    /// Patroni PostgreSQL (ServiceAccount, RBAC, Services, StatefulSet).
    pub postgres: bool,
    /// The bootstrap job that creates the logs database, users and grants.
    pub bootstrap: bool,
    /// The API Deployment and Service.
    pub api: bool,
    /// Static sites (default and per foundation).
    pub static_sites: bool,
    /// Ingresses.
    pub ingress: bool,
    /// Sync CronJob policy.
    pub sync: CronPolicy,
    /// Affiliations CronJob policy.
    pub affiliations: CronPolicy,
    /// The logical backups CronJob.
    pub backups: BackupsJob,
    /// The shared affiliations import CronJob.
    pub affiliations_import: ScheduledJob,
    /// The vacuum CronJob (Patroni's autovacuum usually suffices).
    pub vacuum: ScheduledJob,
    /// The reports pod (a shell box on a DB node).
    pub reports: bool,
    /// The tests pod.
    pub tests: bool,
}

impl Default for Components {
    fn default() -> Self {
        Self {
            postgres: true,
            bootstrap: true,
            api: true,
            static_sites: true,
            ingress: true,
            sync: CronPolicy::new(2, 1, 180),
            affiliations: CronPolicy::new(2, 1, 300),
            backups: BackupsJob::default(),
            affiliations_import: ScheduledJob {
                enabled: false,
                schedule: CronSchedule::from("10 2 * * *"),
                policy: CronPolicy::new(2, 1, 300),
            },
            vacuum: ScheduledJob {
                enabled: false,
                schedule: CronSchedule::from("0 0 * * 6"),
                policy: CronPolicy::new(1, 1, 300),
            },
            reports: false,
            tests: false,
        }
    }
}

/// A singleton CronJob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScheduledJob {
    /// Render it.
    pub enabled: bool,
    /// Cron schedule (UTC).
    pub schedule: CronSchedule,
    /// History and deadline.
    pub policy: CronPolicy,
}

/// The logical backups CronJob (`pg_dump` of every database into the backups volume).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackupsJob {
    /// Render it.
    pub enabled: bool,
    /// Cron schedule (UTC).
    pub schedule: CronSchedule,
    /// Suspend it.
    #[serde(default)]
    pub suspend: bool,
    /// Which database list the script backs up (defaults to the instance's role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Back up only these projects (`ONLY`); empty = all.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only_projects: Vec<Name>,
    /// Skip the random-age full dumps (`NOAGE`).
    #[serde(default)]
    pub no_age: bool,
    /// Giant-lock mode.
    pub giant: GiantMode,
    /// Job `backoffLimit`.
    pub backoff_limit: u32,
    /// History and deadline.
    pub policy: CronPolicy,
}

impl Default for BackupsJob {
    fn default() -> Self {
        Self {
            enabled: true,
            schedule: CronSchedule::from("45 3 29 * *"),
            suspend: false,
            role: None,
            only_projects: Vec::new(),
            no_age: false,
            giant: GiantMode::Wait,
            backoff_limit: 10,
            policy: CronPolicy::new(2, 1, 300),
        }
    }
}

/// Length of one schedule rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RotationPeriod {
    /// Affiliations rotate over 7 days.
    Weekly,
    /// Affiliations rotate over 28 days.
    #[default]
    Monthly,
}

/// A project with a reserved slot at the start or end of the affiliations rotation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReservedSlot {
    /// The project.
    pub project: Name,
    /// Hours reserved for it.
    pub hours: u32,
}

/// How sync and affiliations schedules are computed (the `splitcrons` algorithm).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ScheduleSettings {
    /// Affiliations rotation period.
    pub period: RotationPeriod,
    /// Each project syncs every this many hours (must divide 24).
    pub sync_every_hours: u32,
    /// Minutes after the hour before syncing (GH Archive publishing lag).
    pub gha_offset_minutes: u32,
    /// Shift of the rotation start in hours (negative = earlier).
    pub offset_hours: i32,
    /// Reserved slot at the start of the rotation (the biggest project).
    pub first: Option<ReservedSlot>,
    /// Reserved slot at the end of the rotation (the aggregate project).
    pub last: Option<ReservedSlot>,
}

impl Default for ScheduleSettings {
    fn default() -> Self {
        Self {
            period: RotationPeriod::Monthly,
            sync_every_hours: 6,
            gha_offset_minutes: 4,
            offset_hours: -4,
            first: Some(ReservedSlot {
                project: Name::from("kubernetes"),
                hours: 36,
            }),
            last: Some(ReservedSlot {
                project: Name::from("all"),
                hours: 36,
            }),
        }
    }
}

/// Settings of the DevStats tools, passed as environment variables. Flags render as `'1'` or `''`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ToolSettings {
    /// `GHA2DB_PROJECTS_YAML`: projects file inside the images.
    pub projects_file: String,
    /// `GHA2DB_PROJECTS_OVERRIDE`, e.g. `+cncf,+opencontainers` to enable disabled projects.
    pub projects_override: String,
    /// `RESTORE_FROM`: where provisioning restores backups from.
    pub restore_from: String,
    /// `GHA2DB_AFFILIATIONS_JSON`.
    pub affiliations_json: String,
    /// `GHA2DB_COMPANY_ACQ_YAML`.
    pub company_acquisitions: String,
    /// `GHA2DB_AFFILIATIONS_DB`: the shared affiliations database.
    pub affiliations_database: String,
    /// `GHA2DB_FETCH_COMMITS_MODE`.
    pub fetch_commits_mode: u32,
    /// `GHA2DB_GIT_COMMITS_BATCH`.
    pub git_commits_batch: u32,
    /// `GHA2DB_NCPUS` for provisioning and bootstrap (unset = autodetect).
    pub provision_cpus: Option<u32>,
    /// `GHA2DB_NCPUS` for sync jobs.
    pub sync_cpus: Option<u32>,
    /// `GHA2DB_NCPUS` for affiliations jobs.
    pub affiliations_cpus: Option<u32>,
    /// `GIANT` of the bootstrap job.
    pub giant_bootstrap: GiantMode,
    /// `GIANT` of provisioning jobs.
    pub giant_provision: GiantMode,
    /// `GIANT` of sync jobs.
    pub giant_sync: GiantMode,
    /// `GIANT` of affiliations jobs and the import.
    pub giant_affiliations: GiantMode,
    /// `WAITBOOT` of provisioning: seconds to wait for bootstrap.
    pub wait_for_bootstrap_seconds: u32,
    /// `WAITBOOT` of bootstrap: seconds to wait for PostgreSQL.
    pub wait_for_postgres_seconds: u32,
    /// `SKIPTEMP` of provisioning and bootstrap.
    pub skip_temp: bool,
    /// `USE_FLAGS` of provisioning.
    pub use_flags_provision: bool,
    /// `USE_FLAGS` of affiliations.
    pub use_flags_affiliations: bool,
    /// `GET_AFFS_FILES` of provisioning, bootstrap and sync.
    pub get_affs_files: bool,
    /// `GET_AFFS_FILES` of affiliations jobs.
    pub affiliations_get_affs_files: bool,
    /// `GET_AFFS_FILES` of the shared import.
    pub affiliations_import_get_affs_files: bool,
    /// `GHA2DB_CHECK_IMPORTED_SHA` of the shared import.
    pub affiliations_import_check_sha: bool,
    /// `GHA2DB_CHECK_IMPORTED_SHA` elsewhere.
    pub check_imported_sha: bool,
    /// `AFFS_FDW_USE_PASSWORD`.
    pub affs_fdw_use_password: bool,
    /// `GHA2DB_ALLOW_METRIC_FAIL`.
    pub allow_metric_fail: bool,
    /// `GHA2DB_COMPUTE_ALL`.
    pub force_compute_all: bool,
    /// `GHA2DB_RECALC_RECIPROCAL`.
    pub recalc_reciprocal: Option<u32>,
    /// `GHA2DB_SKIP_METRICS`.
    pub skip_metrics: String,
    /// `GHA2DB_ONLY_METRICS`.
    pub only_metrics: String,
    /// `GHA2DB_EXCLUDE_VARS`.
    pub exclude_vars: String,
    /// `GHA2DB_FORCE_PERIODS`.
    pub periods: String,
    /// `GHA2DB_MAX_RUN_DURATION` for projects that set none.
    pub max_run_duration: Option<RunLimits>,
    /// `GHA2DB_SKIP_RAND`.
    pub skip_rand: bool,
    /// `SKIPADDALL`.
    pub skip_add_all: bool,
    /// `FORCEADDALL`.
    pub force_add_all: bool,
    /// `HEALTH`.
    pub health: bool,
    /// `SKIP_IMP_AFFS` percent for projects that set none.
    pub skip_import_affs_percent: Option<u32>,
    /// `SKIP_UPD_AFFS` percent for projects that set none.
    pub skip_update_affs_percent: Option<u32>,
    /// `GHA2DB_GHAPISKIP` of provisioning, bootstrap and sync.
    pub skip_github_api: bool,
    /// `GHA2DB_GETREPOSSKIP` of provisioning.
    pub skip_get_repos: bool,
    /// GitHub API (ghapi2db) switches.
    pub github: GithubApiSettings,
    /// Settings of maintenance scripts run through provisioning (reinit, merge_dbs …).
    pub maintenance: MaintenanceSettings,
    /// Debug output.
    pub debug: DebugSettings,
}

impl Default for ToolSettings {
    fn default() -> Self {
        Self {
            projects_file: "devstats-helm/projects.yaml".into(),
            projects_override: String::new(),
            restore_from: "https://devstats.cncf.io/backups/".into(),
            affiliations_json: "github_users.json".into(),
            company_acquisitions: "companies.yaml".into(),
            affiliations_database: "affiliations".into(),
            fetch_commits_mode: 1,
            git_commits_batch: 1000,
            provision_cpus: None,
            sync_cpus: Some(8),
            affiliations_cpus: Some(8),
            giant_bootstrap: GiantMode::Lock,
            giant_provision: GiantMode::Lock,
            giant_sync: GiantMode::Wait,
            giant_affiliations: GiantMode::Wait,
            wait_for_bootstrap_seconds: 120,
            wait_for_postgres_seconds: 60,
            skip_temp: true,
            use_flags_provision: true,
            use_flags_affiliations: true,
            get_affs_files: false,
            affiliations_get_affs_files: false,
            affiliations_import_get_affs_files: true,
            affiliations_import_check_sha: true,
            check_imported_sha: false,
            affs_fdw_use_password: false,
            allow_metric_fail: false,
            force_compute_all: false,
            recalc_reciprocal: None,
            skip_metrics: String::new(),
            only_metrics: String::new(),
            exclude_vars: String::new(),
            periods: String::new(),
            max_run_duration: None,
            skip_rand: false,
            skip_add_all: false,
            force_add_all: false,
            health: false,
            skip_import_affs_percent: None,
            skip_update_affs_percent: None,
            skip_github_api: false,
            skip_get_repos: false,
            github: GithubApiSettings::default(),
            maintenance: MaintenanceSettings::default(),
            debug: DebugSettings::default(),
        }
    }
}

/// GitHub API (ghapi2db) switches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct GithubApiSettings {
    /// `GHA2DB_GHAPISKIPISSUES`.
    pub skip_issues: bool,
    /// `GHA2DB_GHAPISKIPPRS`.
    pub skip_prs: bool,
    /// `GHA2DB_GHAPISKIPCOMMENTS`.
    pub skip_comments: bool,
    /// `GHA2DB_GHAPISKIPREVIEWS`.
    pub skip_reviews: bool,
    /// `GHA2DB_GHAPISKIPFORKS`.
    pub skip_forks: bool,
    /// `GHA2DB_GHAPISKIPRELEASES`.
    pub skip_releases: bool,
    /// `GHA2DB_GHAPISKIPSTARS`.
    pub skip_stars: bool,
    /// `GHA2DB_GHAPIALLOWINSERTFAIL`.
    pub allow_insert_fail: bool,
    /// `GHA2DB_RESTORE_ORPHAN_COMMITS`.
    pub restore_orphan_commits: bool,
    /// `DTFROM`.
    pub date_from: String,
    /// `DTTO`.
    pub date_to: String,
    /// `GHA2DB_RECENT_RANGE`.
    pub recent_range: String,
    /// `GHA2DB_ORPHAN_COMMITS_RANGE`.
    pub orphan_commits_range: String,
    /// `GHA2DB_RECENT_REPOS_RANGE`.
    pub recent_repos_range: String,
}

impl Default for GithubApiSettings {
    fn default() -> Self {
        Self {
            skip_issues: false,
            skip_prs: false,
            skip_comments: false,
            skip_reviews: false,
            skip_forks: false,
            skip_releases: false,
            skip_stars: false,
            allow_insert_fail: false,
            restore_orphan_commits: true,
            date_from: String::new(),
            date_to: String::new(),
            recent_range: String::new(),
            orphan_commits_range: String::new(),
            recent_repos_range: String::new(),
        }
    }
}

/// Settings of maintenance scripts (reinit, merge_dbs, columns …); empty in steady state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct MaintenanceSettings {
    /// `GHA2DB_REPOS_DIR`.
    pub repos_dir: String,
    /// `GHA2DB_LOCAL`.
    pub gha2db_local: bool,
    /// `GHA2DB_INPUT_DBS`.
    pub input_dbs: String,
    /// `GHA2DB_OUTPUT_DB`.
    pub output_db: String,
    /// `ONLY_TABLES`.
    pub only_tables: String,
    /// `SKIP_TABLES`.
    pub skip_tables: String,
    /// `IGNORE_NO_DB`.
    pub ignore_no_db: bool,
    /// `SKIP_DBS`.
    pub skip_dbs: String,
    /// `MERGE_DT_FROM`.
    pub merge_date_from: String,
    /// `USE_BATCH`.
    pub use_batch: bool,
    /// `BATCH_SIZE`.
    pub batch_size: String,
    /// `PARALLEL`.
    pub parallel: String,
    /// `UDROP` of bootstrap.
    pub bootstrap_user_drop: bool,
    /// `LDROP` of bootstrap.
    pub bootstrap_logs_drop: bool,
    /// `NOCREATE` of bootstrap.
    pub bootstrap_no_create: bool,
    /// `REPOS`.
    pub use_repos: String,
    /// `PDROP`.
    pub reinit_drop_db: bool,
    /// `DELETE_ANNOTATIONS`.
    pub delete_annotations: bool,
    /// `TSDB_DROP`.
    pub tsdb_drop: bool,
    /// `MERGE_MODE`.
    pub merge_mode: String,
    /// `ONLY_GHA`.
    pub only_gha: bool,
    /// `SKIP_ECFRG_RESET`.
    pub skip_ecfrg_reset: bool,
    /// `SKIPGHA`.
    pub skip_gha: bool,
    /// `GHA2DB_METRICS_YAML`.
    pub metrics_yaml: String,
    /// `GHA2DB_TAGS_YAML`.
    pub tags_yaml: String,
    /// `GHA2DB_COLUMNS_YAML`.
    pub columns_yaml: String,
}

/// Debug output of the DevStats tools.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct DebugSettings {
    /// `GHA2DB_DEBUG` and `DBDEBUG` level.
    pub level: Option<u32>,
    /// `GHA2DB_CMDDEBUG` level.
    pub command: Option<u32>,
    /// `GHA2DB_GITHUB_DEBUG` level.
    pub github: Option<u32>,
    /// `GHA2DB_QOUT`: print queries.
    pub query_out: bool,
}

/// A foundation (or the test pseudo-foundation): a domain with a static site and its projects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Foundation {
    /// Short name, referenced by projects and instances, e.g. `cncf`.
    pub name: Name,
    /// Human-readable name, e.g. `Cloud Native Computing Foundation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// The domain: bare-domain site and `{project}.{domain}` hosts.
    pub domain: Hostname,
    /// Short name of its static site objects (`devstats-static-{site}`); defaults to `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site: Option<Name>,
    /// Image of its static site.
    pub static_image: ImageRef,
    /// The aggregate project that spans all its projects (`all`, `allcdf`, `graphql`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregate: Option<Name>,
}

impl Foundation {
    /// The static-site short name.
    #[must_use]
    pub fn site_name(&self) -> &Name {
        self.site.as_ref().unwrap_or(&self.name)
    }
}

/// Lifecycle status of a project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ProjectStatus {
    /// Synced, served, dashboards live.
    #[default]
    Active,
    /// No more syncs, no Grafana and no host; its volume and database are kept.
    Archived,
    /// Not deployed at all.
    Disabled,
}

/// Foundation maturity level (informational).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Maturity {
    /// Sandbox.
    Sandbox,
    /// Incubating.
    Incubating,
    /// Graduated.
    Graduated,
}

/// Which GitHub repositories make up a project.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct GithubSelectors {
    /// Whole organisations, e.g. `kubernetes-sigs`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub orgs: Vec<String>,
    /// Single repositories `org/repo`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub repos: Vec<String>,
    /// Regular expressions over `org/repo` (RE2 syntax as DevStats uses).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub regexps: Vec<String>,
}

impl GithubSelectors {
    /// Number of selectors.
    #[must_use]
    pub fn len(&self) -> usize {
        self.orgs.len() + self.repos.len() + self.regexps.len()
    }
    /// True when nothing is selected.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Per-project schedule overrides; unset schedules are computed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ScheduleOverride {
    /// Sync CronJob schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync: Option<CronSchedule>,
    /// Affiliations CronJob schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affiliations: Option<CronSchedule>,
}

/// Per-project affiliations job knobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AffiliationSettings {
    /// `SKIPTEMP`.
    pub skip_temp: bool,
    /// `GHA2DB_GHAPISKIP`: skip GitHub API during affiliations.
    pub skip_github_api: bool,
    /// `GHA2DB_GETREPOSSKIP`: skip repository listing during affiliations.
    pub skip_get_repos: bool,
    /// `SKIP_UPD_AFFS`: percent chance of skipping the update phase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_update_percent: Option<u32>,
    /// `SKIP_IMP_AFFS`: percent chance of skipping the import phase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skip_import_percent: Option<u32>,
    /// `AFFS_LOCK_DB`: database holding the affiliations lock.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lock_database: Option<DbName>,
    /// `SKIP_AFFS_LOCK`.
    #[serde(skip_serializing_if = "is_false")]
    pub skip_lock: bool,
}

impl Default for AffiliationSettings {
    fn default() -> Self {
        Self {
            skip_temp: true,
            skip_github_api: true,
            skip_get_repos: true,
            skip_update_percent: None,
            skip_import_percent: None,
            lock_database: None,
            skip_lock: false,
        }
    }
}

/// One DevStats project.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Project {
    /// Project name: object names, `PROJ`, `ONLY`, e.g. `kubernetes`.
    pub name: Name,
    /// Display name (`ORGNAME`), e.g. `Open Policy Agent`.
    pub display_name: String,
    /// Host label `{url}.{domain}`; defaults to `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<Name>,
    /// Database name; defaults to `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<DbName>,
    /// Grafana icon; defaults to `name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// Main repository (`PROJREPO`); none for aggregates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_repo: Option<RepoName>,
    /// Foundations the project belongs to (several are allowed).
    pub foundations: Vec<Name>,
    /// Lifecycle status.
    #[serde(default, skip_serializing_if = "is_default")]
    pub status: ProjectStatus,
    /// Foundation maturity level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maturity: Option<Maturity>,
    /// Position in the schedule rotation (lower first; unset = after all numbered, by name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<u32>,
    /// Size of the project volume (git clones).
    pub disk: Quantity,
    /// GitHub repositories of the project.
    #[serde(default, skip_serializing_if = "GithubSelectors::is_empty")]
    pub github: GithubSelectors,
    /// Extra host names served by its Grafana.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<Hostname>,
    /// Suspend its CronJobs (maintenance).
    #[serde(default, skip_serializing_if = "is_false")]
    pub suspended: bool,
    /// Schedule overrides.
    #[serde(default, skip_serializing_if = "is_default")]
    pub schedule: ScheduleOverride,
    /// `GHA2DB_MAX_HIST`.
    #[serde(default = "default_max_history")]
    pub max_history: u32,
    /// `GHA2DB_MAX_RUN_DURATION` for this project.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_run_duration: Option<RunLimits>,
    /// `DURABLE_PQ`.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub durable_pq: bool,
    /// `NO_DURABLE`.
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_durable: bool,
    /// Affiliations job knobs.
    #[serde(default, skip_serializing_if = "is_default")]
    pub affiliations: AffiliationSettings,
    /// Google Analytics id (`GA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google_analytics: Option<String>,
}

fn default_max_history() -> u32 {
    8
}

impl Project {
    /// Host label (`url`, else `name`).
    #[must_use]
    pub fn url(&self) -> &str {
        self.url.as_ref().unwrap_or(&self.name).as_str()
    }
    /// Database name (`database`, else `name`).
    #[must_use]
    pub fn database(&self) -> &str {
        self.database.as_ref().map_or(self.name.as_str(), DbName::as_str)
    }
    /// Grafana icon (`icon`, else `name`).
    #[must_use]
    pub fn icon(&self) -> &str {
        self.icon.as_deref().unwrap_or(self.name.as_str())
    }
    /// `PROJREPO`: main repo or `-`.
    #[must_use]
    pub fn main_repo_env(&self) -> &str {
        self.main_repo.as_ref().map_or("-", RepoName::as_str)
    }
}

/// What an instance deploys for one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Deployment {
    /// Nothing: not in a served foundation, or disabled.
    None,
    /// Archived: only its volume is kept (the database lives in Patroni).
    VolumeOnly,
    /// Everything: volume, provisioning, CronJobs, Grafana, Service, hosts.
    Full,
}

/// Counts for a one-line summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Foundations defined.
    pub foundations: usize,
    /// Projects defined.
    pub projects: usize,
    /// GitHub selectors (orgs + repos + regexps).
    pub repos: usize,
    /// Projects this instance deploys fully.
    pub served: usize,
}

impl Model {
    /// The foundation named `name`.
    #[must_use]
    pub fn foundation(&self, name: &str) -> Option<&Foundation> {
        self.foundations.iter().find(|f| f.name.as_str() == name)
    }

    /// The project named `name`.
    #[must_use]
    pub fn project(&self, name: &str) -> Option<&Project> {
        self.projects.iter().find(|p| p.name.as_str() == name)
    }

    /// Foundations this instance serves, in the instance's order.
    #[must_use]
    pub fn served_foundations(&self) -> Vec<&Foundation> {
        self.instance
            .foundations
            .iter()
            .filter_map(|f| self.foundation(f.as_str()))
            .collect()
    }

    /// What this instance deploys for `p`.
    #[must_use]
    pub fn deployment(&self, p: &Project) -> Deployment {
        let served = self.instance.projects.includes(&p.name)
            && p.foundations
                .iter()
                .any(|f| self.instance.foundations.contains(f));
        match (served, p.status) {
            (false, _) | (_, ProjectStatus::Disabled) => Deployment::None,
            (true, ProjectStatus::Archived) => Deployment::VolumeOnly,
            (true, ProjectStatus::Active) => Deployment::Full,
        }
    }

    /// Projects in canonical order (by name), with what the instance deploys for each.
    #[must_use]
    pub fn projects_by_name(&self) -> Vec<&Project> {
        let mut v: Vec<&Project> = self.projects.iter().collect();
        v.sort_by(|a, b| a.name.cmp(&b.name));
        v
    }

    /// Project hosts `{url}.{domain}` for each served foundation the project belongs to (in the
    /// instance's foundation order), then its aliases when the instance serves aliases.
    #[must_use]
    pub fn project_hosts(&self, p: &Project) -> Vec<String> {
        if self.deployment(p) != Deployment::Full {
            return Vec::new();
        }
        let mut hosts: Vec<String> = self
            .served_foundations()
            .into_iter()
            .filter(|f| p.foundations.contains(&f.name))
            .map(|f| format!("{}.{}", p.url(), f.domain))
            .collect();
        if self.instance.ingress.aliases {
            for a in &p.aliases {
                if !hosts.iter().any(|h| h == a.as_str()) {
                    hosts.push(a.to_string());
                }
            }
        }
        hosts
    }

    /// Projects in schedule-rotation order: by `order`, then by name (independent of file order).
    #[must_use]
    pub fn rotation_order(&self) -> Vec<&Project> {
        let mut v: Vec<&Project> = self.projects.iter().collect();
        v.sort_by(|a, b| (a.order.unwrap_or(u32::MAX), &a.name).cmp(&(b.order.unwrap_or(u32::MAX), &b.name)));
        v
    }

    /// Sync and affiliations schedules of every fully deployed project (overrides applied).
    ///
    /// Suspended projects keep their slot so that suspending one project moves no other schedule.
    pub fn schedules(&self) -> Result<BTreeMap<String, schedule::ProjectSchedule>, schedule::ScheduleError> {
        let s = &self.instance.schedules;
        let params = schedule::ScheduleParams {
            period: match s.period {
                RotationPeriod::Weekly => schedule::Period::Weekly,
                RotationPeriod::Monthly => schedule::Period::Monthly,
            },
            sync_every_hours: s.sync_every_hours,
            gha_offset_minutes: s.gha_offset_minutes,
            offset_hours: s.offset_hours,
            first_reserved_hours: s.first.as_ref().map_or(0, |r| r.hours),
            last_reserved_hours: s.last.as_ref().map_or(0, |r| r.hours),
        };
        let order = self.rotation_order();
        let inputs: Vec<schedule::SlotInput> = order
            .iter()
            .map(|p| schedule::SlotInput {
                slot: if s.first.as_ref().is_some_and(|r| r.project == p.name) {
                    schedule::Slot::First
                } else if s.last.as_ref().is_some_and(|r| r.project == p.name) {
                    schedule::Slot::Last
                } else {
                    schedule::Slot::Ordinary
                },
                eligible: self.deployment(p) == Deployment::Full,
            })
            .collect();
        let phase = match self.instance.role {
            Role::Prod => schedule::Phase::Primary,
            Role::Test => schedule::Phase::HalfPeriod,
        };
        let computed = schedule::compute(&params, &inputs, phase)?;
        let mut out = BTreeMap::new();
        for (p, sched) in order.into_iter().zip(computed) {
            if let Some(mut sched) = sched {
                if let Some(sync) = &p.schedule.sync {
                    sched.sync = sync.to_string();
                }
                if let Some(aff) = &p.schedule.affiliations {
                    sched.affiliations = aff.to_string();
                }
                out.insert(p.name.to_string(), sched);
            }
        }
        Ok(out)
    }

    /// Counts for `validate`'s summary line.
    #[must_use]
    pub fn summary(&self) -> Summary {
        Summary {
            foundations: self.foundations.len(),
            projects: self.projects.len(),
            repos: self.projects.iter().map(|p| p.github.len()).sum(),
            served: self
                .projects
                .iter()
                .filter(|p| self.deployment(p) == Deployment::Full)
                .count(),
        }
    }

    /// Serializes the model as YAML (the model file format).
    pub fn to_yaml(&self) -> Result<String, String> {
        serde_saphyr::to_string(self).map_err(|e| e.to_string())
    }
}
