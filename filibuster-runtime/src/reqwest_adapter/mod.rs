//! The reqwest adapters of the call core: one source, `adapter.rs`,
//! compiled once per reqwest version this crate instruments, against that
//! version's crate: reqwest 0.13 always, reqwest 0.12 with the
//! `reqwest-0_12` feature, so that an app midway through the upgrade has
//! both, each `.send()` answering its own crate's genuine values. Adding a
//! version is one more module here, not a copy.

/// reqwest 0.13.
pub(crate) mod v0_13 {
    include!("adapter.rs");
}

/// reqwest 0.12 (feature `reqwest-0_12`).
#[cfg(feature = "reqwest-0_12")]
pub(crate) mod v0_12 {
    use reqwest_0_12 as reqwest;

    include!("adapter.rs");
}
