//! `#[bulkhead(...)]` (CONTRACT §2.4).

use darling::FromMeta;
use darling::util::SpannedValue;
use proc_macro2::TokenStream;
use quote::quote;

use super::invalid;
use super::literal::Int;
use crate::duration::DurationLit;

pub(crate) const KEYS: &[&str] = &["name", "max_concurrent_calls", "max_queue_size", "max_wait"];

/// The runtime's `MAX_CONCURRENT_CALLS` (what the bulkhead's slot counter holds).
const MAX_CONCURRENT_CALLS: usize = usize::MAX >> 3;

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
        if let Some(calls) = &self.max_concurrent_calls
            && !(1..=MAX_CONCURRENT_CALLS).contains(&***calls)
        {
            errors.push(invalid(calls, "`max_concurrent_calls` must be at least 1"));
        }
        if let Some(wait) = &self.max_wait
            && wait.0.is_zero()
        {
            errors.push(invalid(wait, "`max_wait` must be more than 0"));
        }
        errors.finish_with(self)
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
