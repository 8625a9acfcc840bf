//! `#[circuit_breaker(...)]` (contract §2.1).

use darling::FromMeta;
use darling::util::SpannedValue;
use proc_macro2::{Span, TokenStream};
use quote::quote;
use resilience_config::CircuitBreakerConfig;

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

impl CircuitBreakerArgs {
    pub(crate) fn parse(tokens: TokenStream) -> darling::Result<Self> {
        super::parse_list("circuit_breaker", tokens, KEYS)
    }

    /// The rules about which keys go together are the macro's; the ranges are the config's.
    fn check(self) -> darling::Result<Self> {
        let mut errors = darling::Error::accumulator();
        super::check_name(&self.name, &mut errors);
        if let (Some(max), Some(_)) = (&self.max_failures, &self.failure_rate) {
            errors.push(invalid(
                max,
                "`max_failures` and `failure_rate` cannot be used together: `max_failures` is the consecutive-failure mode, `failure_rate` the rate mode",
            ));
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
        for error in self.to_config().violations() {
            errors.push(super::violation(
                self.span_of(error.key),
                format!("`{}` {}", error.key, error.problem),
            ));
        }
        errors.finish_with(self)
    }

    /// The configuration the runtime will hold: the given values over the defaults.
    fn to_config(&self) -> CircuitBreakerConfig {
        let default = CircuitBreakerConfig::DEFAULT;
        CircuitBreakerConfig {
            max_failures: self
                .max_failures
                .as_ref()
                .map_or(default.max_failures, |v| ***v),
            reset_timeout: self
                .reset_timeout
                .as_ref()
                .map_or(default.reset_timeout, |v| v.0),
            half_open_allowed_calls: self
                .half_open_allowed_calls
                .as_ref()
                .map_or(default.half_open_allowed_calls, |v| ***v),
            failure_rate: self
                .failure_rate
                .as_ref()
                .map(|v| ***v)
                .or(default.failure_rate),
            window: self.window.as_ref().map_or(default.window, |v| ***v),
            min_calls: self.min_calls.as_ref().map(|v| ***v).or(default.min_calls),
        }
    }

    /// Where the value of `key` was written, if it was.
    fn span_of(&self, key: &str) -> Option<Span> {
        match key {
            "max_failures" => super::span(&self.max_failures),
            "failure_rate" => super::span(&self.failure_rate),
            "window" => super::span(&self.window),
            "min_calls" => super::span(&self.min_calls),
            "reset_timeout" => super::span(&self.reset_timeout),
            "half_open_allowed_calls" => super::span(&self.half_open_allowed_calls),
            _ => None,
        }
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
