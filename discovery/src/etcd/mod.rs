//! The etcd backend (feature `etcd`, contract §5): discovery across processes and machines.
//!
//! Keys are `<prefix>/<service>/<instance-id>`, values the instance as JSON. Own registrations
//! live under one lease per discovery (the session, TTL `lease_ttl`, kept alive every TTL/3) or
//! under leases granted through [`ServiceDiscovery::register_with_lease`]. Two background tasks
//! own the network: the session (`session.rs`: writes, keep-alive, and after any lease error a
//! re-grant and re-put of every own instance with jittered exponential backoff) and the watcher
//! (`watcher.rs`: list at revision R, watch from R + 1, list again and diff after compaction, a
//! cancelled watch or an outage). Both feed `view.rs`, which tells the discovery's snapshot of
//! every change. Reads never wait on either: while etcd is unreachable they serve the last view.

mod backend;
mod codec;
mod session;
mod view;
mod watcher;

use std::time::Duration;

use crate::config::DiscoveryConfig;
use crate::discovery::ServiceDiscovery;
use crate::error::DiscoveryError;

pub(crate) use backend::EtcdBackend;

/// Where and how [`ServiceDiscovery::connect_etcd`] keeps its registry in etcd.
#[derive(Debug, Clone)]
pub struct EtcdOptions {
    pub(crate) endpoints: Vec<String>,
    pub(crate) prefix: String,
    pub(crate) lease_ttl: Duration,
    pub(crate) request_timeout: Duration,
    pub(crate) config: DiscoveryConfig,
}

impl EtcdOptions {
    /// The default prefix of every key.
    pub const DEFAULT_PREFIX: &'static str = "/resilience/services";
    /// The default TTL of the registrations' lease.
    pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(15);
    /// etcd's smallest lease TTL.
    pub const MIN_LEASE_TTL: Duration = Duration::from_secs(2);

    /// Options for the etcd cluster at `endpoints` (e.g. `"http://127.0.0.1:2379"`).
    pub fn new<E: Into<String>>(endpoints: impl IntoIterator<Item = E>) -> Self {
        EtcdOptions {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            prefix: Self::DEFAULT_PREFIX.to_owned(),
            lease_ttl: Self::DEFAULT_LEASE_TTL,
            request_timeout: Duration::from_secs(2),
            config: DiscoveryConfig::default(),
        }
    }

    /// The prefix of every key (default `/resilience/services`; a trailing `/` is ignored).
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into().trim_end_matches('/').to_owned();
        self
    }

    /// The TTL of the registrations' lease (default 15 s, at least etcd's 2 s): a process that
    /// dies disappears from the others within it. The lease is kept alive every `ttl / 3`.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// How long one request to etcd may take before it counts as failed (default 2 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// The discovery's configuration (default [`DiscoveryConfig::default`]).
    pub fn config(mut self, config: DiscoveryConfig) -> Self {
        self.config = config;
        self
    }
}

impl ServiceDiscovery {
    /// A discovery whose registry is the etcd cluster of `options` (contract §5).
    ///
    /// Fails with [`DiscoveryError::Backend`] when no endpoint answers, or on invalid options.
    /// Afterwards nothing fails because etcd is down: registrations return at once (and are
    /// visible to this process at once), reads serve the last view, and [`is_stale`] says
    /// when that view may be out of date. Needs a tokio runtime (its background tasks live
    /// there until the last clone of the discovery is dropped, which revokes its lease).
    ///
    /// [`is_stale`]: Self::is_stale
    pub async fn connect_etcd(options: EtcdOptions) -> Result<ServiceDiscovery, DiscoveryError> {
        let config = options.config.clone();
        let backend = EtcdBackend::connect(options).await?;
        Ok(ServiceDiscovery::with_backend_and_config(backend, config))
    }
}
