//! Every duration form of the contract: units, compound durations, zero where it is allowed.
use resilience::{ResilienceError, bulkhead, circuit_breaker, retry, timeout};

#[derive(Debug)]
pub struct MyError(pub ResilienceError);

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError(error)
    }
}

#[retry(base_delay = "0ms", max_delay = "0ms")]
async fn zero_base_delay() -> Result<(), MyError> {
    Ok(())
}

#[retry(base_delay = "0ms")]
async fn zero_base_delay_default_max() -> Result<(), MyError> {
    Ok(())
}

#[retry(base_delay = "1s 500ms", max_delay = "1m", max_duration = "1h")]
async fn compound_durations() -> Result<(), MyError> {
    Ok(())
}

#[timeout("1s 500ms")]
async fn compound_timeout() -> Result<(), MyError> {
    Ok(())
}

#[timeout("250us")]
async fn microseconds() -> Result<(), MyError> {
    Ok(())
}

#[timeout("1ns")]
async fn one_nanosecond() -> Result<(), MyError> {
    Ok(())
}

#[circuit_breaker(reset_timeout = "1h 30m")]
async fn hours_and_minutes() -> Result<(), MyError> {
    Ok(())
}

#[bulkhead(max_wait = "2s")]
async fn max_wait() -> Result<(), MyError> {
    Ok(())
}

fn main() {
    let _ = (
        zero_base_delay(),
        zero_base_delay_default_max(),
        compound_durations(),
        compound_timeout(),
        microseconds(),
        one_nanosecond(),
        hours_and_minutes(),
        max_wait(),
    );
}
