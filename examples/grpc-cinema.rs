//! The cinema over gRPC, explored: `bookings` and `movies` as tonic services
//! behind `users`' HTTP front (package `grpc-cinema`, `examples/grpc-cinema/`)
//! and an embedded Filibuster server, in one process.
//!
//! ```text
//! cargo run --example grpc-cinema                 # every execution passes: exit 0
//! cargo run --example grpc-cinema -- --bug        # finds the planted bug: exit 1
//! cargo run --example grpc-cinema -- --bug --replay target/filibuster/grpc-cinema-counterexample.json
//! ```
//!
//! The functional test is the HTTP cinema's: Chris Rivers' bookings when no
//! fault was injected, 503 or 404 when one was. The built-in model tries
//! the reference's three gRPC faults on each RPC (UNAVAILABLE and
//! DEADLINE_EXCEEDED, and the callee's NOT_FOUND): 1 + 3 + 3 executions.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use filibuster::{Counterexample, Explorer};

/// Where the JSON report of an exploration goes (the HTML beside it).
const REPORT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/filibuster/grpc-cinema-report.json");
/// Where the JSON report of a replay goes.
const REPLAY_REPORT: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/target/filibuster/grpc-cinema-replay-report.json");
/// Where the counterexample of a failing exploration goes.
const COUNTEREXAMPLE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/target/filibuster/grpc-cinema-counterexample.json");

/// Explores the gRPC cinema with Filibuster's default fault model.
#[derive(Debug, Parser)]
#[command(name = "grpc-cinema")]
struct Args {
    /// Plant a resilience bug in `users`: when `movies` is unavailable, it
    /// answers 200 with an empty list for the day instead of 503.
    #[arg(long)]
    bug: bool,

    /// Replay this counterexample file (one execution, with its faults)
    /// instead of exploring.
    #[arg(long, value_name = "PATH")]
    replay: Option<PathBuf>,
}

/// `path` relative to the current directory when it is inside it.
fn shown(path: &Path) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|dir| path.strip_prefix(dir).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
}

async fn run(args: Args) -> Result<ExitCode, String> {
    let bug = if args.bug { grpc_cinema::Bug::EmptyListOnMoviesUnavailable } else { grpc_cinema::Bug::None };
    let mut explorer =
        Explorer::new().progress(true).functional_test_name("grpc-cinema: GET /users/chris_rivers/bookings");
    if let Some(path) = &args.replay {
        let counterexample = Counterexample::load(path).map_err(|e| e.to_string())?;
        let faults: Vec<String> = counterexample.faults.iter().map(|f| f.name()).collect();
        println!("replaying {} ({})", path.display(), faults.join(", "));
        explorer = explorer.replay(counterexample).report_file(shown(Path::new(REPLAY_REPORT)));
    } else {
        let counterexample = shown(Path::new(COUNTEREXAMPLE));
        let replay = format!(
            "cargo run --example grpc-cinema -- {}--replay {}",
            if args.bug { "--bug " } else { "" },
            counterexample.display()
        );
        explorer = explorer
            .counterexample_file(counterexample)
            .replay_command(replay)
            .report_file(shown(Path::new(REPORT)));
        println!(
            "exploring the gRPC cinema{}: default fault model, GET /users/chris_rivers/bookings",
            if args.bug { " with the planted bug" } else { "" }
        );
    }
    let started = grpc_cinema::start_all(&explorer.connection(), bug).await?;
    println!(
        "services: users {}, bookings {} (gRPC), movies {} (gRPC)",
        started.users, started.bookings, started.movies
    );
    let http = reqwest::Client::new();
    let report = explorer
        .run(|ctx| {
            let (http, users) = (&http, &started.users);
            async move { grpc_cinema::check_chris_rivers(http, users, async || ctx.fault_injected()).await }
        })
        .await;
    print!("\n{}", report.conclusion());
    Ok(ExitCode::from(report.verdict().exit_code()))
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(filibuster::progress_writer).init();
    match run(Args::parse()).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}
