//! Why rendering fails: the errors of the render and the problems they list.

use std::fmt;

/// A name in a [`Selection`] that the model does not define.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectionProblem {
    /// `--project` names no project.
    #[error("unknown project '{name}'{}", suggestion.as_ref().map(|s| format!("; did you mean '{s}'?")).unwrap_or_default())]
    UnknownProject {
        /// The name given.
        name: String,
        /// The closest project name, if one is close.
        suggestion: Option<String>,
    },
    /// `--foundation` names no foundation.
    #[error("unknown foundation '{name}'; defined: {}", defined.join(", "))]
    UnknownFoundation {
        /// The name given.
        name: String,
        /// The foundations the model defines.
        defined: Vec<String>,
    },
}

/// A key that secret data given to the render lacks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{secret} needs key {key} (file {key})")]
pub struct MissingSecretKey {
    /// The Secret.
    pub secret: String,
    /// The key (and the file it is read from).
    pub key: String,
}

/// `items` displayed, joined by `sep`.
fn joined<T: fmt::Display>(items: &[T], sep: &str) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(sep)
}

/// Why rendering failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The schedule parameters are unusable.
    #[error("cannot compute schedules: {0}")]
    Schedule(#[from] devstats_model::schedule::ScheduleError),
    /// Secret data was given but incomplete.
    #[error("secret data is incomplete: {}", joined(.0, "; "))]
    Secrets(Vec<MissingSecretKey>),
    /// The selection names things that do not exist.
    #[error("{}", joined(.0, "; "))]
    Selection(Vec<SelectionProblem>),
    /// Rendered objects reference objects that do not exist.
    #[error("{} broken reference{}:\n  {}", .0.len(), if .0.len() == 1 { "" } else { "s" }, joined(.0, "\n  "))]
    References(Vec<BrokenReference>),
}

/// One broken reference: the object and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{object}: {problem}")]
pub struct BrokenReference {
    /// The referring object, `Kind namespace/name`.
    pub object: String,
    /// What it references that does not resolve, or is wrong.
    pub problem: String,
}
