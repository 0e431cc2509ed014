//! The dependency graph between rendered objects, derived from their references (not from a
//! hand-written list of kinds).
//!
//! Edges point from an object to what it needs:
//! - **exists** (the target must be written first): every reference of
//!   [`Object::references`] that [orders the apply](devstats_render::Via::orders_apply), to an
//!   object of the same render (matched by kind, namespace and name): the Namespace of every
//!   namespaced object; a Secret read by `secretKeyRef`/`envFrom`/a secret volume; a ConfigMap a
//!   pod reads; a PVC named by `claimName`; a ServiceAccount named by `serviceAccountName` or a
//!   RoleBinding subject; the Role of a `roleRef`; the Service of a StatefulSet's `serviceName`;
//!   the Service of an Ingress backend. The same references the render's reference check
//!   resolves.
//! - **ready** (the target must be ready first; these are the waits): every workload that reads
//!   the database credentials Secret (`instance.secrets.postgres`, by any of the Secret
//!   references) needs the Patroni StatefulSet ready with a primary elected;
//!   provisioning Jobs need the bootstrap Job complete; a project's CronJobs and Deployments need
//!   its provisioning Job complete.
//!
//! Render's [`Phase`](devstats_render::Phase) order is checked against this graph by tests: it must
//! be a topological order of it, strictly so across ready edges.

use std::collections::{BTreeMap, BTreeSet};

use devstats_render::{Component, Kind, Object, Ready, Reference, Rendered};
use k8s_openapi::api::core::v1::PodSpec;

/// The kind of a dependency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EdgeKind {
    /// The target must be written (exist) first.
    Exists,
    /// The target must be ready (rolled out, complete, primary elected) first.
    Ready,
}

/// One dependency: `from` needs `to`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    /// Index of the dependent object.
    pub from: usize,
    /// Index of the object it needs.
    pub to: usize,
    /// Exists or ready.
    pub kind: EdgeKind,
    /// The reference that makes the edge, e.g. `secretKeyRef`.
    pub why: &'static str,
}

/// The pod spec of a workload (or bare Pod).
#[must_use]
pub fn pod_spec(o: &Object) -> Option<&PodSpec> {
    o.pod_spec()
}

/// The database: the object whose readiness is a Patroni primary (its render policy says so).
fn is_database(r: &Rendered) -> bool {
    r.policy.ready == Ready::Primary
}

/// Derives every edge among `objects` (indexes into the slice). Edges to objects outside the
/// slice are not edges: a partial render depends on what is already in the cluster.
/// `database_secret` is the Secret holding the database credentials
/// ([`RenderSet::database_secret`](devstats_render::RenderSet), the model's
/// `instance.secrets.postgres`): whoever reads it waits for the database.
#[must_use]
pub fn edges(objects: &[Rendered], database_secret: &str) -> Vec<Edge> {
    let mut by_key: BTreeMap<(Kind, Option<&str>, &str), usize> = BTreeMap::new();
    for (i, r) in objects.iter().enumerate() {
        let o = &r.object;
        by_key.insert((o.typed_kind(), o.namespace(), o.name()), i);
    }
    let find = |r: &Reference<'_>| by_key.get(&(r.kind, r.namespace, r.name)).copied();
    let database = objects.iter().position(is_database);
    let bootstrap = objects
        .iter()
        .position(|r| r.component == Component::Bootstrap && matches!(r.object, Object::Job(_)));
    let mut provision_of: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, r) in objects.iter().enumerate() {
        if r.component == Component::Provision
            && matches!(r.object, Object::Job(_))
            && let Some(p) = &r.project
        {
            provision_of.insert(p.as_str(), i);
        }
    }

    let mut out = BTreeSet::new();
    let mut add = |from: usize, to: Option<usize>, kind: EdgeKind, why: &'static str| {
        if let Some(to) = to
            && to != from
        {
            out.insert(Edge { from, to, kind, why });
        }
    };
    for (i, r) in objects.iter().enumerate() {
        let o = &r.object;
        let references = o.references();
        for reference in references.iter().filter(|r| r.via.orders_apply()) {
            add(i, find(reference), EdgeKind::Exists, reference.via.as_str());
        }
        if pod_spec(o).is_some() {
            let reads_database = references
                .iter()
                .any(|reference| reference.via.reads_secret() && reference.name == database_secret);
            if reads_database && !is_database(r) {
                add(i, database, EdgeKind::Ready, "reads the database");
            }
            if r.component == Component::Provision && matches!(o, Object::Job(_)) {
                add(
                    i,
                    bootstrap,
                    EdgeKind::Ready,
                    "needs the bootstrap (users, grants)",
                );
            }
            if let Some(p) = &r.project
                && r.component != Component::Provision
            {
                add(
                    i,
                    provision_of.get(p.as_str()).copied(),
                    EdgeKind::Ready,
                    "reads the provisioned project database",
                );
            }
        }
    }
    out.into_iter().collect()
}

/// A topological order (dependencies first); `Err` names a cycle member.
pub fn topo_order(n: usize, edges: &[Edge]) -> Result<Vec<usize>, usize> {
    let mut indegree = vec![0usize; n];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for e in edges {
        indegree[e.from] += 1;
        dependents[e.to].push(e.from);
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|i| indegree[*i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    while let Some(i) = ready.pop_first() {
        order.push(i);
        for &d in &dependents[i] {
            indegree[d] -= 1;
            if indegree[d] == 0 {
                ready.insert(d);
            }
        }
    }
    if order.len() == n {
        Ok(order)
    } else {
        Err((0..n).find(|i| indegree[*i] > 0).unwrap_or(0))
    }
}

/// Longest-path depth of each object (0 = no dependencies): the waves a barrier-per-level
/// executor would use.
#[must_use]
pub fn levels(n: usize, edges: &[Edge]) -> Vec<usize> {
    let mut level = vec![0usize; n];
    let Ok(order) = topo_order(n, edges) else {
        return level;
    };
    let mut deps: Vec<Vec<usize>> = vec![Vec::new(); n];
    for e in edges {
        deps[e.from].push(e.to);
    }
    for i in order {
        level[i] = deps[i].iter().map(|d| level[*d] + 1).max().unwrap_or(0);
    }
    level
}

#[cfg(test)]
mod tests {
    use devstats_render::{ApplyPolicy, Component, Object, Rendered};
    use k8s_openapi::api::core::v1::{
        Container, EnvVar, EnvVarSource, Namespace, Pod, PodSpec, Secret, SecretKeySelector,
    };
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    use super::{EdgeKind, edges};

    fn meta(ns: Option<&str>, name: &str) -> ObjectMeta {
        ObjectMeta {
            name: Some(name.to_owned()),
            namespace: ns.map(str::to_owned),
            ..ObjectMeta::default()
        }
    }

    fn rendered(object: Object) -> Rendered {
        Rendered {
            policy: ApplyPolicy::of(Component::Api, &object),
            component: Component::Api,
            project: None,
            foundation: None,
            object,
        }
    }

    /// Two Secrets of one name in two namespaces: a pod's reference reaches the one of its own
    /// namespace (the graph keyed by kind and name took whichever came last).
    #[test]
    fn references_resolve_within_the_namespace() {
        let pod = Pod {
            metadata: meta(Some("b"), "p"),
            spec: Some(PodSpec {
                containers: vec![Container {
                    name: "c".to_owned(),
                    env: Some(vec![EnvVar {
                        name: "PG_PASS".to_owned(),
                        value_from: Some(EnvVarSource {
                            secret_key_ref: Some(SecretKeySelector {
                                name: "s".to_owned(),
                                key: "k".to_owned(),
                                optional: None,
                            }),
                            ..EnvVarSource::default()
                        }),
                        value: None,
                    }]),
                    ..Container::default()
                }],
                ..PodSpec::default()
            }),
            status: None,
        };
        let objects = vec![
            rendered(
                Namespace {
                    metadata: meta(None, "a"),
                    ..Namespace::default()
                }
                .into(),
            ),
            rendered(
                Namespace {
                    metadata: meta(None, "b"),
                    ..Namespace::default()
                }
                .into(),
            ),
            rendered(
                Secret {
                    metadata: meta(Some("b"), "s"),
                    ..Secret::default()
                }
                .into(),
            ),
            rendered(
                Secret {
                    metadata: meta(Some("a"), "s"),
                    ..Secret::default()
                }
                .into(),
            ),
            rendered(pod.into()),
        ];
        let e: Vec<(usize, usize, EdgeKind, &str)> = edges(&objects, "s")
            .iter()
            .map(|e| (e.from, e.to, e.kind, e.why))
            .collect();
        assert!(e.contains(&(4, 2, EdgeKind::Exists, "secretKeyRef")), "{e:?}");
        assert!(e.contains(&(4, 1, EdgeKind::Exists, "namespace")), "{e:?}");
        assert!(
            !e.iter()
                .any(|(from, to, _, _)| *from == 4 && (*to == 3 || *to == 0)),
            "{e:?}"
        );
    }
}
