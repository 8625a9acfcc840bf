//! `#[circuit_breaker]`: a dependency that fails opens the breaker; after `reset_timeout` one
//! trial call closes it again. Run with `cargo run --example circuit_breaker`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use resilience::{ResilienceError, circuit_breaker, registry};

#[derive(Debug)]
#[allow(dead_code)] // the fields are shown through `Debug`
enum ApiError {
    Down,
    Rejected(ResilienceError),
}

impl From<ResilienceError> for ApiError {
    fn from(rejection: ResilienceError) -> Self {
        ApiError::Rejected(rejection)
    }
}

static HEALTHY: AtomicBool = AtomicBool::new(false);

#[circuit_breaker(name = "payments", max_failures = 3, reset_timeout = "200ms")]
async fn charge(cents: u64) -> Result<u64, ApiError> {
    if HEALTHY.load(Ordering::Relaxed) {
        Ok(cents)
    } else {
        Err(ApiError::Down)
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let show = |label: &str| {
        let breaker = registry()
            .circuit_breaker("payments")
            .expect("registered on first call");
        println!(
            "{label:<28} state {:?}, {:?}",
            breaker.state(),
            breaker.metrics()
        );
    };
    for call in 1..=5 {
        let outcome = charge(100).await;
        show(&format!("call {call}: {outcome:?}"));
    }
    HEALTHY.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let outcome = charge(100).await;
    show(&format!("after 250 ms: {outcome:?}"));
}
