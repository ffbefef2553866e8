//! The switch that turns the instrumentation on for testing.
//!
//! Off (the default), instrumented handlers and calls behave exactly as if the
//! attributes were absent, and every `X-Filibuster-*` header is ignored, so a
//! production build that keeps the attributes cannot be made to sleep or fail
//! by a client. It is on when the environment variable `FILIBUSTER_ENABLED`
//! is `1` or `true` when first read, or after [`enable`].

use std::sync::atomic::{AtomicU8, Ordering};

/// Name of the environment variable that switches the instrumentation on.
pub const ENV_ENABLED: &str = "FILIBUSTER_ENABLED";

const UNKNOWN: u8 = 0;
const OFF: u8 = 1;
const ON: u8 = 2;

static STATE: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Whether the instrumentation is on in this process.
#[inline]
pub fn enabled() -> bool {
    match STATE.load(Ordering::Relaxed) {
        ON => true,
        OFF => false,
        _ => read_env(),
    }
}

/// The value of an on/off environment variable: `1`, `true`, `yes`, `on`
/// (any case) are on; `0`, `false`, `no`, `off` and blank are off; anything
/// else is `None`, for the caller to say so.
pub(crate) fn parse_flag(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "" | "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cold]
fn read_env() -> bool {
    let on = match std::env::var(ENV_ENABLED) {
        Ok(value) => parse_flag(&value).unwrap_or_else(|| {
            tracing::warn!(
                value = %value,
                "{ENV_ENABLED} is neither on (1, true, yes, on) nor off (0, false, no, off): the \
                 instrumentation stays off"
            );
            false
        }),
        Err(_) => false,
    };
    // A concurrent enable()/disable() wins over the environment.
    let _ = STATE.compare_exchange(UNKNOWN, if on { ON } else { OFF }, Ordering::Relaxed, Ordering::Relaxed);
    STATE.load(Ordering::Relaxed) == ON
}

/// Switches the instrumentation on for this process (for tests and harnesses).
pub fn enable() {
    STATE.store(ON, Ordering::Relaxed);
}

/// Switches the instrumentation off for this process.
pub fn disable() {
    STATE.store(OFF, Ordering::Relaxed);
}
