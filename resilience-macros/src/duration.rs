//! Durations written as string literals, parsed at compile time: `"250ms"`, `"2s"`, `"1m"`,
//! `"1h"`, `"1s 500ms"` (parts separated by spaces, each a whole number and a unit, no sign).

use std::time::Duration;

use darling::FromMeta;

/// A duration literal's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DurationLit(pub(crate) Duration);

const UNITS: &[(&str, u64)] = &[
    ("ns", 1),
    ("us", 1_000),
    ("µs", 1_000),
    ("ms", 1_000_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
];

pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let expected = "expected a duration such as \"250ms\", \"2s\", \"1m\", \"1h\" or \"1s 500ms\" (units: ns, us, ms, s, m, h)";
    if text.trim().is_empty() {
        return Err(format!("empty duration: {expected}"));
    }
    let mut total: u64 = 0;
    for part in text.split_whitespace() {
        let digits_end = part.find(|c: char| !c.is_ascii_digit()).ok_or_else(|| {
            format!("`{part}` has no unit: write the unit right after the number, e.g. \"{part}ms\" or \"{part}s\" (units: ns, us, ms, s, m, h)")
        })?;
        if digits_end == 0 {
            return Err(format!(
                "`{part}` does not start with a whole number: {expected}"
            ));
        }
        let (number, unit) = part.split_at(digits_end);
        let scale = UNITS
            .iter()
            .find(|(name, _)| *name == unit)
            .map(|(_, scale)| *scale)
            .ok_or_else(|| format!("unknown unit `{unit}` in `{part}`: {expected}"))?;
        let nanos = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(scale))
            .and_then(|n| total.checked_add(n))
            .ok_or_else(|| format!("duration `{text}` is too long (at most about 584 years)"))?;
        total = nanos;
    }
    Ok(Duration::from_nanos(total))
}

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
    fn accepts_the_contract_forms() {
        assert_eq!(parse("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("1m"), Ok(Duration::from_secs(60)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1s 500ms"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("0ms"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_malformed_durations() {
        for bad in [
            "10 sec",
            "",
            "-1s",
            "5",
            "1.5s",
            "s",
            "1d",
            "99999999999999h",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
