//! The routes file: which path prefix goes to which service, and who may call it.
//!
//! ```toml
//! # Policies of every upstream (optional; each key as in `resilience::ResilienceConfig`'s parts).
//! [upstream]
//! timeout = "2s"        # each attempt
//! max_retries = 2       # budgeted retries (20 % of requests + 10/s over 10 s)
//! max_concurrent = 64   # the bulkhead's slots
//!
//! [[route]]
//! prefix = "/users"     # matched on whole path segments: `/users`, `/users/7`, not `/usersx`
//! service = "users"     # the discovery service name
//! version = "^1.2"      # optional semver requirement on the instances' `version` metadata
//! keys = ["web", "ops"] # optional: API key names allowed; absent = no authentication
//! strip_prefix = false  # optional: forward `/users/7` as `/7`
//! ```
//!
//! The longest matching prefix wins. The file is parsed and every route checked before any of it
//! is used: a bad file is one [`GatewayError`], and the routes in use stay as they were.

use std::time::Duration;

use serde::Deserialize;

use crate::GatewayError;

/// A parsed routes file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoutesFile {
    /// The policies of every upstream.
    #[serde(default)]
    pub upstream: UpstreamPolicies,
    /// The routes, in any order.
    #[serde(default, rename = "route")]
    pub routes: Vec<RouteConfig>,
}

/// One `[[route]]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RouteConfig {
    /// The path prefix, starting with `/`.
    pub prefix: String,
    /// The service the route's requests go to.
    pub service: String,
    /// A semver requirement on the instances' `version` metadata.
    #[serde(default)]
    pub version: Option<String>,
    /// The names of the API keys allowed on this route; `None`: no authentication.
    #[serde(default)]
    pub keys: Option<Vec<String>>,
    /// Whether the prefix is removed from the path sent upstream.
    #[serde(default)]
    pub strip_prefix: bool,
}

/// `[upstream]`: the policies each upstream service gets (one breaker, bulkhead and retry
/// budget per service, named `gateway.<service>` in the registry).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamPolicies {
    /// Each attempt's timeout (the duration syntax of the overrides: `500ms`, `2s`).
    pub timeout: String,
    /// Retries after the first attempt (within the retry budget).
    pub max_retries: u32,
    /// The bulkhead's concurrent calls per upstream service.
    pub max_concurrent: u32,
    /// The breaker opens after this many consecutive failures.
    pub max_failures: u32,
}

impl Default for UpstreamPolicies {
    fn default() -> Self {
        UpstreamPolicies {
            timeout: "2s".to_owned(),
            max_retries: 2,
            max_concurrent: 256,
            max_failures: 5,
        }
    }
}

impl RoutesFile {
    /// Parses a routes file (syntax and field types only; [`crate::Gateway::reload`] checks the
    /// routes against the discovery and the keys).
    pub fn parse(text: &str) -> Result<RoutesFile, GatewayError> {
        let file: RoutesFile =
            toml::from_str(text).map_err(|error| GatewayError::Routes(error.to_string()))?;
        for route in &file.routes {
            if !route.prefix.starts_with('/') {
                return Err(GatewayError::Routes(format!(
                    "route `{}`: `prefix` must start with `/`",
                    route.prefix
                )));
            }
            if route.service.trim().is_empty() {
                return Err(GatewayError::Routes(format!(
                    "route `{}`: `service` must not be empty",
                    route.prefix
                )));
            }
        }
        let mut prefixes: Vec<&str> = file
            .routes
            .iter()
            .map(|route| normalise(&route.prefix))
            .collect();
        prefixes.sort_unstable();
        if let Some(pair) = prefixes.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(GatewayError::Routes(format!(
                "route `{}` is defined twice",
                pair[0]
            )));
        }
        Ok(file)
    }
}

impl UpstreamPolicies {
    /// The attempt timeout, parsed.
    pub(crate) fn timeout(&self) -> Result<Duration, GatewayError> {
        parse_duration(&self.timeout).ok_or_else(|| {
            GatewayError::Routes(format!(
                "[upstream] timeout: `{}` is not a duration (`500ms`, `2s`, `1m`)",
                self.timeout
            ))
        })
    }
}

/// `500ms`, `2s`, `1m`, `250us`.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (amount, unit) = text.split_at(split);
    let amount: u64 = amount.parse().ok()?;
    Some(match unit {
        "us" => Duration::from_micros(amount),
        "ms" => Duration::from_millis(amount),
        "s" => Duration::from_secs(amount),
        "m" => Duration::from_secs(amount.checked_mul(60)?),
        _ => return None,
    })
}

/// A prefix without its trailing `/` (`/users/` is `/users`; `/` stays `/`).
pub(crate) fn normalise(prefix: &str) -> &str {
    match prefix.trim_end_matches('/') {
        "" => "/",
        trimmed => trimmed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_routes_and_defaults() {
        let file = RoutesFile::parse(
            r#"
            [[route]]
            prefix = "/users"
            service = "users"
            version = "^1"
            keys = ["web"]
            "#,
        )
        .unwrap();
        assert_eq!(file.routes.len(), 1);
        assert_eq!(file.routes[0].version.as_deref(), Some("^1"));
        assert_eq!(file.upstream, UpstreamPolicies::default());
    }

    #[test]
    fn bad_files_are_errors_that_say_why() {
        for (text, says) in [
            ("[[route]\nprefix = 1", "TOML parse error"),
            ("[[route]]\nprefix = \"/a\"", "service"),
            (
                "[[route]]\nprefix = \"a\"\nservice = \"s\"",
                "must start with `/`",
            ),
            (
                "[[route]]\nprefix = \"/a\"\nservice = \"s\"\ncolour = 1",
                "colour",
            ),
            (
                "[[route]]\nprefix = \"/a\"\nservice = \"s\"\n[[route]]\nprefix = \"/a/\"\nservice = \"t\"",
                "twice",
            ),
        ] {
            let error = RoutesFile::parse(text).unwrap_err().to_string();
            assert!(error.contains(says), "{text:?}: {error}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Some(Duration::from_secs(60)));
        for bad in ["", "ms", "2", "2h", "-1s", "1.5s"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
