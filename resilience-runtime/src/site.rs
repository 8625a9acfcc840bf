//! Call sites: the policies of one annotated function, resolved once and kept in `static`s.
//!
//! The first call registers (or finds) the named breaker and bulkhead in the process-wide
//! registry; every later call reads one `OnceLock` per policy and borrows it. This is what makes
//! the registry lookup once per call site, never per call.
//!
//! Generated code keeps one [`BreakerSite`] / [`BulkheadSite`] per policy it uses and builds
//! [`Layers`] of concrete types from them; [`CallSite`] bundles optional ones for code that
//! decides at run time.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::bulkhead::{Bulkhead, BulkheadConfig};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig};
use crate::error::ConfigError;
use crate::layers::Layers;
use crate::pipeline::Pipeline;
use crate::registry::registry;
use crate::retry::RetryConfig;

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

/// The policies a call site asks for, as `const` data.
#[derive(Debug, Clone)]
pub struct SiteSpec {
    /// Breaker name and configuration.
    pub circuit_breaker: Option<(&'static str, CircuitBreakerConfig)>,
    /// Retry configuration.
    pub retry: Option<RetryConfig>,
    /// Per-attempt timeout.
    pub timeout: Option<Duration>,
    /// Bulkhead name and configuration.
    pub bulkhead: Option<(&'static str, BulkheadConfig)>,
}

/// One call site with optional policies: its pipeline is decided at run time.
#[derive(Debug)]
pub struct CallSite {
    circuit_breaker: Option<BreakerSite>,
    retry: Option<RetryConfig>,
    retry_checked: OnceLock<Result<(), ConfigError>>,
    timeout: Option<Duration>,
    bulkhead: Option<BulkheadSite>,
}

impl CallSite {
    /// A call site that has not been called yet.
    pub const fn new(spec: SiteSpec) -> Self {
        let SiteSpec {
            circuit_breaker,
            retry,
            timeout,
            bulkhead,
        } = spec;
        CallSite {
            circuit_breaker: match circuit_breaker {
                Some((name, config)) => Some(BreakerSite::new(name, config)),
                None => None,
            },
            retry,
            retry_checked: OnceLock::new(),
            timeout,
            bulkhead: match bulkhead {
                Some((name, config)) => Some(BulkheadSite::new(name, config)),
                None => None,
            },
        }
    }

    /// The pipeline of this site, registering its policies on the first call.
    #[inline]
    pub fn pipeline(&self) -> Result<Pipeline<'_>, ConfigError> {
        self.retry_checked
            .get_or_init(|| self.retry.as_ref().map_or(Ok(()), RetryConfig::validate))
            .clone()?;
        let layers = Layers {
            circuit_breaker: self
                .circuit_breaker
                .as_ref()
                .map(BreakerSite::get)
                .transpose()?,
            timeout: self.timeout,
            bulkhead: self.bulkhead.as_ref().map(BulkheadSite::get).transpose()?,
        };
        Ok(Pipeline {
            retry: self.retry.as_ref(),
            circuit_breaker: layers.circuit_breaker,
            timeout: layers.timeout,
            bulkhead: layers.bulkhead,
        })
    }
}
