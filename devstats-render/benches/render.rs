//! Render benchmarks: the full CNCF estate to YAML, and a synthetic 10,000-project instance.
//!
//! Run with `cargo bench -p devstats-render`. Targets (2-core machine): CNCF to YAML ≤ 10 ms,
//! 10,000 projects < 0.5 s.

use criterion::{Criterion, criterion_group, criterion_main};
use devstats_render::{Options, output, render};

fn cncf(c: &mut Criterion) {
    let src = include_str!("../../fixtures/cncf.yaml");
    let model = devstats_model::parse_str("cncf.yaml", src).expect("cncf.yaml is valid");
    let opts = Options::default();
    c.bench_function("cncf: load model", |b| {
        b.iter(|| devstats_model::parse_str("cncf.yaml", std::hint::black_box(src)).expect("valid"))
    });
    c.bench_function("cncf: render objects", |b| {
        b.iter(|| render(&model, &opts).expect("renders"))
    });
    c.bench_function("cncf: render to YAML", |b| {
        b.iter(|| {
            let set = render(&model, &opts).expect("renders");
            output::yaml_stream(&set.objects).expect("serializes")
        })
    });
}

fn synthetic(c: &mut Criterion) {
    let model = devstats_model::testing::synthetic(10_000);
    let opts = Options::default();
    let mut g = c.benchmark_group("synthetic");
    g.sample_size(10);
    g.bench_function("10000 projects: render to YAML", |b| {
        b.iter(|| {
            let set = render(&model, &opts).expect("renders");
            output::yaml_stream(&set.objects).expect("serializes")
        })
    });
    g.finish();
}

criterion_group!(benches, cncf, synthetic);
criterion_main!(benches);
