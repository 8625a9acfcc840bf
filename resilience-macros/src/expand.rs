//! Stacking and code generation: the attribute that expands first collects its siblings (bare or
//! `resilience::`-qualified), removes them, and emits ONE pipeline in the contract's order
//! (fallback → retry → circuit breaker → timeout → bulkhead → discover → body), whatever order
//! they were written in.
//!
//! `#[discover]` is the innermost step of each attempt: once the bulkhead admitted the attempt,
//! it picks an instance (avoiding those that already failed this call), binds the function's
//! `ServiceClient` parameter — removed from the signature users call — to it, runs the body and
//! reports the outcome to the instance's passive health.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, Meta, Pat, ReturnType, Type};

use crate::args::bulkhead::BulkheadArgs;
use crate::args::circuit_breaker::CircuitBreakerArgs;
use crate::args::discover::DiscoverArgs;
use crate::args::fallback::FallbackArgs;
use crate::args::retry::RetryArgs;
use crate::args::timeout::TimeoutArgs;
use crate::item::ResilientFn;

/// The attributes that make one pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    CircuitBreaker,
    Retry,
    Timeout,
    Bulkhead,
    Fallback,
    Discover,
}

impl Kind {
    const ALL: [Kind; 6] = [
        Kind::CircuitBreaker,
        Kind::Retry,
        Kind::Timeout,
        Kind::Bulkhead,
        Kind::Fallback,
        Kind::Discover,
    ];

    fn name(self) -> &'static str {
        match self {
            Kind::CircuitBreaker => "circuit_breaker",
            Kind::Retry => "retry",
            Kind::Timeout => "timeout",
            Kind::Bulkhead => "bulkhead",
            Kind::Fallback => "fallback",
            Kind::Discover => "discover",
        }
    }

    /// `retry`, `resilience::retry` or `::resilience::retry`.
    fn of(path: &syn::Path) -> Option<Kind> {
        let segments = &path.segments;
        let last = segments.last()?;
        let qualified_by_us = match segments.len() {
            1 => path.leading_colon.is_none(),
            2 => segments[0].ident == "resilience",
            _ => false,
        };
        if !qualified_by_us || !last.arguments.is_none() {
            return None;
        }
        Kind::ALL.into_iter().find(|kind| last.ident == kind.name())
    }
}

#[derive(Default)]
struct Policies {
    seen: Vec<Kind>,
    /// The sibling attributes' paths, named again in the expansion so the user's `use` of them
    /// still counts as used.
    sibling_paths: Vec<syn::Path>,
    circuit_breaker: Option<CircuitBreakerArgs>,
    retry: Option<RetryArgs>,
    timeout: Option<TimeoutArgs>,
    bulkhead: Option<BulkheadArgs>,
    fallback: Option<FallbackArgs>,
    discover: Option<DiscoverArgs>,
}

impl Policies {
    /// `use retry as _;` for each sibling attribute removed, so the user's `use` of it still
    /// counts as used.
    fn uses_of_siblings(&self) -> TokenStream {
        let paths = &self.sibling_paths;
        quote!(#(#[allow(unused_imports)] use #paths as _;)*)
    }

    fn add(
        &mut self,
        kind: Kind,
        args: TokenStream,
        attribute: Option<&syn::Attribute>,
        errors: &mut darling::error::Accumulator,
    ) {
        // Errors without a span of their own point at the attribute's name.
        let span = attribute.map_or_else(Span::call_site, |attr| attr.path().span());
        if self.seen.contains(&kind) {
            let message = format!(
                "duplicate `#[{}]`: each resilience attribute may appear at most once per function",
                kind.name()
            );
            errors.push(match attribute {
                Some(attr) => syn::Error::new_spanned(&attr.meta, message).into(),
                None => syn::Error::new(span, message).into(),
            });
            return;
        }
        self.seen.push(kind);
        let at_attribute = |error: darling::Error| {
            if error.has_span() {
                error
            } else {
                error.with_span(&span)
            }
        };
        match kind {
            Kind::CircuitBreaker => {
                self.circuit_breaker =
                    errors.handle(CircuitBreakerArgs::parse(args).map_err(at_attribute))
            }
            Kind::Retry => self.retry = errors.handle(RetryArgs::parse(args).map_err(at_attribute)),
            Kind::Timeout => {
                self.timeout = errors.handle(TimeoutArgs::parse(args).map_err(at_attribute))
            }
            Kind::Bulkhead => {
                self.bulkhead = errors.handle(BulkheadArgs::parse(args).map_err(at_attribute))
            }
            Kind::Fallback => {
                self.fallback = errors.handle(FallbackArgs::parse(args).map_err(at_attribute))
            }
            Kind::Discover => {
                self.discover = errors.handle(DiscoverArgs::parse(args).map_err(at_attribute))
            }
        }
    }
}

/// Expands the attribute `kind` with `args` on `item`.
pub(crate) fn expand(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    let mut func: ResilientFn = match syn::parse2(item.clone()) {
        Ok(func) => func,
        Err(error) => return with_error(item, error.into_compile_error()),
    };
    let mut errors = darling::Error::accumulator();
    let mut policies = Policies::default();
    policies.add(kind, args, None, &mut errors);
    for attr in std::mem::take(&mut func.attrs) {
        let Some(sibling) = Kind::of(attr.path()) else {
            func.attrs.push(attr);
            continue;
        };
        let args = match &attr.meta {
            Meta::Path(_) => TokenStream::new(),
            Meta::List(list) => list.tokens.clone(),
            Meta::NameValue(_) => {
                let name = sibling.name();
                errors.push(
                    syn::Error::new_spanned(
                        &attr.meta,
                        format!("`#[{name}]` takes a list of arguments: write `#[{name}(...)]`"),
                    )
                    .into(),
                );
                policies.sibling_paths.push(attr.path().clone());
                continue;
            }
        };
        policies.add(sibling, args, Some(&attr), &mut errors);
        policies.sibling_paths.push(attr.path().clone());
    }
    let async_trait = async_trait_shape(&func);
    if func.sig.asyncness.is_none() && async_trait.is_none() {
        errors.push(
            syn::Error::new(
                func.sig.fn_token.span,
                "the `async` keyword is missing from the function declaration",
            )
            .into(),
        );
    }
    if let ReturnType::Default = func.sig.output {
        errors.push(
            syn::Error::new(
                func.sig.paren_token.span.close(),
                "a resilient function must return `Result<T, E>` where `E: From<resilience::ResilienceError>`",
            )
            .into(),
        );
    }
    let service_client = if policies.seen.contains(&Kind::Discover) {
        errors.handle(service_client_parameter(&func))
    } else {
        None
    };
    if let Err(error) = errors.finish() {
        let uses = policies.uses_of_siblings();
        let body = &func.body;
        func.body = quote!({ #uses #body });
        return with_error(quote!(#func), error.write_errors());
    }
    generate(func, &policies, async_trait, service_client)
}

/// The index of the one parameter typed `ServiceClient` (any path ending so) among the
/// function's inputs, which `#[discover]` removes and injects.
fn service_client_parameter(func: &ResilientFn) -> darling::Result<usize> {
    let mut errors = darling::Error::accumulator();
    let mut found = None;
    for (index, input) in func.sig.inputs.iter().enumerate() {
        let FnArg::Typed(arg) = input else { continue };
        if names_service_client(&arg.ty) {
            if found.is_some() {
                errors.push(
                    syn::Error::new_spanned(
                        arg,
                        "`#[discover]` injects one `ServiceClient`: remove this second `ServiceClient` parameter",
                    )
                    .into(),
                );
            } else {
                found = Some(index);
            }
        } else if let Type::Reference(reference) = &*arg.ty
            && names_service_client(&reference.elem)
        {
            errors.push(
                syn::Error::new_spanned(
                    reference,
                    "take the `ServiceClient` by value: `#[discover]` injects an owned client for each attempt",
                )
                .into(),
            );
            found.get_or_insert(index);
        }
    }
    errors.finish()?;
    found.ok_or_else(|| {
        syn::Error::new(
            func.sig.paren_token.span.join(),
            "`#[discover]` injects a `ServiceClient`: add a parameter `client: ServiceClient` for the client bound to the picked instance",
        )
        .into()
    })
}

/// `ServiceClient`, `resilience::ServiceClient`, … (a path whose last segment is
/// `ServiceClient`, without generic arguments).
fn names_service_client(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => {
            path.qself.is_none()
                && path
                    .path
                    .segments
                    .last()
                    .is_some_and(|last| last.ident == "ServiceClient" && last.arguments.is_none())
        }
        Type::Group(group) => names_service_client(&group.elem),
        Type::Paren(paren) => names_service_client(&paren.elem),
        _ => false,
    }
}

/// A method already expanded by `#[async_trait]` (which, on the impl block, always runs before
/// us): `fn m(..) -> Pin<Box<dyn Future<Output = R> + Send + 'async_trait>> { Box::pin(async
/// move { .. }) }`. Returns `R` and the inner block, which we wrap as if `async fn m(..) -> R`
/// had that body (tracing-attributes recognises the same shape).
struct AsyncTraitShape {
    output: Type,
    block: TokenStream,
}

fn async_trait_shape(func: &ResilientFn) -> Option<AsyncTraitShape> {
    if func.sig.asyncness.is_some() {
        return None;
    }
    let ReturnType::Type(_, ty) = &func.sig.output else {
        return None;
    };
    let output = future_output(ty)?;
    let block: syn::Block = syn::parse2(func.body.clone()).ok()?;
    let [syn::Stmt::Expr(syn::Expr::Call(call), None)] = block.stmts.as_slice() else {
        return None;
    };
    let syn::Expr::Path(callee) = &*call.func else {
        return None;
    };
    let names: Vec<String> = callee
        .path
        .segments
        .iter()
        .map(|segment| segment.ident.to_string())
        .collect();
    if !names.ends_with(&["Box".to_owned(), "pin".to_owned()]) || call.args.len() != 1 {
        return None;
    }
    let syn::Expr::Async(inner) = &call.args[0] else {
        return None;
    };
    inner.capture?;
    let block = &inner.block;
    Some(AsyncTraitShape {
        output,
        block: quote!(#block),
    })
}

/// `R` in `Pin<Box<dyn Future<Output = R> + ..>>`.
fn future_output(ty: &Type) -> Option<Type> {
    match ty {
        Type::Path(path) => path_output(&path.path),
        Type::TraitObject(object) => object.bounds.iter().find_map(|bound| match bound {
            syn::TypeParamBound::Trait(bound) => path_output(&bound.path),
            _ => None,
        }),
        Type::Paren(inner) => future_output(&inner.elem),
        Type::Group(inner) => future_output(&inner.elem),
        _ => None,
    }
}

fn path_output(path: &syn::Path) -> Option<Type> {
    path.segments.iter().find_map(|segment| {
        let syn::PathArguments::AngleBracketed(args) = &segment.arguments else {
            return None;
        };
        args.args.iter().find_map(|arg| match arg {
            syn::GenericArgument::AssocType(assoc) if assoc.ident == "Output" => {
                Some(assoc.ty.clone())
            }
            syn::GenericArgument::Type(inner) => future_output(inner),
            _ => None,
        })
    })
}

/// The user's item beside the error, so the function still exists for the rest of the crate and
/// for rust-analyzer (tokio-macros' `token_stream_with_error`).
fn with_error(item: TokenStream, error: TokenStream) -> TokenStream {
    quote!(#item #error)
}

fn generate(
    mut func: ResilientFn,
    policies: &Policies,
    async_trait: Option<AsyncTraitShape>,
    service_client: Option<usize>,
) -> TokenStream {
    let (ret, body) = match async_trait.as_ref() {
        Some(shape) => (shape.output.clone(), shape.block.clone()),
        None => match &func.sig.output {
            ReturnType::Type(_, ret) => ((**ret).clone(), func.body.clone()),
            ReturnType::Default => unreachable!("checked in `expand`"),
        },
    };
    let private = quote!(::resilience::__private);
    let support = quote!(::resilience::__private::macro_support);
    let fn_name = func.sig.ident.to_string();
    let default_name = quote!(::core::concat!(::core::module_path!(), "::", #fn_name));
    // One `static` per policy, and layers of concrete types: an attempt's future holds only
    // the layers this function has.
    let no_layer = quote!(#private::NoLayer);
    let mut statics = Vec::new();
    let circuit_breaker = match &policies.circuit_breaker {
        Some(args) => {
            let site = args.site(&default_name);
            statics.push(quote!(static __RESILIENCE_BREAKER: #private::BreakerSite = #site;));
            quote!(__RESILIENCE_BREAKER.get()?)
        }
        None => no_layer.clone(),
    };
    let timeout = policies
        .timeout
        .as_ref()
        .map_or(no_layer.clone(), TimeoutArgs::duration);
    let bulkhead = match &policies.bulkhead {
        Some(args) => {
            let site = args.site(&default_name);
            statics.push(quote!(static __RESILIENCE_BULKHEAD: #private::BulkheadSite = #site;));
            quote!(__RESILIENCE_BULKHEAD.get()?)
        }
        None => no_layer,
    };
    if let Some(args) = &policies.retry {
        let config = args.config();
        statics.push(quote!(static __RESILIENCE_RETRY: #private::RetryConfig = #config;));
    }
    // `#[discover]`: the `ServiceClient` parameter leaves the signature users call; each attempt
    // binds the user's pattern to a client of the instance it picked.
    let discover = match (&policies.discover, service_client) {
        (Some(args), Some(index)) => {
            let site = args.site();
            statics.push(
                quote!(static __RESILIENCE_DISCOVER: #private::discovery::DiscoverSite = #site;),
            );
            let mut client = None;
            func.sig.inputs = std::mem::take(&mut func.sig.inputs)
                .into_iter()
                .enumerate()
                .filter_map(|(position, input)| match input {
                    FnArg::Typed(arg) if position == index => {
                        client = Some(arg);
                        None
                    }
                    other => Some(other),
                })
                .collect();
            client
        }
        _ => None,
    };

    // Arguments: each attempt (and the fallback) needs its own copy of owned arguments and a
    // fresh reborrow of `&mut` ones.
    let fresh = policies.retry.is_some() || policies.fallback.is_some();
    let receiver = func.sig.receiver().cloned();
    let has_receiver = receiver.is_some();
    let mut binds = Vec::new();
    let mut forwarded = Vec::new();
    let mut body = body;
    if let Some(receiver) = &receiver {
        // The user's own `self` token: a `self` of ours would not resolve where the method was
        // written by a `macro_rules!` macro (`self` is hygienic there).
        let self_token = receiver.self_token;
        forwarded.push(quote!(#self_token));
        let shared_reference = matches!(receiver.kind, syn::ReceiverKind::Reference(_, _, None));
        if fresh && !shared_reference {
            // `self` cannot be shadowed, so the body's `self` becomes a local that each attempt
            // binds afresh (as async-trait does with `__self`).
            body = replace_self(body);
            let fresh_self = match receiver.kind {
                syn::ReceiverKind::Reference(..) => quote!(&mut *#self_token),
                _ => {
                    let clone = support_item(self_token.span, "CloneArgument");
                    quote_spanned!(self_token.span=> #clone::clone_argument(&#self_token))
                }
            };
            binds.push(quote!(let __resilience_self = #fresh_self;));
        }
    }
    for (index, input) in func.sig.inputs.iter_mut().enumerate() {
        let FnArg::Typed(arg) = input else { continue };
        let inner = arg.pat.clone();
        let (outer, had_mut) = match &mut *arg.pat {
            Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {
                (ident.ident.clone(), ident.mutability.take().is_some())
            }
            _ => {
                let outer = format_ident!("__resilience_arg{}", index);
                *arg.pat = syn::parse_quote!(#outer);
                (outer, true)
            }
        };
        forwarded.push(quote!(#outer));
        let bind = match &*arg.ty {
            Type::Reference(reference) if reference.mutability.is_some() && fresh => {
                quote!(let #inner = &mut *#outer;)
            }
            _ if !fresh || matches!(&*arg.ty, Type::Reference(_)) => {
                if had_mut {
                    quote!(let #inner = #outer;)
                } else {
                    quote!()
                }
            }
            _ => {
                let clone = support_item(inner.span(), "CloneArgument");
                quote_spanned! {inner.span()=>
                    let #inner = #clone::clone_argument(&#outer);
                }
            }
        };
        binds.push(bind);
    }

    // `impl Trait` cannot be named in a turbofish or a `let` type: such a return type is left
    // to inference (a `?` in the body may then need its error type spelled out).
    let nameable = !mentions_impl(ret.to_token_stream());
    let failure_if = match policies
        .circuit_breaker
        .as_ref()
        .and_then(|args| args.failure_if.as_ref())
    {
        Some(path) => quote!(&|__resilience_error: &_| -> bool { #path(__resilience_error) }),
        None => quote!(&|_: &_| true),
    };
    let attempt_future = if nameable {
        quote!(#support::attempt_output::<#ret, _>(async #body))
    } else {
        quote!(async #body)
    };
    // One attempt, composed inline in the function's own future (one state machine, not one
    // per layer), with code only for the layers this function has: breaker → timeout →
    // bulkhead → body, as `Layers::attempt` composes them for `Pipeline`.
    let layers = quote!(__resilience_layers);
    let call = match &discover {
        None => quote! {
            match #attempt_future.await {
                ::core::result::Result::Ok(__resilience_value) => ::core::result::Result::Ok(__resilience_value),
                ::core::result::Result::Err(__resilience_error) => {
                    ::core::result::Result::Err(#private::Failure::Operation(__resilience_error))
                }
            }
        },
        Some(client) => {
            let (attrs, pat, ty) = (&client.attrs, &client.pat, &client.ty);
            quote! {
                match __RESILIENCE_DISCOVER.begin(&mut __resilience_failed) {
                    ::core::result::Result::Ok((__resilience_call, __resilience_client)) => {
                        #(#attrs)*
                        let #pat: #ty = __resilience_client;
                        #private::discovery::InstanceCall::finish(
                            __resilience_call,
                            #attempt_future.await,
                        )
                    }
                    ::core::result::Result::Err(__resilience_rejection) => {
                        ::core::result::Result::Err(#private::Failure::Rejected(__resilience_rejection))
                    }
                }
            }
        }
    };
    // The bulkhead's slot is held until the body is done; a caller that must queue waits on
    // the boxed slow path.
    let guarded = if policies.bulkhead.is_some() {
        quote! {
            '__resilience_guarded: {
                let __resilience_slot = match #private::layers::BulkheadLayer::try_admit(&#layers.bulkhead) {
                    ::core::option::Option::Some(__resilience_slot) => __resilience_slot,
                    ::core::option::Option::None => {
                        match #private::layers::BulkheadLayer::admit_queued(&#layers.bulkhead).await {
                            ::core::result::Result::Ok(__resilience_slot) => __resilience_slot,
                            ::core::result::Result::Err(__resilience_rejection) => {
                                break '__resilience_guarded ::core::result::Result::Err(
                                    #private::Failure::Rejected(__resilience_rejection),
                                );
                            }
                        }
                    }
                };
                // The slot is dropped in place at the end of the block: moving it out to drop
                // it would copy it whole right after its field-wise stores, a load the CPU
                // cannot forward.
                #call
            }
        }
    } else {
        call
    };
    // The timeout bounds the wait in the bulkhead too (MicroProfile's order).
    let bounded = if policies.timeout.is_some() {
        quote! {
            match #private::layers::TimeoutLayer::bound(&#layers.timeout, async { #guarded }).await {
                ::core::result::Result::Ok(__resilience_outcome) => __resilience_outcome,
                ::core::result::Result::Err(__resilience_timeout) => {
                    ::core::result::Result::Err(#private::Failure::Rejected(__resilience_timeout))
                }
            }
        }
    } else {
        guarded
    };
    let attempt = if policies.circuit_breaker.is_some() {
        quote! {
            '__resilience_attempt: {
                #(#binds)*
                let mut __resilience_permit = match #layers.circuit_breaker.admit() {
                    ::core::option::Option::Some(__resilience_permit) => __resilience_permit,
                    ::core::option::Option::None => break '__resilience_attempt ::core::result::Result::Err(
                        #private::Failure::Rejected(#layers.circuit_breaker.rejection()),
                    ),
                };
                let __resilience_outcome = #bounded;
                #support::record_outcome(&mut __resilience_permit, &__resilience_outcome, #failure_if);
                __resilience_outcome
            }
        }
    } else {
        quote! {{
            #(#binds)*
            #bounded
        }}
    };
    // The instances that failed this call, kept across its attempts.
    let failed_instances = discover.is_some().then(
        || quote!(let mut __resilience_failed = #private::discovery::FailedInstances::new();),
    );
    let run = match &policies.retry {
        Some(args) => {
            let retry_if = match &args.retry_if {
                Some(path) => {
                    quote!(&|__resilience_error: &_| -> bool { #path(__resilience_error) })
                }
                None => quote!(&|_: &_| true),
            };
            quote! {{
                let mut __resilience_retries = #private::Retries::new(
                    ::core::option::Option::Some(&__RESILIENCE_RETRY),
                );
                loop {
                    let __resilience_outcome = #attempt;
                    match __resilience_retries.after(__resilience_outcome, #retry_if) {
                        ::core::ops::ControlFlow::Break(__resilience_result) => break __resilience_result,
                        ::core::ops::ControlFlow::Continue(__resilience_delay) => #support::sleep(__resilience_delay).await,
                    }
                }
            }}
        }
        None => attempt,
    };
    let on_failure = match &policies.fallback {
        Some(FallbackArgs { path }) => {
            let callee = match path.get_ident() {
                Some(ident) if has_receiver => quote!(Self::#ident),
                _ => quote!(#path),
            };
            // User spans go on paths and calls only (so errors point at the user's code); the
            // locals we bind keep our call-site span, or a function written by `macro_rules!`
            // would not see them.
            let annotation = nameable.then(|| quote!(: #ret));
            let call = quote_spanned! {path.span()=>
                {
                    let __resilience_fallback #annotation = #callee(#(#forwarded),*).await;
                    __resilience_fallback
                }
            };
            quote!({
                let _ = __resilience_failure;
                #call
            })
        }
        None => quote!(::core::result::Result::Err(
            #support::into_error(__resilience_failure, __resilience_convert)
        )),
    };
    // The return type's one check: a `Result` whose error takes `From<ResilienceError>`. It
    // also yields the conversion, so the bound is stated (and reported) once, on `ret`.
    // (Only the call carries the user's span; the local keeps ours, for `macro_rules!` hygiene.)
    let assert_return = if nameable {
        let assert = support_item(ret.span(), "assert_resilient_return");
        let call = quote_spanned!(ret.span()=> #assert::<#ret>());
        quote!(let __resilience_convert = #call;)
    } else if policies.fallback.is_none() {
        let converter = support_item(ret.span(), "rejection_converter");
        let call = quote_spanned!(ret.span()=> #converter());
        quote!(let __resilience_convert = #call;)
    } else {
        quote!()
    };

    let uses = policies.uses_of_siblings();
    // A configuration the registry refuses (impossible after the checks above, but never a
    // panic) fails the call like any rejection: through the fallback, or into `E`.
    let generated = quote! {{
        #uses
        #assert_return
        // `..DEFAULT` has no effect when every key is given.
        #(#[allow(clippy::needless_update)] #statics)*
        let __resilience_layers = (|| {
            ::core::result::Result::Ok::<_, #private::ConfigError>(#private::Layers {
                circuit_breaker: #circuit_breaker,
                timeout: #timeout,
                bulkhead: #bulkhead,
            })
        })();
        #failed_instances
        let __resilience_result = match __resilience_layers {
            ::core::result::Result::Ok(__resilience_layers) => #run,
            ::core::result::Result::Err(__resilience_error) => ::core::result::Result::Err(
                #private::Failure::Rejected(#private::ResilienceError::Config(__resilience_error)),
            ),
        };
        match __resilience_result {
            ::core::result::Result::Ok(__resilience_value) => ::core::result::Result::Ok(__resilience_value),
            ::core::result::Result::Err(__resilience_failure) => #on_failure,
        }
    }};
    func.body = match async_trait {
        Some(_) => quote!({ ::std::boxed::Box::pin(async move #generated) }),
        None => generated,
    };
    quote!(#func)
}

/// `::resilience::__private::macro_support::<name>`, every token spanned at `span` so that a
/// failed bound on it is reported there.
fn support_item(span: Span, name: &str) -> TokenStream {
    let name = proc_macro2::Ident::new(name, span);
    quote_spanned!(span=> ::resilience::__private::macro_support::#name)
}

/// Whether a type mentions `impl Trait` anywhere.
fn mentions_impl(tokens: TokenStream) -> bool {
    tokens.into_iter().any(|token| match token {
        proc_macro2::TokenTree::Ident(ident) => ident == "impl",
        proc_macro2::TokenTree::Group(group) => mentions_impl(group.stream()),
        _ => false,
    })
}

/// The body's `self` (not `self::` paths) renamed to `__resilience_self`.
fn replace_self(tokens: TokenStream) -> TokenStream {
    let tokens: Vec<proc_macro2::TokenTree> = tokens.into_iter().collect();
    let mut out = TokenStream::new();
    for (index, token) in tokens.iter().enumerate() {
        let replaced = match token {
            proc_macro2::TokenTree::Ident(ident) if ident == "self" => {
                let path_prefix = matches!(
                    tokens.get(index + 1),
                    Some(proc_macro2::TokenTree::Punct(punct))
                        if punct.as_char() == ':' && punct.spacing() == proc_macro2::Spacing::Joint
                );
                if path_prefix {
                    token.clone()
                } else {
                    proc_macro2::TokenTree::Ident(proc_macro2::Ident::new(
                        "__resilience_self",
                        Span::call_site(),
                    ))
                }
            }
            proc_macro2::TokenTree::Group(group) => {
                let mut new =
                    proc_macro2::Group::new(group.delimiter(), replace_self(group.stream()));
                new.set_span(group.span());
                proc_macro2::TokenTree::Group(new)
            }
            other => other.clone(),
        };
        out.extend([replaced]);
    }
    out
}
