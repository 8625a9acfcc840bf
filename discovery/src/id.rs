//! [`InstanceId`]: how every part of discovery (registry, catalog, health, errors) names an
//! instance. A module of its own that depends on no other, so that errors can name an instance
//! while the validation of instances (`instance.rs`) returns those errors.

use std::fmt;

/// Identifies one instance of one service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId {
    /// The service's name, e.g. `"user-service"`.
    pub service: String,
    /// The instance's id, unique within the service.
    pub id: String,
}

impl InstanceId {
    /// `service`/`id`.
    pub fn new(service: impl Into<String>, id: impl Into<String>) -> Self {
        InstanceId {
            service: service.into(),
            id: id.into(),
        }
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.service, self.id)
    }
}
