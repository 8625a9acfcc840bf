//! What the shared HTTP client saw of one attempt's requests to its picked instance: whether
//! one failed to connect (the request never reached the instance, so the call may move to
//! another one at once: a *requeue*), and whether the instance answered `5xx` or `429` (a
//! failure for its passive health, whatever the body then returned).
//!
//! The attempt's body runs inside [`observe`], which puts an [`Observed`] in a tokio task-local;
//! reqwest calls the shared client's classifier ([`classify`], installed as its retry
//! classifier, which never asks for a retry) with each request's outcome, in the task that
//! awaits the request, so it finds that attempt's record. Requests to other hosts, requests
//! made on other clients, from other tasks (`tokio::spawn` inside the body) or with a streaming
//! body (which reqwest cannot clone, so it does not classify them) are not seen.
//!
//! This module must not pick instances or report outcomes: `call.rs` does, from what it says.

use std::cell::Cell;
use std::future::Future;
use std::sync::Arc;

use crate::endpoint::Endpoint;

tokio::task_local! {
    static ATTEMPT: Observed;
}

/// One attempt's record, in the task-local while its body runs.
pub(crate) struct Observed {
    endpoint: Arc<Endpoint>,
    refused: Cell<bool>,
    failure_status: Cell<bool>,
}

/// What [`observe`] saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Seen {
    /// A request to the instance failed before it was sent: reqwest's `is_connect()` (refused,
    /// connect timeout, DNS or TLS failure).
    pub(crate) refused_at_connect: bool,
    /// The instance answered a request with a status that [`is_failure_status`] counts.
    pub(crate) failure_status: bool,
}

/// Runs `body`, recording what the shared client sees of its requests to `endpoint`.
pub(crate) async fn observe<F: Future>(endpoint: Arc<Endpoint>, body: F) -> (F::Output, Seen) {
    let observed = Observed {
        endpoint,
        refused: Cell::new(false),
        failure_status: Cell::new(false),
    };
    let mut scoped = std::pin::pin!(ATTEMPT.scope(observed, body));
    let output = (&mut scoped).await;
    let seen = scoped
        .as_mut()
        .take_value()
        .map_or(Seen::default(), |o| Seen {
            refused_at_connect: o.refused.get(),
            failure_status: o.failure_status.get(),
        });
    (output, seen)
}

/// A `5xx` or a `429 Too Many Requests`: the instance is failing or shedding load. The same
/// rule as `HttpClassify` in `resilience-runtime/src/tower/classify.rs` (the tower layers'
/// default), repeated here because this crate does not build the runtime's `tower` feature.
pub(crate) fn is_failure_status(status: reqwest::StatusCode) -> bool {
    status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS
}

/// Called by the shared client with each request's outcome (through its retry classifier):
/// records it on the running attempt if the request went to the attempt's instance.
pub(crate) fn classify(
    host: Option<&str>,
    port: Option<u16>,
    status: Option<reqwest::StatusCode>,
    error: Option<&(dyn std::error::Error + 'static)>,
) {
    // Outside an attempt (no task-local): nothing to record.
    let _ = ATTEMPT.try_with(|attempt| {
        if !attempt.targets(host, port) {
            return;
        }
        if let Some(status) = status
            && is_failure_status(status)
        {
            attempt.failure_status.set(true);
        }
        let connect = error
            .and_then(|error| error.downcast_ref::<reqwest::Error>())
            .is_some_and(reqwest::Error::is_connect);
        if connect {
            attempt.refused.set(true);
        }
    });
}

impl Observed {
    /// Whether a request to `host:port` (an `http` URL: port 80 when absent) is one to this
    /// attempt's instance.
    fn targets(&self, host: Option<&str>, port: Option<u16>) -> bool {
        let instance = self.endpoint.instance();
        let Some(host) = host else {
            return false;
        };
        port.unwrap_or(80) == instance.port && same_host(host, &instance.host)
    }
}

/// Whether two hosts name the same: equal addresses (however written: URLs write IPv6
/// compressed, in brackets), or the same DNS name (case-insensitive).
fn same_host(a: &str, b: &str) -> bool {
    fn unbracket(host: &str) -> &str {
        host.trim_start_matches('[').trim_end_matches(']')
    }
    let (a, b) = (unbracket(a), unbracket(b));
    match (a.parse::<std::net::IpAddr>(), b.parse::<std::net::IpAddr>()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a.eq_ignore_ascii_case(b),
    }
}
