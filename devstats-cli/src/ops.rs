//! CLI glue of the cluster commands (`apply`, `diff`, `status`, `logs`, `destroy`, `run`):
//! arguments → a validated plan → model → render → (only then) the cluster. Bad input exits 2
//! before any API call.

use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use devstats_cli::apply::{ApplyConfig, ApplyError};
use devstats_cli::cluster::KubeCluster;
use devstats_cli::engine::Engine;
use devstats_cli::kinds::{Kind, ObjectKey};
use devstats_cli::plan::{DesiredSet, PlanOptions, PruneOptions, inventory};
use devstats_cli::progress::{Bars, JsonLines, Plain, Progress, Silent};
use devstats_cli::retry::RetryPolicy;
use devstats_cli::status::LogComponent;
use devstats_cli::{destroy, diff, run_task, status};
use devstats_render::{Component, Selection};
use miette::{IntoDiagnostic, miette};

use crate::render::{EnvArgs, SelectArgs};

/// `apply --help` examples.
pub const APPLY_HELP: &str = "\
Examples:
  devstats-k8s apply fixtures/cncf.yaml --secrets-from secrets/      # everything, waiting for each phase
  devstats-k8s apply fixtures/cncf.yaml --dry-run                    # the plan, no writes
  devstats-k8s apply fixtures/cncf.yaml --no-wait                    # write and return; apply again later
  devstats-k8s apply fixtures/cncf.yaml --env test --context test-cluster
  devstats-k8s apply fixtures/cncf.yaml --project kubernetes         # one project's objects (no prune)
  devstats-k8s apply fixtures/cncf.yaml --max-parallel 8 --timeout 30m
  devstats-k8s apply fixtures/cncf.yaml -o json | jq -c 'select(.event==\"summary\")'
  devstats-k8s apply fixtures/cncf.yaml --resync                     # also repair hand edits `diff` shows

Order: derived from the references between objects (namespace → secrets, RBAC → volumes →
Patroni [waits: rolled out and a primary elected] → bootstrap [waits: Complete/Failed] →
provisioning [--max-parallel at a time] → CronJobs → Deployments [waits: rollout] → Ingresses).
Re-applying an unchanged model makes zero writes: an object is sent only when its rendered content
changed since the last apply (its devstats.cncf.io/applied-hash annotation), so a hand edit
(`kubectl edit`) stays until `--resync` (`diff` shows it). Provisioning runs once per project: a project
whose provisioning Job (or the chart's provisioning pod) completed is never provisioned again by
apply; `devstats-k8s run provision` does that deliberately.
Prune: objects recorded in the inventory (ConfigMap devstats-k8s-inventory) and no longer
rendered are deleted after a successful apply of the full model, by the prune guard the inventory
records for each (its render policy): PVCs and provisioning records need --prune-volumes, the
database (Patroni's StatefulSet, ServiceAccount, RBAC, Services, config Endpoints and the database
Secret) --prune-database; namespaces are never pruned.
Exit codes: 0 applied (or nothing to do), 1 findings (e.g. a provisioning that failed earlier),
2 error or refusal (nothing written when refused).";

/// `diff --help` examples.
pub const DIFF_HELP: &str = "\
Examples:
  devstats-k8s diff fixtures/cncf.yaml
  devstats-k8s diff fixtures/cncf.yaml --project kubernetes --only grafana
  devstats-k8s diff fixtures/cncf.yaml --secrets-from secrets/ -o json

The API server computes the result (server-side apply with dryRun=All), so defaults and admission
are accounted for. Secret values are shown as `<sha256:8 hex digits, n bytes>`.
Exit codes: 0 no drift, 1 drift, 2 error.";

/// `status --help` examples.
pub const STATUS_HELP: &str = "\
Examples:
  devstats-k8s status fixtures/cncf.yaml
  devstats-k8s status fixtures/cncf.yaml --env test -o json | jq '.projects[] | select(.findings != [])'

Exit codes: 0 all healthy, 1 findings (failed provisioning or runs, Grafana not ready, no primary,
missing TLS Secret), 2 error.";

/// `logs --help` examples.
pub const LOGS_HELP: &str = "\
Examples:
  devstats-k8s logs fixtures/cncf.yaml kubernetes                      # newest sync run
  devstats-k8s logs fixtures/cncf.yaml kubernetes --component provision
  devstats-k8s logs fixtures/cncf.yaml prometheus --component grafana --tail 100
  devstats-k8s logs fixtures/cncf.yaml kubernetes --component provision -f  # stream until it ends";

/// `destroy --help` examples.
pub const DESTROY_HELP: &str = "\
Examples:
  devstats-k8s destroy fixtures/cncf.yaml --env test               # asks for the namespace name
  devstats-k8s destroy fixtures/cncf.yaml --env test --dry-run
  devstats-k8s destroy fixtures/cncf.yaml --env test --yes --delete-volumes

Deletes what the inventory lists, in reverse order. Keeps what it records as guarded: PVCs,
provisioning records, the namespace and the database (Patroni and its RBAC, Services, config
Endpoints and the database Secret) unless --delete-volumes, which also deletes the namespace and
with it everything in it.
Exit codes: 0 done, 2 error or not confirmed.";

/// `run --help` examples.
pub const RUN_HELP: &str = "\
Examples:
  devstats-k8s run vars fixtures/cncf.yaml --project kubernetes
  devstats-k8s run merge_dbs fixtures/cncf.yaml --project all --set INPUT_DBS=gha,prometheus --set OUTPUT_DB=allprj
  devstats-k8s run sleep fixtures/cncf.yaml --project kubernetes     # then kubectl exec into the pod
  devstats-k8s run provision fixtures/cncf.yaml --project kubernetes # re-provision (asks first)
  devstats-k8s run restore fixtures/cncf.yaml --project kubernetes   # from the dump on the backups volume
  devstats-k8s run restore fixtures/cncf.yaml --project kubernetes --from latest      # from the object store
  devstats-k8s run restore fixtures/cncf.yaml --project kubernetes --from 2026-11-29  # a dated dump
  devstats-k8s run grafana-data fixtures/cncf.yaml --from devstats-grafana.tar  # the shared Grafana data

Tasks: provision, restore, grafana-data, restore_site, reinit, vars, health, restore_artificial_all, annotations,
affs, merge_dbs, repos, repo_groups, licenses_langs, ghapi, clear_devstats_running_flag,
set_provisioned_flag, flags, add_metric, grants, periods, sleep.
`restore` restores the project's pg_dump into <db>_restore and swaps it with the live database
(kept as <db>_before_restore_<stamp>); see docs/backup-and-restore.md. `restore_site` is the
chart's restore.sh (from the public backups site). `grafana-data` (no --project) installs the
shared Grafana data from the archive upstream's runbook builds (docs/operations.md, Grafana data).
The Job uses the project's provisioning pod (image, env, volume) with the task's command; it is
removed an hour after it ends unless --keep. Exit codes: 0 succeeded, 1 the task failed, 2 error.";

/// How to reach the cluster.
#[derive(Debug, Clone, clap::Args)]
pub struct ClusterArgs {
    /// Kubeconfig context (default: the current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// Kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or the pod's service account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// API requests in flight at a time.
    #[arg(long, value_name = "N", default_value_t = 32, value_parser = clap::value_parser!(u32).range(1..=512))]
    pub concurrency: u32,
}

/// Output of the cluster commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// For people: progress bars on a terminal, lines otherwise.
    Text,
    /// JSON: an event stream (apply, destroy) or one document (diff, status).
    Json,
}

fn duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = num
        .parse()
        .map_err(|_| format!("'{s}': expected e.g. 90s, 15m, 2h, 3d"))?;
    let secs = match unit {
        "" | "s" => n,
        "m" => n * 60,
        "h" => n * 3600,
        "d" => n * 86400,
        _ => return Err(format!("'{s}': unknown unit '{unit}'; use s, m, h or d")),
    };
    if secs == 0 {
        return Err("must be more than 0".to_owned());
    }
    Ok(Duration::from_secs(secs))
}

/// Arguments of `apply`.
#[derive(Debug, Clone, clap::Args)]
pub struct ApplyArgs {
    /// The model file.
    pub model: PathBuf,
    #[command(flatten)]
    pub env: EnvArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Apply the Secrets from the files in DIR (one per key, e.g. `PG_PASS.secret`). Without it,
    /// the Secrets must already exist; they are never pruned.
    #[arg(long, value_name = "DIR")]
    pub secrets_from: Option<PathBuf>,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Take over fields another field manager owns (the model's values win).
    #[arg(long)]
    pub force_conflicts: bool,
    /// Take over a chart install applied server-side by field manager MANAGER (Helm 4: `helm`):
    /// print the plan of the chart's objects (what changes, restarts pods, is deleted or
    /// re-created) before any write, refuse fields whose live value differs from the model's
    /// (unless --force-conflicts), move the fields with equal values to devstats-k8s, then apply.
    #[arg(long, value_name = "MANAGER")]
    pub take_over: Option<String>,
    /// Do not wait for readiness. Bootstrap and provisioning start only when what they need is
    /// ready already; the rest is deferred to a later apply.
    #[arg(long)]
    pub no_wait: bool,
    /// Longest wait for one rollout or the database.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = duration)]
    pub timeout: Duration,
    /// Longest wait for the bootstrap or one provisioning Job.
    #[arg(long, value_name = "DURATION", default_value = "72h", value_parser = duration)]
    pub provision_timeout: Duration,
    /// Provisioning Jobs running at a time.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub max_parallel: u32,
    /// Show the plan (creates, updates, recreates, deferrals, prune) and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Do not delete objects that are no longer rendered.
    #[arg(long)]
    pub no_prune: bool,
    /// Prune also PersistentVolumeClaims and provisioning records of removed projects.
    #[arg(long)]
    pub prune_volumes: bool,
    /// Prune also the database (the Patroni StatefulSet with its ServiceAccount, RBAC, Services,
    /// config Endpoints and the database Secret) when it is no longer rendered.
    #[arg(long)]
    pub prune_database: bool,
    /// Refuse (write nothing) when prune would delete more objects than this.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub max_deletes: usize,
    /// Delete and re-create objects whose immutable fields changed when that only interrupts
    /// (a Service's clusterIP, a Deployment's selector, a RoleBinding's roleRef).
    #[arg(long)]
    pub allow_recreate: bool,
    /// Apply every object, not only those whose rendered content changed since the last apply
    /// (recorded in each object's `devstats.cncf.io/applied-hash`): repairs hand edits that `diff`
    /// shows. Fields another manager took over conflict unless --force-conflicts.
    #[arg(long)]
    pub resync: bool,
    /// Apply a change of Patroni's DCS (instance.security.patroni.dcs) to a live cluster, after
    /// the documented preparation (docs/security.md "Changing Patroni's DCS": pause, save
    /// show-config, every member stopped). Without it such a change is refused; with members
    /// still running it is refused too.
    #[arg(long)]
    pub migrate_patroni_dcs: bool,
    /// Output.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Arguments of `diff`.
#[derive(Debug, Clone, clap::Args)]
pub struct DiffArgs {
    /// The model file.
    pub model: PathBuf,
    #[command(flatten)]
    pub env: EnvArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Include the Secrets from the files in DIR (values are masked).
    #[arg(long, value_name = "DIR")]
    pub secrets_from: Option<PathBuf>,
    #[command(flatten)]
    pub select: SelectArgs,
    /// Diff as if applied with --force-conflicts.
    #[arg(long)]
    pub force_conflicts: bool,
    /// Colour (default: when stdout is a terminal).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Output.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// When to colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Arguments of `status`.
#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// The model file.
    pub model: PathBuf,
    #[command(flatten)]
    pub env: EnvArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Output.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Arguments of `logs`.
#[derive(Debug, Clone, clap::Args)]
pub struct LogsArgs {
    /// The model file.
    pub model: PathBuf,
    /// The project.
    pub project: String,
    #[command(flatten)]
    pub env: EnvArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Which pod: the newest of this component.
    #[arg(long, value_enum, default_value_t = LogComponent::Sync)]
    pub component: LogComponent,
    /// Only the last N lines.
    #[arg(long, value_name = "N", conflicts_with = "follow")]
    pub tail: Option<u32>,
    /// Stream the log until the container ends (or Ctrl-C).
    #[arg(short = 'f', long)]
    pub follow: bool,
}

/// Arguments of `destroy`.
#[derive(Debug, Clone, clap::Args)]
pub struct DestroyArgs {
    /// The model file (its instance namespace holds the inventory).
    pub model: PathBuf,
    #[command(flatten)]
    pub env: EnvArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Also delete the volumes, the database, the provisioning records and the namespace.
    #[arg(long)]
    pub delete_volumes: bool,
    /// Do not ask for confirmation.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Show what would be deleted.
    #[arg(long)]
    pub dry_run: bool,
    /// Output.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

/// Arguments of `run`.
#[derive(Debug, Clone, clap::Args)]
pub struct RunArgs {
    /// The task: a DevStats maintenance script (see below) or `sleep` for a shell.
    #[arg(value_parser = run_task::find)]
    pub task: &'static run_task::Task,
    /// The model file.
    pub model: PathBuf,
    /// The project whose provisioning pod template the Job uses (every task but
    /// `grafana-data`).
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    #[command(flatten)]
    pub env: EnvArgs,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Extra or overridden env of the task (repeatable), e.g. `--set OUTPUT_DB=allprj`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Keep the Job after it ends (default: removed an hour after).
    #[arg(long)]
    pub keep: bool,
    /// Do not stream the log.
    #[arg(long)]
    pub no_follow: bool,
    /// Longest wait for the task.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = duration)]
    pub timeout: Duration,
    /// Do not ask before re-provisioning a provisioned project.
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// `run restore`: restore from the object store instead of the backups volume: `latest`, a
    /// dump date `YYYY-MM-DD`, or a key `dumps/YYYY-MM-DD/<db>.dump`. `run grafana-data`: the
    /// `devstats-grafana.tar` to install (required).
    #[arg(long, value_name = "BACKUP|FILE")]
    pub from: Option<String>,
}

fn runtime() -> miette::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .into_diagnostic()
}

async fn connect(c: &ClusterArgs) -> miette::Result<KubeCluster> {
    KubeCluster::connect(c.kubeconfig.as_deref(), c.context.as_deref())
        .await
        .map_err(|e| miette!("{e}"))
}

/// The request runtime every cluster command shares: a tokio runtime, the kube client of the
/// `--kubeconfig`/`--context` flags, and an engine with the concurrency limit, retries and
/// progress; runs `f` on it.
fn with_engine<T>(
    cluster: &ClusterArgs,
    concurrency: usize,
    progress: &dyn Progress,
    f: impl AsyncFnOnce(&Engine<'_, KubeCluster>) -> miette::Result<T>,
) -> miette::Result<T> {
    runtime()?.block_on(async {
        let kube = connect(cluster).await?;
        let eng = Engine::new(&kube, concurrency, RetryPolicy::default(), progress);
        f(&eng).await
    })
}

fn progress_for(output: Output) -> Box<dyn Progress> {
    match output {
        Output::Json => Box::new(JsonLines),
        Output::Text if std::io::stderr().is_terminal() => Box::new(Bars::default()),
        Output::Text => Box::new(Plain::default()),
    }
}

fn desired_set(
    model: &std::path::Path,
    env: Option<&str>,
    secrets_from: Option<&std::path::Path>,
    selection: Selection,
) -> miette::Result<(devstats_model::Model, devstats_render::RenderSet, DesiredSet)> {
    let complete = selection == Selection::all();
    let (m, set) = crate::render::load_and_render_env(model, env, secrets_from, selection)?;
    let desired =
        DesiredSet::new(&set, m.instance.namespace.as_str(), complete).map_err(|e| miette!("{e}"))?;
    Ok((m, set, desired))
}

/// Runs `apply`.
pub fn apply(args: ApplyArgs) -> miette::Result<ExitCode> {
    let selection = args.select.selection()?;
    let (_, _, set) = desired_set(
        &args.model,
        args.env.env.as_deref(),
        args.secrets_from.as_deref(),
        selection,
    )?;
    let cfg = ApplyConfig {
        plan: PlanOptions {
            wait: !args.no_wait,
            max_parallel: args.max_parallel as usize,
            allow_recreate: args.allow_recreate,
            resync: args.resync,
            migrate_patroni_dcs: args.migrate_patroni_dcs,
            prune: PruneOptions {
                enabled: !args.no_prune,
                volumes: args.prune_volumes,
                database: args.prune_database,
                max_deletes: args.max_deletes,
            },
        },
        force_conflicts: args.force_conflicts,
        dry_run: args.dry_run,
        timeout: args.timeout,
        provision_timeout: args.provision_timeout,
        ..ApplyConfig::default()
    };
    if !set.complete && !args.no_prune && args.output == Output::Text {
        eprintln!(
            "note: a selection (--only/--project/--foundation) applies a part of the model; nothing is pruned"
        );
    }
    let progress = progress_for(args.output);
    let result = with_engine(
        &args.cluster,
        args.cluster.concurrency as usize,
        progress.as_ref(),
        async |eng| {
            Ok::<_, miette::Report>(match &args.take_over {
                Some(manager) => devstats_cli::takeover::take_over(eng, &set, &cfg, manager)
                    .await
                    .map(|(_, applied)| applied.unwrap_or_default()),
                None => devstats_cli::apply::apply(eng, &set, &cfg).await,
            })
        },
    )?;
    match result {
        Ok(report) if !report.ok() => Ok(ExitCode::from(2)),
        Ok(report) if !report.findings.is_empty() => Ok(ExitCode::from(1)),
        Ok(_) => Ok(ExitCode::SUCCESS),
        Err(e @ ApplyError::Refused(_)) | Err(e @ ApplyError::Read(_)) => {
            if args.output == Output::Json {
                let (kind, reasons) = match &e {
                    ApplyError::Refused(r) => ("refused", r.clone()),
                    ApplyError::Read(r) => ("read-error", vec![r.clone()]),
                };
                println!("{}", serde_json::json!({"event": kind, "reasons": reasons}));
            }
            Err(miette!("{e}"))
        }
    }
}

/// Runs `diff`.
pub fn diff(args: DiffArgs) -> miette::Result<ExitCode> {
    let selection = args.select.selection()?;
    let (_, _, set) = desired_set(
        &args.model,
        args.env.env.as_deref(),
        args.secrets_from.as_deref(),
        selection,
    )?;
    let report = with_engine(
        &args.cluster,
        args.cluster.concurrency as usize,
        &Silent,
        async |eng| Ok::<_, miette::Report>(diff::diff(eng, &set, args.force_conflicts).await),
    )?;
    match args.output {
        Output::Json => {
            crate::stdout::write_stdout(&serde_json::to_string_pretty(&report).into_diagnostic()?)?;
        }
        Output::Text => {
            let color = match args.color {
                ColorChoice::Always => true,
                ColorChoice::Never => false,
                ColorChoice::Auto => std::io::stdout().is_terminal(),
            };
            let mut text = String::new();
            for d in &report.diffs {
                text.push_str(&if color {
                    diff::colorize(&d.diff)
                } else {
                    d.diff.clone()
                });
            }
            if !text.is_empty() {
                crate::stdout::write_stdout(text.trim_end())?;
            }
            for n in &report.notes {
                eprintln!("note: {n}");
            }
            for (k, e) in &report.errors {
                eprintln!("error: {k}: {e}");
            }
            let count = |c: diff::Change| report.diffs.iter().filter(|d| d.change == c).count();
            eprintln!(
                "{} objects differ ({} added, {} changed, {} removed), {} unchanged ({} requests)",
                report.diffs.len(),
                count(diff::Change::Added),
                count(diff::Change::Changed),
                count(diff::Change::Removed),
                report.unchanged,
                report.requests.reads
            );
        }
    }
    Ok(ExitCode::from(report.exit_code()))
}

/// Runs `status`.
pub fn status(args: StatusArgs) -> miette::Result<ExitCode> {
    let (m, set) =
        crate::render::load_and_render_env(&args.model, args.env.env.as_deref(), None, Selection::all())?;
    let ns = m.instance.namespace.to_string();
    let snap = with_engine(
        &args.cluster,
        args.cluster.concurrency as usize,
        &Silent,
        async |eng| status::snapshot(eng, &ns).await.map_err(|e| miette!("{e}")),
    )?;
    let s = status::compute(&set, &ns, &snap);
    match args.output {
        Output::Json => crate::stdout::write_stdout(&serde_json::to_string_pretty(&s).into_diagnostic()?)?,
        Output::Text => crate::stdout::write_stdout(status::table(&s).trim_end())?,
    }
    Ok(if s.findings == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Runs `logs`.
pub fn logs(args: LogsArgs) -> miette::Result<ExitCode> {
    let m = devstats_model::load_env(&args.model, args.env.env.as_deref()).map_err(crate::diag::report)?;
    if m.project(&args.project).is_none() {
        return Err(miette!(
            "unknown project '{}' in {}",
            args.project,
            args.model.display()
        ));
    }
    let ns = m.instance.namespace.to_string();
    if args.follow {
        return with_engine(&args.cluster, 4, &Silent, async |eng| {
            let pod = status::log_pod(eng, &ns, &args.project, args.component)
                .await
                .map_err(|e| miette!("{e}"))?;
            eprintln!("==> pod {ns}/{pod} (following)");
            let mut out = std::io::stdout().lock();
            let mut sink = |chunk: &[u8]| {
                let _ = out.write_all(chunk);
                let _ = out.flush();
            };
            devstats_cli::cluster::Cluster::follow_logs(eng.cluster, &ns, &pod, None, &mut sink)
                .await
                .map_err(|e| miette!("{ns}/{pod}: {e}"))?;
            Ok(ExitCode::SUCCESS)
        });
    }
    let (pod, text) = with_engine(&args.cluster, 4, &Silent, async |eng| {
        status::logs(eng, &ns, &args.project, args.component, args.tail)
            .await
            .map_err(|e| miette!("{e}"))
    })?;
    eprintln!("==> pod {ns}/{pod}");
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    Ok(ExitCode::SUCCESS)
}

fn confirm(prompt: &str, expected: &str) -> miette::Result<bool> {
    if !std::io::stdin().is_terminal() {
        return Ok(false);
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).into_diagnostic()?;
    Ok(line.trim() == expected)
}

/// Runs `destroy`.
pub fn destroy(args: DestroyArgs) -> miette::Result<ExitCode> {
    let m = devstats_model::load_env(&args.model, args.env.env.as_deref()).map_err(crate::diag::report)?;
    let ns = m.instance.namespace.to_string();
    let progress = progress_for(args.output);
    with_engine(
        &args.cluster,
        args.cluster.concurrency as usize,
        progress.as_ref(),
        async |eng| {
            let parent = eng
            .get(&inventory::parent_key(&ns))
            .await
            .map_err(|e| miette!("{e}"))?
            .ok_or_else(|| miette!("no inventory ConfigMap {} in namespace {ns}: nothing was applied there by devstats-k8s", inventory::NAME))?;
            let members = inventory::parse(&parent).map_err(|e| miette!("{e}"))?;
            let plan = destroy::plan(&members, args.delete_volumes);
            if args.output == Output::Text {
                eprintln!(
                    "namespace {ns}: {} objects to delete, {} kept",
                    plan.delete.len(),
                    plan.keep.len()
                );
                for k in &plan.delete {
                    eprintln!("  delete {k}");
                }
                for (k, why) in &plan.keep {
                    eprintln!("  keep   {k}: {why}");
                }
                if args.delete_volumes {
                    eprintln!(
                        "--delete-volumes: the namespace is deleted too, with every object in it (Patroni's data volumes included)"
                    );
                }
            }
            if args.dry_run {
                return Ok(ExitCode::SUCCESS);
            }
            if !args.yes && !confirm(&format!("type the namespace name ({ns}) to delete: "), &ns)? {
                return Err(miette!(
                    "not confirmed; nothing was deleted (pass --yes when not on a terminal)"
                ));
            }
            let report = destroy::run(eng, &ns, &plan).await;
            if args.output == Output::Json {
                println!("{}", serde_json::to_string(&report).into_diagnostic()?);
            } else {
                eprintln!(
                    "deleted {}, already gone {}, kept {}, failed {}",
                    report.deleted.len(),
                    report.missing.len(),
                    report.kept.len(),
                    report.failed.len()
                );
            }
            Ok(if report.failed.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            })
        },
    )
}

/// Runs `run`.
pub fn run(args: RunArgs) -> miette::Result<ExitCode> {
    // Every flag combination is checked before the model is read or a request made.
    let request = run_task::check_flags(
        args.task,
        args.project.as_deref(),
        &args.set,
        args.from.as_deref(),
    )
    .map_err(|e| miette!("{e}"))?;
    let task = args.task;
    let project = match &request {
        run_task::TaskRequest::GrafanaData { archive } => return run_grafana_data(&args, archive),
        run_task::TaskRequest::Provision { project }
        | run_task::TaskRequest::Restore { project, .. }
        | run_task::TaskRequest::Script { project, .. } => project.clone(),
    };
    let selection = Selection {
        only: [Component::Provision].into_iter().collect(),
        projects: [project.clone()].into_iter().collect(),
        foundations: Default::default(),
    };
    let (m, rendered, set) = desired_set(&args.model, args.env.env.as_deref(), None, selection)?;
    let ns = m.instance.namespace.to_string();
    let not_deployed = || {
        miette!(
            "project {} is not deployed by this instance (archived, disabled or not served): it has no provisioning pod",
            project
        )
    };
    let stamp_now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    };
    // Every task runs where the project's provisioning pod runs: without one, nothing to do.
    let provisioning = set
        .objects
        .iter()
        .find(|d| d.key.kind == Kind::JOB)
        .ok_or_else(not_deployed)?;
    let (key, body, replace) = if let run_task::TaskRequest::Restore { from, .. } = &request {
        let name = run_task::job_name(task.name, &project, stamp_now());
        let body = run_task::restore_job(&m, &project, from.as_deref(), &name, args.keep)
            .map_err(|e| miette!("{e}"))?;
        (ObjectKey::new(Kind::JOB, Some(&ns), &name), body, false)
    } else if let run_task::TaskRequest::Script { env, .. } = &request {
        // The typed Job the render built (not the planner's annotated body).
        let typed = rendered
            .objects
            .iter()
            .find_map(|r| match &r.object {
                devstats_render::Object::Job(j) => Some(j),
                _ => None,
            })
            .ok_or_else(not_deployed)?;
        let name = run_task::job_name(task.name, &project, stamp_now());
        let job = run_task::build(typed, task, &name, args.keep, env).map_err(|e| miette!("{e}"))?;
        let body = serde_json::to_value(&job).into_diagnostic()?;
        (ObjectKey::new(Kind::JOB, Some(&ns), &name), body, false)
    } else {
        // `run provision`: the provisioning Job itself, as rendered and annotated.
        (provisioning.key.clone(), provisioning.body.clone(), true)
    };
    with_engine(&args.cluster, 4, &Silent, async |eng| {
        if replace
            && let Some(warning) = run_task::reprovision_check(eng, &key)
                .await
                .map_err(|e| miette!("{e}"))?
        {
            eprintln!("{warning}");
            if !args.yes
                && !confirm(
                    &format!("type the project name ({}) to provision it again: ", project),
                    &project,
                )?
            {
                return Err(miette!(
                    "not confirmed; nothing was changed (pass --yes when not on a terminal)"
                ));
            }
        }
        if task.name == "restore" {
            eprintln!(
                "==> Job {key} (restore of project {} from {})",
                project,
                args.from.as_deref().map_or_else(
                    || "the backups volume".to_owned(),
                    |f| format!("the object store, {f}")
                )
            );
        } else {
            eprintln!("==> Job {key} ({})", task.command.join(" "));
        }
        let cfg = run_task::RunConfig {
            timeout: args.timeout,
            follow: !args.no_follow,
            ..run_task::RunConfig::default()
        };
        let mut stdout = std::io::stdout();
        let mut sink = |chunk: &[u8]| {
            let _ = stdout.write_all(chunk);
            let _ = stdout.flush();
        };
        let outcome = run_task::run(eng, &key, &body, replace, task.name == "sleep", &cfg, &mut sink)
            .await
            .map_err(|e| miette!("{e}"))?;
        Ok(match outcome {
            run_task::RunOutcome::Succeeded => {
                eprintln!("==> {key} succeeded");
                ExitCode::SUCCESS
            }
            run_task::RunOutcome::Failed(reason) => {
                eprintln!("==> {key} FAILED: {reason}");
                ExitCode::from(1)
            }
            run_task::RunOutcome::Started { pod } => {
                eprintln!(
                    "==> pod {pod} is running; open a shell with:\n  kubectl -n {ns} exec -it {pod} -- bash"
                );
                ExitCode::SUCCESS
            }
        })
    })
}

/// Runs `run grafana-data`: checks the archive, creates the Job, uploads the archive into its
/// pod (pods/exec with stdin, as `kubectl cp`), streams its log and reports the outcome.
fn run_grafana_data(args: &RunArgs, archive: &std::path::Path) -> miette::Result<ExitCode> {
    let path = archive.to_path_buf();
    let entries = run_task::check_grafana_archive(&path).map_err(|e| miette!("{e}"))?;
    let (m, _, _) = desired_set(&args.model, args.env.env.as_deref(), None, Selection::default())?;
    let ns = m.instance.namespace.to_string();
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let name = run_task::job_name("grafana-data", "shared", stamp);
    let body = run_task::grafana_data_job(&m, &name).map_err(|e| miette!("{e}"))?;
    let key = ObjectKey::new(Kind::JOB, Some(&ns), &name);
    with_engine(&args.cluster, 4, &Silent, async |eng| {
        eprintln!(
            "==> Job {key} (grafana data from {}, {entries} entries)",
            path.display()
        );
        let cfg = run_task::RunConfig {
            timeout: args.timeout,
            follow: !args.no_follow,
            upload: Some(run_task::UploadStep {
                container: devstats_render::grafana_data::CONTAINER.to_owned(),
                command: devstats_render::grafana_data::UPLOAD_COMMAND
                    .iter()
                    .map(|c| (*c).to_owned())
                    .collect(),
                path: path.clone(),
            }),
            ..run_task::RunConfig::default()
        };
        let mut stdout = std::io::stdout();
        let mut sink = |chunk: &[u8]| {
            let _ = stdout.write_all(chunk);
            let _ = stdout.flush();
        };
        let outcome = run_task::run(eng, &key, &body, false, false, &cfg, &mut sink)
            .await
            .map_err(|e| miette!("{e}"))?;
        Ok(match outcome {
            run_task::RunOutcome::Succeeded => {
                eprintln!(
                    "==> {key} succeeded. Grafanas read the data when they start: restart the ones that \
                     should pick it up now, e.g. `kubectl -n {ns} rollout restart deploy -l type=grafana`"
                );
                ExitCode::SUCCESS
            }
            run_task::RunOutcome::Failed(reason) => {
                eprintln!("==> {key} FAILED: {reason}");
                ExitCode::from(1)
            }
            run_task::RunOutcome::Started { pod } => {
                eprintln!("==> pod {pod} is running");
                ExitCode::SUCCESS
            }
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(duration("2h"), Ok(Duration::from_secs(7200)));
        assert!(duration("0s").is_err());
        assert!(duration("1w").is_err());
        assert!(duration("soon").is_err());
    }
}
