//! `#[fallback]`: when the pipeline fails for any reason, a cached answer is served instead.
//! Run with `cargo run --example fallback`.

use resilience::{ResilienceError, fallback, retry};

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

#[fallback(cached_quote)]
#[retry(max_retries = 2, base_delay = "10ms")]
async fn quote(symbol: String) -> Result<f64, ApiError> {
    println!("asking the exchange for {symbol}…");
    Err(ApiError::Down)
}

async fn cached_quote(symbol: String) -> Result<f64, ApiError> {
    println!("serving the cached quote of {symbol}");
    Ok(101.5)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    println!("result: {:?}", quote("ACME".to_owned()).await);
}
