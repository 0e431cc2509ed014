//! The pure planner: rendered objects → desired objects with content hashes, their render
//! policies ([`ApplyPolicy`](devstats_render::ApplyPolicy), set by each object's builder) and a dependency graph; then, given a snapshot of the live cluster, what to write, create, recreate,
//! defer, refuse and prune. No IO: everything here is unit- and property-tested.
//!
//! Modules, lowest first (none imports a later one): `json` (canonical JSON, hashes), `inventory`
//! (the ApplySet inventory), `graph` (dependency edges), `desired` (the desired set), `live`
//! (the live snapshot), `policy` (what the API allows), `guards`, `decide`.

pub mod decide;
pub mod desired;
pub mod graph;
pub mod guards;
pub mod inventory;
pub mod json;
pub mod live;
pub mod policy;

pub use decide::{Action, Plan, PlanOptions, PlannedObject, PruneOptions, plan};
pub use desired::{
    Desired, DesiredError, DesiredSet, FIELD_MANAGER, HASH_ANNOTATION, annotate, hash_of, live_hash,
};
pub use graph::{Edge, EdgeKind};
pub use live::LiveState;
