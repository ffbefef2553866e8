//! Per-call cost of the instrumentation without I/O, the network and the
//! Filibuster server stubbed.
//!
//! - `send/*`: one call made by a handler: `plain` without instrumentation;
//!   `off` and `on` through the instrumented send with the switch off and
//!   on, inside the request context of an instrumented handler (created once,
//!   outside the timing); `backtrace` is `on` plus the callsite id computed
//!   at run time as the reference does.
//! - `handler_and_send/*`: a request to an instrumented handler, sent by an
//!   instrumented call (all the Filibuster headers), whose handler makes one
//!   call: also the headers' parsing, the request context and
//!   `request_received`.
//!
//! - `*/off_spans`: `off` with a `tracing` subscriber that takes the
//!   spans of `filibuster::http` (a registry): the cost of the server and
//!   client spans when something listens; `off` is their cost when nothing
//!   does.
//!
//! - `fault/*`: the genuine value an injected fault becomes: `status` a
//!   response, `connect` and `timeout` a reqwest error, taken from the pools
//!   the runtime refills in the background (given time to refill between
//!   batches of 16, outside the timing), and `timeout_made` made on the spot
//!   as before the pools, a real 1 ms reqwest timeout.
//!
//! The cost the instrumentation adds is the difference to `plain`.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

fn per_call(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let mut group = c.benchmark_group("per_call");
    group.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    let work = common::PerCall::new();
    let mut traced = common::PerCall::new();
    traced.backtrace = true;

    // The four time the same loop, in the handler's context (which `plain`
    // never looks at).
    for (name, on, work) in [
        ("send/plain", false, &work),
        ("send/off", false, &work),
        ("send/on", true, &work),
        ("send/backtrace", true, &traced),
    ] {
        if on {
            filibuster::enable();
        } else {
            filibuster::disable();
        }
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                work.in_handler(async move {
                    let started = Instant::now();
                    for _ in 0..iters {
                        if name == "send/plain" {
                            black_box(work.plain_call().await);
                        } else {
                            black_box(work.call().await);
                        }
                    }
                    started.elapsed()
                })
            })
        });
    }

    group.bench_function("handler_and_send/plain", |b| b.to_async(&runtime).iter(|| work.plain()));
    filibuster::disable();
    group.bench_function("handler_and_send/off", |b| b.to_async(&runtime).iter(|| work.instrumented()));
    filibuster::enable();
    group.bench_function("handler_and_send/on", |b| b.to_async(&runtime).iter(|| work.instrumented()));
    filibuster::disable();

    // Filibuster off, with a subscriber that takes every span (a bare
    // registry): what the server and client spans cost when something
    // listens, against `off`, where nothing does.
    {
        use tracing_subscriber::layer::SubscriberExt as _;
        let work = &work;
        let _listening = tracing::subscriber::set_default(tracing_subscriber::registry().with(
            tracing_subscriber::filter::Targets::new().with_target("filibuster", tracing::Level::INFO),
        ));
        group.bench_function("send/off_spans", |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                work.in_handler(async move {
                    let started = Instant::now();
                    for _ in 0..iters {
                        black_box(work.call().await);
                    }
                    started.elapsed()
                })
            })
        });
        group.bench_function("handler_and_send/off_spans", |b| {
            b.to_async(&runtime).iter(|| work.instrumented())
        });
    }
    group.finish();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let mut group = c.benchmark_group("fault");
    group.sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    let url = reqwest::Url::parse("http://127.0.0.1:5002/bookings/chris").expect("a URL");
    group.bench_function("status", |b| {
        b.iter(|| black_box(filibuster::fault::response(reqwest::StatusCode::SERVICE_UNAVAILABLE, &url, "")))
    });
    for (name, kind) in [
        ("connect", filibuster::fault::ErrorKind::Connect),
        ("timeout", filibuster::fault::ErrorKind::Timeout),
    ] {
        group.bench_function(name, |b| {
            b.to_async(&runtime).iter_custom(|iters| {
                let url = url.clone();
                async move {
                    let mut spent = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        // Time for the background refill, untimed.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        let batch = left.min(16);
                        let started = Instant::now();
                        for _ in 0..batch {
                            black_box(filibuster::fault::error(kind, &url).await);
                        }
                        spent += started.elapsed();
                        left -= batch;
                    }
                    spent
                }
            })
        });
    }
    group.bench_function("timeout_made", |b| {
        let client = reqwest::Client::builder().no_proxy().build().expect("a client");
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
        let silent = format!("http://{}/", listener.local_addr().expect("an address"));
        b.to_async(&runtime).iter(|| {
            let request = client.get(&silent).timeout(Duration::from_millis(1));
            async move {
                let error = request.send().await.expect_err("a timeout");
                assert!(error.is_timeout(), "{error:?}");
                black_box(error)
            }
        });
        drop(listener);
    });
    group.finish();
}

criterion_group!(benches, per_call);
criterion_main!(benches);
