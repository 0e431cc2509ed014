//! The closed set of Kubernetes kinds DevStats renders, as one enum over k8s-openapi types.

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    Endpoints, Namespace, PersistentVolumeClaim, Pod, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::Ingress;
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
        }

        impl Object {
            /// `apiVersion`.
            #[must_use]
            pub fn api_version(&self) -> &'static str {
                match self { $(Self::$variant(_) => <$ty as Resource>::API_VERSION,)* }
            }
            /// `kind`.
            #[must_use]
            pub fn kind(&self) -> &'static str {
                match self { $(Self::$variant(_) => <$ty as Resource>::KIND,)* }
            }
            /// The API group (empty for core).
            #[must_use]
            pub fn group(&self) -> &'static str {
                match self { $(Self::$variant(_) => <$ty as Resource>::GROUP,)* }
            }
            /// The resource's URL path segment (plural), e.g. `cronjobs`.
            #[must_use]
            pub fn plural(&self) -> &'static str {
                match self { $(Self::$variant(_) => <$ty as Resource>::URL_PATH_SEGMENT,)* }
            }
            /// `metadata`.
            #[must_use]
            pub fn meta(&self) -> &ObjectMeta {
                match self { $(Self::$variant(o) => o.metadata(),)* }
            }
            /// `metadata`, mutable.
            pub fn meta_mut(&mut self) -> &mut ObjectMeta {
                match self { $(Self::$variant(o) => o.metadata_mut(),)* }
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
}

impl Object {
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
