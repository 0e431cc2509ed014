//! Pod and container hardening (`instance.security.pods`), shared by every workload builder, and
//! the checkov suppressions of the hardened render.
//!
//! What each image allows (read from the images' Dockerfiles and entry scripts):
//!
//! | workload | user | root filesystem | why |
//! |---|---|---|---|
//! | API (alpine, one Go binary) | `runAsUser` (10001) | read-only, emptyDir `/tmp` | writes nothing |
//! | static sites (nginx) | `runAsUser` | read-only, emptyDirs `/var/cache/nginx`, `/var/run`, `/tmp` | port 80 through the safe sysctl `net.ipv4.ip_unprivileged_port_start=0` |
//! | Patroni | the image's `postgres` (999) | read-only, emptyDirs `/home/postgres` (the entrypoint writes `patroni.yml` there), `/var/run/postgresql`, `/tmp` | `fsGroup` replaces the root `chown` init container |
//! | Grafana | root | writable | `grafana_start.sh` patches `/etc/grafana`, `/usr/share/grafana`, `/grafana` and `/` at start; `grafana-server` writes `/var/lib/grafana` (owned by `grafana`), hence `CHOWN`, `DAC_OVERRIDE`, `FOWNER` |
//! | DevStats tools (provision, bootstrap, sync, affiliations, import, backups, vacuum) | root | writable | the scripts write dumps and logs into the image's working directory; every job of a project shares its volume, so they run as the same user |
//! | reports and tests pods | root | writable | an interactive shell box and a test runner |
//! | base backup job (kubectl) | `runAsUser` | read-only, emptyDir `/tmp` | keeps its token: execs `wal-g backup-push` into a Patroni replica |
//! | dump copy, restore drill, restore Jobs | root | writable | as the tool jobs: they write the backups volume and use the backups image |
//!
//! Every container gets `allowPrivilegeEscalation: false`, `privileged: false`, all capabilities
//! dropped and the pod `seccompProfile: RuntimeDefault`; every pod but Patroni's gets
//! `automountServiceAccountToken: false`. What a check still reports for a workload is
//! suppressed on the object with checkov's skip annotation and the reason (see
//! [`suppress`] and `docs/security.md`): only the checks listed for that workload, and only when
//! the object actually fails them.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, Container, EmptyDirVolumeSource, ExecAction, HTTPGetAction, Lifecycle,
    LifecycleHandler, PodAffinityTerm, PodAntiAffinity, PodSecurityContext, PodSpec, Probe, SeccompProfile,
    SecurityContext, SleepAction, Sysctl, TCPSocketAction, TopologySpreadConstraint, Volume,
    WeightedPodAffinityTerm,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::core::common::{mount, resources};
use crate::core::{ctx::Ctx, object::Object};

/// UID and GID of the `postgres` user of the Patroni image.
pub(crate) const POSTGRES_UID: i64 = 999;

/// Which image a pod runs, and so which hardening it allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Workload {
    /// Grafana: root, writable root filesystem, three capabilities.
    Grafana,
    /// The API: any UID, read-only root filesystem.
    Api,
    /// A static site (nginx): any UID, read-only root filesystem.
    Static,
    /// Patroni: UID 999, read-only root filesystem.
    Postgres,
    /// A DevStats tool job: root, writable root filesystem.
    Tool,
    /// The reports or tests pod: root, writable root filesystem.
    Shell,
    /// The base backup job (kubectl): any UID, read-only root filesystem, and the
    /// service-account token, to exec into a Patroni replica.
    Operator,
}

impl Workload {
    /// The pod `type` labels of this workload.
    fn of_type_label(t: &str) -> Option<Self> {
        Some(match t {
            "grafana" => Self::Grafana,
            "api" => Self::Api,
            "static" => Self::Static,
            "postgres" => Self::Postgres,
            "provision"
            | "boot"
            | "sync"
            | "affiliations"
            | "affiliations-import"
            | "backups-sync"
            | "vacuum-sync"
            | "backups-copy"
            | "restore"
            | "grafana-data" => Self::Tool,
            "reports" | "tests" => Self::Shell,
            "postgres-basebackup" => Self::Operator,
            _ => return None,
        })
    }

    /// emptyDir volumes (name, mount path) that make the read-only root filesystem work; `None`
    /// for workloads that keep a writable root filesystem.
    fn writable_paths(self) -> Option<&'static [(&'static str, &'static str)]> {
        match self {
            Self::Api | Self::Operator => Some(&[("tmp", "/tmp")]),
            Self::Static => Some(&[
                ("tmp", "/tmp"),
                ("nginx-cache", "/var/cache/nginx"),
                ("nginx-run", "/var/run"),
            ]),
            Self::Postgres => Some(&[
                ("tmp", "/tmp"),
                ("postgres-home", "/home/postgres"),
                ("postgres-run", "/var/run/postgresql"),
            ]),
            Self::Grafana | Self::Tool | Self::Shell => None,
        }
    }

    /// Capabilities added back after dropping all.
    fn added_capabilities(self) -> &'static [&'static str] {
        match self {
            Self::Grafana => &["CHOWN", "DAC_OVERRIDE", "FOWNER"],
            _ => &[],
        }
    }

    /// The checks that may be suppressed for this workload, with the reason (no `=`: checkov
    /// splits the annotation value on it).
    fn suppressible(self) -> &'static [(&'static str, &'static str)] {
        const ROOT_GRAFANA: &str = "the devstats-grafana image must run as root: grafana_start.sh patches /etc/grafana, /usr/share/grafana and / at every start";
        const ROOT_TOOL: &str = "DevStats tool images run as root: their scripts write dumps and logs into the image working directory, and all jobs of a project share its volume";
        const ROOT_SHELL: &str = "interactive shell box and test runner images that run as root";
        const GRAFANA_CAPS: &str = "grafana-server runs as root and writes /var/lib/grafana, owned by the grafana user: it needs CHOWN, DAC_OVERRIDE and FOWNER";
        const PG_UID: &str =
            "the image's postgres user (uid 999) owns the data directory; Patroni's entrypoint expects it";
        const PG_TOKEN: &str = "Patroni uses the Kubernetes API as its DCS (leader lock, member state)";
        const NOT_A_SERVICE: &str = "a run-to-completion or interactive pod that serves no traffic";
        const EXEC_TOKEN: &str = "the base backup job runs wal-g backup-push in a Patroni replica through the Kubernetes API (pods/exec)";
        match self {
            Self::Grafana => &[
                ("CKV_K8S_22", ROOT_GRAFANA),
                ("CKV_K8S_23", ROOT_GRAFANA),
                ("CKV_K8S_40", ROOT_GRAFANA),
                ("CKV_K8S_25", GRAFANA_CAPS),
            ],
            Self::Tool => &[
                ("CKV_K8S_22", ROOT_TOOL),
                ("CKV_K8S_23", ROOT_TOOL),
                ("CKV_K8S_40", ROOT_TOOL),
            ],
            Self::Shell => &[
                ("CKV_K8S_22", ROOT_SHELL),
                ("CKV_K8S_23", ROOT_SHELL),
                ("CKV_K8S_40", ROOT_SHELL),
                ("CKV_K8S_8", NOT_A_SERVICE),
                ("CKV_K8S_9", NOT_A_SERVICE),
            ],
            Self::Postgres => &[("CKV_K8S_40", PG_UID), ("CKV_K8S_38", PG_TOKEN)],
            Self::Operator => &[("CKV_K8S_38", EXEC_TOKEN)],
            Self::Api | Self::Static => &[],
        }
    }
}

/// Reason of the CKV_K8S_35 suppression (secrets as environment variables).
pub(crate) const SECRETS_IN_ENV: &str =
    "the image reads its credentials only from environment variables (no file-based configuration)";
/// Reason of the CKV_K8S_43 suppression (image without digest).
pub(crate) const TAG_PINNED: &str = "image not pinned by digest: upstream publishes latest only and pinning is the operator's choice (security.images.require: digest and an @sha256 image drop this skip)";
/// Reason of the CKV_K8S_14 suppression (image `latest` or untagged).
pub(crate) const UPSTREAM_LATEST: &str = "the upstream DevStats images are published as latest only (cncf/devstats-docker-images images/build_images.sh); pulled with imagePullPolicy Always as the chart does; pin a tag or digest in the model (security.images.require) to drop this skip";

/// True when pod hardening (security contexts and suppressions) is on.
#[must_use]
pub(crate) fn hardened(ctx: &Ctx<'_>) -> bool {
    ctx.model.instance.security.pods.security_context
}

fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

fn container_context(w: Workload) -> SecurityContext {
    let add = w.added_capabilities();
    SecurityContext {
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        read_only_root_filesystem: w.writable_paths().map(|_| true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            add: (!add.is_empty()).then(|| add.iter().map(|c| (*c).to_owned()).collect()),
        }),
        ..SecurityContext::default()
    }
}

fn pod_context(ctx: &Ctx<'_>, w: Workload) -> PodSecurityContext {
    let seccomp = Some(SeccompProfile {
        type_: "RuntimeDefault".to_owned(),
        localhost_profile: None,
    });
    let uid = match w {
        Workload::Api | Workload::Static | Workload::Operator => {
            Some(i64::from(ctx.model.instance.security.pods.run_as_user))
        }
        Workload::Postgres => Some(POSTGRES_UID),
        Workload::Grafana | Workload::Tool | Workload::Shell => None,
    };
    let sysctls = (w == Workload::Static).then(|| {
        vec![Sysctl {
            name: "net.ipv4.ip_unprivileged_port_start".to_owned(),
            value: "0".to_owned(),
        }]
    });
    // Patroni's volume ownership is a model choice (instance.security.patroni.volumeOwnership).
    let fs_group = if w == Workload::Postgres
        && ctx.model.instance.security.patroni.volume_ownership
            != devstats_model::hardening::VolumeOwnership::FsGroup
    {
        None
    } else {
        uid
    };
    PodSecurityContext {
        run_as_non_root: uid.map(|_| true),
        run_as_user: uid,
        run_as_group: uid,
        fs_group,
        fs_group_change_policy: fs_group.map(|_| "OnRootMismatch".to_owned()),
        seccomp_profile: seccomp,
        sysctls,
        ..PodSecurityContext::default()
    }
}

/// The security context of the root `chown` init container of Patroni
/// (`volumeOwnership: chown`): root, only the capabilities `chown -R` of another user's files
/// needs (all in Pod Security baseline's allowed set).
#[must_use]
pub(crate) fn chown_context() -> SecurityContext {
    SecurityContext {
        run_as_user: Some(0),
        run_as_non_root: Some(false),
        allow_privilege_escalation: Some(false),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            add: Some(["CHOWN", "DAC_OVERRIDE", "FOWNER"].map(str::to_owned).to_vec()),
        }),
        ..SecurityContext::default()
    }
}

/// Applies `instance.security.pods` to a pod spec: default resources, the service-account
/// token, security contexts and the emptyDirs of a read-only root filesystem. A no-op with the
/// chart-compatible settings.
pub(crate) fn harden_pod(ctx: &Ctx<'_>, spec: &mut PodSpec, w: Workload) {
    let p = &ctx.model.instance.security.pods;
    if let Some(def) = &p.default_resources {
        for c in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            if c.resources.is_none() {
                c.resources = resources(Some(def));
            }
        }
    }
    if p.disable_service_account_token {
        spec.automount_service_account_token = Some(matches!(w, Workload::Postgres | Workload::Operator));
    }
    if !p.security_context {
        return;
    }
    spec.security_context = Some(pod_context(ctx, w));
    let writable = w.writable_paths().unwrap_or_default();
    for (name, _) in writable {
        spec.volumes.get_or_insert_with(Vec::new).push(empty_dir(name));
    }
    for c in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        c.security_context = Some(container_context(w));
    }
    // The emptyDirs go first: a volume mounted below one of them (Patroni's data under
    // /home/postgres) must come after it.
    for c in &mut spec.containers {
        let mounts = c.volume_mounts.get_or_insert_with(Vec::new);
        for (i, (name, path)) in writable.iter().enumerate() {
            mounts.insert(i, mount(name, path));
        }
    }
}

/// The readiness, liveness and startup probes of a web container (each a different check).
#[derive(Debug, Clone)]
pub(crate) struct Probes {
    /// Readiness: the pod serves.
    pub readiness: Probe,
    /// Liveness: the process is not wedged.
    pub liveness: Probe,
    /// Startup: holds liveness off while the pod starts.
    pub startup: Probe,
}

/// A TCP probe of `port`.
#[must_use]
pub(crate) fn tcp_probe(port: i32, period: i32, failures: i32) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            port: IntOrString::Int(port),
            host: None,
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(5),
        ..Probe::default()
    }
}

/// An exec probe.
#[must_use]
pub(crate) fn exec_probe(command: Vec<String>, period: i32, failures: i32) -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(command),
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(10),
        ..Probe::default()
    }
}

/// An HTTP GET probe.
#[must_use]
pub(crate) fn http_probe(path: &str, port: i32, period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::Int(port),
            scheme: Some("HTTP".to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        timeout_seconds: Some(5),
        ..Probe::default()
    }
}

/// Replicas of a web Deployment: `None` when an HPA owns them.
#[must_use]
pub(crate) fn replicas(n: u32, autoscaled: bool) -> Option<i32> {
    (!autoscaled).then(|| i32::try_from(n).unwrap_or(i32::MAX))
}

/// Zero-downtime rollout of a web Deployment (`instance.security.rollout`): surge-only
/// `RollingUpdate`, distinct probes, a `preStop` sleep with a longer grace period, and spreading
/// over nodes when it runs more than one replica (or an HPA scales it). A no-op with the
/// chart-compatible settings.
pub(crate) fn web_rollout(ctx: &Ctx<'_>, d: &mut DeploymentSpec, probes: Probes, multi_replica: bool) {
    let r = &ctx.model.instance.security.rollout;
    if r.strategy {
        d.strategy = Some(DeploymentStrategy {
            type_: Some("RollingUpdate".to_owned()),
            rolling_update: Some(RollingUpdateDeployment {
                max_surge: Some(IntOrString::Int(1)),
                max_unavailable: Some(IntOrString::Int(0)),
            }),
        });
    }
    let pod_labels = d.template.metadata.as_ref().and_then(|m| m.labels.clone());
    let Some(pod) = d.template.spec.as_mut() else {
        return;
    };
    if let Some(grace) = r.termination_grace_period_seconds {
        pod.termination_grace_period_seconds = Some(i64::from(grace));
    }
    if r.spread && multi_replica {
        let selector = LabelSelector {
            match_labels: pod_labels,
            ..LabelSelector::default()
        };
        pod.topology_spread_constraints = Some(vec![TopologySpreadConstraint {
            max_skew: 1,
            topology_key: HOSTNAME.to_owned(),
            when_unsatisfiable: "ScheduleAnyway".to_owned(),
            label_selector: Some(selector.clone()),
            ..TopologySpreadConstraint::default()
        }]);
        pod.affinity = Some(Affinity {
            pod_anti_affinity: Some(PodAntiAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![WeightedPodAffinityTerm {
                    weight: 100,
                    pod_affinity_term: PodAffinityTerm {
                        label_selector: Some(selector),
                        topology_key: HOSTNAME.to_owned(),
                        ..PodAffinityTerm::default()
                    },
                }]),
                ..PodAntiAffinity::default()
            }),
            ..Affinity::default()
        });
    }
    for c in &mut pod.containers {
        if r.probes {
            c.readiness_probe = Some(probes.readiness.clone());
            c.liveness_probe = Some(probes.liveness.clone());
            c.startup_probe = Some(probes.startup.clone());
        }
        if r.pre_stop_seconds > 0 {
            c.lifecycle = Some(Lifecycle {
                pre_stop: Some(LifecycleHandler {
                    sleep: Some(SleepAction {
                        seconds: i64::from(r.pre_stop_seconds),
                    }),
                    ..LifecycleHandler::default()
                }),
                ..Lifecycle::default()
            });
        }
    }
}

/// The node-name topology key.
const HOSTNAME: &str = "kubernetes.io/hostname";

/// An object's metadata (to annotate), its pod spec and its pod-template labels.
type PodParts<'a> = (
    &'a mut ObjectMeta,
    &'a PodSpec,
    Option<&'a BTreeMap<String, String>>,
);

fn pod_spec_mut(o: &mut Object) -> Option<PodParts<'_>> {
    match o {
        Object::Deployment(d) => {
            let t = &d.spec.template;
            Some((
                &mut d.metadata,
                t.spec.as_ref()?,
                t.metadata.as_ref()?.labels.as_ref(),
            ))
        }
        Object::StatefulSet(s) => {
            let t = &s.spec.template;
            Some((
                &mut s.metadata,
                t.spec.as_ref()?,
                t.metadata.as_ref()?.labels.as_ref(),
            ))
        }
        Object::Job(j) => {
            let t = &j.spec.as_ref()?.template;
            Some((
                &mut j.metadata,
                t.spec.as_ref()?,
                t.metadata.as_ref()?.labels.as_ref(),
            ))
        }
        Object::CronJob(c) => {
            let t = &c.spec.job_template.spec.as_ref()?.template;
            Some((
                &mut c.metadata,
                t.spec.as_ref()?,
                t.metadata.as_ref()?.labels.as_ref(),
            ))
        }
        Object::Pod(p) => Some((&mut p.metadata, p.spec.as_ref()?, None)),
        _ => None,
    }
}

fn fails_non_root(spec: &PodSpec) -> bool {
    let pod = spec.security_context.as_ref();
    let non_root = pod.and_then(|s| s.run_as_non_root) == Some(true)
        || pod.and_then(|s| s.run_as_user).is_some_and(|u| u > 0);
    let all_containers = spec.containers.iter().all(|c| {
        let sc = c.security_context.as_ref();
        sc.and_then(|s| s.run_as_non_root) == Some(true)
            || sc.and_then(|s| s.run_as_user).is_some_and(|u| u > 0)
    });
    !(non_root || all_containers)
}

fn fails_high_uid(spec: &PodSpec) -> bool {
    let pod = spec.security_context.as_ref().and_then(|s| s.run_as_user);
    spec.containers.iter().any(|c| {
        let uid = c.security_context.as_ref().and_then(|s| s.run_as_user).or(pod);
        uid.is_none_or(|u| u < 10_000)
    })
}

/// Whether the pod spec fails a check this module knows how to suppress.
fn fails(check: &str, spec: &PodSpec) -> bool {
    let containers = || spec.containers.iter();
    // Borrowed, not cloned: this runs for every check of every workload.
    fn sc(c: &Container) -> Option<&SecurityContext> {
        c.security_context.as_ref()
    }
    match check {
        "CKV_K8S_8" => containers().any(|c| c.liveness_probe.is_none()),
        "CKV_K8S_9" => containers().any(|c| c.readiness_probe.is_none()),
        "CKV_K8S_22" => containers().any(|c| sc(c).and_then(|s| s.read_only_root_filesystem) != Some(true)),
        "CKV_K8S_23" => fails_non_root(spec),
        "CKV_K8S_25" => containers()
            .chain(spec.init_containers.iter().flatten())
            .any(|c| {
                sc(c)
                    .and_then(|s| s.capabilities.as_ref())
                    .and_then(|k| k.add.as_ref())
                    .is_some_and(|a| !a.is_empty())
            }),
        "CKV_K8S_38" => spec.automount_service_account_token != Some(false),
        "CKV_K8S_40" => fails_high_uid(spec),
        _ => false,
    }
}

/// Adds checkov skip annotations (`checkov.io/skipN: CHECK=reason`) to a workload object of the
/// hardened render: the checks its image cannot pass (see [`Workload`]), secrets read from the
/// environment, and images pinned by tag rather than digest. Only checks the object actually
/// fails are suppressed, so a builder that loses a hardening setting is reported, not hidden.
pub(crate) fn suppress(ctx: &Ctx<'_>, o: &mut Object) {
    if !hardened(ctx) {
        return;
    }
    // The workload from the pod labels (a bare Pod's own, else the template's), read before
    // the metadata is borrowed mutably, so no label map is cloned.
    let workload = o
        .pod_labels()
        .and_then(|l| l.get("type"))
        .and_then(|t| Workload::of_type_label(t));
    let Some((meta, spec, _)) = pod_spec_mut(o) else {
        return;
    };
    let mut skips: Vec<(&str, &str)> = Vec::new();
    if let Some(w) = workload {
        for (check, reason) in w.suppressible() {
            if fails(check, spec) {
                skips.push((check, reason));
            }
        }
    }
    let all = || {
        spec.containers
            .iter()
            .chain(spec.init_containers.iter().flatten())
    };
    let secret_env = all().any(|c| {
        c.env
            .iter()
            .flatten()
            .any(|e| e.value_from.as_ref().is_some_and(|v| v.secret_key_ref.is_some()))
    });
    if secret_env {
        skips.push(("CKV_K8S_35", SECRETS_IN_ENV));
    }
    let pins: Vec<devstats_model::ImagePin> = all()
        .filter_map(|c| {
            c.image
                .as_deref()
                .map(|i| devstats_model::ImageRef(i.to_owned()).pin())
        })
        .collect();
    if pins.iter().any(|p| *p != devstats_model::ImagePin::Digest) {
        skips.push(("CKV_K8S_43", TAG_PINNED));
    }
    if pins.contains(&devstats_model::ImagePin::Latest) {
        skips.push(("CKV_K8S_14", UPSTREAM_LATEST));
    }
    skips.sort_unstable();
    skips.dedup();
    if skips.is_empty() {
        return;
    }
    let annotations = meta.annotations.get_or_insert_with(BTreeMap::new);
    let first = (1..)
        .find(|n| !annotations.contains_key(&format!("checkov.io/skip{n}")))
        .unwrap_or(1);
    for (i, (check, reason)) in skips.into_iter().enumerate() {
        annotations.insert(
            format!("checkov.io/skip{}", first + i),
            format!("{check}={reason}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_never_contain_the_separator() {
        for w in [
            Workload::Grafana,
            Workload::Api,
            Workload::Static,
            Workload::Postgres,
            Workload::Tool,
            Workload::Shell,
            Workload::Operator,
        ] {
            for (check, reason) in w.suppressible() {
                assert!(!reason.contains('='), "{check}: {reason}");
                assert!(check.starts_with("CKV_K8S_"));
            }
        }
        assert!(!SECRETS_IN_ENV.contains('=') && !TAG_PINNED.contains('=') && !UPSTREAM_LATEST.contains('='));
    }

    #[test]
    fn every_pod_type_label_has_a_workload() {
        for t in [
            "grafana",
            "api",
            "static",
            "postgres",
            "provision",
            "boot",
            "sync",
            "affiliations",
            "affiliations-import",
            "backups-sync",
            "vacuum-sync",
            "reports",
            "tests",
            "postgres-basebackup",
            "backups-copy",
            "restore",
        ] {
            assert!(Workload::of_type_label(t).is_some(), "{t}");
        }
    }
}
