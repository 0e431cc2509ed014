//! Backups and disaster recovery (`instance.disasterRecovery`, `docs/backup-and-restore.md`).
//!
//! - **WAL archiving with WAL-G.** Every Patroni member gets the `wal-g` binary (an init
//!   container copies it from the model's image into the emptyDir `/walg`) and WAL-G's
//!   environment (bucket, endpoint, region, credentials by `secretKeyRef`); PostgreSQL inherits
//!   that environment, so `archive_command = /walg/wal-g wal-push %p` and `restore_command =
//!   /walg/wal-g wal-fetch %f %p` work in the postgres container itself.
//! - **Base backups:** the CronJob `devstats-postgres-basebackup` (kubectl image, own
//!   ServiceAccount allowed to list pods and exec into them) first writes the archive settings
//!   into Patroni's dynamic configuration (`PATCH /config` of the member's REST API, idempotent;
//!   the same on every member and kept across failovers), fails while `archive_mode` still waits
//!   for a restart, then runs `wal-g backup-push` inside a **replica** (the primary only when no
//!   replica runs): WAL-G needs the data directory locally, which only the members have. Then it
//!   deletes full backups beyond the retention (`wal-g delete retain FULL N`), with the WAL only
//!   they needed.
//! - **Dump generations and off-site copy:** the CronJob `devstats-backups-copy` keeps dated
//!   generations of the dumps `devstats-backups` writes (`/root/dumps/<date>/`) and copies each
//!   new dump to `<prefix>/dumps/<date>/<db>.dump` in the object store with rclone, pruning both
//!   to their retention.
//! - **Restore drill:** the CronJob `devstats-restore-drill` restores the newest dump of one
//!   project (from the volume or the object store) into a scratch database on the primary and
//!   checks tables, rows and the age of the newest event.
//! - [`restore_job`]: the Job of `devstats-k8s run restore --project P [--from latest|DATE]`.
//!
//! Scripts are constant text; every value they use comes from the environment, so no model
//! value is ever interpolated into a shell command.

use std::collections::BTreeMap;

use devstats_model::backup::{DisasterRecovery, ObjectStore, WalArchiving};
use devstats_model::{Model, Project};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec,
    ServiceAccount, Volume, VolumeMount,
};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use serde::Serialize;

use crate::core::common::{Env, chart_labels, mount, names, node_selector, resources};
use crate::core::facts::RequiredSecret;
use crate::core::{ctx::Ctx, object::Object};
use crate::parts::security::{self, Workload};

/// The base backup CronJob (and its ServiceAccount, Role, RoleBinding).
pub const BASE_BACKUP: &str = "devstats-postgres-basebackup";
/// The dump generations and off-site copy CronJob.
pub const BACKUPS_COPY: &str = "devstats-backups-copy";
/// The restore drill CronJob.
pub const RESTORE_DRILL: &str = "devstats-restore-drill";
/// The `app.kubernetes.io/component` of every object here.
const COMPONENT: &str = "backups";
/// Pod `type` labels (NetworkPolicies and hardening select by them).
pub(crate) const TYPE_BASE_BACKUP: &str = "postgres-basebackup";
/// Pod `type` label of the dump copy.
pub(crate) const TYPE_BACKUPS_COPY: &str = "backups-copy";
/// Pod `type` label of the restore drill and of restore Jobs.
pub(crate) const TYPE_RESTORE: &str = "restore";
/// The emptyDir holding `wal-g` in Patroni pods.
const WALG_VOLUME: &str = "wal-g";
/// Where it is mounted.
const WALG_DIR: &str = "/walg";
/// The binary in Patroni pods.
pub(crate) const WALG_BIN: &str = "/walg/wal-g";
/// Patroni's data directory (`PATRONI_POSTGRESQL_DATA_DIR`).
const PGDATA: &str = "/home/postgres/pgdata/pgroot/data";
/// The rclone remote name configured by environment (`RCLONE_CONFIG_STORE_*`).
const REMOTE_NAME: &str = "store";
/// The backups volume in pods, and its mount (as `devstats-backups`).
const BACKUPS_VOLUME: &str = "data-backups";
const BACKUPS_MOUNT: &str = "/root";
/// Scratch space for a downloaded dump.
const WORK_VOLUME: &str = "restore-work";
const WORK_MOUNT: &str = "/restore";

fn dr<'a>(ctx: &Ctx<'a>) -> &'a DisasterRecovery {
    &ctx.model.instance.disaster_recovery
}

/// True when Patroni archives WAL with WAL-G.
#[must_use]
pub(crate) fn wal_archiving(model: &Model) -> bool {
    let d = &model.instance.disaster_recovery;
    d.wal_archiving.enabled
        && d.object_store.is_some()
        && d.wal_archiving.image.is_some()
        && model.instance.components.postgres
}

/// True when a workload of this module reads the object store.
fn uses_store(d: &DisasterRecovery) -> bool {
    d.wal_archiving.enabled || d.dumps.offsite.enabled || d.restore_drill.from_object_store
}

/// The object store credentials Secret, when a rendered workload reads it.
#[must_use]
pub(crate) fn required_secret(ctx: &Ctx<'_>) -> Option<RequiredSecret> {
    let d = dr(ctx);
    let os = d.object_store.as_ref().filter(|_| uses_store(d))?;
    let c = &os.credentials;
    Some(RequiredSecret {
        name: c.secret.to_string(),
        keys: vec![c.access_key_id_key.clone(), c.secret_access_key_key.clone()],
    })
}

/// The TCP port of an endpoint URL: explicit, else 443 for https and 80 for http.
#[must_use]
pub fn endpoint_port(endpoint: &str) -> i32 {
    let (default, rest) = match endpoint.strip_prefix("http://") {
        Some(rest) => (80, rest),
        None => (443, endpoint.strip_prefix("https://").unwrap_or(endpoint)),
    };
    let host = rest.split('/').next().unwrap_or_default();
    host.rsplit_once(':')
        .and_then(|(_, p)| p.parse::<u16>().ok())
        .map_or(default, i32::from)
}

/// `s3://bucket/prefix/wal-g`: where WAL-G keeps WAL and base backups.
#[must_use]
pub(crate) fn walg_prefix(os: &ObjectStore) -> String {
    format!("s3://{}/{}/wal-g", os.bucket, os.prefix)
}

/// `store:bucket/prefix`: the rclone path of the instance's objects.
#[must_use]
pub(crate) fn rclone_remote(os: &ObjectStore) -> String {
    format!("{REMOTE_NAME}:{}/{}", os.bucket, os.prefix)
}

/// WAL-G's environment in the Patroni container (inherited by PostgreSQL, hence by
/// `archive_command` and `restore_command`, and by `kubectl exec`).
fn walg_env(os: &ObjectStore, w: &WalArchiving) -> Env {
    let c = &os.credentials;
    Env::new()
        .val("WALG_S3_PREFIX", walg_prefix(os))
        .val("AWS_ENDPOINT", os.endpoint.as_str())
        .val("AWS_REGION", os.region.as_str())
        .val("AWS_S3_FORCE_PATH_STYLE", os.path_style.to_string())
        .secret("AWS_ACCESS_KEY_ID", c.secret.as_str(), &c.access_key_id_key)
        .secret(
            "AWS_SECRET_ACCESS_KEY",
            c.secret.as_str(),
            &c.secret_access_key_key,
        )
        .val("WALG_COMPRESSION_METHOD", w.compression.as_str())
        .val("WALG_UPLOAD_CONCURRENCY", w.upload_concurrency.to_string())
}

/// rclone's remote `store` from the environment, and `REMOTE`.
fn rclone_env(os: &ObjectStore) -> Env {
    let c = &os.credentials;
    Env::new()
        .val("RCLONE_CONFIG_STORE_TYPE", "s3")
        .val("RCLONE_CONFIG_STORE_PROVIDER", "Other")
        .val("RCLONE_CONFIG_STORE_ENV_AUTH", "false")
        .val("RCLONE_CONFIG_STORE_ENDPOINT", os.endpoint.as_str())
        .val("RCLONE_CONFIG_STORE_REGION", os.region.as_str())
        .val("RCLONE_CONFIG_STORE_FORCE_PATH_STYLE", os.path_style.to_string())
        .secret(
            "RCLONE_CONFIG_STORE_ACCESS_KEY_ID",
            c.secret.as_str(),
            &c.access_key_id_key,
        )
        .secret(
            "RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY",
            c.secret.as_str(),
            &c.secret_access_key_key,
        )
        .val("RCLONE_CONFIG", "/tmp/rclone.conf")
        .val("HOME", "/tmp")
        .val("REMOTE", rclone_remote(os))
}

/// What WAL archiving adds to the Patroni pod: the init container installing `wal-g`, its
/// emptyDir, the mount, and the environment of the postgres container.
pub(crate) struct PatroniArchiving {
    /// Copies the binary into the emptyDir.
    pub init: Container,
    /// The emptyDir.
    pub volume: Volume,
    /// Its mount in the postgres container.
    pub mount: VolumeMount,
    /// WAL-G's environment.
    pub env: Env,
}

/// The Patroni additions, when WAL archiving is on.
#[must_use]
pub(crate) fn patroni_archiving(ctx: &Ctx<'_>) -> Option<PatroniArchiving> {
    if !wal_archiving(ctx.model) {
        return None;
    }
    let d = dr(ctx);
    let os = d.object_store.as_ref()?;
    let w = &d.wal_archiving;
    Some(PatroniArchiving {
        init: Container {
            name: "install-wal-g".to_owned(),
            image: Some(w.image.as_ref()?.as_str().to_owned()),
            image_pull_policy: ctx.pull_policy(),
            command: Some(vec!["cp".to_owned(), w.binary.clone(), WALG_BIN.to_owned()]),
            volume_mounts: Some(vec![mount(WALG_VOLUME, WALG_DIR)]),
            ..Container::default()
        },
        volume: Volume {
            name: WALG_VOLUME.to_owned(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        },
        mount: mount(WALG_VOLUME, WALG_DIR),
        env: walg_env(os, w),
    })
}

/// Patroni's dynamic configuration for archiving (the body of `PATCH /config`).
#[derive(Debug, Serialize)]
struct PatroniConfig {
    postgresql: PatroniPostgresql,
}

#[derive(Debug, Serialize)]
struct PatroniPostgresql {
    parameters: BTreeMap<&'static str, String>,
    recovery_conf: BTreeMap<&'static str, String>,
}

/// The JSON the base backup job writes into Patroni's dynamic configuration.
#[must_use]
pub fn patroni_archive_config(w: &WalArchiving) -> String {
    let body = PatroniConfig {
        postgresql: PatroniPostgresql {
            parameters: BTreeMap::from([
                ("archive_mode", "on".to_owned()),
                ("archive_command", format!("{WALG_BIN} wal-push %p")),
                ("archive_timeout", format!("{}s", w.archive_timeout_seconds)),
            ]),
            recovery_conf: BTreeMap::from([("restore_command", format!("{WALG_BIN} wal-fetch %f %p"))]),
        },
    };
    serde_json::to_string(&body).unwrap_or_default()
}

/// The base backup script (kubectl image). Inputs: `PATRONI_ARCHIVE_CONFIG`, `RETAIN_FULL`,
/// `WALG`, `PGDATA_DIR`.
const BASE_BACKUP_SCRIPT: &str = r#"set -eu
sel="cluster-name=devstats-postgres"
member() { kubectl get pods -l "$sel,role=$1" --field-selector=status.phase=Running -o jsonpath='{.items[0].metadata.name}' 2>/dev/null || true; }
pod=$(member replica)
if [ -z "$pod" ]; then
  echo "no running replica: taking the base backup on the primary"
  pod=$(member primary)
  [ -n "$pod" ] || pod=$(member master)
fi
[ -n "$pod" ] || { echo "no running Patroni member" >&2; exit 1; }
echo "member: $pod"
x() { kubectl exec "$pod" -c devstats-postgres -- sh -c 'export PGHOST=/var/run/postgresql PGUSER="$PATRONI_SUPERUSER_USERNAME" PGDATABASE=postgres; exec "$@"' sh "$@"; }
x curl -sSf -X PATCH -H 'Content-Type: application/json' --data "$PATRONI_ARCHIVE_CONFIG" http://localhost:8008/config >/dev/null
mode=$(x psql -Atc 'show archive_mode')
if [ "$mode" != "on" ]; then
  echo "archive_mode is '$mode': Patroni has a pending restart; restart the members (docs/backup-and-restore.md, Enabling)" >&2
  exit 1
fi
x "$WALG" backup-push "$PGDATA_DIR"
x "$WALG" delete retain FULL "$RETAIN_FULL" --confirm
x "$WALG" backup-list
"#;

/// The dump generations and off-site copy script (rclone image). Inputs: `GENERATIONS`,
/// `REMOTE` (empty: no off-site copy), `RETENTION`.
const COPY_SCRIPT: &str = r#"set -eu
cd /root
n=0
for f in $(find . -maxdepth 1 -name '*.dump' -type f -mmin +60 | sort); do
  f=${f#./}
  n=$((n + 1))
  d=$(date -u -r "$f" +%Y-%m-%d)
  if [ "$GENERATIONS" -gt 0 ]; then
    mkdir -p "dumps/$d"
    # A hard link: same volume, no second copy (the backups job writes each new dump to a new
    # inode, see crate::backups). Never a copy: a full volume fails pg_dump and Grafana.
    [ -f "dumps/$d/$f" ] || ln "$f" "dumps/$d/$f"
  fi
  if [ -n "$REMOTE" ]; then
    rclone copyto --s3-no-check-bucket "$f" "$REMOTE/dumps/$d/$f"
  fi
  echo "$f: generation $d"
done
[ "$n" -gt 0 ] || { echo "no finished dump in /root" >&2; exit 1; }
if [ "$GENERATIONS" -gt 0 ]; then
  ls -1 dumps | sort -r | tail -n +$((GENERATIONS + 1)) | while read -r d; do echo "pruning dumps/$d"; rm -rf "dumps/$d"; done
fi
if [ -n "$REMOTE" ]; then
  rclone lsf --dirs-only "$REMOTE/dumps/" | sed 's#/$##' | sort -r | tail -n +$((RETENTION + 1)) | while read -r d; do echo "pruning $REMOTE/dumps/$d"; rclone purge "$REMOTE/dumps/$d"; done
fi
"#;

/// Downloads one dump from the object store (rclone image). Inputs: `REMOTE`, `DB`,
/// `GENERATION` (`latest` or a date).
const FETCH_SCRIPT: &str = r#"set -eu
g="$GENERATION"
if [ "$g" = latest ]; then
  g=$(rclone lsf --dirs-only "$REMOTE/dumps/" | sed 's#/$##' | sort | tail -n 1)
fi
[ -n "$g" ] || { echo "no dump generation in $REMOTE/dumps" >&2; exit 1; }
echo "fetching $REMOTE/dumps/$g/$DB.dump"
rclone copyto "$REMOTE/dumps/$g/$DB.dump" "/restore/$DB.dump"
"#;

/// The drill (backups image). Inputs: `DUMP`, `SCRATCH`, `JOBS`, `MIN_TABLES`, `MIN_EVENTS`,
/// `MAX_EVENT_AGE_DAYS`, libpq's `PG*`.
const DRILL_SCRIPT: &str = r#"set -eu
[ -s "$DUMP" ] || { echo "no dump at $DUMP" >&2; exit 1; }
echo "dump $DUMP: $(du -h "$DUMP" | cut -f1), written $(date -u -r "$DUMP" +%Y-%m-%dT%H:%M:%SZ)"
drop() { dropdb --if-exists "$SCRATCH"; }
drop
trap drop EXIT
createdb "$SCRATCH"
start=$(date +%s)
pg_restore -j "$JOBS" --no-owner --no-privileges -d "$SCRATCH" "$DUMP"
echo "restored in $(($(date +%s) - start)) s"
q() { psql -d "$SCRATCH" -v ON_ERROR_STOP=1 -Atc "$1"; }
tables=$(q "select count(*) from information_schema.tables where table_schema = 'public'")
events=$(q "select count(*) from gha_events")
age=$(q "select coalesce(floor(extract(epoch from now() - max(created_at)) / 86400), 999999)::bigint from gha_events")
echo "tables=$tables events=$events newest_event_age_days=$age"
ok=1
[ "$tables" -ge "$MIN_TABLES" ] || { echo "CHECK FAILED: $tables tables, expected at least $MIN_TABLES" >&2; ok=0; }
[ "$events" -ge "$MIN_EVENTS" ] || { echo "CHECK FAILED: $events events, expected at least $MIN_EVENTS" >&2; ok=0; }
[ "$age" -le "$MAX_EVENT_AGE_DAYS" ] || { echo "CHECK FAILED: newest event is $age days old, at most $MAX_EVENT_AGE_DAYS allowed" >&2; ok=0; }
[ "$ok" = 1 ] || exit 1
echo "DRILL PASSED"
"#;

/// The restore of a project database (backups image): restores into `<db>_restore`, then swaps
/// it with the live database, which is kept as `<db>_before_restore_<stamp>`. Inputs: `DUMP`,
/// `DB`, `JOBS`, libpq's `PG*`.
const RESTORE_SCRIPT: &str = r#"set -eu
[ -s "$DUMP" ] || { echo "no dump at $DUMP" >&2; exit 1; }
echo "dump $DUMP: $(du -h "$DUMP" | cut -f1), written $(date -u -r "$DUMP" +%Y-%m-%dT%H:%M:%SZ)"
new="${DB}_restore"
old="${DB}_before_restore_$(date -u +%Y%m%d%H%M)"
dropdb --if-exists "$new"
createdb "$new"
start=$(date +%s)
pg_restore -j "$JOBS" -d "$new" "$DUMP"
echo "restored into $new in $(($(date +%s) - start)) s"
exists=$(psql -d postgres -v ON_ERROR_STOP=1 -v db="$DB" -Atc "select count(*) from pg_database where datname = :'db'")
psql -d postgres -v ON_ERROR_STOP=1 -v db="$DB" -v new="$new" -v old="$old" -v exists="$exists" <<'SQL'
select pg_terminate_backend(pid) from pg_stat_activity where datname in (:'db', :'new') and pid <> pg_backend_pid();
\if :exists
alter database :"db" rename to :"old";
\endif
alter database :"new" rename to :"db";
SQL
[ "$exists" = 0 ] || echo "the previous database is kept as $old: drop it once the restore is verified"
echo "RESTORED $DB"
"#;

fn sh(script: &str) -> Option<Vec<String>> {
    Some(vec!["/bin/sh".to_owned(), "-c".to_owned(), script.to_owned()])
}

/// libpq's environment for the primary, from the PostgreSQL Secret.
fn libpq_env(ctx: &Ctx<'_>) -> Env {
    let pg = ctx.model.instance.secrets.postgres.as_str();
    Env::new()
        .secret("PGHOST", pg, "PG_HOST.secret")
        .secret("PGPORT", pg, "PG_PORT.secret")
        .secret("PGUSER", pg, "PG_ADMIN_USER.secret")
        .secret("PGPASSWORD", pg, "PG_PASS.secret")
}

fn backups_volume(read_only: bool) -> Volume {
    Volume {
        name: BACKUPS_VOLUME.to_owned(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: names::BACKUPS_PVC.to_owned(),
            read_only: read_only.then_some(true),
        }),
        ..Volume::default()
    }
}

fn backups_mount(read_only: bool) -> VolumeMount {
    VolumeMount {
        read_only: read_only.then_some(true),
        ..mount(BACKUPS_VOLUME, BACKUPS_MOUNT)
    }
}

fn work_volume() -> Volume {
    Volume {
        name: WORK_VOLUME.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

/// A CronJob running `pod` (`concurrencyPolicy: Forbid`, one retry, history 3/3).
fn cron_job(ctx: &Ctx<'_>, name: &str, ty: &str, schedule: &str, mut pod: PodSpec, w: Workload) -> Object {
    pod.restart_policy = Some("Never".to_owned());
    security::harden_pod(ctx, &mut pod, w);
    Object::from(CronJob {
        metadata: ctx.meta(name, COMPONENT, chart_labels(&format!("{ty}-cron"), None)),
        spec: CronJobSpec {
            schedule: schedule.to_owned(),
            time_zone: Some("Etc/UTC".to_owned()),
            concurrency_policy: Some("Forbid".to_owned()),
            starting_deadline_seconds: Some(3600),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(3),
            job_template: JobTemplateSpec {
                metadata: None,
                spec: Some(JobSpec {
                    backoff_limit: Some(1),
                    template: PodTemplateSpec {
                        metadata: Some(ctx.pod_meta(name, chart_labels(ty, None))),
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

/// The base backup CronJob with its ServiceAccount, Role (list pods, exec into them) and
/// RoleBinding; nothing unless WAL archiving is on.
#[must_use]
pub(crate) fn base_backup(ctx: &Ctx<'_>) -> Vec<Object> {
    if !wal_archiving(ctx.model) {
        return Vec::new();
    }
    let inst = &ctx.model.instance;
    let w = &inst.disaster_recovery.wal_archiving;
    let meta = || ctx.meta(BASE_BACKUP, COMPONENT, chart_labels(TYPE_BASE_BACKUP, None));
    let rule = |resources: &str, verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![String::new()]),
        resources: Some(vec![resources.to_owned()]),
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        ..PolicyRule::default()
    };
    let env = Env::new()
        .val("PATRONI_ARCHIVE_CONFIG", patroni_archive_config(w))
        .val("RETAIN_FULL", w.retain_full.to_string())
        .val("WALG", WALG_BIN)
        .val("PGDATA_DIR", PGDATA)
        .val("HOME", "/tmp");
    let pod = PodSpec {
        service_account_name: Some(BASE_BACKUP.to_owned()),
        containers: vec![Container {
            name: "basebackup".to_owned(),
            image: Some(w.kubectl_image.as_str().to_owned()),
            image_pull_policy: ctx.pull_policy(),
            command: sh(BASE_BACKUP_SCRIPT),
            env: env.build(),
            ..Container::default()
        }],
        node_selector: node_selector(&inst.node_selectors.backups),
        ..PodSpec::default()
    };
    vec![
        Object::from(ServiceAccount {
            metadata: meta(),
            ..ServiceAccount::default()
        }),
        Object::from(Role {
            metadata: meta(),
            rules: Some(vec![
                rule("pods", &["get", "list"]),
                // kubectl 1.30+ opens exec over WebSocket first: a GET, which RBAC checks as `get`
                // (kubernetes/kubernetes#133515); `create` serves the SPDY fallback.
                rule("pods/exec", &["create", "get"]),
            ]),
        }),
        Object::from(RoleBinding {
            metadata: meta(),
            role_ref: RoleRef {
                api_group: Some("rbac.authorization.k8s.io".to_owned()),
                kind: "Role".to_owned(),
                name: BASE_BACKUP.to_owned(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".to_owned(),
                name: BASE_BACKUP.to_owned(),
                ..Subject::default()
            }]),
        }),
        cron_job(
            ctx,
            BASE_BACKUP,
            TYPE_BASE_BACKUP,
            w.base_backup_schedule.as_str(),
            pod,
            Workload::Operator,
        ),
    ]
}

/// The dump generations and off-site copy CronJob, when either is on.
#[must_use]
pub(crate) fn backups_copy(ctx: &Ctx<'_>) -> Option<Object> {
    let inst = &ctx.model.instance;
    let d = &inst.disaster_recovery;
    if !d.copies_dumps() || !inst.components.backups.enabled {
        return None;
    }
    let offsite = d.object_store.as_ref().filter(|_| d.dumps.offsite.enabled);
    let image = offsite.map_or_else(devstats_model::backup::default_rclone_image, |os| {
        os.rclone_image.clone()
    });
    let mut env = Env::new()
        .val("GENERATIONS", d.dumps.on_volume_generations.to_string())
        .val("RETENTION", d.dumps.offsite.retention.to_string());
    env = match offsite {
        Some(os) => env.extend(rclone_env(os)),
        None => env.val("REMOTE", ""),
    };
    let read_only = d.dumps.on_volume_generations == 0;
    let pod = PodSpec {
        containers: vec![Container {
            name: "copy".to_owned(),
            image: Some(image.as_str().to_owned()),
            image_pull_policy: ctx.pull_policy(),
            command: sh(COPY_SCRIPT),
            env: env.build(),
            volume_mounts: Some(vec![backups_mount(read_only)]),
            ..Container::default()
        }],
        volumes: Some(vec![backups_volume(read_only)]),
        node_selector: node_selector(&inst.node_selectors.backups),
        ..PodSpec::default()
    };
    Some(cron_job(
        ctx,
        BACKUPS_COPY,
        TYPE_BACKUPS_COPY,
        d.dumps.offsite.schedule.as_str(),
        pod,
        Workload::Tool,
    ))
}

/// Where a restore takes its dump from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RestoreSource {
    /// `/root/<db>.dump` on the backups volume (what `devstats-backups` wrote last).
    Volume,
    /// A generation in the object store: `latest` or a date `YYYY-MM-DD`.
    ObjectStore(String),
}

impl RestoreSource {
    /// Parses `--from`: absent → the volume; `latest`, `YYYY-MM-DD` or
    /// `dumps/YYYY-MM-DD/<db>.dump` → the object store (which the model must configure, with the
    /// off-site copy on).
    pub fn parse(from: Option<&str>, model: &Model, project: &Project) -> Result<Self, String> {
        let Some(from) = from else {
            return if model.instance.components.backups.enabled {
                Ok(Self::Volume)
            } else {
                Err("the model renders no logical backups (components.backups.enabled is false): there is no dump on the backups volume; use --from latest|DATE with an object store".to_owned())
            };
        };
        let d = &model.instance.disaster_recovery;
        if d.object_store.is_none() || !d.dumps.offsite.enabled {
            return Err(format!(
                "--from {from}: the model has no off-site dump copy (instance.disasterRecovery.objectStore and dumps.offsite.enabled); restore from the backups volume by leaving out --from"
            ));
        }
        let db = project.database();
        let date = if from == "latest" {
            return Ok(Self::ObjectStore("latest".to_owned()));
        } else if let Some(rest) = from.strip_prefix("dumps/") {
            match rest.split_once('/') {
                Some((date, file)) if file == format!("{db}.dump") => date,
                _ => {
                    return Err(format!(
                        "--from {from}: expected dumps/YYYY-MM-DD/{db}.dump (the dump of project {})",
                        project.name
                    ));
                }
            }
        } else {
            from
        };
        let b = date.as_bytes();
        let is_date = b.len() == 10
            && b.iter().enumerate().all(|(i, c)| {
                if i == 4 || i == 7 {
                    *c == b'-'
                } else {
                    c.is_ascii_digit()
                }
            });
        if is_date {
            Ok(Self::ObjectStore(date.to_owned()))
        } else {
            Err(format!(
                "--from {from}: allowed: latest, a dump date YYYY-MM-DD, or dumps/YYYY-MM-DD/{db}.dump"
            ))
        }
    }
}

/// Adds the download of `generation` of `db` from the object store as an init container and
/// returns the dump path.
fn fetch_from_store(ctx: &Ctx<'_>, pod: &mut PodSpec, db: &str, generation: &str) -> String {
    if let Some(os) = dr(ctx).object_store.as_ref() {
        let env = rclone_env(os).val("DB", db).val("GENERATION", generation);
        pod.init_containers = Some(vec![Container {
            name: "fetch".to_owned(),
            image: Some(os.rclone_image.as_str().to_owned()),
            image_pull_policy: ctx.pull_policy(),
            command: sh(FETCH_SCRIPT),
            env: env.build(),
            volume_mounts: Some(vec![mount(WORK_VOLUME, WORK_MOUNT)]),
            ..Container::default()
        }]);
    }
    pod.volumes.get_or_insert_with(Vec::new).push(work_volume());
    pod.containers[0]
        .volume_mounts
        .get_or_insert_with(Vec::new)
        .push(mount(WORK_VOLUME, WORK_MOUNT));
    format!("{WORK_MOUNT}/{db}.dump")
}

/// A pod restoring the dump of `db`, from `source`, with `script` and extra env.
fn restore_pod(ctx: &Ctx<'_>, db: &str, source: &RestoreSource, script: &str, env: Env) -> PodSpec {
    let inst = &ctx.model.instance;
    let mut pod = PodSpec {
        containers: vec![Container {
            name: "restore".to_owned(),
            image: Some(inst.images.backups.as_str().to_owned()),
            image_pull_policy: ctx.pull_policy(),
            command: sh(script),
            resources: resources(inst.resources.backups.as_ref()),
            ..Container::default()
        }],
        node_selector: node_selector(&inst.node_selectors.backups),
        ..PodSpec::default()
    };
    let dump = match source {
        RestoreSource::Volume => {
            pod.volumes = Some(vec![backups_volume(true)]);
            pod.containers[0].volume_mounts = Some(vec![backups_mount(true)]);
            format!("{BACKUPS_MOUNT}/{db}.dump")
        }
        RestoreSource::ObjectStore(g) => fetch_from_store(ctx, &mut pod, db, g),
    };
    pod.containers[0].env = Env::new()
        .val("DUMP", dump)
        .extend(env)
        .extend(libpq_env(ctx))
        .build();
    pod
}

/// The restore drill CronJob, when enabled.
#[must_use]
pub(crate) fn restore_drill(ctx: &Ctx<'_>) -> Option<Object> {
    let r = &dr(ctx).restore_drill;
    if !r.enabled {
        return None;
    }
    let project = ctx.model.project(r.project.as_ref()?.as_str())?;
    let source = if r.from_object_store {
        RestoreSource::ObjectStore("latest".to_owned())
    } else {
        RestoreSource::Volume
    };
    let c = &r.checks;
    let env = Env::new()
        .val("SCRATCH", r.scratch_database.as_str())
        .val("JOBS", r.jobs.to_string())
        .val("MIN_TABLES", c.min_tables.to_string())
        .val("MIN_EVENTS", c.min_events.to_string())
        .val("MAX_EVENT_AGE_DAYS", c.max_event_age_days.to_string());
    let pod = restore_pod(ctx, project.database(), &source, DRILL_SCRIPT, env);
    Some(cron_job(
        ctx,
        RESTORE_DRILL,
        TYPE_RESTORE,
        r.schedule.as_str(),
        pod,
        Workload::Tool,
    ))
}

/// The Job of `devstats-k8s run restore --project P [--from …]`: restores the project's dump
/// into `<db>_restore` and swaps it with the live database (kept as
/// `<db>_before_restore_<stamp>`). Kept an hour after it ends unless `keep`.
#[must_use]
pub fn restore_job(
    ctx: &Ctx<'_>,
    project: &Project,
    source: &RestoreSource,
    name: &str,
    keep: bool,
) -> Object {
    let env = Env::new()
        .val("DB", project.database())
        .val("JOBS", dr(ctx).restore_drill.jobs.to_string());
    let pod = restore_pod(ctx, project.database(), source, RESTORE_SCRIPT, env);
    // The pod type selects its NetworkPolicy: `devstats-restore` exists when any
    // disasterRecovery feature is on; otherwise the restore (from the volume: `--from` needs the
    // object store, which is a feature) runs under the backups job's policy (PostgreSQL only).
    let ty = if dr(ctx).is_off() {
        "backups-sync"
    } else {
        TYPE_RESTORE
    };
    crate::parts::task_job::build(
        ctx,
        crate::parts::task_job::TaskJob {
            name,
            component: COMPONENT,
            task: "restore",
            labels: chart_labels(ty, Some(project.name.as_str())),
            keep,
            deadline_seconds: None,
        },
        pod,
    )
}

/// A backup CronJob and the age of its last success beyond which it should alert
/// (`time() - kube_cronjob_status_last_successful_time{cronjob=…} > max_age_seconds`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupAlert {
    /// CronJob name.
    pub cronjob: &'static str,
    /// Largest acceptable age of its last successful run, in seconds.
    pub max_age_seconds: u64,
}

/// Largest gap in days between two runs of common schedule shapes: every day (`* *` in the
/// day fields) 1, a weekday 7, a day of the month 31 (62 for days 29 to 31, which February
/// skips); anything else 31.
fn period_days(cron: &str) -> u64 {
    let f: Vec<&str> = cron.split_whitespace().collect();
    match (f.get(2).copied(), f.get(3).copied(), f.get(4).copied()) {
        (Some("*"), Some("*"), Some("*")) => 1,
        (Some("*"), Some("*"), Some(_)) => 7,
        (Some(dom), Some("*"), Some("*")) if dom.parse::<u32>().is_ok_and(|d| d >= 29) => 62,
        _ => 31,
    }
}

/// The CronJobs of the model's backups and when each should alert: one period plus a day of
/// slack for the job's own run time.
#[must_use]
pub fn alerts(model: &Model) -> Vec<BackupAlert> {
    const DAY: u64 = 86_400;
    let inst = &model.instance;
    let d = &inst.disaster_recovery;
    let mut out = Vec::new();
    let mut add = |on: bool, cronjob: &'static str, schedule: &str| {
        if on {
            out.push(BackupAlert {
                cronjob,
                max_age_seconds: (period_days(schedule) + 1) * DAY,
            });
        }
    };
    add(
        inst.components.backups.enabled && !inst.components.backups.suspend,
        names::BACKUPS,
        inst.components.backups.schedule.as_str(),
    );
    add(
        wal_archiving(model),
        BASE_BACKUP,
        d.wal_archiving.base_backup_schedule.as_str(),
    );
    add(
        d.copies_dumps() && inst.components.backups.enabled,
        BACKUPS_COPY,
        d.dumps.offsite.schedule.as_str(),
    );
    add(
        d.restore_drill.enabled,
        RESTORE_DRILL,
        d.restore_drill.schedule.as_str(),
    );
    out
}
