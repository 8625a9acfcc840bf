//! `#[timeout]`: a slow call is cancelled after the timeout, a fast one is not.
//! Run with `cargo run --example timeout`.

use std::time::Duration;

use resilience::{ResilienceError, timeout};

#[derive(Debug)]
#[allow(dead_code)] // the fields are shown through `Debug`
enum ApiError {
    Rejected(ResilienceError),
}

impl From<ResilienceError> for ApiError {
    fn from(rejection: ResilienceError) -> Self {
        ApiError::Rejected(rejection)
    }
}

/// Prints when its future is dropped before it finished: the timeout really cancels.
struct Cancelled(&'static str);

impl Drop for Cancelled {
    fn drop(&mut self) {
        println!("  ({} was cancelled)", self.0);
    }
}

#[timeout("100ms")]
async fn lookup(name: &'static str, takes: Duration) -> Result<&'static str, ApiError> {
    let guard = Cancelled(name);
    tokio::time::sleep(takes).await;
    std::mem::forget(guard);
    Ok(name)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    println!(
        "fast: {:?}",
        lookup("fast", Duration::from_millis(10)).await
    );
    println!("slow: {:?}", lookup("slow", Duration::from_secs(5)).await);
}
