//! [`ServiceLayer`]: every route of a router instrumented for a service, as
//! if each handler had `#[filibuster::handler]`; and the service name the
//! environment gives (`OTEL_SERVICE_NAME`, else the package's name).

use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use futures_util::future::Either;
use http::Request;
use tower_layer::Layer;
use tower_service::Service;
use tracing::Instrument as _;

use crate::connection::Connection;
use crate::handler::{By, instrumented, nothing_to_do, server_side};
use crate::spans;

/// The environment variable naming the service, as OpenTelemetry's SDKs read
/// it: [`ServiceLayer::from_env`] and `#[filibuster::handler]` without
/// `service = ".."` take the service's name from it, else from the package's
/// name.
pub const ENV_SERVICE_NAME: &str = "OTEL_SERVICE_NAME";

/// The name of the service whose code is in `package`: the value of
/// `OTEL_SERVICE_NAME` (read once, the first time a name is asked for, then
/// kept for the life of the process), else `package`.
pub(crate) fn service_from_env(package: &'static str) -> &'static str {
    static FROM_ENV: OnceLock<Option<&'static str>> = OnceLock::new();
    let from_env = FROM_ENV.get_or_init(|| {
        let name = std::env::var(ENV_SERVICE_NAME).ok()?;
        let name = name.trim();
        // Leaked once: the name lives as long as the process, as a literal does.
        (!name.is_empty()).then(|| &*String::leak(name.to_owned()))
    });
    from_env.unwrap_or(package)
}

/// Marks a request instrumented by a [`ServiceLayer`], so that another
/// `ServiceLayer` inside it, or the `#[filibuster::handler]` of its handler,
/// leaves it alone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Instrumented;

/// A tower layer that instruments every route of a router for one service:
/// each request gets what `#[filibuster::handler(service = "..")]` gives a
/// handler, without an attribute on each handler (so a route cannot be
/// forgotten).
///
/// ```no_run
/// # use filibuster_runtime as filibuster;
/// use axum::Router;
/// use axum::routing::get;
///
/// async fn user() -> &'static str { "a user" }
/// async fn user_bookings() -> &'static str { "their bookings" }
///
/// // In a test, the explorer's (`explorer.connection()`); here, HTTP.
/// let connection = filibuster::Connection::http("http://127.0.0.1:5005");
/// let users: Router = Router::new()
///     .route("/users/{user}", get(user))
///     .route("/users/{user}/bookings", get(user_bookings))
///     .layer(filibuster::ServiceLayer::new("users"))
///     // Last, so that it runs first: the connection the layer reports to.
///     .layer(connection.layer());
/// ```
///
/// With the instrumentation on ([`enabled`](crate::enabled)), each request
/// reports `request_received` when an instrumented call sent it, honours a
/// forced sleep (bounded by [`MAX_FORCED_SLEEP`](crate::headers::MAX_FORCED_SLEEP)),
/// and is handled with its [`RequestContext`](crate::RequestContext) in
/// scope, which the `#[filibuster::call]` sends of its handler (and of
/// everything else the router runs for it) use. Off, the request goes
/// straight to the router: no allocation, two relaxed atomic loads.
///
/// On or off, when a `tracing` subscriber wants it, the request is handled
/// in its server span (see the `spans` module), which records the
/// response's status and captured headers too.
///
/// # The connection, and the order of layers
///
/// The layer reports to the [`Connection`] that [`Connection::layer`] put
/// in the request's extensions, else to the process default
/// ([`Connection::process_default`]), as `#[filibuster::handler]` does. A
/// router's layers run last-added first, so add the connection's layer
/// *after* this one. Added before, it runs too late for this layer to see it:
/// the requests go to the process default, and when an
/// `Explorer` runs in the process and nobody chose that
/// default, the exploration fails naming the service (as for a router that
/// forgot the connection's layer). To have no order to mind, give the layer
/// its connection: `ServiceLayer::new("users").connection(explorer.connection())`.
///
/// # With `#[filibuster::handler]` too
///
/// A request is instrumented once. The outermost `ServiceLayer` wins: a
/// handler with `#[filibuster::handler]` behind it, or another
/// `ServiceLayer` (on a nested router), runs in the context the outer layer
/// made and reports nothing more, even if it names another service. So the
/// attributes may stay on handlers while a router moves to the layer.
#[derive(Debug, Clone)]
pub struct ServiceLayer {
    service: &'static str,
    connection: Option<Connection>,
}

impl ServiceLayer {
    /// A layer that instruments the routes it wraps as handlers of `service`.
    /// A name known only at run time can be leaked once: `String::leak`.
    ///
    /// # Panics
    ///
    /// If `service` is empty or blank.
    pub fn new(service: &'static str) -> Self {
        assert!(!service.trim().is_empty(), "ServiceLayer::new: the service's name must not be empty");
        Self { service, connection: None }
    }

    /// A layer for the service the environment names: `OTEL_SERVICE_NAME`
    /// when set (read once per process), else `package`, meant to be the
    /// name of the service's package:
    /// `ServiceLayer::from_env(env!("CARGO_PKG_NAME"))`. The same rule names
    /// the service of a `#[filibuster::handler]` without `service = ".."`.
    ///
    /// # Panics
    ///
    /// If the name it comes to is empty or blank.
    pub fn from_env(package: &'static str) -> Self {
        Self::new(service_from_env(package))
    }

    /// The layer reporting to `connection` whatever the requests carry:
    /// then the order of the layers does not matter.
    pub fn connection(mut self, connection: Connection) -> Self {
        self.connection = Some(connection);
        self
    }

    /// The name of the service.
    pub fn service(&self) -> &'static str {
        self.service
    }
}

impl<S> Layer<S> for ServiceLayer {
    type Service = InstrumentedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InstrumentedService { inner, service: self.service, connection: self.connection.clone() }
    }
}

/// The service of a [`ServiceLayer`]: `inner`, instrumented.
#[derive(Debug, Clone)]
pub struct InstrumentedService<S> {
    inner: S,
    service: &'static str,
    connection: Option<Connection>,
}

/// The future of an [`InstrumentedService`]: the inner service's own future
/// when the instrumentation is off and no `tracing` subscriber wants spans
/// (or an outer layer instruments the request), else that future, its
/// server span and the instrumentation in one box.
pub type ResponseFuture<F> = Either<F, Pin<Box<dyn Future<Output = <F as Future>::Output> + Send>>>;

impl<S, B, RB> Service<Request<B>> for InstrumentedService<S>
where
    S: Service<Request<B>, Response = http::Response<RB>>,
    S::Future: Send + 'static,
    S::Error: 'static,
    RB: 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        if nothing_to_do() || request.extensions().get::<Instrumented>().is_some() {
            return Either::Left(self.inner.call(request));
        }
        let side = server_side(
            request.method(),
            request.uri(),
            request.headers(),
            request.extensions(),
            self.connection.as_ref(),
            By::Layer,
        );
        let Some((span, incoming)) = side else {
            return Either::Left(self.inner.call(request));
        };
        request.extensions_mut().insert(Instrumented);
        spans::record_service(&span, self.service);
        // Not polled before `instrumented` reported the request and set the
        // context up: the handler runs in it.
        let response = self.inner.call(request);
        let service = self.service;
        Either::Right(Box::pin(async move {
            let result = match incoming {
                Some(incoming) => {
                    instrumented(incoming, service, response, span.clone()).instrument(span.clone()).await
                }
                None => response.instrument(span.clone()).await,
            };
            match &result {
                Ok(response) => spans::server_response(&span, response.status(), response.headers()),
                Err(_) => spans::server_failed(&span),
            }
            result
        }))
    }
}
