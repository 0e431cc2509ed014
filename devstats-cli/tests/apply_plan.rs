//! The pure planner on real renders: derived dependency graph vs render phases, change
//! detection, immutable-field refusals, run-once Jobs, prune sets and guards.

mod apply_support;

use std::collections::{BTreeMap, BTreeSet};

use apply_support::{desired, model};
use devstats_cli::kinds::{Kind, ObjectKey};
use devstats_cli::plan::graph::{levels, topo_order};
use devstats_cli::plan::{Action, DesiredSet, EdgeKind, LiveState, PlanOptions, PruneOptions, plan};
use devstats_fake::live::converged;
use devstats_render::{Phase, PruneGuard, Ready, Write};
use serde_json::{Value, json};

/// The example with Patroni's DCS in Endpoints (the chart's way): it renders the create-only
/// config Endpoints.
fn endpoints_model() -> devstats_model::Model {
    let mut m = model("example.yaml");
    m.instance.security.patroni.dcs = devstats_model::hardening::PatroniDcs::Endpoints;
    m
}

fn index(set: &DesiredSet, kind: Kind, name: &str) -> usize {
    set.objects
        .iter()
        .position(|d| d.key.kind == kind && d.key.name == name)
        .unwrap_or_else(|| panic!("{kind} {name} not rendered"))
}

#[test]
fn render_phases_are_a_topological_order_of_the_derived_graph() {
    for fixture in ["example.yaml", "cncf.yaml"] {
        let set = desired(&model(fixture));
        assert!(
            topo_order(set.objects.len(), &set.edges).is_ok(),
            "{fixture}: cycle"
        );
        for e in &set.edges {
            let (from, to) = (&set.objects[e.from], &set.objects[e.to]);
            match e.kind {
                EdgeKind::Exists => assert!(
                    to.policy.phase <= from.policy.phase,
                    "{fixture}: {} ({:?}) needs {} ({:?}) via {}",
                    from.key,
                    from.policy.phase,
                    to.key,
                    to.policy.phase,
                    e.why
                ),
                EdgeKind::Ready => assert!(
                    to.policy.phase < from.policy.phase,
                    "{fixture}: {} ({:?}) waits for {} ({:?}) via {}",
                    from.key,
                    from.policy.phase,
                    to.key,
                    to.policy.phase,
                    e.why
                ),
            }
        }
        // Every object of the instance namespace hangs off the Namespace; the deepest chain is
        // Namespace → PVC/Secret → database → bootstrap → provisioning → CronJob/Grafana.
        let ns = index(&set, Kind::NAMESPACE, set.namespace.as_str());
        for (i, d) in set.objects.iter().enumerate() {
            if i != ns && d.key.namespace.as_deref() == Some(set.namespace.as_str()) {
                assert!(set.edges.iter().any(|e| e.from == i && e.to == ns), "{}", d.key);
            }
        }
        let lv = levels(set.objects.len(), &set.edges);
        let mut deepest_by_phase: BTreeMap<Phase, usize> = BTreeMap::new();
        for (i, d) in set.objects.iter().enumerate() {
            let e = deepest_by_phase.entry(d.policy.phase).or_insert(0);
            *e = (*e).max(lv[i]);
        }
        // The waits chain: database < bootstrap < provision < schedules.
        assert!(deepest_by_phase[&Phase::Database] < deepest_by_phase[&Phase::Bootstrap]);
        assert!(deepest_by_phase[&Phase::Bootstrap] < deepest_by_phase[&Phase::Provision]);
        assert!(deepest_by_phase[&Phase::Provision] < deepest_by_phase[&Phase::Schedules]);
    }
}

#[test]
fn derived_edges_name_the_real_references() {
    let set = desired(&model("example.yaml"));
    let has = |from: (Kind, &str), to: (Kind, &str), kind: EdgeKind| {
        let (f, t) = (index(&set, from.0, from.1), index(&set, to.0, to.1));
        set.edges
            .iter()
            .any(|e| e.from == f && e.to == t && e.kind == kind)
    };
    assert!(has(
        (Kind::ROLE_BINDING, "devstats-postgres"),
        (Kind::ROLE, "devstats-postgres"),
        EdgeKind::Exists
    ));
    assert!(has(
        (Kind::STATEFUL_SET, "devstats-postgres"),
        (Kind::SERVICE_ACCOUNT, "devstats-postgres"),
        EdgeKind::Exists
    ));
    assert!(has(
        (Kind::STATEFUL_SET, "devstats-postgres"),
        (Kind::SERVICE, "devstats-postgres"),
        EdgeKind::Exists
    ));
    assert!(has(
        (Kind::JOB, "devstats-provision-kubernetes"),
        (Kind::PERSISTENT_VOLUME_CLAIM, "devstats-pvc-kubernetes"),
        EdgeKind::Exists
    ));
    assert!(has(
        (Kind::JOB, "devstats-provision-bootstrap"),
        (Kind::STATEFUL_SET, "devstats-postgres"),
        EdgeKind::Ready
    ));
    assert!(has(
        (Kind::JOB, "devstats-provision-kubernetes"),
        (Kind::JOB, "devstats-provision-bootstrap"),
        EdgeKind::Ready
    ));
    assert!(has(
        (Kind::CRON_JOB, "devstats-kubernetes"),
        (Kind::JOB, "devstats-provision-kubernetes"),
        EdgeKind::Ready
    ));
    assert!(has(
        (Kind::DEPLOYMENT, "devstats-grafana-kubernetes"),
        (Kind::JOB, "devstats-provision-kubernetes"),
        EdgeKind::Ready
    ));
    let ingress = set
        .objects
        .iter()
        .position(|d| d.key.kind == Kind::INGRESS)
        .expect("ingress");
    assert!(
        set.edges
            .iter()
            .any(|e| e.from == ingress && set.objects[e.to].key.kind == Kind::SERVICE)
    );
}

#[test]
fn policies_come_from_the_builders() {
    let set = desired(&endpoints_model());
    let policy = |kind, name| set.objects[index(&set, kind, name)].policy.write;
    assert_eq!(
        policy(Kind::ENDPOINTS, "devstats-postgres-config"),
        Write::CreateOnly
    );
    assert_eq!(policy(Kind::JOB, "devstats-provision-bootstrap"), Write::RunOnce);
    assert_eq!(policy(Kind::JOB, "devstats-provision-kubernetes"), Write::RunOnce);
    assert_eq!(policy(Kind::CRON_JOB, "devstats-kubernetes"), Write::Apply);
}

#[test]
fn hash_annotation_is_on_object_metadata_only() {
    let set = desired(&model("example.yaml"));
    for d in &set.objects {
        assert!(
            d.body
                .pointer("/metadata/annotations/devstats.cncf.io~1applied-hash")
                .is_some(),
            "{}",
            d.key
        );
        let text = d.body.to_string();
        assert_eq!(
            text.matches("devstats.cncf.io/applied-hash").count(),
            1,
            "{}: hash also in a template",
            d.key
        );
        assert_eq!(
            text.matches("applyset.kubernetes.io/part-of").count(),
            1,
            "{}",
            d.key
        );
    }
}

#[test]
fn empty_cluster_creates_everything_with_waits() {
    let set = desired(&model("example.yaml"));
    let p = plan(&set, &LiveState::default(), &PlanOptions::default());
    assert!(p.refusals.is_empty(), "{:?}", p.refusals);
    for (d, o) in set.objects.iter().zip(&p.objects) {
        assert!(
            matches!(o.action, Action::Apply { exists: false } | Action::Create),
            "{}: {:?}",
            d.key,
            o.action
        );
    }
    let waited: BTreeSet<&str> = p
        .objects
        .iter()
        .filter(|o| o.wait)
        .map(|o| set.objects[o.index].key.kind.kind)
        .collect();
    assert_eq!(waited, BTreeSet::from(["Deployment", "Job", "StatefulSet"]));
    assert!(p.inventory_before_changed);
    assert_eq!(p.write_count(), set.objects.len() + 1);
}

#[test]
fn empty_cluster_without_waits_defers_run_once_jobs_and_their_dependents() {
    let set = desired(&model("example.yaml"));
    let opts = PlanOptions {
        wait: false,
        ..PlanOptions::default()
    };
    let p = plan(&set, &LiveState::default(), &opts);
    let action = |kind, name| &p.objects[index(&set, kind, name)].action;
    assert!(
        matches!(action(Kind::JOB, "devstats-provision-bootstrap"), Action::Deferred { reason } if reason.contains("StatefulSet"))
    );
    assert!(matches!(
        action(Kind::JOB, "devstats-provision-kubernetes"),
        Action::Deferred { .. }
    ));
    assert!(matches!(
        action(Kind::CRON_JOB, "devstats-kubernetes"),
        Action::Deferred { .. }
    ));
    assert!(matches!(
        action(Kind::DEPLOYMENT, "devstats-grafana-kubernetes"),
        Action::Deferred { .. }
    ));
    assert!(matches!(
        action(Kind::SERVICE, "devstats-service-kubernetes"),
        Action::Apply { .. }
    ));
    assert!(matches!(
        action(Kind::STATEFUL_SET, "devstats-postgres"),
        Action::Apply { .. }
    ));
    assert!(p.objects.iter().all(|o| !o.wait));
}

#[test]
fn unchanged_cluster_is_zero_writes() {
    for fixture in ["example.yaml", "cncf.yaml"] {
        let set = desired(&model(fixture));
        let p = plan(&set, &converged(&set), &PlanOptions::default());
        assert_eq!(p.write_count(), 0, "{fixture}: {:?}", p.counts());
        assert!(p.objects.iter().all(|o| !o.wait));
        assert!(p.prune.is_empty());
    }
}

#[test]
fn one_changed_object_is_one_write() {
    let m = model("example.yaml");
    let set = desired(&m);
    let live = converged(&set);
    let mut m2 = m.clone();
    m2.instance.images.grafana =
        devstats_model::ImageRef::from("lukaszgryglicki/devstats-grafana:2027-01-01");
    let set2 = desired(&m2);
    let p = plan(&set2, &live, &PlanOptions::default());
    let changed: Vec<String> = p
        .objects
        .iter()
        .filter(|o| o.action.writes() > 0)
        .map(|o| set2.objects[o.index].key.to_string())
        .collect();
    assert_eq!(changed.len(), 4, "{changed:?}");
    assert!(
        changed
            .iter()
            .all(|k| k.starts_with("Deployment devstats-example/devstats-grafana-"))
    );
}

#[test]
fn statefulset_volume_change_is_refused_before_any_write() {
    let m = model("example.yaml");
    let set = desired(&m);
    let live = converged(&set);
    let mut m2 = m.clone();
    m2.instance.storage.postgres_size = devstats_model::Quantity("400Gi".to_owned());
    let p = plan(&desired(&m2), &live, &PlanOptions::default());
    assert_eq!(p.refusals.len(), 1, "{:?}", p.refusals);
    assert!(
        p.refusals[0].contains("volumeClaimTemplates") && p.refusals[0].contains("--cascade=orphan"),
        "{}",
        p.refusals[0]
    );
}

#[test]
fn provisioned_project_with_changed_template_is_not_rerun() {
    let m = model("example.yaml");
    let set = desired(&m);
    let live = converged(&set);
    let mut m2 = m.clone();
    m2.instance.images.provision = devstats_model::ImageRef::from("lukaszgryglicki/devstats-prod:2027-01-01");
    let set2 = desired(&m2);
    let p = plan(&set2, &live, &PlanOptions::default());
    let job = &p.objects[index(&set2, Kind::JOB, "devstats-provision-kubernetes")];
    assert!(
        matches!(&job.action, Action::Done { note: Some(n) } if n.contains("run provision --project kubernetes")),
        "{:?}",
        job.action
    );
    assert!(
        p.objects
            .iter()
            .all(|o| !matches!(set2.objects[o.index].key.kind.kind, "Job") || o.action.writes() == 0)
    );
}

#[test]
fn failed_provisioning_defers_the_project_and_is_never_rerun() {
    let m = model("example.yaml");
    let mut m2 = m.clone();
    m2.instance.images.sync = devstats_model::ImageRef::from("x/sync:2");
    let set = desired(&m);
    let mut live = converged(&set);
    let key = ObjectKey::new(Kind::JOB, Some("devstats-example"), "devstats-provision-podman");
    live.objects.get_mut(&key).expect("job")["status"] = json!({"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]});
    let set2 = desired(&m2);
    let p = plan(&set2, &live, &PlanOptions::default());
    let action = |name| &p.objects[index(&set2, Kind::JOB, name)].action;
    assert!(
        matches!(action("devstats-provision-podman"), Action::Failed { reason } if reason.contains("BackoffLimitExceeded") && reason.contains("run provision --project podman"))
    );
    let cron = &p.objects[index(&set2, Kind::CRON_JOB, "devstats-podman")].action;
    assert!(
        matches!(cron, Action::Deferred { reason } if reason.contains("devstats-provision-podman")),
        "{cron:?}"
    );
    let other = &p.objects[index(&set2, Kind::CRON_JOB, "devstats-kubernetes")].action;
    assert_eq!(other, &Action::Apply { exists: true });
}

#[test]
fn chart_takeover_treats_completed_provision_pods_as_provisioned() {
    let set = desired(&model("example.yaml"));
    let mut live = LiveState::default();
    for name in ["devstats-provision-bootstrap", "devstats-provision-kubernetes"] {
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "devstats-example"}, "status": {"phase": "Succeeded"}});
        live.objects.insert(ObjectKey::of_value(&pod).expect("key"), pod);
    }
    let running = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "devstats-provision-podman", "namespace": "devstats-example"}, "status": {"phase": "Running"}});
    live.objects
        .insert(ObjectKey::of_value(&running).expect("key"), running);
    let p = plan(&set, &live, &PlanOptions::default());
    let action = |name| &p.objects[index(&set, Kind::JOB, name)].action;
    assert!(matches!(
        action("devstats-provision-bootstrap"),
        Action::Done { .. }
    ));
    assert!(matches!(
        action("devstats-provision-kubernetes"),
        Action::Done { .. }
    ));
    assert!(
        matches!(action("devstats-provision-podman"), Action::Deferred { reason } if reason.contains("still running"))
    );
    assert_eq!(action("devstats-provision-prometheus"), &Action::Create);
}

#[test]
fn create_only_endpoints_are_never_updated() {
    let set = desired(&endpoints_model());
    let mut live = converged(&set);
    let key = ObjectKey::new(
        Kind::ENDPOINTS,
        Some("devstats-example"),
        "devstats-postgres-config",
    );
    let ep = live.objects.get_mut(&key).expect("endpoints");
    ep["subsets"] = json!([{"addresses": [{"ip": "10.1.2.3"}]}]);
    ep["metadata"]["annotations"] = json!({"leader": "devstats-postgres-0"});
    let p = plan(&set, &live, &PlanOptions::default());
    assert_eq!(
        p.objects[index(&set, Kind::ENDPOINTS, "devstats-postgres-config")].action,
        Action::Keep
    );
    assert_eq!(p.write_count(), 0);
}

#[test]
fn hpa_owned_replicas_are_not_sent() {
    let set = desired(&model("example.yaml"));
    let mut live = converged(&set);
    let hpa = json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "g", "namespace": "devstats-example"},
        "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "devstats-grafana-kubernetes"}}});
    live.objects.insert(ObjectKey::of_value(&hpa).expect("key"), hpa);
    live.objects.remove(&ObjectKey::new(
        Kind::DEPLOYMENT,
        Some("devstats-example"),
        "devstats-grafana-kubernetes",
    ));
    let p = plan(&set, &live, &PlanOptions::default());
    let g = &p.objects[index(&set, Kind::DEPLOYMENT, "devstats-grafana-kubernetes")];
    assert!(g.body.pointer("/spec/replicas").is_none());
    let other = &p.objects[index(&set, Kind::DEPLOYMENT, "devstats-grafana-podman")];
    assert!(other.body.pointer("/spec/replicas").is_some());
}

#[test]
fn canary_owned_replicas_are_not_sent() {
    // A live Canary (as Flagger sees it) targets a Deployment the render still sends replicas for
    // (e.g. the canary was set up outside the model): Flagger owns its replicas.
    let set = desired(&model("example.yaml"));
    let mut live = converged(&set);
    let canary = json!({"apiVersion": "flagger.app/v1beta1", "kind": "Canary",
        "metadata": {"name": "devstats-grafana-kubernetes", "namespace": "devstats-example"},
        "spec": {"targetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "devstats-grafana-kubernetes"}}});
    let kind = Kind::custom("flagger.app", "v1beta1", "Canary", "canaries", true);
    live.objects.insert(
        ObjectKey::new(kind, Some("devstats-example"), "devstats-grafana-kubernetes"),
        canary,
    );
    let p = plan(&set, &live, &PlanOptions::default());
    let g = &p.objects[index(&set, Kind::DEPLOYMENT, "devstats-grafana-kubernetes")];
    assert!(g.body.pointer("/spec/replicas").is_none());
    let other = &p.objects[index(&set, Kind::DEPLOYMENT, "devstats-grafana-podman")];
    assert!(other.body.pointer("/spec/replicas").is_some());
}

fn archive(m: &mut devstats_model::Model, name: &str) {
    let p = m
        .projects
        .iter_mut()
        .find(|p| p.name.as_str() == name)
        .expect("project");
    p.status = devstats_model::ProjectStatus::Archived;
}

#[test]
fn archiving_a_project_prunes_its_workloads_and_keeps_its_data() {
    let m = model("example.yaml");
    let set = desired(&m);
    let live = converged(&set);
    let mut m2 = m.clone();
    archive(&mut m2, "podman");
    let p = plan(&desired(&m2), &live, &PlanOptions::default());
    assert!(p.refusals.is_empty(), "{:?}", p.refusals);
    let pruned: BTreeSet<String> = p.prune.iter().map(ToString::to_string).collect();
    for k in [
        "CronJob devstats-example/devstats-affiliations-podman",
        "CronJob devstats-example/devstats-podman",
        "Deployment devstats-example/devstats-grafana-podman",
        "Service devstats-example/devstats-service-podman",
    ] {
        assert!(pruned.contains(k), "{k} not pruned: {pruned:?}");
    }
    assert!(pruned.iter().all(|k| k.ends_with("-podman")), "{pruned:?}");
    // Deletion goes in reverse apply order: workloads before CronJobs before Services.
    let ranks: Vec<u8> = p.prune.iter().map(|k| k.kind.rank).collect();
    assert!(ranks.windows(2).all(|w| w[0] >= w[1]), "{:?}", p.prune);
    let kept: Vec<String> = p.kept.iter().map(|(k, _)| k.to_string()).collect();
    assert_eq!(kept, ["Job devstats-example/devstats-provision-podman"]);
    assert!(p.inventory_after.contains_key(&ObjectKey::new(
        Kind::JOB,
        Some("devstats-example"),
        "devstats-provision-podman"
    )));
    assert!(!p.inventory_after.contains_key(&ObjectKey::new(
        Kind::CRON_JOB,
        Some("devstats-example"),
        "devstats-podman"
    )));
}

#[test]
fn prune_guards() {
    let m = model("example.yaml");
    let set = desired(&m);
    let live = converged(&set);
    // Too many deletions.
    let mut m2 = m.clone();
    for name in ["podman", "prometheus"] {
        archive(&mut m2, name);
    }
    let opts = PlanOptions {
        prune: devstats_cli::plan::PruneOptions {
            max_deletes: 3,
            ..Default::default()
        },
        ..PlanOptions::default()
    };
    let p = plan(&desired(&m2), &live, &opts);
    assert!(
        p.refusals.iter().any(|r| r.contains("--max-deletes")),
        "{:?}",
        p.refusals
    );
    // An empty render.
    let empty = DesiredSet {
        objects: Vec::new(),
        edges: Vec::new(),
        index: BTreeMap::new(),
        ..set.clone()
    };
    let p = plan(&empty, &live, &PlanOptions::default());
    assert!(
        p.refusals.iter().any(|r| r.contains("render is empty")),
        "{:?}",
        p.refusals
    );
    // A partial render never prunes.
    let partial = DesiredSet {
        complete: false,
        ..desired(&m2)
    };
    let p = plan(&partial, &live, &PlanOptions::default());
    assert!(p.prune.is_empty() && p.refusals.is_empty());
    // Volumes need --prune-volumes; the database --prune-database; namespaces never.
    let mut gone = set.clone();
    let drop: BTreeSet<ObjectKey> = [
        ObjectKey::new(
            Kind::PERSISTENT_VOLUME_CLAIM,
            Some("devstats-example"),
            "devstats-pvc-podman",
        ),
        ObjectKey::new(Kind::STATEFUL_SET, Some("devstats-example"), "devstats-postgres"),
    ]
    .into_iter()
    .collect();
    let kept_objects: Vec<_> = gone
        .objects
        .iter()
        .filter(|d| !drop.contains(&d.key))
        .cloned()
        .collect();
    gone = DesiredSet {
        objects: kept_objects,
        edges: Vec::new(),
        ..gone
    };
    gone.index = gone
        .objects
        .iter()
        .enumerate()
        .map(|(i, d)| (d.key.clone(), i))
        .collect();
    let p = plan(&gone, &live, &PlanOptions::default());
    assert!(p.prune.is_empty(), "{:?}", p.prune);
    assert_eq!(p.kept.len(), 2);
    let all = PlanOptions {
        prune: devstats_cli::plan::PruneOptions {
            volumes: true,
            database: true,
            ..Default::default()
        },
        ..PlanOptions::default()
    };
    assert_eq!(plan(&gone, &live, &all).prune.len(), 2);
}

#[test]
fn secrets_not_rendered_are_never_pruned() {
    let m = model("example.yaml");
    let set = desired(&m);
    let mut live = converged(&set);
    let secret = ObjectKey::new(Kind::SECRET, Some("devstats-example"), "pg-db");
    live.inventory
        .as_mut()
        .expect("inventory")
        .insert(secret.clone(), Some(PruneGuard::Database));
    live.objects
        .insert(secret.clone(), json!({"metadata": {"name": "pg-db"}}));
    let p = plan(&set, &live, &PlanOptions::default());
    assert!(p.prune.is_empty());
    assert!(p.kept.iter().any(|(k, _)| k == &secret));
    assert!(p.inventory_after.contains_key(&secret));
}

#[test]
fn service_cluster_ip_change_needs_allow_recreate() {
    let set = desired(&model("example.yaml"));
    let mut live = converged(&set);
    let key = ObjectKey::new(Kind::SERVICE, Some("devstats-example"), "devstats-postgres");
    let svc: &mut Value = live.objects.get_mut(&key).expect("svc");
    svc["spec"]["clusterIP"] = json!("10.0.0.7");
    svc["metadata"]["annotations"]["devstats.cncf.io/applied-hash"] = json!("old");
    let p = plan(&set, &live, &PlanOptions::default());
    assert!(
        p.refusals
            .iter()
            .any(|r| r.contains("--allow-recreate") && r.contains("clusterIP")),
        "{:?}",
        p.refusals
    );
    let p = plan(
        &set,
        &live,
        &PlanOptions {
            allow_recreate: true,
            ..PlanOptions::default()
        },
    );
    assert!(matches!(
        p.objects[index(&set, Kind::SERVICE, "devstats-postgres")].action,
        Action::Recreate { .. }
    ));
}

/// The waits of a desired set, by key: (dependent, dependency, reason).
fn waits(set: &DesiredSet) -> BTreeSet<(String, String, &'static str)> {
    set.edges
        .iter()
        .filter(|e| e.kind == EdgeKind::Ready)
        .map(|e| {
            (
                set.objects[e.from].key.to_string(),
                set.objects[e.to].key.to_string(),
                e.why,
            )
        })
        .collect()
}

/// Issue 12: the planner found the database's readers by the literal Secret name `pg-db`; with
/// `instance.secrets.postgres` renamed, every wait for the database vanished.
#[test]
fn renaming_the_database_secret_keeps_every_wait() {
    let m = model("cncf.yaml");
    let mut renamed = m.clone();
    renamed.instance.secrets.postgres = "devstats-db-credentials".into();
    let (a, b) = (desired(&m), desired(&renamed));
    let before = waits(&a);
    assert!(
        before
            .iter()
            .any(|(_, to, why)| to.ends_with("/devstats-postgres") && *why == "reads the database"),
        "{before:?}"
    );
    assert_eq!(waits(&b), before);
    // Every other edge too, with the Secret's new name.
    let all = |set: &DesiredSet| -> BTreeSet<(String, String, EdgeKind)> {
        set.edges
            .iter()
            .map(|e| {
                (
                    set.objects[e.from].key.to_string(),
                    set.objects[e.to]
                        .key
                        .to_string()
                        .replace("devstats-db-credentials", "pg-db"),
                    e.kind,
                )
            })
            .collect()
    };
    assert_eq!(all(&b), all(&a));
}

/// Drops every desired object but the Namespace, as if the model had lost everything else.
fn only_the_namespace(set: &DesiredSet) -> DesiredSet {
    let objects: Vec<_> = set
        .objects
        .iter()
        .filter(|d| d.key.kind == Kind::NAMESPACE)
        .cloned()
        .collect();
    let index = objects
        .iter()
        .enumerate()
        .map(|(i, d)| (d.key.clone(), i))
        .collect();
    DesiredSet {
        objects,
        edges: Vec::new(),
        index,
        ..set.clone()
    }
}

/// Issue 12: apply prunes exactly the objects whose render policy has no prune guard; the flags
/// release exactly the volume and database guards; the Namespace never goes.
#[test]
fn apply_prunes_exactly_what_the_policy_says() {
    for fixture in ["example.yaml", "cncf.yaml"] {
        let set = desired(&model(fixture));
        let live = converged(&set);
        let gone = only_the_namespace(&set);
        let guard_of = |g: PruneGuard| -> BTreeSet<ObjectKey> {
            set.objects
                .iter()
                .filter(|d| d.policy.prune == g && d.key.kind != Kind::NAMESPACE)
                .map(|d| d.key.clone())
                .collect()
        };
        let opts = |volumes, database| PlanOptions {
            prune: PruneOptions {
                volumes,
                database,
                max_deletes: usize::MAX,
                ..PruneOptions::default()
            },
            ..PlanOptions::default()
        };
        let pruned =
            |o: PlanOptions| -> BTreeSet<ObjectKey> { plan(&gone, &live, &o).prune.into_iter().collect() };
        let none = guard_of(PruneGuard::None);
        let (volumes, database) = (guard_of(PruneGuard::Volumes), guard_of(PruneGuard::Database));
        assert_eq!(pruned(opts(false, false)), none, "{fixture}");
        assert_eq!(pruned(opts(true, false)), &none | &volumes, "{fixture}");
        assert_eq!(pruned(opts(false, true)), &none | &database, "{fixture}");
        let everything: BTreeSet<ObjectKey> = &(&none | &volumes) | &database;
        assert_eq!(pruned(opts(true, true)), everything, "{fixture}");
        // The database is Patroni's StatefulSet with its ServiceAccount, RBAC and Services, not
        // whatever is named like it (the base backup's CronJob and RBAC are not the database).
        assert!(database.iter().any(|k| k.kind == Kind::STATEFUL_SET), "{fixture}");
        assert!(
            database.iter().any(|k| k.kind == Kind::SERVICE_ACCOUNT),
            "{fixture}"
        );
        assert!(
            database
                .iter()
                .all(|k| !matches!(k.kind.kind, "NetworkPolicy" | "CronJob" | "PodMonitor")),
            "{fixture}: {database:?}"
        );
        let sts = set
            .objects
            .iter()
            .find(|d| d.key.kind == Kind::STATEFUL_SET)
            .expect("Patroni");
        assert_eq!(sts.policy.ready, Ready::Primary);
    }
}

/// Issue 12: destroy decided "database" by the `devstats-postgres` prefix and kept more than it
/// documents (Patroni's NetworkPolicy and PodMonitor, the base backup's CronJob and RBAC …); it
/// now keeps exactly what the policy guards.
#[test]
fn destroy_deletes_exactly_what_the_policy_says() {
    for fixture in ["example.yaml", "cncf.yaml"] {
        let set = desired(&model(fixture));
        let members = set.members();
        let p = devstats_cli::destroy::plan(&members, false);
        let deleted: BTreeSet<ObjectKey> = p.delete.iter().cloned().collect();
        let kept: BTreeSet<ObjectKey> = p.keep.iter().map(|(k, _)| k.clone()).collect();
        let unguarded: BTreeSet<ObjectKey> = set
            .objects
            .iter()
            .filter(|d| d.policy.prune == PruneGuard::None)
            .map(|d| d.key.clone())
            .collect();
        assert_eq!(deleted, unguarded, "{fixture}");
        assert_eq!(&kept | &deleted, set.keys(), "{fixture}");
        // Named like the database, not part of it: Patroni's NetworkPolicy (and, where rendered,
        // its PodMonitor) go with everything else.
        let named_like_it: Vec<&ObjectKey> = deleted
            .iter()
            .filter(|k| k.name.starts_with("devstats-postgres"))
            .collect();
        assert!(
            named_like_it.iter().any(|k| k.kind == Kind::NETWORK_POLICY),
            "{fixture}: {named_like_it:?}"
        );
        let all = devstats_cli::destroy::plan(&members, true);
        assert_eq!(all.delete.len(), members.len());
    }
}

/// The apply graph as it was derived before `Object::references` (a walk of its own, keyed by
/// kind and name without the namespace), kept here to prove the shared walk loses no edge.
fn edges_as_before(objects: &[devstats_render::Rendered]) -> BTreeSet<(usize, usize, EdgeKind)> {
    use devstats_render::Object;
    let mut by_kind_name: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (i, r) in objects.iter().enumerate() {
        by_kind_name.insert((r.object.kind(), r.object.name()), i);
    }
    let find = |kind: &str, name: &str| by_kind_name.get(&(kind, name)).copied();
    let mut out = BTreeSet::new();
    let mut add = |from: usize, to: Option<usize>| {
        if let Some(to) = to
            && to != from
        {
            out.insert((from, to, EdgeKind::Exists));
        }
    };
    for (i, r) in objects.iter().enumerate() {
        let o = &r.object;
        if let Some(ns) = o.namespace() {
            add(i, find("Namespace", ns));
        }
        if let Some(spec) = o.pod_spec() {
            for c in spec
                .init_containers
                .iter()
                .flatten()
                .chain(spec.containers.iter())
            {
                for e in c.env.iter().flatten() {
                    if let Some(sk) = e.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()) {
                        add(i, find("Secret", &sk.name));
                    }
                }
                for ef in c.env_from.iter().flatten() {
                    if let Some(sr) = &ef.secret_ref {
                        add(i, find("Secret", &sr.name));
                    }
                }
            }
            for v in spec.volumes.iter().flatten() {
                if let Some(name) = v.secret.as_ref().and_then(|s| s.secret_name.as_deref()) {
                    add(i, find("Secret", name));
                }
                if let Some(pvc) = &v.persistent_volume_claim {
                    add(i, find("PersistentVolumeClaim", &pvc.claim_name));
                }
            }
            if let Some(sa) = &spec.service_account_name {
                add(i, find("ServiceAccount", sa));
            }
        }
        match o {
            Object::StatefulSet(s) => {
                if let Some(svc) = s.spec.service_name.as_deref() {
                    add(i, find("Service", svc));
                }
            }
            Object::RoleBinding(rb) => {
                if rb.role_ref.kind == "Role" {
                    add(i, find("Role", &rb.role_ref.name));
                }
                for s in rb.subjects.iter().flatten() {
                    if s.kind == "ServiceAccount" {
                        add(i, find("ServiceAccount", &s.name));
                    }
                }
            }
            Object::Ingress(ing) => {
                let spec = ing.spec.as_ref();
                let backends = spec.and_then(|s| s.default_backend.as_ref()).into_iter().chain(
                    spec.iter()
                        .flat_map(|s| s.rules.iter().flatten())
                        .flat_map(|rule| rule.http.iter().flat_map(|h| h.paths.iter()).map(|p| &p.backend)),
                );
                for b in backends {
                    if let Some(svc) = &b.service {
                        add(i, find("Service", &svc.name));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// Issue 12: the apply graph now comes from `Object::references` (shared with the render's
/// reference check) and keys by namespace; it keeps every edge the old walk found.
#[test]
fn the_shared_reference_walk_keeps_every_apply_edge() {
    for fixture in ["example.yaml", "cncf.yaml"] {
        let m = model(fixture);
        let render = apply_support::render(&m);
        let set = desired(&m);
        let now: BTreeSet<(usize, usize, EdgeKind)> =
            set.edges.iter().map(|e| (e.from, e.to, e.kind)).collect();
        let before = edges_as_before(&render.objects);
        assert!(
            before.len() > set.objects.len(),
            "{fixture}: {} edges",
            before.len()
        );
        let lost: Vec<String> = before
            .difference(&now)
            .map(|(f, t, _)| format!("{} -> {}", set.objects[*f].key, set.objects[*t].key))
            .collect();
        assert!(lost.is_empty(), "{fixture}: lost {lost:?}");
    }
}
