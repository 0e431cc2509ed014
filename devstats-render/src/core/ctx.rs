//! What every builder gets ([`Ctx`]) and what each one returns ([`Rendered`]).

use std::collections::BTreeMap;

use devstats_model::Model;
use devstats_model::schedule::ProjectSchedule;

use crate::core::component::Component;
use crate::core::error::RenderError;
use crate::core::object::Object;
use crate::core::policy::ApplyPolicy;
use crate::core::secret_value::SecretValues;

/// Everything the builders need: the model and what is derived from it once.
pub struct Ctx<'a> {
    /// The model.
    pub model: &'a Model,
    /// Computed schedules by project name.
    pub schedules: BTreeMap<String, ProjectSchedule>,
    /// Secret values, when rendering Secrets.
    pub secrets: Option<&'a SecretValues>,
}

impl<'a> Ctx<'a> {
    /// Derives schedules etc. from a validated model.
    pub fn new(model: &'a Model, secrets: Option<&'a SecretValues>) -> Result<Self, RenderError> {
        Ok(Self {
            model,
            schedules: model.schedules()?,
            secrets,
        })
    }
}

/// One rendered object with its place in the deployment.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    /// How it is applied, pruned and waited for, and its phase (set by its builder).
    pub policy: ApplyPolicy,
    /// Component that built it.
    pub component: Component,
    /// The project it belongs to, for per-project objects.
    pub project: Option<String>,
    /// The foundation it belongs to, for per-foundation objects (static sites).
    pub foundation: Option<String>,
    /// The object.
    pub object: Object,
}
