//! The tonic adapter of the call core: [`ClientLayer`], a tower layer over
//! a tonic `Channel` (or any `GrpcService`), and the [`Call`] of one RPC.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::TryFutureExt as _;
use futures_util::future::{BoxFuture, Either, ErrInto, MapOk};
use http::{HeaderMap, StatusCode};
use http_body::Body;
use serde_json::{Map, Value};
use tower_layer::Layer;
use tower_service::Service;
use tracing::Span;

use super::body::ObservedBody;
use super::fault::{self, Fault};
use super::{BoxError, code};
use crate::call::{Call, CallKey, Completion, Outcome, drive};
use crate::callsite::Callsite;
use crate::context::RequestContext;
use crate::records::{Exception, ReturnValue};
use crate::{spans, switch};

/// A tower layer that makes every RPC of a tonic client an instrumented
/// call: put it over the client's `Channel`.
///
/// ```no_run
/// # use filibuster_runtime as filibuster;
/// # fn example() -> Result<(), tonic::transport::Error> {
/// use std::time::Duration;
///
/// let channel = tonic::transport::Endpoint::from_static("http://movies:50051")
///     .timeout(Duration::from_secs(2))
///     .connect_lazy();
/// let channel = tower::ServiceBuilder::new()
///     // The channel's timeout, which the layer cannot see, declared.
///     .layer(filibuster::grpc::ClientLayer::new().timeout(Duration::from_secs(2)))
///     .service(channel);
/// # let _ = channel;
/// # Ok(())
/// # }
/// ```
///
/// Inert when the instrumentation is off: each RPC is the channel's own (its
/// body as tonic's `Body`, which a channel's already is; its error boxed as
/// tonic boxes it).
#[derive(Clone, Debug, Default)]
pub struct ClientLayer {
    timeout: Option<Duration>,
}

impl ClientLayer {
    /// The layer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares the timeout of the channel under the layer
    /// (`Endpoint::timeout`), which its RPCs do not show: reported as an
    /// RPC's timeout when it sets none itself (`Request::set_timeout`), so
    /// that timeout faults are tried on them.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }
}

impl<S> Layer<S> for ClientLayer {
    type Service = Client<S>;

    fn layer(&self, inner: S) -> Client<S> {
        Client { inner, timeout: self.timeout.map(|timeout| timeout.as_secs_f64()) }
    }
}

/// The service of a [`ClientLayer`]: `inner`, each RPC instrumented.
#[derive(Clone, Debug)]
pub struct Client<S> {
    inner: S,
    /// The channel's declared timeout, in seconds.
    timeout: Option<f64>,
}

/// The future of an RPC the instrumentation leaves alone.
type PlainFuture<F, B> =
    MapOk<ErrInto<F, BoxError>, fn(http::Response<B>) -> http::Response<tonic::body::Body>>;

impl<S, ReqBody, ResBody> Service<http::Request<ReqBody>> for Client<S>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    ReqBody: Send + 'static,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = BoxError;
    type Future =
        Either<PlainFuture<S::Future, ResBody>, BoxFuture<'static, Result<Self::Response, BoxError>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: http::Request<ReqBody>) -> Self::Future {
        if !switch::enabled() && !spans::rpc_wanted() {
            let plain: fn(http::Response<ResBody>) -> Self::Response =
                |response| response.map(tonic::body::Body::new);
            return Either::Left(self.inner.call(request).err_into().map_ok(plain));
        }
        // The readied service performs the RPC; a clone takes its place.
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let service = RequestContext::with_current(RequestContext::service).unwrap_or("");
        let (callsite, path) = rpc(service, &request);
        // The fn's declared timeout, else the channel's.
        let call =
            GrpcCall { inner, request, path, declared_timeout: callsite.client_timeout.or(self.timeout) };
        Either::Right(Box::pin(drive(call, callsite, None)))
    }
}

/// Where an RPC is made, which names its callsite: in a service, or in a
/// `#[filibuster::call]` fn (known by its callsite's id).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Scope {
    /// In a request of this service, outside any `#[filibuster::call]` fn.
    Service(&'static str),
    /// In the `#[filibuster::call]` fn of this callsite.
    Fn(&'static str),
}

/// The callsite of an RPC made in the current scope (by `service`, or in
/// the `#[filibuster::call]` fn under way), and its path:
/// `/<service>/<method>` from the generated client's `GrpcMethod`, else the
/// request's (which an origin with a path prefixes). The path is kept with
/// the callsite, not copied at each RPC.
fn rpc<B>(service: &'static str, request: &http::Request<B>) -> (&'static Callsite, Cow<'static, str>) {
    thread_local! {
        static PATH: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
    }
    let caller = super::caller::current();
    let of_path = |path: &str| match callsite(service, caller, path) {
        Some((callsite, path)) => (callsite, Cow::Borrowed(path)),
        None => (&OVERFLOW, Cow::Owned(path.to_owned())),
    };
    match request.extensions().get::<tonic::GrpcMethod<'static>>() {
        Some(method) => PATH.with_borrow_mut(|path| {
            path.clear();
            path.extend(["/", method.service(), "/", method.method()]);
            of_path(path)
        }),
        None => of_path(request.uri().path()),
    }
}

/// The callsite the RPCs share past [`MAX_CALLSITES`].
static OVERFLOW: Callsite = Callsite {
    id: "grpc-callsites-overflow",
    function: "(any RPC)",
    file: CALLSITE_FILE,
    line: 0,
    client_timeout: None,
};

/// The callsite of the RPCs of `path` made by `service`, in the
/// `#[filibuster::call]` fn of `caller` if any, and the path, kept. In a
/// service, its id is the md5 of the service and the path, its `function`
/// the path, at no line; in a fn, its id the md5 of the fn's callsite id and
/// the path, its place the fn's. Either is the same on every build. Made
/// once per pair and kept, up to [`MAX_CALLSITES`]; past them, `None` (the
/// pairs share [`OVERFLOW`]).
fn callsite(
    service: &'static str,
    caller: Option<&'static Callsite>,
    path: &str,
) -> Option<(&'static Callsite, &'static str)> {
    type Callsites = HashMap<Scope, HashMap<String, (&'static Callsite, &'static str)>>;
    static CALLSITES: Mutex<Option<Callsites>> = Mutex::new(None);
    let scope = match caller {
        Some(caller) => Scope::Fn(caller.id),
        None => Scope::Service(service),
    };
    let mut callsites = CALLSITES.lock().unwrap_or_else(|e| e.into_inner());
    let callsites = callsites.get_or_insert_with(HashMap::new);
    if let Some(known) = callsites.get(&scope).and_then(|paths| paths.get(path)) {
        return Some(*known);
    }
    if callsites.values().map(HashMap::len).sum::<usize>() >= MAX_CALLSITES {
        return None;
    }
    let path: &'static str = String::leak(path.to_owned());
    let callsite = match caller {
        None => Callsite {
            id: String::leak(crate::wire::md5_hex(format!("grpc:{service}:{path}"))),
            function: path,
            file: CALLSITE_FILE,
            line: 0,
            client_timeout: None,
        },
        Some(caller) => Callsite {
            id: String::leak(crate::wire::md5_hex(format!("grpc:{}:{path}", caller.id))),
            function: caller.function,
            file: caller.file,
            line: caller.line,
            client_timeout: caller.client_timeout,
        },
    };
    let callsite: &'static Callsite = Box::leak(Box::new(callsite));
    callsites.entry(scope).or_default().insert(path.to_owned(), (callsite, path));
    Some((callsite, path))
}

/// Where an RPC's callsite is, for people: the client layer, at no line.
const CALLSITE_FILE: &str = "grpc::ClientLayer";

/// The header of an RPC's own timeout.
const GRPC_TIMEOUT: http::HeaderName = http::HeaderName::from_static("grpc-timeout");
/// The header (or trailer) of an RPC's status.
const GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");

/// RPC callsites kept: a bound on what clients calling ever new paths make
/// this process hold.
const MAX_CALLSITES: usize = 4096;

/// One RPC: the readied service that performs it, its request and path.
struct GrpcCall<S, ReqBody> {
    inner: S,
    request: http::Request<ReqBody>,
    path: Cow<'static, str>,
    declared_timeout: Option<f64>,
}

impl<S, ReqBody, ResBody> Call for GrpcCall<S, ReqBody>
where
    S: Service<http::Request<ReqBody>, Response = http::Response<ResBody>>,
    S::Error: Into<BoxError>,
    ResBody: Body<Data = Bytes> + Send + 'static,
    ResBody::Error: Into<BoxError>,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = BoxError;
    type FaultContext = ();
    type Fault = Fault;

    fn key(&self) -> CallKey {
        let own =
            self.request.headers().get(&GRPC_TIMEOUT).and_then(|value| grpc_timeout(value.to_str().ok()?));
        CallKey {
            module: super::MODULE,
            method: self.path.clone(),
            target: self.path.clone(),
            dependency: None,
            timeout: own.map(|timeout| timeout.as_secs_f64()).or(self.declared_timeout),
            tls: self.request.uri().scheme_str() == Some("https"),
        }
    }

    fn headers_mut(&mut self) -> Option<&mut HeaderMap> {
        Some(self.request.headers_mut())
    }

    fn client_span(&mut self, callsite: &'static Callsite) -> Span {
        let (service, method) = super::split_path(&self.path);
        let span = spans::rpc_client(service, method, callsite);
        spans::propagate(&span, self.request.headers_mut());
        span
    }

    fn end_client_span(span: &Span, result: Result<&Self::Response, &BoxError>) {
        match result {
            // A trailers-only answer; otherwise its body ends the span.
            Ok(response) if response.headers().contains_key(&GRPC_STATUS) => {
                end_span_with(span, &outcome_of_trailers(Some(response.headers()), response.status()))
            }
            // No gRPC status, and no trailers to come (a proxy's answer).
            Ok(response) if response.status() != StatusCode::OK => {
                end_span_with(span, &outcome_of_trailers(None, response.status()))
            }
            Ok(_) => {}
            Err(error) => end_span_with(span, &Err(exception_of_error(&**error))),
        }
    }

    fn fault_context(&self) -> &() {
        &()
    }

    fn perform(self) -> impl Future<Output = Result<Self::Response, BoxError>> {
        let mut inner = self.inner;
        // The error as the status tonic makes of it: tonic takes a boxed
        // `Status` back as it is (its source the error), so the caller gets
        // the same status, and the record its code.
        let status = |error: S::Error| -> BoxError { Box::new(tonic::Status::from_error(error.into())) };
        inner.call(self.request).map_err(status).map_ok(|response| response.map(tonic::body::Body::new))
    }

    fn fault(exception: &Exception) -> Option<Fault> {
        match exception.name.as_str() {
            super::TIMEOUT => Some(Fault::Timeout),
            name if super::is_status_name(name) => match status_code(&exception.metadata)? {
                tonic::Code::Unavailable => Some(Fault::Refused),
                code => Some(Fault::Status(code)),
            },
            _ => None,
        }
    }

    fn fault_names() -> Vec<&'static str> {
        super::EXCEPTIONS.to_vec()
    }

    fn timeout_fault() -> Option<Fault> {
        Some(Fault::Timeout)
    }

    fn callee_error(error: &Map<String, Value>) -> Option<(Fault, Exception)> {
        let metadata = error.get("metadata").and_then(Value::as_object)?;
        let code = status_code(metadata)?;
        Some((Fault::Status(code), status_exception(code)))
    }

    fn respond((): &(), status: StatusCode) -> Option<Self::Response> {
        // What a proxy answers: no gRPC status, which tonic reads from the
        // HTTP one.
        let mut response = http::Response::new(tonic::body::Body::empty());
        *response.status_mut() = status;
        Some(response)
    }

    async fn fail((): &(), fault: Fault) -> Result<Self::Response, BoxError> {
        match fault {
            // As `perform` gives a channel's error: the status tonic makes of it.
            Fault::Refused => Err(Box::new(tonic::Status::from_error(fault::refused().await))),
            Fault::Timeout => Err(fault::timeout()),
            Fault::Status(code) => Ok(tonic::Status::new(code, "").into_http()),
        }
    }

    async fn observe(
        response: Self::Response,
        span: &Span,
        completion: &mut Completion,
    ) -> (Result<Self::Response, BoxError>, Option<Outcome>) {
        if response.headers().contains_key(&GRPC_STATUS) {
            let outcome = outcome_of_trailers(Some(response.headers()), response.status());
            return (Ok(response), Some(outcome));
        }
        let (parts, body) = response.into_parts();
        let body = ObservedBody::new(body, completion.defer(), span.clone(), parts.status);
        (Ok(http::Response::from_parts(parts, tonic::body::Body::new(body))), None)
    }

    fn exception(error: &BoxError) -> Exception {
        exception_of_error(&**error)
    }
}

/// The status code a fault's metadata names (`{"code": "NOT_FOUND"}`); a
/// code tonic does not know (or `OK`, no failure) is said and refused.
fn status_code(metadata: &Map<String, Value>) -> Option<tonic::Code> {
    if let Some(code) = super::failure_code(metadata) {
        return Some(tonic::Code::from_i32(code));
    }
    let written = metadata.get("code").map_or_else(|| "none".to_owned(), crate::records::compact);
    tracing::error!(
        code = %written,
        "the server asked for a gRPC fault whose code tonic does not know as a failure ({written}), so none \
         is injected: the codes are {}",
        code::NAMES[1..].join(", ")
    );
    None
}

/// The exception of an RPC that failed with `code`: exactly `{code}` in
/// its metadata, so that an observed status equals the fault of the same
/// code (reduction compares them).
fn status_exception(code: tonic::Code) -> Exception {
    let mut metadata = Map::new();
    metadata
        .insert("code".to_owned(), Value::String(code::name(code as i32).unwrap_or("UNKNOWN").to_owned()));
    Exception { name: super::STATUS.to_owned(), metadata }
}

/// How an RPC whose answer had `status` and `trailers` ended, as tonic
/// reads it: the trailers' `grpc-status`, else the HTTP status's code.
pub(super) fn outcome_of_trailers(trailers: Option<&HeaderMap>, status: StatusCode) -> Outcome {
    let code = match trailers.and_then(tonic::Status::from_header_map) {
        Some(status) => status.code(),
        None => match status {
            StatusCode::BAD_REQUEST => tonic::Code::Internal,
            StatusCode::UNAUTHORIZED => tonic::Code::Unauthenticated,
            StatusCode::FORBIDDEN => tonic::Code::PermissionDenied,
            StatusCode::NOT_FOUND => tonic::Code::Unimplemented,
            StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => tonic::Code::Unavailable,
            _ => tonic::Code::Unknown,
        },
    };
    match code {
        tonic::Code::Ok => {
            Ok(ReturnValue { class: Some(Cow::Borrowed("tonic.Response")), status_code: None, text: None })
        }
        code => Err(status_exception(code)),
    }
}

/// The exception of an RPC that failed with `error`, as tonic reads it
/// (`Status::from_error`): a status, its code; tonic's timeout, [`TIMEOUT`];
/// a refused connection, `UNAVAILABLE`; anything else, `UNKNOWN`.
pub(super) fn exception_of_error(error: &(dyn std::error::Error + 'static)) -> Exception {
    let mut source = Some(error);
    let mut status = None;
    while let Some(error) = source {
        if error.is::<tonic::TimeoutExpired>() {
            return Exception { name: super::TIMEOUT.to_owned(), metadata: Map::new() };
        }
        status = status.or_else(|| error.downcast_ref::<tonic::Status>().map(tonic::Status::code));
        source = error.source();
    }
    // The layer's errors are statuses already (`perform`); anything else, as
    // tonic reads what it does not know.
    status_exception(status.unwrap_or(tonic::Code::Unknown))
}

/// Records how an RPC ended on its client span.
pub(super) fn end_span_with(span: &Span, outcome: &Outcome) {
    let code = match outcome {
        Ok(_) => tonic::Code::Ok,
        Err(exception) if exception.name == super::TIMEOUT => tonic::Code::Cancelled,
        Err(exception) => exception
            .metadata
            .get("code")
            .and_then(code::parse)
            .map_or(tonic::Code::Unknown, tonic::Code::from_i32),
    };
    spans::rpc_end(span, code as i32, (code != tonic::Code::Ok).then(|| code::name(code as i32)).flatten());
}

/// The duration of a `grpc-timeout` header (`100m`, `5S`).
fn grpc_timeout(value: &str) -> Option<Duration> {
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let amount: u64 = digits.parse().ok().filter(|_| digits.len() <= 8)?;
    Some(match unit {
        "H" => Duration::from_secs(amount * 3600),
        "M" => Duration::from_secs(amount * 60),
        "S" => Duration::from_secs(amount),
        "m" => Duration::from_millis(amount),
        "u" => Duration::from_micros(amount),
        "n" => Duration::from_nanos(amount),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_reported_as_tonic_reads_them() {
        let named = |error: &(dyn std::error::Error + 'static)| {
            let exception = exception_of_error(error);
            let code = exception.metadata.get("code").and_then(Value::as_str).unwrap_or_default().to_owned();
            (exception.name, code)
        };
        let status = tonic::Status::cancelled("h2 protocol error: stream reset");
        assert_eq!(named(&status), ("tonic.Status".to_owned(), "CANCELLED".to_owned()));
        // What `perform` makes of a channel's timeout: a status whose source
        // is tonic's `TimeoutExpired`.
        let timeout = tonic::Status::from_error(Box::new(tonic::TimeoutExpired(())));
        assert_eq!(timeout.code(), tonic::Code::Cancelled);
        assert_eq!(named(&timeout), ("tonic.timeout".to_owned(), String::new()));
        let unknown = std::io::Error::other("something else");
        assert_eq!(named(&unknown), ("tonic.Status".to_owned(), "UNKNOWN".to_owned()));
    }

    #[test]
    fn grpc_timeouts_are_read_as_tonic_writes_them() {
        assert_eq!(grpc_timeout("100m"), Some(Duration::from_millis(100)));
        assert_eq!(grpc_timeout("5S"), Some(Duration::from_secs(5)));
        assert_eq!(grpc_timeout("2H"), Some(Duration::from_secs(7200)));
        for bad in ["", "m", "100", "100x", "123456789S", "-1S"] {
            assert_eq!(grpc_timeout(bad), None, "{bad}");
        }
    }

    #[test]
    fn paths_split_into_service_and_method() {
        use super::super::split_path;
        assert_eq!(split_path("/cinema.Movies/GetMovie"), ("cinema.Movies", "GetMovie"));
        assert_eq!(split_path("cinema.Movies/GetMovie"), ("cinema.Movies", "GetMovie"));
        assert_eq!(split_path("/prefix/cinema.Movies/GetMovie"), ("prefix/cinema.Movies", "GetMovie"));
        assert_eq!(split_path("odd"), ("odd", ""));
    }

    #[test]
    fn callsites_are_one_per_scope_and_path() {
        let path = "/cinema.Movies/GetMovie";
        let (first, kept) = callsite("users", None, path).unwrap();
        assert_eq!(kept, path);
        assert!(std::ptr::eq(first, callsite("users", None, path).unwrap().0));
        assert!(!std::ptr::eq(first, callsite("bookings", None, path).unwrap().0));
        assert_eq!(first.id, crate::wire::md5_hex("grpc:users:/cinema.Movies/GetMovie"));
        static CALLER: Callsite = Callsite {
            id: "fn-id",
            function: "get_movie",
            file: "src/lib.rs",
            line: 7,
            client_timeout: Some(2.0),
        };
        let (in_fn, kept) = callsite("users", Some(&CALLER), path).unwrap();
        assert_eq!(
            (in_fn.function, in_fn.file, in_fn.line, in_fn.client_timeout),
            ("get_movie", "src/lib.rs", 7, Some(2.0))
        );
        assert_eq!(
            (in_fn.id, kept),
            (crate::wire::md5_hex("grpc:fn-id:/cinema.Movies/GetMovie").as_str(), path)
        );
        assert!(
            std::ptr::eq(in_fn, callsite("bookings", Some(&CALLER), path).unwrap().0),
            "the fn's, whoever calls it"
        );
    }
}
