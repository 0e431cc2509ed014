//! Production hardening settings (`instance.security`): secured pods, zero-downtime rollouts,
//! autoscaling, network isolation, HTTPS and Patroni hardening.
//!
//! Every switch has a hardened default ([`Security::hardened`], also the serde default: a model
//! file that does not mention `security` is a new model and gets it). The Helm import writes
//! [`Security::chart_compatible`], which renders exactly what the `devstats-helm` chart renders,
//! so an imported installation changes only when the operator opts in. `docs/security.md`
//! explains each setting and how to turn it on or off.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::values::Name;
use crate::values::{CpuMemory, ResourceSpec};

/// Production hardening of an instance. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Security {
    /// Pod Security Admission labels of the instance namespace.
    pub pod_security: PodSecurityAdmission,
    /// Security contexts, service-account tokens and resources of every pod.
    pub pods: PodHardening,
    /// Image pinning.
    pub images: ImagePolicy,
    /// Zero-downtime rollouts: strategy, probes, preStop, grace periods, disruption budgets,
    /// spreading.
    pub rollout: Rollout,
    /// HorizontalPodAutoscalers (`autoscaling/v2`).
    pub autoscaling: Autoscaling,
    /// NetworkPolicies: default deny plus the flows DevStats needs.
    pub network_policies: NetworkPolicies,
    /// HTTPS: the cert-manager issuer, HTTP → HTTPS redirect, HSTS.
    pub https: Https,
    /// How traffic enters: Ingresses, or Gateway API (Gateway + HTTPRoutes).
    pub routing: Routing,
    /// Patroni: DCS and REST API probes.
    pub patroni: PatroniHardening,
}

impl Default for Security {
    fn default() -> Self {
        Self::hardened()
    }
}

impl Security {
    /// The hardened defaults of a new model.
    #[must_use]
    pub fn hardened() -> Self {
        Self {
            pod_security: PodSecurityAdmission::default(),
            pods: PodHardening::default(),
            images: ImagePolicy::default(),
            rollout: Rollout::default(),
            autoscaling: Autoscaling::default(),
            network_policies: NetworkPolicies::default(),
            https: Https::default(),
            routing: Routing::default(),
            patroni: PatroniHardening::default(),
        }
    }

    /// Everything off: renders exactly what the `devstats-helm` chart renders. The Helm import
    /// writes this, so an imported installation keeps the chart's behaviour until the operator
    /// opts in, feature by feature.
    #[must_use]
    pub fn chart_compatible() -> Self {
        let off = |h: HpaSettings| HpaSettings { enabled: false, ..h };
        let a = Autoscaling::default();
        Self {
            pod_security: PodSecurityAdmission {
                enforce: None,
                audit: None,
                warn: None,
                ..PodSecurityAdmission::default()
            },
            pods: PodHardening {
                security_context: false,
                disable_service_account_token: false,
                default_resources: None,
                ..PodHardening::default()
            },
            images: ImagePolicy::default(),
            rollout: Rollout {
                strategy: false,
                probes: false,
                pre_stop_seconds: 0,
                termination_grace_period_seconds: None,
                disruption_budgets: false,
                spread: false,
            },
            autoscaling: Autoscaling {
                api: off(a.api),
                static_sites: off(a.static_sites),
                grafana: off(a.grafana),
            },
            network_policies: NetworkPolicies {
                enabled: false,
                // Where the chart's runbook installs ingress-nginx.
                ingress_controller: IngressControllerPeer::in_instance_namespace(),
                ..NetworkPolicies::default()
            },
            https: Https {
                issuer: None,
                redirect: false,
                hsts: None,
                ..Https::default()
            },
            routing: Routing::Ingress,
            patroni: PatroniHardening {
                dcs: PatroniDcs::Endpoints,
                probes: false,
                volume_ownership: VolumeOwnership::Chown,
            },
        }
    }
}

/// A Pod Security Standards level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum PsaLevel {
    /// No restrictions.
    Privileged,
    /// Prevents known privilege escalations (root is allowed).
    Baseline,
    /// Current pod hardening best practice (non-root, no capabilities, seccomp).
    Restricted,
}

impl PsaLevel {
    /// The label value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Privileged => "privileged",
            Self::Baseline => "baseline",
            Self::Restricted => "restricted",
        }
    }
}

/// Pod Security Admission labels of the namespace (`pod-security.kubernetes.io/*`). A mode left
/// unset gets no label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PodSecurityAdmission {
    /// Level whose violations are rejected. `baseline` by default: Grafana and the DevStats
    /// tool images must run as root (see `docs/security.md`), which `restricted` rejects.
    pub enforce: Option<PsaLevel>,
    /// Level whose violations are recorded in the audit log.
    pub audit: Option<PsaLevel>,
    /// Level whose violations are returned to the client as warnings.
    pub warn: Option<PsaLevel>,
    /// Policy version of every mode, e.g. `latest` or `v1.33`.
    pub version: String,
}

impl Default for PodSecurityAdmission {
    fn default() -> Self {
        Self {
            enforce: Some(PsaLevel::Baseline),
            audit: Some(PsaLevel::Restricted),
            warn: Some(PsaLevel::Restricted),
            version: "latest".into(),
        }
    }
}

/// Security contexts, service-account tokens and resources of every pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PodHardening {
    /// Hardened security contexts: seccomp `RuntimeDefault`, no privilege escalation, all
    /// capabilities dropped; non-root with a read-only root filesystem (emptyDirs for the
    /// writable paths) for the images that allow it; `fsGroup` instead of Patroni's root `chown`
    /// init container.
    pub security_context: bool,
    /// UID and GID of the images that run as any user (API, static sites, sync jobs); ≥ 10000.
    pub run_as_user: u32,
    /// `automountServiceAccountToken: false` on every pod but Patroni (which uses the
    /// Kubernetes API as its DCS).
    pub disable_service_account_token: bool,
    /// Requests and limits of containers the model leaves without (the tests pod, components
    /// whose `resources` entry is `null`; the shared affiliations import takes the affiliations
    /// resources). `null`: such containers stay without.
    pub default_resources: Option<ResourceSpec>,
}

impl Default for PodHardening {
    fn default() -> Self {
        Self {
            security_context: true,
            run_as_user: 10001,
            disable_service_account_token: true,
            default_resources: Some(ResourceSpec {
                requests: CpuMemory {
                    cpu: "250m".into(),
                    memory: "512Mi".into(),
                },
                limits: CpuMemory {
                    cpu: "2000m".into(),
                    memory: "4Gi".into(),
                },
            }),
        }
    }
}

/// What validation requires of every image reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Pinning {
    /// Any reference, `:latest` and untagged included. The upstream DevStats images are
    /// published as `latest` only (cncf/devstats-docker-images `images/build_images.sh` builds
    /// and pushes untagged images), so this is the default: pods pull with `imagePullPolicy:
    /// Always`, as the chart does.
    #[default]
    Any,
    /// A tag other than `latest`, or a digest (images you build, tag and push yourself).
    Tag,
    /// A digest (`repo@sha256:…`): every node runs the same bytes and a rollback rolls back.
    Digest,
}

impl Pinning {
    /// Whether an image pinned as `pin` satisfies this requirement.
    #[must_use]
    pub fn accepts(self, pin: crate::values::ImagePin) -> bool {
        use crate::values::ImagePin;
        match self {
            Self::Any => true,
            Self::Tag => pin != ImagePin::Latest,
            Self::Digest => pin == ImagePin::Digest,
        }
    }

    /// What the requirement asks for, for messages.
    #[must_use]
    pub fn describe(self) -> &'static str {
        match self {
            Self::Any => "any reference",
            Self::Tag => "a tag other than latest, or a digest",
            Self::Digest => "a digest (@sha256:…)",
        }
    }
}

/// Image pinning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ImagePolicy {
    /// What every image reference must be pinned by (validation error otherwise): `any` (the
    /// default, as upstream publishes `latest` only), `tag` or `digest`. Pinning is the
    /// operator's choice: it needs images someone tags or whose digests someone records.
    pub require: Pinning,
}

/// Zero-downtime rollouts of the web Deployments (Grafana, API, static sites) and Patroni.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Rollout {
    /// `RollingUpdate` with `maxSurge: 1`, `maxUnavailable: 0` on every Deployment (the chart
    /// leaves the static sites on Kubernetes' 25 %/25 % default).
    pub strategy: bool,
    /// Readiness, liveness and startup probes that differ from each other (the chart runs the
    /// same exec script for readiness and liveness, and the API has none).
    pub probes: bool,
    /// `preStop` sleep in seconds, so that the ingress controller stops routing to a pod before
    /// it gets SIGTERM (0: no hook).
    pub pre_stop_seconds: u32,
    /// `terminationGracePeriodSeconds` of the web pods (unset: Kubernetes' 30 s); must exceed
    /// the preStop sleep.
    pub termination_grace_period_seconds: Option<u32>,
    /// PodDisruptionBudgets (`policy/v1`, `maxUnavailable: 1`,
    /// `unhealthyPodEvictionPolicy: AlwaysAllow`) for Grafana, the API, static sites and Patroni.
    pub disruption_budgets: bool,
    /// Spread the replicas of multi-replica workloads over nodes (topology spread constraint
    /// and preferred pod anti-affinity on `kubernetes.io/hostname`).
    pub spread: bool,
}

impl Default for Rollout {
    fn default() -> Self {
        Self {
            strategy: true,
            probes: true,
            pre_stop_seconds: 10,
            termination_grace_period_seconds: Some(40),
            disruption_budgets: true,
            spread: true,
        }
    }
}

/// HorizontalPodAutoscalers. A Deployment an HPA owns renders without `spec.replicas`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Autoscaling {
    /// The API.
    pub api: HpaSettings,
    /// Each static site.
    pub static_sites: HpaSettings,
    /// Each project's Grafana (opt-in: ~280 Grafanas at two replicas each double their pods).
    pub grafana: HpaSettings,
}

impl Default for Autoscaling {
    fn default() -> Self {
        Self {
            api: HpaSettings::new(true, 2, 4),
            static_sites: HpaSettings::new(true, 2, 3),
            grafana: HpaSettings::new(false, 2, 3),
        }
    }
}

/// One HorizontalPodAutoscaler.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HpaSettings {
    /// Render it (and leave `spec.replicas` to it).
    pub enabled: bool,
    /// Fewest replicas (at least 2: one pod is no availability).
    pub min_replicas: u32,
    /// Most replicas (more than `minReplicas`).
    pub max_replicas: u32,
    /// Target average CPU utilization in percent of the CPU request.
    #[serde(default = "default_cpu_target")]
    pub cpu_utilization: u32,
    /// Scale-down stabilization window in seconds (scale-up reacts at once).
    #[serde(default = "default_scale_down_window")]
    pub scale_down_stabilization_seconds: u32,
}

fn default_cpu_target() -> u32 {
    75
}

fn default_scale_down_window() -> u32 {
    300
}

impl HpaSettings {
    /// Settings with the default CPU target and scale-down window.
    #[must_use]
    pub fn new(enabled: bool, min_replicas: u32, max_replicas: u32) -> Self {
        Self {
            enabled,
            min_replicas,
            max_replicas,
            cpu_utilization: default_cpu_target(),
            scale_down_stabilization_seconds: default_scale_down_window(),
        }
    }
}

/// NetworkPolicies: per namespace default deny (ingress and egress) plus DNS, ingress
/// controller → web pods, app pods → PostgreSQL, Patroni peers and the API server, tool jobs →
/// internet 443, Prometheus → metrics ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct NetworkPolicies {
    /// Render the NetworkPolicies.
    pub enabled: bool,
    /// Where the ingress controller (or Gateway data plane) runs, which may reach Grafana, the
    /// API and the static sites; when it runs in the instance namespace (as CNCF runs it), the
    /// policies that let it work there.
    pub ingress_controller: IngressControllerPeer,
    /// Namespace of Prometheus, which may scrape Grafana (3000) and Patroni (8008); unset: no
    /// scraping rule.
    pub monitoring_namespace: Option<Name>,
    /// The cluster DNS every pod may query (UDP and TCP 53).
    pub dns: DnsPeer,
    /// Where Patroni reaches the Kubernetes API server (its DCS). The default allows any
    /// address on the API ports: narrow it to the API server endpoints of the cluster.
    pub api_server: ApiServerPeer,
    /// Address ranges the tool jobs' internet egress (TCP 443) excludes: the cluster's own and
    /// private networks.
    pub private_cidrs: Vec<String>,
}

impl Default for NetworkPolicies {
    fn default() -> Self {
        Self {
            enabled: true,
            ingress_controller: IngressControllerPeer::default(),
            monitoring_namespace: Some(Name::from("monitoring")),
            dns: DnsPeer::default(),
            api_server: ApiServerPeer::default(),
            private_cidrs: [
                "10.0.0.0/8",
                "172.16.0.0/12",
                "192.168.0.0/16",
                "100.64.0.0/10",
                "169.254.0.0/16",
            ]
            .into_iter()
            .map(str::to_owned)
            .collect(),
        }
    }
}

/// Where the ingress controller's pods run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum ControllerPlacement {
    /// In a namespace of its own (`namespace`), e.g. `ingress-nginx`: the backends admit that
    /// namespace.
    #[default]
    OwnNamespace,
    /// Inside the instance namespace, as the chart's runbook installs ingress-nginx
    /// (`akamai/install-ingresses.sh`: `--namespace devstats-prod`, `controller.scope.namespace`):
    /// the default-deny policy then selects the controller too, so the controller gets its own
    /// policy (clients on its traffic ports, the API server on the admission webhook, Prometheus
    /// on metrics; egress to the backends, the API server and external auth), and the backends
    /// admit the controller pods by label.
    InstanceNamespace,
}

/// The ingress controller (or Gateway data plane) as NetworkPolicies see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct IngressControllerPeer {
    /// Where its pods run.
    pub placement: ControllerPlacement,
    /// Its namespace, with `placement: ownNamespace`.
    pub namespace: Name,
    /// Labels of its controller pods (ingress-nginx chart: `app.kubernetes.io/name:
    /// ingress-nginx`, `app.kubernetes.io/component: controller`), with `placement:
    /// instanceNamespace`.
    pub pod_labels: BTreeMap<String, String>,
    /// Ports clients reach on the controller pods (HTTP and HTTPS; a NodePort or LoadBalancer
    /// Service with `externalTrafficPolicy: Local` keeps the clients' addresses, so any source
    /// is admitted).
    pub traffic_ports: Vec<u16>,
    /// The admission webhook port the API server calls (ingress-nginx: 8443); unset: none.
    pub webhook_port: Option<u16>,
    /// The metrics port Prometheus scrapes (ingress-nginx: 10254); unset: none.
    pub metrics_port: Option<u16>,
}

impl Default for IngressControllerPeer {
    fn default() -> Self {
        Self {
            placement: ControllerPlacement::OwnNamespace,
            namespace: Name::from("ingress-nginx"),
            pod_labels: BTreeMap::from([
                ("app.kubernetes.io/name".to_owned(), "ingress-nginx".to_owned()),
                ("app.kubernetes.io/component".to_owned(), "controller".to_owned()),
            ]),
            traffic_ports: vec![80, 443],
            webhook_port: Some(8443),
            metrics_port: Some(10254),
        }
    }
}

impl IngressControllerPeer {
    /// The layout of the chart's runbook (and of CNCF's cluster): ingress-nginx installed into
    /// the instance namespace.
    #[must_use]
    pub fn in_instance_namespace() -> Self {
        Self {
            placement: ControllerPlacement::InstanceNamespace,
            ..Self::default()
        }
    }

    /// Whether it runs in the instance namespace.
    #[must_use]
    pub fn inside(&self) -> bool {
        self.placement == ControllerPlacement::InstanceNamespace
    }
}

/// The cluster DNS pods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct DnsPeer {
    /// Their namespace.
    pub namespace: Name,
    /// Their labels.
    pub pod_labels: BTreeMap<String, String>,
}

impl Default for DnsPeer {
    fn default() -> Self {
        Self {
            namespace: Name::from("kube-system"),
            pod_labels: BTreeMap::from([("k8s-app".to_owned(), "kube-dns".to_owned())]),
        }
    }
}

/// The Kubernetes API server as a NetworkPolicy peer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct ApiServerPeer {
    /// CIDRs of its endpoints (`kubectl get endpointslices -n default -l
    /// kubernetes.io/service-name=kubernetes`).
    pub cidrs: Vec<String>,
    /// Its ports (the Service port 443 and the endpoints' port, often 6443).
    pub ports: Vec<u16>,
}

impl Default for ApiServerPeer {
    fn default() -> Self {
        Self {
            cidrs: vec!["0.0.0.0/0".to_owned()],
            ports: vec![443, 6443],
        }
    }
}

/// Which ingress controller serves the ingress class (decides the redirect and HSTS
/// annotations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum IngressFlavor {
    /// ingress-nginx: `force-ssl-redirect` annotation; HSTS comes from the controller's
    /// ConfigMap (on by default), since per-Ingress headers would need snippets.
    #[default]
    IngressNginx,
    /// Traefik: `Middleware` objects (redirectScheme, headers) referenced by annotation.
    Traefik,
}

/// HTTPS settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Https {
    /// Render the cert-manager `Issuer`/`ClusterIssuer` named by `ingress.issuer` (unset: it
    /// exists already and is managed elsewhere).
    pub issuer: Option<AcmeIssuer>,
    /// Redirect HTTP to HTTPS.
    pub redirect: bool,
    /// Strict-Transport-Security (unset: not sent by these objects).
    pub hsts: Option<Hsts>,
    /// The ingress controller (Ingress routing only).
    pub controller: IngressFlavor,
}

impl Default for Https {
    fn default() -> Self {
        Self {
            issuer: Some(AcmeIssuer::default()),
            redirect: true,
            hsts: Some(Hsts::default()),
            controller: IngressFlavor::IngressNginx,
        }
    }
}

/// An ACME (Let's Encrypt) issuer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct AcmeIssuer {
    /// ACME directory URL.
    pub server: String,
    /// Account e-mail (optional for Let's Encrypt).
    pub email: Option<String>,
    /// How domain ownership is proven.
    pub solver: AcmeSolver,
}

impl Default for AcmeIssuer {
    fn default() -> Self {
        Self {
            server: LETSENCRYPT_PRODUCTION.to_owned(),
            email: None,
            solver: AcmeSolver::Http01,
        }
    }
}

/// Let's Encrypt's production directory.
pub const LETSENCRYPT_PRODUCTION: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// An ACME challenge solver.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AcmeSolver {
    /// HTTP-01 through the ingress class (or the Gateway with Gateway API routing).
    #[default]
    Http01,
    /// DNS-01 through a DNS provider.
    Dns01(Dns01),
}

/// A DNS-01 provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Dns01 {
    /// Cloudflare, with an API token from a Secret.
    Cloudflare {
        /// Secret holding the API token.
        #[serde(rename = "apiTokenSecret")]
        api_token_secret: SecretKey,
    },
    /// AWS Route 53 (credentials from the pod identity of cert-manager).
    Route53 {
        /// AWS region.
        region: String,
        /// Hosted zone id (unset: looked up by cert-manager).
        #[serde(default, rename = "hostedZoneID", skip_serializing_if = "Option::is_none")]
        hosted_zone_id: Option<String>,
    },
}

/// A key of a Secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKey {
    /// Secret name.
    pub name: Name,
    /// Key in the Secret.
    pub key: String,
}

/// Strict-Transport-Security.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Hsts {
    /// `max-age` in seconds.
    pub max_age_seconds: u32,
    /// `includeSubDomains`.
    pub include_subdomains: bool,
    /// `preload`.
    pub preload: bool,
}

impl Default for Hsts {
    fn default() -> Self {
        Self {
            max_age_seconds: 31_536_000,
            include_subdomains: false,
            preload: false,
        }
    }
}

impl Hsts {
    /// The header value, e.g. `max-age=31536000; includeSubDomains`.
    #[must_use]
    pub fn header(&self) -> String {
        let mut v = format!("max-age={}", self.max_age_seconds);
        if self.include_subdomains {
            v.push_str("; includeSubDomains");
        }
        if self.preload {
            v.push_str("; preload");
        }
        v
    }
}

/// How traffic enters the instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Routing {
    /// `networking.k8s.io/v1` Ingresses of `ingress.className` (what the chart renders).
    #[default]
    Ingress,
    /// Gateway API: one Gateway with HTTPS listeners, HTTPRoutes, and cert-manager
    /// `Certificate`s for the same host buckets.
    GatewayApi(GatewaySettings),
}

/// The Gateway of Gateway API routing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewaySettings {
    /// `gatewayClassName`, e.g. `eg` (Envoy Gateway), `cilium`, `traefik`.
    pub class_name: Name,
    /// Name of the Gateway (in the instance namespace).
    #[serde(default = "default_gateway_name")]
    pub name: Name,
}

fn default_gateway_name() -> Name {
    Name::from("devstats")
}

/// Most listeners a Gateway may have.
pub const MAX_GATEWAY_LISTENERS: usize = 64;

/// Where Patroni keeps its leader lock and configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PatroniDcs {
    /// `v1` Endpoints, as the chart: Patroni's recommended and safer mode (its
    /// `docs/kubernetes.rst`: the leader Endpoints is the Service's, so a stale primary cannot be
    /// routed to). Kubernetes' v1 Endpoints deprecation (1.33) is a warning, not a removal.
    #[default]
    Endpoints,
    /// ConfigMaps (`PATRONI_KUBERNETES_USE_ENDPOINTS=false`): for a fresh install only. A live
    /// cluster switches only through the documented migration (`docs/security.md`, "Changing
    /// Patroni's DCS"); `apply` refuses it otherwise.
    ConfigMaps,
}

/// Who makes the data volume writable for the postgres user (999).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum VolumeOwnership {
    /// `fsGroup: 999` (the chart sets it too): the kubelet gives the volume group 999 at every
    /// start. The image's entrypoint runs `chmod -R 0700` on the data directory, so
    /// `fsGroupChangePolicy: OnRootMismatch` never matches and the kubelet walks the whole volume
    /// at each start, as it did under the chart. It changes groups only: files owned by another
    /// user cannot be repaired this way (use `chown` once).
    #[default]
    FsGroup,
    /// The chart's root init container `chown -R 999:999` of the data directory (capabilities
    /// `CHOWN`, `DAC_OVERRIDE`, `FOWNER` only), without `fsGroup`: repairs files another user owns
    /// (a restore run as root, a copied volume). Opt in for the repair, then go back.
    Chown,
    /// Neither: for volumes already owned by 999 (the chart chowned CNCF's at every start). No
    /// walk by the kubelet; the entrypoint's own `chown -R`/`chmod -R` still run.
    None,
}

/// Patroni hardening (security contexts and the PodDisruptionBudget come from `pods` and
/// `rollout`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct PatroniHardening {
    /// The DCS. Keep `endpoints` for a running cluster; see [`PatroniDcs`].
    pub dcs: PatroniDcs,
    /// Probes on the REST API (8008): readiness `GET /health` (PostgreSQL is up and running, so a
    /// lagging or re-cloning replica stays in the read-only Service as under the chart, and only
    /// a member whose PostgreSQL is down leaves it), liveness and startup `GET /liveness`.
    pub probes: bool,
    /// Who makes the data volume writable for the postgres user; see [`VolumeOwnership`].
    pub volume_ownership: VolumeOwnership,
}

impl Default for PatroniHardening {
    fn default() -> Self {
        Self {
            dcs: PatroniDcs::Endpoints,
            probes: true,
            volume_ownership: VolumeOwnership::FsGroup,
        }
    }
}

/// Checks an IPv4 or IPv6 CIDR such as `10.0.0.0/8`.
pub fn check_cidr(s: &str) -> Result<(), String> {
    let bad = || format!("`{s}` is not a CIDR");
    let (addr, len) = s.split_once('/').ok_or_else(bad)?;
    let len: u8 = len.parse().map_err(|_| bad())?;
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) if len <= 32 => Ok(()),
        Ok(std::net::IpAddr::V6(_)) if len <= 128 => Ok(()),
        _ => Err(bad()),
    }
}
