//! Per-project provisioning Jobs `devstats-provision-{proj}`, and the building blocks shared by
//! every DevStats tool workload (provisioning, bootstrap, sync, affiliations): env blocks, the pod
//! template and the run-once Job.
//!
//! The chart's `devstats-provisions.yaml` renders one bare **Pod** per project running
//! `./devstats-helm/deploy_all.sh` (restore or create the project database, import GitHub
//! Archive data, compute metrics, set the `provisioned` flag) with the project volume
//! `devstats-pvc-{proj}` mounted at `/root` and 94 env vars.
//!
//! We render a `batch/v1` **Job** of the same name whose pod template is the chart Pod's
//! metadata and spec (same labels, same env in the same order), with:
//! - `backoffLimit: 0`: provisioning is never re-run automatically; re-running it on a live
//!   database is the worst thing this tool could do;
//! - no `ttlSecondsAfterFinished`: the completed Job is the record that the project is
//!   provisioned; if a TTL deleted it, the next apply would create it again and provision again.
//!
//! Env values that vary per project: `PROJ`, `PROJDB`, `PROJREPO`, `ONLY`, `GHA2DB_MAX_HIST`,
//! `GHA2DB_MAX_RUN_DURATION` (the project's, else the instance's, else `''`), `SKIP_AFFS_LOCK`,
//! `AFFS_LOCK_DB`, `NO_DURABLE`, `DURABLE_PQ`. `SKIP_IMP_AFFS`/`SKIP_UPD_AFFS` of provisioning are
//! the instance-wide percentages only: the chart renders `''` for kubernetes although the project
//! sets `skipUpdAffs: 60` (only the affiliations CronJob reads the project's value).

use std::collections::BTreeMap;

use devstats_model::{Project, ResourceSpec, ToolSettings};
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, PodSpec, PodTemplateSpec};

use crate::core::common::{Env, chart_labels, mount, names, node_selector, pvc_volume, resources};
use crate::core::{ctx::Ctx, object::Object};

/// Where the project volume is mounted in every tool pod (the chart's `volumeMountPath`).
pub(crate) const DATA_MOUNT_PATH: &str = "/root";
/// The chart's `restartPolicy` of every tool pod.
pub(crate) const RESTART_NEVER: &str = "Never";
/// The provisioning (and bootstrap) command.
pub(crate) const DEPLOY_ALL: &str = "./devstats-helm/deploy_all.sh";

/// The pod's name for a project's volume (`{volumeName}-{proj}` = `data-{proj}`).
pub(crate) fn data_volume(proj: &str) -> String {
    format!("data-{proj}")
}

/// Converts a model count to the `i32` Kubernetes uses (saturating; the model validates ranges).
pub(crate) fn i32_of(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

// ---------------------------------------------------------------------------------------------
// Env blocks. Each is a run of variables that appears in this order in several templates; the
// builders chain them with the variables in between so that every list keeps the chart's order.
// ---------------------------------------------------------------------------------------------

/// `PROJ`, `PROJDB`, `PROJREPO`.
pub(crate) fn env_identity(p: &Project) -> Env {
    Env::new()
        .val("PROJ", p.name.as_str())
        .val("PROJDB", p.database())
        .val("PROJREPO", p.main_repo_env())
}

/// `TEST_SERVER`, `PROD_SERVER` from the instance role.
pub(crate) fn env_server(ctx: &Ctx<'_>) -> Env {
    let (test, prod) = Ctx::server_flags(ctx.model.instance.role);
    Env::new().val("TEST_SERVER", test).val("PROD_SERVER", prod)
}

/// `NOLOCK`, `NOBACKUP` (always `1`: the tools run inside the cluster, without the host's locks
/// and backups).
pub(crate) fn env_no_lock_backup() -> Env {
    Env::new().val("NOLOCK", "1").val("NOBACKUP", "1")
}

/// `SKIPADDALL`, `FORCEADDALL`, `HEALTH`.
pub(crate) fn env_add_all(t: &ToolSettings) -> Env {
    Env::new()
        .flag("SKIPADDALL", t.skip_add_all)
        .flag("FORCEADDALL", t.force_add_all)
        .flag("HEALTH", t.health)
}

/// `GHA2DB_MAX_HIST`, `GHA2DB_MAX_RUN_DURATION` (the project's limits, else the instance's).
pub(crate) fn env_history(ctx: &Ctx<'_>, p: &Project) -> Env {
    let limits = p
        .max_run_duration
        .as_ref()
        .or(ctx.model.instance.tools.max_run_duration.as_ref())
        .map_or("", |l| l.as_str());
    Env::new()
        .val("GHA2DB_MAX_HIST", p.max_history.to_string())
        .val("GHA2DB_MAX_RUN_DURATION", limits)
}

/// `NO_DURABLE`, `DURABLE_PQ`.
pub(crate) fn env_durability(p: &Project) -> Env {
    Env::new()
        .flag("NO_DURABLE", p.no_durable)
        .flag("DURABLE_PQ", p.durable_pq)
}

/// `GHA2DB_GHAPISKIP{COMMENTS,REVIEWS,FORKS,RELEASES,STARS}`.
pub(crate) fn env_ghapi_skips(t: &ToolSettings) -> Env {
    let g = &t.github;
    Env::new()
        .flag("GHA2DB_GHAPISKIPCOMMENTS", g.skip_comments)
        .flag("GHA2DB_GHAPISKIPREVIEWS", g.skip_reviews)
        .flag("GHA2DB_GHAPISKIPFORKS", g.skip_forks)
        .flag("GHA2DB_GHAPISKIPRELEASES", g.skip_releases)
        .flag("GHA2DB_GHAPISKIPSTARS", g.skip_stars)
}

/// `GHA2DB_RECALC_RECIPROCAL` and the debug levels `GHA2DB_DEBUG`, `GHA2DB_CMDDEBUG`,
/// `GHA2DB_GITHUB_DEBUG`, `GHA2DB_QOUT`.
pub(crate) fn env_debug(t: &ToolSettings) -> Env {
    Env::new()
        .num("GHA2DB_RECALC_RECIPROCAL", t.recalc_reciprocal)
        .num("GHA2DB_DEBUG", t.debug.level)
        .num("GHA2DB_CMDDEBUG", t.debug.command)
        .num("GHA2DB_GITHUB_DEBUG", t.debug.github)
        .flag("GHA2DB_QOUT", t.debug.query_out)
}

/// `GHA2DB_REPOS_DIR`, `GET_AFFS_FILES`, `GHA2DB_CHECK_IMPORTED_SHA` (provisioning, bootstrap, sync).
pub(crate) fn env_repos_affs_files(t: &ToolSettings) -> Env {
    Env::new()
        .val("GHA2DB_REPOS_DIR", t.maintenance.repos_dir.as_str())
        .flag("GET_AFFS_FILES", t.get_affs_files)
        .flag("GHA2DB_CHECK_IMPORTED_SHA", t.check_imported_sha)
}

/// The files and databases block of provisioning and bootstrap, `GHA2DB_COMPANY_ACQ_YAML` …
/// `PARALLEL` (projects file, affiliations database and the merge_dbs knobs).
pub(crate) fn env_files_and_merge(t: &ToolSettings) -> Env {
    let m = &t.maintenance;
    Env::new()
        .val("GHA2DB_COMPANY_ACQ_YAML", t.company_acquisitions.as_str())
        .val("GHA2DB_AFFILIATIONS_DB", t.affiliations_database.as_str())
        .flag("AFFS_FDW_USE_PASSWORD", t.affs_fdw_use_password)
        .val("GHA2DB_PROJECTS_YAML", t.projects_file.as_str())
        .val("GHA2DB_PROJECTS_OVERRIDE", t.projects_override.as_str())
        .flag("GHA2DB_LOCAL", m.gha2db_local)
        .val("GHA2DB_INPUT_DBS", m.input_dbs.as_str())
        .val("GHA2DB_OUTPUT_DB", m.output_db.as_str())
        .val("ONLY_TABLES", m.only_tables.as_str())
        .val("SKIP_TABLES", m.skip_tables.as_str())
        .flag("IGNORE_NO_DB", m.ignore_no_db)
        .val("SKIP_DBS", m.skip_dbs.as_str())
        .val("MERGE_DT_FROM", m.merge_date_from.as_str())
        .flag("USE_BATCH", m.use_batch)
        .val("BATCH_SIZE", m.batch_size.as_str())
        .val("PARALLEL", m.parallel.as_str())
}

/// `GHA2DB_AFFILIATIONS_JSON` and the metric selection `GHA2DB_COMPUTE_ALL`,
/// `GHA2DB_SKIP_METRICS`, `GHA2DB_EXCLUDE_VARS`, `GHA2DB_ONLY_METRICS`, `GHA2DB_FORCE_PERIODS`.
pub(crate) fn env_metrics(t: &ToolSettings) -> Env {
    Env::new()
        .val("GHA2DB_AFFILIATIONS_JSON", t.affiliations_json.as_str())
        .flag("GHA2DB_COMPUTE_ALL", t.force_compute_all)
        .val("GHA2DB_SKIP_METRICS", t.skip_metrics.as_str())
        .val("GHA2DB_EXCLUDE_VARS", t.exclude_vars.as_str())
        .val("GHA2DB_ONLY_METRICS", t.only_metrics.as_str())
        .val("GHA2DB_FORCE_PERIODS", t.periods.as_str())
}

/// `GHA2DB_FETCH_COMMITS_MODE`, `GHA2DB_GIT_COMMITS_BATCH`.
pub(crate) fn env_commits(t: &ToolSettings) -> Env {
    Env::new()
        .val("GHA2DB_FETCH_COMMITS_MODE", t.fetch_commits_mode.to_string())
        .val("GHA2DB_GIT_COMMITS_BATCH", t.git_commits_batch.to_string())
}

/// The secret env of sync: `GHA2DB_GITHUB_OAUTH`, `PG_HOST`, `PG_PORT`, `PG_PASS`.
pub(crate) fn env_secrets_sync(ctx: &Ctx<'_>) -> Env {
    let s = &ctx.model.instance.secrets;
    let pg = s.postgres.as_str();
    Env::new()
        .secret(
            "GHA2DB_GITHUB_OAUTH",
            s.github.as_str(),
            "GHA2DB_GITHUB_OAUTH.secret",
        )
        .secret("PG_HOST", pg, "PG_HOST.secret")
        .secret("PG_PORT", pg, "PG_PORT.secret")
        .secret("PG_PASS", pg, "PG_PASS.secret")
}

/// The secret env of provisioning, bootstrap and affiliations: the sync set plus `PG_PASS_RO`,
/// `PG_PASS_TEAM`, `PG_ADMIN_USER`.
pub(crate) fn env_secrets_full(ctx: &Ctx<'_>) -> Env {
    let pg = ctx.model.instance.secrets.postgres.as_str();
    env_secrets_sync(ctx)
        .secret("PG_PASS_RO", pg, "PG_PASS_RO.secret")
        .secret("PG_PASS_TEAM", pg, "PG_PASS_TEAM.secret")
        .secret("PG_ADMIN_USER", pg, "PG_ADMIN_USER.secret")
}

// ---------------------------------------------------------------------------------------------
// Pod template and Job
// ---------------------------------------------------------------------------------------------

/// What differs between the tool pods.
pub(crate) struct ToolPod<'a> {
    /// Pod-template and container name.
    pub name: &'a str,
    /// Pod-template labels (exactly the chart's).
    pub labels: BTreeMap<String, String>,
    /// The single command word.
    pub command: &'a str,
    /// Image.
    pub image: &'a str,
    /// Resources, when the model sets them.
    pub resources: Option<&'a ResourceSpec>,
    /// Env, in the chart's order.
    pub env: Env,
    /// The project whose volume is mounted at `/root`, if any.
    pub project_volume: Option<&'a str>,
}

/// The pod template of a tool pod: one container, restartPolicy Never, the app node selector.
pub(crate) fn tool_pod_template(ctx: &Ctx<'_>, pod: ToolPod<'_>) -> PodTemplateSpec {
    let inst = &ctx.model.instance;
    let (volumes, mounts) = match pod.project_volume {
        Some(proj) => {
            let vol = data_volume(proj);
            (
                Some(vec![pvc_volume(&vol, &names::project_pvc(proj))]),
                Some(vec![mount(&vol, DATA_MOUNT_PATH)]),
            )
        }
        None => (None, None),
    };
    let container = Container {
        name: pod.name.to_owned(),
        command: Some(vec![pod.command.to_owned()]),
        resources: resources(pod.resources),
        env: pod.env.build(),
        image: Some(pod.image.to_owned()),
        image_pull_policy: ctx.pull_policy(),
        volume_mounts: mounts,
        ..Container::default()
    };
    let mut spec = PodSpec {
        containers: vec![container],
        volumes,
        restart_policy: Some(RESTART_NEVER.to_owned()),
        node_selector: node_selector(&inst.node_selectors.app),
        ..PodSpec::default()
    };
    crate::parts::security::harden_pod(ctx, &mut spec, crate::parts::security::Workload::Tool);
    PodTemplateSpec {
        metadata: Some(ctx.pod_meta(pod.name, pod.labels)),
        spec: Some(spec),
    }
}

/// A run-once Job (the chart's bare Pod): `backoffLimit: 0`, no TTL, the pod template as given.
/// The Job's labels are the pod's chart labels plus the recommended ones.
pub(crate) fn run_once_job(ctx: &Ctx<'_>, component: &str, template: PodTemplateSpec) -> Object {
    let meta = template.metadata.clone().unwrap_or_default();
    let name = meta.name.unwrap_or_default();
    let labels = meta.labels.unwrap_or_default();
    Object::from(Job {
        metadata: ctx.meta(name, component, labels),
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            template,
            ..JobSpec::default()
        }),
        ..Job::default()
    })
}

/// The 94 env vars of a project's provisioning, in the chart's order.
fn env(ctx: &Ctx<'_>, p: &Project) -> Env {
    let t = &ctx.model.instance.tools;
    let g = &t.github;
    let m = &t.maintenance;
    let a = &p.affiliations;
    Env::with_capacity(94)
        .extend(env_identity(p))
        .flag("SKIPTEMP", t.skip_temp)
        .val("GIANT", t.giant_provision.env_value())
        .extend(env_no_lock_backup())
        .extend(env_add_all(t))
        .extend(env_server(ctx))
        .val("ONLY", p.name.as_str())
        .val("RESTORE_FROM", t.restore_from.as_str())
        .val("WAITBOOT", t.wait_for_bootstrap_seconds.to_string())
        .val("GHA2DB_PROPAGATE_ONLY_VAR", "1")
        .extend(env_history(ctx, p))
        .flag("GHA2DB_GHAPISKIP", t.skip_github_api)
        .num("GHA2DB_NCPUS", t.provision_cpus)
        .flag("GHA2DB_GHAPISKIPISSUES", g.skip_issues)
        .flag("GHA2DB_GHAPISKIPPRS", g.skip_prs)
        .extend(env_ghapi_skips(t))
        .flag("GHA2DB_GHAPIALLOWINSERTFAIL", g.allow_insert_fail)
        .flag("GHA2DB_RESTORE_ORPHAN_COMMITS", g.restore_orphan_commits)
        .val("DTFROM", g.date_from.as_str())
        .val("DTTO", g.date_to.as_str())
        .val("GHA2DB_RECENT_RANGE", g.recent_range.as_str())
        .val("GHA2DB_ORPHAN_COMMITS_RANGE", g.orphan_commits_range.as_str())
        .val("GHA2DB_RECENT_REPOS_RANGE", g.recent_repos_range.as_str())
        .flag("GHA2DB_ALLOW_METRIC_FAIL", t.allow_metric_fail)
        .extend(env_debug(t))
        .extend(env_repos_affs_files(t))
        .num("SKIP_IMP_AFFS", t.skip_import_affs_percent)
        .num("SKIP_UPD_AFFS", t.skip_update_affs_percent)
        .extend(env_files_and_merge(t))
        .extend(env_metrics(t))
        .flag("GHA2DB_SKIP_RAND", t.skip_rand)
        .extend(env_commits(t))
        .flag("USE_FLAGS", t.use_flags_provision)
        .flag("SKIP_AFFS_LOCK", a.skip_lock)
        .val(
            "AFFS_LOCK_DB",
            a.lock_database.as_ref().map_or("", |d| d.as_str()),
        )
        .extend(env_durability(p))
        .flag("GHA2DB_GETREPOSSKIP", t.skip_get_repos)
        .val("REPOS", m.use_repos.as_str())
        .flag("PDROP", m.reinit_drop_db)
        .flag("DELETE_ANNOTATIONS", m.delete_annotations)
        .flag("TSDB_DROP", m.tsdb_drop)
        .val("MERGE_MODE", m.merge_mode.as_str())
        .flag("ONLY_GHA", m.only_gha)
        .flag("SKIP_ECFRG_RESET", m.skip_ecfrg_reset)
        .flag("SKIPGHA", m.skip_gha)
        .val("GHA2DB_METRICS_YAML", m.metrics_yaml.as_str())
        .val("GHA2DB_TAGS_YAML", m.tags_yaml.as_str())
        .val("GHA2DB_COLUMNS_YAML", m.columns_yaml.as_str())
        .extend(env_secrets_full(ctx))
}

/// The provisioning Job `devstats-provision-{proj}` (the chart's Pod of that name).
#[must_use]
pub(crate) fn build(ctx: &Ctx<'_>, p: &Project) -> Object {
    let inst = &ctx.model.instance;
    let proj = p.name.as_str();
    let name = names::provision(proj);
    let template = tool_pod_template(
        ctx,
        ToolPod {
            name: &name,
            labels: chart_labels("provision", Some(proj)),
            command: DEPLOY_ALL,
            image: inst.images.provision.as_str(),
            resources: inst.resources.provision.as_ref(),
            env: env(ctx, p),
            project_volume: Some(proj),
        },
    );
    run_once_job(ctx, "provision", template)
}

/// Test helpers shared by the provision, bootstrap, sync and affiliations tests: the chart's
/// renders as JSON, models like the chart's values, and a path-reporting JSON diff.
#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
pub(crate) mod test_support {
    use std::collections::BTreeMap;

    use devstats_model::schedule::ProjectSchedule;
    use devstats_model::{Foundation, Hostname, ImageRef, Instance, Model, Name, Project, Role};
    use serde_json::{Value, json};

    use crate::core::ctx::Ctx;

    pub use crate::parts::testkit::{chart_object, full};

    /// The objects of `rendered-samples-prod.yaml`.
    pub fn samples() -> Vec<Value> {
        crate::parts::testkit::samples().to_vec()
    }

    /// The Job we should render for a chart Pod: the Pod's metadata on the Job, the Pod's
    /// metadata and spec as the pod template, `backoffLimit: 0`.
    pub fn pod_as_job(pod: &Value) -> Value {
        json!({
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": pod["metadata"],
            "spec": {
                "backoffLimit": 0,
                "template": { "metadata": pod["metadata"], "spec": pod["spec"] },
            },
        })
    }

    pub use crate::parts::testkit::{assert_same, ours};

    /// The env list of the pod (template) of `v` as (name, value) pairs; secrets as `<secret>`.
    pub fn env_of(v: &Value) -> Vec<(String, String)> {
        let c = v
            .pointer("/spec/template/spec/containers/0")
            .or_else(|| v.pointer("/spec/jobTemplate/spec/template/spec/containers/0"))
            .or_else(|| v.pointer("/spec/containers/0"))
            .expect("a container");
        c["env"]
            .as_array()
            .expect("env")
            .iter()
            .map(|e| {
                let val = e["value"]
                    .as_str()
                    .map_or_else(|| "<secret>".to_owned(), str::to_owned);
                (e["name"].as_str().unwrap_or_default().to_owned(), val)
            })
            .collect()
    }

    /// The value of env var `name` of `v`.
    pub fn env_var(v: &Value, name: &str) -> String {
        env_of(v)
            .into_iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no env var {name}"))
            .1
    }

    /// A project parsed from model YAML; `extra` adds fields (one per line).
    pub fn project(name: &str, foundations: &[&str], extra: &str) -> Project {
        let yaml = format!(
            "name: {name}\ndisplayName: {name}\nfoundations: [{}]\ndisk: 5Gi\n{extra}",
            foundations.join(", ")
        );
        serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("project {name}: {e}"))
    }

    /// The chart's `maxRunDuration` of kubernetes.
    pub const K8S_LIMITS: &str = "annotations:1h:102,calc_metric:48h:102,columns:2h:102,get_repos:24h:102,gha2db:120h:102,ghapi2db:36h:102,structure:4h:102,tags:1h:102";

    /// Projects as in the chart's values (the fields our builders read).
    pub fn chart_project(name: &str) -> Project {
        match name {
            "kubernetes" => project(
                name,
                &["cncf"],
                &format!(
                    "url: k8s\ndatabase: gha\nicon: k8s\nmainRepo: kubernetes/kubernetes\nmaxHistory: 2\n\
                     maxRunDuration: {K8S_LIMITS}\naffiliations: {{skipUpdatePercent: 60, lockDatabase: gha}}\n"
                ),
            ),
            "prometheus" => project(name, &["cncf"], "mainRepo: prometheus/prometheus\n"),
            "all" => project(
                name,
                &["cncf"],
                "database: allprj\nicon: cncf\nmaxHistory: 2\nmaxRunDuration: annotations:1h:102,calc_metric:48h:102,columns:2h:102,get_repos:24h:102,gha2db:120h:102,ghapi2db:48h:102,structure:3h:102,tags:1h:102\n\
                 affiliations: {skipUpdatePercent: 60, lockDatabase: allprj}\n",
            ),
            "tekton" => project(name, &["cncf", "cdf"], "mainRepo: tektoncd/pipeline\n"),
            "jenkins" => project(
                name,
                &["cdf"],
                "mainRepo: jenkinsci/jenkins\nmaxHistory: 4\nmaxRunDuration: annotations:1h:102,calc_metric:48h:102,columns:1h:102,get_repos:24h:102,gha2db:24h:102,ghapi2db:24h:102,structure:1h:102,tags:1h:102\n",
            ),
            "backstage" => project(
                name,
                &["cncf"],
                "mainRepo: backstage/backstage\nmaxHistory: 4\naffiliations: {skipGithubApi: false, skipGetRepos: false}\n",
            ),
            "graphql" => project(name, &["graphql"], "mainRepo: graphql/graphql-js\n"),
            "cii" => project(
                name,
                &["test"],
                "suspended: true\naffiliations: {skipUpdatePercent: 60}\n",
            ),
            _ => panic!("no chart project {name}"),
        }
    }

    fn foundation(name: &str, domain: &str) -> Foundation {
        Foundation {
            name: Name::from(name),
            display_name: None,
            domain: Hostname::from(domain),
            site: None,
            static_image: ImageRef(format!("lukaszgryglicki/devstats-static-{name}")),
            aggregate: None,
        }
    }

    /// An instance like the chart's prod (`Role::Prod`) or test (`Role::Test`) render.
    pub fn model(role: Role, projects: Vec<Project>) -> Model {
        let (name, ns) = match role {
            Role::Prod => ("prod", "devstats-prod"),
            Role::Test => ("test", "devstats-test"),
        };
        let mut instance = Instance::new(name, ns, role, &["test", "cncf", "cdf", "graphql"]);
        if role == Role::Prod {
            instance.ingress.class_name = Name::from("nginx-prod");
        }
        Model {
            instance,
            foundations: vec![
                foundation("test", "teststats.cncf.io"),
                foundation("cncf", "devstats.cncf.io"),
                foundation("cdf", "devstats.cd.foundation"),
                foundation("graphql", "devstats.graphql.org"),
            ],
            projects,
        }
    }

    /// A context whose schedules are the given ones (project → (sync, affiliations)).
    pub fn ctx<'a>(model: &'a Model, schedules: &[(&str, &str, &str)]) -> Ctx<'a> {
        let schedules: BTreeMap<String, ProjectSchedule> = schedules
            .iter()
            .map(|(p, s, a)| {
                (
                    (*p).to_owned(),
                    ProjectSchedule {
                        sync: (*s).to_owned(),
                        affiliations: (*a).to_owned(),
                    },
                )
            })
            .collect();
        Ctx {
            model,
            schedules,
            secrets: None,
        }
    }

    /// Projects compared one by one with the full chart renders, in both roles.
    pub const CHART_PROJECTS: [&str; 8] = [
        "kubernetes",
        "prometheus",
        "all",
        "tekton",
        "jenkins",
        "backstage",
        "graphql",
        "cii",
    ];

    /// For each role and each of [`CHART_PROJECTS`]: builds our object for the project (with the
    /// chart's schedules) and hands it to `check` with the chart's object of `kind` named
    /// `name(project)` from the full render of that role.
    pub fn each_chart_project(
        kind: &str,
        name: impl Fn(&str) -> String,
        build: impl Fn(&Ctx<'_>, &Project) -> crate::core::object::Object,
        mut check: impl FnMut(Role, &str, Value, Value),
    ) {
        for (role, mode) in [(Role::Prod, "prod"), (Role::Test, "test")] {
            let docs = full(mode);
            for proj in CHART_PROJECTS {
                let m = model(role, vec![chart_project(proj)]);
                let (sync, affs) = chart_schedules(docs, proj);
                let c = ctx(&m, &[(proj, &sync, &affs)]);
                let ours = ours(&build(&c, &m.projects[0]));
                check(role, proj, ours, chart_object(docs, kind, &name(proj)));
            }
        }
    }

    /// The chart's schedules of `proj` in `docs` (sync, affiliations), for a context.
    pub fn chart_schedules(docs: &[Value], proj: &str) -> (String, String) {
        let s = |name: String| {
            chart_object(docs, "CronJob", &name)["spec"]["schedule"]
                .as_str()
                .expect("schedule")
                .to_owned()
        };
        (
            s(format!("devstats-{proj}")),
            s(format!("devstats-affiliations-{proj}")),
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use devstats_model::{GiantMode, Role, RunLimits};

    use super::test_support::*;
    use super::*;

    #[test]
    fn kubernetes_matches_the_chart_sample() {
        let m = model(Role::Prod, vec![chart_project("kubernetes")]);
        let ours = ours(&build(&ctx(&m, &[]), &m.projects[0]));
        let chart = chart_object(&samples(), "Pod", "devstats-provision-kubernetes");
        assert_eq!(env_of(&ours).len(), 94);
        assert_same(&ours, &pod_as_job(&chart));
    }

    #[test]
    fn projects_match_the_full_renders() {
        each_chart_project(
            "Pod",
            |p| format!("devstats-provision-{p}"),
            build,
            |_, _, ours, chart| {
                assert_same(&ours, &pod_as_job(&chart));
            },
        );
    }

    #[test]
    fn job_runs_once_and_is_kept() {
        let m = model(Role::Prod, vec![chart_project("prometheus")]);
        let Object::Job(job) = build(&ctx(&m, &[]), &m.projects[0]) else {
            panic!("not a Job");
        };
        let spec = job.spec.expect("spec");
        assert_eq!(spec.backoff_limit, Some(0));
        assert_eq!(spec.ttl_seconds_after_finished, None);
        assert_eq!(spec.active_deadline_seconds, None);
        let labels = job.metadata.labels.expect("labels");
        assert_eq!(
            labels.get("app.kubernetes.io/component").map(String::as_str),
            Some("provision")
        );
        assert_eq!(labels.get("type").map(String::as_str), Some("provision"));
        assert_eq!(labels.get("proj").map(String::as_str), Some("prometheus"));
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
    fn model_knobs_reach_the_env() {
        let mut p = chart_project("prometheus");
        p.affiliations.skip_update_percent = Some(60);
        p.affiliations.skip_lock = true;
        p.no_durable = true;
        p.durable_pq = false;
        let mut m = model(Role::Prod, vec![p]);
        let t = &mut m.instance.tools;
        t.max_run_duration = Some(RunLimits::from("gha2db:1h:102"));
        t.skip_update_affs_percent = Some(10);
        t.provision_cpus = Some(4);
        t.giant_provision = GiantMode::None;
        t.debug.level = Some(2);
        t.maintenance.tsdb_drop = true;
        m.instance.resources.provision = None;
        let v = ours(&build(&ctx(&m, &[]), &m.projects[0]));
        assert_eq!(env_var(&v, "GHA2DB_MAX_RUN_DURATION"), "gha2db:1h:102");
        // Provisioning reads the instance-wide percentage only, as the chart does.
        assert_eq!(env_var(&v, "SKIP_UPD_AFFS"), "10");
        assert_eq!(env_var(&v, "SKIP_AFFS_LOCK"), "1");
        assert_eq!(env_var(&v, "NO_DURABLE"), "1");
        assert_eq!(env_var(&v, "DURABLE_PQ"), "");
        assert_eq!(env_var(&v, "GHA2DB_NCPUS"), "4");
        assert_eq!(env_var(&v, "GIANT"), "");
        assert_eq!(env_var(&v, "GHA2DB_DEBUG"), "2");
        assert_eq!(env_var(&v, "TSDB_DROP"), "1");
        assert!(v.pointer("/spec/template/spec/containers/0/resources").is_none());
    }
}
