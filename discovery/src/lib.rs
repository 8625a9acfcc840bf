//! Service discovery for `resilience`: a registry of service instances, health checking, load
//! balancing and routing (CONTRACT §5).
//!
//! This crate is a skeleton until the discovery issue lands; it is re-exported as
//! `resilience::discovery` so the facade's shape is already final.
