//! `#[bulkhead(...)]` (contract §2.4).

use darling::FromMeta;
use darling::util::SpannedValue;
use proc_macro2::TokenStream;
use quote::quote;
use resilience_config::BulkheadConfig;

use super::literal::Int;
use crate::duration::DurationLit;

pub(crate) const KEYS: &[&str] = &["name", "max_concurrent_calls", "max_queue_size", "max_wait"];

#[derive(Debug, FromMeta)]
#[darling(and_then = Self::check)]
pub(crate) struct BulkheadArgs {
    name: Option<SpannedValue<String>>,
    max_concurrent_calls: Option<SpannedValue<Int<usize>>>,
    max_queue_size: Option<SpannedValue<Int<usize>>>,
    max_wait: Option<SpannedValue<DurationLit>>,
}

impl BulkheadArgs {
    pub(crate) fn parse(tokens: TokenStream) -> darling::Result<Self> {
        super::parse_list("bulkhead", tokens, KEYS)
    }

    fn check(self) -> darling::Result<Self> {
        let mut errors = darling::Error::accumulator();
        super::check_name(&self.name, &mut errors);
        for error in self.to_config().violations() {
            let span = match error.key {
                "max_concurrent_calls" => super::span(&self.max_concurrent_calls),
                "max_queue_size" => super::span(&self.max_queue_size),
                "max_wait" => super::span(&self.max_wait),
                _ => None,
            };
            errors.push(super::violation(
                span,
                format!("`{}` {}", error.key, error.problem),
            ));
        }
        errors.finish_with(self)
    }

    /// The configuration the runtime will hold: the given values over the defaults.
    fn to_config(&self) -> BulkheadConfig {
        let default = BulkheadConfig::DEFAULT;
        BulkheadConfig {
            max_concurrent_calls: self
                .max_concurrent_calls
                .as_ref()
                .map_or(default.max_concurrent_calls, |v| ***v),
            max_queue_size: self
                .max_queue_size
                .as_ref()
                .map_or(default.max_queue_size, |v| ***v),
            max_wait: self.max_wait.as_ref().map(|v| v.0).or(default.max_wait),
        }
    }

    /// `BulkheadSite::new(name, BulkheadConfig { .. })`: the call site's `static`.
    pub(crate) fn site(&self, default_name: &TokenStream) -> TokenStream {
        let name = super::name_tokens(&self.name, default_name);
        let mut fields = Vec::new();
        if let Some(v) = &self.max_concurrent_calls {
            let v = ***v;
            fields.push(quote!(max_concurrent_calls: #v,));
        }
        if let Some(v) = &self.max_queue_size {
            let v = ***v;
            fields.push(quote!(max_queue_size: #v,));
        }
        if let Some(v) = &self.max_wait {
            let v = v.tokens();
            fields.push(quote!(max_wait: ::core::option::Option::Some(#v),));
        }
        quote! {
            ::resilience::__private::BulkheadSite::new(#name, ::resilience::__private::BulkheadConfig {
                #(#fields)*
                ..::resilience::__private::BulkheadConfig::DEFAULT
            })
        }
    }
}
