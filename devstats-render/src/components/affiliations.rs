//! Per-project affiliations CronJobs `devstats-affiliations-{proj}` and the shared import
//! CronJob `devstats-affiliations-import`.
//!
//! The chart's `devstats-affiliations-sync.yaml` renders one `batch/v1` CronJob per project
//! running `./devstats-helm/affs.sh` (re-import affiliations and regenerate affiliation-based
//! metrics under the `affs_lock`/giant locks) with the project volume at `/root` and 50 env vars.
//! Per-project values: `SKIPTEMP` (`affSkipTemp`), `GHA2DB_GHAPISKIP` (`skipGHAPI`),
//! `GHA2DB_GETREPOSSKIP` (`skipGetRepos`), `SKIP_IMP_AFFS`/`SKIP_UPD_AFFS` (the project's percent
//! chance of skipping that phase, else the instance's), `AFFS_LOCK_DB`, `SKIP_AFFS_LOCK`,
//! `NO_DURABLE`, `DURABLE_PQ`, `GHA2DB_MAX_HIST`, `GHA2DB_MAX_RUN_DURATION`. Schedule from the
//! project's `affCronProd`/`affCronTest`, `suspend: true` only for suspended projects (it shares
//! the sync job's flag), Forbid, history 2/1, deadline 300.
//!
//! `devstats-affiliations-import.yaml` (off by default) runs `./devstats-helm/import_affs_shared.sh`
//! once a day to fill the shared `affiliations` database; it has no resources, no volumes, no
//! suspend and 12 env vars.
//!
//! We render the same objects. Schedules: the computed per-project one (`ctx.schedules`, see
//! [`crate::components::sync`] for the fallback) and `instance.components.affiliations_import.schedule`;
//! policies from `instance.components.affiliations` and `.affiliations_import.policy`.

use devstats_model::Project;

use crate::components::provision::{
    ToolPod, env_commits, env_debug, env_durability, env_history, env_identity, env_metrics,
    env_no_lock_backup, env_secrets_full, env_server, tool_pod_template,
};
use crate::components::sync::{Cron, cron_job, project_schedule};
use crate::core::common::{Env, chart_labels, names};
use crate::core::{ctx::Ctx, object::Object};

/// The 50 env vars of a project's affiliations job, in the chart's order.
fn env(ctx: &Ctx<'_>, p: &Project) -> Env {
    let t = &ctx.model.instance.tools;
    let a = &p.affiliations;
    Env::with_capacity(50)
        .extend(env_identity(p))
        .flag("SKIPTEMP", a.skip_temp)
        .val("GIANT", t.giant_affiliations.env_value())
        .flag("GET_AFFS_FILES", t.affiliations_get_affs_files)
        .flag("GHA2DB_CHECK_IMPORTED_SHA", t.check_imported_sha)
        .extend(env_no_lock_backup())
        .extend(env_server(ctx))
        .val("ONLY", p.name.as_str())
        .val("GHA2DB_PROPAGATE_ONLY_VAR", "1")
        .flag("GHA2DB_GHAPISKIP", a.skip_github_api)
        .flag("GHA2DB_GETREPOSSKIP", a.skip_get_repos)
        .extend(env_history(ctx, p))
        .num("GHA2DB_NCPUS", t.affiliations_cpus)
        .flag("GHA2DB_ALLOW_METRIC_FAIL", t.allow_metric_fail)
        .extend(env_debug(t))
        .val("GHA2DB_COMPANY_ACQ_YAML", t.company_acquisitions.as_str())
        .val("GHA2DB_AFFILIATIONS_DB", t.affiliations_database.as_str())
        .val("GHA2DB_PROJECTS_YAML", t.projects_file.as_str())
        .val("GHA2DB_PROJECTS_OVERRIDE", t.projects_override.as_str())
        .extend(env_metrics(t))
        .extend(env_commits(t))
        .flag("USE_FLAGS", t.use_flags_affiliations)
        .flag("SKIP_AFFS_LOCK", a.skip_lock)
        .num(
            "SKIP_IMP_AFFS",
            a.skip_import_percent.or(t.skip_import_affs_percent),
        )
        .num(
            "SKIP_UPD_AFFS",
            a.skip_update_percent.or(t.skip_update_affs_percent),
        )
        .val(
            "AFFS_LOCK_DB",
            a.lock_database.as_ref().map_or("", |d| d.as_str()),
        )
        .extend(env_durability(p))
        .extend(env_secrets_full(ctx))
}

/// The affiliations CronJob `devstats-affiliations-{proj}`.
#[must_use]
pub(crate) fn build(ctx: &Ctx<'_>, p: &Project) -> Object {
    let inst = &ctx.model.instance;
    let proj = p.name.as_str();
    let name = names::affiliations(proj);
    let template = tool_pod_template(
        ctx,
        ToolPod {
            name: &name,
            labels: chart_labels("affiliations", Some(proj)),
            command: "./devstats-helm/affs.sh",
            image: inst.images.affiliations.as_str(),
            resources: inst.resources.affiliations.as_ref(),
            env: env(ctx, p),
            project_volume: Some(proj),
        },
    );
    cron_job(
        ctx,
        Cron {
            name: &name,
            component: "affiliations",
            cron_type: "affiliations-cron",
            proj: Some(proj),
            schedule: project_schedule(ctx, p, true),
            suspend: p.suspended,
            policy: inst.components.affiliations,
            template,
        },
    )
}

/// The shared affiliations import CronJob `devstats-affiliations-import` (12 env vars, no
/// resources, no volumes, never suspended).
#[must_use]
pub(crate) fn import(ctx: &Ctx<'_>) -> Object {
    let inst = &ctx.model.instance;
    let t = &inst.tools;
    let job = &inst.components.affiliations_import;
    let pg = inst.secrets.postgres.as_str();
    let env = Env::new()
        .val("GHA2DB_AFFILIATIONS_DB", t.affiliations_database.as_str())
        .val("GIANT", t.giant_affiliations.env_value())
        .flag("GET_AFFS_FILES", t.affiliations_import_get_affs_files)
        .flag("GHA2DB_CHECK_IMPORTED_SHA", t.affiliations_import_check_sha)
        .extend(env_server(ctx))
        .num("GHA2DB_DEBUG", t.debug.level)
        .num("GHA2DB_CMDDEBUG", t.debug.command)
        .secret("PG_HOST", pg, "PG_HOST.secret")
        .secret("PG_PORT", pg, "PG_PORT.secret")
        .secret("PG_PASS", pg, "PG_PASS.secret")
        .secret("PG_ADMIN_USER", pg, "PG_ADMIN_USER.secret");
    let template = tool_pod_template(
        ctx,
        ToolPod {
            name: names::AFFILIATIONS_IMPORT,
            labels: chart_labels("affiliations-import", None),
            command: "./devstats-helm/import_affs_shared.sh",
            image: inst.images.affiliations.as_str(),
            // The chart gives the import no resources; with default resources (requests and
            // limits everywhere) it gets the affiliations jobs' own.
            resources: inst
                .security
                .pods
                .default_resources
                .as_ref()
                .and(inst.resources.affiliations.as_ref()),
            env,
            project_volume: None,
        },
    );
    cron_job(
        ctx,
        Cron {
            name: names::AFFILIATIONS_IMPORT,
            component: "affiliations-import",
            cron_type: "affiliations-import-cron",
            proj: None,
            schedule: job.schedule.to_string(),
            suspend: false,
            policy: job.policy,
            template,
        },
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use devstats_model::{CronPolicy, CronSchedule, GiantMode, Role};
    use serde_json::Value;

    use super::*;
    use crate::components::provision::test_support::*;

    #[test]
    fn kubernetes_matches_the_chart_sample() {
        let m = model(Role::Prod, vec![chart_project("kubernetes")]);
        let c = ctx(&m, &[("kubernetes", "4 0,6,12,18 * * *", "0 20 28 * *")]);
        let ours = ours(&build(&c, &m.projects[0]));
        assert_eq!(env_of(&ours).len(), 50);
        assert_same(
            &ours,
            &chart_object(&samples(), "CronJob", "devstats-affiliations-kubernetes"),
        );
    }

    #[test]
    fn projects_match_the_full_renders() {
        each_chart_project(
            "CronJob",
            |p| format!("devstats-affiliations-{p}"),
            build,
            |role, proj, ours, mut chart| {
                if role == Role::Test && proj == "cii" {
                    // The chart suspends cii on prod only (suspendCronProd); the model has one flag.
                    chart["spec"]["suspend"] = Value::Bool(true);
                }
                assert_same(&ours, &chart);
            },
        );
    }

    #[test]
    fn computed_schedules_reach_the_cron_jobs() {
        let m = model(
            Role::Prod,
            vec![chart_project("kubernetes"), chart_project("all")],
        );
        let c = crate::core::ctx::Ctx::new(&m, None).expect("schedules");
        let v = ours(&build(&c, &m.projects[0]));
        assert_eq!(v["spec"]["schedule"], "0 20 28 * *");
    }

    #[test]
    fn import_matches_the_chart_sample() {
        let mut m = model(Role::Prod, vec![]);
        m.instance.components.affiliations_import.enabled = true;
        let ours = ours(&import(&ctx(&m, &[])));
        assert_eq!(env_of(&ours).len(), 12);
        assert_same(
            &ours,
            &chart_object(&samples(), "CronJob", names::AFFILIATIONS_IMPORT),
        );
    }

    #[test]
    fn suspended_project_is_suspended() {
        let mut p = chart_project("prometheus");
        let m = model(Role::Prod, vec![p.clone()]);
        let v = ours(&build(&ctx(&m, &[]), &m.projects[0]));
        assert!(
            v["spec"].get("suspend").is_none(),
            "suspend is written only when true"
        );
        p.suspended = true;
        let m = model(Role::Prod, vec![p]);
        let v = ours(&build(&ctx(&m, &[]), &m.projects[0]));
        assert_eq!(v["spec"]["suspend"], Value::Bool(true));
    }

    #[test]
    fn role_flips_server_flags() {
        for (role, test, prod) in [(Role::Prod, "", "1"), (Role::Test, "1", "")] {
            let m = model(role, vec![chart_project("prometheus")]);
            let c = ctx(&m, &[]);
            for v in [ours(&build(&c, &m.projects[0])), ours(&import(&c))] {
                assert_eq!(env_var(&v, "TEST_SERVER"), test);
                assert_eq!(env_var(&v, "PROD_SERVER"), prod);
            }
        }
    }

    #[test]
    fn percentages_fall_back_to_the_instance() {
        let mut p = chart_project("prometheus");
        p.affiliations.skip_import_percent = Some(30);
        let mut m = model(Role::Prod, vec![p]);
        m.instance.tools.skip_import_affs_percent = Some(90);
        m.instance.tools.skip_update_affs_percent = Some(100);
        let v = ours(&build(&ctx(&m, &[]), &m.projects[0]));
        assert_eq!(env_var(&v, "SKIP_IMP_AFFS"), "30");
        assert_eq!(env_var(&v, "SKIP_UPD_AFFS"), "100");
    }

    #[test]
    fn schedule_and_policy_wiring() {
        let mut p = chart_project("prometheus");
        p.schedule.affiliations = Some(CronSchedule::from("7 7 7 * *"));
        let mut m = model(Role::Prod, vec![p]);
        m.instance.components.affiliations = CronPolicy {
            successful_jobs_history: 3,
            failed_jobs_history: 2,
            starting_deadline_seconds: 99,
        };
        let computed = ours(&build(
            &ctx(&m, &[("prometheus", "1 2 * * *", "3 4 5 * *")]),
            &m.projects[0],
        ));
        assert_eq!(computed["spec"]["schedule"], "3 4 5 * *");
        assert_eq!(computed["spec"]["successfulJobsHistoryLimit"], 3);
        assert_eq!(computed["spec"]["failedJobsHistoryLimit"], 2);
        assert_eq!(computed["spec"]["startingDeadlineSeconds"], 99);
        let fallback = ours(&build(&ctx(&m, &[]), &m.projects[0]));
        assert_eq!(fallback["spec"]["schedule"], "7 7 7 * *");

        let imp = &mut m.instance.components.affiliations_import;
        imp.schedule = CronSchedule::from("10 1 * * *");
        imp.policy = CronPolicy {
            successful_jobs_history: 4,
            failed_jobs_history: 3,
            starting_deadline_seconds: 60,
        };
        m.instance.tools.giant_affiliations = GiantMode::Lock;
        let v = ours(&import(&ctx(&m, &[])));
        assert_eq!(v["spec"]["schedule"], "10 1 * * *");
        assert_eq!(v["spec"]["successfulJobsHistoryLimit"], 4);
        assert_eq!(v["spec"]["startingDeadlineSeconds"], 60);
        assert_eq!(env_var(&v, "GIANT"), "lock");
        let pod = &v["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert!(pod.get("volumes").is_none());
        assert!(pod["containers"][0].get("resources").is_none());
    }
}
