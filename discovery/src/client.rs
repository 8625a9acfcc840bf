//! [`ServiceClient`]: an HTTP client bound to one picked instance, what `#[discover]` injects.
//!
//! Every `ServiceClient` shares ONE process-wide `reqwest::Client`, hence one connection pool:
//! a client is a borrowed pool plus the instance's base URL, so creating one per call is cheap.
//! The pool speaks plain HTTP, and HTTPS through rustls with the `ring` provider (configured
//! here explicitly). reqwest is built without a provider of its own, so a plain
//! `reqwest::Client::new()` needs a process-wide one: [`install_crypto_provider`] installs
//! `ring`'s unless the application installed another first, and every discovery calls it.
//! The pool's retry classifier observes each request's outcome for the attempt that made it
//! (`observe.rs`) and retries nothing.
//! This module must not pick instances or report outcomes: that is `call.rs`.

use std::sync::{Arc, OnceLock};

use crate::endpoint::Endpoint;
use crate::instance::Instance;

/// An HTTP client bound to one instance of a service, as `#[discover]` injects it: paths are
/// joined to the instance's base URL (`http://host:port`).
///
/// All clients share one connection pool (a process-wide `reqwest::Client`). The requests are
/// plain `reqwest` requests: add headers, bodies and per-request timeouts as usual, then
/// `.send().await`.
///
/// ```no_run
/// # async fn example(client: resilience_discovery::ServiceClient) -> Result<(), reqwest::Error> {
/// let user = client.get("/users/42").send().await?.error_for_status()?.text().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ServiceClient {
    http: &'static reqwest::Client,
    endpoint: Arc<Endpoint>,
}

/// The shared HTTP client could not be built (its TLS configuration was refused). Calls that
/// need a [`ServiceClient`] fail with this error instead of panicking.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the shared HTTP client of `ServiceClient` could not be built: {reason}")]
pub struct ClientError {
    reason: String,
}

impl ServiceClient {
    /// A client for `endpoint` (from [`InFlight::endpoint`](crate::InFlight::endpoint) or
    /// [`ServiceDiscovery::endpoints`](crate::ServiceDiscovery::endpoints)), on the shared
    /// connection pool. Allocates nothing: the base URL is the endpoint's, built once.
    pub fn new(endpoint: Arc<Endpoint>) -> Result<ServiceClient, ClientError> {
        let http = shared_http_client()?;
        Ok(ServiceClient { http, endpoint })
    }

    /// The instance's base URL, `http://host:port` (no trailing slash).
    pub fn base_url(&self) -> &str {
        self.endpoint.base_url()
    }

    /// The instance this client is bound to.
    pub fn instance(&self) -> &Instance {
        self.endpoint.instance()
    }

    /// The instance's live state (health, ejection, in flight, latency).
    pub fn endpoint(&self) -> &Arc<Endpoint> {
        &self.endpoint
    }

    /// The shared `reqwest::Client`, for requests this type has no shortcut for.
    pub fn http_client(&self) -> &reqwest::Client {
        self.http
    }

    /// `path` joined to the base URL: `"/users"` and `"users"` both give
    /// `http://host:port/users`.
    pub fn url(&self, path: &str) -> String {
        let base_url = self.base_url();
        let mut url = String::with_capacity(base_url.len() + path.len() + 1);
        url.push_str(base_url);
        if !path.starts_with('/') {
            url.push('/');
        }
        url.push_str(path);
        url
    }

    /// A request with `method` to `path` on this instance.
    pub fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// A `GET` of `path` on this instance.
    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::GET, path)
    }

    /// A `POST` to `path` on this instance.
    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::POST, path)
    }

    /// A `PUT` to `path` on this instance.
    pub fn put(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::PUT, path)
    }

    /// A `DELETE` of `path` on this instance.
    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.request(reqwest::Method::DELETE, path)
    }
}

/// Makes rustls' `ring` provider the process-wide default, unless one is installed already
/// (the application's own choice stays). Idempotent and cheap after the first call.
///
/// reqwest (re-exported as `resilience::discovery::reqwest`) is built here without a crypto
/// provider of its own, so `reqwest::Client::new()` panics ("No rustls crypto provider is
/// configured") in a process where none is installed. Every [`ServiceDiscovery`] calls this
/// when it is built (the [`global`](crate::global) one too), and so does every
/// [`ServiceClient`]; call it yourself before building reqwest clients in a process that has
/// no discovery yet. To use another provider, install it before the first discovery.
///
/// [`ServiceDiscovery`]: crate::ServiceDiscovery
pub fn install_crypto_provider() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Losing a race to another installer is fine: a provider is installed either way.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    });
}

/// The process-wide client, built on first use. A failure is kept and returned to every
/// caller: the configuration it refused does not change while the process runs.
fn shared_http_client() -> Result<&'static reqwest::Client, ClientError> {
    install_crypto_provider();
    static HTTP: OnceLock<Result<reqwest::Client, ClientError>> = OnceLock::new();
    HTTP.get_or_init(build_http_client)
        .as_ref()
        .map_err(Clone::clone)
}

fn build_http_client() -> Result<reqwest::Client, ClientError> {
    let error = |reason: String| ClientError { reason };
    // reqwest is compiled without a crypto provider: hand it a finished rustls configuration
    // on `ring`, rather than installing a process-wide default the application may not want.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| error(format!("TLS protocol versions: {e}")))?
        .with_root_certificates(system_roots())
        .with_no_client_auth();
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .retry(observing_classifier())
        // Instances are addressed directly: an `HTTP_PROXY` meant for the outside world must
        // not sit between services.
        .no_proxy()
        .build()
        .map_err(|e| error(e.to_string()))
}

/// reqwest's retry classifier, used to observe rather than to retry: it hands each request's
/// outcome (its status, or its error) to the running attempt's record (`observe.rs`: refused
/// at connect, answered `5xx`/`429`) and never asks for a retry, so requests behave as without
/// it. reqwest classifies only requests it could have retried: it keeps a copy of each request
/// (its headers; a streaming body cannot be copied, and such requests are not observed).
///
/// It replaces reqwest's default classifier, which retries HTTP/2 and HTTP/3 protocol NACKs
/// only: this client is built without either protocol, so nothing is lost.
fn observing_classifier() -> reqwest::retry::Builder {
    // The scope matters only for the retries this policy never asks for.
    reqwest::retry::for_host("")
        .no_budget()
        .max_retries_per_request(1)
        .classify_fn(|outcome| {
            let uri = outcome.uri();
            crate::observe::classify(
                uri.host(),
                uri.port_u16(),
                outcome.status(),
                outcome.error(),
            );
            outcome.success()
        })
}

/// The system's trust anchors for HTTPS instances: the PEM bundle named by `SSL_CERT_FILE`,
/// else the first bundle found at the usual Unix locations. None found: an empty store (plain
/// HTTP works; HTTPS fails with an unknown-issuer error naming the certificate).
fn system_roots() -> rustls::RootCertStore {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;

    const BUNDLES: &[&str] = &[
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
        "/etc/ssl/ca-bundle.pem",
        "/etc/ssl/cert.pem",
    ];
    let mut roots = rustls::RootCertStore::empty();
    let from_env = std::env::var_os("SSL_CERT_FILE").map(std::path::PathBuf::from);
    let candidates = from_env
        .into_iter()
        .chain(BUNDLES.iter().map(std::path::PathBuf::from));
    for path in candidates {
        let Ok(certificates) = CertificateDer::pem_file_iter(&path) else {
            continue;
        };
        let (added, _ignored) = roots.add_parsable_certificates(certificates.flatten());
        if added > 0 {
            break;
        }
    }
    if roots.is_empty() {
        tracing::debug!(target: "resilience::discovery", "no system CA bundle found: ServiceClient trusts no HTTPS certificate");
    }
    roots
}

#[cfg(test)]
mod tests {
    use crate::sync::AtomicU32;

    use super::*;

    fn client(host: &str, port: u16) -> ServiceClient {
        let instance = Instance::new("svc", "a", host, port);
        let attributes = instance.attributes().unwrap();
        let endpoint = Endpoint::new(instance, attributes, Arc::new(AtomicU32::new(0)));
        ServiceClient::new(endpoint).unwrap()
    }

    #[test]
    fn the_shared_client_builds_and_plain_reqwest_clients_then_build_too() {
        assert!(shared_http_client().is_ok());
        assert!(rustls::crypto::CryptoProvider::get_default().is_some());
        assert!(reqwest::Client::builder().build().is_ok());
    }

    #[test]
    fn paths_are_joined_to_the_base_url() {
        let client = client("127.0.0.1", 8080);
        assert_eq!(client.base_url(), "http://127.0.0.1:8080");
        assert_eq!(client.url("/users/1"), "http://127.0.0.1:8080/users/1");
        assert_eq!(client.url("users/1"), "http://127.0.0.1:8080/users/1");
        let request = client.delete("/users/1").build().unwrap();
        assert_eq!(request.method(), reqwest::Method::DELETE);
        assert_eq!(request.url().as_str(), "http://127.0.0.1:8080/users/1");
    }

    #[test]
    fn ipv6_hosts_are_bracketed() {
        let client = client("::1", 80);
        assert_eq!(
            client.get("/").build().unwrap().url().as_str(),
            "http://[::1]/"
        );
    }
}
