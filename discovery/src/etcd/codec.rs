//! The etcd key layout and value format: `<prefix>/<service>/<instance-id>` → the instance as
//! JSON (`service`, `id`, `host`, `port`, `metadata`). Decoding never panics: a value that is
//! not an instance of its key is an error the caller logs and skips.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::id::InstanceId;
use crate::instance::Instance;

/// The JSON of one instance (the contract's field names).
#[derive(Serialize, Deserialize)]
struct Wire {
    service: String,
    id: String,
    host: String,
    port: u16,
    #[serde(default)]
    metadata: HashMap<String, String>,
}

/// `<prefix>/<service>/<id>`.
pub(crate) fn key(prefix: &str, id: &InstanceId) -> String {
    format!("{prefix}/{}/{}", id.service, id.id)
}

/// The instance a key names, if it is under `prefix` and has both parts.
pub(crate) fn parse_key(prefix: &str, key: &[u8]) -> Option<InstanceId> {
    let key = std::str::from_utf8(key).ok()?;
    let rest = key.strip_prefix(prefix)?.strip_prefix('/')?;
    let (service, id) = rest.split_once('/')?;
    if service.is_empty() || id.is_empty() {
        return None;
    }
    Some(InstanceId::new(service, id))
}

pub(crate) fn encode(instance: &Instance) -> String {
    let wire = Wire {
        service: instance.id.service.clone(),
        id: instance.id.id.clone(),
        host: instance.host.clone(),
        port: instance.port,
        metadata: instance.metadata.clone(),
    };
    // A struct of strings and a number always serializes.
    serde_json::to_string(&wire).unwrap_or_default()
}

/// The instance stored under `id`'s key, or why the value is not one.
pub(crate) fn decode(id: &InstanceId, value: &[u8]) -> Result<Instance, String> {
    let wire: Wire = serde_json::from_slice(value)
        .map_err(|error| format!("not an instance as JSON: {error}"))?;
    if wire.service != id.service || wire.id != id.id {
        return Err(format!(
            "its value names `{}/{}`, not the key's `{id}`",
            wire.service, wire.id
        ));
    }
    Ok(Instance {
        id: id.clone(),
        host: wire.host,
        port: wire.port,
        metadata: wire.metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_round_trips_through_its_key_and_value() {
        let instance = Instance::new("users", "a-1", "10.0.0.1", 8080).with_metadata("zone", "z");
        let key = key("/p", &instance.id);
        assert_eq!(key, "/p/users/a-1");
        let id = parse_key("/p", key.as_bytes()).unwrap();
        assert_eq!(decode(&id, encode(&instance).as_bytes()), Ok(instance));
    }

    #[test]
    fn keys_outside_the_layout_and_mismatched_values_are_refused() {
        assert_eq!(parse_key("/p", b"/p/users"), None);
        assert_eq!(parse_key("/p", b"/q/users/a"), None);
        assert_eq!(parse_key("/p", b"/p/users/"), None);
        let id = InstanceId::new("users", "a");
        assert!(decode(&id, b"{not json").is_err());
        let other = Instance::new("orders", "a", "h", 1);
        assert!(
            decode(&id, encode(&other).as_bytes())
                .unwrap_err()
                .contains("orders/a")
        );
    }
}
