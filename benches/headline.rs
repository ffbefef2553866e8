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

    // Per call, without I/O.
    let current = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
    let work = common::PerCall::new();
    let mut traced = common::PerCall::new();
    traced.backtrace = true;
    let (plain, off, on, backtrace) = current.block_on(async {
        // Interleaved, so that a busy neighbour hits all alike.
        let (mut plain, mut off, mut on, mut backtrace) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            filibuster::disable();
            plain.push(per_op(|| work.plain(), 3, batch).await);
            off.push(per_op(|| work.instrumented(), 3, batch).await);
            filibuster::enable();
            on.push(per_op(|| work.instrumented(), 3, batch).await);
            backtrace.push(per_op(|| traced.instrumented(), 3, batch).await);
        }
        filibuster::disable();
        (median(plain), median(off), median(on), median(backtrace))
    });
    let (off_added, on_added, bt_added) = (off - plain, on - plain, backtrace - plain);
    table.row("per call: plain handler + call (stubbed network)", ns(plain), "", None);
    table.row("per call: added, instrumentation off", ns(off_added), "< 50 ns", Some(off_added < 50.0));
    table.row("per call: added, instrumentation on", ns(on_added), "< 2 µs", Some(on_added < 2000.0));
    table.row("per call: added, on + backtrace callsite (reference)", ns(bt_added), "", None);
    let ratio = bt_added / on_added.max(1.0);
    table.row("  backtrace / on (added cost)", format!("{ratio:.0}×"), "≥ 100×", Some(ratio >= 100.0));
    let callsite_ratio = (bt_added - on_added) / on_added.max(1.0);
    table.row("  backtrace callsite alone / on", format!("{callsite_ratio:.0}×"), "", None);

    // Exploration of the cinema.
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

    // The server.
    let mut app = common::Synthetic::new();
    let (records, record_ns) = current.block_on(async {
        filibuster_runtime::bench_support::begin(&app.server, false);
        let records = app.emit().await;
        let per_execution = per_op(
            || async {
                filibuster_runtime::bench_support::begin(&app.server, false);
                app.emit().await
            },
            5,
            batch,
        )
        .await;
        (records, per_execution)
    });
    table.row("server: create/update records in-process", rate(records as f64 * 1e9 / record_ns), "", None);
    let mut steps = Vec::new();
    let mut history = 0;
    for size in [1_000u64, 10_000, 100_000] {
        current.block_on(app.add_history(size - history));
        history = size;
        let step = current.block_on(per_op(|| app.explorer_step(), 5, batch));
        table.row(&format!("server: explorer step, {size} executions run"), ns(step), "", None);
        steps.push(step);
    }
    let growth = steps[2] / steps[0];
    table.row("  step at 100k / step at 1k", format!("{growth:.2}×"), "flat (≪ 100×)", Some(growth < 3.0));

    // Wire encodings.
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
    table.print();
}
