//! gRPC's status in the trailers: [`GrpcTrailersLayer`] reads the inner response's body to its
//! end, so that [`GrpcClassify`](super::GrpcClassify) sees a `grpc-status` sent after the
//! messages (the usual place of a status once any message was sent), not only one in the headers
//! (a "trailers-only" response).
//!
//! Put it below [`ResilienceLayer`](super::ResilienceLayer) or [`RetryLayer`](super::RetryLayer)
//! with `.classify(GrpcClassify)`: each attempt's response is then complete when it is
//! classified. The body is held in memory, so this is for unary calls (and server streams small
//! enough to hold); a stream of unbounded length must not go through it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes, BytesMut};
use http::HeaderMap;
use http_body::{Body, Frame, SizeHint};
use tower_layer::Layer;
use tower_service::Service;

use super::classify::grpc_status;
use crate::error::BoxError;

/// The `grpc-status` a response's trailers carried, in its extensions (set by
/// [`GrpcTrailers`], read by [`GrpcClassify`](super::GrpcClassify)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrailerStatus(pub u32);

/// Reads each response body to its end, keeping its data and trailers, so that
/// [`GrpcClassify`](super::GrpcClassify) sees a `grpc-status` sent in the trailers. Put it below
/// `ResilienceLayer`/`RetryLayer`; for unary calls (the body is held in memory). The service is
/// [`GrpcTrailers`].
#[derive(Debug, Clone, Copy, Default)]
pub struct GrpcTrailersLayer;

impl<S> Layer<S> for GrpcTrailersLayer {
    type Service = GrpcTrailers<S>;
    fn layer(&self, inner: S) -> GrpcTrailers<S> {
        GrpcTrailers { inner }
    }
}

/// The service of [`GrpcTrailersLayer`]: its responses' bodies are [`BufferedBody`], with the
/// trailers' `grpc-status` as a [`TrailerStatus`] extension.
#[derive(Debug, Clone)]
pub struct GrpcTrailers<S> {
    inner: S,
}

impl<S, Request, B> Service<Request> for GrpcTrailers<S>
where
    S: Service<Request, Response = http::Response<B>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = http::Response<BufferedBody>;
    type Error = BoxError;
    type Future =
        Pin<Box<dyn Future<Output = Result<http::Response<BufferedBody>, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await.map_err(Into::into)?;
            let (mut parts, body) = response.into_parts();
            let mut body = std::pin::pin!(body);
            let mut data = BytesMut::new();
            let mut trailers = None;
            while let Some(frame) = std::future::poll_fn(|cx| body.as_mut().poll_frame(cx)).await {
                let frame = frame.map_err(Into::into)?;
                match frame.into_data() {
                    Ok(mut chunk) => {
                        while chunk.has_remaining() {
                            let bytes = chunk.chunk();
                            data.extend_from_slice(bytes);
                            let read = bytes.len();
                            chunk.advance(read);
                        }
                    }
                    Err(frame) => {
                        if let Ok(map) = frame.into_trailers() {
                            trailers = Some(map);
                        }
                    }
                }
            }
            if let Some(code) = trailers.as_ref().and_then(grpc_status) {
                parts.extensions.insert(TrailerStatus(code));
            }
            Ok(http::Response::from_parts(
                parts,
                BufferedBody {
                    data: Some(data.freeze()).filter(|data| !data.is_empty()),
                    trailers,
                },
            ))
        })
    }
}

/// A body read to its end: its data in one frame, then its trailers.
#[derive(Debug, Clone, Default)]
pub struct BufferedBody {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl BufferedBody {
    /// The trailers, if the body had any.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }
}

impl Body for BufferedBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(
            self.trailers
                .take()
                .map(|trailers| Ok(Frame::trailers(trailers))),
        )
    }

    fn is_end_stream(&self) -> bool {
        self.data.is_none() && self.trailers.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.data.as_ref().map_or(0, |data| data.len() as u64))
    }
}
