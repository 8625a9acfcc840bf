//! gRPC classification over a real HTTP/2 server on 127.0.0.1 (port 0) that answers like a gRPC
//! server: `content-type: application/grpc`, one length-prefixed message, then `grpc-status` in
//! the trailers. Behind `GrpcTrailersLayer`, `GrpcClassify` sees the trailers' status.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use resilience::tower::{
    GrpcClassify, GrpcTrailersLayer, PropagateDeadlineLayer, ResilienceLayer, TrailerStatus,
};
use resilience::{ResilienceConfig, RetryConfig, deadline, registry};
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt};

/// A gRPC reply: one message, then the trailers.
struct Reply {
    data: Option<Bytes>,
    trailers: Option<HeaderMap>,
}

impl Body for Reply {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(data) = self.data.take() {
            return Poll::Ready(Some(Ok(Frame::data(data))));
        }
        Poll::Ready(
            self.trailers
                .take()
                .map(|trailers| Ok(Frame::trailers(trailers))),
        )
    }
}

/// The message `hello` as gRPC frames it: uncompressed flag, big-endian length, bytes.
const MESSAGE: &[u8] = b"\x00\x00\x00\x00\x05hello";

/// `/{code}` answers with `grpc-status: code` in the trailers; `/flaky/{n}` with 14 to its
/// first `n` requests, then 0. Each reply echoes the request's `grpc-timeout` in a header.
async fn start_server() -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&hits);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let hits = Arc::clone(&counted);
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                        let seen = hits.fetch_add(1, Ordering::SeqCst);
                        async move {
                            let path = request.uri().path().to_owned();
                            let code = match path.strip_prefix("/flaky/") {
                                Some(failures) if seen < failures.parse().unwrap() => 14,
                                Some(_) => 0,
                                None => path[1..].parse().unwrap(),
                            };
                            let mut trailers = HeaderMap::new();
                            trailers.insert("grpc-status", HeaderValue::from(code));
                            let mut response =
                                Response::builder().header("content-type", "application/grpc");
                            if let Some(timeout) = request.headers().get("grpc-timeout") {
                                response = response.header("x-seen-grpc-timeout", timeout);
                            }
                            Ok::<_, Infallible>(
                                response
                                    .body(Reply {
                                        data: Some(Bytes::from_static(MESSAGE)),
                                        trailers: Some(trailers),
                                    })
                                    .unwrap(),
                            )
                        }
                    });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    (format!("http://{address}"), hits)
}

fn h2_client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

fn grpc_request(url: String) -> Request<Full<Bytes>> {
    Request::post(url)
        .header("content-type", "application/grpc")
        .header("te", "trailers")
        .body(Full::new(Bytes::from_static(MESSAGE)))
        .unwrap()
}

fn config(max_retries: u32) -> ResilienceConfig {
    ResilienceConfig {
        retry: RetryConfig {
            max_retries,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(1),
            jitter_factor: 0.0,
            ..RetryConfig::default()
        },
        ..ResilienceConfig::default()
    }
}

#[tokio::test]
async fn a_failure_status_in_the_trailers_is_retried_and_counted() {
    let (base, hits) = start_server().await;
    let client = ServiceBuilder::new()
        .layer(ResilienceLayer::new("grpc::trailers-14", config(2)).classify(GrpcClassify))
        .layer(GrpcTrailersLayer)
        .service(h2_client());
    let response = client
        .oneshot(grpc_request(format!("{base}/14")))
        .await
        .unwrap();
    assert_eq!(
        response.extensions().get::<TrailerStatus>(),
        Some(&TrailerStatus(14))
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3, "retried twice");
    let metrics = registry()
        .circuit_breaker("grpc::trailers-14")
        .unwrap()
        .metrics();
    assert_eq!((metrics.failed, metrics.successful), (3, 0));
    // The caller still gets the message and the trailers.
    let collected = response.into_body().collect().await.unwrap();
    assert_eq!(collected.trailers().unwrap()["grpc-status"], "14");
    assert_eq!(&collected.to_bytes()[..], MESSAGE);
}

#[tokio::test]
async fn each_trailer_status_is_classified() {
    let (base, hits) = start_server().await;
    for (code, failure) in [
        (0, false),
        (3, false),
        (4, true),
        (5, false),
        (8, true),
        (13, false),
        (14, true),
    ] {
        let client = ServiceBuilder::new()
            .layer(
                ResilienceLayer::new(&format!("grpc::status-{code}"), config(1))
                    .classify(GrpcClassify),
            )
            .layer(GrpcTrailersLayer)
            .service(h2_client());
        let before = hits.load(Ordering::SeqCst);
        client
            .oneshot(grpc_request(format!("{base}/{code}")))
            .await
            .unwrap();
        let sent = hits.load(Ordering::SeqCst) - before;
        assert_eq!(sent, if failure { 2 } else { 1 }, "grpc-status {code}");
    }
}

#[tokio::test]
async fn an_unavailable_upstream_recovers_within_the_retries() {
    let (base, hits) = start_server().await;
    let client = ServiceBuilder::new()
        .layer(ResilienceLayer::new("grpc::flaky", config(3)).classify(GrpcClassify))
        .layer(GrpcTrailersLayer)
        .service(h2_client());
    let response = client
        .oneshot(grpc_request(format!("{base}/flaky/2")))
        .await
        .unwrap();
    assert_eq!(
        response.extensions().get::<TrailerStatus>(),
        Some(&TrailerStatus(0))
    );
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn without_the_trailers_layer_only_headers_are_read() {
    let (base, hits) = start_server().await;
    let client = ServiceBuilder::new()
        .layer(ResilienceLayer::new("grpc::headers-only", config(2)).classify(GrpcClassify))
        .service(h2_client());
    let response = client
        .oneshot(grpc_request(format!("{base}/14")))
        .await
        .unwrap();
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "the trailers' status is not seen"
    );
    let collected = response.into_body().collect().await.unwrap();
    assert_eq!(collected.trailers().unwrap()["grpc-status"], "14");
}

#[tokio::test]
async fn a_grpc_request_carries_the_deadline_in_grpc_timeout() {
    let (base, _) = start_server().await;
    let client = ServiceBuilder::new()
        .layer(ResilienceLayer::new("grpc::deadline", config(0)).classify(GrpcClassify))
        .layer(PropagateDeadlineLayer)
        .service(h2_client());
    let response = deadline::scope(
        tokio::time::Instant::now() + Duration::from_secs(3),
        client.oneshot(grpc_request(format!("{base}/0"))),
    )
    .await
    .unwrap();
    let seen = response.headers()["x-seen-grpc-timeout"].as_bytes();
    let timeout = deadline::parse_grpc_timeout(seen).unwrap();
    assert!(
        timeout > Duration::ZERO && timeout <= Duration::from_secs(3),
        "{timeout:?}"
    );
}
