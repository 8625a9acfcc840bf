//! Durations written as string literals, parsed at compile time: `"250ms"`, `"2s"`, `"1m"`,
//! `"1h"`, `"1s 500ms"`. The syntax is `resilience_config::duration::parse`'s, the one the
//! runtime's configuration uses; this module only adapts it to darling and to tokens.

use std::time::Duration;

use darling::FromMeta;

use resilience_config::duration::parse;

/// A duration literal's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DurationLit(pub(crate) Duration);

impl FromMeta for DurationLit {
    fn from_string(value: &str) -> darling::Result<Self> {
        parse(value)
            .map(DurationLit)
            .map_err(darling::Error::custom)
    }

    fn from_expr(expr: &syn::Expr) -> darling::Result<Self> {
        match expr {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) => Self::from_string(&text.value()).map_err(|error| error.with_span(text)),
            syn::Expr::Group(group) => Self::from_expr(&group.expr),
            _ => Err(not_a_string(expr)),
        }
    }
}

/// The error for a duration that is not a string literal (`500`, `Duration::from_secs(1)`).
pub(crate) fn not_a_string(value: &impl quote::ToTokens) -> darling::Error {
    syn::Error::new_spanned(
        value,
        "durations are string literals with a unit, e.g. \"500ms\", \"2s\" or \"1s 500ms\"",
    )
    .into()
}

impl DurationLit {
    /// `::core::time::Duration::from_nanos(n)`: a `const` expression.
    pub(crate) fn tokens(self) -> proc_macro2::TokenStream {
        let nanos = u64::try_from(self.0.as_nanos()).unwrap_or(u64::MAX);
        quote::quote!(::core::time::Duration::from_nanos(#nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_string_literal_is_parsed_with_the_config_syntax() {
        let expr: syn::Expr = syn::parse_quote!("1s 500ms");
        assert_eq!(
            DurationLit::from_expr(&expr).ok(),
            Some(DurationLit(Duration::from_millis(1500)))
        );
        let spaced: syn::Expr = syn::parse_quote!("10 s");
        let error = DurationLit::from_expr(&spaced).expect_err("\"10 s\" was accepted");
        assert!(
            error.to_string().contains("without a space: \"10s\""),
            "{error}"
        );
    }

    #[test]
    fn a_number_is_not_a_duration() {
        let expr: syn::Expr = syn::parse_quote!(500);
        let error = DurationLit::from_expr(&expr).expect_err("500 was accepted");
        assert!(error.to_string().contains("string literals"), "{error}");
    }
}
