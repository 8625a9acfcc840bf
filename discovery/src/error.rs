//! Errors of the discovery API: each says what was wrong and with which instance or service.

use crate::id::InstanceId;

/// Why a discovery operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DiscoveryError {
    /// A registration was malformed (bad metadata, empty host, port 0, …); nothing changed.
    #[error("invalid instance `{id}`: {reason}")]
    InvalidInstance {
        /// The instance that was refused.
        id: InstanceId,
        /// What is wrong with it.
        reason: String,
    },
    /// A configuration value is out of its range ([`DiscoveryConfig::validate`]); nothing was
    /// built.
    ///
    /// [`DiscoveryConfig::validate`]: crate::DiscoveryConfig::validate
    #[error("invalid discovery configuration: `{key}` {problem}")]
    InvalidConfig {
        /// The field, as spelled in `DiscoveryConfig` (`outlier.` for `OutlierConfig`'s).
        key: &'static str,
        /// The rule it breaks, e.g. "must be at least 1".
        problem: String,
    },
    /// The service already has `max_instances` instances; nothing changed.
    #[error("service `{service}` already has the maximum of {max} instances")]
    TooManyInstances {
        /// The service.
        service: String,
        /// `DiscoveryConfig::max_instances`.
        max: usize,
    },
    /// No instance with this id is registered.
    #[error("no instance `{id}` is registered")]
    UnknownInstance {
        /// The id that was looked up.
        id: InstanceId,
    },
    /// The service has no eligible (registered, healthy, not ejected, matching) instance.
    #[error("no eligible instance of service `{service}`")]
    NoInstance {
        /// The service.
        service: String,
    },
    /// A version requirement did not parse.
    #[error("invalid version requirement `{requirement}`: {reason}")]
    InvalidRequirement {
        /// The requirement as written.
        requirement: String,
        /// The parser's explanation.
        reason: String,
    },
    /// `set_global` was called after the global discovery was set or first used.
    #[error(
        "the global service discovery is already set (set_global must be called once, before first use)"
    )]
    GlobalAlreadySet,
    /// The registry backend's store cannot be used (no etcd endpoint answers, invalid options).
    #[error("registry backend: {reason}")]
    Backend {
        /// What failed, and how to fix it.
        reason: String,
    },
    /// A lease that does not exist (expired or revoked).
    #[error("lease {lease} does not exist (expired or revoked)")]
    UnknownLease {
        /// The lease id.
        lease: u64,
    },
}

impl From<DiscoveryError> for resilience_runtime::ResilienceError {
    fn from(error: DiscoveryError) -> Self {
        match error {
            DiscoveryError::NoInstance { service } => {
                resilience_runtime::ResilienceError::NoInstance { service }
            }
            other => resilience_runtime::ResilienceError::Operation(Box::new(other)),
        }
    }
}
