//! Deadline propagation: the time left to serve the request a task is working for, carried in
//! a task-local through the handler, into every policy and outgoing call made for it.
//!
//! A server reads the incoming request's deadline (`from_headers`: `grpc-timeout`, or
//! [`X_REQUEST_TIMEOUT`] for HTTP) and runs its handler within [`scope`]; everything the handler
//! awaits then sees [`remaining`]. The tower layers (module `tower`) and the reqwest middleware
//! bound each attempt by it, do not start an attempt (or a retry) once it has passed, and
//! `write_headers` puts the time left into outgoing requests, so the next hop knows it too
//! (`from_headers` and `write_headers` need the cargo feature `tower`).
//!
//! ```
//! use std::time::Duration;
//!
//! use resilience_runtime::deadline;
//! use tokio::time::Instant;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! assert_eq!(deadline::remaining(), None);
//! deadline::scope(Instant::now() + Duration::from_secs(2), async {
//!     let left = deadline::remaining().unwrap();
//!     assert!(left <= Duration::from_secs(2));
//!     // A nested scope can only shorten the deadline.
//!     deadline::scope(Instant::now() + Duration::from_secs(60), async {
//!         assert!(deadline::remaining().unwrap() <= Duration::from_secs(2));
//!     })
//!     .await;
//! })
//! .await;
//! # }
//! ```
//!
//! # Header formats
//!
//! - `grpc-timeout` (the gRPC over HTTP/2 specification): at most 8 ASCII digits followed by a
//!   unit, `H` (hours), `M` (minutes), `S` (seconds), `m` (milliseconds), `u` (microseconds) or
//!   `n` (nanoseconds): `250m`, `30S`. [`format_grpc_timeout`] writes the finest unit that fits in
//!   8 digits, rounding up.
//! - [`X_REQUEST_TIMEOUT`] (`x-request-timeout`, for HTTP): the time left in whole
//!   milliseconds, as ASCII digits (`1500`), rounded up; at most 18 digits. The same header
//!   form as Envoy's `x-envoy-upstream-rq-timeout-ms`, under a name not tied to a proxy.
//!
//! Both are relative (a duration from the moment the request is received), as clocks of two
//! machines do not agree. When a request carries both, the shorter wins.
//!
//! # Cost
//!
//! [`remaining`] outside any scope is one thread-local read; inside one it adds one read of the
//! clock. `benches/tower.rs` measures both.
//!
//! This module knows nothing of the policies: it only stores and reads the deadline.

use std::future::Future;
use std::time::Duration;

use tokio::task::futures::TaskLocalFuture;
use tokio::time::Instant;

tokio::task_local! {
    static DEADLINE: Instant;
}

/// The HTTP header that carries the time left, in milliseconds (see the [module](self)).
pub const X_REQUEST_TIMEOUT: &str = "x-request-timeout";

/// gRPC's deadline header (see the [module](self)).
pub const GRPC_TIMEOUT: &str = "grpc-timeout";

/// Runs `future` with `deadline` as the task's deadline: within it, [`current`] is the earlier of
/// `deadline` and the deadline of an enclosing scope (a nested scope never extends it).
pub fn scope<F: Future>(deadline: Instant, future: F) -> TaskLocalFuture<Instant, F> {
    let deadline = match current() {
        Some(outer) if outer < deadline => outer,
        _ => deadline,
    };
    DEADLINE.scope(deadline, future)
}

/// The deadline of the current task's request, if it runs within a [`scope`].
#[inline]
pub fn current() -> Option<Instant> {
    DEADLINE.try_with(|deadline| *deadline).ok()
}

/// The time left before the current deadline: `None` outside any [`scope`], `Some(ZERO)` once it
/// has passed.
#[inline]
pub fn remaining() -> Option<Duration> {
    current().map(|deadline| deadline.saturating_duration_since(Instant::now()))
}

/// Whether the current deadline has passed (`false` without one): a call made now should not be
/// started.
#[inline]
pub fn expired() -> bool {
    remaining().is_some_and(|left| left.is_zero())
}

/// `timeout` shortened to the time left, if that is shorter (what an attempt is bounded by).
#[inline]
pub fn bound(timeout: Duration) -> Duration {
    bound_from_now(timeout).map_or(timeout, |(after, _)| after)
}

/// Within a deadline, [`bound`]'s duration and the instant it ends (`None` past the clock's
/// range), from one read of the clock; `None` outside any [`scope`]. What every bounded attempt
/// starts with (`Duration`'s `TimeoutLayer`).
#[inline]
pub(crate) fn bound_from_now(timeout: Duration) -> Option<(Duration, Option<Instant>)> {
    let deadline = current()?;
    let now = Instant::now();
    let after = deadline.saturating_duration_since(now).min(timeout);
    Some((after, now.checked_add(after)))
}

/// A `grpc-timeout` value: 1 to 8 ASCII digits and one unit (`H M S m u n`). `None` if malformed.
pub fn parse_grpc_timeout(value: &[u8]) -> Option<Duration> {
    let (&unit, digits) = value.split_last()?;
    if digits.is_empty() || digits.len() > 8 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let amount: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some(match unit {
        b'H' => Duration::from_secs(amount * 3600),
        b'M' => Duration::from_secs(amount * 60),
        b'S' => Duration::from_secs(amount),
        b'm' => Duration::from_millis(amount),
        b'u' => Duration::from_micros(amount),
        b'n' => Duration::from_nanos(amount),
        _ => return None,
    })
}

/// `timeout` as a `grpc-timeout` value: the finest unit whose amount fits in 8 digits, rounded up
/// (a deadline is never lengthened by more than one unit, never shortened).
pub fn format_grpc_timeout(timeout: Duration) -> String {
    const MAX: u128 = 99_999_999;
    let nanos = timeout.as_nanos();
    for (unit, per) in [
        ('n', 1u128),
        ('u', 1_000),
        ('m', 1_000_000),
        ('S', 1_000_000_000),
        ('M', 60_000_000_000),
        ('H', 3_600_000_000_000),
    ] {
        let amount = nanos.div_ceil(per);
        if amount <= MAX {
            return format!("{amount}{unit}");
        }
    }
    format!("{MAX}H")
}

/// An `x-request-timeout` value: 1 to 18 ASCII digits, milliseconds. `None` if malformed.
pub fn parse_request_timeout(value: &[u8]) -> Option<Duration> {
    if value.is_empty() || value.len() > 18 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let millis: u64 = std::str::from_utf8(value).ok()?.parse().ok()?;
    Some(Duration::from_millis(millis))
}

/// `timeout` as an `x-request-timeout` value: whole milliseconds, rounded up.
pub fn format_request_timeout(timeout: Duration) -> String {
    let millis = timeout.as_nanos().div_ceil(1_000_000);
    millis.min(999_999_999_999_999_999).to_string()
}

/// The timeout an incoming request asks for: the shorter of its `grpc-timeout` and
/// `x-request-timeout` headers, `None` without either (a malformed one is ignored, as gRPC
/// servers do).
#[cfg(feature = "tower")]
pub fn from_headers(headers: &http::HeaderMap) -> Option<Duration> {
    let grpc = headers
        .get(GRPC_TIMEOUT)
        .and_then(|value| parse_grpc_timeout(value.as_bytes()));
    let http = headers
        .get(X_REQUEST_TIMEOUT)
        .and_then(|value| parse_request_timeout(value.as_bytes()));
    match (grpc, http) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Writes the time left into an outgoing request's headers: `x-request-timeout`, and
/// `grpc-timeout` too when the request is gRPC (`content-type: application/grpc…`). Does
/// nothing outside a [`scope`]; returns `false` (and writes nothing) once the deadline has
/// passed: the request should not be sent.
#[cfg(feature = "tower")]
pub fn write_headers(headers: &mut http::HeaderMap) -> bool {
    let Some(left) = remaining() else {
        return true;
    };
    if left.is_zero() {
        return false;
    }
    let grpc = headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"));
    if grpc {
        insert(headers, GRPC_TIMEOUT, format_grpc_timeout(left));
    }
    insert(headers, X_REQUEST_TIMEOUT, format_request_timeout(left));
    true
}

#[cfg(feature = "tower")]
fn insert(headers: &mut http::HeaderMap, name: &'static str, value: String) {
    if let Ok(value) = http::HeaderValue::try_from(value) {
        headers.insert(http::HeaderName::from_static(name), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeout_parses_every_unit() {
        for (value, expected) in [
            ("1H", Duration::from_secs(3600)),
            ("2M", Duration::from_secs(120)),
            ("30S", Duration::from_secs(30)),
            ("250m", Duration::from_millis(250)),
            ("7u", Duration::from_micros(7)),
            ("99999999n", Duration::from_nanos(99_999_999)),
            ("0m", Duration::ZERO),
        ] {
            assert_eq!(
                parse_grpc_timeout(value.as_bytes()),
                Some(expected),
                "{value}"
            );
        }
        for malformed in [
            "",
            "m",
            "123456789m",
            "10",
            "10s",
            "-1S",
            "1.5S",
            " 1S",
            "1SS",
        ] {
            assert_eq!(
                parse_grpc_timeout(malformed.as_bytes()),
                None,
                "{malformed:?}"
            );
        }
    }

    #[test]
    fn grpc_timeout_formats_the_finest_unit_that_fits_rounding_up() {
        assert_eq!(format_grpc_timeout(Duration::from_nanos(1500)), "1500n");
        assert_eq!(format_grpc_timeout(Duration::from_millis(250)), "250000u");
        assert_eq!(format_grpc_timeout(Duration::from_secs(2)), "2000000u");
        assert_eq!(
            format_grpc_timeout(Duration::new(200, 1)),
            "200001m",
            "rounded up"
        );
        assert_eq!(
            format_grpc_timeout(Duration::from_secs(10 * 24 * 3600)),
            "864000S"
        );
        assert_eq!(format_grpc_timeout(Duration::MAX), "99999999H");
        for timeout in [
            Duration::from_nanos(1),
            Duration::from_millis(1234),
            Duration::from_secs(86_400 * 365),
        ] {
            let back = parse_grpc_timeout(format_grpc_timeout(timeout).as_bytes()).unwrap();
            assert!(back >= timeout, "{timeout:?} -> {back:?}");
        }
    }

    #[test]
    fn request_timeout_is_milliseconds_rounded_up() {
        assert_eq!(
            parse_request_timeout(b"1500"),
            Some(Duration::from_millis(1500))
        );
        for malformed in [&b""[..], b"1.5", b"-1", b"10ms", b"1234567890123456789"] {
            assert_eq!(parse_request_timeout(malformed), None);
        }
        assert_eq!(format_request_timeout(Duration::from_micros(1)), "1");
        assert_eq!(format_request_timeout(Duration::from_millis(20)), "20");
        assert_eq!(format_request_timeout(Duration::MAX), "999999999999999999");
    }

    #[tokio::test(start_paused = true)]
    async fn remaining_counts_down_and_nested_scopes_only_shorten() {
        assert_eq!(remaining(), None);
        assert!(!expired());
        let start = Instant::now();
        scope(start + Duration::from_secs(1), async {
            assert_eq!(remaining(), Some(Duration::from_secs(1)));
            tokio::time::sleep(Duration::from_millis(400)).await;
            assert_eq!(remaining(), Some(Duration::from_millis(600)));
            assert_eq!(bound(Duration::from_secs(5)), Duration::from_millis(600));
            assert_eq!(bound(Duration::from_millis(10)), Duration::from_millis(10));
            scope(start + Duration::from_secs(10), async {
                assert_eq!(remaining(), Some(Duration::from_millis(600)));
            })
            .await;
            scope(start + Duration::from_millis(500), async {
                assert_eq!(remaining(), Some(Duration::from_millis(100)));
            })
            .await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            assert_eq!(remaining(), Some(Duration::ZERO));
            assert!(expired());
        })
        .await;
        assert_eq!(remaining(), None);
    }

    #[cfg(feature = "tower")]
    #[tokio::test(start_paused = true)]
    async fn headers_carry_the_time_left() {
        let mut headers = http::HeaderMap::new();
        headers.insert(GRPC_TIMEOUT, http::HeaderValue::from_static("2S"));
        headers.insert(X_REQUEST_TIMEOUT, http::HeaderValue::from_static("1500"));
        assert_eq!(from_headers(&headers), Some(Duration::from_millis(1500)));
        headers.insert(X_REQUEST_TIMEOUT, http::HeaderValue::from_static("soon"));
        assert_eq!(from_headers(&headers), Some(Duration::from_secs(2)));

        let mut outgoing = http::HeaderMap::new();
        assert!(write_headers(&mut outgoing), "no deadline: send");
        assert!(outgoing.is_empty());
        scope(Instant::now() + Duration::from_millis(300), async {
            let mut outgoing = http::HeaderMap::new();
            outgoing.insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/grpc+proto"),
            );
            assert!(write_headers(&mut outgoing));
            assert_eq!(outgoing[X_REQUEST_TIMEOUT], "300");
            assert_eq!(outgoing[GRPC_TIMEOUT], "300000u");
            tokio::time::sleep(Duration::from_millis(300)).await;
            let mut late = http::HeaderMap::new();
            assert!(!write_headers(&mut late), "deadline passed: do not send");
        })
        .await;
    }
}
