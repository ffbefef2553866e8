//! The server in-process: records (`create` and `update`) handled per
//! second, and the cost of one execution of the explorer's loop
//! (scheduling, dynamic reduction, and the execution's records) as the
//! number of executions already run grows: it stays flat.

mod common;

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use filibuster_explorer::bench_support;

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

/// One `create` (and the executions it schedules) when the current
/// execution already holds 10, 1k or 10k calls: flat, since scheduling
/// shares the execution's log instead of copying its prefix per call.
fn calls_per_execution(c: &mut Criterion) {
    use filibuster_runtime::records::Invocation;
    use filibuster_runtime::transport::Transport;
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    let mut group = c.benchmark_group("create_in_execution_of");
    group.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Elements(1));
    let app = common::Synthetic::new();
    let template = app.first_invocation();
    let invocation =
        |i: usize| Invocation { execution_index: format!(r#"[["{:032x}", 1]]"#, i), ..template.clone() };
    for calls in [10usize, 1_000, 10_000] {
        group.bench_with_input(BenchmarkId::new("calls", calls), &calls, |b, &calls| {
            b.to_async(&runtime).iter_custom(|iters| {
                let server = app.server.clone();
                let invocation = &invocation;
                async move {
                    // Timed in chunks small beside `calls`, the log reset
                    // to `calls` entries (untimed) before each chunk.
                    let chunk = (calls as u64 / 10).max(10);
                    let mut elapsed = Duration::ZERO;
                    let mut done = 0;
                    while done < iters {
                        bench_support::begin(&server, true);
                        for i in 0..calls {
                            server.create(&invocation(i)).await.expect("taken");
                        }
                        let n = chunk.min(iters - done);
                        let started = std::time::Instant::now();
                        for i in 0..n as usize {
                            server.create(&invocation(calls + i)).await.expect("taken");
                        }
                        elapsed += started.elapsed();
                        done += n;
                        bench_support::finish(&server);
                    }
                    elapsed
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, records, scheduling, calls_per_execution);
criterion_main!(benches);
