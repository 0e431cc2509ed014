//! Backups and disaster recovery (`instance.disasterRecovery`, `docs/backup-and-restore.md`):
//! snapshots of every new object of the CNCF production model with everything enabled, the
//! Patroni additions, the NetworkPolicy flows, the restore Jobs, the reference check, and the
//! hardened render written for checkov (`$CARGO_TARGET_TMPDIR/hardened-dr-cncf.yaml`).

use devstats_model::backup::{DisasterRecovery, ObjectStore, ObjectStoreCredentials};
use devstats_model::{ImageRef, Model, Name};
use devstats_render::disaster_recovery::{self as dr, RestoreSource};
use devstats_render::{Ctx, Object, Options, Rendered, output, refs, render};
use serde_json::Value;

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/")).join(name)
}

/// The CNCF production model with disaster recovery off (`fixtures/cncf.yaml` turns it on in
/// its `prod` environment).
fn cncf() -> Model {
    let mut m = devstats_model::load(&fixture("cncf.yaml")).unwrap_or_else(|e| panic!("{e}"));
    m.instance.disaster_recovery = devstats_model::backup::DisasterRecovery::default();
    m
}

/// The settings of the report's YAML block for the CNCF production instance.
fn enable(m: &mut Model) {
    let d = &mut m.instance.disaster_recovery;
    d.object_store = Some(ObjectStore {
        endpoint: "https://s3.us-west-2.amazonaws.com".to_owned(),
        bucket: "cncf-devstats-backups".to_owned(),
        prefix: "devstats-prod".to_owned(),
        region: "us-west-2".to_owned(),
        path_style: false,
        credentials: ObjectStoreCredentials {
            secret: Name::from("devstats-backup-s3"),
            access_key_id_key: "AWS_ACCESS_KEY_ID".to_owned(),
            secret_access_key_key: "AWS_SECRET_ACCESS_KEY".to_owned(),
        },
        rclone_image: devstats_model::backup::default_rclone_image(),
    });
    d.wal_archiving.enabled = true;
    d.wal_archiving.image = Some(ImageRef::from("ghcr.io/cncf/devstats-wal-g:v3.0.7"));
    d.dumps.on_volume_generations = 2;
    d.dumps.offsite.enabled = true;
    d.restore_drill.enabled = true;
    d.restore_drill.project = Some(Name::from("cni"));
    d.restore_drill.from_object_store = true;
}

fn cncf_dr() -> Model {
    let mut m = cncf();
    enable(&mut m);
    let problems = devstats_model::validate::validate(&m);
    assert!(problems.is_empty(), "{problems:?}");
    m
}

fn rendered(m: &Model) -> Vec<Rendered> {
    render(m, &Options::default())
        .unwrap_or_else(|e| panic!("{e}"))
        .objects
}

fn json(o: &Object) -> Value {
    serde_json::to_value(o).unwrap_or_else(|e| panic!("{}: {e}", o.id()))
}

fn find<'a>(objs: &'a [Rendered], kind: &str, name: &str) -> &'a Object {
    &objs
        .iter()
        .find(|r| r.object.kind() == kind && r.object.name() == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
        .object
}

fn yaml(o: &Object) -> String {
    output::yaml_stream(&[Rendered {
        policy: devstats_render::ApplyPolicy::of(devstats_render::Component::BaseBackup, o),
        component: devstats_render::Component::BaseBackup,
        project: None,
        foundation: None,
        object: o.clone(),
    }])
    .expect("yaml")
}

#[test]
fn off_by_default_renders_nothing_new() {
    let m = cncf();
    assert!(m.instance.disaster_recovery.is_off());
    let objs = rendered(&m);
    for r in &objs {
        let n = r.object.name();
        assert!(
            !n.contains("basebackup")
                && n != dr::BACKUPS_COPY
                && n != dr::RESTORE_DRILL
                && n != "devstats-restore",
            "{}",
            r.object.id()
        );
    }
    let sts = json(find(&objs, "StatefulSet", "devstats-postgres"));
    assert!(
        !sts.to_string().contains("wal-g"),
        "Patroni has wal-g while archiving is off"
    );
    // Settings that stay off (an object store alone) change nothing either.
    let mut with_store = cncf_dr();
    let d = &mut with_store.instance.disaster_recovery;
    d.wal_archiving.enabled = false;
    d.dumps.offsite.enabled = false;
    d.dumps.on_volume_generations = 0;
    d.restore_drill = devstats_model::backup::RestoreDrill::default();
    assert_eq!(
        output::yaml_stream(&rendered(&with_store)).expect("yaml"),
        output::yaml_stream(&objs).expect("yaml")
    );
}

#[test]
fn every_new_object_is_snapshotted() {
    let objs = rendered(&cncf_dr());
    for (kind, name) in [
        ("ServiceAccount", dr::BASE_BACKUP),
        ("Role", dr::BASE_BACKUP),
        ("RoleBinding", dr::BASE_BACKUP),
        ("CronJob", dr::BASE_BACKUP),
        ("CronJob", dr::BACKUPS_COPY),
        ("CronJob", dr::RESTORE_DRILL),
        ("NetworkPolicy", dr::BASE_BACKUP),
        ("NetworkPolicy", dr::BACKUPS_COPY),
        ("NetworkPolicy", "devstats-restore"),
    ] {
        let snap = format!("dr-{}-{name}", kind.to_ascii_lowercase());
        insta::assert_snapshot!(snap, yaml(find(&objs, kind, name)));
    }
}

#[test]
fn patroni_gets_wal_g_and_the_object_store() {
    let objs = rendered(&cncf_dr());
    let sts = json(find(&objs, "StatefulSet", "devstats-postgres"));
    let pod = &sts["spec"]["template"]["spec"];
    insta::assert_snapshot!(
        "dr-patroni-additions",
        serde_saphyr::to_string(&serde_json::json!({
            "initContainers": pod["initContainers"],
            "volumes": pod["volumes"],
            "volumeMounts": pod["containers"][0]["volumeMounts"],
            "env (after the chart's 53)": pod["containers"][0]["env"].as_array().map(|e| e[53..].to_vec()),
        }))
        .expect("yaml")
    );
    // Credentials only by reference.
    let env = &pod["containers"][0]["env"];
    let secret = env
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["name"] == "AWS_SECRET_ACCESS_KEY")
        .expect("secret env");
    assert_eq!(secret["valueFrom"]["secretKeyRef"]["name"], "devstats-backup-s3");
    assert!(secret.get("value").is_none());
    // The Patroni policy lets WAL-G reach the store.
    let np = json(find(&objs, "NetworkPolicy", "devstats-postgres"));
    assert!(np["spec"]["egress"].to_string().contains("\"port\":443"));
}

#[test]
fn the_archive_settings_use_the_installed_binary() {
    let w = devstats_model::backup::WalArchiving {
        archive_timeout_seconds: 120,
        ..Default::default()
    };
    let v: Value = serde_json::from_str(&dr::patroni_archive_config(&w)).expect("json");
    assert_eq!(
        v,
        serde_json::json!({"postgresql": {
            "parameters": {"archive_command": "/walg/wal-g wal-push %p", "archive_mode": "on", "archive_timeout": "120s"},
            "recovery_conf": {"restore_command": "/walg/wal-g wal-fetch %f %p"}
        }})
    );
}

#[test]
fn the_store_secret_is_required_and_checked() {
    let m = cncf_dr();
    let set = render(&m, &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    let s = set
        .required_secrets
        .iter()
        .find(|s| s.name == "devstats-backup-s3")
        .expect("store secret required");
    assert_eq!(s.keys, ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]);
    // Without it in the required list the reference check reports every reader.
    let others: Vec<_> = set
        .required_secrets
        .iter()
        .filter(|s| s.name != "devstats-backup-s3")
        .cloned()
        .collect();
    let err = refs::check(&set.objects, &others)
        .expect_err("dangling secret")
        .to_string();
    for reader in ["devstats-postgres", dr::BACKUPS_COPY, dr::RESTORE_DRILL] {
        assert!(err.contains(reader), "{reader} not reported:\n{err}");
    }
    assert!(!err.contains(dr::BASE_BACKUP), "{err}");
}

#[test]
fn restore_jobs_are_snapshotted_and_reference_rendered_objects() {
    let m = cncf_dr();
    let ctx = Ctx::new(&m, None).expect("ctx");
    let p = m.project("kubernetes").expect("kubernetes");
    let set = render(&m, &Options::default()).unwrap_or_else(|e| panic!("{e}"));
    for (from, snap) in [
        (None, "dr-restore-job-volume"),
        (Some("latest"), "dr-restore-job-latest"),
        (Some("dumps/2026-11-29/gha.dump"), "dr-restore-job-dated"),
    ] {
        let source = RestoreSource::parse(from, &m, p).unwrap_or_else(|e| panic!("{e}"));
        let job = dr::restore_job(
            &ctx,
            p,
            &source,
            "devstats-run-restore-kubernetes-1",
            from.is_some(),
        );
        insta::assert_snapshot!(snap, yaml(&job));
        let mut objects = set.objects.clone();
        objects.push(Rendered {
            policy: devstats_render::ApplyPolicy::of(devstats_render::Component::Provision, &job),
            component: devstats_render::Component::Provision,
            project: Some("kubernetes".to_owned()),
            foundation: None,
            object: job,
        });
        refs::check(&objects, &set.required_secrets).unwrap_or_else(|e| panic!("{from:?}: {e}"));
    }
}

#[test]
fn restore_sources_are_validated_before_any_io() {
    let m = cncf_dr();
    let p = m.project("kubernetes").expect("kubernetes");
    let ok = |f: Option<&str>| RestoreSource::parse(f, &m, p);
    assert_eq!(ok(None), Ok(RestoreSource::Volume));
    assert_eq!(
        ok(Some("latest")),
        Ok(RestoreSource::ObjectStore("latest".to_owned()))
    );
    assert_eq!(
        ok(Some("2026-11-29")),
        Ok(RestoreSource::ObjectStore("2026-11-29".to_owned()))
    );
    assert_eq!(
        ok(Some("dumps/2026-11-29/gha.dump")),
        Ok(RestoreSource::ObjectStore("2026-11-29".to_owned()))
    );
    for bad in [
        "yesterday",
        "2026-1-29",
        "dumps/2026-11-29/prometheus.dump",
        "../x",
        "2026-11-29;rm",
    ] {
        let e = ok(Some(bad)).expect_err(bad);
        assert!(e.contains("allowed") || e.contains("expected"), "{bad}: {e}");
    }
    // No off-site copy: --from is refused and says why.
    let plain = cncf();
    let e = RestoreSource::parse(Some("latest"), &plain, plain.project("kubernetes").expect("p"))
        .expect_err("no store");
    assert!(e.contains("objectStore"), "{e}");
}

#[test]
fn alert_thresholds_follow_the_schedules() {
    let m = cncf_dr();
    let alerts: Vec<(&str, u64)> = dr::alerts(&m)
        .iter()
        .map(|a| (a.cronjob, a.max_age_seconds / 86_400))
        .collect();
    assert_eq!(
        alerts,
        [
            ("devstats-backups", 63),
            (dr::BASE_BACKUP, 8),
            (dr::BACKUPS_COPY, 2),
            (dr::RESTORE_DRILL, 32),
        ]
    );
    assert_eq!(dr::endpoint_port("https://s3.example.org"), 443);
    assert_eq!(dr::endpoint_port("http://minio.minio:9000/"), 9000);
    assert_eq!(dr::endpoint_port("http://minio"), 80);
}

#[test]
fn hardened_dr_render_is_written_for_the_linters() {
    let m = cncf_dr();
    // fixtures/cncf.yaml uses the images as upstream publishes them (`latest`).
    assert_eq!(
        m.instance.security.images.require,
        devstats_model::hardening::Pinning::Any
    );
    let objs = rendered(&m);
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("hardened-dr-cncf.yaml");
    std::fs::write(&out, output::yaml_stream(&objs).expect("yaml"))
        .unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    // The base backup pod keeps its token (it execs), non-root with a read-only root filesystem.
    let cj = json(find(&objs, "CronJob", dr::BASE_BACKUP));
    let pod = &cj["spec"]["jobTemplate"]["spec"]["template"]["spec"];
    assert_eq!(pod["automountServiceAccountToken"], true);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["containers"][0]["securityContext"]["readOnlyRootFilesystem"],
        true
    );
    // The other new pods get no token.
    for name in [dr::BACKUPS_COPY, dr::RESTORE_DRILL] {
        let cj = json(find(&objs, "CronJob", name));
        assert_eq!(
            cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["automountServiceAccountToken"], false,
            "{name}"
        );
    }
    assert!(DisasterRecovery::default().is_off());
}

/// The YAML block of `docs/backup-and-restore.md` (under `<!-- cncf-prod-block -->`).
fn documented_block() -> String {
    let doc = std::fs::read_to_string(fixture("../docs/backup-and-restore.md")).expect("runbook");
    let after = doc.split("<!-- cncf-prod-block -->").nth(1).expect("marker");
    let body = after.split("```yaml\n").nth(1).expect("yaml fence");
    body.split("```").next().expect("closing fence").to_owned()
}

/// `fixtures/cncf.yaml` carries the runbook's block, byte for byte, under its `prod` overlay: prod
/// gets what these tests render, test keeps everything off (the two installs must never share an
/// archive).
#[test]
fn the_documented_prod_block_is_what_the_cncf_fixture_carries() {
    let src = std::fs::read_to_string(fixture("cncf.yaml")).expect("cncf.yaml");
    let indented: String = documented_block().lines().map(|l| format!("  {l}\n")).collect();
    assert!(
        src.contains(&format!("\n  prod:\n{indented}")),
        "cncf.yaml's prod overlay is not the runbook's block"
    );
    let env = |e: &str| {
        devstats_model::load_env(&fixture("cncf.yaml"), Some(e)).unwrap_or_else(|err| panic!("{e}: {err}"))
    };
    // The fixture writes WAL archiving out but leaves it off: its image is one you build
    // (images/wal-g/Dockerfile); everything else is what these tests render.
    let mut expected = cncf_dr().instance.disaster_recovery;
    expected.wal_archiving.enabled = false;
    expected.wal_archiving.image = Some(ImageRef::from("registry.example.org/devstats/wal-g:v3.0.7"));
    assert_eq!(env("prod").instance.disaster_recovery, expected);
    assert!(env("test").instance.disaster_recovery.is_off());
}
