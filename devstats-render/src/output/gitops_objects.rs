//! The objects of the GitOps tree that are not part of the deployment itself: Flux sources,
//! Kustomizations and HelmReleases, kustomize's `kustomization.yaml`, and the two ways to bring
//! Secrets in without plaintext (External Secrets Operator's `ExternalSecret`, a Bitnami
//! `SealedSecret` placeholder). Small typed serde structs with the fields we set, serialized in
//! field order; they are not part of [`Object`](crate::core::object::Object), which holds what the deployment
//! applies.

use std::collections::BTreeMap;

use serde::Serialize;

/// Namespace of Flux's own objects.
pub(crate) const FLUX_NAMESPACE: &str = "flux-system";
/// `apiVersion` of `GitRepository` and `HelmRepository`.
pub(crate) const SOURCE_API: &str = "source.toolkit.fluxcd.io/v1";
/// `apiVersion` of Flux's `Kustomization`.
pub(crate) const KUSTOMIZE_API: &str = "kustomize.toolkit.fluxcd.io/v1";
/// `apiVersion` of `HelmRelease`.
pub(crate) const HELM_API: &str = "helm.toolkit.fluxcd.io/v2";
/// `apiVersion` of kustomize's `kustomization.yaml`.
pub(crate) const KUSTOMIZE_CONFIG_API: &str = "kustomize.config.k8s.io/v1beta1";
/// `apiVersion` of `ExternalSecret`.
pub(crate) const EXTERNAL_SECRETS_API: &str = "external-secrets.io/v1";
/// `apiVersion` of `SealedSecret`.
pub(crate) const SEALED_SECRETS_API: &str = "bitnami.com/v1alpha1";

/// Flux annotation: how server-side apply treats an object.
pub(crate) const SSA_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/ssa";
/// Flux annotation: whether garbage collection may delete an object.
pub(crate) const PRUNE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/prune";
/// Flux annotation: recreate an object whose immutable fields changed.
pub(crate) const FORCE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/force";

/// Object metadata of the GitOps objects.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Meta {
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `metadata.labels`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Meta {
    /// Metadata in `namespace` with `labels`.
    #[must_use]
    pub fn new(name: impl Into<String>, namespace: &str, labels: &BTreeMap<String, String>) -> Self {
        Self {
            name: name.into(),
            namespace: Some(namespace.to_owned()),
            labels: labels.clone(),
        }
    }
}

/// A reference to an object by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct NameRef {
    /// Its name.
    pub name: String,
}

/// A Flux source reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SourceRef {
    /// `GitRepository` or `HelmRepository`.
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// Its namespace (defaults to the referrer's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Flux `GitRepository` (`source.toolkit.fluxcd.io/v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GitRepository {
    /// `apiVersion`.
    pub api_version: &'static str,
    /// `kind`.
    pub kind: &'static str,
    /// `metadata`.
    pub metadata: Meta,
    /// `spec`.
    pub spec: GitRepositorySpec,
}

/// `GitRepository.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GitRepositorySpec {
    /// Fetch interval.
    pub interval: String,
    /// Clone URL.
    pub url: String,
    /// The branch to follow.
    #[serde(rename = "ref")]
    pub reference: GitRef,
    /// Credentials of a private repository.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<NameRef>,
}

/// `GitRepository.spec.ref`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct GitRef {
    /// Branch name.
    pub branch: String,
}

impl GitRepository {
    /// A `GitRepository` in `flux-system`.
    #[must_use]
    pub fn new(meta: Meta, spec: GitRepositorySpec) -> Self {
        Self {
            api_version: SOURCE_API,
            kind: "GitRepository",
            metadata: meta,
            spec,
        }
    }
}

/// Flux `Kustomization` (`kustomize.toolkit.fluxcd.io/v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Kustomization {
    /// `apiVersion`.
    pub api_version: &'static str,
    /// `kind`.
    pub kind: &'static str,
    /// `metadata`.
    pub metadata: Meta,
    /// `spec`.
    pub spec: KustomizationSpec,
}

/// `Kustomization.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KustomizationSpec {
    /// Kustomizations that must be ready first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<NameRef>,
    /// Reconcile interval.
    pub interval: String,
    /// Retry interval after a failure.
    pub retry_interval: String,
    /// Timeout of apply and health checks.
    pub timeout: String,
    /// Directory in the source.
    pub path: String,
    /// Delete objects removed from the source.
    pub prune: bool,
    /// Wait for every applied object to be ready (kstatus) before reporting ready.
    pub wait: bool,
    /// The source.
    pub source_ref: SourceRef,
}

impl Kustomization {
    /// A Flux `Kustomization`.
    #[must_use]
    pub fn new(meta: Meta, spec: KustomizationSpec) -> Self {
        Self {
            api_version: KUSTOMIZE_API,
            kind: "Kustomization",
            metadata: meta,
            spec,
        }
    }
}

/// Flux `HelmRepository` (`source.toolkit.fluxcd.io/v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HelmRepository {
    /// `apiVersion`.
    pub api_version: &'static str,
    /// `kind`.
    pub kind: &'static str,
    /// `metadata`.
    pub metadata: Meta,
    /// `spec`.
    pub spec: HelmRepositorySpec,
}

/// `HelmRepository.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct HelmRepositorySpec {
    /// Index fetch interval.
    pub interval: String,
    /// Chart repository URL.
    pub url: String,
}

impl HelmRepository {
    /// A `HelmRepository`.
    #[must_use]
    pub fn new(meta: Meta, url: &str) -> Self {
        Self {
            api_version: SOURCE_API,
            kind: "HelmRepository",
            metadata: meta,
            spec: HelmRepositorySpec {
                interval: "12h".into(),
                url: url.into(),
            },
        }
    }
}

/// Flux `HelmRelease` (`helm.toolkit.fluxcd.io/v2`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HelmRelease {
    /// `apiVersion`.
    pub api_version: &'static str,
    /// `kind`.
    pub kind: &'static str,
    /// `metadata`.
    pub metadata: Meta,
    /// `spec`.
    pub spec: HelmReleaseSpec,
}

/// `HelmRelease.spec`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HelmReleaseSpec {
    /// Reconcile interval.
    pub interval: String,
    /// Helm release name.
    pub release_name: String,
    /// Namespace the chart is installed into.
    pub target_namespace: String,
    /// The chart.
    pub chart: HelmChartTemplate,
    /// Install settings.
    pub install: HelmInstall,
    /// Upgrade settings.
    pub upgrade: HelmUpgrade,
    /// Chart values.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub values: serde_json::Value,
}

/// `HelmRelease.spec.chart`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct HelmChartTemplate {
    /// `spec`.
    pub spec: HelmChartSpec,
}

/// `HelmRelease.spec.chart.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HelmChartSpec {
    /// Chart name.
    pub chart: String,
    /// Version or semver range.
    pub version: String,
    /// The `HelmRepository`.
    pub source_ref: SourceRef,
}

/// `HelmRelease.spec.install`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct HelmInstall {
    /// Create the target namespace.
    pub create_namespace: bool,
    /// CRD policy.
    pub crds: &'static str,
    /// Retries on failure.
    pub remediation: Remediation,
}

/// `HelmRelease.spec.upgrade`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct HelmUpgrade {
    /// CRD policy.
    pub crds: &'static str,
    /// Retries on failure.
    pub remediation: Remediation,
}

/// Install/upgrade remediation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Remediation {
    /// Retries.
    pub retries: u32,
}

impl HelmRelease {
    /// A `HelmRelease` that installs `chart` from `repository` (in `flux-system`) as
    /// `release` into `namespace`, creating the namespace and CRDs, with 3 retries.
    #[must_use]
    pub fn new(
        meta: Meta,
        release: &str,
        namespace: &str,
        chart: &str,
        version: &str,
        repository: &str,
        values: serde_json::Value,
    ) -> Self {
        Self {
            api_version: HELM_API,
            kind: "HelmRelease",
            metadata: meta,
            spec: HelmReleaseSpec {
                interval: "1h".into(),
                release_name: release.into(),
                target_namespace: namespace.into(),
                chart: HelmChartTemplate {
                    spec: HelmChartSpec {
                        chart: chart.into(),
                        version: version.into(),
                        source_ref: SourceRef {
                            kind: "HelmRepository",
                            name: repository.into(),
                            namespace: Some(FLUX_NAMESPACE.into()),
                        },
                    },
                },
                install: HelmInstall {
                    create_namespace: true,
                    crds: "CreateReplace",
                    remediation: Remediation { retries: 3 },
                },
                upgrade: HelmUpgrade {
                    crds: "CreateReplace",
                    remediation: Remediation { retries: 3 },
                },
                values,
            },
        }
    }
}

/// kustomize's `kustomization.yaml`: the resources of one directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KustomizeFile {
    /// `apiVersion`.
    pub api_version: &'static str,
    /// `kind`.
    pub kind: &'static str,
    /// Files and directories, in apply order.
    pub resources: Vec<String>,
}

impl KustomizeFile {
    /// A `kustomization.yaml` listing `resources`.
    #[must_use]
    pub fn new(resources: Vec<String>) -> Self {
        Self {
            api_version: KUSTOMIZE_CONFIG_API,
            kind: "Kustomization",
            resources,
        }
    }
}

/// External Secrets Operator `ExternalSecret` (`external-secrets.io/v1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExternalSecret {
    /// `apiVersion`.
    pub api_version: &'static str,
    /// `kind`.
    pub kind: &'static str,
    /// `metadata`.
    pub metadata: Meta,
    /// `spec`.
    pub spec: ExternalSecretSpec,
}

/// `ExternalSecret.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExternalSecretSpec {
    /// How often the Secret is refreshed.
    pub refresh_interval: String,
    /// The store.
    pub secret_store_ref: StoreRef,
    /// The Secret it writes.
    pub target: ExternalSecretTarget,
    /// One entry per Secret key.
    pub data: Vec<ExternalSecretData>,
}

/// `ExternalSecret.spec.secretStoreRef`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct StoreRef {
    /// Store name.
    pub name: String,
    /// `SecretStore` or `ClusterSecretStore`.
    pub kind: &'static str,
}

/// `ExternalSecret.spec.target`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExternalSecretTarget {
    /// Secret name.
    pub name: String,
    /// `Owner`: the Secret belongs to the ExternalSecret.
    pub creation_policy: &'static str,
}

/// `ExternalSecret.spec.data[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ExternalSecretData {
    /// Key in the Secret.
    pub secret_key: String,
    /// Where its value is read.
    pub remote_ref: RemoteRef,
}

/// `ExternalSecret.spec.data[].remoteRef`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct RemoteRef {
    /// Remote key.
    pub key: String,
    /// Property of the remote key.
    pub property: String,
}

impl ExternalSecret {
    /// An `ExternalSecret`.
    #[must_use]
    pub fn new(meta: Meta, spec: ExternalSecretSpec) -> Self {
        Self {
            api_version: EXTERNAL_SECRETS_API,
            kind: "ExternalSecret",
            metadata: meta,
            spec,
        }
    }
}

/// Bitnami `SealedSecret` (`bitnami.com/v1alpha1`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SealedSecret {
    /// `apiVersion`.
    pub api_version: &'static str,
    /// `kind`.
    pub kind: &'static str,
    /// `metadata`.
    pub metadata: Meta,
    /// `spec`.
    pub spec: SealedSecretSpec,
}

/// `SealedSecret.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SealedSecretSpec {
    /// Sealed value per key.
    pub encrypted_data: BTreeMap<String, String>,
    /// The Secret it unseals to.
    pub template: SealedSecretTemplate,
}

/// `SealedSecret.spec.template`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct SealedSecretTemplate {
    /// The Secret's metadata.
    pub metadata: Meta,
    /// The Secret's type.
    #[serde(rename = "type")]
    pub secret_type: &'static str,
}

impl SealedSecret {
    /// A `SealedSecret`.
    #[must_use]
    pub fn new(meta: Meta, encrypted_data: BTreeMap<String, String>) -> Self {
        let template = Meta {
            labels: BTreeMap::new(),
            ..meta.clone()
        };
        Self {
            api_version: SEALED_SECRETS_API,
            kind: "SealedSecret",
            metadata: meta,
            spec: SealedSecretSpec {
                encrypted_data,
                template: SealedSecretTemplate {
                    metadata: template,
                    secret_type: "Opaque",
                },
            },
        }
    }
}
