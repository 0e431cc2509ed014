//! The rules of `instance` settings defined in [`crate::backup`]: every problem, located.

use crate::diagnostics::Problem;
use crate::source::Path;
use crate::types::Model;
use crate::values::CronSchedule;

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
    #[allow(unused_imports)]
    use crate::backup::*;
    #[allow(unused_imports)]
    use crate::types::*;
    #[allow(unused_imports)]
    use crate::values::*;

    #[test]
    fn off_by_default() {
        assert!(DisasterRecovery::default().is_off());
        assert!(!DisasterRecovery::default().copies_dumps());
    }

    fn model() -> Model {
        crate::parse_str("example.yaml", include_str!("../../../fixtures/example.yaml")).expect("valid")
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
