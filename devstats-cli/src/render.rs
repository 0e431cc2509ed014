//! `devstats-k8s render`: arguments → a validated plan → model → objects → stdout or files.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use devstats_render::{Component, Options, SecretValue, SecretValues, Selection};
use miette::{IntoDiagnostic, WrapErr, miette};

/// The names `--only` accepts, from the render's component table (listed in `--help`, checked by
/// clap before any IO).
fn component_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(Component::ALL.iter().map(|c| c.as_str()))
}

/// Output format of `render`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A multi-document YAML stream (what `kubectl apply -f -` accepts).
    Yaml,
    /// A JSON `v1/List`.
    Json,
}

/// Which objects to render (shared by render, diff and apply).
#[derive(Debug, Clone, clap::Args)]
pub struct SelectArgs {
    /// Render only these components (comma-separated); `devstats-k8s components` says what each
    /// holds.
    #[arg(long, value_delimiter = ',', value_name = "COMPONENT,...", value_parser = component_names())]
    pub only: Vec<String>,
    /// Render only this project's objects (repeatable).
    #[arg(long = "project", value_name = "NAME")]
    pub projects: Vec<String>,
    /// Render only this foundation's projects and static site (repeatable).
    #[arg(long = "foundation", value_name = "NAME")]
    pub foundations: Vec<String>,
}

impl SelectArgs {
    /// Parses the selection (component names are checked here, before any IO).
    pub fn selection(&self) -> miette::Result<Selection> {
        let mut only = BTreeSet::new();
        for c in &self.only {
            only.insert(c.parse::<Component>().map_err(|e| miette!("--only: {e}"))?);
        }
        Ok(Selection {
            only,
            projects: self.projects.iter().cloned().collect(),
            foundations: self.foundations.iter().cloned().collect(),
        })
    }
}

/// Which environment of the model to use (shared by validate and render).
#[derive(Debug, Clone, Default, clap::Args)]
pub struct EnvArgs {
    /// Use this environment of the model (`environments:`); without it, the model's default
    /// environment (`validate` checks every environment).
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
}

/// Arguments of `render`.
#[derive(Debug, Clone, clap::Args)]
pub struct RenderArgs {
    /// The model file.
    pub model: PathBuf,
    #[command(flatten)]
    pub env: EnvArgs,
    /// Output format on stdout.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Yaml)]
    pub output: Format,
    /// Write one YAML file per object into DIR (`NN-phase/kind-name.yaml`) instead of stdout.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Render Secrets from the files in DIR, one per key (e.g. `PG_PASS.secret`). Without it,
    /// Secrets are left out and listed on stderr as required.
    #[arg(long, value_name = "DIR")]
    pub secrets_from: Option<PathBuf>,
    /// Write a Flux repository tree into DIR instead: `clusters/<env>/`, `apps/<env>/<phase>/`,
    /// `infrastructure/<env>/` for the selected environment (every environment without --env).
    #[arg(long, value_name = "DIR")]
    pub gitops: Option<PathBuf>,
    #[command(flatten)]
    pub select: SelectArgs,
}

/// A validated render plan.
struct Plan {
    model: PathBuf,
    env: Option<String>,
    gitops: Option<PathBuf>,
    format: Format,
    out_dir: Option<PathBuf>,
    secrets_from: Option<PathBuf>,
    selection: Selection,
}

/// Marker file that identifies a directory written by `render --out-dir`.
const MARKER: &str = ".devstats-k8s-render";

impl RenderArgs {
    fn plan(self) -> miette::Result<Plan> {
        if self.out_dir.is_some() && self.output == Format::Json {
            return Err(miette!(
                "--out-dir writes YAML files; it cannot be combined with -o json"
            ));
        }
        if self.gitops.is_some() {
            let conflicting = [
                (self.out_dir.is_some(), "--out-dir"),
                (self.output == Format::Json, "-o json"),
                (
                    self.secrets_from.is_some(),
                    "--secrets-from (a GitOps tree never holds secret values)",
                ),
                (
                    !self.select.only.is_empty()
                        || !self.select.projects.is_empty()
                        || !self.select.foundations.is_empty(),
                    "--only/--project/--foundation (the tree holds whole environments)",
                ),
            ];
            if let Some((_, what)) = conflicting.iter().find(|(on, _)| *on) {
                return Err(miette!("--gitops cannot be combined with {what}"));
            }
        }
        Ok(Plan {
            selection: self.select.selection()?,
            env: self.env.env,
            gitops: self.gitops,
            model: self.model,
            format: self.output,
            out_dir: self.out_dir,
            secrets_from: self.secrets_from,
        })
    }
}

/// Reads secret values: every regular file in `dir` is one key, named by its file name.
pub fn read_secrets(dir: &Path) -> miette::Result<SecretValues> {
    let mut values = SecretValues::new();
    let entries = std::fs::read_dir(dir)
        .into_diagnostic()
        .wrap_err_with(|| format!("--secrets-from {}", dir.display()))?;
    for entry in entries {
        let entry = entry.into_diagnostic()?;
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let bytes = std::fs::read(&path)
            .into_diagnostic()
            .wrap_err_with(|| format!("reading {}", path.display()))?;
        if bytes.ends_with(b"\n") {
            eprintln!(
                "warning: {name} ends with a newline; it is used verbatim (editors add one: `truncate -s -1 {name}`)"
            );
        }
        values.insert(name, SecretValue::new(bytes));
    }
    Ok(values)
}

/// Loads (the default environment) and renders; shared by the commands that need the objects.
pub fn load_and_render(
    model: &Path,
    secrets_from: Option<&Path>,
    selection: Selection,
) -> miette::Result<(devstats_model::Model, devstats_render::RenderSet)> {
    load_and_render_env(model, None, secrets_from, selection)
}

/// Loads environment `env` (the default one when `None`) and renders.
pub fn load_and_render_env(
    model: &Path,
    env: Option<&str>,
    secrets_from: Option<&Path>,
    selection: Selection,
) -> miette::Result<(devstats_model::Model, devstats_render::RenderSet)> {
    let m = devstats_model::load_env(model, env).map_err(crate::diag::report)?;
    let secrets = secrets_from.map(read_secrets).transpose()?;
    let set = devstats_render::render(&m, &Options { selection, secrets })
        .map_err(|e| miette!("{}: {e}", model.display()))?;
    Ok((m, set))
}

/// Runs `render`.
pub fn run(args: RenderArgs) -> miette::Result<ExitCode> {
    let plan = args.plan()?;
    if let Some(dir) = &plan.gitops {
        return crate::gitops::run(&plan.model, plan.env.as_deref(), dir);
    }
    let secrets_from = plan.secrets_from.as_deref();
    let (_, set) = match plan.env.as_deref() {
        None => load_and_render(&plan.model, secrets_from, plan.selection)?,
        Some(env) => load_and_render_env(&plan.model, Some(env), secrets_from, plan.selection)?,
    };
    if !set.required_secrets.is_empty() {
        eprintln!("note: Secrets are not rendered without --secrets-from; these must exist before apply:");
        for s in &set.required_secrets {
            eprintln!("  {} (keys: {})", s.name, s.keys.join(", "));
        }
    }
    match &plan.out_dir {
        Some(dir) => write_dir(dir, &set.objects)?,
        None => match plan.format {
            Format::Yaml | Format::Json => {
                // Streamed: at 10,000 projects the text would be 250 MB (YAML) or 450 MB (JSON).
                let mut out = std::io::BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
                let written = if plan.format == Format::Yaml {
                    devstats_render::output::write_yaml_stream(&set.objects, &mut out)
                } else {
                    devstats_render::output::write_json_list(&set.objects, &mut out)
                };
                match written {
                    Ok(()) => {}
                    Err(devstats_render::output::WriteError::Io(e))
                        if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                    Err(e) => return Err(miette!("{e}")),
                }
            }
        },
    }
    // The process ends here: skip freeing ~1,500 objects one by one (a measurable part of the run).
    std::mem::forget(set);
    Ok(ExitCode::SUCCESS)
}

fn write_dir(dir: &Path, objects: &[devstats_render::Rendered]) -> miette::Result<()> {
    let files = devstats_render::output::files(objects).map_err(|e| miette!("{e}"))?;
    if dir.exists() {
        let non_empty = std::fs::read_dir(dir).into_diagnostic()?.next().is_some();
        if non_empty && !dir.join(MARKER).exists() {
            return Err(miette!(
                "{} is not empty and was not written by `render --out-dir`; refusing to overwrite it",
                dir.display()
            ));
        }
        // Remove what a previous render wrote, so deleted objects do not linger.
        for entry in std::fs::read_dir(dir).into_diagnostic()? {
            let path = entry.into_diagnostic()?.path();
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            if path.is_dir() && name.len() > 3 && name.as_bytes()[..2].iter().all(u8::is_ascii_digit) {
                std::fs::remove_dir_all(&path).into_diagnostic()?;
            }
        }
    }
    std::fs::create_dir_all(dir).into_diagnostic()?;
    std::fs::write(
        dir.join(MARKER),
        "written by devstats-k8s render --out-dir; the directory is replaced on each render\n",
    )
    .into_diagnostic()?;
    for (rel, text) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).into_diagnostic()?;
        }
        std::fs::write(&path, text)
            .into_diagnostic()
            .wrap_err_with(|| format!("writing {}", path.display()))?;
    }
    eprintln!("wrote {} objects to {}", files.len(), dir.display());
    Ok(())
}

/// Runs `validate`: environment `env`, or every environment of the model when `None`. One
/// summary line per environment (for a model without environments, one line as before).
pub fn validate(model: &Path, env: Option<&str>) -> miette::Result<ExitCode> {
    let envs = match env {
        Some(name) => {
            let m = devstats_model::load_env(model, Some(name)).map_err(crate::diag::report)?;
            vec![devstats_model::EnvModel {
                name: name.to_owned(),
                default: false,
                declared: true,
                model: m,
            }]
        }
        None => devstats_model::load_environments(model).map_err(crate::diag::report)?,
    };
    for e in &envs {
        let s = e.model.summary();
        let which = if e.declared {
            format!(
                " environment `{}`{}:",
                e.name,
                if e.default { " (default)" } else { "" }
            )
        } else {
            String::new()
        };
        println!(
            "{}:{which} valid: {} foundations, {} projects ({} served by instance `{}`), {} GitHub repo selectors",
            model.display(),
            s.foundations,
            s.projects,
            s.served,
            e.model.instance.name,
            s.repos
        );
    }
    Ok(ExitCode::SUCCESS)
}
