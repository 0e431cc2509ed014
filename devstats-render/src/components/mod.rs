//! Layer 2, **components**: one file per `--only` component (see
//! [`Component`](crate::core::component::Component)); `operator` builds the DevStats operator's
//! own objects. Imports from `core` and `parts`; components may use each other without forming
//! a circle (Patroni's pod carries the monitoring exporter sidecar, so `monitoring` is here).

pub(crate) mod affiliations;
pub(crate) mod api;
pub(crate) mod backups;
pub(crate) mod bootstrap;
pub mod disaster_recovery;
pub(crate) mod grafana;
pub mod grafana_data;
pub mod monitoring;
pub(crate) mod namespace;
pub mod operator;
pub(crate) mod patroni;
pub(crate) mod provision;
pub(crate) mod reports;
pub(crate) mod secrets;
pub(crate) mod static_sites;
pub(crate) mod sync;
pub(crate) mod volumes;
