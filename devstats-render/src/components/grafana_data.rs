//! The Job of `devstats-k8s run grafana-data`: seeds or refreshes the shared Grafana data on the
//! backups volume (`grafana/` at its root: `/root/grafana` in every Grafana pod, which links it to
//! `/grafana` and copies its dashboards, images and `sqlitedb`/`replacer` tools at each start;
//! `/usr/share/nginx/html/backups/grafana` in the static sites).
//!
//! Upstream does it by hand for every project add, archive and graduation and for fresh or
//! disaster-recovery installs (devstats-helm `README.md`, `ADDING_NEW_PROJECTS.md`,
//! `ARCHIVING.md`, `GRADUATING.md`): build `devstats-grafana.tar` on a workstation from
//! cncf/devstats and cncf/devstatscode, `kubectl cp` it into a static-site pod, and there, as
//! root, `tar xf` and `mv` it into `html/backups/grafana`. The hardened static sites run as UID
//! 10001 on a read-only root filesystem, so that no longer works (and should not: a web server
//! that can rewrite the data every Grafana executes). This Job does the same as a tool job
//! (root, the backups image, the backups volume at `/data`, no network at all): it waits for the
//! CLI to upload the archive into an emptyDir (an exec with stdin, as `kubectl cp` does), checks
//! that it holds what the Grafanas need, unpacks it next to the live data and swaps it in with
//! two renames, so a Grafana starting meanwhile sees the old or the new data, never half of it.

use k8s_openapi::api::core::v1::{Container, EmptyDirVolumeSource, PodSpec, Volume};

use crate::core::common::{Env, chart_labels, mount, names, node_selector, pvc_volume, resources};
use crate::core::{ctx::Ctx, object::Object};

/// Component and pod `type` label of the Job.
pub(crate) const TYPE: &str = "grafana-data";
/// The container (the CLI execs into it).
pub const CONTAINER: &str = "grafana-data";
/// Where the upload lands (an emptyDir).
pub(crate) const UPLOAD_DIR: &str = "/upload";
/// The command the CLI runs in the container, the archive on its stdin.
pub const UPLOAD_COMMAND: [&str; 3] = [
    "/bin/sh",
    "-c",
    "cat > /upload/devstats-grafana.tar.part && mv /upload/devstats-grafana.tar.part /upload/devstats-grafana.tar && touch /upload/done",
];
/// What the archive must hold (paths as upstream's `tar cf devstats-grafana.tar grafana/…`).
pub const REQUIRED: [&str; 6] = [
    "grafana/shared/",
    "grafana/dashboards/",
    "grafana/img/",
    "grafana/sqlitedb",
    "grafana/runq",
    "grafana/replacer",
];
/// Seconds the Job waits for the upload.
const WAIT_SECONDS: u32 = 1800;

/// The Job's script (POSIX sh: the backups image is Alpine-based).
const SCRIPT: &str = r#"set -eu
i=0
echo "waiting for devstats-grafana.tar (devstats-k8s run grafana-data uploads it)"
until [ -f /upload/done ]; do
  i=$((i + 1))
  [ "$i" -le "$WAIT_SECONDS" ] || { echo "no upload within ${WAIT_SECONDS}s" >&2; exit 1; }
  sleep 1
done
rm -rf /data/grafana.new
mkdir -p /data/grafana.new
tar -xf /upload/devstats-grafana.tar -C /data/grafana.new
for f in $REQUIRED; do
  if [ ! -e "/data/grafana.new/$f" ]; then
    echo "the archive has no $f (make it as docs/operations.md, Grafana data, says)" >&2
    rm -rf /data/grafana.new
    exit 1
  fi
done
chmod -R ugo+rwX /data/grafana.new/grafana
stamp=$(date -u +%Y%m%d%H%M%S)
if [ -d /data/grafana ]; then mv /data/grafana "/data/grafana.old-$stamp"; fi
mv /data/grafana.new/grafana /data/grafana
rmdir /data/grafana.new
rm -rf "/data/grafana.old-$stamp"
echo "grafana data in place: $(find /data/grafana/dashboards -name '*.json' | wc -l) dashboards, $(ls /data/grafana/dashboards | wc -l) projects"
"#;

/// The Job `name` (the CLI picks a unique one).
#[must_use]
pub fn job(ctx: &Ctx<'_>, name: &str) -> Object {
    let inst = &ctx.model.instance;
    let required: Vec<&str> = REQUIRED.iter().map(|p| p.trim_end_matches('/')).collect();
    let env = Env::new()
        .val("WAIT_SECONDS", WAIT_SECONDS.to_string())
        .val("REQUIRED", required.join(" "));
    let pod = PodSpec {
        containers: vec![Container {
            name: CONTAINER.to_owned(),
            image: Some(inst.images.backups.to_string()),
            image_pull_policy: ctx.pull_policy(),
            command: Some(vec!["/bin/sh".to_owned(), "-c".to_owned(), SCRIPT.to_owned()]),
            env: env.build(),
            resources: resources(inst.resources.backups.as_ref()),
            volume_mounts: Some(vec![mount("data-backups", "/data"), mount("upload", UPLOAD_DIR)]),
            ..Container::default()
        }],
        volumes: Some(vec![
            pvc_volume("data-backups", names::BACKUPS_PVC),
            Volume {
                name: "upload".to_owned(),
                empty_dir: Some(EmptyDirVolumeSource::default()),
                ..Volume::default()
            },
        ]),
        node_selector: node_selector(&inst.node_selectors.backups),
        ..PodSpec::default()
    };
    crate::parts::task_job::build(
        ctx,
        crate::parts::task_job::TaskJob {
            name,
            component: TYPE,
            task: TYPE,
            labels: chart_labels(TYPE, None),
            keep: false,
            deadline_seconds: Some(i64::from(WAIT_SECONDS) * 2),
        },
        pod,
    )
}
