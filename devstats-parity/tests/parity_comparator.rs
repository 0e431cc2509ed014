//! Tests of the Helm parity comparator itself (`devstats-parity/src/lib.rs`), using only the real
//! Helm renders in `fixtures/helm/`: the chart compared with itself must be clean, and every
//! single mutation that matters to Kubernetes must be reported at the right JSON pointer.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use devstats_parity::*;
use serde_json::{Value, json};

const PROD_NS: &str = "devstats-prod";
const TEST_NS: &str = "devstats-test";
/// Projects served only on the test domain (`domains: [1,0,0,0]`): not served by prod.
const TEST_ONLY: &[&str] = &[
    "cncf",
    "opencontainers",
    "zephyr",
    "linux",
    "sam",
    "azf",
    "riff",
    "fn",
    "openwhisk",
    "openfaas",
    "cii",
    "godotengine",
];

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fixtures/helm")
        .join(name)
}

/// The prod render (namespace devstats-prod, testServer='', prodServer='1', nginx-prod).
fn prod() -> &'static [Value] {
    static RENDER: OnceLock<Vec<Value>> = OnceLock::new();
    RENDER.get_or_init(|| load_chart_render(&fixture("rendered-prod-defaults.yaml.gz")))
}

/// The test render (chart defaults).
fn test_render() -> &'static [Value] {
    static RENDER: OnceLock<Vec<Value>> = OnceLock::new();
    RENDER.get_or_init(|| load_chart_render(&fixture("rendered-test-defaults.yaml.gz")))
}

fn prod_ctx() -> ParityContext {
    ParityContext::new(PROD_NS)
}

fn find<'a>(objs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objs.iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the render"))
}

fn find_mut<'a>(objs: &'a mut [Value], kind: &str, name: &str) -> &'a mut Value {
    objs.iter_mut()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in the render"))
}

fn at<'a>(v: &'a mut Value, pointer: &str) -> &'a mut Value {
    v.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer}"))
}

/// The prod render with `f` applied to one object.
fn mutated(kind: &str, name: &str, f: impl FnOnce(&mut Value)) -> Vec<Value> {
    let mut ours = prod().to_vec();
    f(find_mut(&mut ours, kind, name));
    ours
}

/// The prod render with the value at `pointer` of one object replaced; also returns the old one.
fn with_value(kind: &str, name: &str, pointer: &str, new: Value) -> (Vec<Value>, Value) {
    let mut old = Value::Null;
    let ours = mutated(kind, name, |o| old = std::mem::replace(at(o, pointer), new));
    (ours, old)
}

fn env_index(container: &Value, var: &str) -> usize {
    container["env"]
        .as_array()
        .and_then(|env| env.iter().position(|e| e["name"] == var))
        .unwrap_or_else(|| panic!("no env {var}"))
}

/// Exactly these unexplained differences, nothing extra.
fn assert_unexplained(report: &ParityReport, expected: &[String]) {
    assert_eq!(report.unexplained, expected, "\n{report}");
    assert!(report.extra_ours.is_empty(), "\n{report}");
}

/// Some unexplained difference starts with `prefix`.
fn assert_has(report: &ParityReport, prefix: &str) {
    assert!(
        report.unexplained.iter().any(|l| l.starts_with(prefix)),
        "expected a difference starting with\n  {prefix}\n{report}"
    );
}

fn assert_clean_with(report: &ParityReport, deviations: &[(&str, usize)]) {
    assert!(report.is_clean(), "\n{report}");
    let expected: Vec<(&str, usize)> = deviations.to_vec();
    let used: Vec<(&str, usize)> = report.deviations_used.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(used, expected, "\n{report}");
    assert_documented(report);
}

/// A chart Pod wrapped in the batch/v1 Job our renderer emits for it.
fn as_job(pod: &Value) -> Value {
    json!({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": pod["metadata"],
        "spec": {
            "ttlSecondsAfterFinished": 86400,
            "backoffLimit": 0,
            "template": {
                "metadata": {
                    "name": pod["metadata"]["name"],
                    "labels": pod["metadata"]["labels"],
                },
                "spec": pod["spec"],
            }
        }
    })
}

fn is_project_ingress(o: &Value) -> bool {
    o["kind"] == "Ingress"
        && o["metadata"]["name"]
            .as_str()
            .is_some_and(|n| n.starts_with("devstats-ingress-"))
        && o["metadata"]["name"] != "devstats-ingress-1"
}

fn bucket(o: &Value) -> usize {
    o["metadata"]["name"]
        .as_str()
        .and_then(|n| n.strip_prefix("devstats-ingress-"))
        .and_then(|n| n.parse().ok())
        .expect("project ingress number")
}

/// What a renderer serving every project but `dropped` emits: the chart render without the
/// per-project objects of `dropped` (except PVCs of `keep_pvc`), and with the project Ingress
/// hosts re-packed in the chart's order into buckets of 35.
fn without_projects(objs: &[Value], dropped: &[&str], keep_pvc: bool) -> Vec<Value> {
    let dropped_obj = |o: &Value| {
        o["metadata"]["labels"]["proj"]
            .as_str()
            .is_some_and(|p| dropped.contains(&p))
            && !(keep_pvc && o["kind"] == "PersistentVolumeClaim")
    };
    let mut ings: Vec<&Value> = objs.iter().filter(|o| is_project_ingress(o)).collect();
    ings.sort_by_key(|o| bucket(o));
    let template = ings[0].clone();
    let rules: Vec<Value> = ings
        .iter()
        .flat_map(|i| i["spec"]["rules"].as_array().cloned().unwrap_or_default())
        .filter(|r| {
            let svc = &r["http"]["paths"][0]["backend"]["service"]["name"];
            !dropped.iter().any(|p| *svc == format!("devstats-service-{p}"))
        })
        .collect();
    let mut out: Vec<Value> = objs
        .iter()
        .filter(|o| !dropped_obj(o) && !is_project_ingress(o))
        .cloned()
        .collect();
    for (i, chunk) in rules.chunks(35).enumerate() {
        let n = 2 + i;
        let mut ing = template.clone();
        ing["metadata"]["name"] = json!(format!("devstats-ingress-{n}"));
        let hosts: Vec<&Value> = chunk.iter().map(|r| &r["host"]).collect();
        ing["spec"]["tls"] = json!([{ "hosts": hosts, "secretName": format!("devstats-tls-{n}") }]);
        ing["spec"]["rules"] = json!(chunk);
        out.push(ing);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Loading and self-comparison
// ---------------------------------------------------------------------------------------------

#[test]
fn loads_every_object_of_the_full_renders() {
    for (render, ns) in [(prod(), PROD_NS), (test_render(), TEST_NS)] {
        assert_eq!(render.len(), 1735);
        let mut kinds = std::collections::BTreeMap::<&str, usize>::new();
        for o in render {
            *kinds.entry(o["kind"].as_str().expect("kind")).or_default() += 1;
        }
        let expected = [
            ("CronJob", 567),
            ("Deployment", 289),
            ("Endpoints", 1),
            ("Ingress", 9),
            ("Namespace", 2),
            ("PersistentVolumeClaim", 284),
            ("Pod", 284),
            ("Role", 1),
            ("RoleBinding", 1),
            ("Secret", 3),
            ("Service", 292),
            ("ServiceAccount", 1),
            ("StatefulSet", 1),
        ];
        assert_eq!(kinds.into_iter().collect::<Vec<_>>(), expected);
        let pvc = find(render, "PersistentVolumeClaim", "devstats-pvc-kubernetes");
        assert_eq!(pvc["metadata"]["namespace"], ns);
    }
    // Helm's float rendering survives parsing as a string.
    let sts = find(prod(), "StatefulSet", "devstats-postgres");
    let c = &sts["spec"]["template"]["spec"]["containers"][0];
    let i = env_index(c, "PATRONI_MAXIMUM_LAG_ON_FAILOVER");
    assert_eq!(c["env"][i]["value"], "5.36870912e+10");
}

#[test]
fn prod_render_matches_itself() {
    let report = compare(prod(), prod(), &prod_ctx());
    assert_clean_with(&report, &[]);
    assert_eq!(report.compared, 1735);
}

#[test]
fn test_render_matches_itself() {
    let report = compare(test_render(), test_render(), &ParityContext::new(TEST_NS));
    assert_clean_with(&report, &[]);
    assert_eq!(report.compared, 1735);
}

#[test]
fn samples_render_matches_itself() {
    let samples = load_chart_render(&fixture("rendered-samples-prod.yaml"));
    assert_eq!(samples.len(), 31);
    let report = compare(&samples, &samples, &prod_ctx());
    assert_clean_with(&report, &[]);
}

#[test]
fn test_and_prod_renders_differ() {
    // The two fixtures are different instances: nothing matches across namespaces.
    let report = compare(prod(), test_render(), &prod_ctx());
    assert!(!report.is_clean());
    assert_has(
        &report,
        "CronJob devstats-prod/devstats-kubernetes: missing from our render",
    );
}

// ---------------------------------------------------------------------------------------------
// Mutations that must be reported
// ---------------------------------------------------------------------------------------------

#[test]
fn changed_cronjob_env_value_is_flagged() {
    let c = &find(prod(), "CronJob", "devstats-kubernetes")["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        ["containers"][0];
    let i = env_index(c, "GIANT");
    let ptr = format!("/spec/jobTemplate/spec/template/spec/containers/0/env/{i}/value");
    let (ours, old) = with_value("CronJob", "devstats-kubernetes", &ptr, json!("lock"));
    assert_eq!(old, "wait");
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &[format!(
            "CronJob devstats-prod/devstats-kubernetes: {ptr}: chart \"wait\" != ours \"lock\""
        )],
    );
}

#[test]
fn changed_deployment_image_is_flagged() {
    let ptr = "/spec/template/spec/containers/0/image";
    let (ours, old) = with_value(
        "Deployment",
        "devstats-grafana-kubernetes",
        ptr,
        json!("lukaszgryglicki/devstats-grafana:v2"),
    );
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &[format!(
            "Deployment devstats-prod/devstats-grafana-kubernetes: {ptr}: chart {old} != ours \"lukaszgryglicki/devstats-grafana:v2\""
        )],
    );
}

#[test]
fn changed_schedule_is_flagged() {
    let (ours, old) = with_value(
        "CronJob",
        "devstats-affiliations-kubernetes",
        "/spec/schedule",
        json!("0 0 * * *"),
    );
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &[format!(
            "CronJob devstats-prod/devstats-affiliations-kubernetes: /spec/schedule: chart {old} != ours \"0 0 * * *\""
        )],
    );
}

#[test]
fn changed_suspend_is_flagged() {
    let ours = mutated("CronJob", "devstats-kubernetes", |o| {
        o["spec"]["suspend"] = json!(true)
    });
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &[
            "CronJob devstats-prod/devstats-kubernetes: /spec/suspend: chart <absent> != ours true"
                .to_owned(),
        ],
    );
}

#[test]
fn changed_ingress_host_is_flagged() {
    let (ours, old) = with_value(
        "Ingress",
        "devstats-ingress-3",
        "/spec/rules/4/host",
        json!("evil.devstats.cncf.io"),
    );
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &[format!(
            "Ingress devstats-prod/devstats-ingress-3: /spec/rules/4/host: chart {old} != ours \"evil.devstats.cncf.io\""
        )],
    );
    let (ours, old) = with_value(
        "Ingress",
        "devstats-ingress-1",
        "/spec/tls/0/hosts/1",
        json!("devstats.example.org"),
    );
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &[format!(
            "Ingress devstats-prod/devstats-ingress-1: /spec/tls/0/hosts/1: chart {old} != ours \"devstats.example.org\""
        )],
    );
}

#[test]
fn changed_volume_claim_is_flagged() {
    let ptr = "/spec/jobTemplate/spec/template/spec/volumes/0/persistentVolumeClaim/claimName";
    let (ours, old) = with_value("CronJob", "devstats-kubernetes", ptr, json!("devstats-pvc-all"));
    assert_eq!(old, "devstats-pvc-kubernetes");
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &[format!(
            "CronJob devstats-prod/devstats-kubernetes: {ptr}: chart \"devstats-pvc-kubernetes\" != ours \"devstats-pvc-all\""
        )],
    );
}

#[test]
fn changed_port_is_flagged() {
    let (ours, old) = with_value(
        "Service",
        "devstats-service-kubernetes",
        "/spec/ports/0/targetPort",
        json!(3001),
    );
    assert_eq!(old, 3000);
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &["Service devstats-prod/devstats-service-kubernetes: /spec/ports/0/targetPort: chart 3000 != ours 3001"
            .to_owned()],
    );
    let ptr = "/spec/template/spec/containers/0/ports/0/containerPort";
    let (ours, _) = with_value("Deployment", "devstats-grafana-kubernetes", ptr, json!(3001));
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &[format!(
            "Deployment devstats-prod/devstats-grafana-kubernetes: {ptr}: chart 3000 != ours 3001"
        )],
    );
}

#[test]
fn removed_env_var_is_flagged() {
    let base = "/spec/template/spec/containers/0/env";
    let c = &find(prod(), "Deployment", "devstats-grafana-kubernetes")["spec"]["template"]["spec"]["containers"]
        [0];
    let i = env_index(c, "PG_DB");
    let ours = mutated("Deployment", "devstats-grafana-kubernetes", |o| {
        at(o, base).as_array_mut().expect("env").remove(i);
    });
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &[format!(
            "Deployment devstats-prod/devstats-grafana-kubernetes: {base}/{i}/name: chart \"PG_DB\" != ours <absent>"
        )],
    );
}

#[test]
fn added_env_var_is_flagged() {
    let base = "/spec/jobTemplate/spec/template/spec/containers/0/env";
    let ours = mutated("CronJob", "devstats-kubernetes", |o| {
        at(o, base)
            .as_array_mut()
            .expect("env")
            .push(json!({"name": "EXTRA", "value": "1"}));
    });
    let n = find(&ours, "CronJob", "devstats-kubernetes")
        .pointer(base)
        .and_then(Value::as_array)
        .map(Vec::len)
        .expect("env");
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &[format!(
            "CronJob devstats-prod/devstats-kubernetes: {base}/{}/name: chart <absent> != ours \"EXTRA\"",
            n - 1
        )],
    );
}

#[test]
fn reordered_env_vars_are_flagged() {
    let base = "/spec/template/spec/containers/0/env";
    let ours = mutated("Deployment", "devstats-grafana-kubernetes", |o| {
        at(o, base).as_array_mut().expect("env").swap(0, 1);
    });
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &[format!(
            "Deployment devstats-prod/devstats-grafana-kubernetes: {base}/0/name: chart \"ICON\" != ours \"ORGNAME\" (order differs: ours has \"ICON\" at index 1)"
        )],
    );
}

#[test]
fn added_pod_template_label_is_flagged() {
    let ours = mutated("Deployment", "devstats-grafana-kubernetes", |o| {
        o["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/managed-by"] = json!("devstats-k8s");
    });
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &["Deployment devstats-prod/devstats-grafana-kubernetes: /spec/template/metadata/labels/app.kubernetes.io~1managed-by: chart <absent> != ours \"devstats-k8s\"".to_owned()],
    );
    // The same inside a CronJob's pod template, and a pod-template annotation.
    let ours = mutated("CronJob", "devstats-kubernetes", |o| {
        o["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["annotations"] = json!({"checksum": "x"});
    });
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &["CronJob devstats-prod/devstats-kubernetes: /spec/jobTemplate/spec/template/metadata/annotations: chart <absent> != ours {\"checksum\":\"x\"}".to_owned()],
    );
}

#[test]
fn object_labels_may_be_added_but_not_changed_or_removed() {
    let ours = mutated("Deployment", "devstats-grafana-kubernetes", |o| {
        let labels = &mut o["metadata"]["labels"];
        labels["app.kubernetes.io/managed-by"] = json!("devstats-k8s");
        labels["app.kubernetes.io/name"] = json!("grafana");
    });
    let report = compare(prod(), &ours, &prod_ctx());
    assert_clean_with(&report, &[(RECOMMENDED_LABELS, 1)]);

    let ours = mutated("Deployment", "devstats-grafana-kubernetes", |o| {
        o["metadata"]["labels"]["team"] = json!("x")
    });
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &["Deployment devstats-prod/devstats-grafana-kubernetes: /metadata/labels/team: chart <absent> != ours \"x\""
            .to_owned()],
    );

    let ours = mutated("Service", "devstats-service-kubernetes", |o| {
        o["metadata"]["labels"]
            .as_object_mut()
            .expect("labels")
            .remove("proj");
        o["metadata"]["labels"]["type"] = json!("grafana-service");
    });
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &[
            "Service devstats-prod/devstats-service-kubernetes: /metadata/labels/proj: chart \"kubernetes\" != ours <absent>"
                .to_owned(),
            "Service devstats-prod/devstats-service-kubernetes: /metadata/labels/type: chart \"service\" != ours \"grafana-service\""
                .to_owned(),
        ],
    );

    let (ours, _) = with_value(
        "Service",
        "devstats-service-kubernetes",
        "/spec/selector/proj",
        json!("k8s"),
    );
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &["Service devstats-prod/devstats-service-kubernetes: /spec/selector/proj: chart \"kubernetes\" != ours \"k8s\""
            .to_owned()],
    );
}

#[test]
fn object_annotations_may_be_added_but_chart_ones_must_stay() {
    let ours = mutated("CronJob", "devstats-kubernetes", |o| {
        o["metadata"]["annotations"] = json!({"devstats.cncf.io/model-hash": "abc"});
        o["spec"]["jobTemplate"]["metadata"] =
            json!({"labels": {"app.kubernetes.io/managed-by": "devstats-k8s"}});
    });
    let report = compare(prod(), &ours, &prod_ctx());
    assert_clean_with(&report, &[(ADDED_ANNOTATIONS, 1), (RECOMMENDED_LABELS, 1)]);

    let ours = mutated("Ingress", "devstats-ingress-1", |o| {
        o["metadata"]["annotations"]["cert-manager.io/issuer"] = json!("letsencrypt-test");
    });
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &["Ingress devstats-prod/devstats-ingress-1: /metadata/annotations/cert-manager.io~1issuer: chart \"letsencrypt-prod\" != ours \"letsencrypt-test\"".to_owned()],
    );
}

// ---------------------------------------------------------------------------------------------
// Equivalences
// ---------------------------------------------------------------------------------------------

#[test]
fn quantities_compare_by_value() {
    let res = "/spec/template/spec/containers/0/resources";
    let ours = mutated("Deployment", "devstats-grafana-kubernetes", |o| {
        *at(o, &format!("{res}/limits/cpu")) = json!("1");
        *at(o, &format!("{res}/limits/memory")) = json!("2048Mi");
        *at(o, &format!("{res}/requests/cpu")) = json!("0.05");
    });
    let report = compare(prod(), &ours, &prod_ctx());
    assert_clean_with(&report, &[]);

    let ours = mutated("Deployment", "devstats-grafana-kubernetes", |o| {
        *at(o, &format!("{res}/limits/cpu")) = json!("1001m");
    });
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &[format!(
            "Deployment devstats-prod/devstats-grafana-kubernetes: {res}/limits/cpu: chart \"1000m\" != ours \"1001m\""
        )],
    );

    let ptr = "/spec/resources/requests/storage";
    let (ours, _) = with_value(
        "PersistentVolumeClaim",
        "devstats-pvc-kubernetes",
        ptr,
        json!("1Mi"),
    );
    let report = compare(prod(), &ours, &prod_ctx());
    assert_eq!(report.unexplained.len(), 1, "{report}");
    assert_has(
        &report,
        &format!("PersistentVolumeClaim devstats-prod/devstats-pvc-kubernetes: {ptr}: chart"),
    );

    let ptr = "/spec/volumeClaimTemplates/0/spec/resources/requests/storage";
    let (ours, _) = with_value("StatefulSet", "devstats-postgres", ptr, json!("23000Gi"));
    assert_clean_with(&compare(prod(), &ours, &prod_ctx()), &[]);
    let (ours, _) = with_value("StatefulSet", "devstats-postgres", ptr, json!("23T"));
    assert_unexplained(
        &compare(prod(), &ours, &prod_ctx()),
        &[format!(
            "StatefulSet devstats-prod/devstats-postgres: {ptr}: chart \"23000Gi\" != ours \"23T\""
        )],
    );
}

#[test]
fn quantity_parsing() {
    let q = |s: &str| parse_quantity(s).unwrap_or_else(|| panic!("{s} is a quantity"));
    let same = |a: &str, b: &str| quantity_eq(q(a), q(b));
    assert!(same("1000m", "1"));
    assert!(same("0.5", "500m"));
    assert!(same("4Gi", "4096Mi"));
    assert!(same("1Ti", "1024Gi"));
    assert!(same("1e3", "1k"));
    assert!(same("160000m", "160"));
    assert!(same("1E", "1000P"));
    assert!(!same("1000m", "1001m"));
    assert!(!same("1Gi", "1G"));
    assert_eq!(parse_quantity("abc"), None);
    assert_eq!(parse_quantity(""), None);
}

#[test]
fn api_defaults_are_equivalent() {
    let ours = mutated("Service", "devstats-postgres-ro", |o| {
        o["spec"]["type"] = json!("ClusterIP");
        for p in o["spec"]["ports"].as_array_mut().expect("ports") {
            p["protocol"] = json!("TCP");
            p["targetPort"] = p["port"].clone();
        }
    });
    let ours = {
        let mut ours = ours;
        let api = find_mut(&mut ours, "Service", "devstats-api-service");
        api["spec"]["ports"][0]
            .as_object_mut()
            .expect("port")
            .remove("protocol");
        let grafana = find_mut(&mut ours, "Deployment", "devstats-grafana-kubernetes");
        grafana["spec"]["template"]["spec"]
            .as_object_mut()
            .expect("spec")
            .remove("restartPolicy");
        grafana["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = json!("TCP");
        let static_default = find_mut(&mut ours, "Deployment", "devstats-static-default");
        static_default["spec"]["template"]["spec"]["restartPolicy"] = json!("Always");
        let pg = find_mut(&mut ours, "Secret", "pg-db");
        pg.as_object_mut().expect("secret").remove("type");
        let sts = find_mut(&mut ours, "StatefulSet", "devstats-postgres");
        sts["spec"]["volumeClaimTemplates"][0]["apiVersion"] = json!("v1");
        sts["spec"]["volumeClaimTemplates"][0]["kind"] = json!("PersistentVolumeClaim");
        ours
    };
    let report = compare(prod(), &ours, &prod_ctx());
    assert_clean_with(&report, &[]);

    // A non-default value is still a difference.
    let (ours, _) = with_value(
        "Service",
        "devstats-service-kubernetes",
        "/spec/ports/0/protocol",
        json!("UDP"),
    );
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &["Service devstats-prod/devstats-service-kubernetes: /spec/ports/0/protocol: chart \"TCP\" != ours \"UDP\""
            .to_owned()],
    );
    let ours = mutated("StatefulSet", "devstats-postgres", |o| {
        o["spec"]["volumeClaimTemplates"][0]["apiVersion"] = json!("v2");
    });
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &["StatefulSet devstats-prod/devstats-postgres: /spec/volumeClaimTemplates/0/apiVersion: chart \"v1\" != ours \"v2\"".to_owned()],
    );
    let ours = mutated("Service", "devstats-postgres", |o| {
        o["spec"]["type"] = json!("NodePort")
    });
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &[
            "Service devstats-prod/devstats-postgres: /spec/type: chart \"ClusterIP\" != ours \"NodePort\""
                .to_owned(),
        ],
    );
}

#[test]
fn pod_template_name_and_namespace_are_ignored_status_too() {
    let ours = mutated("Deployment", "devstats-grafana-kubernetes", |o| {
        o["spec"]["template"]["metadata"]["namespace"] = json!("elsewhere");
        o["spec"]["template"]["metadata"]["name"] = json!("whatever");
        o["status"] = json!({"replicas": 1});
    });
    assert_clean_with(&compare(prod(), &ours, &prod_ctx()), &[]);
    // ...but not the object's own namespace.
    let ours = mutated("Deployment", "devstats-grafana-kubernetes", |o| {
        o["metadata"]["namespace"] = json!("devstats-test");
    });
    let report = compare(prod(), &ours, &prod_ctx());
    assert_eq!(
        report.unexplained,
        [
            "Deployment devstats-prod/devstats-grafana-kubernetes: missing from our render (the chart renders it)"
        ]
    );
    assert_eq!(
        report.extra_ours,
        ["Deployment devstats-test/devstats-grafana-kubernetes"]
    );
}

#[test]
fn empty_env_values_are_equivalent() {
    let base = "/spec/template/spec/containers/0/env";
    let c = &find(prod(), "Deployment", "devstats-grafana-kubernetes")["spec"]["template"]["spec"]["containers"]
        [0];
    let ga = env_index(c, "GA");
    assert_eq!(c["env"][ga]["value"], Value::Null);
    // value: null -> ""
    let (ours, _) = with_value(
        "Deployment",
        "devstats-grafana-kubernetes",
        &format!("{base}/{ga}/value"),
        json!(""),
    );
    assert_clean_with(&compare(prod(), &ours, &prod_ctx()), &[(NULL_ENV_VALUES, 1)]);
    // value: null -> no value
    let ours = mutated("Deployment", "devstats-grafana-kubernetes", |o| {
        at(o, &format!("{base}/{ga}"))
            .as_object_mut()
            .expect("env var")
            .remove("value");
    });
    assert_clean_with(&compare(prod(), &ours, &prod_ctx()), &[(NULL_ENV_VALUES, 1)]);
    // env: null -> no env
    let ours = mutated("Deployment", "devstats-static-default", |o| {
        o["spec"]["template"]["spec"]["containers"][0]
            .as_object_mut()
            .expect("container")
            .remove("env");
    });
    assert_clean_with(&compare(prod(), &ours, &prod_ctx()), &[(NULL_ENV_VALUES, 1)]);
    // a real value is a difference
    let (ours, _) = with_value(
        "Deployment",
        "devstats-grafana-kubernetes",
        &format!("{base}/{ga}/value"),
        json!("UA-1"),
    );
    assert_unexplained(
        &compare(prod(), &ours, &prod_ctx()),
        &[format!(
            "Deployment devstats-prod/devstats-grafana-kubernetes: {base}/{ga}/value: chart <absent> != ours \"UA-1\""
        )],
    );
    // and so is a non-empty env where the chart has env: null
    let ours = mutated("Deployment", "devstats-static-default", |o| {
        o["spec"]["template"]["spec"]["containers"][0]["env"] = json!([{"name": "A", "value": "1"}]);
    });
    assert_unexplained(
        &compare(prod(), &ours, &prod_ctx()),
        &["Deployment devstats-prod/devstats-static-default: /spec/template/spec/containers/0/env: chart <absent> != ours [{\"name\":\"A\",\"value\":\"1\"}]".to_owned()],
    );
}

#[test]
fn integer_env_value_is_accepted_only_as_the_float_rendering() {
    assert_eq!(go_float_string(53_687_091_200), "5.36870912e+10");
    assert_eq!(go_float_string(1024), "1024");
    assert_eq!(go_float_string(1_000_000), "1e+06");
    assert_eq!(go_float_string(999_999), "999999");
    let c = &find(prod(), "StatefulSet", "devstats-postgres")["spec"]["template"]["spec"]["containers"][0];
    let i = env_index(c, "PATRONI_MAXIMUM_LAG_ON_FAILOVER");
    let ptr = format!("/spec/template/spec/containers/0/env/{i}/value");
    let (ours, _) = with_value("StatefulSet", "devstats-postgres", &ptr, json!("53687091200"));
    assert_clean_with(&compare(prod(), &ours, &prod_ctx()), &[(INTEGER_ENV_VALUES, 1)]);
    let (ours, _) = with_value("StatefulSet", "devstats-postgres", &ptr, json!("53687091201"));
    assert_unexplained(
        &compare(prod(), &ours, &prod_ctx()),
        &[format!(
            "StatefulSet devstats-prod/devstats-postgres: {ptr}: chart \"5.36870912e+10\" != ours \"53687091201\""
        )],
    );
    // Other env vars get no such leeway: "1024" vs "1024.0" is a difference.
    let j = env_index(c, "PATRONI_POSTGRES_MAX_CONN");
    let ptr = format!("/spec/template/spec/containers/0/env/{j}/value");
    let (ours, _) = with_value("StatefulSet", "devstats-postgres", &ptr, json!("1024.0"));
    assert_eq!(compare(prod(), &ours, &prod_ctx()).unexplained.len(), 1);
}

#[test]
fn patroni_retry_timeout_may_only_be_lowered_to_satisfy_the_ttl_rule() {
    let c = &find(prod(), "StatefulSet", "devstats-postgres")["spec"]["template"]["spec"]["containers"][0];
    let env = |var: &str| format!("/spec/template/spec/containers/0/env/{}/value", env_index(c, var));
    let retry = env("PATRONI_RETRY_TIMEOUT");
    let sts = |changes: &[(&str, &str)]| {
        let mut ours = prod().to_vec();
        let o = find_mut(&mut ours, "StatefulSet", "devstats-postgres");
        for (ptr, v) in changes {
            *at(o, ptr) = json!(v);
        }
        compare(prod(), &ours, &prod_ctx())
    };
    // chart: loop_wait 15, ttl 60, retry_timeout 60 (15 + 2 × 60 > 60)
    assert_clean_with(&sts(&[(&retry, "22")]), &[(PATRONI_TIMING, 1)]);
    assert_clean_with(&sts(&[(&retry, "20")]), &[(PATRONI_TIMING, 1)]);
    let id = "StatefulSet devstats-prod/devstats-postgres";
    assert_unexplained(
        &sts(&[(&retry, "23")]),
        &[format!("{id}: {retry}: chart \"60\" != ours \"23\"")],
    );
    // Only with the chart's loop_wait and ttl.
    let ttl = env("PATRONI_TTL");
    assert_unexplained(
        &sts(&[(&retry, "22"), (&ttl, "70")]),
        &[
            format!("{id}: {ttl}: chart \"60\" != ours \"70\""),
            format!("{id}: {retry}: chart \"60\" != ours \"22\""),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Provision Pods as Jobs
// ---------------------------------------------------------------------------------------------

fn with_provision_jobs() -> Vec<Value> {
    prod()
        .iter()
        .map(|o| {
            let is_provision = o["kind"] == "Pod"
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("devstats-provision-"));
            if is_provision { as_job(o) } else { o.clone() }
        })
        .collect()
}

#[test]
fn provision_pods_may_be_jobs() {
    let ours = with_provision_jobs();
    assert!(ours.iter().all(|o| o["kind"] != "Pod"));
    let report = compare(prod(), &ours, &prod_ctx());
    assert_clean_with(&report, &[(PROVISION_AS_JOB, 284)]);
    assert_eq!(report.compared, 1735);

    // Recommended labels on the Job object (not its pod template) are fine.
    let mut ours = with_provision_jobs();
    find_mut(&mut ours, "Job", "devstats-provision-bootstrap")["metadata"]["labels"]["app.kubernetes.io/managed-by"] =
        json!("devstats-k8s");
    let report = compare(prod(), &ours, &prod_ctx());
    assert_clean_with(&report, &[(PROVISION_AS_JOB, 284), (RECOMMENDED_LABELS, 1)]);
}

#[test]
fn provision_jobs_are_compared_strictly() {
    let id = "Pod→Job devstats-prod/devstats-provision-kubernetes";
    let job = |f: &dyn Fn(&mut Value)| {
        let mut ours = with_provision_jobs();
        f(find_mut(&mut ours, "Job", "devstats-provision-kubernetes"));
        compare(prod(), &ours, &prod_ctx())
    };
    let report = job(&|j| j["spec"]["template"]["spec"]["containers"][0]["image"] = json!("busybox"));
    assert_unexplained(
        &report,
        &[format!(
            "{id}: /spec/template/spec/containers/0/image: chart \"lukaszgryglicki/devstats-prod\" != ours \"busybox\""
        )],
    );
    let report = job(&|j| j["spec"]["template"]["spec"]["restartPolicy"] = json!("OnFailure"));
    assert_unexplained(
        &report,
        &[format!(
            "{id}: /spec/template/spec/restartPolicy: chart \"Never\" != ours \"OnFailure\""
        )],
    );
    let report = job(&|j| j["spec"]["activeDeadlineSeconds"] = json!(3600));
    assert_unexplained(
        &report,
        &[format!(
            "{id}: /spec/activeDeadlineSeconds: chart <absent> != ours 3600"
        )],
    );
    let report = job(&|j| j["spec"]["template"]["metadata"]["labels"]["job"] = json!("x"));
    assert_unexplained(
        &report,
        &[format!(
            "{id}: /spec/template/metadata/labels/job: chart <absent> != ours \"x\""
        )],
    );
    let report = job(&|j| {
        j["spec"]["template"]["metadata"]["labels"]
            .as_object_mut()
            .expect("labels")
            .remove("proj");
    });
    assert_unexplained(
        &report,
        &[format!(
            "{id}: /spec/template/metadata/labels/proj: chart \"kubernetes\" != ours <absent>"
        )],
    );
    let report = job(&|j| j["apiVersion"] = json!("batch/v2"));
    assert_unexplained(
        &report,
        &[format!(
            "{id}: /apiVersion: chart \"batch/v1\" != ours \"batch/v2\""
        )],
    );
}

// ---------------------------------------------------------------------------------------------
// Missing objects
// ---------------------------------------------------------------------------------------------

#[test]
fn not_served_projects_may_be_missing_only_when_listed() {
    // Prometheus has Ingress hosts too: dropping it re-buckets the project Ingresses.
    let ours = without_projects(prod(), &["prometheus"], false);
    assert_eq!(ours.len(), prod().len() - 6);

    let report = compare(prod(), &ours, &prod_ctx());
    for (kind, name) in [
        ("CronJob", "devstats-affiliations-prometheus"),
        ("CronJob", "devstats-prometheus"),
        ("Deployment", "devstats-grafana-prometheus"),
        ("PersistentVolumeClaim", "devstats-pvc-prometheus"),
        ("Pod", "devstats-provision-prometheus"),
        ("Service", "devstats-service-prometheus"),
    ] {
        assert_has(
            &report,
            &format!("{kind} devstats-prod/{name}: missing from our render (the chart renders it)"),
        );
    }
    // Without the context the moved hosts are plain differences too.
    assert_has(
        &report,
        "Ingress devstats-prod/devstats-ingress-2: /spec/rules/1/host: chart \"prometheus.devstats.cncf.io\"",
    );

    // Listing another project does not help.
    let report = compare(prod(), &ours, &prod_ctx().not_served("fluentd"));
    assert_has(
        &report,
        "Service devstats-prod/devstats-service-prometheus: missing from our render",
    );

    let report = compare(prod(), &ours, &prod_ctx().not_served("prometheus"));
    assert_clean_with(&report, &[(INGRESS_HOSTS, 1), (SERVED_PROJECTS_ONLY, 6)]);
}

#[test]
fn test_only_projects_are_not_served_by_prod() {
    let ours = without_projects(prod(), TEST_ONLY, false);
    let ctx = TEST_ONLY.iter().fold(prod_ctx(), |ctx, p| ctx.not_served(*p));
    let report = compare(prod(), &ours, &ctx);
    assert_clean_with(
        &report,
        &[(INGRESS_HOSTS, 1), (SERVED_PROJECTS_ONLY, 6 * TEST_ONLY.len())],
    );
}

#[test]
fn archived_projects_keep_their_pvc() {
    // rkt is archived with domains [0,0,0,0]: no Ingress host, so no re-bucketing.
    let ours = without_projects(prod(), &["rkt"], true);
    assert_eq!(ours.len(), prod().len() - 5);
    assert_clean_with(
        &compare(prod(), &ours, &prod_ctx().archived("rkt")),
        &[(SERVED_PROJECTS_ONLY, 5)],
    );
    assert_clean_with(
        &compare(prod(), &ours, &prod_ctx().not_served("rkt")),
        &[(SERVED_PROJECTS_ONLY, 5)],
    );

    let ours = without_projects(prod(), &["rkt"], false);
    assert_clean_with(
        &compare(prod(), &ours, &prod_ctx().not_served("rkt")),
        &[(SERVED_PROJECTS_ONLY, 6)],
    );
    let report = compare(prod(), &ours, &prod_ctx().archived("rkt"));
    assert_unexplained(
        &report,
        &["PersistentVolumeClaim devstats-prod/devstats-pvc-rkt: missing from our render (the chart renders it)"
            .to_owned()],
    );
}

#[test]
fn only_the_instance_namespace() {
    let drop_ns = |name: &str| -> Vec<Value> {
        prod()
            .iter()
            .filter(|o| !(o["kind"] == "Namespace" && o["metadata"]["name"] == name))
            .cloned()
            .collect()
    };
    let report = compare(prod(), &drop_ns(TEST_NS), &prod_ctx());
    assert_clean_with(&report, &[(INSTANCE_NAMESPACE_ONLY, 1)]);
    let report = compare(prod(), &drop_ns(PROD_NS), &prod_ctx());
    assert_unexplained(
        &report,
        &["Namespace devstats-prod: missing from our render (the chart renders it)".to_owned()],
    );
}

#[test]
fn secrets_may_be_missing_unless_rendered() {
    let no_secrets: Vec<Value> = prod().iter().filter(|o| o["kind"] != "Secret").cloned().collect();
    assert_eq!(no_secrets.len(), prod().len() - 3);
    assert_clean_with(
        &compare(prod(), &no_secrets, &prod_ctx()),
        &[(SECRETS_NOT_RENDERED, 3)],
    );

    let rendered = prod_ctx().with_secrets_rendered(true);
    let report = compare(prod(), &no_secrets, &rendered);
    assert_eq!(report.unexplained.len(), 3, "{report}");
    assert_has(&report, "Secret devstats-prod/pg-db: missing from our render");

    // Rendered secrets compare by keys only, data or stringData alike.
    let ours = mutated("Secret", "pg-db", |s| {
        for v in s["data"].as_object_mut().expect("data").values_mut() {
            *v = json!("cmVhbA==");
        }
    });
    let ours = {
        let mut ours = ours;
        let gh = find_mut(&mut ours, "Secret", "github-oauth");
        let data = gh.as_object_mut().expect("secret").remove("data").expect("data");
        gh["stringData"] = json!({ "GHA2DB_GITHUB_OAUTH.secret": "token" });
        assert!(data.get("GHA2DB_GITHUB_OAUTH.secret").is_some());
        ours
    };
    assert_clean_with(&compare(prod(), &ours, &rendered), &[]);
    let ours = mutated("Secret", "grafana-secret", |s| {
        s["data"]
            .as_object_mut()
            .expect("data")
            .remove("GF_SECURITY_ADMIN_PASSWORD.secret");
    });
    assert_unexplained(
        &compare(prod(), &ours, &rendered),
        &["Secret devstats-prod/grafana-secret: /data/GF_SECURITY_ADMIN_PASSWORD.secret: chart \"<value not compared>\" != ours <absent>".to_owned()],
    );
}

#[test]
fn extra_objects_are_reported_unless_their_kind_is_allowed() {
    let mut ours = prod().to_vec();
    ours.push(json!({
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"namespace": PROD_NS, "name": "devstats-postgres"},
        "spec": {"maxUnavailable": 1},
    }));
    let report = compare(prod(), &ours, &prod_ctx());
    assert!(report.unexplained.is_empty());
    assert_eq!(
        report.extra_ours,
        ["PodDisruptionBudget devstats-prod/devstats-postgres"]
    );
    assert!(!report.is_clean());
    let report = compare(prod(), &ours, &prod_ctx().allow_extra_kind("PodDisruptionBudget"));
    assert!(report.is_clean(), "{report}");
    assert_eq!(
        report.allowed_extra,
        ["PodDisruptionBudget devstats-prod/devstats-postgres"]
    );
}

#[test]
fn duplicate_and_missing_objects_are_reported() {
    let mut ours = prod().to_vec();
    ours.push(find(prod(), "Service", "devstats-api-service").clone());
    let i = ours.iter().position(|o| o["kind"] == "StatefulSet").expect("sts");
    ours.remove(i);
    let report = compare(prod(), &ours, &prod_ctx());
    assert_unexplained(
        &report,
        &[
            "Service devstats-prod/devstats-api-service: rendered twice in our render".to_owned(),
            "StatefulSet devstats-prod/devstats-postgres: missing from our render (the chart renders it)"
                .to_owned(),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Project Ingress buckets
// ---------------------------------------------------------------------------------------------

fn test_only_ctx() -> ParityContext {
    TEST_ONLY.iter().fold(prod_ctx(), |ctx, p| ctx.not_served(*p))
}

#[test]
fn regrouped_ingresses_are_still_strict() {
    let base = without_projects(prod(), TEST_ONLY, false);
    let ctx = test_only_ctx();
    let run = |f: &dyn Fn(&mut Vec<Value>)| {
        let mut ours = base.clone();
        f(&mut ours);
        compare(prod(), &ours, &ctx)
    };

    // A changed host: the chart's rule is missing, ours is unknown, and it has no TLS.
    let report = run(&|o| {
        find_mut(o, "Ingress", "devstats-ingress-2")["spec"]["rules"][0]["host"] =
            json!("evil.devstats.cncf.io");
    });
    assert_has(
        &report,
        "Ingress devstats-prod/devstats-ingress-2: /spec/rules/0/host: chart \"k8s.devstats.cncf.io\" != ours <absent>",
    );
    assert_has(
        &report,
        "Ingress devstats-prod/devstats-ingress-2: /spec/rules/0/host: chart <absent> != ours \"evil.devstats.cncf.io\"",
    );
    assert_has(
        &report,
        "Ingress devstats-prod/devstats-ingress-2: /spec/tls/0/hosts: rule hosts without TLS [\"evil.devstats.cncf.io\"]",
    );

    // A changed backend.
    let report = run(&|o| {
        find_mut(o, "Ingress", "devstats-ingress-3")["spec"]["rules"][2]["http"]["paths"][0]["backend"]["service"]
            ["port"]["number"] = json!(8080);
    });
    assert_eq!(report.unexplained.len(), 2, "{report}");
    assert_has(
        &report,
        "Ingress devstats-prod/devstats-ingress-3: /spec/rules/2/host: chart <absent> != ours",
    );

    // A served project's host dropped (rule and TLS).
    let report = run(&|o| {
        let ing = find_mut(o, "Ingress", "devstats-ingress-4");
        ing["spec"]["rules"].as_array_mut().expect("rules").remove(0);
        ing["spec"]["tls"][0]["hosts"]
            .as_array_mut()
            .expect("hosts")
            .remove(0);
    });
    assert_eq!(report.unexplained.len(), 2, "{report}");
    assert_has(&report, "Ingress devstats-prod/devstats-ingress-");

    // 36 hosts in one certificate.
    let report = run(&|o| {
        let (rule, host) = {
            let ing3 = find_mut(o, "Ingress", "devstats-ingress-3");
            let rule = ing3["spec"]["rules"].as_array_mut().expect("rules").remove(0);
            let host = ing3["spec"]["tls"][0]["hosts"]
                .as_array_mut()
                .expect("hosts")
                .remove(0);
            (rule, host)
        };
        let ing2 = find_mut(o, "Ingress", "devstats-ingress-2");
        ing2["spec"]["rules"].as_array_mut().expect("rules").push(rule);
        ing2["spec"]["tls"][0]["hosts"]
            .as_array_mut()
            .expect("hosts")
            .push(host);
    });
    assert_unexplained(
        &report,
        &["Ingress devstats-prod/devstats-ingress-2: /spec/tls/0/hosts: 36 hosts, more than 35 per certificate".to_owned()],
    );

    // The same host routed by two buckets.
    let report = run(&|o| {
        let rule = find(o, "Ingress", "devstats-ingress-2")["spec"]["rules"][0].clone();
        let ing = find_mut(o, "Ingress", "devstats-ingress-8");
        ing["spec"]["tls"][0]["hosts"]
            .as_array_mut()
            .expect("hosts")
            .push(rule["host"].clone());
        ing["spec"]["rules"].as_array_mut().expect("rules").push(rule);
    });
    assert_unexplained(
        &report,
        &["Ingress devstats-prod/devstats-ingress-8: /spec/rules/34/host: rule k8s.devstats.cncf.io/ -> devstats-service-kubernetes:80 is also routed by Ingress devstats-prod/devstats-ingress-2".to_owned()],
    );

    // Wrong TLS secret, ingress class, annotation; a gap in the numbering.
    let report = run(&|o| {
        find_mut(o, "Ingress", "devstats-ingress-5")["spec"]["tls"][0]["secretName"] =
            json!("devstats-tls-1");
    });
    assert_unexplained(
        &report,
        &["Ingress devstats-prod/devstats-ingress-5: /spec/tls/0/secretName: chart \"devstats-tls-5\" != ours \"devstats-tls-1\"".to_owned()],
    );
    let report =
        run(&|o| find_mut(o, "Ingress", "devstats-ingress-6")["spec"]["ingressClassName"] = json!("nginx"));
    assert_unexplained(
        &report,
        &["Ingress devstats-prod/devstats-ingress-6: /spec/ingressClassName: chart \"nginx-prod\" != ours \"nginx\"".to_owned()],
    );
    let report = run(&|o| {
        find_mut(o, "Ingress", "devstats-ingress-2")["metadata"]["annotations"]
            .as_object_mut()
            .expect("annotations")
            .remove("cert-manager.io/issuer");
    });
    assert_unexplained(
        &report,
        &["Ingress devstats-prod/devstats-ingress-2: /metadata/annotations/cert-manager.io~1issuer: chart \"letsencrypt-prod\" != ours <absent>".to_owned()],
    );
    let report = run(&|o| {
        let last = o
            .iter_mut()
            .filter(|i| is_project_ingress(i))
            .max_by_key(|i| bucket(i))
            .expect("ingress");
        last["metadata"]["name"] = json!("devstats-ingress-12");
        last["spec"]["tls"][0]["secretName"] = json!("devstats-tls-12");
    });
    assert_unexplained(
        &report,
        &["Ingress devstats-prod/devstats-ingress-12: /metadata/name: chart \"devstats-ingress-8\" != ours \"devstats-ingress-12\" (project Ingresses must be numbered without gaps)".to_owned()],
    );
}

#[test]
fn buckets_may_not_move_when_no_host_left() {
    // The same 35-host buckets shuffled: with no absent project, project Ingresses compare
    // one by one, so moving hosts between certificates is a difference.
    let mut ours = prod().to_vec();
    let r2 = find(prod(), "Ingress", "devstats-ingress-2")["spec"]["rules"][0].clone();
    let r3 = find(prod(), "Ingress", "devstats-ingress-3")["spec"]["rules"][0].clone();
    find_mut(&mut ours, "Ingress", "devstats-ingress-2")["spec"]["rules"][0] = r3;
    find_mut(&mut ours, "Ingress", "devstats-ingress-3")["spec"]["rules"][0] = r2;
    let report = compare(prod(), &ours, &prod_ctx());
    assert_has(
        &report,
        "Ingress devstats-prod/devstats-ingress-2: /spec/rules/0/host: chart \"k8s.devstats.cncf.io\"",
    );

    // With an absent project that had hosts, a renderer that still routes them may not move
    // other hosts either.
    let report = compare(prod(), &ours, &prod_ctx().not_served("cncf"));
    assert_has(
        &report,
        "Ingress devstats-prod/devstats-ingress-2: /spec/rules: rule k8s.devstats.cncf.io/",
    );
}

// ---------------------------------------------------------------------------------------------
// Report and documentation
// ---------------------------------------------------------------------------------------------

#[test]
fn summary_shows_the_first_50_differences() {
    let mut ours = prod().to_vec();
    let mut n = 0;
    for o in ours.iter_mut().filter(|o| o["kind"] == "Deployment").take(60) {
        o["spec"]["replicas"] = json!(3);
        n += 1;
    }
    assert_eq!(n, 60);
    let report = compare(prod(), &ours, &prod_ctx());
    assert_eq!(report.unexplained.len(), 60);
    let summary = report.summary();
    assert!(summary.starts_with(
        "1735 object(s) compared, 60 unexplained difference(s), 0 unexpected extra object(s)\n"
    ));
    assert_eq!(
        summary
            .lines()
            .filter(|l| l.contains(": /spec/replicas: chart 1 != ours 3"))
            .count(),
        50
    );
    assert!(summary.contains("  ... and 10 more\n"), "{summary}");
}

#[test]
fn every_deviation_is_documented() {
    let documented = documented_ids();
    for d in DEVIATIONS {
        assert!(
            documented.contains(d.id),
            "`## {}` missing from docs/helm-parity.md",
            d.id
        );
        assert_eq!(deviation(d.id), Some(d));
        assert!(!d.description.is_empty());
    }
    let ids: std::collections::BTreeSet<&str> = DEVIATIONS.iter().map(|d| d.id).collect();
    assert_eq!(ids.len(), DEVIATIONS.len(), "duplicate deviation ids");

    let mut report = ParityReport::default();
    report.deviations_used.insert(PROVISION_AS_JOB, 1);
    assert_documented(&report);
    report.deviations_used.insert("no-such-deviation", 1);
    assert!(std::panic::catch_unwind(|| assert_documented(&report)).is_err());
}
