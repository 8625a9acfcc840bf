//! The annotated function: its signature parsed, its body kept as tokens (as tracing-attributes'
//! `MaybeItemFn` does), so a body that does not parse yet still gets our expansion and
//! rust-analyzer keeps completing inside it.

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, Signature, Visibility};

pub(crate) struct ResilientFn {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    pub(crate) body: TokenStream,
}

impl Parse for ResilientFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig: Signature = input.parse()?;
        if input.peek(syn::Token![;]) {
            return Err(input.error(
                "the resilience attributes go on a function with a body: put them on the trait impl's method, not on the trait's declaration",
            ));
        }
        let body: proc_macro2::Group = input.parse()?;
        if body.delimiter() != proc_macro2::Delimiter::Brace {
            return Err(syn::Error::new(body.span(), "expected the function body"));
        }
        Ok(ResilientFn {
            attrs,
            vis,
            sig,
            body: body.into_token_stream(),
        })
    }
}

impl ToTokens for ResilientFn {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        let ResilientFn {
            attrs,
            vis,
            sig,
            body,
        } = self;
        tokens.extend(quote!(#(#attrs)* #vis #sig #body));
    }
}
