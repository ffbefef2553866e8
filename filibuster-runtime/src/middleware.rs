//! Instrumented calls through [reqwest-middleware](https://docs.rs/reqwest-middleware)
//! clients (feature `reqwest-middleware`); documented, with examples, in
//! `filibuster::middleware`.
//!
//! An instrumented `.send()` of a [`reqwest_middleware::RequestBuilder`]
//! puts its callsite in the request's extensions and runs the client's chain
//! with `End` appended. [`Instrument`], the last middleware the user
//! added, makes each attempt reaching it an instrumented call in a client
//! span of its own (as OpenTelemetry's HTTP conventions have it: one per
//! physical request, a resend counted in `http.request.resend_count`), the
//! rest of the chain performing it; `End` does so in its place when the
//! client has none (with a warning), and reports attempts repeated under an
//! [`Instrument`] that is not last (with an error).

use std::sync::{Arc, LazyLock};

use futures_util::future::Either;
use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{ClientBuilder, Middleware, Next};

use crate::call::drive;
use crate::callsite::{Callsite, SaidOnce};
use crate::reqwest_adapter::v0_13::{HttpCall, SendError, client_request, end_client_span};
use crate::send::{Instrumentable, plain};
use crate::spans;

/// The middleware that makes each attempt of an instrumented `.send()` of a
/// [`reqwest_middleware::RequestBuilder`] an instrumented call of its own.
///
/// Add it **last** to the client's `ClientBuilder`, after every other
/// middleware: `.with(filibuster::middleware::Instrument)`. The middleware
/// after it would run inside one instrumented call, and the attempts of a
/// retry middleware there would not be calls of their own.
///
/// It only acts on the requests of the `.send()`s of `#[filibuster::call]`
/// fns with the instrumentation on; it passes any other request on
/// untouched.
#[derive(Clone, Copy, Debug, Default)]
pub struct Instrument;

/// In the extensions of a request sent by an instrumented `.send()`: its
/// callsite, and how many attempts of it were instrumented so far.
#[derive(Clone, Copy, Debug)]
struct Call {
    callsite: &'static Callsite,
    attempts: u32,
}

/// In the extensions while an attempt is instrumented: how often it reached
/// the end of the chain.
#[derive(Clone, Copy, Debug)]
struct Attempt {
    ends: u32,
}

#[async_trait::async_trait]
impl Middleware for Instrument {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        match extensions.get::<Call>() {
            // A second `Instrument` in the same chain: the first instruments.
            Some(_) if extensions.get::<Attempt>().is_some() => next.run(request, extensions).await,
            Some(_) => instrument_attempt(request, extensions, next).await,
            None => next.run(request, extensions).await,
        }
    }
}

/// Makes one attempt of the call in `extensions` an instrumented call in a
/// client span of its own, the rest of the chain performing it (unless a
/// fault is injected).
async fn instrument_attempt(
    mut request: Request,
    extensions: &mut Extensions,
    next: Next<'_>,
) -> reqwest_middleware::Result<Response> {
    let Some(call) = extensions.get_mut::<Call>() else { return next.run(request, extensions).await };
    let (callsite, resends) = (call.callsite, call.attempts);
    call.attempts += 1;
    let span = spans::client(client_request(&request), callsite);
    if resends > 0 {
        spans::record_resend_count(&span, resends);
    }
    spans::propagate(&span, request.headers_mut());
    extensions.insert(Attempt { ends: 0 });
    let chain = &mut *extensions;
    let call = HttpCall { request, execute: move |request| next.run(request, chain) };
    let result = drive(call, callsite, Some(&span)).await;
    extensions.remove::<Attempt>();
    end_client_span(&span, result.as_ref().map_err(SendError::as_reqwest));
    result
}

/// The end of the chain of every instrumented `.send()`, after the client's
/// own middleware: instruments the attempts when no [`Instrument`] did, and
/// notices attempts repeated under one.
#[derive(Debug)]
struct End;

#[async_trait::async_trait]
impl Middleware for End {
    async fn handle(
        &self,
        request: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let Some(&Call { callsite, .. }) = extensions.get::<Call>() else {
            return next.run(request, extensions).await;
        };
        match extensions.get_mut::<Attempt>() {
            Some(attempt) => {
                attempt.ends += 1;
                if attempt.ends == 2 {
                    error_not_last(callsite);
                }
                next.run(request, extensions).await
            }
            None => {
                warn_missing(callsite);
                instrument_attempt(request, extensions, next).await
            }
        }
    }
}

impl SendError for reqwest_middleware::Error {
    fn as_reqwest(&self) -> Option<&reqwest::Error> {
        match self {
            reqwest_middleware::Error::Reqwest(error) => Some(error),
            reqwest_middleware::Error::Middleware(_) => None,
        }
    }
}

#[diagnostic::do_not_recommend]
impl Instrumentable for reqwest_middleware::RequestBuilder {
    type Output = reqwest_middleware::Result<Response>;

    fn instrumented_send(mut self, callsite: &'static Callsite) -> impl Future<Output = Self::Output> + Send {
        if plain() {
            return Either::Left(self.send());
        }
        // As the builder's own `send`, with the callsite in the extensions
        // and `End` at the end of the chain: each attempt that reaches
        // `Instrument` (or `End`) is a call in a client span of its own.
        static END: LazyLock<Arc<dyn Middleware>> = LazyLock::new(|| Arc::new(End));
        let mut extensions = std::mem::take(self.extensions());
        let (client, request) = self.build_split();
        Either::Right(Box::pin(async move {
            extensions.insert(Call { callsite, attempts: 0 });
            let client = ClientBuilder::from_client(client).with_arc(END.clone()).build();
            client.execute_with_extensions(request?, &mut extensions).await
        }))
    }
}

/// Says, once per callsite, that the client of an instrumented `.send()`
/// has no [`Instrument`], so that filibuster's own end of the chain
/// instrumented the attempts.
#[cold]
fn warn_missing(callsite: &'static Callsite) {
    static SAID: SaidOnce = SaidOnce::new();
    if !SAID.first_time(callsite) {
        return;
    }
    tracing::warn!(
        callsite = callsite.id,
        function = callsite.function,
        file = callsite.file,
        line = callsite.line,
        "the reqwest-middleware client of the `.send()` of `{}` at {}:{} has no \
         `filibuster::middleware::Instrument`: filibuster instrumented each attempt at the end of its \
         middleware chain instead; add `.with(filibuster::middleware::Instrument)` last to the client's \
         `ClientBuilder` (said once per callsite)",
        callsite.function,
        callsite.file,
        callsite.line,
    );
}

/// Says, once per callsite, that an attempt was repeated under an
/// [`Instrument`] that is not the last middleware, so that the repeats were
/// not calls of their own.
#[cold]
fn error_not_last(callsite: &'static Callsite) {
    static SAID: SaidOnce = SaidOnce::new();
    if !SAID.first_time(callsite) {
        return;
    }
    tracing::error!(
        callsite = callsite.id,
        function = callsite.function,
        file = callsite.file,
        line = callsite.line,
        "a middleware after `filibuster::middleware::Instrument` in the client of the `.send()` of `{}` at \
         {}:{} repeated a request (a retry?): the repeats are hidden inside one instrumented call, and no \
         fault can be injected into them; add `.with(filibuster::middleware::Instrument)` last to the \
         client's `ClientBuilder` (said once per callsite)",
        callsite.function,
        callsite.file,
        callsite.line,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The future of an instrumented reqwest-middleware `.send()` is hardly
    /// larger than the builder's own, as for reqwest's.
    #[test]
    fn an_instrumented_send_is_as_small_as_the_builders() {
        static CALLSITE: Callsite =
            Callsite { id: "0", function: "f", file: "f.rs", line: 1, client_timeout: None };
        let client = ClientBuilder::new(reqwest::Client::new()).build();
        let own = std::mem::size_of_val(&client.get("http://localhost/").send());
        let instrumented = std::mem::size_of_val(&crate::send(client.get("http://localhost/"), &CALLSITE));
        assert!(instrumented <= own + 8, "{instrumented} bytes, the builder's own {own}");
    }
}
