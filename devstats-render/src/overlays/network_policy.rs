//! NetworkPolicies (`networking.k8s.io/v1`) of the instance namespace
//! (`instance.security.networkPolicies`).
//!
//! - `devstats-default-deny`: every pod, ingress and egress denied unless a policy below allows;
//! - `devstats-dns`: every pod may query the cluster DNS (UDP and TCP 53);
//! - one policy per workload type, selecting its pods by the chart labels `name: devstats`,
//!   `type: <type>` (`matchLabels`, so Polaris and checkov count the pods as covered), with both
//!   policy types:
//!   - Grafana, API, static sites: ingress from the ingress controller's (or Gateway's)
//!     namespace on their container port; Grafana also from Prometheus' namespace; Grafana and
//!     the API may reach PostgreSQL (5432);
//!   - Patroni: PostgreSQL (5432) from the DevStats pods that use it, 5432 and the REST API
//!     (8008) from its peers, 8008 (and the postgres_exporter sidecar's 9187 when
//!     `monitoring` enables it) from Prometheus; egress to its peers and to the Kubernetes API
//!     server (its DCS);
//!   - tool jobs: no ingress; PostgreSQL, and for provisioning, bootstrap, sync, affiliations and
//!     the shared import HTTPS (443) to the internet (GitHub API, GH Archive, git, the backups
//!     site), never to the private ranges;
//! - `devstats-acme-solver`: the ingress controller may reach cert-manager's HTTP-01 solver pods
//!   (port 8089), which cert-manager starts in this namespace.
//!
//! Policies are rendered only for the workloads the instance renders. Services stay ClusterIP
//! (Patroni's headless): only the ingress controller or Gateway is exposed.

use std::collections::BTreeMap;

use devstats_model::hardening::{AcmeSolver, NetworkPolicies};
use devstats_model::{Deployment, Model};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer,
    NetworkPolicyPort, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::core::common::{APP, chart_labels, names};
use crate::core::{ctx::Ctx, object::Object};

/// PostgreSQL's port.
const PG_PORT: i32 = 5432;
/// Patroni's REST API port (also its metrics).
const PATRONI_PORT: i32 = 8008;
/// Port of cert-manager's HTTP-01 solver pods.
const ACME_SOLVER_PORT: i32 = 8089;
/// The well-known namespace-name label (set by Kubernetes on every namespace).
const NS_LABEL: &str = "kubernetes.io/metadata.name";

/// Which DevStats workload types the instance renders, by pod `type` label.
#[must_use]
pub(crate) fn rendered_types(model: &Model) -> Vec<&'static str> {
    let c = &model.instance.components;
    let full = model
        .projects
        .iter()
        .any(|p| matches!(model.deployment(p), Deployment::Full));
    let mut out = Vec::new();
    let mut add = |on: bool, types: &[&'static str]| {
        if on {
            out.extend_from_slice(types);
        }
    };
    add(full, &["grafana", "provision", "sync", "affiliations"]);
    add(c.api, &["api"]);
    add(c.static_sites, &["static"]);
    add(c.postgres, &["postgres"]);
    add(c.bootstrap, &["boot"]);
    add(c.affiliations_import.enabled, &["affiliations-import"]);
    add(c.backups.enabled, &["backups-sync"]);
    add(c.vacuum.enabled, &["vacuum-sync"]);
    add(c.reports, &["reports"]);
    add(c.tests, &["tests"]);
    let dr = &model.instance.disaster_recovery;
    add(
        crate::components::disaster_recovery::wal_archiving(model),
        &[crate::components::disaster_recovery::TYPE_BASE_BACKUP],
    );
    add(
        dr.copies_dumps() && c.backups.enabled,
        &[crate::components::disaster_recovery::TYPE_BACKUPS_COPY],
    );
    // The drill and `run restore` Jobs.
    add(
        !dr.is_off(),
        &[crate::components::disaster_recovery::TYPE_RESTORE],
    );
    out
}

/// The pod types that connect to PostgreSQL.
const DB_CLIENTS: [&str; 12] = [
    "grafana",
    "api",
    "provision",
    "boot",
    "sync",
    "affiliations",
    "affiliations-import",
    "backups-sync",
    "vacuum-sync",
    "reports",
    "tests",
    crate::components::disaster_recovery::TYPE_RESTORE,
];

/// The pod types that fetch from the internet, with the ports they need (what the images
/// really fetch, read from cncf/devstatscode and cncf/devstats):
///
/// - provisioning and sync run `gha2db`, which downloads GH Archive over **plain HTTP**
///   (`http://data.gharchive.org/…`, devstatscode `cmd/gha2db/gha2db.go`, `context.go`): port 80;
///   and the GitHub API and `git clone`/`fetch` over HTTPS: 443;
/// - bootstrap, affiliations and the shared affiliations import use the GitHub API, git and
///   the CNCF gitdm/affiliations files over HTTPS only: 443.
const INTERNET: [(&str, &[i32]); 5] = [
    ("provision", &[80, 443]),
    ("boot", &[443]),
    ("sync", &[80, 443]),
    ("affiliations", &[443]),
    ("affiliations-import", &[443]),
];

/// The internet ports of a pod type (empty: no internet).
fn internet_ports(t: &str) -> &'static [i32] {
    INTERNET
        .iter()
        .find(|(ty, _)| *ty == t)
        .map_or(&[], |(_, ports)| ports)
}

fn tcp(port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(port)),
        protocol: Some("TCP".to_owned()),
        ..NetworkPolicyPort::default()
    }
}

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn selector(match_labels: BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(match_labels),
        ..LabelSelector::default()
    }
}

fn of_type(t: &str) -> LabelSelector {
    selector(labels(&[("name", APP), ("type", t)]))
}

fn namespace_peer(ns: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(selector(labels(&[(NS_LABEL, ns)]))),
        ..NetworkPolicyPeer::default()
    }
}

fn pods_peer(sel: LabelSelector) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(sel),
        ..NetworkPolicyPeer::default()
    }
}

fn ingress(from: Vec<NetworkPolicyPeer>, ports: Vec<NetworkPolicyPort>) -> NetworkPolicyIngressRule {
    NetworkPolicyIngressRule {
        from: Some(from),
        ports: Some(ports),
    }
}

fn egress(to: Vec<NetworkPolicyPeer>, ports: Vec<NetworkPolicyPort>) -> NetworkPolicyEgressRule {
    NetworkPolicyEgressRule {
        to: Some(to),
        ports: Some(ports),
    }
}

fn policy(
    ctx: &Ctx<'_>,
    name: &str,
    pod_selector: LabelSelector,
    ingress: Option<Vec<NetworkPolicyIngressRule>>,
    egress: Option<Vec<NetworkPolicyEgressRule>>,
) -> Object {
    let mut types = Vec::new();
    if ingress.is_some() {
        types.push("Ingress".to_owned());
    }
    if egress.is_some() {
        types.push("Egress".to_owned());
    }
    Object::from(NetworkPolicy {
        metadata: ctx.meta(name, "network-policy", chart_labels("network-policy", None)),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(pod_selector),
            policy_types: Some(types),
            ingress,
            egress,
        }),
    })
}

/// The Patroni pod selector (the StatefulSet's pod labels).
fn postgres_selector() -> LabelSelector {
    selector(labels(&[
        ("name", APP),
        ("type", "postgres"),
        ("cluster-name", names::POSTGRES),
    ]))
}

fn to_postgres() -> NetworkPolicyEgressRule {
    egress(vec![pods_peer(postgres_selector())], vec![tcp(PG_PORT)])
}

/// Egress to the internet (never the private ranges) on `ports`.
fn internet(np: &NetworkPolicies, ports: &[i32]) -> NetworkPolicyEgressRule {
    egress(
        vec![NetworkPolicyPeer {
            ip_block: Some(IPBlock {
                cidr: "0.0.0.0/0".to_owned(),
                except: (!np.private_cidrs.is_empty()).then(|| np.private_cidrs.clone()),
            }),
            ..NetworkPolicyPeer::default()
        }],
        ports.iter().map(|p| tcp(*p)).collect(),
    )
}

/// The Kubernetes API server's addresses as peers (`apiServer.cidrs`).
fn api_server_peers(np: &NetworkPolicies) -> Vec<NetworkPolicyPeer> {
    np.api_server
        .cidrs
        .iter()
        .map(|c| NetworkPolicyPeer {
            ip_block: Some(IPBlock {
                cidr: c.clone(),
                except: None,
            }),
            ..NetworkPolicyPeer::default()
        })
        .collect()
}

/// Egress to the Kubernetes API server.
fn api_server(np: &NetworkPolicies) -> NetworkPolicyEgressRule {
    egress(
        api_server_peers(np),
        np.api_server.ports.iter().map(|p| tcp(i32::from(*p))).collect(),
    )
}

/// Egress to the object store of `instance.disasterRecovery` (any address: the store may be
/// in the cluster or outside, on the endpoint's port), when a workload uses it.
fn object_store(ctx: &Ctx<'_>) -> Option<NetworkPolicyEgressRule> {
    let os = ctx.model.instance.disaster_recovery.object_store.as_ref()?;
    let port = crate::components::disaster_recovery::endpoint_port(&os.endpoint);
    Some(egress(
        vec![NetworkPolicyPeer {
            ip_block: Some(IPBlock {
                cidr: "0.0.0.0/0".to_owned(),
                except: None,
            }),
            ..NetworkPolicyPeer::default()
        }],
        vec![tcp(port)],
    ))
}

/// Every NetworkPolicy of the instance (none unless `networkPolicies.enabled`).
#[must_use]
pub(crate) fn build(ctx: &Ctx<'_>) -> Vec<Object> {
    let inst = &ctx.model.instance;
    let np = &inst.security.network_policies;
    if !np.enabled {
        return Vec::new();
    }
    let types = rendered_types(ctx.model);
    let has = |t: &str| types.contains(&t);
    let ic = &np.ingress_controller;
    let controller_pods = || selector(ic.pod_labels.clone());
    let web_from = || {
        if ic.inside() {
            vec![pods_peer(controller_pods())]
        } else {
            vec![namespace_peer(ic.namespace.as_str())]
        }
    };
    let monitoring = np
        .monitoring_namespace
        .as_ref()
        .map(|m| namespace_peer(m.as_str()));
    let mut out = vec![
        policy(
            ctx,
            "devstats-default-deny",
            LabelSelector::default(),
            Some(Vec::new()),
            Some(Vec::new()),
        ),
        policy(
            ctx,
            "devstats-dns",
            LabelSelector::default(),
            None,
            Some(vec![egress(
                vec![NetworkPolicyPeer {
                    namespace_selector: Some(selector(labels(&[(NS_LABEL, np.dns.namespace.as_str())]))),
                    pod_selector: Some(selector(np.dns.pod_labels.clone())),
                    ..NetworkPolicyPeer::default()
                }],
                vec![
                    NetworkPolicyPort {
                        port: Some(IntOrString::Int(53)),
                        protocol: Some("UDP".to_owned()),
                        ..NetworkPolicyPort::default()
                    },
                    tcp(53),
                ],
            )]),
        ),
    ];

    if has("grafana") {
        let mut from = web_from();
        from.extend(monitoring.clone());
        out.push(policy(
            ctx,
            "devstats-grafana",
            of_type("grafana"),
            Some(vec![ingress(from, vec![tcp(crate::components::grafana::PORT)])]),
            Some(vec![to_postgres()]),
        ));
        let installers: Vec<String> = ctx
            .model
            .projects
            .iter()
            .filter(|p| {
                matches!(ctx.model.deployment(p), Deployment::Full)
                    && crate::components::grafana::installs_plugins(p)
            })
            .map(|p| p.name.as_str().to_owned())
            .collect();
        if !installers.is_empty() {
            // grafana_start.sh installs plugins from grafana.com for these (HTTPS).
            out.push(policy(
                ctx,
                "devstats-grafana-plugins",
                LabelSelector {
                    match_labels: Some(labels(&[("name", APP), ("type", "grafana")])),
                    match_expressions: Some(vec![LabelSelectorRequirement {
                        key: "proj".to_owned(),
                        operator: "In".to_owned(),
                        values: Some(installers),
                    }]),
                },
                None,
                Some(vec![internet(np, &[443])]),
            ));
        }
    }
    if has("api") {
        out.push(policy(
            ctx,
            "devstats-api",
            of_type("api"),
            Some(vec![ingress(web_from(), vec![tcp(crate::components::api::PORT)])]),
            Some(vec![to_postgres()]),
        ));
    }
    if has("static") {
        out.push(policy(
            ctx,
            "devstats-static",
            of_type("static"),
            Some(vec![ingress(
                web_from(),
                vec![tcp(crate::components::static_sites::PORT)],
            )]),
            Some(Vec::new()),
        ));
    }
    if has("postgres") {
        let clients: Vec<String> = DB_CLIENTS
            .iter()
            .filter(|t| has(t))
            .map(|t| (*t).to_owned())
            .collect();
        let mut rules = Vec::new();
        if !clients.is_empty() {
            rules.push(ingress(
                vec![pods_peer(LabelSelector {
                    match_labels: Some(labels(&[("name", APP)])),
                    match_expressions: Some(vec![LabelSelectorRequirement {
                        key: "type".to_owned(),
                        operator: "In".to_owned(),
                        values: Some(clients),
                    }]),
                })],
                vec![tcp(PG_PORT)],
            ));
        }
        rules.push(ingress(
            vec![pods_peer(postgres_selector())],
            vec![tcp(PG_PORT), tcp(PATRONI_PORT)],
        ));
        if let Some(m) = &monitoring {
            let mut ports = vec![tcp(PATRONI_PORT)];
            if crate::components::monitoring::exporter_enabled(ctx) {
                ports.push(tcp(crate::components::monitoring::EXPORTER_PORT));
            }
            rules.push(ingress(vec![m.clone()], ports));
        }
        let api_server = api_server(np);
        let mut egress_rules = vec![
            egress(
                vec![pods_peer(postgres_selector())],
                vec![tcp(PG_PORT), tcp(PATRONI_PORT)],
            ),
            api_server,
        ];
        if crate::components::disaster_recovery::wal_archiving(ctx.model) {
            egress_rules.extend(object_store(ctx));
        }
        out.push(policy(
            ctx,
            "devstats-postgres",
            postgres_selector(),
            Some(rules),
            Some(egress_rules),
        ));
    }
    if has(crate::components::disaster_recovery::TYPE_BASE_BACKUP) {
        // kubectl exec into a replica: the Kubernetes API server only.
        out.push(policy(
            ctx,
            crate::components::disaster_recovery::BASE_BACKUP,
            of_type(crate::components::disaster_recovery::TYPE_BASE_BACKUP),
            Some(Vec::new()),
            Some(vec![api_server(np)]),
        ));
    }
    for (t, name) in [
        ("provision", "devstats-provision"),
        ("boot", "devstats-bootstrap"),
        ("sync", "devstats-sync"),
        ("affiliations", "devstats-affiliations"),
        ("affiliations-import", "devstats-affiliations-import"),
        ("backups-sync", "devstats-backups"),
        ("vacuum-sync", "devstats-vacuum"),
        ("reports", "devstats-reports"),
        ("tests", "devstats-tests"),
        (
            crate::components::disaster_recovery::TYPE_BACKUPS_COPY,
            crate::components::disaster_recovery::BACKUPS_COPY,
        ),
        (
            crate::components::disaster_recovery::TYPE_RESTORE,
            "devstats-restore",
        ),
    ] {
        if !has(t) {
            continue;
        }
        let mut rules = Vec::new();
        if has("postgres") && t != crate::components::disaster_recovery::TYPE_BACKUPS_COPY {
            rules.push(to_postgres());
        }
        let ports = internet_ports(t);
        if !ports.is_empty() {
            rules.push(internet(np, ports));
        }
        if matches!(
            t,
            crate::components::disaster_recovery::TYPE_BACKUPS_COPY
                | crate::components::disaster_recovery::TYPE_RESTORE
        ) {
            rules.extend(object_store(ctx));
        }
        out.push(policy(ctx, name, of_type(t), Some(Vec::new()), Some(rules)));
    }
    if inst.components.ingress && ic.inside() {
        out.extend(controller_policies(
            ctx,
            np,
            &types,
            http01(ctx),
            monitoring.as_ref(),
        ));
    }
    if inst.components.ingress && http01(ctx) {
        out.push(policy(
            ctx,
            "devstats-acme-solver",
            selector(labels(&[("acme.cert-manager.io/http01-solver", "true")])),
            Some(vec![ingress(web_from(), vec![tcp(ACME_SOLVER_PORT)])]),
            Some(Vec::new()),
        ));
    }
    out
}

/// Whether certificates are issued through HTTP-01 (cert-manager's solver pods in this
/// namespace, reached through the ingress controller).
fn http01(ctx: &Ctx<'_>) -> bool {
    match &ctx.model.instance.security.https.issuer {
        Some(i) => i.solver == AcmeSolver::Http01,
        None => true,
    }
}

/// Egress to the external-auth service the controller calls (`instance.authProxy.authUrl`):
/// its namespace for an in-cluster URL (`http://svc.ns.svc…`), else the internet on the URL's
/// port.
fn auth_proxy(ctx: &Ctx<'_>, np: &NetworkPolicies) -> Option<NetworkPolicyEgressRule> {
    let a = ctx.model.instance.auth_proxy.as_ref()?;
    let (scheme, rest) = a
        .auth_url
        .split_once("://")
        .unwrap_or(("http", a.auth_url.as_str()));
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<i32>().ok()),
        None => (authority, None),
    };
    let labels_of: Vec<&str> = host.split('.').collect();
    if labels_of.len() >= 3 && labels_of[2] == "svc" {
        // Service port and pod port may differ: admit the namespace on every port.
        return Some(NetworkPolicyEgressRule {
            to: Some(vec![namespace_peer(labels_of[1])]),
            ports: None,
        });
    }
    let port = port.unwrap_or(if scheme == "https" { 443 } else { 80 });
    Some(internet(np, &[port]))
}

/// The ingress controller's own policies when it runs in the instance namespace, where
/// `devstats-default-deny` selects it too (the CNCF layout, `akamai/install-ingresses.sh`):
///
/// - `devstats-ingress-controller`: clients from anywhere on its traffic ports (NodePort with
///   `externalTrafficPolicy: Local` keeps their addresses), the API server on the admission
///   webhook port, Prometheus on the metrics port; egress to the backends it routes to (Grafana,
///   API, static sites, cert-manager's HTTP-01 solvers), to the external-auth service, and to
///   the API server (it watches Ingresses, Services, EndpointSlices, Secrets);
/// - `devstats-ingress-admission`: the chart's admission-webhook Jobs (certgen create/patch,
///   `app.kubernetes.io/component: admission-webhook`) reach the API server.
fn controller_policies(
    ctx: &Ctx<'_>,
    np: &NetworkPolicies,
    types: &[&'static str],
    http01: bool,
    monitoring: Option<&NetworkPolicyPeer>,
) -> Vec<Object> {
    let ic = &np.ingress_controller;
    let ports = |ps: &[u16]| ps.iter().map(|p| tcp(i32::from(*p))).collect::<Vec<_>>();
    let mut ingress_rules = vec![NetworkPolicyIngressRule {
        from: None,
        ports: Some(ports(&ic.traffic_ports)),
    }];
    if let Some(webhook) = ic.webhook_port {
        ingress_rules.push(ingress(api_server_peers(np), ports(&[webhook])));
    }
    if let (Some(metrics), Some(m)) = (ic.metrics_port, monitoring) {
        ingress_rules.push(ingress(vec![m.clone()], ports(&[metrics])));
    }
    let mut egress_rules = Vec::new();
    for (t, port) in [
        ("grafana", crate::components::grafana::PORT),
        ("api", crate::components::api::PORT),
        ("static", crate::components::static_sites::PORT),
    ] {
        if types.contains(&t) {
            egress_rules.push(egress(vec![pods_peer(of_type(t))], vec![tcp(port)]));
        }
    }
    if http01 {
        egress_rules.push(egress(
            vec![pods_peer(selector(labels(&[(
                "acme.cert-manager.io/http01-solver",
                "true",
            )])))],
            vec![tcp(ACME_SOLVER_PORT)],
        ));
    }
    egress_rules.extend(auth_proxy(ctx, np));
    egress_rules.push(api_server(np));
    let mut out = vec![policy(
        ctx,
        "devstats-ingress-controller",
        selector(ic.pod_labels.clone()),
        Some(ingress_rules),
        Some(egress_rules),
    )];
    let mut admission: BTreeMap<String, String> = ic
        .pod_labels
        .iter()
        .filter(|(k, _)| k.as_str() != COMPONENT_LABEL)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    admission.insert(COMPONENT_LABEL.to_owned(), "admission-webhook".to_owned());
    out.push(policy(
        ctx,
        "devstats-ingress-admission",
        selector(admission),
        Some(Vec::new()),
        Some(vec![api_server(np)]),
    ));
    out
}

/// The component label of the ingress-nginx chart's pods.
const COMPONENT_LABEL: &str = "app.kubernetes.io/component";
