//! The seed example of the foundation issue, compiled and run as written (with the crate renamed
//! and `..Default::default()` added where our config structs have more fields).

use std::time::Duration;

use resilience::{
    BulkheadConfig, CircuitBreakerConfig, ResilienceConfig, ResilienceFacade, RetryConfig,
    TimeoutConfig,
};

#[tokio::test(start_paused = true)]
async fn seed_example_runs() -> Result<(), Box<dyn std::error::Error>> {
    let resilience = ResilienceFacade::new();
    let result = resilience
        .execute(
            "my_service",
            "get_data",
            || async { Ok("Data retrieved successfully") },
            Some(|| async { Ok("Fallback data") }),
        )
        .await?;
    assert_eq!(result, "Data retrieved successfully");

    let config = ResilienceConfig {
        circuit_breaker: CircuitBreakerConfig {
            max_failures: 5,
            reset_timeout: Duration::from_secs(10),
            half_open_allowed_calls: 2,
            ..Default::default()
        },
        retry: RetryConfig {
            max_retries: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            jitter_factor: 0.1,
            ..Default::default()
        },
        timeout: TimeoutConfig {
            timeout: Duration::from_millis(500),
        },
        bulkhead: BulkheadConfig {
            max_concurrent_calls: 20,
            max_queue_size: 50,
            ..Default::default()
        },
    };
    let resilience = ResilienceFacade::with_config(config);
    let result = resilience
        .execute(
            "my_service",
            "get_data_configured",
            || async { Err::<&str, _>("down".into()) },
            Some(|| async { Ok("Fallback data") }),
        )
        .await?;
    assert_eq!(result, "Fallback data");
    Ok(())
}
