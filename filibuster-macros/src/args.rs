//! Parsing of the attributes' arguments, in one place.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::{LitStr, meta::ParseNestedMeta};

/// Arguments of `#[filibuster::handler(service = "...")]`.
pub struct HandlerArgs {
    pub service: LitStr,
}

/// Arguments of `#[filibuster::call]` and `#[filibuster::call(id = "...")]`.
#[derive(Default)]
pub struct CallArgs {
    pub id: Option<LitStr>,
}

impl HandlerArgs {
    pub fn parse(tokens: TokenStream) -> syn::Result<Self> {
        let mut service = None;
        syn::meta::parser(|meta| {
            if meta.path.is_ident("service") {
                service = Some(non_empty(&meta)?);
                Ok(())
            } else {
                Err(meta.error("unknown argument: #[filibuster::handler] takes `service = \"...\"`"))
            }
        })
        .parse2(tokens)?;
        match service {
            Some(service) => Ok(Self { service }),
            None => Err(syn::Error::new(
                Span::call_site(),
                "missing `service = \"...\"`: #[filibuster::handler(service = \"users\")] names the service this handler belongs to",
            )),
        }
    }
}

impl CallArgs {
    pub fn parse(tokens: TokenStream) -> syn::Result<Self> {
        let mut args = CallArgs::default();
        syn::meta::parser(|meta| {
            if meta.path.is_ident("id") {
                args.id = Some(non_empty(&meta)?);
                Ok(())
            } else {
                Err(meta.error("unknown argument: #[filibuster::call] takes an optional `id = \"...\"`"))
            }
        })
        .parse2(tokens)?;
        Ok(args)
    }
}

fn non_empty(meta: &ParseNestedMeta) -> syn::Result<LitStr> {
    let lit: LitStr = meta.value()?.parse()?;
    if lit.value().trim().is_empty() {
        return Err(syn::Error::new(lit.span(), "expected a non-empty string"));
    }
    Ok(lit)
}
