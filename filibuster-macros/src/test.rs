//! `#[filibuster::test]`: parse, validate, expand into a `#[test]` fn that
//! calls the explorer's `run_test`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Ident};

use crate::args::{self, FaultModelArg, TestArgs};
use crate::handler::MaybeItemFn;

const APPLIES_TO: &str = "#[filibuster::test] applies to an async fn, the functional test";
const SIGNATURE: &str = "async fn name(ctx: filibuster::TestContext)";
const SIGNATURE_WITH_SERVICES: &str = "async fn name(ctx: filibuster::TestContext, services: &Services)";

pub(crate) fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let function = match syn::parse2::<MaybeItemFn>(item.clone()) {
        Ok(function) => function,
        Err(_) => return Err(args::not_a_fn(item, APPLIES_TO)),
    };
    let args = TestArgs::parse(args)?;
    validate(&function, &args)?;
    Ok(expand_test(function, &args))
}

fn validate(function: &MaybeItemFn, args: &TestArgs) -> syn::Result<()> {
    let sig = &function.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span(),
            format!("#[filibuster::test] requires an async fn: {SIGNATURE}"),
        ));
    }
    if let Some(receiver) = sig.receiver() {
        return Err(syn::Error::new(
            receiver.self_token.span,
            "#[filibuster::test] applies to a free async fn, without `self`",
        ));
    }
    if !sig.generics.params.is_empty() {
        return Err(syn::Error::new(
            sig.generics.params.span(),
            "#[filibuster::test] applies to a fn without generic parameters: the explorer calls it",
        ));
    }
    match (sig.inputs.len(), &args.services) {
        (0, _) => Err(syn::Error::new(
            sig.paren_token.span.join(),
            format!("the test takes the exploration's context: {SIGNATURE}"),
        )),
        (1, Some(services)) => Err(syn::Error::new(
            services.span(),
            format!(
                "the services that `services = ..` starts go to a second parameter: {SIGNATURE_WITH_SERVICES}"
            ),
        )),
        (1, None) => Ok(()),
        (2, Some(_)) => Ok(()),
        (2, None) => Err(syn::Error::new(
            sig.inputs[1].span(),
            "this parameter takes the services: name the async fn that starts them, given the explorer's \
             connection, with `#[filibuster::test(services = start_services)]`",
        )),
        _ => Err(syn::Error::new(
            sig.inputs.iter().nth(2).map_or_else(Span::call_site, FnArg::span),
            format!(
                "the test takes the context and, with `services = ..`, the services: {SIGNATURE_WITH_SERVICES}"
            ),
        )),
    }
}

fn expand_test(function: MaybeItemFn, args: &TestArgs) -> TokenStream {
    let MaybeItemFn { outer_attrs, inner_attrs, vis, mut sig, body } = function;
    let name = sig.ident.clone();
    let name_text = name.to_string();
    // The fn as written becomes an item inside the `#[test]` fn of its name.
    let inner = format_ident!("__filibuster_test_{}", name, span = name.span());
    sig.ident = inner.clone();
    let options = options(args, &name_text);
    let private = quote!(::filibuster::__private);
    let (setup, test) = match &args.services {
        Some(services) => (quote!(#services), quote!(#inner)),
        None => (
            quote!(#private::no_services),
            quote!(async |ctx: ::filibuster::TestContext, _: &()| #inner(ctx).await),
        ),
    };
    let call = quote_spanned! {name.span()=>
        #private::run_test(#options, #setup, #test)
    };
    quote! {
        #(#outer_attrs)*
        #[::core::prelude::v1::test]
        #vis fn #name() {
            #sig {
                #(#inner_attrs)*
                #body
            }
            #call
        }
    }
}

/// The `TestOptions` the arguments describe.
fn options(args: &TestArgs, name: &str) -> TokenStream {
    let private = quote!(::filibuster::__private);
    // The package and test target, for the replay command: cargo gives
    // `CARGO_TARGET_TMPDIR` to integration tests (and benches) only, and
    // `CARGO_BIN_NAME` to binaries only.
    let mut options = quote! {
        #private::TestOptions::new(::core::module_path!(), #name, ::core::env!("CARGO_MANIFEST_DIR"))
            .target(
                ::core::env!("CARGO_PKG_NAME"),
                ::core::env!("CARGO_CRATE_NAME"),
                ::core::option_env!("CARGO_TARGET_TMPDIR").is_some(),
                ::core::option_env!("CARGO_BIN_NAME"),
            )
    };
    let mut set = |method: &str, value: TokenStream| {
        let method = Ident::new(method, Span::call_site());
        options = quote!(#options.#method(#value));
    };
    match &args.fault_model {
        Some(FaultModelArg::File(path)) => set("fault_model_file", quote!(#path)),
        Some(FaultModelArg::Value(expr)) => set("fault_model", quote!(#expr)),
        None => {}
    }
    if let Some(n) = &args.max_executions {
        set("max_executions", quote!(#n));
    }
    if let Some(on) = &args.dynamic_reduction {
        set("dynamic_reduction", quote!(#on));
    }
    if let Some(breadth_first) = args.breadth_first {
        let strategy = if breadth_first { quote!(BreadthFirst) } else { quote!(DepthFirst) };
        set("strategy", quote!(::filibuster::Strategy::#strategy));
    }
    match &args.regressions {
        Some(Some(path)) => set("regressions", quote!(::core::option::Option::Some(#path))),
        Some(None) => set("regressions", quote!(::core::option::Option::None)),
        None => {}
    }
    match &args.report {
        Some(Some(path)) => set("report", quote!(::core::option::Option::Some(#path))),
        Some(None) => set("report", quote!(::core::option::Option::None)),
        None => {}
    }
    if let Some(on) = &args.replay_first {
        set("replay_first", quote!(#on));
    }
    if let Some(on) = &args.keep_going {
        set("keep_going", quote!(#on));
    }
    if let Some(allow) = &args.allow_no_calls {
        set("allow_no_calls", quote!(#allow));
    }
    if let Some(seconds) = &args.execution_timeout {
        set("execution_timeout", quote!(#seconds as f64));
    }
    options
}
