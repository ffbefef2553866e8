//! The body of an instrumented RPC's response whose status comes in its
//! trailers: the callee's own body, and what reports the RPC's end when
//! they arrive (`invocation_complete`, before the trailers are handed on, so
//! that the caller sees its status only once the server was told), or,
//! dropped before them, as cancelled.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use tracing::Span;

use super::client;
use crate::call::Completion;

/// The callee's body (tonic's), whose end reports the RPC's.
pub(super) struct ObservedBody {
    body: tonic::body::Body,
    completion: Completion,
    span: Span,
    /// The response's HTTP status, what tonic reads a status from when the
    /// trailers have none.
    status: http::StatusCode,
    /// The report under way, and what is handed on once it is sent.
    reporting: Option<Reporting>,
    /// The RPC's end was observed: what comes after (a body polled again
    /// past its end) is handed on as it is.
    ended: bool,
}

/// A report under way, and what is handed on once it is sent: a frame, an
/// error or the end.
type Reporting = (BoxFuture<'static, ()>, Option<Result<Frame<Bytes>, tonic::Status>>);

impl ObservedBody {
    /// `body`, whose end reports the RPC's through `completion`.
    pub(super) fn new(
        body: tonic::body::Body,
        completion: Completion,
        span: Span,
        status: http::StatusCode,
    ) -> Self {
        Self { body, completion, span, status, reporting: None, ended: false }
    }
}

impl Body for ObservedBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let this = &mut *self;
        loop {
            if let Some((report, _)) = &mut this.reporting {
                ready!(report.as_mut().poll(cx));
                let (_, handed_on) = this.reporting.take().expect("just polled");
                return Poll::Ready(handed_on);
            }
            let frame = ready!(Pin::new(&mut this.body).poll_frame(cx));
            if this.ended {
                return Poll::Ready(frame);
            }
            let outcome = match &frame {
                Some(Ok(data)) if !data.is_trailers() => return Poll::Ready(frame),
                Some(Ok(trailers)) => client::outcome_of_trailers(trailers.trailers_ref(), this.status),
                Some(Err(status)) => Err(client::exception_of_error(status)),
                // No trailers: tonic reads the status from the HTTP one.
                None => client::outcome_of_trailers(None::<&HeaderMap>, this.status),
            };
            client::end_span_with(&this.span, &outcome);
            this.ended = true;
            match this.completion.complete_now(outcome) {
                None => return Poll::Ready(frame),
                Some(report) => this.reporting = Some((report, frame)),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        if self.ended && self.reporting.is_none() {
            return self.body.is_end_stream();
        }
        // Not before its end was reported.
        false
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

impl Drop for ObservedBody {
    /// A report under way when the body is dropped (the caller gave up on
    /// the RPC after its end arrived) is sent all the same, on the current
    /// runtime; unreported, the completion's own drop reports it cancelled.
    fn drop(&mut self) {
        let Some((report, _)) = self.reporting.take() else { return };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(report);
        }
    }
}
