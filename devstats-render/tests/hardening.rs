//! Production hardening (`instance.security`, `docs/security.md`): the hardened render of the
//! CNCF production model (`fixtures/cncf.yaml`: the hardened defaults with CNCF's cluster layout, upstream images)
//! holds PodDisruptionBudgets, HorizontalPodAutoscalers, NetworkPolicies, the issuer, Pod
//! Security Admission labels and secured pods; the chart-compatible settings render none of it;
//! Gateway API routing keeps the certificate buckets.
//!
//! `.ci/run` scores the same render (`devstats-k8s render fixtures/cncf.yaml`) with checkov and
//! kubernetes-validate.

use std::collections::{BTreeMap, BTreeSet};

use devstats_model::hardening::{
    AcmeSolver, Dns01, GatewaySettings, IngressFlavor, PsaLevel, Routing, SecretKey, Security,
};
use devstats_model::{ImageRef, IssuerKind, Model, Name};
use devstats_render::{Object, Options, render};
use k8s_openapi::api::core::v1::{Container, PodSpec};
use serde_json::Value;

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/")).join(name)
}

/// `fixtures/cncf.yaml`: the production model, hardened (its `security` states only the cluster
/// layout), with upstream's images.
fn cncf_hardened() -> Model {
    let mut m = devstats_model::load(&fixture("cncf.yaml")).unwrap_or_else(|e| panic!("{e}"));
    // Only the hardening: the fixture's issue-6 features (monitoring, disaster recovery, canaries,
    // sign-in) are turned on by the tests that test them.
    m.instance.monitoring = devstats_model::monitoring::Monitoring::default();
    m.instance.disaster_recovery = devstats_model::backup::DisasterRecovery::default();
    m.instance.canary = None;
    m.instance.auth_proxy = None;
    let mut cncf = Security::hardened();
    cncf.network_policies.ingress_controller =
        devstats_model::hardening::IngressControllerPeer::in_instance_namespace();
    assert_eq!(m.instance.security, cncf);
    m
}

fn objects(m: &Model) -> Vec<Object> {
    render(m, &Options::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .objects
        .into_iter()
        .map(|r| r.object)
        .collect()
}

fn json(o: &Object) -> Value {
    serde_json::to_value(o).unwrap_or_else(|e| panic!("{}: {e}", o.id()))
}

fn pod_spec(o: &Object) -> Option<&PodSpec> {
    match o {
        Object::Deployment(d) => d.spec.template.spec.as_ref(),
        Object::StatefulSet(s) => s.spec.template.spec.as_ref(),
        Object::Job(j) => j.spec.as_ref()?.template.spec.as_ref(),
        Object::CronJob(c) => c.spec.job_template.spec.as_ref()?.template.spec.as_ref(),
        Object::Pod(p) => p.spec.as_ref(),
        _ => None,
    }
}

fn pod_labels(o: &Object) -> Option<&BTreeMap<String, String>> {
    let t = match o {
        Object::Deployment(d) => &d.spec.template,
        Object::StatefulSet(s) => &s.spec.template,
        _ => return None,
    };
    t.metadata.as_ref()?.labels.as_ref()
}

fn has_limits_and_requests(c: &Container) -> bool {
    let r = c.resources.clone().unwrap_or_default();
    let both =
        |m: Option<BTreeMap<String, _>>| m.is_some_and(|m| m.contains_key("cpu") && m.contains_key("memory"));
    both(r.requests) && both(r.limits)
}

#[test]
fn hardened_cncf_render_is_secured() {
    let m = cncf_hardened();
    let set = render(&m, &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    let objs: Vec<Object> = set.objects.into_iter().map(|r| r.object).collect();
    let by_kind = |k: &'static str| objs.iter().filter(move |o| o.kind() == k);

    // Pod Security Admission.
    let ns = json(by_kind("Namespace").next().expect("namespace"));
    let labels = &ns["metadata"]["labels"];
    assert_eq!(labels["pod-security.kubernetes.io/enforce"], "baseline");
    assert_eq!(labels["pod-security.kubernetes.io/warn"], "restricted");
    assert_eq!(labels["pod-security.kubernetes.io/audit"], "restricted");

    // A PodDisruptionBudget per Deployment and for Patroni, selecting its pods.
    let pdbs: BTreeMap<&str, Value> = by_kind("PodDisruptionBudget")
        .map(|o| (o.name(), json(o)))
        .collect();
    for o in objs
        .iter()
        .filter(|o| matches!(o, Object::Deployment(_) | Object::StatefulSet(_)))
    {
        let pdb = pdbs
            .get(o.name())
            .unwrap_or_else(|| panic!("{} has no PDB", o.id()));
        assert_eq!(pdb["apiVersion"], "policy/v1");
        assert_eq!(pdb["spec"]["maxUnavailable"], 1);
        assert_eq!(pdb["spec"]["unhealthyPodEvictionPolicy"], "AlwaysAllow");
        let sel: BTreeMap<String, String> =
            serde_json::from_value(pdb["spec"]["selector"]["matchLabels"].clone()).expect("labels");
        assert_eq!(Some(&sel), pod_labels(o), "{}", o.id());
    }

    // HPAs for the API and every static site (not Grafana by default); their Deployments leave
    // replicas to them.
    let hpas: BTreeMap<&str, Value> = by_kind("HorizontalPodAutoscaler")
        .map(|o| (o.name(), json(o)))
        .collect();
    assert!(hpas.contains_key("devstats-api"));
    assert_eq!(
        hpas.len(),
        1 + 1 + m.served_foundations().len(),
        "{:?}",
        hpas.keys()
    );
    for (name, h) in &hpas {
        assert_eq!(h["apiVersion"], "autoscaling/v2");
        assert!(h["spec"]["minReplicas"].as_i64() >= Some(2));
        assert!(h["spec"]["maxReplicas"].as_i64() > h["spec"]["minReplicas"].as_i64());
        assert!(h["spec"]["behavior"]["scaleDown"].is_object());
        let d = objs
            .iter()
            .find(|o| o.kind() == "Deployment" && o.name() == *name)
            .unwrap_or_else(|| panic!("HPA {name} targets no Deployment"));
        assert!(json(d)["spec"].get("replicas").is_none(), "{name} sets replicas");
    }

    // NetworkPolicies: default deny, DNS, and every pod type selected with matchLabels by a
    // policy with both directions.
    let nps: Vec<Value> = by_kind("NetworkPolicy").map(json).collect();
    let named = |n: &str| nps.iter().find(|p| p["metadata"]["name"] == n).cloned();
    let deny = named("devstats-default-deny").expect("default deny");
    assert_eq!(deny["spec"]["podSelector"], serde_json::json!({}));
    assert_eq!(
        deny["spec"]["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
    assert!(named("devstats-dns").is_some());
    let pg = named("devstats-postgres").expect("postgres policy");
    let egress_ports: Vec<i64> = pg["spec"]["egress"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["ports"].as_array().cloned().unwrap_or_default())
        .filter_map(|p| p["port"].as_i64())
        .collect();
    assert!(
        egress_ports.contains(&443) && egress_ports.contains(&6443),
        "Patroni → API server"
    );
    let sync = named("devstats-sync").expect("sync policy");
    // gha2db downloads GH Archive over plain HTTP (http://data.gharchive.org): 80 and 443.
    assert_eq!(sync["spec"]["egress"][1]["ports"][0]["port"], 80);
    assert_eq!(sync["spec"]["egress"][1]["ports"][1]["port"], 443);
    assert!(sync["spec"]["egress"][1]["to"][0]["ipBlock"]["except"].is_array());
    let mut pod_types = BTreeSet::new();
    for o in &objs {
        let labels = match o {
            Object::CronJob(c) => c
                .spec
                .job_template
                .spec
                .as_ref()
                .and_then(|s| s.template.metadata.as_ref())
                .and_then(|m| m.labels.as_ref()),
            Object::Job(j) => j
                .spec
                .as_ref()
                .and_then(|s| s.template.metadata.as_ref())
                .and_then(|m| m.labels.as_ref()),
            other => pod_labels(other),
        };
        if let Some(t) = labels.and_then(|l| l.get("type")) {
            pod_types.insert(t.clone());
        }
    }
    for t in &pod_types {
        let covered = nps.iter().any(|p| {
            p["spec"]["podSelector"]["matchLabels"]["type"] == t.as_str()
                && p["spec"]["policyTypes"] == serde_json::json!(["Ingress", "Egress"])
        });
        assert!(covered, "pods of type {t} have no policy of their own");
    }

    // The issuer of the Ingresses, HTTPS redirect on them.
    let issuer = json(by_kind("Issuer").next().expect("issuer"));
    assert_eq!(
        issuer["metadata"]["name"],
        m.instance.ingress.issuer.name.as_str()
    );
    assert_eq!(
        issuer["spec"]["acme"]["solvers"][0]["http01"]["ingress"]["ingressClassName"],
        m.instance.ingress.class_name.as_str()
    );
    for ing in by_kind("Ingress").map(json) {
        assert_eq!(
            ing["metadata"]["annotations"]["nginx.ingress.kubernetes.io/force-ssl-redirect"],
            "true"
        );
        let hosts = ing["spec"]["tls"][0]["hosts"].as_array().map_or(0, Vec::len);
        assert!(hosts <= 35, "{hosts} hosts on one certificate");
    }

    // Secured pods.
    for o in &objs {
        let Some(spec) = pod_spec(o) else { continue };
        let id = o.id();
        let psc = spec.security_context.clone().unwrap_or_default();
        assert_eq!(
            psc.seccomp_profile.map(|s| s.type_).as_deref(),
            Some("RuntimeDefault"),
            "{id}"
        );
        let patroni = o.kind() == "StatefulSet";
        // Patroni talks to the API (its DCS); the base backup job execs into a replica.
        let needs_token = patroni || o.name() == "devstats-postgres-basebackup";
        assert_eq!(spec.automount_service_account_token, Some(needs_token), "{id}");
        // The root `chown` init container is gone (fsGroup instead). Other init containers (WAL-G's
        // installer, the drill's fetch) are hardened like every container below.
        for c in spec.init_containers.iter().flatten() {
            let command = c
                .command
                .iter()
                .flatten()
                .chain(c.args.iter().flatten())
                .cloned()
                .collect::<Vec<_>>();
            assert!(
                !command.join(" ").contains("chown"),
                "{id}: init container {} chowns",
                c.name
            );
            let sc = c.security_context.clone().unwrap_or_default();
            assert_eq!(sc.allow_privilege_escalation, Some(false), "{id}: {}", c.name);
        }
        for c in &spec.containers {
            let sc = c.security_context.clone().unwrap_or_default();
            assert_eq!(sc.allow_privilege_escalation, Some(false), "{id}");
            assert_eq!(sc.privileged, Some(false), "{id}");
            let caps = sc.capabilities.unwrap_or_default();
            assert_eq!(caps.drop, Some(vec!["ALL".to_owned()]), "{id}");
            assert!(has_limits_and_requests(c), "{id}: requests and limits");
            let image = c.image.clone().unwrap_or_default();
            // Upstream publishes `latest` only: such an image must be pulled at every start.
            if ImageRef(image.clone()).pin() == devstats_model::ImagePin::Latest {
                assert_eq!(
                    c.image_pull_policy.as_deref(),
                    Some("Always"),
                    "{id}: {image} pulled Always"
                );
            }
            if matches!(o, Object::Deployment(_)) {
                assert!(c.startup_probe.is_some(), "{id}: startup probe");
                assert_ne!(c.readiness_probe, c.liveness_probe, "{id}: identical probes");
                let pre_stop = c
                    .lifecycle
                    .as_ref()
                    .and_then(|l| l.pre_stop.as_ref())
                    .and_then(|h| h.sleep.as_ref())
                    .map(|s| s.seconds);
                assert!(
                    pre_stop.is_some_and(|s| spec.termination_grace_period_seconds > Some(s)),
                    "{id}"
                );
            }
        }
        let non_root = psc.run_as_non_root == Some(true);
        match pod_labels(o).and_then(|l| l.get("type")).map(String::as_str) {
            Some("api" | "static") => {
                assert!(non_root && psc.run_as_user >= Some(10_000), "{id}");
                assert!(spec.containers.iter().all(|c| {
                    c.security_context
                        .as_ref()
                        .and_then(|s| s.read_only_root_filesystem)
                        == Some(true)
                }));
            }
            Some("postgres") => {
                assert!(non_root && psc.fs_group == Some(999), "{id}");
                assert_eq!(psc.fs_group_change_policy.as_deref(), Some("OnRootMismatch"));
            }
            _ => {}
        }
    }
    for d in by_kind("Deployment").map(json) {
        assert_eq!(d["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"], 0);
    }

    // Patroni: Endpoints DCS (Patroni's recommended mode; a live cluster must keep it), its
    // config Endpoints, REST API probes with readiness on /health (a lagging replica stays in
    // the read-only Service).
    assert_eq!(by_kind("Endpoints").count(), 1);
    let sts = json(by_kind("StatefulSet").next().expect("patroni"));
    let c = &sts["spec"]["template"]["spec"]["containers"][0];
    let env: BTreeMap<&str, &Value> = c["env"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| Some((e["name"].as_str()?, &e["value"])))
        .collect();
    assert_eq!(env["PATRONI_KUBERNETES_USE_ENDPOINTS"], "true");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/health");
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/liveness");
    assert_eq!(c["livenessProbe"]["httpGet"]["port"], 8008);

    // Only the ingress controller is exposed: every Service is ClusterIP (or headless).
    for s in by_kind("Service").map(json) {
        let t = s["spec"]["type"].as_str().unwrap_or("ClusterIP");
        assert_eq!(t, "ClusterIP", "{}", s["metadata"]["name"]);
    }

    // Every suppression names a check and gives a reason checkov can read.
    let mut suppressed = BTreeMap::new();
    for o in &objs {
        for (k, v) in o.meta().annotations.iter().flatten() {
            if k.starts_with("checkov.io/skip") {
                let (check, reason) = v.split_once('=').unwrap_or_else(|| panic!("{}: {v}", o.id()));
                assert!(check.starts_with("CKV_K8S_") && !reason.trim().is_empty() && !reason.contains('='));
                *suppressed.entry(check.to_owned()).or_insert(0usize) += 1;
            }
        }
    }
    let checks: BTreeSet<&str> = suppressed.keys().map(String::as_str).collect();
    let documented = include_str!("../../docs/security.md");
    for check in &checks {
        assert!(
            documented.contains(check),
            "{check} is suppressed but not in docs/security.md"
        );
    }
    // Upstream publishes `latest` only: the images are pulled Always and CKV_K8S_14 is skipped
    // with that reason (security.images.require: tag or digest drops it).
    assert!(
        checks.contains("CKV_K8S_14"),
        "upstream latest images are skipped with a reason"
    );
}

#[test]
fn chart_compatible_settings_render_none_of_it() {
    let mut m = cncf_hardened();
    m.instance.security = Security::chart_compatible();
    m.instance.monitoring = devstats_model::monitoring::Monitoring::default();
    m.instance.disaster_recovery = devstats_model::backup::DisasterRecovery::default();
    let objs = objects(&m);
    for kind in [
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "NetworkPolicy",
        "Issuer",
    ] {
        assert!(objs.iter().all(|o| o.kind() != kind), "{kind} rendered");
    }
    assert_eq!(objs.iter().filter(|o| o.kind() == "Endpoints").count(), 1);
    for o in &objs {
        let annotations = o.meta().annotations.clone().unwrap_or_default();
        assert!(
            annotations.keys().all(|k| !k.starts_with("checkov.io/")),
            "{}",
            o.id()
        );
        assert!(
            annotations.keys().all(|k| !k.starts_with("nginx.ingress")),
            "{}",
            o.id()
        );
        if let Some(spec) = pod_spec(o) {
            assert!(spec.automount_service_account_token.is_none(), "{}", o.id());
            assert!(spec.containers.iter().all(|c| c.security_context.is_none()));
        }
        if o.kind() == "Namespace" {
            let labels = o.meta().labels.clone().unwrap_or_default();
            assert!(labels.keys().all(|k| !k.starts_with("pod-security")));
        }
    }
}

#[test]
fn each_setting_turns_off_on_its_own() {
    let base = cncf_hardened();
    let count = |m: &Model, kind: &str| objects(m).iter().filter(|o| o.kind() == kind).count();
    let mut m = base.clone();
    m.instance.security.rollout.disruption_budgets = false;
    assert_eq!(count(&m, "PodDisruptionBudget"), 0);
    let mut m = base.clone();
    m.instance.security.network_policies.enabled = false;
    assert_eq!(count(&m, "NetworkPolicy"), 0);
    let mut m = base.clone();
    m.instance.security.https.issuer = None;
    assert_eq!(count(&m, "Issuer"), 0);
    let mut m = base.clone();
    m.instance.security.autoscaling.api.enabled = false;
    m.instance.security.autoscaling.static_sites.enabled = false;
    m.instance.security.autoscaling.grafana.enabled = true;
    let objs = objects(&m);
    let hpas: Vec<&str> = objs
        .iter()
        .filter(|o| o.kind() == "HorizontalPodAutoscaler")
        .map(Object::name)
        .collect();
    assert!(
        hpas.iter().all(|n| n.starts_with("devstats-grafana-")),
        "{hpas:?}"
    );
    let api = objs
        .iter()
        .find(|o| o.kind() == "Deployment" && o.name() == "devstats-api")
        .map(json)
        .expect("api");
    assert_eq!(api["spec"]["replicas"], 1);
    let mut m = base.clone();
    m.instance.security.pod_security.enforce = Some(PsaLevel::Restricted);
    assert!(!devstats_model::validate::validate(&m).is_empty());
    let mut m = base;
    m.instance.images.grafana = ImageRef("lukaszgryglicki/devstats-grafana:latest".into());
    // Upstream's `latest` is accepted by default; pinning is the operator's choice.
    assert!(devstats_model::validate::validate(&m).is_empty());
    m.instance.security.images.require = devstats_model::hardening::Pinning::Tag;
    let problems = devstats_model::validate::validate(&m);
    // Every untagged upstream image and the `:latest` one.
    assert_eq!(problems.len(), 15, "{problems:?}");
    assert!(
        problems
            .iter()
            .any(|p| p.message.contains("devstats-grafana:latest"))
    );
}

#[test]
fn gateway_api_routing_keeps_the_certificate_buckets() {
    let ingress_model = cncf_hardened();
    let mut m = ingress_model.clone();
    m.instance.security.routing = Routing::GatewayApi(GatewaySettings {
        class_name: Name::from("eg"),
        name: Name::from("devstats"),
    });
    let objs = objects(&m);
    assert_eq!(objects(&m), objs, "re-rendering changes nothing");
    assert!(objs.iter().all(|o| o.kind() != "Ingress"));
    let gw = objs
        .iter()
        .find(|o| o.kind() == "Gateway")
        .map(json)
        .expect("gateway");
    let listeners = gw["spec"]["listeners"].as_array().cloned().unwrap_or_default();
    assert!(listeners.len() <= 64 && listeners.len() > 2);
    assert_eq!(listeners[0]["name"], "http");
    let routes: Vec<Value> = objs
        .iter()
        .filter(|o| o.kind() == "HTTPRoute")
        .map(json)
        .collect();
    let redirect = routes
        .iter()
        .find(|r| r["metadata"]["name"] == "devstats-https-redirect")
        .expect("redirect route");
    assert_eq!(
        redirect["spec"]["rules"][0]["filters"][0]["requestRedirect"]["scheme"],
        "https"
    );
    let k8s = routes
        .iter()
        .find(|r| r["metadata"]["name"] == "devstats-route-kubernetes")
        .expect("kubernetes route");
    assert_eq!(k8s["spec"]["hostnames"][0], "k8s.devstats.cncf.io");
    assert_eq!(
        k8s["spec"]["rules"][0]["filters"][0]["responseHeaderModifier"]["set"][0]["name"],
        "Strict-Transport-Security"
    );
    // The Certificates hold exactly the Ingresses' TLS buckets.
    let certs: BTreeMap<String, Value> = objs
        .iter()
        .filter(|o| o.kind() == "Certificate")
        .map(|o| {
            let v = json(o);
            (
                v["spec"]["secretName"].as_str().unwrap_or_default().to_owned(),
                v["spec"]["dnsNames"].clone(),
            )
        })
        .collect();
    let ingress_buckets: BTreeMap<String, Value> = objects(&ingress_model)
        .iter()
        .filter(|o| o.kind() == "Ingress")
        .map(|o| {
            let v = json(o);
            (
                v["spec"]["tls"][0]["secretName"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                v["spec"]["tls"][0]["hosts"].clone(),
            )
        })
        .collect();
    assert_eq!(certs, ingress_buckets);
    let issuer = objs
        .iter()
        .find(|o| o.kind() == "Issuer")
        .map(json)
        .expect("issuer");
    assert_eq!(
        issuer["spec"]["acme"]["solvers"][0]["http01"]["gatewayHTTPRoute"]["parentRefs"][0]["sectionName"],
        "http"
    );
}

#[test]
fn traefik_middlewares_and_a_dns01_cluster_issuer() {
    let mut m = cncf_hardened();
    m.instance.security.https.controller = IngressFlavor::Traefik;
    m.instance.ingress.issuer.kind = IssuerKind::ClusterIssuer;
    m.instance.security.https.issuer = Some(devstats_model::hardening::AcmeIssuer {
        solver: AcmeSolver::Dns01(Dns01::Cloudflare {
            api_token_secret: SecretKey {
                name: Name::from("cloudflare"),
                key: "token".into(),
            },
        }),
        ..devstats_model::hardening::AcmeIssuer::default()
    });
    let objs = objects(&m);
    let middlewares: Vec<&str> = objs
        .iter()
        .filter(|o| o.kind() == "Middleware")
        .map(Object::name)
        .collect();
    assert_eq!(middlewares, ["devstats-hsts", "devstats-https-redirect"]);
    let ing = objs
        .iter()
        .find(|o| o.kind() == "Ingress")
        .map(json)
        .expect("ingress");
    assert_eq!(
        ing["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.middlewares"],
        "devstats-prod-devstats-https-redirect@kubernetescrd,devstats-prod-devstats-hsts@kubernetescrd"
    );
    let issuer = objs
        .iter()
        .find(|o| o.kind() == "ClusterIssuer")
        .expect("cluster issuer");
    assert!(issuer.namespace().is_none());
    assert_eq!(
        json(issuer)["spec"]["acme"]["solvers"][0]["dns01"]["cloudflare"]["apiTokenSecretRef"]["name"],
        "cloudflare"
    );
    // No HTTP-01 solver pods to let in.
    assert!(objs.iter().all(|o| o.name() != "devstats-acme-solver"));
}

#[test]
fn synthetic_models_render_hardened_with_every_reference_resolved() {
    for n in [1, 4, 12] {
        let mut m = devstats_model::testing::synthetic(n);
        m.instance.security = Security::hardened();
        render(&m, &Options::default()).unwrap_or_else(|e| panic!("{n} projects: {e}"));
        m.instance.security.routing = Routing::GatewayApi(GatewaySettings {
            class_name: Name::from("cilium"),
            name: Name::from("web"),
        });
        m.instance.security.autoscaling.grafana.enabled = true;
        m.instance.components.reports = true;
        m.instance.components.tests = true;
        m.instance.components.vacuum.enabled = true;
        m.instance.components.affiliations_import.enabled = true;
        let set = render(&m, &Options::default()).unwrap_or_else(|e| panic!("{n} projects: {e}"));
        assert!(set.objects.iter().any(|r| r.object.kind() == "HTTPRoute"));
    }
}
