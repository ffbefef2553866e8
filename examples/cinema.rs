//! The cinema, explored: the four services of the `cinema` package
//! (`examples/cinema/`) and an embedded Filibuster server in one process, no
//! server to install.
//!
//! ```text
//! cargo run --example cinema                      # every execution passes: exit 0
//! cargo run --example cinema -- --bug             # finds the planted bug: exit 1
//! cargo run --example cinema -- --bug --replay target/filibuster/cinema-counterexample.json
//! cargo run --example cinema -- --no-reduction    # without dynamic reduction
//! ```
//!
//! The services listen on ephemeral ports of 127.0.0.1 and reach the
//! explorer's server through the in-process connection (no HTTP hop for
//! Filibuster's records; the services still call one another over HTTP). The
//! functional test asks `users` for Chris Rivers' bookings and expects them
//! when no fault was injected, 503 or 404 when one was
//! ([`app::check_chris_rivers`]). Logs go to stderr, `warn` and up unless
//! `RUST_LOG` says otherwise. With `--otlp <URL>` the spans go to an
//! OpenTelemetry collector over OTLP/HTTP (docs/cinema.md, "Seeing an exploration
//! in Jaeger").

use cinema as app;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use filibuster::{Counterexample, Explorer, Report};

/// Where the JSON report of an exploration goes (the HTML report goes
/// beside it, `cinema-report.html`).
const REPORT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/filibuster/cinema-report.json");
/// Where the JSON report of a replay goes.
const REPLAY_REPORT: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/target/filibuster/cinema-replay-report.json");
/// Where the counterexample of a failing exploration goes.
const COUNTEREXAMPLE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/target/filibuster/cinema-counterexample.json");

/// What the counterexample files name as the functional test.
const FUNCTIONAL_TEST: &str = "cinema: GET /users/chris_rivers/bookings";

/// Explores the cinema with Filibuster's default fault model: every
/// connection error, timeout, 500, 502 and 503 on the calls `users` makes.
#[derive(Debug, Parser)]
#[command(name = "cinema")]
struct Args {
    /// Plant a resilience bug in `users`: when `movies` times out, it answers
    /// 200 with an empty list for the day instead of 503.
    #[arg(long)]
    bug: bool,

    /// Replay this counterexample file (one execution, with its faults)
    /// instead of exploring.
    #[arg(long, value_name = "PATH")]
    replay: Option<PathBuf>,

    /// Run every scheduled execution, even those dynamic reduction shows
    /// cannot find anything new.
    #[arg(long)]
    no_reduction: bool,

    /// Export the spans over OTLP/HTTP to the collector at this base URL
    /// (`http://localhost:4318` for a local Jaeger): each execution is a
    /// trace. The four services share this process, so they share one
    /// resource, service `cinema`.
    #[arg(long, value_name = "URL")]
    otlp: Option<String>,
}

/// `path` relative to the current directory when it is inside it (as it is
/// when run from the workspace), for shorter messages.
fn shown(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|dir| path.strip_prefix(dir).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}

/// Starts the four services on ephemeral ports of 127.0.0.1, connected to
/// `explorer`; answers the base URL of `users`.
async fn start(explorer: &Explorer, bug: app::Bug) -> Result<String, String> {
    let started = app::start_all(&explorer.connection(), bug).await?;
    let app::Started { users, bookings, movies, showtimes } = started;
    println!("services: users {users}, bookings {bookings}, movies {movies}, showtimes {showtimes}");
    Ok(users)
}

/// Runs the functional test under `explorer` against `users_url`.
async fn explore(explorer: &Explorer, users_url: &str) -> Report {
    let http = reqwest::Client::new();
    explorer
        .run(|ctx| {
            let http = http.clone();
            async move { app::check_chris_rivers(&http, users_url, async || ctx.fault_injected()).await }
        })
        .await
}

async fn run(args: Args) -> Result<ExitCode, String> {
    let bug = if args.bug { app::Bug::EmptyListOnMoviesTimeout } else { app::Bug::None };
    let mut explorer = Explorer::new()
        .dynamic_reduction(!args.no_reduction)
        .progress(true)
        .functional_test_name(FUNCTIONAL_TEST);
    if let Some(path) = &args.replay {
        let counterexample = Counterexample::load(path).map_err(|e| e.to_string())?;
        let faults: Vec<String> = counterexample
            .faults
            .iter()
            .map(|f| format!("{} on {}", f.name(), f.args.first().map(String::as_str).unwrap_or("?")))
            .collect();
        println!("replaying {} ({})", path.display(), faults.join(", "));
        explorer = explorer.replay(counterexample);
    } else {
        explorer = explorer.counterexample_file(shown(Path::new(COUNTEREXAMPLE))).replay_command(format!(
            "cargo run --example cinema -- {}--replay {}",
            if args.bug { "--bug " } else { "" },
            shown(Path::new(COUNTEREXAMPLE)).display()
        ));
        println!(
            "exploring the cinema{}{}: default fault model, GET /users/chris_rivers/bookings",
            if args.bug { " with the planted bug" } else { "" },
            if args.no_reduction { ", no dynamic reduction" } else { "" },
        );
    }
    let report_path = if args.replay.is_some() { REPLAY_REPORT } else { REPORT };
    let explorer = explorer.report_file(shown(Path::new(report_path)));
    let users_url = start(&explorer, bug).await?;
    let report = explore(&explorer, &users_url).await;

    print!("\n{}", report.conclusion());
    Ok(ExitCode::from(report.verdict().exit_code()))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let otlp = args.otlp.as_ref().map(|endpoint| {
        filibuster::otlp::Otlp::new("cinema")
            .service_version(env!("CARGO_PKG_VERSION"))
            .environment("example")
            .endpoint(endpoint)
    });
    let guard = match app::init_tracing("warn", filibuster::progress_writer, otlp) {
        Ok(guard) => guard,
        Err(message) => {
            eprintln!("error: cannot export the spans: {message}");
            return ExitCode::from(2);
        }
    };
    if let Some(guard) = &guard {
        println!("exporting spans to {} (service cinema)", guard.endpoint());
    }
    let code = match run(args).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    };
    // Sends the last spans (at most 5 s) before the process ends, off the
    // runtime's threads (the guard's shutdown blocks).
    if let Some(guard) = guard {
        match tokio::task::spawn_blocking(move || guard.shutdown()).await {
            Ok(Err(error)) => eprintln!("warning: {}", app::with_causes(&error)),
            Ok(Ok(())) => {}
            Err(error) => eprintln!("warning: the spans' export did not shut down: {error}"),
        }
    }
    code
}
