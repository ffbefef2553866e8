//! `#[filibuster::call]`: find every `.send()` of the body and route it
//! through the runtime with a compile-time callsite id.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::quote;
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, ExprMethodCall};

use crate::args::{self, CallArgs};
use crate::callsite;

pub fn expand(args: TokenStream, item: TokenStream, file: Option<PathBuf>) -> syn::Result<TokenStream> {
    let mut function =
        args::parse_fn(item, "#[filibuster::call] applies to a fn whose body sends reqwest requests")?;
    let args = CallArgs::parse(args)?;
    let name = function.sig.ident.to_string();
    let key = callsite::key(args.id.map(|id| id.value()), &name, file);
    let mut rewriter = SendRewriter { key, function: name, count: 0 };
    rewriter.visit_block_mut(&mut function.block);
    if rewriter.count == 0 {
        return Err(syn::Error::new(
            function.sig.ident.span(),
            "no `.send()` in the body of this fn: #[filibuster::call] instruments the reqwest \
             `.send()` calls written in it (not those inside macro invocations or nested items)",
        ));
    }
    Ok(quote!(#function))
}

struct SendRewriter {
    key: String,
    function: String,
    count: usize,
}

impl SendRewriter {
    fn instrumented_send(&mut self, call: &ExprMethodCall) -> Expr {
        self.count += 1;
        let id = callsite::id(&self.key, self.count);
        let function = &self.function;
        let receiver = &call.receiver;
        let span = call.method.span();
        let line = span.start().line as u32;
        syn::parse_quote_spanned! {span=>
            {
                static __FILIBUSTER_CALLSITE: ::filibuster::__private::Callsite =
                    ::filibuster::__private::Callsite {
                        id: #id,
                        function: #function,
                        file: ::core::file!(),
                        line: #line,
                    };
                ::filibuster::__private::send(#receiver, &__FILIBUSTER_CALLSITE)
            }
        }
    }
}

impl VisitMut for SendRewriter {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        // Children first, so that ordinals follow the source order.
        visit_mut::visit_expr_mut(self, expr);
        if let Expr::MethodCall(call) = expr
            && is_plain_send(call)
        {
            *expr = self.instrumented_send(call);
        }
    }

    // Items nested in the body are not part of this fn.
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

fn is_plain_send(call: &ExprMethodCall) -> bool {
    call.method == "send" && call.args.is_empty() && call.turbofish.is_none()
}
