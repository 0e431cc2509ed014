//! Import of a `cncf/devstats-helm` values file into the model (being written).
