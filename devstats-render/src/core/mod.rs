//! Layer 0, **core**: what every builder shares and nothing else. The object and kind types,
//! the apply policy and phase, names and labels (`common`), facts derived from the model alone
//! (`facts`), quantities, references, the DevStats custom resource, and the builders' context
//! ([`ctx::Ctx`]) and result ([`ctx::Rendered`]). Imports nothing from the other layers.

pub mod common;
pub(crate) mod component;
pub(crate) mod ctx;
pub(crate) mod error;
pub(crate) mod facts;
pub mod kind;
pub(crate) mod object;
pub(crate) mod policy;
pub mod quantity;
pub(crate) mod reference;
pub mod resource;
pub(crate) mod secret_value;
