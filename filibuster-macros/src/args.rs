//! Parsing of the attributes' arguments and of the items they apply to, in
//! one place, so that both attributes report mistakes alike.

use proc_macro2::{Span, TokenStream, TokenTree};
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Item, ItemFn, Lit, LitStr, meta::ParseNestedMeta};

/// Arguments of `#[filibuster::handler(service = "...")]`.
pub struct HandlerArgs {
    pub service: LitStr,
}

/// Arguments of `#[filibuster::call]` and `#[filibuster::call(id = "...")]`.
#[derive(Default)]
pub struct CallArgs {
    pub id: Option<LitStr>,
}

const HANDLER_USAGE: &str = "#[filibuster::handler(service = \"users\")]";
const CALL_USAGE: &str = "#[filibuster::call(id = \"bookings-fetch\")]";

impl HandlerArgs {
    pub fn parse(tokens: TokenStream) -> syn::Result<Self> {
        reject_positional(&tokens, "the service's name goes in `service = \"...\"`", HANDLER_USAGE)?;
        let mut service = None;
        syn::meta::parser(|meta| {
            if meta.path.is_ident("service") {
                let value =
                    string_value(&meta, "service", "the name of the service this handler belongs to")?;
                set_once(&mut service, value, &meta, "service")
            } else {
                Err(unknown(&meta, "#[filibuster::handler] takes only `service = \"...\"`", HANDLER_USAGE))
            }
        })
        .parse2(tokens)?;
        match service {
            Some(service) => Ok(Self { service }),
            None => Err(syn::Error::new(
                Span::call_site(),
                format!(
                    "missing `service = \"...\"`: {HANDLER_USAGE} names the service this handler belongs to"
                ),
            )),
        }
    }
}

impl CallArgs {
    pub fn parse(tokens: TokenStream) -> syn::Result<Self> {
        reject_positional(&tokens, "an explicit callsite id goes in `id = \"...\"`", CALL_USAGE)?;
        let mut args = CallArgs::default();
        syn::meta::parser(|meta| {
            if meta.path.is_ident("id") {
                let value = string_value(&meta, "id", "the callsite id of this fn's calls")?;
                set_once(&mut args.id, value, &meta, "id")
            } else {
                Err(unknown(&meta, "#[filibuster::call] takes only an optional `id = \"...\"`", CALL_USAGE))
            }
        })
        .parse2(tokens)?;
        Ok(args)
    }
}

/// The fn an attribute is applied to; anything else is an error at the
/// item's keyword that says what the attribute applies to instead.
pub fn parse_fn(item: TokenStream, applies_to: &str) -> syn::Result<ItemFn> {
    match syn::parse2::<Item>(item) {
        Ok(Item::Fn(function)) => Ok(function),
        Ok(other) => {
            let (span, kind, hint) = describe(&other);
            Err(syn::Error::new(span, format!("{applies_to}, not to {kind}{hint}")))
        }
        Err(err) => Err(syn::Error::new(err.span(), applies_to)),
    }
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
    match tokens.clone().into_iter().next() {
        Some(TokenTree::Literal(literal)) => {
            Err(syn::Error::new(literal.span(), format!("{what}, as in {usage}")))
        }
        _ => Ok(()),
    }
}

fn unknown(meta: &ParseNestedMeta, takes: &str, usage: &str) -> syn::Error {
    let path = &meta.path;
    let name = quote::quote!(#path).to_string().replace(' ', "");
    meta.error(format!("unknown argument `{name}`: {takes}, as in {usage}"))
}

/// The string literal after `name =`: a non-empty one.
fn string_value(meta: &ParseNestedMeta, name: &str, meaning: &str) -> syn::Result<LitStr> {
    let expr: Expr = meta.value()?.parse()?;
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

fn set_once(slot: &mut Option<LitStr>, value: LitStr, meta: &ParseNestedMeta, name: &str) -> syn::Result<()> {
    if slot.is_some() {
        return Err(meta.error(format!("`{name}` is given more than once")));
    }
    *slot = Some(value);
    Ok(())
}
