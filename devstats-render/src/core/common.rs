//! Shared building blocks: labels, object metadata, env lists, resources, volumes.
//!
//! Label policy: pod templates and selectors carry exactly the chart's labels (`name`, `type`,
//! `proj`), so that taking over a live chart deployment changes no pod template and restarts
//! nothing; object metadata additionally carries the `app.kubernetes.io/*` labels.

use std::collections::BTreeMap;

use devstats_model::{ResourceSpec, Role};
use k8s_openapi::api::core::v1::{
    EnvVar, EnvVarSource, ObjectFieldSelector, PersistentVolumeClaimVolumeSource, ResourceRequirements,
    SecretKeySelector, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::core::ctx::Ctx;

/// The field manager / `app.kubernetes.io/managed-by` value.
pub const MANAGED_BY: &str = "devstats-k8s";
/// Value of the chart's `name` label on every object.
pub(crate) const APP: &str = "devstats";

/// The chart's labels: `name: devstats`, `type: <ty>` and, for per-project objects, `proj: <proj>`.
#[must_use]
pub(crate) fn chart_labels(ty: &str, proj: Option<&str>) -> BTreeMap<String, String> {
    let mut l = BTreeMap::new();
    l.insert("name".to_owned(), APP.to_owned());
    l.insert("type".to_owned(), ty.to_owned());
    if let Some(p) = proj {
        l.insert("proj".to_owned(), p.to_owned());
    }
    l
}

impl Ctx<'_> {
    /// Object metadata: name, the instance namespace, the chart labels plus the recommended labels.
    #[must_use]
    pub fn meta(
        &self,
        name: impl Into<String>,
        component: &str,
        chart: BTreeMap<String, String>,
    ) -> ObjectMeta {
        let mut labels = chart;
        labels.insert("app.kubernetes.io/name".into(), APP.into());
        labels.insert(
            "app.kubernetes.io/instance".into(),
            self.model.instance.name.to_string(),
        );
        labels.insert("app.kubernetes.io/component".into(), component.into());
        labels.insert("app.kubernetes.io/part-of".into(), APP.into());
        labels.insert("app.kubernetes.io/managed-by".into(), MANAGED_BY.into());
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some(self.namespace().to_owned()),
            labels: Some(labels),
            ..ObjectMeta::default()
        }
    }

    /// Pod-template metadata exactly as the chart renders it (name and namespace are ignored by
    /// Kubernetes but kept so live pod templates stay byte-equal).
    #[must_use]
    pub fn pod_meta(&self, name: impl Into<String>, chart: BTreeMap<String, String>) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.into()),
            namespace: Some(self.namespace().to_owned()),
            labels: Some(chart),
            ..ObjectMeta::default()
        }
    }

    /// The instance namespace.
    #[must_use]
    pub fn namespace(&self) -> &str {
        self.model.instance.namespace.as_str()
    }

    /// `TEST_SERVER` / `PROD_SERVER` values for a role.
    #[must_use]
    pub fn server_flags(role: Role) -> (&'static str, &'static str) {
        match role {
            Role::Test => ("1", ""),
            Role::Prod => ("", "1"),
        }
    }

    /// The image pull policy string.
    #[must_use]
    pub fn pull_policy(&self) -> Option<String> {
        Some(self.model.instance.images.pull_policy.as_str().to_owned())
    }
}

/// Builds an ordered env list.
#[derive(Debug, Default, Clone)]
pub(crate) struct Env(pub Vec<EnvVar>);

impl Env {
    /// An empty list.
    #[must_use]
    pub fn new() -> Self {
        Self(Vec::new())
    }
    /// An empty list with room for `n` variables (the builders of the large per-project lists
    /// know their length; growing a list of 280-byte `EnvVar`s by doubling copies it six times).
    #[must_use]
    pub fn with_capacity(n: usize) -> Self {
        Self(Vec::with_capacity(n))
    }
    /// A literal value.
    #[must_use]
    pub fn val(mut self, name: &str, value: impl Into<String>) -> Self {
        self.0.push(EnvVar {
            name: name.into(),
            value: Some(value.into()),
            value_from: None,
        });
        self
    }
    /// A flag: `'1'` when set, `''` otherwise.
    #[must_use]
    pub fn flag(self, name: &str, on: bool) -> Self {
        self.val(name, if on { "1" } else { "" })
    }
    /// An optional number: its decimal text, or `''`.
    #[must_use]
    pub fn num(self, name: &str, n: Option<impl ToString>) -> Self {
        let v = n.map(|n| n.to_string()).unwrap_or_default();
        self.val(name, v)
    }
    /// A value from a Secret key.
    #[must_use]
    pub fn secret(mut self, name: &str, secret: &str, key: &str) -> Self {
        self.0.push(EnvVar {
            name: name.into(),
            value: None,
            value_from: Some(EnvVarSource {
                secret_key_ref: Some(SecretKeySelector {
                    name: secret.into(),
                    key: key.into(),
                    optional: None,
                }),
                ..EnvVarSource::default()
            }),
        });
        self
    }
    /// A value from a pod field (`fieldRef`).
    #[must_use]
    pub fn field(mut self, name: &str, path: &str) -> Self {
        self.0.push(EnvVar {
            name: name.into(),
            value: None,
            value_from: Some(EnvVarSource {
                // The server defaults `apiVersion: v1`; rendering it keeps a second field
                // manager's apply equal to what is stored (no server-side apply conflict).
                field_ref: Some(ObjectFieldSelector {
                    api_version: Some("v1".to_owned()),
                    field_path: path.into(),
                }),
                ..EnvVarSource::default()
            }),
        });
        self
    }
    /// Appends another list.
    #[must_use]
    pub fn extend(mut self, other: Env) -> Self {
        self.0.extend(other.0);
        self
    }
    /// The list.
    #[must_use]
    pub fn build(self) -> Option<Vec<EnvVar>> {
        // Exact capacity: appended lists leave a third more room than entries, and env lists
        // are the largest part of a render's memory (49,016 `EnvVar`s of 280 bytes for CNCF).
        let mut v = self.0;
        v.shrink_to_fit();
        Some(v)
    }
}

/// A `resources` block from the model (None when the model leaves it unset).
#[must_use]
pub(crate) fn resources(spec: Option<&ResourceSpec>) -> Option<ResourceRequirements> {
    let spec = spec?;
    let pair = |cpu: &devstats_model::Quantity, mem: &devstats_model::Quantity| {
        BTreeMap::from([
            ("cpu".to_owned(), crate::core::quantity::quantity(cpu.as_str())),
            ("memory".to_owned(), crate::core::quantity::quantity(mem.as_str())),
        ])
    };
    Some(ResourceRequirements {
        requests: Some(pair(&spec.requests.cpu, &spec.requests.memory)),
        limits: Some(pair(&spec.limits.cpu, &spec.limits.memory)),
        ..ResourceRequirements::default()
    })
}

/// A node selector, or None when empty.
#[must_use]
pub(crate) fn node_selector(sel: &BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    if sel.is_empty() { None } else { Some(sel.clone()) }
}

/// A volume backed by a PVC.
#[must_use]
pub(crate) fn pvc_volume(volume: &str, claim: &str) -> Volume {
    Volume {
        name: volume.into(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim.into(),
            read_only: None,
        }),
        ..Volume::default()
    }
}

/// A volume mount.
#[must_use]
pub(crate) fn mount(volume: &str, path: &str) -> VolumeMount {
    VolumeMount {
        name: volume.into(),
        mount_path: path.into(),
        ..VolumeMount::default()
    }
}

/// Names of objects, as the chart names them.
pub mod names {
    /// Project volume claim.
    #[must_use]
    pub fn project_pvc(proj: &str) -> String {
        format!("devstats-pvc-{proj}")
    }
    /// Provisioning Job.
    #[must_use]
    pub fn provision(proj: &str) -> String {
        format!("devstats-provision-{proj}")
    }
    /// Sync CronJob.
    #[must_use]
    pub fn sync(proj: &str) -> String {
        format!("devstats-{proj}")
    }
    /// Affiliations CronJob.
    #[must_use]
    pub fn affiliations(proj: &str) -> String {
        format!("devstats-affiliations-{proj}")
    }
    /// Grafana Deployment.
    #[must_use]
    pub fn grafana(proj: &str) -> String {
        format!("devstats-grafana-{proj}")
    }
    /// Grafana Service.
    #[must_use]
    pub fn grafana_service(proj: &str) -> String {
        format!("devstats-service-{proj}")
    }
    /// Static site Deployment.
    #[must_use]
    pub fn static_site(site: &str) -> String {
        format!("devstats-static-{site}")
    }
    /// Static site Service.
    #[must_use]
    pub fn static_service(site: &str) -> String {
        format!("devstats-static-service-{site}")
    }
    /// The shared backups volume claim.
    pub const BACKUPS_PVC: &str = "devstats-backups";
    /// The bootstrap Job.
    pub const BOOTSTRAP: &str = "devstats-provision-bootstrap";
    /// The API Deployment.
    pub const API: &str = "devstats-api";
    /// The API Service.
    pub const API_SERVICE: &str = "devstats-api-service";
    /// Patroni scope: StatefulSet, RBAC, primary Service.
    pub const POSTGRES: &str = "devstats-postgres";
    /// Patroni replicas Service.
    pub const POSTGRES_RO: &str = "devstats-postgres-ro";
    /// Patroni config Endpoints and Service.
    pub const POSTGRES_CONFIG: &str = "devstats-postgres-config";
    /// Backups CronJob.
    pub const BACKUPS: &str = "devstats-backups";
    /// Vacuum CronJob.
    pub const VACUUM: &str = "devstats-vacuum";
    /// Shared affiliations import CronJob.
    pub const AFFILIATIONS_IMPORT: &str = "devstats-affiliations-import";
    /// Reports pod.
    pub const REPORTS: &str = "devstats-reports";
    /// Tests pod.
    pub const TESTS: &str = "devstats-tests";
}
