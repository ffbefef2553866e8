//! Wire encodings at realistic sizes: a vector clock of 10 services and an
//! execution index 10 calls deep, parsed from and printed to their JSON
//! header form.

mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use filibuster::{ExecutionIndex, VectorClock};

fn wire(c: &mut Criterion) {
    let mut group = c.benchmark_group("wire");
    group.sample_size(20).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    let clock = common::clock_10();
    let clock_text = clock.to_wire();
    let index = common::index_10();
    let index_text = index.to_wire();
    group.bench_function("vclock_parse", |b| b.iter(|| VectorClock::parse(black_box(&clock_text))));
    group.bench_function("vclock_print", |b| b.iter(|| black_box(&clock).to_wire()));
    group.bench_function("ei_parse", |b| b.iter(|| ExecutionIndex::parse(black_box(&index_text))));
    group.bench_function("ei_print", |b| b.iter(|| black_box(&index).to_wire()));
    group.finish();
}

criterion_group!(benches, wire);
criterion_main!(benches);
