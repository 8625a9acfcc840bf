//! `#[discover("service", balancer = "...", version = "...", metadata(key = "value", ...))]`
//! (contract §2.6). The service name comes first (or as `service = "..."`); the version
//! requirement is parsed with `semver` here, so a bad one never reaches run time.

use darling::FromMeta;
use darling::ast::NestedMeta;
use darling::util::SpannedValue;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::spanned::Spanned;

use super::invalid;
use crate::keys::check_keys;

pub(crate) const KEYS: &[&str] = &["service", "balancer", "version", "metadata"];

/// `resilience_discovery::Balancer::NAMES`, each with its variant (the generated code names the
/// variant, so a name that drifted from the runtime would not compile).
const BALANCERS: &[(&str, &str)] = &[
    ("p2c", "P2cPeakEwma"),
    ("round_robin", "RoundRobin"),
    ("least_connections", "LeastConnections"),
    ("random", "Random"),
    ("weighted_round_robin", "WeightedRoundRobin"),
];

/// A string literal, with a message that says so when it is anything else.
#[derive(Debug, Clone)]
struct Text(String);

impl FromMeta for Text {
    fn from_expr(expr: &syn::Expr) -> darling::Result<Self> {
        match expr {
            syn::Expr::Lit(syn::ExprLit {
                lit: syn::Lit::Str(text),
                ..
            }) => Ok(Text(text.value())),
            syn::Expr::Group(group) => Self::from_expr(&group.expr),
            _ => Err(syn::Error::new_spanned(expr, "expected a string literal").into()),
        }
    }
}

/// `metadata(zone = "eu", tier = "gold")`, in the order written.
#[derive(Debug, Default)]
struct Metadata(Vec<(String, String)>);

impl FromMeta for Metadata {
    fn from_list(items: &[NestedMeta]) -> darling::Result<Self> {
        let mut errors = darling::Error::accumulator();
        let mut entries: Vec<(String, String)> = Vec::new();
        let expected =
            "`metadata` takes `key = \"value\"` pairs, e.g. `metadata(zone = \"eu-west-1\")`";
        for item in items {
            let NestedMeta::Meta(syn::Meta::NameValue(pair)) = item else {
                errors.push(syn::Error::new(item.span(), expected).into());
                continue;
            };
            let Some(key) = pair.path.get_ident() else {
                errors.push(syn::Error::new_spanned(&pair.path, expected).into());
                continue;
            };
            let key = key.to_string();
            let key = key.strip_prefix("r#").unwrap_or(&key).to_owned();
            let Some(value) = errors.handle(Text::from_expr(&pair.value)) else {
                continue;
            };
            if entries.iter().any(|(seen, _)| *seen == key) {
                errors.push(
                    syn::Error::new_spanned(
                        &pair.path,
                        format!("duplicate metadata key `{key}`: each key may be required once"),
                    )
                    .into(),
                );
                continue;
            }
            entries.push((key, value.0));
        }
        errors.finish_with(Metadata(entries))
    }
}

#[derive(Debug, FromMeta)]
struct Keyed {
    service: Option<SpannedValue<Text>>,
    balancer: Option<SpannedValue<Text>>,
    version: Option<SpannedValue<Text>>,
    #[darling(default)]
    metadata: Metadata,
}

#[derive(Debug)]
pub(crate) struct DiscoverArgs {
    service: String,
    /// The balancer's variant name.
    balancer: Option<&'static str>,
    version: Option<String>,
    metadata: Vec<(String, String)>,
}

impl DiscoverArgs {
    pub(crate) fn parse(tokens: TokenStream) -> darling::Result<Self> {
        let items = super::literal::parse_meta_list(tokens)?;
        let (positional, keyed) = match items.split_first() {
            Some((NestedMeta::Lit(syn::Lit::Str(service)), rest)) => (Some(service), rest),
            Some((NestedMeta::Lit(other), _)) => {
                return Err(syn::Error::new(
                    other.span(),
                    "the service name is a string literal: `#[discover(\"user-service\")]`",
                )
                .into());
            }
            _ => (None, items.as_slice()),
        };
        check_keys("discover", keyed, KEYS)?;
        let keyed = Keyed::from_list(keyed)?;

        let mut errors = darling::Error::accumulator();
        let service = match (positional, &keyed.service) {
            (Some(_), Some(again)) => {
                errors.push(invalid(
                    again,
                    "the service is already named by the first argument: remove `service = ...`",
                ));
                None
            }
            (Some(service), None) => Some((service.value(), service.span())),
            (None, Some(service)) => Some((service.0.clone(), service.span())),
            (None, None) => {
                errors.push(darling::Error::custom(
                    "`#[discover]` needs the service's name: `#[discover(\"user-service\")]`",
                ));
                None
            }
        };
        if let Some((name, span)) = &service
            && name.trim().is_empty()
        {
            errors.push(syn::Error::new(*span, "the service name must not be empty").into());
        }
        let balancer = keyed.balancer.as_ref().and_then(|name| {
            let found = BALANCERS
                .iter()
                .find(|(known, _)| *known == name.0)
                .map(|(_, variant)| *variant);
            if found.is_none() {
                let valid: Vec<String> = BALANCERS
                    .iter()
                    .map(|(known, _)| format!("\"{known}\""))
                    .collect();
                errors.push(invalid(
                    name,
                    format!(
                        "unknown balancer `{}`: expected one of: {}",
                        name.0,
                        valid.join(", ")
                    ),
                ));
            }
            found
        });
        if let Some(requirement) = &keyed.version
            && let Err(error) = semver::VersionReq::parse(&requirement.0)
        {
            errors.push(invalid(
                requirement,
                format!(
                    "invalid version requirement `{}`: {error}; write a semver requirement such as \"^2\", \">=1.4, <2\" or \"=2.1.0\"",
                    requirement.0
                ),
            ));
        }
        errors.finish()?;
        // A missing service was pushed above, so `finish` returned it.
        let service = service.map(|(name, _)| name).unwrap_or_default();
        Ok(DiscoverArgs {
            service,
            balancer,
            version: keyed.version.as_ref().map(|version| version.0.clone()),
            metadata: keyed.metadata.0,
        })
    }

    /// `DiscoverSite::new(..)`: the call site's `static`.
    pub(crate) fn site(&self) -> TokenStream {
        let discovery = quote!(::resilience::__private::discovery);
        let service = &self.service;
        let balancer = match self.balancer {
            Some(variant) => {
                let variant = format_ident!("{}", variant, span = Span::call_site());
                quote!(#discovery::Balancer::#variant)
            }
            None => quote!(#discovery::Balancer::P2cPeakEwma),
        };
        let version = match &self.version {
            Some(version) => quote!(::core::option::Option::Some(#version)),
            None => quote!(::core::option::Option::None),
        };
        let metadata = self
            .metadata
            .iter()
            .map(|(key, value)| quote!((#key, #value)));
        quote! {
            #discovery::DiscoverSite::new(#service, #balancer, #version, &[#(#metadata),*])
        }
    }
}
