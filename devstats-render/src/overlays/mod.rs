//! Layer 4, **overlays**: what is laid over components and routes when the model asks for it:
//! Flagger canaries, oauth2-proxy sign-in and the NetworkPolicies. Imports from the layers below.

pub(crate) mod canary;
pub(crate) mod network_policy;
pub(crate) mod sign_in;
