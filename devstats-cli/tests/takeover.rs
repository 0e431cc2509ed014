//! Taking over a live chart install: the chart's real prod render applied into the fake as Helm 4
//! applies it (server-side, field manager `helm`), then `take_over` with the imported model.

mod apply_support;

use std::collections::BTreeMap;
use std::io::Read as _;

use apply_support::{block_on, config, desired};
use devstats_cli::apply::{ApplyError, ApplyReport};
use devstats_cli::engine::Engine;
use devstats_cli::kinds::{Kind, ObjectKey};
use devstats_cli::plan::DesiredSet;
use devstats_cli::progress::{Event, Progress};
use devstats_cli::retry::RetryPolicy;
use devstats_cli::takeover::{TakeoverReport, take_over};
use devstats_fake::FakeCluster;
use serde_json::{Value, json};

fn chart_render() -> Vec<Value> {
    let path = apply_support::fixture("helm/rendered-prod-defaults.yaml.gz");
    let bytes = std::fs::read(path).expect("fixture");
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut text)
        .expect("gunzip");
    text.split("\n---\n")
        .filter(|d| {
            d.lines()
                .any(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        })
        .map(|d| serde_saphyr::from_str::<Value>(d).expect("chart document"))
        .filter(|v| !v.is_null())
        .collect()
}

/// The fake with the chart installed as Helm 4 does it; the chart's provisioning pods completed.
fn helm_installed() -> FakeCluster {
    let fake = FakeCluster::new();
    let mut docs = chart_render();
    docs.sort_by_key(|d| d["kind"] != "Namespace");
    for d in docs {
        let key = ObjectKey::of_value(&d).expect("a known kind");
        block_on(fake.apply_as("helm", &key, &d, false, false)).unwrap_or_else(|e| panic!("{key}: {e}"));
        if key.kind == Kind::POD {
            fake.edit(&key, |v| v["status"] = json!({"phase": "Succeeded"}));
        }
    }
    fake
}

/// Progress events in order, and whether a note came before the first write.
#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<String>>);

impl Progress for Recorder {
    fn event(&self, e: &Event) {
        let line = match e {
            Event::Note { message } => format!("note: {message}"),
            Event::Applied { object, .. } => format!("applied: {object}"),
            other => format!("{other:?}"),
        };
        self.0.lock().expect("lock").push(line);
    }
}

fn run(
    fake: &FakeCluster,
    set: &DesiredSet,
    force: bool,
    rec: &Recorder,
) -> Result<(TakeoverReport, Option<ApplyReport>), ApplyError> {
    let eng = Engine::new(fake, 32, RetryPolicy::immediate(6), rec);
    let mut cfg = config();
    cfg.force_conflicts = force;
    block_on(take_over(&eng, set, &cfg, "helm"))
}

fn templates(fake: &FakeCluster) -> BTreeMap<ObjectKey, Value> {
    fake.keys()
        .into_iter()
        .filter_map(|k| {
            let ptr = match k.kind.kind {
                "Deployment" | "StatefulSet" => "/spec/template",
                "CronJob" => "/spec/jobTemplate/spec/template",
                _ => return None,
            };
            let v = fake.object(&k)?.pointer(ptr)?.clone();
            Some((k, v))
        })
        .collect()
}

/// The import of the chart values the render was made with (`rendered-prod-defaults`: the
/// chart's values.yaml with the prod `--set`s, as in devstats-render/tests/parity.rs). The golden
/// `cncf-imported.yaml` is the import of the real install's flags and projects list, which this
/// render does not have (its Ingress hosts, API image and backup schedule differ).
fn imported_model() -> devstats_model::Model {
    let values = std::fs::read_to_string(apply_support::fixture("helm/values.yaml")).expect("values");
    let sets = [
        ("namespace", "devstats-prod"),
        ("testServer", ""),
        ("prodServer", "1"),
        ("ingressClass", "nginx-prod"),
    ];
    let opts = devstats_import::ImportOptions {
        sets: sets
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        projects_yaml: None,
        recompute_schedules: false,
    };
    let m = devstats_import::import(&values, &opts).expect("imports").model;
    assert!(
        m.instance.patroni.chart_env.is_some(),
        "the import keeps the live Patroni env"
    );
    m
}

fn imported() -> DesiredSet {
    desired(&imported_model())
}

#[test]
fn the_import_takes_over_the_chart_install_without_conflicts_restarts_or_deletions() {
    let fake = helm_installed();
    let before = templates(&fake);
    let objects_before = fake.keys().len();
    fake.reset_requests();
    let rec = Recorder::default();
    let (report, applied) = run(&fake, &imported(), false, &rec).expect("takes over");
    let applied = applied.expect("applied");
    assert!(report.conflicts.is_empty(), "{:#?}", report.conflicts);
    assert!(report.restarts.is_empty(), "{:?}", report.restarts);
    assert!(report.deletes.is_empty() && report.recreates.is_empty());
    assert!(applied.ok(), "{:#?}", applied.failed);
    assert!(applied.pruned.is_empty());
    eprintln!(
        "chart objects {}, migrated {} ({} fields), changed {}, conflicts 0, restarts 0",
        report.chart_objects,
        report.migrated,
        report.migrated_fields,
        report.changed.len()
    );
    assert!(report.chart_objects > 1000, "{}", report.chart_objects);
    assert_eq!(report.migrated, report.chart_objects);
    // Every pod template as stored is unchanged: nothing restarts.
    let after = templates(&fake);
    let changed: Vec<&ObjectKey> = before
        .iter()
        .filter(|(k, v)| after.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .collect();
    assert!(changed.is_empty(), "pod templates changed: {changed:?}");
    // No chart object was deleted.
    assert!(
        !fake
            .requests()
            .iter()
            .any(|r| r.verb == devstats_fake::Verb::Delete),
        "deletes"
    );
    assert!(fake.keys().len() >= objects_before);
    // The plan came before the first write.
    let lines = rec.0.lock().expect("lock").clone();
    let plan = lines
        .iter()
        .position(|l| l.starts_with("note: take over from \"helm\""));
    let first_write = lines.iter().position(|l| l.starts_with("applied:"));
    assert!(plan.is_some() && plan < first_write, "{lines:#?}");
    // A chart field and ours now: shared or moved, no helm-only ownership of what we apply.
    let grafana = fake
        .object(&ObjectKey::new(
            Kind::DEPLOYMENT,
            Some("devstats-prod"),
            "devstats-grafana-kubernetes",
        ))
        .expect("grafana");
    let managers: Vec<&str> = grafana["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["manager"].as_str())
        .collect();
    assert!(managers.contains(&"devstats-k8s"), "{managers:?}");
}

#[test]
fn a_changed_value_is_listed_with_both_values_and_refused_unless_forced() {
    let fake = helm_installed();
    let mut m = imported_model();
    let grafana = m.instance.resources.grafana.as_mut().expect("grafana resources");
    grafana.limits.memory = devstats_model::Quantity::from("3Gi");
    let set = desired(&m);
    fake.reset_requests();
    let rec = Recorder::default();
    match run(&fake, &set, false, &rec) {
        Err(ApplyError::Refused(r)) => {
            let text = r.join("\n");
            assert!(
                text.contains(
                    "Deployment devstats-prod/devstats-grafana-kubernetes .spec.template.spec.containers[name=\"devstats-grafana-kubernetes\"].resources.limits.memory: ours \"3Gi\", live \"2Gi\""
                ) || text.contains("resources.limits.memory: ours \"3Gi\", live \"2Gi\""),
                "{text}"
            );
        }
        other => panic!("expected a refusal, got {:?}", other.map(|(r, _)| r.conflicts)),
    }
    assert_eq!(fake.writes(), 0, "nothing written");
    let (report, applied) = run(&fake, &set, true, &rec).expect("forced");
    assert!(!report.conflicts.is_empty());
    assert!(applied.expect("applied").ok());
}

#[test]
fn quantities_conflict_as_written_and_equal_values_share_ownership() {
    let fake = FakeCluster::new();
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}});
    block_on(fake.apply_as("helm", &ObjectKey::of_value(&ns).expect("key"), &ns, false, false)).expect("ns");
    let d = |cpu: &str| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "n"},
               "spec": {"template": {"spec": {"containers": [
                   {"name": "x", "image": "i", "resources": {"limits": {"cpu": cpu}}}]}}}})
    };
    let key = ObjectKey::new(Kind::DEPLOYMENT, Some("n"), "d");
    block_on(fake.apply_as("helm", &key, &d("2000m"), false, false)).expect("helm");
    let stored = fake.object(&key).expect("stored");
    assert_eq!(
        stored["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["cpu"],
        "2"
    );
    // 2000m over helm's stored 2: a conflict, with the real Status.
    let e = block_on(fake.apply_as("devstats-k8s", &key, &d("2000m"), false, false)).expect_err("conflict");
    assert_eq!((e.code, e.reason.as_str()), (409, "Conflict"));
    assert_eq!(
        e.message,
        "Apply failed with 1 conflict: conflict with \"helm\" using apps/v1: .spec.template.spec.containers[name=\"x\"].resources.limits.cpu"
    );
    assert_eq!(e.causes[0].reason, "FieldManagerConflict");
    assert_eq!(e.causes[0].message, "conflict with \"helm\" using apps/v1");
    // 2 over 2: shared ownership.
    block_on(fake.apply_as("devstats-k8s", &key, &d("2"), false, false)).expect("shared");
    let owners = |fake: &FakeCluster| -> Vec<String> {
        fake.object(&key).expect("d")["metadata"]["managedFields"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["fieldsV1"].to_string().contains("f:cpu"))
            .filter_map(|e| e["manager"].as_str().map(str::to_owned))
            .collect()
    };
    assert_eq!(owners(&fake), ["devstats-k8s", "helm"]);
    // A different value: conflict; forced, it moves.
    assert!(block_on(fake.apply_as("devstats-k8s", &key, &d("3"), false, false)).is_err());
    block_on(fake.apply_as("devstats-k8s", &key, &d("3"), true, false)).expect("forced");
    assert_eq!(owners(&fake), ["devstats-k8s"]);
    // A field no longer applied leaves the object when nobody else owns it.
    let mut without = d("3");
    without["spec"]["template"]["spec"]["containers"][0]["resources"] = json!({});
    block_on(fake.apply_as("devstats-k8s", &key, &without, false, false)).expect("applied");
    let v = fake.object(&key).expect("d");
    assert!(
        v.pointer("/spec/template/spec/containers/0/resources/limits/cpu")
            .is_none(),
        "{v}"
    );
}
