//! The faults of `redis::RedisError` (redis 1, feature `redis`), as the
//! redis crate returns them: a refused connection is an I/O error with
//! `is_connection_refusal()` true, a command that gets no answer in the
//! connection's response timeout an I/O error with `is_timeout()` true, and
//! a server busy running a script answers the server error `BUSY`.

use std::io;

use super::dependency::{InjectFault, os_error};

/// A refused connection: the server is down (`is_connection_refusal()`).
pub const CONNECTION_REFUSED: &str = "redis.ConnectionRefused";
/// No answer in the response timeout (`is_timeout()`).
pub const TIMED_OUT: &str = "redis.TimedOut";
/// The server is busy running a script: the server error `BUSY`.
pub const BUSY: &str = "redis.BUSY";

/// What the server says with `BUSY`, as Redis words it.
const BUSY_DETAIL: &str = "Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";

impl InjectFault for ::redis::RedisError {
    const MODULE: &'static str = "redis";
    const FAULTS: &'static [&'static str] = &[CONNECTION_REFUSED, TIMED_OUT, BUSY];

    fn inject(name: &str) -> Option<Self> {
        match name {
            // What connecting to a closed port gives.
            CONNECTION_REFUSED => Some(os_error(io::ErrorKind::ConnectionRefused).into()),
            // What the crate's own response timeout gives.
            TIMED_OUT => Some(io::Error::from(io::ErrorKind::TimedOut).into()),
            // What the crate's parser makes of `-BUSY ...`.
            BUSY => Some(::redis::make_extension_error("BUSY".to_owned(), Some(BUSY_DETAIL.to_owned()))),
            _ => None,
        }
    }

    fn fault_name(&self) -> Option<&'static str> {
        if self.is_connection_refusal() {
            Some(CONNECTION_REFUSED)
        } else if self.is_timeout() {
            Some(TIMED_OUT)
        } else if self.code() == Some("BUSY") {
            Some(BUSY)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redis_faults_round_trip() {
        super::super::dependency::assert_round_trips::<::redis::RedisError>();
    }
}
