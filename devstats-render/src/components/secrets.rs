//! The three Secrets the workloads read (`pg-db`, `github-oauth`, `grafana-secret` by default).
//!
//! Secret *values* never live in the model. They come from files named by key (`PG_PASS.secret`
//! …, the chart's file names) and are held in [`SecretValue`](crate::core::secret_value::SecretValue), whose `Debug`/`Display` never print
//! the value. Without values, Secrets are not rendered; [`required`] lists what must exist.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;

use crate::core::{ctx::Ctx, error::RenderError, object::Object};

pub(crate) use crate::core::facts::RequiredSecret;

/// Keys of the PostgreSQL Secret.
pub(crate) const PG_KEYS: [&str; 9] = [
    "PG_ADMIN_USER.secret",
    "PG_HOST.secret",
    "PG_HOST_RO.secret",
    "PG_PASS.secret",
    "PG_PASS_RO.secret",
    "PG_PASS_TEAM.secret",
    "PG_PASS_REP.secret",
    "PG_PORT.secret",
    "PG_USER_RO.secret",
];
/// Key of the GitHub Secret.
pub(crate) const GITHUB_KEYS: [&str; 1] = ["GHA2DB_GITHUB_OAUTH.secret"];
/// Keys of the Grafana Secret.
pub(crate) const GRAFANA_KEYS: [&str; 2] = [
    "GF_SECURITY_ADMIN_USER.secret",
    "GF_SECURITY_ADMIN_PASSWORD.secret",
];

/// The Secrets and keys this model's workloads read.
#[must_use]
pub(crate) fn required(ctx: &Ctx<'_>) -> Vec<RequiredSecret> {
    let s = &ctx.model.instance.secrets;
    let keys = |k: &[&str]| k.iter().map(|k| (*k).to_owned()).collect();
    let mut out = vec![
        RequiredSecret {
            name: s.postgres.to_string(),
            keys: keys(&PG_KEYS),
        },
        RequiredSecret {
            name: s.github.to_string(),
            keys: keys(&GITHUB_KEYS),
        },
        RequiredSecret {
            name: s.grafana.to_string(),
            keys: keys(&GRAFANA_KEYS),
        },
    ];
    out.extend(crate::components::disaster_recovery::required_secret(ctx));
    out
}

/// Builds the Secrets from the supplied values; every key must be present.
pub(crate) fn build(ctx: &Ctx<'_>) -> Result<Vec<(Object, crate::core::policy::ApplyPolicy)>, RenderError> {
    let Some(values) = ctx.secrets else {
        return Ok(Vec::new());
    };
    let mut missing = Vec::new();
    let mut out = Vec::new();
    for req in required(ctx) {
        let mut data = BTreeMap::new();
        for key in &req.keys {
            match values.get(key.as_str()) {
                Some(v) => {
                    data.insert(key.clone(), ByteString(v.expose().to_vec()));
                }
                None => missing.push(crate::core::error::MissingSecretKey {
                    secret: req.name.clone(),
                    key: key.clone(),
                }),
            }
        }
        let chart = crate::core::common::chart_labels("secret", None);
        let secret = Object::from(Secret {
            metadata: ctx.meta(req.name.clone(), "secrets", chart),
            type_: Some("Opaque".into()),
            data: Some(data),
            ..Secret::default()
        });
        let mut policy =
            crate::core::policy::ApplyPolicy::of(crate::core::component::Component::Secrets, &secret);
        // The database credentials: running Patroni members need them (the database's guard).
        if req.name == ctx.model.instance.secrets.postgres.as_str() {
            policy = policy.database();
        }
        out.push((secret, policy));
    }
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(RenderError::Secrets(missing))
    }
}
