//! Delivery settings: sign-in in front of chosen hosts through oauth2-proxy
//! (`instance.authProxy`) and progressive delivery of the API and project Grafanas with Flagger
//! (`instance.canary`). Both are off unless set (a model file that does not mention them, and
//! every Helm import, renders none of it). `docs/security.md` (oauth2-proxy) and
//! `docs/delivery.md` (Flagger) explain what is rendered and what the controllers own.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::values::Name;

/// oauth2-proxy in front of chosen hosts: the ingress controller asks oauth2-proxy (which runs
/// elsewhere and is not rendered) whether a request is signed in before routing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AuthProxy {
    /// The URL the ingress controller calls for each request (ingress-nginx `auth-url`, Traefik
    /// `forwardAuth.address`), e.g.
    /// `http://oauth2-proxy.oauth2-proxy.svc.cluster.local/oauth2/auth`.
    pub auth_url: String,
    /// Where ingress-nginx sends a browser that is not signed in (`auth-signin`), e.g.
    /// `https://auth.devstats.cncf.io/oauth2/start?rd=https://$host$escaped_request_uri`.
    /// Required with ingress-nginx; Traefik's forwardAuth has no such setting (oauth2-proxy
    /// answers with the redirect itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signin_url: Option<String>,
    /// Headers of oauth2-proxy's answer passed on to the upstream (ingress-nginx
    /// `auth-response-headers`, Traefik `authResponseHeaders`), e.g. `X-Auth-Request-User`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_headers: Vec<String>,
    /// Which hosts require sign-in.
    pub protect: Protected,
}

/// The hosts and paths that require sign-in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Protected {
    /// Every deployed project's Grafana hosts (its domain hosts and aliases).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub all_grafanas: bool,
    /// These projects' Grafana hosts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grafanas: Vec<Name>,
    /// The API path (`ingress.apiPath`) on the bare foundation domains.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub api: bool,
    /// The static sites: `/` on the bare foundation domains and the host-less catch-all.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub static_sites: bool,
}

/// Flagger `Canary`s (`flagger.app/v1beta1`) for the API and project Grafanas: a new pod
/// template is rolled out to a canary that gets a growing share of the traffic while Flagger
/// checks its metrics, then promoted (or rolled back after `threshold` failed checks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Canary {
    /// Canary the API Deployment.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub api: bool,
    /// Canary every deployed project's Grafana.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub all_grafanas: bool,
    /// Canary these projects' Grafanas.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grafanas: Vec<Name>,
    /// The analysis: schedule, traffic steps and the builtin metrics' thresholds.
    #[serde(default)]
    pub analysis: CanaryAnalysis,
    /// Seconds a rollout may make no progress before Flagger rolls it back
    /// (`progressDeadlineSeconds`).
    #[serde(default = "default_progress_deadline")]
    pub progress_deadline_seconds: u32,
    /// Prometheus URL of the builtin metrics (`metricsServer`; unset: Flagger's `-metrics-server`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_server: Option<String>,
    /// URL of a flagger-loadtester, e.g. `http://flagger-loadtester.test/`: when set, each Canary
    /// gets a `rollout` webhook that sends requests to its public hosts during the analysis, so
    /// low-traffic Grafanas still produce metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_tester_url: Option<String>,
}

fn default_progress_deadline() -> u32 {
    600
}

/// `Canary.spec.analysis`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct CanaryAnalysis {
    /// How often Flagger checks the metrics and moves the weight, e.g. `1m` (`s` or `m`).
    pub interval: String,
    /// Failed checks before a rollback.
    pub threshold: u32,
    /// Largest share of the traffic (percent) the canary gets before promotion.
    pub max_weight: u32,
    /// Traffic share (percent) added at each successful check.
    pub step_weight: u32,
    /// Smallest share of non-5xx responses (percent) of the builtin `request-success-rate`.
    pub min_success_rate: u32,
    /// Largest p99 latency (milliseconds) of the builtin `request-duration`.
    pub max_duration_ms: u32,
}

impl Default for CanaryAnalysis {
    fn default() -> Self {
        Self {
            interval: "1m".to_owned(),
            threshold: 5,
            max_weight: 50,
            step_weight: 10,
            min_success_rate: 99,
            max_duration_ms: 500,
        }
    }
}

impl Protected {
    /// Whether project `proj`'s Grafana hosts are protected.
    #[must_use]
    pub fn grafana(&self, proj: &str) -> bool {
        self.all_grafanas || self.grafanas.iter().any(|g| g.as_str() == proj)
    }
}

impl Canary {
    /// Whether project `proj`'s Grafana is canaried.
    #[must_use]
    pub fn grafana(&self, proj: &str) -> bool {
        self.all_grafanas || self.grafanas.iter().any(|g| g.as_str() == proj)
    }
}
