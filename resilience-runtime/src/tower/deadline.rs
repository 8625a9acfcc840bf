//! Deadline propagation as two tower layers (see [`crate::deadline`]):
//! [`DeadlineLayer`] on the server side reads the incoming request's deadline and runs the
//! inner service within it; [`PropagateDeadlineLayer`] on the client side writes the time
//! left into each outgoing request and does not send one whose deadline has passed.
//!
//! ```
//! use std::convert::Infallible;
//!
//! use resilience_runtime::tower::{DeadlineLayer, PropagateDeadlineLayer};
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower::BoxError> {
//! // The client a handler calls its upstream with.
//! let upstream = ServiceBuilder::new().layer(PropagateDeadlineLayer).service(service_fn(
//!     |request: http::Request<()>| async move {
//!         // What the next hop receives: the time left, in milliseconds.
//!         let left: u64 = request.headers()["x-request-timeout"].to_str()?.parse()?;
//!         assert!(left <= 250);
//!         Ok::<_, tower::BoxError>(http::Response::new(()))
//!     },
//! ));
//! // The server: the handler runs within the incoming request's deadline.
//! let server = ServiceBuilder::new().layer(DeadlineLayer::new()).service(service_fn(
//!     move |_: http::Request<()>| upstream.clone().oneshot(http::Request::new(())),
//! ));
//! let request = http::Request::builder().header("grpc-timeout", "250m").body(())?;
//! server.oneshot(request).await?;
//! # Ok(())
//! # }
//! ```

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::task::futures::TaskLocalFuture;
use tokio::time::Instant;
use tower_layer::Layer;
use tower_service::Service;

use crate::deadline;
use crate::error::{BoxError, ResilienceError};

/// Server side: runs each request's call within the deadline its headers ask for
/// ([`deadline::from_headers`]), capped by an optional maximum, and with an optional default
/// for requests that carry none. The service is [`Deadline`].
#[derive(Debug, Clone, Copy, Default)]
pub struct DeadlineLayer {
    default: Option<Duration>,
    max: Option<Duration>,
}

impl DeadlineLayer {
    /// Only the incoming headers set a deadline.
    pub fn new() -> Self {
        Self::default()
    }

    /// The deadline of a request that carries none.
    pub fn default_timeout(mut self, timeout: Duration) -> Self {
        self.default = Some(timeout);
        self
    }

    /// The longest deadline a request may ask for (a client cannot make this server wait longer).
    pub fn max_timeout(mut self, timeout: Duration) -> Self {
        self.max = Some(timeout);
        self
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;
    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline {
            inner,
            layer: *self,
        }
    }
}

/// The service of [`DeadlineLayer`].
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    layer: DeadlineLayer,
}

impl<S, B> Service<http::Request<B>> for Deadline<S>
where
    S: Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = DeadlineFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let asked = deadline::from_headers(request.headers()).or(self.layer.default);
        let timeout = match (asked, self.layer.max) {
            (Some(asked), Some(max)) => Some(asked.min(max)),
            (asked, _) => asked,
        };
        let future = self.inner.call(request);
        match timeout {
            Some(timeout) => {
                // Saturating: a `grpc-timeout` of 99999999H is past what `Instant` can add.
                let at = Instant::now()
                    .checked_add(timeout)
                    .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365 * 30));
                DeadlineFuture {
                    inner: DeadlineInner::Scoped {
                        future: deadline::scope(at, future),
                    },
                }
            }
            None => DeadlineFuture {
                inner: DeadlineInner::Plain { future },
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`Deadline`]: the inner call, within the request's deadline if it has one.
    #[derive(Debug)]
    pub struct DeadlineFuture<F> {
        #[pin]
        inner: DeadlineInner<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = DeadlineProjection]
    #[derive(Debug)]
    enum DeadlineInner<F> {
        Scoped { #[pin] future: TaskLocalFuture<Instant, F> },
        Plain { #[pin] future: F },
    }
}

impl<F: Future> Future for DeadlineFuture<F> {
    type Output = F::Output;
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        match self.project().inner.project() {
            DeadlineProjection::Scoped { future } => future.poll(cx),
            DeadlineProjection::Plain { future } => future.poll(cx),
        }
    }
}

/// Client side: writes the current task's time left into each outgoing request
/// ([`deadline::write_headers`]: `x-request-timeout`, and `grpc-timeout` for gRPC), and fails a
/// request whose deadline has passed with `Timeout` without calling the inner service. Outside a
/// deadline it changes nothing. Put it below [`ResilienceLayer`](super::ResilienceLayer) or
/// [`RetryLayer`](super::RetryLayer), so that each attempt carries the time left when it starts.
#[derive(Debug, Clone, Copy, Default)]
pub struct PropagateDeadlineLayer;

impl<S> Layer<S> for PropagateDeadlineLayer {
    type Service = PropagateDeadline<S>;
    fn layer(&self, inner: S) -> PropagateDeadline<S> {
        PropagateDeadline { inner }
    }
}

/// The service of [`PropagateDeadlineLayer`].
#[derive(Debug, Clone)]
pub struct PropagateDeadline<S> {
    inner: S,
}

impl<S, B> Service<http::Request<B>> for PropagateDeadline<S>
where
    S: Service<http::Request<B>>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = PropagateFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        if deadline::write_headers(request.headers_mut()) {
            PropagateFuture {
                inner: PropagateInner::Sent {
                    future: self.inner.call(request),
                },
            }
        } else {
            PropagateFuture {
                inner: PropagateInner::Expired,
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`PropagateDeadline`]: the sent request, or the `Timeout` of one whose
    /// deadline had passed.
    #[derive(Debug)]
    pub struct PropagateFuture<F> {
        #[pin]
        inner: PropagateInner<F>,
    }
}

pin_project_lite::pin_project! {
    #[project = PropagateProjection]
    #[derive(Debug)]
    enum PropagateInner<F> {
        Sent { #[pin] future: F },
        Expired,
    }
}

impl<F, R, E> Future for PropagateFuture<F>
where
    F: Future<Output = Result<R, E>>,
    E: Into<BoxError>,
{
    type Output = Result<R, BoxError>;
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().inner.project() {
            PropagateProjection::Sent { future } => future.poll(cx).map_err(Into::into),
            PropagateProjection::Expired => Poll::Ready(Err(Box::new(expired()))),
        }
    }
}

/// The rejection of a call whose deadline has passed.
pub(crate) fn expired() -> ResilienceError {
    ResilienceError::Timeout {
        after: Duration::ZERO,
    }
}
