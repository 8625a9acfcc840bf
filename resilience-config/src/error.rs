use std::fmt;

/// A configuration value outside the contract's valid range.
///
/// `key` is spelled as in the attribute (and in a configuration file), so the attribute macros
/// put their compile error on that key's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The policy the value belongs to (`circuit_breaker`, `retry`, …).
    pub policy: &'static str,
    /// The offending key, as spelled in the attribute.
    pub key: &'static str,
    /// What is wrong with it, phrased as the rule it breaks (e.g. "must be at least 1"); it
    /// reads after the key: "`window` must be in 1 ..= 1048576".
    pub problem: String,
}

impl ConfigError {
    /// The error for `key` of `policy`, which breaks the rule `problem`.
    pub fn new(policy: &'static str, key: &'static str, problem: impl Into<String>) -> Self {
        ConfigError {
            policy,
            key,
            problem: problem.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} configuration: `{}` {}",
            self.policy, self.key, self.problem
        )
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_policy_key_and_problem() {
        let error = ConfigError::new("bulkhead", "max_wait", "must be more than 0");
        assert_eq!(
            error.to_string(),
            "invalid bulkhead configuration: `max_wait` must be more than 0"
        );
    }
}
