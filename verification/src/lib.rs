//! The runtime's state machines checked against their TLA+ specifications (`specs/`).
//!
//! TLC cannot be installed here, so each spec's actions are transcribed into Rust, one function
//! per action with the action's name in snake case, and explored with `stateright` under the
//! constants of the spec's `.cfg`. Each module also drives the runtime's own pure transition
//! function the way its driver does and maps the result back to the spec's variables, so the
//! same checker explores the implementation, and `check_refinement` compares the two action by
//! action. `specs/README.md` lists what is checked and what is not.
//!
//! Nothing here is used by the runtime: this crate exists for its tests.

pub mod bulkhead;
pub mod cfg;
pub mod circuit_breaker;
pub mod discovery;
pub mod explore;
pub mod liveness;
pub mod pipeline;
pub mod retry;
