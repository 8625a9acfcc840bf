//! The arguments of each attribute: parsed with darling, validated against the contract's
//! ranges (cross-field rules in darling's `and_then`, so they run only once every field parsed),
//! turned into the `const` configuration the call site's `static` holds.
//!
//! The ranges are not written here: each attribute builds the `resilience-config` struct the
//! runtime will hold and asks that crate for its violations, so the macro refuses exactly what
//! the runtime would. Only the rules about how keys are written (a non-empty `name`, keys that
//! belong to one mode) are the macro's own.

pub(crate) mod bulkhead;
pub(crate) mod circuit_breaker;
pub(crate) mod discover;
pub(crate) mod fallback;
pub(crate) mod literal;
pub(crate) mod retry;
pub(crate) mod timeout;

#[cfg(test)]
mod agreement;

use darling::util::SpannedValue;
use proc_macro2::{Span, TokenStream};

use crate::keys::check_keys;

/// An error spanned on `value`.
pub(crate) fn invalid<T>(
    value: &SpannedValue<T>,
    message: impl std::fmt::Display,
) -> darling::Error {
    syn::Error::new(value.span(), message).into()
}

/// The compile error for a value `resilience-config` refuses: on `span`, the value of the key
/// it names, or on the attribute (no span) when that key was left to its default.
pub(crate) fn violation(span: Option<Span>, message: impl std::fmt::Display) -> darling::Error {
    match span {
        Some(span) => syn::Error::new(span, message).into(),
        None => darling::Error::custom(message),
    }
}

/// The span of an optional key's value.
pub(crate) fn span<T>(value: &Option<SpannedValue<T>>) -> Option<Span> {
    value.as_ref().map(SpannedValue::span)
}

/// A policy's `name`: checked non-empty when given.
pub(crate) fn check_name(
    name: &Option<SpannedValue<String>>,
    errors: &mut darling::error::Accumulator,
) {
    if let Some(name) = name
        && name.trim().is_empty()
    {
        errors.push(invalid(name, "`name` must not be empty"));
    }
}

/// A policy's registry name as a `&'static str` expression: the given one, or the default
/// (`concat!(module_path!(), "::", fn_name)`).
pub(crate) fn name_tokens(
    name: &Option<SpannedValue<String>>,
    default: &TokenStream,
) -> TokenStream {
    match name {
        Some(name) => {
            let name = name.as_str();
            quote::quote!(#name)
        }
        None => default.clone(),
    }
}

/// `key = value` arguments, with unknown keys reported against `keys`.
pub(crate) fn parse_list<T: darling::FromMeta>(
    attribute: &str,
    tokens: TokenStream,
    keys: &[&str],
) -> darling::Result<T> {
    let items = literal::parse_meta_list(tokens)?;
    check_keys(attribute, &items, keys)?;
    T::from_list(&items)
}
