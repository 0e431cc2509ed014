//! Per-project provisioning Jobs (being written).

#![allow(unused_variables, missing_docs)]

use crate::{Ctx, Object};
use devstats_model::Project;
use k8s_openapi::api::core::v1::Pod;

pub fn build(ctx: &Ctx<'_>, p: &Project) -> Object { Object::from(Pod::default()) }
