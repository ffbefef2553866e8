//! The body of an instrumented RPC's response: the callee's own, and, for
//! an RPC whose status comes in trailers, what reports the RPC's end when
//! they arrive (`invocation_complete`, before the trailers are handed on,
//! so that the caller sees its status only once the server was told), or,
//! dropped before them, as cancelled.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::future::BoxFuture;
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use tracing::Span;

use super::{BoxError, client};
use crate::call::Completion;

pin_project_lite::pin_project! {
    /// The body of an instrumented RPC's response ([`Client`](super::Client)).
    #[derive(Debug)]
    pub struct ResponseBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project_lite::pin_project! {
    #[project = KindProjection]
    #[derive(Debug)]
    enum Kind<B> {
        /// The body of an injected fault's answer (trailers-only).
        Empty,
        /// The callee's body, as it is.
        Plain { #[pin] body: B },
        /// The callee's body, whose end reports the RPC's.
        Observed { #[pin] body: B, end: Box<End> },
    }
}

/// What reports how an RPC ended, at its trailers.
pub(super) struct End {
    completion: Completion,
    span: Span,
    /// The response's HTTP status, what tonic reads a status from when the
    /// trailers have none.
    status: http::StatusCode,
    /// The report under way, and the frame (or error, or end) handed on
    /// once it is sent.
    reporting: Option<Reporting>,
}

/// A report under way, and what is handed on once it is sent: a frame, an
/// error or the end.
type Reporting = (BoxFuture<'static, ()>, Option<Result<Frame<Bytes>, BoxError>>);

impl std::fmt::Debug for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("End").field("completion", &self.completion).field("status", &self.status).finish()
    }
}

impl<B> Default for ResponseBody<B> {
    fn default() -> Self {
        Self { kind: Kind::Empty }
    }
}

impl<B> ResponseBody<B> {
    /// The callee's body, as it is.
    pub(super) fn plain(body: B) -> Self {
        Self { kind: Kind::Plain { body } }
    }

    /// The callee's body, whose end reports the RPC's through `completion`.
    pub(super) fn observed(body: B, completion: Completion, span: Span, status: http::StatusCode) -> Self {
        Self {
            kind: Kind::Observed { body, end: Box::new(End { completion, span, status, reporting: None }) },
        }
    }

    /// The callee's body, if it is not a fault's answer: to observe it.
    pub(super) fn into_callee_body(self) -> Result<B, Self> {
        match self.kind {
            Kind::Plain { body } | Kind::Observed { body, .. } => Ok(body),
            Kind::Empty => Err(self),
        }
    }
}

impl<B> Body for ResponseBody<B>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.project().kind.project() {
            KindProjection::Empty => Poll::Ready(None),
            KindProjection::Plain { body } => body.poll_frame(cx).map_err(Into::into),
            KindProjection::Observed { mut body, end } => loop {
                if let Some((report, _)) = &mut end.reporting {
                    ready!(report.as_mut().poll(cx));
                    let (_, handed_on) = end.reporting.take().expect("just polled");
                    return Poll::Ready(handed_on);
                }
                let frame = ready!(body.as_mut().poll_frame(cx)).map(|frame| frame.map_err(Into::into));
                let outcome = match &frame {
                    Some(Ok(data)) if !data.is_trailers() => return Poll::Ready(frame),
                    Some(Ok(trailers)) => client::outcome_of_trailers(trailers.trailers_ref(), end.status),
                    Some(Err(error)) => Err(client::exception_of_error(&**error)),
                    // No trailers: tonic reads the status from the HTTP one.
                    None => client::outcome_of_trailers(None::<&HeaderMap>, end.status),
                };
                client::end_span_with(&end.span, &outcome);
                let report = end.completion.complete(outcome);
                end.reporting = Some((Box::pin(report), frame));
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Plain { body } => body.is_end_stream(),
            // Not before its end was reported.
            Kind::Observed { .. } => false,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Plain { body } | Kind::Observed { body, .. } => body.size_hint(),
        }
    }
}
