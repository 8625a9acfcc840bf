//! The response future of every layer.

use std::future::Future;
use std::pin::Pin;

use crate::error::BoxError;

/// The future a layer's service returns: the whole pipeline for one request, boxed (one
/// allocation per request: a future built from the runtime's `async` composition cannot be
/// named on stable Rust).
pub type ResponseFuture<Response> =
    Pin<Box<dyn Future<Output = Result<Response, BoxError>> + Send + 'static>>;
