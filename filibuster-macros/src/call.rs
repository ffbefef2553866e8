//! `#[filibuster::call]`: find every `.send()` of the body and route it
//! through the runtime with a compile-time callsite id.

use std::path::PathBuf;

use proc_macro2::{TokenStream, TokenTree};
use quote::{ToTokens, quote};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{
    Attribute, Block, Expr, ExprMethodCall, ImplItem, ImplItemFn, ItemFn, ItemImpl, Macro, ReturnType,
    Signature,
};

use crate::args::{self, CallArgs, CallItem, Seconds};
use crate::callsite;
use crate::macro_args::{self, MacroArgs};

const APPLIES_TO: &str =
    "#[filibuster::call] applies to a fn whose body sends reqwest requests, or to an impl block of such fns";

pub(crate) fn expand(
    args: TokenStream,
    item: TokenStream,
    file: Option<PathBuf>,
) -> syn::Result<TokenStream> {
    match args::parse_fn_or_impl(item, APPLIES_TO)? {
        CallItem::Fn(function) => expand_fn(CallArgs::parse(args)?, function, file),
        CallItem::Impl(block) => expand_impl(CallArgs::parse(args)?, block, file),
    }
}

pub(crate) fn expand_fn(
    args: CallArgs,
    mut function: ItemFn,
    file: Option<PathBuf>,
) -> syn::Result<TokenStream> {
    let name = function.sig.ident.to_string();
    let key = callsite::key(args.id.map(|id| id.value()), &name, file);
    instrument(&mut function.block, &function.sig, key, name, args.timeout.as_ref())?;
    Ok(quote!(#function))
}

/// Every method of the block whose body holds a `.send()` is instrumented as
/// if it had its own `#[filibuster::call]` (with the block's `timeout`), under
/// the name `<SelfType>::<method>` (see [`callsite::method_name`]); one that
/// has its own `#[filibuster::call(..)]` gets its own arguments, the block's
/// `timeout` unless it gives one.
fn expand_impl(args: CallArgs, mut block: ItemImpl, file: Option<PathBuf>) -> syn::Result<TokenStream> {
    if let Some(id) = &args.id {
        return Err(syn::Error::new(
            id.span(),
            "`id` names the calls of one fn, not of an impl block: put \
             #[filibuster::call(id = \"...\")] on the method instead (the impl block's other \
             methods keep the ids of `<SelfType>::<method>`)",
        ));
    }
    let mut errors: Option<syn::Error> = None;
    let mut instrumented = 0;
    let names: Vec<Option<String>> = block
        .items
        .iter()
        .map(|item| match item {
            ImplItem::Fn(method) => Some(callsite::method_name(&block, &method.sig.ident.to_string())),
            _ => None,
        })
        .collect();
    for (item, name) in block.items.iter_mut().zip(names) {
        let (ImplItem::Fn(method), Some(name)) = (item, name) else { continue };
        let result = own_args(method).and_then(|own| match own {
            Some(own) => {
                let key = callsite::key(own.id.map(|id| id.value()), &name, file.clone());
                let timeout = own.timeout.as_ref().or(args.timeout.as_ref());
                instrument(&mut method.block, &method.sig, key, name, timeout).map(|()| 1)
            }
            None => rewrite(
                &mut method.block,
                callsite::key(None, &name, file.clone()),
                name,
                args.timeout.as_ref(),
            ),
        });
        match result {
            Ok(sends) => instrumented += usize::from(sends > 0),
            Err(error) => match &mut errors {
                Some(errors) => errors.combine(error),
                None => errors = Some(error),
            },
        }
    }
    if let Some(errors) = errors {
        return Err(errors);
    }
    if instrumented == 0 {
        return Err(syn::Error::new(
            block.impl_token.span,
            "no method of this impl block has a `.send()` in its body: #[filibuster::call] \
             instruments the reqwest `.send()` calls written in its methods",
        ));
    }
    Ok(quote!(#block))
}

/// The arguments of the method's own `#[filibuster::call(..)]`, taken off it
/// (so that it does not instrument the method a second time), if it has one.
fn own_args(method: &mut ImplItemFn) -> syn::Result<Option<CallArgs>> {
    take_args(&mut method.attrs)
}

/// The arguments of the `#[filibuster::call(..)]` among `attrs`, taken out
/// of them, if there is one. The attribute is known by its path: `call`,
/// `filibuster::call` or `::filibuster::call` (under another name, it
/// expands later on the fn already instrumented, and says so). On error
/// the attributes are left half done, which does not matter: the expansion
/// is then the item as written, plus the error.
pub(crate) fn take_args(attrs: &mut Vec<Attribute>) -> syn::Result<Option<CallArgs>> {
    let mut own = None;
    let mut kept = Vec::with_capacity(attrs.len());
    for attr in std::mem::take(attrs) {
        if !is_call_attribute(&attr) {
            kept.push(attr);
            continue;
        }
        if own.is_some() {
            return Err(syn::Error::new(
                attr.span(),
                "#[filibuster::call] is given more than once on this fn",
            ));
        }
        let tokens = match &attr.meta {
            syn::Meta::Path(_) => TokenStream::new(),
            syn::Meta::List(list) => list.tokens.clone(),
            syn::Meta::NameValue(meta) => {
                return Err(syn::Error::new(
                    meta.eq_token.span,
                    "#[filibuster::call] takes its arguments in parentheses: #[filibuster::call(timeout = 10)]",
                ));
            }
        };
        own = Some(CallArgs::parse(tokens)?);
    }
    *attrs = kept;
    Ok(own)
}

pub(crate) fn is_call_attribute(attr: &Attribute) -> bool {
    let path = attr.path();
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    match segments.as_slice() {
        [call] => call == "call" && path.leading_colon.is_none(),
        [filibuster, call] => filibuster == "filibuster" && call == "call",
        _ => false,
    }
}

/// Instruments every `.send()` of `body`; without one, the RPCs of an
/// async fn ([`scope_rpcs`]); a fn that is neither is an error at its name.
fn instrument(
    body: &mut Block,
    sig: &Signature,
    key: String,
    function: String,
    timeout: Option<&Seconds>,
) -> syn::Result<()> {
    if rewrite(body, key.clone(), function.clone(), timeout)? > 0 {
        return Ok(());
    }
    if already_instrumented(body) {
        return Err(syn::Error::new(
            sig.ident.span(),
            "the `.send()`s of this fn are already instrumented, by the #[filibuster::call] of its \
             impl block: write this fn's own attribute as `#[filibuster::call(..)]` (or \
             `#[call(..)]`) for the impl block to take its arguments, or remove it",
        ));
    }
    if cfg!(feature = "tonic") && sig.asyncness.is_some() {
        scope_rpcs(body, sig, &key, &function, timeout);
        return Ok(());
    }
    let message = if cfg!(feature = "tonic") {
        "no `.send()` in the body of this fn, which is not async: #[filibuster::call] instruments the \
         reqwest `.send()` calls written in it (not those of nested items), and the RPCs an async fn \
         makes through a `filibuster::grpc::ClientLayer`"
    } else {
        "no `.send()` in the body of this fn: #[filibuster::call] instruments the reqwest `.send()` \
         calls written in it (not those of nested items); with filibuster's `tonic` feature, the RPCs \
         an async fn makes too"
    };
    Err(syn::Error::new(sig.ident.span(), message))
}

/// The body of an async fn without `.send()`, run in the scope of its
/// callsite, so that the RPCs it makes through a `grpc::ClientLayer` are
/// the fn's (one callsite per RPC path) rather than the calling service's.
/// The body becomes an `async move` block, whose return type is pinned by
/// an unreachable `return` of the fn's (as `tracing-attributes` does), so
/// that `?` in it infers as in the fn.
fn scope_rpcs(body: &mut Block, sig: &Signature, key: &str, function: &str, timeout: Option<&Seconds>) {
    let id = callsite::id(key, 0);
    let span = sig.ident.span();
    let line = callsite::line(span);
    let client_timeout = match timeout {
        Some(timeout) => quote!(::core::option::Option::Some(#timeout)),
        None => quote!(::core::option::Option::None),
    };
    let pinned_return = match &sig.output {
        ReturnType::Type(_, ty) if !mentions_impl(ty.to_token_stream()) => quote! {
            #[allow(unreachable_code, clippy::diverging_sub_expression, clippy::let_unit_value)]
            if false {
                let __filibuster_return: #ty = loop {};
                return __filibuster_return;
            }
        },
        _ => TokenStream::new(),
    };
    let stmts = &body.stmts;
    *body = syn::parse_quote_spanned! {span=> {
        static __FILIBUSTER_CALLER: ::filibuster::__private::Callsite = ::filibuster::__private::Callsite {
            id: #id,
            function: #function,
            file: ::core::file!(),
            line: #line,
            client_timeout: #client_timeout,
        };
        ::filibuster::__private::rpc_scope(&__FILIBUSTER_CALLER, async move { #pinned_return #(#stmts)* }).await
    }};
}

/// Whether `tokens` use `impl Trait`, which a `let` cannot name.
fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        TokenTree::Ident(ident) => ident == "impl",
        TokenTree::Group(group) => mentions_impl(group.stream()),
        _ => false,
    })
}

/// Rewrites every `.send()` of `body` into an instrumented send of the
/// callsites of `key`, and returns how many there were.
fn rewrite(body: &mut Block, key: String, function: String, timeout: Option<&Seconds>) -> syn::Result<usize> {
    let client_timeout = match timeout {
        Some(timeout) => quote!(::core::option::Option::Some(#timeout)),
        None => quote!(::core::option::Option::None),
    };
    let mut rewriter = SendRewriter { key, function, client_timeout, count: 0, errors: None };
    rewriter.visit_block_mut(body);
    match rewriter.errors {
        Some(errors) => Err(errors),
        None => Ok(rewriter.count),
    }
}

/// Whether `body` holds the sends of an expansion of #[filibuster::call]:
/// `__private::send`, at any depth.
fn already_instrumented(body: &Block) -> bool {
    fn holds(tokens: TokenStream) -> bool {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        tokens.iter().enumerate().any(|(i, token)| match token {
            TokenTree::Group(group) => holds(group.stream()),
            TokenTree::Ident(ident) if ident == "__private" => matches!(
                &tokens[i + 1..],
                [TokenTree::Punct(a), TokenTree::Punct(b), TokenTree::Ident(send), ..]
                    if a.as_char() == ':' && b.as_char() == ':' && send == "send"
            ),
            _ => false,
        })
    }
    holds(body.to_token_stream())
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
        let line = callsite::line(span);
        // A call, not a block: the expression must not start with `{`, which
        // would end it early where a block is taken whole (a `select!`
        // handler, a statement).
        // The receiver is passed through `identity`, whose call has the span
        // of `send`, as the call of `send` does, so that a receiver that is
        // no request builder is said once, at `.send`.
        syn::parse_quote_spanned! {span=>
            ::filibuster::__private::send(::core::convert::identity(#receiver), {
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
        let awaited_send = match expr {
            Expr::Await(awaited) => match &*awaited.base {
                Expr::MethodCall(call) if is_plain_send(call) => Some(call.method.span()),
                _ => None,
            },
            _ => None,
        };
        // Children first, so that ordinals follow the source order.
        visit_mut::visit_expr_mut(self, expr);
        if let Expr::MethodCall(call) = expr
            && is_plain_send(call)
        {
            *expr = self.instrumented_send(call);
        }
        // The `.await` of a `.send()` gets the span of `send`, as the whole
        // instrumented send has: a receiver that is no request builder is
        // then one error (rustc says an unmet bound once per span), not one
        // at `.send` and another at `.await`.
        if let (Expr::Await(awaited), Some(span)) = (expr, awaited_send) {
            awaited.await_token.span = span;
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
        assert_eq!(
            out.matches(":: filibuster :: __private :: send (:: core :: convert :: identity (http . get")
                .count(),
            7,
            "{out}"
        );
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

    fn expand_impl_block(args: TokenStream, block: TokenStream) -> syn::Result<String> {
        expand(args, block, None).map(|tokens| tokens.to_string())
    }

    /// Where each callsite id of fn `name` (ordinals 1..=20) appears in
    /// `expansion`, as `(name, ordinal)` in order of appearance.
    fn ids_of(expansion: &str, keys: &[(&str, String)]) -> Vec<(String, usize)> {
        let mut found: Vec<(usize, String, usize)> = keys
            .iter()
            .flat_map(|(name, key)| {
                (1..=20).flat_map(move |n| {
                    let id = callsite::id(key, n);
                    expansion
                        .match_indices(&id)
                        .map(move |(at, _)| (at, name.to_string(), n))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        found.sort();
        found.into_iter().map(|(_, name, n)| (name, n)).collect()
    }

    fn derived(name: &str) -> String {
        callsite::key(None, name, None)
    }

    #[test]
    fn impl_block_methods_get_ids_of_self_type_and_method() {
        let out = expand_impl_block(
            quote!(timeout = 3),
            quote! {
                impl BookingsClient {
                    fn new() -> Self { Self }
                    async fn get(&self) -> reqwest::Result<reqwest::Response> {
                        self.http.get("/a").send().await?;
                        self.http.get("/b").send().await
                    }
                    const N: u8 = 1;
                    fn builder(&self) -> reqwest::RequestBuilder { self.http.get("/c") }
                    async fn put(&self) -> reqwest::Result<reqwest::Response> {
                        self.http.put("/d").send().await
                    }
                }
            },
        )
        .unwrap();
        let keys = [
            ("get", derived("BookingsClient::get")),
            ("put", derived("BookingsClient::put")),
            ("bare get", derived("get")),
        ];
        assert_eq!(ids_of(&out, &keys), [("get".into(), 1), ("get".into(), 2), ("put".into(), 1)]);
        assert_eq!(out.matches("function : \"BookingsClient::get\"").count(), 2, "{out}");
        assert_eq!(out.matches("function : \"BookingsClient::put\"").count(), 1, "{out}");
        assert_eq!(out.matches("Option :: Some (3f64)").count(), 3, "{out}");
        assert!(!out.contains(". send ()"), "{out}");
        // The methods without a `.send()` are as written.
        assert!(out.contains("fn new () -> Self { Self }"), "{out}");
        assert!(
            out.contains("fn builder (& self) -> reqwest :: RequestBuilder { self . http . get (\"/c\") }")
        );
    }

    #[test]
    fn trait_impl_methods_are_named_with_type_and_trait() {
        let out = expand_impl_block(
            quote!(),
            quote! {
                impl<T: Clone> Fetch<T> for Client<T> {
                    async fn get(&self) -> reqwest::Result<reqwest::Response> {
                        self.http.get("/a").send().await
                    }
                }
            },
        )
        .unwrap();
        assert_eq!(ids_of(&out, &[("get", derived("<Client<T> as Fetch<T>>::get"))]), [("get".into(), 1)]);
        assert!(out.contains("function : \"<Client<T> as Fetch<T>>::get\""), "{out}");
        assert!(out.contains("Option :: None"), "{out}");
    }

    #[test]
    fn a_method_with_its_own_attribute_keeps_its_arguments() {
        let out = expand_impl_block(
            quote!(timeout = 3),
            quote! {
                impl Client {
                    #[filibuster::call(id = "bookings-fetch")]
                    #[inline]
                    async fn fetch(&self) -> reqwest::Result<reqwest::Response> {
                        self.http.get("/a").send().await
                    }
                    #[call(timeout = 7.5)]
                    async fn slow(&self) -> reqwest::Result<reqwest::Response> {
                        self.http.get("/b").send().await
                    }
                    #[::filibuster::call]
                    async fn plain(&self) -> reqwest::Result<reqwest::Response> {
                        self.http.get("/c").send().await
                    }
                }
            },
        )
        .unwrap();
        let keys = [
            ("fetch", "bookings-fetch".to_owned()),
            ("slow", derived("Client::slow")),
            ("plain", derived("Client::plain")),
        ];
        assert_eq!(ids_of(&out, &keys), [("fetch".into(), 1), ("slow".into(), 1), ("plain".into(), 1)]);
        // Taken off the methods, other attributes kept.
        assert!(!out.contains("call"), "{out}");
        assert!(out.contains("# [inline] async fn fetch"), "{out}");
        let timeouts: Vec<&str> =
            out.match_indices("Option :: Some (").map(|(at, _)| &out[at + 16..at + 22]).collect();
        assert_eq!(timeouts, ["3f64) ", "7.5f64", "3f64) "], "{out}");
    }

    #[test]
    fn impl_block_mistakes() {
        let error =
            |args: TokenStream, block: TokenStream| error_messages(expand(args, block, None).unwrap_err());
        let get = quote!(
            async fn get(&self) -> reqwest::Result<reqwest::Response> {
                self.http.get("/a").send().await
            }
        );
        assert!(
            error(quote!(id = "x"), quote!(impl Client { #get }))[0]
                .starts_with("`id` names the calls of one fn, not of an impl block")
        );
        assert_eq!(
            error(quote!(), quote!(impl Client { fn new() -> Self { Self } })),
            [
                "no method of this impl block has a `.send()` in its body: #[filibuster::call] instruments the \
              reqwest `.send()` calls written in its methods"
            ]
        );
        // The method's own attribute, as the attribute on a fn.
        let messages = error(
            quote!(),
            quote!(impl Client {
                #get
                #[filibuster::call(timeout = 0)]
                async fn zero(&self) {}
                #[filibuster::call]
                fn empty(&self) {}
                #[call] #[call]
                async fn twice(&self) { self.http.get("/a").send().await; }
                fn in_macro(&self) { my_macro!(self.http.get("/a").send()); }
            }),
        );
        assert_eq!(messages.len(), 4, "{messages:?}");
        assert!(messages[0].starts_with("`timeout` is the client's timeout in seconds"), "{messages:?}");
        assert!(messages[1].starts_with("no `.send()` in the body of this fn"), "{messages:?}");
        assert_eq!(messages[2], "#[filibuster::call] is given more than once on this fn");
        assert!(messages[3].starts_with("this `.send()` is inside `my_macro!`"), "{messages:?}");
    }

    #[test]
    fn a_fn_already_instrumented_by_its_impl_block_says_so() {
        let block = expand(
            quote!(),
            quote!(impl Client {
                #[instrument]
                async fn get(&self) -> reqwest::Result<reqwest::Response> { self.http.get("/a").send().await }
            }),
            None,
        )
        .unwrap();
        let block: syn::ItemImpl = syn::parse2(block).unwrap();
        let syn::ImplItem::Fn(method) = &block.items[0] else { panic!() };
        let error = expand(quote!(), method.to_token_stream(), None).unwrap_err();
        assert!(
            error.to_string().starts_with("the `.send()`s of this fn are already instrumented"),
            "{error}"
        );
    }

    #[test]
    fn fn_level_ids_are_unchanged() {
        let out = expand_fn(quote!(), quote!(http.get("/a").send().await;)).unwrap();
        assert_eq!(ids(&out), [1]);
        assert!(out.contains("function : \"f\""), "{out}");
        let key = callsite::key(None, "f", None);
        assert_eq!(key, format!("{}::f", std::env::var("CARGO_PKG_NAME").unwrap()));
    }
}
