//! API keys: named secrets, read from the environment or a file, compared in constant time,
//! never logged (their `Debug` shows the names only).
//!
//! The format, in a variable or a file: one `name=secret` per line or comma-separated; blank
//! lines and lines starting with `#` are skipped. A client sends its secret in `x-api-key` (or
//! `Authorization: Bearer <secret>`); a route lists the names it admits.

use std::fmt;
use std::path::Path;

use subtle::ConstantTimeEq;

use crate::GatewayError;

/// The gateway's API keys: named secrets, compared in constant time; `Debug` shows the names
/// only. A client sends its secret in `x-api-key` (or `Authorization: Bearer <secret>`).
#[derive(Clone, Default)]
pub struct ApiKeys {
    keys: Vec<(String, Vec<u8>)>,
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiKeys")
            .field(
                "names",
                &self.keys.iter().map(|(name, _)| name).collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

/// What a request's credentials are worth on one route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// The route needs no key, or the key is one of those it admits.
    Granted,
    /// No key, or a key that is none of the gateway's: `401`.
    Unauthenticated,
    /// A valid key the route does not admit: `403`.
    Forbidden,
}

impl ApiKeys {
    /// Parses `name=secret` entries, one per line or comma-separated; blank lines and lines
    /// starting with `#` are skipped.
    pub fn parse(text: &str) -> Result<ApiKeys, GatewayError> {
        let mut keys: Vec<(String, Vec<u8>)> = Vec::new();
        for (index, entry) in text.split(['\n', ',']).enumerate() {
            let entry = entry.trim();
            if entry.is_empty() || entry.starts_with('#') {
                continue;
            }
            // The entry is never echoed: it holds a secret.
            let Some((name, secret)) = entry.split_once('=') else {
                return Err(GatewayError::Keys(format!(
                    "entry {}: expected `name=secret`",
                    index + 1
                )));
            };
            let (name, secret) = (name.trim(), secret.trim());
            if name.is_empty() || secret.is_empty() {
                return Err(GatewayError::Keys(format!(
                    "entry {}: empty name or secret",
                    index + 1
                )));
            }
            if keys.iter().any(|(known, _)| known == name) {
                return Err(GatewayError::Keys(format!("key `{name}` is defined twice")));
            }
            keys.push((name.to_owned(), secret.as_bytes().to_vec()));
        }
        Ok(ApiKeys { keys })
    }

    /// The keys in the environment variable `variable` (none if it is unset).
    pub fn from_env(variable: &str) -> Result<ApiKeys, GatewayError> {
        match std::env::var(variable) {
            Ok(text) => Self::parse(&text),
            Err(std::env::VarError::NotPresent) => Ok(ApiKeys::default()),
            Err(std::env::VarError::NotUnicode(_)) => Err(GatewayError::Keys(format!(
                "`{variable}` is not valid UTF-8"
            ))),
        }
    }

    /// The keys in the file at `path`.
    pub fn from_file(path: impl AsRef<Path>) -> Result<ApiKeys, GatewayError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .map_err(|error| GatewayError::Keys(format!("{}: {error}", path.display())))?;
        Self::parse(&text)
    }

    /// Whether a key of that name exists.
    pub fn contains(&self, name: &str) -> bool {
        self.keys.iter().any(|(known, _)| known == name)
    }

    /// The name of the key whose secret is `presented`. Every key is compared, each in constant
    /// time, so the time taken says nothing about which key (or how much of one) matched.
    fn identify(&self, presented: &[u8]) -> Option<&str> {
        let mut found = None;
        for (name, secret) in &self.keys {
            if bool::from(secret.as_slice().ct_eq(presented)) {
                found = Some(name.as_str());
            }
        }
        found
    }

    /// What `presented` (the request's secret, if any) grants on a route admitting `allowed`
    /// (`None`: an open route).
    pub(crate) fn check(&self, allowed: Option<&[String]>, presented: Option<&[u8]>) -> Access {
        let Some(allowed) = allowed else {
            return Access::Granted;
        };
        let Some(name) = presented.and_then(|secret| self.identify(secret)) else {
            return Access::Unauthenticated;
        };
        if allowed.iter().any(|admitted| admitted == name) {
            Access::Granted
        } else {
            Access::Forbidden
        }
    }
}

/// The secret a request presents: `x-api-key`, or `Authorization: Bearer …`.
pub(crate) fn presented(headers: &http::HeaderMap) -> Option<&[u8]> {
    if let Some(value) = headers.get("x-api-key") {
        return Some(value.as_bytes());
    }
    let value = headers.get(http::header::AUTHORIZATION)?.as_bytes();
    value
        .strip_prefix(b"Bearer ")
        .or_else(|| value.strip_prefix(b"bearer "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_entries_and_never_shows_secrets() {
        let keys = ApiKeys::parse("# ops\nweb = s3cret\nops=hunter2, batch=xyz").unwrap();
        assert!(keys.contains("web") && keys.contains("ops") && keys.contains("batch"));
        let shown = format!("{keys:?}");
        assert!(shown.contains("web") && !shown.contains("s3cret") && !shown.contains("hunter2"));
        for (bad, secret) in [
            ("web", "web"),
            ("=xyzzy", "xyzzy"),
            ("web=", "web="),
            ("a=s3cr3t\na=other", "s3cr3t"),
        ] {
            let error = ApiKeys::parse(bad).unwrap_err().to_string();
            assert!(!error.contains(secret) || secret == "web", "{error}");
        }
    }

    #[test]
    fn access_per_route() {
        let keys = ApiKeys::parse("web=aaa,ops=bbb").unwrap();
        let allowed = ["web".to_owned()];
        assert_eq!(keys.check(None, None), Access::Granted);
        assert_eq!(keys.check(Some(&allowed), None), Access::Unauthenticated);
        assert_eq!(
            keys.check(Some(&allowed), Some(b"zzz")),
            Access::Unauthenticated
        );
        assert_eq!(
            keys.check(Some(&allowed), Some(b"aa")),
            Access::Unauthenticated
        );
        assert_eq!(keys.check(Some(&allowed), Some(b"bbb")), Access::Forbidden);
        assert_eq!(keys.check(Some(&allowed), Some(b"aaa")), Access::Granted);
    }
}
