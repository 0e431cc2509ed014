//! Models the integration tests render: the CNCF production fixture with the hardened settings.
#![allow(dead_code)]

use devstats_model::delivery::{AuthProxy, Canary, CanaryAnalysis, Protected};
use devstats_model::hardening::Security;
use devstats_model::{Model, Name};

/// A file under `fixtures/`.
pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/")).join(name)
}

/// The environments of `fixtures/cncf.yaml`.
pub fn cncf_environments() -> Vec<devstats_model::EnvModel> {
    devstats_model::load_environments(&fixture("cncf.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

/// The hardened defaults with CNCF's cluster layout: the ingress-nginx controllers run inside
/// the instance namespace (what `fixtures/cncf.yaml` states).
pub fn cncf_security() -> Security {
    let mut s = Security::hardened();
    s.network_policies.ingress_controller =
        devstats_model::hardening::IngressControllerPeer::in_instance_namespace();
    s
}

/// `fixtures/cncf.yaml` (prod): hardened, images pinned, without the issue-6 features (each test
/// turns on what it tests).
pub fn cncf_hardened() -> Model {
    let mut m = devstats_model::load(&fixture("cncf.yaml")).unwrap_or_else(|e| panic!("{e}"));
    // Only the hardening: the fixture's issue-6 features (monitoring, disaster recovery, canaries,
    // sign-in) are turned on by the tests that test them.
    m.instance.monitoring = devstats_model::monitoring::Monitoring::default();
    m.instance.disaster_recovery = devstats_model::backup::DisasterRecovery::default();
    m.instance.canary = None;
    m.instance.auth_proxy = None;
    // The fixture is hardened, with CNCF's cluster layout (ingress-nginx inside the namespace).
    assert_eq!(m.instance.security, cncf_security());
    let problems = devstats_model::validate::validate(&m);
    assert!(problems.is_empty(), "{problems:?}");
    m
}

/// The oauth2-proxy settings of the CNCF production instance (see `docs/security.md`).
pub fn auth_proxy(protect: Protected) -> AuthProxy {
    AuthProxy {
        auth_url: "http://oauth2-proxy.oauth2-proxy.svc.cluster.local/oauth2/auth".to_owned(),
        signin_url: Some(
            "https://auth.devstats.cncf.io/oauth2/start?rd=https://$host$escaped_request_uri".to_owned(),
        ),
        response_headers: vec![
            "X-Auth-Request-User".to_owned(),
            "X-Auth-Request-Email".to_owned(),
        ],
        protect,
    }
}

/// Canaries for the API and two Grafanas, with a load tester.
pub fn canary() -> Canary {
    Canary {
        api: true,
        all_grafanas: false,
        grafanas: vec![Name::from("kubernetes"), Name::from("opentelemetry")],
        analysis: CanaryAnalysis::default(),
        progress_deadline_seconds: 600,
        metrics_server: None,
        load_tester_url: Some("http://flagger-loadtester.flagger/".to_owned()),
    }
}
