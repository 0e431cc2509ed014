//! Patroni: the PostgreSQL cluster `devstats-postgres`.
//!
//! The chart renders eight objects (templates `devstats-postgres-*.yaml`): a ServiceAccount, a Role
//! (configmaps, endpoints, pods, services) and its RoleBinding, the leader Endpoints
//! `devstats-postgres-config` (`subsets: []`), three headless Services (`devstats-postgres` for the
//! primary, `devstats-postgres-ro` for the replicas, `devstats-postgres-config` with neither selector
//! nor ports so that the leader Endpoints is not garbage-collected) and the StatefulSet, whose 53
//! env vars the image's entrypoint renders into Patroni's local configuration.
//!
//! We render the same objects, field for field, from `instance.patroni`, with two deliberate
//! differences:
//! - `PATRONI_MAXIMUM_LAG_ON_FAILOVER` is the integer `53687091200`; Helm renders the chart's value
//!   as the float `5.36870912e+10`.
//! - `PATRONI_RETRY_TIMEOUT` defaults to 20 (chart: 60), so that Patroni's rule
//!   `loop_wait + 2 × retry_timeout ≤ ttl` holds with the default loop_wait 15 and ttl 60.
//!
//! `instance.patroni.chartEnv` (written by the import of a live chart install) renders both as the
//! chart has them instead, so that taking the chart's StatefulSet over restarts no pod.
//!
//! Patroni writes `subsets` of the Endpoints `devstats-postgres-config` at run time (the primary
//! points it at itself): the apply layer must create that object only when it is missing and never
//! update it afterwards.

use std::collections::BTreeMap;

use devstats_model::hardening::{PatroniDcs, VolumeOwnership};
use devstats_model::{Patroni, WalLevel};
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Affinity, Container, ContainerPort, EmptyDirVolumeSource, Endpoints, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeClaimStatus, PodAffinityTerm, PodAntiAffinity,
    PodSecurityContext, PodSpec, PodTemplateSpec, SecurityContext, Service, ServiceAccount, ServicePort,
    ServiceSpec, Volume, VolumeResourceRequirements,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement, ObjectMeta};

use crate::core::common::{APP, Env, chart_labels, mount, names, node_selector, resources};
use crate::core::{
    component::Component, ctx::Ctx, object::Object, policy::ApplyPolicy, policy::Phase, policy::Ready,
    policy::Write,
};
use crate::parts::security::{self, Workload};

/// The `type` label of every Patroni object.
const TYPE: &str = "postgres";
/// The `app.kubernetes.io/component` value.
const COMPONENT: &str = "postgres";
/// PostgreSQL port (the chart's `postgresPort`).
const PG_PORT: i32 = 5432;
/// Patroni REST API port.
const REST_PORT: i32 = 8008;
/// UID and GID of the `postgres` user of the image.
const POSTGRES_UID: i64 = security::POSTGRES_UID;
/// Data directory mount (the `pgdata` volume claim template).
const PGDATA: &str = "/home/postgres/pgdata";
/// The data volume claim template.
const PGDATA_VOLUME: &str = "pgdata";
/// The memory-backed `/dev/shm` volume.
const SHM_VOLUME: &str = "devshm";

/// Labels of every Patroni object: the chart labels plus `cluster-name`.
fn labels() -> BTreeMap<String, String> {
    let mut l = chart_labels(TYPE, None);
    l.insert("cluster-name".to_owned(), names::POSTGRES.to_owned());
    l
}

/// Service selector for a Patroni member role (`primary` or `replica`).
fn role_selector(role: &str) -> BTreeMap<String, String> {
    let mut l = labels();
    l.insert("role".to_owned(), role.to_owned());
    l
}

fn meta(ctx: &Ctx<'_>, name: &str) -> ObjectMeta {
    ctx.meta(name, COMPONENT, labels())
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn port(port: i32, name: &str) -> ServicePort {
    ServicePort {
        port,
        name: Some(name.to_owned()),
        ..ServicePort::default()
    }
}

/// All Patroni objects: ServiceAccount, Role, RoleBinding, Endpoints, three Services, StatefulSet.
#[must_use]
pub(crate) fn build(ctx: &Ctx<'_>) -> Vec<(Object, ApplyPolicy)> {
    let with = |o: Object, policy: fn(ApplyPolicy) -> ApplyPolicy| {
        let p = policy(ApplyPolicy::of(Component::Postgres, &o));
        (o, p)
    };
    // The database: kept by prune and destroy without their flags, never pruned by Flux.
    let database = |p: ApplyPolicy| p.database();
    let database_phase = |p: ApplyPolicy| p.database().in_phase(Phase::Database);
    let mut out = vec![
        with(service_account(ctx), database),
        with(role(ctx), database),
        with(role_binding(ctx), database),
    ];
    if endpoints_dcs(ctx) {
        // Patroni owns the config Endpoints' `subsets` and annotations: created once.
        out.push(with(endpoints(ctx), |p| p.database().written(Write::CreateOnly)));
    }
    out.extend([
        with(service_primary(ctx), database_phase),
        with(service_replicas(ctx), database_phase),
    ]);
    if endpoints_dcs(ctx) {
        out.push(with(service_config(ctx), database_phase));
    }
    out.push(with(stateful_set(ctx), |p| {
        p.database().ready_when(Ready::Primary)
    }));
    if crate::parts::pdb::enabled(ctx) {
        out.push(with(
            crate::parts::pdb::build(ctx, names::POSTGRES, COMPONENT, labels(), labels()),
            |p| p,
        ));
    }
    out
}

/// Whether Patroni keeps its DCS in Endpoints (the chart) rather than ConfigMaps
/// (`instance.security.patroni.dcs`). With ConfigMaps there is no leader Endpoints and no config
/// Service, and the Role grants no access to Endpoints or Services.
fn endpoints_dcs(ctx: &Ctx<'_>) -> bool {
    ctx.model.instance.security.patroni.dcs == PatroniDcs::Endpoints
}

fn service_account(ctx: &Ctx<'_>) -> Object {
    Object::from(ServiceAccount {
        metadata: meta(ctx, names::POSTGRES),
        ..ServiceAccount::default()
    })
}

fn role(ctx: &Ctx<'_>) -> Object {
    let rule = |resource: &str, verbs: &[&str]| PolicyRule {
        api_groups: Some(strings(&[""])),
        resources: Some(strings(&[resource])),
        verbs: strings(verbs),
        ..PolicyRule::default()
    };
    Object::from(Role {
        metadata: meta(ctx, names::POSTGRES),
        rules: Some(if endpoints_dcs(ctx) {
            vec![
                rule(
                    "configmaps",
                    &["create", "get", "list", "patch", "update", "watch"],
                ),
                rule(
                    "endpoints",
                    &["get", "patch", "update", "create", "list", "watch"],
                ),
                rule("pods", &["get", "list", "patch", "update", "watch"]),
                rule("services", &["create", "get", "list", "watch", "patch", "update"]),
            ]
        } else {
            vec![
                rule(
                    "configmaps",
                    &["create", "get", "list", "patch", "update", "watch"],
                ),
                rule("pods", &["get", "list", "patch", "update", "watch"]),
            ]
        }),
    })
}

fn role_binding(ctx: &Ctx<'_>) -> Object {
    Object::from(RoleBinding {
        metadata: meta(ctx, names::POSTGRES),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".to_owned()),
            kind: "Role".to_owned(),
            name: names::POSTGRES.to_owned(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_owned(),
            name: names::POSTGRES.to_owned(),
            ..Subject::default()
        }]),
    })
}

/// The leader Endpoints. Patroni owns `subsets` at run time: create-only for the apply layer.
fn endpoints(ctx: &Ctx<'_>) -> Object {
    Object::from(Endpoints {
        metadata: meta(ctx, names::POSTGRES_CONFIG),
        subsets: Some(Vec::new()),
    })
}

fn headless(
    ctx: &Ctx<'_>,
    name: &str,
    ports: Option<Vec<ServicePort>>,
    selector: Option<BTreeMap<String, String>>,
) -> Object {
    Object::from(Service {
        metadata: meta(ctx, name),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_owned()),
            ports,
            selector,
            ..ServiceSpec::default()
        }),
        ..Service::default()
    })
}

fn service_primary(ctx: &Ctx<'_>) -> Object {
    headless(
        ctx,
        names::POSTGRES,
        Some(vec![port(PG_PORT, "psql")]),
        Some(role_selector("primary")),
    )
}

fn service_replicas(ctx: &Ctx<'_>) -> Object {
    headless(
        ctx,
        names::POSTGRES_RO,
        Some(vec![port(PG_PORT, "psql"), port(REST_PORT, "patronictl")]),
        Some(role_selector("replica")),
    )
}

fn service_config(ctx: &Ctx<'_>) -> Object {
    headless(ctx, names::POSTGRES_CONFIG, None, None)
}

/// `'on'` / `'off'`, as the chart's PostgreSQL switches.
fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

fn wal_level(l: WalLevel) -> &'static str {
    match l {
        WalLevel::Minimal => "minimal",
        WalLevel::Replica => "replica",
        WalLevel::Logical => "logical",
    }
}

/// The 53 env vars of the Patroni container, in the chart's order.
/// Go's `%v` of an integer-valued float64, as Helm renders a number of a values file: shortest
/// digits, exponent form (`e+NN`) from 10⁶ up.
fn go_float(n: u64) -> String {
    if n < 1_000_000 {
        return n.to_string();
    }
    #[allow(clippy::cast_precision_loss)] // Helm's float64, rounding included
    let text = format!("{:e}", n as f64);
    let (mantissa, exp) = text.split_once('e').unwrap_or((text.as_str(), "0"));
    format!("{mantissa}e+{exp:0>2}")
}

fn env(ctx: &Ctx<'_>, p: &Patroni) -> Env {
    let pg = ctx.model.instance.secrets.postgres.as_str();
    // A live chart install's env, kept by the import until the takeover is done.
    let chart_env = p.chart_env.clone().unwrap_or_default();
    let retry_timeout = chart_env.retry_timeout.unwrap_or(p.retry_timeout);
    let maximum_lag = if chart_env.float_maximum_lag {
        go_float(p.maximum_lag_on_failover)
    } else {
        p.maximum_lag_on_failover.to_string()
    };
    let q = &p.postgres;
    let kube_labels = format!(
        r#"{{"name": "{APP}", "type": "{TYPE}", "cluster-name": "{}"}}"#,
        names::POSTGRES
    );
    let kube_ports = format!(r#"[{{"name": "postgresql", "port": {PG_PORT}}}]"#);
    Env::new()
        .field("PATRONI_KUBERNETES_POD_IP", "status.podIP")
        .field("POD_IP", "status.podIP")
        .field("PATRONI_KUBERNETES_NAMESPACE", "metadata.namespace")
        .val("PATRONI_KUBERNETES_LABELS", kube_labels)
        .val("PATRONI_KUBERNETES_PORTS", kube_ports)
        .secret("PATRONI_SUPERUSER_USERNAME", pg, "PG_ADMIN_USER.secret")
        .secret("PATRONI_SUPERUSER_PASSWORD", pg, "PG_PASS.secret")
        .val("PATRONI_REPLICATION_USERNAME", "standby")
        .secret("PATRONI_REPLICATION_PASSWORD", pg, "PG_PASS_REP.secret")
        .val("PATRONI_SCOPE", names::POSTGRES)
        .val(
            "PATRONI_KUBERNETES_USE_ENDPOINTS",
            if endpoints_dcs(ctx) { "true" } else { "false" },
        )
        .field("PATRONI_NAME", "metadata.name")
        .val("PATRONI_POSTGRESQL_DATA_DIR", format!("{PGDATA}/pgroot/data"))
        .val("PATRONI_POSTGRESQL_PGPASS", "/tmp/pgpass")
        .val("PATRONI_POSTGRESQL_LISTEN", format!("0.0.0.0:{PG_PORT}"))
        .val("PATRONI_RESTAPI_LISTEN", format!("0.0.0.0:{REST_PORT}"))
        .val("PATRONI_POSTGRES_BUFFERS", q.shared_buffers.as_str())
        .val("PATRONI_POSTGRES_MAX_CONN", q.max_connections.to_string())
        .val(
            "PATRONI_POSTGRES_MAX_PARALLEL_WORKERS_PER_GATHER",
            q.max_parallel_workers_per_gather.to_string(),
        )
        .val(
            "PATRONI_POSTGRES_MAX_WORKER_PROCESSES",
            q.max_worker_processes.to_string(),
        )
        .val(
            "PATRONI_POSTGRES_MAX_PARALLEL_WORKERS",
            q.max_parallel_workers.to_string(),
        )
        .val("PATRONI_POSTGRES_WORK_MEM", q.work_mem.as_str())
        .val("PATRONI_POSTGRES_WAL_BUFFERS", q.wal_buffers.as_str())
        .val("PATRONI_POSTGRES_MAX_TEMP_FILE", q.max_temp_file.as_str())
        .val("PATRONI_POSTGRES_USE_SLOTS", q.use_slots.to_string())
        .val("PATRONI_POSTGRES_HOT_STANDBY", on_off(q.hot_standby))
        .val(
            "PATRONI_POSTGRES_HOT_STANDBY_FEEDBACK",
            on_off(q.hot_standby_feedback),
        )
        .val("PATRONI_POSTGRES_WAL_LOG_HINTS", on_off(q.wal_log_hints))
        .val("PATRONI_POSTGRES_WAL_KEEP_SIZE", q.wal_keep_size.as_str())
        .val("PATRONI_POSTGRES_WAL_LEVEL", wal_level(q.wal_level))
        .val("PATRONI_POSTGRES_MAX_WAL_SENDERS", q.max_wal_senders.to_string())
        .val(
            "PATRONI_POSTGRES_MAX_REPLICATION_SLOTS",
            q.max_replication_slots.to_string(),
        )
        .val(
            "PATRONI_POSTGRES_AUTOVACUUM_MAX_WORKERS",
            q.autovacuum_max_workers.to_string(),
        )
        .val(
            "PATRONI_POSTGRES_AUTOVACUUM_NAPTIME",
            q.autovacuum_naptime.as_str(),
        )
        .val(
            "PATRONI_POSTGRES_AUTOVACUUM_VACUUM_COST_LIMIT",
            q.autovacuum_vacuum_cost_limit.to_string(),
        )
        .val(
            "PATRONI_POSTGRES_AUTOVACUUM_VACUUM_THRESHOLD",
            q.autovacuum_vacuum_threshold.to_string(),
        )
        .val(
            "PATRONI_POSTGRES_AUTOVACUUM_VACUUM_SCALE_FACTOR",
            q.autovacuum_vacuum_scale_factor.to_string(),
        )
        .val(
            "PATRONI_POSTGRES_AUTOVACUUM_ANALYZE_THRESHOLD",
            q.autovacuum_analyze_threshold.to_string(),
        )
        .val(
            "PATRONI_POSTGRES_AUTOVACUUM_ANALYZE_SCALE_FACTOR",
            q.autovacuum_analyze_scale_factor.to_string(),
        )
        .val("PATRONI_LOOP_WAIT", p.loop_wait.to_string())
        .val("PATRONI_TTL", p.ttl.to_string())
        .val("PATRONI_RETRY_TIMEOUT", retry_timeout.to_string())
        .val("PATRONI_MASTER_START_TIMEOUT", p.master_start_timeout.to_string())
        .val("PATRONI_MAXIMUM_LAG_ON_FAILOVER", maximum_lag)
        .val(
            "PATRONI_POSTGRES_MAINTENANCE_WORK_MEM",
            q.maintenance_work_mem.as_str(),
        )
        .val(
            "PATRONI_POSTGRES_IDLE_TRANSACTION_TIMEOUT",
            q.idle_transaction_timeout.as_str(),
        )
        .val("PATRONI_POSTGRES_MAX_WAL_SIZE", q.max_wal_size.as_str())
        .val("PATRONI_POSTGRES_MIN_WAL_SIZE", q.min_wal_size.as_str())
        .val(
            "PATRONI_POSTGRES_CHECKPOINT_COMPLETION_TARGET",
            q.checkpoint_completion_target.to_string(),
        )
        .val(
            "PATRONI_POSTGRES_DEFAULT_STATISTICS_TARGET",
            q.default_statistics_target.to_string(),
        )
        .val("PATRONI_POSTGRES_CACHE_SIZE", q.cache_size.as_str())
        .val("PATRONI_POSTGRES_IO_CONCURRENCY", q.io_concurrency.to_string())
        .val(
            "PATRONI_POSTGRES_RANDOM_PAGE_COST",
            q.random_page_cost.to_string(),
        )
}

fn stateful_set(ctx: &Ctx<'_>) -> Object {
    let inst = &ctx.model.instance;
    let p = &inst.patroni;
    let image = inst.images.postgres.as_str().to_owned();
    let pgdata_mount = mount(PGDATA_VOLUME, PGDATA);
    let mut pod_meta = ctx.pod_meta(names::POSTGRES, labels());
    // The chart's pod template carries namespace and labels, but no name.
    pod_meta.name = None;
    let anti_affinity = PodAffinityTerm {
        label_selector: Some(LabelSelector {
            match_expressions: Some(vec![LabelSelectorRequirement {
                key: "type".to_owned(),
                operator: "In".to_owned(),
                values: Some(strings(&[TYPE])),
            }]),
            ..LabelSelector::default()
        }),
        topology_key: "kubernetes.io/hostname".to_owned(),
        ..PodAffinityTerm::default()
    };
    let init = Container {
        name: CHOWN_INIT.to_owned(),
        image: Some(image.clone()),
        command: Some(vec![
            "/bin/chown".to_owned(),
            "-R".to_owned(),
            format!("{POSTGRES_UID}:{POSTGRES_UID}"),
            PGDATA.to_owned(),
        ]),
        volume_mounts: Some(vec![pgdata_mount.clone()]),
        security_context: Some(SecurityContext {
            run_as_user: Some(0),
            ..SecurityContext::default()
        }),
        ..Container::default()
    };
    let tcp = |n: i32| ContainerPort {
        container_port: n,
        protocol: Some("TCP".to_owned()),
        ..ContainerPort::default()
    };
    let probes = inst.security.patroni.probes;
    // WAL archiving (instance.disasterRecovery): wal-g installed into an emptyDir, its env.
    let archiving = crate::components::disaster_recovery::patroni_archiving(ctx);
    let mut env = env(ctx, p);
    let mut volume_mounts = vec![pgdata_mount, mount(SHM_VOLUME, "/dev/shm")];
    if let Some(a) = &archiving {
        env = env.extend(a.env.clone());
        volume_mounts.push(a.mount.clone());
    }
    let container = Container {
        name: names::POSTGRES.to_owned(),
        resources: resources(inst.resources.postgres.as_ref()),
        image: Some(image),
        image_pull_policy: ctx.pull_policy(),
        ports: Some(vec![tcp(REST_PORT), tcp(PG_PORT)]),
        volume_mounts: Some(volume_mounts),
        env: env.build(),
        // Patroni's REST API: ready when it runs as primary or a streaming replica; live while
        // its HA loop runs. Startup allows a long bootstrap before liveness counts.
        // `/health`, not `/readiness`: Patroni's `/readiness` is 503 for a replica that lags more
        // than maximum_lag_on_failover or is not streaming (api.py), which would empty the
        // read-only Service (`PG_HOST_RO` of every Grafana and the API) when all replicas lag
        // and serialize multi-hour re-clones behind OrderedReady. `/health` is 200 while
        // PostgreSQL runs: a member leaves DNS only when it cannot serve at all.
        readiness_probe: probes.then(|| security::http_probe("/health", REST_PORT, 10, 3)),
        liveness_probe: probes.then(|| security::http_probe("/liveness", REST_PORT, 10, 3)),
        startup_probe: probes.then(|| security::http_probe("/liveness", REST_PORT, 10, 90)),
        ..Container::default()
    };
    // The claim template exactly as the API server stores it (defaulted `volumeMode` and
    // `status.phase`, canonical size): `volumeClaimTemplates` is an atomic list, so any difference
    // from the stored list is a server-side apply conflict with the manager that created it.
    let claim = PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(PGDATA_VOLUME.to_owned()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec![inst.storage.access_mode.as_str().to_owned()]),
            storage_class_name: Some(inst.storage.class_name.clone()),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    crate::core::quantity::quantity(inst.storage.postgres_size.as_str()),
                )])),
                ..VolumeResourceRequirements::default()
            }),
            volume_mode: Some("Filesystem".to_owned()),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: Some(PersistentVolumeClaimStatus {
            phase: Some("Pending".to_owned()),
            ..PersistentVolumeClaimStatus::default()
        }),
    };
    // Who makes the volume writable for 999 (instance.security.patroni.volumeOwnership). Without
    // pod hardening the chart's init container and fsGroup, as the chart.
    let ownership = if security::hardened(ctx) {
        inst.security.patroni.volume_ownership
    } else {
        VolumeOwnership::Chown
    };
    let chart_like = !security::hardened(ctx);
    let fs_group = (chart_like || ownership == VolumeOwnership::FsGroup).then_some(POSTGRES_UID);
    let mut init_containers = (ownership == VolumeOwnership::Chown).then(|| vec![init]);
    let mut volumes = vec![Volume {
        name: SHM_VOLUME.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource {
            medium: Some("Memory".to_owned()),
            ..EmptyDirVolumeSource::default()
        }),
        ..Volume::default()
    }];
    if let Some(a) = archiving {
        init_containers.get_or_insert_with(Vec::new).push(a.init);
        volumes.push(a.volume);
    }
    let mut sts = StatefulSet {
        metadata: meta(ctx, names::POSTGRES),
        spec: StatefulSetSpec {
            selector: LabelSelector {
                match_labels: Some(labels()),
                ..LabelSelector::default()
            },
            replicas: Some(i32::try_from(p.replicas).unwrap_or(i32::MAX)),
            service_name: Some(names::POSTGRES.to_owned()),
            template: PodTemplateSpec {
                metadata: Some(pod_meta),
                spec: Some(PodSpec {
                    security_context: Some(PodSecurityContext {
                        fs_group,
                        ..PodSecurityContext::default()
                    }),
                    service_account_name: Some(names::POSTGRES.to_owned()),
                    volumes: Some(volumes),
                    affinity: Some(Affinity {
                        pod_anti_affinity: Some(PodAntiAffinity {
                            required_during_scheduling_ignored_during_execution: Some(vec![anti_affinity]),
                            ..PodAntiAffinity::default()
                        }),
                        ..Affinity::default()
                    }),
                    init_containers,
                    containers: vec![container],
                    termination_grace_period_seconds: Some(30),
                    node_selector: node_selector(&inst.node_selectors.db),
                    ..PodSpec::default()
                }),
            },
            volume_claim_templates: Some(vec![claim]),
            ..StatefulSetSpec::default()
        },
        ..StatefulSet::default()
    };
    if let Some(pod) = sts.spec.template.spec.as_mut() {
        crate::components::monitoring::patroni_pod(ctx, pod);
        security::harden_pod(ctx, pod, Workload::Postgres);
        if security::hardened(ctx) {
            for c in pod
                .init_containers
                .iter_mut()
                .flatten()
                .filter(|c| c.name == CHOWN_INIT)
            {
                c.security_context = Some(security::chown_context());
            }
        }
    }
    Object::from(sts)
}

/// The chart's init container that chowns the data directory to the postgres user.
const CHOWN_INIT: &str = "patch-container";

/// Test support shared by the tests of `patroni`, `backups` and `reports`: the sample render of the
/// chart and a JSON differ that names the path of every difference.
#[cfg(test)]
pub(crate) mod fixture {
    use serde_json::Value;

    use crate::core::object::Object;
    pub(crate) use crate::parts::testkit::ours;

    /// The object of the samples render with this kind and name.
    pub(crate) fn chart_object(kind: &str, name: &str) -> Value {
        crate::parts::testkit::chart_object(crate::parts::testkit::samples(), kind, name)
    }

    /// Asserts that our object equals the chart's sample object of the same kind and name.
    pub(crate) fn assert_same(chart: &Value, o: &Object) {
        crate::parts::testkit::assert_same(&ours(o), chart);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use devstats_model::{Instance, Model, Role};
    use serde_json::Value;

    use super::fixture::{assert_same, chart_object, ours};
    use super::*;

    fn model() -> Model {
        Model {
            instance: Instance::new("prod", "devstats-prod", Role::Prod, &["cncf"]),
            foundations: vec![],
            projects: vec![],
        }
    }

    fn objects(m: &Model) -> Vec<Object> {
        build(&Ctx {
            model: m,
            schedules: BTreeMap::new(),
            secrets: None,
        })
        .into_iter()
        .map(|(o, _)| o)
        .collect()
    }

    fn env_value(o: &Object, name: &str) -> Option<String> {
        let v = ours(o);
        v.pointer("/spec/template/spec/containers/0/env")?
            .as_array()?
            .iter()
            .find(|e| e["name"] == name)?
            .get("value")?
            .as_str()
            .map(str::to_owned)
    }

    fn find<'a>(objs: &'a [Object], kind: &str, name: &str) -> &'a Object {
        objs.iter()
            .find(|o| o.kind() == kind && o.name() == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    }

    #[test]
    fn matches_the_chart_samples() {
        let mut m = model();
        // The chart's retry timeout (ours defaults to 20, see the module docs).
        m.instance.patroni.retry_timeout = 60;
        let objs = objects(&m);
        assert_eq!(objs.len(), 8);
        for o in &objs {
            let mut chart = chart_object(o.kind(), o.name());
            if o.kind() == "StatefulSet" {
                // Deliberate: the integer instead of Helm's float rendering.
                let env = chart
                    .pointer_mut("/spec/template/spec/containers/0/env")
                    .and_then(Value::as_array_mut);
                for e in env.into_iter().flatten() {
                    if e["name"] == "PATRONI_MAXIMUM_LAG_ON_FAILOVER" {
                        assert_eq!(e["value"], "5.36870912e+10");
                        e["value"] = Value::from("53687091200");
                    }
                }
            }
            assert_same(&chart, o);
        }
    }

    #[test]
    fn chart_env_renders_the_live_chart_values() {
        let mut m = model();
        m.instance.patroni.retry_timeout = 22;
        m.instance.patroni.chart_env = Some(devstats_model::PatroniChartEnv {
            retry_timeout: Some(60),
            float_maximum_lag: true,
        });
        let objs = objects(&m);
        let sts = find(&objs, "StatefulSet", names::POSTGRES);
        assert_eq!(env_value(sts, "PATRONI_RETRY_TIMEOUT").as_deref(), Some("60"));
        assert_eq!(
            env_value(sts, "PATRONI_MAXIMUM_LAG_ON_FAILOVER").as_deref(),
            Some("5.36870912e+10")
        );
        for (n, text) in [
            (0, "0"),
            (999_999, "999999"),
            (1_000_000, "1e+06"),
            (1_500_000, "1.5e+06"),
            (53_687_091_200, "5.36870912e+10"),
            (123_456_789_012_345_678, "1.2345678901234568e+17"),
        ] {
            assert_eq!(go_float(n), text, "{n}");
        }
    }

    #[test]
    fn fifty_three_env_vars_and_deliberate_values() {
        let objs = objects(&model());
        let sts = find(&objs, "StatefulSet", names::POSTGRES);
        let n = ours(sts)["spec"]["template"]["spec"]["containers"][0]["env"]
            .as_array()
            .map(Vec::len);
        assert_eq!(n, Some(53));
        assert_eq!(env_value(sts, "PATRONI_RETRY_TIMEOUT").as_deref(), Some("20"));
        assert_eq!(
            env_value(sts, "PATRONI_MAXIMUM_LAG_ON_FAILOVER").as_deref(),
            Some("53687091200")
        );
    }

    #[test]
    fn model_values_flow_into_the_statefulset() {
        let mut m = model();
        let p = &mut m.instance.patroni;
        p.replicas = 3;
        p.postgres.use_slots = false;
        p.postgres.hot_standby = false;
        p.postgres.wal_level = WalLevel::Logical;
        p.postgres.random_page_cost = 4.0;
        p.postgres.checkpoint_completion_target = 0.75;
        m.instance.storage.postgres_size = "100Gi".into();
        let objs = objects(&m);
        let sts = find(&objs, "StatefulSet", names::POSTGRES);
        let v = ours(sts);
        assert_eq!(v["spec"]["replicas"], 3);
        assert_eq!(
            v["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"],
            "100Gi"
        );
        assert_eq!(
            env_value(sts, "PATRONI_POSTGRES_USE_SLOTS").as_deref(),
            Some("false")
        );
        assert_eq!(
            env_value(sts, "PATRONI_POSTGRES_HOT_STANDBY").as_deref(),
            Some("off")
        );
        assert_eq!(
            env_value(sts, "PATRONI_POSTGRES_WAL_LEVEL").as_deref(),
            Some("logical")
        );
        assert_eq!(
            env_value(sts, "PATRONI_POSTGRES_RANDOM_PAGE_COST").as_deref(),
            Some("4")
        );
        assert_eq!(
            env_value(sts, "PATRONI_POSTGRES_CHECKPOINT_COMPLETION_TARGET").as_deref(),
            Some("0.75")
        );
    }

    #[test]
    fn endpoints_render_empty_subsets() {
        let objs = objects(&model());
        let ep = ours(find(&objs, "Endpoints", names::POSTGRES_CONFIG));
        assert_eq!(ep["subsets"], Value::Array(vec![]));
    }
}
