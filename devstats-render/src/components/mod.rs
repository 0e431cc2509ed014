//! Layer 2, **components**: one file per `--only` component (see
//! [`Component`](crate::core::component::Component)); `operator` builds the DevStats operator's
//! own objects. Imports from `core` and `parts`; components may use each other without forming
//! a circle (Patroni's pod carries the monitoring exporter sidecar, so `monitoring` is here).

pub mod affiliations;
pub mod api;
pub mod backups;
pub mod bootstrap;
pub mod disaster_recovery;
pub mod grafana;
pub mod grafana_data;
pub mod monitoring;
pub mod namespace;
pub mod operator;
pub mod patroni;
pub mod provision;
pub mod reports;
pub mod secrets;
pub mod static_sites;
pub mod sync;
pub mod volumes;
