//! Faults, and the genuine values they become: each client's module makes
//! the values of its own crate (`reqwest`: a real `reqwest::Error` with
//! `is_connect()` or `is_timeout()`, a real `reqwest::Response` with the
//! injected status); a dependency call's error type says its own through
//! [`InjectFault`] (`std::io::Error` here, [`sqlx`] and [`redis`] behind
//! their features).
//!
//! Errors are made ahead of time, off the calls' path: a small pool per
//! kind, refilled in the background by concurrent attempts, so that an
//! injected timeout costs what a status fault costs rather than the timer's
//! ~2 ms. A call that finds its pool empty makes its error itself.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::BoxFuture;

mod dependency;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "sqlx")]
pub mod sqlx;

pub use crate::reqwest_adapter::v0_13::{error, error_kind, response};
pub use dependency::{InjectFault, io_faults};

/// The genuine values of reqwest 0.12 that faults become on its calls
/// (feature `reqwest-0_12`): as [`error`], [`error_kind`] and [`response`]
/// are reqwest 0.13's.
#[cfg(feature = "reqwest-0_12")]
pub mod reqwest_0_12 {
    pub use crate::reqwest_adapter::v0_12::{error, error_kind, response};
}

/// Name of the connection-error fault of the built-in fault model.
pub const CONNECT: &str = "reqwest.connect";
/// Name of the timeout fault of the built-in fault model.
pub const TIMEOUT: &str = "reqwest.timeout";

/// Name reported for a call that ended with any other reqwest error.
pub const OTHER: &str = "reqwest.error";

/// The reference's name for a connection error, also understood.
pub const REFERENCE_CONNECT: &str = "requests.exceptions.ConnectionError";
/// The reference's name for a timeout, also understood.
pub const REFERENCE_TIMEOUT: &str = "requests.exceptions.Timeout";

/// Every exception a reqwest call can be failed with, and the genuine error
/// each becomes: this project's names, then, as aliases, the reference's
/// (Python `requests`) names for the same failures, so that the
/// reference's analysis files and counterexamples work. A name not here is
/// no fault a reqwest call can make: it is refused, never mapped to another.
pub const REQWEST_EXCEPTIONS: &[(&str, ErrorKind)] = &[
    (CONNECT, ErrorKind::Connect),
    (TIMEOUT, ErrorKind::Timeout),
    (REFERENCE_CONNECT, ErrorKind::Connect),
    (REFERENCE_TIMEOUT, ErrorKind::Timeout),
    ("requests.exceptions.ConnectTimeout", ErrorKind::Timeout),
    ("requests.exceptions.ReadTimeout", ErrorKind::Timeout),
];

/// The exception names the calls of client `module` (the `module` of their
/// `invocation` records) can be failed with, for the clients this runtime
/// instruments (`reqwest`, `tonic`); `None` for any other client, whose own
/// instrumentation decides.
pub fn known_exceptions(module: &str) -> Option<Box<dyn Iterator<Item = &'static str>>> {
    match module {
        "reqwest" => Some(Box::new(REQWEST_EXCEPTIONS.iter().map(|(name, _)| *name))),
        crate::grpc::MODULE => Some(Box::new(crate::grpc::EXCEPTIONS.iter().copied())),
        _ => None,
    }
}

/// Which genuine reqwest error a forced exception becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// `is_connect()` is true.
    Connect,
    /// `is_timeout()` is true.
    Timeout,
}

impl ErrorKind {
    /// The kind of error an exception name stands for ([`REQWEST_EXCEPTIONS`]),
    /// or `None` for a name no reqwest call can be failed with.
    pub fn from_name(name: &str) -> Option<Self> {
        REQWEST_EXCEPTIONS.iter().find(|(known, _)| *known == name).map(|(_, kind)| *kind)
    }

    /// The stable name of this kind in the built-in fault model.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => CONNECT,
            ErrorKind::Timeout => TIMEOUT,
        }
    }
}

/// Errors of one kind made ahead of time.
pub(crate) struct Pool<E> {
    ready: Mutex<Vec<E>>,
    /// A refill task is running.
    refilling: AtomicBool,
}

impl<E: Send + 'static> Pool<E> {
    /// Errors a pool holds when full.
    const CAPACITY: usize = 64;
    /// A pool is refilled when it holds fewer than this.
    pub(crate) const LOW: usize = Self::CAPACITY / 2;

    pub(crate) const fn new() -> Self {
        Self { ready: Mutex::new(Vec::new()), refilling: AtomicBool::new(false) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<E>> {
        self.ready.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// How many errors are ready.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    pub(crate) fn take(&self) -> Option<E> {
        self.lock().pop()
    }

    /// Starts a background refill, on the current tokio runtime, when the
    /// pool is low and no refill runs: `make` makes one error.
    pub(crate) fn refill_if_low(&'static self, make: fn() -> BoxFuture<'static, E>) {
        if self.lock().len() >= Self::LOW || self.refilling.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.refilling.store(false, Ordering::Release);
            return;
        };
        /// Clears `refilling` when the task ends or is dropped with its
        /// runtime, so that the next runtime refills.
        struct Refilling<E: Send + 'static>(&'static Pool<E>);
        impl<E: Send + 'static> Drop for Refilling<E> {
            fn drop(&mut self) {
                self.0.refilling.store(false, Ordering::Release);
            }
        }
        let guard = Refilling(self);
        runtime.spawn(async move {
            use futures_util::StreamExt;
            let missing = Self::CAPACITY.saturating_sub(guard.0.lock().len());
            // Made concurrently, each pooled as soon as it is ready.
            let mut making: futures_util::stream::FuturesUnordered<_> =
                (0..missing).map(|_| make()).collect();
            while let Some(error) = making.next().await {
                let mut ready = guard.0.lock();
                if ready.len() < Self::CAPACITY {
                    ready.push(error);
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only the names of the table are faults, each its own kind: no name
    /// is guessed from its spelling.
    #[test]
    fn only_known_names_are_faults() {
        for name in [TIMEOUT, REFERENCE_TIMEOUT, "requests.exceptions.ReadTimeout"] {
            assert_eq!(ErrorKind::from_name(name), Some(ErrorKind::Timeout), "{name}");
        }
        for name in [CONNECT, REFERENCE_CONNECT] {
            assert_eq!(ErrorKind::from_name(name), Some(ErrorKind::Connect), "{name}");
        }
        for name in [OTHER, "reqwest.nonsense", "", "TIMEOUT", "a.timeOut.b", "reqwest.Timeout", "élan"] {
            assert_eq!(ErrorKind::from_name(name), None, "{name}");
        }
        assert!(known_exceptions("reqwest").unwrap().eq(REQWEST_EXCEPTIONS.iter().map(|(n, _)| *n)));
        assert!(known_exceptions("grpc").is_none());
    }
}
