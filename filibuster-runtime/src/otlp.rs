//! Export of the service's `tracing` spans to an OpenTelemetry collector
//! (Jaeger, Tempo, the OpenTelemetry Collector, ...) over OTLP/HTTP, set up
//! in one call (feature `otlp`).
//!
//! ```no_run
//! # use filibuster_runtime as filibuster;
//! # fn main() -> Result<(), filibuster::otlp::OtlpError> {
//! // In `main`, before the first span. Keep the guard until the end:
//! // dropping it sends the last spans and shuts the export down.
//! let _otlp = filibuster::otlp::init("users", env!("CARGO_PKG_VERSION"))?;
//! # Ok(())
//! # }
//! ```
//!
//! That installs the process's global `tracing` subscriber: the spans (and
//! the events inside them) go to the collector in batches, and log lines go
//! to stderr, filtered by `RUST_LOG` (default `info`). It also makes W3C
//! Trace Context (`traceparent`) OpenTelemetry's global propagator. To keep
//! a subscriber of your own, add [`Otlp::layer`] to it instead.
//!
//! # What the spans carry
//!
//! Each span carries the resource of the process: `service.name` (the
//! argument, or `OTEL_SERVICE_NAME` when it is set), `service.version` (pass
//! your package's, `env!("CARGO_PKG_VERSION")`: a function cannot read its
//! caller's), `deployment.environment.name` ([`Otlp::environment`]), the
//! `telemetry.sdk.*` attributes, and whatever `OTEL_RESOURCE_ATTRIBUTES`
//! (`key=value,key=value`, percent-encoded) sets. The environment has the
//! last word, as the OpenTelemetry specification has it for
//! `OTEL_SERVICE_NAME`: operators name and place a deployment without
//! rebuilding it.
//!
//! # Where they go
//!
//! To the first of: [`Otlp::endpoint`] (a base URL, `/v1/traces` appended);
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (the full URL, used as it is);
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (a base URL, `/v1/traces` appended);
//! [`DEFAULT_ENDPOINT`]. They are sent as protobuf (`http/protobuf`), with
//! `OTEL_EXPORTER_OTLP_HEADERS` and `OTEL_EXPORTER_OTLP_TIMEOUT` honoured by
//! the exporter. A collector that cannot be reached costs the service
//! nothing but the spans: they are sent from a thread of their own, and the
//! failure is logged (`opentelemetry_sdk`, level ERROR).

use std::io::IsTerminal;
use std::time::Duration;

use opentelemetry::KeyValue;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkError;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::resource::TelemetryResourceDetector;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::{EnvFilter, ParseError};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::{SubscriberInitExt, TryInitError};
use tracing_subscriber::{Layer, Registry};

use crate::ENV_SERVICE_NAME;

/// Where spans go when neither [`Otlp::endpoint`] nor the environment says:
/// a collector on this machine, OTLP/HTTP's port (`/v1/traces` is appended).
pub const DEFAULT_ENDPOINT: &str = "http://localhost:4318";

/// The path of the traces under an OTLP/HTTP base URL.
pub const TRACES_PATH: &str = "/v1/traces";

pub use crate::otel::{ENV_ENDPOINT, ENV_TRACES_ENDPOINT};

/// The environment variable of extra resource attributes,
/// `key=value,key=value`; they override those given in code.
pub const ENV_RESOURCE_ATTRIBUTES: &str = "OTEL_RESOURCE_ATTRIBUTES";

/// The resource attribute naming the service.
pub const SERVICE_NAME: &str = "service.name";
/// The resource attribute of the service's version.
pub const SERVICE_VERSION: &str = "service.version";
/// The resource attribute of the deployment environment (`production`,
/// `staging`, `test`, ...).
pub const DEPLOYMENT_ENVIRONMENT_NAME: &str = "deployment.environment.name";

/// The log filter of [`Otlp::init`] when `RUST_LOG` is not set.
pub const DEFAULT_LOG_FILTER: &str = "info";
/// Which spans are exported unless [`Otlp::export_filter`] says otherwise:
/// down to DEBUG, the level of, say, tower-http's request spans, but none
/// of the HTTP stack and OpenTelemetry crates the exporter itself runs on
/// (as opentelemetry-otlp's examples filter them), whose spans and events
/// would be telemetry about sending telemetry.
pub const DEFAULT_EXPORT_FILTER: &str = "debug,hyper=off,h2=off,reqwest=off,tonic=off,opentelemetry=off";

/// The instrumentation scope the spans are reported under.
const TRACER_NAME: &str = "filibuster";

/// How long a shutdown waits for the last spans to be sent.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// Exports the spans of service `service_name`, version `service_version`
/// (your package's: `env!("CARGO_PKG_VERSION")`), with the defaults of
/// [`Otlp`], and installs the global subscriber: `Otlp::new(name)
/// .service_version(version).init()`.
///
/// ```no_run
/// # use filibuster_runtime as filibuster;
/// # fn main() -> Result<(), filibuster::otlp::OtlpError> {
/// let _otlp = filibuster::otlp::init("users", env!("CARGO_PKG_VERSION"))?;
/// # Ok(())
/// # }
/// ```
pub fn init(service_name: &str, service_version: &str) -> Result<OtlpGuard, OtlpError> {
    Otlp::new(service_name).service_version(service_version).init()
}

/// The setup of the export, for what [`init`] does not say.
///
/// ```no_run
/// # use filibuster_runtime as filibuster;
/// # fn main() -> Result<(), filibuster::otlp::OtlpError> {
/// use filibuster::otlp::Otlp;
///
/// let _otlp = Otlp::new("users")
///     .service_version(env!("CARGO_PKG_VERSION"))
///     .environment("staging")
///     .endpoint("http://collector.internal:4318")
///     .init()?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Otlp {
    service_name: String,
    service_version: Option<String>,
    environment: Option<String>,
    endpoint: Option<String>,
    log_filter: String,
    export_filter: String,
}

impl Otlp {
    /// The export of the spans of service `service_name` (which
    /// `OTEL_SERVICE_NAME` overrides).
    pub fn new(service_name: impl Into<String>) -> Self {
        Self {
            service_name: service_name.into(),
            service_version: None,
            environment: None,
            endpoint: None,
            log_filter: DEFAULT_LOG_FILTER.to_owned(),
            export_filter: DEFAULT_EXPORT_FILTER.to_owned(),
        }
    }

    /// The service's version, `service.version`: pass your package's,
    /// `env!("CARGO_PKG_VERSION")`.
    pub fn service_version(mut self, version: impl Into<String>) -> Self {
        self.service_version = Some(version.into());
        self
    }

    /// The deployment environment, `deployment.environment.name`
    /// (`production`, `staging`, `test`, ...), unless
    /// `OTEL_RESOURCE_ATTRIBUTES` sets it.
    pub fn environment(mut self, name: impl Into<String>) -> Self {
        self.environment = Some(name.into());
        self
    }

    /// The collector's OTLP/HTTP base URL (`http://localhost:4318`): the
    /// spans go to it with `/v1/traces` appended, whatever the environment
    /// says.
    pub fn endpoint(mut self, base_url: impl Into<String>) -> Self {
        self.endpoint = Some(base_url.into());
        self
    }

    /// The filter of the log lines [`init`](Otlp::init) prints when
    /// `RUST_LOG` is not set, in `RUST_LOG`'s syntax (default
    /// [`DEFAULT_LOG_FILTER`]).
    pub fn log_filter(mut self, directives: impl Into<String>) -> Self {
        self.log_filter = directives.into();
        self
    }

    /// Which spans (and events inside them) are exported, in `RUST_LOG`'s
    /// syntax (default [`DEFAULT_EXPORT_FILTER`]), whatever the logs show.
    pub fn export_filter(mut self, directives: impl Into<String>) -> Self {
        self.export_filter = directives.into();
        self
    }

    /// The resource the spans carry, with the environment as it is now.
    pub fn resource(&self) -> Resource {
        self.resource_with(&|name| std::env::var(name).ok())
    }

    /// The URL the spans are sent to, with the environment as it is now.
    pub fn traces_endpoint(&self) -> Result<String, OtlpError> {
        traces_endpoint(self.endpoint.as_deref(), &|name| std::env::var(name).ok())
    }

    /// Starts the export and answers the layer that feeds it, for a
    /// subscriber of your own, and the guard that ends it. Also makes W3C
    /// Trace Context the global propagator, and the exporting provider
    /// OpenTelemetry's global one.
    ///
    /// ```no_run
    /// # use filibuster_runtime as filibuster;
    /// # fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use tracing_subscriber::Layer;
    /// use tracing_subscriber::layer::SubscriberExt;
    /// use tracing_subscriber::util::SubscriberInitExt;
    ///
    /// let (otlp, _guard) = filibuster::otlp::Otlp::new("users")
    ///     .service_version(env!("CARGO_PKG_VERSION"))
    ///     .layer()?;
    /// tracing_subscriber::registry()
    ///     .with(otlp)
    ///     .with(tracing_subscriber::fmt::layer().with_filter(tracing_subscriber::EnvFilter::from_default_env()))
    ///     .init();
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// The layer carries its own filter ([`export_filter`](Otlp::export_filter)),
    /// so a filter given to the other layers does not narrow what is
    /// exported.
    pub fn layer<S>(self) -> Result<(impl Layer<S> + Send + Sync + 'static, OtlpGuard), OtlpError>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
    {
        let (layer, guard) = self.build()?;
        guard.make_global();
        Ok((layer, guard))
    }

    /// The layer feeding a new export, and the guard that ends it.
    fn build<S>(self) -> Result<(impl Layer<S> + Send + Sync + 'static, OtlpGuard), OtlpError>
    where
        S: tracing::Subscriber + for<'span> LookupSpan<'span> + Send + Sync,
    {
        let filter = EnvFilter::builder().parse(&self.export_filter).map_err(|source| OtlpError::Filter {
            directives: self.export_filter.clone(),
            from: "Otlp::export_filter",
            source,
        })?;
        let endpoint = self.traces_endpoint()?;
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_http_client(BlockingClient::new()?)
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(endpoint.clone())
            .build()
            .map_err(|source| OtlpError::Exporter { endpoint: endpoint.clone(), source })?;
        let resource = self.resource();
        let service = resource.get(&SERVICE_NAME.into()).map(|name| name.to_string()).unwrap_or_default();
        let provider =
            SdkTracerProvider::builder().with_batch_exporter(exporter).with_resource(resource).build();
        let layer =
            tracing_opentelemetry::layer().with_tracer(provider.tracer(TRACER_NAME)).with_filter(filter);
        Ok((layer, OtlpGuard { provider: Some(provider), endpoint, service }))
    }

    /// Starts the export and installs the process's global `tracing`
    /// subscriber: the spans go to the collector, the log lines to stderr
    /// (filtered by `RUST_LOG`, default [`log_filter`](Otlp::log_filter)).
    /// Answers the guard that ends the export; keep it until the end of
    /// `main`.
    ///
    /// Fails, changing nothing, when `RUST_LOG` or a filter is not valid,
    /// the endpoint is not an http(s) URL, or a global subscriber is
    /// already set (then add [`layer`](Otlp::layer) to that one).
    pub fn init(self) -> Result<OtlpGuard, OtlpError> {
        let logs = match std::env::var("RUST_LOG") {
            Ok(directives) => EnvFilter::builder()
                .parse(&directives)
                .map_err(|source| OtlpError::Filter { directives, from: "RUST_LOG", source })?,
            Err(_) => EnvFilter::builder().parse(&self.log_filter).map_err(|source| OtlpError::Filter {
                directives: self.log_filter.clone(),
                from: "Otlp::log_filter",
                source,
            })?,
        };
        let (export, guard) = self.build::<Registry>()?;
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(logs);
        tracing_subscriber::registry().with(export).with(fmt).try_init()?;
        guard.make_global();
        tracing::info!(
            service = guard.service,
            endpoint = guard.endpoint(),
            "exporting spans over OTLP/HTTP"
        );
        Ok(guard)
    }

    /// The resource, reading the environment with `env`.
    fn resource_with(&self, env: &dyn Fn(&str) -> Option<String>) -> Resource {
        let mut attributes = vec![KeyValue::new(SERVICE_NAME, self.service_name.clone())];
        if let Some(version) = &self.service_version {
            attributes.push(KeyValue::new(SERVICE_VERSION, version.clone()));
        }
        if let Some(environment) = &self.environment {
            attributes.push(KeyValue::new(DEPLOYMENT_ENVIRONMENT_NAME, environment.clone()));
        }
        if let Some(list) = env(ENV_RESOURCE_ATTRIBUTES) {
            attributes.extend(resource_attributes(&list));
        }
        if let Some(name) = env(ENV_SERVICE_NAME).filter(|name| !name.trim().is_empty()) {
            attributes.push(KeyValue::new(SERVICE_NAME, name.trim().to_owned()));
        }
        // Later attributes override earlier ones of the same key.
        let mut builder = Resource::builder_empty().with_detector(Box::new(TelemetryResourceDetector));
        for attribute in attributes {
            builder = builder.with_attribute(attribute);
        }
        builder.build()
    }
}

/// The attributes of an `OTEL_RESOURCE_ATTRIBUTES` value, as the
/// OpenTelemetry specification has it: `key=value` entries separated by
/// `,`, blanks around them trimmed, keys and values percent-decoded (a `,`
/// in a value is written `%2C`), an entry without `=` or key skipped. A
/// value that does not decode to UTF-8 voids the whole variable, with an
/// error logged.
fn resource_attributes(list: &str) -> Vec<KeyValue> {
    let decode =
        |text: &str| percent_encoding::percent_decode_str(text.trim()).decode_utf8().map(String::from);
    let mut attributes = Vec::new();
    for (key, value) in list.split_terminator(',').filter_map(|entry| entry.split_once('=')) {
        match (decode(key), decode(value)) {
            (Ok(key), Ok(value)) if !key.is_empty() => attributes.push(KeyValue::new(key, value)),
            (Ok(_), Ok(_)) => {}
            _ => {
                tracing::error!(
                    value = list,
                    "{ENV_RESOURCE_ATTRIBUTES} has an entry that is not percent-encoded UTF-8: none of its \
                     attributes are used"
                );
                return Vec::new();
            }
        }
    }
    attributes
}

/// The URL the traces go to: `explicit` (a base URL), else the environment
/// (read with `env`), else [`DEFAULT_ENDPOINT`].
fn traces_endpoint(
    explicit: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, OtlpError> {
    let set = |name: &str| env(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
    if let Some(base) = explicit {
        with_traces_path(base.trim(), "Otlp::endpoint")
    } else if let Some(full) = set(ENV_TRACES_ENDPOINT) {
        http_url(full, ENV_TRACES_ENDPOINT)
    } else if let Some(base) = set(ENV_ENDPOINT) {
        with_traces_path(&base, ENV_ENDPOINT)
    } else {
        with_traces_path(DEFAULT_ENDPOINT, "the default")
    }
}

/// The base URL `base`, checked, with [`TRACES_PATH`] appended.
fn with_traces_path(base: &str, from: &'static str) -> Result<String, OtlpError> {
    let base = http_url(base.to_owned(), from)?;
    Ok(format!("{}{TRACES_PATH}", base.trim_end_matches('/')))
}

/// `endpoint`, if it is an http(s) URL with a host.
fn http_url(endpoint: String, from: &'static str) -> Result<String, OtlpError> {
    match url::Url::parse(&endpoint) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(endpoint),
        Ok(_) => Err(OtlpError::EndpointNotHttp { endpoint, from }),
        Err(source) => Err(OtlpError::EndpointNotUrl { endpoint, from, source }),
    }
}

/// Ends the export when dropped: sends the spans not sent yet, waiting for
/// them (at most 5 s), then shuts the exporter down. Keep it until the end
/// of `main`, after the last span has closed.
///
/// Dropping it blocks the thread; in async code, call
/// [`shutdown`](OtlpGuard::shutdown) from `tokio::task::spawn_blocking`, or
/// drop it at the end of `main`.
#[derive(Debug)]
#[must_use = "dropping the guard ends the export at once"]
pub struct OtlpGuard {
    /// `None` once shut down.
    provider: Option<SdkTracerProvider>,
    endpoint: String,
    /// The resource's `service.name`, for the log line of `init`.
    service: String,
}

impl OtlpGuard {
    /// Makes W3C Trace Context OpenTelemetry's global propagator, and this
    /// export's provider its global one.
    fn make_global(&self) {
        opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
        if let Some(provider) = &self.provider {
            opentelemetry::global::set_tracer_provider(provider.clone());
        }
    }

    /// The URL the spans are sent to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends the spans that ended and are not sent yet, and waits for the
    /// collector's answer.
    pub fn flush(&self) -> Result<(), OtlpError> {
        match &self.provider {
            Some(provider) => provider
                .force_flush()
                .map_err(|source| OtlpError::Flush { endpoint: self.endpoint.clone(), source }),
            None => Ok(()),
        }
    }

    /// Sends the spans that ended and are not sent yet, then shuts the
    /// export down; answers whether that went well, which a drop cannot.
    pub fn shutdown(mut self) -> Result<(), OtlpError> {
        match self.provider.take() {
            Some(provider) => provider
                .shutdown_with_timeout(SHUTDOWN_TIMEOUT)
                .map_err(|source| OtlpError::Shutdown { endpoint: self.endpoint.clone(), source }),
            None => Ok(()),
        }
    }
}

impl Drop for OtlpGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT)
        {
            tracing::warn!(%error, endpoint = %self.endpoint, "the last spans may not have been exported");
        }
    }
}

/// Why the export could not be set up, or ended badly.
#[derive(Debug, thiserror::Error)]
pub enum OtlpError {
    /// The collector's URL is not a URL.
    #[error("the OTLP endpoint {endpoint:?} (from {from}) is not a URL")]
    EndpointNotUrl {
        /// The URL the spans would have been sent to.
        endpoint: String,
        /// Where it came from: [`Otlp::endpoint`], an environment variable
        /// or the default.
        from: &'static str,
        /// What is wrong with it.
        #[source]
        source: url::ParseError,
    },
    /// The collector's URL is not an `http://` or `https://` one (OTLP/HTTP
    /// is what is sent).
    #[error("the OTLP endpoint {endpoint:?} (from {from}) is not an http:// or https:// URL with a host")]
    EndpointNotHttp {
        /// The URL the spans would have been sent to.
        endpoint: String,
        /// Where it came from: [`Otlp::endpoint`], an environment variable
        /// or the default.
        from: &'static str,
    },
    /// A filter is not valid `RUST_LOG` syntax.
    #[error("the filter {directives:?} (from {from}) is not valid")]
    Filter {
        /// The filter as given.
        directives: String,
        /// Where it came from: `RUST_LOG`, [`Otlp::log_filter`] or
        /// [`Otlp::export_filter`].
        from: &'static str,
        /// What is wrong with it.
        #[source]
        source: ParseError,
    },
    /// The OTLP exporter could not be built.
    #[error("cannot build the OTLP/HTTP span exporter for {endpoint}")]
    Exporter {
        /// The URL the spans would have been sent to.
        endpoint: String,
        /// Why.
        #[source]
        source: opentelemetry_otlp::ExporterBuildError,
    },
    /// The HTTP client of the export could not be built (no TLS backend,
    /// say).
    #[error("cannot build the HTTP client of the OTLP export: {0}")]
    Client(String),
    /// A global `tracing` subscriber was already set in this process.
    #[error(
        "a global tracing subscriber is already set in this process: add `Otlp::layer()` to it instead of calling `init`"
    )]
    SubscriberAlreadySet(#[from] TryInitError),
    /// Flushing the spans failed (the collector did not answer, say).
    #[error("cannot send the spans to {endpoint}")]
    Flush {
        /// Where they were being sent.
        endpoint: String,
        /// Why.
        #[source]
        source: OTelSdkError,
    },
    /// Shutting the export down failed: some of the last spans may be lost.
    #[error("the export to {endpoint} did not shut down cleanly: the last spans may be lost")]
    Shutdown {
        /// Where they were being sent.
        endpoint: String,
        /// Why.
        #[source]
        source: OTelSdkError,
    },
}

/// The exporter's HTTP client: reqwest's blocking client, which the batch
/// processor calls from its own thread (as with opentelemetry-otlp's
/// `reqwest-blocking-client`, but this crate's reqwest rather than a second
/// one).
#[derive(Debug)]
struct BlockingClient(reqwest::blocking::Client);

/// The timeout of one export when `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT` and
/// `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds) say nothing: the
/// specification's default.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

impl BlockingClient {
    /// A client whose requests time out after `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`,
    /// else `OTEL_EXPORTER_OTLP_TIMEOUT` milliseconds, else 10 s. Built on a
    /// thread of its own: a blocking client may be neither built nor dropped
    /// on a thread of a tokio runtime.
    fn new() -> Result<Self, OtlpError> {
        let timeout = ["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"]
            .iter()
            .find_map(|name| {
                let value = std::env::var(name).ok()?;
                let millis = value.trim().parse().ok();
                if millis.is_none() {
                    tracing::warn!(
                        value = %value,
                        "{name} is not a number of milliseconds: it is ignored"
                    );
                }
                millis
            })
            .map_or(EXPORT_TIMEOUT, Duration::from_millis);
        std::thread::spawn(move || reqwest::blocking::Client::builder().timeout(timeout).build())
            .join()
            .map_err(|_| OtlpError::Client("building it panicked".to_owned()))?
            .map(Self)
            .map_err(|error| OtlpError::Client(error.to_string()))
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for BlockingClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let request = reqwest::blocking::Request::try_from(request)?;
        let mut response = self.0.execute(request)?.error_for_status()?;
        let headers = std::mem::take(response.headers_mut());
        let mut answer = http::Response::builder().status(response.status()).body(response.bytes()?)?;
        *answer.headers_mut() = headers;
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use opentelemetry::{Key, Value};

    use super::*;

    fn env_of(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> =
            vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| vars.get(name).cloned()
    }

    fn attribute(resource: &Resource, key: &'static str) -> Option<String> {
        resource.get(&Key::from_static_str(key)).map(|value: Value| value.to_string())
    }

    #[test]
    fn the_resource_names_service_version_and_environment() {
        let otlp = Otlp::new("users").service_version("1.2.3").environment("staging");
        let resource = otlp.resource_with(&env_of(&[]));
        assert_eq!(attribute(&resource, SERVICE_NAME).as_deref(), Some("users"));
        assert_eq!(attribute(&resource, SERVICE_VERSION).as_deref(), Some("1.2.3"));
        assert_eq!(attribute(&resource, DEPLOYMENT_ENVIRONMENT_NAME).as_deref(), Some("staging"));
        assert_eq!(attribute(&resource, "telemetry.sdk.language").as_deref(), Some("rust"));
    }

    #[test]
    fn the_environment_overrides_the_code() {
        let otlp = Otlp::new("users").service_version("1.2.3").environment("staging");
        let env = env_of(&[
            (ENV_SERVICE_NAME, " users-eu "),
            (
                ENV_RESOURCE_ATTRIBUTES,
                "deployment.environment.name=production, team = cinema,broken,service.name=x",
            ),
        ]);
        let resource = otlp.resource_with(&env);
        assert_eq!(attribute(&resource, SERVICE_NAME).as_deref(), Some("users-eu"), "OTEL_SERVICE_NAME wins");
        assert_eq!(attribute(&resource, DEPLOYMENT_ENVIRONMENT_NAME).as_deref(), Some("production"));
        assert_eq!(attribute(&resource, "team").as_deref(), Some("cinema"));
        assert_eq!(attribute(&resource, SERVICE_VERSION).as_deref(), Some("1.2.3"));

        let resource = otlp.resource_with(&env_of(&[(ENV_RESOURCE_ATTRIBUTES, "service.name=users-us")]));
        assert_eq!(attribute(&resource, SERVICE_NAME).as_deref(), Some("users-us"));
        let resource = otlp.resource_with(&env_of(&[(ENV_SERVICE_NAME, "  ")]));
        assert_eq!(attribute(&resource, SERVICE_NAME).as_deref(), Some("users"), "a blank name is no name");
    }

    #[test]
    fn resource_attributes_are_percent_decoded() {
        let attributes = resource_attributes("team=cinema%2Cbookings, owner = J%C3%B6rg%20R ,%3Dk=v,=x,y");
        let pairs: Vec<(String, String)> =
            attributes.iter().map(|kv| (kv.key.to_string(), kv.value.to_string())).collect();
        let expected = [("team", "cinema,bookings"), ("owner", "Jörg R"), ("=k", "v")];
        assert_eq!(pairs, expected.map(|(k, v)| (k.to_owned(), v.to_owned())));
        assert!(resource_attributes("team=cinema,owner=%FF").is_empty(), "not UTF-8: all dropped");
    }

    #[test]
    fn the_endpoint_comes_from_the_code_then_the_environment_then_the_default() {
        let none = env_of(&[]);
        assert_eq!(traces_endpoint(None, &none).unwrap(), "http://localhost:4318/v1/traces");
        let base = env_of(&[(ENV_ENDPOINT, "http://collector:4318/")]);
        assert_eq!(traces_endpoint(None, &base).unwrap(), "http://collector:4318/v1/traces");
        let both =
            env_of(&[(ENV_ENDPOINT, "http://collector:4318"), (ENV_TRACES_ENDPOINT, "https://t:443/traces")]);
        assert_eq!(traces_endpoint(None, &both).unwrap(), "https://t:443/traces", "the full URL as it is");
        assert_eq!(
            traces_endpoint(Some("http://127.0.0.1:9999"), &both).unwrap(),
            "http://127.0.0.1:9999/v1/traces",
            "the code's wins"
        );
    }

    #[test]
    fn a_bad_endpoint_says_what_and_where_from() {
        let env = env_of(&[(ENV_ENDPOINT, "localhost:4318")]);
        let error = traces_endpoint(None, &env).unwrap_err();
        assert!(matches!(error, OtlpError::EndpointNotHttp { from: ENV_ENDPOINT, .. }), "{error:?}");
        assert_eq!(
            error.to_string(),
            "the OTLP endpoint \"localhost:4318\" (from OTEL_EXPORTER_OTLP_ENDPOINT) is not an http:// or https:// URL with a host"
        );
        let error = traces_endpoint(Some("http://"), &env).unwrap_err();
        assert!(matches!(error, OtlpError::EndpointNotUrl { from: "Otlp::endpoint", .. }), "{error:?}");
    }
}
