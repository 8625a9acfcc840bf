//! Service instances: address, metadata, and the attributes read from metadata (`version`,
//! `zone`, `env`, `weight`), validated once at registration. Their id is `id.rs`'s.

use std::collections::HashMap;

use crate::error::DiscoveryError;
use crate::id::InstanceId;

/// One instance of a service, as registered.
///
/// The metadata keys `version` (semver), `zone`, `env` and `weight` (a whole number ≥ 1,
/// default 1) have meaning to routing and load balancing; a malformed value is refused at
/// registration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Instance {
    /// Service and instance id.
    pub id: InstanceId,
    /// Host: an IP address (IPv6 with or without brackets) or a DNS name; never a port, a
    /// scheme or a path (`"127.0.0.1:9000"` is refused at registration).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Free-form metadata; see the type's documentation for the keys with meaning.
    pub metadata: HashMap<String, String>,
}

/// The largest weight accepted.
pub const MAX_WEIGHT: u32 = 10_000;

impl Instance {
    /// An instance with no metadata.
    pub fn new(
        service: impl Into<String>,
        id: impl Into<String>,
        host: impl Into<String>,
        port: u16,
    ) -> Self {
        Instance {
            id: InstanceId::new(service, id),
            host: host.into(),
            port,
            metadata: HashMap::new(),
        }
    }

    /// Adds a metadata entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// `http://host:port` (an IPv6 host in brackets).
    pub fn base_url(&self) -> String {
        if self.host.contains(':') && !self.host.starts_with('[') {
            format!("http://[{}]:{}", self.host, self.port)
        } else {
            format!("http://{}:{}", self.host, self.port)
        }
    }

    /// The instance's attributes, or why its registration is refused.
    pub(crate) fn attributes(&self) -> Result<Attributes, DiscoveryError> {
        let invalid = |reason: String| DiscoveryError::InvalidInstance {
            id: self.id.clone(),
            reason,
        };
        if self.id.service.trim().is_empty() {
            return Err(invalid("the service name is empty".into()));
        }
        if self.id.id.trim().is_empty() {
            return Err(invalid("the instance id is empty".into()));
        }
        if let Err(problem) = check_host(&self.host) {
            return Err(invalid(format!("the host {:?} {problem}", self.host)));
        }
        if self.port == 0 {
            return Err(invalid("the port is 0".into()));
        }
        let version = match self.metadata.get("version") {
            Some(text) => Some(semver::Version::parse(text.trim_start_matches('v')).map_err(
                |error| invalid(format!("metadata `version = {text:?}` is not a semantic version (e.g. \"2.1.0\"): {error}")),
            )?),
            None => None,
        };
        let weight = match self.metadata.get("weight") {
            Some(text) => match text.parse::<u32>() {
                Ok(weight) if (1..=MAX_WEIGHT).contains(&weight) => weight,
                _ => {
                    return Err(invalid(format!(
                        "metadata `weight = {text:?}` must be a whole number in 1 ..= {MAX_WEIGHT}"
                    )));
                }
            },
            None => 1,
        };
        Ok(Attributes {
            version,
            zone: self.metadata.get("zone").cloned(),
            env: self.metadata.get("env").cloned(),
            weight,
        })
    }
}

/// Why `host` is not an IP literal (IPv6 optionally in brackets) or a DNS name (RFC 1123
/// labels of letters, digits, `-` and `_`, at most 63 bytes each and 253 in all, optionally
/// ending in a dot, the last label not all digits, which a URL would read as an IPv4 address).
fn check_host(host: &str) -> Result<(), &'static str> {
    use std::net::{Ipv4Addr, Ipv6Addr};
    if host.is_empty() {
        return Err("is empty");
    }
    if let Some(inner) = host.strip_prefix('[') {
        return match inner.strip_suffix(']').map(str::parse::<Ipv6Addr>) {
            Some(Ok(_)) => Ok(()),
            _ => Err("is not an IPv6 address in brackets"),
        };
    }
    if host.parse::<Ipv6Addr>().is_ok() || host.parse::<Ipv4Addr>().is_ok() {
        return Ok(());
    }
    if host.contains(':') {
        return Err("is not an IP address or a DNS name (a port belongs in `port`)");
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    if name.len() > 253 {
        return Err("is longer than a DNS name may be (253 bytes)");
    }
    let mut last = "";
    for label in name.split('.') {
        let valid = (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !valid {
            return Err("is not an IP address or a DNS name");
        }
        last = label;
    }
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err("is not an IP address or a DNS name (a numeric last label)");
    }
    Ok(())
}

/// What the well-known metadata keys say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Attributes {
    pub(crate) version: Option<semver::Version>,
    pub(crate) zone: Option<String>,
    pub(crate) env: Option<String>,
    pub(crate) weight: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_known_metadata_is_parsed() {
        let instance = Instance::new("svc", "a", "127.0.0.1", 80)
            .with_metadata("version", "2.1.0")
            .with_metadata("weight", "3")
            .with_metadata("env", "prod");
        let attributes = instance.attributes().unwrap();
        assert_eq!(attributes.version, Some(semver::Version::new(2, 1, 0)));
        assert_eq!(attributes.weight, 3);
        assert_eq!(attributes.env.as_deref(), Some("prod"));
    }

    #[test]
    fn malformed_metadata_is_refused_with_a_reason() {
        for (key, value) in [("weight", "x"), ("weight", "0"), ("version", "two")] {
            let instance = Instance::new("svc", "a", "127.0.0.1", 80).with_metadata(key, value);
            let error = instance.attributes().unwrap_err();
            assert!(error.to_string().contains(key), "{error}");
        }
    }
}
