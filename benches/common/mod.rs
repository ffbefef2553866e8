//! What the benchmarks share: the per-call workloads (with a no-fault stub
//! transport and a stub in place of the network), the cinema example under
//! the explorer, a synthetic application driving the server directly, and
//! realistic wire values. `headline.rs` times the same workloads as the
//! criterion benches.
#![allow(dead_code, unreachable_pub)] // a module of each bench crate: `pub` here is no public API

pub use cinema as app;
pub mod large_app;

use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::{self, HeaderMap, HeaderValue};
use filibuster::records::{
    CreateResponse, Exception, Invocation, InvocationComplete, InvocationMetadata, RequestReceived,
    ReturnValue, Update,
};
use filibuster::transport::{Transport, TransportError};
use filibuster::{
    Callsite, Connection, ExecutionIndex, Explorer, FaultModel, Report, Server, VectorClock, headers, md5_hex,
};
use filibuster_explorer::bench_support::{self as explorer_hooks, Next};
use filibuster_explorer::{FaultSite, PlannedFault, ProposedFault};
use filibuster_runtime::bench_support;
use reqwest::{Method, Request, Response};

/// What the transport's methods answer.
type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

// ----- per call --------------------------------------------------------------

/// A Filibuster server that never injects a fault and answers at once: the
/// per-call benchmarks measure the instrumentation, not a server.
#[derive(Default)]
pub struct StubTransport {
    next_id: AtomicU64,
}

impl Transport for StubTransport {
    fn new_test_execution<'a>(&'a self, _service: &'a str) -> BoxFuture<'a, Result<bool, TransportError>> {
        Box::pin(async { Ok(false) })
    }

    fn create<'a>(
        &'a self,
        invocation: &'a Invocation,
    ) -> BoxFuture<'a, Result<CreateResponse, TransportError>> {
        let answer = self.answer(invocation);
        Box::pin(async move { Ok(answer) })
    }

    fn update<'a>(&'a self, _update: &'a Update) -> BoxFuture<'a, Result<(), TransportError>> {
        Box::pin(async { Ok(()) })
    }

    // As the in-process server does: its answers at once.
    fn create_now(&self, invocation: &Invocation) -> Option<Result<CreateResponse, TransportError>> {
        Some(Ok(self.answer(invocation)))
    }

    fn update_now(&self, _update: &Update) -> Option<Result<(), TransportError>> {
        Some(Ok(()))
    }
}

impl StubTransport {
    fn answer(&self, invocation: &Invocation) -> CreateResponse {
        CreateResponse {
            generated_id: self.next_id.fetch_add(1, Ordering::Relaxed),
            execution_index: Some(invocation.execution_index.clone()),
            forced_exception: None,
            failure_metadata: None,
        }
    }
}

/// The callsite `#[filibuster::call]` would embed for the `.send()` of
/// [`get_bookings`].
pub static CALLSITE: Callsite = Callsite {
    id: "5d41402abc4b2a76b9719d911017c592",
    function: "get_bookings",
    file: "benches/common/mod.rs",
    line: 90,
    client_timeout: None,
};

/// The answer of the stubbed network: a small JSON body, as `bookings` gives.
const BODY: &str = r#"{"20151201": ["267eedb8-0f5d-42d5-8f43-72426b9fb3e6"], "20151202": ["276c79ec-a26a-40a6-b3d3-fb242a5947b6", "a8034f44-aee4-44cf-b32c-74cf452aaaae"]}"#;

/// What the stubbed network answers every request with: a response as
/// reqwest makes one, which knows its URL (and so has extensions: reqwest's
/// responses also carry the connection's `HttpInfo` there).
pub fn stub_execute(request: Request) -> std::future::Ready<reqwest::Result<Response>> {
    use reqwest::ResponseBuilderExt as _;
    let url = request.url().clone();
    drop(request);
    let response = http::Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, "application/json")
        .url(url)
        .body(BODY)
        .expect("a valid response");
    std::future::ready(Ok(Response::from(response)))
}

/// The per-call workload: a request to `users` sent by an instrumented call
/// of a `gateway` (so it carries every Filibuster header), whose handler
/// makes one call to `bookings`.
pub struct PerCall {
    connection: Connection,
    headers: HeaderMap,
    url: reqwest::Url,
    /// Whether the call computes a callsite id from a backtrace first, as
    /// the reference does.
    pub backtrace: bool,
}

impl Default for PerCall {
    fn default() -> Self {
        Self::new()
    }
}

impl PerCall {
    pub fn new() -> Self {
        let mut headers = HeaderMap::new();
        let ei = ExecutionIndex::new().child(&md5_hex("gateway-call"), 1);
        let vclock: VectorClock = [("gateway", 1)].into_iter().collect();
        for (name, value) in [
            (headers::GENERATED_ID, "3".to_owned()),
            (headers::VCLOCK, vclock.to_wire()),
            (headers::ORIGIN_VCLOCK, vclock.to_wire()),
            (headers::EXECUTION_INDEX, ei.to_wire()),
            (headers::REQUEST_ID, "3f2b8c1e-8d6a-4f57-9a3c-0b1d2e3f4a5b".to_owned()),
        ] {
            headers.insert(name, HeaderValue::from_str(&value).expect("a header value"));
        }
        Self {
            connection: Connection::new(Arc::new(StubTransport::default())),
            headers,
            url: reqwest::Url::parse("http://127.0.0.1:5002/bookings/chris_rivers").expect("a url"),
            backtrace: false,
        }
    }

    /// The head of the incoming request, as axum hands it to the handler.
    fn parts(&self) -> http::request::Parts {
        let mut request = http::Request::new(());
        *request.headers_mut() = self.headers.clone();
        request.extensions_mut().insert(self.connection.clone());
        request.into_parts().0
    }

    fn request(&self) -> Request {
        let mut request = Request::new(Method::GET, self.url.clone());
        *request.timeout_mut() = Some(std::time::Duration::from_secs(10));
        request
    }

    /// A call from an uninstrumented handler.
    pub async fn plain_call(&self) -> Response {
        let request = self.request();
        if self.backtrace {
            std::hint::black_box(backtrace_callsite_id());
        }
        plain_get_bookings(request).await.expect("the stub answers")
    }

    /// A call through the instrumentation (on or off as the switch says):
    /// run it in [`PerCall::in_handler`] to have a request context.
    pub async fn call(&self) -> Response {
        let request = self.request();
        if self.backtrace {
            std::hint::black_box(backtrace_callsite_id());
        }
        get_bookings(request).await.expect("the stub answers")
    }

    /// A dependency call (`#[filibuster::dependency]`) whose body answers
    /// at once: what the instrumentation adds to a database call.
    pub async fn dependency(&self, n: u64) -> u64 {
        stub_query(n).await.expect("the stub answers")
    }

    /// The same fn without the attribute.
    pub async fn plain_dependency(&self, n: u64) -> u64 {
        plain_stub_query(n).await.expect("the stub answers")
    }

    /// An RPC (`cinema.Movies/GetMovie`) of a generated tonic client over
    /// a `grpc::ClientLayer` over a stubbed channel (on or off as the
    /// switch says): run it in [`PerCall::in_handler`] to have a request
    /// context.
    pub async fn rpc(&self) -> grpc_cinema::MovieReply {
        let mut client =
            MoviesClient::new(tower::Layer::layer(&filibuster::grpc::ClientLayer::new(), StubChannel));
        client.get_movie(movie_request()).await.expect("the stub answers").into_inner()
    }

    /// The same RPC over the stubbed channel alone.
    pub async fn plain_rpc(&self) -> grpc_cinema::MovieReply {
        let mut client = MoviesClient::new(StubChannel);
        client.get_movie(movie_request()).await.expect("the stub answers").into_inner()
    }

    /// Runs `body` in the instrumented handler of `users`, reached by the
    /// instrumented call of the headers.
    pub async fn in_handler<F: Future>(&self, body: F) -> F::Output {
        let mut parts = self.parts();
        bench_support::handle("users", &mut parts, || body).await
    }

    /// The handler and its call without any instrumentation.
    pub async fn plain(&self) -> Response {
        let mut parts = self.parts();
        let request = self.request();
        plain_handle(&mut parts, || async move { plain_get_bookings(request).await })
            .await
            .expect("the stub answers")
    }

    /// The handler and its call through the instrumentation (on or off as
    /// the switch says).
    pub async fn instrumented(&self) -> Response {
        let mut parts = self.parts();
        let request = self.request();
        bench_support::handle("users", &mut parts, || async move {
            if self.backtrace {
                std::hint::black_box(backtrace_callsite_id());
            }
            get_bookings(request).await
        })
        .await
        .expect("the stub answers")
    }
}

/// An uninstrumented handler: axum hands it the request's head, and its
/// body's future is made in place, as an `async fn`'s is.
async fn plain_handle<F: Future>(parts: &mut http::request::Parts, body: impl FnOnce() -> F) -> F::Output {
    std::hint::black_box(parts);
    std::pin::pin!(body()).await
}

#[inline(never)]
async fn plain_get_bookings(request: Request) -> reqwest::Result<Response> {
    stub_execute(request).await
}

#[inline(never)]
async fn get_bookings(request: Request) -> reqwest::Result<Response> {
    bench_support::send_with(request, &CALLSITE, stub_execute).await
}

/// The callsite id as the reference computes it at each call: the stack
/// trace, the application's frames only (here, the benchmarks' and the
/// cinema's source files), md5 of their text.
#[inline(never)]
pub fn backtrace_callsite_id() -> String {
    let trace = backtrace::Backtrace::new();
    let mut text = String::new();
    for frame in trace.frames() {
        for symbol in frame.symbols() {
            let Some(file) = symbol.filename() else { continue };
            let path = file.to_string_lossy();
            if path.contains("benches/") || path.contains("examples/") {
                let name = symbol.name().map(|n| n.to_string()).unwrap_or_default();
                let _ = writeln!(text, "{path}:{} in {name}", symbol.lineno().unwrap_or(0));
            }
        }
    }
    md5_hex(text)
}

/// Nanoseconds per [`backtrace_callsite_id`] taken where the reference takes
/// it: in a handler of an axum service served by hyper on a multi-threaded
/// runtime (a deeper stack than the benches' own), `calls` times in one
/// request.
pub async fn backtrace_in_axum_handler(calls: u32) -> f64 {
    use axum::extract::Path;
    use axum::routing::get;
    async fn handler(Path(calls): Path<u32>) -> String {
        let started = std::time::Instant::now();
        for _ in 0..calls {
            std::hint::black_box(backtrace_callsite_id());
        }
        (started.elapsed().as_nanos() as f64 / f64::from(calls.max(1))).to_string()
    }
    let router = axum::Router::new().route("/trace/{calls}", get(handler));
    let (addr, task) = app::serve(router, ([127, 0, 0, 1], 0).into()).await.expect("bind");
    let url = format!("http://{addr}/trace/{calls}");
    let answer = reqwest::get(&url).await.expect("an answer").text().await.expect("a body");
    task.abort();
    answer.parse().expect("a number")
}

// ----- the cinema under the explorer ----------------------------------------

/// The cinema's services, instrumented, explored by a fresh explorer: the
/// services reach its server in-process or over HTTP.
pub struct Cinema {
    explorer: Explorer,
    users_url: String,
    http: reqwest::Client,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Cinema {
    pub async fn start(over_http: bool) -> Self {
        let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
        let explorer = Explorer::new();
        let mut tasks = Vec::new();
        let connection = if over_http {
            let (addr, task) = app::serve(explorer.server().router(), loopback).await.expect("bind");
            tasks.push(task);
            Connection::http(format!("http://{addr}"))
        } else {
            explorer.connection()
        };
        let (bookings, task) =
            app::serve(app::bookings().layer(connection.layer()), loopback).await.expect("bind");
        tasks.push(task);
        let (movies, task) =
            app::serve(app::movies().layer(connection.layer()), loopback).await.expect("bind");
        tasks.push(task);
        let peers = app::Peers { bookings: format!("http://{bookings}"), movies: format!("http://{movies}") };
        let users = app::users(peers, app::Bug::None, reqwest::Client::new()).layer(connection.layer());
        let (users, task) = app::serve(users, loopback).await.expect("bind");
        tasks.push(task);
        Self { explorer, users_url: format!("http://{users}"), http: reqwest::Client::new(), tasks }
    }

    /// The full exploration of the cinema's functional test.
    pub async fn explore(&self) -> Report {
        let report = self
            .explorer
            .run(|ctx| {
                let http = self.http.clone();
                let url = self.users_url.clone();
                async move { app::check_chris_rivers(&http, &url, async || ctx.fault_injected()).await }
            })
            .await;
        assert!(report.passed(), "{}", report.summary());
        report
    }
}

impl Drop for Cinema {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

// ----- the large application under the explorer -----------------------------

/// The ten services of [`large_app`], instrumented, explored by a fresh
/// explorer: the services reach its server in-process or over HTTP.
pub struct Large {
    explorer: Explorer,
    gateway_url: String,
    http: reqwest::Client,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// What [`Large::explore`] saw: the report, and when each test execution
/// ended, from its start.
pub struct LargeRun {
    pub report: Report,
    pub started: std::time::Instant,
    pub ends: Vec<std::time::Instant>,
    /// The process's CPU time (all threads, user and system, in clock ticks)
    /// at the start and after every [`CPU_EVERY`] executions: a gauge of the
    /// work per execution that other processes on the machine move less
    /// than the wall clock.
    pub cpu: Vec<u64>,
}

/// Executions between two readings of [`LargeRun::cpu`].
pub const CPU_EVERY: usize = 500;

/// The CPU time of this process so far, user and system, in clock ticks
/// (`/proc/self/stat`; 0 where there is none).
pub fn cpu_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    field(11) + field(12)
}

impl LargeRun {
    /// Test executions per second over the first `n` (from the start of the
    /// exploration to the end of the `n`th) and over the last `n` (from the
    /// end of the one before them to the end of the last).
    pub fn first_and_last(&self, n: usize) -> (f64, f64) {
        let ends = &self.ends;
        let n = n.min(ends.len().saturating_sub(1)).max(1);
        let first = ends.get(n - 1).map_or(0.0, |end| n as f64 / (*end - self.started).as_secs_f64());
        let last = match (ends.len().checked_sub(n + 1), ends.last()) {
            (Some(before), Some(end)) => n as f64 / (*end - ends[before]).as_secs_f64(),
            _ => 0.0,
        };
        (first, last)
    }

    /// Test executions per second over the whole exploration.
    pub fn overall(&self) -> f64 {
        self.report.executions_run as f64 / self.report.elapsed.as_secs_f64()
    }
}

impl Large {
    pub async fn start(over_http: bool) -> Self {
        let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
        let explorer = Explorer::new();
        let mut tasks = Vec::new();
        let connection = if over_http {
            let (addr, task) = app::serve(explorer.server().router(), loopback).await.expect("bind");
            tasks.push(task);
            Connection::http(format!("http://{addr}"))
        } else {
            explorer.connection()
        };
        let http = reqwest::Client::new();
        let (gateway_url, services) =
            large_app::start(loopback.ip(), http.clone(), |router| router.layer(connection.layer()))
                .await
                .expect("bind");
        tasks.extend(services);
        Self { explorer, gateway_url, http, tasks }
    }

    /// The full exploration of the homepage's functional test.
    pub async fn explore(&self) -> LargeRun {
        let ends = std::cell::RefCell::new(Vec::with_capacity(16_384));
        let cpu = std::cell::RefCell::new(vec![cpu_ticks()]);
        let started = std::time::Instant::now();
        let report = self
            .explorer
            .run(|ctx| {
                let (ends, cpu) = (&ends, &cpu);
                async move {
                    let outcome = large_app::check_homepage(&self.http, &self.gateway_url, async || {
                        ctx.fault_injected()
                    })
                    .await;
                    let mut ends = ends.borrow_mut();
                    ends.push(std::time::Instant::now());
                    if ends.len().is_multiple_of(CPU_EVERY) {
                        cpu.borrow_mut().push(cpu_ticks());
                    }
                    outcome
                }
            })
            .await;
        assert!(report.passed(), "{}", report.summary());
        LargeRun { report, started, ends: ends.into_inner(), cpu: cpu.into_inner() }
    }
}

impl Drop for Large {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

// ----- a synthetic application, straight to the server -----------------------

/// One call of the synthetic application.
struct SyntheticCall {
    invocation: Invocation,
    target: &'static str,
    /// The five faults the built-in fault model proposes for the call.
    faults: Vec<PlannedFault>,
    child: Option<usize>,
    /// For a call of `bi`: the index of the call that reached `bi`, and the
    /// name of this call's step.
    parent: Option<(ExecutionIndex, String)>,
}

/// A synthetic application whose records go straight to a [`Server`]
/// through its [`Transport`] impl: service `a` calls `b0`..`b3` in turn,
/// each `bi` calls `ci` (8 calls, with timeouts, 5 faults each under the
/// built-in model). A faulted call ends with its fault, and its caller then
/// answers 503; a call whose callee failed never happens.
pub struct Synthetic {
    pub server: Server,
    calls: Vec<SyntheticCall>,
    roots: Vec<usize>,
    ok_md5: String,
    unavailable_md5: String,
    executions: u64,
    /// Bumped at each fault-free execution of [`Synthetic::explorer_step`]:
    /// the calls of the `bi` then have new execution indices, as a newly
    /// seen part of the application would, while the calls of `a` stay
    /// those of the history.
    generation: std::cell::Cell<u64>,
}

pub const FANOUT: usize = 4;

impl Default for Synthetic {
    fn default() -> Self {
        Self::new()
    }
}

impl Synthetic {
    pub fn new() -> Self {
        let model = FaultModel::default();
        let mut calls = Vec::new();
        let mut roots = Vec::new();
        let services = ["b0", "b1", "b2", "b3", "c0", "c1", "c2", "c3"];
        for j in 0..FANOUT {
            let a_clock: VectorClock = [("a", j as u64 + 1)].into_iter().collect();
            let a_ei = ExecutionIndex::new().child(&md5_hex(format!("a-b{j}")), 1);
            let b = services[j];
            let c = services[FANOUT + j];
            let mut b_clock = a_clock.clone();
            b_clock.increment(b);
            let b_ei = a_ei.child(&md5_hex(format!("{b}-{c}")), 1);
            let child = calls.len() + 1;
            roots.push(calls.len());
            calls.push(call(
                &model,
                "a",
                b,
                &format!("/{b}"),
                a_clock.clone(),
                VectorClock::new(),
                &a_ei,
                Some(child),
            ));
            let mut child_call = call(&model, b, c, &format!("/{c}"), b_clock, a_clock, &b_ei, None);
            child_call.parent = Some((a_ei.clone(), format!("{b}-{c}")));
            calls.push(child_call);
        }
        Self {
            server: Server::new(model),
            calls,
            roots,
            ok_md5: md5_hex("ok"),
            unavailable_md5: md5_hex("unavailable"),
            executions: 0,
            generation: std::cell::Cell::new(0),
        }
    }

    /// The invocation record of the application's first call.
    pub fn first_invocation(&self) -> Invocation {
        self.calls[0].invocation.clone()
    }

    /// Number of calls of the application.
    pub fn calls(&self) -> usize {
        self.calls.len()
    }

    /// Runs the application's calls in the current test execution, as the
    /// services would report them; answers the number of records sent.
    pub async fn emit(&self) -> usize {
        let mut records = 0;
        for &root in &self.roots {
            self.emit_call(root, &mut records).await;
        }
        records
    }

    /// Sends the records of call `index` and its child; whether the call
    /// answered 200.
    async fn emit_call(&self, index: usize, records: &mut usize) -> bool {
        let call = &self.calls[index];
        let server = &self.server;
        let renamed;
        let invocation = match (&call.parent, self.generation.get()) {
            (Some((parent, step)), generation) if generation > 0 => {
                let mut invocation = call.invocation.clone();
                invocation.execution_index =
                    parent.child(&md5_hex(format!("{step}-{generation}")), 1).to_wire();
                renamed = invocation;
                &renamed
            }
            _ => &call.invocation,
        };
        let answer = server.create(invocation).await.expect("the server takes it");
        *records += 1;
        let complete = |return_value: Option<ReturnValue>, exception: Option<Exception>| {
            Update::InvocationComplete(InvocationComplete {
                instrumentation_type: "invocation_complete".into(),
                generated_id: answer.generated_id,
                execution_index: invocation.execution_index.clone(),
                vclock: invocation.vclock.clone(),
                return_value,
                exception,
            })
        };
        if let Some(exception) = answer.forced_exception.clone() {
            server.update(&complete(None, Some(exception))).await.expect("known id");
            *records += 1;
            return false;
        }
        let received = Update::RequestReceived(RequestReceived {
            instrumentation_type: "request_received".into(),
            generated_id: answer.generated_id.to_string(),
            execution_index: invocation.execution_index.clone(),
            target_service_name: call.target.into(),
        });
        server.update(&received).await.expect("known id");
        *records += 1;
        let status = answer.failure_metadata.as_ref().and_then(|f| f.return_value.as_ref());
        let ok = match status {
            Some(value) => {
                let code = value.status_code.as_deref().and_then(|c| c.parse().ok()).unwrap_or(500);
                server
                    .update(&complete(Some(ReturnValue::response(code, md5_hex(""))), None))
                    .await
                    .expect("known id");
                *records += 1;
                return false;
            }
            None => match call.child {
                Some(child) => Box::pin(self.emit_call(child, records)).await,
                None => true,
            },
        };
        let value = if ok {
            ReturnValue::response(200, self.ok_md5.clone())
        } else {
            ReturnValue::response(503, self.unavailable_md5.clone())
        };
        server.update(&complete(Some(value), None)).await.expect("known id");
        *records += 1;
        ok
    }

    /// Adds `n` run executions to the server's history without scheduling
    /// anything: each with one fault, every call and (some) fault in turn.
    pub async fn add_history(&mut self, n: u64) {
        // The first three faults of each call only (connection error,
        // timeout, 500): the exploration's executions with a 502 or a 503
        // are not covered and run, with the combinations they schedule.
        let faults_per_call = 3.min(self.calls[0].faults.len() as u64);
        let cycle = self.calls.len() as u64 * faults_per_call;
        let generation = self.generation.replace(0);
        for _ in 0..n {
            let i = self.executions % cycle;
            self.executions += 1;
            let call = &self.calls[(i / faults_per_call) as usize];
            let fault = call.faults[(i % faults_per_call) as usize].clone();
            explorer_hooks::begin_with_faults(&self.server, vec![fault]);
            self.emit().await;
            explorer_hooks::finish(&self.server);
        }
        self.generation.set(generation);
    }

    /// One execution of the explorer's loop, exploring: the next scheduled
    /// execution, pruned or run; when nothing is scheduled, a fault-free
    /// execution that schedules the next ones.
    pub async fn explorer_step(&self) -> Option<Next> {
        let next = explorer_hooks::next(&self.server, true);
        match next {
            Some(Next::Pruned) => {}
            Some(Next::Begun) => {
                self.emit().await;
                explorer_hooks::finish(&self.server);
            }
            None => {
                self.generation.set(self.generation.get() + 1);
                explorer_hooks::begin(&self.server, true);
                self.emit().await;
                explorer_hooks::finish(&self.server);
            }
        }
        next
    }
}

#[allow(clippy::too_many_arguments)]
fn call(
    model: &FaultModel,
    source: &'static str,
    target: &'static str,
    path: &str,
    vclock: VectorClock,
    origin_vclock: VectorClock,
    ei: &ExecutionIndex,
    child: Option<usize>,
) -> SyntheticCall {
    let invocation = Invocation {
        instrumentation_type: "invocation".into(),
        source_service_name: source.into(),
        module: "reqwest".into(),
        method: "GET".into(),
        args: vec![path.to_owned()],
        kwargs: Default::default(),
        callsite_file: "src/main.rs".into(),
        callsite_line: serde_json::Value::from("42"),
        full_traceback: md5_hex(format!("{source}-{target}")).into(),
        metadata: InvocationMetadata { timeout: Some(10.0), ..Default::default() },
        vclock,
        origin_vclock,
        execution_index: ei.to_wire(),
    };
    let mut proposals = model.faults_for(&invocation, FaultSite::Invocation, None);
    proposals.extend(model.faults_for(&invocation, FaultSite::RequestReceived, Some(target)));
    let faults = proposals
        .into_iter()
        .map(|proposal| {
            let mut fault = PlannedFault {
                execution_index: invocation.execution_index.clone(),
                forced_exception: None,
                failure_metadata: None,
                args: invocation.args.clone(),
            };
            match proposal {
                ProposedFault::Exception(e) => fault.forced_exception = Some(e),
                ProposedFault::Failure(f) => fault.failure_metadata = Some(f),
            }
            fault
        })
        .collect();
    SyntheticCall { invocation, target, faults, child, parent: None }
}

// ----- wire values -----------------------------------------------------------

/// A vector clock of 10 services.
pub fn clock_10() -> VectorClock {
    (0..10).map(|i| (format!("service-{i}"), 3 * i as u64 + 1)).collect()
}

/// An execution index 10 calls deep.
pub fn index_10() -> ExecutionIndex {
    let mut ei = ExecutionIndex::new();
    for i in 0..10 {
        ei.push(md5_hex(format!("call-{i}")), (i % 3) + 1);
    }
    ei
}

/// A database call whose body answers at once.
#[filibuster::dependency("stub-db")]
async fn stub_query(n: u64) -> Result<u64, std::io::Error> {
    Ok(std::hint::black_box(n) + 1)
}

/// The movies client of the RPC workload.
type MoviesClient<T> = grpc_cinema::movies::movies_client::MoviesClient<T>;

fn movie_request() -> grpc_cinema::MovieRequest {
    grpc_cinema::MovieRequest { id: "267eedb8-0f5d-42d5-8f43-72426b9fb3e6".to_owned() }
}

/// A channel whose every RPC is answered at once with one `MovieReply` and
/// the trailers of an OK status, as a tonic server answers it: what a
/// network with the server in-process would give.
#[derive(Clone, Copy, Debug)]
pub struct StubChannel;

impl tower::Service<http::Request<tonic::body::Body>> for StubChannel {
    /// One message, then trailers, in tonic's `Body`, as a `Channel`
    /// answers.
    type Response = http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        drop(request);
        static MESSAGE: std::sync::LazyLock<bytes::Bytes> = std::sync::LazyLock::new(|| {
            let reply = grpc_cinema::MovieReply { title: "Creed".to_owned(), rating: 8.8 };
            let encoded = prost::Message::encode_to_vec(&reply);
            let mut framed = vec![0];
            framed.extend_from_slice(&(encoded.len() as u32).to_be_bytes());
            framed.extend_from_slice(&encoded);
            bytes::Bytes::from(framed)
        });
        let mut trailers = HeaderMap::new();
        trailers.insert("grpc-status", HeaderValue::from_static("0"));
        let frames = [Ok(http_body::Frame::data(MESSAGE.clone())), Ok(http_body::Frame::trailers(trailers))];
        let frames: [Result<_, std::convert::Infallible>; 2] = frames;
        let body =
            tonic::body::Body::new(http_body_util::StreamBody::new(futures_util::stream::iter(frames)));
        let mut response = http::Response::new(body);
        response
            .headers_mut()
            .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
        std::future::ready(Ok(response))
    }
}

/// [`stub_query`] without the attribute.
async fn plain_stub_query(n: u64) -> Result<u64, std::io::Error> {
    Ok(std::hint::black_box(n) + 1)
}
