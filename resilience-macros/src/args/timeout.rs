//! `#[timeout("500ms")]` or `#[timeout(duration = "500ms")]` (contract §2.3).

use darling::FromMeta;
use darling::ast::NestedMeta;
use darling::util::SpannedValue;
use proc_macro2::TokenStream;
use resilience_config::TimeoutConfig;

use super::invalid;
use crate::duration::DurationLit;
use crate::keys::check_keys;

pub(crate) const KEYS: &[&str] = &["name", "duration"];

#[derive(Debug, FromMeta)]
struct Named {
    name: Option<SpannedValue<String>>,
    duration: Option<SpannedValue<DurationLit>>,
}

#[derive(Debug)]
pub(crate) struct TimeoutArgs {
    name: Option<SpannedValue<String>>,
    duration: DurationLit,
}

const NEEDS_DURATION: &str =
    "`#[timeout]` needs a duration: `#[timeout(\"500ms\")]` or `#[timeout(duration = \"500ms\")]`";

impl TimeoutArgs {
    pub(crate) fn parse(tokens: TokenStream) -> darling::Result<Self> {
        let items = super::literal::parse_meta_list(tokens)?;
        // `"500ms"` first, then keys (`name`), or keys only.
        let (positional, keys) = match items.split_first() {
            None => return Err(darling::Error::custom(NEEDS_DURATION)),
            Some((NestedMeta::Lit(syn::Lit::Str(text)), rest)) => (
                Some(SpannedValue::new(
                    DurationLit::from_string(&text.value()).map_err(|e| e.with_span(text))?,
                    text.span(),
                )),
                rest,
            ),
            Some((NestedMeta::Lit(other), _)) => return Err(crate::duration::not_a_string(other)),
            Some(_) => (None, items.as_slice()),
        };
        check_keys("timeout", keys, KEYS)?;
        let named = Named::from_list(keys)?;
        let duration = match (positional, named.duration) {
            (Some(_), Some(again)) => {
                return Err(invalid(
                    &again,
                    "the duration is given twice: keep either `\"..\"` or `duration = \"..\"`",
                ));
            }
            (Some(duration), None) | (None, Some(duration)) => duration,
            (None, None) => return Err(darling::Error::custom(NEEDS_DURATION)),
        };
        let mut errors = darling::Error::accumulator();
        super::check_name(&named.name, &mut errors);
        let config = TimeoutConfig {
            timeout: duration.0,
        };
        for error in config.violations() {
            // The config's only key, `timeout`, is this attribute's one value, whether it was
            // written `"500ms"` or `duration = "500ms"`.
            errors.push(invalid(&duration, format!("the timeout {}", error.problem)));
        }
        errors.finish()?;
        Ok(TimeoutArgs {
            name: named.name,
            duration: *duration,
        })
    }

    /// `TimeoutSite::new(name, duration)`: the call site's `static`.
    pub(crate) fn site(&self, default_name: &TokenStream) -> TokenStream {
        let name = super::name_tokens(&self.name, default_name);
        let duration = self.duration.tokens();
        quote::quote!(::resilience::__private::TimeoutSite::new(#name, #duration))
    }
}
