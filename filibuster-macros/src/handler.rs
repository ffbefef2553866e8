//! `#[filibuster::handler]`: parse, validate, expand.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemFn, ReturnType, Type};

use crate::args::{self, HandlerArgs};

pub fn expand(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let function = args::parse_fn(item, "#[filibuster::handler] applies to an async fn (an axum handler)")?;
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
    Ok(expand_handler(function, &args))
}

fn expand_handler(function: ItemFn, args: &HandlerArgs) -> TokenStream {
    let ItemFn { attrs, vis, mut sig, block } = function;
    let service = &args.service;
    let return_hint = return_type_hint(&sig.output);
    let incoming: syn::FnArg = syn::parse_quote! {
        __filibuster_incoming: ::filibuster::__private::Incoming
    };
    sig.inputs.insert(0, incoming);
    let body = quote_spanned! {block.span()=>
        ::filibuster::__private::run_handler(__filibuster_incoming, #service, async move {
            #return_hint
            #block
        })
        .await
    };
    quote! {
        #(#attrs)*
        #vis #sig {
            #body
        }
    }
}

/// A never-run `return` of the declared type, so that `?` and `return` in the
/// body infer the async block's output as the fn's return type (the trick of
/// `tracing-attributes`). Skipped for `impl Trait`, which cannot be named.
fn return_type_hint(output: &ReturnType) -> TokenStream {
    let ty = match output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) if contains_impl_trait(ty) => return TokenStream::new(),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    quote! {
        #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::empty_loop)]
        if false {
            let __filibuster_return: #ty = loop {};
            return __filibuster_return;
        }
    }
}

fn contains_impl_trait(ty: &Type) -> bool {
    quote!(#ty).into_iter().any(|t| matches!(t, proc_macro2::TokenTree::Ident(ref i) if i == "impl"))
        || matches!(ty, Type::ImplTrait(_))
}
