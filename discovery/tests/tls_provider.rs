//! reqwest through our re-export works out of the box (its own process: the rustls provider is
//! process-wide state). Before, `reqwest::Client::new()` panicked with "No rustls crypto
//! provider is configured": reqwest is built without a provider and none was installed.

use resilience_discovery::{ServiceDiscovery, reqwest};

#[test]
fn reqwest_clients_build_once_a_discovery_exists() {
    let _discovery = ServiceDiscovery::new();
    let built = std::panic::catch_unwind(reqwest::Client::new);
    assert!(built.is_ok(), "reqwest::Client::new() panicked");
    let https = reqwest::Client::builder().https_only(true).build();
    assert!(https.is_ok(), "{https:?}");
}
