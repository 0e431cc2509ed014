//! Every custom resource the project renders is valid against its CRD's schema.
//!
//! The schemas are vendored under `fixtures/crds/` (one file per kind and version, sources in
//! `fixtures/crds/SOURCES.md`) and looked up by `apiVersion` + `kind`; a rendered custom kind
//! without a vendored schema fails. Validation is strict (`tests/support/crd_schema.rs`): unknown
//! fields, wrong types, enums, patterns and missing required fields are errors.
//!
//! Renders covered: the hardened CNCF model with Ingress routing (ingress-nginx, Traefik with a
//! DNS-01 ClusterIssuer) and with Gateway API routing (HTTP-01 and Route 53 DNS-01), and the GitOps
//! trees of `fixtures/example.yaml` and `fixtures/cncf.yaml`.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use devstats_model::delivery::Protected;
use devstats_model::hardening::{
    AcmeIssuer, AcmeSolver, Dns01, GatewaySettings, IngressFlavor, Routing, SecretKey,
};
use devstats_model::{IssuerKind, Model, Name, load_environments};
use devstats_render::gitops::{GitOpsEnv, tree};
use devstats_render::{Object, Options, render};
use serde_json::{Value, json};
use support::crd_schema::{CrdSchema, crds_dir, load, validate};
use support::models::{auth_proxy, canary as delivery_canary, cncf_environments, cncf_hardened, fixture};

/// `apiVersion`s served by Kubernetes itself (validated by kubernetes-validate, not here).
const BUILT_IN: &[&str] = &[
    "v1",
    "apps/v1",
    "batch/v1",
    "autoscaling/v2",
    "networking.k8s.io/v1",
    "policy/v1",
    "rbac.authorization.k8s.io/v1",
];
/// kustomize's `kustomization.yaml`: read by kustomize on the client, never sent to a cluster.
const CLIENT_SIDE: &[&str] = &["kustomize.config.k8s.io/v1beta1"];

type Schemas = BTreeMap<(String, String), CrdSchema>;

fn schemas() -> Schemas {
    load(&crds_dir())
}

/// Problems of one document: its kind has no schema, or it does not validate.
fn problems_of(schemas: &Schemas, doc: &Value, plural: Option<&str>) -> Vec<String> {
    let api = doc["apiVersion"].as_str().unwrap_or_default();
    let kind = doc["kind"].as_str().unwrap_or_default();
    let id = format!(
        "{api} {kind} {}",
        doc["metadata"]["name"].as_str().unwrap_or("<no name>")
    );
    let Some(crd) = schemas.get(&(api.to_owned(), kind.to_owned())) else {
        return vec![format!(
            "{id}: no schema for {api} {kind} under fixtures/crds/ (vendor it, see SOURCES.md)"
        )];
    };
    let mut out: Vec<String> = validate(doc, &crd.schema)
        .into_iter()
        .map(|e| format!("{id}: {e} ({})", crd.file))
        .collect();
    if let Some(p) = plural
        && p != crd.plural
    {
        out.push(format!(
            "{id}: rendered with plural {p}, the CRD's is {}",
            crd.plural
        ));
    }
    out
}

/// Validates every custom object of a render; returns the (apiVersion, kind)s seen.
fn check_objects(schemas: &Schemas, what: &str, objects: &[Object]) -> BTreeSet<(String, String)> {
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for o in objects {
        let Object::Custom(c) = o else {
            assert!(
                BUILT_IN.contains(&o.api_version()),
                "{}: a typed object of a non-built-in API",
                o.id()
            );
            continue;
        };
        assert!(
            !BUILT_IN.contains(&c.api_version),
            "{}: a custom resource of a built-in API",
            o.id()
        );
        let doc = serde_json::to_value(o).unwrap_or_else(|e| panic!("{}: {e}", o.id()));
        problems.extend(problems_of(schemas, &doc, Some(c.plural)));
        seen.insert((c.api_version.to_owned(), c.kind.to_owned()));
    }
    assert!(problems.is_empty(), "{what}:\n{}", problems.join("\n"));
    seen
}

fn objects(m: &Model) -> Vec<Object> {
    render(m, &Options::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .objects
        .into_iter()
        .map(|r| r.object)
        .collect()
}

fn gateway(m: &mut Model) {
    m.instance.security.routing = Routing::GatewayApi(GatewaySettings {
        class_name: Name::from("eg"),
        name: Name::from("devstats"),
    });
}

/// The renders with every custom kind the project emits today, by name.
fn renders() -> Vec<(&'static str, Model)> {
    let hardened = cncf_hardened();

    let mut traefik = hardened.clone();
    traefik.instance.security.https.controller = IngressFlavor::Traefik;
    traefik.instance.ingress.issuer.kind = IssuerKind::ClusterIssuer;
    traefik.instance.security.https.issuer = Some(AcmeIssuer {
        email: Some("devstats@example.org".into()),
        solver: AcmeSolver::Dns01(Dns01::Cloudflare {
            api_token_secret: SecretKey {
                name: Name::from("cloudflare"),
                key: "token".into(),
            },
        }),
        ..AcmeIssuer::default()
    });

    let mut gateway_http01 = hardened.clone();
    gateway(&mut gateway_http01);

    let mut gateway_route53 = hardened.clone();
    gateway(&mut gateway_route53);
    gateway_route53.instance.security.https.issuer = Some(AcmeIssuer {
        solver: AcmeSolver::Dns01(Dns01::Route53 {
            region: "us-east-1".into(),
            hosted_zone_id: Some("Z123".into()),
        }),
        ..AcmeIssuer::default()
    });

    // Delivery (oauth2-proxy, Flagger): the models of tests/delivery.rs.
    let mut delivery_nginx = hardened.clone();
    delivery_nginx.instance.auth_proxy = Some(auth_proxy(Protected {
        grafanas: vec![Name::from("kubernetes"), Name::from("prometheus")],
        api: true,
        static_sites: true,
        ..Protected::default()
    }));
    delivery_nginx.instance.canary = Some(delivery_canary());
    let mut delivery_gateway = hardened.clone();
    gateway(&mut delivery_gateway);
    delivery_gateway.instance.canary = Some(delivery_canary());
    let mut delivery_traefik = hardened.clone();
    delivery_traefik.instance.security.https.controller = IngressFlavor::Traefik;
    delivery_traefik.instance.auth_proxy = Some(auth_proxy(Protected {
        all_grafanas: true,
        ..Protected::default()
    }));

    vec![
        (
            "hardened CNCF, oauth2-proxy and canaries, ingress-nginx",
            delivery_nginx,
        ),
        ("hardened CNCF, canaries, Gateway API", delivery_gateway),
        ("hardened CNCF, oauth2-proxy, Traefik", delivery_traefik),
        ("hardened CNCF, ingress-nginx", hardened),
        ("hardened CNCF, Traefik, DNS-01 ClusterIssuer", traefik),
        ("hardened CNCF, Gateway API, HTTP-01", gateway_http01),
        ("hardened CNCF, Gateway API, Route 53", gateway_route53),
    ]
}

#[test]
fn every_rendered_custom_resource_is_valid_against_its_crd() {
    let schemas = schemas();
    let mut seen = BTreeSet::new();
    for (what, m) in renders() {
        let problems = devstats_model::validate::validate(&m);
        assert!(problems.is_empty(), "{what}: {problems:?}");
        seen.extend(check_objects(&schemas, what, &objects(&m)));
    }
    // The production fixture as it is, every environment: monitoring, disaster recovery,
    // canaries (prod) and sign-in (test) on.
    for env in cncf_environments() {
        let what = format!("fixtures/cncf.yaml, environment {}", env.name);
        seen.extend(check_objects(&schemas, &what, &objects(&env.model)));
    }
    // The renders above must exercise the kinds they are meant to (a render that silently
    // stopped emitting them would make this test vacuous).
    for (api, kind) in [
        ("cert-manager.io/v1", "Issuer"),
        ("cert-manager.io/v1", "ClusterIssuer"),
        ("cert-manager.io/v1", "Certificate"),
        ("gateway.networking.k8s.io/v1", "Gateway"),
        ("gateway.networking.k8s.io/v1", "HTTPRoute"),
        ("traefik.io/v1alpha1", "Middleware"),
        ("flagger.app/v1beta1", "Canary"),
        ("monitoring.coreos.com/v1", "PodMonitor"),
        ("monitoring.coreos.com/v1", "ServiceMonitor"),
        ("monitoring.coreos.com/v1", "PrometheusRule"),
    ] {
        assert!(
            seen.contains(&(api.to_owned(), kind.to_owned())),
            "no render emitted {api} {kind}"
        );
    }
}

/// YAML documents of a GitOps file.
fn docs(text: &str) -> Vec<Value> {
    text.split("\n---\n")
        .filter(|d| d.lines().any(|l| !l.starts_with('#') && !l.trim().is_empty()))
        .map(|d| serde_saphyr::from_str(d).unwrap_or_else(|e| panic!("{e}\n{d}")))
        .collect()
}

#[test]
fn every_custom_resource_of_the_gitops_trees_is_valid_against_its_crd() {
    let schemas = schemas();
    let mut seen = BTreeSet::new();
    for file in ["example.yaml", "cncf.yaml"] {
        let envs = if file == "cncf.yaml" {
            cncf_environments()
        } else {
            load_environments(&fixture(file)).unwrap_or_else(|e| panic!("{e}"))
        };
        let list: Vec<GitOpsEnv<'_>> = envs
            .iter()
            .map(|e| GitOpsEnv {
                name: &e.name,
                model: &e.model,
            })
            .collect();
        let mut problems = Vec::new();
        for f in tree(&list).expect("the tree builds") {
            if !f.path.ends_with(".yaml") {
                continue;
            }
            for doc in docs(&f.contents) {
                let api = doc["apiVersion"].as_str().unwrap_or_default();
                if BUILT_IN.contains(&api) || CLIENT_SIDE.contains(&api) {
                    continue;
                }
                seen.insert((
                    api.to_owned(),
                    doc["kind"].as_str().unwrap_or_default().to_owned(),
                ));
                problems.extend(
                    problems_of(&schemas, &doc, None)
                        .into_iter()
                        .map(|p| format!("{}: {p}", f.path)),
                );
            }
        }
        assert!(problems.is_empty(), "{file}:\n{}", problems.join("\n"));
    }
    for (api, kind) in [
        ("source.toolkit.fluxcd.io/v1", "GitRepository"),
        ("source.toolkit.fluxcd.io/v1", "HelmRepository"),
        ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"),
        ("helm.toolkit.fluxcd.io/v2", "HelmRelease"),
        ("external-secrets.io/v1", "ExternalSecret"),
        ("bitnami.com/v1alpha1", "SealedSecret"),
    ] {
        assert!(
            seen.contains(&(api.to_owned(), kind.to_owned())),
            "no GitOps tree emitted {api} {kind}"
        );
    }
}

#[test]
fn vendored_schemas_are_well_formed_and_documented() {
    let schemas = schemas();
    let sources = std::fs::read_to_string(crds_dir().join("SOURCES.md")).expect("SOURCES.md");
    for ((api, kind), c) in &schemas {
        let (group, version) = api.rsplit_once('/').expect("group/version");
        assert_eq!(
            c.file,
            format!("{group}_{version}_{kind}.yaml"),
            "file name of {api} {kind}"
        );
        assert!(sources.contains(&c.file), "SOURCES.md does not name {}", c.file);
        assert_eq!(
            c.schema["type"], "object",
            "{}: the root is not an object",
            c.file
        );
        // Every pattern compiles (a broken one would reject every value silently as an error
        // message, but catch it here with the file name).
        let mut stack = vec![&c.schema];
        while let Some(s) = stack.pop() {
            if let Some(p) = s.get("pattern").and_then(Value::as_str) {
                assert!(
                    regex::Regex::new(p).is_ok(),
                    "{}: pattern {p} does not compile",
                    c.file
                );
            }
            match s {
                Value::Object(m) => stack.extend(m.values()),
                Value::Array(a) => stack.extend(a.iter()),
                _ => {}
            }
        }
    }
}

/// A valid Canary, as Flagger documents it.
fn canary() -> Value {
    json!({
        "apiVersion": "flagger.app/v1beta1",
        "kind": "Canary",
        "metadata": {"name": "grafana-kubernetes", "namespace": "devstats-prod"},
        "spec": {
            "provider": "nginx",
            "targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "grafana-kubernetes"},
            "ingressRef": {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "name": "x"},
            "service": {"port": 80, "targetPort": 3000},
            "analysis": {
                "interval": "1m", "threshold": 5, "maxWeight": 50, "stepWeight": 10,
                "metrics": [{"name": "request-success-rate", "interval": "1m", "thresholdRange": {"min": 99}}]
            }
        }
    })
}

#[test]
fn the_harness_catches_bad_fields() {
    let schemas = schemas();
    assert_eq!(
        problems_of(&schemas, &canary(), Some("canaries")),
        Vec::<String>::new()
    );

    let bad = |edit: &dyn Fn(&mut Value), expect: &str| {
        let mut doc = canary();
        edit(&mut doc);
        let problems = problems_of(&schemas, &doc, Some("canaries"));
        assert!(
            problems.iter().any(|p| p.contains(expect)),
            "expected a problem containing {expect:?}, got {problems:?}"
        );
    };
    bad(
        &|d| d["spec"]["analysis"]["stepWieght"] = json!(10),
        ".spec.analysis.stepWieght: unknown field",
    );
    bad(
        &|d| d["spec"]["provider"] = json!("nginx-ingress"),
        ".spec.provider: \"nginx-ingress\" is not one of",
    );
    bad(
        &|d| d["spec"]["analysis"]["interval"] = json!("1h"),
        "does not match ^[0-9]+(m|s)",
    );
    bad(
        &|d| d["spec"]["service"]["port"] = json!("80"),
        ".spec.service.port: expected number, got string",
    );
    bad(
        &|d| {
            d["spec"].as_object_mut().expect("spec").remove("targetRef");
        },
        "required field `targetRef` is missing",
    );
    bad(
        &|d| {
            d["spec"]["analysis"]
                .as_object_mut()
                .expect("analysis")
                .remove("stepWeight");
        },
        "matches 0 of oneOf",
    );
    bad(
        &|d| d["spec"]["service"]["targetPort"] = json!(true),
        "expected an integer or a string",
    );
    bad(
        &|d| d["status"] = json!({"phase": "Succeeded"}),
        ".status: unknown field",
    );
    bad(
        &|d| d["kind"] = json!("Canari"),
        "no schema for flagger.app/v1beta1 Canari",
    );
    let problems = problems_of(&schemas, &canary(), Some("canarys"));
    assert!(
        problems.iter().any(|p| p.contains("the CRD's is canaries")),
        "{problems:?}"
    );

    // Maps (additionalProperties) accept any key but check values; preserved fields accept anything.
    let mut doc = canary();
    doc["spec"]["analysis"]["webhooks"] =
        json!([{"name": "w", "url": "http://x/", "metadata": {"a": "b", "c": 1}}]);
    let problems = problems_of(&schemas, &doc, None);
    assert!(
        problems
            .iter()
            .any(|p| p.contains(".spec.analysis.webhooks[0].metadata.c: expected string")),
        "{problems:?}"
    );
}
