//! The references of a rendered object to other objects, walked in one place
//! ([`Object::references`]) for the render's reference check (`refs.rs`) and the CLI's apply
//! graph, so the two always see the same references.
//!
//! Label selectors (Service, PodDisruptionBudget, NetworkPolicy, monitors) are not references
//! to a named object; `refs.rs` checks them against the pod templates.

use serde_json::Value;

use crate::core::{kind::Kind, object::Object};

/// Which field makes a reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Via {
    /// `metadata.namespace`: the Namespace of a namespaced object.
    Namespace,
    /// A container env var's `valueFrom.secretKeyRef` (with the variable and the key).
    EnvSecretKey,
    /// A container's `envFrom[].secretRef`.
    EnvFromSecret,
    /// A `secret` volume (with the volume name).
    SecretVolume,
    /// A container env var's `valueFrom.configMapKeyRef` (with the variable and the key).
    EnvConfigMapKey,
    /// A container's `envFrom[].configMapRef`.
    EnvFromConfigMap,
    /// A `configMap` volume (with the volume name).
    ConfigMapVolume,
    /// A `persistentVolumeClaim` volume's `claimName` (with the volume name).
    Claim,
    /// A pod's `serviceAccountName`.
    ServiceAccount,
    /// A RoleBinding's `roleRef` (to a Role).
    RoleRef,
    /// A RoleBinding's ServiceAccount subject.
    Subject,
    /// A StatefulSet's governing `serviceName`.
    ServiceName,
    /// An Ingress backend Service (with the port number, when numeric).
    IngressBackend,
    /// A HorizontalPodAutoscaler's `scaleTargetRef`.
    ScaleTarget,
    /// An HTTPRoute's `parentRefs[]` Gateway (with the `sectionName`).
    ParentRef,
    /// An HTTPRoute rule's `backendRefs[]` Service (with the port).
    BackendRef,
    /// A Gateway listener's `tls.certificateRefs[]` Secret.
    ListenerCertificate,
    /// A Flagger Canary's `targetRef` Deployment.
    CanaryTarget,
    /// A Flagger Canary's `autoscalerRef` HorizontalPodAutoscaler.
    CanaryAutoscaler,
    /// A Flagger Canary's `ingressRef` Ingress.
    CanaryIngress,
    /// A Flagger Canary's `service.gatewayRefs[]` Gateway (with the `sectionName`).
    CanaryGateway,
}

impl Via {
    /// The field, as messages and the apply graph name it (e.g. `secretKeyRef`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Namespace => "namespace",
            Via::EnvSecretKey => "secretKeyRef",
            Via::EnvFromSecret => "envFrom secretRef",
            Via::SecretVolume => "secret volume",
            Via::EnvConfigMapKey => "configMapKeyRef",
            Via::EnvFromConfigMap => "envFrom configMapRef",
            Via::ConfigMapVolume => "configMap volume",
            Via::Claim => "claimName",
            Via::ServiceAccount => "serviceAccountName",
            Via::RoleRef => "roleRef",
            Via::Subject => "subject",
            Via::ServiceName => "serviceName",
            Via::IngressBackend => "backend",
            Via::ScaleTarget => "scaleTargetRef",
            Via::ParentRef => "parentRef",
            Via::BackendRef => "backendRef",
            Via::ListenerCertificate => "certificateRef",
            Via::CanaryTarget => "targetRef",
            Via::CanaryAutoscaler => "autoscalerRef",
            Via::CanaryIngress => "ingressRef",
            Via::CanaryGateway => "gatewayRef",
        }
    }

    /// Whether the target must exist before the referring object is written: a pod does not
    /// start without its Secrets, ConfigMaps, claims and ServiceAccount; the apply graph orders
    /// these (and the namespace, RBAC, a StatefulSet's Service and an Ingress's backends).
    /// The routing and Flagger references are resolved by their controllers whenever the
    /// target appears, so they order nothing.
    #[must_use]
    pub fn orders_apply(self) -> bool {
        !matches!(
            self,
            Via::ScaleTarget
                | Via::ParentRef
                | Via::BackendRef
                | Via::ListenerCertificate
                | Via::CanaryTarget
                | Via::CanaryAutoscaler
                | Via::CanaryIngress
                | Via::CanaryGateway
        )
    }

    /// Whether the reference reads a Secret.
    #[must_use]
    pub fn reads_secret(self) -> bool {
        matches!(self, Via::EnvSecretKey | Via::EnvFromSecret | Via::SecretVolume)
    }
}

/// One reference of an object to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference<'a> {
    /// Which field makes it.
    pub via: Via,
    /// The kind of the target.
    pub kind: Kind,
    /// The namespace of the target (`None` for cluster-scoped kinds).
    pub namespace: Option<&'a str>,
    /// The name of the target.
    pub name: &'a str,
    /// Where in the referring object: the env var or volume name.
    pub field: Option<&'a str>,
    /// What of the target: the Secret/ConfigMap key, or a Gateway listener (`sectionName`).
    pub key: Option<&'a str>,
    /// The target's port (Ingress backends, HTTPRoute backendRefs).
    pub port: Option<i64>,
}

impl<'a> Reference<'a> {
    fn to(via: Via, kind: Kind, namespace: Option<&'a str>, name: &'a str) -> Self {
        Self {
            via,
            kind,
            namespace: if kind.namespaced { namespace } else { None },
            name,
            field: None,
            key: None,
            port: None,
        }
    }

    fn field(self, field: &'a str) -> Self {
        Self {
            field: Some(field),
            ..self
        }
    }

    fn key(self, key: Option<&'a str>) -> Self {
        Self { key, ..self }
    }

    fn port(self, port: Option<i64>) -> Self {
        Self { port, ..self }
    }
}

/// The array at `pointer` of a JSON value (empty when absent).
fn array<'a>(v: &'a Value, pointer: &str) -> &'a [Value] {
    v.pointer(pointer)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn str_at<'a>(v: &'a Value, pointer: &str) -> Option<&'a str> {
    v.pointer(pointer).and_then(Value::as_str)
}

impl Object {
    /// Every reference of this object to another object, in the order of its fields: the
    /// namespace; for pods (workload templates and bare Pods) the Secrets, ConfigMaps, claims
    /// and ServiceAccount; RoleBinding roleRef and subjects; a StatefulSet's serviceName; Ingress
    /// backends; an HPA's scale target; HTTPRoute parents and backends; Gateway listener
    /// certificates; a Canary's target, autoscaler, ingress and gateways. Same-namespace
    /// references carry the object's namespace.
    #[must_use]
    pub fn references(&self) -> Vec<Reference<'_>> {
        let ns = self.namespace();
        let mut out = Vec::new();
        if let Some(n) = ns {
            out.push(Reference::to(Via::Namespace, Kind::NAMESPACE, None, n));
        }
        if let Some(spec) = self.pod_spec() {
            for c in spec
                .init_containers
                .iter()
                .flatten()
                .chain(spec.containers.iter())
            {
                for e in c.env.iter().flatten() {
                    let from = e.value_from.as_ref();
                    if let Some(sk) = from.and_then(|v| v.secret_key_ref.as_ref()) {
                        out.push(
                            Reference::to(Via::EnvSecretKey, Kind::SECRET, ns, &sk.name)
                                .field(&e.name)
                                .key(Some(&sk.key)),
                        );
                    }
                    if let Some(ck) = from.and_then(|v| v.config_map_key_ref.as_ref()) {
                        out.push(
                            Reference::to(Via::EnvConfigMapKey, Kind::CONFIG_MAP, ns, &ck.name)
                                .field(&e.name)
                                .key(Some(&ck.key)),
                        );
                    }
                }
                for ef in c.env_from.iter().flatten() {
                    if let Some(sr) = &ef.secret_ref {
                        out.push(Reference::to(Via::EnvFromSecret, Kind::SECRET, ns, &sr.name));
                    }
                    if let Some(cr) = &ef.config_map_ref {
                        out.push(Reference::to(
                            Via::EnvFromConfigMap,
                            Kind::CONFIG_MAP,
                            ns,
                            &cr.name,
                        ));
                    }
                }
            }
            for v in spec.volumes.iter().flatten() {
                if let Some(name) = v.secret.as_ref().and_then(|s| s.secret_name.as_deref()) {
                    out.push(Reference::to(Via::SecretVolume, Kind::SECRET, ns, name).field(&v.name));
                }
                if let Some(cm) = &v.config_map {
                    out.push(
                        Reference::to(Via::ConfigMapVolume, Kind::CONFIG_MAP, ns, &cm.name).field(&v.name),
                    );
                }
                if let Some(pvc) = &v.persistent_volume_claim {
                    out.push(
                        Reference::to(Via::Claim, Kind::PERSISTENT_VOLUME_CLAIM, ns, &pvc.claim_name)
                            .field(&v.name),
                    );
                }
            }
            if let Some(sa) = &spec.service_account_name {
                out.push(Reference::to(Via::ServiceAccount, Kind::SERVICE_ACCOUNT, ns, sa));
            }
        }
        match self {
            Object::StatefulSet(s) => {
                if let Some(svc) = s.spec.service_name.as_deref() {
                    out.push(Reference::to(Via::ServiceName, Kind::SERVICE, ns, svc));
                }
            }
            Object::RoleBinding(rb) => {
                if rb.role_ref.kind == Kind::ROLE.kind {
                    out.push(Reference::to(Via::RoleRef, Kind::ROLE, ns, &rb.role_ref.name));
                }
                for s in rb.subjects.iter().flatten() {
                    if s.kind == Kind::SERVICE_ACCOUNT.kind {
                        let sns = s.namespace.as_deref().or(ns);
                        out.push(Reference::to(Via::Subject, Kind::SERVICE_ACCOUNT, sns, &s.name));
                    }
                }
            }
            Object::Ingress(ing) => {
                let spec = ing.spec.as_ref();
                let backends = spec.and_then(|s| s.default_backend.as_ref()).into_iter().chain(
                    spec.iter()
                        .flat_map(|s| s.rules.iter().flatten())
                        .flat_map(|rule| rule.http.iter().flat_map(|h| h.paths.iter()).map(|p| &p.backend)),
                );
                for b in backends {
                    if let Some(svc) = &b.service {
                        let port = svc.port.as_ref().and_then(|p| p.number).map(i64::from);
                        out.push(Reference::to(Via::IngressBackend, Kind::SERVICE, ns, &svc.name).port(port));
                    }
                }
            }
            Object::HorizontalPodAutoscaler(hpa) => {
                let t = &hpa.spec.scale_target_ref;
                if t.kind == Kind::DEPLOYMENT.kind {
                    out.push(Reference::to(Via::ScaleTarget, Kind::DEPLOYMENT, ns, &t.name));
                }
            }
            Object::Custom(c) => {
                let spec = c.body.get("spec").unwrap_or(&Value::Null);
                match c.kind {
                    Kind::HTTP_ROUTE => {
                        for p in array(spec, "/parentRefs") {
                            let name = str_at(p, "/name").unwrap_or_default();
                            out.push(
                                Reference::to(Via::ParentRef, Kind::GATEWAY, ns, name)
                                    .key(str_at(p, "/sectionName")),
                            );
                        }
                        for rule in array(spec, "/rules") {
                            for b in array(rule, "/backendRefs") {
                                let name = str_at(b, "/name").unwrap_or_default();
                                let port = b.get("port").and_then(Value::as_i64);
                                out.push(Reference::to(Via::BackendRef, Kind::SERVICE, ns, name).port(port));
                            }
                        }
                    }
                    Kind::GATEWAY => {
                        for l in array(spec, "/listeners") {
                            for r in array(l, "/tls/certificateRefs") {
                                let name = str_at(r, "/name").unwrap_or_default();
                                out.push(Reference::to(Via::ListenerCertificate, Kind::SECRET, ns, name));
                            }
                        }
                    }
                    Kind::CANARY => {
                        if str_at(spec, "/targetRef/kind") == Some(Kind::DEPLOYMENT.kind) {
                            let name = str_at(spec, "/targetRef/name").unwrap_or_default();
                            out.push(Reference::to(Via::CanaryTarget, Kind::DEPLOYMENT, ns, name));
                        }
                        if let Some(h) = str_at(spec, "/autoscalerRef/name") {
                            out.push(Reference::to(
                                Via::CanaryAutoscaler,
                                Kind::HORIZONTAL_POD_AUTOSCALER,
                                ns,
                                h,
                            ));
                        }
                        if let Some(i) = str_at(spec, "/ingressRef/name") {
                            out.push(Reference::to(Via::CanaryIngress, Kind::INGRESS, ns, i));
                        }
                        for g in array(spec, "/service/gatewayRefs") {
                            let name = str_at(g, "/name").unwrap_or_default();
                            out.push(
                                Reference::to(Via::CanaryGateway, Kind::GATEWAY, ns, name)
                                    .key(str_at(g, "/sectionName")),
                            );
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        out
    }
}
