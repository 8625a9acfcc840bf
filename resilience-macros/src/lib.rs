//! Attribute macros of the [`resilience`](https://docs.rs/resilience) crate.
//!
//! *Contract §N* refers to the public contract: the page
//! [`resilience::contract`](https://docs.rs/resilience/latest/resilience/contract/) of the facade's
//! documentation, `docs/CONTRACT.md` in the repository.
//!
//! Depend on `resilience` and use the re-exports there: its documentation of each attribute
//! lists every key with its default and range, an example, and the equivalent code without the
//! macro. Generated code names runtime items only through `::resilience::__private`.
//!
//! The crate is split as tokio-macros and thiserror are: `args/` parses and validates each
//! attribute's arguments (one module per attribute), `expand.rs` collects the stacked
//! attributes and generates the one pipeline, `item.rs` parses the function's signature and
//! keeps its body as tokens.

mod args;
mod duration;
mod expand;
mod item;
mod keys;

use proc_macro::TokenStream;

use expand::Kind;

/// Circuit breaker: see `resilience::circuit_breaker`.
#[proc_macro_attribute]
pub fn circuit_breaker(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::CircuitBreaker, args.into(), item.into()).into()
}

/// Retry: see `resilience::retry`.
#[proc_macro_attribute]
pub fn retry(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Retry, args.into(), item.into()).into()
}

/// Timeout: see `resilience::timeout`.
#[proc_macro_attribute]
pub fn timeout(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Timeout, args.into(), item.into()).into()
}

/// Bulkhead: see `resilience::bulkhead`.
#[proc_macro_attribute]
pub fn bulkhead(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Bulkhead, args.into(), item.into()).into()
}

/// Fallback: see `resilience::fallback`.
#[proc_macro_attribute]
pub fn fallback(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Fallback, args.into(), item.into()).into()
}

/// Service discovery: see `resilience::discover`.
#[proc_macro_attribute]
pub fn discover(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(Kind::Discover, args.into(), item.into()).into()
}
