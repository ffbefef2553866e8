//! Faults, and the genuine values they become: each client's module makes
//! the values of its own crate (`reqwest`: a real `reqwest::Error` with
//! `is_connect()` or `is_timeout()`, a real `reqwest::Response` with the
//! injected status).
//!
//! Errors are made ahead of time, off the calls' path: a small pool per
//! kind, refilled in the background by concurrent attempts, so that an
//! injected timeout costs what a status fault costs rather than the timer's
//! ~2 ms. A call that finds its pool empty makes its error itself.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::BoxFuture;

mod reqwest;

pub use self::reqwest::{error, response};

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

/// Which genuine reqwest error a forced exception becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// `is_connect()` is true.
    Connect,
    /// `is_timeout()` is true.
    Timeout,
}

impl ErrorKind {
    /// The kind of error an exception name stands for: a timeout for
    /// [`TIMEOUT`] and any name mentioning a timeout (`requests.exceptions.
    /// ReadTimeout`, ...), a connection error for everything else.
    pub fn from_name(name: &str) -> Self {
        // "timeout" in any case, without lower-casing a copy of the name.
        if name == TIMEOUT || name.as_bytes().windows(7).any(|w| w.eq_ignore_ascii_case(b"timeout")) {
            ErrorKind::Timeout
        } else {
            ErrorKind::Connect
        }
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

    #[test]
    fn names_mentioning_a_timeout_in_any_case_are_timeouts() {
        for name in [TIMEOUT, REFERENCE_TIMEOUT, "requests.exceptions.ReadTimeout", "TIMEOUT", "a.timeOut.b"]
        {
            assert_eq!(ErrorKind::from_name(name), ErrorKind::Timeout, "{name}");
        }
        for name in [CONNECT, REFERENCE_CONNECT, OTHER, "", "time out", "timeou", "élan"] {
            assert_eq!(ErrorKind::from_name(name), ErrorKind::Connect, "{name}");
        }
    }
}
