//! The operator's commands: `export-resource` (a model environment → a `DevStats` resource),
//! `import-resource` (a resource → a model file) and `install` (the operator's install: the CRD,
//! RBAC for the kinds the model renders, the Deployment …). The builders live in
//! `devstats_render::{resource, operator}`; this module reads and writes files.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use devstats_render::operator;
use devstats_render::resource::{self, DevStats, ResourceError};
use miette::miette;

/// Examples of `export-resource`.
pub const EXPORT_HELP: &str = "Examples:
  devstats-k8s export-resource fixtures/cncf.yaml --env prod > prod-devstats.yaml
  devstats-k8s export-resource fixtures/cncf.yaml --env test --name devstats | kubectl apply --server-side -f -";
/// Examples of `import-resource`.
pub const IMPORT_HELP: &str = "Examples:
  devstats-k8s import-resource prod-devstats.yaml -o prod.yaml
  kubectl get ds prod -n devstats-prod -o yaml | devstats-k8s import-resource - -o prod.yaml";
/// Examples of `install`.
pub const INSTALL_HELP: &str = "Examples:
  devstats-k8s install fixtures/cncf.yaml | kubectl apply --server-side --field-manager devstats-k8s -f -
  devstats-k8s install fixtures/cncf.yaml --env prod > operator.yaml";

/// Arguments of `export-resource`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportArgs {
    /// The model file.
    pub model: PathBuf,
    #[command(flatten)]
    pub env: crate::render::EnvArgs,
    /// Name of the resource (default: the instance name, e.g. `prod`); its namespace is always
    /// the environment's instance namespace.
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Write the resource to this file instead of standard output.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Arguments of `import-resource`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The `DevStats` resource (YAML or JSON; `-` reads standard input).
    pub resource: PathBuf,
    /// Write the model to this file instead of standard output.
    #[arg(short = 'o', long, value_name = "MODEL")]
    pub output: Option<PathBuf>,
}

/// Arguments of `install`.
#[derive(Debug, Clone, clap::Args)]
pub struct InstallArgs {
    /// The model file whose render the operator's RBAC covers (kinds and namespaces).
    pub model: PathBuf,
    /// Serve only this environment (default: every environment of the model).
    #[arg(long = "env", value_name = "NAME")]
    pub env: Option<String>,
}

fn write_out(output: Option<&Path>, text: &str) -> miette::Result<()> {
    match output {
        Some(p) => std::fs::write(p, text).map_err(|e| miette!("{}: cannot write: {e}", p.display())),
        None => crate::stdout::write_stdout(text.trim_end()),
    }
}

/// Runs `export-resource`.
pub fn export(args: ExportArgs) -> miette::Result<ExitCode> {
    let m = devstats_model::load_env(&args.model, args.env.env.as_deref()).map_err(crate::diag::report)?;
    let r = DevStats::from_model(&m, args.name.as_deref());
    let text = serde_saphyr::to_string(&r).map_err(|e| miette!("cannot serialize the resource: {e}"))?;
    write_out(args.output.as_deref(), &text)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `import-resource`: exit 2 with every problem (its path under `spec.`) when the model
/// rejects the spec.
pub fn import(args: ImportArgs) -> miette::Result<ExitCode> {
    let file = args.resource.display().to_string();
    let text = if file == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(|e| miette!("standard input: {e}"))?
    } else {
        std::fs::read_to_string(&args.resource).map_err(|e| miette!("{file}: cannot read: {e}"))?
    };
    let doc: serde_json::Value =
        serde_saphyr::from_str(&text).map_err(|e| miette!("{file}: not a YAML or JSON document: {e}"))?;
    let (_, model) = resource::parse_resource(&doc).map_err(|e| match e {
        ResourceError::NotDevStats(m) => miette!("{file}: {m}"),
        ResourceError::Invalid(ps) => {
            let lines: Vec<String> = ps
                .iter()
                .map(|p| format!("  {file}: `{}`: {}", p.path, p.message))
                .collect();
            miette!(
                help = "fix the resource's spec (the model file's fields, `devstats-k8s schema`)",
                "{file}: the model rejects the spec ({} problem{}):\n{}",
                ps.len(),
                if ps.len() == 1 { "" } else { "s" },
                lines.join("\n")
            )
        }
    })?;
    let out = serde_saphyr::to_string(&model).map_err(|e| miette!("cannot serialize the model: {e}"))?;
    write_out(args.output.as_deref(), &out)?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `install`: renders each served environment, derives the RBAC from the objects, prints
/// the install as YAML.
pub fn install(args: InstallArgs) -> miette::Result<ExitCode> {
    let models = match args.env.as_deref() {
        Some(e) => vec![devstats_model::load_env(&args.model, Some(e)).map_err(crate::diag::report)?],
        None => devstats_model::load_environments(&args.model)
            .map_err(crate::diag::report)?
            .into_iter()
            .map(|e| e.model)
            .collect(),
    };
    let mut sets = Vec::new();
    for m in &models {
        sets.push(
            devstats_render::render(m, &devstats_render::Options::default())
                .map_err(|e| miette!("{}: {e}", args.model.display()))?,
        );
    }
    let slices: Vec<&[devstats_render::Rendered]> = sets.iter().map(|s| s.objects.as_slice()).collect();
    let install = operator::install(&slices).map_err(|e| miette!("{e}"))?;
    let text = install
        .yaml()
        .map_err(|e| miette!("cannot serialize the install: {e}"))?;
    crate::stdout::write_stdout(text.trim_end())?;
    Ok(ExitCode::SUCCESS)
}
