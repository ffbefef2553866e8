//! The server in-process: records (`create` and `update`) handled per
//! second, and the cost of one execution of the explorer's loop
//! (scheduling, dynamic reduction, and the execution's records) as the
//! number of executions already run grows: it stays flat.

mod common;

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use filibuster_runtime::bench_support;

fn records(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    let mut group = c.benchmark_group("server");
    group.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    let app = common::Synthetic::new();
    let records = runtime.block_on(async {
        bench_support::begin(&app.server, false);
        app.emit().await
    });
    group.throughput(Throughput::Elements(records as u64));
    group.bench_function("records", |b| {
        b.to_async(&runtime).iter(|| async {
            bench_support::begin(&app.server, false);
            app.emit().await
        })
    });
    group.finish();
}

fn scheduling(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    let mut group = c.benchmark_group("explorer_step");
    group.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Elements(1));
    let mut app = common::Synthetic::new();
    let mut history = 0;
    for size in [1_000u64, 10_000, 100_000] {
        runtime.block_on(app.add_history(size - history));
        history = size;
        group.bench_with_input(BenchmarkId::new("history", size), &size, |b, _| {
            b.to_async(&runtime).iter(|| app.explorer_step())
        });
    }
    group.finish();
}

criterion_group!(benches, records, scheduling);
criterion_main!(benches);
