//! `devstats-operator`: reconciles `DevStats` resources in the cluster (docs/operator.md).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use devstats_cli::cluster::KubeCluster;
use devstats_cli::reconcile::ReconcileOptions;
use devstats_operator::backoff::Backoff;
use devstats_operator::controller::{self, KubeEvents};
use devstats_operator::election::{Attempt, Elector, LeaseConfig};
use devstats_operator::metrics::Metrics;
use devstats_operator::serve::{self, Endpoints, Health};
use devstats_operator::step::{Operator, Settings};
use devstats_operator::{log, parse_duration};
use devstats_render::resource;
use k8s_openapi::jiff::Timestamp;

/// Reconciles DevStats resources (devstats.cncf.io/v1alpha1) with the engine of `devstats-k8s
/// apply`: phased server-side apply as field manager devstats-operator, guarded prune, waits,
/// status, events and metrics.
#[derive(Debug, Parser)]
#[command(name = "devstats-operator", version)]
struct Args {
    /// Where to serve Prometheus `/metrics`.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080")]
    metrics_address: SocketAddr,
    /// Where to serve `/healthz` and `/readyz`.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8081")]
    probe_address: SocketAddr,
    /// Reconcile only while holding the Lease `--lease-name` in the pod's namespace
    /// (`POD_NAMESPACE`), as `POD_NAME`; without it, reconcile at once (one replica only).
    #[arg(long)]
    leader_elect: bool,
    /// A namespace whose DevStats resources to reconcile (repeatable); all namespaces if none.
    #[arg(long = "namespace", value_name = "NS")]
    namespaces: Vec<String>,
    /// Reconcile every resource at least this often, to correct drift.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    resync: Duration,
    /// Longest wait for one rollout (Deployment, StatefulSet) in a reconcile.
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = parse_duration)]
    rollout_timeout: Duration,
    /// Longest wait for one provisioning Job in a reconcile.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    provision_timeout: Duration,
    /// Resources reconciled at the same time.
    #[arg(long, value_name = "N", default_value_t = 2)]
    max_concurrent_reconciles: u16,
    /// The leader-election Lease's name.
    #[arg(long, value_name = "NAME", default_value = resource::OPERATOR_NAME)]
    lease_name: String,
}

/// How long a stopping process waits for the reconciles in flight (inside the pod's default
/// 30 s termination grace period).
const GRACE: Duration = Duration::from_secs(25);

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Resolves when SIGTERM (what the kubelet sends to stop a pod) or Ctrl-C arrives.
async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let failed = match run(args).await {
        Ok(code) => code != ExitCode::SUCCESS,
        Err(e) => {
            log(&format!("error: {e}"));
            true
        }
    };
    // Exit now: a reconcile still running on a blocking thread after the grace period would
    // otherwise hold up the runtime's shutdown.
    log("exiting");
    std::process::exit(i32::from(failed))
}

async fn run(args: Args) -> Result<ExitCode, String> {
    let identity = env("POD_NAME")
        .or_else(|| env("HOSTNAME"))
        .unwrap_or_else(|| resource::OPERATOR_NAME.to_owned());
    let lease_namespace = env("POD_NAMESPACE").unwrap_or_else(|| resource::OPERATOR_NAME.to_owned());

    // The client: in-cluster service account (or a kubeconfig when run outside). Client retries
    // off, as in devstats-k8s: the engine retries with its own policy. kube's default read
    // timeout (295 s) outlives the watches' 290 s server timeout.
    let mut config = kube::Config::infer()
        .await
        .map_err(|e| format!("kubeconfig: {e}"))?;
    config.default_retry = false;
    let client = kube::Client::try_from(config).map_err(|e| format!("cannot build a client: {e}"))?;
    let cluster = KubeCluster::new(client.clone()).with_field_manager(resource::FIELD_MANAGER);

    let metrics = Arc::new(Metrics::default());
    let health = Arc::new(Health {
        ready: std::sync::atomic::AtomicBool::new(false),
        metrics: metrics.clone(),
    });
    for (address, endpoints) in [
        (args.metrics_address, Endpoints::Metrics),
        (args.probe_address, Endpoints::Probes),
    ] {
        let health = health.clone();
        tokio::spawn(async move {
            if let Err(e) = serve::serve(address, endpoints, health).await {
                log(&format!("cannot serve {endpoints:?} on {address}: {e}"));
                std::process::exit(1);
            }
        });
    }

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        terminated().await;
        log("SIGTERM: stopping (reconciles in flight finish)");
        let _ = stop_tx.send(true);
    });

    let mut reconcile = ReconcileOptions::default();
    reconcile.apply.timeout = args.rollout_timeout;
    reconcile.apply.provision_timeout = args.provision_timeout;
    let operator = Arc::new(Operator {
        cluster: cluster.clone(),
        events: KubeEvents::new(client.clone(), &identity),
        metrics: metrics.clone(),
        backoff: Backoff::default(),
        settings: Settings {
            reconcile,
            resync: args.resync,
        },
        in_flight: Default::default(),
    });
    // After SIGTERM: kube-runtime starts no new reconcile (graceful shutdown of the
    // controllers); wait for those in flight, at most GRACE.
    let drained = {
        let operator = operator.clone();
        move || {
            let operator = operator.clone();
            async move {
                let deadline = Instant::now() + GRACE;
                while operator.in_flight.load(std::sync::atomic::Ordering::SeqCst) > 0
                    && Instant::now() < deadline
                {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    };
    let start = |health: Arc<Health>| {
        let (client, operator, namespaces, stop) = (
            client.clone(),
            operator.clone(),
            args.namespaces.clone(),
            stop_rx.clone(),
        );
        tokio::spawn(async move {
            controller::run(
                client,
                operator,
                &namespaces,
                args.max_concurrent_reconciles,
                stop,
                health,
            )
            .await;
            log("controllers stopped");
        })
    };
    log(&format!(
        "devstats-operator {} as {identity}: namespaces {}, resync {:?}",
        env!("CARGO_PKG_VERSION"),
        if args.namespaces.is_empty() {
            "all".to_owned()
        } else {
            args.namespaces.join(", ")
        },
        args.resync
    ));

    if !args.leader_elect {
        metrics.set_leader(true);
        let mut controllers = start(health.clone());
        let mut stop = stop_rx.clone();
        tokio::select! {
            _ = &mut controllers => {}
            _ = stop.wait_for(|s| *s) => drained().await,
        }
        return Ok(ExitCode::SUCCESS);
    }

    let mut elector = Elector::new(LeaseConfig::new(&lease_namespace, &args.lease_name, &identity));
    let retry = elector.config().retry_period;
    let renew_deadline = elector.config().renew_deadline;
    let mut stop = stop_rx.clone();
    // Standby until the Lease is ours.
    let mut last_holder = None;
    loop {
        match elector
            .try_acquire_or_renew(&cluster, Instant::now(), Timestamp::now())
            .await
        {
            Ok(a) if a.is_leader() => break,
            Ok(Attempt::HeldBy(h)) => {
                health.ready.store(true, std::sync::atomic::Ordering::Relaxed);
                if last_holder.as_ref() != Some(&h) {
                    log(&format!(
                        "standby: the Lease {lease_namespace}/{} is held by {h}",
                        args.lease_name
                    ));
                    last_holder = Some(h);
                }
            }
            Ok(_) => health.ready.store(true, std::sync::atomic::Ordering::Relaxed),
            Err(e) => log(&format!("leader election: {e}")),
        }
        tokio::select! {
            () = tokio::time::sleep(retry) => {}
            _ = stop.wait_for(|s| *s) => return Ok(ExitCode::SUCCESS),
        }
    }
    log(&format!(
        "leader: acquired the Lease {lease_namespace}/{}",
        args.lease_name
    ));
    metrics.set_leader(true);
    health.ready.store(false, std::sync::atomic::Ordering::Relaxed);
    let mut controllers = start(health.clone());
    let mut renewed = Instant::now();
    loop {
        tokio::select! {
            () = tokio::time::sleep(retry) => {
                match elector.try_acquire_or_renew(&cluster, Instant::now(), Timestamp::now()).await {
                    Ok(a) if a.is_leader() => renewed = Instant::now(),
                    Ok(a) => {
                        // Losing the Lease stops reconciling: the process exits and the pod
                        // restarts as a standby (simplest correct: no reconcile can outlive it).
                        metrics.set_leader(false);
                        log(&format!("leader election: lost the Lease ({a:?}); exiting"));
                        return Ok(ExitCode::FAILURE);
                    }
                    Err(e) if renewed.elapsed() > renew_deadline => {
                        metrics.set_leader(false);
                        log(&format!("leader election: could not renew for {renew_deadline:?} ({e}); exiting"));
                        return Ok(ExitCode::FAILURE);
                    }
                    Err(e) => log(&format!("leader election: renew failed, retrying: {e}")),
                }
            }
            _ = stop.wait_for(|s| *s) => break,
            r = &mut controllers => {
                log(&format!("controllers ended: {r:?}"));
                break;
            }
        }
    }
    // Graceful: the reconciles in flight finish (bounded by the pod's termination grace
    // period), then the Lease is released for the standby.
    drained().await;
    match elector.release(&cluster, Timestamp::now()).await {
        Ok(_) => log("released the Lease"),
        Err(e) => log(&format!("releasing the Lease: {e}")),
    }
    Ok(ExitCode::SUCCESS)
}
