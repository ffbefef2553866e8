//! Compile-time callsite ids.

use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use proc_macro2::{Delimiter, TokenStream, TokenTree};
use quote::ToTokens;
use syn::ItemImpl;

/// The key that callsite ids of one function are derived from: the explicit
/// id when given, else `<package>:<file relative to the package>:<function>`,
/// where `function` is the fn's name, or [`method_name`] for the methods of
/// an impl block with `#[filibuster::call]`.
pub(crate) fn key(explicit: Option<String>, function: &str, file: Option<PathBuf>) -> String {
    if let Some(id) = explicit {
        return id;
    }
    let package = std::env::var("CARGO_PKG_NAME").unwrap_or_default();
    let file = file.map(|f| relative_to_package(&f)).unwrap_or_default();
    format!("{package}:{file}:{function}")
}

/// The id of the `ordinal`-th (from 1) `.send()` of the function with `key`:
/// md5 hex of `"<key>#<ordinal>"`.
pub(crate) fn id(key: &str, ordinal: usize) -> String {
    let digest = Md5::digest(format!("{key}#{ordinal}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// The line of `span` in its file, from 1: the compiler's own
/// (`proc_macro::Span::line`, stable since Rust 1.88), so that it does not
/// depend on the proc-macro2 a project's lockfile holds (before 1.0.96,
/// proc-macro2 answers 0 inside a macro). Outside a macro (the unit tests
/// of this crate) proc-macro2's own, with its `span-locations` feature.
pub(crate) fn line(span: proc_macro2::Span) -> u32 {
    let line = if proc_macro::is_available() { span.unwrap().line() } else { span.start().line };
    u32::try_from(line).unwrap_or(u32::MAX)
}

/// `file` relative to the package's manifest directory, with `/` separators,
/// so that the id is the same wherever the package is checked out.
fn relative_to_package(file: &Path) -> String {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let absolute = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
    let relative = manifest_dir
        .and_then(|dir| std::fs::canonicalize(dir).ok())
        .and_then(|dir| absolute.strip_prefix(dir).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| file.to_path_buf());
    relative.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// The name of method `method` of the impl block `block` in callsite keys and
/// reports: `<SelfType>::<method>` in an inherent impl, `<<SelfType> as
/// <Trait>>::<method>` in a trait impl, each type as [`render`]ed.
pub(crate) fn method_name(block: &ItemImpl, method: &str) -> String {
    let self_type = render(block.self_ty.to_token_stream());
    match &block.trait_ {
        None => format!("{self_type}::{method}"),
        Some((bang, path, _)) => {
            let bang = if bang.is_some() { "!" } else { "" };
            let path = render(path.to_token_stream());
            format!("<{self_type} as {bang}{path}>::{method}")
        }
    }
}

/// `tokens` as written, without spaces but one between two words (idents,
/// lifetimes' names, literals): `Client<T>`, `Cache<'a,K>`, `&'a mut Client`,
/// `dyn Store+Send`. The same tokens always render the same, however they
/// are spaced or split across lines in the source.
pub(crate) fn render(tokens: TokenStream) -> String {
    let mut out = String::new();
    push_rendered(tokens, &mut out);
    out
}

fn push_rendered(tokens: TokenStream, out: &mut String) {
    for token in tokens {
        match token {
            TokenTree::Group(group) => {
                let (open, close) = match group.delimiter() {
                    Delimiter::Parenthesis => ("(", ")"),
                    Delimiter::Bracket => ("[", "]"),
                    Delimiter::Brace => ("{", "}"),
                    Delimiter::None => ("", ""),
                };
                out.push_str(open);
                push_rendered(group.stream(), out);
                out.push_str(close);
            }
            TokenTree::Ident(ident) => push_word(&ident.to_string(), out),
            TokenTree::Literal(literal) => push_word(&literal.to_string(), out),
            TokenTree::Punct(punct) => out.push(punct.as_char()),
        }
    }
}

fn push_word(word: &str, out: &mut String) {
    if out.ends_with(|c: char| c.is_alphanumeric() || c == '_') {
        out.push(' ');
    }
    out.push_str(word);
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    fn name(block: TokenStream) -> String {
        method_name(&syn::parse2(block).unwrap(), "get")
    }

    #[test]
    fn inherent_impls_name_the_self_type_as_written() {
        assert_eq!(name(quote!(impl BookingsClient {})), "BookingsClient::get");
        assert_eq!(
            name(quote!(
                impl<T> Client<T> {}
            )),
            "Client<T>::get"
        );
        assert_eq!(
            name(quote!(
                impl<T: Clone> Client<T> where T: Send {}
            )),
            "Client<T>::get"
        );
        assert_eq!(
            name(quote!(
                impl<'a, K> Cache<'a, K> {}
            )),
            "Cache<'a,K>::get"
        );
        assert_eq!(name(quote!(impl crate::peers::Movies {})), "crate::peers::Movies::get");
        assert_eq!(name(quote!(impl Pool<[u8; 4], (u8, String)> {})), "Pool<[u8;4],(u8,String)>::get");
        assert_eq!(name(quote!(impl dyn Store + Send {})), "dyn Store+Send::get");
        assert_eq!(
            name(quote!(
                impl<'a> Wrapper<&'a mut Client> {}
            )),
            "Wrapper<&'a mut Client>::get"
        );
        assert_eq!(name(quote!(impl Box<dyn Fn(u8) -> u8> {})), "Box<dyn Fn(u8)->u8>::get");
    }

    #[test]
    fn trait_impls_name_type_and_trait() {
        assert_eq!(name(quote!(impl Fetch for BookingsClient {})), "<BookingsClient as Fetch>::get");
        assert_eq!(
            name(quote!(
                impl<T> peers::Fetch<T> for Client<T> {}
            )),
            "<Client<T> as peers::Fetch<T>>::get"
        );
        assert_eq!(name(quote!(impl !Send for Client {})), "<Client as !Send>::get");
    }

    #[test]
    fn rendering_ignores_spacing_and_line_breaks() {
        let spaced: TokenStream = "Client < 'a ,\n  Vec<u8> >".parse().unwrap();
        assert_eq!(render(spaced), render(quote!(Client<'a, Vec<u8>>)));
        assert_eq!(render(quote!(Client<'a, Vec<u8>>)), "Client<'a,Vec<u8>>");
    }

    #[test]
    fn keys_and_ids() {
        let derived = key(None, "BookingsClient::get", Some(PathBuf::from("src/peers.rs")));
        assert!(derived.ends_with(":src/peers.rs:BookingsClient::get"), "{derived}");
        assert_eq!(key(Some("bookings".into()), "BookingsClient::get", None), "bookings");
        assert_eq!(id("x", 1), format!("{:x}", Md5::digest(b"x#1")));
    }
}
