//! Which responses are failures: a [`Classify`] says so for the breaker (a failure) and the
//! retry (retried), and may ask for the next retry's delay (`Retry-After`).
//!
//! The inner service's errors are always failures; a classifier only judges its `Ok`
//! responses.

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, StatusCode};

/// Says which of the inner service's responses are failures.
///
/// A failure counts against the breaker and is retried like an error; when the retries run
/// out the caller gets that last response, as the inner service returned it (not an error).
pub trait Classify<Response>: Clone + Send + Sync + 'static {
    /// Whether `response` is a failure.
    fn is_failure(&self, response: &Response) -> bool;

    /// The delay the upstream asked for before the next attempt, if any (`Retry-After`). The
    /// retry uses it instead of its backoff, capped by `max_delay`.
    fn retry_after(&self, response: &Response) -> Option<Duration> {
        let _ = response;
        None
    }
}

/// The HTTP default: a `5xx` or a `429 Too Many Requests` is a failure, and a `Retry-After` on
/// a `429` or a `503` (delay-seconds or an HTTP date) sets the next retry's delay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpClassify;

impl<B> Classify<http::Response<B>> for HttpClassify {
    #[inline]
    fn is_failure(&self, response: &http::Response<B>) -> bool {
        http_failure(response.status())
    }

    fn retry_after(&self, response: &http::Response<B>) -> Option<Duration> {
        http_retry_after(response.status(), response.headers())
    }
}

/// [`HttpClassify`]'s rule on a status, for the responses of every HTTP client.
#[inline]
pub(crate) fn http_failure(status: StatusCode) -> bool {
    status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS
}

/// [`HttpClassify`]'s `Retry-After` rule, for the responses of every HTTP client.
pub(crate) fn http_retry_after(status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
    match status {
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE => {
            retry_after(headers, SystemTime::now())
        }
        _ => None,
    }
}

/// The gRPC default: the `grpc-status` header `UNAVAILABLE` (14), `DEADLINE_EXCEEDED` (4) or
/// `RESOURCE_EXHAUSTED` (8) is a failure, and so is an HTTP status that gRPC maps to
/// `UNAVAILABLE` (`429`, `502`, `503`, `504`: a proxy answered, not the service).
///
/// The headers are read (a "trailers-only" response, the usual form of an error known before
/// any message is sent, carries `grpc-status` there), then the trailers' status when
/// [`GrpcTrailersLayer`](super::GrpcTrailersLayer) read the body to its end (its
/// [`TrailerStatus`](super::TrailerStatus) extension). Without that layer a status sent in
/// the trailers after messages is not seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GrpcClassify;

/// The gRPC status codes [`GrpcClassify`] counts as failures.
pub const GRPC_FAILURES: [u32; 3] = [14, 4, 8];

impl<B> Classify<http::Response<B>> for GrpcClassify {
    #[inline]
    fn is_failure(&self, response: &http::Response<B>) -> bool {
        let code = grpc_status(response.headers()).or_else(|| {
            response
                .extensions()
                .get::<super::trailers::TrailerStatus>()
                .map(|status| status.0)
        });
        if let Some(code) = code {
            return GRPC_FAILURES.contains(&code);
        }
        matches!(response.status().as_u16(), 429 | 502 | 503 | 504)
    }
}

/// The `grpc-status` header as a number, if present and well formed.
pub fn grpc_status(headers: &HeaderMap) -> Option<u32> {
    headers
        .get("grpc-status")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Only the inner service's errors are failures; every response is a success (for services
/// whose responses are not HTTP, or whose HTTP status says nothing about health).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorsOnly;

impl<Response> Classify<Response> for ErrorsOnly {
    #[inline]
    fn is_failure(&self, _: &Response) -> bool {
        false
    }
}

/// The delay a `Retry-After` header asks for, read at `now`: delay-seconds (`120`) or an HTTP
/// date (`Wed, 21 Oct 2015 07:28:00 GMT`, zero once past). `None` when the header is absent or
/// malformed (the retry then keeps its backoff).
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    parse_retry_after(headers.get(http::header::RETRY_AFTER)?, now)
}

fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let value = value.to_str().ok()?.trim();
    if !value.is_empty() && value.bytes().all(|byte| byte.is_ascii_digit()) {
        // Too many digits for a u64 is a very long delay: `max_delay` caps it anyway.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)]) -> http::Response<()> {
        let mut builder = http::Response::builder().status(status);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn http_failures_are_server_errors_and_too_many_requests() {
        for status in [200, 201, 204, 301, 304, 400, 401, 403, 404, 409, 499] {
            assert!(!HttpClassify.is_failure(&response(status, &[])), "{status}");
        }
        for status in [429, 500, 501, 502, 503, 504, 599] {
            assert!(HttpClassify.is_failure(&response(status, &[])), "{status}");
        }
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        let now = httpdate::parse_http_date("Wed, 21 Oct 2015 07:28:00 GMT").unwrap();
        let headers = |value: &str| response(503, &[("retry-after", value)]).headers().clone();
        assert_eq!(
            retry_after(&headers("120"), now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(retry_after(&headers(" 0 "), now), Some(Duration::ZERO));
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:28:30 GMT"), now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            retry_after(&headers("Wed, 21 Oct 2015 07:00:00 GMT"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            retry_after(&headers("99999999999999999999999"), now),
            Some(Duration::from_secs(u64::MAX))
        );
        for malformed in ["", "soon", "-5", "1.5", "Wed, 32 Oct 2015 07:28:00 GMT"] {
            assert_eq!(retry_after(&headers(malformed), now), None, "{malformed:?}");
        }
        assert_eq!(retry_after(&HeaderMap::new(), now), None);
    }

    #[test]
    fn retry_after_counts_only_on_429_and_503() {
        for (status, expected) in [(429, Some(7)), (503, Some(7)), (500, None), (200, None)] {
            let response = response(status, &[("retry-after", "7")]);
            assert_eq!(
                HttpClassify.retry_after(&response),
                expected.map(Duration::from_secs),
                "{status}"
            );
        }
    }

    #[test]
    fn grpc_failures_by_status_header() {
        for (code, failed) in [
            ("0", false),
            ("1", false),
            ("2", false),
            ("3", false),
            ("4", true),
            ("5", false),
            ("8", true),
            ("13", false),
            ("14", true),
            ("16", false),
            (" 14 ", true),
            ("garbage", false),
        ] {
            let response = response(200, &[("grpc-status", code)]);
            assert_eq!(GrpcClassify.is_failure(&response), failed, "{code:?}");
        }
        assert!(!GrpcClassify.is_failure(&response(200, &[])));
        assert!(GrpcClassify.is_failure(&response(503, &[])));
        assert!(!GrpcClassify.is_failure(&response(500, &[("grpc-status", "0")])));
        assert!(!ErrorsOnly.is_failure(&response(500, &[])));
    }
}
