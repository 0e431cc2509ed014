//! Cross-object reference check, run on every render: every secretKeyRef, claimName,
//! serviceAccountName, roleRef, RoleBinding subject, StatefulSet serviceName, Ingress backend,
//! HPA scaleTargetRef, HTTPRoute parentRef and backendRef, Gateway certificate Secret and Flagger
//! Canary targetRef/autoscalerRef/ingressRef/gatewayRef must resolve, and every Service,
//! PodDisruptionBudget and (DevStats) NetworkPolicy selector must match a pod template. A Service
//! that a Canary provides (Flagger writes `<service>`, `-primary`, `-canary`) counts as rendered;
//! a canaried Deployment must select on Flagger's label (`app`), and nothing else may select its
//! pods on it (Flagger rewrites it on the primary pods). Monitoring: a PodMonitor must select pods
//! that have its named ports, a ServiceMonitor Services with its target ports; a PrometheusRule may
//! name only metrics of known exporters ([`crate::components::monitoring::KNOWN_METRICS`]), of the exporters
//! DevStats runs only those a rendered monitor scrapes, and its `cronjob`, `deployment` and
//! `job_name` matchers must each match a rendered object. A broken reference is an error naming
//! both objects.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::PodSpec;

use crate::core::error::BrokenReference;
use crate::core::reference::{Reference, Via};
use crate::core::{ctx::Rendered, error::RenderError, facts::RequiredSecret, kind::Kind, object::Object};

impl BrokenReference {
    fn new(id: Id<'_>, problem: impl Into<String>) -> Self {
        Self {
            object: id.to_string(),
            problem: problem.into(),
        }
    }
}

/// `Kind namespace/name`, formatted only when a problem is reported.
#[derive(Clone, Copy)]
struct Id<'a>(&'a Object);

impl std::fmt::Display for Id<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.namespace() {
            Some(ns) => write!(f, "{} {ns}/{}", self.0.kind(), self.0.name()),
            None => write!(f, "{} {}", self.0.kind(), self.0.name()),
        }
    }
}

/// Pod labels that controllers add at runtime and that Service selectors may rely on:
/// Patroni labels the primary `role: primary` and replicas `role: replica`.
pub(crate) const RUNTIME_POD_LABELS: [&str; 1] = ["role"];

/// Label sets (pod templates, Service labels) indexed by each of their (key, value) pairs, so
/// that finding the sets a selector matches costs the size of its rarest pair's list, not the
/// number of sets: every DevStats template carries `name: devstats`, so a scan over all of
/// them per selector made the check quadratic in the projects.
struct LabelIndex<'a> {
    /// The label sets, in insertion order (a set's id is its position).
    sets: Vec<&'a BTreeMap<String, String>>,
    /// For each (key, value), the ids of the sets carrying it, ascending.
    postings: BTreeMap<(&'a str, &'a str), Vec<usize>>,
}

impl<'a> LabelIndex<'a> {
    fn new() -> Self {
        Self {
            sets: Vec::new(),
            postings: BTreeMap::new(),
        }
    }

    /// Adds a label set and returns its id.
    fn insert(&mut self, labels: &'a BTreeMap<String, String>) -> usize {
        let id = self.sets.len();
        self.sets.push(labels);
        for (k, v) in labels {
            self.postings
                .entry((k.as_str(), v.as_str()))
                .or_default()
                .push(id);
        }
        id
    }

    /// The ids (ascending) of the sets carrying every pair of `sel` whose key `keep` accepts:
    /// the postings of the pairs intersected, starting from the shortest list (each id of it is
    /// looked up in the others by binary search from a cursor that only moves forward).
    fn matching<'s>(
        &'s self,
        sel: &'s BTreeMap<String, String>,
        keep: impl Fn(&str) -> bool,
    ) -> Box<dyn Iterator<Item = usize> + 's> {
        let mut lists: Vec<&[usize]> = Vec::new();
        for (k, v) in sel.iter().filter(|(k, _)| keep(k)) {
            match self.postings.get(&(k.as_str(), v.as_str())) {
                Some(ids) => lists.push(ids),
                None => return Box::new(std::iter::empty()),
            }
        }
        if lists.is_empty() {
            return Box::new(0..self.sets.len());
        }
        lists.sort_by_key(|l| l.len());
        let rarest = lists.remove(0);
        let mut cursors = vec![0usize; lists.len()];
        Box::new(rarest.iter().copied().filter(move |id| {
            lists.iter().zip(cursors.iter_mut()).all(|(list, at)| {
                let rest = &list[*at..];
                let i = rest.partition_point(|x| x < id);
                *at += i;
                rest.get(i) == Some(id)
            })
        }))
    }
}

struct Index<'a> {
    secrets: BTreeMap<&'a str, BTreeSet<String>>,
    /// ConfigMaps and their keys.
    config_maps: BTreeMap<&'a str, BTreeSet<&'a str>>,
    pvcs: BTreeSet<&'a str>,
    services: BTreeMap<&'a str, BTreeSet<i32>>,
    service_accounts: BTreeSet<&'a str>,
    roles: BTreeSet<&'a str>,
    /// Pod-template label sets.
    templates: LabelIndex<'a>,
    deployments: BTreeSet<&'a str>,
    /// Gateways and their listener names.
    gateways: BTreeMap<&'a str, BTreeSet<&'a str>>,
    /// Secrets that rendered cert-manager Certificates write.
    certificate_secrets: BTreeSet<&'a str>,
    /// Names of the rendered objects by kind (CronJob, Job, Deployment).
    by_kind: BTreeMap<Kind, BTreeSet<String>>,
    /// Names of the rendered Jobs and of those the CronJobs will create,
    /// `<cronjob>-<scheduled minute>` (built once, not per PromQL matcher).
    job_names: BTreeSet<String>,
    /// The empty name set.
    no_names: BTreeSet<String>,
    /// Pod templates that have a pod spec, with the names of their containers' ports (by id
    /// in `template_port_labels`).
    template_ports: Vec<BTreeSet<&'a str>>,
    /// Labels of the pod templates in `template_ports`.
    template_port_labels: LabelIndex<'a>,
    /// Target ports of the labelled Services (by id in `service_labels`).
    service_targets: Vec<BTreeSet<i32>>,
    /// Metadata labels of the Services in `service_targets`.
    service_labels: LabelIndex<'a>,
    /// Pod labels of the canaried Deployments.
    canaried_pods: LabelIndex<'a>,
    /// Services Flagger writes for the rendered Canaries, with their port.
    canary_services: BTreeMap<String, BTreeSet<i32>>,
    /// Deployments a Canary targets.
    canaried: BTreeSet<&'a str>,
    hpas: BTreeSet<&'a str>,
    ingresses: BTreeSet<&'a str>,
    /// TLS Secrets of Ingresses carrying a cert-manager issuer annotation (ingress-shim issues them).
    shim_secrets: BTreeSet<&'a str>,
}

/// Whether an Ingress carries cert-manager's ingress-shim annotations.
fn shimmed(o: &Object) -> bool {
    o.meta().annotations.as_ref().is_some_and(|a| {
        a.contains_key("cert-manager.io/issuer") || a.contains_key("cert-manager.io/cluster-issuer")
    })
}

impl Index<'_> {
    /// The ports of Service `name`, rendered or provided by a Canary.
    fn service(&self, name: &str) -> Option<&BTreeSet<i32>> {
        self.services.get(name).or_else(|| self.canary_services.get(name))
    }

    /// Whether some pod template carries every label of `sel` (runtime labels excepted).
    fn selects_a_template(&self, sel: &BTreeMap<String, String>) -> bool {
        self.templates
            .matching(sel, |k| !RUNTIME_POD_LABELS.contains(&k))
            .next()
            .is_some()
    }
}

/// The string at `pointer` of a custom resource's body.
fn body_str<'a>(
    body: &'a serde_json::Map<String, serde_json::Value>,
    key: &str,
    pointer: &str,
) -> Option<&'a str> {
    body.get(key)?.pointer(pointer)?.as_str()
}

/// The array at `pointer` of a JSON value (empty when absent).
fn array<'a>(v: &'a serde_json::Value, pointer: &str) -> &'a [serde_json::Value] {
    v.pointer(pointer)
        .and_then(serde_json::Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn pod_spec(o: &Object) -> Option<&PodSpec> {
    o.pod_spec()
}

fn pod_labels(o: &Object) -> Option<&BTreeMap<String, String>> {
    o.pod_labels()
}

/// Checks every reference among `objects`; Secrets not rendered count as existing when they are
/// listed in `required` (they must exist in the cluster before apply).
pub fn check(objects: &[Rendered], required: &[RequiredSecret]) -> Result<(), RenderError> {
    let mut idx = Index {
        secrets: BTreeMap::new(),
        config_maps: BTreeMap::new(),
        pvcs: BTreeSet::new(),
        services: BTreeMap::new(),
        service_accounts: BTreeSet::new(),
        roles: BTreeSet::new(),
        templates: LabelIndex::new(),
        deployments: BTreeSet::new(),
        gateways: BTreeMap::new(),
        certificate_secrets: BTreeSet::new(),
        by_kind: BTreeMap::new(),
        job_names: BTreeSet::new(),
        no_names: BTreeSet::new(),
        template_ports: Vec::new(),
        template_port_labels: LabelIndex::new(),
        service_targets: Vec::new(),
        service_labels: LabelIndex::new(),
        canaried_pods: LabelIndex::new(),
        canary_services: BTreeMap::new(),
        canaried: BTreeSet::new(),
        hpas: BTreeSet::new(),
        ingresses: BTreeSet::new(),
        shim_secrets: BTreeSet::new(),
    };
    for r in required {
        idx.secrets
            .insert(r.name.as_str(), r.keys.iter().map(|k| (*k).to_owned()).collect());
    }
    for r in objects {
        let o = &r.object;
        match o {
            Object::Secret(s) => {
                let keys = s
                    .data
                    .iter()
                    .flat_map(|d| d.keys().cloned())
                    .chain(s.string_data.iter().flat_map(|d| d.keys().cloned()));
                idx.secrets.insert(o.name(), keys.collect());
            }
            Object::ConfigMap(cm) => {
                let keys = cm
                    .data
                    .iter()
                    .flat_map(|d| d.keys())
                    .chain(cm.binary_data.iter().flat_map(|d| d.keys()))
                    .map(String::as_str);
                idx.config_maps.insert(o.name(), keys.collect());
            }
            Object::PersistentVolumeClaim(_) => {
                idx.pvcs.insert(o.name());
            }
            Object::Service(s) => {
                let ports = s
                    .spec
                    .iter()
                    .flat_map(|sp| sp.ports.iter().flatten())
                    .map(|p| p.port)
                    .collect();
                idx.services.insert(o.name(), ports);
            }
            Object::ServiceAccount(_) => {
                idx.service_accounts.insert(o.name());
            }
            Object::Role(_) => {
                idx.roles.insert(o.name());
            }
            Object::Deployment(_) => {
                idx.deployments.insert(o.name());
            }
            Object::Custom(c) if c.kind == Kind::GATEWAY => {
                let spec = c.body.get("spec").unwrap_or(&serde_json::Value::Null);
                let listeners = array(spec, "/listeners")
                    .iter()
                    .filter_map(|l| l.get("name").and_then(serde_json::Value::as_str))
                    .collect();
                idx.gateways.insert(o.name(), listeners);
            }
            Object::Custom(c) if c.kind == Kind::CERTIFICATE => {
                if let Some(secret) = body_str(&c.body, "spec", "/secretName") {
                    idx.certificate_secrets.insert(secret);
                }
            }
            Object::Custom(c) if c.kind == Kind::CANARY => {
                let target = body_str(&c.body, "spec", "/targetRef/name").unwrap_or_default();
                idx.canaried.insert(target);
                let apex = body_str(&c.body, "spec", "/service/name").unwrap_or(target);
                let port = c
                    .body
                    .get("spec")
                    .and_then(|s| s.pointer("/service/port"))
                    .and_then(serde_json::Value::as_i64)
                    .and_then(|p| i32::try_from(p).ok());
                for name in [
                    apex.to_owned(),
                    format!("{apex}-primary"),
                    format!("{apex}-canary"),
                ] {
                    idx.canary_services.insert(name, port.into_iter().collect());
                }
            }
            Object::HorizontalPodAutoscaler(_) => {
                idx.hpas.insert(o.name());
            }
            Object::Ingress(ing) => {
                idx.ingresses.insert(o.name());
                if shimmed(o) {
                    idx.shim_secrets.extend(
                        ing.spec
                            .iter()
                            .flat_map(|s| s.tls.iter().flatten())
                            .filter_map(|t| t.secret_name.as_deref()),
                    );
                }
            }
            _ => {}
        }
        if matches!(o.typed_kind(), Kind::CRON_JOB | Kind::JOB | Kind::DEPLOYMENT) {
            idx.by_kind
                .entry(o.typed_kind())
                .or_default()
                .insert(o.name().to_owned());
        }
        if let Object::Service(svc) = o
            && let Some(labels) = &svc.metadata.labels
        {
            let targets = svc
                .spec
                .iter()
                .flat_map(|sp| sp.ports.iter().flatten())
                .map(|p| match &p.target_port {
                    Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(n)) => *n,
                    _ => p.port,
                })
                .collect();
            idx.service_targets.push(targets);
            idx.service_labels.insert(labels);
        }
        if let (Some(labels), Some(spec)) = (pod_labels(o), pod_spec(o)) {
            let ports = spec
                .containers
                .iter()
                .flat_map(|c| c.ports.iter().flatten())
                .filter_map(|p| p.name.as_deref())
                .collect();
            idx.template_ports.push(ports);
            idx.template_port_labels.insert(labels);
        }
        if let Some(labels) = pod_labels(o) {
            idx.templates.insert(labels);
        }
    }

    idx.job_names = idx.by_kind.get(&Kind::JOB).cloned().unwrap_or_default();
    for c in idx.by_kind.get(&Kind::CRON_JOB).into_iter().flatten() {
        idx.job_names.insert(format!("{c}-29000000"));
    }
    // Pod labels of canaried Deployments: selectors that match them must not use Flagger's label.
    for r in objects {
        if matches!(r.object, Object::Deployment(_))
            && idx.canaried.contains(r.object.name())
            && let Some(labels) = pod_labels(&r.object)
        {
            idx.canaried_pods.insert(labels);
        }
    }
    let selects_canaried = |sel: &BTreeMap<String, String>| {
        idx.canaried_pods
            .matching(sel, |k| k != crate::core::facts::SELECTOR_LABEL)
            .next()
            .is_some()
    };
    let mut broken = Vec::new();
    let scraped = check_monitors(&idx, objects, &mut broken);
    for r in objects {
        let o = &r.object;
        let id = Id(o);
        let selector = match o {
            Object::Service(s) => s.spec.as_ref().and_then(|sp| sp.selector.as_ref()),
            Object::PodDisruptionBudget(p) => p
                .spec
                .as_ref()
                .and_then(|sp| sp.selector.as_ref())
                .and_then(|sel| sel.match_labels.as_ref()),
            Object::NetworkPolicy(np) => np
                .spec
                .as_ref()
                .and_then(|sp| sp.pod_selector.as_ref())
                .and_then(|sel| sel.match_labels.as_ref()),
            _ => None,
        };
        if let Some(sel) = selector
            && selects_canaried(sel)
        {
            if matches!(o, Object::Service(_)) {
                broken.push(BrokenReference::new(
                    id,
                    "selects the pods of a canaried Deployment, whose Services Flagger writes",
                ));
            } else if sel.contains_key(crate::core::facts::SELECTOR_LABEL) {
                broken.push(BrokenReference::new(
                    id,
                    format!(
                        "selector {sel:?} uses `{}`, which Flagger rewrites on the primary pods",
                        crate::core::facts::SELECTOR_LABEL
                    ),
                ));
            }
        }
        for reference in o.references() {
            check_reference(&idx, id, &reference, &mut broken);
        }
        if let Some(spec) = pod_spec(o) {
            let claim_templates: BTreeSet<&str> = match o {
                Object::StatefulSet(s) => s
                    .spec
                    .volume_claim_templates
                    .iter()
                    .flatten()
                    .filter_map(|t| t.metadata.name.as_deref())
                    .collect(),
                _ => BTreeSet::new(),
            };
            check_mounts(id, spec, &claim_templates, &mut broken);
        }
        match o {
            Object::Deployment(d) => {
                let spec = &d.spec;
                check_selector(
                    id,
                    spec.selector.match_labels.as_ref(),
                    pod_labels(o),
                    &mut broken,
                );
                if idx.canaried.contains(o.name())
                    && !spec
                        .selector
                        .match_labels
                        .as_ref()
                        .is_some_and(|m| m.contains_key(crate::core::facts::SELECTOR_LABEL))
                {
                    broken.push(BrokenReference::new(
                        id,
                        format!(
                            "is canaried but its selector lacks `{}`, the label Flagger selects on",
                            crate::core::facts::SELECTOR_LABEL
                        ),
                    ));
                }
                if idx.canaried.contains(o.name()) && spec.replicas.is_some() {
                    broken.push(BrokenReference::new(
                        id,
                        "is canaried but sets spec.replicas, which Flagger owns",
                    ));
                }
            }
            Object::StatefulSet(s) => {
                let spec = &s.spec;
                check_selector(
                    id,
                    spec.selector.match_labels.as_ref(),
                    pod_labels(o),
                    &mut broken,
                );
            }
            Object::Service(s) => {
                if let Some(sel) = s.spec.as_ref().and_then(|sp| sp.selector.as_ref())
                    && !idx.selects_a_template(sel)
                {
                    broken.push(BrokenReference::new(
                        id,
                        format!("selector {sel:?} matches no rendered pod template"),
                    ));
                }
            }
            Object::PodDisruptionBudget(pdb) => {
                let sel = pdb
                    .spec
                    .as_ref()
                    .and_then(|sp| sp.selector.as_ref())
                    .and_then(|sel| sel.match_labels.as_ref());
                match sel {
                    Some(sel) if idx.selects_a_template(sel) => {}
                    _ => broken.push(BrokenReference::new(
                        id,
                        format!("selector {sel:?} matches no rendered pod template"),
                    )),
                }
            }
            Object::HorizontalPodAutoscaler(hpa) => {
                // A Deployment target is a reference (checked with the others); any other kind is
                // not one DevStats renders.
                let target = &hpa.spec.scale_target_ref;
                if target.kind != Kind::DEPLOYMENT.kind {
                    broken.push(BrokenReference::new(
                        id,
                        format!("scaleTargetRef {} {} is not rendered", target.kind, target.name),
                    ));
                }
            }
            Object::NetworkPolicy(np) => {
                // Policies for DevStats pods (chart label `name`) must select one; others (e.g.
                // cert-manager's solver pods) select pods the cluster starts.
                let sel = np
                    .spec
                    .as_ref()
                    .and_then(|sp| sp.pod_selector.as_ref())
                    .and_then(|sel| sel.match_labels.as_ref());
                if let Some(sel) = sel
                    && sel.get("name").map(String::as_str) == Some(crate::core::common::APP)
                    && !idx.selects_a_template(sel)
                {
                    broken.push(BrokenReference::new(
                        id,
                        format!("podSelector {sel:?} matches no rendered pod template"),
                    ));
                }
            }
            Object::ConfigMap(cm)
                if cm
                    .metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("app.kubernetes.io/component"))
                    .map(String::as_str)
                    == Some(crate::core::component::Component::Monitoring.as_str()) =>
            {
                // Ops dashboards: every panel query is checked like a rule expression.
                for (key, text) in cm.data.iter().flatten() {
                    let Ok(d) = serde_json::from_str::<serde_json::Value>(text) else {
                        broken.push(BrokenReference::new(id, format!("{key} is not JSON")));
                        continue;
                    };
                    for p in array(&d, "/panels") {
                        let title = p
                            .get("title")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or_default();
                        for t in array(p, "/targets") {
                            let expr = t
                                .get("expr")
                                .and_then(serde_json::Value::as_str)
                                .unwrap_or_default();
                            check_expr(&idx, &scraped, id, &format!("panel {title}"), expr, &mut broken);
                        }
                    }
                }
            }
            Object::Custom(c) if c.kind == Kind::PROMETHEUS_RULE => {
                let spec = c.body.get("spec").unwrap_or(&serde_json::Value::Null);
                for g in array(spec, "/groups") {
                    for rule in array(g, "/rules") {
                        let name = rule
                            .get("alert")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or_default();
                        let expr = rule
                            .get("expr")
                            .and_then(serde_json::Value::as_str)
                            .unwrap_or_default();
                        check_expr(&idx, &scraped, id, &format!("alert {name}"), expr, &mut broken);
                    }
                }
            }
            Object::Custom(c) if c.kind == Kind::CANARY => {
                let spec = c.body.get("spec").unwrap_or(&serde_json::Value::Null);
                let at = |p: &str| spec.pointer(p).and_then(serde_json::Value::as_str);
                // A Deployment target is a reference (checked with the others).
                if at("/targetRef/kind") != Some(Kind::DEPLOYMENT.kind) {
                    let target = at("/targetRef/name").unwrap_or_default();
                    broken.push(BrokenReference::new(
                        id,
                        format!("targetRef Deployment {target} is not rendered"),
                    ));
                }
                if at("/provider") == Some("nginx") && at("/ingressRef/name").is_none() {
                    broken.push(BrokenReference::new(id, "the nginx provider needs an ingressRef"));
                }
            }
            Object::Ingress(ing) => {
                let spec = ing.spec.as_ref();
                // An Ingress without the cert-manager annotations serves certificates that another
                // Ingress or a Certificate issues (the oauth2-proxy and canary Ingresses).
                if !shimmed(o) {
                    for t in spec.iter().flat_map(|s| s.tls.iter().flatten()) {
                        if let Some(secret) = t.secret_name.as_deref()
                            && !idx.shim_secrets.contains(secret)
                            && !idx.certificate_secrets.contains(secret)
                        {
                            broken.push(BrokenReference::new(
                                id,
                                format!(
                                    "TLS Secret {secret} is issued by no rendered Ingress or Certificate"
                                ),
                            ));
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if broken.is_empty() {
        Ok(())
    } else {
        // In the order of the messages (as when they were strings).
        broken.sort_by_cached_key(ToString::to_string);
        broken.dedup();
        Err(RenderError::References(broken))
    }
}

fn check_selector(
    id: Id<'_>,
    sel: Option<&BTreeMap<String, String>>,
    labels: Option<&BTreeMap<String, String>>,
    broken: &mut Vec<BrokenReference>,
) {
    let Some(sel) = sel else {
        broken.push(BrokenReference::new(id, "has no selector"));
        return;
    };
    let ok = labels.is_some_and(|l| sel.iter().all(|(k, v)| l.get(k) == Some(v)));
    if !ok {
        broken.push(BrokenReference::new(
            id,
            format!("selector {sel:?} does not match its own pod template labels"),
        ));
    }
}

/// Checks that every volume a container mounts is defined by the pod (or is a claim template).
fn check_mounts(
    id: Id<'_>,
    spec: &PodSpec,
    claim_templates: &BTreeSet<&str>,
    broken: &mut Vec<BrokenReference>,
) {
    let volume_names: BTreeSet<&str> = spec.volumes.iter().flatten().map(|v| v.name.as_str()).collect();
    for c in spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
    {
        for m in c.volume_mounts.iter().flatten() {
            if !volume_names.contains(m.name.as_str()) && !claim_templates.contains(m.name.as_str()) {
                broken.push(BrokenReference::new(
                    id,
                    format!(
                        "container {} mounts volume {}, which the pod does not define",
                        c.name, m.name
                    ),
                ));
            }
        }
    }
}

/// Checks that one reference ([`Object::references`]) resolves; the namespace always does.
fn check_reference(idx: &Index<'_>, id: Id<'_>, r: &Reference<'_>, broken: &mut Vec<BrokenReference>) {
    let field = r.field.unwrap_or_default();
    let name = r.name;
    let listener =
        |listeners: Option<&BTreeSet<&str>>, what: &str, broken: &mut Vec<BrokenReference>| match listeners {
            None => broken.push(BrokenReference::new(
                id,
                format!("{what} Gateway {name} is not rendered"),
            )),
            Some(listeners) => {
                if let Some(section) = r.key
                    && !listeners.contains(section)
                {
                    broken.push(BrokenReference::new(
                        id,
                        format!("Gateway {name} has no listener {section}"),
                    ));
                }
            }
        };
    let port = |ports: Option<&BTreeSet<i32>>, what: &str, broken: &mut Vec<BrokenReference>| match ports {
        None => broken.push(BrokenReference::new(
            id,
            format!("{what} Service {name} is not rendered"),
        )),
        Some(ports) => {
            if let Some(n) = r.port
                && !i32::try_from(n).is_ok_and(|n| ports.contains(&n))
            {
                broken.push(BrokenReference::new(
                    id,
                    format!("{what} Service {name} has no port {n}"),
                ));
            }
        }
    };
    match r.via {
        Via::Namespace => {}
        Via::EnvSecretKey => match idx.secrets.get(name) {
            None => broken.push(BrokenReference::new(
                id,
                format!("env {field} reads Secret {name}, which is neither rendered nor required"),
            )),
            Some(keys) => {
                if let Some(key) = r.key
                    && !keys.contains(key)
                {
                    broken.push(BrokenReference::new(
                        id,
                        format!("env {field} reads key {key} of Secret {name}, which has no such key"),
                    ));
                }
            }
        },
        Via::EnvFromSecret if !idx.secrets.contains_key(name) => broken.push(BrokenReference::new(
            id,
            format!("envFrom reads Secret {name}, which is neither rendered nor required"),
        )),
        Via::SecretVolume if !idx.secrets.contains_key(name) => broken.push(BrokenReference::new(
            id,
            format!("volume {field} mounts Secret {name}, which is neither rendered nor required"),
        )),
        Via::EnvConfigMapKey => match idx.config_maps.get(name) {
            None => broken.push(BrokenReference::new(
                id,
                format!("env {field} reads ConfigMap {name}, which is not rendered"),
            )),
            Some(keys) => {
                if let Some(key) = r.key
                    && !keys.contains(key)
                {
                    broken.push(BrokenReference::new(
                        id,
                        format!("env {field} reads key {key} of ConfigMap {name}, which has no such key"),
                    ));
                }
            }
        },
        Via::EnvFromConfigMap if !idx.config_maps.contains_key(name) => {
            broken.push(BrokenReference::new(
                id,
                format!("envFrom reads ConfigMap {name}, which is not rendered"),
            ));
        }
        Via::ConfigMapVolume if !idx.config_maps.contains_key(name) => broken.push(BrokenReference::new(
            id,
            format!("volume {field} mounts ConfigMap {name}, which is not rendered"),
        )),
        Via::Claim if !idx.pvcs.contains(name) => broken.push(BrokenReference::new(
            id,
            format!("volume {field} claims PersistentVolumeClaim {name}, which is not rendered"),
        )),
        Via::ServiceAccount if !idx.service_accounts.contains(name) => {
            broken.push(BrokenReference::new(
                id,
                format!("serviceAccountName {name} is not rendered"),
            ));
        }
        Via::RoleRef if !idx.roles.contains(name) => {
            broken.push(BrokenReference::new(
                id,
                format!("roleRef names Role {name}, which is not rendered"),
            ));
        }
        Via::Subject if !idx.service_accounts.contains(name) => {
            broken.push(BrokenReference::new(
                id,
                format!("subject ServiceAccount {name} is not rendered"),
            ));
        }
        Via::ServiceName if !idx.services.contains_key(name) => {
            broken.push(BrokenReference::new(
                id,
                format!("serviceName names Service {name}, which is not rendered"),
            ));
        }
        Via::IngressBackend => port(idx.service(name), "backend", broken),
        Via::ScaleTarget if !idx.deployments.contains(name) => {
            broken.push(BrokenReference::new(
                id,
                format!("scaleTargetRef Deployment {name} is not rendered"),
            ));
        }
        Via::ParentRef => listener(idx.gateways.get(name), "parentRef", broken),
        Via::BackendRef => port(idx.service(name), "backendRef", broken),
        Via::ListenerCertificate if !idx.certificate_secrets.contains(name) => {
            broken.push(BrokenReference::new(
                id,
                format!("listener certificate Secret {name} is written by no rendered Certificate"),
            ))
        }
        Via::CanaryTarget if !idx.deployments.contains(name) => {
            broken.push(BrokenReference::new(
                id,
                format!("targetRef Deployment {name} is not rendered"),
            ));
        }
        Via::CanaryAutoscaler if !idx.hpas.contains(name) => broken.push(BrokenReference::new(
            id,
            format!("autoscalerRef HorizontalPodAutoscaler {name} is not rendered"),
        )),
        Via::CanaryIngress if !idx.ingresses.contains(name) => {
            broken.push(BrokenReference::new(
                id,
                format!("ingressRef Ingress {name} is not rendered"),
            ));
        }
        Via::CanaryGateway => listener(idx.gateways.get(name), "gatewayRef", broken),
        _ => {}
    }
}

/// The exporters DevStats runs itself that a rendered monitor scrapes: `patroni` and
/// `postgres_exporter` through a PodMonitor's named ports, `grafana` through the Grafana
/// ServiceMonitor. Checks that every PodMonitor selects pods having its ports and every
/// ServiceMonitor Services having its target ports.
fn check_monitors<'a>(
    idx: &Index<'a>,
    objects: &'a [Rendered],
    broken: &mut Vec<BrokenReference>,
) -> BTreeSet<&'static str> {
    use crate::components::monitoring::{EXPORTER_PORT_NAME, GRAFANA_MONITOR, PATRONI_PORT_NAME};
    let mut scraped = BTreeSet::new();
    for r in objects {
        let Object::Custom(c) = &r.object else { continue };
        let id = Id(&r.object);
        let spec = c.body.get("spec").unwrap_or(&serde_json::Value::Null);
        let sel: Option<BTreeMap<String, String>> = spec
            .pointer("/selector/matchLabels")
            .and_then(|v| serde_json::from_value(v.clone()).ok());
        match c.kind {
            Kind::POD_MONITOR => {
                let Some(sel) = sel.filter(|s| !s.is_empty()) else {
                    broken.push(BrokenReference::new(id, "selects no pods (empty matchLabels)"));
                    continue;
                };
                let pods: Vec<&BTreeSet<&str>> = idx
                    .template_port_labels
                    .matching(&sel, |_| true)
                    .filter_map(|i| idx.template_ports.get(i))
                    .collect();
                if pods.is_empty() {
                    broken.push(BrokenReference::new(
                        id,
                        format!("selector {sel:?} matches no rendered pod template"),
                    ));
                }
                for e in array(spec, "/podMetricsEndpoints") {
                    let port = e
                        .get("port")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or_default();
                    if !pods.is_empty() && !pods.iter().all(|p| p.contains(port)) {
                        broken.push(BrokenReference::new(
                            id,
                            format!("the selected pods have no container port named `{port}`"),
                        ));
                    } else if port == PATRONI_PORT_NAME {
                        scraped.insert("patroni");
                    } else if port == EXPORTER_PORT_NAME {
                        scraped.insert("postgres_exporter");
                    }
                }
            }
            Kind::SERVICE_MONITOR => {
                let Some(sel) = sel.filter(|s| !s.is_empty()) else {
                    broken.push(BrokenReference::new(
                        id,
                        "selects no Services (empty matchLabels)",
                    ));
                    continue;
                };
                let services: Vec<&BTreeSet<i32>> = idx
                    .service_labels
                    .matching(&sel, |_| true)
                    .filter_map(|i| idx.service_targets.get(i))
                    .collect();
                if services.is_empty() {
                    broken.push(BrokenReference::new(
                        id,
                        format!("selector {sel:?} matches no rendered Service"),
                    ));
                }
                for e in array(spec, "/endpoints") {
                    if let Some(n) = e.get("targetPort").and_then(serde_json::Value::as_i64)
                        && !services
                            .iter()
                            .all(|p| i32::try_from(n).is_ok_and(|n| p.contains(&n)))
                    {
                        broken.push(BrokenReference::new(
                            id,
                            format!("a selected Service has no target port {n}"),
                        ));
                    }
                }
                if r.object.name() == GRAFANA_MONITOR && !services.is_empty() {
                    scraped.insert("grafana");
                }
            }
            _ => {}
        }
    }
    scraped
}

/// The exporters that run outside DevStats (in the cluster's monitoring stack or Prometheus).
const CLUSTER_EXPORTERS: [&str; 4] = ["kube-state-metrics", "kubelet", "cert-manager", "prometheus"];

/// Checks one PromQL expression: it parses, names only known metrics (of exporters that are
/// scraped), and its `cronjob`, `deployment` and `job_name` matchers match rendered objects.
fn check_expr(
    idx: &Index<'_>,
    scraped: &BTreeSet<&str>,
    id: Id<'_>,
    what: &str,
    expr: &str,
    broken: &mut Vec<BrokenReference>,
) {
    let selectors = match crate::components::monitoring::parse_promql(expr) {
        Ok(s) => s,
        Err(e) => {
            broken.push(BrokenReference::new(
                id,
                format!("{what}: expression does not parse: {e}"),
            ));
            return;
        }
    };
    for s in selectors {
        match crate::components::monitoring::exporter_of(&s.metric) {
            None => broken.push(BrokenReference::new(
                id,
                format!(
                    "{what}: metric {} is served by no known exporter (monitoring::KNOWN_METRICS)",
                    s.metric
                ),
            )),
            Some(e) if !CLUSTER_EXPORTERS.contains(&e) && !scraped.contains(e) => {
                broken.push(BrokenReference::new(
                    id,
                    format!(
                        "{what}: metric {} comes from {e}, which no rendered monitor scrapes",
                        s.metric
                    ),
                ));
            }
            Some(_) => {}
        }
        for (label, op, value) in &s.matchers {
            let kind = match label.as_str() {
                "cronjob" => Kind::CRON_JOB,
                "deployment" => Kind::DEPLOYMENT,
                "job_name" => Kind::JOB,
                _ => continue,
            };
            let names = match kind {
                Kind::JOB => &idx.job_names,
                other => idx.by_kind.get(&other).unwrap_or(&idx.no_names),
            };
            let matches = match op.as_str() {
                "=" => names.contains(value),
                "=~" => match regex::Regex::new(&format!("^(?:{value})$")) {
                    Ok(re) => names.iter().any(|n| re.is_match(n)),
                    Err(e) => {
                        broken.push(BrokenReference::new(
                            id,
                            format!("{what}: {label}=~\"{value}\" is not a regex: {e}"),
                        ));
                        continue;
                    }
                },
                _ => continue,
            };
            if !matches {
                broken.push(BrokenReference::new(
                    id,
                    format!("{what}: {label}{op}\"{value}\" matches no rendered {kind}"),
                ));
            }
        }
    }
}

#[cfg(test)]
mod reference_tests {
    use crate::core::{ctx::Rendered, error::RenderError, kind::Kind};

    fn example() -> (Vec<Rendered>, Vec<crate::core::facts::RequiredSecret>) {
        let path = format!("{}/../fixtures/example.yaml", env!("CARGO_MANIFEST_DIR"));
        let model = devstats_model::load(std::path::Path::new(&path)).expect("example loads");
        let ctx = crate::core::ctx::Ctx::new(&model, None).expect("ctx");
        crate::build_all(&ctx).expect("builds")
    }

    fn broken(objects: &[Rendered], required: &[crate::core::facts::RequiredSecret]) -> Vec<String> {
        match super::check(objects, required) {
            Ok(()) => Vec::new(),
            Err(RenderError::References(b)) => b.iter().map(ToString::to_string).collect(),
            Err(e) => panic!("{e}"),
        }
    }

    /// Each kind of reference (walked once, by `Object::references`) is resolved: with its
    /// targets gone, the check names both objects, as it always has.
    #[test]
    fn every_kind_of_reference_is_checked() {
        let (objects, mut required) = example();
        assert_eq!(broken(&objects, &required), Vec::<String>::new());
        let gone = [
            Kind::PERSISTENT_VOLUME_CLAIM,
            Kind::SERVICE_ACCOUNT,
            Kind::ROLE,
            Kind::SERVICE,
        ];
        let kept: Vec<Rendered> = objects
            .iter()
            .filter(|r| !gone.contains(&r.object.typed_kind()))
            .cloned()
            .collect();
        for r in &mut required {
            r.keys.retain(|k| k != "PG_PASS.secret");
        }
        let b = broken(&kept, &required);
        for expected in [
            "Job devstats-example/devstats-provision-kubernetes: volume data-kubernetes claims PersistentVolumeClaim devstats-pvc-kubernetes, which is not rendered",
            "StatefulSet devstats-example/devstats-postgres: serviceAccountName devstats-postgres is not rendered",
            "StatefulSet devstats-example/devstats-postgres: serviceName names Service devstats-postgres, which is not rendered",
            "RoleBinding devstats-example/devstats-postgres: roleRef names Role devstats-postgres, which is not rendered",
            "RoleBinding devstats-example/devstats-postgres: subject ServiceAccount devstats-postgres is not rendered",
        ] {
            assert!(b.iter().any(|m| m == expected), "{expected}\nnot in {b:#?}");
        }
        assert!(
            b.iter()
                .any(|m| m.contains(": backend Service ") && m.ends_with(" is not rendered")),
            "{b:#?}"
        );
        assert!(
            b.iter()
                .any(|m| m.contains(" reads key PG_PASS.secret of Secret ")
                    && m.ends_with(", which has no such key")),
            "{b:#?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::LabelIndex;

    fn labels() -> impl Strategy<Value = BTreeMap<String, String>> {
        proptest::collection::btree_map("[abc]", "[xy]", 0..4)
    }

    proptest! {
        /// The index finds exactly the sets a scan over all of them finds, in order.
        #[test]
        fn matching_equals_a_scan(
            sets in proptest::collection::vec(labels(), 0..40),
            sel in labels(),
            skip_a in any::<bool>(),
        ) {
            let mut idx = LabelIndex::new();
            for s in &sets {
                idx.insert(s);
            }
            let keep = |k: &str| !(skip_a && k == "a");
            let found: Vec<usize> = idx.matching(&sel, keep).collect();
            let scanned: Vec<usize> = sets
                .iter()
                .enumerate()
                .filter(|(_, s)| sel.iter().filter(|(k, _)| keep(k)).all(|(k, v)| s.get(k) == Some(v)))
                .map(|(i, _)| i)
                .collect();
            prop_assert_eq!(found, scanned);
        }
    }
}
