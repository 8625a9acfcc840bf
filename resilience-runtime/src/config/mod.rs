//! Configuration overrides (contract §7): a TOML file and the environment override the
//! attributes' arguments by registry name, without recompiling. Precedence: environment > file >
//! attribute > built-in default.
//!
//! This module parses and merges; [`Registry::apply`](crate::Registry::apply) validates
//! everything (with `resilience-config`'s rules, the one source of ranges) and applies it all or
//! nothing. It must not hold any policy's state.

pub(crate) mod merge;
mod overrides;
mod watch;

pub(crate) use overrides::PolicyOverride;
pub use overrides::{InvalidOverride, Origin, OverrideError, Overrides, normalize};
pub use watch::{WatchGuard, watch};
