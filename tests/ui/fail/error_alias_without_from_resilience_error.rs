//! The error type behind a `Result` alias must take the framework's rejections too.
use resilience::timeout;

type Result<T> = std::result::Result<T, std::io::Error>;

#[timeout("1s")]
async fn get(id: u64) -> Result<u64> {
    Ok(id)
}

fn main() {}
