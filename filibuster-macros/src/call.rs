//! `#[filibuster::call]`: find every `.send()` of the body and route it
//! through the runtime with a compile-time callsite id.

use std::path::PathBuf;

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, ExprMethodCall, Macro};

use crate::args::{self, CallArgs};
use crate::callsite;
use crate::macro_args::{self, MacroArgs};

pub(crate) fn expand(
    args: TokenStream,
    item: TokenStream,
    file: Option<PathBuf>,
) -> syn::Result<TokenStream> {
    let mut function =
        args::parse_fn(item, "#[filibuster::call] applies to a fn whose body sends reqwest requests")?;
    let args = CallArgs::parse(args)?;
    let name = function.sig.ident.to_string();
    let client_timeout = match &args.timeout {
        Some(timeout) => quote!(::core::option::Option::Some(#timeout)),
        None => quote!(::core::option::Option::None),
    };
    let key = callsite::key(args.id.map(|id| id.value()), &name, file);
    let mut rewriter = SendRewriter { key, function: name, client_timeout, count: 0, errors: None };
    rewriter.visit_block_mut(&mut function.block);
    if let Some(errors) = rewriter.errors {
        return Err(errors);
    }
    if rewriter.count == 0 {
        return Err(syn::Error::new(
            function.sig.ident.span(),
            "no `.send()` in the body of this fn: #[filibuster::call] instruments the reqwest \
             `.send()` calls written in it (not those of nested items)",
        ));
    }
    Ok(quote!(#function))
}

struct SendRewriter {
    key: String,
    function: String,
    /// `Callsite::client_timeout` of every `.send()` of the fn.
    client_timeout: TokenStream,
    count: usize,
    /// One per `.send()` inside a macro whose arguments cannot be rewritten.
    errors: Option<syn::Error>,
}

impl SendRewriter {
    fn instrumented_send(&mut self, call: &ExprMethodCall) -> Expr {
        self.count += 1;
        let id = callsite::id(&self.key, self.count);
        let function = &self.function;
        let client_timeout = &self.client_timeout;
        let receiver = &call.receiver;
        let span = call.method.span();
        let line = span.start().line as u32;
        // A call, not a block: the expression must not start with `{`, which
        // would end it early where a block is taken whole (a `select!`
        // handler, a statement).
        syn::parse_quote_spanned! {span=>
            ::filibuster::__private::send(#receiver, {
                static __FILIBUSTER_CALLSITE: ::filibuster::__private::Callsite =
                    ::filibuster::__private::Callsite {
                        id: #id,
                        function: #function,
                        file: ::core::file!(),
                        line: #line,
                        client_timeout: #client_timeout,
                    };
                &__FILIBUSTER_CALLSITE
            })
        }
    }

    /// An error at each `.send()` in the tokens of `mac`, which cannot be rewritten.
    fn reject_sends_in(&mut self, mac: &Macro) {
        let path = &mac.path;
        let name = quote!(#path).to_string().replace(' ', "");
        for span in macro_args::sends_in(mac.tokens.clone()) {
            let error = syn::Error::new(
                span,
                format!(
                    "this `.send()` is inside `{name}!`, whose arguments #[filibuster::call] cannot \
                     rewrite: call a #[filibuster::call] fn from the macro instead"
                ),
            );
            match &mut self.errors {
                Some(errors) => errors.combine(error),
                None => self.errors = Some(error),
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

    /// The arguments of `join!`, `select!`, `vec!` and the like are parsed,
    /// rewritten in source order and printed back (untouched when they hold
    /// no `.send()`); a `.send()` in any other macro is an error.
    fn visit_macro_mut(&mut self, mac: &mut Macro) {
        match MacroArgs::of(mac) {
            Some(Ok(mut args)) => {
                let before = self.count;
                for expr in args.exprs_mut() {
                    self.visit_expr_mut(expr);
                }
                if self.count != before {
                    mac.tokens = args.into_token_stream();
                }
            }
            Some(Err(_)) | None => self.reject_sends_in(mac),
        }
    }

    // Items nested in the body are not part of this fn.
    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

fn is_plain_send(call: &ExprMethodCall) -> bool {
    call.method == "send" && call.args.is_empty() && call.turbofish.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_fn(args: TokenStream, body: TokenStream) -> syn::Result<String> {
        let item = quote!(async fn f(http: &reqwest::Client) { #body });
        expand(args, item, None).map(|tokens| tokens.to_string())
    }

    /// The ids of the instrumented sends of `expansion`, in order.
    fn ids(expansion: &str) -> Vec<usize> {
        let key = callsite::key(None, "f", None);
        let ordinals = (1..=20).map(|n| (callsite::id(&key, n), n)).collect::<Vec<_>>();
        let mut found: Vec<(usize, usize)> = ordinals
            .iter()
            .flat_map(|(id, n)| expansion.match_indices(id.as_str()).map(move |(at, _)| (at, *n)))
            .collect();
        found.sort();
        found.into_iter().map(|(_, n)| n).collect()
    }

    fn error_messages(error: syn::Error) -> Vec<String> {
        error.into_iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn sends_in_join_follow_source_order() {
        let out = expand_fn(
            quote!(),
            quote! {
                let first = http.get("/0").send().await;
                let (a, b) = tokio::join!(http.get("/a").send(), async { http.get("/b").send().await });
                let c = futures::try_join!(http.get("/c").send(),);
                let d = join!(biased; http.get("/d").send(), http.get("/e").send());
                http.get("/f").send().await;
            },
        )
        .unwrap();
        assert_eq!(ids(&out), [1, 2, 3, 4, 5, 6, 7]);
        assert_eq!(out.matches(":: filibuster :: __private :: send (http . get").count(), 7, "{out}");
        assert!(out.contains("join ! (biased ;"), "{out}");
        assert!(!out.contains(". send ()"), "{out}");
    }

    #[test]
    fn sends_in_select_futures_guards_and_handlers() {
        let out = expand_fn(
            quote!(),
            quote! {
                tokio::select! {
                    biased;
                    Ok(r) = http.get("/a").send(), if http.get("/guard").send().is_some() => {
                        http.get("/handler").send().await
                    }
                    r = http.get("/b").send() => r,
                    else => http.get("/else").send().await,
                }
                let x = futures::select! {
                    a = http.get("/c").send() => a,
                    default => http.get("/default").send().await,
                    complete => http.get("/complete").send().await
                };
            },
        )
        .unwrap();
        assert_eq!(ids(&out), [1, 2, 3, 4, 5, 6, 7, 8]);
        assert!(!out.contains(". send ()"), "{out}");
        assert!(out.contains("select ! { biased ; Ok (r) ="), "{out}");
        assert!(
            out.contains("else =>") && out.contains("default =>") && out.contains("complete =>"),
            "{out}"
        );
    }

    #[test]
    fn sends_in_vec_assertions_and_format_macros() {
        let out = expand_fn(
            quote!(),
            quote! {
                let v = vec![http.get("/a").send().await, http.get("/b").send().await];
                let w = vec![http.get("/c").send().await.is_ok(); 2];
                assert!(http.get("/d").send().await.is_ok(), "{}", http.get("/e").send().await.is_ok());
                assert_eq!(http.get("/f").send().await.is_ok(), true);
                println!("{} {x}", http.get("/g").send().await.is_ok(), x = http.get("/h").send().await.is_ok());
                let nested = vec![tokio::join!(http.get("/i").send())];
            },
        )
        .unwrap();
        assert_eq!(ids(&out), [1, 2, 3, 4, 5, 6, 7, 8, 9]);
        assert!(!out.contains(". send ()"), "{out}");
        assert!(out.contains("; 2]"), "{out}");
        assert!(out.contains("x = :: filibuster :: __private :: send ("), "{out}");
    }

    #[test]
    fn macros_without_sends_are_left_as_written() {
        let body = quote! {
            tracing::info!(target: "x", "{}", 1);
            println!("{x:?}", x = vec![1; 2]);
            http.get("/a").send().await;
        };
        let out = expand_fn(quote!(), body.clone()).unwrap();
        let untouched = body.to_string();
        assert!(out.contains(untouched.split("http . get").next().unwrap()), "{out}");
        assert_eq!(ids(&out), [1]);
    }

    #[test]
    fn a_send_in_another_macro_is_an_error_at_each_send() {
        let error = expand_fn(
            quote!(),
            quote! {
                http.get("/a").send().await;
                my_macro!(http.get("/b").send(), { http.get("/c").send() });
                tracing::info!(ok = http.get("/d").send().await.is_ok());
                let n = 1..send();
            },
        )
        .unwrap_err();
        assert_eq!(
            error_messages(error),
            ["my_macro", "my_macro", "tracing::info"].map(|name| format!(
                "this `.send()` is inside `{name}!`, whose arguments #[filibuster::call] cannot \
                 rewrite: call a #[filibuster::call] fn from the macro instead"
            ))
        );
    }

    #[test]
    fn a_send_in_a_known_macro_that_does_not_parse_is_an_error() {
        let error = expand_fn(quote!(), quote!(tokio::select! { http.get("/a").send() })).unwrap_err();
        assert_eq!(error_messages(error).len(), 1);
        let error = expand_fn(quote!(), quote!(let v = vec![http.get("/a").send(); ];)).unwrap_err();
        assert_eq!(error_messages(error).len(), 1);
    }

    #[test]
    fn sends_only_in_another_macro_are_that_error() {
        let error = expand_fn(quote!(), quote!(my_macro!(http.get("/b").send());)).unwrap_err();
        assert!(error_messages(error)[0].contains("inside `my_macro!`"));
    }

    #[test]
    fn client_timeout_goes_into_every_callsite() {
        let out =
            expand_fn(quote!(timeout = 2.5), quote!(http.get("/a").send(); vec![http.get("/b").send()];))
                .unwrap();
        assert_eq!(out.matches("client_timeout : :: core :: option :: Option :: Some (2.5f64)").count(), 2);
        let out = expand_fn(quote!(), quote!(http.get("/a").send();)).unwrap();
        assert!(out.contains("client_timeout : :: core :: option :: Option :: None"), "{out}");
    }
}
