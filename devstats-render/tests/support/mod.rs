//! Shared helpers for the integration tests of `devstats-render`.
//!
//! Use from an integration test with `mod support;`.

pub mod parity;
