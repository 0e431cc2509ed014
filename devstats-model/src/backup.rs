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

use crate::diagnostics::Problem;
use crate::source::Path;
use crate::types::Model;
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

fn schedule_problem(path: Path, s: &CronSchedule) -> Option<Problem> {
    s.check()
        .err()
        .map(|e| Problem::new(path, e).help("allowed: 5-field cron, e.g. '0 1 * * 0'"))
}

/// Checks the disaster recovery settings; returns every problem.
#[must_use]
pub fn validate(model: &Model) -> Vec<Problem> {
    let mut out = Vec::new();
    let dr = &model.instance.disaster_recovery;
    let p = Path::root().key("instance").key("disasterRecovery");
    let needs_store = "configure instance.disasterRecovery.objectStore (endpoint, bucket, prefix, region, credentials), or disable this";

    if let Some(os) = &dr.object_store {
        let op = p.key("objectStore");
        if !(os.endpoint.starts_with("https://") || os.endpoint.starts_with("http://"))
            || os.endpoint.len() <= "https://".len()
            || os.endpoint.chars().any(char::is_whitespace)
        {
            out.push(
                Problem::new(
                    op.key("endpoint"),
                    format!("`{}` is not an endpoint URL", os.endpoint),
                )
                .help("allowed: http(s)://host[:port], e.g. https://s3.us-west-2.amazonaws.com"),
            );
        }
        let bucket_ok = (3..=63).contains(&os.bucket.len())
            && os
                .bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
            && os.bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
            && os.bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
        if !bucket_ok {
            out.push(
                Problem::new(op.key("bucket"), format!("`{}` is not a bucket name", os.bucket))
                    .help("allowed: 3 to 63 characters: lowercase a-z, 0-9, '-' and '.', starting and ending with a letter or digit"),
            );
        }
        let prefix_ok = !os.prefix.is_empty()
            && !os.prefix.starts_with('/')
            && !os.prefix.ends_with('/')
            && !os.prefix.contains("//")
            && os
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
        if !prefix_ok {
            out.push(
                Problem::new(op.key("prefix"), format!("`{}` is not a key prefix", os.prefix))
                    .help("allowed: a non-empty path of a-z, A-Z, 0-9, '-', '_', '.' and '/', without a leading or trailing '/', e.g. devstats-prod"),
            );
        }
        if os.region.is_empty() || os.region.chars().any(char::is_whitespace) {
            out.push(
                Problem::new(op.key("region"), "the region is empty or has spaces")
                    .help("e.g. us-west-2 (MinIO: us-east-1)"),
            );
        }
        if let Err(e) = os.credentials.secret.check() {
            out.push(
                Problem::new(op.key("credentials").key("secret"), e)
                    .help("allowed: DNS-1123 label: lowercase a-z, 0-9 and '-', at most 63 characters"),
            );
        }
        for (field, key) in [
            ("accessKeyIdKey", &os.credentials.access_key_id_key),
            ("secretAccessKeyKey", &os.credentials.secret_access_key_key),
        ] {
            let ok = !key.is_empty()
                && key.len() <= 253
                && key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
            if !ok {
                out.push(
                    Problem::new(
                        op.key("credentials").key(field),
                        format!("`{key}` is not a Secret key"),
                    )
                    .help("allowed: a-z, A-Z, 0-9, '-', '_' and '.', e.g. AWS_ACCESS_KEY_ID"),
                );
            }
        }
        if let Err(e) = os.rclone_image.check() {
            out.push(
                Problem::new(op.key("rcloneImage"), e)
                    .help("allowed: registry/repository[:tag][@sha256:digest]"),
            );
        }
    }

    let w = &dr.wal_archiving;
    let wp = p.key("walArchiving");
    if w.enabled {
        if dr.object_store.is_none() {
            out.push(
                Problem::new(wp.key("enabled"), "WAL archiving needs an object store").help(needs_store),
            );
        }
        if !model.instance.components.postgres {
            out.push(
                Problem::new(
                    wp.key("enabled"),
                    "WAL archiving needs the Patroni cluster, but components.postgres is false",
                )
                .help("enable components.postgres, or disable walArchiving"),
            );
        }
        if w.image.is_none() {
            out.push(
                Problem::new(wp.key("image"), "WAL archiving needs an image holding the wal-g binary")
                    .help("e.g. registry.example.org/devstats/wal-g:v3.0.7; docs/backup-and-restore.md shows how to build it"),
            );
        }
        let images = w
            .image
            .iter()
            .map(|i| ("image", i))
            .chain([("kubectlImage", &w.kubectl_image)]);
        for (field, img) in images {
            if let Err(e) = img.check() {
                out.push(
                    Problem::new(wp.key(field), e).help("allowed: registry/repository[:tag][@sha256:digest]"),
                );
            }
        }
        if !w.binary.starts_with('/') || w.binary.chars().any(|c| c.is_whitespace() || c == '\'') {
            out.push(
                Problem::new(
                    wp.key("binary"),
                    format!("`{}` is not an absolute path", w.binary),
                )
                .help("e.g. /usr/local/bin/wal-g"),
            );
        }
    }
    out.extend(schedule_problem(
        wp.key("baseBackupSchedule"),
        &w.base_backup_schedule,
    ));
    if w.retain_full == 0 {
        out.push(
            Problem::new(wp.key("retainFull"), "0 full backups would delete every backup")
                .help("allowed: 1 or more (4 weekly backups keep a month of point-in-time recovery)"),
        );
    }
    if !(60..=3600).contains(&w.archive_timeout_seconds) {
        out.push(
            Problem::new(
                wp.key("archiveTimeoutSeconds"),
                format!("{} s is out of range", w.archive_timeout_seconds),
            )
            .help("allowed: 60 to 3600 (each forced switch archives a whole 16 MB segment)"),
        );
    }
    if !(1..=64).contains(&w.upload_concurrency) {
        out.push(
            Problem::new(
                wp.key("uploadConcurrency"),
                format!("{} is out of range", w.upload_concurrency),
            )
            .help("allowed: 1 to 64"),
        );
    }

    let d = &dr.dumps;
    let dp = p.key("dumps").key("offsite");
    if d.offsite.enabled && dr.object_store.is_none() {
        out.push(
            Problem::new(dp.key("enabled"), "the off-site dump copy needs an object store").help(needs_store),
        );
    }
    if dr.copies_dumps() && !model.instance.components.backups.enabled {
        out.push(
            Problem::new(
                p.key("dumps"),
                "dump copies and generations need the logical backups, but components.backups.enabled is false",
            )
            .help("enable components.backups, or set offsite.enabled: false and onVolumeGenerations: 0"),
        );
    }
    out.extend(schedule_problem(dp.key("schedule"), &d.offsite.schedule));
    if d.offsite.retention == 0 {
        out.push(
            Problem::new(dp.key("retention"), "a retention of 0 would delete every copy")
                .help("allowed: 1 or more dump generations"),
        );
    }

    let r = &dr.restore_drill;
    let rp = p.key("restoreDrill");
    out.extend(schedule_problem(rp.key("schedule"), &r.schedule));
    if let Err(e) = r.scratch_database.check() {
        out.push(
            Problem::new(rp.key("scratchDatabase"), e)
                .help("allowed: DNS-1123 label: lowercase a-z, 0-9 and '-', at most 63 characters"),
        );
    }
    if r.enabled {
        match &r.project {
            None => out.push(
                Problem::new(
                    rp.key("project"),
                    "the drill needs a project whose dump it restores",
                )
                .help("name a deployed project, preferably a small one"),
            ),
            Some(name) => {
                if let Some(proj) = model.project(name.as_str()) {
                    if proj.database() == r.scratch_database.as_str() {
                        out.push(
                            Problem::new(
                                rp.key("scratchDatabase"),
                                "the scratch database is the project's own database",
                            )
                            .help("use a name no project uses, e.g. devstats-drill"),
                        );
                    }
                } else {
                    let known = crate::structure::suggest(
                        name.as_str(),
                        model.projects.iter().map(|p| p.name.as_str()),
                    )
                    .map(|s| format!("; did you mean '{s}'?"))
                    .unwrap_or_default();
                    out.push(
                        Problem::new(rp.key("project"), format!("unknown project '{name}'{known}"))
                            .help("name a project of the model"),
                    );
                }
            }
        }
        if model
            .projects
            .iter()
            .any(|p| p.database() == r.scratch_database.as_str())
        {
            out.push(
                Problem::new(
                    rp.key("scratchDatabase"),
                    format!("`{}` is a project database", r.scratch_database),
                )
                .help("the drill drops it: use a name no project uses, e.g. devstats-drill"),
            );
        }
        if r.from_object_store && !d.offsite.enabled {
            out.push(
                Problem::new(
                    rp.key("fromObjectStore"),
                    "restoring from the object store needs the off-site dump copy",
                )
                .help("enable dumps.offsite, or set fromObjectStore: false"),
            );
        }
        if !r.from_object_store && !model.instance.components.backups.enabled {
            out.push(
                Problem::new(rp.key("enabled"), "the drill restores the dump on the backups volume, but components.backups.enabled is false")
                    .help("enable components.backups, or restore from the object store"),
            );
        }
        if !(1..=64).contains(&r.jobs) {
            out.push(
                Problem::new(rp.key("jobs"), format!("{} is out of range", r.jobs)).help("allowed: 1 to 64"),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_by_default() {
        assert!(DisasterRecovery::default().is_off());
        assert!(!DisasterRecovery::default().copies_dumps());
    }

    fn model() -> Model {
        crate::parse_str("example.yaml", include_str!("../../fixtures/example.yaml")).expect("valid")
    }

    fn messages(m: &Model) -> Vec<String> {
        validate(m)
            .iter()
            .map(|p| format!("{}: {}", p.path, p.message))
            .collect()
    }

    #[test]
    fn features_without_an_object_store_are_refused() {
        let mut m = model();
        let d = &mut m.instance.disaster_recovery;
        d.wal_archiving.enabled = true;
        d.wal_archiving.image = Some(ImageRef::from("registry.example.org/wal-g:v3.0.7"));
        d.dumps.offsite.enabled = true;
        let got = messages(&m);
        assert!(
            got.iter()
                .any(|p| p.contains("walArchiving.enabled") && p.contains("needs an object store")),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|p| p.contains("dumps.offsite.enabled") && p.contains("needs an object store")),
            "{got:?}"
        );
    }

    #[test]
    fn the_drill_needs_its_sources() {
        let mut m = model();
        m.instance.components.backups.enabled = false;
        let d = &mut m.instance.disaster_recovery;
        d.restore_drill.enabled = true;
        d.dumps.on_volume_generations = 2;
        let got = messages(&m);
        for needle in [
            "restoreDrill.project: the drill needs a project",
            "restoreDrill.enabled: the drill restores the dump on the backups volume",
            "dumps: dump copies and generations need the logical backups",
        ] {
            assert!(got.iter().any(|p| p.contains(needle)), "{needle}: {got:?}");
        }
        m.instance.disaster_recovery.restore_drill.from_object_store = true;
        assert!(
            messages(&m)
                .iter()
                .any(|p| p.contains("restoreDrill.fromObjectStore"))
        );
    }

    #[test]
    fn defaults_are_valid_and_not_serialized() {
        let m = model();
        assert!(validate(&m).is_empty());
        let yaml = serde_saphyr::to_string(&m.instance).expect("yaml");
        assert!(!yaml.contains("disasterRecovery"), "{yaml}");
    }

    #[test]
    fn compression_names() {
        assert_eq!(Compression::Zstd.as_str(), "zstd");
        assert_eq!(Compression::default().as_str(), "lz4");
    }
}
