//! Admin actions on the registry's circuit breakers (`reset`, `force-open`), behind a bearer
//! token. This router is served only on a loopback listener of its own, and only when a token is
//! configured (`settings.rs` enforces both): there is never an admin endpoint without one.
//!
//! The token is compared in constant time and never logged, printed or echoed back.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use resilience::{CircuitState, registry};
use subtle::ConstantTimeEq;

/// The fewest bytes a token may have: shorter ones can be guessed.
pub(crate) const MIN_TOKEN_LEN: usize = 16;

/// The admin bearer token. Its `Debug` shows no byte of it.
#[derive(Clone)]
pub(crate) struct AdminToken(std::sync::Arc<[u8]>);

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// Why a token was refused (the message never contains the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// Fewer than [`MIN_TOKEN_LEN`] bytes.
    TooShort(usize),
    /// A byte outside visible ASCII: it could not be sent in an `Authorization` header as is.
    NotVisibleAscii,
}

impl std::fmt::Display for TokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenError::TooShort(len) => write!(
                f,
                "has {len} bytes; it needs at least {MIN_TOKEN_LEN} (e.g. `openssl rand -hex 32`)"
            ),
            TokenError::NotVisibleAscii => f.write_str(
                "must be visible ASCII characters only (no spaces or control characters)",
            ),
        }
    }
}

impl AdminToken {
    pub(crate) fn new(token: &str) -> Result<AdminToken, TokenError> {
        if !token.bytes().all(|byte| byte.is_ascii_graphic()) {
            return Err(TokenError::NotVisibleAscii);
        }
        if token.len() < MIN_TOKEN_LEN {
            return Err(TokenError::TooShort(token.len()));
        }
        Ok(AdminToken(token.as_bytes().into()))
    }

    /// The `Authorization` header that carries it, marked sensitive (HTTP/2's HPACK does not
    /// index it, and `Debug` of the header map hides it).
    pub(crate) fn authorization(&self) -> header::HeaderValue {
        let mut value = header::HeaderValue::from_bytes(&[b"Bearer ".as_slice(), &self.0].concat())
            .expect("visible ASCII, checked by `new`");
        value.set_sensitive(true);
        value
    }

    /// Whether `presented` is the token, in a time that depends on the token's length only:
    /// neither how many leading bytes match nor (as `ct_eq` on slices of different lengths
    /// would) the presented length's equality shows in the timing.
    pub(crate) fn matches(&self, presented: &[u8]) -> bool {
        let expected: &[u8] = &self.0;
        let same_length = expected.len().ct_eq(&presented.len());
        // Same length: compare with it; otherwise with the token itself, so the work is alike.
        let candidate = if bool::from(same_length) {
            presented
        } else {
            expected
        };
        bool::from(same_length & expected.ct_eq(candidate))
    }
}

/// The admin routes, each behind the token:
/// `POST /admin/circuit-breakers/{name}/reset` and `POST /admin/circuit-breakers/{name}/force-open`.
/// Every request, an unknown path included, is checked first: 401 without a bearer token, 403
/// with a wrong one.
pub(crate) fn router(token: AdminToken) -> Router {
    Router::new()
        .route("/admin/circuit-breakers/{name}/reset", post(reset))
        .route(
            "/admin/circuit-breakers/{name}/force-open",
            post(force_open),
        )
        .layer(middleware::from_fn_with_state(token, require_token))
}

fn json(status: StatusCode, body: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The bearer credentials of `Authorization`, if it has that scheme (case-insensitive, RFC 7235).
fn bearer(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let (scheme, credentials) = value.split_at_checked(7)?;
    scheme
        .eq_ignore_ascii_case(b"bearer ")
        .then_some(credentials)
}

async fn require_token(State(token): State<AdminToken>, request: Request, next: Next) -> Response {
    match bearer(request.headers()) {
        None => {
            let mut response = json(
                StatusCode::UNAUTHORIZED,
                serde_json::json!({ "error": "an `Authorization: Bearer <token>` header is required" }),
            );
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer realm=\"resilience-admin\""),
            );
            response
        }
        Some(presented) if !token.matches(presented) => {
            tracing::warn!(path = %request.uri().path(), "admin request with a wrong token refused");
            json(
                StatusCode::FORBIDDEN,
                serde_json::json!({ "error": "the token is not the admin token" }),
            )
        }
        Some(_) => next.run(request).await,
    }
}

fn state_label(state: CircuitState) -> &'static str {
    match state {
        CircuitState::Closed => "closed",
        CircuitState::Open => "open",
        CircuitState::HalfOpen => "half_open",
    }
}

/// Runs `action` on the breaker `name` and answers with its new state.
fn on_breaker(
    name: &str,
    action: &'static str,
    run: impl FnOnce(&resilience::CircuitBreaker),
) -> Response {
    let Some(breaker) = registry().circuit_breaker(name) else {
        return json(
            StatusCode::NOT_FOUND,
            serde_json::json!({
                "error": format!("no circuit breaker `{name}` is in use (a breaker is registered at its first call)")
            }),
        );
    };
    run(&breaker);
    let state = state_label(breaker.state());
    tracing::info!(breaker = name, action, state, "admin action");
    json(
        StatusCode::OK,
        serde_json::json!({ "name": name, "action": action, "state": state }),
    )
}

async fn reset(Path(name): Path<String>) -> Response {
    on_breaker(&name, "reset", |breaker| breaker.reset())
}

async fn force_open(Path(name): Path<String>) -> Response {
    on_breaker(&name, "force-open", |breaker| breaker.force_open())
}
