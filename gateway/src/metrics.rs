//! `GET /metrics`: the registry's policies (contract §8's names: each upstream's breaker,
//! bulkhead, retry and timeout, named `gateway.<service>`, and discovery's instances) in
//! Prometheus text, from a `metrics-exporter-prometheus` recorder (cargo feature `metrics`, on
//! by default).
//!
//! A process has one global `metrics` recorder. The first [`Gateway`](crate::Gateway) built
//! installs one, before any of its policies exist (each policy resolves its series when it is
//! created, so one created earlier would record nowhere); every later gateway of the process
//! renders the same recorder. If the process had installed another recorder first, the
//! gateway cannot read it: `/metrics` answers `503` saying so, and the gateway logs it once.
//!
//! This module serves the text; it installs no listener and no push gateway of its own.

use std::sync::OnceLock;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use http::header::{self, HeaderValue};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// The Prometheus text format's content type.
const TEXT_FORMAT: HeaderValue = HeaderValue::from_static("text/plain; version=0.0.4");

/// The process's recorder, installed on first use; `None` when another recorder was installed
/// before it.
pub(crate) fn process_recorder() -> Option<PrometheusHandle> {
    static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    RECORDER
        .get_or_init(|| match PrometheusBuilder::new().install_recorder() {
            Ok(handle) => Some(handle),
            Err(error) => {
                tracing::warn!(
                    target: "resilience_gateway",
                    %error,
                    "cannot install the Prometheus recorder (another `metrics` recorder is installed?): GET /metrics answers 503"
                );
                None
            }
        })
        .clone()
}

/// The scrape: the recorder's text, or `503` when the gateway has no recorder of its own.
pub(crate) fn render(recorder: Option<&PrometheusHandle>) -> Response {
    match recorder {
        Some(recorder) => {
            // Without the exporter's own listener nobody drains its histograms: each scrape does.
            recorder.run_upkeep();
            ([(header::CONTENT_TYPE, TEXT_FORMAT)], recorder.render()).into_response()
        }
        None => crate::problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "no Prometheus recorder: another `metrics` recorder was installed in this process before the gateway's",
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_recorder_of_its_own_the_scrape_is_a_503_that_says_why() {
        let response = render(None);
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    }
}
