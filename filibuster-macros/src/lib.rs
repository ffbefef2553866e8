//! Attribute macros of [filibuster](https://docs.rs/filibuster): use them
//! through the `filibuster` crate, as `#[filibuster::handler]`,
//! `#[filibuster::call]`, `#[filibuster::dependency]` and `#[filibuster::test]`. The macros only mark code and embed compile-time
//! callsite ids; everything they expand to calls into `filibuster-runtime`.
//!
//! One file per stage, as in thiserror's `impl/`: `args.rs` parses the
//! attributes' arguments and the items they apply to, `macro_args.rs` the
//! macro invocations whose `.send()`s `#[call]` rewrites, `callsite.rs`
//! makes the compile-time callsite ids, and `handler.rs`, `call.rs`,
//! `dependency.rs` and `test.rs` expand each attribute; a misuse is the original item plus a
//! `compile_error!` at the offending tokens.

mod args;
mod call;
mod callsite;
mod dependency;
mod handler;
mod macro_args;
mod test;

use proc_macro::TokenStream;

/// Instruments an axum handler; see `filibuster::handler`.
#[proc_macro_attribute]
pub fn handler(args: TokenStream, item: TokenStream) -> TokenStream {
    let file = proc_macro::Span::call_site().local_file();
    let item = proc_macro2::TokenStream::from(item);
    or_error(handler::expand(args.into(), item.clone(), file), item)
}

/// Makes an async fn a test that explores; see `filibuster::test`.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = proc_macro2::TokenStream::from(item);
    or_error(test::expand(args.into(), item.clone()), item)
}

/// Instruments the reqwest `.send()` calls of a function, or of the methods of
/// an impl block; see `filibuster::call`.
#[proc_macro_attribute]
pub fn call(args: TokenStream, item: TokenStream) -> TokenStream {
    let file = proc_macro::Span::call_site().local_file();
    let item = proc_macro2::TokenStream::from(item);
    or_error(call::expand(args.into(), item.clone(), file), item)
}

/// Makes an async fn returning `Result<T, E>` a dependency call, a fault
/// site; see `filibuster::dependency`.
#[proc_macro_attribute]
pub fn dependency(args: TokenStream, item: TokenStream) -> TokenStream {
    let file = proc_macro::Span::call_site().local_file();
    let item = proc_macro2::TokenStream::from(item);
    or_error(dependency::expand(args.into(), item.clone(), file), item)
}

/// The expansion, or on error the original item plus the error, so that one
/// mistake does not cascade into errors about a missing item.
fn or_error(expansion: syn::Result<proc_macro2::TokenStream>, item: proc_macro2::TokenStream) -> TokenStream {
    match expansion {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            let error = error.to_compile_error();
            quote::quote!(#item #error).into()
        }
    }
}
