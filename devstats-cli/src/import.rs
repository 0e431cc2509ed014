//! `devstats-k8s import-helm`: turns a `cncf/devstats-helm` values file (or one of the GraphQL or
//! example sibling charts') into a model file; refused values exit 2 with the reason.
//!
//! All the mapping lives in [`devstats_import`]; this module reads the files, prints
//! the warnings, writes the model and loads it back through the validating loader.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use devstats_import::ImportOptions;

const EXAMPLES: &str = "\
Examples:
  devstats-k8s import-helm devstats-helm/values.yaml -o test.yaml
  devstats-k8s import-helm devstats-helm/values.yaml --set namespace=devstats-prod,testServer=,prodServer=1 \\
      --default-env prod --env-set test:namespace=devstats-test,testServer=1,prodServer= -o model.yaml
  devstats-k8s import-helm devstats-helm/values.yaml \\
      --projects devstats-docker-images/devstats-helm/projects.yaml \\
      --set namespace=devstats-prod --set testServer= --set prodServer=1 \\
      --set ingressClass=nginx-prod --set indexDomainsFrom=1 -o prod.yaml
";

/// Import a cncf/devstats-helm values file into a model file.
///
/// The sibling charts' values are recognized by their keys: cncf/devstats-helm-graphql and
/// cncf/devstats-helm-example (`domainName`, one `cron` per project) import as one foundation;
/// cncf/devstats-helm-lf (LoadBalancer services, external PostgreSQL, Elasticsearch) is refused,
/// as is any import that would serve no project (exit 2, with the reason).
///
/// The instance is the release those values install: `testServer`/`prodServer` choose its role,
/// `indexDomainsFrom/To` the foundations it serves. The chart's precomputed schedules are kept as
/// overrides where they differ from the computed ones, so nothing changes live. Everything that
/// cannot be carried over is reported as a warning on standard error; secret values are never
/// copied.
#[derive(Debug, clap::Args)]
#[command(after_help = EXAMPLES)]
pub struct ImportArgs {
    /// The chart's values.yaml.
    #[arg(value_name = "VALUES")]
    pub values: PathBuf,
    /// Override a values key like `helm install --set` (repeatable; `a=1,b=` sets two keys, `\,` is
    /// a literal comma, `a.b=c` sets a nested key).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// The images' devstats-helm/projects.yaml: GitHub orgs, repos and regexps, maturity and
    /// archived status of each project.
    #[arg(long, value_name = "FILE")]
    pub projects: Option<PathBuf>,
    /// Write the model to this file instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Use computed schedules everywhere instead of keeping the chart's differing ones as
    /// overrides (moves CronJob schedules on the next apply).
    #[arg(long)]
    pub recompute_schedules: bool,
    /// Write an `environments:` block with this default environment; unless it gets `--env-set`s
    /// of its own, it is the base install as is (`NAME: {}`).
    #[arg(long, value_name = "NAME")]
    pub default_env: Option<String>,
    /// An environment's own override on top of the base `--set`s (repeatable; the environment
    /// is written as the difference of its install from the base), e.g.
    /// `--env-set test:namespace=devstats-test --env-set test:testServer=1`.
    #[arg(long = "env-set", value_name = "ENV:KEY=VALUE")]
    pub env_sets: Vec<String>,
}

fn read(path: &Path) -> Result<String, miette::Report> {
    std::fs::read_to_string(path).map_err(|e| miette::miette!("{}: cannot read: {e}", path.display()))
}

/// Runs `import-helm`: exit 0 when the model was written and loads back cleanly, else an error.
pub fn run(args: ImportArgs) -> Result<ExitCode, miette::Report> {
    let mut sets = Vec::new();
    for arg in &args.sets {
        let pairs = devstats_import::parse_set(arg).map_err(|e| {
            miette::miette!(
                help = "write --set key=value (an empty value is `key=`; `\\,` is a literal comma)",
                "{e}"
            )
        })?;
        sets.extend(pairs);
    }
    let values_text = read(&args.values)?;
    let projects_text = args.projects.as_deref().map(read).transpose()?;
    let opts = ImportOptions {
        sets,
        projects_yaml: projects_text,
        recompute_schedules: args.recompute_schedules,
    };
    let mut envs: Vec<devstats_import::EnvironmentImport> = Vec::new();
    for arg in &args.env_sets {
        let (name, pairs) = devstats_import::parse_env_set(arg).map_err(|e| {
            miette::miette!(
                help = "write --env-set ENV:key=value, e.g. test:namespace=devstats-test",
                "{e}"
            )
        })?;
        match envs.iter_mut().find(|e| e.name == name) {
            Some(e) => e.sets.extend(pairs),
            None => envs.push(devstats_import::EnvironmentImport { name, sets: pairs }),
        }
    }
    let default_env = match (&args.default_env, envs.first()) {
        (Some(d), _) => Some(d.clone()),
        (None, Some(first)) => Some(first.name.clone()),
        (None, None) => None,
    };
    let imported = match &default_env {
        Some(default) => devstats_import::import_environments(&values_text, &opts, default, &envs),
        None => devstats_import::import(&values_text, &opts),
    }
    .map_err(|e| {
        let file = match &e {
            devstats_import::ImportError::ProjectsYaml { .. } => {
                args.projects.as_deref().unwrap_or(&args.values)
            }
            _ => &args.values,
        };
        // Like model errors: `file:line:column: ...` when the problem is in the values file.
        match e.location() {
            Some(at) => miette::miette!("{}:{}:{}: {e}", file.display(), at.line, at.column),
            None => miette::miette!("{}: {e}", file.display()),
        }
    })?;
    if imported.dialect != devstats_import::Dialect::DevstatsHelm {
        eprintln!(
            "{}: {} values (see docs/helm-parity.md, \"Sibling charts\")",
            args.values.display(),
            imported.dialect.chart()
        );
    }
    for w in &imported.warnings {
        eprintln!("warning: {w}");
    }

    let yaml = imported
        .to_yaml()
        .map_err(|e| miette::miette!("cannot serialize the model: {e}"))?;
    let values_name = args.values.display().to_string();
    let projects_name = args.projects.as_ref().map(|p| p.display().to_string());
    let mut text = devstats_import::header_with_environments(
        &values_name,
        projects_name.as_deref(),
        &args.sets,
        args.recompute_schedules,
        args.default_env.as_deref(),
        &args.env_sets,
    );
    text.push_str(&yaml);
    if !text.ends_with('\n') {
        text.push('\n');
    }

    let written = match &args.output {
        Some(path) => {
            std::fs::write(path, &text)
                .map_err(|e| miette::miette!("{}: cannot write: {e}", path.display()))?;
            path.display().to_string()
        }
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                Err(e) => return Err(miette::miette!("cannot write output: {e}")),
            }
            "<stdout>".to_owned()
        }
    };

    // Final check: what was written loads through the validating loader.
    let model = devstats_model::parse_str(&written, &text).map_err(crate::diag::report)?;
    let s = model.summary();
    let overrides = model
        .projects
        .iter()
        .filter(|p| p.schedule.sync.is_some() || p.schedule.affiliations.is_some())
        .count();
    eprintln!(
        "{written}: {} foundations, {} projects ({} served by instance `{}`), {} schedule overrides, {} warnings",
        s.foundations,
        s.projects,
        s.served,
        model.instance.name,
        overrides,
        imported.warnings.len()
    );
    Ok(ExitCode::SUCCESS)
}
