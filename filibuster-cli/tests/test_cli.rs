//! The `filibuster` command drives services running as separate processes
//! (the cinema example's per-service binaries) over HTTP, and agrees with the
//! in-process harness on the counts.

use cinema as app;
#[path = "../../tests/support/mod.rs"]
mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use filibuster::Explorer;

/// The binaries of the `cinema` package, which `cargo test --workspace`
/// builds beside the test binaries' directory (for the package's own test).
fn binary(name: &str) -> PathBuf {
    let dir = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().to_path_buf();
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p cinema --bins` (`cargo test --workspace` builds them)",
        path.display()
    );
    path
}

/// The three services the check reaches, each its own process; killed on drop.
struct Services {
    children: Vec<Child>,
    users_url: String,
}

impl Drop for Services {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn start_services(filibuster_url: &str, bug: bool) -> Services {
    start_services_instrumented(filibuster_url, bug, true)
}

/// [`start_services`], with `FILIBUSTER_ENABLED=1` only when `instrumented`.
fn start_services_instrumented(filibuster_url: &str, bug: bool, instrumented: bool) -> Services {
    start_app(Cinema::Http, filibuster_url, bug, instrumented)
}

/// Which cinema's binaries: the HTTP one (`cinema-*`) or the gRPC one
/// (`grpc-cinema-*`, whose `bookings` and `movies` are tonic services).
#[derive(Clone, Copy)]
enum Cinema {
    Http,
    Grpc,
}

/// The three services of `cinema` the check reaches, each its own process.
fn start_app(cinema: Cinema, filibuster_url: &str, bug: bool, instrumented: bool) -> Services {
    let prefix = match cinema {
        Cinema::Http => "cinema",
        Cinema::Grpc => "grpc-cinema",
    };
    let (users, bookings, movies) = (support::free_port(), support::free_port(), support::free_port());
    let spawn = |name: &str, port: u16, extra: &[(&str, String)]| {
        let mut command = Command::new(binary(name));
        command.env_remove("FILIBUSTER_ENABLED");
        if instrumented {
            command.env("FILIBUSTER_ENABLED", "1");
        }
        command
            .env("PORT", port.to_string())
            .env("FILIBUSTER_URL", filibuster_url)
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (key, value) in extra {
            command.env(key, value);
        }
        command.spawn().unwrap()
    };
    let children = vec![
        spawn(&format!("{prefix}-bookings"), bookings, &[]),
        spawn(&format!("{prefix}-movies"), movies, &[]),
        spawn(
            &format!("{prefix}-users"),
            users,
            &[
                ("BOOKINGS_URL", format!("http://127.0.0.1:{bookings}")),
                ("MOVIES_URL", format!("http://127.0.0.1:{movies}")),
                ("CINEMA_BUG", if bug { "1" } else { "0" }.to_owned()),
            ],
        ),
    ];
    let services = Services { children, users_url: format!("http://127.0.0.1:{users}") };
    for port in [users, bookings, movies] {
        wait_until_up(port);
    }
    services
}

fn wait_until_up(port: u16) {
    for _ in 0..200 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    panic!("service on port {port} did not start");
}

fn filibuster(dir: &std::path::Path, port: u16, users_url: &str, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_filibuster"))
        .current_dir(dir)
        .args(["test", "--listen", &format!("127.0.0.1:{port}"), "--functional-test"])
        .arg(binary("cinema-check"))
        .args(extra)
        .env("USERS_URL", users_url)
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Both streams, for assertions and their messages.
fn both(output: &Output) -> String {
    format!("{}{}", stdout(output), String::from_utf8_lossy(&output.stderr))
}

/// `filibuster test --listen 127.0.0.1:<free port> --functional-test <test> <extra>`
/// in `dir`, for tests that bring no services.
fn cli_test(dir: &std::path::Path, test: &str, extra: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_filibuster"));
    command
        .current_dir(dir)
        .args(["test", "--listen", &format!("127.0.0.1:{}", support::free_port()), "--functional-test", test])
        .args(extra);
    command
}

/// Reads `stream` to its end on a thread.
fn read_all(mut stream: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stream.read_to_end(&mut bytes);
        bytes
    })
}

/// How long [`run`] lets the CLI run: a hang fails the test instead of
/// blocking the suite.
const DEADLINE: Duration = Duration::from_secs(30);

/// Runs `command` to its end (at most [`DEADLINE`]): its output, and how long
/// it took.
fn run(command: &mut Command) -> (Output, Duration) {
    let started = Instant::now();
    let child = command.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    finish(child, started)
}

/// Waits for `child` (spawned with piped stdout and stderr), killing it past
/// [`DEADLINE`]; its output, and the time since `started`.
fn finish(mut child: Child, started: Instant) -> (Output, Duration) {
    let stdout = read_all(child.stdout.take().unwrap());
    let stderr = read_all(child.stderr.take().unwrap());
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the CLI was still running after {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let elapsed = started.elapsed();
    let output = Output { status, stdout: stdout.join().unwrap(), stderr: stderr.join().unwrap() };
    (output, elapsed)
}

fn workdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("filibuster-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The in-process harness on the same app: the counts the CLI must match.
async fn in_process_counts(bug: bool) -> (usize, usize) {
    let explorer = Explorer::new();
    let layer = explorer.connection().layer();
    let any: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let (bookings, _) = app::serve(app::bookings().layer(layer.clone()), any).await.unwrap();
    let (movies, _) = app::serve(app::movies().layer(layer.clone()), any).await.unwrap();
    let peers = app::Peers { bookings: format!("http://{bookings}"), movies: format!("http://{movies}") };
    let bug = if bug { app::Bug::EmptyListOnMoviesTimeout } else { app::Bug::None };
    let (users, _) =
        app::serve(app::users(peers, bug, reqwest::Client::new()).layer(layer), any).await.unwrap();
    let http = reqwest::Client::new();
    let report = explorer
        .run(|ctx| {
            let (http, url) = (http.clone(), format!("http://{users}"));
            async move { app::check_chris_rivers(&http, &url, async || ctx.fault_injected()).await }
        })
        .await;
    (report.executions_run, report.executions_pruned)
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_explores_separate_processes_like_the_harness() {
    let port = support::free_port();
    let services = start_services(&format!("http://127.0.0.1:{port}"), false);
    let dir = workdir("ok");
    let output = filibuster(&dir, port, &services.users_url, &[]);
    let text = stdout(&output);
    assert!(output.status.success(), "{text}\n{}", String::from_utf8_lossy(&output.stderr));

    let (run, pruned) = in_process_counts(false).await;
    assert_eq!((run, pruned), (11, 0));
    assert!(text.contains(&format!("Executions run: {run}\nExecutions pruned: {pruned}\n")), "{text}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("filibuster-report.json")).unwrap()).unwrap();
    assert_eq!(report["executions_run"], run);
    assert_eq!(report["executions"].as_array().unwrap().len(), run + pruned);
    // Typed fields: the run's options, execution indices as JSON lists.
    assert_eq!(
        (&report["options"]["fault_model"], &report["options"]["replay"]),
        (&"<built-in>".into(), &false.into())
    );
    assert_eq!(report["options"]["dynamic_reduction"], true);
    let calls = report["executions"][0]["calls"].as_array().unwrap();
    assert!(!calls.is_empty() && calls.iter().all(|c| c["execution_index"][0].is_array()), "{calls:?}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn cli_writes_and_replays_a_counterexample() {
    let port = support::free_port();
    let services = start_services(&format!("http://127.0.0.1:{port}"), true);
    let dir = workdir("bug");
    let output = filibuster(&dir, port, &services.users_url, &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("execution 5 FAILED with these faults:"), "{text}");
    assert!(text.contains("(examples/cinema/src/lib.rs:271): reqwest.timeout"), "{text}");
    assert!(text.contains("\ncounterexample: counterexample.json\n"), "{text}");
    assert!(
        text.contains("replay it with: filibuster test --functional-test \"")
            && text.contains("--counterexample-file counterexample.json"),
        "{text}"
    );
    let (run, _) = in_process_counts(true).await;
    assert!(text.contains(&format!("Executions run: {run}\n")), "{text}");
    // The grid, in text then in the HTML report beside the JSON one.
    assert!(
        text.contains(
            "          reqwest.connect  reqwest.timeout  status 500    status 502    status 503\n\
             \x20 call 1  not explored     not explored     not explored  not explored  not explored\n\
             \x20 call 2  not explored     failed           passed        passed        passed\n"
        ),
        "{text}"
    );
    assert!(text.contains("  call 2: users -> movies GET /movies/"), "{text}");
    assert!(text.ends_with("\nReport: filibuster-report.json (HTML: filibuster-report.html)\n"), "{text}");
    let html = std::fs::read_to_string(dir.join("filibuster-report.html")).unwrap();
    assert!(html.contains("<td class=\"cell failed\">failed</td>"), "{html}");
    assert!(html.contains("execution 5 FAILED with these faults:"), "{html}");

    let replay =
        filibuster(&dir, port, &services.users_url, &["--counterexample-file", "counterexample.json"]);
    let text = stdout(&replay);
    assert_eq!(replay.status.code(), Some(1), "{text}");
    assert!(text.contains("the counterexample reproduced: every planned fault was injected"), "{text}");
    assert!(text.contains("Executions run: 1\n"), "{text}");

    std::fs::write(dir.join("broken.json"), "{").unwrap();
    let broken = filibuster(&dir, port, &services.users_url, &["--counterexample-file", "broken.json"]);
    assert_eq!(broken.status.code(), Some(2));
    let error = String::from_utf8_lossy(&broken.stderr);
    assert!(error.contains("counterexample file broken.json does not parse: not JSON"), "{error}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// The gRPC cinema's binaries across processes, with the same check: the
/// built-in model's 1 + 3 + 3 executions, as in process
/// (tests/test_grpc.rs); with the bug, UNAVAILABLE on `GetMovie` fails
/// execution 4, and its counterexample replays in one execution.
#[test]
fn cli_explores_grpc_services_across_processes() {
    let port = support::free_port();
    let services = start_app(Cinema::Grpc, &format!("http://127.0.0.1:{port}"), false, true);
    let dir = workdir("grpc");
    let output = filibuster(&dir, port, &services.users_url, &[]);
    let text = stdout(&output);
    assert!(output.status.success(), "{}", both(&output));
    assert!(text.contains("Executions run: 7\nExecutions pruned: 0\n"), "{text}");
    assert!(
        text.contains("  call 2: users -> movies cinema.Movies/GetMovie (grpc::ClientLayer)\n"),
        "{text}"
    );
    drop(services);

    let services = start_app(Cinema::Grpc, &format!("http://127.0.0.1:{port}"), true, true);
    let output = filibuster(&dir, port, &services.users_url, &[]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));
    assert!(text.contains("execution 4 FAILED with these faults:"), "{text}");
    assert!(
        text.contains("users -> movies cinema.Movies/GetMovie (grpc::ClientLayer): tonic.Status UNAVAILABLE"),
        "{text}"
    );
    let replay =
        filibuster(&dir, port, &services.users_url, &["--counterexample-file", "counterexample.json"]);
    let text = stdout(&replay);
    assert_eq!(replay.status.code(), Some(1), "{}", both(&replay));
    assert!(text.contains("the counterexample reproduced: every planned fault was injected"), "{text}");
    assert!(text.contains("Executions run: 1\n"), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cli_names_the_file_and_key_of_a_bad_analysis_file() {
    let dir = workdir("analysis");
    std::fs::write(
        dir.join("analysis.json"),
        r#"{"http": {"pattern": "reqwest\\.", "errors": [{"types": []}]}}"#,
    )
    .unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_filibuster"))
        .current_dir(&dir)
        .args(["test", "--functional-test", "true", "--analysis-file", "analysis.json"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let error = String::from_utf8_lossy(&output.stderr);
    assert!(
        error.contains(
            "analysis file analysis.json: at http.errors[0].service_name: expected a string (a regular expression)"
        ),
        "{error}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cli_prints_the_built_in_fault_model_as_an_analysis_file() {
    let output = Command::new(env!("CARGO_BIN_EXE_filibuster")).arg("default-fault-model").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    filibuster::FaultModel::from_json(&text, std::path::Path::new("<stdout>")).expect("a valid fault model");
    let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed["reqwest"]["exceptions"][1]["name"], "reqwest.timeout");
}

#[tokio::test]
async fn cli_server_serves_the_protocol_alone() {
    let port = support::free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_filibuster"))
        .args(["server", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Services { children: vec![child], users_url: String::new() };
    wait_until_up(port);
    let base = format!("http://127.0.0.1:{port}");
    let health: serde_json::Value =
        reqwest::get(format!("{base}/health-check")).await.unwrap().json().await.unwrap();
    assert_eq!(health, serde_json::json!({"status": "OK"}));
    let first: serde_json::Value = reqwest::get(format!("{base}/filibuster/new-test-execution/users"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(first, serde_json::json!({"new-test-execution": true}));
    let injected: serde_json::Value =
        reqwest::get(format!("{base}/filibuster/fault-injected")).await.unwrap().json().await.unwrap();
    assert_eq!(injected, serde_json::json!({"result": false}));
}

#[test]
fn cli_refuses_to_pass_without_instrumented_calls() {
    let port = support::free_port();
    let dir = workdir("no-calls");
    let untested = |output: &Output| {
        let text = both(output);
        assert_eq!(output.status.code(), Some(2), "{text}");
        assert!(text.contains("no instrumented call was seen"), "{text}");
        assert!(text.contains("FILIBUSTER_ENABLED=1"), "{text}");
        assert!(text.contains("--allow-no-calls"), "{text}");
    };

    // No services at all.
    untested(&run(&mut cli_test(&dir, "true", &[])).0);

    // Services without the instrumentation: the check passes, but tested nothing.
    let services = start_services_instrumented(&format!("http://127.0.0.1:{port}"), false, false);
    untested(&filibuster(&dir, port, &services.users_url, &[]));
    let allowed = filibuster(&dir, port, &services.users_url, &["--allow-no-calls"]);
    assert_eq!(allowed.status.code(), Some(0), "{}", both(&allowed));
    drop(services);

    // Instrumented services that report to a port where nothing listens.
    let services = start_services(support::NOWHERE, false);
    untested(&filibuster(&dir, port, &services.users_url, &[]));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cli_refuses_to_pass_when_the_fault_model_proposes_nothing() {
    let port = support::free_port();
    let services = start_services(&format!("http://127.0.0.1:{port}"), false);
    let dir = workdir("no-fault");
    std::fs::write(
        dir.join("analysis.json"),
        r#"{"reqwest": {"pattern": "nothing\\.at\\.all", "exceptions": [{"name": "reqwest.connect"}]}}"#,
    )
    .unwrap();
    let output = filibuster(&dir, port, &services.users_url, &["--analysis-file", "analysis.json"]);
    let text = both(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("the fault model proposes no fault for any of the 2 call(s)"), "{text}");
    assert!(text.contains("Executions run: 1\n"), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `counterexample` (a file's text) with its first planned fault's execution
/// index moved to an invocation no call has; in `failures` alone, or
/// everywhere in `TestExecution` (as when the call moved: its log still says
/// where it was).
fn moved_fault(counterexample: &str, everywhere: bool) -> String {
    let mut file: serde_json::Value = serde_json::from_str(counterexample).unwrap();
    let text = file["TestExecution"].as_str().unwrap().to_owned();
    let mut execution: serde_json::Value = serde_json::from_str(&text).unwrap();
    let index = execution["failures"][0]["execution_index"].as_str().unwrap().to_owned();
    let moved = index.replace(", 1]]", ", 99]]");
    assert_ne!(index, moved, "{index}");
    if everywhere {
        let quote = |s: &str| serde_json::Value::from(s).to_string();
        execution =
            serde_json::from_str(&execution.to_string().replace(&quote(&index), &quote(&moved))).unwrap();
    } else {
        execution["failures"][0]["execution_index"] = moved.clone().into();
        execution["_failures"][0]["execution_index"] = moved.into();
    }
    file["TestExecution"] = execution.to_string().into();
    file.to_string()
}

#[test]
fn cli_replays_stale_and_fixed_counterexamples() {
    let port = support::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let dir = workdir("stale");
    let buggy = start_services(&url, true);
    let found = filibuster(&dir, port, &buggy.users_url, &[]);
    assert_eq!(found.status.code(), Some(1), "{}", both(&found));
    let genuine = std::fs::read_to_string(dir.join("counterexample.json")).unwrap();
    let movie = "GET /movies/267eedb8-0f5d-42d5-8f43-72426b9fb3e6";

    // The call the fault targets moved: the log still says where it was.
    std::fs::write(dir.join("moved.json"), moved_fault(&genuine, true)).unwrap();
    let stale = filibuster(&dir, port, &buggy.users_url, &["--counterexample-file", "moved.json"]);
    let text = both(&stale);
    assert_eq!(stale.status.code(), Some(3), "{text}");
    assert!(
        text.contains("the counterexample is stale: 1 of its planned faults matched no call")
            && text.contains(&format!(
                "  users -> movies {movie} (examples/cinema/src/lib.rs:271): reqwest.timeout\n"
            )),
        "{text}"
    );

    // Only the planned fault edited: its path and fault are all there is.
    std::fs::write(dir.join("edited.json"), moved_fault(&genuine, false)).unwrap();
    let stale = filibuster(&dir, port, &buggy.users_url, &["--counterexample-file", "edited.json"]);
    let text = both(&stale);
    assert_eq!(stale.status.code(), Some(3), "{text}");
    assert!(
        text.contains("is stale") && text.contains(&movie[4..]) && text.contains("reqwest.timeout"),
        "{text}"
    );
    drop(buggy);

    // The bug fixed, the genuine counterexample no longer fails.
    let fixed = start_services(&url, false);
    let replay = filibuster(&dir, port, &fixed.users_url, &["--counterexample-file", "counterexample.json"]);
    let text = both(&replay);
    assert_eq!(replay.status.code(), Some(0), "{text}");
    assert!(text.contains("Counterexample did not reproduce: every planned fault was injected"), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}

/// A functional test that passes when `GET $FILIBUSTER_URL/filibuster/fault-injected`
/// answers true; bash's /dev/tcp, so it needs no HTTP client. The URL
/// holds the run's token as a path (`http://127.0.0.1:PORT/run/<token>`).
const FAULT_INJECTED_PROBE: &str = r#"bash -c 'u=${FILIBUSTER_URL#http://}; h=${u%%/*}; p=${u#"$h"}; exec 3<>/dev/tcp/${h%:*}/${h##*:} && printf "GET $p/filibuster/fault-injected HTTP/1.0\r\n\r\n" >&3 && grep -q "\"result\":true" <&3'"#;

#[test]
fn cli_answers_fault_injected_from_the_plan_while_replaying() {
    let dir = workdir("local-replay");
    let fault = serde_json::json!({
        "execution_index": r#"[["0123456789abcdef0123456789abcdef", 1]]"#,
        "forced_exception": {"name": "reqwest.timeout", "metadata": {}},
        "args": ["/movies/1"],
    });
    let counterexample = serde_json::json!({
        "functional_test": FAULT_INJECTED_PROBE,
        "TestExecution": serde_json::json!({"failures": [fault], "log": []}).to_string(),
    });
    std::fs::write(dir.join("local.json"), counterexample.to_string()).unwrap();

    // Exploring, no fault is injected: the probe fails.
    let (output, _) = run(&mut cli_test(&dir, FAULT_INJECTED_PROBE, &["--allow-no-calls"]));
    assert_eq!(output.status.code(), Some(1), "{}", both(&output));

    // Replaying, the services would inject the planned fault themselves
    // (the reference's local mode; here no service at all): the answer is
    // the plan's.
    let (output, _) = run(&mut cli_test(
        &dir,
        FAULT_INJECTED_PROBE,
        &["--allow-no-calls", "--counterexample-file", "local.json"],
    ));
    let text = both(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(!text.contains("every planned fault was injected"), "{text}");
    assert!(
        text.contains("could not check that the planned faults were injected: the functional test passed"),
        "{text}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

/// A `sleep` argument unique to this test process and `tag` (0 to 9), to
/// find the sleep among the machine's processes.
fn sleep_marker(tag: u32) -> String {
    assert!(tag < 10);
    format!("100{tag}.{}", std::process::id())
}

/// Whether a live `sleep <marker>` process exists (a zombie has no command
/// line).
fn sleeping(marker: &str) -> bool {
    let wanted = format!("sleep\0{marker}\0");
    std::fs::read_dir("/proc").unwrap().flatten().any(|entry| {
        std::fs::read(entry.path().join("cmdline")).is_ok_and(|cmdline| cmdline.ends_with(wanted.as_bytes()))
    })
}

/// Waits up to 5 s for `condition`; whether it held.
fn eventually(condition: impl Fn() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn cli_kills_a_functional_test_past_its_timeout() {
    let dir = workdir("timeout");
    let marker = sleep_marker(1);
    let test = format!("echo started; sleep {marker}");
    let (output, elapsed) =
        run(&mut cli_test(&dir, &test, &["--allow-no-calls", "--execution-timeout", "0.5"]));
    let text = both(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}\n{text}");
    assert!(
        text.contains(&format!(
            "`{test}` timed out after 0.5 s (--execution-timeout); its process group was killed\nstarted"
        )),
        "{text}"
    );
    assert!(eventually(|| !sleeping(&marker)), "sleep {marker} survived");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cli_ends_an_execution_when_the_test_exits_not_when_its_output_closes() {
    let dir = workdir("background");
    let marker = sleep_marker(2);
    let test = format!("sleep {marker} & echo started; exit 0");
    let (output, elapsed) = run(&mut cli_test(&dir, &test, &["--allow-no-calls"]));
    assert_eq!(output.status.code(), Some(0), "{}", both(&output));
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert!(eventually(|| !sleeping(&marker)), "sleep {marker} survived");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cli_keeps_only_the_tail_of_a_loud_test() {
    let dir = workdir("loud");
    let (output, _) = run(&mut cli_test(
        &dir,
        "head -c 50000000 /dev/zero | tr '\\0' x; echo; echo the last line; exit 1",
        &["--allow-no-calls"],
    ));
    let end = String::from_utf8_lossy(&output.stdout[output.stdout.len().saturating_sub(2000)..]);
    assert_eq!(output.status.code(), Some(1), "{end}");
    assert!(output.stdout.len() < 200_000, "{} bytes on stdout", output.stdout.len());
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("filibuster-report.json")).unwrap()).unwrap();
    let message = report["executions"][0]["message"].as_str().unwrap();
    assert!(message.len() < 100_000, "{} bytes", message.len());
    assert!(message.ends_with("xxxx\nthe last line"), "{}", &message[message.len().saturating_sub(200)..]);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cli_forwards_sigterm_and_sigint_to_the_test_and_exits_128_plus_the_signal() {
    let dir = workdir("signal");
    for (tag, signal, code) in [(3, "TERM", 143), (4, "INT", 130)] {
        let marker = sleep_marker(tag);
        let started = Instant::now();
        let child = cli_test(&dir, &format!("sleep {marker}"), &["--allow-no-calls"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        assert!(eventually(|| sleeping(&marker)), "sleep {marker} did not start");
        let kill =
            Command::new("sh").arg("-c").arg(format!("kill -{signal} {}", child.id())).status().unwrap();
        assert!(kill.success());
        let (output, _) = finish(child, started);
        let text = both(&output);
        assert_eq!(output.status.code(), Some(code), "SIG{signal}: {:?}\n{text}", output.status);
        assert!(text.contains(&format!("interrupted by SIG{signal}")), "{text}");
        assert!(eventually(|| !sleeping(&marker)), "sleep {marker} survived SIG{signal}");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn cli_exits_2_on_usage_errors_and_an_unwritable_report() {
    let dir = workdir("usage");
    let (output, _) = run(&mut cli_test(&dir, "true", &["--max-tests", "0"]));
    let text = both(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("invalid value '0' for '--max-tests <MAX_TESTS>'"), "{text}");

    for blank in ["", " "] {
        let (output, _) = run(&mut cli_test(&dir, blank, &["--allow-no-calls"]));
        let text = both(&output);
        assert_eq!(output.status.code(), Some(2), "{text}");
        assert!(text.contains("the functional test command is empty"), "{text}");
    }

    // It would pass, but its report cannot be written.
    let (output, _) =
        run(&mut cli_test(&dir, "true", &["--allow-no-calls", "--report-file", "/proc/x.json"]));
    let text = both(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("cannot write the report to /proc/x.json: "), "{text}");

    // The HTML report goes beside the JSON one, wherever that is.
    let (output, _) =
        run(&mut cli_test(&dir, "true", &["--allow-no-calls", "--report-file", "reports/run.json"]));
    let text = both(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("Faults by call") && text.contains("  no fault was planned\n"), "{text}");
    assert!(text.contains("Report: reports/run.json (HTML: reports/run.html)\n"), "{text}");
    let html = std::fs::read_to_string(dir.join("reports/run.html")).unwrap();
    assert!(html.contains("<p>No fault was planned.</p>"), "{html}");

    // Beyond loopback only when asked, with a warning.
    let mut remote = Command::new(env!("CARGO_BIN_EXE_filibuster"));
    remote.current_dir(&dir).args(["test", "--listen", "0.0.0.0:0", "--functional-test", "true"]);
    let (output, _) = run(&mut remote);
    let text = both(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("is not a loopback address") && text.contains("--allow-remote"), "{text}");
    std::fs::remove_dir_all(dir).unwrap();
}
