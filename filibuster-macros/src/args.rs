//! Parsing of the attributes' arguments and of the items they apply to, in
//! one place, so that both attributes report mistakes alike.

use proc_macro2::{Delimiter, Literal, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{
    Expr, ExprLit, ExprUnary, Item, ItemFn, ItemImpl, Lit, LitStr, Token, UnOp, meta::ParseNestedMeta,
};

/// Arguments of `#[filibuster::handler]` and
/// `#[filibuster::handler(service = "...")]`.
pub(crate) struct HandlerArgs {
    /// The service's name; without it, the environment names the service at
    /// run time (`OTEL_SERVICE_NAME`, else the package's name).
    pub(crate) service: Option<LitStr>,
}

/// Arguments of `#[filibuster::call]`, `#[filibuster::call(id = "...")]` and
/// `#[filibuster::call(timeout = <seconds>)]`, in any combination and order.
#[derive(Default)]
pub(crate) struct CallArgs {
    pub(crate) id: Option<LitStr>,
    /// The timeout of the client the fn's sends use, in seconds.
    pub(crate) timeout: Option<Seconds>,
}

/// A positive number of seconds, written as an integer or float literal;
/// it prints as an `f64` literal with the span of the one written.
pub(crate) struct Seconds {
    pub(crate) value: f64,
    pub(crate) span: Span,
}

impl ToTokens for Seconds {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let mut literal = Literal::f64_suffixed(self.value);
        literal.set_span(self.span);
        literal.to_tokens(tokens);
    }
}

/// Arguments of `#[filibuster::dependency("postgres")]`: the dependency's
/// name, then `operation = "..."` and `id = "..."`, both optional.
pub(crate) struct DependencyArgs {
    /// What the fn calls: `"postgres"`, `"redis"`, `"blob-store"`.
    pub(crate) dependency: LitStr,
    /// The operation, as records and reports name it; the fn's name without it.
    pub(crate) operation: Option<LitStr>,
    pub(crate) id: Option<LitStr>,
}

const DEPENDENCY_USAGE: &str = "#[filibuster::dependency(\"postgres\")]";

impl DependencyArgs {
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Self> {
        let name_it = || {
            syn::Error::new(
                first_span(&tokens),
                format!(
                    "name the dependency this fn calls, as a string first: {DEPENDENCY_USAGE}, or \
                     #[filibuster::dependency(\"postgres\", operation = \"insert_order\")]"
                ),
            )
        };
        let mut iter = tokens.clone().into_iter();
        let first = iter.next();
        let dependency = match first {
            Some(TokenTree::Literal(literal)) => match syn::parse2::<LitStr>(literal.into_token_stream()) {
                Ok(lit) if !lit.value().trim().is_empty() => lit,
                Ok(lit) => {
                    return Err(syn::Error::new(lit.span(), "the dependency's name must not be empty"));
                }
                Err(_) => return Err(name_it()),
            },
            _ => return Err(name_it()),
        };
        let rest: TokenStream = match iter.next() {
            None => TokenStream::new(),
            Some(TokenTree::Punct(comma)) if comma.as_char() == ',' => iter.collect(),
            Some(other) => {
                return Err(syn::Error::new(other.span(), "expected `,` after the dependency's name"));
            }
        };
        let mut operation = None;
        let mut id = None;
        syn::meta::parser(|meta| {
            if meta.path.is_ident("operation") {
                let value = string_value(&meta, "operation", "the operation, as reports name it")?;
                set_once(&mut operation, value, &meta, "operation")
            } else if meta.path.is_ident("id") {
                let value = string_value(&meta, "id", "the callsite id of this fn's call")?;
                set_once(&mut id, value, &meta, "id")
            } else {
                Err(unknown(
                    &meta,
                    "#[filibuster::dependency] takes the dependency's name, then `operation = \"...\"` and \
                     `id = \"...\"`, both optional",
                    DEPENDENCY_USAGE,
                ))
            }
        })
        .parse2(rest)?;
        Ok(Self { dependency, operation, id })
    }
}

const HANDLER_USAGE: &str = "#[filibuster::handler(service = \"users\")]";
const CALL_USAGE: &str = "#[filibuster::call(id = \"bookings-fetch\")]";

impl HandlerArgs {
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Self> {
        reject_positional(&tokens, "the service's name goes in `service = \"...\"`", HANDLER_USAGE)?;
        let mut service = None;
        syn::meta::parser(|meta| {
            if meta.path.is_ident("service") {
                let value =
                    string_value(&meta, "service", "the name of the service this handler belongs to")?;
                set_once(&mut service, value, &meta, "service")
            } else {
                Err(unknown(
                    &meta,
                    "#[filibuster::handler] takes only `service = \"...\"`, optional",
                    HANDLER_USAGE,
                ))
            }
        })
        .parse2(tokens)?;
        Ok(Self { service })
    }
}

impl CallArgs {
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Self> {
        reject_positional(&tokens, "an explicit callsite id goes in `id = \"...\"`", CALL_USAGE)?;
        let mut args = CallArgs::default();
        syn::meta::parser(|meta| {
            if meta.path.is_ident("id") {
                let value = string_value(&meta, "id", "the callsite id of this fn's calls")?;
                set_once(&mut args.id, value, &meta, "id")
            } else if meta.path.is_ident("timeout") {
                let value = seconds_value(&meta)?;
                set_once(&mut args.timeout, value, &meta, "timeout")
            } else {
                Err(unknown(
                    &meta,
                    "#[filibuster::call] takes only `id = \"...\"` and `timeout = <seconds>`, both optional",
                    CALL_USAGE,
                ))
            }
        })
        .parse2(tokens)?;
        Ok(args)
    }
}

/// Arguments of `#[filibuster::test(...)]`, all optional, in any order.
#[derive(Default)]
pub(crate) struct TestArgs {
    /// `services = <path>`: an async fn that starts the services, given the
    /// explorer's connection.
    pub(crate) services: Option<syn::Path>,
    pub(crate) fault_model: Option<FaultModelArg>,
    pub(crate) max_executions: Option<syn::LitInt>,
    pub(crate) dynamic_reduction: Option<syn::LitBool>,
    /// `strategy = "dfs" | "bfs"`: whether breadth first.
    pub(crate) breadth_first: Option<bool>,
    /// `regressions = "<file>"`, or `regressions = false` (`None` inside).
    pub(crate) regressions: Option<Option<LitStr>>,
    /// `report = "<file>.json"`, or `report = false` (`None` inside).
    pub(crate) report: Option<Option<LitStr>>,
    pub(crate) replay_first: Option<syn::LitBool>,
    pub(crate) keep_going: Option<syn::LitBool>,
    pub(crate) allow_no_calls: Option<syn::LitBool>,
    /// `execution_timeout = <seconds>`: an integer or float literal, > 0.
    pub(crate) execution_timeout: Option<Lit>,
}

/// `fault_model = "<analysis file>"` or `fault_model = <expression>`.
pub(crate) enum FaultModelArg {
    File(LitStr),
    Value(Box<Expr>),
}

const TEST_USAGE: &str = "#[filibuster::test(services = start_services, max_executions = 100)]";
const TEST_TAKES: &str = "#[filibuster::test] takes `services`, `fault_model`, `max_executions`, \
                          `dynamic_reduction`, `strategy`, `regressions`, `report`, `replay_first`, \
                          `keep_going`, `allow_no_calls` and `execution_timeout`, all optional";

impl TestArgs {
    pub(crate) fn parse(tokens: TokenStream) -> syn::Result<Self> {
        reject_positional(&tokens, "arguments are named", TEST_USAGE)?;
        let mut args = TestArgs::default();
        syn::meta::parser(|meta| {
            let name = meta.path.get_ident().map(ToString::to_string).unwrap_or_default();
            match name.as_str() {
                "services" => {
                    let value: syn::Path = match ungroup(meta.value()?.parse()?) {
                        Expr::Path(path) if path.qself.is_none() => path.path,
                        other => {
                            return Err(syn::Error::new(
                                other.span(),
                                "`services` takes the path of an async fn that starts the services, given the \
                                 explorer's connection: `services = start_services`",
                            ));
                        }
                    };
                    set_once(&mut args.services, value, &meta, "services")
                }
                "fault_model" => {
                    let value = match ungroup(meta.value()?.parse()?) {
                        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) if lit.value().trim().is_empty() => {
                            return Err(syn::Error::new(
                                lit.span(),
                                "`fault_model` must not be empty: it is the path of an analysis file",
                            ));
                        }
                        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => FaultModelArg::File(lit),
                        other => FaultModelArg::Value(Box::new(other)),
                    };
                    set_once(&mut args.fault_model, value, &meta, "fault_model")
                }
                "max_executions" => {
                    let value = match ungroup(meta.value()?.parse()?) {
                        Expr::Lit(ExprLit { lit: Lit::Int(lit), .. })
                            if lit.suffix().is_empty() && lit.base10_parse::<usize>().is_ok_and(|n| n > 0) =>
                        {
                            lit
                        }
                        other => {
                            return Err(syn::Error::new(
                                other.span(),
                                "`max_executions` takes a whole number more than 0: `max_executions = 100`",
                            ));
                        }
                    };
                    set_once(&mut args.max_executions, value, &meta, "max_executions")
                }
                "execution_timeout" => {
                    const SECONDS: &str = "`execution_timeout` takes seconds, more than 0: \
                                           `execution_timeout = 30` or `execution_timeout = 2.5`";
                    let value = match ungroup(meta.value()?.parse()?) {
                        Expr::Lit(ExprLit { lit: lit @ Lit::Int(_), .. })
                            if matches!(&lit, Lit::Int(n) if n.suffix().is_empty() && n.base10_parse::<u64>().is_ok_and(|n| n > 0)) =>
                        {
                            lit
                        }
                        Expr::Lit(ExprLit { lit: lit @ Lit::Float(_), .. })
                            if matches!(&lit, Lit::Float(f) if f.suffix().is_empty() && f.base10_parse::<f64>().is_ok_and(|f| f > 0.0 && f.is_finite())) =>
                        {
                            lit
                        }
                        other => return Err(syn::Error::new(other.span(), SECONDS)),
                    };
                    set_once(&mut args.execution_timeout, value, &meta, "execution_timeout")
                }
                "dynamic_reduction" => {
                    let value = bool_value(&meta, "dynamic_reduction")?;
                    set_once(&mut args.dynamic_reduction, value, &meta, "dynamic_reduction")
                }
                "replay_first" => {
                    let value = bool_value(&meta, "replay_first")?;
                    set_once(&mut args.replay_first, value, &meta, "replay_first")
                }
                "keep_going" => {
                    let value = bool_value(&meta, "keep_going")?;
                    set_once(&mut args.keep_going, value, &meta, "keep_going")
                }
                "allow_no_calls" => {
                    let value = bool_value(&meta, "allow_no_calls")?;
                    set_once(&mut args.allow_no_calls, value, &meta, "allow_no_calls")
                }
                "strategy" => {
                    const STRATEGY: &str = "`strategy` takes \"dfs\" (depth first, the default) or \"bfs\" \
                                            (breadth first)";
                    let value = match ungroup(meta.value()?.parse()?) {
                        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => match lit.value().as_str() {
                            "dfs" => false,
                            "bfs" => true,
                            _ => return Err(syn::Error::new(lit.span(), STRATEGY)),
                        },
                        other => return Err(syn::Error::new(other.span(), STRATEGY)),
                    };
                    set_once(&mut args.breadth_first, value, &meta, "strategy")
                }
                "regressions" => {
                    const REGRESSIONS: &str = "`regressions` takes the file that keeps this test's failing \
                                               executions, relative to the package (`regressions = \"...\"`), or \
                                               `false` to keep none";
                    let value = file_or_false(&meta, REGRESSIONS)?;
                    set_once(&mut args.regressions, value, &meta, "regressions")
                }
                "report" => {
                    const REPORT: &str = "`report` takes the JSON file of this test's report, relative to the \
                                          package (`report = \"target/checkout.json\"`; the HTML goes beside \
                                          it), or `false` to write none";
                    let value = file_or_false(&meta, REPORT)?;
                    if let Some(file) = value.as_ref().filter(|file| !file.value().ends_with(".json")) {
                        return Err(syn::Error::new(
                            file.span(),
                            "`report` names the JSON report's file, ending in `.json`: the HTML report \
                             goes beside it, with the same name and `.html`",
                        ));
                    }
                    set_once(&mut args.report, value, &meta, "report")
                }
                _ => Err(unknown(&meta, TEST_TAKES, TEST_USAGE)),
            }
        })
        .parse2(tokens)?;
        Ok(args)
    }
}

/// The non-empty file name after `name =`, or `None` for `false`; else an
/// error saying `takes`.
fn file_or_false(meta: &ParseNestedMeta<'_>, takes: &str) -> syn::Result<Option<LitStr>> {
    match ungroup(meta.value()?.parse()?) {
        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) if !lit.value().trim().is_empty() => Ok(Some(lit)),
        Expr::Lit(ExprLit { lit: Lit::Bool(lit), .. }) if !lit.value => Ok(None),
        other => Err(syn::Error::new(other.span(), takes)),
    }
}

/// The `true` or `false` after `name =`.
fn bool_value(meta: &ParseNestedMeta<'_>, name: &str) -> syn::Result<syn::LitBool> {
    match ungroup(meta.value()?.parse()?) {
        Expr::Lit(ExprLit { lit: Lit::Bool(lit), .. }) => Ok(lit),
        other => Err(syn::Error::new(other.span(), format!("`{name}` takes `true` or `false`"))),
    }
}

/// The expression inside the invisible groups that `macro_rules!` wraps
/// around a `$x:literal` or `$x:expr` it pastes.
fn ungroup(expr: Expr) -> Expr {
    match expr {
        Expr::Group(group) => ungroup(*group.expr),
        other => other,
    }
}

/// What `#[filibuster::call]` applies to.
pub(crate) enum CallItem {
    Fn(ItemFn),
    Impl(ItemImpl),
}

/// The fn or impl block `#[filibuster::call]` is applied to; anything else
/// is an error at the item's keyword that says what it applies to instead.
/// An item that does not parse is syn's own error, as is: replacing it would
/// add a second, misleading error beside rustc's about the same mistake.
pub(crate) fn parse_fn_or_impl(item: TokenStream, applies_to: &str) -> syn::Result<CallItem> {
    match syn::parse2::<Item>(item) {
        Ok(Item::Fn(function)) => Ok(CallItem::Fn(function)),
        Ok(Item::Impl(block)) => Ok(CallItem::Impl(block)),
        Ok(other) => Err(not_this_item(&other, applies_to)),
        Err(err) => Err(err),
    }
}

/// The error for an item that is not a fn with a body: what it is instead,
/// or syn's own error if it does not parse.
pub(crate) fn not_a_fn(item: TokenStream, applies_to: &str) -> syn::Error {
    match syn::parse2::<Item>(item) {
        Ok(Item::Fn(function)) => syn::Error::new(function.sig.fn_token.span, applies_to),
        Ok(other) => not_this_item(&other, applies_to),
        Err(err) => err,
    }
}

fn not_this_item(item: &Item, applies_to: &str) -> syn::Error {
    let (span, kind, hint) = describe(item);
    syn::Error::new(span, format!("{applies_to}, not to {kind}{hint}"))
}

/// Where an item other than a fn starts, what it is, and a hint.
fn describe(item: &Item) -> (Span, &'static str, &'static str) {
    match item {
        Item::Struct(i) => (i.struct_token.span, "a struct", ""),
        Item::Enum(i) => (i.enum_token.span, "an enum", ""),
        Item::Union(i) => (i.union_token.span, "a union", ""),
        Item::Impl(i) => (i.impl_token.span, "an impl block", ": put it on each of its fns"),
        Item::Trait(i) => (i.trait_token.span, "a trait", ""),
        Item::Mod(i) => (i.mod_token.span, "a module", ""),
        Item::Const(i) => (i.const_token.span, "a const", ""),
        Item::Static(i) => (i.static_token.span, "a static", ""),
        Item::Type(i) => (i.type_token.span, "a type alias", ""),
        Item::Use(i) => (i.use_token.span, "a use declaration", ""),
        Item::Macro(i) => (i.mac.path.span(), "a macro invocation", ""),
        Item::Verbatim(tokens) => (first_span(tokens), "an item without a body", ""),
        other => (first_span(&quote::quote!(#other)), "this item", ""),
    }
}

fn first_span(tokens: &TokenStream) -> Span {
    tokens.clone().into_iter().next().map_or_else(Span::call_site, |t| t.span())
}

/// `#[attr("x")]`: say where the value goes rather than syn's generic error.
fn reject_positional(tokens: &TokenStream, what: &str, usage: &str) -> syn::Result<()> {
    let mut first = tokens.clone().into_iter().next();
    // A `$x:literal` of a `macro_rules!` arrives in an invisible group.
    while let Some(TokenTree::Group(group)) = &first
        && group.delimiter() == Delimiter::None
    {
        first = group.stream().into_iter().next();
    }
    match first {
        Some(TokenTree::Literal(literal)) => {
            Err(syn::Error::new(literal.span(), format!("{what}, as in {usage}")))
        }
        _ => Ok(()),
    }
}

/// The value after `name =`, looking through the invisible groups
/// (`Delimiter::None`) a `macro_rules!` wraps its fragments in: a
/// `$x:literal` or `$x:expr` passed on as an argument reads as the literal.
fn value_expr(meta: &ParseNestedMeta<'_>) -> syn::Result<Expr> {
    let mut expr: Expr = meta.value()?.parse()?;
    while let Expr::Group(group) = expr {
        expr = *group.expr;
    }
    Ok(expr)
}

fn unknown(meta: &ParseNestedMeta<'_>, takes: &str, usage: &str) -> syn::Error {
    let path = &meta.path;
    let name = quote::quote!(#path).to_string().replace(' ', "");
    meta.error(format!("unknown argument `{name}`: {takes}, as in {usage}"))
}

/// The string literal after `name =`: a non-empty one.
fn string_value(meta: &ParseNestedMeta<'_>, name: &str, meaning: &str) -> syn::Result<LitStr> {
    let expr = value_expr(meta)?;
    match expr {
        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) if !lit.value().trim().is_empty() => Ok(lit),
        Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => {
            Err(syn::Error::new(lit.span(), format!("`{name}` must not be empty: it is {meaning}")))
        }
        other => Err(syn::Error::new(
            other.span(),
            format!("`{name}` takes a string literal, {meaning}: `{name} = \"...\"`"),
        )),
    }
}

/// The number after `timeout =`: the seconds of the client's timeout, more than 0.
fn seconds_value(meta: &ParseNestedMeta<'_>) -> syn::Result<Seconds> {
    const EXAMPLE: &str = "`timeout = 10`";
    if !meta.input.peek(Token![=]) {
        return Err(meta.error(format!("give the client's timeout in seconds: {EXAMPLE}")));
    }
    let not_positive = format!("`timeout` is the client's timeout in seconds, so more than 0: {EXAMPLE}");
    let expr = value_expr(meta)?;
    let (digits, suffix, span) = match &expr {
        Expr::Lit(ExprLit { lit: Lit::Int(lit), .. }) => (lit.base10_digits(), lit.suffix(), lit.span()),
        Expr::Lit(ExprLit { lit: Lit::Float(lit), .. }) => (lit.base10_digits(), lit.suffix(), lit.span()),
        Expr::Unary(ExprUnary { op: UnOp::Neg(_), expr: inner, .. })
            if matches!(&**inner, Expr::Lit(ExprLit { lit: Lit::Int(_) | Lit::Float(_), .. })) =>
        {
            return Err(syn::Error::new_spanned(&expr, not_positive));
        }
        other => {
            return Err(syn::Error::new_spanned(
                other,
                format!(
                    "`timeout` takes a number of seconds, the timeout the client of these calls was \
                     built with (`ClientBuilder::timeout`): {EXAMPLE}"
                ),
            ));
        }
    };
    if !suffix.is_empty() {
        return Err(syn::Error::new(
            span,
            format!("`timeout` takes a plain number of seconds, without the suffix `{suffix}`: {EXAMPLE}"),
        ));
    }
    match digits.parse::<f64>() {
        Ok(value) if value > 0.0 && value.is_finite() => Ok(Seconds { value, span }),
        _ => Err(syn::Error::new(span, not_positive)),
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T, meta: &ParseNestedMeta<'_>, name: &str) -> syn::Result<()> {
    if slot.is_some() {
        return Err(meta.error(format!("`{name}` is given more than once")));
    }
    *slot = Some(value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn error(tokens: TokenStream) -> String {
        CallArgs::parse(tokens).err().expect("an error").to_string()
    }

    fn handler_error(tokens: TokenStream) -> String {
        HandlerArgs::parse(tokens).err().expect("an error").to_string()
    }

    #[test]
    fn handler_service_is_optional() {
        assert!(HandlerArgs::parse(quote!()).unwrap().service.is_none());
        assert_eq!(HandlerArgs::parse(quote!(service = "users")).unwrap().service.unwrap().value(), "users");
    }

    #[test]
    fn handler_mistakes() {
        assert_eq!(
            handler_error(quote!(service = "")),
            "`service` must not be empty: it is the name of the service this handler belongs to"
        );
        assert_eq!(
            handler_error(quote!(service = users)),
            "`service` takes a string literal, the name of the service this handler belongs to: \
             `service = \"...\"`"
        );
        assert_eq!(handler_error(quote!(service = "a", service = "b")), "`service` is given more than once");
        assert_eq!(
            handler_error(quote!("users")),
            "the service's name goes in `service = \"...\"`, as in #[filibuster::handler(service = \"users\")]"
        );
        assert_eq!(
            handler_error(quote!(name = "users")),
            "unknown argument `name`: #[filibuster::handler] takes only `service = \"...\"`, optional, as \
             in #[filibuster::handler(service = \"users\")]"
        );
    }

    #[test]
    fn timeout_and_id_in_any_order() {
        for tokens in [quote!(id = "x", timeout = 10), quote!(timeout = 10, id = "x")] {
            let args = CallArgs::parse(tokens).unwrap();
            assert_eq!(args.id.unwrap().value(), "x");
            assert_eq!(args.timeout.unwrap().value, 10.0);
        }
        assert_eq!(CallArgs::parse(quote!(timeout = 0.25)).unwrap().timeout.unwrap().value, 0.25);
        assert_eq!(CallArgs::parse(quote!(timeout = 1e3)).unwrap().timeout.unwrap().value, 1000.0);
        let args = CallArgs::parse(quote!()).unwrap();
        assert!(args.id.is_none() && args.timeout.is_none());
    }

    /// What a `macro_rules!` passes for `$x:literal`: the literal in an
    /// invisible group.
    fn invisible(tokens: TokenStream) -> TokenStream {
        TokenTree::Group(proc_macro2::Group::new(Delimiter::None, tokens)).into()
    }

    #[test]
    fn values_from_macro_rules_fragments() {
        let (users, x, ten) = (invisible(quote!("users")), invisible(quote!("x")), invisible(quote!(10)));
        assert_eq!(HandlerArgs::parse(quote!(service = #users)).unwrap().service.unwrap().value(), "users");
        let args = CallArgs::parse(quote!(id = #x, timeout = #ten)).unwrap();
        assert_eq!((args.id.unwrap().value(), args.timeout.unwrap().value), ("x".to_owned(), 10.0));
        let empty = invisible(quote!(""));
        assert_eq!(
            error(quote!(id = #empty)),
            "`id` must not be empty: it is the callsite id of this fn's calls"
        );
        assert!(handler_error(users).starts_with("the service's name goes in `service = \"...\"`"));
    }

    #[test]
    fn timeout_mistakes() {
        assert_eq!(error(quote!(timeout)), "give the client's timeout in seconds: `timeout = 10`");
        assert_eq!(
            error(quote!(id = "x", timeout(10))),
            "give the client's timeout in seconds: `timeout = 10`"
        );
        for zero in [quote!(timeout = 0), quote!(timeout = 0.0), quote!(timeout = -5), quote!(timeout = -0.5)]
        {
            assert_eq!(
                error(zero),
                "`timeout` is the client's timeout in seconds, so more than 0: `timeout = 10`"
            );
        }
        for not_a_number in [quote!(timeout = "10"), quote!(timeout = TEN), quote!(timeout = 5 * 2)] {
            assert!(error(not_a_number).starts_with("`timeout` takes a number of seconds"));
        }
        assert_eq!(
            error(quote!(timeout = 10s)),
            "`timeout` takes a plain number of seconds, without the suffix `s`: `timeout = 10`"
        );
        assert_eq!(error(quote!(timeout = 10, timeout = 5)), "`timeout` is given more than once");
    }
}
