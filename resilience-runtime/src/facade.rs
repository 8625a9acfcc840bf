//! The programmatic API (CONTRACT §6): the same pipeline as the attributes, driven by closures
//! and a configuration value instead of generated code.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::bulkhead::{Bulkhead, BulkheadConfig};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig};
use crate::error::{BoxError, ConfigError, ResilienceError};
use crate::failure::Failure;
use crate::pipeline::Pipeline;
use crate::registry::{Registry, registry};
use crate::retry::RetryConfig;
use crate::timeout::TimeoutConfig;

/// The configuration every call of a [`ResilienceFacade`] runs with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResilienceConfig {
    /// The breaker of each `"<service>/<operation>"`.
    pub circuit_breaker: CircuitBreakerConfig,
    /// Retries of each call.
    pub retry: RetryConfig,
    /// Per-attempt timeout.
    pub timeout: TimeoutConfig,
    /// The bulkhead of each `"<service>/<operation>"`.
    pub bulkhead: BulkheadConfig,
}

impl ResilienceConfig {
    /// Checks every policy's values against the contract's ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.circuit_breaker.validate()?;
        self.retry.validate()?;
        self.timeout.validate()?;
        self.bulkhead.validate()
    }
}

/// The type of "no fallback" for [`ResilienceFacade::execute`]:
/// `execute(.., None::<NoFallback<T>>)`.
pub type NoFallback<T> = fn() -> std::future::Ready<Result<T, BoxError>>;

/// Runs closures through retry → circuit breaker → timeout → bulkhead, with an optional fallback
/// (CONTRACT §6). Breakers and bulkheads are registered in the process-wide
/// [`registry()`](crate::registry()) under `"<service>/<operation>"`, so two facades calling the
/// same operation share them (the first configuration wins, as for the attributes).
#[derive(Debug, Clone)]
pub struct ResilienceFacade {
    config: ResilienceConfig,
    invalid: Option<ConfigError>,
    registry: &'static Registry,
    /// The policies of each `service` → `operation` this facade has called, looked up without
    /// a lock or an allocation (the registry is consulted once per operation).
    operations: Arc<ArcSwap<Operations>>,
}

type Operations = HashMap<String, HashMap<String, Arc<OperationPolicies>>>;

#[derive(Debug)]
struct OperationPolicies {
    circuit_breaker: Arc<CircuitBreaker>,
    bulkhead: Arc<Bulkhead>,
}

impl Default for ResilienceFacade {
    fn default() -> Self {
        Self::new()
    }
}

impl ResilienceFacade {
    /// A facade with the contract's defaults.
    pub fn new() -> Self {
        Self::with_config(ResilienceConfig::default())
    }

    /// A facade with `config`.
    ///
    /// A value out of range is not fixed up silently: it is logged at once, and every
    /// [`execute`](Self::execute) returns [`ResilienceError::Config`] without running anything.
    /// Use [`try_with_config`](Self::try_with_config) to get the error here instead.
    pub fn with_config(config: ResilienceConfig) -> Self {
        let invalid = config.validate().err();
        if let Some(error) = &invalid {
            tracing::error!(target: "resilience", %error, "ResilienceFacade built with an invalid configuration; every call will fail");
        }
        ResilienceFacade {
            config,
            invalid,
            registry: registry(),
            operations: Arc::default(),
        }
    }

    /// A facade with `config`, or the first value out of range.
    pub fn try_with_config(config: ResilienceConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::with_config(config))
    }

    /// The configuration calls run with.
    pub fn config(&self) -> &ResilienceConfig {
        &self.config
    }

    /// Runs `operation` for `service`/`operation_name` through the pipeline; on any failure
    /// (operation error after retries, `CircuitOpen`, `Timeout`, `BulkheadFull`) runs `fallback`
    /// if there is one and returns its result.
    ///
    /// Every operation error counts as a breaker failure and is retried. An error of the
    /// operation reaches the caller as [`ResilienceError::Operation`]; so does one of the
    /// fallback.
    pub async fn execute<T, Op, Fut, Fb, FbFut>(
        &self,
        service: &str,
        operation_name: &str,
        operation: Op,
        fallback: Option<Fb>,
    ) -> Result<T, ResilienceError>
    where
        Op: FnMut() -> Fut,
        Fut: Future<Output = Result<T, BoxError>>,
        Fb: FnOnce() -> FbFut,
        FbFut: Future<Output = Result<T, BoxError>>,
    {
        if let Some(error) = &self.invalid {
            return Err(ResilienceError::Config(error.clone()));
        }
        let policies = self.policies(service, operation_name)?;
        let pipeline = Pipeline {
            retry: Some(&self.config.retry),
            circuit_breaker: Some(&policies.circuit_breaker),
            timeout: Some(self.config.timeout.timeout),
            bulkhead: Some(&policies.bulkhead),
        };
        match pipeline.run(|_| true, |_| true, operation).await {
            Ok(value) => Ok(value),
            Err(failure) => match fallback {
                Some(fallback) => fallback().await.map_err(ResilienceError::Operation),
                None => Err(match failure {
                    Failure::Operation(error) => ResilienceError::Operation(error),
                    Failure::Rejected(rejection) => rejection,
                }),
            },
        }
    }
}

impl ResilienceFacade {
    /// The breaker and bulkhead of `service`/`operation`, registered on first use.
    fn policies(
        &self,
        service: &str,
        operation: &str,
    ) -> Result<Arc<OperationPolicies>, ConfigError> {
        if let Some(policies) = self
            .operations
            .load()
            .get(service)
            .and_then(|operations| operations.get(operation))
        {
            return Ok(Arc::clone(policies));
        }
        let name = format!("{service}/{operation}");
        let policies = Arc::new(OperationPolicies {
            circuit_breaker: self
                .registry
                .circuit_breaker_or_register(&name, &self.config.circuit_breaker)?,
            bulkhead: self
                .registry
                .bulkhead_or_register(&name, &self.config.bulkhead)?,
        });
        self.operations.rcu(|operations| {
            let mut operations = Operations::clone(operations);
            operations
                .entry(service.to_owned())
                .or_default()
                .insert(operation.to_owned(), Arc::clone(&policies));
            operations
        });
        Ok(policies)
    }
}

impl From<BoxError> for ResilienceError {
    fn from(error: BoxError) -> Self {
        ResilienceError::Operation(error)
    }
}
