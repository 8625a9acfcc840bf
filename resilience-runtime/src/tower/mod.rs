//! The policies as [tower](https://docs.rs/tower) layers (cargo feature `tower`; contract §9),
//! for axum, hyper and tonic services and clients.
//!
//! - [`CircuitBreakerLayer`], [`TimeoutLayer`], [`BulkheadLayer`]: one attempt through one
//!   policy; their service is [`Resilient`];
//! - [`RetryLayer`]: retries, with a [retry budget](crate::budget) on by default; its service
//!   is [`Retrying`], which needs `Request: Clone`;
//! - [`ResilienceLayer`]: retry → circuit breaker → timeout → bulkhead in one layer, composed
//!   by the same code as the attributes (contract §2.7).
//!
//! Each is built from a registry name and the configuration structs of contract §6, and is
//! `Clone`. Layers, attributes and [`ResilienceFacade`](crate::ResilienceFacade) with one name
//! share one breaker and one bulkhead, from [`registry()`](crate::registry()).
//!
//! ```
//! use std::convert::Infallible;
//!
//! use resilience_runtime::tower::ResilienceLayer;
//! use resilience_runtime::{CircuitState, ResilienceConfig, registry};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower::BoxError> {
//! // Any tower service of `http` requests: a hyper client, an axum router, a tonic channel
//! // (behind a layer that buffers the request body: retries send clones, see `Retrying`).
//! let upstream = service_fn(|request: http::Request<String>| async move {
//!     Ok::<_, Infallible>(http::Response::new(format!("hello, {}", request.body())))
//! });
//! let client = ServiceBuilder::new()
//!     .layer(ResilienceLayer::new("user-service", ResilienceConfig::default()))
//!     .service(upstream);
//! let response = client.oneshot(http::Request::new("world".to_owned())).await?;
//! assert_eq!(response.body(), "hello, world");
//! // The breaker is the registry's `user-service`, as for `#[circuit_breaker(name = "user-service")]`.
//! let breaker = registry().circuit_breaker("user-service").unwrap();
//! assert_eq!(breaker.state(), CircuitState::Closed);
//! # Ok(())
//! # }
//! ```
//!
//! # Deadlines
//!
//! Each attempt's timeout is shortened to the request's time left ([`crate::deadline`]); a
//! request whose deadline has passed fails with `Timeout` without calling the inner service,
//! and a retry that would start after it is not made. [`DeadlineLayer`] sets the deadline from
//! an incoming request's headers; [`PropagateDeadlineLayer`] writes it into outgoing ones.
//!
//! # Errors
//!
//! A service's error is a [`BoxError`](crate::BoxError) (tower's `BoxError`): either a
//! [`ResilienceError`](crate::ResilienceError) (`CircuitOpen`, `Timeout`, `BulkheadFull`,
//! `Config`; `downcast_ref` it) or the inner service's own error, converted with `Into`. A
//! `ResilienceError` coming up from an inner layer is classified as a rejection (an inner
//! breaker's `CircuitOpen` is not retried and is no failure of an outer breaker).
//!
//! # Responses
//!
//! A [`Classify`] says which `Ok` responses are failures: [`HttpClassify`] (the default: `5xx`
//! and `429`, with `Retry-After`), [`GrpcClassify`] (`grpc-status` `UNAVAILABLE`,
//! `DEADLINE_EXCEEDED`, `RESOURCE_EXHAUSTED`, in the headers, or in the trailers behind
//! [`GrpcTrailersLayer`]), [`ErrorsOnly`] (for services that are not HTTP).
//! A failed response is recorded and retried like an error; when the retries run out the
//! caller gets that response, not an error.
//!
//! # `poll_ready`
//!
//! Always ready: admission is decided per request, in the response future, and a full bulkhead
//! sheds load with `BulkheadFull` instead of holding callers back. The inner service's
//! readiness is awaited inside each attempt, on a clone of it, so the inner service must be
//! `Clone` (wrap one that is not in `tower::buffer::Buffer`).
//!
//! # Cost
//!
//! One boxed future per request (the runtime's composition is an `async` block, which cannot
//! be named in `Service::Future` on stable Rust), one clone of the inner service per attempt.

pub(crate) mod classify;
pub(crate) mod deadline;
mod future;
mod layer;
pub(crate) mod service;
mod trailers;

pub use classify::{
    Classify, ErrorsOnly, GRPC_FAILURES, GrpcClassify, HttpClassify, grpc_status, retry_after,
};
pub use deadline::{
    Deadline, DeadlineFuture, DeadlineLayer, PropagateDeadline, PropagateDeadlineLayer,
    PropagateFuture,
};
pub use future::ResponseFuture;
pub use layer::{BulkheadLayer, CircuitBreakerLayer, ResilienceLayer, RetryLayer, TimeoutLayer};
pub use service::{Resilient, Retrying};
pub use trailers::{BufferedBody, GrpcTrailers, GrpcTrailersLayer, TrailerStatus};
