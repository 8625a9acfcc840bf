//! The programmatic API on a flaky operation: retries, a breaker that opens, and a fallback.
//!
//! Run with `cargo run --example facade`.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use resilience::{
    BoxError, BulkheadConfig, CircuitBreakerConfig, ResilienceConfig, ResilienceFacade,
    RetryConfig, TimeoutConfig, registry,
};

static CALLS: AtomicU32 = AtomicU32::new(0);

/// Fails two calls out of three, and every call from the 10th on (an outage).
async fn flaky() -> Result<&'static str, BoxError> {
    let n = CALLS.fetch_add(1, Ordering::Relaxed);
    if n >= 10 || !n.is_multiple_of(3) {
        Err(format!("call {n} failed").into())
    } else {
        Ok("fresh data")
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let resilience = ResilienceFacade::try_with_config(ResilienceConfig {
        circuit_breaker: CircuitBreakerConfig {
            max_failures: 3,
            reset_timeout: Duration::from_secs(1),
            half_open_allowed_calls: 1,
            ..Default::default()
        },
        retry: RetryConfig {
            max_retries: 2,
            base_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            jitter_factor: 0.1,
            ..Default::default()
        },
        timeout: TimeoutConfig {
            timeout: Duration::from_millis(200),
        },
        bulkhead: BulkheadConfig {
            max_concurrent_calls: 4,
            max_queue_size: 8,
            ..Default::default()
        },
    })?;

    for request in 1..=8 {
        let answer = resilience
            .execute(
                "inventory",
                "get_stock",
                flaky,
                Some(|| async { Ok("cached data") }),
            )
            .await?;
        let breaker = registry()
            .circuit_breaker("inventory/get_stock")
            .ok_or("the breaker is registered on first use")?;
        println!(
            "request {request}: {answer:<11} breaker {:?}, {:?}",
            breaker.state(),
            breaker.metrics()
        );
    }
    println!("operation calls made: {}", CALLS.load(Ordering::Relaxed));
    Ok(())
}
