//! The production audit of the default render (December 2026: the render of `fixtures/cncf.yaml`
//! read against the real images, the chart's runbooks and CNCF's cluster layout), one test per
//! finding. Each test fails on the render the audit read; the finding numbers are the audit's.
//!
//! The render tested is the README's main command, `devstats-k8s render fixtures/cncf.yaml`
//! (environment `prod`), and its `test` environment.

mod support;

use std::collections::BTreeSet;

use devstats_model::hardening::VolumeOwnership;
use devstats_model::{Model, load_env};
use devstats_render::{Options, render};
use serde_json::{Value, json};
use support::models::fixture;

fn model(env: &str) -> Model {
    load_env(&fixture("cncf.yaml"), Some(env)).unwrap_or_else(|e| panic!("{env}: {e}"))
}

fn objects(m: &Model) -> Vec<Value> {
    render(m, &Options::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .objects
        .iter()
        .map(|r| serde_json::to_value(&r.object).unwrap_or_else(|e| panic!("{e}")))
        .collect()
}

fn find<'a>(objs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objs.iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn ports(rule: &Value) -> BTreeSet<i64> {
    rule["ports"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["port"].as_i64())
        .collect()
}

/// The pods of a workload, as the policies see them: its pod-template labels.
fn selects(policy: &Value, labels: &Value) -> bool {
    let sel = &policy["spec"]["podSelector"];
    let ml_ok = sel["matchLabels"]
        .as_object()
        .is_none_or(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)));
    let me_ok = sel["matchExpressions"].as_array().is_none_or(|es| {
        es.iter().all(|e| {
            let have = labels.get(e["key"].as_str().unwrap_or_default());
            let values = e["values"].as_array().cloned().unwrap_or_default();
            match e["operator"].as_str() {
                Some("In") => have.is_some_and(|h| values.contains(h)),
                Some("Exists") => have.is_some(),
                _ => false,
            }
        })
    });
    ml_ok && me_ok
}

/// The ingress-nginx controller pods of CNCF's cluster (its chart's labels).
fn controller_labels() -> Value {
    json!({"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "controller",
           "app.kubernetes.io/instance": "nginx-ingress-prod"})
}

/// Egress rules of every policy that selects pods with `labels`.
fn egress_of(objs: &[Value], labels: &Value) -> Vec<Value> {
    objs.iter()
        .filter(|o| o["kind"] == "NetworkPolicy" && selects(o, labels))
        .flat_map(|p| p["spec"]["egress"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// Ingress rules of every policy that selects pods with `labels`.
fn ingress_of(objs: &[Value], labels: &Value) -> Vec<Value> {
    objs.iter()
        .filter(|o| o["kind"] == "NetworkPolicy" && selects(o, labels))
        .flat_map(|p| p["spec"]["ingress"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// Blocker 1: the ingress-nginx controllers run inside `devstats-prod` and `devstats-test`, so
/// default-deny selects them: they need their own policy, and the backends must admit them by
/// pod label (not a namespace `ingress-nginx`).
#[test]
fn the_ingress_controller_inside_the_namespace_keeps_working() {
    for env in ["prod", "test"] {
        let objs = objects(&model(env));
        let c = controller_labels();
        let deny = find(&objs, "NetworkPolicy", "devstats-default-deny");
        assert!(selects(deny, &c), "{env}: default-deny selects the controller");
        let ingress = ingress_of(&objs, &c);
        let from_anywhere = ingress
            .iter()
            .find(|r| r.get("from").is_none())
            .unwrap_or_else(|| panic!("{env}: clients from anywhere"));
        assert_eq!(ports(from_anywhere), BTreeSet::from([80, 443]), "{env}");
        assert!(
            ingress.iter().any(|r| ports(r).contains(&8443)),
            "{env}: the API server reaches the admission webhook"
        );
        assert!(
            ingress.iter().any(|r| ports(r).contains(&10254)),
            "{env}: Prometheus scrapes the controller"
        );
        let egress = egress_of(&objs, &c);
        let reach: BTreeSet<i64> = egress.iter().flat_map(ports).collect();
        for p in [3000, 8080, 80, 8089, 443, 6443] {
            assert!(
                reach.contains(&p),
                "{env}: controller egress to port {p}: {reach:?}"
            );
        }
        // The backends admit the controller pods, by label, on their ports.
        for (policy, port) in [
            ("devstats-grafana", 3000),
            ("devstats-api", 8080),
            ("devstats-static", 80),
        ] {
            let p = find(&objs, "NetworkPolicy", policy);
            let rule = &p["spec"]["ingress"][0];
            assert!(ports(rule).contains(&port), "{env}: {policy}");
            let peers = rule["from"].as_array().cloned().unwrap_or_default();
            assert!(
                peers.iter().any(
                    |peer| peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "ingress-nginx"
                        && peer.get("namespaceSelector").is_none()
                ),
                "{env}: {policy} admits the controller pods"
            );
            assert!(
                !peers.iter().any(
                    |peer| peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                        == "ingress-nginx"
                ),
                "{env}: {policy} must not wait for a namespace ingress-nginx"
            );
        }
        // The controller chart's certgen Jobs reach the API server.
        let admission = json!({"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": "admission-webhook"});
        assert!(
            egress_of(&objs, &admission)
                .iter()
                .any(|r| ports(r).contains(&443)),
            "{env}"
        );
    }
    // test: the sign-in subrequests reach oauth2-proxy's namespace.
    let objs = objects(&model("test"));
    assert!(
        egress_of(&objs, &controller_labels())
            .iter()
            .any(
                |r| r["to"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
                    == "oauth2-proxy"
            ),
        "test: controller → oauth2-proxy"
    );
}

/// Blocker 2: gha2db downloads GH Archive over plain HTTP (port 80).
#[test]
fn sync_and_provisioning_reach_gh_archive_over_http() {
    let objs = objects(&model("prod"));
    for t in ["sync", "provision"] {
        let labels = json!({"name": "devstats", "type": t});
        let reach: BTreeSet<i64> = egress_of(&objs, &labels).iter().flat_map(ports).collect();
        assert!(reach.contains(&80) && reach.contains(&443), "{t}: {reach:?}");
    }
    // Only they: affiliations uses HTTPS only.
    let labels = json!({"name": "devstats", "type": "affiliations"});
    let reach: BTreeSet<i64> = egress_of(&objs, &labels).iter().flat_map(ports).collect();
    assert!(!reach.contains(&80), "affiliations: {reach:?}");
}

/// Blocker 3: the `all` (prod) and `cncf` (test) Grafanas install plugins from grafana.com at
/// every start (~13 min when it is slow); they need HTTPS egress and a startup budget past that.
#[test]
fn plugin_installing_grafanas_reach_grafana_com_and_may_start_slowly() {
    for (env, proj, other) in [("prod", "all", "kubernetes"), ("test", "cncf", "linux")] {
        let objs = objects(&model(env));
        let budget = |proj: &str| {
            let d = find(&objs, "Deployment", &format!("devstats-grafana-{proj}"));
            let p = &d["spec"]["template"]["spec"]["containers"][0]["startupProbe"];
            p["periodSeconds"].as_i64().unwrap_or(10) * p["failureThreshold"].as_i64().unwrap_or(3)
        };
        assert!(budget(proj) >= 20 * 60, "{env}: {proj} gets {} s", budget(proj));
        assert_eq!(budget(other), 300, "{env}: {other}");
        let labels = |p: &str| json!({"name": "devstats", "type": "grafana", "proj": p});
        assert!(
            egress_of(&objs, &labels(proj))
                .iter()
                .any(|r| ports(r).contains(&443) && r["to"][0]["ipBlock"]["cidr"] == "0.0.0.0/0"),
            "{env}: {proj} → grafana.com"
        );
        assert!(
            !egress_of(&objs, &labels(other))
                .iter()
                .any(|r| ports(r).contains(&443)),
            "{env}: {other} needs no internet"
        );
    }
}

/// Blockers 4 and 5: only images someone publishes. Upstream pushes untagged (`latest`) images
/// only, and nobody publishes a WAL-G image: the bundled model uses upstream's images and leaves
/// WAL archiving off.
#[test]
fn every_image_is_one_that_is_published() {
    for env in ["prod", "test"] {
        let text = serde_json::to_string(&objects(&model(env))).expect("json");
        let mut images = BTreeSet::new();
        for part in text.split("\"image\":\"").skip(1) {
            images.insert(part.split('"').next().unwrap_or_default().to_owned());
        }
        for image in &images {
            let published = image.starts_with("lukaszgryglicki/devstats-") && !image.contains(':')
                || image == "quay.io/prometheuscommunity/postgres-exporter:v0.17.1"
                || image == "rclone/rclone:1.68.2";
            assert!(published, "{env}: {image} is not an image anyone publishes");
        }
        assert!(
            !text.contains("devstats-wal-g") && !text.contains("2026-11-01"),
            "{env}"
        );
    }
    assert!(
        std::fs::read_to_string(fixture("../images/wal-g/Dockerfile"))
            .expect("the WAL-G image ships as a Dockerfile")
            .contains("wal-g-pg-ubuntu-22.04-amd64")
    );
}

/// Blocker 6: a live Patroni keeps Endpoints DCS (the chart's, Patroni's recommended mode): the
/// default render must not switch it.
#[test]
fn patroni_keeps_endpoints_dcs() {
    let objs = objects(&model("prod"));
    let sts = find(&objs, "StatefulSet", "devstats-postgres");
    let env = sts["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let use_endpoints = env
        .iter()
        .find(|e| e["name"] == "PATRONI_KUBERNETES_USE_ENDPOINTS")
        .map(|e| e["value"].clone());
    assert_eq!(use_endpoints, Some(json!("true")));
    find(&objs, "Endpoints", "devstats-postgres-config");
    let role = find(&objs, "Role", "devstats-postgres");
    let resources: BTreeSet<String> = role["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["resources"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r.as_str().map(str::to_owned))
        .collect();
    assert!(
        resources.contains("endpoints") && resources.contains("services"),
        "{resources:?}"
    );
}

/// Degradation 8: the chart's root chown init container is an opt-in repair step.
#[test]
fn the_chown_repair_is_opt_in() {
    let mut m = model("prod");
    let sts =
        |m: &Model| find(&objects(m), "StatefulSet", "devstats-postgres")["spec"]["template"]["spec"].clone();
    let pod = sts(&m);
    assert_eq!(pod["securityContext"]["fsGroup"], 999);
    assert!(pod["initContainers"].is_null(), "no init container by default");
    m.instance.security.patroni.volume_ownership = VolumeOwnership::Chown;
    let pod = sts(&m);
    assert!(
        pod["securityContext"]["fsGroup"].is_null(),
        "no kubelet walk on top of the chown"
    );
    let init = &pod["initContainers"][0];
    assert_eq!(
        init["command"],
        json!(["/bin/chown", "-R", "999:999", "/home/postgres/pgdata"])
    );
    assert_eq!(init["securityContext"]["runAsUser"], 0);
    assert_eq!(init["securityContext"]["runAsNonRoot"], false);
    assert_eq!(
        init["securityContext"]["capabilities"],
        json!({"drop": ["ALL"], "add": ["CHOWN", "DAC_OVERRIDE", "FOWNER"]})
    );
    m.instance.security.patroni.volume_ownership = VolumeOwnership::None;
    let pod = sts(&m);
    assert!(pod["securityContext"]["fsGroup"].is_null() && pod["initContainers"].is_null());
}

/// Degradation 9: replicas stay in the read-only Service unless PostgreSQL is down.
#[test]
fn lagging_replicas_stay_in_the_read_only_service() {
    let objs = objects(&model("prod"));
    let sts = find(&objs, "StatefulSet", "devstats-postgres");
    let c = &sts["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/health");
}

/// Degradation 10: the Services Flagger generates for a canaried Grafana are scraped.
#[test]
fn canaried_grafanas_are_scraped() {
    let objs = objects(&model("prod"));
    let monitor = find(&objs, "ServiceMonitor", "devstats-grafana");
    let selector = monitor["spec"]["selector"]["matchLabels"].clone();
    for proj in ["kubernetes", "opentelemetry"] {
        let canary = find(&objs, "Canary", &format!("devstats-grafana-{proj}"));
        for which in ["primary", "canary"] {
            let labels = &canary["spec"]["service"][which]["labels"];
            for (k, v) in selector.as_object().into_iter().flatten() {
                assert_eq!(&labels[k], v, "{proj} {which}: {k}");
            }
            assert_eq!(labels["proj"], proj, "{proj} {which}: the monitor's target label");
        }
        assert!(
            canary["spec"]["service"]["apex"].is_null(),
            "apex selects the primary pods too"
        );
    }
}

/// Degradation 11: dump generations are hard links, and the backups job writes each new dump to
/// a new inode (pg_dump -f truncates in place, which would overwrite the linked generation).
#[test]
fn dump_generations_cost_no_space_and_survive_the_next_dump() {
    let objs = objects(&model("prod"));
    let copy = find(&objs, "CronJob", "devstats-backups-copy").to_string();
    assert!(copy.contains(r#"ln \"$f\" \"dumps/$d/$f\""#), "hard link");
    assert!(!copy.contains("cp -p"), "no copy");
    let backups = find(&objs, "CronJob", "devstats-backups");
    let cmd =
        backups["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"].to_string();
    assert!(
        cmd.contains("devstats-shim/db.sh") && cmd.contains("./devstats-helm/backups.sh"),
        "{cmd}"
    );
    // Without generations, the chart's command as it is.
    let mut m = model("prod");
    m.instance.disaster_recovery.dumps.on_volume_generations = 0;
    let objs = objects(&m);
    let backups = find(&objs, "CronJob", "devstats-backups");
    assert_eq!(
        backups["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]["command"],
        json!(["./devstats-helm/backups.sh"])
    );
}

/// Degradation 12: kubectl 1.30+ opens exec over WebSocket (a GET).
#[test]
fn the_base_backup_role_allows_websocket_exec() {
    let mut m = model("prod");
    m.instance.disaster_recovery.wal_archiving.enabled = true;
    let objs = objects(&m);
    let role = find(&objs, "Role", "devstats-postgres-basebackup");
    let exec = role["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["resources"] == json!(["pods/exec"]))
        .expect("pods/exec rule");
    assert_eq!(exec["verbs"], json!(["create", "get"]));
}

/// Degradation 13: the runbook names the glibc the WAL-G build it fetches needs.
#[test]
fn the_runbook_names_the_right_glibc() {
    let doc = std::fs::read_to_string(fixture("../docs/backup-and-restore.md")).expect("runbook");
    assert!(doc.contains("ubuntu-22.04") && doc.contains("glibc ≥ 2.35"));
    assert!(!doc.contains(
        "`ubuntu-20.04` build needs glibc ≥ 2.31: Debian bullseye or later, which\nthe PostgreSQL 15/18"
    ));
}
