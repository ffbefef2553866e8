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

#[cold]
fn read_env() -> bool {
    let on = std::env::var(ENV_ENABLED)
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on"))
        .unwrap_or(false);
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
