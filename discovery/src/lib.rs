//! Service discovery for `resilience` (contract §5): a registry of service instances with
//! etcd's semantics (leases, revisions, watch), health (active checks and outlier detection),
//! O(1) lock-free load balancing, routing by metadata, version and environment.
//!
//! *Contract §N* refers to the public contract: the page
//! [`resilience::contract`](https://docs.rs/resilience/latest/resilience/contract/) of the facade's
//! documentation, `docs/CONTRACT.md` in the repository.
//!
//! Reads ([`ServiceDiscovery::discover`], picks) serve an immutable snapshot swapped with
//! `arc-swap` on each change: they never lock and never do I/O. Writes go through a
//! [`RegistryBackend`]; [`MemoryRegistry`] is the default.
//!
//! Built for 10^5 instances: a service's endpoint lists are persistent (structurally shared),
//! so a registration, a deregistration, a health flap or an ejection costs O(log n) and touches
//! only its own service; each service has its own revision, so routes of other services keep
//! their tables; leases wait in a heap by deadline and expire in batches of about a
//! millisecond. `benches/scale.rs` measures it.
//!
//! A `#[discover]` attempt ([`InstanceCall`]) runs its body through [`InstanceCall::run`], so
//! it knows what the shared HTTP client saw of its requests to the picked instance: one
//! refused at connect moves the call to an instance it has not tried ([`InstanceCall::settle`],
//! a requeue: no retry spent, no backoff), and a `5xx`/`429` answer counts as a failure for the
//! instance's passive health.

mod balancer;
mod call;
mod catalog;
mod client;
mod config;
mod discovery;
mod endpoint;
mod error;
#[cfg(feature = "etcd")]
mod etcd;
mod global;
mod health;
mod id;
mod instance;
mod observe;
mod outlier;
mod route;
mod store;
mod sync;

pub use balancer::Balancer;
pub use call::{DiscoverSite, FailedInstances, InstanceCall, Settled};
pub use client::{ClientError, ServiceClient, install_crypto_provider};
pub use config::{DiscoveryConfig, OutlierConfig};
pub use discovery::ServiceDiscovery;
pub use endpoint::{Endpoint, InFlight};
pub use error::DiscoveryError;
#[cfg(feature = "etcd")]
pub use etcd::EtcdOptions;
pub use global::{global, set_global};
pub use health::{CustomCheck, HealthCheck, HealthCheckEvent, HealthChecker, HealthProbe};
pub use id::InstanceId;
pub use instance::{Instance, MAX_WEIGHT};
pub use outlier::CallOutcome;
/// The HTTP client crate [`ServiceClient`] builds requests with (its `RequestBuilder`,
/// `Method`, `Error`, …).
///
/// It is built with rustls and no crypto provider of its own: every [`ServiceDiscovery`] (the
/// [`global`] one included) and every [`ServiceClient`] install rustls' `ring` provider as the
/// process default unless the application installed one first, so `reqwest::Client::new()`
/// works once a discovery exists. Before that, call [`install_crypto_provider`] (or install a
/// provider of your choice) first.
pub use reqwest;
pub use route::Route;
pub use store::{
    Change, LeaseId, Listener, MemoryRegistry, RegistryBackend, Revision, Snapshot, WatchEvent,
};
