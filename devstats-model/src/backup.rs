//! Backups and disaster recovery (`instance.disasterRecovery`): continuous physical backup of
//! Patroni with WAL-G (WAL archiving plus scheduled base backups taken on a replica), an
//! off-cluster copy of the logical dumps, and a restore drill.
//!
//! Everything is off by default (also for a model imported from `devstats-helm`): the render is
//! then exactly the chart's, whose only backup is the `devstats-backups` CronJob writing
//! `pg_dump`s into a volume of the same cluster. `docs/backup-and-restore.md` is the runbook.
//!
//! Credentials of the object store live in a Secret the model names (with its key names); the
//! model never holds a value.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::values::{CronSchedule, ImageRef, Name};

/// Backups and disaster recovery of an instance. See the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct DisasterRecovery {
    /// The S3-compatible object store that receives WAL, base backups and dump copies. Required
    /// by `walArchiving` and `dumps.offsite`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object_store: Option<ObjectStore>,
    /// Continuous physical backup of the Patroni cluster (point-in-time recovery).
    pub wal_archiving: WalArchiving,
    /// Retention of the logical dumps on the backups volume and their off-cluster copy.
    pub dumps: Dumps,
    /// The scheduled restore test of the newest dump.
    pub restore_drill: RestoreDrill,
}

impl DisasterRecovery {
    /// True for the default settings (nothing configured): not written to model files.
    #[must_use]
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// True when nothing is enabled (the chart's behaviour).
    #[must_use]
    pub fn is_off(&self) -> bool {
        !self.wal_archiving.enabled
            && !self.dumps.offsite.enabled
            && self.dumps.on_volume_generations == 0
            && !self.restore_drill.enabled
    }

    /// True when the dump copy CronJob is rendered (on-volume generations or an off-site copy).
    #[must_use]
    pub fn copies_dumps(&self) -> bool {
        self.dumps.offsite.enabled || self.dumps.on_volume_generations > 0
    }
}

/// An S3-compatible object store (AWS S3, MinIO, Ceph RGW, GCS in S3 mode, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectStore {
    /// Endpoint URL, e.g. `https://s3.us-west-2.amazonaws.com` or `https://minio.example.org:9000`.
    pub endpoint: String,
    /// Bucket name.
    pub bucket: String,
    /// Key prefix inside the bucket (no leading or trailing `/`), e.g. `devstats-prod`. WAL-G
    /// writes under `<prefix>/wal-g/`, dump copies go to `<prefix>/dumps/<date>/<db>.dump`.
    pub prefix: String,
    /// Region, e.g. `us-west-2` (any value the store accepts; MinIO: `us-east-1`).
    pub region: String,
    /// Path-style addressing (`endpoint/bucket/key`), needed by MinIO and most self-hosted stores.
    #[serde(default)]
    pub path_style: bool,
    /// The Secret holding the access key pair.
    pub credentials: ObjectStoreCredentials,
    /// Image of the copy tool (`rclone`, with a POSIX shell) used by the dump copy, the restore
    /// drill and `run restore --from`.
    #[serde(default = "default_rclone_image")]
    pub rclone_image: ImageRef,
}

/// The default copy tool image (rclone on Alpine: `/bin/sh`, `find`, `date`, `cp`).
#[must_use]
pub fn default_rclone_image() -> ImageRef {
    ImageRef::from("rclone/rclone:1.68.2")
}

/// Names of the Secret and its keys holding the object store's access key pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectStoreCredentials {
    /// Secret name, e.g. `devstats-backup-s3`.
    pub secret: Name,
    /// Key of the access key id.
    #[serde(default = "default_access_key")]
    pub access_key_id_key: String,
    /// Key of the secret access key.
    #[serde(default = "default_secret_key")]
    pub secret_access_key_key: String,
}

fn default_access_key() -> String {
    "AWS_ACCESS_KEY_ID".to_owned()
}

fn default_secret_key() -> String {
    "AWS_SECRET_ACCESS_KEY".to_owned()
}

/// WAL-G compression of WAL segments and base backups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// LZ4: fastest, larger.
    #[default]
    Lz4,
    /// Zstandard: good ratio at moderate CPU.
    Zstd,
    /// Brotli: best ratio, slowest.
    Brotli,
}

impl Compression {
    /// WAL-G's `WALG_COMPRESSION_METHOD` value.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Lz4 => "lz4",
            Self::Zstd => "zstd",
            Self::Brotli => "brotli",
        }
    }
}

/// Continuous archiving with WAL-G: every Patroni member gets the `wal-g` binary (copied from
/// `image` by an init container) and its environment; the base backup CronJob sets
/// `archive_mode`, `archive_command` and `restore_command` in Patroni's dynamic configuration
/// and runs `wal-g backup-push` inside a replica, then deletes backups beyond `retainFull`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct WalArchiving {
    /// Archive WAL and take base backups.
    pub enabled: bool,
    /// Image that holds the PostgreSQL `wal-g` binary (at `binary`) and `cp`, e.g. `busybox`
    /// plus a WAL-G release binary whose C library matches the Patroni image's (WAL-G publishes
    /// no image; `docs/backup-and-restore.md` shows a two-line Dockerfile). Required when
    /// `enabled`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageRef>,
    /// Path of the `wal-g` binary in `image`.
    pub binary: String,
    /// Image with `kubectl` and `/bin/sh`, used by the base backup CronJob to exec into a replica.
    pub kubectl_image: ImageRef,
    /// Base backup schedule (UTC).
    pub base_backup_schedule: CronSchedule,
    /// Full base backups kept; older ones and the WAL only they need are deleted.
    pub retain_full: u32,
    /// `archive_timeout` in seconds: the longest time a WAL segment waits before it is archived
    /// (the recovery point objective when writes are rare); 60 to 3600.
    pub archive_timeout_seconds: u32,
    /// Compression method.
    pub compression: Compression,
    /// Parallel uploads of a base backup (`WALG_UPLOAD_CONCURRENCY`).
    pub upload_concurrency: u32,
}

impl Default for WalArchiving {
    fn default() -> Self {
        Self {
            enabled: false,
            image: None,
            binary: "/usr/local/bin/wal-g".to_owned(),
            kubectl_image: ImageRef::from("alpine/k8s:1.33.4"),
            base_backup_schedule: CronSchedule::from("0 1 * * 0"),
            retain_full: 4,
            archive_timeout_seconds: 300,
            compression: Compression::Lz4,
            upload_concurrency: 4,
        }
    }
}

/// Retention of the logical dumps that `devstats-backups` writes to the backups volume
/// (`/root/<db>.dump`, overwritten by each run), and their off-cluster copy.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Dumps {
    /// Dated generations kept on the backups volume under `/root/dumps/<date>/` besides the
    /// current dump; 0 keeps only the current one (the chart).
    pub on_volume_generations: u32,
    /// The copy to object storage.
    pub offsite: OffsiteDumps,
}

/// The off-cluster copy of the logical dumps, by the `devstats-backups-copy` CronJob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct OffsiteDumps {
    /// Copy each new dump to `<prefix>/dumps/<date of the dump>/<db>.dump`.
    pub enabled: bool,
    /// When the copy job runs (UTC); it copies only dumps not yet copied, so it may run daily.
    pub schedule: CronSchedule,
    /// Dump generations (dates) kept in the object store; older ones are deleted.
    pub retention: u32,
}

impl Default for OffsiteDumps {
    fn default() -> Self {
        Self {
            enabled: false,
            schedule: CronSchedule::from("30 5 * * *"),
            retention: 6,
        }
    }
}

/// The restore drill CronJob `devstats-restore-drill`: restores the newest dump of one project
/// into a scratch database on the Patroni primary, runs the checks, drops the scratch database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct RestoreDrill {
    /// Render the drill.
    pub enabled: bool,
    /// Schedule (UTC); after the dumps are written (and copied).
    pub schedule: CronSchedule,
    /// The project whose dump is restored (a small one keeps the drill short).
    pub project: Option<Name>,
    /// Name of the scratch database (dropped before and after the drill).
    pub scratch_database: Name,
    /// Restore the copy in the object store (tests the off-site copy) instead of the dump on
    /// the backups volume. Requires `dumps.offsite`.
    pub from_object_store: bool,
    /// Parallel `pg_restore` jobs.
    pub jobs: u32,
    /// What the restored database must satisfy.
    pub checks: DrillChecks,
}

impl Default for RestoreDrill {
    fn default() -> Self {
        Self {
            enabled: false,
            schedule: CronSchedule::from("0 12 1 * *"),
            project: None,
            scratch_database: Name::from("devstats-drill"),
            from_object_store: false,
            jobs: 4,
            checks: DrillChecks::default(),
        }
    }
}

/// Checks of the restore drill (any failing one fails the Job).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct DrillChecks {
    /// Fewest tables in schema `public`.
    pub min_tables: u32,
    /// Fewest rows in `gha_events`.
    pub min_events: u64,
    /// Largest age in days of the newest `gha_events.created_at` (how stale the dump may be).
    pub max_event_age_days: u32,
}

impl Default for DrillChecks {
    fn default() -> Self {
        Self {
            min_tables: 20,
            min_events: 1,
            max_event_age_days: 45,
        }
    }
}
