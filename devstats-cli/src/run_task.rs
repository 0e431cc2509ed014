//! `run`: a named maintenance Job built from a project's provisioning pod template (the chart's
//! runbooks: `reinit.sh`, `vars.sh`, `health.sh`, `restore.sh`, `annotations.sh`, `affs.sh`,
//! `merge_dbs.sh`, … and `sleep` for a shell), its logs streamed, its outcome reported.
//! `run provision` re-runs the provisioning itself: the only way to provision a project twice.

use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::EnvVar;
use serde_json::Value;

use crate::apply::ObjectError;
use crate::cluster::ApiError;
use crate::cluster::Cluster;
use crate::engine::Engine;
use crate::kinds::{Kind, ObjectKey};
use crate::waits::{self, Readiness, WaitFor, WaitOutcome};

/// A maintenance task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Task {
    /// The name `run` accepts.
    pub name: &'static str,
    /// The container command.
    pub command: &'static [&'static str],
    /// What it does.
    pub description: &'static str,
}

macro_rules! script_tasks {
    ($($name:literal => $doc:literal;)*) => {
        /// Every task `run` accepts.
        pub const TASKS: &[Task] = &[
            Task { name: "provision", command: &["./devstats-helm/deploy_all.sh"], description: "re-run the project's provisioning (the same Job apply creates once)" },
            Task { name: "restore", command: &["pg_restore"], description: "restore the project database from its dump (the backups volume, or the object store with --from latest|DATE) into <db>_restore and swap it in; the old database is kept" },
            Task { name: "grafana-data", command: &["/bin/sh"], description: "seed or refresh the shared Grafana data (grafana/ on the backups volume) from devstats-grafana.tar (--from FILE): after adding, archiving or graduating a project, and on a fresh or restored install; no --project" },
            Task { name: "restore_site", command: &["./devstats-helm/restore.sh"], description: "restore the project database from the public backups site (the chart's restore.sh, RESTORE_FROM)" },
            $(Task { name: $name, command: &[concat!("./devstats-helm/", $name, ".sh")], description: $doc },)*
            Task { name: "sleep", command: &["/bin/sleep", "86400"], description: "a pod to `kubectl exec` into (a shell with the project's env and volume), ends after a day" },
        ];
    };
}

script_tasks! {
    "reinit" => "re-initialize the project database (drop and recompute metrics)";
    "vars" => "recompute template variables (vars.sh)";
    "health" => "run health checks";
    "restore_artificial_all" => "restore artificial events of all projects";
    "annotations" => "recompute annotations (releases) and quick ranges";
    "affs" => "import affiliations";
    "merge_dbs" => "merge databases (set INPUT_DBS/OUTPUT_DB with --set)";
    "repos" => "refresh the repository list";
    "repo_groups" => "recompute repository groups";
    "licenses_langs" => "refresh licenses and languages";
    "ghapi" => "refresh GitHub API data";
    "clear_devstats_running_flag" => "clear a stale `devstats_running` flag";
    "set_provisioned_flag" => "set the `provisioned` flag";
    "flags" => "show the project's flags";
    "add_metric" => "add a metric";
    "grants" => "re-apply database grants";
    "periods" => "recompute periods";
}

/// A task name that is not a task.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown task '{name}'; allowed: {}", TASKS.iter().map(|t| t.name).collect::<Vec<_>>().join(", "))]
pub struct UnknownTask {
    /// The name given.
    pub name: String,
}

/// Finds a task by name (`-` and `_` interchangeable); also `run`'s clap value parser.
pub fn find(name: &str) -> Result<&'static Task, UnknownTask> {
    TASKS
        .iter()
        .find(|t| t.name == name || t.name.replace('_', "-") == name)
        .ok_or_else(|| UnknownTask {
            name: name.to_owned(),
        })
}

/// What `run` is asked to do: its flags checked together ([`check_flags`]) before the model
/// file is read or a request made (ripgrep's low-level args → high-level args).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskRequest {
    /// `run grafana-data --from FILE`: the shared Grafana data.
    GrafanaData {
        /// The `devstats-grafana.tar` to install.
        archive: std::path::PathBuf,
    },
    /// `run provision --project P`: the provisioning Job itself, again.
    Provision {
        /// The project.
        project: String,
    },
    /// `run restore --project P [--from SOURCE]`.
    Restore {
        /// The project.
        project: String,
        /// `--from` (absent: the dump on the backups volume).
        from: Option<String>,
    },
    /// Any other task: a Job made from the project's provisioning Job.
    Script {
        /// The task.
        task: &'static Task,
        /// The project.
        project: String,
        /// `--set KEY=VALUE`, in order.
        env: Vec<(String, String)>,
    },
}

/// A combination of `run` flags that does not go together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    /// `--project` with `run grafana-data`.
    #[error("--project is not used by `run grafana-data`: the Grafana data is shared by every project")]
    ProjectNotUsed,
    /// `--set` with a task whose Job is not made from the provisioning Job.
    #[error("--set is not allowed with `run {task}`{why}")]
    SetNotAllowed {
        /// The task.
        task: &'static str,
        /// Why, after a colon (or nothing).
        why: &'static str,
    },
    /// `run grafana-data` without `--from`.
    #[error("`run grafana-data` needs --from devstats-grafana.tar (see docs/operations.md, Grafana data)")]
    ArchiveRequired,
    /// A task that runs in a project's pod without `--project`.
    #[error("--project is required with `run {0}`")]
    ProjectRequired(&'static str),
    /// `--from` with a task that reads no source.
    #[error("--from is only allowed with `run restore` and `run grafana-data`")]
    FromNotAllowed,
    /// `--set` without `=`, or with an empty key.
    #[error("--set {0}: expected KEY=VALUE")]
    NotKeyValue(String),
}

/// Checks `run`'s flags together: which go with which task, and every `--set` is `KEY=VALUE`.
pub fn check_flags(
    task: &'static Task,
    project: Option<&str>,
    set: &[String],
    from: Option<&str>,
) -> Result<TaskRequest, FlagError> {
    if task.name == "grafana-data" {
        if project.is_some() {
            return Err(FlagError::ProjectNotUsed);
        }
        if !set.is_empty() {
            return Err(FlagError::SetNotAllowed {
                task: task.name,
                why: "",
            });
        }
        let archive = from.ok_or(FlagError::ArchiveRequired)?;
        return Ok(TaskRequest::GrafanaData {
            archive: archive.into(),
        });
    }
    let project = project.ok_or(FlagError::ProjectRequired(task.name))?.to_owned();
    match task.name {
        "provision" | "restore" if !set.is_empty() => Err(FlagError::SetNotAllowed {
            task: task.name,
            why: if task.name == "provision" {
                ": provisioning runs exactly as rendered"
            } else {
                ": the restore Job is built from the model"
            },
        }),
        "restore" => Ok(TaskRequest::Restore {
            project,
            from: from.map(str::to_owned),
        }),
        _ if from.is_some() => Err(FlagError::FromNotAllowed),
        "provision" => Ok(TaskRequest::Provision { project }),
        _ => {
            let env = set
                .iter()
                .map(|kv| {
                    kv.split_once('=')
                        .filter(|(k, _)| !k.is_empty())
                        .map(|(k, v)| (k.to_owned(), v.to_owned()))
                        .ok_or_else(|| FlagError::NotKeyValue(kv.clone()))
                })
                .collect::<Result<_, _>>()?;
            Ok(TaskRequest::Script { task, project, env })
        }
    }
}

/// Why a task's Job cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The rendered provisioning Job lacks a part the task Job is made of.
    #[error("the provisioning Job has no {0}")]
    Incomplete(&'static str),
    /// `--project` names no project.
    #[error("unknown project '{0}'")]
    UnknownProject(String),
    /// The restore source (`--from`) is unusable.
    #[error("{0}")]
    Source(String),
    /// The model cannot be rendered.
    #[error("{0}")]
    Render(#[from] devstats_render::RenderError),
    /// The Job does not serialize.
    #[error("cannot serialize the {what} Job: {source}")]
    Serialize {
        /// Which Job.
        what: &'static str,
        /// Why.
        source: serde_json::Error,
    },
}

/// Why a grafana-data archive (`--from`) is unusable.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// It cannot be read.
    #[error("--from {}: {source}", path.display())]
    Read {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// It is not a tar archive.
    #[error("--from {}: not a tar archive (make it as docs/operations.md, Grafana data, says)", path.display())]
    NotTar {
        /// The file.
        path: std::path::PathBuf,
    },
    /// It lacks entries the Grafanas need.
    #[error(
        "--from {}: the archive has no {} (it must hold what upstream's devstats-grafana.tar holds; see docs/operations.md, Grafana data)",
        path.display(),
        missing.join(", ")
    )]
    Missing {
        /// The file.
        path: std::path::PathBuf,
        /// The entries it lacks.
        missing: Vec<&'static str>,
    },
}

/// Why a task run failed (not the task itself: that is [`RunOutcome::Failed`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// A request about the Job or its pod failed.
    #[error(transparent)]
    Object(#[from] ObjectError),
    /// The run-once Job is still running.
    #[error("{job} is running ({message}); wait for it, or delete it first")]
    Running {
        /// The Job.
        job: ObjectKey,
        /// Its progress.
        message: String,
    },
    /// The chart's provisioning pod exists and has not completed.
    #[error("the chart's pod {0} exists and has not completed; delete it first")]
    ChartPod(String),
    /// The previous Job was not gone within the timeout.
    #[error("{0} is still being deleted")]
    StillDeleting(ObjectKey),
    /// A Job of the name exists.
    #[error("{0} already exists")]
    Exists(ObjectKey),
    /// No pod started within the timeout.
    #[error("{key}: no pod started within {secs}s")]
    NoPod {
        /// The Job.
        key: ObjectKey,
        /// The timeout.
        secs: u64,
    },
    /// The upload into the pod failed.
    #[error("uploading {} into {namespace}/{pod}: {error}", path.display())]
    Upload {
        /// The file.
        path: std::path::PathBuf,
        /// The pod's namespace.
        namespace: String,
        /// The pod.
        pod: String,
        /// Why.
        error: ApiError,
    },
    /// The Job was deleted while it ran.
    #[error("{0} disappeared")]
    Disappeared(ObjectKey),
    /// The Job did not end within the timeout.
    #[error("{key}: timed out after {secs}s ({message})")]
    TimedOut {
        /// The Job.
        key: ObjectKey,
        /// The timeout.
        secs: u64,
        /// Its last progress.
        message: String,
    },
}

/// Base-36 text of a number (short unique suffixes).
fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

/// The Job name of a task run: `devstats-run-{task}-{project}-{stamp}`, at most 63 characters.
#[must_use]
pub fn job_name(task: &str, project: &str, stamp: u64) -> String {
    let suffix = format!("-{}", base36(stamp));
    let mut head = format!("devstats-run-{}-{project}", task.replace('_', "-"));
    head.truncate(63 - suffix.len());
    let head = head.trim_end_matches('-');
    format!("{head}{suffix}")
}

/// Builds a task's Job from the project's rendered provisioning Job (the typed object the
/// render built, before the planner adds its hash annotation and inventory label): same pod
/// (image, env, volume, resources, node selector, hardening), the task's command, `type: task`
/// labels, a TTL unless `keep`, a one-day deadline for `sleep`, extra env from `env` (an entry
/// of the same name is replaced in place).
pub fn build(
    provisioning: &Job,
    task: &Task,
    name: &str,
    keep: bool,
    env: &[(String, String)],
) -> Result<Job, JobError> {
    let mut job = provisioning.clone();
    job.metadata.name = Some(name.to_owned());
    let task_labels = |labels: &mut Option<std::collections::BTreeMap<String, String>>| {
        let l = labels.get_or_insert_default();
        l.insert("type".to_owned(), "task".to_owned());
        l.insert("devstats.cncf.io/task".to_owned(), task.name.to_owned());
    };
    task_labels(&mut job.metadata.labels);
    let spec = job.spec.as_mut().ok_or(JobError::Incomplete("spec"))?;
    spec.backoff_limit = Some(0);
    spec.ttl_seconds_after_finished = (!keep).then_some(3600);
    if task.name == "sleep" {
        spec.active_deadline_seconds = Some(86400);
    }
    let template = spec.template.metadata.get_or_insert_default();
    template.name = Some(name.to_owned());
    task_labels(&mut template.labels);
    let container = spec
        .template
        .spec
        .as_mut()
        .and_then(|p| p.containers.first_mut())
        .ok_or(JobError::Incomplete("container"))?;
    container.command = Some(task.command.iter().map(|&c| c.to_owned()).collect());
    container.args = None;
    let vars = container.env.get_or_insert_default();
    for (k, v) in env {
        let var = EnvVar {
            name: k.clone(),
            value: Some(v.clone()),
            ..EnvVar::default()
        };
        match vars.iter_mut().find(|e| e.name == *k) {
            Some(e) => *e = var,
            None => vars.push(var),
        }
    }
    Ok(job)
}

/// The Job of `run restore`: `from` is `--from` (absent: the dump on the backups volume;
/// `latest`, `YYYY-MM-DD` or `dumps/YYYY-MM-DD/<db>.dump`: the object store). Checked before any
/// request; built by the pure `devstats_render::disaster_recovery::restore_job`.
pub fn restore_job(
    model: &devstats_model::Model,
    project: &str,
    from: Option<&str>,
    name: &str,
    keep: bool,
) -> Result<Value, JobError> {
    use devstats_render::disaster_recovery::{RestoreSource, restore_job};
    let p = model
        .project(project)
        .ok_or_else(|| JobError::UnknownProject(project.to_owned()))?;
    let source = RestoreSource::parse(from, model, p).map_err(JobError::Source)?;
    let ctx = devstats_render::Ctx::new(model, None)?;
    let job = restore_job(&ctx, p, &source, name, keep);
    serde_json::to_value(&job).map_err(|source| JobError::Serialize {
        what: "restore",
        source,
    })
}

/// Why `run provision` needs a confirmation, if it does: re-provisioning a provisioned project
/// rewrites a live database.
pub async fn reprovision_check<C: Cluster>(
    eng: &Engine<'_, C>,
    job: &ObjectKey,
) -> Result<Option<String>, RunError> {
    let err = |e| ObjectError::api(job, e);
    if let Some(live) = eng.get(job).await.map_err(err)? {
        return match waits::job(&live) {
            Readiness::Progressing(m) => Err(RunError::Running {
                job: job.clone(),
                message: m,
            }),
            Readiness::Ready => Ok(Some(format!(
                "{job} completed: the project is provisioned. Provisioning again rewrites its live database."
            ))),
            Readiness::Failed(r) => Ok(Some(format!(
                "{job} failed ({r}); it will be deleted and run again."
            ))),
        };
    }
    let pod = ObjectKey::new(Kind::POD, job.namespace.as_deref(), &job.name);
    if let Some(p) = eng.get(&pod).await.map_err(|e| ObjectError::api(&pod, e))? {
        if waits::pod_outcome(&p).is_ready() {
            return Ok(Some(format!(
                "the chart's pod {} completed: the project is provisioned. Provisioning again rewrites its live database.",
                job.name
            )));
        }
        return Err(RunError::ChartPod(job.name.clone()));
    }
    Ok(None)
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunOutcome {
    /// The Job completed.
    Succeeded,
    /// The Job failed (reason).
    Failed(String),
    /// A `sleep` pod is running: exec into it.
    Started {
        /// The pod.
        pod: String,
    },
}

/// Run settings.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// Longest wait for the Job.
    pub timeout: Duration,
    /// Poll interval.
    pub poll: Duration,
    /// Stream the pod's log.
    pub follow: bool,
    /// A file to send to the pod once it runs (`run grafana-data`).
    pub upload: Option<UploadStep>,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(24 * 3600),
            poll: Duration::from_secs(2),
            follow: true,
            upload: None,
        }
    }
}

/// A file sent on the stdin of a command in the task's pod once it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadStep {
    /// The container.
    pub container: String,
    /// The command that reads stdin.
    pub command: Vec<String>,
    /// The file.
    pub path: std::path::PathBuf,
}

/// The Job of `run grafana-data` (built by the pure `devstats_render::grafana_data::job`).
pub fn grafana_data_job(model: &devstats_model::Model, name: &str) -> Result<Value, JobError> {
    let ctx = devstats_render::Ctx::new(model, None)?;
    let job = devstats_render::grafana_data::job(&ctx, name);
    serde_json::to_value(&job).map_err(|source| JobError::Serialize {
        what: "grafana-data",
        source,
    })
}

/// Checks, before any request, that `path` is a tar archive holding what the Grafanas need
/// (upstream's `devstats-grafana.tar`: `grafana/shared`, `grafana/dashboards`, `grafana/img`,
/// `grafana/sqlitedb`, `grafana/runq`, `grafana/replacer`). Reads only the 512-byte headers
/// (ustar, with GNU long names), so it is bounded by the file's size. Returns the number of
/// entries.
pub fn check_grafana_archive(path: &std::path::Path) -> Result<usize, ArchiveError> {
    use std::io::{Read, Seek, SeekFrom};
    let read = |source| ArchiveError::Read {
        path: path.to_owned(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(read)?;
    let len = f.metadata().map_err(read)?.len();
    let mut names = Vec::new();
    let mut long_name: Option<String> = None;
    let mut header = [0u8; 512];
    let mut pos = 0u64;
    let text = |b: &[u8]| {
        let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
        String::from_utf8_lossy(&b[..end]).into_owned()
    };
    let not_tar = || ArchiveError::NotTar {
        path: path.to_owned(),
    };
    while pos + 512 <= len {
        f.read_exact(&mut header).map_err(read)?;
        pos += 512;
        if header.iter().all(|&b| b == 0) {
            break;
        }
        if &header[257..262] != b"ustar" {
            return Err(not_tar());
        }
        let size_text = text(&header[124..136]);
        let size = u64::from_str_radix(size_text.trim(), 8).map_err(|_| not_tar())?;
        let data = size.div_ceil(512) * 512;
        if header[156] == b'L' {
            let mut buf = vec![0u8; usize::try_from(size.min(4096)).map_err(|_| not_tar())?];
            f.read_exact(&mut buf).map_err(read)?;
            long_name = Some(text(&buf));
            f.seek(SeekFrom::Start(pos + data)).map_err(read)?;
        } else {
            let name = long_name.take().unwrap_or_else(|| {
                let (prefix, name) = (text(&header[345..500]), text(&header[0..100]));
                if prefix.is_empty() {
                    name
                } else {
                    format!("{prefix}/{name}")
                }
            });
            names.push(name.trim_start_matches("./").to_owned());
            f.seek(SeekFrom::Current(i64::try_from(data).map_err(|_| not_tar())?))
                .map_err(read)?;
        }
        pos += data;
    }
    if names.is_empty() {
        return Err(not_tar());
    }
    let missing: Vec<&str> = devstats_render::grafana_data::REQUIRED
        .iter()
        .copied()
        .filter(|req| {
            let bare = req.trim_end_matches('/');
            !names
                .iter()
                .any(|n| n == bare || n.starts_with(&format!("{bare}/")))
        })
        .collect();
    if !missing.is_empty() {
        return Err(ArchiveError::Missing {
            path: path.to_owned(),
            missing,
        });
    }
    Ok(names.len())
}

/// Creates the Job (deleting a previous run-once Job of the same name first when `replace`),
/// waits for its pod, streams its log to `out`, and waits for the outcome.
pub async fn run<C: Cluster>(
    eng: &Engine<'_, C>,
    key: &ObjectKey,
    job: &Value,
    replace: bool,
    is_shell: bool,
    cfg: &RunConfig,
    out: &mut dyn FnMut(&[u8]),
) -> Result<RunOutcome, RunError> {
    let err = |e| ObjectError::api(key, e);
    let started = Instant::now();
    let ns = key.namespace.clone().unwrap_or_default();
    let selector = format!("job-name={}", key.name);
    let left = || cfg.timeout.saturating_sub(started.elapsed());
    let wait = |pods: Option<&'static str>| WaitFor {
        key,
        pods,
        timeout: left(),
        poll_initial: cfg.poll,
        poll_max: cfg.poll,
    };
    if replace && eng.delete(key).await.map_err(err)? {
        let mut gone = |obj: Option<&Value>, _: &[Value]| match obj {
            None => Readiness::Ready,
            Some(_) => Readiness::Progressing("still deleting".to_owned()),
        };
        let outcome = eng
            .cluster
            .wait_for(&wait(None), &mut gone, &mut |_, _| {})
            .await
            .map_err(err)?;
        if outcome != WaitOutcome::Ready {
            return Err(RunError::StillDeleting(key.clone()));
        }
    }
    if !eng.create(key, job).await.map_err(err)? {
        return Err(RunError::Exists(key.clone()));
    }
    // Wait for the pod to start (or the Job to fail first).
    let mut pod = String::new();
    let mut started_pod = |job: Option<&Value>, pods: &[Value]| {
        let running = pods.iter().find(|p| {
            !matches!(
                p.pointer("/status/phase").and_then(Value::as_str),
                None | Some("Pending")
            )
        });
        if let Some(p) = running {
            p.pointer("/metadata/name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .clone_into(&mut pod);
            return Readiness::Ready;
        }
        match job.map(waits::job) {
            Some(Readiness::Failed(r)) => Readiness::Failed(r),
            _ => Readiness::Progressing("waiting for the pod to start".to_owned()),
        }
    };
    let w = WaitFor {
        pods: Some(&selector),
        ..wait(None)
    };
    match eng
        .cluster
        .wait_for(&w, &mut started_pod, &mut |_, _| {})
        .await
        .map_err(err)?
    {
        WaitOutcome::Ready => {}
        WaitOutcome::Failed(r) => return Ok(RunOutcome::Failed(r)),
        WaitOutcome::TimedOut(_) => {
            return Err(RunError::NoPod {
                key: key.clone(),
                secs: cfg.timeout.as_secs(),
            });
        }
    }
    if let Some(u) = &cfg.upload {
        let command: Vec<&str> = u.command.iter().map(String::as_str).collect();
        eng.cluster
            .exec_stdin(&ns, &pod, &u.container, &command, &u.path)
            .await
            .map_err(|error| RunError::Upload {
                path: u.path.clone(),
                namespace: ns.clone(),
                pod: pod.clone(),
                error,
            })?;
    }
    if is_shell {
        return Ok(RunOutcome::Started { pod });
    }
    if cfg.follow {
        // The stream ends when the container ends; a broken stream is not the task's failure.
        let _ = eng.cluster.follow_logs(&ns, &pod, None, out).await;
    }
    let mut disappeared = false;
    let mut outcome = |job: Option<&Value>, _: &[Value]| match job {
        Some(j) => waits::job(j),
        None => {
            disappeared = true;
            Readiness::Failed(String::new())
        }
    };
    match eng
        .cluster
        .wait_for(&wait(None), &mut outcome, &mut |_, _| {})
        .await
        .map_err(err)?
    {
        WaitOutcome::Ready => Ok(RunOutcome::Succeeded),
        WaitOutcome::Failed(_) if disappeared => Err(RunError::Disappeared(key.clone())),
        WaitOutcome::Failed(r) => Ok(RunOutcome::Failed(r)),
        WaitOutcome::TimedOut(m) => Err(RunError::TimedOut {
            key: key.clone(),
            secs: cfg.timeout.as_secs(),
            message: m,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_dns_labels() {
        let n = job_name(
            "clear_devstats_running_flag",
            "kubernetes-very-long-project-name",
            1_900_000_000,
        );
        assert!(n.len() <= 63, "{n}");
        assert!(
            n.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{n}"
        );
        assert!(n.starts_with("devstats-run-clear-devstats-running-flag-"));
        assert_eq!(job_name("vars", "k8s", 35), "devstats-run-vars-k8s-z");
    }

    #[test]
    fn tasks_resolve() {
        assert_eq!(
            find("merge_dbs").map(|t| t.command),
            Ok(&["./devstats-helm/merge_dbs.sh"][..])
        );
        assert_eq!(find("merge-dbs").map(|t| t.name), Ok("merge_dbs"));
        assert!(find("rm -rf").is_err_and(|e| {
            e.to_string()
                .contains("allowed: provision, restore, grafana-data, restore_site, reinit")
        }));
        assert_eq!(
            find("restore-site").map(|t| t.command),
            Ok(&["./devstats-helm/restore.sh"][..])
        );
    }

    #[test]
    fn build_replaces_command_and_env() {
        let prov: Job = serde_json::from_value(serde_json::json!({"apiVersion": "batch/v1", "kind": "Job",
            "metadata": {"name": "devstats-provision-x", "labels": {"type": "provision"}},
            "spec": {"backoffLimit": 0, "ttlSecondsAfterFinished": 3600, "template": {"metadata": {"labels": {"type": "provision", "proj": "x"}},
                "spec": {"containers": [{"name": "c", "command": ["./devstats-helm/deploy_all.sh"], "args": ["x"],
                    "env": [{"name": "PROJ", "value": "x"}, {"name": "ONLY", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]}]}}}}))
        .expect("a Job");
        let task = find("vars").expect("task");
        let job = build(
            &prov,
            task,
            "devstats-run-vars-x-1",
            false,
            &[
                ("ONLY".to_owned(), "x".to_owned()),
                ("NEW".to_owned(), "1".to_owned()),
            ],
        )
        .expect("builds");
        let job = serde_json::to_value(&job).expect("serializes");
        assert_eq!(job["metadata"]["name"], "devstats-run-vars-x-1");
        assert_eq!(job["metadata"]["labels"]["type"], "task");
        assert_eq!(job["metadata"]["labels"]["devstats.cncf.io/task"], "vars");
        let container = &job["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            container["command"],
            serde_json::json!(["./devstats-helm/vars.sh"])
        );
        assert!(container.get("args").is_none());
        assert_eq!(job["spec"]["ttlSecondsAfterFinished"], 3600);
        assert!(job["spec"].get("activeDeadlineSeconds").is_none());
        assert_eq!(job["spec"]["template"]["metadata"]["labels"]["type"], "task");
        assert_eq!(job["spec"]["template"]["metadata"]["labels"]["proj"], "x");
        assert_eq!(
            job["spec"]["template"]["metadata"]["name"],
            "devstats-run-vars-x-1"
        );
        // An overridden variable is replaced whole (its valueFrom goes), a new one appended.
        assert_eq!(
            container["env"][0],
            serde_json::json!({"name": "PROJ", "value": "x"})
        );
        assert_eq!(
            container["env"][1],
            serde_json::json!({"name": "ONLY", "value": "x"})
        );
        assert_eq!(
            container["env"][2],
            serde_json::json!({"name": "NEW", "value": "1"})
        );
        let kept = build(&prov, task, "n", true, &[]).expect("builds");
        assert_eq!(kept.spec.and_then(|s| s.ttl_seconds_after_finished), None);
        let sleep = build(&prov, find("sleep").expect("task"), "n", false, &[]).expect("builds");
        assert_eq!(sleep.spec.and_then(|s| s.active_deadline_seconds), Some(86400));
    }

    #[test]
    fn flags_are_checked_together() {
        let t = |n| find(n).expect("task");
        let set = |kv: &[&str]| kv.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            check_flags(t("grafana-data"), None, &[], Some("g.tar")),
            Ok(TaskRequest::GrafanaData {
                archive: "g.tar".into()
            })
        );
        assert_eq!(
            check_flags(t("grafana-data"), Some("k8s"), &[], Some("g.tar")),
            Err(FlagError::ProjectNotUsed)
        );
        assert_eq!(
            check_flags(t("grafana-data"), None, &[], None),
            Err(FlagError::ArchiveRequired)
        );
        assert_eq!(
            check_flags(t("vars"), None, &[], None),
            Err(FlagError::ProjectRequired("vars"))
        );
        let e = check_flags(t("provision"), Some("k8s"), &set(&["A=1"]), None);
        assert_eq!(
            e.map_err(|e| e.to_string()),
            Err(
                "--set is not allowed with `run provision`: provisioning runs exactly as rendered".to_owned()
            )
        );
        assert!(check_flags(t("restore"), Some("k8s"), &set(&["A=1"]), None).is_err());
        assert_eq!(
            check_flags(t("restore"), Some("k8s"), &[], Some("latest")),
            Ok(TaskRequest::Restore {
                project: "k8s".into(),
                from: Some("latest".into())
            })
        );
        assert_eq!(
            check_flags(t("vars"), Some("k8s"), &[], Some("latest")),
            Err(FlagError::FromNotAllowed)
        );
        assert_eq!(
            check_flags(t("provision"), Some("k8s"), &[], Some("latest")),
            Err(FlagError::FromNotAllowed)
        );
        assert_eq!(
            check_flags(t("vars"), Some("k8s"), &set(&["=1"]), None),
            Err(FlagError::NotKeyValue("=1".into()))
        );
        assert_eq!(
            check_flags(
                t("merge-dbs"),
                Some("k8s"),
                &set(&["OUTPUT_DB=allprj", "X=a=b"]),
                None
            ),
            Ok(TaskRequest::Script {
                task: t("merge_dbs"),
                project: "k8s".into(),
                env: vec![("OUTPUT_DB".into(), "allprj".into()), ("X".into(), "a=b".into())],
            })
        );
    }

    /// A task Job of the real render keeps the provisioning pod (image, volumes, node selector,
    /// hardening, resources) and changes only what `build` documents.
    #[test]
    fn task_job_keeps_the_rendered_provisioning_pod() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/example.yaml");
        let m = devstats_model::load(&path).expect("the example model loads");
        let set = devstats_render::render(&m, &devstats_render::Options::default()).expect("renders");
        let provisioning = set
            .objects
            .iter()
            .find_map(|r| match &r.object {
                devstats_render::Object::Job(j) if r.project.is_some() => Some(j),
                _ => None,
            })
            .expect("a provisioning Job");
        let job = build(
            provisioning,
            find("affs").expect("task"),
            "devstats-run-affs-p-1",
            false,
            &[],
        )
        .expect("builds");
        let pod = |j: &Job| {
            j.spec
                .as_ref()
                .and_then(|s| s.template.spec.clone())
                .expect("a pod")
        };
        let (mut before, after) = (pod(provisioning), pod(&job));
        assert_eq!(
            after.containers[0].command,
            Some(vec!["./devstats-helm/affs.sh".to_owned()])
        );
        before.containers[0]
            .command
            .clone_from(&after.containers[0].command);
        before.containers[0].args = None;
        assert_eq!(before, after, "only the command differs in the pod");
        assert_eq!(job.metadata.namespace, provisioning.metadata.namespace);
        assert_eq!(
            job.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("type"))
                .map(String::as_str),
            Some("task")
        );
    }
}
