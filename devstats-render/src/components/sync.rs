//! Per-project sync CronJobs `devstats-{proj}`, and the CronJob shell shared with the
//! affiliations CronJobs.
//!
//! The chart's `devstats-hourly-sync.yaml` renders one `batch/v1` CronJob per project running
//! `devstats` (sync every project of `projects.yaml`, limited to this one by `ONLY`) with the
//! project volume at `/root` and 45 env vars (database-flag coordination with provisioning:
//! `GHA2DB_CHECK_PROVISION_FLAG`, `GHA2DB_CHECK_RUNNING_FLAG`, `GHA2DB_SET_RUNNING_FLAG`). Its
//! schedule is the project's `cronProd`/`cronTest` string, copied from `values.yaml` where
//! `splitcrons` wrote it; `suspend: true` is written only for suspended projects;
//! `concurrencyPolicy: Forbid`, history limits 2/1, `startingDeadlineSeconds: 180`; the job has no
//! backoffLimit (Kubernetes' default 6).
//!
//! We render the same object. The schedule is the computed one (`ctx.schedules`, which applies
//! the project's override); history limits and deadline come from `instance.components.sync`.
//! If the schedule map lacks the project (only fully deployed projects have one), we use the
//! project's override, else [`NEVER`], a valid schedule that never fires: an unscheduled project
//! must not sync at an arbitrary time.

use devstats_model::{CronPolicy, Project};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::PodTemplateSpec;

use crate::components::provision::{
    ToolPod, env_commits, env_debug, env_durability, env_ghapi_skips, env_history, env_metrics,
    env_repos_affs_files, env_secrets_sync, i32_of, tool_pod_template,
};
use crate::core::common::{Env, chart_labels, names};
use crate::core::{ctx::Ctx, object::Object};

/// The fallback schedule of a project without a computed schedule or override: 0:00 on
/// 30 February, which is valid cron syntax and never comes.
pub(crate) const NEVER: &str = "0 0 30 2 *";
/// The chart's `concurrencyPolicy`.
const FORBID: &str = "Forbid";

/// What differs between the tool CronJobs.
pub(crate) struct Cron<'a> {
    /// CronJob name.
    pub name: &'a str,
    /// `app.kubernetes.io/component`.
    pub component: &'a str,
    /// The chart's `type` label of the CronJob object.
    pub cron_type: &'a str,
    /// The `proj` label, for per-project CronJobs.
    pub proj: Option<&'a str>,
    /// Cron schedule.
    pub schedule: String,
    /// Write `suspend: true` (the chart writes `suspend` only when true).
    pub suspend: bool,
    /// History limits and starting deadline.
    pub policy: CronPolicy,
    /// The job's pod template.
    pub template: PodTemplateSpec,
}

/// A tool CronJob: `concurrencyPolicy: Forbid`, no job metadata, no backoffLimit.
pub(crate) fn cron_job(ctx: &Ctx<'_>, c: Cron<'_>) -> Object {
    Object::from(CronJob {
        metadata: ctx.meta(c.name, c.component, chart_labels(c.cron_type, c.proj)),
        spec: CronJobSpec {
            schedule: c.schedule,
            suspend: c.suspend.then_some(true),
            successful_jobs_history_limit: Some(i32_of(c.policy.successful_jobs_history)),
            failed_jobs_history_limit: Some(i32_of(c.policy.failed_jobs_history)),
            starting_deadline_seconds: Some(i64::from(c.policy.starting_deadline_seconds)),
            concurrency_policy: Some(FORBID.to_owned()),
            job_template: JobTemplateSpec {
                metadata: None,
                spec: Some(JobSpec {
                    template: c.template,
                    ..JobSpec::default()
                }),
            },
            ..CronJobSpec::default()
        },
        ..CronJob::default()
    })
}

/// The schedule of a project's sync (`affiliations == false`) or affiliations CronJob: the
/// computed one, else the project's override, else [`NEVER`].
pub(crate) fn project_schedule(ctx: &Ctx<'_>, p: &Project, affiliations: bool) -> String {
    let computed = ctx
        .schedules
        .get(p.name.as_str())
        .map(|s| if affiliations { &s.affiliations } else { &s.sync });
    let overridden = if affiliations {
        &p.schedule.affiliations
    } else {
        &p.schedule.sync
    };
    computed
        .cloned()
        .or_else(|| overridden.as_ref().map(ToString::to_string))
        .unwrap_or_else(|| NEVER.to_owned())
}

/// The 45 env vars of a project's sync, in the chart's order (`PROD_SERVER` before
/// `TEST_SERVER` here, unlike every other template).
fn env(ctx: &Ctx<'_>, p: &Project) -> Env {
    let t = &ctx.model.instance.tools;
    let (test, prod) = Ctx::server_flags(ctx.model.instance.role);
    Env::with_capacity(45)
        .val("ONLY", p.name.as_str())
        .val("GHA2DB_PROPAGATE_ONLY_VAR", "1")
        .val("GHA2DB_CHECK_PROVISION_FLAG", "1")
        .val("GHA2DB_CHECK_RUNNING_FLAG", "1")
        .val("GHA2DB_SET_RUNNING_FLAG", "1")
        .val("GIANT", t.giant_sync.env_value())
        .val("PROD_SERVER", prod)
        .val("TEST_SERVER", test)
        .extend(env_history(ctx, p))
        .extend(env_durability(p))
        .num("GHA2DB_NCPUS", t.sync_cpus)
        .flag("GHA2DB_ALLOW_METRIC_FAIL", t.allow_metric_fail)
        .flag("GHA2DB_GHAPISKIP", t.skip_github_api)
        .extend(env_ghapi_skips(t))
        .flag("GHA2DB_RESTORE_ORPHAN_COMMITS", t.github.restore_orphan_commits)
        .extend(env_debug(t))
        .extend(env_repos_affs_files(t))
        .val("GHA2DB_COMPANY_ACQ_YAML", t.company_acquisitions.as_str())
        .extend(env_metrics(t))
        .val("GHA2DB_AFFILIATIONS_DB", t.affiliations_database.as_str())
        .val("GHA2DB_PROJECTS_YAML", t.projects_file.as_str())
        .val("GHA2DB_PROJECTS_OVERRIDE", t.projects_override.as_str())
        .extend(env_commits(t))
        .extend(env_secrets_sync(ctx))
}

/// The sync CronJob `devstats-{proj}`.
#[must_use]
pub(crate) fn build(ctx: &Ctx<'_>, p: &Project) -> Object {
    let inst = &ctx.model.instance;
    let proj = p.name.as_str();
    let name = names::sync(proj);
    let template = tool_pod_template(
        ctx,
        ToolPod {
            name: &name,
            labels: chart_labels("sync", Some(proj)),
            command: "devstats",
            image: inst.images.sync.as_str(),
            resources: inst.resources.sync.as_ref(),
            env: env(ctx, p),
            project_volume: Some(proj),
        },
    );
    cron_job(
        ctx,
        Cron {
            name: &name,
            component: "sync",
            cron_type: "cron",
            proj: Some(proj),
            schedule: project_schedule(ctx, p, false),
            suspend: p.suspended,
            policy: inst.components.sync,
            template,
        },
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use devstats_model::{CronSchedule, Role};
    use serde_json::Value;

    use super::*;
    use crate::components::provision::test_support::*;
    use crate::core::ctx::Ctx;

    #[test]
    fn kubernetes_matches_the_chart_sample() {
        let m = model(Role::Prod, vec![chart_project("kubernetes")]);
        let c = ctx(&m, &[("kubernetes", "4 0,6,12,18 * * *", "0 20 28 * *")]);
        let ours = ours(&build(&c, &m.projects[0]));
        assert_eq!(env_of(&ours).len(), 45);
        assert_same(&ours, &chart_object(&samples(), "CronJob", "devstats-kubernetes"));
    }

    #[test]
    fn projects_match_the_full_renders() {
        each_chart_project(
            "CronJob",
            |p| format!("devstats-{p}"),
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
            let v = ours(&build(&ctx(&m, &[]), &m.projects[0]));
            assert_eq!(env_var(&v, "TEST_SERVER"), test);
            assert_eq!(env_var(&v, "PROD_SERVER"), prod);
        }
    }

    #[test]
    fn schedule_and_policy_wiring() {
        let mut p = chart_project("prometheus");
        let mut m = model(Role::Prod, vec![p.clone()]);
        m.instance.components.sync = CronPolicy {
            successful_jobs_history: 5,
            failed_jobs_history: 4,
            starting_deadline_seconds: 77,
        };
        let v = ours(&build(
            &ctx(&m, &[("prometheus", "1 2 * * *", "3 4 5 * *")]),
            &m.projects[0],
        ));
        assert_eq!(v["spec"]["schedule"], "1 2 * * *");
        assert_eq!(v["spec"]["successfulJobsHistoryLimit"], 5);
        assert_eq!(v["spec"]["failedJobsHistoryLimit"], 4);
        assert_eq!(v["spec"]["startingDeadlineSeconds"], 77);
        assert_eq!(v["spec"]["concurrencyPolicy"], "Forbid");
        // No computed schedule: the override, else a schedule that never fires.
        let v = ours(&build(&ctx(&m, &[]), &m.projects[0]));
        assert_eq!(v["spec"]["schedule"], NEVER);
        p.schedule.sync = Some(CronSchedule::from("9 9 * * *"));
        let m = model(Role::Prod, vec![p]);
        let v = ours(&build(&ctx(&m, &[]), &m.projects[0]));
        assert_eq!(v["spec"]["schedule"], "9 9 * * *");
    }

    #[test]
    fn computed_schedules_reach_the_cron_jobs() {
        let m = model(
            Role::Prod,
            vec![chart_project("kubernetes"), chart_project("all")],
        );
        let c = Ctx::new(&m, None).expect("schedules");
        let v = ours(&build(&c, &m.projects[0]));
        let expected = c.schedules.get("kubernetes").expect("kubernetes schedule");
        assert_eq!(v["spec"]["schedule"], expected.sync.as_str());
        assert_eq!(v["spec"]["schedule"], "4 0,6,12,18 * * *");
    }
}
