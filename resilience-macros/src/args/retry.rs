//! `#[retry(...)]` (CONTRACT §2.2).

use std::time::Duration;

use darling::FromMeta;
use darling::util::SpannedValue;
use proc_macro2::TokenStream;
use quote::quote;

use super::invalid;
use super::literal::{Float, Int};
use crate::duration::DurationLit;

pub(crate) const KEYS: &[&str] = &[
    "max_retries",
    "backoff",
    "base_delay",
    "max_delay",
    "jitter_factor",
    "max_duration",
    "retry_if",
];

const MAX_RETRIES: u32 = 1000;
const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(100);
const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, FromMeta)]
#[darling(rename_all = "snake_case")]
enum Backoff {
    Exponential,
    Linear,
    Fixed,
}

#[derive(Debug, FromMeta)]
#[darling(and_then = Self::check)]
pub(crate) struct RetryArgs {
    max_retries: Option<SpannedValue<Int<u32>>>,
    backoff: Option<SpannedValue<String>>,
    base_delay: Option<SpannedValue<DurationLit>>,
    max_delay: Option<SpannedValue<DurationLit>>,
    jitter_factor: Option<SpannedValue<Float>>,
    max_duration: Option<SpannedValue<DurationLit>>,
    pub(crate) retry_if: Option<syn::Path>,
}

impl RetryArgs {
    pub(crate) fn parse(tokens: TokenStream) -> darling::Result<Self> {
        super::parse_list("retry", tokens, KEYS)
    }

    fn backoff(&self) -> Option<Backoff> {
        self.backoff
            .as_ref()
            .and_then(|name| Backoff::from_string(name).ok())
    }

    fn check(self) -> darling::Result<Self> {
        let mut errors = darling::Error::accumulator();
        if let Some(max) = &self.max_retries
            && ***max > MAX_RETRIES
        {
            errors.push(invalid(
                max,
                format!("`max_retries` must be in 0 ..= {MAX_RETRIES}"),
            ));
        }
        if let Some(name) = &self.backoff
            && self.backoff().is_none()
        {
            errors.push(invalid(
                name,
                format!(
                    "unknown backoff `{}`: expected one of: \"exponential\", \"linear\", \"fixed\"",
                    name.as_str()
                ),
            ));
        }
        let base = self.base_delay.as_ref().map_or(DEFAULT_BASE_DELAY, |d| d.0);
        let max = self.max_delay.as_ref().map_or(DEFAULT_MAX_DELAY, |d| d.0);
        if max < base {
            let message = format!("`max_delay` ({max:?}) must be at least `base_delay` ({base:?})");
            match (&self.max_delay, &self.base_delay) {
                (Some(at), _) => errors.push(invalid(at, message)),
                (None, Some(at)) => errors.push(invalid(
                    at,
                    format!("`base_delay` ({base:?}) is above the default `max_delay` (2s): set `max_delay` to at least {base:?}, or lower `base_delay`"),
                )),
                (None, None) => {}
            }
        }
        if let Some(jitter) = &self.jitter_factor
            && !(0.0..=1.0).contains(&***jitter)
        {
            errors.push(invalid(jitter, "`jitter_factor` must be in [0, 1]"));
        }
        if let Some(duration) = &self.max_duration
            && duration.0 <= base
        {
            errors.push(invalid(
                duration,
                format!("`max_duration` must be more than `base_delay` ({base:?})"),
            ));
        }
        errors.finish_with(self)
    }

    /// `RetryConfig { .. }`: the call site's `static`.
    pub(crate) fn config(&self) -> TokenStream {
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
