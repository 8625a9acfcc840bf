//! A real upstream for the HTTP tests (tower layers, reqwest middleware): axum on 127.0.0.1,
//! port 0, counting the requests it receives.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

#[derive(Clone, Default)]
pub(crate) struct Upstream {
    /// Requests received, by every route.
    pub(crate) hits: Arc<AtomicUsize>,
}

/// `/status/{code}` answers `code`; `/flaky/{failures}` answers 503 to its first `failures`
/// requests, then 200; `/later/{failures}` likewise with `Retry-After: 3600`; `/deadline` echoes
/// the request's `x-request-timeout` (or `none`).
pub(crate) async fn start_upstream() -> (String, Upstream) {
    let upstream = Upstream::default();
    let app = Router::new()
        .route("/status/{code}", get(status))
        .route("/flaky/{failures}", get(flaky))
        .route("/later/{failures}", get(later))
        .route("/deadline", get(echo_deadline))
        .with_state(upstream.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{address}"), upstream)
}

async fn status(State(upstream): State<Upstream>, Path(code): Path<u16>) -> StatusCode {
    upstream.hits.fetch_add(1, Ordering::SeqCst);
    StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST)
}

async fn flaky(State(upstream): State<Upstream>, Path(failures): Path<usize>) -> StatusCode {
    if upstream.hits.fetch_add(1, Ordering::SeqCst) < failures {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

async fn later(State(upstream): State<Upstream>, Path(failures): Path<usize>) -> impl IntoResponse {
    if upstream.hits.fetch_add(1, Ordering::SeqCst) < failures {
        (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "3600")]).into_response()
    } else {
        StatusCode::OK.into_response()
    }
}

async fn echo_deadline(State(upstream): State<Upstream>, headers: HeaderMap) -> String {
    upstream.hits.fetch_add(1, Ordering::SeqCst);
    headers.get("x-request-timeout").map_or_else(
        || "none".to_owned(),
        |value| value.to_str().unwrap().to_owned(),
    )
}
