//! `#[discover]` stacked with the five other attributes, first, last and in between: whichever
//! expands first collects the others, and the pipeline is the same (fallback → retry → circuit
//! breaker → timeout → bulkhead → discover → body). The fallback takes the parameters callers
//! pass, without the `ServiceClient`.
use resilience::{
    ResilienceError, ServiceClient, bulkhead, circuit_breaker, discover, fallback, retry, timeout,
};

#[derive(Debug)]
pub enum MyError {
    Down,
    Rejected(ResilienceError),
}

impl From<ResilienceError> for MyError {
    fn from(error: ResilienceError) -> Self {
        MyError::Rejected(error)
    }
}

async fn cached(id: u64, name: String) -> Result<String, MyError> {
    Ok(format!("cached {name}#{id}"))
}

#[discover("user-service", balancer = "round_robin")]
#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
async fn discover_first(id: u64, name: String, client: ServiceClient) -> Result<String, MyError> {
    if id == 0 {
        return Err(MyError::Down);
    }
    Ok(format!("{}{name}#{id}", client.base_url()))
}

#[circuit_breaker(max_failures = 3)]
#[retry(max_retries = 1, base_delay = "1ms")]
#[timeout("1s")]
#[bulkhead(max_concurrent_calls = 4)]
#[fallback(cached)]
#[discover("user-service", balancer = "round_robin")]
async fn discover_last(id: u64, client: ServiceClient, name: String) -> Result<String, MyError> {
    Ok(format!("{}{name}#{id}", client.base_url()))
}

#[fallback(cached)]
#[timeout("1s")]
#[discover("user-service", version = "^2")]
#[retry(max_retries = 1, base_delay = "1ms")]
#[bulkhead(max_concurrent_calls = 4)]
#[circuit_breaker(max_failures = 3)]
async fn discover_between(client: ServiceClient, id: u64, name: String) -> Result<String, MyError> {
    Ok(format!("{}{name}#{id}", client.base_url()))
}

#[retry(max_retries = 2, base_delay = "1ms")]
#[discover("user-service")]
async fn retried(id: u64, client: ServiceClient) -> Result<String, MyError> {
    Ok(format!("{}{id}", client.base_url()))
}

#[timeout("1s")]
#[discover("user-service")]
async fn bounded(client: ServiceClient) -> Result<String, MyError> {
    Ok(client.base_url().to_owned())
}

#[bulkhead(max_concurrent_calls = 1)]
#[discover("user-service")]
async fn limited(client: ServiceClient) -> Result<String, MyError> {
    Ok(client.base_url().to_owned())
}

#[circuit_breaker(failure_rate = 0.5, window = 10)]
#[discover("user-service")]
async fn guarded(client: ServiceClient) -> Result<String, MyError> {
    Ok(client.base_url().to_owned())
}

async fn spawn_them() {
    let _ = tokio::spawn(discover_first(1, String::new())).await;
    let _ = tokio::spawn(discover_last(1, String::new())).await;
    let _ = tokio::spawn(discover_between(1, String::new())).await;
    let _ = tokio::spawn(retried(1)).await;
    let _ = tokio::spawn(bounded()).await;
    let _ = tokio::spawn(limited()).await;
    let _ = tokio::spawn(guarded()).await;
}

fn main() {
    let _ = spawn_them();
}
