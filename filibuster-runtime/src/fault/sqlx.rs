//! The faults of `sqlx::Error` (sqlx 0.8, feature `sqlx`), as sqlx returns
//! them when the database is down or goes away: a pool that gets no
//! connection in its acquire timeout answers `Error::PoolTimedOut` (what
//! every query on a pool answers while the database is down: the pool
//! retries until then), a connection made directly to a stopped database
//! `Error::Io` of the refused connection, and a connection the database
//! closed (a crash, a restart) `Error::Io` of the end of the stream, worded
//! as sqlx's PostgreSQL reader words it (checked against a stopped
//! PostgreSQL). These are a networked database's failures: on SQLite they
//! stand for what a server would do.

use std::io;

use super::dependency::{InjectFault, os_error};

/// `Error::PoolTimedOut`: no connection in the pool's acquire timeout.
pub const POOL_TIMED_OUT: &str = "sqlx.PoolTimedOut";
/// `Error::Io` of a refused connection: the database is down.
pub const CONNECTION_REFUSED: &str = "sqlx.Io.ConnectionRefused";
/// `Error::Io` of a connection the database closed between two messages.
pub const UNEXPECTED_EOF: &str = "sqlx.Io.UnexpectedEof";

/// What sqlx says when the connection ends where the next message's
/// header (its 5 bytes) should be.
const EOF_MESSAGE: &str = "expected to read 5 bytes, got 0 bytes at EOF";

impl InjectFault for ::sqlx::Error {
    const MODULE: &'static str = "sqlx";
    const FAULTS: &'static [&'static str] = &[POOL_TIMED_OUT, CONNECTION_REFUSED, UNEXPECTED_EOF];

    fn inject(name: &str) -> Option<Self> {
        match name {
            POOL_TIMED_OUT => Some(::sqlx::Error::PoolTimedOut),
            CONNECTION_REFUSED => Some(::sqlx::Error::Io(os_error(io::ErrorKind::ConnectionRefused))),
            UNEXPECTED_EOF => {
                Some(::sqlx::Error::Io(io::Error::new(io::ErrorKind::UnexpectedEof, EOF_MESSAGE)))
            }
            _ => None,
        }
    }

    fn fault_name(&self) -> Option<&'static str> {
        match self {
            ::sqlx::Error::PoolTimedOut => Some(POOL_TIMED_OUT),
            ::sqlx::Error::Io(error) => match error.kind() {
                io::ErrorKind::ConnectionRefused => Some(CONNECTION_REFUSED),
                io::ErrorKind::UnexpectedEof => Some(UNEXPECTED_EOF),
                _ => None,
            },
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlx_faults_round_trip() {
        super::super::dependency::assert_round_trips::<::sqlx::Error>();
    }
}
