//! Numbers as the attributes take them: literals only (darling would also parse `"5"`), with a
//! message that says what to write, spanned on the whole value (a `-1` included).

use darling::FromMeta;

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
            _ => Err(error(
                expr,
                "expected a whole number, e.g. `5` (not a string)",
            )),
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
            _ => Err(error(expr, "expected a number, e.g. `0.5` (not a string)")),
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
