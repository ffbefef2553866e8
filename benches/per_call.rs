//! Per-call cost of the instrumentation without I/O: a handler reached by an
//! instrumented call makes one call, with the network and the Filibuster
//! server stubbed. `plain` has no instrumentation at all; `off` and `on` go
//! through the instrumentation with the switch off and on; `backtrace` is
//! `on` plus the callsite id computed at run time as the reference does.
//! The cost the instrumentation adds to a call is the difference to `plain`.

mod common;

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

fn per_call(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let mut group = c.benchmark_group("per_call");
    group.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    let work = common::PerCall::new();
    group.bench_function("plain", |b| b.to_async(&runtime).iter(|| work.plain()));
    filibuster::disable();
    group.bench_function("off", |b| b.to_async(&runtime).iter(|| work.instrumented()));
    filibuster::enable();
    group.bench_function("on", |b| b.to_async(&runtime).iter(|| work.instrumented()));
    let mut work = common::PerCall::new();
    work.backtrace = true;
    group.bench_function("backtrace", |b| b.to_async(&runtime).iter(|| work.instrumented()));
    filibuster::disable();
    group.finish();
}

criterion_group!(benches, per_call);
criterion_main!(benches);
