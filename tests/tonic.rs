//! A real tonic server and a real tonic client on 127.0.0.1 (port 0), the client's channel
//! wrapped in `ResilienceLayer` with `GrpcClassify`.
//!
//! The messages and the service are written by hand (`prost::Message` derives,
//! `tonic::server::Grpc` / `tonic::client::Grpc` with `tonic_prost::ProstCodec`), so no protoc
//! runs at build time; what goes over the wire is what generated code sends.
//!
//! The stack below the tonic client, outermost first:
//!
//! - `BufferRequests`: tonic's request body (`tonic::body::Body`) is a stream and is not
//!   `Clone`, and every retry sends a clone of the request; a unary call's body is one message,
//!   so it is read into `Full<Bytes>` first;
//! - `ResilienceLayer` with `GrpcClassify`;
//! - `PropagateDeadlineLayer` (each attempt's `grpc-timeout`);
//! - `GrpcTrailersLayer` (a status sent in the trailers after a message is classified too);
//! - the `Full<Bytes>` body back into tonic's body type, and the `tonic::transport::Channel`.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::uri::PathAndQuery;
use http_body_util::{BodyExt, Full};
use resilience::tower::{
    GrpcClassify, GrpcTrailers, GrpcTrailersLayer, PropagateDeadline, PropagateDeadlineLayer,
    ResilienceLayer, Retrying,
};
use resilience::{
    CircuitBreakerConfig, CircuitState, ResilienceConfig, ResilienceError, RetryConfig, deadline,
    registry,
};
use tokio::net::TcpListener;
use tonic::server::NamedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Status};
use tonic_prost::ProstCodec;
use tower::util::MapRequest;
use tower::{BoxError, Service, ServiceBuilder};

/// The request: the server fails the first `fail_first` requests it receives with `code`.
#[derive(Clone, PartialEq, prost::Message)]
struct Ask {
    #[prost(uint32, tag = "1")]
    fail_first: u32,
    #[prost(int32, tag = "2")]
    code: i32,
}

/// The answer: which request this was (0-based), and the `grpc-timeout` the server read from
/// the request's metadata, in nanoseconds.
#[derive(Clone, PartialEq, prost::Message)]
struct Answer {
    #[prost(uint32, tag = "1")]
    hit: u32,
    #[prost(uint64, optional, tag = "2")]
    grpc_timeout_nanos: Option<u64>,
}

const METHOD: &str = "/resilience.test.Echo/Call";

/// The server's side of `resilience.test.Echo`, as tonic's generated code writes it: one
/// `tower::Service` of HTTP requests that routes by path to a unary handler.
#[derive(Clone)]
struct EchoServer {
    hits: Arc<AtomicU32>,
}

impl NamedService for EchoServer {
    const NAME: &'static str = "resilience.test.Echo";
}

impl Service<http::Request<tonic::body::Body>> for EchoServer {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        let hits = Arc::clone(&self.hits);
        Box::pin(async move {
            if request.uri().path() != METHOD {
                return Ok(Status::unimplemented(request.uri().path().to_owned()).into_http());
            }
            let handler = tower::service_fn(move |request: tonic::Request<Ask>| {
                let hit = hits.fetch_add(1, Ordering::SeqCst);
                let grpc_timeout_nanos = request
                    .metadata()
                    .get("grpc-timeout")
                    .and_then(|value| deadline::parse_grpc_timeout(value.as_bytes()))
                    .map(|timeout| u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX));
                let ask = request.into_inner();
                async move {
                    if hit < ask.fail_first {
                        return Err(Status::new(Code::from(ask.code), format!("hit {hit}")));
                    }
                    Ok(tonic::Response::new(Answer {
                        hit,
                        grpc_timeout_nanos,
                    }))
                }
            });
            let mut grpc = tonic::server::Grpc::new(ProstCodec::<Answer, Ask>::default());
            Ok(grpc.unary(handler, request).await)
        })
    }
}

/// A tonic server on 127.0.0.1, port 0: its URL and its count of handled requests.
async fn start_server() -> (String, Arc<AtomicU32>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicU32::new(0));
    let server = EchoServer {
        hits: Arc::clone(&hits),
    };
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(server)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    (format!("http://{address}"), hits)
}

/// Reads a unary request's body (one message) into memory, so that the layers below can clone
/// the request for each attempt.
#[derive(Clone)]
struct BufferRequests<S> {
    inner: S,
}

impl<S> Service<http::Request<tonic::body::Body>> for BufferRequests<S>
where
    S: Service<http::Request<Full<Bytes>>, Error = BoxError> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<S::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<tonic::body::Body>) -> Self::Future {
        // The clone is not ready: the one that was polled ready is the one called.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let bytes = body.collect().await?.to_bytes();
            ready
                .call(http::Request::from_parts(parts, Full::new(bytes)))
                .await
        })
    }
}

/// The body of each attempt, back into tonic's body type for the channel.
fn into_tonic(request: http::Request<Full<Bytes>>) -> http::Request<tonic::body::Body> {
    request.map(tonic::body::Body::new)
}

type IntoTonic = fn(http::Request<Full<Bytes>>) -> http::Request<tonic::body::Body>;

/// The tonic client and the stack below it (see the module's documentation).
type Client = tonic::client::Grpc<
    BufferRequests<
        Retrying<PropagateDeadline<GrpcTrailers<MapRequest<Channel, IntoTonic>>>, GrpcClassify>,
    >,
>;

/// The tonic client of `resilience.test.Echo` over `channel`, with the pipeline `name`.
fn client(name: &str, config: ResilienceConfig, channel: Channel) -> Client {
    let inner = ServiceBuilder::new()
        .layer(ResilienceLayer::new(name, config).classify(GrpcClassify))
        .layer(PropagateDeadlineLayer)
        .layer(GrpcTrailersLayer)
        .map_request(into_tonic as IntoTonic)
        .service(channel);
    tonic::client::Grpc::new(BufferRequests { inner })
}

async fn call(client: &mut Client, ask: Ask) -> Result<Answer, Status> {
    client.ready().await.map_err(Status::from_error)?;
    let path = PathAndQuery::from_static(METHOD);
    let answer = client
        .unary(
            tonic::Request::new(ask),
            path,
            ProstCodec::<Ask, Answer>::default(),
        )
        .await?;
    Ok(answer.into_inner())
}

async fn connect(url: String) -> Channel {
    Endpoint::from_shared(url).unwrap().connect().await.unwrap()
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

fn breaker_counts(name: &str) -> (u64, u64, u64) {
    let metrics = registry().circuit_breaker(name).unwrap().metrics();
    (metrics.successful, metrics.failed, metrics.rejected)
}

#[tokio::test]
async fn unavailable_is_retried_until_the_server_answers() {
    let (url, hits) = start_server().await;
    let mut client = client("tonic::unavailable", config(3), connect(url).await);
    let answer = call(
        &mut client,
        Ask {
            fail_first: 2,
            code: Code::Unavailable as i32,
        },
    )
    .await
    .unwrap();
    assert_eq!(answer.hit, 2, "the third request is the one answered");
    assert_eq!(hits.load(Ordering::SeqCst), 3);
    assert_eq!(breaker_counts("tonic::unavailable"), (1, 2, 0));
}

#[tokio::test]
async fn invalid_argument_is_neither_retried_nor_a_breaker_failure() {
    let (url, hits) = start_server().await;
    let mut client = client("tonic::invalid-argument", config(3), connect(url).await);
    let status = call(
        &mut client,
        Ask {
            fail_first: 1,
            code: Code::InvalidArgument as i32,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.message(), "hit 0");
    assert_eq!(hits.load(Ordering::SeqCst), 1, "not retried");
    assert_eq!(breaker_counts("tonic::invalid-argument"), (1, 0, 0));
}

#[tokio::test]
async fn deadline_exceeded_from_the_server_is_a_failure() {
    let (url, hits) = start_server().await;
    let mut client = client("tonic::deadline-exceeded", config(1), connect(url).await);
    let status = call(
        &mut client,
        Ask {
            fail_first: u32::MAX,
            code: Code::DeadlineExceeded as i32,
        },
    )
    .await
    .unwrap_err();
    // The retries ran out: the caller gets the server's last status, as tonic decoded it.
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert_eq!(status.message(), "hit 1");
    assert_eq!(hits.load(Ordering::SeqCst), 2, "retried once");
    assert_eq!(breaker_counts("tonic::deadline-exceeded"), (0, 2, 0));
}

#[tokio::test]
async fn repeated_unavailable_opens_the_breaker_and_calls_fail_fast() {
    let name = "tonic::breaker-opens";
    let (url, hits) = start_server().await;
    let mut config = config(0);
    config.circuit_breaker = CircuitBreakerConfig {
        max_failures: 3,
        reset_timeout: Duration::from_secs(600),
        ..CircuitBreakerConfig::default()
    };
    let mut client = client(name, config, connect(url).await);
    let unavailable = Ask {
        fail_first: u32::MAX,
        code: Code::Unavailable as i32,
    };
    for _ in 0..3 {
        let status = call(&mut client, unavailable.clone()).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable);
    }
    let breaker = registry().circuit_breaker(name).unwrap();
    assert_eq!(breaker.state(), CircuitState::Open);
    assert_eq!(hits.load(Ordering::SeqCst), 3);

    // tonic turns the service's error into a `Status` (`Unknown`) whose source is the
    // `BoxError` the layer returned: the `CircuitOpen`.
    let status = call(&mut client, unavailable).await.unwrap_err();
    let source = std::error::Error::source(&status).expect("the layer's error");
    let rejection = source
        .downcast_ref::<ResilienceError>()
        .unwrap_or_else(|| panic!("not a ResilienceError: {source:?}"));
    assert!(
        matches!(rejection, ResilienceError::CircuitOpen { name: open } if open == name),
        "{rejection:?}"
    );
    assert_eq!(status.code(), Code::Unknown);
    assert_eq!(hits.load(Ordering::SeqCst), 3, "the server was not called");
    assert_eq!(breaker_counts(name), (0, 3, 1));
}

#[tokio::test]
async fn the_deadline_reaches_the_server_as_grpc_timeout() {
    let (url, hits) = start_server().await;
    let mut client = client("tonic::deadline", config(0), connect(url).await);
    let within = Duration::from_secs(2);
    let (answer, left_before) = deadline::scope(tokio::time::Instant::now() + within, async {
        let left = deadline::remaining().unwrap();
        let answer = call(
            &mut client,
            Ask {
                fail_first: 0,
                code: 0,
            },
        )
        .await;
        (answer, left)
    })
    .await;
    let answer = answer.unwrap();
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    let asked = Duration::from_nanos(answer.grpc_timeout_nanos.expect("a grpc-timeout"));
    // Written when the attempt was sent, after `left_before` was read: never more than it, but
    // for `format_grpc_timeout`'s rounding up to its unit (a microsecond at this size).
    assert!(
        asked <= left_before + Duration::from_micros(1),
        "{asked:?} > {left_before:?}"
    );
    assert!(asked <= within, "{asked:?}");
    assert!(asked > Duration::from_secs(1), "{asked:?}");

    // Outside a deadline, no `grpc-timeout` is sent.
    let answer = call(
        &mut client,
        Ask {
            fail_first: 0,
            code: 0,
        },
    )
    .await
    .unwrap();
    assert_eq!(answer.grpc_timeout_nanos, None);
}
