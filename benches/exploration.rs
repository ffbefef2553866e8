//! Exploration throughput: the cinema example's full exploration (its
//! functional test under every fault the built-in model schedules, with
//! dynamic reduction), the services reaching the explorer's server
//! in-process or over HTTP to a standalone server on a loopback port.
//! Throughput is in test executions run per second.

mod common;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn exploration(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let mut group = c.benchmark_group("cinema_exploration");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    for (name, over_http) in [("in_process", false), ("http", true)] {
        let executions =
            runtime.block_on(async { common::Cinema::start(over_http).await.explore().await.executions_run });
        group.throughput(Throughput::Elements(executions as u64));
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_custom(|iters| async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let cinema = common::Cinema::start(over_http).await;
                    let started = Instant::now();
                    std::hint::black_box(cinema.explore().await);
                    total += started.elapsed();
                }
                total
            })
        });
    }
    group.finish();
}

criterion_group!(benches, exploration);
criterion_main!(benches);
