//! What a failed attempt or call is, before the outermost layer converts it: the operation's
//! own error, kept apart from the policies' rejections.

use crate::error::ResilienceError;

/// Why a pipeline run failed: the operation's own error, or a policy's rejection.
#[derive(Debug)]
pub enum Failure<E> {
    /// The operation returned `Err`.
    Operation(E),
    /// A policy rejected or abandoned the call.
    Rejected(ResilienceError),
}

impl<E> Failure<E> {
    /// The error the caller sees: the operation's own, or the rejection converted into `E`.
    #[inline]
    pub fn into_error(self) -> E
    where
        E: From<ResilienceError>,
    {
        match self {
            Failure::Operation(error) => error,
            Failure::Rejected(rejection) => E::from(rejection),
        }
    }
}

impl<E> From<ResilienceError> for Failure<E> {
    fn from(rejection: ResilienceError) -> Self {
        Failure::Rejected(rejection)
    }
}
