//! The five layers: each is `Clone` (an `Arc` of its policies and the classifier) and built
//! from a registry name and the configuration structs of contract §6.
//!
//! Breakers and bulkheads come from the process-wide registry
//! ([`registry()`](crate::registry())), so a layer named `"user-service"` shares its breaker
//! with `#[circuit_breaker(name = "user-service")]` and with every other layer of that name:
//! one state, one set of counts. The retry budget of a name is likewise one
//! ([`RetryBudget::named`]).
//!
//! `new` never fails: a configuration out of range makes every call fail with
//! [`ResilienceError::Config`](crate::ResilienceError::Config) without running anything (as
//! [`ResilienceFacade`](crate::ResilienceFacade) does); `try_new` returns the error instead.

use std::sync::Arc;

use tower_layer::Layer;

use super::classify::HttpClassify;
use super::service::{Policies, Resilient, Retrying};
use crate::budget::{RetryBudget, RetryBudgetConfig};
use crate::bulkhead::BulkheadConfig;
use crate::circuit_breaker::CircuitBreakerConfig;
use crate::error::ConfigError;
use crate::facade::ResilienceConfig;
use crate::registry::registry;
use crate::retry::RetryConfig;
use crate::timeout::TimeoutConfig;

fn or_invalid(policies: Result<Policies, ConfigError>) -> Arc<Policies> {
    Arc::new(policies.unwrap_or_else(|error| Policies {
        invalid: Some(error),
        ..Policies::default()
    }))
}

fn default_budget(name: &str) -> Result<Option<Arc<RetryBudget>>, ConfigError> {
    RetryBudget::named(name, &RetryBudgetConfig::DEFAULT).map(Some)
}

macro_rules! classify_builder {
    ($layer:ident) => {
        impl<C> $layer<C> {
            /// The same layer with another classifier of responses (see
            /// [`Classify`](super::Classify)).
            pub fn classify<C2>(self, classify: C2) -> $layer<C2> {
                $layer {
                    policies: self.policies,
                    classify,
                }
            }
        }
    };
}

macro_rules! budget_builder {
    ($layer:ident) => {
        impl<C> $layer<C> {
            /// The same layer with another retry budget (`None`: retries limited only by the
            /// retry configuration). The default is the budget named like the layer, with
            /// [`RetryBudgetConfig::DEFAULT`] (20 % of requests plus 10 retries per second over
            /// 10 s).
            pub fn budget(self, budget: Option<Arc<RetryBudget>>) -> Self {
                let policies = match Arc::try_unwrap(self.policies) {
                    Ok(mut policies) => {
                        policies.budget = budget;
                        policies
                    }
                    Err(shared) => Policies {
                        circuit_breaker: shared.circuit_breaker.clone(),
                        timeout: shared.timeout,
                        bulkhead: shared.bulkhead.clone(),
                        retry: shared.retry.clone(),
                        budget,
                        invalid: shared.invalid.clone(),
                    },
                };
                $layer {
                    policies: Arc::new(policies),
                    classify: self.classify,
                }
            }
        }
    };
}

/// A circuit breaker (contract §2.1) as a tower layer: the registry's breaker of that name.
///
/// An open breaker fails requests with `CircuitOpen` without calling the inner service; a
/// failed response (see [`Classify`](super::Classify)), an inner error or a timeout from an
/// inner layer counts as a failure. The service is [`Resilient`].
#[derive(Debug, Clone)]
pub struct CircuitBreakerLayer<C = HttpClassify> {
    policies: Arc<Policies>,
    classify: C,
}

impl CircuitBreakerLayer {
    /// The layer of the breaker `name`, registered with `config` on first use.
    pub fn new(name: &str, config: CircuitBreakerConfig) -> Self {
        Self::build(name, &config).unwrap_or_else(|error| Self {
            policies: or_invalid(Err(error)),
            classify: HttpClassify,
        })
    }

    /// [`new`](Self::new), or the error of a configuration or name out of range.
    pub fn try_new(name: &str, config: CircuitBreakerConfig) -> Result<Self, ConfigError> {
        Self::build(name, &config)
    }

    fn build(name: &str, config: &CircuitBreakerConfig) -> Result<Self, ConfigError> {
        Ok(CircuitBreakerLayer {
            policies: Arc::new(Policies {
                circuit_breaker: Some(registry().circuit_breaker_or_register(name, config)?),
                ..Policies::default()
            }),
            classify: HttpClassify,
        })
    }
}

classify_builder!(CircuitBreakerLayer);

impl<S, C: Clone> Layer<S> for CircuitBreakerLayer<C> {
    type Service = Resilient<S, C>;
    fn layer(&self, inner: S) -> Self::Service {
        Resilient {
            inner,
            policies: Arc::clone(&self.policies),
            classify: self.classify.clone(),
        }
    }
}

/// A timeout (contract §2.3) as a tower layer: each request (the inner service's readiness
/// included) is bounded by `config.timeout`; on expiry its future is dropped and the request
/// fails with `Timeout`. The service is [`Resilient`].
///
/// The name is the policy's registry name for operators (a timeout has no shared state).
#[derive(Debug, Clone)]
pub struct TimeoutLayer<C = HttpClassify> {
    policies: Arc<Policies>,
    classify: C,
}

impl TimeoutLayer {
    /// The timeout `name` of `config.timeout`.
    pub fn new(name: &str, config: TimeoutConfig) -> Self {
        TimeoutLayer {
            policies: or_invalid(Self::build(name, &config)),
            classify: HttpClassify,
        }
    }

    /// [`new`](Self::new), or the error of a configuration or name out of range.
    pub fn try_new(name: &str, config: TimeoutConfig) -> Result<Self, ConfigError> {
        Ok(TimeoutLayer {
            policies: Arc::new(Self::build(name, &config)?),
            classify: HttpClassify,
        })
    }

    fn build(name: &str, config: &TimeoutConfig) -> Result<Policies, ConfigError> {
        crate::registry::validate_name("timeout", name)?;
        config.validate()?;
        Ok(Policies {
            timeout: Some(config.timeout),
            ..Policies::default()
        })
    }
}

classify_builder!(TimeoutLayer);

impl<S, C: Clone> Layer<S> for TimeoutLayer<C> {
    type Service = Resilient<S, C>;
    fn layer(&self, inner: S) -> Self::Service {
        Resilient {
            inner,
            policies: Arc::clone(&self.policies),
            classify: self.classify.clone(),
        }
    }
}

/// A bulkhead (contract §2.4) as a tower layer: the registry's bulkhead of that name.
///
/// Load shedding: the service is always ready; a request beyond `max_concurrent_calls` waits
/// in the FIFO queue (up to `max_queue_size` requests, each for at most `max_wait`), and beyond
/// that fails with `BulkheadFull` at once, without calling the inner service. The service is
/// [`Resilient`].
#[derive(Debug, Clone)]
pub struct BulkheadLayer<C = HttpClassify> {
    policies: Arc<Policies>,
    classify: C,
}

impl BulkheadLayer {
    /// The layer of the bulkhead `name`, registered with `config` on first use.
    pub fn new(name: &str, config: BulkheadConfig) -> Self {
        BulkheadLayer {
            policies: or_invalid(Self::build(name, &config)),
            classify: HttpClassify,
        }
    }

    /// [`new`](Self::new), or the error of a configuration or name out of range.
    pub fn try_new(name: &str, config: BulkheadConfig) -> Result<Self, ConfigError> {
        Ok(BulkheadLayer {
            policies: Arc::new(Self::build(name, &config)?),
            classify: HttpClassify,
        })
    }

    fn build(name: &str, config: &BulkheadConfig) -> Result<Policies, ConfigError> {
        Ok(Policies {
            bulkhead: Some(registry().bulkhead_or_register(name, config)?),
            ..Policies::default()
        })
    }
}

classify_builder!(BulkheadLayer);

impl<S, C: Clone> Layer<S> for BulkheadLayer<C> {
    type Service = Resilient<S, C>;
    fn layer(&self, inner: S) -> Self::Service {
        Resilient {
            inner,
            policies: Arc::clone(&self.policies),
            classify: self.classify.clone(),
        }
    }
}

/// Retry (contract §2.2) as a tower layer, with the retry budget named like the layer on by
/// default (see [`budget`](Self::budget)). The service is [`Retrying`]: it needs
/// `Request: Clone`, since each attempt sends a clone.
///
/// `CircuitOpen` from an inner layer is never retried; `Timeout` and `BulkheadFull` are;
/// failed responses and inner errors are. A `Retry-After` on the failed response (see
/// [`Classify::retry_after`](super::Classify::retry_after)) replaces the backoff's delay,
/// capped by `max_delay`.
#[derive(Debug, Clone)]
pub struct RetryLayer<C = HttpClassify> {
    policies: Arc<Policies>,
    classify: C,
}

impl RetryLayer {
    /// The retry `name` with `config`, and the budget `name`.
    pub fn new(name: &str, config: RetryConfig) -> Self {
        RetryLayer {
            policies: or_invalid(Self::build(name, config)),
            classify: HttpClassify,
        }
    }

    /// [`new`](Self::new), or the error of a configuration or name out of range.
    pub fn try_new(name: &str, config: RetryConfig) -> Result<Self, ConfigError> {
        Ok(RetryLayer {
            policies: Arc::new(Self::build(name, config)?),
            classify: HttpClassify,
        })
    }

    fn build(name: &str, config: RetryConfig) -> Result<Policies, ConfigError> {
        crate::registry::validate_name("retry", name)?;
        config.validate()?;
        Ok(Policies {
            retry: Some(config),
            budget: default_budget(name)?,
            ..Policies::default()
        })
    }
}

classify_builder!(RetryLayer);
budget_builder!(RetryLayer);

impl<S, C: Clone> Layer<S> for RetryLayer<C> {
    type Service = Retrying<S, C>;
    fn layer(&self, inner: S) -> Self::Service {
        Retrying {
            inner,
            policies: Arc::clone(&self.policies),
            classify: self.classify.clone(),
        }
    }
}

/// The whole pipeline of contract §2.7 below the fallback as one layer: retry (budgeted) →
/// circuit breaker → timeout → bulkhead → the inner service, composed by the runtime's one
/// composition, as the attributes and [`ResilienceFacade`](crate::ResilienceFacade) compose it.
///
/// The breaker and the bulkhead are the registry's, both named `name` (so they are shared with
/// the attributes and the other layers of that name); the budget is the one named `name`. The
/// service is [`Retrying`] (`Request: Clone`).
#[derive(Debug, Clone)]
pub struct ResilienceLayer<C = HttpClassify> {
    pub(crate) policies: Arc<Policies>,
    pub(crate) classify: C,
}

impl ResilienceLayer {
    /// The pipeline `name` with `config`.
    pub fn new(name: &str, config: ResilienceConfig) -> Self {
        ResilienceLayer {
            policies: or_invalid(Self::build(name, config)),
            classify: HttpClassify,
        }
    }

    /// [`new`](Self::new), or the error of a configuration or name out of range.
    pub fn try_new(name: &str, config: ResilienceConfig) -> Result<Self, ConfigError> {
        Ok(ResilienceLayer {
            policies: Arc::new(Self::build(name, config)?),
            classify: HttpClassify,
        })
    }

    fn build(name: &str, config: ResilienceConfig) -> Result<Policies, ConfigError> {
        config.validate()?;
        Ok(Policies {
            circuit_breaker: Some(
                registry().circuit_breaker_or_register(name, &config.circuit_breaker)?,
            ),
            timeout: Some(config.timeout.timeout),
            bulkhead: Some(registry().bulkhead_or_register(name, &config.bulkhead)?),
            budget: default_budget(name)?,
            retry: Some(config.retry),
            invalid: None,
        })
    }
}

classify_builder!(ResilienceLayer);
budget_builder!(ResilienceLayer);

impl<S, C: Clone> Layer<S> for ResilienceLayer<C> {
    type Service = Retrying<S, C>;
    fn layer(&self, inner: S) -> Self::Service {
        Retrying {
            inner,
            policies: Arc::clone(&self.policies),
            classify: self.classify.clone(),
        }
    }
}
