//! Layer 5, **check**: the cross-object reference check run on every render. Imports from the
//! layers below.

pub mod refs;
