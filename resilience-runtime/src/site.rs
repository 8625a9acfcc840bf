//! A call site's policies, resolved once: what generated code keeps in a `static`.
//!
//! The first call registers (or finds) the named breaker and bulkhead in the process-wide
//! registry; every later call reads one `OnceLock` and borrows them. This is what makes the
//! registry lookup once per call site, never per call.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::bulkhead::{Bulkhead, BulkheadConfig};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig};
use crate::error::ConfigError;
use crate::pipeline::Pipeline;
use crate::registry::registry;
use crate::retry::RetryConfig;

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

impl SiteSpec {
    /// No policy at all.
    pub const NONE: SiteSpec = SiteSpec {
        circuit_breaker: None,
        retry: None,
        timeout: None,
        bulkhead: None,
    };
}

#[derive(Debug)]
struct Resolved {
    circuit_breaker: Option<Arc<CircuitBreaker>>,
    bulkhead: Option<Arc<Bulkhead>>,
}

/// One call site: its spec and, after the first call, its registered policies.
#[derive(Debug)]
pub struct CallSite {
    spec: SiteSpec,
    resolved: OnceLock<Result<Resolved, ConfigError>>,
}

impl CallSite {
    /// A call site that has not been called yet.
    pub const fn new(spec: SiteSpec) -> Self {
        CallSite {
            spec,
            resolved: OnceLock::new(),
        }
    }

    /// The pipeline of this site, registering its policies on the first call.
    #[inline]
    pub fn pipeline(&self) -> Result<Pipeline<'_>, ConfigError> {
        let resolved = self.resolved.get_or_init(|| self.resolve());
        match resolved {
            Ok(resolved) => Ok(Pipeline {
                retry: self.spec.retry.as_ref(),
                circuit_breaker: resolved.circuit_breaker.as_deref(),
                timeout: self.spec.timeout,
                bulkhead: resolved.bulkhead.as_deref(),
            }),
            Err(error) => Err(error.clone()),
        }
    }

    #[cold]
    fn resolve(&self) -> Result<Resolved, ConfigError> {
        if let Some(retry) = &self.spec.retry {
            retry.validate()?;
        }
        let registry = registry();
        Ok(Resolved {
            circuit_breaker: match &self.spec.circuit_breaker {
                Some((name, config)) => Some(registry.circuit_breaker_or_register(name, config)?),
                None => None,
            },
            bulkhead: match &self.spec.bulkhead {
                Some((name, config)) => Some(registry.bulkhead_or_register(name, config)?),
                None => None,
            },
        })
    }
}
