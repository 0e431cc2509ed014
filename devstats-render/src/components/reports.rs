//! The reports and tests Pods, both optional.
//!
//! The chart's `devstats-reports.yaml` (gate `reportsPod`) renders a bare Pod `devstats-reports`:
//! a long-running shell box (`/bin/sleep 36525d`) on a database node with the backups volume at
//! `/data`, used by hand to run report scripts against PostgreSQL. `devstats-tests.yaml` (gate
//! `runTests`) renders a bare Pod `devstats-tests` that runs the tests image once.
//!
//! We render both as the same bare Pods, from `instance.components.reports` / `.tests`. The
//! reports pod stays a Pod on purpose: it is an interactive box, not a workload to roll out.

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};

use crate::core::common::{Env, chart_labels, mount, names, node_selector, pvc_volume, resources};
use crate::core::{ctx::Ctx, object::Object};
use crate::parts::security::{Workload, harden_pod};

/// Name of the backups volume in the pod (the chart's `volumeName`-backups).
const BACKUPS_VOLUME: &str = "data-backups";
/// Where the reports pod mounts the backups volume (the chart's `reportsVolumeMountPath`).
const REPORTS_MOUNT: &str = "/data";

/// The reports Pod `devstats-reports`.
#[must_use]
pub(crate) fn reports(ctx: &Ctx<'_>) -> Object {
    let inst = &ctx.model.instance;
    let t = &inst.tools;
    let pg = inst.secrets.postgres.as_str();
    let (test, prod) = Ctx::server_flags(inst.role);
    let env = Env::new()
        .val("TEST_SERVER", test)
        .val("PROD_SERVER", prod)
        .num("GHA2DB_DEBUG", t.debug.level)
        .num("GHA2DB_RECALC_RECIPROCAL", t.recalc_reciprocal)
        .num("GHA2DB_CMDDEBUG", t.debug.command)
        .flag("GHA2DB_QOUT", t.debug.query_out)
        .val("GHA2DB_FETCH_COMMITS_MODE", t.fetch_commits_mode.to_string())
        .val("GHA2DB_GIT_COMMITS_BATCH", t.git_commits_batch.to_string())
        .secret("PG_PORT", pg, "PG_PORT.secret")
        .secret("PG_HOST", pg, "PG_HOST.secret")
        .secret("PG_PASS", pg, "PG_PASS.secret")
        .secret("PG_ADMIN_USER", pg, "PG_ADMIN_USER.secret");
    let container = Container {
        name: names::REPORTS.to_owned(),
        command: Some(vec!["/bin/sleep".to_owned()]),
        args: Some(vec!["36525d".to_owned()]),
        resources: resources(inst.resources.reports.as_ref()),
        env: env.build(),
        image: Some(inst.images.reports.as_str().to_owned()),
        image_pull_policy: ctx.pull_policy(),
        volume_mounts: Some(vec![mount(BACKUPS_VOLUME, REPORTS_MOUNT)]),
        ..Container::default()
    };
    let mut spec = PodSpec {
        volumes: Some(vec![pvc_volume(BACKUPS_VOLUME, names::BACKUPS_PVC)]),
        containers: vec![container],
        restart_policy: Some("Never".to_owned()),
        node_selector: node_selector(&inst.node_selectors.db),
        ..PodSpec::default()
    };
    harden_pod(ctx, &mut spec, Workload::Shell);
    Object::from(Pod {
        metadata: ctx.meta(names::REPORTS, "reports", chart_labels("reports", None)),
        spec: Some(spec),
        ..Pod::default()
    })
}

/// The tests Pod `devstats-tests`: the tests image with its own command, no env.
#[must_use]
pub(crate) fn tests(ctx: &Ctx<'_>) -> Object {
    let inst = &ctx.model.instance;
    let container = Container {
        name: names::TESTS.to_owned(),
        image: Some(inst.images.tests.as_str().to_owned()),
        image_pull_policy: ctx.pull_policy(),
        ..Container::default()
    };
    let mut spec = PodSpec {
        containers: vec![container],
        restart_policy: Some("Never".to_owned()),
        node_selector: node_selector(&inst.node_selectors.app),
        ..PodSpec::default()
    };
    harden_pod(ctx, &mut spec, Workload::Shell);
    Object::from(Pod {
        metadata: ctx.meta(names::TESTS, "tests", chart_labels("tests", None)),
        spec: Some(spec),
        ..Pod::default()
    })
}

#[cfg(test)]
mod unit_tests {
    use std::collections::BTreeMap;

    use devstats_model::{Instance, Model, Role};
    use serde_json::Value;

    use super::*;
    use crate::components::patroni::fixture::{assert_same, chart_object, ours};

    fn model(role: Role) -> Model {
        let mut m = Model {
            instance: Instance::new("prod", "devstats-prod", role, &["cncf"]),
            foundations: vec![],
            projects: vec![],
        };
        m.instance.components.reports = true;
        m.instance.components.tests = true;
        m
    }

    fn ctx(m: &Model) -> Ctx<'_> {
        Ctx {
            model: m,
            schedules: BTreeMap::new(),
            secrets: None,
        }
    }

    #[test]
    fn reports_match_the_chart_samples() {
        let m = model(Role::Prod);
        assert_same(&chart_object("Pod", names::REPORTS), &reports(&ctx(&m)));
    }

    #[test]
    fn tests_match_the_chart_samples() {
        let m = model(Role::Prod);
        assert_same(&chart_object("Pod", names::TESTS), &tests(&ctx(&m)));
    }

    #[test]
    fn reports_follow_role_and_debug_settings() {
        let mut m = model(Role::Test);
        m.instance.tools.debug.level = Some(1);
        m.instance.tools.debug.query_out = true;
        let v = ours(&reports(&ctx(&m)));
        let env: BTreeMap<String, Value> = v["spec"]["containers"][0]["env"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["name"].as_str().unwrap_or_default().to_owned(),
                    e["value"].clone(),
                )
            })
            .collect();
        assert_eq!(env.len(), 12);
        assert_eq!(env["TEST_SERVER"], "1");
        assert_eq!(env["PROD_SERVER"], "");
        assert_eq!(env["GHA2DB_DEBUG"], "1");
        assert_eq!(env["GHA2DB_QOUT"], "1");
        assert_eq!(v["spec"]["nodeSelector"]["node2"], "devstats-db");
    }
}
