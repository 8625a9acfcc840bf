//! The atomics of the lock-free structures, and the bulkhead's wait-queue mutex: `std`'s, or
//! loom's under `cfg(loom)` so the loom tests (`tests/loom.rs`, the `mod loom`s) explore their
//! interleavings.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Mutex, MutexGuard};
