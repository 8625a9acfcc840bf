//! `#[bulkhead]`: ten callers, two slots and a queue of five: two run, five wait their turn,
//! three are turned away at once. Run with `cargo run --example bulkhead`.

use std::time::Duration;

use resilience::{ResilienceError, bulkhead, registry};

#[derive(Debug)]
enum ApiError {
    Rejected(ResilienceError),
}

impl From<ResilienceError> for ApiError {
    fn from(rejection: ResilienceError) -> Self {
        ApiError::Rejected(rejection)
    }
}

#[bulkhead(name = "reports", max_concurrent_calls = 2, max_queue_size = 5)]
async fn render(id: u32) -> Result<u32, ApiError> {
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(id)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let callers: Vec<_> = (1..=10).map(|id| tokio::spawn(render(id))).collect();
    tokio::task::yield_now().await;
    if let Some(bulkhead) = registry().bulkhead("reports") {
        println!(
            "running {}, queued {}",
            bulkhead.in_flight(),
            bulkhead.queued()
        );
    }
    for caller in callers {
        match caller.await {
            Ok(Ok(id)) => println!("report {id}: rendered"),
            Ok(Err(ApiError::Rejected(rejection))) => println!("rejected: {rejection}"),
            Err(panic) => println!("task failed: {panic}"),
        }
    }
}
