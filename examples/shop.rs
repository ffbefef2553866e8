//! The shop, explored: the two services of the `shop` package
//! (`examples/shop/`), their SQLite databases and an embedded Filibuster
//! server in one process, nothing to install.
//!
//! ```text
//! cargo run --example shop                   # every execution passes: exit 0
//! cargo run --example shop -- --bug          # finds the planted bug: exit 1
//! cargo run --example shop -- --bug --replay target/filibuster/shop-counterexample.json
//! ```
//!
//! The functional test orders tea from `orders` and checks that a
//! confirmed order is in `orders`' database ([`shop::check_order`]). The
//! default fault model fails the HTTP call from `orders` to `inventory`
//! and the database calls of both services (`sqlx.PoolTimedOut`,
//! `sqlx.Io.ConnectionRefused`, `sqlx.Io.UnexpectedEof`); the grid shows
//! each call and what each fault did. Logs go to stderr, `warn` and up
//! unless `RUST_LOG` says otherwise.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use filibuster::{Counterexample, Explorer};

/// Where the JSON report of an exploration goes (the HTML report beside it).
const REPORT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/filibuster/shop-report.json");
/// Where the JSON report of a replay goes.
const REPLAY_REPORT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/target/filibuster/shop-replay-report.json");
/// Where the counterexample of a failing exploration goes.
const COUNTEREXAMPLE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/target/filibuster/shop-counterexample.json");

/// Explores the shop with Filibuster's default fault model.
#[derive(Debug, Parser)]
#[command(name = "shop")]
struct Args {
    /// Plant a resilience bug in `orders`: when writing an order fails, it
    /// confirms the order anyway.
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
    let bug = if args.bug { shop::Bug::ConfirmUnwrittenOrders } else { shop::Bug::None };
    let mut explorer = Explorer::new().progress(true).functional_test_name("shop: POST /orders");
    if let Some(path) = &args.replay {
        let counterexample = Counterexample::load(path).map_err(|e| e.to_string())?;
        let faults: Vec<String> = counterexample.faults.iter().map(|f| f.name()).collect();
        println!("replaying {} ({})", path.display(), faults.join(", "));
        explorer = explorer.replay(counterexample).report_file(shown(Path::new(REPLAY_REPORT)));
    } else {
        let counterexample = shown(Path::new(COUNTEREXAMPLE));
        let replay = format!(
            "cargo run --example shop -- {}--replay {}",
            if args.bug { "--bug " } else { "" },
            counterexample.display()
        );
        explorer = explorer
            .counterexample_file(counterexample)
            .replay_command(replay)
            .report_file(shown(Path::new(REPORT)));
        println!(
            "exploring the shop{}: default fault model, POST /orders",
            if args.bug { " with the planted bug" } else { "" }
        );
    }
    let started = shop::start(&explorer.connection(), bug).await?;
    println!("services: orders {}, inventory {}", started.orders, started.inventory);
    let http = reqwest::Client::new();
    let report = explorer
        .run(|ctx| {
            let (http, started) = (&http, &started);
            async move {
                shop::check_order(http, &started.orders, &started.orders_db, async || ctx.fault_injected())
                    .await
            }
        })
        .await;
    print!("\n{}", report.conclusion());
    Ok(ExitCode::from(report.verdict().exit_code()))
}

#[tokio::main]
async fn main() -> ExitCode {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,shop=error"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(filibuster::progress_writer).init();
    match run(Args::parse()).await {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}
