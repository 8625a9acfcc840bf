//! `#[retry(...)]` (contract §2.2).

use darling::FromMeta;
use darling::util::SpannedValue;
use proc_macro2::TokenStream;
use quote::quote;
use resilience_config::{Backoff, ConfigError, RetryConfig};

use super::invalid;
use super::literal::{Float, Int};
use crate::duration::DurationLit;

pub(crate) const KEYS: &[&str] = &[
    "name",
    "max_retries",
    "backoff",
    "base_delay",
    "max_delay",
    "jitter_factor",
    "max_duration",
    "retry_if",
    "budget",
];

#[derive(Debug, FromMeta)]
#[darling(and_then = Self::check)]
pub(crate) struct RetryArgs {
    name: Option<SpannedValue<String>>,
    max_retries: Option<SpannedValue<Int<u32>>>,
    backoff: Option<SpannedValue<String>>,
    base_delay: Option<SpannedValue<DurationLit>>,
    max_delay: Option<SpannedValue<DurationLit>>,
    jitter_factor: Option<SpannedValue<Float>>,
    max_duration: Option<SpannedValue<DurationLit>>,
    pub(crate) retry_if: Option<syn::Path>,
    /// The name of the shared retry budget this retry draws from (contract §9).
    budget: Option<SpannedValue<String>>,
}

impl RetryArgs {
    pub(crate) fn parse(tokens: TokenStream) -> darling::Result<Self> {
        super::parse_list("retry", tokens, KEYS)
    }

    fn backoff(&self) -> Option<Backoff> {
        self.backoff
            .as_ref()
            .and_then(|name| Backoff::from_name(name))
    }

    fn check(self) -> darling::Result<Self> {
        let mut errors = darling::Error::accumulator();
        super::check_name(&self.name, &mut errors);
        if let Some(budget) = &self.budget
            && budget.trim().is_empty()
        {
            errors.push(invalid(
                budget,
                "`budget` must name a retry budget, not be empty",
            ));
        }
        if let Some(name) = &self.backoff
            && self.backoff().is_none()
        {
            let names: Vec<String> = Backoff::NAMES
                .iter()
                .map(|name| format!("\"{name}\""))
                .collect();
            errors.push(invalid(
                name,
                format!(
                    "unknown backoff `{}`: expected one of: {}",
                    name.as_str(),
                    names.join(", ")
                ),
            ));
        }
        for error in self.to_config().violations() {
            errors.push(self.diagnostic(&error));
        }
        errors.finish_with(self)
    }

    /// The configuration the runtime will hold: the given values over the defaults.
    fn to_config(&self) -> RetryConfig {
        let default = RetryConfig::DEFAULT;
        RetryConfig {
            max_retries: self
                .max_retries
                .as_ref()
                .map_or(default.max_retries, |v| ***v),
            base_delay: self.base_delay.as_ref().map_or(default.base_delay, |v| v.0),
            max_delay: self.max_delay.as_ref().map_or(default.max_delay, |v| v.0),
            jitter_factor: self
                .jitter_factor
                .as_ref()
                .map_or(default.jitter_factor, |v| ***v),
            backoff: self.backoff().unwrap_or(default.backoff),
            max_duration: self
                .max_duration
                .as_ref()
                .map(|v| v.0)
                .or(default.max_duration),
        }
    }

    /// The compile error for `error`, on the value of its key, or, for a `max_delay` left to
    /// its default, on the `base_delay` that went above it.
    fn diagnostic(&self, error: &ConfigError) -> darling::Error {
        let span = match error.key {
            "max_retries" => super::span(&self.max_retries),
            "backoff" => super::span(&self.backoff),
            "base_delay" => super::span(&self.base_delay),
            "max_delay" => super::span(&self.max_delay),
            "jitter_factor" => super::span(&self.jitter_factor),
            "max_duration" => super::span(&self.max_duration),
            _ => None,
        };
        if let ("max_delay", None, Some(base)) = (error.key, span, &self.base_delay) {
            let (base_value, max) = (base.0, RetryConfig::DEFAULT.max_delay);
            return invalid(
                base,
                format!(
                    "`base_delay` ({base_value:?}) is above the default `max_delay` ({max:?}): set `max_delay` to at least {base_value:?}, or lower `base_delay`"
                ),
            );
        }
        super::violation(span, format!("`{}` {}", error.key, error.problem))
    }

    /// `RetrySite::new(name, RetryConfig { .. })`: the call site's `static`.
    pub(crate) fn site(&self, default_name: &TokenStream) -> TokenStream {
        let name = super::name_tokens(&self.name, default_name);
        let config = self.config();
        match &self.budget {
            Some(budget) => {
                let budget = budget.as_str();
                quote!(::resilience::__private::RetrySite::new(#name, #config).with_budget(#budget))
            }
            None => quote!(::resilience::__private::RetrySite::new(#name, #config)),
        }
    }

    /// `RetryConfig { .. }`.
    fn config(&self) -> TokenStream {
        let mut fields = Vec::new();
        if let Some(v) = &self.max_retries {
            let v = ***v;
            fields.push(quote!(max_retries: #v,));
        }
        if let Some(backoff) = self.backoff() {
            let variant = match backoff {
                Backoff::Exponential => quote!(Exponential),
                Backoff::Linear => quote!(Linear),
                Backoff::Fixed => quote!(Fixed),
            };
            fields.push(quote!(backoff: ::resilience::__private::Backoff::#variant,));
        }
        if let Some(v) = &self.base_delay {
            let v = v.tokens();
            fields.push(quote!(base_delay: #v,));
        }
        if let Some(v) = &self.max_delay {
            let v = v.tokens();
            fields.push(quote!(max_delay: #v,));
        }
        if let Some(v) = &self.jitter_factor {
            let v = ***v;
            fields.push(quote!(jitter_factor: #v,));
        }
        if let Some(v) = &self.max_duration {
            let v = v.tokens();
            fields.push(quote!(max_duration: ::core::option::Option::Some(#v),));
        }
        quote! {
            ::resilience::__private::RetryConfig {
                #(#fields)*
                ..::resilience::__private::RetryConfig::DEFAULT
            }
        }
    }
}
