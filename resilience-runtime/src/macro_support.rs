//! Helpers that generated code calls, each carrying the diagnostic a user sees when their code
//! does not fit the attribute (`#[diagnostic::on_unimplemented]`), so that the message is ours
//! and names the fix.

use std::future::Future;

use crate::error::ResilienceError;

/// Owned arguments are passed again to each retry attempt and to the fallback.
#[diagnostic::on_unimplemented(
    message = "argument of type `{Self}` must be `Clone`: `#[retry]` and `#[fallback]` pass owned arguments again to each attempt and to the fallback",
    label = "this argument is not `Clone`",
    note = "take it by reference, wrap it in an `Arc`, or derive `Clone` for it"
)]
pub trait CloneArgument: Sized {
    /// A fresh copy for one attempt.
    fn clone_argument(&self) -> Self;
}

impl<T: Clone> CloneArgument for T {
    #[inline]
    fn clone_argument(&self) -> Self {
        self.clone()
    }
}

/// The error type of a resilient function must take the framework's rejections.
#[diagnostic::on_unimplemented(
    message = "the error type `{Self}` of a resilient function must implement `From<resilience::ResilienceError>`",
    label = "`CircuitOpen`, `Timeout`, `BulkheadFull` and `NoInstance` are returned through this type",
    note = "add `impl From<resilience::ResilienceError> for {Self}` (or a `#[from]` variant with thiserror)"
)]
pub trait FromRejection {
    /// The rejection as this error.
    fn from_rejection(rejection: ResilienceError) -> Self;
}

impl<E: From<ResilienceError>> FromRejection for E {
    #[inline]
    fn from_rejection(rejection: ResilienceError) -> Self {
        E::from(rejection)
    }
}

/// The return type of a resilient function must be a `Result`.
#[diagnostic::on_unimplemented(
    message = "a resilient function must return `Result<T, E>`, not `{Self}`",
    label = "the attributes need an error type to report rejections through"
)]
pub trait ResultReturn {
    /// The error type.
    type Error;
}

impl<T, E> ResultReturn for Result<T, E> {
    type Error = E;
}

/// Checks at compile time that `R` is a `Result` whose error takes rejections, and gives the
/// conversion: the one place generated code states the bound, so a missing `From` is reported
/// once, on the return type.
#[inline(always)]
pub fn assert_resilient_return<R>() -> fn(ResilienceError) -> R::Error
where
    R: ResultReturn,
    R::Error: FromRejection,
{
    R::Error::from_rejection
}

/// [`assert_resilient_return`] for a return type that cannot be named (`impl Trait` inside).
#[inline(always)]
pub fn rejection_converter<E: FromRejection>() -> fn(ResilienceError) -> E {
    E::from_rejection
}

/// Fixes the output type of an attempt's `async` block, so `?` and `return` inside it infer.
#[inline(always)]
pub fn attempt_output<R, F: Future<Output = R>>(attempt: F) -> F {
    attempt
}

/// The final conversion of a failed pipeline into the function's error.
#[inline]
pub fn into_error<E>(failure: crate::Failure<E>, convert: fn(ResilienceError) -> E) -> E {
    match failure {
        crate::Failure::Operation(error) => error,
        crate::Failure::Rejected(rejection) => convert(rejection),
    }
}

/// A `#[fallback(path)]` must take the function's parameters and return its return type.
///
/// `Args` is the tuple of the function's parameter types (the receiver first, for a method),
/// `R` its return type. Implemented for every `FnOnce(Args..) -> impl Future<Output = R>` of up
/// to twelve parameters, so a fallback of another shape is reported here, naming both.
#[diagnostic::on_unimplemented(
    message = "the fallback `{Self}` does not match the function: it must take `{Args}` and return `{R}`",
    label = "this fallback's parameters or return type differ from the function's",
    note = "a `#[fallback]` is called with the function's own arguments, in order, and its result is returned as the function's: give it the same parameters and the same return type"
)]
pub trait FallbackFor<Args, R> {
    /// The fallback's future.
    type Future: Future<Output = R>;
    /// Calls the fallback with the function's arguments.
    fn call_fallback(self, args: Args) -> Self::Future;
}

macro_rules! fallback_for {
    ($($arg:ident),*) => {
        impl<Func, Fut, R, $($arg),*> FallbackFor<($($arg,)*), R> for Func
        where
            Func: FnOnce($($arg),*) -> Fut,
            Fut: Future<Output = R>,
        {
            type Future = Fut;
            #[inline(always)]
            #[allow(non_snake_case)]
            fn call_fallback(self, ($($arg,)*): ($($arg,)*)) -> Fut {
                self($($arg),*)
            }
        }
    };
}

fallback_for!();
fallback_for!(A1);
fallback_for!(A1, A2);
fallback_for!(A1, A2, A3);
fallback_for!(A1, A2, A3, A4);
fallback_for!(A1, A2, A3, A4, A5);
fallback_for!(A1, A2, A3, A4, A5, A6);
fallback_for!(A1, A2, A3, A4, A5, A6, A7);
fallback_for!(A1, A2, A3, A4, A5, A6, A7, A8);
fallback_for!(A1, A2, A3, A4, A5, A6, A7, A8, A9);
fallback_for!(A1, A2, A3, A4, A5, A6, A7, A8, A9, A10);
fallback_for!(A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11);
fallback_for!(A1, A2, A3, A4, A5, A6, A7, A8, A9, A10, A11, A12);
