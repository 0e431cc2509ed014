//! The instance Namespace (the chart always emits both devstats-test and devstats-prod; we emit
//! only the instance's, labelled `name: <namespace>` like the chart), with the Pod Security
//! Admission labels of `instance.security.podSecurity`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;

use crate::core::{ctx::Ctx, object::Object};

/// The Namespace.
#[must_use]
pub(crate) fn build(ctx: &Ctx<'_>) -> Object {
    let ns = ctx.namespace().to_owned();
    let mut labels = BTreeMap::from([("name".to_owned(), ns.clone())]);
    let psa = &ctx.model.instance.security.pod_security;
    for (mode, level) in [("enforce", psa.enforce), ("audit", psa.audit), ("warn", psa.warn)] {
        if let Some(level) = level {
            labels.insert(
                format!("pod-security.kubernetes.io/{mode}"),
                level.as_str().to_owned(),
            );
            labels.insert(
                format!("pod-security.kubernetes.io/{mode}-version"),
                psa.version.clone(),
            );
        }
    }
    let mut meta = ctx.meta(ns, "namespace", labels);
    meta.namespace = None;
    Object::from(Namespace {
        metadata: meta,
        ..Namespace::default()
    })
}
