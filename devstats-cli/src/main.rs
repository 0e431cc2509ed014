//! `devstats-k8s`: validate, render, diff and apply a DevStats deployment from a typed model.
//!
//! Arguments are parsed into a validated plan before any IO (ripgrep style). Exit codes:
//! 0 ok, 1 drift or findings, 2 error.

mod diag;
mod gitops;
mod import;
mod operator;
mod ops;
mod render;
mod stdout;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use stdout::write_stdout;

use clap::{Parser, Subcommand};

const EXAMPLES: &str = "\
Examples:
  devstats-k8s validate fixtures/cncf.yaml
  devstats-k8s render fixtures/cncf.yaml > devstats.yaml
  devstats-k8s render fixtures/cncf.yaml --project kubernetes --only sync,grafana
  devstats-k8s render fixtures/cncf.yaml --env test
  devstats-k8s render fixtures/cncf.yaml --gitops deploy/
  devstats-k8s schema > devstats.schema.json
  devstats-k8s apply fixtures/cncf.yaml --secrets-from secrets/
  devstats-k8s diff fixtures/cncf.yaml
  devstats-k8s status fixtures/cncf.yaml
  devstats-k8s install fixtures/cncf.yaml | kubectl apply --server-side -f -
  devstats-k8s export-resource fixtures/cncf.yaml --env prod > prod-devstats.yaml
";

/// Deploy CNCF DevStats on Kubernetes from a typed model of foundations, projects and GitHub repos.
#[derive(Debug, Parser)]
#[command(name = "devstats-k8s", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check a model file: structure, every rule, computed schedules. Exit 0 when valid, 2 with all problems.
    #[command(
        after_help = "Examples:\n  devstats-k8s validate fixtures/cncf.yaml\n  devstats-k8s validate fixtures/cncf.yaml --env test"
    )]
    Validate {
        /// The model file.
        model: PathBuf,
        #[command(flatten)]
        env: render::EnvArgs,
    },
    /// Render every object of the deployment: YAML on stdout (default), a JSON v1/List, or one file per object.
    #[command(after_help = "Examples:
  devstats-k8s render fixtures/cncf.yaml | kubectl apply --server-side --field-manager devstats-k8s -f -
  devstats-k8s render fixtures/cncf.yaml -o json > devstats.json
  devstats-k8s render fixtures/cncf.yaml --out-dir rendered/
  devstats-k8s render fixtures/cncf.yaml --foundation cdf
  devstats-k8s render fixtures/cncf.yaml --only ingress,static
  devstats-k8s render fixtures/cncf.yaml --secrets-from secrets/
  devstats-k8s render fixtures/cncf.yaml --env test
  devstats-k8s render fixtures/cncf.yaml --gitops deploy/")]
    Render(render::RenderArgs),
    /// Import a cncf/devstats-helm values file (plus the `--set` overrides used with it) into a model file.
    #[command(after_help = "Examples:
  devstats-k8s import-helm devstats-helm/values.yaml --set namespace=devstats-prod --set testServer= \\
      --set prodServer=1 --set ingressClass=nginx-prod --set indexDomainsFrom=1 -o prod.yaml
  devstats-k8s import-helm values.yaml --projects devstats-docker-images/devstats-helm/projects.yaml -o model.yaml")]
    ImportHelm(import::ImportArgs),
    /// List the components `--only` accepts.
    Components,
    /// Print the JSON Schema of the model file (for editors' YAML language servers).
    #[command(after_help = "Example:\n  devstats-k8s schema > devstats.schema.json")]
    Schema,
    /// Apply the model to a cluster: phased server-side apply with typed waits, inventory prune.
    #[command(after_help = ops::APPLY_HELP)]
    Apply(ops::ApplyArgs),
    /// Show what apply would change (server-side dry run), Secret values masked. Exit 0 no drift, 1 drift, 2 error.
    #[command(after_help = ops::DIFF_HELP)]
    Diff(ops::DiffArgs),
    /// One row per project (provisioning, last runs, Grafana, host), the database and Ingresses.
    #[command(after_help = ops::STATUS_HELP)]
    Status(ops::StatusArgs),
    /// Print the log of a project's newest sync, affiliations, Grafana or provisioning pod.
    #[command(after_help = ops::LOGS_HELP)]
    Logs(ops::LogsArgs),
    /// Delete everything apply recorded in the inventory; keeps volumes and the database unless asked.
    #[command(after_help = ops::DESTROY_HELP)]
    Destroy(ops::DestroyArgs),
    /// Run a maintenance task (reinit, vars, health, merge_dbs, ..., provision, sleep) as a Job from a project's provisioning pod.
    #[command(after_help = ops::RUN_HELP)]
    Run(ops::RunArgs),
    /// Write the `DevStats` resource (devstats.cncf.io/v1alpha1) of one environment of a model, for the operator.
    #[command(after_help = operator::EXPORT_HELP)]
    ExportResource(operator::ExportArgs),
    /// Write the model file of a `DevStats` resource's spec; exit 2 with every problem (under `spec.`) if the model rejects it.
    #[command(after_help = operator::IMPORT_HELP)]
    ImportResource(operator::ImportArgs),
    /// Print the operator's install (CRD, Namespace, least-privilege RBAC for the kinds the model renders, Deployment, PDB, metrics).
    #[command(after_help = operator::INSTALL_HELP)]
    Install(operator::InstallArgs),
    /// Print a shell completion script, generated from these very flags.
    #[command(after_help = "Examples:
  devstats-k8s completions bash > /etc/bash_completion.d/devstats-k8s
  devstats-k8s completions zsh > \"${fpath[1]}/_devstats-k8s\"
  devstats-k8s completions fish > ~/.config/fish/completions/devstats-k8s.fish")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff), generated from these very flags, with every subcommand.
    #[command(after_help = "Example:\n  devstats-k8s man > devstats-k8s.1 && man ./devstats-k8s.1")]
    Man,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(report) => {
            // Rendered whole, then written at once: stderr is unbuffered, and miette writes
            // character by character (a system call each for a long report).
            let mut text = format!("{report:?}\n");
            if let Some(d) = report.downcast_ref::<diag::ModelDiagnostic>() {
                text.push_str(d.rest());
            }
            let _ = std::io::stderr().lock().write_all(text.as_bytes());
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, miette::Report> {
    match cli.command {
        Command::Validate { model, env } => render::validate(&model, env.env.as_deref()),
        Command::Render(args) => render::run(args),
        Command::ImportHelm(args) => import::run(args),
        Command::Components => {
            let mut text = String::new();
            for c in devstats_render::Component::ALL {
                text.push_str(&format!("{:<20} {}\n", c.as_str(), c.description()));
            }
            write_stdout(text.trim_end())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Schema => {
            let schema = devstats_model::json_schema();
            let text = serde_json::to_string_pretty(&schema).map_err(|e| miette::miette!("{e}"))?;
            write_stdout(&text)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Apply(args) => ops::apply(args),
        Command::Diff(args) => ops::diff(args),
        Command::Status(args) => ops::status(args),
        Command::Logs(args) => ops::logs(args),
        Command::Destroy(args) => ops::destroy(args),
        Command::Run(args) => ops::run(args),
        Command::ExportResource(args) => operator::export(args),
        Command::ImportResource(args) => operator::import(args),
        Command::Install(args) => operator::install(args),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "devstats-k8s", &mut out);
            write_stdout(String::from_utf8_lossy(&out).trim_end())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Man => {
            let cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd.clone())
                .render(&mut out)
                .map_err(|e| miette::miette!("cannot render the man page: {e}"))?;
            // Then each subcommand: its description and its options.
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                out.extend_from_slice(
                    format!(".SH \"DEVSTATS-K8S {}\"\n", sub.get_name().to_uppercase()).as_bytes(),
                );
                let page = clap_mangen::Man::new(sub.clone());
                page.render_description_section(&mut out)
                    .and_then(|()| page.render_options_section(&mut out))
                    .map_err(|e| miette::miette!("cannot render the man page: {e}"))?;
            }
            write_stdout(String::from_utf8_lossy(&out).trim_end())?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
