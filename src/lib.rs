//! Service-level fault injection testing for Rust microservices built with
//! axum and reqwest.
//!
//! Mark the handlers of your services with [`#[filibuster::handler]`](handler)
//! (or instrument every route of a router at once with a [`ServiceLayer`])
//! and the functions that send requests to other services with
//! [`#[filibuster::call]`](call). Then an [`Explorer`] runs your ordinary
//! end-to-end test again and again, each time making a different set of
//! inter-service calls fail (connection error, timeout, 500, 502, 503),
//! discovers every combination that matters, skips the ones that cannot show
//! anything new, and reports which one breaks the app, with a
//! counterexample file that replays it.
//!
//! The attributes embed compile-time callsite ids and expand to small calls
//! into the runtime. They do nothing unless the instrumentation is switched
//! on for testing: with the environment variable `FILIBUSTER_ENABLED=1`, or
//! [`enable()`] (which [`Explorer::run`] calls). Off, every `X-Filibuster-*`
//! header is ignored, so a production build that keeps the attributes cannot
//! be made to sleep or fail by a client.
//!
//! # What goes where
//!
//! A service links the attributes and their runtime only; the [`Explorer`],
//! its embedded Filibuster server and the reports are the `explorer`
//! feature, which only tests turn on:
//!
//! ```toml
//! [dependencies]
//! filibuster = "0.1"
//!
//! [dev-dependencies]
//! filibuster = { version = "0.1", features = ["explorer"] }
//! ```
//!
//! Cargo enables a feature asked for in `[dev-dependencies]` only when it
//! builds tests, examples and benchmarks, so `cargo build --release` of the
//! service links neither the server nor its dependencies. The `filibuster`
//! command is the `filibuster-cli` package.
//!
//! # Example
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use axum::extract::{Path, State};
//! use axum::http::StatusCode;
//! use axum::routing::get;
//! use axum::{Json, Router};
//! use serde_json::Value;
//!
//! #[derive(Clone)]
//! struct App {
//!     http: reqwest::Client,
//!     bookings_url: String,
//! }
//!
//! /// A handler of service `users`: any extractors, any return type.
//! #[filibuster::handler(service = "users")]
//! async fn user_bookings(State(app): State<App>, Path(user): Path<String>) -> Result<Json<Value>, StatusCode> {
//!     // The app's own error handling sees the genuine reqwest values faults become.
//!     let response = fetch_bookings(&app, &user).await.map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
//!     match response.status() {
//!         StatusCode::OK => response.json().await.map(Json).map_err(|_| StatusCode::SERVICE_UNAVAILABLE),
//!         StatusCode::NOT_FOUND => Err(StatusCode::NOT_FOUND),
//!         _ => Err(StatusCode::SERVICE_UNAVAILABLE),
//!     }
//! }
//!
//! /// Every `.send()` in here is an instrumented call with its own callsite id.
//! #[filibuster::call]
//! async fn fetch_bookings(app: &App, user: &str) -> reqwest::Result<reqwest::Response> {
//!     app.http
//!         .get(format!("{}/bookings/{user}", app.bookings_url))
//!         .timeout(Duration::from_secs(10))
//!         .send()
//!         .await
//! }
//!
//! # async fn run(bookings_url: String) {
//! // In a test: start the services with the explorer's in-process connection...
//! let explorer = filibuster::Explorer::new();
//! let app = App { http: reqwest::Client::new(), bookings_url };
//! let users = Router::new()
//!     .route("/users/{user}/bookings", get(user_bookings))
//!     .with_state(app)
//!     .layer(explorer.connection().layer());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! let url = format!("http://{}/users/chris/bookings", listener.local_addr().unwrap());
//! tokio::spawn(async move { axum::serve(listener, users).await });
//!
//! // ...then explore every fault combination of the functional test.
//! let report = explorer
//!     .run(|ctx| {
//!         let url = url.clone();
//!         async move {
//!             let status = reqwest::get(&url).await.map_err(|e| e.to_string())?.status();
//!             match (ctx.fault_injected(), status.as_u16()) {
//!                 (false, 200) | (true, 503 | 404) => Ok(()),
//!                 (injected, status) => Err(format!("fault injected: {injected}, status {status}")),
//!             }
//!         }
//!     })
//!     .await;
//! report.assert_passed();
//! # }
//! ```
//!
//! # Every route of a router: [`ServiceLayer`]
//!
//! Instead of an attribute on each handler, one layer instruments every
//! route of a router for a service, so that none can be forgotten. Add the
//! connection's layer after it: a router's layers run last-added first, and
//! the service layer reports to the connection the other one hands it (in
//! the wrong order the exploration fails naming the service; or give it the
//! connection: `ServiceLayer::new("users").connection(explorer.connection())`).
//!
//! ```no_run
//! use axum::Router;
//! use axum::extract::Path;
//! use axum::routing::{get, post};
//!
//! // Plain axum handlers: no attribute.
//! async fn user(Path(user): Path<String>) -> String {
//!     format!("user {user}")
//! }
//!
//! async fn create_user() -> &'static str {
//!     "created"
//! }
//!
//! # async fn run() {
//! let explorer = filibuster::Explorer::new();
//! let users = Router::new()
//!     .route("/users/{user}", get(user))
//!     .route("/users", post(create_user))
//!     // Every route is a handler of `users`...
//!     .layer(filibuster::ServiceLayer::new("users"))
//!     // ...reporting to the explorer: this layer last, so that it runs first.
//!     .layer(explorer.connection().layer());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
//! tokio::spawn(async move { axum::serve(listener, users).await });
//! # }
//! ```
//!
//! A handler behind the layer that also has `#[filibuster::handler]` is
//! instrumented once, by the layer (whose service name wins). Off, the layer
//! passes each request straight on, in its server span when a `tracing`
//! subscriber wants it ([observability](#observability)).
//!
//! # Observability
//!
//! Filibuster on or off, every request to an instrumented handler (or
//! through a [`ServiceLayer`]) runs in a `tracing` **server span**, and every
//! instrumented `.send()` in a **client span**, its child, named and
//! attributed after OpenTelemetry's HTTP semantic conventions (`otel.name`
//! `GET /users/{name}/bookings`, `http.route`, `url.full`,
//! `http.response.status_code`, `error.type`, ...), plus Filibuster's own
//! (`filibuster.service`, `filibuster.execution_index`,
//! `filibuster.callsite.*`). An injected fault is a `filibuster.fault` event
//! on its client span. Both are at level INFO with target `filibuster::http`;
//! with no subscriber interested they cost a level check. The [`spans`]
//! module lists them. Headers (an allow-list, credentials redacted) and
//! bodies (JSON, form, text; capped) are captured only when asked for, with
//! [`Capture`] or the `FILIBUSTER_CAPTURE_*` environment variables:
//!
//! ```no_run
//! use tracing_subscriber::layer::SubscriberExt as _;
//! use tracing_subscriber::util::SubscriberInitExt as _;
//!
//! // The spans, with anything else at INFO, printed; or any other subscriber.
//! tracing_subscriber::registry()
//!     .with(tracing_subscriber::EnvFilter::new("info,filibuster::http=info"))
//!     .with(tracing_subscriber::fmt::layer())
//!     .init();
//! // Off by default: these headers and bodies become span attributes.
//! filibuster::Capture::new()
//!     .request_headers(["x-user", "authorization"]) // authorization: "[REDACTED]"
//!     .bodies(true)
//!     .max_body_bytes(16 * 1024)
//!     .install();
//! ```
//!
//! With the `otel` feature, the W3C trace context (`traceparent`,
//! `tracestate`) is injected into every instrumented call from its client
//! span's OpenTelemetry context and extracted by every instrumented handler
//! into its server span's parent, so that a request through several services
//! is one trace. The contexts are `tracing-opentelemetry`'s: with
//! `tracing_opentelemetry::layer()` in the subscriber (versions:
//! `opentelemetry` 0.31, `tracing-opentelemetry` 0.32). Without the feature,
//! no OpenTelemetry dependency and no header. The whole story, with OTLP
//! export: [the observability chapter](guide::observability).
//!
//! # The service's name
//!
//! `#[filibuster::handler]` without `service = ".."`, and
//! [`ServiceLayer::from_env(env!("CARGO_PKG_NAME"))`](ServiceLayer::from_env),
//! name the service with the environment variable `OTEL_SERVICE_NAME`
//! ([`ENV_SERVICE_NAME`], read once per process) when it is set, else with
//! the name of the package (`CARGO_PKG_NAME` of the crate being compiled):
//! the name OpenTelemetry would give it.
//!
//! # Across processes
//!
//! Services running as separate processes reach a Filibuster server over
//! HTTP at `FILIBUSTER_URL` (default `http://127.0.0.1:5005`): run them with
//! `FILIBUSTER_ENABLED=1`, and drive the functional test with the
//! `filibuster test --functional-test "<command>"` command, which serves the
//! protocol there ([across processes](guide::across_processes)). The
//! protocol is the reference Filibuster's: services instrumented here work
//! with its server, and this server with services instrumented by it
//! ([wire compatibility](guide::compatibility)).
//!
//! # The guide
//!
//! The chapters of [`guide`], whose code `cargo test --doc` compiles:
//!
//! - [The cinema example](guide::cinema): four services explored, a planted
//!   bug found and replayed.
//! - [Instrumenting services](guide::services): the attributes, the router
//!   layer, reqwest-middleware, switching it on, a slow or gone server.
//! - [Exploring in `cargo test`](guide::testing): `#[filibuster::test]`, the
//!   `Explorer`, reports, the grid, verdicts, replays.
//! - [Adopting it in an existing app](guide::adopting): versions, lockfiles,
//!   stacking attributes, spawned work, what to assert.
//! - [Databases, caches and SDKs](guide::dependencies):
//!   `#[filibuster::dependency]`, the faults of sqlx, redis and `std::io`,
//!   an error type of your own, the shop example.
//! - [Observability](guide::observability), [the fault
//!   model](guide::fault_model), [across processes](guide::across_processes),
//!   [wire compatibility](guide::compatibility), [limits, load and hostile
//!   input](guide::limits), [what it costs](guide::costs), [layout and
//!   CI](guide::layout).

/// The link definitions of the guide's chapters, for rustdoc. The chapters
/// link to each other as `[text][testing.md#search]`, with definitions at
/// the foot of each `.md` file that GitHub follows (`[testing.md#search]:
/// testing.md#search`); these come first in each module's docs, and
/// CommonMark takes a label's first definition, so rustdoc links the modules
/// instead. `tests/test_readme.rs` checks that every label a chapter defines
/// is here and that its heading exists.
#[cfg(any(doc, doctest))]
macro_rules! chapter_links {
    () => {
        "\
[across-processes.md]: crate::guide::across_processes
[across-processes.md#exit-codes]: crate::guide::across_processes#exit-codes
[adopting.md]: crate::guide::adopting
[adopting.md#stacking-attributes]: crate::guide::adopting#stacking-attributes
[adopting.md#what-to-assert]: crate::guide::adopting#what-to-assert
[adopting.md#work-spawned-from-a-handler]: crate::guide::adopting#work-spawned-from-a-handler
[cinema.md]: crate::guide::cinema
[cinema.md#seeing-an-exploration-in-jaeger]: crate::guide::cinema#seeing-an-exploration-in-jaeger
[cinema.md#the-html-report]: crate::guide::cinema#the-html-report
[dependencies.md]: crate::guide::dependencies
[grpc.md]: crate::guide::grpc
[compatibility.md]: crate::guide::compatibility
[costs.md]: crate::guide::costs
[fault-model.md]: crate::guide::fault_model
[fault-model.md#calls-without-a-timeout]: crate::guide::fault_model#calls-without-a-timeout
[layout.md]: crate::guide::layout
[limits.md]: crate::guide::limits
[limits.md#under-load-and-in-hostile-hands]: crate::guide::limits#under-load-and-in-hostile-hands
[observability.md]: crate::guide::observability
[observability.md#exporting-spans-over-otlp]: crate::guide::observability#exporting-spans-over-otlp
[services.md]: crate::guide::services
[services.md#a-handler-and-a-call]: crate::guide::services#a-handler-and-a-call
[services.md#switching-it-on]: crate::guide::services#switching-it-on
[services.md#when-the-server-is-slow-or-gone]: crate::guide::services#when-the-server-is-slow-or-gone
[testing.md]: crate::guide::testing
[testing.md#filibustertest]: crate::guide::testing#filibustertest
[testing.md#reading-the-grid]: crate::guide::testing#reading-the-grid
[testing.md#search]: crate::guide::testing#search
[testing.md#what-a-verdict-means]: crate::guide::testing#what-a-verdict-means
[testing.md#which-call-got-the-fault]: crate::guide::testing#which-call-got-the-fault
"
    };
}

// The guide, in chapters: the `.md` files of `docs/`, each the docs of a
// module without items, so that `cargo test --doc` compiles their code, as
// axum does with its `docs/`. Only rustdoc sees them.
#[cfg(any(doc, doctest))]
pub mod guide {
    #![doc = chapter_links!()]
    #![doc = include_str!("../docs/guide.md")]

    #[doc = chapter_links!()]
    #[doc = include_str!("../docs/cinema.md")]
    pub mod cinema {}

    #[doc = chapter_links!()]
    #[doc = include_str!("../docs/services.md")]
    pub mod services {}

    #[doc = chapter_links!()]
    #[doc = include_str!("../docs/testing.md")]
    pub mod testing {}

    #[doc = chapter_links!()]
    #[doc = include_str!("../docs/adopting.md")]
    pub mod adopting {}

    #[doc = chapter_links!()]
    #[doc = include_str!("../docs/dependencies.md")]
    pub mod dependencies {}

    #[doc = chapter_links!()]
    #[doc = include_str!("../docs/grpc.md")]
    pub mod grpc {}

    #[doc = chapter_links!()]
    #[doc = include_str!("../docs/observability.md")]
    pub mod observability {}

    #[doc = chapter_links!()]
    #[doc = include_str!("../docs/fault-model.md")]
    pub mod fault_model {}

    #[doc = chapter_links!()]
    #[doc = include_str!("../docs/across-processes.md")]
    pub mod across_processes {}

    #[doc = chapter_links!()]
    #[doc = include_str!("../docs/compatibility.md")]
    pub mod compatibility {}

    #[doc = chapter_links!()]
    #[doc = include_str!("../docs/limits.md")]
    pub mod limits {}

    #[doc = chapter_links!()]
    #[doc = include_str!("../docs/costs.md")]
    pub mod costs {}

    #[doc = chapter_links!()]
    #[doc = include_str!("../docs/layout.md")]
    pub mod layout {}
}

/// Instruments an axum handler of a service.
///
/// `#[filibuster::handler(service = "users")]` on an `async fn` handler,
/// with any extractors and any return type. Without `service = ".."`,
/// `#[filibuster::handler]` names the service with `OTEL_SERVICE_NAME`
/// (read at run time, once), else with the name of the handler's package
/// (`CARGO_PKG_NAME`, at compile time). To instrument every route of a
/// router without an attribute on each, see [`ServiceLayer`]; behind one, a
/// handler with the attribute is instrumented once, by the layer. The handler gets one more
/// extractor in front of its own, which reads the `X-Filibuster-*` headers;
/// when the instrumentation is on, the handler reports `request_received`
/// to the server when the headers are present, honours a forced sleep
/// (bounded by [`headers::MAX_FORCED_SLEEP`]), and runs its body with the
/// request's [`RequestContext`] in scope, which the instrumented calls it
/// makes use. Off, it runs the body and nothing else. On or off, the body
/// runs in the request's server span (see [`spans`]).
pub use filibuster_macros::handler;

/// Instruments the reqwest `.send()` calls of a function, or of the methods
/// of an impl block.
///
/// Every `.send()` in the body of a `#[filibuster::call]` fn (sync or async,
/// free or a method; for whole impl blocks, see [below](#on-an-impl-block)),
/// of a `reqwest::RequestBuilder` (or, with the `reqwest-middleware`
/// feature, of a `reqwest_middleware::RequestBuilder`: see the `middleware`
/// module), becomes an instrumented send with its own compile-time
/// callsite id: the md5 of `"<package>:<file relative to the package>:<fn>#<n>"`
/// for the `n`-th `.send()` of the fn, or of `"<id>#<n>"` with
/// `#[filibuster::call(id = "<id>")]`. The id is the same on every machine
/// and survives edits elsewhere in the file. When the server asks for a
/// fault, the caller gets the genuine reqwest value it stands for: an error
/// with `is_connect()` or `is_timeout()` true, or a response with the
/// injected status.
///
/// The `.send()`s inside the arguments of `join!`, `try_join!` and `select!`
/// (tokio's or futures'), `vec!`, and std's assertion and formatting macros
/// (`assert!`, `assert_eq!`, `format!`, `println!`, ...) are instrumented
/// too, numbered in source order with the others. A `.send()` inside any
/// other macro is a compile error at that `send`, since the attribute cannot
/// rewrite arguments it does not know how to parse: call a
/// `#[filibuster::call]` fn from the macro instead.
///
/// An async fn without `.send()` is the place of the RPCs it makes through a
/// `grpc::ClientLayer` (feature `tonic`): they get callsites of their own,
/// the fn's, rather than the calling service's (see the [gRPC
/// chapter](crate::guide::grpc)); one that makes none is said once at run
/// time. A fn that is neither async nor has a `.send()` is a compile error.
///
/// With the instrumentation on, a call made outside any instrumented request
/// (in a task spawned without [`in_current_request`], or from a handler
/// without [`#[filibuster::handler]`](handler)) goes ahead uninstrumented,
/// and a `tracing` warning says so, once per callsite.
///
/// On or off, each instrumented `.send()` runs in a client span (see
/// [`spans`]), with its callsite as attributes (`filibuster.callsite.id`,
/// `.file`, `.line`, `.fn`), when a `tracing` subscriber wants it.
///
/// # Arguments
///
/// Both optional, in any order:
///
/// - `id = "<id>"`: the callsite ids become the md5 of `"<id>#<n>"`, which
///   survives renaming the fn or moving it to another file.
/// - `timeout = <seconds>` (an integer or a float, more than 0): the timeout
///   of the client the fn's `.send()`s go through, when it was set with
///   `ClientBuilder::timeout`, which its requests do not show. The calls
///   report it as their timeout, so that the fault model tries a timeout
///   fault on them (the built-in model tries `reqwest.timeout` only on calls
///   with a timeout). A timeout set on the request (`RequestBuilder::timeout`)
///   wins over it.
///
/// ```no_run
/// use std::time::Duration;
///
/// struct Peers {
///     /// Built with `reqwest::Client::builder().timeout(Duration::from_secs(10))`.
///     http: reqwest::Client,
///     bookings_url: String,
///     movies_url: String,
/// }
///
/// #[filibuster::call(id = "user-page", timeout = 10)]
/// async fn user_page(peers: &Peers, user: &str) -> reqwest::Result<(reqwest::Response, reqwest::Response)> {
///     tokio::try_join!(
///         peers.http.get(format!("{}/bookings/{user}", peers.bookings_url)).send(),
///         // The request's own timeout wins over the client's.
///         peers
///             .http
///             .get(format!("{}/movies/recommended", peers.movies_url))
///             .timeout(Duration::from_secs(2))
///             .send(),
///     )
/// }
/// ```
///
/// # On an impl block
///
/// On an `impl` block (inherent or of a trait), the attribute instruments
/// every method whose body holds a `.send()`, each as if it had its own
/// `#[filibuster::call]`, and leaves the other methods as written. The
/// callsite ids of a method include the block's type:
/// `"<package>:<file>:<Type>::<method>#<n>"` in an inherent impl, and
/// `"<package>:<file>:<<Type> as <Trait>>::<method>#<n>"` in a trait impl,
/// `<Type>` and `<Trait>` as written in the `impl` line (generics included,
/// with no spaces but one between two words: `Client<T>`, `Cache<'a,K>`,
/// `&'a mut Client`). So same-named methods of two impl blocks of one file
/// (`BookingsClient::get` and `MoviesClient::get`) get distinct ids, which
/// they do not with the attribute on each method: a fn-level id holds the
/// fn's name only. The same name is the one reports give for the fn.
///
/// `timeout = <seconds>` on the block applies to all its methods; `id` is
/// not taken there (an id names the calls of one fn). A method of the block
/// may still carry its own `#[filibuster::call(..)]`, written so (or as
/// `#[call(..)]`): its own `id` and `timeout` win, and it is instrumented
/// once.
///
/// ```no_run
/// #[derive(Clone)]
/// struct BookingsClient {
///     http: reqwest::Client,
///     url: String,
/// }
///
/// #[derive(Clone)]
/// struct MoviesClient {
///     http: reqwest::Client,
///     url: String,
/// }
///
/// // Ids from "<package>:<file>:BookingsClient::get#1"...
/// #[filibuster::call]
/// impl BookingsClient {
///     async fn get(&self, user: &str) -> reqwest::Result<reqwest::Response> {
///         self.http.get(format!("{}/bookings/{user}", self.url)).send().await
///     }
///
///     /// No `.send()`: left as written.
///     fn url(&self) -> &str {
///         &self.url
///     }
/// }
///
/// // ...and from "<package>:<file>:MoviesClient::get#1".
/// #[filibuster::call(timeout = 10)]
/// impl MoviesClient {
///     async fn get(&self, id: &str) -> reqwest::Result<reqwest::Response> {
///         self.http.get(format!("{}/movies/{id}", self.url)).send().await
///     }
///
///     /// Its own arguments: the id of "movies-recommended#1", a 2 s timeout.
///     #[filibuster::call(id = "movies-recommended", timeout = 2)]
///     async fn recommended(&self) -> reqwest::Result<reqwest::Response> {
///         self.http.get(format!("{}/movies/recommended", self.url)).send().await
///     }
/// }
/// ```
///
/// Two different callsites with one id (two methods named alike, each with
/// its own fn-level attribute; one `id` given to two fns) are one callsite
/// to the explorer, which would merge their calls. The runtime notices it
/// when both have made calls, and logs a `tracing` error naming both places
/// and how to tell them apart, once per id.
///
/// Misuse is a compile error at the offending tokens:
///
/// ```compile_fail
/// #[filibuster::call(timeout = 0)] // `timeout` is the client's timeout in seconds, so more than 0
/// async fn fetch(http: &reqwest::Client) -> reqwest::Result<reqwest::Response> {
///     http.get("http://bookings/").send().await
/// }
/// ```
pub use filibuster_macros::call;

/// Makes an `async fn` returning `Result<T, E>` a fault site: a call of a
/// database, a cache or an SDK, which the exploration fails with genuine
/// errors of `E`.
///
/// ```
/// #[filibuster::dependency("postgres")]
/// async fn insert_order(pool: &sqlx::SqlitePool, item: &str) -> Result<i64, sqlx::Error> {
///     let row: (i64,) = sqlx::query_as("INSERT INTO orders (item) VALUES (?) RETURNING id")
///         .bind(item)
///         .fetch_one(pool)
///         .await?;
///     Ok(row.0)
/// }
/// ```
///
/// The argument names the dependency (`"postgres"`, `"redis"`,
/// `"blob-store"`): the call's target, as a service is an HTTP call's, in
/// reports, fault models (`Calls::to("postgres")`) and
/// `TestContext::fault_injected_on("postgres")`. Optional after it:
/// `operation = "..."`, the operation's name (the fn's name without it),
/// and `id = "..."`, an explicit callsite id.
///
/// With the instrumentation on, the fn, called while an instrumented
/// request is handled, is an instrumented call of that request: the
/// explorer is told of it (its record's `module` the error type's crate,
/// `sqlx`; its `method` the operation; its target the dependency) and may
/// make it fail, in which case the body does not run and the fn returns
/// `Err(e)`, `e` the genuine error of that fault, as the dependency's crate
/// returns it for that failure ([`InjectFault`]): for `sqlx::Error`,
/// `PoolTimedOut` or an `Io` error of a refused or closed connection. A
/// non-aborting fault runs the body, then returns the error (a write that
/// happened, reported as failed). Off, the fn is the fn as written (its
/// own future, after one relaxed load), unless a subscriber takes its span.
///
/// `E` implements [`InjectFault`]: `std::io::Error`, `sqlx::Error` (feature
/// `sqlx`), `redis::RedisError` (feature `redis`), or an error type of your
/// own (its docs show how). The built-in fault model tries each fault the
/// error type names on each call (`sqlx.PoolTimedOut`,
/// `sqlx.Io.ConnectionRefused`, `sqlx.Io.UnexpectedEof`; see
/// [`fault::sqlx`], [`fault::redis`], [`fault::io_faults`]).
///
/// The fn's span is `dependency.client` (target `filibuster::dependency`),
/// with `db.system` (the dependency), `db.operation.name` and `error.type`.
///
/// Misused, it is a compile error at the offending tokens: on a fn that is
/// not `async`, one that returns nothing, or one whose error type does not
/// implement [`InjectFault`].
pub use filibuster_macros::dependency;

/// Makes an async fn a test that explores (feature `explorer`): the
/// `#[tokio::test]` of Filibuster.
///
/// The fn is the functional test. It takes the exploration's
/// [`TestContext`] (to ask which faults were injected) and, with `services =
/// <async fn>`, a reference to what that fn returned: the fn starts the
/// services once per test, given the explorer's [`Connection`] to layer
/// them with. The test then runs once per fault combination on a
/// current-thread tokio runtime, as `#[tokio::test]` does, and fails with
/// [`Report::failure_message`] unless the run passed: an execution failed,
/// or nothing was tested (no instrumented call, no fault to try, a
/// missing layer; see [`RunError`]). Other attributes (`#[ignore]`,
/// `#[should_panic]`) apply to the test as usual. Each test has its own
/// explorer and server, so tests in one binary run in parallel.
///
/// Failing executions are saved to
/// `filibuster-regressions/<crate>/<module path>/<fn>.json` in the package
/// (commit it), and replayed before every later exploration: one that
/// fails again fails the test at once; one whose calls the app no longer
/// makes fails it as stale until its entry is deleted. See
/// [`Explorer::regressions`].
///
/// # Arguments
///
/// All optional, in any order:
///
/// - `services = <path>`: an `async fn(filibuster::Connection) -> T` that
///   starts the services; the test then takes `&T` as its second parameter.
/// - `fault_model = "<file>"`: an analysis file, relative to the package;
///   or `fault_model = <expression>` of type [`FaultModel`]. Default: the
///   built-in model.
/// - `max_executions = <n>`: see [`Explorer::max_executions`].
/// - `dynamic_reduction = <bool>`: default `true`.
/// - `strategy = "dfs"` (depth first, the default, the reference's order) or
///   `"bfs"` (breadth first): see [`Strategy`].
/// - `allow_no_calls = <bool>`: let a run that tries no fault pass (see
///   [`Explorer::allow_no_calls`]; default `false`: such a run fails).
/// - `keep_going = <bool>`: explore everything and report every failing
///   execution, grouped by smallest failing fault set (default `false`: stop
///   at the first).
/// - `regressions = "<file>"` (relative to the package) to keep the failing
///   executions elsewhere, or `regressions = false` to keep none.
/// - `replay_first = <bool>`: replay the saved regressions before exploring
///   (default `true`).
/// - `execution_timeout = <seconds>` (`30`, `2.5`): the execution's deadline,
///   past which it fails (see [`Explorer::execution_timeout`]; default none,
///   [`HANG_DEADLINE`] under a [hang fault](Fault::Hang)).
///
/// ```no_run
/// use filibuster::{Connection, TestContext};
///
/// /// What the test reaches of the app.
/// struct App {
///     users_url: String,
/// }
///
/// /// Starts the app's services, each router layered with
/// /// `connection.layer()`, on ports of 127.0.0.1.
/// async fn start_app(connection: Connection) -> App {
///     # let _ = connection;
///     App { users_url: "http://127.0.0.1:5001".to_owned() }
/// }
///
/// #[filibuster::test(services = start_app, max_executions = 200)]
/// async fn chris_can_see_his_bookings(ctx: TestContext, app: &App) {
///     let response = reqwest::get(format!("{}/users/chris_rivers/bookings", app.users_url)).await.unwrap();
///     if ctx.fault_injected() {
///         assert!(matches!(response.status().as_u16(), 503 | 404), "got {}", response.status());
///     } else {
///         assert_eq!(response.status(), 200);
///     }
/// }
/// ```
///
/// Misuse is a compile error at the offending tokens:
///
/// ```compile_fail
/// #[filibuster::test(strategy = "random")] // `strategy` takes "dfs" or "bfs"
/// async fn explores(ctx: filibuster::TestContext) {}
/// ```
#[cfg(feature = "explorer")]
pub use filibuster_macros::test;

pub use filibuster_runtime::{
    Callsite, Capture, Connection, DEFAULT_URL, ENV_SERVICE_NAME, ENV_TOKEN, ENV_URL, ExecutionIndex,
    InjectFault, Instrumentable, InvocationCounters, RequestContext, ServiceLayer, Step, VectorClock,
    call_hash, capture, disable, enable, enabled, fault, headers, in_current_request, md5_hex,
    normalized_target, outside_requests, records, service_layer, spans, switch, transport,
};

/// The explorer, its embedded Filibuster server, fault models, reports and
/// counterexamples (feature `explorer`): what a test links, never a
/// service. See [`Explorer`].
#[cfg(feature = "explorer")]
pub use filibuster_explorer as server;
/// The former name of [`CallName`].
#[cfg(feature = "explorer")]
#[allow(deprecated)]
pub use filibuster_explorer::CallSite;
#[cfg(feature = "explorer")]
pub use filibuster_explorer::{
    CallName, CallReport, Counterexample, CounterexampleError, DEFAULT_GRACE, ExecutionReport,
    ExecutionStatus, Explorer, FaultKind, FaultModel, FaultModelError, FaultReport, HANG_DEADLINE,
    InjectedFault, Limits, Nondeterminism, Origin, PlannedFault, REQWEST_DEFAULT, ReplayOutcome, Report,
    RunError, RunOptions, Server, TestContext, TestOutcome, UnmarkedRequests, Verdict,
};
#[cfg(feature = "explorer")]
pub use filibuster_explorer::{
    Calls, FailureGroup, Fault, Grid, GridCell, GridRow, RegressionReplay, Strategy,
};
#[cfg(feature = "explorer")]
pub use filibuster_explorer::{ProgressWriter, progress_writer};

/// Instrumented calls through [reqwest-middleware](https://docs.rs/reqwest-middleware)
/// clients (feature `reqwest-middleware`; reqwest-middleware 0.4, on
/// reqwest 0.12, with `reqwest-middleware-0_4`, through the same
/// [`Instrument`]).
///
/// A `.send()` of a `reqwest_middleware::RequestBuilder` in a
/// [`#[filibuster::call]`](call) fn is instrumented like one of reqwest's,
/// with this difference: the client's middleware chain runs on the real
/// call, and each attempt that reaches the end of the chain is an
/// instrumented call of its own, with its own execution index. The retries
/// of a retry middleware are so many calls of the callsite, each of which
/// the exploration can fail; an injected fault ends its attempt with the
/// same genuine reqwest value as without middleware (an error with
/// `is_connect()` or `is_timeout()` true, or a response with the injected
/// status), which the middleware above it sees as it would see a real one,
/// and may retry.
///
/// Add [`Instrument`] as the **last** middleware of the client, so that it
/// sits under every other one and sees each attempt:
///
/// ```no_run
/// use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
/// use reqwest_retry::RetryTransientMiddleware;
/// use reqwest_retry::policies::ExponentialBackoff;
///
/// let retries = ExponentialBackoff::builder().build_with_max_retries(2);
/// let http: ClientWithMiddleware = ClientBuilder::new(reqwest::Client::new())
///     .with(RetryTransientMiddleware::new_with_policy(retries))
///     // Last: each attempt is a call of its own.
///     .with(filibuster::middleware::Instrument)
///     .build();
///
/// #[filibuster::call]
/// async fn fetch_bookings(http: &ClientWithMiddleware, url: &str) -> reqwest_middleware::Result<reqwest::Response> {
///     http.get(url).send().await
/// }
/// ```
///
/// With the instrumentation off, the `.send()` is the builder's own, and
/// [`Instrument`] passes every request on untouched.
///
/// # Mistakes, and what they cost
///
/// - **No [`Instrument`] in the client.** With the instrumentation on, the
///   instrumented `.send()` runs the client's chain with a middleware of
///   filibuster's own at its end, which then instruments each attempt as
///   [`Instrument`] would: the exploration is the same. A `tracing` warning
///   names the callsite and says to add [`Instrument`] (once per callsite).
/// - **[`Instrument`] not last.** The middleware after it run inside one
///   instrumented call: the attempts of a retry middleware under it are not
///   calls of their own, no fault is injected into the retries, and the
///   exploration misses what they would show. When an attempt is repeated
///   under [`Instrument`], a `tracing` **error** names the callsite and says
///   to add [`Instrument`] last (once per callsite).
/// - **A `.send()` outside `#[filibuster::call]`**, or a request run with
///   `ClientWithMiddleware::execute`, is not instrumented, as with reqwest:
///   [`Instrument`] passes it on untouched.
///
/// [`Instrument`]: crate::middleware::Instrument
#[cfg(feature = "reqwest-middleware")]
pub mod middleware {
    pub use filibuster_runtime::middleware::Instrument;
}

/// gRPC through tonic 0.14 (feature `tonic`): every RPC of a tonic client
/// over a [`grpc::ClientLayer`] is an instrumented call, failed with
/// tonic's genuine statuses; a tonic server takes the [`ServiceLayer`] as it
/// is. See [the gRPC chapter](crate::guide::grpc).
///
/// ```no_run
/// # fn main() {
/// use tonic::transport::{Endpoint, Server};
///
/// let channel = Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
/// let channel = tower::ServiceBuilder::new().layer(filibuster::grpc::ClientLayer::new()).service(channel);
/// // `MoviesClient::new(channel)`: a generated client takes it as it takes a channel.
/// # let _ = channel;
///
/// let server = Server::builder().layer(filibuster::ServiceLayer::new("movies"));
/// // `.add_service(MoviesServer::new(..)).serve(..)`.
/// # let _ = server;
/// # }
/// ```
#[cfg(feature = "tonic")]
pub use filibuster_runtime::grpc;

/// Export of the service's `tracing` spans over OTLP/HTTP to an
/// OpenTelemetry collector (Jaeger, Tempo, ...), set up in one call
/// (feature `otlp`):
///
/// ```no_run
/// # fn main() -> Result<(), filibuster::otlp::OtlpError> {
/// let _otlp = filibuster::otlp::init("users", env!("CARGO_PKG_VERSION"))?;
/// # Ok(())
/// # }
/// ```
///
/// See [`otlp::Otlp`] for the endpoint, the resource and a layer for a
/// subscriber of your own.
#[cfg(feature = "otlp")]
pub use filibuster_runtime::otlp;

#[doc(hidden)]
pub mod __private {
    #[cfg(feature = "explorer")]
    pub use filibuster_explorer::test_attribute::{TestOptions, no_services, run_test};
    pub use filibuster_runtime::grpc::rpc_scope;
    pub use filibuster_runtime::{Callsite, Incoming, dependency, run_handler, run_handler_from_env, send};
}
