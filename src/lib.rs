//! placeholder
pub use filibuster_macros::{call, handler};
pub use filibuster_runtime::*;

#[doc(hidden)]
pub mod __private {
    pub use filibuster_runtime::{Callsite, Incoming, run_handler, send};
}
