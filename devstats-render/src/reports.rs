//! Reports and tests pods (being written).

#![allow(unused_variables, missing_docs)]

use crate::{Ctx, Object};
use devstats_model::Project;
use k8s_openapi::api::core::v1::Pod;

pub fn reports(ctx: &Ctx<'_>) -> Object { Object::from(Pod::default()) }
pub fn tests(ctx: &Ctx<'_>) -> Object { Object::from(Pod::default()) }
