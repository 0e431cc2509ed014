//! The bootstrap Job `devstats-provision-bootstrap`.
//!
//! The chart's `devstats-bootstrap.yaml` renders a bare **Pod** running
//! `./devstats-helm/deploy_all.sh` with `INIT=1 ONLYINIT=1`: it waits up to `WAITBOOT` seconds
//! for PostgreSQL, then creates the logs database `devstats`, the users and their grants. It has
//! 64 env vars, the bootstrap resources, restartPolicy Never and no volumes (the backups volume
//! only with `bootstrapMountBackups`, the chart's "debug pod" trick, which we do not model).
//!
//! We render a `batch/v1` **Job** of the same name whose pod template is the chart Pod's
//! metadata and spec, with `backoffLimit: 0` and no `ttlSecondsAfterFinished`, for the same
//! reasons as the provisioning Jobs (see [`crate::components::provision`]): never re-run automatically, and
//! the completed Job records that bootstrap happened.

use crate::components::provision::{
    DEPLOY_ALL, ToolPod, env_add_all, env_commits, env_debug, env_files_and_merge, env_ghapi_skips,
    env_metrics, env_no_lock_backup, env_repos_affs_files, env_secrets_full, env_server, run_once_job,
    tool_pod_template,
};
use crate::core::common::{Env, chart_labels, names};
use crate::core::{ctx::Ctx, object::Object};

/// The 64 env vars of bootstrap, in the chart's order.
fn env(ctx: &Ctx<'_>) -> Env {
    let t = &ctx.model.instance.tools;
    let g = &t.github;
    let m = &t.maintenance;
    Env::new()
        .val("INIT", "1")
        .val("ONLYINIT", "1")
        .val("WAITBOOT", t.wait_for_postgres_seconds.to_string())
        .flag("SKIPTEMP", t.skip_temp)
        .extend(env_no_lock_backup())
        .extend(env_add_all(t))
        .extend(env_server(ctx))
        .flag("UDROP", m.bootstrap_user_drop)
        .flag("LDROP", m.bootstrap_logs_drop)
        .flag("NOCREATE", m.bootstrap_no_create)
        .num("GHA2DB_NCPUS", t.provision_cpus)
        .flag("GHA2DB_ALLOW_METRIC_FAIL", t.allow_metric_fail)
        .flag("GHA2DB_GHAPISKIP", t.skip_github_api)
        .extend(env_ghapi_skips(t))
        .flag("GHA2DB_RESTORE_ORPHAN_COMMITS", g.restore_orphan_commits)
        .extend(env_debug(t))
        .extend(env_repos_affs_files(t))
        .extend(env_files_and_merge(t))
        .flag("GHA2DB_GHAPIALLOWINSERTFAIL", g.allow_insert_fail)
        .extend(env_metrics(t))
        .extend(env_commits(t))
        .val("GIANT", t.giant_bootstrap.env_value())
        .extend(env_secrets_full(ctx))
}

/// The bootstrap Job `devstats-provision-bootstrap` (the chart's Pod of that name).
#[must_use]
pub(crate) fn build(ctx: &Ctx<'_>) -> Object {
    let inst = &ctx.model.instance;
    let template = tool_pod_template(
        ctx,
        ToolPod {
            name: names::BOOTSTRAP,
            labels: chart_labels("boot", Some("bootstrap")),
            command: DEPLOY_ALL,
            image: inst.images.provision.as_str(),
            resources: inst.resources.bootstrap.as_ref(),
            env: env(ctx),
            project_volume: None,
        },
    );
    run_once_job(ctx, "bootstrap", template)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use devstats_model::{GiantMode, Role};

    use super::*;
    use crate::components::provision::test_support::*;

    #[test]
    fn matches_the_chart_sample() {
        let m = model(Role::Prod, vec![]);
        let ours = ours(&build(&ctx(&m, &[])));
        let chart = chart_object(&samples(), "Pod", names::BOOTSTRAP);
        assert_eq!(env_of(&ours).len(), 64);
        assert_same(&ours, &pod_as_job(&chart));
    }

    #[test]
    fn matches_the_full_renders() {
        for (role, mode) in [(Role::Prod, "prod"), (Role::Test, "test")] {
            let m = model(role, vec![]);
            let ours = ours(&build(&ctx(&m, &[])));
            let chart = chart_object(full(mode), "Pod", names::BOOTSTRAP);
            assert_same(&ours, &pod_as_job(&chart));
        }
    }

    #[test]
    fn job_runs_once_and_is_kept() {
        let m = model(Role::Prod, vec![]);
        let Object::Job(job) = build(&ctx(&m, &[])) else {
            panic!("not a Job");
        };
        let spec = job.spec.expect("spec");
        assert_eq!(spec.backoff_limit, Some(0));
        assert_eq!(spec.ttl_seconds_after_finished, None);
        let pod = spec.template.spec.expect("pod spec");
        assert!(pod.volumes.is_none());
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
    }

    #[test]
    fn role_and_knobs_reach_the_env() {
        for (role, test, prod) in [(Role::Prod, "", "1"), (Role::Test, "1", "")] {
            let mut m = model(role, vec![]);
            m.instance.tools.wait_for_postgres_seconds = 300;
            m.instance.tools.giant_bootstrap = GiantMode::Wait;
            m.instance.tools.maintenance.bootstrap_user_drop = true;
            let v = ours(&build(&ctx(&m, &[])));
            assert_eq!(env_var(&v, "TEST_SERVER"), test);
            assert_eq!(env_var(&v, "PROD_SERVER"), prod);
            assert_eq!(env_var(&v, "WAITBOOT"), "300");
            assert_eq!(env_var(&v, "GIANT"), "wait");
            assert_eq!(env_var(&v, "UDROP"), "1");
        }
    }
}
