//! `#[filibuster::dependency("postgres")]`: the body of an
//! `async fn -> Result<T, E>` becomes an instrumented call of the
//! dependency, with a compile-time callsite id.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ReturnType;
use syn::spanned::Spanned;

use crate::args::{self, DependencyArgs};
use crate::callsite;
use crate::handler::{MaybeItemFn, return_type_hint};

const APPLIES_TO: &str = "#[filibuster::dependency] applies to an async fn returning `Result<T, E>` \
                          (a call of a database, a cache or an SDK)";

pub(crate) fn expand(
    args: TokenStream,
    item: TokenStream,
    file: Option<PathBuf>,
) -> syn::Result<TokenStream> {
    let function = match syn::parse2::<MaybeItemFn>(item.clone()) {
        Ok(function) => function,
        Err(_) => return Err(args::not_a_fn(item, APPLIES_TO)),
    };
    let args = DependencyArgs::parse(args)?;
    if function.sig.asyncness.is_none() {
        return Err(syn::Error::new(
            function.sig.fn_token.span(),
            "#[filibuster::dependency] requires an async fn: the call it marks is awaited",
        ));
    }
    let ReturnType::Type(_, output) = &function.sig.output else {
        return Err(syn::Error::new(
            function.sig.ident.span(),
            "#[filibuster::dependency] applies to an async fn returning `Result<T, E>`, whose `Err` an \
             injected fault becomes: this fn returns nothing",
        ));
    };
    let output_span = output.span();
    let MaybeItemFn { outer_attrs, inner_attrs, vis, sig, body } = function;
    let name = sig.ident.to_string();
    let operation = args.operation.map_or_else(|| name.clone(), |operation| operation.value());
    let key = callsite::key(args.id.map(|id| id.value()), &name, file);
    // Salted: not the id of the first `.send()` of a `#[filibuster::call]`
    // fn of the same name (an SDK's fn may be both).
    let id = callsite::id(&format!("{key}#dependency"), 1);
    let line = callsite::line(sig.ident.span());
    let dependency = &args.dependency;
    let return_hint = return_type_hint(&sig.output, body.span());
    // Spanned at the return type: an error type without `InjectFault`, or a
    // return type that is no `Result`, is said there.
    let call = quote_spanned! {output_span=>
        ::filibuster::__private::dependency(
            {
                static __FILIBUSTER_CALLSITE: ::filibuster::__private::Callsite =
                    ::filibuster::__private::Callsite {
                        id: #id,
                        function: #name,
                        file: ::core::file!(),
                        line: #line,
                        client_timeout: ::core::option::Option::None,
                    };
                &__FILIBUSTER_CALLSITE
            },
            #dependency,
            #operation,
            async move {
                #return_hint
                #body
            },
        )
        .await
    };
    Ok(quote! {
        #(#outer_attrs)*
        #vis #sig {
            #(#inner_attrs)*
            #call
        }
    })
}
