//! oauth2-proxy sign-in (`instance.authProxy`) and Flagger canaries (`instance.canary`) on the
//! hardened CNCF production model (`docs/security.md`, `docs/delivery.md`):
//! - protected and canaried hosts move to their own Ingresses while every certificate bucket keeps
//!   its TLS hosts and Secret (no Certificate changes), and every host is still routed once;
//! - a canaried Deployment has Flagger's selector label, no replica count and no Service of ours;
//!   its PodDisruptionBudget does not select on the label Flagger rewrites;
//! - with Gateway API routing Flagger writes the HTTPRoute: ours is not rendered;
//! - unsupported combinations are rejected by validation; the reference check catches broken
//!   Canary references;
//! - the new objects are snapshotted (their CRD validity is checked by `tests/crds.rs`).

mod support;

use std::collections::{BTreeMap, BTreeSet};

use devstats_model::delivery::{AuthProxy, Protected};
use devstats_model::hardening::{GatewaySettings, IngressFlavor, Routing};
use devstats_model::{Model, Name};
use devstats_render::{Object, Options, Rendered, output, refs, render};
use serde_json::Value;
use support::models::{auth_proxy, canary, cncf_hardened};

/// The hardened CNCF model with sign-in on two Grafanas and the API, and the canaries.
pub fn nginx_model() -> Model {
    let mut m = cncf_hardened();
    m.instance.auth_proxy = Some(auth_proxy(Protected {
        grafanas: vec![Name::from("kubernetes"), Name::from("prometheus")],
        api: true,
        ..Protected::default()
    }));
    m.instance.canary = Some(canary());
    valid(m)
}

fn gateway(m: &mut Model) {
    m.instance.security.routing = Routing::GatewayApi(GatewaySettings {
        class_name: Name::from("eg"),
        name: Name::from("devstats"),
    });
}

fn valid(m: Model) -> Model {
    let problems = devstats_model::validate::validate(&m);
    assert!(problems.is_empty(), "{problems:?}");
    m
}

fn rendered(m: &Model) -> Vec<Rendered> {
    render(m, &Options::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .objects
}

fn find<'a>(objs: &'a [Rendered], kind: &str, name: &str) -> Option<&'a Rendered> {
    objs.iter()
        .find(|r| r.object.kind() == kind && r.object.name() == name)
}

fn json(r: &Rendered) -> Value {
    serde_json::to_value(&r.object).expect("serializes")
}

fn ingress_json(objs: &[Rendered]) -> BTreeMap<String, Value> {
    objs.iter()
        .filter(|r| r.object.kind() == "Ingress")
        .map(|r| (r.object.name().to_owned(), json(r)))
        .collect()
}

/// (host or "*", path) → (Ingress, backend Service).
fn routes(ings: &BTreeMap<String, Value>) -> BTreeMap<(String, String), (String, String)> {
    let mut out = BTreeMap::new();
    for (name, v) in ings {
        for rule in v["spec"]["rules"].as_array().into_iter().flatten() {
            let host = rule["host"].as_str().unwrap_or("*").to_owned();
            for p in rule["http"]["paths"].as_array().into_iter().flatten() {
                let key = (host.clone(), p["path"].as_str().unwrap_or_default().to_owned());
                let svc = p["backend"]["service"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                assert!(
                    out.insert(key.clone(), (name.clone(), svc)).is_none(),
                    "{key:?} is routed twice"
                );
            }
        }
    }
    out
}

/// TLS Secret → hosts, over every Ingress carrying cert-manager annotations (what ingress-shim
/// turns into Certificates).
fn shim_certificates(ings: &BTreeMap<String, Value>) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for v in ings.values() {
        if v["metadata"]["annotations"]
            .get("cert-manager.io/issuer")
            .is_none()
        {
            continue;
        }
        for t in v["spec"]["tls"].as_array().into_iter().flatten() {
            let hosts = t["hosts"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            let secret = t["secretName"].as_str().unwrap_or_default().to_owned();
            assert!(
                out.insert(secret.clone(), hosts).is_none(),
                "two shim Ingresses claim {secret}"
            );
        }
    }
    out
}

#[test]
fn protected_and_canaried_hosts_keep_the_certificate_buckets() {
    let base = ingress_json(&rendered(&cncf_hardened()));
    let objs = rendered(&nginx_model());
    let ings = ingress_json(&objs);

    // Certificates: the same Secrets with the same hosts, issued from the bucket Ingresses only.
    assert_eq!(shim_certificates(&ings), shim_certificates(&base));

    // Every (host, path) still routed once, to the same Service.
    let before = routes(&base);
    let after = routes(&ings);
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>()
    );
    for (k, (_, svc)) in &before {
        assert_eq!(&after[k].1, svc, "{k:?} changed backend");
    }

    // Where they moved: canaried hosts to their own Ingress, protected ones to `-auth`.
    let ingress_of = |host: &str, path: &str| after[&(host.to_owned(), path.to_owned())].0.as_str();
    assert_eq!(
        ingress_of("k8s.devstats.cncf.io", "/"),
        "devstats-ingress-grafana-kubernetes"
    );
    assert_eq!(ingress_of("devstats.cncf.io", "/api/"), "devstats-ingress-api");
    assert_eq!(ingress_of("devstats.cncf.io", "/"), "devstats-ingress-1");
    assert_eq!(
        ingress_of("prometheus.devstats.cncf.io", "/"),
        "devstats-ingress-2-auth"
    );
    assert_eq!(
        ingress_of("fluentd.devstats.cncf.io", "/"),
        before[&("fluentd.devstats.cncf.io".to_owned(), "/".to_owned())].0
    );

    let annotations = |name: &str| ings[name]["metadata"]["annotations"].clone();
    for (name, protected) in [
        ("devstats-ingress-grafana-kubernetes", true),
        ("devstats-ingress-api", true),
        ("devstats-ingress-2-auth", true),
        ("devstats-ingress-grafana-opentelemetry", false),
        ("devstats-ingress-1", false),
        ("devstats-ingress-2", false),
    ] {
        let a = annotations(name);
        assert_eq!(
            a.get("nginx.ingress.kubernetes.io/auth-url").is_some(),
            protected,
            "{name}: {a}"
        );
        assert_eq!(
            a["nginx.ingress.kubernetes.io/force-ssl-redirect"], "true",
            "{name}"
        );
    }
    let a = annotations("devstats-ingress-2-auth");
    assert_eq!(
        a["nginx.ingress.kubernetes.io/auth-signin"],
        "https://auth.devstats.cncf.io/oauth2/start?rd=https://$host$escaped_request_uri"
    );
    assert_eq!(
        a["nginx.ingress.kubernetes.io/auth-response-headers"],
        "X-Auth-Request-User,X-Auth-Request-Email"
    );
    // The moved hosts' TLS names their bucket's Secret.
    assert_eq!(
        ings["devstats-ingress-grafana-kubernetes"]["spec"]["tls"],
        serde_json::json!([{"hosts": ["k8s.devstats.cncf.io"], "secretName": "devstats-tls-2"}])
    );
    assert!(objs.iter().all(|r| r.object.kind() != "Certificate"));
    assert_eq!(rendered(&nginx_model()), objs, "re-rendering changes nothing");
}

#[test]
fn protecting_every_grafana_only_annotates_the_bucket_ingresses() {
    let base = ingress_json(&rendered(&cncf_hardened()));
    let mut m = cncf_hardened();
    m.instance.auth_proxy = Some(auth_proxy(Protected {
        all_grafanas: true,
        ..Protected::default()
    }));
    let ings = ingress_json(&rendered(&valid(m)));
    assert_eq!(
        ings.keys().collect::<Vec<_>>(),
        base.keys().collect::<Vec<_>>(),
        "no Ingress added or removed"
    );
    for (name, v) in &ings {
        let mut expected = base[name].clone();
        if name != "devstats-ingress-1" {
            let a = expected["metadata"]["annotations"]
                .as_object_mut()
                .expect("annotations");
            a.insert(
                "nginx.ingress.kubernetes.io/auth-url".into(),
                "http://oauth2-proxy.oauth2-proxy.svc.cluster.local/oauth2/auth".into(),
            );
            a.insert(
                "nginx.ingress.kubernetes.io/auth-signin".into(),
                "https://auth.devstats.cncf.io/oauth2/start?rd=https://$host$escaped_request_uri".into(),
            );
            a.insert(
                "nginx.ingress.kubernetes.io/auth-response-headers".into(),
                "X-Auth-Request-User,X-Auth-Request-Email".into(),
            );
        }
        assert_eq!(v, &expected, "{name}");
    }
}

#[test]
fn a_bucket_with_every_host_canaried_keeps_its_certificate() {
    let base = ingress_json(&rendered(&cncf_hardened()));
    let mut m = cncf_hardened();
    m.instance.canary = Some(devstats_model::delivery::Canary {
        api: false,
        all_grafanas: true,
        grafanas: Vec::new(),
        ..canary()
    });
    let objs = rendered(&valid(m));
    let ings = ingress_json(&objs);
    // Only the bare-domain Ingress keeps cert-manager annotations; each project bucket's
    // certificate is now an explicit Certificate with the same Secret and hosts.
    let shim = shim_certificates(&ings);
    assert_eq!(shim.keys().collect::<Vec<_>>(), ["devstats-tls-1"]);
    for (secret, hosts) in shim_certificates(&base) {
        if secret == "devstats-tls-1" {
            continue;
        }
        assert!(
            !ings.contains_key(&secret.replace("tls", "ingress")),
            "{secret}: bucket Ingress left"
        );
        let cert =
            json(find(&objs, "Certificate", &secret).unwrap_or_else(|| panic!("no Certificate {secret}")));
        assert_eq!(cert["spec"]["secretName"], secret.as_str());
        assert_eq!(cert["spec"]["dnsNames"], serde_json::json!(hosts));
    }
    assert_eq!(
        routes(&ings).keys().collect::<Vec<_>>(),
        routes(&base).keys().collect::<Vec<_>>()
    );
}

#[test]
fn canaried_deployments_leave_services_and_replicas_to_flagger() {
    let objs = rendered(&nginx_model());
    for (deployment, service) in [
        ("devstats-grafana-kubernetes", "devstats-service-kubernetes"),
        ("devstats-api", "devstats-api-service"),
    ] {
        assert!(
            find(&objs, "Service", service).is_none(),
            "{service} is Flagger's"
        );
        let d = json(find(&objs, "Deployment", deployment).expect("deployment"));
        assert!(d["spec"].get("replicas").is_none(), "{deployment}: replicas");
        assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], deployment);
        assert_eq!(d["spec"]["template"]["metadata"]["labels"]["app"], deployment);
        let pdb = json(find(&objs, "PodDisruptionBudget", deployment).expect("pdb"));
        assert!(pdb["spec"]["selector"]["matchLabels"].get("app").is_none());
        let c = json(find(&objs, "Canary", deployment).expect("canary"));
        assert_eq!(c["spec"]["service"]["name"], service);
        assert_eq!(c["spec"]["targetRef"]["name"], deployment);
    }
    // The API has an HPA, so its Canary names it; the Grafanas have none.
    let api = json(find(&objs, "Canary", "devstats-api").expect("canary"));
    assert_eq!(api["spec"]["autoscalerRef"]["name"], "devstats-api");
    let k8s = json(find(&objs, "Canary", "devstats-grafana-kubernetes").expect("canary"));
    assert!(k8s["spec"].get("autoscalerRef").is_none());
    // Not canaried: unchanged.
    let prom = json(find(&objs, "Deployment", "devstats-grafana-prometheus").expect("deployment"));
    assert!(prom["spec"]["selector"]["matchLabels"].get("app").is_none());
    assert!(find(&objs, "Service", "devstats-service-prometheus").is_some());
}

#[test]
fn gateway_api_canaries_replace_our_routes() {
    let mut m = nginx_model();
    m.instance.auth_proxy = None;
    gateway(&mut m);
    let objs = rendered(&valid(m));
    assert!(find(&objs, "HTTPRoute", "devstats-route-kubernetes").is_none());
    assert!(find(&objs, "HTTPRoute", "devstats-route-prometheus").is_some());
    let site = objs
        .iter()
        .filter(|r| r.object.kind() == "HTTPRoute")
        .map(json)
        .find(|v| v["spec"]["hostnames"] == serde_json::json!(["devstats.cncf.io"]))
        .expect("site route of devstats.cncf.io");
    let backends: BTreeSet<&str> = site["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["backendRefs"].as_array().into_iter().flatten())
        .filter_map(|b| b["name"].as_str())
        .collect();
    assert!(!backends.contains("devstats-api-service"), "{backends:?}");
    let c = json(find(&objs, "Canary", "devstats-grafana-kubernetes").expect("canary"));
    assert_eq!(c["spec"]["provider"], "gatewayapi:v1");
    assert!(c["spec"].get("ingressRef").is_none());
    assert_eq!(
        c["spec"]["service"]["hosts"],
        serde_json::json!(["k8s.devstats.cncf.io"])
    );
    assert_eq!(
        c["spec"]["service"]["gatewayRefs"],
        serde_json::json!([{"name": "devstats", "namespace": "devstats-prod", "sectionName": "https-prod-projects"}])
    );
    let api = json(find(&objs, "Canary", "devstats-api").expect("canary"));
    assert_eq!(
        api["spec"]["service"]["match"],
        serde_json::json!([{"uri": {"prefix": "/api/"}}])
    );
    insta::assert_snapshot!(
        "canary-gatewayapi-grafana",
        yaml(&objs, "Canary", "devstats-grafana-kubernetes")
    );
    assert!(objs.iter().all(|r| r.object.kind() != "Ingress"));
}

#[test]
fn traefik_uses_a_forward_auth_middleware() {
    let mut m = cncf_hardened();
    m.instance.security.https.controller = IngressFlavor::Traefik;
    m.instance.auth_proxy = Some(AuthProxy {
        signin_url: None,
        ..auth_proxy(Protected {
            grafanas: vec![Name::from("prometheus")],
            ..Protected::default()
        })
    });
    let objs = rendered(&valid(m));
    insta::assert_snapshot!(
        "middleware-forward-auth",
        yaml(&objs, "Middleware", "devstats-oauth2-proxy")
    );
    let ings = ingress_json(&objs);
    assert_eq!(
        ings["devstats-ingress-2-auth"]["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.middlewares"],
        "devstats-prod-devstats-https-redirect@kubernetescrd,devstats-prod-devstats-hsts@kubernetescrd,devstats-prod-devstats-oauth2-proxy@kubernetescrd"
    );
    assert_eq!(
        ings["devstats-ingress-2"]["metadata"]["annotations"]["traefik.ingress.kubernetes.io/router.middlewares"],
        "devstats-prod-devstats-https-redirect@kubernetescrd,devstats-prod-devstats-hsts@kubernetescrd"
    );
}

#[test]
fn unsupported_combinations_are_rejected() {
    let messages = |m: &Model| -> Vec<String> {
        devstats_model::validate::validate(m)
            .into_iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect()
    };
    let mut m = nginx_model();
    gateway(&mut m);
    let problems = messages(&m);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("not supported with Gateway API routing"),
        "{problems:?}"
    );

    let mut m = nginx_model();
    m.instance.security.https.controller = IngressFlavor::Traefik;
    let problems = messages(&m);
    assert!(
        problems.iter().any(|p| p.contains("TraefikService")),
        "{problems:?}"
    );

    let mut m = nginx_model();
    if let Some(a) = m.instance.auth_proxy.as_mut() {
        a.signin_url = None;
    }
    let problems = messages(&m);
    assert!(
        problems
            .iter()
            .any(|p| p.contains("instance.authProxy.signinUrl")),
        "{problems:?}"
    );
}

#[test]
fn the_reference_check_catches_broken_canaries() {
    let objs = rendered(&nginx_model());
    // Secrets are required, not rendered: list them so only the edits fail.
    let required = render(&nginx_model(), &Options::default())
        .expect("renders")
        .required_secrets;
    assert!(refs::check(&objs, &required).is_ok());
    let check_with = |edit: &dyn Fn(&mut Vec<Rendered>), expect: &str| {
        let mut objs = objs.clone();
        edit(&mut objs);
        let err = refs::check(&objs, &required).expect_err(expect).to_string();
        assert!(err.contains(expect), "expected {expect:?} in {err}");
    };
    check_with(
        &|o| o.retain(|r| !(r.object.kind() == "Ingress" && r.object.name() == "devstats-ingress-api")),
        "ingressRef Ingress devstats-ingress-api is not rendered",
    );
    check_with(
        &|o| {
            o.retain(|r| !(r.object.kind() == "HorizontalPodAutoscaler" && r.object.name() == "devstats-api"))
        },
        "autoscalerRef HorizontalPodAutoscaler devstats-api is not rendered",
    );
    check_with(
        &|o| o.retain(|r| !(r.object.kind() == "Canary" && r.object.name() == "devstats-grafana-kubernetes")),
        "backend Service devstats-service-kubernetes is not rendered",
    );
    check_with(
        &|o| {
            for r in o.iter_mut() {
                let target = r.object.name() == "devstats-grafana-kubernetes";
                if let Object::PodDisruptionBudget(p) = &mut r.object
                    && target
                {
                    let sel = p
                        .spec
                        .as_mut()
                        .and_then(|s| s.selector.as_mut())
                        .and_then(|s| s.match_labels.as_mut());
                    if let Some(sel) = sel {
                        sel.insert("app".into(), "devstats-grafana-kubernetes".into());
                    }
                }
            }
        },
        "uses `app`, which Flagger rewrites on the primary pods",
    );
    check_with(
        &|o| {
            for r in o.iter_mut() {
                let target = r.object.name() == "devstats-api";
                if let Object::Deployment(d) = &mut r.object
                    && target
                {
                    d.spec.replicas = Some(2);
                }
            }
        },
        "is canaried but sets spec.replicas",
    );
}

fn yaml(objs: &[Rendered], kind: &str, name: &str) -> String {
    output::object_yaml(find(objs, kind, name).unwrap_or_else(|| panic!("no {kind} {name}"))).expect("yaml")
}

#[test]
fn snapshots_of_the_new_objects() {
    let objs = rendered(&nginx_model());
    for (snap, kind, name) in [
        ("canary-nginx-grafana", "Canary", "devstats-grafana-kubernetes"),
        ("canary-nginx-api", "Canary", "devstats-api"),
        (
            "ingress-canary-grafana",
            "Ingress",
            "devstats-ingress-grafana-kubernetes",
        ),
        ("ingress-auth", "Ingress", "devstats-ingress-2-auth"),
    ] {
        insta::assert_snapshot!(snap, yaml(&objs, kind, name));
    }
}
