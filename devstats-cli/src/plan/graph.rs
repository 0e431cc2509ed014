//! The dependency graph between rendered objects, derived from their references (not from a
//! hand-written list of kinds).
//!
//! Edges point from an object to what it needs:
//! - **exists** (the target must be written first): the Namespace of every namespaced object; a
//!   Secret read by `secretKeyRef`/`envFrom`/a secret volume; a PVC named by `claimName`; a
//!   ServiceAccount named by `serviceAccountName` or a RoleBinding subject; the Role of a
//!   `roleRef`; the Service of a StatefulSet's `serviceName`; the Service of an Ingress backend.
//! - **ready** (the target must be ready first; these are the waits): every workload that reads
//!   the database credentials Secret needs the Patroni StatefulSet ready with a primary elected;
//!   provisioning Jobs need the bootstrap Job complete; a project's CronJobs and Deployments need
//!   its provisioning Job complete.
//!
//! Render's [`Phase`](devstats_render::Phase) order is checked against this graph by tests: it must
//! be a topological order of it, strictly so across ready edges.

use std::collections::{BTreeMap, BTreeSet};

use devstats_render::{Component, Object, Ready, Rendered};
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

/// Secrets a pod spec reads.
fn secrets_read(spec: &PodSpec) -> BTreeSet<&str> {
    let mut out = BTreeSet::new();
    for c in spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter())
    {
        for e in c.env.iter().flatten() {
            if let Some(sk) = e.value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()) {
                out.insert(sk.name.as_str());
            }
        }
        for ef in c.env_from.iter().flatten() {
            if let Some(sr) = &ef.secret_ref {
                out.insert(sr.name.as_str());
            }
        }
    }
    for v in spec.volumes.iter().flatten() {
        if let Some(name) = v.secret.as_ref().and_then(|s| s.secret_name.as_deref()) {
            out.insert(name);
        }
    }
    out
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
    let mut by_kind_name: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for (i, r) in objects.iter().enumerate() {
        by_kind_name.insert((r.object.kind(), r.object.name()), i);
    }
    let find = |kind: &str, name: &str| by_kind_name.get(&(kind, name)).copied();
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
        if let Some(ns) = o.namespace() {
            add(i, find("Namespace", ns), EdgeKind::Exists, "namespace");
        }
        if let Some(spec) = pod_spec(o) {
            let secrets = secrets_read(spec);
            for s in &secrets {
                add(i, find("Secret", s), EdgeKind::Exists, "secretKeyRef");
            }
            for v in spec.volumes.iter().flatten() {
                if let Some(pvc) = &v.persistent_volume_claim {
                    add(
                        i,
                        find("PersistentVolumeClaim", &pvc.claim_name),
                        EdgeKind::Exists,
                        "claimName",
                    );
                }
            }
            if let Some(sa) = &spec.service_account_name {
                add(
                    i,
                    find("ServiceAccount", sa),
                    EdgeKind::Exists,
                    "serviceAccountName",
                );
            }
            if secrets.contains(database_secret) && !is_database(r) {
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
        match o {
            Object::StatefulSet(s) => {
                if let Some(svc) = s.spec.as_ref().and_then(|sp| sp.service_name.as_deref()) {
                    add(i, find("Service", svc), EdgeKind::Exists, "serviceName");
                }
            }
            Object::RoleBinding(rb) => {
                if rb.role_ref.kind == "Role" {
                    add(i, find("Role", &rb.role_ref.name), EdgeKind::Exists, "roleRef");
                }
                for s in rb.subjects.iter().flatten() {
                    if s.kind == "ServiceAccount" {
                        add(i, find("ServiceAccount", &s.name), EdgeKind::Exists, "subject");
                    }
                }
            }
            Object::Ingress(ing) => {
                let spec = ing.spec.as_ref();
                let backends = spec.and_then(|s| s.default_backend.as_ref()).into_iter().chain(
                    spec.iter()
                        .flat_map(|s| s.rules.iter().flatten())
                        .flat_map(|rule| rule.http.iter().flat_map(|h| h.paths.iter()).map(|p| &p.backend)),
                );
                for b in backends {
                    if let Some(svc) = &b.service {
                        add(i, find("Service", &svc.name), EdgeKind::Exists, "backend");
                    }
                }
            }
            _ => {}
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
