//! `#[fallback(path)]` (contract §2.5): the path of an `async fn` with the same parameters and
//! return type.

use proc_macro2::TokenStream;

#[derive(Debug)]
pub(crate) struct FallbackArgs {
    pub(crate) path: syn::Path,
}

impl FallbackArgs {
    pub(crate) fn parse(tokens: TokenStream) -> darling::Result<Self> {
        if tokens.is_empty() {
            return Err(darling::Error::custom(
                "`#[fallback]` needs the path of an async fn: `#[fallback(cached_user)]`",
            ));
        }
        let path = syn::parse2::<syn::Path>(tokens).map_err(|error| {
            darling::Error::from(syn::Error::new(
                error.span(),
                "`#[fallback]` takes the path of an async fn with the same parameters and return type, e.g. `#[fallback(cached_user)]`",
            ))
        })?;
        Ok(FallbackArgs { path })
    }
}
