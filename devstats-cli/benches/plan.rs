//! Apply-planner benchmarks on model files (the CNCF fixture and its projects copied 4, 16
//! and 36 times, [`devstats_model::testing::scaled_model`]): building the desired set (hashes,
//! dependency graph) from a render, and planning it against an empty cluster (everything is
//! created) and against a cluster where every object is already applied as desired (nothing to
//! do). No IO: the planner is pure (`devstats_cli::plan`), as in `tests/apply_plan.rs`.
//!
//! Run with `cargo bench -p devstats-cli --bench plan` (or `-- x16` for one size).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use devstats_cli::plan::{DesiredSet, LiveState, PlanOptions, plan};
use devstats_fake::live::converged;

fn planner(c: &mut Criterion) {
    let cncf = include_str!("../../fixtures/cncf.yaml");
    for (label, copies) in [("cncf", 1), ("x4", 4), ("x16", 16), ("x36", 36)] {
        let src = devstats_model::testing::scaled_model(cncf, copies).expect("scales");
        let model = devstats_model::parse_str("scaled.yaml", &src).expect("valid");
        let ns = model.instance.namespace.as_str().to_owned();
        let rendered =
            devstats_render::render(&model, &devstats_render::Options::default()).expect("renders");
        let set = DesiredSet::new(&rendered, &ns, true).expect("desired set");
        let live = converged(&set);
        let empty = LiveState::default();
        let opts = PlanOptions::default();
        let mut g = c.benchmark_group(format!("plan {label} ({} projects)", model.projects.len()));
        g.throughput(Throughput::Elements(model.projects.len() as u64));
        if copies > 1 {
            g.sample_size(10);
            g.warm_up_time(std::time::Duration::from_millis(500));
            g.measurement_time(std::time::Duration::from_secs(3));
        }
        g.bench_function(BenchmarkId::new("desired set (hashes, graph)", label), |b| {
            b.iter(|| DesiredSet::new(&rendered, &ns, true).expect("desired set"))
        });
        g.bench_function(BenchmarkId::new("plan against an empty cluster", label), |b| {
            b.iter(|| plan(&set, &empty, &opts))
        });
        g.bench_function(
            BenchmarkId::new("plan against an up-to-date cluster", label),
            |b| b.iter(|| plan(&set, &live, &opts)),
        );
        g.finish();
    }
}

criterion_group!(benches, planner);
criterion_main!(benches);
