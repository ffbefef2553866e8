//! The headline figures in one table, in about a minute:
//! `cargo bench --bench headline`. Each figure is the median of a few
//! batches timed with `Instant` (no criterion: the full benches are
//! `per_call`, `exploration`, `server` and `wire`, see benches/README.md).

mod common;

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

use filibuster::{ExecutionIndex, VectorClock};
use tokio::runtime::Runtime;

/// Median time per call of `f`, in nanoseconds, over `batches` batches of
/// about `batch_time` each.
async fn per_op<F, Fut>(mut f: F, batches: usize, batch_time: Duration) -> f64
where
    F: FnMut() -> Fut,
    Fut: Future,
{
    let started = Instant::now();
    let mut calibration = 0u64;
    while started.elapsed() < batch_time / 4 || calibration == 0 {
        black_box(f().await);
        calibration += 1;
    }
    let per_batch = (calibration * 4).max(1);
    let mut samples = Vec::with_capacity(batches);
    for _ in 0..batches {
        let started = Instant::now();
        for _ in 0..per_batch {
            black_box(f().await);
        }
        samples.push(started.elapsed().as_nanos() as f64 / per_batch as f64);
    }
    median(samples)
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn ns(value: f64) -> String {
    if value.abs() >= 1e6 {
        format!("{:.2} ms", value / 1e6)
    } else if value.abs() >= 1e3 {
        format!("{:.2} µs", value / 1e3)
    } else {
        format!("{value:.0} ns")
    }
}

fn rate(per_second: f64) -> String {
    if per_second >= 1e6 {
        format!("{:.2} M/s", per_second / 1e6)
    } else if per_second >= 1e3 {
        format!("{:.1} k/s", per_second / 1e3)
    } else {
        format!("{per_second:.0} /s")
    }
}

struct Table(Vec<[String; 3]>);

impl Table {
    fn row(&mut self, figure: &str, value: String, target: &str, met: Option<bool>) {
        let verdict = match met {
            Some(true) => format!("{target}  met"),
            Some(false) => format!("{target}  MISSED"),
            None => target.to_owned(),
        };
        self.0.push([figure.to_owned(), value, verdict]);
    }

    fn print(&self) {
        let header = ["figure".to_owned(), "value".to_owned(), "target".to_owned()];
        let rows: Vec<&[String; 3]> = std::iter::once(&header).chain(&self.0).collect();
        let w0 = rows.iter().map(|r| r[0].chars().count()).max().unwrap_or(0);
        let w1 = rows.iter().map(|r| r[1].chars().count()).max().unwrap_or(0);
        println!();
        for (i, r) in rows.iter().enumerate() {
            println!("{:<w0$}  {:>w1$}  {}", r[0], r[1], r[2]);
            if i == 0 {
                println!("{}", "-".repeat(w0 + w1 + 24));
            }
        }
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` passes nothing
    // and expects a quick exit.
    if !std::env::args().any(|a| a == "--bench") {
        println!("headline: run with `cargo bench --bench headline`");
        return;
    }
    let mut table = Table(Vec::new());
    let batch = Duration::from_millis(150);

    // Sections to run: `cargo bench --bench headline -- per_call server`.
    let sections: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let wanted = |name: &str| sections.is_empty() || sections.iter().any(|s| s == name);
    let current = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");

    // A fixed number of calls of one per-call workload, for a profiler
    // (`valgrind --tool=callgrind <bench binary> --bench profile-call-on`);
    // its instruction count less that of the `-plain` one is the added cost.
    let profile = [
        "profile-call-plain",
        "profile-call-off",
        "profile-call-on",
        "profile-call-backtrace",
        "profile-handler-plain",
        "profile-handler-off",
        "profile-handler-on",
        "profile-call-off-spans",
        "profile-handler-off-spans",
        "profile-dependency-plain",
        "profile-dependency-off",
        "profile-dependency-on",
        "profile-rpc-plain",
        "profile-rpc-off",
        "profile-rpc-on",
    ];
    if let Some(section) = profile.iter().find(|p| sections.iter().any(|s| s == *p)) {
        let mut work = common::PerCall::new();
        work.backtrace = section.ends_with("backtrace");
        // `-off-spans`: off, with a subscriber that takes the spans.
        let _listening = section.ends_with("spans").then(|| {
            use tracing_subscriber::layer::SubscriberExt as _;
            tracing::subscriber::set_default(tracing_subscriber::registry().with(
                tracing_subscriber::filter::Targets::new().with_target("filibuster", tracing::Level::INFO),
            ))
        });
        if section.ends_with("plain") || section.ends_with("off") || section.ends_with("spans") {
            filibuster::disable();
        } else {
            filibuster::enable();
        }
        let calls: u64 = if work.backtrace { 1_000 } else { 20_000 };
        current.block_on(async {
            match *section {
                "profile-call-plain" => {
                    for _ in 0..calls {
                        black_box(work.plain_call().await);
                    }
                }
                "profile-handler-plain" => {
                    for _ in 0..calls {
                        black_box(work.plain().await);
                    }
                }
                "profile-handler-off" | "profile-handler-on" | "profile-handler-off-spans" => {
                    for _ in 0..calls {
                        black_box(work.instrumented().await);
                    }
                }
                "profile-dependency-plain" => {
                    for n in 0..calls {
                        black_box(work.plain_dependency(n).await);
                    }
                }
                "profile-dependency-off" => {
                    for n in 0..calls {
                        black_box(work.dependency(n).await);
                    }
                }
                "profile-rpc-plain" => {
                    for _ in 0..calls {
                        black_box(work.plain_rpc().await);
                    }
                }
                "profile-rpc-off" => {
                    for _ in 0..calls {
                        black_box(work.rpc().await);
                    }
                }
                "profile-rpc-on" => {
                    work.in_handler(async {
                        for _ in 0..calls {
                            black_box(work.rpc().await);
                        }
                    })
                    .await
                }
                "profile-dependency-on" => {
                    work.in_handler(async {
                        for n in 0..calls {
                            black_box(work.dependency(n).await);
                        }
                    })
                    .await
                }
                _ => {
                    work.in_handler(async {
                        for _ in 0..calls {
                            black_box(work.call().await);
                        }
                    })
                    .await
                }
            }
        });
        println!("{section}: {calls} calls");
        return;
    }

    // The server, for a profiler: `profile-server-records` sends the
    // records of 2,000 executions; `profile-server-steps` runs 2,000 turns
    // of the explorer's loop after 10,000 executions.
    if sections.iter().any(|s| s == "profile-server-records") {
        let app = common::Synthetic::new();
        current.block_on(async {
            for _ in 0..2_000 {
                filibuster_explorer::bench_support::begin(&app.server, false);
                black_box(app.emit().await);
            }
        });
        return;
    }
    if sections.iter().any(|s| s == "profile-server-steps") {
        let mut app = common::Synthetic::new();
        current.block_on(async {
            app.add_history(10_000).await;
            for _ in 0..2_000 {
                black_box(app.explorer_step().await);
            }
        });
        return;
    }

    // The large application's exploration, for a profiler:
    // `profile-large-in-process`, `profile-large-http`.
    if let Some(section) =
        ["profile-large-in-process", "profile-large-http"].iter().find(|p| sections.iter().any(|s| s == *p))
    {
        let over_http = section.ends_with("http");
        let run = Runtime::new()
            .expect("a runtime")
            .block_on(async { common::Large::start(over_http).await.explore().await });
        let (first, last) = run.first_and_last(1_000);
        println!(
            "{section}: {} executions in {:.2} s; first / last 1000: {first:.0} / {last:.0} exec/s",
            run.report.executions_run,
            run.report.elapsed.as_secs_f64()
        );
        if std::env::var_os("LARGE_DETAIL").is_some() {
            let ran: Vec<_> = run
                .report
                .executions
                .iter()
                .filter(|e| !matches!(e.status, filibuster::ExecutionStatus::Pruned { .. }))
                .collect();
            let mut previous = run.started;
            for (i, chunk) in run.ends.chunks(common::CPU_EVERY).enumerate() {
                let end = *chunk.last().unwrap();
                let calls: usize = ran
                    .iter()
                    .skip(i * common::CPU_EVERY)
                    .take(common::CPU_EVERY)
                    .map(|e| e.calls.len())
                    .sum();
                let faults: usize = ran
                    .iter()
                    .skip(i * common::CPU_EVERY)
                    .take(common::CPU_EVERY)
                    .map(|e| e.faults.len())
                    .sum();
                // The injected faults by kind.
                let mut kinds = std::collections::BTreeMap::<String, usize>::new();
                for e in ran.iter().skip(i * common::CPU_EVERY).take(common::CPU_EVERY) {
                    for f in &e.faults {
                        let kind = format!("{:?}", f.fault);
                        *kinds
                            .entry(kind.split(['(', ' ', '{']).next().unwrap_or("").to_owned())
                            .or_default() += 1;
                    }
                }
                // CPU time of the chunk (clock ticks, all threads), when read.
                let cpu = match (run.cpu.get(i), run.cpu.get(i + 1)) {
                    (Some(before), Some(after)) => format!(", cpu {} ticks", after - before),
                    _ => String::new(),
                };
                println!(
                    "{i}: {:.0} exec/s, calls {calls} faults {faults}{cpu} {kinds:?}",
                    chunk.len() as f64 / (end - previous).as_secs_f64()
                );
                previous = end;
            }
            println!("pruned {}", run.report.executions_pruned);
        }
        return;
    }

    // Per call, without I/O.
    if wanted("per_call") {
        let work = common::PerCall::new();
        let mut traced = common::PerCall::new();
        traced.backtrace = true;
        let figures = current.block_on(async {
            // Interleaved rounds, so that a busy neighbour hits all alike.
            let mut samples = vec![Vec::new(); 7];
            for _ in 0..5 {
                filibuster::disable();
                samples[0].push(per_op(|| work.plain_call(), 3, batch).await);
                samples[1].push(work.in_handler(per_op(|| work.call(), 3, batch)).await);
                samples[4].push(per_op(|| work.plain(), 3, batch).await);
                samples[5].push(per_op(|| work.instrumented(), 3, batch).await);
                filibuster::enable();
                samples[2].push(work.in_handler(per_op(|| work.call(), 3, batch)).await);
                samples[3].push(traced.in_handler(per_op(|| traced.call(), 3, batch)).await);
                samples[6].push(per_op(|| work.instrumented(), 3, batch).await);
            }
            filibuster::disable();
            // The best round: a busy neighbour only ever adds time.
            samples.into_iter().map(|s| s.into_iter().fold(f64::INFINITY, f64::min)).collect::<Vec<_>>()
        });
        let [plain, off, on, backtrace, handler_plain, handler_off, handler_on] = figures[..] else {
            unreachable!()
        };
        let (off, on, backtrace) = (off - plain, on - plain, backtrace - plain);
        table.row("per call: a call, uninstrumented (stubbed network)", ns(plain), "", None);
        table.row("per call: added by the instrumentation, off", ns(off), "< 50 ns", Some(off < 50.0));
        table.row("per call: added by the instrumentation, on", ns(on), "< 1 µs", Some(on < 1000.0));
        table.row("per call: added, on, with the callsite by backtrace", ns(backtrace), "", None);
        let ratio = backtrace / on.max(1.0);
        table.row(
            "  backtrace / compile-time callsite ids",
            format!("{ratio:.0}×"),
            "≥ 100×",
            Some(ratio >= 100.0),
        );
        let dependency = current.block_on(async {
            let mut samples = vec![Vec::new(); 3];
            for _ in 0..5 {
                filibuster::disable();
                samples[0].push(per_op(|| work.plain_dependency(1), 3, batch).await);
                samples[1].push(work.in_handler(per_op(|| work.dependency(1), 3, batch)).await);
                filibuster::enable();
                samples[2].push(work.in_handler(per_op(|| work.dependency(1), 3, batch)).await);
            }
            filibuster::disable();
            samples.into_iter().map(|s| s.into_iter().fold(f64::INFINITY, f64::min)).collect::<Vec<_>>()
        });
        let [plain_dependency, dependency_off, dependency_on] = dependency[..] else { unreachable!() };
        let (dependency_off, dependency_on) =
            (dependency_off - plain_dependency, dependency_on - plain_dependency);
        table.row(
            "per dependency call: added by #[filibuster::dependency], off",
            ns(dependency_off),
            "< 50 ns",
            Some(dependency_off < 50.0),
        );
        table.row("per dependency call: added, on", ns(dependency_on), "", None);
        let rpc = current.block_on(async {
            let mut samples = vec![Vec::new(); 3];
            for _ in 0..5 {
                filibuster::disable();
                samples[0].push(per_op(|| work.plain_rpc(), 3, batch).await);
                samples[1].push(work.in_handler(per_op(|| work.rpc(), 3, batch)).await);
                filibuster::enable();
                samples[2].push(work.in_handler(per_op(|| work.rpc(), 3, batch)).await);
            }
            filibuster::disable();
            samples.into_iter().map(|s| s.into_iter().fold(f64::INFINITY, f64::min)).collect::<Vec<_>>()
        });
        let [plain_rpc, rpc_off, rpc_on] = rpc[..] else { unreachable!() };
        let (rpc_off, rpc_on) = (rpc_off - plain_rpc, rpc_on - plain_rpc);
        table.row("per RPC: a tonic RPC, uninstrumented (stubbed channel)", ns(plain_rpc), "", None);
        table.row("per RPC: added by grpc::ClientLayer, off", ns(rpc_off), "< 50 ns", Some(rpc_off < 50.0));
        table.row("per RPC: added, on (server in-process)", ns(rpc_on), "< 2 µs", Some(rpc_on < 2000.0));
        let deep = Runtime::new().expect("a runtime").block_on(common::backtrace_in_axum_handler(300));
        table.row("  a backtrace callsite alone, in an axum handler", ns(deep), "", None);
        let ratio = (deep + on) / on.max(1.0);
        table.row(
            "  the same ratio, backtrace in an axum handler",
            format!("{ratio:.0}×"),
            "≥ 100×",
            Some(ratio >= 100.0),
        );
        let (handler_off, handler_on) = (handler_off - handler_plain, handler_on - handler_plain);
        table.row(
            "per request+call: added, off (handler + call)",
            ns(handler_off),
            "< 50 ns",
            Some(handler_off < 50.0),
        );
        table.row(
            "per request+call: added, on (headers, context, request_received)",
            ns(handler_on),
            "",
            None,
        );
    }

    // Exploration of the cinema.
    if wanted("exploration") {
        let runtime = Runtime::new().expect("a runtime");
        let explore = |over_http: bool| {
            runtime.block_on(async {
                let mut rates = Vec::new();
                let mut executions = 0;
                for _ in 0..5 {
                    let cinema = common::Cinema::start(over_http).await;
                    let started = Instant::now();
                    let report = cinema.explore().await;
                    let elapsed = started.elapsed().as_secs_f64();
                    executions = report.executions_run;
                    rates.push(report.executions_run as f64 / elapsed);
                }
                (executions, median(rates))
            })
        };
        let (executions, in_process) = explore(false);
        let (_, over_http) = explore(true);
        table.row(
            &format!("cinema exploration, in-process ({executions} executions)"),
            format!("{in_process:.0} exec/s"),
            "> 500/s",
            Some(in_process > 500.0),
        );
        table.row("cinema exploration, HTTP server", format!("{over_http:.0} exec/s"), "", None);
        table.row("  in-process / HTTP", format!("{:.1}×", in_process / over_http), "", None);
    }

    // Exploration of the large application, once in-process, once over
    // HTTP: each over 5,000 executions.
    if wanted("large") {
        let runtime = Runtime::new().expect("a runtime");
        let explore = |over_http: bool| {
            runtime.block_on(async { common::Large::start(over_http).await.explore().await })
        };
        let in_process = explore(false);
        let over_http = explore(true);
        let report = &in_process.report;
        let executions = report.executions_run;
        table.row(
            "large app (10 services): executions run / pruned",
            format!("{executions} / {}", report.executions_pruned),
            "≥ 5,000",
            Some(executions >= 5_000),
        );
        for (name, run, target) in
            [("in-process", &in_process, Some(1_000.0)), ("HTTP server", &over_http, None)]
        {
            let (first, last) = run.first_and_last(1_000);
            let verdict = target.map(|t| first >= t && last >= t);
            table.row(
                &format!("large app exploration, {name}: first / last 1000"),
                format!("{first:.0} / {last:.0} exec/s"),
                if target.is_some() { "≥ 1,000/s" } else { "" },
                verdict,
            );
            let ratio = last / first;
            table.row("  last 1000 / first 1000", format!("{ratio:.2}×"), "≥ 0.90×", Some(ratio >= 0.9));
            table.row(
                &format!("  whole exploration, {name}"),
                format!(
                    "{} exec in {:.2} s: {:.0} exec/s",
                    run.report.executions_run,
                    run.report.elapsed.as_secs_f64(),
                    run.overall()
                ),
                "",
                None,
            );
        }
        table.row(
            "  in-process / HTTP, whole exploration",
            format!("{:.1}×", in_process.overall() / over_http.overall()),
            "",
            None,
        );
    }

    // The server.
    if wanted("server") {
        let mut app = common::Synthetic::new();
        let (records, record_ns) = current.block_on(async {
            filibuster_explorer::bench_support::begin(&app.server, false);
            let records = app.emit().await;
            let per_execution = per_op(
                || async {
                    filibuster_explorer::bench_support::begin(&app.server, false);
                    app.emit().await
                },
                5,
                batch,
            )
            .await;
            (records, per_execution)
        });
        table.row(
            "server: create/update records in-process",
            rate(records as f64 * 1e9 / record_ns),
            "",
            None,
        );
        let mut steps = Vec::new();
        let mut history = 0;
        for size in [1_000u64, 10_000, 100_000] {
            current.block_on(app.add_history(size - history));
            history = size;
            let step = current.block_on(per_op(|| app.explorer_step(), 5, batch));
            table.row(&format!("server: explorer step, {size} executions run"), ns(step), "", None);
            steps.push(step);
        }
        let (mut run, mut pruned, mut fresh) = (0, 0, 0);
        current.block_on(async {
            for _ in 0..1_000 {
                match app.explorer_step().await {
                    Some(filibuster_explorer::bench_support::Next::Begun) => run += 1,
                    Some(filibuster_explorer::bench_support::Next::Pruned) => pruned += 1,
                    None => fresh += 1,
                }
            }
        });
        table.row(
            "  steps: scheduled run / pruned / fault-free",
            format!("{run} / {pruned} / {fresh} of 1000"),
            "",
            None,
        );
        let growth = steps[2] / steps[0];
        table.row(
            "  step at 100k / step at 1k",
            format!("{growth:.2}×"),
            "flat (≪ 100×)",
            Some(growth < 3.0),
        );
    }

    // Wire encodings.
    if wanted("wire") {
        let clock = common::clock_10();
        let clock_text = clock.to_wire();
        let index = common::index_10();
        let index_text = index.to_wire();
        current.block_on(async {
            let parse = per_op(|| async { VectorClock::parse(black_box(&clock_text)) }, 5, batch).await;
            let print = per_op(|| async { black_box(&clock).to_wire() }, 5, batch).await;
            table.row(
                "wire: vclock of 10 services, parse / print",
                format!("{} / {}", ns(parse), ns(print)),
                "",
                None,
            );
            let parse = per_op(|| async { ExecutionIndex::parse(black_box(&index_text)) }, 5, batch).await;
            let print = per_op(|| async { black_box(&index).to_wire() }, 5, batch).await;
            table.row(
                "wire: execution index 10 deep, parse / print",
                format!("{} / {}", ns(parse), ns(print)),
                "",
                None,
            );
        });
    }
    table.print();
}
