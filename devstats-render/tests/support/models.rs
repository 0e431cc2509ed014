//! Models the integration tests render: the CNCF production fixture with the hardened settings.
#![allow(dead_code)]

use devstats_model::delivery::{AuthProxy, Canary, CanaryAnalysis, Protected};
use devstats_model::hardening::Security;
use devstats_model::{ImageRef, Model, Name};

/// The tag the tests give every image (the operator picks real ones).
pub const TAG: &str = "2026-11-01";

/// A file under `fixtures/`.
pub fn fixture(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/")).join(name)
}

/// The environments of `fixtures/cncf.yaml`.
pub fn cncf_environments() -> Vec<devstats_model::EnvModel> {
    devstats_model::load_environments(&fixture("cncf.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

fn pin(i: &mut ImageRef) {
    if !i.is_pinned() {
        *i = ImageRef(format!("{}:{TAG}", i.as_str()));
    }
}

/// `fixtures/cncf.yaml` (prod) with the hardened settings, images pinned by tag (the model of
/// `tests/hardening.rs`).
pub fn cncf_hardened() -> Model {
    let mut m = devstats_model::load(&fixture("cncf.yaml")).unwrap_or_else(|e| panic!("{e}"));
    // Only the hardening: the fixture's issue-6 features (monitoring, disaster recovery, canaries,
    // sign-in) are turned on by the tests that test them.
    m.instance.monitoring = devstats_model::monitoring::Monitoring::default();
    m.instance.disaster_recovery = devstats_model::backup::DisasterRecovery::default();
    m.instance.canary = None;
    m.instance.auth_proxy = None;
    m.instance.security = Security::hardened();
    m.instance.security.images.require_pinned = true;
    let im = &mut m.instance.images;
    for i in [
        &mut im.provision,
        &mut im.sync,
        &mut im.affiliations,
        &mut im.grafana,
        &mut im.api,
        &mut im.static_default,
        &mut im.postgres,
        &mut im.backups,
        &mut im.vacuum,
        &mut im.reports,
        &mut im.tests,
    ] {
        pin(i);
    }
    for f in &mut m.foundations {
        pin(&mut f.static_image);
    }
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
