//! Every custom resource the project renders is valid against its CRD.
//!
//! The upstream CRDs are vendored verbatim under `fixtures/crds/` (sources in
//! `fixtures/crds/SOURCES.md`) and looked up by group + kind; a rendered custom kind without a
//! vendored CRD, a version the CRD does not serve, or a plural that is not the CRD's fails.
//! Validation is strict (`tests/support/crd_schema.rs`): unknown fields, wrong types, enums,
//! patterns, bounds, missing required fields and failing CEL `x-kubernetes-validations` rules are
//! errors, and a CEL rule met but not evaluated fails too. Run with `--nocapture` to see, per
//! kind, how many rules were evaluated and skipped.
//!
//! Renders covered: the hardened CNCF model with Ingress routing (ingress-nginx, Traefik with a
//! DNS-01 ClusterIssuer) and with Gateway API routing (HTTP-01 and Route 53 DNS-01), and the GitOps
//! trees of `fixtures/example.yaml` and `fixtures/cncf.yaml`.

mod support;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use devstats_model::delivery::Protected;
use devstats_model::hardening::{
    AcmeIssuer, AcmeSolver, Dns01, GatewaySettings, IngressFlavor, Routing, SecretKey,
};
use devstats_model::{IssuerKind, Model, Name, load_environments};
use devstats_render::gitops::{GitOpsEnv, tree};
use devstats_render::{Object, Options, render};
use serde_json::{Value, json};
use support::crd_schema::{
    CelStats, Crds, Validator, crds_dir, indent_quoted_continuations, load, parse_crd, rules_of,
};
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

/// The vendored CRDs, a validator, and what became of the CEL rules, by (apiVersion, kind).
struct Harness {
    crds: Crds,
    validator: Validator,
    cel: RefCell<BTreeMap<(String, String), CelStats>>,
}

fn harness() -> Harness {
    Harness {
        crds: load(&crds_dir()),
        validator: Validator::new(),
        cel: RefCell::default(),
    }
}

impl Harness {
    /// Problems of one document: its kind has no CRD or its version is not served, the plural
    /// is not the CRD's, or it does not validate.
    fn problems_of(&self, doc: &Value, plural: Option<&str>) -> Vec<String> {
        let api = doc["apiVersion"].as_str().unwrap_or_default();
        let kind = doc["kind"].as_str().unwrap_or_default();
        let id = format!(
            "{api} {kind} {}",
            doc["metadata"]["name"].as_str().unwrap_or("<no name>")
        );
        let (crd, schema) = match self.crds.lookup(api, kind) {
            Ok(found) => found,
            Err(e) => return vec![format!("{id}: {e}")],
        };
        let mut out: Vec<String> = self
            .validator
            .validate(doc, schema)
            .into_iter()
            .map(|e| format!("{id}: {e} ({})", crd.file))
            .collect();
        self.cel
            .borrow_mut()
            .entry((api.to_owned(), kind.to_owned()))
            .or_default()
            .merge(&self.validator.take_stats());
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

    /// Prints, per kind, how many CEL rules its schema has, how many were evaluated and how
    /// many skipped (with why); fails if a rule met was skipped.
    fn report_cel(&self, what: &str) {
        let mut skipped = Vec::new();
        println!("CEL rules, {what}:");
        for ((api, kind), stats) in self.cel.borrow().iter() {
            let (_, schema) = self.crds.lookup(api, kind).expect("looked up before");
            let total: BTreeSet<String> = rules_of(schema).into_iter().map(|(_, r)| r).collect();
            println!(
                "  {api} {kind}: {} distinct rules in the schema, {} evaluated ({} evaluations), {} skipped",
                total.len(),
                stats.evaluated.len(),
                stats.evaluations,
                stats.skipped.len()
            );
            for (rule, why) in &stats.skipped {
                println!("    skipped: {rule} ({why})");
                skipped.push(format!("{api} {kind}: {rule}: {why}"));
            }
        }
        assert!(
            skipped.is_empty(),
            "{what}: CEL rules met but not evaluated:\n{}",
            skipped.join("\n")
        );
    }
}

/// Validates every custom object of a render; returns the (apiVersion, kind)s seen.
fn check_objects(h: &Harness, what: &str, objects: &[Object]) -> BTreeSet<(String, String)> {
    let mut seen = BTreeSet::new();
    let mut problems = Vec::new();
    for o in objects {
        let Object::Custom(c) = o else {
            assert!(
                BUILT_IN.contains(&o.api_version().as_str()),
                "{}: a typed object of a non-built-in API",
                o.id()
            );
            continue;
        };
        assert!(
            !BUILT_IN.contains(&c.kind.api_version().as_str()),
            "{}: a custom resource of a built-in API",
            o.id()
        );
        let doc = serde_json::to_value(o).unwrap_or_else(|e| panic!("{}: {e}", o.id()));
        problems.extend(h.problems_of(&doc, Some(c.kind.plural)));
        seen.insert((c.kind.api_version(), c.kind.kind.to_owned()));
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
    let h = harness();
    let mut seen = BTreeSet::new();
    for (what, m) in renders() {
        let problems = devstats_model::validate::validate(&m);
        assert!(problems.is_empty(), "{what}: {problems:?}");
        seen.extend(check_objects(&h, what, &objects(&m)));
    }
    // The production fixture as it is, every environment: monitoring, disaster recovery,
    // canaries (prod) and sign-in (test) on.
    for env in cncf_environments() {
        let what = format!("fixtures/cncf.yaml, environment {}", env.name);
        seen.extend(check_objects(&h, &what, &objects(&env.model)));
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
    h.report_cel("renders");
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
    let h = harness();
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
                    h.problems_of(&doc, None)
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
    h.report_cel("GitOps trees");
}

#[test]
fn vendored_crds_are_well_formed_and_documented() {
    let crds = load(&crds_dir());
    let validator = Validator::new();
    let sources = std::fs::read_to_string(crds_dir().join("SOURCES.md")).expect("SOURCES.md");
    let mut uncompiled = Vec::new();
    println!("CEL rules of the vendored CRDs (served versions):");
    for c in crds.0.values() {
        assert_eq!(c.file, format!("{}.yaml", c.name), "{}: file name", c.file);
        assert_eq!(
            c.name,
            format!("{}.{}", c.plural, c.group),
            "{}: metadata.name",
            c.file
        );
        assert!(
            sources.contains(&format!("`{}`", c.file)),
            "SOURCES.md does not name {}",
            c.file
        );
        for (version, v) in &c.versions {
            assert_eq!(
                v.schema["type"], "object",
                "{} {version}: the root is not an object",
                c.file
            );
            // Every pattern compiles (a broken one would reject every value as an error
            // message, but catch it here with the file name).
            let mut stack = vec![&v.schema];
            while let Some(s) = stack.pop() {
                if let Some(p) = s.get("pattern").and_then(Value::as_str) {
                    assert!(
                        regex::Regex::new(p).is_ok(),
                        "{} {version}: pattern {p} does not compile",
                        c.file
                    );
                }
                match s {
                    Value::Object(m) => stack.extend(m.values()),
                    Value::Array(a) => stack.extend(a.iter()),
                    _ => {}
                }
            }
            if !v.served {
                continue;
            }
            // Every CEL rule compiles, or is a transition rule (never run on create).
            let rules: BTreeSet<String> = rules_of(&v.schema).into_iter().map(|(_, r)| r).collect();
            let mut transition = 0;
            for rule in &rules {
                match validator.program(rule) {
                    Ok(_) => {}
                    Err(why) if why.starts_with("transition") => transition += 1,
                    Err(why) => uncompiled.push(format!("{} {version}: {rule}: {why}", c.file)),
                }
            }
            println!(
                "  {} {}/{version}: {} distinct rules, {} transition rules",
                c.kind,
                c.group,
                rules.len(),
                transition
            );
        }
    }
    assert!(
        uncompiled.is_empty(),
        "CEL rules the evaluator cannot compile:\n{}",
        uncompiled.join("\n")
    );
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

/// `problems` has one containing `expect`.
fn assert_problem(problems: &[String], expect: &str) {
    assert!(
        problems.iter().any(|p| p.contains(expect)),
        "expected a problem containing {expect:?}, got {problems:?}"
    );
}

#[test]
fn the_harness_catches_bad_fields() {
    let h = harness();
    assert_eq!(h.problems_of(&canary(), Some("canaries")), Vec::<String>::new());

    let bad = |edit: &dyn Fn(&mut Value), expect: &str| {
        let mut doc = canary();
        edit(&mut doc);
        assert_problem(&h.problems_of(&doc, Some("canaries")), expect);
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
        &|d| d["status"] = json!({"phase": "Exploded"}),
        ".status.phase: \"Exploded\" is not one of",
    );
    bad(
        &|d| d["kind"] = json!("Canari"),
        "no CRD for flagger.app/v1beta1 Canari",
    );
    // A version the CRD does not have, or does not serve.
    bad(
        &|d| d["apiVersion"] = json!("flagger.app/v1"),
        "the CRD has no version v1, only v1beta1",
    );
    let mut secret = json!({
        "apiVersion": "external-secrets.io/v1beta1",
        "kind": "ExternalSecret",
        "metadata": {"name": "s"},
        "spec": {}
    });
    assert_problem(
        &h.problems_of(&secret, None),
        "version v1beta1 is not served by the CRD",
    );
    secret["apiVersion"] = json!("external-secrets.io/v1");
    assert_eq!(h.problems_of(&secret, None), Vec::<String>::new());

    let problems = h.problems_of(&canary(), Some("canarys"));
    assert_problem(&problems, "the CRD's is canaries");

    // Maps (additionalProperties) accept any key but check values; preserved fields accept anything.
    let mut doc = canary();
    doc["spec"]["analysis"]["webhooks"] =
        json!([{"name": "w", "url": "http://x/", "metadata": {"a": "b", "c": 1}}]);
    assert_problem(
        &h.problems_of(&doc, None),
        ".spec.analysis.webhooks[0].metadata.c: expected string",
    );
}

/// A valid Gateway: HTTP and HTTPS listeners on one hostname.
fn gateway_doc() -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "devstats", "namespace": "devstats-prod"},
        "spec": {
            "gatewayClassName": "eg",
            "listeners": [
                {"name": "http", "port": 80, "protocol": "HTTP", "hostname": "devstats.example.org"},
                {
                    "name": "https", "port": 443, "protocol": "HTTPS", "hostname": "devstats.example.org",
                    "tls": {"certificateRefs": [{"name": "devstats-tls"}]}
                }
            ]
        }
    })
}

/// A valid HTTPRoute: two parents of different namespaces, a path match, a Service backend.
fn httproute_doc() -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": {"name": "api", "namespace": "devstats-prod"},
        "spec": {
            "parentRefs": [
                {"name": "devstats", "namespace": "devstats-prod"},
                {"name": "devstats", "namespace": "other"}
            ],
            "hostnames": ["devstats.example.org"],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": "/api"}}],
                "backendRefs": [{"name": "api", "port": 8080}]
            }]
        }
    })
}

#[test]
fn the_harness_evaluates_cel_rules() {
    let h = harness();
    assert_eq!(h.problems_of(&gateway_doc(), None), Vec::<String>::new());
    assert_eq!(h.problems_of(&httproute_doc(), None), Vec::<String>::new());

    let bad = |doc: fn() -> Value, edit: &dyn Fn(&mut Value), expect: &str| {
        let mut d = doc();
        edit(&mut d);
        assert_problem(&h.problems_of(&d, None), expect);
    };
    // Gateway, a listener added: a hostname on TCP, a duplicate port/protocol/hostname, and
    // (valid) a listener without a hostname next to one with.
    let with_listener = |listener: Value| {
        let mut d = gateway_doc();
        d["spec"]["listeners"]
            .as_array_mut()
            .expect("listeners")
            .push(listener);
        h.problems_of(&d, None)
    };
    assert_problem(
        &with_listener(
            json!({"name": "postgres", "port": 5432, "protocol": "TCP", "hostname": "db.example.org"}),
        ),
        "hostname must not be specified for protocols ['TCP', 'UDP']",
    );
    assert_problem(
        &with_listener(
            json!({"name": "http-2", "port": 80, "protocol": "HTTP", "hostname": "devstats.example.org"}),
        ),
        "Combination of port, protocol and hostname must be unique",
    );
    assert_eq!(
        with_listener(json!({"name": "http-any", "port": 80, "protocol": "HTTP"})),
        Vec::<String>::new()
    );
    // TLS on an HTTP listener.
    bad(
        gateway_doc,
        &|d| d["spec"]["listeners"][0]["tls"] = json!({"certificateRefs": [{"name": "x"}]}),
        "tls must not be specified for protocols ['HTTP', 'TCP', 'UDP']",
    );
    // HTTPRoute: the same parent twice (`namespace` is `__namespace__` in CEL, and defaults to
    // unset), a relative path, a redirect next to backends, a filter of the wrong type.
    bad(
        httproute_doc,
        &|d| d["spec"]["parentRefs"][1]["namespace"] = json!("devstats-prod"),
        "sectionName must be unique when parentRefs includes 2 or more references to the same parent",
    );
    bad(
        httproute_doc,
        &|d| d["spec"]["rules"][0]["matches"][0]["path"]["value"] = json!("api"),
        "must be an absolute path",
    );
    for (filter_type, expect) in [
        (
            "RequestRedirect",
            "RequestRedirect filter must not be used together with backendRefs",
        ),
        (
            "URLRewrite",
            "filter.requestRedirect must be nil if the filter.type is not RequestRedirect",
        ),
    ] {
        let mut d = httproute_doc();
        d["spec"]["rules"][0]["filters"] =
            json!([{"type": filter_type, "requestRedirect": {"scheme": "https"}}]);
        assert_problem(&h.problems_of(&d, None), expect);
    }
    // A Service backend without a port (`group` defaults to "", `kind` to Service).
    bad(
        httproute_doc,
        &|d| {
            d["spec"]["rules"][0]["backendRefs"][0]
                .as_object_mut()
                .expect("backendRef")
                .remove("port");
        },
        "Must have port for Service reference",
    );
    // Traefik Middleware and Flux HelmRelease rules.
    let middleware = json!({
        "apiVersion": "traefik.io/v1alpha1",
        "kind": "Middleware",
        "metadata": {"name": "m"},
        "spec": {"addPrefix": {"prefix": "api"}}
    });
    assert_problem(&h.problems_of(&middleware, None), "must start with a '/'");
    let release = json!({
        "apiVersion": "helm.toolkit.fluxcd.io/v2",
        "kind": "HelmRelease",
        "metadata": {"name": "r"},
        "spec": {"interval": "10m"}
    });
    assert_problem(
        &h.problems_of(&release, None),
        "either chart or chartRef must be set",
    );

    // Every rule met above was evaluated, none skipped.
    let cel = h.cel.borrow();
    let stats = &cel[&("gateway.networking.k8s.io/v1".to_owned(), "HTTPRoute".to_owned())];
    assert!(stats.evaluated.len() > 10, "{stats:?}");
    drop(cel);
    h.report_cel("the CEL negative tests");
}

#[test]
fn crds_are_read_as_written() {
    // Only Flagger's CRD has quoted continuation lines at the indentation of their key (which
    // go-yaml accepts, serde-saphyr not); re-indenting them changes white space only.
    let squeeze = |t: &str| t.split_whitespace().collect::<String>();
    for c in load(&crds_dir()).0.values() {
        let text = std::fs::read_to_string(crds_dir().join(&c.file)).expect("CRD file");
        let indented = indent_quoted_continuations(&text);
        assert_eq!(
            indented != text,
            c.file == "canaries.flagger.app.yaml",
            "{}",
            c.file
        );
        assert_eq!(squeeze(&indented), squeeze(&text), "{}", c.file);
    }
    let yaml = "a:\n  description: 'one\n  two ''x''\n  three'\n  type: string\n  b: \"x\\\"\n  y\"\n";
    let read = parse_crd(yaml).expect("parses");
    assert_eq!(read["a"]["description"], "one two 'x' three");
    assert_eq!(read["a"]["b"], "x\" y");
    assert_eq!(read["a"]["type"], "string");
}

#[test]
fn the_validator_follows_the_api_server_on_synthetic_schemas() {
    let v = Validator::new();
    let schema = json!({
        "type": "object",
        "properties": {
            "ratio": {"type": "number", "minimum": 0, "exclusiveMinimum": true},
            "labels": {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}},
            "data": {"type": "string", "format": "byte"},
            "since": {"type": "string", "format": "date-time"},
            "address": {"type": "string", "format": "ipv4"},
            "note": {"type": "string", "nullable": true},
            "template": {"type": "object", "x-kubernetes-embedded-resource": true,
                         "x-kubernetes-preserve-unknown-fields": true},
            "ports": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["port", "protocol"],
                "items": {"type": "object", "required": ["port"], "properties": {
                    "port": {"type": "integer"},
                    "protocol": {"type": "string", "default": "TCP"}
                }},
                "x-kubernetes-validations": [
                    {"rule": "self.all(p, p.protocol in ['TCP', 'UDP'])", "message": "TCP or UDP"}
                ]
            },
            "name": {"type": "string", "x-kubernetes-validations": [
                {"rule": "self == oldSelf", "message": "immutable"},
                {"rule": "self.isSorted()", "message": "a Kubernetes list function"}
            ]}
        }
    });
    let ok = json!({
        "ratio": 0.5, "labels": {"a": "b"}, "data": "aGk=", "since": "2026-01-02T03:04:05Z",
        "address": "10.0.0.1", "note": null,
        "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}},
        "ports": [{"port": 80}, {"port": 80, "protocol": "UDP"}]
    });
    assert_eq!(v.validate(&ok, &schema), Vec::<String>::new());
    let stats = v.take_stats();
    assert_eq!(stats.evaluations, 1, "{stats:?}");

    let bad = |edit: &dyn Fn(&mut Value), expect: &str| {
        let mut doc = ok.clone();
        edit(&mut doc);
        assert_problem(&v.validate(&doc, &schema), expect);
    };
    bad(&|d| d["ratio"] = json!(0), "not above the exclusive minimum");
    bad(
        &|d| d["labels"] = json!({}),
        "0 properties, fewer than minProperties 1",
    );
    bad(&|d| d["data"] = json!("hi!"), "is not a valid byte");
    bad(&|d| d["since"] = json!("yesterday"), "is not a valid date-time");
    bad(&|d| d["address"] = json!("10.0.0"), "is not a valid ipv4");
    bad(&|d| d["ratio"] = json!(null), ".ratio: expected number, got null");
    bad(
        &|d| d["template"] = json!({"metadata": {}}),
        "required field `kind` of an embedded resource is missing",
    );
    // The default (TCP) makes the two ports one key.
    bad(
        &|d| d["ports"] = json!([{"port": 80}, {"port": 80, "protocol": "TCP"}]),
        "duplicate map-list key",
    );
    bad(
        &|d| d["ports"][1]["protocol"] = json!("SCTP"),
        "TCP or UDP (CEL rule",
    );

    // A transition rule is skipped (as on create), a function the evaluator lacks is reported.
    let mut doc = ok.clone();
    doc["name"] = json!("x");
    assert_eq!(v.validate(&doc, &schema), Vec::<String>::new());
    let stats = v.take_stats();
    assert_eq!(stats.skipped.len(), 2, "{stats:?}");
    assert!(
        stats.skipped["self == oldSelf"].starts_with("transition rule"),
        "{stats:?}"
    );
    assert!(
        stats.skipped["self.isSorted()"].starts_with("unsupported"),
        "{stats:?}"
    );
}
