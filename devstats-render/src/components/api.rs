//! The DevStats API: Service `devstats-api-service` and Deployment `devstats-api`.
//!
//! The chart (`devstats-api.yaml`) renders a ClusterIP Service 80 → 8080 and a Deployment running
//! `api` (image `apiImage`) on port 8080 with `GHA2DB_PROJECTS_OVERRIDE` and six PostgreSQL
//! credentials from the `pg-db` Secret; no probes, no volumes, app node selector.
//!
//! We render the same two objects with identical pod templates; the chart's unquoted empty
//! `GHA2DB_PROJECTS_OVERRIDE` (rendered `null`) becomes `""`.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, PodSpec, PodTemplateSpec, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::components::grafana::rolling_update;
use crate::core::common::{Env, chart_labels, names, node_selector, resources};
use crate::core::{component::Component, ctx::Ctx, object::Object};
use crate::parts::security::{self, Probes, Workload};

/// The API's container port.
pub(crate) const PORT: i32 = 8080;
/// Port of the API Service (what the Ingress routes `/api/` to).
pub(crate) const SERVICE_PORT: i32 = 80;

/// Pod-template metadata of a Deployment as the chart writes it: namespace and labels, no name.
fn template_meta(ctx: &Ctx<'_>, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: None,
        ..ctx.pod_meta(String::new(), labels)
    }
}

/// The API Service and Deployment.
#[must_use]
pub(crate) fn build(ctx: &Ctx<'_>) -> Vec<Object> {
    let inst = &ctx.model.instance;
    let labels = chart_labels("api", None);
    let component = Component::Api.as_str();
    let pg = inst.secrets.postgres.as_str();
    let env = Env::new()
        .val("GHA2DB_PROJECTS_OVERRIDE", inst.tools.projects_override.as_str())
        .secret("PG_PORT", pg, "PG_PORT.secret")
        .secret("PG_HOST", pg, "PG_HOST.secret")
        .secret("PG_HOST_RO", pg, "PG_HOST_RO.secret")
        .secret("PG_PASS", pg, "PG_PASS.secret")
        .secret("PG_PASS_RO", pg, "PG_PASS_RO.secret")
        .secret("PG_USER_RO", pg, "PG_USER_RO.secret");
    let service = Service {
        metadata: ctx.meta(names::API_SERVICE, component, labels.clone()),
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                port: SERVICE_PORT,
                target_port: Some(IntOrString::Int(PORT)),
                protocol: Some("TCP".to_owned()),
                ..ServicePort::default()
            }]),
            selector: Some(labels.clone()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    let container = Container {
        name: names::API.to_owned(),
        image: Some(inst.images.api.to_string()),
        image_pull_policy: ctx.pull_policy(),
        command: Some(vec!["api".to_owned()]),
        resources: resources(inst.resources.api.as_ref()),
        ports: Some(vec![ContainerPort {
            container_port: PORT,
            ..ContainerPort::default()
        }]),
        env: env.build(),
        ..Container::default()
    };
    let hpa = &inst.security.autoscaling.api;
    // A canaried Deployment (`instance.canary`) carries Flagger's selector label and no replica
    // count (see `crate::overlays::canary`).
    let canaried = crate::core::facts::api_canaried(ctx);
    let template_labels = crate::core::facts::template_labels(&labels, names::API, canaried);
    let mut deployment = Deployment {
        metadata: ctx.meta(names::API, component, labels.clone()),
        spec: DeploymentSpec {
            replicas: security::replicas(inst.replicas.api, hpa.enabled || canaried),
            strategy: rolling_update(),
            selector: LabelSelector {
                match_labels: Some(template_labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(template_meta(ctx, template_labels)),
                spec: Some(PodSpec {
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
        let multi = hpa.enabled || inst.replicas.api > 1;
        security::web_rollout(ctx, spec, hardened_probes(), multi);
        if let Some(pod) = spec.template.spec.as_mut() {
            security::harden_pod(ctx, pod, Workload::Api);
        }
    }
    // Flagger writes the Service of a canaried API (same name, selecting the primary pods).
    let mut out = if canaried {
        vec![Object::from(deployment)]
    } else {
        vec![Object::from(service), Object::from(deployment)]
    };
    out.extend(crate::parts::hpa::availability(
        ctx,
        names::API,
        component,
        labels,
        hpa,
    ));
    out
}

/// The hardened probes (the chart has none): readiness asks the API for its list of APIs (a
/// POST, as every API call; no database query), liveness and startup check that it listens.
fn hardened_probes() -> Probes {
    let readiness = [
        "wget",
        "-q",
        "-T",
        "5",
        "-O",
        "/dev/null",
        "--post-data",
        r#"{"api":"ListAPIs"}"#,
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([format!("http://127.0.0.1:{PORT}/api/v1")])
    .collect();
    Probes {
        readiness: security::exec_probe(readiness, 10, 3),
        liveness: security::tcp_probe(PORT, 20, 6),
        startup: security::tcp_probe(PORT, 5, 24),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::grafana::test_support::{
        assert_same, chart_object, ctx, kubernetes, ours, prod_model, samples,
    };

    #[test]
    fn matches_the_chart_sample() {
        let model = prod_model(vec![kubernetes()]);
        let objs = build(&ctx(&model));
        assert_eq!(objs.len(), 2);
        let docs = samples();
        assert_same(
            &ours(&objs[0]),
            &chart_object(&docs, "Service", "devstats-api-service"),
        );
        assert_same(
            &ours(&objs[1]),
            &chart_object(&docs, "Deployment", "devstats-api"),
        );
    }

    #[test]
    fn model_knobs_reach_the_deployment() {
        let mut model = prod_model(vec![kubernetes()]);
        model.instance.tools.projects_override = "+cncf,+opencontainers".to_owned();
        model.instance.images.api = devstats_model::ImageRef("lukaszgryglicki/devstats-api-prod".to_owned());
        model.instance.replicas.api = 2;
        model.instance.node_selectors.app.clear();
        let v = ours(&build(&ctx(&model))[1]);
        assert_eq!(v["spec"]["replicas"], 2);
        let pod = &v["spec"]["template"]["spec"];
        assert!(pod.get("nodeSelector").is_none());
        assert_eq!(pod["containers"][0]["image"], "lukaszgryglicki/devstats-api-prod");
        assert_eq!(pod["containers"][0]["env"][0]["value"], "+cncf,+opencontainers");
    }
}
