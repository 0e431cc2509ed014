//! Shared helpers for the integration tests of `devstats-render`.
//!
//! Use from an integration test with `mod support;`.

pub mod crd_schema;
pub mod models;
