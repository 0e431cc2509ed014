//! The logical backups CronJob `devstats-backups` and the vacuum CronJob `devstats-vacuum`.
//!
//! The chart's `devstats-backups.yaml` runs `./devstats-helm/backups.sh` (artificial-event backups
//! of every database plus randomly-aged full `pg_dump`s into the backups volume mounted at `/root`)
//! against the read-only PostgreSQL service. It picks the schedule, the suspend flag and
//! `TEST_SERVER`/`PROD_SERVER` from its own `backupsTestServer`/`backupsProdServer` flags, not from
//! the instance's. `devstats-vacuum.yaml` (off by default) runs `./devel/vacuum_all.sh`.
//!
//! We render both from `instance.components.backups` / `instance.components.vacuum`: the backups
//! role falls back to the instance role, the schedule is the model's single schedule, and `suspend`
//! is written only when true (as the chart). `ONLY` lists the databases of `onlyProjects`
//! separated by spaces, the way `devel/all_dbs.sh` consumes it (`for db in $ONLY`).

use std::collections::{BTreeMap, BTreeSet};

use devstats_model::{CronPolicy, ResourceSpec};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, PodTemplateSpec, Volume, VolumeMount};

use crate::core::common::{Env, chart_labels, mount, names, node_selector, pvc_volume, resources};
use crate::core::{ctx::Ctx, object::Object};

/// Name of the backups volume in the pod (the chart's `volumeName`-backups).
const BACKUPS_VOLUME: &str = "data-backups";
/// Where the backups job mounts the backups volume (the chart's `volumeMountPath`).
const BACKUPS_MOUNT: &str = "/root";
/// The chart's `concurrencyPolicy`.
const CONCURRENCY: &str = "Forbid";

fn i32_of(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// The pieces that differ between the two CronJobs.
struct Job<'a> {
    name: &'a str,
    component: &'a str,
    cron_type: &'a str,
    pod_type: &'a str,
    schedule: &'a str,
    suspend: bool,
    policy: CronPolicy,
    backoff_limit: Option<u32>,
    command: Vec<String>,
    image: &'a str,
    resources: Option<&'a ResourceSpec>,
    env: Option<Vec<EnvVar>>,
    volumes: Option<(Vec<Volume>, Vec<VolumeMount>)>,
    node_selector: &'a BTreeMap<String, String>,
}

fn cron_job(ctx: &Ctx<'_>, j: Job<'_>) -> Object {
    let (volumes, mounts) = j.volumes.map_or((None, None), |(v, m)| (Some(v), Some(m)));
    let container = Container {
        name: j.name.to_owned(),
        command: Some(j.command),
        resources: resources(j.resources),
        env: j.env,
        image: Some(j.image.to_owned()),
        image_pull_policy: ctx.pull_policy(),
        volume_mounts: mounts,
        ..Container::default()
    };
    let mut pod = PodSpec {
        containers: vec![container],
        volumes,
        restart_policy: Some("Never".to_owned()),
        node_selector: node_selector(j.node_selector),
        ..PodSpec::default()
    };
    crate::parts::security::harden_pod(ctx, &mut pod, crate::parts::security::Workload::Tool);
    Object::from(CronJob {
        metadata: ctx.meta(j.name, j.component, chart_labels(j.cron_type, None)),
        spec: CronJobSpec {
            schedule: j.schedule.to_owned(),
            suspend: j.suspend.then_some(true),
            successful_jobs_history_limit: Some(i32_of(j.policy.successful_jobs_history)),
            failed_jobs_history_limit: Some(i32_of(j.policy.failed_jobs_history)),
            starting_deadline_seconds: Some(i64::from(j.policy.starting_deadline_seconds)),
            concurrency_policy: Some(CONCURRENCY.to_owned()),
            job_template: JobTemplateSpec {
                metadata: None,
                spec: Some(JobSpec {
                    backoff_limit: j.backoff_limit.map(i32_of),
                    template: PodTemplateSpec {
                        metadata: Some(ctx.pod_meta(j.name, chart_labels(j.pod_type, None))),
                        spec: Some(pod),
                    },
                    ..JobSpec::default()
                }),
            },
            ..CronJobSpec::default()
        },
        ..CronJob::default()
    })
}

/// `ONLY`: the databases of the selected projects, space-separated, without duplicates.
fn only_databases(ctx: &Ctx<'_>) -> String {
    let mut seen = BTreeSet::new();
    let mut dbs = Vec::new();
    for name in &ctx.model.instance.components.backups.only_projects {
        let db = ctx
            .model
            .project(name.as_str())
            .map_or(name.as_str(), |p| p.database());
        if seen.insert(db) {
            dbs.push(db);
        }
    }
    dbs.join(" ")
}

/// The chart's backups script.
const BACKUPS_SCRIPT: &str = "./devstats-helm/backups.sh";

/// Starts the chart's backups script with a `db.sh` shim first in `PATH` that unlinks the
/// target of `pg_dump … -f FILE` when FILE has other hard links. `backups.sh` writes each full
/// dump with `db.sh pg_dump -Fc "$db" -f "/root/$db.dump"` (cncf/devstats-docker-images
/// `devstats-helm/backups.sh`), and pg_dump truncates an existing file in place: without the
/// shim, the next full dump would overwrite the dated generation that the copy job
/// (`devstats-backups-copy`) hard-linked to it. With it, the generation keeps the old inode and
/// the new dump gets a new one; the top-level name is partial while the dump runs, as before.
const GENERATIONS_WRAPPER: &str = r#"set -eu
mkdir -p /tmp/devstats-shim
cat > /tmp/devstats-shim/db.sh <<'SHIM'
#!/bin/bash
prev=''
for a in "$@"; do
  if [ "$prev" = '-f' ] && [ -f "$a" ] && [ "$(stat -c %h "$a")" -gt 1 ]; then
    echo "db.sh: $a is hard-linked into a dump generation: writing a new file" >&2
    rm -f "$a"
  fi
  prev="$a"
done
IFS=: read -r -a dirs <<< "$PATH"
for d in "${dirs[@]}"; do
  [ "$d" = /tmp/devstats-shim ] && continue
  [ -x "$d/db.sh" ] && exec "$d/db.sh" "$@"
done
echo 'db.sh: not found in PATH' >&2
exit 127
SHIM
chmod 0755 /tmp/devstats-shim/db.sh
export PATH="/tmp/devstats-shim:$PATH"
exec "#;

/// The backups container's command: the chart's script, wrapped so that dated dump generations
/// (`instance.disasterRecovery.dumps.onVolumeGenerations`, hard links) survive the next dump.
fn backups_command(ctx: &Ctx<'_>) -> Vec<String> {
    if ctx.model.instance.disaster_recovery.dumps.on_volume_generations == 0 {
        return vec![BACKUPS_SCRIPT.to_owned()];
    }
    vec![
        "/bin/bash".to_owned(),
        "-c".to_owned(),
        format!("{GENERATIONS_WRAPPER}{BACKUPS_SCRIPT}\n"),
    ]
}

/// The backups CronJob `devstats-backups`.
#[must_use]
pub(crate) fn build(ctx: &Ctx<'_>) -> Object {
    let inst = &ctx.model.instance;
    let b = &inst.components.backups;
    let pg = inst.secrets.postgres.as_str();
    let (test, prod) = Ctx::server_flags(b.role.unwrap_or(inst.role));
    let env = Env::new()
        .val("TEST_SERVER", test)
        .val("PROD_SERVER", prod)
        .val("ONLY", only_databases(ctx))
        .flag("NOAGE", b.no_age)
        .num("DBDEBUG", inst.tools.debug.level)
        .val("GIANT", b.giant.env_value())
        .val("FASTXZ", "1")
        .secret("PG_PORT", pg, "PG_PORT.secret")
        .secret("PG_HOST", pg, "PG_HOST_RO.secret")
        .secret("PG_PASS", pg, "PG_PASS.secret");
    cron_job(
        ctx,
        Job {
            name: names::BACKUPS,
            component: "backups",
            cron_type: "backups-cron",
            pod_type: "backups-sync",
            schedule: b.schedule.as_str(),
            suspend: b.suspend,
            policy: b.policy,
            backoff_limit: Some(b.backoff_limit),
            command: backups_command(ctx),
            image: inst.images.backups.as_str(),
            resources: inst.resources.backups.as_ref(),
            env: env.build(),
            volumes: Some((
                vec![pvc_volume(BACKUPS_VOLUME, names::BACKUPS_PVC)],
                vec![mount(BACKUPS_VOLUME, BACKUPS_MOUNT)],
            )),
            node_selector: &inst.node_selectors.backups,
        },
    )
}

/// The vacuum CronJob `devstats-vacuum`.
#[must_use]
pub(crate) fn vacuum(ctx: &Ctx<'_>) -> Object {
    let inst = &ctx.model.instance;
    let v = &inst.components.vacuum;
    let pg = inst.secrets.postgres.as_str();
    let env = Env::new()
        .num("DBDEBUG", inst.tools.debug.level)
        .secret("PG_PORT", pg, "PG_PORT.secret")
        .secret("PG_HOST", pg, "PG_HOST.secret")
        .secret("PG_PASS", pg, "PG_PASS.secret");
    cron_job(
        ctx,
        Job {
            name: names::VACUUM,
            component: "vacuum",
            cron_type: "vacuum-cron",
            pod_type: "vacuum-sync",
            schedule: v.schedule.as_str(),
            suspend: false,
            policy: v.policy,
            backoff_limit: None,
            command: vec!["./devel/vacuum_all.sh".to_owned()],
            image: inst.images.vacuum.as_str(),
            resources: inst.resources.vacuum.as_ref(),
            env: env.build(),
            volumes: None,
            node_selector: &inst.node_selectors.app,
        },
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use devstats_model::{CronSchedule, GiantMode, Instance, Model, Name, Project, Role};
    use serde_json::Value;

    use super::*;
    use crate::components::patroni::fixture::{assert_same, chart_object, ours};

    fn project(name: &str, db: Option<&str>) -> Project {
        let yaml = format!(
            "name: {name}\ndisplayName: {name}\nfoundations: [cncf]\ndisk: 50Gi\n{}",
            db.map(|d| format!("database: {d}\n")).unwrap_or_default()
        );
        serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("project: {e}"))
    }

    fn model() -> Model {
        let mut m = Model {
            instance: Instance::new("prod", "devstats-prod", Role::Prod, &["cncf"]),
            foundations: vec![],
            projects: vec![project("kubernetes", Some("gha")), project("prometheus", None)],
        };
        // The samples render the chart's default backupsTestServer='1' even in prod mode.
        m.instance.components.backups.role = Some(Role::Test);
        m.instance.components.backups.schedule = CronSchedule::from("45 3 30 * *");
        m
    }

    fn ctx(m: &Model) -> Ctx<'_> {
        Ctx {
            model: m,
            schedules: BTreeMap::new(),
            secrets: None,
        }
    }

    fn env(o: &Object) -> Vec<(String, Value)> {
        let v = ours(o);
        v.pointer("/spec/jobTemplate/spec/template/spec/containers/0/env")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .map(|e| {
                        (
                            e["name"].as_str().unwrap_or_default().to_owned(),
                            e["value"].clone(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn backups_match_the_chart_samples() {
        let m = model();
        assert_same(&chart_object("CronJob", names::BACKUPS), &build(&ctx(&m)));
    }

    #[test]
    fn vacuum_matches_the_chart_samples() {
        let mut m = model();
        m.instance.components.vacuum.enabled = true;
        assert_same(&chart_object("CronJob", names::VACUUM), &vacuum(&ctx(&m)));
    }

    #[test]
    fn backups_role_falls_back_to_the_instance() {
        let mut m = model();
        m.instance.components.backups.role = None;
        let e = env(&build(&ctx(&m)));
        assert_eq!(e[0], ("TEST_SERVER".to_owned(), Value::from("")));
        assert_eq!(e[1], ("PROD_SERVER".to_owned(), Value::from("1")));
    }

    #[test]
    fn backups_knobs() {
        let mut m = model();
        let b = &mut m.instance.components.backups;
        b.suspend = true;
        b.no_age = true;
        b.giant = GiantMode::None;
        b.backoff_limit = 3;
        b.only_projects = vec![Name::from("kubernetes"), Name::from("prometheus")];
        m.instance.tools.debug.level = Some(2);
        let o = build(&ctx(&m));
        let v = ours(&o);
        assert_eq!(v["spec"]["suspend"], true);
        assert_eq!(v["spec"]["schedule"], "45 3 30 * *");
        assert_eq!(v["spec"]["jobTemplate"]["spec"]["backoffLimit"], 3);
        let e: BTreeMap<_, _> = env(&o).into_iter().collect();
        assert_eq!(e["ONLY"], "gha prometheus");
        assert_eq!(e["NOAGE"], "1");
        assert_eq!(e["GIANT"], "");
        assert_eq!(e["DBDEBUG"], "2");
        assert_eq!(e["FASTXZ"], "1");
        // Not suspended: no `suspend` field, like the chart.
        m.instance.components.backups.suspend = false;
        assert!(ours(&build(&ctx(&m)))["spec"].get("suspend").is_none());
    }
}
