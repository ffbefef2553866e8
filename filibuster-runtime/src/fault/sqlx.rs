//! The faults of `sqlx::Error` (sqlx 0.8, feature `sqlx`), as sqlx returns
//! them: a pool that gives no connection in time is `Error::PoolTimedOut`
//! (what `Pool::acquire` and every query on a pool return when the database
//! does not answer), a refused or dropped connection is `Error::Io` with the
//! operating system's error.

use std::io;

use super::dependency::{InjectFault, io_error_named, io_fault_name};

/// `Error::PoolTimedOut`: no connection in the pool's acquire timeout.
pub const POOL_TIMED_OUT: &str = "sqlx.PoolTimedOut";
/// `Error::Io` of a refused connection: the database is down.
pub const CONNECTION_REFUSED: &str = "sqlx.Io.ConnectionRefused";
/// `Error::Io` of a connection reset by the database mid-query.
pub const CONNECTION_RESET: &str = "sqlx.Io.ConnectionReset";

/// The I/O faults, and the kind of error each is.
const IO_FAULTS: [(&str, io::ErrorKind); 2] = [
    (CONNECTION_REFUSED, io::ErrorKind::ConnectionRefused),
    (CONNECTION_RESET, io::ErrorKind::ConnectionReset),
];

impl InjectFault for ::sqlx::Error {
    const MODULE: &'static str = "sqlx";
    const FAULTS: &'static [&'static str] = &[POOL_TIMED_OUT, CONNECTION_REFUSED, CONNECTION_RESET];

    fn inject(name: &str) -> Option<Self> {
        match name {
            POOL_TIMED_OUT => Some(::sqlx::Error::PoolTimedOut),
            _ => io_error_named(name, &IO_FAULTS).map(::sqlx::Error::Io),
        }
    }

    fn fault_name(&self) -> Option<&'static str> {
        match self {
            ::sqlx::Error::PoolTimedOut => Some(POOL_TIMED_OUT),
            ::sqlx::Error::Io(error) => io_fault_name(error, &IO_FAULTS),
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
