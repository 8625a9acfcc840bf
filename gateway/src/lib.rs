//! An API gateway over `resilience`: axum in front, a hyper-util client behind, and between them
//! the framework's discovery and policies.
//!
//! - **Routes** from a TOML file ([`config`]): path prefix → service, optional version
//!   requirement, the API keys admitted; [`Gateway::reload`] swaps them atomically and
//!   [`Gateway::watch_routes`] reloads them when the file changes. A bad file changes nothing.
//! - **Upstreams** through discovery ([`resilience::ServiceDiscovery`]): each attempt picks an
//!   instance with P2C peak-EWMA (avoiding the instances that already failed this request) and
//!   reports its outcome to passive health; around the attempts, the service's breaker,
//!   bulkhead, timeout and budgeted retry ([`resilience::tower::ResilienceLayer`], named
//!   `gateway.<service>` in the registry).
//! - **Headers**: `X-Forwarded-For`/`-Proto`/`-Host` set, hop-by-hop headers stripped both ways,
//!   `x-request-id` kept or generated and returned, the request's deadline
//!   ([`resilience::deadline`]) read from `grpc-timeout`/`x-request-timeout` and passed on.
//! - **API keys** per route ([`ApiKeys`]): `401` without a valid key, `403` for a key the route
//!   does not admit; the key is not forwarded, and never logged.
//! - **Operations**: `GET /health` is the registry's snapshot as JSON; `GET /metrics` (cargo
//!   feature `metrics`, on by default) the policies' series of contract §8 in Prometheus text;
//!   [`Gateway::serve`] stops accepting on shutdown and drains the requests in flight.
//!
//! Request bodies are buffered (up to [`MAX_BODY`]) so that attempts can be retried; response
//! bodies are streamed.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use arc_swap::ArcSwap;
use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::PathAndQuery;
use http::{Request, StatusCode, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use resilience::discovery::InFlight;
use resilience::tower::{DeadlineLayer, HttpClassify, ResilienceLayer, Retrying};
use resilience::{
    BoxError, BulkheadConfig, CallOutcome, CircuitBreakerConfig, InstanceId, ResilienceConfig,
    ResilienceError, RetryConfig, Route, ServiceDiscovery, TimeoutConfig, deadline, registry,
};
use tower_service::Service;

mod auth;
pub mod config;
#[cfg(feature = "metrics")]
mod metrics;

use auth::Access;
pub use auth::ApiKeys;
use config::{RouteConfig, RoutesFile, UpstreamPolicies, normalise};

/// The largest request body the gateway buffers (`413` beyond).
pub const MAX_BODY: usize = 8 * 1024 * 1024;

/// What can go wrong loading routes or keys. Each message says which route, key or field.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The routes file does not parse, or a route is invalid.
    #[error("routes: {0}")]
    Routes(String),
    /// A route's service has no instance registered in the discovery.
    #[error("route `{prefix}`: service `{service}` has no registered instance")]
    UnknownService {
        /// The route.
        prefix: String,
        /// Its service.
        service: String,
    },
    /// The keys do not parse (the message never includes a secret).
    #[error("api keys: {0}")]
    Keys(String),
    /// The routes file cannot be read or watched.
    #[error("{path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        error: String,
    },
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// The gateway: cheap to clone (one `Arc`), shared by its server and its watcher.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

struct Inner {
    discovery: ServiceDiscovery,
    keys: ApiKeys,
    client: HttpClient,
    table: ArcSwap<Table>,
    #[cfg(feature = "metrics")]
    recorder: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl fmt::Debug for Gateway {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gateway")
            .field("routes", &self.routes())
            .field("keys", &self.inner.keys)
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Table {
    /// Longest prefix first.
    routes: Vec<ActiveRoute>,
}

struct ActiveRoute {
    prefix: String,
    service: String,
    keys: Option<Vec<String>>,
    strip_prefix: bool,
    upstream: Retrying<Upstream, HttpClassify>,
}

impl Table {
    fn find(&self, path: &str) -> Option<&ActiveRoute> {
        self.routes.iter().find(|route| {
            route.prefix == "/"
                || path
                    .strip_prefix(route.prefix.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
    }
}

impl Gateway {
    /// A gateway over `discovery` with `keys` and the routes file `routes` (its text).
    pub fn new(
        discovery: ServiceDiscovery,
        keys: ApiKeys,
        routes: &str,
    ) -> Result<Gateway, GatewayError> {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let gateway = Gateway {
            inner: Arc::new(Inner {
                discovery,
                keys,
                client,
                table: ArcSwap::from_pointee(Table::default()),
                // Before the first route's policies: each resolves its series when created.
                #[cfg(feature = "metrics")]
                recorder: metrics::process_recorder(),
            }),
        };
        gateway.reload(routes)?;
        Ok(gateway)
    }

    /// Replaces the routes with those of `text`, all at once; on error nothing changes.
    ///
    /// Each route is checked: its prefix, its version requirement, that its service has an
    /// instance registered in the discovery (a typo is caught here, not at the first request),
    /// that its keys are known, and the upstream policies' values.
    pub fn reload(&self, text: &str) -> Result<(), GatewayError> {
        let file = RoutesFile::parse(text)?;
        let policies = resilience_config(&file.upstream)?;
        let mut routes = Vec::with_capacity(file.routes.len());
        for route in &file.routes {
            routes.push(self.activate(route, &policies)?);
        }
        routes.sort_by_key(|route| std::cmp::Reverse(route.prefix.len()));
        self.inner.table.store(Arc::new(Table { routes }));
        tracing::info!(target: "resilience_gateway", routes = file.routes.len(), "routes loaded");
        Ok(())
    }

    fn activate(
        &self,
        route: &RouteConfig,
        policies: &ResilienceConfig,
    ) -> Result<ActiveRoute, GatewayError> {
        let prefix = normalise(&route.prefix).to_owned();
        if self.inner.discovery.endpoints(&route.service).is_empty() {
            return Err(GatewayError::UnknownService {
                prefix,
                service: route.service.clone(),
            });
        }
        let mut discovery_route = Route::new(route.service.clone());
        if let Some(requirement) = &route.version {
            discovery_route = discovery_route
                .version(requirement)
                .map_err(|error| GatewayError::Routes(format!("route `{prefix}`: {error}")))?;
        }
        if let Some(keys) = &route.keys
            && let Some(unknown) = keys.iter().find(|name| !self.inner.keys.contains(name))
        {
            return Err(GatewayError::Routes(format!(
                "route `{prefix}`: key `{unknown}` is not one of the gateway's keys"
            )));
        }
        let layer =
            ResilienceLayer::try_new(&format!("gateway.{}", route.service), policies.clone())
                .map_err(|error| GatewayError::Routes(format!("[upstream]: {error}")))?;
        let upstream = Upstream {
            inner: Arc::new(UpstreamInner {
                discovery: self.inner.discovery.clone(),
                route: discovery_route,
                service: route.service.clone(),
                client: self.inner.client.clone(),
            }),
        };
        Ok(ActiveRoute {
            prefix,
            service: route.service.clone(),
            keys: route.keys.clone(),
            strip_prefix: route.strip_prefix,
            upstream: tower_layer::Layer::layer(&layer, upstream),
        })
    }

    /// The routes in use: `(prefix, service)`, longest prefix first.
    pub fn routes(&self) -> Vec<(String, String)> {
        self.inner
            .table
            .load()
            .routes
            .iter()
            .map(|route| (route.prefix.clone(), route.service.clone()))
            .collect()
    }

    /// Loads the routes file at `path`, then reloads it whenever it changes, until the returned
    /// watcher is dropped. The first load's error is returned; a later bad file is logged and
    /// changes nothing. The file's directory is watched, so a file replaced by a rename (as
    /// editors and deployment tools save) is followed.
    pub fn watch_routes(&self, path: impl AsRef<Path>) -> Result<RoutesWatcher, GatewayError> {
        let path = path.as_ref().to_owned();
        let io = |error: &dyn fmt::Display| GatewayError::Io {
            path: path.clone(),
            error: error.to_string(),
        };
        let text = std::fs::read_to_string(&path).map_err(|error| io(&error))?;
        self.reload(&text)?;
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        let gateway = self.clone();
        let watched = path.clone();
        let mut debouncer = notify_debouncer_mini::new_debouncer(
            Duration::from_millis(50),
            move |events: notify_debouncer_mini::DebounceEventResult| {
                let Ok(events) = events else { return };
                if !events
                    .iter()
                    .any(|event| event.path.file_name() == watched.file_name())
                {
                    return;
                }
                match std::fs::read_to_string(&watched) {
                    Ok(text) => {
                        if let Err(error) = gateway.reload(&text) {
                            tracing::warn!(target: "resilience_gateway", %error, "routes not reloaded; keeping the routes in use");
                        }
                    }
                    Err(error) => {
                        tracing::warn!(target: "resilience_gateway", path = %watched.display(), %error, "routes file unreadable; keeping the routes in use");
                    }
                }
            },
        )
        .map_err(|error| io(&error))?;
        debouncer
            .watcher()
            .watch(
                &directory,
                notify_debouncer_mini::notify::RecursiveMode::NonRecursive,
            )
            .map_err(|error| io(&error))?;
        Ok(RoutesWatcher {
            _debouncer: debouncer,
        })
    }

    /// The gateway as an axum router: `GET /health`, `GET /metrics` (feature `metrics`), and
    /// every other path proxied. Serve it with
    /// `into_make_service_with_connect_info::<SocketAddr>()` (for `X-Forwarded-For`), as
    /// [`serve`](Self::serve) does.
    pub fn router(&self) -> Router {
        let router = Router::new().route("/health", get(health));
        #[cfg(feature = "metrics")]
        let router = router.route(
            "/metrics",
            get(|State(gateway): State<Gateway>| async move {
                metrics::render(gateway.inner.recorder.as_ref())
            }),
        );
        router
            .fallback(proxy)
            .with_state(self.clone())
            .layer(DeadlineLayer::new())
    }

    /// Serves the gateway on `listener` until `shutdown` completes, then stops accepting and
    /// waits for the requests in flight to finish (graceful shutdown). Accepted connections
    /// have `TCP_NODELAY` set, as the upstream ones do: a response is written as soon as
    /// its upstream's arrives, never held back to coalesce with the next.
    pub async fn serve(
        &self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let listener = axum::serve::ListenerExt::tap_io(listener, |stream| {
            if let Err(error) = stream.set_nodelay(true) {
                tracing::debug!(target: "resilience_gateway", %error, "cannot set TCP_NODELAY");
            }
        });
        axum::serve(
            listener,
            self.router()
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
    }
}

/// Reloads the routes file while it lives (see [`Gateway::watch_routes`]).
pub struct RoutesWatcher {
    _debouncer: notify_debouncer_mini::Debouncer<notify_debouncer_mini::notify::RecommendedWatcher>,
}

impl fmt::Debug for RoutesWatcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoutesWatcher").finish_non_exhaustive()
    }
}

fn resilience_config(policies: &UpstreamPolicies) -> Result<ResilienceConfig, GatewayError> {
    let config = ResilienceConfig {
        retry: RetryConfig {
            max_retries: policies.max_retries,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(200),
            ..RetryConfig::default()
        },
        circuit_breaker: CircuitBreakerConfig {
            max_failures: policies.max_failures,
            ..CircuitBreakerConfig::default()
        },
        timeout: TimeoutConfig {
            timeout: policies.timeout()?,
        },
        bulkhead: BulkheadConfig {
            max_concurrent_calls: policies.max_concurrent as usize,
            max_queue_size: 0,
            ..BulkheadConfig::default()
        },
    };
    config
        .validate()
        .map_err(|error| GatewayError::Routes(format!("[upstream]: {error}")))?;
    Ok(config)
}

// ---------------------------------------------------------------------------------------------
// Upstream: one attempt on one discovered instance

/// The instances that failed this request already (shared by the clones of one request, so a
/// retry picks another instance when there is one).
#[derive(Clone, Default)]
struct Tried(Arc<Mutex<Vec<InstanceId>>>);

impl Tried {
    fn contains(&self, id: &InstanceId) -> bool {
        self.0.lock().is_ok_and(|tried| tried.contains(id))
    }

    fn insert(&self, id: InstanceId) {
        if let Ok(mut tried) = self.0.lock() {
            tried.push(id);
        }
    }
}

#[derive(Clone)]
struct Upstream {
    inner: Arc<UpstreamInner>,
}

struct UpstreamInner {
    discovery: ServiceDiscovery,
    route: Route,
    service: String,
    client: HttpClient,
}

type AttemptFuture = Pin<Box<dyn Future<Output = Result<Response<Incoming>, BoxError>> + Send>>;

impl Service<Request<Full<Bytes>>> for Upstream {
    type Response = Response<Incoming>;
    type Error = BoxError;
    type Future = AttemptFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request<Full<Bytes>>) -> AttemptFuture {
        let inner = Arc::clone(&self.inner);
        Box::pin(async move {
            let tried = request
                .extensions()
                .get::<Tried>()
                .cloned()
                .unwrap_or_default();
            let call = inner
                .discovery
                .pick(&inner.route, |endpoint| {
                    tried.contains(&endpoint.instance().id)
                })
                .map_err(|_| ResilienceError::NoInstance {
                    service: inner.service.clone(),
                })?;
            // The instance's scheme and authority around the request's path, which `proxy`
            // set and which is not parsed again.
            let (scheme, authority) = call
                .endpoint()
                .base_url()
                .split_once("://")
                .unwrap_or(("http", call.endpoint().base_url()));
            let path = request
                .uri()
                .path_and_query()
                .cloned()
                .unwrap_or_else(|| PathAndQuery::from_static("/"));
            *request.uri_mut() = Uri::builder()
                .scheme(scheme)
                .authority(authority)
                .path_and_query(path)
                .build()?;
            if !deadline::write_headers(request.headers_mut()) {
                return Err(ResilienceError::Timeout {
                    after: Duration::ZERO,
                }
                .into());
            }
            let mut report = Report {
                discovery: &inner.discovery,
                call: Some(call),
                tried: &tried,
                outcome: CallOutcome::Timeout,
            };
            let result = inner.client.request(request).await;
            report.outcome = match &result {
                Ok(response) if response.status().is_server_error() => CallOutcome::Failure,
                Ok(_) => CallOutcome::Success,
                Err(_) => CallOutcome::Failure,
            };
            drop(report);
            Ok(result?)
        })
    }
}

/// Reports an attempt's outcome to passive health when it ends, a dropped one (the attempt's
/// timeout) as `Timeout`; an instance that did not succeed is not picked again for the request.
struct Report<'a> {
    discovery: &'a ServiceDiscovery,
    call: Option<InFlight>,
    tried: &'a Tried,
    outcome: CallOutcome,
}

impl Drop for Report<'_> {
    fn drop(&mut self) {
        if let Some(call) = self.call.take() {
            if self.outcome != CallOutcome::Success {
                self.tried.insert(call.endpoint().instance().id.clone());
            }
            self.discovery.report(call, self.outcome);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The handlers

async fn health() -> Response {
    match serde_json::to_vec(&registry().snapshot()) {
        Ok(json) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            json,
        )
            .into_response(),
        Err(error) => problem(StatusCode::INTERNAL_SERVER_ERROR, &error.to_string(), None),
    }
}

const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_API_KEY: HeaderName = HeaderName::from_static("x-api-key");

/// The hop-by-hop headers of RFC 9110 §7.6.1 (and the obsolete ones proxies still see).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

/// Removes the hop-by-hop headers, those `Connection` names included, and `Upgrade`.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    for name in named.iter().chain(HOP_BY_HOP.iter()) {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
}

fn request_id(headers: &HeaderMap) -> HeaderValue {
    headers
        .get(&X_REQUEST_ID)
        .filter(|value| !value.is_empty() && value.len() <= 128)
        .cloned()
        .unwrap_or_else(|| {
            let id = format!("{:032x}", fastrand::u128(..));
            HeaderValue::try_from(id).unwrap_or(HeaderValue::from_static("0"))
        })
}

fn problem(status: StatusCode, message: &str, request_id: Option<&HeaderValue>) -> Response {
    let body = serde_json::json!({ "error": message }).to_string();
    let mut response = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    if let Some(id) = request_id {
        response.headers_mut().insert(X_REQUEST_ID, id.clone());
    }
    response
}

/// The status and message for a request that got no upstream response.
fn failure(error: &BoxError) -> (StatusCode, String) {
    match error.downcast_ref::<ResilienceError>() {
        Some(rejection @ ResilienceError::Timeout { .. }) => {
            (StatusCode::GATEWAY_TIMEOUT, rejection.to_string())
        }
        Some(
            rejection @ (ResilienceError::CircuitOpen { .. }
            | ResilienceError::BulkheadFull { .. }
            | ResilienceError::NoInstance { .. }),
        ) => (StatusCode::SERVICE_UNAVAILABLE, rejection.to_string()),
        Some(other) => (StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
        None => (
            StatusCode::BAD_GATEWAY,
            format!("upstream unreachable: {error}"),
        ),
    }
}

async fn proxy(
    State(gateway): State<Gateway>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request<Body>,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let id = request_id(&parts.headers);
    let table = gateway.inner.table.load();
    let Some(route) = table.find(parts.uri.path()) else {
        return problem(StatusCode::NOT_FOUND, "no route for this path", Some(&id));
    };
    let presented = auth::presented(&parts.headers);
    match gateway.inner.keys.check(route.keys.as_deref(), presented) {
        Access::Granted => {}
        Access::Unauthenticated => {
            return problem(
                StatusCode::UNAUTHORIZED,
                "a valid API key is required",
                Some(&id),
            );
        }
        Access::Forbidden => {
            return problem(
                StatusCode::FORBIDDEN,
                "this API key has no access to this route",
                Some(&id),
            );
        }
    }
    if route.keys.is_some() {
        // The gateway's credential is the gateway's: not the upstream's business.
        parts.headers.remove(X_API_KEY);
        parts.headers.remove(header::AUTHORIZATION);
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => {
            return problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large or unreadable",
                Some(&id),
            );
        }
    };

    let mut headers = std::mem::take(&mut parts.headers);
    strip_hop_by_hop(&mut headers);
    if let Some(host) = headers.remove(header::HOST) {
        headers.insert(X_FORWARDED_HOST, host);
    }
    let peer_ip = peer.ip().to_string();
    let forwarded_for = match headers
        .get(&X_FORWARDED_FOR)
        .and_then(|value| value.to_str().ok())
    {
        Some(earlier) => format!("{earlier}, {peer_ip}"),
        None => peer_ip,
    };
    if let Ok(value) = HeaderValue::try_from(forwarded_for) {
        headers.insert(X_FORWARDED_FOR, value);
    }
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static("http"));
    headers.insert(X_REQUEST_ID, id.clone());

    // The path as it came (its bytes are shared, not copied), or without the route's prefix.
    let forwarded_path = match parts.uri.path_and_query() {
        Some(path) if route.strip_prefix && route.prefix != "/" => {
            let rest = &path.as_str()[route.prefix.len()..];
            let stripped = if rest.starts_with('/') {
                PathAndQuery::try_from(rest)
            } else {
                PathAndQuery::try_from(format!("/{rest}"))
            };
            match stripped {
                Ok(stripped) => stripped,
                Err(_) => return problem(StatusCode::BAD_REQUEST, "invalid path", Some(&id)),
            }
        }
        Some(path) => path.clone(),
        None => PathAndQuery::from_static("/"),
    };
    let mut upstream_request = Request::new(Full::new(body));
    *upstream_request.method_mut() = parts.method;
    *upstream_request.headers_mut() = headers;
    *upstream_request.uri_mut() = Uri::from(forwarded_path);
    upstream_request.extensions_mut().insert(Tried::default());

    let mut upstream = route.upstream.clone();
    drop(table);
    match upstream.call(upstream_request).await {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            parts.headers.insert(X_REQUEST_ID, id);
            Response::from_parts(parts, Body::new(body))
        }
        Err(error) => {
            let (status, message) = failure(&error);
            tracing::debug!(target: "resilience_gateway", request_id = ?id, %message, "no upstream response");
            problem(status, &message, Some(&id))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_stripped() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "keep-alive, x-secret-hop"),
            ("keep-alive", "timeout=5"),
            ("x-secret-hop", "1"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("upgrade", "h2c"),
            ("proxy-authorization", "Basic x"),
            ("accept", "text/plain"),
        ] {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_static(value),
            );
        }
        strip_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["accept"], "text/plain");
    }

    #[test]
    fn request_ids_are_kept_or_made() {
        let mut headers = HeaderMap::new();
        let made = request_id(&headers);
        assert_eq!(made.len(), 32);
        headers.insert(X_REQUEST_ID, HeaderValue::from_static("abc"));
        assert_eq!(request_id(&headers), "abc");
    }
}
