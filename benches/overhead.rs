//! Overhead of each policy over a bare async fn (criterion).
fn main() {}
