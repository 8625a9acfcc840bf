//! The process-wide discovery that `#[discover]` uses.

use std::sync::OnceLock;

use crate::discovery::ServiceDiscovery;
use crate::error::DiscoveryError;

static GLOBAL: OnceLock<ServiceDiscovery> = OnceLock::new();

/// The discovery `#[discover]` functions use: the one given to [`set_global`], or an in-memory
/// discovery with the default configuration from the first use on.
pub fn global() -> &'static ServiceDiscovery {
    GLOBAL.get_or_init(ServiceDiscovery::new)
}

/// Makes `discovery` the global one. Call it once at start-up, before the first [`global`];
/// a second call (or a call after first use) fails with
/// [`DiscoveryError::GlobalAlreadySet`] and changes nothing.
pub fn set_global(discovery: ServiceDiscovery) -> Result<(), DiscoveryError> {
    crate::client::install_crypto_provider();
    GLOBAL
        .set(discovery)
        .map_err(|_| DiscoveryError::GlobalAlreadySet)
}
