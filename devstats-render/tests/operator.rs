//! The `DevStats` CRD (`devstats_render::operator`): its schema is structural by Kubernetes'
//! rules, its defaults are the model's own, and the CNCF model exported as a resource is valid
//! against it; the operator install's RBAC follows the render.
//!
//! The structural rules checked here are Kubernetes' ("Specifying a structural schema" and
//! "Defaulting" in *Extend the Kubernetes API with CustomResourceDefinitions*,
//! kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/):
//!
//! - S1: the root, every `properties` / `additionalProperties` value and every `items` has a
//!   non-empty `type` (one of object, array, string, integer, number, boolean), unless it sets
//!   `x-kubernetes-int-or-string: true` or `x-kubernetes-preserve-unknown-fields: true`;
//! - S2: a field or item named inside `allOf`/`anyOf`/`oneOf`/`not` is also specified outside;
//! - S3: no `description`, `type`, `default`, `additionalProperties` or `nullable` inside
//!   `allOf`/`anyOf`/`oneOf`/`not`;
//! - S4: `metadata` at the root constrains only `name` and `generateName`;
//! - S5 (apiextensions validation): no `$ref`, `properties` and `additionalProperties` not
//!   both, no `uniqueItems: true`, `x-kubernetes-list-type: map` items are objects whose
//!   `x-kubernetes-list-map-keys` are required (or defaulted) scalars;
//! - D1: a `default` is not null (unless `nullable`), is pruned (no field the schema does not
//!   know) and validates against its node.

mod support;

use std::collections::BTreeSet;

use devstats_model::Model;
use devstats_render::operator::{self, CRD_NAME};
use devstats_render::resource::{self, DevStats, ResourceError};
use devstats_render::{Options, render};
use serde_json::{Value, json};
use support::crd_schema::{Validator, apply_defaults, crds_dir, load};
use support::models::{cncf_environments, fixture};

const TYPES: &[&str] = &["object", "array", "string", "integer", "number", "boolean"];
const JUNCTORS: &[&str] = &["allOf", "anyOf", "oneOf", "not"];

/// The CRD as the API server receives it (serialized from the typed k8s-openapi struct).
fn crd_json() -> Value {
    serde_json::to_value(operator::crd().unwrap_or_else(|e| panic!("{e}"))).unwrap_or_else(|e| panic!("{e}"))
}

fn schema_of(crd: &Value) -> Value {
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"].clone()
}

fn flag(s: &Value, k: &str) -> bool {
    s.get(k).and_then(Value::as_bool).unwrap_or(false)
}

/// Structural violations of a node at `path` (S1–S5, D1), recursively.
fn structural_problems(s: &Value, path: &str, v: &Validator, out: &mut Vec<String>) {
    let Some(o) = s.as_object() else {
        out.push(format!("{path}: not a schema object"));
        return;
    };
    if o.contains_key("$ref") {
        out.push(format!("{path}: $ref (S5)"));
    }
    let escape = flag(s, "x-kubernetes-int-or-string") || flag(s, "x-kubernetes-preserve-unknown-fields");
    match o.get("type").and_then(Value::as_str) {
        Some(t) if TYPES.contains(&t) => {}
        Some(t) => out.push(format!("{path}: type {t} (S1)")),
        None if escape => {}
        None => out.push(format!("{path}: no type (S1)")),
    }
    if o.contains_key("properties") && o.contains_key("additionalProperties") {
        out.push(format!("{path}: properties and additionalProperties (S5)"));
    }
    if flag(s, "uniqueItems") {
        out.push(format!("{path}: uniqueItems: true (S5)"));
    }
    if let Some(p) = o.get("pattern").and_then(Value::as_str)
        && let Err(e) = regex::Regex::new(p)
    {
        out.push(format!("{path}: pattern {p} is not RE2: {e}"));
    }
    let outer_props: BTreeSet<&str> = o
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for j in JUNCTORS {
        let Some(sub) = o.get(*j) else { continue };
        let subs: Vec<&Value> = match sub {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        for (i, b) in subs.iter().enumerate() {
            junctor_problems(
                b,
                &format!("{path}.{j}[{i}]"),
                &outer_props,
                o.contains_key("items"),
                out,
            );
        }
    }
    if let Some(d) = o.get("default") {
        if d.is_null() && !flag(s, "nullable") {
            out.push(format!("{path}: default null on a non-nullable node (D1)"));
        }
        for e in v.validate(d, s) {
            out.push(format!("{path}: default {d} does not validate: {e} (D1)"));
        }
    }
    if let Some(e) = o.get("enum").and_then(Value::as_array) {
        let mut bare = s.clone();
        if let Some(b) = bare.as_object_mut() {
            b.remove("enum");
            b.remove("default");
        }
        for x in e {
            for p in v.validate(x, &bare) {
                out.push(format!("{path}: enum value {x}: {p}"));
            }
        }
    }
    if o.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map") {
        let items = &o["items"];
        let keys = o["x-kubernetes-list-map-keys"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if items["type"] != "object" || keys.is_empty() {
            out.push(format!("{path}: list-type map without object items or keys (S5)"));
        }
        for k in keys.iter().filter_map(Value::as_str) {
            let required = items["required"]
                .as_array()
                .is_some_and(|r| r.iter().any(|x| x == k));
            let key = &items["properties"][k];
            if !(required || key.get("default").is_some()) || !key["type"].is_string() {
                out.push(format!("{path}: list map key {k} is not a required scalar (S5)"));
            }
        }
    }
    if let Some(props) = o.get("properties").and_then(Value::as_object) {
        for (k, p) in props {
            structural_problems(p, &format!("{path}.{k}"), v, out);
        }
    }
    if let Some(ap) = o.get("additionalProperties")
        && ap.is_object()
    {
        structural_problems(ap, &format!("{path}.*"), v, out);
    }
    if let Some(items) = o.get("items") {
        structural_problems(items, &format!("{path}[]"), v, out);
    }
}

/// S2 and S3 inside a logical junctor.
fn junctor_problems(b: &Value, path: &str, outer: &BTreeSet<&str>, outer_items: bool, out: &mut Vec<String>) {
    let Some(o) = b.as_object() else { return };
    for k in [
        "description",
        "type",
        "default",
        "additionalProperties",
        "nullable",
    ] {
        if o.contains_key(k) {
            out.push(format!("{path}: {k} inside a junctor (S3)"));
        }
    }
    if let Some(p) = o.get("properties").and_then(Value::as_object) {
        for k in p.keys() {
            if !outer.contains(k.as_str()) {
                out.push(format!("{path}: field {k} only inside a junctor (S2)"));
            }
        }
    }
    if o.contains_key("items") && !outer_items {
        out.push(format!("{path}: items only inside a junctor (S2)"));
    }
    for j in JUNCTORS {
        if let Some(Value::Array(a)) = o.get(*j) {
            for (i, x) in a.iter().enumerate() {
                junctor_problems(x, &format!("{path}.{j}[{i}]"), outer, outer_items, out);
            }
        }
    }
}

/// Paths of the `x-kubernetes-preserve-unknown-fields` nodes.
fn preserved(s: &Value, path: &str, out: &mut Vec<String>) {
    if flag(s, "x-kubernetes-preserve-unknown-fields") {
        out.push(path.to_owned());
    }
    if let Some(props) = s.get("properties").and_then(Value::as_object) {
        for (k, p) in props {
            preserved(p, &format!("{path}.{k}"), out);
        }
    }
    if let Some(ap) = s.get("additionalProperties").filter(|a| a.is_object()) {
        preserved(ap, &format!("{path}.*"), out);
    }
    if let Some(items) = s.get("items") {
        preserved(items, &format!("{path}[]"), out);
    }
}

#[test]
fn the_crd_schema_is_structural() {
    let crd = crd_json();
    assert_eq!(crd["metadata"]["name"], CRD_NAME);
    assert_eq!(crd["spec"]["scope"], "Namespaced");
    assert_eq!(crd["spec"]["names"]["shortNames"], json!(["ds"]));
    let version = &crd["spec"]["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    assert_eq!(version["subresources"]["status"], json!({}));
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(columns, ["Ready", "Projects", "Age"]);

    let schema = schema_of(&crd);
    let v = Validator::new();
    let mut problems = Vec::new();
    structural_problems(&schema, "", &v, &mut problems);
    // S4.
    let metadata = &schema["properties"]["metadata"];
    assert_eq!(metadata, &json!({"type": "object"}), "S4");
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );

    // Preserve-unknown-fields only where a value is a string or an object (the enums with both
    // unit and data variants); the model's validation checks those.
    let mut kept = Vec::new();
    preserved(&schema, "", &mut kept);
    assert_eq!(
        kept,
        [
            ".spec.instance.gitops.secrets",
            ".spec.instance.security.https.issuer.solver",
            ".spec.instance.security.routing",
        ],
        "x-kubernetes-preserve-unknown-fields"
    );

    // Enums and defaults are kept.
    let instance = &schema["properties"]["spec"]["properties"]["instance"]["properties"];
    assert_eq!(instance["role"]["enum"], json!(["test", "prod"]));
    let defaults = text_count(&schema, "\"default\":");
    assert!(defaults > 100, "only {defaults} defaults");
    let status = &schema["properties"]["status"]["properties"];
    assert_eq!(
        status["conditions"]["items"]["properties"]["type"]["enum"],
        json!(["Ready", "Progressing", "Degraded", "Stalled"])
    );
    assert_eq!(
        status["conditions"]["x-kubernetes-list-map-keys"],
        json!(["type"])
    );
    assert_eq!(status["projects"]["x-kubernetes-list-map-keys"], json!(["name"]));
    let size = serde_json::to_string(&crd).map(|s| s.len()).unwrap_or_default();
    println!(
        "CRD: {size} bytes of JSON, {defaults} defaults, {} preserved nodes",
        kept.len()
    );
    // etcd's default request limit is 1.5 MiB; client-side `kubectl apply` would also need the
    // whole object in an annotation (256 KiB), so the install is applied server-side.
    assert!(size < 1_000_000, "the CRD is {size} bytes");
}

fn text_count(v: &Value, needle: &str) -> usize {
    v.to_string().matches(needle).count()
}

/// The structural checker catches what it should (a checker that accepts anything proves
/// nothing).
#[test]
fn the_structural_checker_rejects_non_structural_schemas() {
    let v = Validator::new();
    let cases = [
        (
            json!({"type": "object", "properties": {"a": {"description": "no type"}}}),
            "S1",
        ),
        (json!({"$ref": "#/$defs/X"}), "S5"),
        (
            json!({"type": "object", "properties": {"a": {"type": "string"}},
                   "oneOf": [{"properties": {"b": {"type": "string"}}}]}),
            "S2",
        ),
        (json!({"type": "object", "anyOf": [{"type": "string"}]}), "S3"),
        (json!({"type": "string", "default": 3}), "D1"),
        (
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "default": {"b": "x"}}),
            "D1",
        ),
        (
            json!({"type": "array", "uniqueItems": true, "items": {"type": "string"}}),
            "S5",
        ),
    ];
    for (schema, rule) in cases {
        let mut problems = Vec::new();
        structural_problems(&schema, "", &v, &mut problems);
        assert!(
            problems.iter().any(|p| p.contains(rule)),
            "{schema}: expected a {rule} problem, got {problems:?}"
        );
    }
}

fn resource_json(m: &Model) -> Value {
    serde_json::to_value(DevStats::from_model(m, None)).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_cncf_resource_is_valid_against_the_crd_and_round_trips() {
    let schema = schema_of(&crd_json());
    let v = Validator::new();
    for env in cncf_environments() {
        let doc = resource_json(&env.model);
        assert_eq!(
            doc["metadata"]["namespace"],
            env.model.instance.namespace.as_str()
        );
        let problems = v.validate(&doc, &schema);
        assert!(problems.is_empty(), "environment {}: {problems:#?}", env.name);
        // What the API server stores (defaults applied) reads back as the same model.
        let mut stored = doc.clone();
        apply_defaults(&mut stored, &schema);
        let (name, back) = resource::parse_resource(&stored).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(name.as_deref(), Some(env.model.instance.name.as_str()));
        assert!(
            back == env.model,
            "environment {}: the model changed on the way",
            env.name
        );
    }
}

/// The CRD's defaults are the model's: a sparse spec (what someone writes by hand) defaulted by
/// the API server gives the model the file gives.
#[test]
fn the_crd_defaults_agree_with_the_model() {
    let schema = schema_of(&crd_json());
    let text = std::fs::read_to_string(fixture("example.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let raw: Value = serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let model = devstats_model::load_env(&fixture("example.yaml"), None).unwrap_or_else(|e| panic!("{e}"));
    // The default environment's model, written sparsely: the file's foundations and projects
    // and the resolved instance's non-default fields are what a user writes; here, the file's
    // own text without `environments` over the resolved instance.
    let mut spec = raw.clone();
    if let Some(o) = spec.as_object_mut() {
        o.remove("environments");
        o.insert(
            "instance".into(),
            serde_json::to_value(&model.instance).unwrap_or_else(|e| panic!("{e}")),
        );
    }
    let sparse = json!({
        "apiVersion": resource::API_VERSION, "kind": resource::KIND,
        "metadata": {"name": "x", "namespace": "y"}, "spec": spec,
    });
    let v = Validator::new();
    assert_eq!(v.validate(&sparse, &schema), Vec::<String>::new());
    let mut stored = sparse.clone();
    apply_defaults(&mut stored, &schema);
    assert_ne!(stored, sparse, "no default applied: the test proves nothing");
    let (_, defaulted) = resource::parse_resource(&stored).unwrap_or_else(|e| panic!("{e}"));
    let (_, plain) = resource::parse_resource(&sparse).unwrap_or_else(|e| panic!("{e}"));
    assert!(defaulted == plain, "the CRD's defaults change the model");
    assert!(plain == model);
}

#[test]
fn a_spec_the_crd_or_the_model_rejects_names_its_path() {
    let schema = schema_of(&crd_json());
    let m = cncf_environments().remove(0).model;
    let mut doc = resource_json(&m);
    doc["spec"]["instance"]["role"] = json!("staging");
    doc["spec"]["projects"][0]["disk"] = json!("lots");
    let v = Validator::new();
    let problems = v.validate(&doc, &schema);
    assert!(
        problems.iter().any(|p| p.contains(".spec.instance.role")),
        "{problems:#?}"
    );
    match resource::parse_resource(&doc) {
        Err(ResourceError::Invalid(ps)) => {
            let paths: Vec<&str> = ps.iter().map(|p| p.path.as_str()).collect();
            assert!(paths.contains(&"spec.instance.role"), "{paths:?}");
            assert!(paths.iter().all(|p| p.starts_with("spec")), "{paths:?}");
        }
        other => panic!("expected problems, got {other:?}"),
    }
    // A rule of the model (not a schema matter): a project served twice.
    let mut doc = resource_json(&m);
    let first = doc["spec"]["projects"][0].clone();
    if let Some(a) = doc["spec"]["projects"].as_array_mut() {
        a.push(first);
    }
    match resource::parse_resource(&doc) {
        Err(ResourceError::Invalid(ps)) => {
            assert!(ps.iter().any(|p| p.path.starts_with("spec.projects[")), "{ps:?}");
        }
        other => panic!("expected problems, got {other:?}"),
    }
    let wrong = json!({"apiVersion": "v1", "kind": "ConfigMap"});
    assert!(matches!(
        resource::parse_resource(&wrong),
        Err(ResourceError::NotDevStats(_))
    ));
}

#[test]
fn the_install_rbac_covers_exactly_the_rendered_kinds() {
    let envs = cncf_environments();
    let sets: Vec<_> = envs
        .iter()
        .map(|e| render(&e.model, &Options::default()).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let slices: Vec<&[devstats_render::Rendered]> = sets.iter().map(|s| s.objects.as_slice()).collect();
    let install = operator::install(&slices).unwrap_or_else(|e| panic!("{e}"));
    // Every rendered (namespace, group, plural) is allowed by the Role of its namespace (or the
    // ClusterRole for cluster-scoped kinds), with the verbs of server-side apply and prune.
    let allows = |rules: &[k8s_openapi::api::rbac::v1::PolicyRule], group: &str, plural: &str, verb: &str| {
        rules.iter().any(|r| {
            r.api_groups
                .as_ref()
                .is_some_and(|g| g.iter().any(|g| g == group))
                && r.resources
                    .as_ref()
                    .is_some_and(|rs| rs.iter().any(|x| x == plural))
                && r.verbs.iter().any(|v| v == verb)
        })
    };
    let mut rendered = BTreeSet::new();
    for set in &sets {
        for r in &set.objects {
            let o = &r.object;
            rendered.insert((o.namespace().map(str::to_owned), o.group(), o.plural()));
        }
    }
    for (ns, group, plural) in &rendered {
        let rules = match ns {
            None => install.cluster_role.rules.clone().unwrap_or_default(),
            Some(n) => install
                .roles
                .iter()
                .find(|r| r.metadata.namespace.as_deref() == Some(n))
                .unwrap_or_else(|| panic!("no Role in {n}"))
                .rules
                .clone()
                .unwrap_or_default(),
        };
        for verb in ["get", "list", "watch", "create", "patch", "delete"] {
            assert!(
                allows(&rules, group, plural, verb),
                "{ns:?} {group}/{plural} {verb}"
            );
        }
        // Cluster-scoped kinds: only the rendered names can be changed or deleted.
        if ns.is_none() {
            for r in rules
                .iter()
                .filter(|r| r.verbs.iter().any(|v| v == "delete" || v == "patch"))
            {
                if r.api_groups.iter().flatten().any(|g| g == group)
                    && r.resources.iter().flatten().any(|x| x == plural)
                {
                    assert!(
                        r.resource_names.is_some(),
                        "{group}/{plural}: delete on every name"
                    );
                }
            }
        }
    }
    // And nothing else: no wildcard, no Secret outside the namespaces that render Secrets, no
    // rule for a kind not rendered besides the engine's own (inventory ConfigMap, pods and
    // logs, events, the Lease).
    let engine: BTreeSet<(&str, &str)> = [
        ("", "configmaps"),
        ("", "pods"),
        ("", "pods/log"),
        ("", "events"),
        ("events.k8s.io", "events"),
        ("coordination.k8s.io", "leases"),
    ]
    .into();
    // The rendered Roles' own rules (held to be allowed to grant them).
    let granted: Vec<(Option<String>, k8s_openapi::api::rbac::v1::PolicyRule)> = sets
        .iter()
        .flat_map(|s| s.objects.iter())
        .filter_map(|r| match &r.object {
            devstats_render::Object::Role(role) => Some(
                role.rules
                    .iter()
                    .flatten()
                    .map(|p| (role.metadata.namespace.clone(), p.clone()))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(!granted.is_empty(), "the CNCF render has Roles (Patroni's)");
    for role in &install.roles {
        let ns = role.metadata.namespace.clone();
        for (gns, g) in granted.iter().filter(|(n, _)| *n == ns) {
            assert!(
                role.rules.iter().flatten().any(|r| r == g),
                "{gns:?}: the operator cannot create a Role granting {g:?} without holding it"
            );
        }
        for r in role.rules.iter().flatten() {
            if granted.iter().any(|(n, g)| *n == ns && g == r) {
                continue;
            }
            assert!(!r.verbs.iter().any(|v| v == "*"), "wildcard verb");
            for g in r.api_groups.iter().flatten() {
                for res in r.resources.iter().flatten() {
                    assert!(res != "*" && g != "*", "wildcard");
                    let known = rendered.contains(&(ns.clone(), g.as_str(), res.as_str()))
                        || engine.contains(&(g.as_str(), res.as_str()));
                    assert!(known, "{ns:?}: {g}/{res} is not rendered there");
                }
            }
        }
    }
    let served: BTreeSet<String> = rendered.iter().filter_map(|(n, _, _)| n.clone()).collect();
    let role_namespaces: BTreeSet<String> = install
        .roles
        .iter()
        .filter_map(|r| r.metadata.namespace.clone())
        .filter(|n| n != resource::OPERATOR_NAME)
        .collect();
    assert_eq!(role_namespaces, served);
    assert!(
        served.len() >= 2,
        "the CNCF fixture serves prod and test: {served:?}"
    );
}

fn example_install() -> operator::Install {
    let m = devstats_model::load_env(&fixture("example.yaml"), None).unwrap_or_else(|e| panic!("{e}"));
    let set = render(&m, &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    operator::install(&[set.objects.as_slice()]).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn the_operator_deployment_is_hardened_and_its_selectors_match() {
    let install = example_install();
    let d = &install.deployment;
    let spec = &d.spec;
    let pod = spec
        .template
        .spec
        .as_ref()
        .unwrap_or_else(|| panic!("no pod spec"));
    let pod_labels = spec
        .template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.clone())
        .unwrap_or_default();
    let psc = pod
        .security_context
        .as_ref()
        .unwrap_or_else(|| panic!("no pod security context"));
    assert_eq!(psc.run_as_non_root, Some(true));
    assert!(psc.run_as_user.is_some_and(|u| u > 0));
    assert_eq!(
        psc.seccomp_profile.as_ref().map(|s| s.type_.as_str()),
        Some("RuntimeDefault")
    );
    assert_eq!(pod.service_account_name.as_deref(), Some(resource::OPERATOR_NAME));
    assert_eq!(pod.containers.len(), 1);
    let c = &pod.containers[0];
    assert_eq!(
        c.image.as_deref(),
        Some(format!("ghcr.io/cncf/devstats-operator:{}", env!("CARGO_PKG_VERSION")).as_str())
    );
    let sc = c
        .security_context
        .as_ref()
        .unwrap_or_else(|| panic!("no security context"));
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.privileged, Some(false));
    assert_eq!(
        sc.capabilities.as_ref().and_then(|c| c.drop.clone()),
        Some(vec!["ALL".to_owned()])
    );
    let res = c.resources.as_ref().unwrap_or_else(|| panic!("no resources"));
    for k in ["cpu", "memory"] {
        assert!(
            res.requests.as_ref().is_some_and(|r| r.contains_key(k)),
            "request {k}"
        );
        assert!(
            res.limits.as_ref().is_some_and(|r| r.contains_key(k)),
            "limit {k}"
        );
    }
    let probe = |p: Option<&k8s_openapi::api::core::v1::Probe>| {
        let g = p
            .and_then(|p| p.http_get.as_ref())
            .unwrap_or_else(|| panic!("no HTTP probe"));
        (g.path.clone().unwrap_or_default(), g.port.clone())
    };
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    assert_eq!(
        probe(c.liveness_probe.as_ref()),
        ("/healthz".to_owned(), IntOrString::Int(8081))
    );
    assert_eq!(
        probe(c.readiness_probe.as_ref()),
        ("/readyz".to_owned(), IntOrString::Int(8081))
    );
    let ports: Vec<(Option<String>, i32)> = c
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.clone(), p.container_port))
        .collect();
    assert!(ports.contains(&(Some("metrics".to_owned()), 8080)), "{ports:?}");
    // /tmp is the one writable path, an emptyDir.
    assert!(
        pod.volumes
            .iter()
            .flatten()
            .any(|v| v.name == "tmp" && v.empty_dir.is_some())
    );
    // Selectors: Deployment, PDB and Service select the pods; the ServiceMonitor the Service's
    // port by name.
    let selects = |sel: &std::collections::BTreeMap<String, String>| {
        sel.iter().all(|(k, v)| pod_labels.get(k) == Some(v)) && !sel.is_empty()
    };
    assert!(selects(
        spec.selector
            .match_labels
            .as_ref()
            .unwrap_or_else(|| panic!("selector"))
    ));
    let pdb = install
        .pdb
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .and_then(|s| s.match_labels.as_ref());
    assert!(pdb.is_some_and(selects));
    assert!(
        spec.replicas.is_some_and(|r| r >= 2),
        "a PDB over one replica blocks drains"
    );
    let svc = install.service.spec.as_ref().unwrap_or_else(|| panic!("service"));
    assert!(svc.selector.as_ref().is_some_and(selects));
    let monitor = serde_json::to_value(&install.service_monitor).unwrap_or_else(|e| panic!("{e}"));
    let port = monitor["spec"]["endpoints"][0]["port"]
        .as_str()
        .unwrap_or_default();
    assert!(
        svc.ports
            .iter()
            .flatten()
            .any(|p| p.name.as_deref() == Some(port)),
        "{port}"
    );
    let svc_labels = install.service.metadata.labels.clone().unwrap_or_default();
    let mon_sel: std::collections::BTreeMap<String, String> =
        serde_json::from_value(monitor["spec"]["selector"]["matchLabels"].clone()).unwrap_or_default();
    assert!(!mon_sel.is_empty() && mon_sel.iter().all(|(k, v)| svc_labels.get(k) == Some(v)));
    // The ServiceMonitor is valid against prometheus-operator's vendored CRD.
    let crds = load(&crds_dir());
    let (_, schema) = crds
        .lookup("monitoring.coreos.com/v1", "ServiceMonitor")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(Validator::new().validate(&monitor, schema), Vec::<String>::new());
    // Every object of the install but the cluster-scoped ones is in the operator's namespace or
    // a served one; the namespace enforces the restricted Pod Security level.
    let ns_labels = install.namespace.metadata.labels.clone().unwrap_or_default();
    assert_eq!(
        ns_labels
            .get("pod-security.kubernetes.io/enforce")
            .map(String::as_str),
        Some("restricted")
    );
}

/// The install for `fixtures/example.yaml`, the CRD's schema elided (the tests above check it;
/// it is 4,000 lines).
#[test]
fn operator_install_snapshot() {
    let mut install = example_install();
    for v in &mut install.crd.spec.versions {
        if let Some(s) = v.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) {
            *s = k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::JSONSchemaProps {
                description: Some("(elided in this snapshot)".to_owned()),
                type_: Some("object".to_owned()),
                ..Default::default()
            };
        }
    }
    let yaml = install.yaml().unwrap_or_else(|e| panic!("{e}"));
    insta::assert_snapshot!("operator_install", yaml);
}

/// The CRD's spec comes from the same types as `devstats-k8s schema`: every definition the CRD
/// is built from is the one the model file's schema has.
#[test]
fn the_crd_spec_schema_is_the_model_files() {
    let crd_source = operator::model_json_schema();
    let file = devstats_model::json_schema();
    let defs = crd_source["$defs"].as_object().cloned().unwrap_or_default();
    assert!(defs.len() > 50, "{} definitions", defs.len());
    for (name, def) in &defs {
        assert_eq!(Some(def), file["$defs"].get(name), "definition {name}");
    }
    for k in ["instance", "foundations", "projects"] {
        assert_eq!(crd_source["properties"][k], file["properties"][k], "{k}");
    }
    assert!(crd_source["properties"].get("environments").is_none());
}
