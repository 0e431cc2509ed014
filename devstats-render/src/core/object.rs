//! The closed set of Kubernetes kinds DevStats renders, as one enum over k8s-openapi types, each
//! variant tied to its row of the kind table ([`Kind`]).

use k8s_openapi::Metadata;
#[cfg(test)]
use k8s_openapi::Resource;
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
use serde::Serialize;

use crate::core::kind::Kind;

macro_rules! objects {
    ($($variant:ident($ty:ty) = $konst:ident),* $(,)?) => {
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

        // Here rather than in kind.rs, which knows no objects (core::kind is below core::object).
impl Kind {
    /// The kind of a rendered object.
    #[must_use]
    pub fn of_object(o: &Object) -> Option<Kind> {
        Some(o.typed_kind())
    }
}

impl Object {
            /// Its row of the kind table ([`Kind`]): REST coordinates and apply-order rank.
            #[must_use]
            pub fn typed_kind(&self) -> Kind {
                match self { $(Self::$variant(_) => Kind::$konst,)* Self::Custom(c) => c.kind }
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

        /// The built-in rows of the kind table are k8s-openapi's, and every built-in kind has a
        /// variant.
        #[cfg(test)]
        #[test]
        fn the_kind_table_agrees_with_k8s_openapi() {
            use std::any::TypeId;
            $(
                let k = Kind::$konst;
                assert_eq!(k.api_version(), <$ty as Resource>::API_VERSION);
                assert_eq!(k.group, <$ty as Resource>::GROUP);
                assert_eq!(k.version, <$ty as Resource>::VERSION);
                assert_eq!(k.kind, <$ty as Resource>::KIND);
                assert_eq!(k.plural, <$ty as Resource>::URL_PATH_SEGMENT);
                assert_eq!(
                    k.namespaced,
                    TypeId::of::<<$ty as Resource>::Scope>() == TypeId::of::<k8s_openapi::NamespaceResourceScope>(),
                    "{}", k.kind
                );
            )*
            let variants: std::collections::BTreeSet<Kind> = [$(Kind::$konst),*].into_iter().collect();
            let table: std::collections::BTreeSet<Kind> = Kind::ALL.iter().copied().collect();
            assert_eq!(variants, table);
        }
    };
}

objects! {
    Namespace(Namespace) = NAMESPACE,
    Secret(Secret) = SECRET,
    ServiceAccount(ServiceAccount) = SERVICE_ACCOUNT,
    Role(Role) = ROLE,
    RoleBinding(RoleBinding) = ROLE_BINDING,
    PersistentVolumeClaim(PersistentVolumeClaim) = PERSISTENT_VOLUME_CLAIM,
    Endpoints(Endpoints) = ENDPOINTS,
    Service(Service) = SERVICE,
    StatefulSet(StatefulSet) = STATEFUL_SET,
    Job(Job) = JOB,
    Pod(Pod) = POD,
    CronJob(CronJob) = CRON_JOB,
    Deployment(Deployment) = DEPLOYMENT,
    Ingress(Ingress) = INGRESS,
    ConfigMap(ConfigMap) = CONFIG_MAP,
    PodDisruptionBudget(PodDisruptionBudget) = POD_DISRUPTION_BUDGET,
    HorizontalPodAutoscaler(HorizontalPodAutoscaler) = HORIZONTAL_POD_AUTOSCALER,
    NetworkPolicy(NetworkPolicy) = NETWORK_POLICY,
}

impl Object {
    /// `apiVersion`.
    #[must_use]
    pub fn api_version(&self) -> String {
        self.typed_kind().api_version()
    }

    /// `kind`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        self.typed_kind().kind
    }

    /// The API group (empty for core).
    #[must_use]
    pub fn group(&self) -> &'static str {
        self.typed_kind().group
    }

    /// The resource's URL path segment (plural), e.g. `cronjobs`.
    #[must_use]
    pub fn plural(&self) -> &'static str {
        self.typed_kind().plural
    }
}

impl Object {
    /// The pod template of a workload (Deployment, StatefulSet, Job, CronJob).
    #[must_use]
    pub fn pod_template(&self) -> Option<&PodTemplateSpec> {
        match self {
            Object::Deployment(d) => Some(&d.spec.template),
            Object::StatefulSet(s) => Some(&s.spec.template),
            Object::Job(j) => j.spec.as_ref().map(|s| &s.template),
            Object::CronJob(c) => c.spec.job_template.spec.as_ref().map(|s| &s.template),
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

/// A custom resource: its kind (a row of the kind table) plus metadata and a body (`spec`, and
/// for some kinds other top-level fields) serialized from a typed struct when the object is built.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomResource {
    /// The kind: `apiVersion`, `kind`, plural and scope.
    pub kind: Kind,
    /// `metadata`.
    pub metadata: ObjectMeta,
    /// The other top-level fields (`spec` …), in order.
    pub body: serde_json::Map<String, serde_json::Value>,
}

impl Serialize for CustomResource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            #[serde(rename = "apiVersion")]
            api_version: String,
            kind: &'a str,
            metadata: &'a ObjectMeta,
            #[serde(flatten)]
            body: &'a serde_json::Map<String, serde_json::Value>,
        }
        Wire {
            api_version: self.kind.api_version(),
            kind: self.kind.kind,
            metadata: &self.metadata,
            body: &self.body,
        }
        .serialize(s)
    }
}

impl CustomResource {
    /// Builds a custom resource of `kind` from a typed body (a struct whose fields are the
    /// top-level fields besides apiVersion/kind/metadata, usually just `spec`).
    pub fn new<B: Serialize>(
        kind: Kind,
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
        Ok(Self { kind, metadata, body })
    }

    /// The API group (empty for core).
    #[must_use]
    pub fn group(&self) -> &'static str {
        self.kind.group
    }
}
