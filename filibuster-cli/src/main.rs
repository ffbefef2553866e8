//! The `filibuster` command: a Filibuster server, alone or driving a
//! functional test that runs as a separate process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use filibuster::server::ServeOptions;
use filibuster::{Counterexample, Explorer, FaultModel, Limits, ReplayOutcome, RunOptions, Server};
use nix::sys::signal::Signal;

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
    /// Address to listen on (loopback unless --allow-remote).
    #[arg(long, default_value = "127.0.0.1:5005")]
    listen: SocketAddr,
    /// Allow --listen on an address other than loopback: anyone who reaches
    /// it can send records.
    #[arg(long)]
    allow_remote: bool,
    /// Calls one test execution may hold (`filibuster server` starts its log
    /// anew past it; `filibuster test` fails the run).
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_calls: u64,
    /// Bytes of records one test execution may hold (their texts and
    /// clocks, about), past which as past `--max-calls`.
    #[arg(long, default_value_t = 128 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    max_execution_bytes: u64,
    /// Fault model (the reference's analysis-file JSON); the built-in reqwest
    /// model when absent.
    #[arg(long)]
    analysis_file: Option<PathBuf>,
}

#[derive(Args)]
struct TestArgs {
    /// The functional test, a shell command; it fails by exiting non-zero.
    /// It gets FILIBUSTER_URL, and can ask `GET $FILIBUSTER_URL/filibuster/fault-injected`.
    #[arg(long, value_parser = non_blank)]
    functional_test: String,
    #[command(flatten)]
    server: ServerArgs,
    /// Replay this counterexample file: run only its execution. Exit 1 when it
    /// reproduces, 0 when every planned fault was injected and the test
    /// passes (fixed), 3 when some planned fault matched no call (stale).
    #[arg(long)]
    counterexample_file: Option<PathBuf>,
    /// Run the fault-free execution only.
    #[arg(long)]
    only_initial_execution: bool,
    /// Run every scheduled execution, even those dynamic reduction would skip.
    #[arg(long)]
    disable_dynamic_reduction: bool,
    /// Stop after this many executions (the initial one and pruned ones count).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    max_tests: Option<u64>,
    /// Where to write the JSON report of every execution; the HTML report
    /// goes beside it, with the same stem and `.html`.
    #[arg(long, default_value = "filibuster-report.json")]
    report_file: PathBuf,
    /// Where to write the counterexample when the test fails under faults.
    #[arg(long, default_value = "counterexample.json")]
    write_counterexample: PathBuf,
    /// Let the run end without trying a fault: no instrumented call seen, no
    /// fault proposed for them, or (replaying) services that inject faults
    /// themselves. Without it such a run exits 2.
    #[arg(long)]
    allow_no_calls: bool,
    /// Explore even when the fault-free execution makes different calls when
    /// run twice. Without it such a run exits 2.
    #[arg(long)]
    allow_nondeterminism: bool,
    /// Seconds an execution waits, after the functional test exits, for the
    /// calls it started to end.
    #[arg(long, value_name = "SECS", default_value_t = 5.0, value_parser = seconds)]
    grace: f64,
    /// The run's token (random when absent): the functional test gets
    /// FILIBUSTER_URL with it, and services started with that URL (or with
    /// FILIBUSTER_TOKEN) carry it; once records carry it, records without it
    /// are refused.
    #[arg(long)]
    token: Option<String>,
    /// Take records without the run's token even once others carry it
    /// (reference services beside services built with filibuster-rs).
    #[arg(long)]
    accept_untokened: bool,
    /// Seconds one run of the functional test may take; past it its whole
    /// process group is killed and the execution fails as timed out.
    #[arg(long, value_name = "SECS", default_value_t = 300.0, value_parser = seconds)]
    execution_timeout: f64,
}

fn non_blank(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        Err("the functional test command is empty".into())
    } else {
        Ok(text.to_owned())
    }
}

fn seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(secs) if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 => Ok(secs),
        _ => Err(format!("expected a number of seconds between 0 and 86400, got {text:?}")),
    }
}

/// Raises the limit on open files to its hard limit: the server holds a
/// connection per concurrent record, and bursts of services open thousands.
fn raise_open_files_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE)
        && soft < hard
        && let Err(error) = setrlimit(Resource::RLIMIT_NOFILE, hard, hard)
    {
        tracing::debug!(%error, "cannot raise the limit on open files");
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    raise_open_files_limit();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        // Whole lines above the progress bar of `filibuster test`.
        .with_writer(filibuster::progress_writer)
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

/// `error` and its causes, `: `-separated: each error's message leaves its
/// cause to `source()`.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut cause = error.source();
    while let Some(error) = cause {
        message.push_str(": ");
        message.push_str(&error.to_string());
        cause = error.source();
    }
    message
}

fn fault_model(path: &Option<PathBuf>) -> Result<FaultModel, String> {
    match path {
        Some(path) => FaultModel::load(path).map_err(|e| with_causes(&e)),
        None => Ok(FaultModel::default()),
    }
}

/// Serves `router` on `args.listen` with the bounds of `ServeOptions`.
async fn listen(router: axum::Router, args: &ServerArgs) -> Result<tokio::task::JoinHandle<()>, String> {
    let addr = args.listen;
    if !addr.ip().is_loopback() {
        if !args.allow_remote {
            return Err(format!(
                "--listen {addr} is not a loopback address: anyone who reaches it could steer the run; \
                 pass --allow-remote to listen there anyway"
            ));
        }
        eprintln!("warning: listening on {addr}, beyond loopback: anyone who reaches it can send records");
    }
    let listener =
        filibuster::server::bind(addr).await.map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    Ok(tokio::spawn(async move {
        if let Err(error) = filibuster::server::serve(listener, router, ServeOptions::default()).await {
            tracing::error!(%error, "the Filibuster server stopped");
        }
    }))
}

fn limits(args: &ServerArgs) -> Limits {
    Limits {
        calls_per_execution: usize::try_from(args.max_calls).unwrap_or(usize::MAX),
        bytes_per_execution: usize::try_from(args.max_execution_bytes).unwrap_or(usize::MAX),
        ..Limits::default()
    }
}

async fn server(args: ServerArgs) -> Result<ExitCode, String> {
    let server = Server::new(fault_model(&args.analysis_file)?).with_limits(limits(&args));
    let handle = listen(server.router(), &args).await?;
    eprintln!("Filibuster server listening on http://{}", args.listen);
    tokio::select! {
        _ = handle => Ok(ExitCode::FAILURE),
        _ = tokio::signal::ctrl_c() => Ok(ExitCode::SUCCESS),
    }
}

async fn test(args: TestArgs) -> Result<ExitCode, String> {
    let replay_command = format!(
        "filibuster test --functional-test {:?} --counterexample-file {}",
        args.functional_test,
        args.write_counterexample.display()
    );
    let max_executions = match (args.only_initial_execution, args.max_tests) {
        (true, _) => Some(1),
        (false, max) => max.map(|max| usize::try_from(max).unwrap_or(usize::MAX)),
    };
    let options = RunOptions {
        dynamic_reduction: !args.disable_dynamic_reduction,
        max_executions,
        allow_no_calls: args.allow_no_calls,
        allow_nondeterminism: args.allow_nondeterminism,
        grace: Duration::from_secs_f64(args.grace),
        ..RunOptions::default()
    };
    let mut explorer = Explorer::with_fault_model(fault_model(&args.server.analysis_file)?)
        .options(options)
        .progress(true)
        .functional_test_name(&args.functional_test)
        .counterexample_file(&args.write_counterexample)
        .report_file(&args.report_file)
        .replay_command(replay_command);
    if let Some(path) = &args.counterexample_file {
        explorer = explorer.replay(Counterexample::load(path).map_err(|e| with_causes(&e))?);
    }
    let token = args.token.clone().unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    explorer.server().clone().with_token(&token, args.accept_untokened).with_limits(limits(&args.server));
    let server = listen(explorer.server().router(), &args.server).await?;
    let url = format!("http://{}/run/{token}", args.server.listen);

    let test = FunctionalTest {
        command: args.functional_test.clone(),
        url,
        timeout: Duration::from_secs_f64(args.execution_timeout),
        running: Arc::default(),
    };
    let running = test.running.clone();
    let report = tokio::select! {
        report = explorer.run(|_| test.run()) => report,
        signal = termination() => {
            server.abort();
            let code = stop_group(&running, signal).await;
            eprintln!("filibuster: interrupted by {signal}; the functional test's process group was stopped");
            return Ok(ExitCode::from(code));
        }
    };
    server.abort();

    if report.passed() {
        println!("{}", report.summary());
        print!("\n{}", report.grid_table());
        print!("{}", report.files_line().unwrap_or_default());
        if report.replay == Some(ReplayOutcome::Fixed) {
            println!(
                "Counterexample did not reproduce: every planned fault was injected and the test passed."
            );
        }
    } else {
        print!("{}", report.failure_message());
        if report.counterexample_file.is_none()
            && report.replay.is_none()
            && report.executions.first().is_some_and(|e| e.failed())
        {
            println!("The functional test failed without any fault injected; nothing explored.");
        }
    }
    if let Some(ReplayOutcome::Unverified { test_failed }) = &report.replay {
        println!(
            "No call reached this server (allowed by --allow-no-calls), so it could not check that the \
             planned faults were injected: the functional test {}.",
            if *test_failed { "failed" } else { "passed" }
        );
    }
    Ok(ExitCode::from(report.verdict().exit_code()))
}

/// The functional test command, run once per execution.
struct FunctionalTest {
    command: String,
    url: String,
    timeout: Duration,
    /// The process group of the run in progress, to forward signals to.
    running: Arc<Mutex<Option<i32>>>,
}

/// How much of the test's stdout and stderr is kept, each: the last bytes.
const OUTPUT_CAP: usize = 64 * 1024;
/// Lines of output quoted in the failure message.
const QUOTED_LINES: usize = 20;

impl FunctionalTest {
    /// Runs the command in its own process group; it fails by exiting
    /// non-zero or by outliving the timeout. The execution ends when the
    /// command exits (what it left running in its group is killed), not
    /// when its output closes.
    async fn run(&self) -> Result<(), String> {
        let command = &self.command;
        let mut child = tokio::process::Command::new("sh")
            .arg("-c")
            .arg(command)
            .env(filibuster::ENV_URL, &self.url)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot run `{command}`: {e}"))?;
        let group = child.id().and_then(|id| i32::try_from(id).ok());
        *lock(&self.running) = group;
        let stdout = tokio::spawn(tail(child.stdout.take()));
        let stderr = tokio::spawn(tail(child.stderr.take()));
        let status = tokio::time::timeout(self.timeout, child.wait()).await;
        // Whatever the test left behind (a background child holding its
        // output, say) goes with it.
        if let Some(group) = group {
            kill_group(group, Signal::SIGKILL);
        }
        let _ = child.wait().await;
        *lock(&self.running) = None;
        let mut output = collect(stdout).await;
        output.push_str(&collect(stderr).await);
        let quoted = last_lines(&output, QUOTED_LINES);
        match status {
            Err(_) => Err(format!(
                "`{command}` timed out after {} s (--execution-timeout); its process group was killed\n{quoted}",
                self.timeout.as_secs_f64()
            )),
            Ok(Err(error)) => Err(format!("cannot wait for `{command}`: {error}")),
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(format!("`{command}` exited with {status}\n{quoted}")),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads `stream` to its end, keeping the last [`OUTPUT_CAP`] bytes.
async fn tail(stream: Option<impl tokio::io::AsyncRead + Unpin>) -> Vec<u8> {
    use tokio::io::AsyncReadExt;
    let Some(mut stream) = stream else { return Vec::new() };
    let mut kept = std::collections::VecDeque::with_capacity(OUTPUT_CAP);
    let mut buffer = vec![0; 8192];
    while let Ok(n) = stream.read(&mut buffer).await {
        if n == 0 {
            break;
        }
        kept.extend(&buffer[..n]);
        let excess = kept.len().saturating_sub(OUTPUT_CAP);
        kept.drain(..excess);
    }
    kept.into()
}

/// What a [`tail`] task kept, waiting briefly: a grandchild outside the
/// test's process group may still hold the pipe open.
async fn collect(task: tokio::task::JoinHandle<Vec<u8>>) -> String {
    let abort = task.abort_handle();
    match tokio::time::timeout(Duration::from_millis(500), task).await {
        Ok(Ok(bytes)) => String::from_utf8_lossy(&bytes).into_owned(),
        _ => {
            abort.abort();
            String::new()
        }
    }
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn kill_group(group: i32, signal: Signal) {
    // ESRCH (nothing left in the group) is the usual answer: ignore it.
    let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(group), signal);
}

/// Waits for SIGINT or SIGTERM.
async fn termination() -> Signal {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) =
        (signal(SignalKind::interrupt()), signal(SignalKind::terminate()))
    else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => Signal::SIGINT,
        _ = terminate.recv() => Signal::SIGTERM,
    }
}

/// Forwards `signal` to the running test's process group, kills what is
/// left of it after a moment, and answers the exit code (128 + signal).
async fn stop_group(running: &Mutex<Option<i32>>, signal: Signal) -> u8 {
    let group = *lock(running);
    if let Some(group) = group {
        kill_group(group, signal);
        tokio::time::sleep(Duration::from_millis(500)).await;
        kill_group(group, Signal::SIGKILL);
    }
    128 + signal as u8
}
