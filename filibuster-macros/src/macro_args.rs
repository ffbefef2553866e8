//! The arguments of the macro invocations whose `.send()`s `#[filibuster::call]`
//! can rewrite (`join!`, `try_join!`, `select!`, `vec!`, the assertion and
//! formatting macros of std), parsed into expressions and printed back, and
//! the search for a `.send()` in the tokens of any other macro.

use proc_macro2::{Delimiter, Spacing, Span, TokenStream, TokenTree};
use quote::ToTokens;
use syn::parse::{ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Macro, Pat, Token};

/// The parsed arguments of a macro invocation, which print back as they were
/// written (with the expressions as they are after rewriting).
pub(crate) enum MacroArgs {
    /// `join!`, `try_join!` (with tokio's optional leading `biased;`), `vec![a, b]`,
    /// `assert!`, `println!` and the like: expressions separated by commas.
    List { biased: Option<Biased>, exprs: Punctuated<Expr, Token![,]> },
    /// `vec![elem; n]`.
    Repeat { elem: Box<Expr>, semi: Token![;], len: Box<Expr> },
    /// `select!` (tokio's, with an optional leading `biased;`, and futures')
    /// and futures' `select_biased!`.
    Select { biased: Option<Biased>, branches: Vec<Branch> },
}

/// tokio's leading `biased;`.
pub(crate) struct Biased {
    keyword: Ident,
    semi: Token![;],
}

/// One branch of a `select!`, with its comma when it has one.
pub(crate) struct Branch {
    kind: BranchKind,
    arrow: Token![=>],
    handler: Expr,
    comma: Option<Token![,]>,
}

enum BranchKind {
    /// `<pat> = <future> (, if <guard>)?`
    Future(Box<FutureBranch>),
    /// tokio's `else`, futures' `default` and `complete`.
    Fallback(TokenTree),
}

/// `<pat> = <future> (, if <guard>)?`
struct FutureBranch {
    pat: Pat,
    eq: Token![=],
    future: Expr,
    guard: Option<(Token![,], Token![if], Expr)>,
}

/// How the arguments of a macro of a given name are written.
#[derive(Clone, Copy)]
enum Shape {
    /// Expressions, after an optional `biased;`.
    Futures,
    Select,
    Vec,
    /// Expressions (a format string is one).
    Exprs,
}

/// The macros whose arguments can be rewritten, by the last segment of their
/// path (so `tokio::join!`, `futures::join!` and `join!` alike).
fn shape(mac: &Macro) -> Option<Shape> {
    let name = mac.path.segments.last()?.ident.to_string();
    Some(match name.as_str() {
        "join" | "try_join" => Shape::Futures,
        "select" | "select_biased" => Shape::Select,
        "vec" => Shape::Vec,
        "assert" | "assert_eq" | "assert_ne" | "debug_assert" | "debug_assert_eq" | "debug_assert_ne"
        | "format" | "format_args" | "print" | "println" | "eprint" | "eprintln" | "write" | "writeln"
        | "panic" | "todo" | "unimplemented" | "unreachable" | "dbg" => Shape::Exprs,
        _ => return None,
    })
}

impl MacroArgs {
    /// The arguments of `mac`: `None` for a macro not known to take
    /// expressions, `Some(Err(..))` when its tokens do not parse as it takes them.
    pub(crate) fn of(mac: &Macro) -> Option<syn::Result<Self>> {
        let shape = shape(mac)?;
        Some(
            (|input: ParseStream<'_>| match shape {
                Shape::Futures => {
                    let biased = parse_biased(input)?;
                    Ok(Self::List { biased, exprs: Punctuated::parse_terminated(input)? })
                }
                Shape::Select => parse_select(input),
                Shape::Vec => parse_vec(input),
                Shape::Exprs => Ok(Self::List { biased: None, exprs: Punctuated::parse_terminated(input)? }),
            })
            .parse2(mac.tokens.clone()),
        )
    }

    /// Every expression, in source order.
    pub(crate) fn exprs_mut(&mut self) -> Vec<&mut Expr> {
        match self {
            Self::List { exprs, .. } => exprs.iter_mut().collect(),
            Self::Repeat { elem, len, .. } => vec![&mut **elem, &mut **len],
            Self::Select { branches, .. } => {
                let mut exprs = Vec::new();
                for branch in branches {
                    if let BranchKind::Future(future) = &mut branch.kind {
                        exprs.push(&mut future.future);
                        if let Some((_, _, guard)) = &mut future.guard {
                            exprs.push(guard);
                        }
                    }
                    exprs.push(&mut branch.handler);
                }
                exprs
            }
        }
    }
}

fn parse_biased(input: ParseStream<'_>) -> syn::Result<Option<Biased>> {
    let fork = input.fork();
    match fork.parse::<Ident>() {
        Ok(keyword) if keyword == "biased" && fork.peek(Token![;]) => {
            let keyword = input.parse()?;
            Ok(Some(Biased { keyword, semi: input.parse()? }))
        }
        _ => Ok(None),
    }
}

fn parse_vec(input: ParseStream<'_>) -> syn::Result<MacroArgs> {
    if input.is_empty() {
        return Ok(MacroArgs::List { biased: None, exprs: Punctuated::new() });
    }
    let first: Expr = input.parse()?;
    if input.peek(Token![;]) {
        return Ok(MacroArgs::Repeat { elem: Box::new(first), semi: input.parse()?, len: input.parse()? });
    }
    let mut exprs = Punctuated::new();
    exprs.push_value(first);
    if !input.is_empty() {
        exprs.push_punct(input.parse()?);
        exprs.extend(Punctuated::<Expr, Token![,]>::parse_terminated(input)?.into_pairs());
    }
    Ok(MacroArgs::List { biased: None, exprs })
}

/// `biased;`? then branches `<pat> = <expr> (, if <guard>)? => <handler>`
/// and `else`/`default`/`complete => <handler>`, each followed by a comma
/// unless its handler is a block or it is the last one (as in a `match`).
fn parse_select(input: ParseStream<'_>) -> syn::Result<MacroArgs> {
    let biased = parse_biased(input)?;
    let mut branches = Vec::new();
    while !input.is_empty() {
        let kind = if input.peek(Token![else]) || (is_fallback_keyword(input) && input.peek2(Token![=>])) {
            BranchKind::Fallback(input.parse()?)
        } else {
            let pat = Pat::parse_multi_with_leading_vert(input)?;
            let eq = input.parse()?;
            let future = input.parse()?;
            let guard = if input.peek(Token![,]) && input.peek2(Token![if]) {
                Some((input.parse()?, input.parse()?, input.parse()?))
            } else {
                None
            };
            BranchKind::Future(Box::new(FutureBranch { pat, eq, future, guard }))
        };
        let arrow = input.parse()?;
        let handler = Expr::parse_with_earlier_boundary_rule(input)?;
        let comma = if matches!(handler, Expr::Block(_)) || input.is_empty() {
            input.parse()?
        } else {
            Some(input.parse()?)
        };
        branches.push(Branch { kind, arrow, handler, comma });
    }
    Ok(MacroArgs::Select { biased, branches })
}

fn is_fallback_keyword(input: ParseStream<'_>) -> bool {
    input.peek(Token![default]) || input.fork().parse::<Ident>().is_ok_and(|ident| ident == "complete")
}

impl ToTokens for MacroArgs {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match self {
            Self::List { biased, exprs } => {
                biased.to_tokens(tokens);
                exprs.to_tokens(tokens);
            }
            Self::Repeat { elem, semi, len } => {
                elem.to_tokens(tokens);
                semi.to_tokens(tokens);
                len.to_tokens(tokens);
            }
            Self::Select { biased, branches } => {
                biased.to_tokens(tokens);
                for branch in branches {
                    branch.to_tokens(tokens);
                }
            }
        }
    }
}

impl ToTokens for Biased {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        self.keyword.to_tokens(tokens);
        self.semi.to_tokens(tokens);
    }
}

impl ToTokens for Branch {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        match &self.kind {
            BranchKind::Future(branch) => {
                let FutureBranch { pat, eq, future, guard } = &**branch;
                pat.to_tokens(tokens);
                eq.to_tokens(tokens);
                future.to_tokens(tokens);
                if let Some((comma, if_token, guard)) = guard {
                    comma.to_tokens(tokens);
                    if_token.to_tokens(tokens);
                    guard.to_tokens(tokens);
                }
            }
            BranchKind::Fallback(keyword) => keyword.to_tokens(tokens),
        }
        self.arrow.to_tokens(tokens);
        self.handler.to_tokens(tokens);
        self.comma.to_tokens(tokens);
    }
}

/// The span of the `send` of every `. send ( )` in `tokens`, at any depth,
/// in source order.
pub(crate) fn sends_in(tokens: TokenStream) -> Vec<Span> {
    let mut found = Vec::new();
    collect_sends(tokens, &mut found);
    found
}

fn collect_sends(tokens: TokenStream, found: &mut Vec<Span>) {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    for (i, token) in tokens.iter().enumerate() {
        match token {
            TokenTree::Group(group) => collect_sends(group.stream(), found),
            TokenTree::Ident(ident) if ident == "send" && i > 0 => {
                // A `.`, not the end of a `..`.
                let dot = matches!(&tokens[i - 1], TokenTree::Punct(p) if p.as_char() == '.')
                    && !matches!(
                        i.checked_sub(2).map(|j| &tokens[j]),
                        Some(TokenTree::Punct(p)) if p.as_char() == '.' && p.spacing() == Spacing::Joint
                    );
                let empty_parens = matches!(
                    tokens.get(i + 1),
                    Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis && g.stream().is_empty()
                );
                if dot && empty_parens {
                    found.push(ident.span());
                }
            }
            _ => {}
        }
    }
}
