//! Layer 0, **core**: what every builder shares and nothing else. The object and kind types,
//! the apply policy and phase, names and labels (`common`), facts derived from the model alone
//! (`facts`), quantities, references, the DevStats custom resource, and the builders' context
//! ([`ctx::Ctx`]) and result ([`ctx::Rendered`]). Imports nothing from the other layers.

pub mod common;
pub mod component;
pub mod ctx;
pub mod error;
pub mod facts;
pub mod kind;
pub mod object;
pub mod policy;
pub mod quantity;
pub mod reference;
pub mod resource;
pub mod secret_value;
