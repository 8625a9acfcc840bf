//! The atomics of the lock-free per-call state (endpoints' counters, the ejection limit, the
//! balancers' counters): `std`'s, or loom's under `cfg(loom)` so the loom tests explore their
//! interleavings.
//!
//! Only this crate is built with `--cfg loom` (`cargo rustc --lib --profile test -- --cfg loom`,
//! run by `scripts/test`): built for the whole dependency graph, the flag would take
//! `tokio::net` away from reqwest and the TCP health check.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize};
