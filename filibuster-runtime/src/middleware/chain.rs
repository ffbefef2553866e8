// The reqwest-middleware side of `Instrument`, compiled once per
// reqwest-middleware version (see `mod.rs`): every `reqwest::` and
// `reqwest_middleware::` here is that version's crate, `adapter` its
// reqwest's adapter of the call core.

use std::sync::{Arc, LazyLock};

use futures_util::future::Either;
use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{ClientBuilder, Middleware, Next};

use super::{Attempt, Call, Instrument, error_not_last, warn_missing};
use crate::call::drive;
use crate::callsite::Callsite;
use crate::send::{Instrumentable, plain, sealed};
use crate::spans;
use adapter::{HttpCall, SendError, client_request, end_client_span};

impl sealed::Sealed for reqwest_middleware::RequestBuilder {}

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
