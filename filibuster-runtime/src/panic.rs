//! Panics of instrumented handlers, named: the service, the message and
//! the place, reported to the server (`POST /filibuster/panic`, this
//! project's addition to the protocol) so that the execution's report says
//! why a call "did not answer". The handler still panics as it would have:
//! nothing changes for the service or its caller.

use std::any::Any;
use std::cell::RefCell;
use std::sync::Once;

use serde::{Deserialize, Serialize};

/// The most bytes of a panic's message a record carries.
pub const MAX_MESSAGE: usize = 1024;

/// A handler's panic, as `POST /filibuster/panic` reports it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HandlerPanic {
    /// The service whose handler panicked.
    pub service: String,
    /// The panic's message (at most [`MAX_MESSAGE`] bytes).
    pub message: String,
    /// Where it panicked: `file:line`, when the panic hook saw it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

impl HandlerPanic {
    /// `service `users` panicked at src/lib.rs:93: Failed to forward request`.
    pub fn describe(&self) -> String {
        match &self.location {
            Some(location) => format!("service `{}` panicked at {location}: {}", self.service, self.message),
            None => format!("service `{}` panicked: {}", self.service, self.message),
        }
    }
}

thread_local! {
    /// The message and place of the last panic on this thread, as the hook
    /// saw them: the place is that of a caught payload only if the message
    /// is its message (a payload resumed with `resume_unwind` passes no hook).
    static LAST_PANIC: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Installs, once, a panic hook that notes where each panic happened (for
/// [`HandlerPanic::location`]) and then calls the hook that was there
/// before, so that panics print as they did.
pub(crate) fn watch_locations() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let seen = info
                .location()
                .map(|l| (message_of(info.payload()).to_owned(), format!("{}:{}", l.file(), l.line())));
            // A panic while the cell is borrowed (never: it is only
            // replaced) must not panic again.
            let _ = LAST_PANIC.try_with(|last| last.try_borrow_mut().map(|mut last| *last = seen));
            previous(info);
        }));
    });
}

/// Reports that the handler of `service` panicked with `payload`, which
/// it hands back. One boxed future, not a part of every handler's.
pub(crate) fn reported(
    connection: crate::Connection,
    service: &'static str,
    payload: Box<dyn Any + Send>,
) -> futures_util::future::BoxFuture<'static, Box<dyn Any + Send>> {
    Box::pin(async move {
        let panic = named(service, &*payload);
        connection.handler_panicked(&panic).await;
        payload
    })
}

/// What the handler of `service` panicked with: its message (from the
/// payload) and place (from the hook, on this thread).
fn named(service: &str, payload: &(dyn Any + Send)) -> HandlerPanic {
    let message = message_of(payload);
    let mut end = message.len().min(MAX_MESSAGE);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    let last = LAST_PANIC.try_with(|last| last.borrow_mut().take()).ok().flatten();
    let location = last.filter(|(seen, _)| seen == message).map(|(_, location)| location);
    HandlerPanic { service: service.to_owned(), message: message[..end].to_owned(), location }
}

/// A panic's message, from its payload.
fn message_of(payload: &(dyn Any + Send)) -> &str {
    match payload.downcast_ref::<String>() {
        Some(message) => message.as_str(),
        None => payload.downcast_ref::<&'static str>().copied().unwrap_or("a panic without a message"),
    }
}
