//! The instance Namespace (the chart always emits both devstats-test and devstats-prod; we emit
//! only the instance's, labelled `name: <namespace>` like the chart).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Namespace;

use crate::{Ctx, Object};

/// The Namespace.
#[must_use]
pub fn build(ctx: &Ctx<'_>) -> Object {
    let ns = ctx.namespace().to_owned();
    let mut meta = ctx.meta(ns.clone(), "namespace", BTreeMap::from([("name".to_owned(), ns)]));
    meta.namespace = None;
    Object::from(Namespace {
        metadata: meta,
        ..Namespace::default()
    })
}
