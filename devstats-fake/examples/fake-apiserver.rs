//! A fake Kubernetes API server on loopback, to run devstats-k8s end to end without a cluster:
//!
//! ```sh
//! cargo run --release -p devstats-fake --example fake-apiserver -- fixtures/cncf.yaml > /tmp/fake.kubeconfig &
//! devstats-k8s apply fixtures/cncf.yaml --kubeconfig /tmp/fake.kubeconfig --no-wait
//! devstats-k8s apply fixtures/cncf.yaml --kubeconfig /tmp/fake.kubeconfig      # 0 writes
//! devstats-k8s status fixtures/cncf.yaml --kubeconfig /tmp/fake.kubeconfig
//! ```
//!
//! Arguments: model files whose custom resource kinds (cert-manager, Gateway API, …) the server
//! should serve (as if their CRDs were installed), `--port N` (default: any free port), `--latency-ms N` (added to every request,
//! to imitate a remote API server). It prints a kubeconfig on stdout and serves until killed.
//! Namespaces the models use but do not create (e.g. `monitoring`) exist from the start. The
//! objects live in memory; simulated controllers make StatefulSets, Deployments and Jobs
//! ready or complete and Patroni elect a primary.

use std::sync::Arc;

use devstats_fake::FakeCluster;
use devstats_fake::http::{crds_of, kubeconfig, serve};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port = 0u16;
    let mut latency = std::time::Duration::ZERO;
    let mut crds = Vec::new();
    let mut foreign = std::collections::BTreeSet::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => port = args.next().ok_or("--port needs a number")?.parse()?,
            "--latency-ms" => {
                latency = std::time::Duration::from_millis(
                    args.next().ok_or("--latency-ms needs a number")?.parse()?,
                );
            }
            model => {
                let envs = devstats_model::load_environments(std::path::Path::new(model))
                    .map_err(|e| e.to_string())?;
                for env in envs {
                    let set = devstats_render::render(&env.model, &devstats_render::Options::default())
                        .map_err(|e| e.to_string())?;
                    crds.extend(crds_of(set.objects.iter().map(|r| &r.object)));
                    // Namespaces the model uses but does not create (kube-prometheus-stack's
                    // `monitoring` for the dashboards) exist, as in a prepared cluster.
                    for r in &set.objects {
                        if let Some(ns) = r.object.namespace()
                            && ns != env.model.instance.namespace.as_str()
                        {
                            foreign.insert(ns.to_owned());
                        }
                    }
                }
            }
        }
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let cluster = Arc::new(FakeCluster::new());
        cluster.set_latency(latency);
        for ns in &foreign {
            cluster.insert(
                serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            );
        }
        print!("{}", kubeconfig(addr));
        eprintln!("fake API server on http://{addr} (in memory; Ctrl-C to stop)");
        serve(cluster, listener, crds).await
    })?;
    Ok(())
}
