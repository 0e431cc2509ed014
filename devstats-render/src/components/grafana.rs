//! Per-project Grafana: Deployment `devstats-grafana-{proj}` and Service `devstats-service-{proj}`.
//!
//! The chart (`devstats-grafana.yaml`, `devstats-grafana-service.yaml`) renders one Grafana per
//! project in its index range: image `grafanaImage` running `grafana_start.sh` on port 3000, the
//! shared backups volume at `/root` (the Grafana data tarball), exec liveness/readiness probes,
//! 12 env vars (icon, org name, GA, project, database, read-only PostgreSQL credentials, the
//! Grafana admin secret) and a ClusterIP Service 80 → 3000.
//!
//! We render the same pair for every project the instance deploys fully (archived and unserved
//! projects get none), with identical pod templates. The chart's unquoted `GA` (rendered `null`)
//! becomes `""`.

use devstats_model::Project;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, ExecAction, PodSpec, PodTemplateSpec, Probe, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::core::common::{Env, chart_labels, mount, names, node_selector, pvc_volume, resources};
use crate::core::{component::Component, ctx::Ctx, object::Object};
use crate::parts::security::{self, Probes, Workload};

/// Grafana's container port.
pub(crate) const PORT: i32 = 3000;
/// Port of the Grafana Services (what the Ingresses route to).
pub(crate) const SERVICE_PORT: i32 = 80;
/// Name of the backups volume in the pod.
const BACKUPS_VOLUME: &str = "data-backups";
/// Where the backups volume is mounted (the entrypoint links `/root/grafana`).
const BACKUPS_MOUNT: &str = "/root";
/// Entrypoint.
const COMMAND: &str = "grafana_start.sh";
/// Health check script.
const HEALTH_CHECK: &str = "grafana_health_check.sh";

fn probe(initial_delay: i32) -> Probe {
    Probe {
        exec: Some(ExecAction {
            command: Some(vec![HEALTH_CHECK.to_owned(), format!("127.0.0.1:{PORT}")]),
        }),
        initial_delay_seconds: Some(initial_delay),
        period_seconds: Some(30),
        ..Probe::default()
    }
}

/// Pod-template metadata of a Deployment as the chart writes it: namespace and labels, no name.
fn template_meta(ctx: &Ctx<'_>, labels: std::collections::BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: None,
        ..ctx.pod_meta(String::new(), labels)
    }
}

/// The chart's Deployment strategy for Grafana and the API: surge 1, never below the replica count.
pub(crate) fn rolling_update() -> Option<DeploymentStrategy> {
    Some(DeploymentStrategy {
        type_: Some("RollingUpdate".to_owned()),
        rolling_update: Some(RollingUpdateDeployment {
            max_surge: Some(IntOrString::Int(1)),
            max_unavailable: Some(IntOrString::Int(0)),
        }),
    })
}

/// The project's Grafana Deployment and Service.
#[must_use]
pub(crate) fn build(ctx: &Ctx<'_>, p: &Project) -> Vec<Object> {
    let inst = &ctx.model.instance;
    let proj = p.name.as_str();
    let name = names::grafana(proj);
    let pod_labels = chart_labels("grafana", Some(proj));
    let pg = inst.secrets.postgres.as_str();
    let gf = inst.secrets.grafana.as_str();
    let env = Env::with_capacity(12)
        .val("ICON", p.icon())
        .val("ORGNAME", p.display_name.as_str())
        .val("GA", p.google_analytics.clone().unwrap_or_default())
        .val("PROJ", proj)
        .val("PG_DB", p.database())
        .secret("PG_PORT", pg, "PG_PORT.secret")
        .secret("PG_HOST", pg, "PG_HOST_RO.secret")
        .secret("PG_HOST_RW", pg, "PG_HOST.secret")
        .secret("PG_PASS", pg, "PG_PASS_RO.secret")
        .val("GF_PANELS_DISABLE_SANITIZE_HTML", "true")
        .secret("GF_SECURITY_ADMIN_USER", gf, "GF_SECURITY_ADMIN_USER.secret")
        .secret(
            "GF_SECURITY_ADMIN_PASSWORD",
            gf,
            "GF_SECURITY_ADMIN_PASSWORD.secret",
        );
    let container = Container {
        name: name.clone(),
        image: Some(inst.images.grafana.to_string()),
        image_pull_policy: ctx.pull_policy(),
        command: Some(vec![COMMAND.to_owned()]),
        resources: resources(inst.resources.grafana.as_ref()),
        volume_mounts: Some(vec![mount(BACKUPS_VOLUME, BACKUPS_MOUNT)]),
        ports: Some(vec![ContainerPort {
            container_port: PORT,
            ..ContainerPort::default()
        }]),
        env: env.build(),
        liveness_probe: Some(probe(60)),
        readiness_probe: Some(probe(10)),
        ..Container::default()
    };
    let hpa = &inst.security.autoscaling.grafana;
    // A canaried Deployment (`instance.canary`) carries Flagger's selector label and no replica
    // count (see `crate::overlays::canary`).
    let canaried = crate::core::facts::grafana_canaried(ctx, proj);
    let template_labels = crate::core::facts::template_labels(&pod_labels, &name, canaried);
    let mut deployment = Deployment {
        metadata: ctx.meta(name.clone(), Component::Grafana.as_str(), pod_labels.clone()),
        spec: DeploymentSpec {
            replicas: security::replicas(inst.replicas.grafana, hpa.enabled || canaried),
            strategy: rolling_update(),
            selector: LabelSelector {
                match_labels: Some(template_labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(template_meta(ctx, template_labels)),
                spec: Some(PodSpec {
                    volumes: Some(vec![pvc_volume(BACKUPS_VOLUME, names::BACKUPS_PVC)]),
                    containers: vec![container],
                    restart_policy: Some("Always".to_owned()),
                    node_selector: node_selector(&inst.node_selectors.app),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    };
    {
        let spec = &mut deployment.spec;
        let multi = hpa.enabled || inst.replicas.grafana > 1;
        security::web_rollout(ctx, spec, hardened_probes(p), multi);
        if let Some(pod) = spec.template.spec.as_mut() {
            security::harden_pod(ctx, pod, Workload::Grafana);
        }
    }
    let service = Service {
        metadata: ctx.meta(
            names::grafana_service(proj),
            Component::Grafana.as_str(),
            chart_labels("service", Some(proj)),
        ),
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                port: SERVICE_PORT,
                target_port: Some(IntOrString::Int(PORT)),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            selector: Some(pod_labels.clone()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    // Flagger writes the Service of a canaried Grafana (same name, selecting the primary pods).
    let mut out = if canaried {
        vec![Object::from(deployment)]
    } else {
        vec![Object::from(deployment), Object::from(service)]
    };
    let component = Component::Grafana.as_str();
    out.extend(crate::parts::hpa::availability(
        ctx, &name, component, pod_labels, hpa,
    ));
    out
}

/// Whether the project's Grafana installs plugins from grafana.com at every start:
/// `grafana_start.sh` (cncf/devstats `grafana/shared/grafana_start.sh:11-14`) runs
/// `install_plugins.sh` when `PROJ` is `cncf` or `all`; the plugins live in the container
/// layer, so this happens on every start. Such a Grafana needs HTTPS egress to grafana.com
/// (`devstats-grafana-plugins` NetworkPolicy) and a longer startup budget.
#[must_use]
pub(crate) fn installs_plugins(p: &Project) -> bool {
    matches!(p.name.as_str(), "cncf" | "all")
}

/// Seconds a Grafana gets to start listening. The start script copies and patches files for
/// about a minute; 5 minutes covers it.
const START_BUDGET_SECONDS: i32 = 300;
/// Seconds a plugin-installing Grafana gets: `install_plugins.sh` retries each plugin 30 times
/// (465 s of sleeps plus a 10 s client timeout per try: about 13 minutes when grafana.com is
/// slow or unreachable) before `grafana-server` starts; 30 minutes leave room for both.
const PLUGIN_START_BUDGET_SECONDS: i32 = 1800;
/// Startup probe period.
const STARTUP_PERIOD: i32 = 5;

/// The hardened probes: readiness runs the health check script, liveness and startup only
/// check that Grafana listens (the chart runs the script for both readiness and liveness).
fn hardened_probes(p: &Project) -> Probes {
    let budget = if installs_plugins(p) {
        PLUGIN_START_BUDGET_SECONDS
    } else {
        START_BUDGET_SECONDS
    };
    Probes {
        readiness: security::exec_probe(vec![HEALTH_CHECK.to_owned(), format!("127.0.0.1:{PORT}")], 10, 3),
        liveness: security::tcp_probe(PORT, 20, 6),
        startup: security::tcp_probe(PORT, STARTUP_PERIOD, budget / STARTUP_PERIOD),
    }
}

/// Test helpers shared by the Grafana, API, static-site and Ingress tests: the chart's renders as
/// JSON, a model like the chart's prod values, and a path-reporting JSON diff.
#[cfg(test)]
pub(crate) mod test_support {
    use devstats_model::{Foundation, Hostname, ImageRef, Instance, Model, Name, Project, Role};
    use serde_json::Value;

    use crate::core::ctx::Ctx;

    pub use crate::parts::testkit::{assert_same, chart_object, ours};

    /// The objects of `rendered-samples-prod.yaml`.
    pub fn samples() -> Vec<Value> {
        crate::parts::testkit::samples().to_vec()
    }

    /// The objects of the full prod render (`rendered-prod-defaults.yaml.gz`).
    pub fn full_prod() -> Vec<Value> {
        crate::parts::testkit::full("prod").to_vec()
    }

    /// A foundation like the chart's `domains:` entries.
    pub fn foundation(name: &str, domain: &str, site: &str) -> Foundation {
        Foundation {
            name: Name::from(name),
            display_name: None,
            domain: Hostname::from(domain),
            site: Some(Name::from(site)),
            static_image: ImageRef(format!("lukaszgryglicki/devstats-static-{site}")),
            aggregate: None,
        }
    }

    /// A project in `foundations` with the chart's defaults; name = url = database = icon.
    pub fn project(name: &str, foundations: &[&str]) -> Project {
        let yaml = format!(
            "name: {name}\ndisplayName: {name}\nfoundations: [{}]\ndisk: 10Gi\n",
            foundations.join(", ")
        );
        serde_saphyr::from_str(&yaml).expect("project parses")
    }

    /// The chart's kubernetes project.
    pub fn kubernetes() -> Project {
        let mut p = project("kubernetes", &["cncf"]);
        p.display_name = "Kubernetes".to_owned();
        p.url = Some(Name::from("k8s"));
        p.database = Some("gha".into());
        p.icon = Some("k8s".to_owned());
        p.main_repo = Some("kubernetes/kubernetes".into());
        p.disk = "50Gi".into();
        p.max_history = 2;
        p.order = Some(0);
        p
    }

    /// The prod instance serving the chart's four domains, with the given projects.
    pub fn prod_model(projects: Vec<Project>) -> Model {
        let mut instance = Instance::new(
            "prod",
            "devstats-prod",
            Role::Prod,
            &["test", "cncf", "cdf", "graphql"],
        );
        instance.ingress.class_name = Name::from("nginx-prod");
        Model {
            instance,
            foundations: vec![
                foundation("test", "teststats.cncf.io", "test"),
                foundation("cncf", "devstats.cncf.io", "prod"),
                foundation("cdf", "devstats.cd.foundation", "cdf"),
                foundation("graphql", "devstats.graphql.org", "graphql"),
            ],
            projects,
        }
    }

    /// A context without computed schedules (the builders tested here need none).
    pub fn ctx(model: &Model) -> Ctx<'_> {
        Ctx {
            model,
            schedules: std::collections::BTreeMap::new(),
            secrets: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{
        assert_same, chart_object, ctx, full_prod, kubernetes, ours, prod_model, project, samples,
    };
    use super::*;

    #[test]
    fn kubernetes_matches_the_chart_sample() {
        let model = prod_model(vec![kubernetes()]);
        let ctx = ctx(&model);
        let objs = build(&ctx, &model.projects[0]);
        assert_eq!(objs.len(), 2);
        let docs = samples();
        assert_same(
            &ours(&objs[0]),
            &chart_object(&docs, "Deployment", "devstats-grafana-kubernetes"),
        );
        assert_same(
            &ours(&objs[1]),
            &chart_object(&docs, "Service", "devstats-service-kubernetes"),
        );
    }

    #[test]
    fn tekton_matches_the_full_prod_render() {
        let mut tekton = project("tekton", &["cncf", "cdf"]);
        tekton.display_name = "Tekton".to_owned();
        let model = prod_model(vec![tekton]);
        let ctx = ctx(&model);
        let objs = build(&ctx, &model.projects[0]);
        let docs = full_prod();
        assert_same(
            &ours(&objs[0]),
            &chart_object(&docs, "Deployment", "devstats-grafana-tekton"),
        );
        assert_same(
            &ours(&objs[1]),
            &chart_object(&docs, "Service", "devstats-service-tekton"),
        );
    }

    #[test]
    fn the_comparison_reports_json_paths() {
        let model = prod_model(vec![kubernetes()]);
        let ctx = ctx(&model);
        let mut v = ours(&build(&ctx, &model.projects[0])[0]);
        v["spec"]["template"]["spec"]["containers"][0]["env"][3]["value"] = "x".into();
        let chart = chart_object(&samples(), "Deployment", "devstats-grafana-kubernetes");
        let err = std::panic::catch_unwind(|| assert_same(&v, &chart)).expect_err("difference detected");
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            msg.contains("/spec/template/spec/containers/0/env/3/value"),
            "{msg}"
        );
    }

    #[test]
    fn model_knobs_reach_the_deployment() {
        let mut p = project("foo", &["cncf"]);
        p.google_analytics = Some("UA-1".to_owned());
        let mut model = prod_model(vec![p]);
        model.instance.replicas.grafana = 3;
        model.instance.resources.grafana = None;
        let ctx = ctx(&model);
        let v = ours(&build(&ctx, &model.projects[0])[0]);
        assert_eq!(v["spec"]["replicas"], 3);
        let c = &v["spec"]["template"]["spec"]["containers"][0];
        assert!(c.get("resources").is_none());
        assert_eq!(c["env"][2]["name"], "GA");
        assert_eq!(c["env"][2]["value"], "UA-1");
        assert!(v["spec"]["template"]["metadata"].get("name").is_none());
    }
}
