//! The `filibuster` command: a Filibuster server, alone or driving a
//! functional test that runs as a separate process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use filibuster::{Counterexample, Explorer, FaultModel, Report, Server};

/// Service-level fault injection testing: runs a functional test again and
/// again, each time failing a different set of calls between services.
#[derive(Parser)]
#[command(name = "filibuster", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serves the protocol's endpoints and records calls, injecting nothing.
    Server(ServerArgs),
    /// Explores every fault combination of a functional test command.
    Test(TestArgs),
    /// Prints the built-in fault model as an analysis file, to edit it or to
    /// give it to the reference Filibuster server.
    DefaultFaultModel,
}

#[derive(Args)]
struct ServerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:5005")]
    listen: SocketAddr,
    /// Fault model (the reference's analysis-file JSON); the built-in reqwest
    /// model when absent.
    #[arg(long)]
    analysis_file: Option<PathBuf>,
}

#[derive(Args)]
struct TestArgs {
    /// The functional test, a shell command; it fails by exiting non-zero.
    /// It gets FILIBUSTER_URL, and can ask `GET $FILIBUSTER_URL/filibuster/fault-injected`.
    #[arg(long)]
    functional_test: String,
    #[command(flatten)]
    server: ServerArgs,
    /// Replay this counterexample file: run only its execution.
    #[arg(long)]
    counterexample_file: Option<PathBuf>,
    /// Run the fault-free execution only.
    #[arg(long)]
    only_initial_execution: bool,
    /// Run every scheduled execution, even those dynamic reduction would skip.
    #[arg(long)]
    disable_dynamic_reduction: bool,
    /// Stop after this many executions (the initial one and pruned ones count).
    #[arg(long)]
    max_tests: Option<usize>,
    /// Where to write the JSON report of every execution.
    #[arg(long, default_value = "filibuster-report.json")]
    report_file: PathBuf,
    /// Where to write the counterexample when the test fails under faults.
    #[arg(long, default_value = "counterexample.json")]
    write_counterexample: PathBuf,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let outcome = match Cli::parse().command {
        Command::Server(args) => server(args).await,
        Command::Test(args) => test(args).await,
        Command::DefaultFaultModel => {
            println!("{}", filibuster::REQWEST_DEFAULT);
            Ok(ExitCode::SUCCESS)
        }
    };
    outcome.unwrap_or_else(|message| {
        eprintln!("error: {message}");
        ExitCode::from(2)
    })
}

fn fault_model(path: &Option<PathBuf>) -> Result<FaultModel, String> {
    match path {
        Some(path) => FaultModel::load(path).map_err(|e| e.to_string()),
        None => Ok(FaultModel::default()),
    }
}

async fn listen(router: axum::Router, addr: SocketAddr) -> Result<tokio::task::JoinHandle<()>, String> {
    let listener =
        tokio::net::TcpListener::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    Ok(tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, router).await {
            tracing::error!(%error, "the Filibuster server stopped");
        }
    }))
}

async fn server(args: ServerArgs) -> Result<ExitCode, String> {
    let server = Server::new(fault_model(&args.analysis_file)?);
    let handle = listen(server.router(), args.listen).await?;
    eprintln!("Filibuster server listening on http://{}", args.listen);
    tokio::select! {
        _ = handle => Ok(ExitCode::FAILURE),
        _ = tokio::signal::ctrl_c() => Ok(ExitCode::SUCCESS),
    }
}

async fn test(args: TestArgs) -> Result<ExitCode, String> {
    let mut explorer = Explorer::with_fault_model(fault_model(&args.server.analysis_file)?)
        .dynamic_reduction(!args.disable_dynamic_reduction)
        .progress(true)
        .functional_test_name(&args.functional_test)
        .counterexample_file(&args.write_counterexample);
    if args.only_initial_execution {
        explorer = explorer.max_executions(1);
    } else if let Some(max) = args.max_tests {
        explorer = explorer.max_executions(max);
    }
    let replaying = args.counterexample_file.is_some();
    if let Some(path) = &args.counterexample_file {
        explorer = explorer.replay(Counterexample::load(path).map_err(|e| e.to_string())?);
    }
    let server = listen(explorer.server().router(), args.server.listen).await?;
    let url = format!("http://{}", args.server.listen);

    let command = args.functional_test.clone();
    let report = explorer.run(|_| run_command(command.clone(), url.clone())).await;
    server.abort();

    print_report(&report, &args, replaying);
    Ok(if report.passed() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Runs the functional test command once; its output is kept for the
/// report when it fails.
async fn run_command(command: String, url: String) -> Result<(), String> {
    let output = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(&command)
        .env(filibuster::ENV_URL, &url)
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|e| format!("cannot run `{command}`: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    let tail: Vec<&str> = text.lines().rev().take(10).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    Err(format!("`{command}` exited with {}\n{}", output.status, tail.join("\n")))
}

fn print_report(report: &Report, args: &TestArgs, replaying: bool) {
    for failure in report.failures() {
        println!("Execution {} failed with these faults:", failure.number);
        print!("{}", failure.describe());
    }
    match report.write_json(&args.report_file) {
        Ok(()) => println!("Report: {}", args.report_file.display()),
        Err(error) => eprintln!("error: cannot write the report to {}: {error}", args.report_file.display()),
    }
    if replaying {
        println!(
            "{}",
            if report.passed() { "Counterexample did not reproduce." } else { "Counterexample reproduced." }
        );
    } else if let Some(path) = &report.counterexample_file {
        println!("Counterexample file written: {}", path.display());
        println!(
            "Replay it with: filibuster test --functional-test {:?} --counterexample-file {}",
            args.functional_test,
            path.display()
        );
    } else if report.executions.first().is_some_and(|e| e.failed()) {
        println!("The functional test failed without any fault injected; nothing explored.");
    }
    println!("{}", report.summary());
}
