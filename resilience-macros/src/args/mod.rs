//! The arguments of each attribute: parsed with darling, validated against the contract's
//! ranges (cross-field rules in darling's `and_then`, so they run only once every field parsed),
//! turned into the `const` configuration the call site's `static` holds.

pub(crate) mod bulkhead;
pub(crate) mod circuit_breaker;
pub(crate) mod discover;
pub(crate) mod fallback;
pub(crate) mod literal;
pub(crate) mod retry;
pub(crate) mod timeout;

use darling::util::SpannedValue;
use proc_macro2::TokenStream;

use crate::keys::check_keys;

/// An error spanned on `value`.
pub(crate) fn invalid<T>(
    value: &SpannedValue<T>,
    message: impl std::fmt::Display,
) -> darling::Error {
    syn::Error::new(value.span(), message).into()
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
