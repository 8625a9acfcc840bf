//! `#[timeout("500ms")]` or `#[timeout(duration = "500ms")]` (contract §2.3).

use darling::FromMeta;
use darling::ast::NestedMeta;
use darling::util::SpannedValue;
use proc_macro2::TokenStream;
use resilience_config::TimeoutConfig;

use super::invalid;
use crate::duration::DurationLit;
use crate::keys::check_keys;

pub(crate) const KEYS: &[&str] = &["duration"];

#[derive(Debug, FromMeta)]
struct Named {
    duration: SpannedValue<DurationLit>,
}

#[derive(Debug)]
pub(crate) struct TimeoutArgs {
    duration: DurationLit,
}

impl TimeoutArgs {
    pub(crate) fn parse(tokens: TokenStream) -> darling::Result<Self> {
        let items = super::literal::parse_meta_list(tokens)?;
        let duration = match items.as_slice() {
            [] => {
                return Err(darling::Error::custom(
                    "`#[timeout]` needs a duration: `#[timeout(\"500ms\")]` or `#[timeout(duration = \"500ms\")]`",
                ));
            }
            [NestedMeta::Lit(syn::Lit::Str(text))] => SpannedValue::new(
                DurationLit::from_string(&text.value()).map_err(|e| e.with_span(text))?,
                text.span(),
            ),
            [NestedMeta::Lit(other)] => return Err(crate::duration::not_a_string(other)),
            _ => {
                check_keys("timeout", &items, KEYS)?;
                Named::from_list(&items)?.duration
            }
        };
        let config = TimeoutConfig {
            timeout: duration.0,
        };
        let mut errors = darling::Error::accumulator();
        for error in config.violations() {
            // The config's only key, `timeout`, is this attribute's one value, whether it was
            // written `"500ms"` or `duration = "500ms"`.
            errors.push(invalid(&duration, format!("the timeout {}", error.problem)));
        }
        errors.finish()?;
        Ok(TimeoutArgs {
            duration: *duration,
        })
    }

    /// The per-attempt `Duration`, as a `const` expression.
    pub(crate) fn duration(&self) -> TokenStream {
        self.duration.tokens()
    }
}
