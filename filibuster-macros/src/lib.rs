//! Attribute macros of [filibuster](https://docs.rs/filibuster): use them
//! through the `filibuster` crate, as `#[filibuster::handler]` and
//! `#[filibuster::call]`. The macros only mark code and embed compile-time
//! callsite ids; everything they expand to calls into `filibuster-runtime`.

mod args;
mod call;
mod callsite;
mod handler;

use proc_macro::TokenStream;

/// Instruments an axum handler; see `filibuster::handler`.
#[proc_macro_attribute]
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    handler::expand(args.into(), item.into()).into()
}

/// Instruments the reqwest `.send()` calls of a function; see `filibuster::call`.
#[proc_macro_attribute]
pub fn call(args: TokenStream, item: TokenStream) -> TokenStream {
    let file = proc_macro::Span::call_site().local_file();
    call::expand(args.into(), item.into(), file).into()
}
