//! `#[circuit_breaker(...)]` (CONTRACT §2.1).

use darling::FromMeta;
use darling::util::SpannedValue;
use proc_macro2::TokenStream;
use quote::quote;

use super::invalid;
use super::literal::{Float, Int};
use crate::duration::DurationLit;

pub(crate) const KEYS: &[&str] = &[
    "name",
    "max_failures",
    "failure_rate",
    "window",
    "min_calls",
    "reset_timeout",
    "half_open_allowed_calls",
    "failure_if",
];

#[derive(Debug, FromMeta)]
#[darling(and_then = Self::check)]
pub(crate) struct CircuitBreakerArgs {
    name: Option<SpannedValue<String>>,
    max_failures: Option<SpannedValue<Int<u32>>>,
    failure_rate: Option<SpannedValue<Float>>,
    window: Option<SpannedValue<Int<u32>>>,
    min_calls: Option<SpannedValue<Int<u32>>>,
    reset_timeout: Option<SpannedValue<DurationLit>>,
    half_open_allowed_calls: Option<SpannedValue<Int<u32>>>,
    pub(crate) failure_if: Option<syn::Path>,
}

/// The runtime's limits (`resilience-runtime/src/circuit_breaker/config.rs`).
const MAX_HALF_OPEN_ALLOWED_CALLS: u32 = (1 << 24) - 1;
const MAX_WINDOW: u32 = 1 << 20;
const DEFAULT_WINDOW: u32 = 20;

impl CircuitBreakerArgs {
    pub(crate) fn parse(tokens: TokenStream) -> darling::Result<Self> {
        super::parse_list("circuit_breaker", tokens, KEYS)
    }

    fn check(self) -> darling::Result<Self> {
        let mut errors = darling::Error::accumulator();
        super::check_name(&self.name, &mut errors);
        if let Some(max) = &self.max_failures
            && ***max == 0
        {
            errors.push(invalid(max, "`max_failures` must be at least 1"));
        }
        if let (Some(max), Some(_)) = (&self.max_failures, &self.failure_rate) {
            errors.push(invalid(
                max,
                "`max_failures` and `failure_rate` cannot be used together: `max_failures` is the consecutive-failure mode, `failure_rate` the rate mode",
            ));
        }
        if let Some(rate) = &self.failure_rate
            && !(***rate > 0.0 && ***rate <= 1.0)
        {
            errors.push(invalid(rate, "`failure_rate` must be in (0, 1]"));
        }
        if self.failure_rate.is_none() {
            for (key, value) in [("window", &self.window), ("min_calls", &self.min_calls)] {
                if let Some(value) = value {
                    errors.push(invalid(
                        value,
                        format!("`{key}` only applies to the rate mode: add `failure_rate`"),
                    ));
                }
            }
        }
        if let Some(window) = &self.window
            && !(1..=MAX_WINDOW).contains(&***window)
        {
            errors.push(invalid(
                window,
                format!("`window` must be in 1 ..= {MAX_WINDOW}"),
            ));
        }
        let window = self
            .window
            .as_deref()
            .map_or(DEFAULT_WINDOW, |window| window.0);
        if let Some(min_calls) = &self.min_calls
            && !(1..=window).contains(&***min_calls)
        {
            errors.push(invalid(
                min_calls,
                format!("`min_calls` must be in 1 ..= window ({window})"),
            ));
        }
        if let Some(timeout) = &self.reset_timeout
            && timeout.0.is_zero()
        {
            errors.push(invalid(timeout, "`reset_timeout` must be more than 0"));
        }
        if let Some(calls) = &self.half_open_allowed_calls
            && !(1..=MAX_HALF_OPEN_ALLOWED_CALLS).contains(&***calls)
        {
            errors.push(invalid(
                calls,
                format!("`half_open_allowed_calls` must be in 1 ..= {MAX_HALF_OPEN_ALLOWED_CALLS}"),
            ));
        }
        errors.finish_with(self)
    }

    /// `BreakerSite::new(name, CircuitBreakerConfig { .. })`: the call site's `static`.
    pub(crate) fn site(&self, default_name: &TokenStream) -> TokenStream {
        let name = super::name_tokens(&self.name, default_name);
        let mut fields = Vec::new();
        if let Some(v) = &self.max_failures {
            let v = ***v;
            fields.push(quote!(max_failures: #v,));
        }
        if let Some(v) = &self.failure_rate {
            let v = ***v;
            fields.push(quote!(failure_rate: ::core::option::Option::Some(#v),));
        }
        if let Some(v) = &self.window {
            let v = ***v;
            fields.push(quote!(window: #v,));
        }
        if let Some(v) = &self.min_calls {
            let v = ***v;
            fields.push(quote!(min_calls: ::core::option::Option::Some(#v),));
        }
        if let Some(v) = &self.reset_timeout {
            let v = v.tokens();
            fields.push(quote!(reset_timeout: #v,));
        }
        if let Some(v) = &self.half_open_allowed_calls {
            let v = ***v;
            fields.push(quote!(half_open_allowed_calls: #v,));
        }
        quote! {
            ::resilience::__private::BreakerSite::new(#name, ::resilience::__private::CircuitBreakerConfig {
                #(#fields)*
                ..::resilience::__private::CircuitBreakerConfig::DEFAULT
            })
        }
    }
}
