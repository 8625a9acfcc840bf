//! Call sites: the policies of one annotated function, resolved once and kept in `static`s.
//!
//! The first call registers (or finds) the named breaker and bulkhead in the process-wide
//! registry; every later call reads one `OnceLock` per policy and borrows it. This is what makes
//! the registry lookup once per call site, never per call.
//!
//! Generated code keeps one [`BreakerSite`] / [`BulkheadSite`] per policy it uses and builds
//! `Layers` of concrete types from them.

use std::sync::{Arc, OnceLock};

use crate::bulkhead::{Bulkhead, BulkheadConfig};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig};
use crate::error::ConfigError;
use crate::registry::registry;

/// A named breaker of one call site, registered on first use.
#[derive(Debug)]
pub struct BreakerSite {
    name: &'static str,
    config: CircuitBreakerConfig,
    resolved: OnceLock<Result<Arc<CircuitBreaker>, ConfigError>>,
}

impl BreakerSite {
    /// A breaker site that has not been called yet.
    pub const fn new(name: &'static str, config: CircuitBreakerConfig) -> Self {
        BreakerSite {
            name,
            config,
            resolved: OnceLock::new(),
        }
    }

    /// The breaker, registering it on the first call.
    #[inline]
    pub fn get(&self) -> Result<&CircuitBreaker, ConfigError> {
        match self
            .resolved
            .get_or_init(|| registry().circuit_breaker_or_register(self.name, &self.config))
        {
            Ok(breaker) => Ok(breaker),
            Err(error) => Err(error.clone()),
        }
    }
}

/// A named bulkhead of one call site, registered on first use.
#[derive(Debug)]
pub struct BulkheadSite {
    name: &'static str,
    config: BulkheadConfig,
    resolved: OnceLock<Result<Arc<Bulkhead>, ConfigError>>,
}

impl BulkheadSite {
    /// A bulkhead site that has not been called yet.
    pub const fn new(name: &'static str, config: BulkheadConfig) -> Self {
        BulkheadSite {
            name,
            config,
            resolved: OnceLock::new(),
        }
    }

    /// The bulkhead, registering it on the first call.
    #[inline]
    pub fn get(&self) -> Result<&Bulkhead, ConfigError> {
        match self
            .resolved
            .get_or_init(|| registry().bulkhead_or_register(self.name, &self.config))
        {
            Ok(bulkhead) => Ok(bulkhead),
            Err(error) => Err(error.clone()),
        }
    }
}
