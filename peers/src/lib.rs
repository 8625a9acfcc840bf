//! Not published: the peer benchmark of `resilience` (`benches/peers.rs`, our policies against
//! the crates a user would pick instead, side by side in one process) and the load-balancing
//! scenario on loopback (`benches/scenario.rs`). The peer crates are this crate's dependencies
//! only, so they never reach the published crates. `scripts/bench` runs both and writes
//! `BENCHMARKS.md`.
