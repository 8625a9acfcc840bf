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
    let is_async_trait = async_trait.is_some();
    let output = output(&func, async_trait);
    match (errors.finish(), output) {
        (Ok(()), Some(output)) => generate(func, &policies, is_async_trait, service_client, output),
        (result, _) => {
            let uses = policies.uses_of_siblings();
            let body = &func.body;
            func.body = quote!({ #uses #body });
            let error = match result {
                Err(error) => error.write_errors(),
                // Reported above when the return type is missing; never left silent.
                Ok(()) => syn::Error::new(
                    Span::call_site(),
                    "a resilient function must return `Result<T, E>` where `E: From<resilience::ResilienceError>`",
                )
                .into_compile_error(),
            };
            with_error(quote!(#func), error)
        }
    }
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

/// The function's return type and body, as the pipeline wraps them: `async fn f(..) -> R { .. }`,
/// or the `R` and inner block of a method `#[async_trait]` already expanded.
struct Output {
    ret: Type,
    body: TokenStream,
}

fn output(func: &ResilientFn, async_trait: Option<AsyncTraitShape>) -> Option<Output> {
    match async_trait {
        Some(shape) => Some(Output {
            ret: shape.output,
            body: shape.block,
        }),
        None => match &func.sig.output {
            ReturnType::Type(_, ret) => Some(Output {
                ret: (**ret).clone(),
                body: func.body.clone(),
            }),
            ReturnType::Default => None,
        },
    }
}

/// `::resilience::__private`, the one path generated code names runtime items through.
fn private() -> TokenStream {
    quote!(::resilience::__private)
}

/// The `static`s of one function, one per policy it has.
#[derive(Default)]
struct Statics(Vec<TokenStream>);

impl Statics {
    fn push(&mut self, name: &str, ty: TokenStream, value: TokenStream) {
        let name = proc_macro2::Ident::new(name, Span::call_site());
        // `..DEFAULT` has no effect when every key is given.
        self.0
            .push(quote!(#[allow(clippy::needless_update)] static #name: #ty = #value;));
    }

    /// Submits the site `name` to the registry's list of declarations, so the policy is listed
    /// from start-up (contract §8).
    fn declare(&mut self, variant: &str, name: &str) {
        let private = private();
        let variant = proc_macro2::Ident::new(variant, Span::call_site());
        let name = proc_macro2::Ident::new(name, Span::call_site());
        self.0.push(quote! {
            #private::inventory::submit! {
                #private::Declaration::#variant(&#name)
            }
        });
    }
}

/// The circuit breaker's layer: its call site's `static`, borrowed once registered.
fn breaker_layer(
    policies: &Policies,
    default_name: &TokenStream,
    statics: &mut Statics,
) -> TokenStream {
    let private = private();
    match &policies.circuit_breaker {
        Some(args) => {
            statics.push(
                "__RESILIENCE_BREAKER",
                quote!(#private::BreakerSite),
                args.site(default_name),
            );
            statics.declare("CircuitBreaker", "__RESILIENCE_BREAKER");
            quote!(__RESILIENCE_BREAKER.get()?)
        }
        None => quote!(#private::NoLayer),
    }
}

/// The timeout's layer: its call site's `static`'s duration, counted on the site.
fn timeout_layer(
    policies: &Policies,
    default_name: &TokenStream,
    statics: &mut Statics,
) -> TokenStream {
    let private = private();
    match &policies.timeout {
        Some(args) => {
            statics.push(
                "__RESILIENCE_TIMEOUT",
                quote!(#private::TimeoutSite),
                args.site(default_name),
            );
            statics.declare("Timeout", "__RESILIENCE_TIMEOUT");
            quote!(__RESILIENCE_TIMEOUT.layer())
        }
        None => quote!(#private::NoLayer),
    }
}

/// The bulkhead's layer: its call site's `static`, borrowed once registered.
fn bulkhead_layer(
    policies: &Policies,
    default_name: &TokenStream,
    statics: &mut Statics,
) -> TokenStream {
    let private = private();
    match &policies.bulkhead {
        Some(args) => {
            statics.push(
                "__RESILIENCE_BULKHEAD",
                quote!(#private::BulkheadSite),
                args.site(default_name),
            );
            statics.declare("Bulkhead", "__RESILIENCE_BULKHEAD");
            quote!(__RESILIENCE_BULKHEAD.get()?)
        }
        None => quote!(#private::NoLayer),
    }
}

/// The retry arguments of the pipeline macro: `retry = none`, or the call's `Retries` and its
/// `retry_if`.
fn retry_layer(
    policies: &Policies,
    default_name: &TokenStream,
    statics: &mut Statics,
) -> TokenStream {
    let private = private();
    match &policies.retry {
        Some(args) => {
            statics.push(
                "__RESILIENCE_RETRY",
                quote!(#private::RetrySite),
                args.site(default_name),
            );
            statics.declare("Retry", "__RESILIENCE_RETRY");
            let retry_if = classifier(args.retry_if.as_ref());
            quote! {
                retry = #private::Retries::of_site(&__RESILIENCE_RETRY),
                retry_if = #retry_if,
            }
        }
        None => quote!(retry = none,),
    }
}

/// `&|error| path(error)` for a `failure_if`/`retry_if` path, or "every error".
fn classifier(path: Option<&syn::Path>) -> TokenStream {
    match path {
        Some(path) => quote!(&|__resilience_error: &_| -> bool { #path(__resilience_error) }),
        None => quote!(&|_: &_| true),
    }
}

/// `#[discover]`: the `ServiceClient` parameter leaves the signature users call (it is
/// returned, for the attempt to bind); the call site's `static` picks the instance.
fn discover_step(
    func: &mut ResilientFn,
    policies: &Policies,
    service_client: Option<usize>,
    statics: &mut Statics,
) -> Option<syn::PatType> {
    let (args, index) = (policies.discover.as_ref()?, service_client?);
    let private = private();
    statics.push(
        "__RESILIENCE_DISCOVER",
        quote!(#private::discovery::DiscoverSite),
        args.site(),
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

/// How each attempt and the fallback get the function's arguments.
struct Arguments {
    /// Statements at the start of each attempt: a fresh copy of each owned argument, a fresh
    /// reborrow of each `&mut` one (run only once the attempt is admitted).
    binds: Vec<TokenStream>,
    /// The arguments passed on to the fallback, in order (the receiver first).
    forwarded: Vec<TokenStream>,
    /// Their types, for the fallback's signature check; `None` if one cannot be named.
    types: Option<Vec<TokenStream>>,
    /// The body, its `self` renamed where each attempt binds it afresh.
    body: TokenStream,
}

fn arguments(func: &mut ResilientFn, policies: &Policies, body: TokenStream) -> Arguments {
    // Each attempt (and the fallback) needs its own copy of owned arguments and a fresh
    // reborrow of `&mut` ones.
    let fresh = policies.retry.is_some() || policies.fallback.is_some();
    let mut arguments = Arguments {
        binds: Vec::new(),
        forwarded: Vec::new(),
        types: Some(Vec::new()),
        body,
    };
    if let Some(receiver) = func.sig.receiver().cloned() {
        // The user's own `self` token: a `self` of ours would not resolve where the method was
        // written by a `macro_rules!` macro (`self` is hygienic there).
        let self_token = receiver.self_token;
        arguments.forwarded.push(quote!(#self_token));
        let receiver_type = match &receiver.kind {
            syn::ReceiverKind::Value => Some(quote!(Self)),
            syn::ReceiverKind::Reference(_, lifetime, mutability) => {
                Some(quote!(& #lifetime #mutability Self))
            }
            syn::ReceiverKind::Typed(_, ty) => Some(quote!(#ty)),
            _ => None,
        };
        match (&mut arguments.types, receiver_type) {
            (Some(types), Some(ty)) => types.push(ty),
            (types, _) => *types = None,
        }
        let shared_reference = matches!(receiver.kind, syn::ReceiverKind::Reference(_, _, None));
        if fresh && !shared_reference {
            // `self` cannot be shadowed, so the body's `self` becomes a local that each attempt
            // binds afresh (as async-trait does with `__self`).
            arguments.body = replace_self(arguments.body);
            let fresh_self = match receiver.kind {
                syn::ReceiverKind::Reference(..) => quote!(&mut *#self_token),
                _ => {
                    let clone = support_item(self_token.span, "CloneArgument");
                    quote_spanned!(self_token.span=> #clone::clone_argument(&#self_token))
                }
            };
            arguments
                .binds
                .push(quote!(let __resilience_self = #fresh_self;));
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
        arguments.forwarded.push(quote!(#outer));
        let ty = &arg.ty;
        if let Some(types) = &mut arguments.types {
            if mentions_impl(ty.to_token_stream()) {
                arguments.types = None;
            } else {
                types.push(quote!(#ty));
            }
        }
        let bind = match &**ty {
            Type::Reference(reference) if reference.mutability.is_some() && fresh => {
                quote!(let #inner = &mut *#outer;)
            }
            _ if !fresh || matches!(&**ty, Type::Reference(_)) => {
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
        arguments.binds.push(bind);
    }
    arguments
}

/// The innermost step of each attempt, a block of `Result<R, Failure<E>>` that the pipeline
/// splices into the attempt's `async` block: bind the
/// arguments, pick an instance for `#[discover]`, run the body.
fn attempt_step(
    arguments: &Arguments,
    client: Option<&syn::PatType>,
    output: &Output,
    nameable: bool,
) -> TokenStream {
    let private = private();
    let support = private.clone();
    let (ret, body) = (&output.ret, &arguments.body);
    let body_future = if nameable {
        quote!(#support::attempt_output::<#ret, _>(async #body))
    } else {
        quote!(async #body)
    };
    let call = match client {
        None => quote! {
            match #body_future.await {
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
                            #body_future.await,
                        )
                    }
                    ::core::result::Result::Err(__resilience_rejection) => {
                        ::core::result::Result::Err(#private::Failure::Rejected(__resilience_rejection))
                    }
                }
            }
        }
    };
    let binds = &arguments.binds;
    quote!({ #(#binds)* #call })
}

/// What the function returns when the pipeline failed: the fallback's result, or the failure
/// converted into the function's error.
fn on_failure(
    policies: &Policies,
    arguments: &Arguments,
    ret: &Type,
    nameable: bool,
    has_receiver: bool,
) -> TokenStream {
    let Some(FallbackArgs { path }) = &policies.fallback else {
        let support = private();
        return quote!(::core::result::Result::Err(
            #support::into_error(__resilience_failure, __resilience_convert)
        ));
    };
    let callee = match path.get_ident() {
        Some(ident) if has_receiver => quote!(Self::#ident),
        _ => quote!(#path),
    };
    let forwarded = &arguments.forwarded;
    // User spans go on paths and calls only (so errors point at the user's code); the locals
    // we bind keep our call-site span, or a function written by `macro_rules!` would not see
    // them.
    let call = match (&arguments.types, nameable) {
        // Through `FallbackFor`, so a fallback of another shape gets our error, naming both
        // signatures, on the fallback's path.
        (Some(types), true) => {
            let check = support_item(path.span(), "FallbackFor");
            quote_spanned! {path.span()=>
                #check::<(#(#types,)*), #ret>::call_fallback(#callee, (#(#forwarded,)*)).await
            }
        }
        _ => quote_spanned!(path.span()=> #callee(#(#forwarded),*).await),
    };
    let annotation = nameable.then(|| quote!(: #ret));
    quote!({
        let _ = __resilience_failure;
        let __resilience_fallback #annotation = #call;
        __resilience_fallback
    })
}

/// The return type's one check: a `Result` whose error takes `From<ResilienceError>`. It also
/// yields the conversion, so the bound is stated (and reported) once, on `ret`. (Only the call
/// carries the user's span; the local keeps ours, for `macro_rules!` hygiene.)
fn assert_return(ret: &Type, nameable: bool, has_fallback: bool) -> TokenStream {
    if nameable {
        let assert = support_item(ret.span(), "assert_resilient_return");
        let call = quote_spanned!(ret.span()=> #assert::<#ret>());
        quote!(let __resilience_convert = #call;)
    } else if !has_fallback {
        let converter = support_item(ret.span(), "rejection_converter");
        let call = quote_spanned!(ret.span()=> #converter());
        quote!(let __resilience_convert = #call;)
    } else {
        quote!()
    }
}

/// The function with its body replaced by the pipeline: one `static` per policy, the layers
/// of concrete types, and ONE expansion of the runtime's composition (`__private::pipeline!`,
/// the same that `Pipeline::run` and the facade expand), the fallback around it.
fn generate(
    mut func: ResilientFn,
    policies: &Policies,
    async_trait: bool,
    service_client: Option<usize>,
    output: Output,
) -> TokenStream {
    let private = private();
    let fn_name = func.sig.ident.to_string();
    let default_name = quote!(::core::concat!(::core::module_path!(), "::", #fn_name));
    let mut statics = Statics::default();
    let circuit_breaker = breaker_layer(policies, &default_name, &mut statics);
    let timeout = timeout_layer(policies, &default_name, &mut statics);
    // Which layers the function has: an absent one gets no code and no state.
    let has = |present: bool| if present { quote!(some) } else { quote!(none) };
    let present = {
        let (breaker, timeout, bulkhead) = (
            has(policies.circuit_breaker.is_some()),
            has(policies.timeout.is_some()),
            has(policies.bulkhead.is_some()),
        );
        quote!(breaker = #breaker, timeout = #timeout, bulkhead = #bulkhead,)
    };
    let bulkhead = bulkhead_layer(policies, &default_name, &mut statics);
    let retry = retry_layer(policies, &default_name, &mut statics);
    let client = discover_step(&mut func, policies, service_client, &mut statics);
    let has_receiver = func.sig.receiver().is_some();
    let arguments = arguments(&mut func, policies, output.body.clone());

    // `impl Trait` cannot be named in a turbofish or a `let` type: such a return type is left
    // to inference (a `?` in the body may then need its error type spelled out).
    let nameable = !mentions_impl(output.ret.to_token_stream());
    let failure_if = classifier(
        policies
            .circuit_breaker
            .as_ref()
            .and_then(|args| args.failure_if.as_ref()),
    );
    let attempt = attempt_step(&arguments, client.as_ref(), &output, nameable);
    // The instances that failed this call, kept across its attempts.
    let failed_instances = client.is_some().then(
        || quote!(let mut __resilience_failed = #private::discovery::FailedInstances::new();),
    );
    let on_failure = on_failure(policies, &arguments, &output.ret, nameable, has_receiver);
    let assert_return = assert_return(&output.ret, nameable, policies.fallback.is_some());
    let uses = policies.uses_of_siblings();
    let statics = &statics.0;
    // A configuration the registry refuses (impossible after the checks above, but never a
    // panic) fails the call like any rejection: through the fallback, or into `E`.
    let generated = quote! {{
        #uses
        #assert_return
        #(#statics)*
        let __resilience_layers = (|| {
            ::core::result::Result::Ok::<_, #private::ConfigError>(#private::Layers {
                circuit_breaker: #circuit_breaker,
                timeout: #timeout,
                bulkhead: #bulkhead,
            })
        })();
        #failed_instances
        let __resilience_result = match __resilience_layers {
            ::core::result::Result::Ok(__resilience_layers) => #private::pipeline!(
                #retry
                #present
                layers = &__resilience_layers,
                failure_if = #failure_if,
                attempt = #attempt,
            ),
            ::core::result::Result::Err(__resilience_error) => ::core::result::Result::Err(
                #private::Failure::Rejected(#private::ResilienceError::Config(__resilience_error)),
            ),
        };
        match __resilience_result {
            ::core::result::Result::Ok(__resilience_value) => ::core::result::Result::Ok(__resilience_value),
            ::core::result::Result::Err(__resilience_failure) => #on_failure,
        }
    }};
    func.body = if async_trait {
        quote!({ ::std::boxed::Box::pin(async move #generated) })
    } else {
        generated
    };
    quote!(#func)
}

/// `::resilience::__private::<name>`, every token spanned at `span` so that a failed bound on
/// it is reported there.
fn support_item(span: Span, name: &str) -> TokenStream {
    let name = proc_macro2::Ident::new(name, span);
    quote_spanned!(span=> ::resilience::__private::#name)
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
