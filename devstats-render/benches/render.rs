//! File-level render benchmarks: each loads a model *file's text* (the CNCF fixture, and the
//! fixture with its projects copied 4, 16 and 36 times by
//! [`devstats_model::testing::scaled_model`]: 1,132, 4,528 and 10,188 projects), then
//! validates it, renders the objects, and renders them to YAML and to JSON, as
//! `devstats-k8s validate` / `render` do (minus the terminal writes). The two YAML emitters are
//! also measured side by side on the rendered objects alone: the fast one `output` uses
//! (`YAML stream`; `YAML stream, one thread` without the parallel windows) and serde-saphyr
//! (`YAML stream, serde-saphyr`, one thread), which it replaced and writes the same bytes as.
//! Throughput is in projects, so criterion's `elem/s` reads as projects per second.
//!
//! Run with `cargo bench -p devstats-render --bench render` (a few minutes; the big files take
//! ten samples each), or one size: `cargo bench -p devstats-render --bench render -- x16`.
//! The numbers measured are in the README's Performance section.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use devstats_render::{Options, output, render};

/// (label, copies of the CNCF projects).
const SIZES: [(&str, usize); 4] = [("cncf", 1), ("x4", 4), ("x16", 16), ("x36", 36)];

fn files(c: &mut Criterion) {
    let cncf = include_str!("../../fixtures/cncf.yaml");
    let opts = Options::default();
    for (label, copies) in SIZES {
        let src = devstats_model::testing::scaled_model(cncf, copies).expect("scales");
        let file = format!("cncf-{label}.yaml");
        let model = devstats_model::parse_str(&file, &src).expect("the scaled model is valid");
        let projects = model.projects.len();
        let mut g = c.benchmark_group(format!("{label} ({projects} projects)"));
        g.throughput(Throughput::Elements(projects as u64));
        if copies > 1 {
            g.sample_size(10);
            g.warm_up_time(std::time::Duration::from_millis(500));
            g.measurement_time(std::time::Duration::from_secs(3));
        }
        g.bench_function(BenchmarkId::new("validate", label), |b| {
            b.iter(|| devstats_model::parse_str(&file, std::hint::black_box(&src)).expect("valid"))
        });
        g.bench_function(BenchmarkId::new("render objects", label), |b| {
            b.iter(|| render(&model, &opts).expect("renders"))
        });
        let set = render(&model, &opts).expect("renders");
        g.bench_function(BenchmarkId::new("YAML stream", label), |b| {
            b.iter(|| {
                let mut sink = std::io::sink();
                output::write_yaml_stream(&set.objects, &mut sink).expect("serializes");
            })
        });
        g.bench_function(BenchmarkId::new("YAML stream, one thread", label), |b| {
            let mut out = String::new();
            b.iter(|| {
                out.clear();
                for r in &set.objects {
                    out.push_str("---\n");
                    output::yaml::append(&mut out, &r.object).expect("in the subset");
                }
            })
        });
        g.bench_function(BenchmarkId::new("YAML stream, serde-saphyr", label), |b| {
            b.iter(|| {
                let mut sink = std::io::sink();
                for r in &set.objects {
                    let doc = output::object_yaml_saphyr(r).expect("serializes");
                    std::io::Write::write_all(&mut sink, b"---\n").expect("writes");
                    std::io::Write::write_all(&mut sink, doc.as_bytes()).expect("writes");
                }
            })
        });
        drop(set);
        g.bench_function(BenchmarkId::new("validate + render to YAML", label), |b| {
            b.iter(|| {
                let m = devstats_model::parse_str(&file, std::hint::black_box(&src)).expect("valid");
                let set = render(&m, &opts).expect("renders");
                let mut sink = std::io::sink();
                output::write_yaml_stream(&set.objects, &mut sink).expect("serializes");
            })
        });
        g.bench_function(BenchmarkId::new("validate + render to JSON", label), |b| {
            b.iter(|| {
                let m = devstats_model::parse_str(&file, std::hint::black_box(&src)).expect("valid");
                let set = render(&m, &opts).expect("renders");
                output::json_list(&set.objects).expect("serializes")
            })
        });
        g.finish();
    }
}

criterion_group!(benches, files);
criterion_main!(benches);
