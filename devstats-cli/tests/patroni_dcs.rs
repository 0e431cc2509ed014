//! A live Patroni cluster's DCS is never switched implicitly (production audit, blocker 6): apply
//! refuses a change of `instance.security.patroni.dcs` over a running StatefulSet, before the
//! first write; `--migrate-patroni-dcs` applies it only once every member is stopped.

mod apply_support;

use apply_support::{apply, desired, model, no_wait};
use devstats_cli::apply::ApplyError;
use devstats_cli::kinds::{Kind, ObjectKey};
use devstats_fake::FakeCluster;
use devstats_model::hardening::PatroniDcs;
use serde_json::json;

#[test]
fn a_dcs_switch_of_a_running_cluster_is_refused_until_its_members_are_stopped() {
    let fake = FakeCluster::new();
    let mut m = model("cncf.yaml");
    // The database is what matters here; the monitoring dashboards need a foreign namespace.
    m.instance.monitoring = devstats_model::monitoring::Monitoring::default();
    assert_eq!(
        m.instance.security.patroni.dcs,
        PatroniDcs::Endpoints,
        "the default keeps Endpoints"
    );
    apply(&fake, &desired(&m), &no_wait()).expect("first apply");

    let mut switched = m.clone();
    switched.instance.security.patroni.dcs = PatroniDcs::ConfigMaps;
    let set = desired(&switched);
    let writes = fake.writes();
    match apply(&fake, &set, &no_wait()) {
        Err(ApplyError::Refused(r)) => {
            let text = r.join("\n");
            assert!(text.contains("from Endpoints to ConfigMaps"), "{text}");
            assert!(text.contains("--migrate-patroni-dcs"), "{text}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(fake.writes(), writes, "nothing written");

    // The flag alone: the members still run.
    let mut cfg = no_wait();
    cfg.plan.migrate_patroni_dcs = true;
    match apply(&fake, &set, &cfg) {
        Err(ApplyError::Refused(r)) => assert!(r.join("\n").contains("still runs 6 member"), "{r:?}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(fake.writes(), writes, "nothing written");

    // Every member stopped (`kubectl scale sts devstats-postgres --replicas=0`): applied.
    let sts = ObjectKey::new(Kind::STATEFUL_SET, Some("devstats-prod"), "devstats-postgres");
    fake.edit(&sts, |o| {
        o["spec"]["replicas"] = json!(0);
        o["status"] = json!({"replicas": 0, "readyReplicas": 0});
    });
    apply(&fake, &set, &cfg).expect("the migration applies");
    let live = fake.object(&sts).expect("sts");
    let env = live["spec"]["template"]["spec"]["containers"][0]["env"].to_string();
    assert!(
        env.contains(r#"{"name":"PATRONI_KUBERNETES_USE_ENDPOINTS","value":"false"}"#),
        "{env}"
    );
}
