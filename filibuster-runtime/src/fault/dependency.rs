//! The faults of dependency calls (`#[filibuster::dependency]`): the
//! [`InjectFault`] trait an error type implements to say which faults it
//! can take and the genuine value each becomes, and its implementation for
//! `std::io::Error`. The implementations for the clients' crates are
//! beside it, one module each behind its feature (`sqlx`, `redis`).

use std::io;

/// An error type whose `async fn -> Result<T, Self>` can be a fault site:
/// which faults it can take, by stable names, and the genuine value each
/// becomes, as the dependency's own crate returns it for that failure.
///
/// filibuster implements it for `std::io::Error`, `sqlx::Error` (feature
/// `sqlx`) and `redis::RedisError` (feature `redis`). A service's own error
/// type implements it in a few lines, and its fns then take
/// `#[filibuster::dependency("blob-store")]`:
///
/// ```
/// # use filibuster_runtime as filibuster;
/// use filibuster::InjectFault;
///
/// #[derive(Debug)]
/// enum BlobError {
///     Unavailable,
///     Throttled { retry_after_ms: u64 },
///     NotFound,
/// }
///
/// impl InjectFault for BlobError {
///     const MODULE: &'static str = "blob_store";
///     const FAULTS: &'static [&'static str] = &["blob_store.Unavailable", "blob_store.Throttled"];
///
///     fn inject(name: &str) -> Option<Self> {
///         match name {
///             "blob_store.Unavailable" => Some(BlobError::Unavailable),
///             "blob_store.Throttled" => Some(BlobError::Throttled { retry_after_ms: 1000 }),
///             _ => None,
///         }
///     }
///
///     fn fault_name(&self) -> Option<&'static str> {
///         match self {
///             BlobError::Unavailable => Some("blob_store.Unavailable"),
///             BlobError::Throttled { .. } => Some("blob_store.Throttled"),
///             BlobError::NotFound => None,
///         }
///     }
/// }
///
/// assert!(matches!(BlobError::inject("blob_store.Throttled"), Some(BlobError::Throttled { .. })));
/// ```
///
/// Make each value the one the real failure gives (the same variant, the
/// same fields), so that the fn's callers are tested against what they will
/// meet.
#[diagnostic::on_unimplemented(
    message = "`#[filibuster::dependency]` cannot fault a call whose error is `{Self}`",
    label = "`{Self}` does not implement `filibuster::InjectFault`",
    note = "filibuster knows the faults of `std::io::Error`, of `sqlx::Error` (its `sqlx` feature) and of \
            `redis::RedisError` (its `redis` feature); for an error type of your own, implement \
            `filibuster::InjectFault` (a few lines: its docs have an example)"
)]
pub trait InjectFault: Sized {
    /// The crate the errors come from, as the calls' records name it (their
    /// `module`, which analysis files match): `"sqlx"`.
    const MODULE: &'static str;

    /// The faults the type can take, by their stable names, each starting
    /// with [`MODULE`](Self::MODULE) and a dot: `"sqlx.PoolTimedOut"`. The
    /// built-in fault model tries each of them on every call.
    const FAULTS: &'static [&'static str];

    /// The genuine error of the fault `name`, one of [`FAULTS`](Self::FAULTS);
    /// `None` for any other name (the call then goes ahead, said loudly).
    fn inject(name: &str) -> Option<Self>;

    /// The name of the fault an observed error is, when it is one of
    /// [`FAULTS`](Self::FAULTS): how a call that failed on its own is
    /// reported, so that an execution where it did and one where it was
    /// made to are known to be alike. `None` for any other error.
    fn fault_name(&self) -> Option<&'static str>;
}

/// `std::io::Error`: its faults are named after `std::io::ErrorKind`.
pub mod io_faults {
    /// The connection is refused (`ErrorKind::ConnectionRefused`).
    pub const CONNECTION_REFUSED: &str = "io.ConnectionRefused";
    /// The connection is reset by the peer (`ErrorKind::ConnectionReset`).
    pub const CONNECTION_RESET: &str = "io.ConnectionReset";
    /// The operation times out (`ErrorKind::TimedOut`).
    pub const TIMED_OUT: &str = "io.TimedOut";
}

/// The faults of `std::io::Error`, and the kind of error each is.
const IO_FAULTS: [(&str, io::ErrorKind); 3] = [
    (io_faults::CONNECTION_REFUSED, io::ErrorKind::ConnectionRefused),
    (io_faults::CONNECTION_RESET, io::ErrorKind::ConnectionReset),
    (io_faults::TIMED_OUT, io::ErrorKind::TimedOut),
];

/// A genuine I/O error of `kind`, as the operating system reports it: a
/// refused connection is `Connection refused (os error 111)` on Linux,
/// with its `raw_os_error`, as a real `connect` gives it.
pub(crate) fn os_error(kind: io::ErrorKind) -> io::Error {
    #[cfg(unix)]
    {
        let code = match kind {
            io::ErrorKind::ConnectionRefused => Some(libc::ECONNREFUSED),
            io::ErrorKind::ConnectionReset => Some(libc::ECONNRESET),
            io::ErrorKind::TimedOut => Some(libc::ETIMEDOUT),
            _ => None,
        };
        if let Some(code) = code {
            return io::Error::from_raw_os_error(code);
        }
    }
    io::Error::from(kind)
}

/// The genuine I/O error of the fault `name` of `table` (fault names and
/// the kinds of error they are).
pub(crate) fn io_error_named(name: &str, table: &[(&'static str, io::ErrorKind)]) -> Option<io::Error> {
    table.iter().find(|(known, _)| *known == name).map(|(_, kind)| os_error(*kind))
}

/// The name, in `table`, of the fault an I/O error is.
pub(crate) fn io_fault_name(
    error: &io::Error,
    table: &[(&'static str, io::ErrorKind)],
) -> Option<&'static str> {
    table.iter().find(|(_, kind)| *kind == error.kind()).map(|(name, _)| *name)
}

impl InjectFault for io::Error {
    const MODULE: &'static str = "io";
    const FAULTS: &'static [&'static str] =
        &[io_faults::CONNECTION_REFUSED, io_faults::CONNECTION_RESET, io_faults::TIMED_OUT];

    fn inject(name: &str) -> Option<Self> {
        io_error_named(name, &IO_FAULTS)
    }

    fn fault_name(&self) -> Option<&'static str> {
        io_fault_name(self, &IO_FAULTS)
    }
}

/// Every name of `E::FAULTS` makes an error that is reported under that
/// name, and no other name makes one.
#[cfg(test)]
pub(crate) fn assert_round_trips<E: InjectFault>() {
    for name in E::FAULTS {
        assert!(name.starts_with(&format!("{}.", E::MODULE)), "{name}");
        let error = E::inject(name).unwrap_or_else(|| panic!("{name} makes no error"));
        assert_eq!(error.fault_name(), Some(*name));
    }
    for name in ["", "io", "io.NotFound", "sqlx.Nonsense", "redis.nonsense", "élan"] {
        assert!(E::inject(name).is_none(), "{name}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_faults_round_trip() {
        assert_round_trips::<io::Error>();
        assert_eq!(
            io::Error::inject("io.ConnectionRefused").unwrap().kind(),
            io::ErrorKind::ConnectionRefused
        );
        assert_eq!(io::Error::other("x").fault_name(), None);
    }
}
