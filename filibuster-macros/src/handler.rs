//! `#[filibuster::handler]`: parse, validate, expand.

use std::path::PathBuf;

use proc_macro2::{Delimiter, Group, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{Attribute, FnArg, ItemFn, ReturnType, Signature, Type, Visibility, braced};

use crate::args::{self, HandlerArgs};
use crate::call;

const APPLIES_TO: &str = "#[filibuster::handler] applies to an async fn (an axum handler)";

pub(crate) fn expand(
    args: TokenStream,
    item: TokenStream,
    file: Option<PathBuf>,
) -> syn::Result<TokenStream> {
    let mut function = match syn::parse2::<MaybeItemFn>(item.clone()) {
        Ok(function) => function,
        // Not a fn with a body: say what it is, or give syn's own error.
        Err(_) => return Err(args::not_a_fn(item, APPLIES_TO)),
    };
    let args = HandlerArgs::parse(args)?;
    if function.sig.asyncness.is_none() {
        return Err(syn::Error::new(
            function.sig.fn_token.span(),
            "#[filibuster::handler] requires an async fn: axum handlers are async",
        ));
    }
    if let Some(receiver) = function.sig.receiver() {
        return Err(syn::Error::new(
            receiver.self_token.span,
            "#[filibuster::handler] applies to a free async fn: axum handlers take no `self`",
        ));
    }
    let reference = function.sig.inputs.iter().find_map(|input| match input {
        FnArg::Typed(typed) if matches!(*typed.ty, Type::Reference(_)) => Some(&typed.ty),
        _ => None,
    });
    if let Some(reference) = reference {
        return Err(syn::Error::new_spanned(
            reference,
            "#[filibuster::handler] applies to an axum handler, whose arguments are extractors taken by \
             value, not references; a fn that sends requests to other services takes \
             #[filibuster::call]",
        ));
    }
    if let Some(again) = function.outer_attrs.iter().find(|attr| is_handler_attribute(attr.path())) {
        return Err(syn::Error::new_spanned(again, "#[filibuster::handler] twice on one fn"));
    }
    if function.outer_attrs.iter().any(call::is_call_attribute) {
        function = with_sends_instrumented(item, file)?;
    }
    Ok(expand_handler(function, &args))
}

/// A handler that sends requests itself, with `#[filibuster::call]` below
/// `#[filibuster::handler]`: its `.send()`s are instrumented first, as when
/// the call attribute stands above (and expands first), so that both
/// orders give the same fn. The handler's expansion would otherwise put the
/// body inside a macro that the call attribute cannot look into.
fn with_sends_instrumented(item: TokenStream, file: Option<PathBuf>) -> syn::Result<MaybeItemFn> {
    let mut function: ItemFn = syn::parse2(item)?;
    let args = call::take_args(&mut function.attrs)?.unwrap_or_default();
    syn::parse2(call::expand_fn(args, function, file)?)
}

/// Whether `path` names this attribute: `filibuster::handler`, with or
/// without a leading `::`.
fn is_handler_attribute(path: &syn::Path) -> bool {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    segments == ["filibuster", "handler"]
}

/// A fn whose body is kept as tokens, as `tracing-attributes`' `MaybeItemFn`:
/// the attribute never looks inside the body, so a mistake in it is left to
/// rustc to report, once. Inner attributes (`#![allow(..)]` at the top of
/// the body) are kept apart, to be printed back inside the braces.
pub(crate) struct MaybeItemFn {
    pub(crate) outer_attrs: Vec<Attribute>,
    pub(crate) inner_attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    /// The body, braces included, with the tokens after the inner attributes.
    pub(crate) body: Group,
}

impl Parse for MaybeItemFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let outer_attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let content;
        let brace = braced!(content in input);
        let inner_attrs = content.call(Attribute::parse_inner)?;
        let mut body = Group::new(Delimiter::Brace, content.parse()?);
        body.set_span(brace.span.join());
        Ok(Self { outer_attrs, inner_attrs, vis, sig, body })
    }
}

fn expand_handler(function: MaybeItemFn, args: &HandlerArgs) -> TokenStream {
    let MaybeItemFn { outer_attrs, inner_attrs, vis, mut sig, body } = function;
    let return_hint = return_type_hint(&sig.output, body.span());
    let incoming: syn::FnArg = syn::parse_quote! {
        __filibuster_incoming: ::filibuster::__private::Incoming
    };
    sig.inputs.insert(0, incoming);
    // Without `service = ".."`, the environment names the service when the
    // instrumentation runs: `OTEL_SERVICE_NAME`, else this package's name,
    // which `env!` reads where the handler is compiled.
    let (run_handler, service) = match &args.service {
        Some(service) => (quote!(run_handler), quote!(#service)),
        None => (quote!(run_handler_from_env), quote!(::core::env!("CARGO_PKG_NAME"))),
    };
    // The body's future is made once, in place, and pinned where it is:
    // `run_handler` takes it by reference, so that the future (as large as
    // all the state the body keeps across its awaits) is never copied, on or
    // off.
    let run = quote_spanned! {body.span()=>
        let __filibuster_body = ::core::pin::pin!(async move {
            #return_hint
            #body
        });
        ::filibuster::__private::#run_handler(__filibuster_incoming, #service, __filibuster_body).await
    };
    quote! {
        #(#outer_attrs)*
        #vis #sig {
            #(#inner_attrs)*
            #run
        }
    }
}

/// A never-run `return` of the declared type, so that `?` and `return` in the
/// body infer the async block's output as the fn's return type (the trick of
/// `tracing-attributes`). It carries the span of the declared type, so that
/// "return type inferred to be `T` here" points at `-> T`; `impl Trait`,
/// which cannot be named there, is erased to `_`.
pub(crate) fn return_type_hint(output: &ReturnType, body_span: proc_macro2::Span) -> TokenStream {
    let (ty, span) = match output {
        ReturnType::Default => (quote!(()), body_span),
        ReturnType::Type(_, ty) => {
            let span = ty.span();
            let mut ty = (**ty).clone();
            ImplTraitEraser.visit_type_mut(&mut ty);
            (ty.to_token_stream(), span)
        }
    };
    quote_spanned! {span=>
        #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::empty_loop)]
        if false {
            let __filibuster_return: #ty = loop {};
            return __filibuster_return;
        }
    }
}

/// Replaces every `impl Trait` of a type with `_`.
struct ImplTraitEraser;

impl VisitMut for ImplTraitEraser {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(impl_trait) = ty {
            *ty =
                Type::Infer(syn::TypeInfer { underscore_token: syn::Token![_](impl_trait.impl_token.span) });
        } else {
            visit_mut::visit_type_mut(self, ty);
        }
    }
}
