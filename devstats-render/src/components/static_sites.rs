//! Static sites: nginx Deployments `devstats-static-{site}` and Services
//! `devstats-static-service-{site}`.
//!
//! The chart (`devstats-static-pages.yaml`) always renders the default site (image `staticImage`,
//! served by the host-less catch-all Ingress rule), then one site per domain in its index range
//! (image `domains[j].image`, named by `shortname`). Each pod mounts the backups volume at
//! `/usr/share/nginx/html/backups` (published as `https://<domain>/backups/`), has exec probes on
//! `static_page_health_check.sh`, no node selector, no restart policy and `env: null`.
//!
//! We render the default site and one site per foundation the instance serves, with identical pod
//! templates; `env: null` becomes no env, and a node selector is added only when the model sets
//! one for static sites.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, ExecAction, PodSpec, PodTemplateSpec, Probe, Service, ServicePort, ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::core::common::{chart_labels, mount, names, node_selector, pvc_volume, resources};
use crate::core::{component::Component, ctx::Ctx, object::Object};
use crate::parts::security::{self, Probes, Workload};

/// Short name of the default site (`devstats-static-default`).
pub(crate) const DEFAULT_SITE: &str = "default";
/// nginx's container port and the Services' port (what the Ingresses route to).
pub(crate) const PORT: i32 = 80;
/// Name of the backups volume in the pod.
const BACKUPS_VOLUME: &str = "data-backups";
/// Where nginx serves the backups from.
const BACKUPS_MOUNT: &str = "/usr/share/nginx/html/backups";
/// Health check script (fetches `/all.svg`).
const HEALTH_CHECK: &str = "/usr/bin/static_page_health_check.sh";

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
fn template_meta(ctx: &Ctx<'_>, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: None,
        ..ctx.pod_meta(String::new(), labels)
    }
}

/// One site's Deployment and Service.
fn site(ctx: &Ctx<'_>, site: &str, image: &str) -> Vec<Object> {
    let inst = &ctx.model.instance;
    let component = Component::Static.as_str();
    let name = names::static_site(site);
    let pod_labels = chart_labels("static", Some(site));
    let container = Container {
        name: name.clone(),
        image: Some(image.to_owned()),
        image_pull_policy: ctx.pull_policy(),
        volume_mounts: Some(vec![mount(BACKUPS_VOLUME, BACKUPS_MOUNT)]),
        ports: Some(vec![ContainerPort {
            container_port: PORT,
            ..ContainerPort::default()
        }]),
        liveness_probe: Some(probe(30)),
        readiness_probe: Some(probe(10)),
        resources: resources(inst.resources.static_sites.as_ref()),
        ..Container::default()
    };
    let hpa = &inst.security.autoscaling.static_sites;
    let mut deployment = Deployment {
        metadata: ctx.meta(name.clone(), component, pod_labels.clone()),
        spec: DeploymentSpec {
            replicas: security::replicas(inst.replicas.static_sites, hpa.enabled),
            selector: LabelSelector {
                match_labels: Some(pod_labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(template_meta(ctx, pod_labels.clone())),
                spec: Some(PodSpec {
                    volumes: Some(vec![pvc_volume(BACKUPS_VOLUME, names::BACKUPS_PVC)]),
                    containers: vec![container],
                    node_selector: node_selector(&inst.node_selectors.static_sites),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    };
    let service = Service {
        metadata: ctx.meta(
            names::static_service(site),
            component,
            chart_labels(&format!("static-service-{site}"), None),
        ),
        spec: Some(ServiceSpec {
            ports: Some(vec![ServicePort {
                name: Some("http".to_owned()),
                port: PORT,
                target_port: Some(IntOrString::Int(PORT)),
                ..ServicePort::default()
            }]),
            selector: Some(pod_labels.clone()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    };
    {
        let spec = &mut deployment.spec;
        let multi = hpa.enabled || inst.replicas.static_sites > 1;
        security::web_rollout(ctx, spec, hardened_probes(), multi);
        if let Some(pod) = spec.template.spec.as_mut() {
            security::harden_pod(ctx, pod, Workload::Static);
        }
    }
    let mut out = vec![Object::from(deployment), Object::from(service)];
    out.extend(crate::parts::hpa::availability(
        ctx, &name, component, pod_labels, hpa,
    ));
    out
}

/// The hardened probes: readiness fetches a page through nginx, liveness and startup check
/// that nginx listens (the chart runs the same script for readiness and liveness).
fn hardened_probes() -> Probes {
    Probes {
        readiness: security::exec_probe(vec![HEALTH_CHECK.to_owned(), format!("127.0.0.1:{PORT}")], 10, 3),
        liveness: security::tcp_probe(PORT, 20, 6),
        startup: security::tcp_probe(PORT, 5, 24),
    }
}

/// Static site objects, each with the foundation it belongs to (None for the default site): the
/// default site first, then one site per served foundation in the instance's order.
#[must_use]
pub(crate) fn build(ctx: &Ctx<'_>) -> Vec<(Option<String>, Object)> {
    let mut out: Vec<(Option<String>, Object)> = site(
        ctx,
        DEFAULT_SITE,
        ctx.model.instance.images.static_default.as_str(),
    )
    .into_iter()
    .map(|o| (None, o))
    .collect();
    for f in ctx.model.served_foundations() {
        let objs = site(ctx, f.site_name().as_str(), f.static_image.as_str());
        out.extend(objs.into_iter().map(|o| (Some(f.name.to_string()), o)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::components::grafana::test_support::{
        assert_same, chart_object, ctx, full_prod, kubernetes, ours, prod_model, samples,
    };

    #[test]
    fn default_and_prod_sites_match_the_chart_sample() {
        let model = prod_model(vec![kubernetes()]);
        let objs = build(&ctx(&model));
        let names: Vec<(Option<&str>, &str)> = objs.iter().map(|(f, o)| (f.as_deref(), o.name())).collect();
        assert_eq!(
            names,
            [
                (None, "devstats-static-default"),
                (None, "devstats-static-service-default"),
                (Some("test"), "devstats-static-test"),
                (Some("test"), "devstats-static-service-test"),
                (Some("cncf"), "devstats-static-prod"),
                (Some("cncf"), "devstats-static-service-prod"),
                (Some("cdf"), "devstats-static-cdf"),
                (Some("cdf"), "devstats-static-service-cdf"),
                (Some("graphql"), "devstats-static-graphql"),
                (Some("graphql"), "devstats-static-service-graphql"),
            ]
        );
        let docs = samples();
        for (_, o) in objs
            .iter()
            .filter(|(f, _)| f.is_none() || f.as_deref() == Some("cncf"))
        {
            assert_same(&ours(o), &chart_object(&docs, o.kind(), o.name()));
        }
        let full = full_prod();
        for (_, o) in &objs {
            assert_same(&ours(o), &chart_object(&full, o.kind(), o.name()));
        }
    }

    #[test]
    fn only_served_foundations_and_optional_node_selector() {
        let mut model = prod_model(vec![kubernetes()]);
        model.instance.foundations = vec!["cdf".into()];
        model.instance.replicas.static_sites = 2;
        model.instance.node_selectors.static_sites = BTreeMap::from([("node".to_owned(), "web".to_owned())]);
        let objs = build(&ctx(&model));
        let names: Vec<&str> = objs.iter().map(|(_, o)| o.name()).collect();
        assert_eq!(
            names,
            [
                "devstats-static-default",
                "devstats-static-service-default",
                "devstats-static-cdf",
                "devstats-static-service-cdf"
            ]
        );
        let v = ours(&objs[2].1);
        assert_eq!(v["spec"]["replicas"], 2);
        assert_eq!(v["spec"]["template"]["spec"]["nodeSelector"]["node"], "web");
        assert!(
            v["spec"]["template"]["spec"]["containers"][0]
                .get("env")
                .is_none()
        );
    }
}
