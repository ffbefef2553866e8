//! Dependency calls (`#[filibuster::dependency]`): an `async fn` returning
//! `Result<T, E>` is a fault site, explored like an HTTP call, and an
//! injected fault is the genuine error of `E`, as its crate returns it for
//! the real failure (a closed port, a silent server, a pool with no
//! connection left), checked here against that real failure.

#[path = "support/scripted.rs"]
mod scripted;
#[path = "support/servers.rs"]
mod servers;
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use filibuster::{Calls, Explorer, Fault, FaultModel, InjectFault};
use scripted::Scripted;
use sqlx::SqlitePool;

/// Service `orders`: stores an order in SQLite, and writes down what the
/// store answered, as the application sees it.
#[derive(Clone)]
struct Orders {
    db: SqlitePool,
    seen: Arc<Mutex<Vec<String>>>,
}

#[filibuster::dependency("sqlite")]
async fn insert_order(db: &SqlitePool, item: &str) -> Result<i64, sqlx::Error> {
    let (id,): (i64,) =
        sqlx::query_as("INSERT INTO orders (item) VALUES (?) RETURNING id").bind(item).fetch_one(db).await?;
    Ok(id)
}

#[filibuster::handler(service = "orders")]
async fn place_order(State(orders): State<Orders>) -> StatusCode {
    let seen = match insert_order(&orders.db, "tea").await {
        Ok(_) => "ok".to_owned(),
        Err(sqlx::Error::PoolTimedOut) => "PoolTimedOut".to_owned(),
        Err(sqlx::Error::Io(error)) => format!("Io {:?} {error}", error.kind()),
        Err(other) => format!("other {other}"),
    };
    let status = if seen == "ok" { StatusCode::CREATED } else { StatusCode::SERVICE_UNAVAILABLE };
    orders.seen.lock().unwrap().push(seen);
    status
}

/// An in-memory database: one connection, kept (each connection to
/// `sqlite::memory:` has a database of its own).
async fn orders_db() -> SqlitePool {
    let db = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .connect("sqlite::memory:")
        .await
        .unwrap();
    sqlx::query("CREATE TABLE orders (id INTEGER PRIMARY KEY, item TEXT NOT NULL)")
        .execute(&db)
        .await
        .unwrap();
    db
}

/// Explores `POST {path}` of `router` (given the explorer's layer) with
/// `model`: `ok` without a fault on `dependency`, 503 with one.
async fn explore_post(
    model: FaultModel,
    router: Router,
    path: &str,
    dependency: &'static str,
    ok: u16,
) -> filibuster::Report {
    let explorer = Explorer::with_fault_model(model);
    let url = support::serve(router.layer(explorer.connection().layer())).await;
    let http = reqwest::Client::new();
    explorer
        .run(|ctx| {
            let request = http.post(format!("{url}{path}"));
            async move {
                let status = request.send().await.map_err(|e| e.to_string())?.status();
                let expected = if ctx.fault_injected_on(dependency) { 503 } else { ok };
                if status != expected {
                    return Err(format!("expected {expected}, got {status}"));
                }
                Ok(())
            }
        })
        .await
}

/// Explores `POST /orders` with `model`: 201 without a fault, 503 with one.
async fn explore_orders(model: FaultModel) -> (filibuster::Report, Vec<String>, SqlitePool) {
    let db = orders_db().await;
    let seen = Arc::default();
    let orders = Orders { db: db.clone(), seen: Arc::clone(&seen) };
    let router = Router::new().route("/orders", post(place_order)).with_state(orders);
    let report = explore_post(model, router, "/orders", "sqlite", 201).await;
    let mut seen = seen.lock().unwrap().clone();
    seen.sort();
    (report, seen, db)
}

/// The built-in model tries each fault of `sqlx::Error` on the call, and
/// the handler sees each as sqlx's own value; the call is reported as a
/// call to `sqlite`, its operation the fn's name.
#[tokio::test]
async fn the_default_model_tries_each_fault_of_the_error_type() {
    let (report, seen, db) = explore_orders(FaultModel::default()).await;
    assert!(report.passed(), "{}", report.failure_message());
    assert_eq!(report.executions_run, 4, "{}", report.summary());
    let mut faults: Vec<&str> =
        report.executions.iter().flat_map(|e| &e.faults).map(|f| f.fault.as_str()).collect();
    faults.sort();
    assert_eq!(faults, ["sqlx.Io.ConnectionRefused", "sqlx.Io.UnexpectedEof", "sqlx.PoolTimedOut"]);
    for fault in report.executions.iter().flat_map(|e| &e.faults) {
        assert_eq!(fault.call.source, "orders");
        assert_eq!(fault.call.target.as_deref(), Some("sqlite"));
        assert_eq!(fault.call.method, "insert_order");
        assert!(
            fault.call.describe().starts_with("orders -> sqlite insert_order ("),
            "{}",
            fault.call.describe()
        );
    }
    let first = &report.executions[0].calls[0];
    assert_eq!(first.outcome.as_deref(), Some("Ok"));
    // The fault-free execution runs twice (checked for determinism).
    assert_eq!(
        seen,
        [
            "Io ConnectionRefused Connection refused (os error 111)",
            "Io UnexpectedEof expected to read 5 bytes, got 0 bytes at EOF",
            "PoolTimedOut",
            "ok",
            "ok",
        ]
    );
    // A faulted call's body did not run: two rows, from the runs without faults.
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders").fetch_one(&db).await.unwrap();
    assert_eq!(rows, 2);
}

/// The typed model takes rules by dependency and fault name; a name the
/// error type does not know is refused loudly, naming the ones it knows.
#[tokio::test]
async fn typed_rules_name_the_dependency_and_the_fault() {
    let model =
        FaultModel::empty().with(Calls::to("sqlite"), [Fault::DependencyError("sqlx.PoolTimedOut".into())]);
    let (report, seen, _) = explore_orders(model).await;
    assert!(report.passed(), "{}", report.failure_message());
    assert_eq!(report.executions_run, 2);
    assert_eq!(seen, ["PoolTimedOut", "ok", "ok"]);

    let model = FaultModel::empty().with(Calls::any(), [Fault::DependencyError("sqlx.PoolTimedOutt".into())]);
    let (report, _, _) = explore_orders(model).await;
    assert!(!report.passed());
    let message = report.failure_message();
    assert!(message.contains("`sqlx.PoolTimedOutt` is no failure a `sqlx` call can have"), "{message}");
    assert!(message.contains("sqlx.PoolTimedOut, sqlx.Io.ConnectionRefused"), "{message}");

    // A rule whose faults none of its calls can take (an HTTP fault on a
    // dependency call): said, not skipped.
    let model = FaultModel::empty()
        .with(Calls::to("sqlite"), [Fault::DependencyError("sqlx.PoolTimedOut".into())])
        .with(Calls::to("sqlite").method("insert_order"), [Fault::ConnectionError, Fault::Status(503)]);
    let (report, _, _) = explore_orders(model).await;
    assert_eq!(report.executions_run, 2);
    assert_eq!(
        report.errors,
        [filibuster::RunError::IdleRule {
            rule: "calls to `sqlite` with INSERT_ORDER".into(),
            faults: "[ConnectionError, Status(503)]".into()
        }]
    );
    assert!(report.failure_message().contains("none of its faults"), "{}", report.failure_message());

    // A rule for another dependency matches no call: the run says so.
    let model = FaultModel::empty().with(Calls::to("postgres"), [Fault::DependencyErrors]);
    let (report, _, _) = explore_orders(model).await;
    assert_eq!(report.errors, [filibuster::RunError::NoFaultToTry { calls: 1 }]);
    assert!(report.failure_message().contains("a dependency call's is its dependency"));
}

/// An error type that names no fault: its calls are reported, never
/// failed, and that is said once, naming the fn and the type.
#[derive(Debug)]
struct Faultless;

impl InjectFault for Faultless {
    const MODULE: &'static str = "faultless";
    const FAULTS: &'static [&'static str] = &[];

    fn inject(_: &str) -> Option<Self> {
        None
    }

    fn fault_name(&self) -> Option<&'static str> {
        None
    }
}

#[filibuster::dependency("ledger")]
async fn record_in_ledger() -> Result<(), Faultless> {
    Ok(())
}

#[filibuster::handler(service = "books")]
async fn keep_books() -> StatusCode {
    let _ = record_in_ledger().await;
    let _ = record_in_ledger().await;
    StatusCode::OK
}

#[tokio::test]
async fn an_error_type_without_faults_is_said() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let logs = support::Logs::of_target("filibuster");
    let _subscriber = support::set_default(tracing_subscriber::registry().with(logs.clone()));
    let explorer = Explorer::new();
    let url =
        support::serve(Router::new().route("/books", post(keep_books)).layer(explorer.connection().layer()))
            .await;
    let http = reqwest::Client::new();
    let report = explorer
        .run(|_| {
            let request = http.post(format!("{url}/books"));
            async move { request.send().await.map(|_| ()).map_err(|e| e.to_string()) }
        })
        .await;
    assert_eq!(report.errors, [filibuster::RunError::NoFaultToTry { calls: 2 }]);
    let warnings: Vec<String> =
        logs.of(tracing::Level::WARN).into_iter().filter(|w| w.contains("names no fault")).collect();
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert!(warnings[0].contains("`record_in_ledger`") && warnings[0].contains("Faultless"), "{warnings:?}");
}

/// Outside a request (on purpose: in `outside_requests`, as a service's
/// startup or background job runs), the fn is the fn as written, on or off.
#[tokio::test]
async fn outside_a_request_the_fn_is_the_fn() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let logs = support::Logs::of_target("filibuster");
    let _subscriber = support::set_default(tracing_subscriber::registry().with(logs.clone()));
    let db = orders_db().await;
    filibuster::enable();
    filibuster::outside_requests(async {
        assert_eq!(insert_order(&db, "tea").await.unwrap(), 1);
        assert_eq!(insert_order(&db, "jam").await.unwrap(), 2);
    })
    .await;
    // On purpose, so nothing is said (outside `outside_requests`, a
    // warning would name the fn).
    let said = logs.of(tracing::Level::WARN);
    assert!(!said.iter().any(|w| w.contains("outside any instrumented request")), "{said:#?}");
}

/// A `?` and an early `return` in the body keep their meaning.
#[filibuster::dependency("disk", operation = "read config")]
async fn read_config(path: &std::path::Path) -> std::io::Result<String> {
    if path.as_os_str().is_empty() {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidInput, "no path"));
    }
    let text = tokio::fs::read_to_string(path).await?;
    Ok(text.trim().to_owned())
}

#[tokio::test]
async fn question_marks_and_returns_keep_their_meaning() {
    filibuster::outside_requests(async {
        let error = read_config(std::path::Path::new("")).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
        let error = read_config(std::path::Path::new("/nonexistent/filibuster")).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::NotFound);
        assert_eq!(error.fault_name(), None);
    })
    .await;
}

// ----- each built-in fault against the real failure -----

#[tokio::test]
async fn injected_io_errors_are_the_real_ones() {
    let port = support::free_port();
    let real = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap_err();
    let injected = std::io::Error::inject(filibuster::fault::io_faults::CONNECTION_REFUSED).unwrap();
    assert_eq!(injected.kind(), real.kind());
    assert_eq!(injected.raw_os_error(), real.raw_os_error());
    assert_eq!(injected.to_string(), real.to_string());
    assert_eq!(real.fault_name(), Some(filibuster::fault::io_faults::CONNECTION_REFUSED));

    // A peer that resets the connection (`SO_LINGER` 0, then closed).
    use tokio::io::AsyncReadExt as _;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let resetting = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        socket.set_zero_linger().unwrap();
    });
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    resetting.await.unwrap();
    let real = stream.read(&mut [0; 16]).await.unwrap_err();
    let injected = std::io::Error::inject(filibuster::fault::io_faults::CONNECTION_RESET).unwrap();
    assert_eq!((injected.kind(), injected.raw_os_error()), (real.kind(), real.raw_os_error()));
    assert_eq!(injected.to_string(), real.to_string());
}

#[tokio::test]
async fn injected_sqlx_errors_are_the_real_ones() {
    use filibuster::fault::sqlx as faults;
    // A pool whose one connection is taken: the next acquire times out.
    let pool = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_millis(50))
        .connect("sqlite::memory:")
        .await
        .unwrap();
    let held = pool.acquire().await.unwrap();
    let real = pool.acquire().await.unwrap_err();
    let injected = sqlx::Error::inject(faults::POOL_TIMED_OUT).unwrap();
    assert!(matches!((&real, &injected), (sqlx::Error::PoolTimedOut, sqlx::Error::PoolTimedOut)), "{real:?}");
    assert_eq!(injected.to_string(), real.to_string());
    assert_eq!(real.fault_name(), Some(faults::POOL_TIMED_OUT));
    drop(held);

    // PostgreSQL at a closed port: a connection is refused...
    use sqlx::Connection as _;
    let url = format!("postgres://filibuster@127.0.0.1:{}/shop", support::free_port());
    let real = sqlx::PgConnection::connect(&url).await.unwrap_err();
    let injected = sqlx::Error::inject(faults::CONNECTION_REFUSED).unwrap();
    let (sqlx::Error::Io(real_io), sqlx::Error::Io(injected_io)) = (&real, &injected) else {
        panic!("not both I/O errors: {real:?} {injected:?}");
    };
    assert_eq!(injected_io.kind(), real_io.kind());
    assert_eq!(injected_io.raw_os_error(), real_io.raw_os_error());
    assert_eq!(injected.to_string(), real.to_string());
    assert_eq!(real.fault_name(), Some(faults::CONNECTION_REFUSED));
    // ... and a pool, which retries until its acquire timeout, times out.
    let real = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(200))
        .connect(&url)
        .await
        .unwrap_err();
    assert!(matches!(real, sqlx::Error::PoolTimedOut), "{real:?}");
}

#[tokio::test]
async fn injected_redis_errors_are_the_real_ones() {
    use filibuster::fault::redis as faults;
    let connect = |port: u16| async move {
        let client = redis::Client::open(format!("redis://127.0.0.1:{port}/")).unwrap();
        let config =
            redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_millis(100)));
        client.get_multiplexed_async_connection_with_config(&config).await
    };
    // Nothing listens: refused.
    let real = connect(support::free_port()).await.unwrap_err();
    let injected = redis::RedisError::inject(faults::CONNECTION_REFUSED).unwrap();
    assert!(real.is_connection_refusal() && injected.is_connection_refusal(), "{real:?} {injected:?}");
    assert_eq!((injected.kind(), injected.to_string()), (real.kind(), real.to_string()));
    assert_eq!(real.fault_name(), Some(faults::CONNECTION_REFUSED));

    // A server that accepts and never answers: the response times out.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let held = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    // The connection's own handshake gets no answer.
    let real = connect(port).await.unwrap_err();
    let injected = redis::RedisError::inject(faults::TIMED_OUT).unwrap();
    assert!(real.is_timeout() && injected.is_timeout(), "{real:?} {injected:?}");
    assert_eq!((injected.kind(), injected.to_string()), (real.kind(), real.to_string()));
    assert_eq!(real.fault_name(), Some(faults::TIMED_OUT));
    held.abort();

    // A server busy running a script answers `BUSY`, as Redis words it.
    let busy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = busy.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = busy.accept().await {
            tokio::spawn(async move {
                let answer: &[u8] =
                    b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
                let mut buffer = [0; 4096];
                while let Ok(n) = socket.read(&mut buffer).await {
                    if n == 0 {
                        break;
                    }
                    // One answer per command (an array, `*<n>`), pipelined or not.
                    let read = &buffer[..n];
                    let commands = usize::from(read.first() == Some(&b'*'))
                        + read.windows(3).filter(|w| w == b"\r\n*").count();
                    if socket.write_all(&answer.repeat(commands)).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    let mut connection = connect(port).await.unwrap();
    let real =
        redis::cmd("GET").arg("order:1").query_async::<Option<String>>(&mut connection).await.unwrap_err();
    let injected = redis::RedisError::inject(faults::BUSY).unwrap();
    assert_eq!((injected.kind(), injected.code()), (real.kind(), real.code()));
    assert_eq!(injected.to_string(), real.to_string());
    assert_eq!(real.fault_name(), Some(faults::BUSY));
    server.abort();
}

// ----- the shop example -----

/// Explores the shop (`examples/shop/`) with the default model.
async fn explore_shop(explorer: &Explorer, bug: shop::Bug) -> filibuster::Report {
    let started = shop::start(&explorer.connection(), bug).await.unwrap();
    let http = reqwest::Client::new();
    explorer
        .run(|ctx| {
            let (http, started) = (&http, &started);
            async move {
                shop::check_order(http, &started.orders, &started.orders_db, async || ctx.fault_injected())
                    .await
            }
        })
        .await
}

/// The shop's counts, as the README reasons them: 1 fault-free execution,
/// 5 faults on the call to `inventory`, 3 on each database call; the 503
/// on the call to `inventory` is pruned, as a database fault in `inventory`
/// already made that call answer 503.
#[tokio::test]
async fn the_shop_explores_its_database_calls() {
    let report = explore_shop(&Explorer::new(), shop::Bug::None).await;
    assert!(report.passed(), "{}", report.failure_message());
    assert_eq!((report.executions_run, report.executions_pruned), (11, 1), "{}", report.summary());
    let grid = report.grid();
    let calls: Vec<String> = grid.rows.iter().map(|row| row.site.describe()).collect();
    assert_eq!(calls.len(), 3, "{calls:?}");
    assert!(calls[1].starts_with("inventory -> sqlite take_from_stock ("), "{calls:?}");
    assert!(calls[2].starts_with("orders -> sqlite insert_order ("), "{calls:?}");
    let table = report.grid_table();
    assert!(table.contains("sqlx.PoolTimedOut"), "{table}");
    // The HTML report names a dependency call by its dependency and
    // operation, without a path.
    let html = report.to_html();
    assert!(html.contains("orders -&gt; sqlite <code>insert_order</code>"), "{html}");
    assert!(html.contains("sqlx.Io.UnexpectedEof on sqlite insert_order"), "{html}");
}

/// With the bug, a database fault on the order's write is found (an order
/// confirmed and lost), and its counterexample replays it; without the
/// bug, the replay passes.
#[tokio::test]
async fn the_shops_bug_is_found_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shop-counterexample.json");
    let report =
        explore_shop(&Explorer::new().counterexample_file(&path), shop::Bug::ConfirmUnwrittenOrders).await;
    assert!(!report.passed());
    let failed = report.failures().next().expect("a failed execution");
    let faults: Vec<(&str, Option<&str>, &str)> = failed
        .faults
        .iter()
        .map(|f| (f.call.method.as_str(), f.call.target.as_deref(), f.fault.as_str()))
        .collect();
    assert_eq!(faults.len(), 1, "{faults:?}");
    assert_eq!(faults[0].0, "insert_order");
    assert_eq!(faults[0].1, Some("sqlite"));
    assert!(faults[0].2.starts_with("sqlx."), "{faults:?}");
    assert!(
        report.failure_message().contains("is not in the orders' database"),
        "{}",
        report.failure_message()
    );

    let counterexample = filibuster::Counterexample::load(&path).unwrap();
    let replay =
        explore_shop(&Explorer::new().replay(counterexample.clone()), shop::Bug::ConfirmUnwrittenOrders)
            .await;
    assert_eq!(replay.replay, Some(filibuster::ReplayOutcome::Reproduced));
    let replay = explore_shop(&Explorer::new().replay(counterexample), shop::Bug::None).await;
    assert_eq!(replay.replay, Some(filibuster::ReplayOutcome::Fixed), "{}", replay.failure_message());
}

// ----- real servers: PostgreSQL and Redis -----

/// An order service on PostgreSQL, explored with the default model: each
/// fault of `sqlx::Error` on its write; then the server is stopped, and what
/// sqlx returns is what the faults injected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_calls_are_explored_and_fail_as_faults_make_them() {
    use sqlx::Connection as _;
    use sqlx::PgPool;

    let Some(mut server) = servers::postgres("postgres_calls_are_explored_and_fail_as_faults_make_them")
    else {
        return;
    };
    let url = servers::postgres_url(server.port);
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_millis(500))
        .connect(&url)
        .await
        .unwrap();
    sqlx::query("CREATE TABLE orders (id BIGSERIAL PRIMARY KEY, item TEXT NOT NULL)")
        .execute(&pool)
        .await
        .unwrap();

    #[filibuster::dependency("postgres")]
    async fn insert(db: &PgPool, item: &str) -> Result<i64, sqlx::Error> {
        let (id,): (i64,) = sqlx::query_as("INSERT INTO orders (item) VALUES ($1) RETURNING id")
            .bind(item)
            .fetch_one(db)
            .await?;
        Ok(id)
    }

    #[filibuster::handler(service = "orders")]
    async fn order(State(db): State<PgPool>) -> StatusCode {
        match insert(&db, "tea").await {
            Ok(_) => StatusCode::CREATED,
            Err(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    let router = Router::new().route("/orders", post(order)).with_state(pool.clone());
    let report = explore_post(FaultModel::default(), router, "/orders", "postgres", 201).await;
    assert!(report.passed(), "{}", report.failure_message());
    assert_eq!(report.executions_run, 4, "{}", report.summary());
    let (rows,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM orders").fetch_one(&pool).await.unwrap();
    assert_eq!(rows, 2, "only the fault-free runs wrote");

    // The server stops: a new connection is refused, a pool times out.
    let mut held = pool.acquire().await.unwrap();
    server.kill();
    let refused = sqlx::PgConnection::connect(&url).await.unwrap_err();
    let injected = sqlx::Error::inject(filibuster::fault::sqlx::CONNECTION_REFUSED).unwrap();
    assert_eq!(refused.to_string(), injected.to_string());
    assert_eq!(refused.fault_name(), injected.fault_name());
    let timed_out = pool.acquire().await.unwrap_err();
    assert_eq!(timed_out.to_string(), sqlx::Error::PoolTimedOut.to_string());
    assert_eq!(timed_out.fault_name(), Some(filibuster::fault::sqlx::POOL_TIMED_OUT));
    // A connection the server closed fails its next query at the end of
    // its stream.
    let dropped = sqlx::query("SELECT 1").execute(&mut *held).await.unwrap_err();
    let injected = sqlx::Error::inject(filibuster::fault::sqlx::UNEXPECTED_EOF).unwrap();
    let (sqlx::Error::Io(dropped_io), sqlx::Error::Io(injected_io)) = (&dropped, &injected) else {
        panic!("not both I/O errors: {dropped:?} {injected:?}");
    };
    assert_eq!((dropped_io.kind(), dropped.to_string()), (injected_io.kind(), injected.to_string()));
    assert_eq!(dropped.fault_name(), Some(filibuster::fault::sqlx::UNEXPECTED_EOF));
}

/// A cache on Redis, explored with the default model; and the real `BUSY`
/// of a server running a long script, and the refusal of a stopped one,
/// are what the faults inject.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_calls_are_explored_and_fail_as_faults_make_them() {
    use redis::AsyncCommands as _;
    use redis::aio::MultiplexedConnection;

    let Some(mut server) = servers::redis("redis_calls_are_explored_and_fail_as_faults_make_them") else {
        return;
    };
    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", server.port)).unwrap();
    let connection = client.get_multiplexed_async_connection().await.unwrap();

    #[filibuster::dependency("redis", operation = "count visit")]
    async fn count_visit(mut cache: MultiplexedConnection) -> redis::RedisResult<i64> {
        cache.incr("visits", 1).await
    }

    #[filibuster::handler(service = "front")]
    async fn visit(State(cache): State<MultiplexedConnection>) -> StatusCode {
        match count_visit(cache).await {
            Ok(_) => StatusCode::OK,
            Err(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    let router = Router::new().route("/visit", post(visit)).with_state(connection.clone());
    let report = explore_post(FaultModel::default(), router, "/visit", "redis", 200).await;
    assert!(report.passed(), "{}", report.failure_message());
    assert_eq!(report.executions_run, 4, "{}", report.summary());
    let mut faults: Vec<&str> =
        report.executions.iter().flat_map(|e| &e.faults).map(|f| f.fault.as_str()).collect();
    faults.sort();
    assert_eq!(faults, ["redis.BUSY", "redis.ConnectionRefused", "redis.TimedOut"]);

    // A script that never ends keeps the server busy: others get `BUSY`.
    let mut admin = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("busy-reply-threshold")
        .arg("50")
        .query_async(&mut admin)
        .await
        .unwrap();
    let mut looping = client.get_multiplexed_async_connection().await.unwrap();
    let script = tokio::spawn(async move {
        redis::cmd("EVAL").arg("while true do end").arg(0).query_async::<()>(&mut looping).await
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let busy = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        match redis::cmd("GET").arg("visits").query_async::<Option<i64>>(&mut admin).await {
            Err(error) => break error,
            Ok(_) => assert!(std::time::Instant::now() < deadline, "the server never got busy"),
        }
    };
    let injected = redis::RedisError::inject(filibuster::fault::redis::BUSY).unwrap();
    assert_eq!((busy.kind(), busy.code()), (injected.kind(), injected.code()), "{busy:?}");
    assert_eq!(busy.to_string(), injected.to_string());
    assert_eq!(busy.fault_name(), Some(filibuster::fault::redis::BUSY));
    let _: () = redis::cmd("SCRIPT").arg("KILL").query_async(&mut admin).await.unwrap();
    assert!(script.await.unwrap().is_err(), "the killed script fails");

    // The server stops: a new connection is refused.
    server.kill();
    let refused = client.get_multiplexed_async_connection().await.unwrap_err();
    let injected = redis::RedisError::inject(filibuster::fault::redis::CONNECTION_REFUSED).unwrap();
    assert!(refused.is_connection_refusal(), "{refused:?}");
    assert_eq!((refused.kind(), refused.to_string()), (injected.kind(), injected.to_string()));
}

/// The built-in analysis file names the faults of the built-in error types,
/// as they name them, so that a server reading it (the reference's too)
/// tries each.
#[test]
fn the_built_in_model_names_the_faults_of_the_built_in_error_types() {
    let model: serde_json::Value = serde_json::from_str(filibuster::REQWEST_DEFAULT).unwrap();
    for (module, faults) in [
        ("sqlx", <sqlx::Error as InjectFault>::FAULTS),
        ("redis", <redis::RedisError as InjectFault>::FAULTS),
        ("io", <std::io::Error as InjectFault>::FAULTS),
    ] {
        let names: Vec<&str> = model[module]["exceptions"]
            .as_array()
            .unwrap_or_else(|| panic!("no {module} in the built-in model"))
            .iter()
            .map(|exception| exception["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, faults, "{module}");
        assert_eq!(model[module]["pattern"], format!("{module}\\."), "{module}");
    }
}

// ----- on the wire, against a server of any kind -----

/// Serves `app` reporting to a scripted server answering `answers`, the
/// instrumentation on: the server, and the app's base URL.
async fn serve_scripted(answers: Vec<serde_json::Value>, app: Router) -> (Scripted, String) {
    let (server, connection) = Scripted::connect(answers).await;
    filibuster::enable();
    (server, support::serve(app.layer(connection.layer())).await)
}

/// How often `append_line`'s body ran.
static APPENDED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

#[filibuster::dependency("disk", operation = "append line")]
async fn append_line() -> std::io::Result<()> {
    APPENDED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    Ok(())
}

#[filibuster::handler(service = "journal")]
async fn journal() -> String {
    match append_line().await {
        Ok(()) => "ok".to_owned(),
        Err(error) => format!("{:?}", error.kind()),
    }
}

/// The records of a dependency call, and what a server's answers make of
/// it: a status or an exception it cannot take lets it go ahead, said; a
/// non-aborting fault runs the body, then fails.
#[tokio::test]
async fn dependency_calls_on_the_wire() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let logs = support::Logs::of_target("filibuster");
    let _subscriber = support::set_default(tracing_subscriber::registry().with(logs.clone()));
    let answers = vec![
        serde_json::json!({}),
        serde_json::json!({"failure_metadata": {"return_value": {"status_code": "503"}}}),
        serde_json::json!({"forced_exception": {"name": "redis.BUSY"}}),
        serde_json::json!({"forced_exception": {"name": "io.ConnectionReset", "metadata": {"abort": false}}}),
        serde_json::json!({"forced_exception": {"name": "io.TimedOut"}}),
    ];
    let (server, url) = serve_scripted(answers, Router::new().route("/journal", post(journal))).await;
    let http = reqwest::Client::new();
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(http.post(format!("{url}/journal")).send().await.unwrap().text().await.unwrap());
    }
    assert_eq!(seen, ["ok", "ok", "ok", "ConnectionReset", "TimedOut"]);
    // The body ran but under the aborting fault.
    assert_eq!(APPENDED.load(std::sync::atomic::Ordering::SeqCst), 4);

    let creates = server.records("invocation");
    assert_eq!(creates.len(), 5);
    let first = &creates[0];
    assert_eq!(
        (&first["module"], &first["method"], &first["args"]),
        (&"io".into(), &"append line".into(), &serde_json::json!(["disk"]))
    );
    assert_eq!(first["metadata"]["dependency"], "disk");
    assert_eq!(
        first["metadata"]["faults"],
        serde_json::json!(["io.ConnectionRefused", "io.ConnectionReset", "io.TimedOut"])
    );
    let completes = server.records("invocation_complete");
    assert_eq!(completes[0]["return_value"], serde_json::json!({"__class__": "Ok"}));
    assert_eq!(completes[3]["exception"]["name"], "io.ConnectionReset");
    assert_eq!(completes[4]["exception"]["name"], "io.TimedOut");

    let errors = logs.of(tracing::Level::ERROR);
    assert!(errors.iter().any(|e| e.contains("asked for a status on a io call")), "{errors:#?}");
    assert!(
        errors.iter().any(|e| e.contains("redis.BUSY")
            && e.contains("io.ConnectionRefused, io.ConnectionReset, io.TimedOut")),
        "{errors:#?}"
    );
}

/// An `InjectFault` that names a fault it cannot make.
#[derive(Debug)]
struct Liar;

impl InjectFault for Liar {
    const MODULE: &'static str = "liar";
    const FAULTS: &'static [&'static str] = &["liar.Down"];

    fn inject(_: &str) -> Option<Self> {
        None
    }

    fn fault_name(&self) -> Option<&'static str> {
        None
    }
}

#[filibuster::dependency("liar")]
async fn ask_the_liar() -> Result<(), Liar> {
    Ok(())
}

#[filibuster::handler(service = "asker")]
async fn ask() -> &'static str {
    match ask_the_liar().await {
        Ok(()) => "ok",
        Err(Liar) => "err",
    }
}

/// An error type that names a fault it cannot make is said, naming the
/// type and the fault, and the call goes ahead.
#[tokio::test]
async fn a_broken_inject_fault_is_said() {
    use tracing_subscriber::layer::SubscriberExt as _;
    let logs = support::Logs::of_target("filibuster");
    let _subscriber = support::set_default(tracing_subscriber::registry().with(logs.clone()));
    let answers = vec![serde_json::json!({"forced_exception": {"name": "liar.Down"}})];
    let (_server, url) = serve_scripted(answers, Router::new().route("/ask", post(ask))).await;
    let answer =
        reqwest::Client::new().post(format!("{url}/ask")).send().await.unwrap().text().await.unwrap();
    assert_eq!(answer, "ok");
    let errors = logs.of(tracing::Level::ERROR);
    assert!(
        errors.iter().any(|e| e.contains("names `liar.Down` among its `FAULTS` but makes no error of it")
            && e.contains("Liar")),
        "{errors:#?}"
    );
}
