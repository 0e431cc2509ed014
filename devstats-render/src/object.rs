//! The closed set of Kubernetes kinds DevStats renders, as one enum over k8s-openapi types.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Endpoints, Namespace, PersistentVolumeClaim, Pod, PodSpec, PodTemplateSpec, Secret, Service,
    ServiceAccount,
};
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{Metadata, Resource};
use serde::Serialize;

macro_rules! objects {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// One rendered Kubernetes object.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(untagged)]
        #[allow(clippy::large_enum_variant)]
        pub enum Object {
            $(
                #[doc = concat!("A `", stringify!($variant), "`.")]
                $variant($ty),
            )*
            /// A custom resource (cert-manager, Gateway API, prometheus-operator, Flagger …),
            /// built from a typed spec struct.
            Custom(CustomResource),
        }

        impl Object {
            /// `apiVersion`.
            #[must_use]
            pub fn api_version(&self) -> &'static str {
                match self { $(Self::$variant(_) => <$ty as Resource>::API_VERSION,)* Self::Custom(c) => c.api_version }
            }
            /// `kind`.
            #[must_use]
            pub fn kind(&self) -> &'static str {
                match self { $(Self::$variant(_) => <$ty as Resource>::KIND,)* Self::Custom(c) => c.kind }
            }
            /// The API group (empty for core).
            #[must_use]
            pub fn group(&self) -> &'static str {
                match self { $(Self::$variant(_) => <$ty as Resource>::GROUP,)* Self::Custom(c) => c.group() }
            }
            /// The resource's URL path segment (plural), e.g. `cronjobs`.
            #[must_use]
            pub fn plural(&self) -> &'static str {
                match self { $(Self::$variant(_) => <$ty as Resource>::URL_PATH_SEGMENT,)* Self::Custom(c) => c.plural }
            }
            /// `metadata`.
            #[must_use]
            pub fn meta(&self) -> &ObjectMeta {
                match self { $(Self::$variant(o) => o.metadata(),)* Self::Custom(c) => &c.metadata }
            }
            /// `metadata`, mutable.
            pub fn meta_mut(&mut self) -> &mut ObjectMeta {
                match self { $(Self::$variant(o) => o.metadata_mut(),)* Self::Custom(c) => &mut c.metadata }
            }
        }

        $(
            impl From<$ty> for Object {
                fn from(o: $ty) -> Self { Self::$variant(o) }
            }
        )*
    };
}

objects! {
    Namespace(Namespace),
    Secret(Secret),
    ServiceAccount(ServiceAccount),
    Role(Role),
    RoleBinding(RoleBinding),
    PersistentVolumeClaim(PersistentVolumeClaim),
    Endpoints(Endpoints),
    Service(Service),
    StatefulSet(StatefulSet),
    Job(Job),
    Pod(Pod),
    CronJob(CronJob),
    Deployment(Deployment),
    Ingress(Ingress),
    ConfigMap(ConfigMap),
    PodDisruptionBudget(PodDisruptionBudget),
    HorizontalPodAutoscaler(HorizontalPodAutoscaler),
    NetworkPolicy(NetworkPolicy),
}

impl Object {
    /// The pod template of a workload (Deployment, StatefulSet, Job, CronJob).
    #[must_use]
    pub fn pod_template(&self) -> Option<&PodTemplateSpec> {
        match self {
            Object::Deployment(d) => d.spec.as_ref().map(|s| &s.template),
            Object::StatefulSet(s) => s.spec.as_ref().map(|s| &s.template),
            Object::Job(j) => j.spec.as_ref().map(|s| &s.template),
            Object::CronJob(c) => c
                .spec
                .as_ref()
                .and_then(|s| s.job_template.spec.as_ref())
                .map(|s| &s.template),
            _ => None,
        }
    }

    /// The pod spec of a workload or bare Pod.
    #[must_use]
    pub fn pod_spec(&self) -> Option<&PodSpec> {
        match self {
            Object::Pod(p) => p.spec.as_ref(),
            other => other.pod_template().and_then(|t| t.spec.as_ref()),
        }
    }

    /// The labels its pods carry (a bare Pod's own labels, or the pod template's).
    #[must_use]
    pub fn pod_labels(&self) -> Option<&std::collections::BTreeMap<String, String>> {
        match self {
            Object::Pod(p) => p.metadata.labels.as_ref(),
            other => other
                .pod_template()
                .and_then(|t| t.metadata.as_ref())
                .and_then(|m| m.labels.as_ref()),
        }
    }

    /// `metadata.name` (empty if unset, which builders never do).
    #[must_use]
    pub fn name(&self) -> &str {
        self.meta().name.as_deref().unwrap_or_default()
    }

    /// `metadata.namespace` (`None` for cluster-scoped kinds).
    #[must_use]
    pub fn namespace(&self) -> Option<&str> {
        self.meta().namespace.as_deref()
    }

    /// `Kind namespace/name`, for messages.
    #[must_use]
    pub fn id(&self) -> String {
        match self.namespace() {
            Some(ns) => format!("{} {ns}/{}", self.kind(), self.name()),
            None => format!("{} {}", self.kind(), self.name()),
        }
    }
}

/// A custom resource: type information plus metadata and a body (`spec`, and for some kinds
/// other top-level fields) serialized from a typed struct when the object is built.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomResource {
    /// `apiVersion`, e.g. `cert-manager.io/v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: &'static str,
    /// `kind`, e.g. `ClusterIssuer`.
    pub kind: &'static str,
    /// The resource's plural (URL path segment), e.g. `clusterissuers`.
    #[serde(skip)]
    pub plural: &'static str,
    /// Whether the kind is namespaced.
    #[serde(skip)]
    pub namespaced: bool,
    /// `metadata`.
    pub metadata: ObjectMeta,
    /// The other top-level fields (`spec` …), in order.
    #[serde(flatten)]
    pub body: serde_json::Map<String, serde_json::Value>,
}

/// Type information of a custom resource kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomKind {
    /// `apiVersion`.
    pub api_version: &'static str,
    /// `kind`.
    pub kind: &'static str,
    /// Plural.
    pub plural: &'static str,
    /// Namespaced or cluster-scoped.
    pub namespaced: bool,
}

impl CustomResource {
    /// Builds a custom resource of `kind` from a typed body (a struct whose fields are the
    /// top-level fields besides apiVersion/kind/metadata, usually just `spec`).
    pub fn new<B: Serialize>(
        kind: CustomKind,
        mut metadata: ObjectMeta,
        body: &B,
    ) -> Result<Self, serde_json::Error> {
        if !kind.namespaced {
            metadata.namespace = None;
        }
        let body = match serde_json::to_value(body)? {
            serde_json::Value::Object(m) => m,
            other => {
                let mut m = serde_json::Map::new();
                m.insert("spec".into(), other);
                m
            }
        };
        Ok(Self {
            api_version: kind.api_version,
            kind: kind.kind,
            plural: kind.plural,
            namespaced: kind.namespaced,
            metadata,
            body,
        })
    }

    /// The API group (the part of apiVersion before '/', empty for core).
    #[must_use]
    pub fn group(&self) -> &'static str {
        self.api_version.rsplit_once('/').map_or("", |(g, _)| g)
    }
}
