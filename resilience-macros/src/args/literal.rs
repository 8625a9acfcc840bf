//! Attribute arguments are literals: numbers as the attributes take them (darling would also
//! parse `"5"`), and the errors for what is not a literal (a const's name, a macro call), each
//! with a message that says what to write, spanned on the whole value (a `-1` included).
//!
//! An attribute reads its arguments as tokens when it expands, before any name is resolved or
//! any macro is expanded: `MAX` is only a name then and `env!("N")` only a call, never a value.

use darling::FromMeta;
use darling::ast::NestedMeta;
use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::{Expr, Lit, UnOp};

/// A whole number written as an integer literal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Int<T>(pub(crate) T);

/// A number written as a float or integer literal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Float(pub(crate) f64);

fn error(expr: &Expr, message: &str) -> darling::Error {
    syn::Error::new_spanned(expr, message).into()
}

/// What to say about a value that is not a literal, `example` being one that would do.
fn not_a_literal(expr: &Expr, example: &str) -> darling::Error {
    match expr {
        Expr::Macro(call) => macro_call(call),
        Expr::Path(path) => error(
            expr,
            &format!(
                "attribute arguments must be literals: `{}` has no value yet when the attribute \
                 reads its arguments (at compile time); write the value itself, e.g. `{example}`, \
                 or set it at run time with a configuration override",
                path.to_token_stream().to_string().replace(' ', "")
            ),
        ),
        _ => error(
            expr,
            &format!(
                "attribute arguments must be literals: they are read at compile time, before any \
                 expression is evaluated; write the value itself, e.g. `{example}`, or set it at \
                 run time with a configuration override"
            ),
        ),
    }
}

const MACRO_CALL: &str = "macros are not expanded in attribute arguments: the attribute reads \
     them as written; write a literal instead (e.g. `5` or `\"500ms\"`), or set the value at run \
     time with a configuration override";

fn macro_call(call: &impl ToTokens) -> darling::Error {
    syn::Error::new_spanned(call, MACRO_CALL).into()
}

/// `NestedMeta::parse_meta_list`, with macro calls (`env!("T")`, `concat!(..)`) reported as
/// such: as a positional argument syn stops after the macro's name and says "expected `,`".
pub(crate) fn parse_meta_list(tokens: TokenStream) -> darling::Result<Vec<NestedMeta>> {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut errors = darling::Error::accumulator();
    for window in tokens.windows(3) {
        if let [
            TokenTree::Ident(_),
            TokenTree::Punct(bang),
            TokenTree::Group(_),
        ] = window
            && bang.as_char() == '!'
        {
            errors.push(macro_call(&window.iter().cloned().collect::<TokenStream>()));
        }
    }
    errors.finish()?;
    Ok(NestedMeta::parse_meta_list(tokens.into_iter().collect())?)
}

impl<T> FromMeta for Int<T>
where
    T: std::str::FromStr + Copy,
    T::Err: std::fmt::Display,
{
    fn from_expr(expr: &Expr) -> darling::Result<Self> {
        match expr {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(int), ..
            }) if int.base10_digits().starts_with('-') => Err(error(expr, "must not be negative")),
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(int), ..
            }) => int
                .base10_parse::<T>()
                .map(Int)
                .map_err(|_| error(expr, "this number is too large here")),
            Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => {
                Err(error(expr, "must not be negative"))
            }
            Expr::Group(group) => Self::from_expr(&group.expr),
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(_), ..
            }) => Err(error(
                expr,
                "expected a whole number, e.g. `5` (not a string)",
            )),
            Expr::Lit(_) => Err(error(expr, "expected a whole number, e.g. `5`")),
            _ => Err(not_a_literal(expr, "5")),
        }
    }
}

impl FromMeta for Float {
    fn from_expr(expr: &Expr) -> darling::Result<Self> {
        match expr {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Float(float),
                ..
            }) => float
                .base10_parse::<f64>()
                .map(Float)
                .map_err(|e| syn::Error::new(float.span(), e).into()),
            Expr::Lit(syn::ExprLit {
                lit: Lit::Int(int), ..
            }) => int
                .base10_parse::<f64>()
                .map(Float)
                .map_err(|e| syn::Error::new(int.span(), e).into()),
            Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => {
                Err(error(expr, "must not be negative"))
            }
            Expr::Group(group) => Self::from_expr(&group.expr),
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(_), ..
            }) => Err(error(expr, "expected a number, e.g. `0.5` (not a string)")),
            Expr::Lit(_) => Err(error(expr, "expected a number, e.g. `0.5`")),
            _ => Err(not_a_literal(expr, "0.5")),
        }
    }
}

impl<T> std::ops::Deref for Int<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl std::ops::Deref for Float {
    type Target = f64;
    fn deref(&self) -> &f64 {
        &self.0
    }
}
