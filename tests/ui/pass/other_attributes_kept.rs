//! Doc comments and other attributes beside ours are kept, before and after ours, and
//! path-qualified forms of our attributes are recognised as siblings.
use resilience::{ResilienceError, retry, timeout};

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

/// Doc comment before our attributes.
#[must_use = "the call does nothing unless awaited"]
#[retry(base_delay = "1ms")]
/// Doc comment between them.
#[doc(alias = "fetch")]
#[timeout("1s")]
#[deny(unused_variables)]
async fn documented(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

#[retry(base_delay = "1ms")]
#[allow(clippy::too_many_arguments)]
#[cfg_attr(all(), allow(unused_mut))]
async fn lint_attributes(mut id: u64) -> Result<u64, MyError> {
    Ok(id)
}

#[resilience::retry(base_delay = "1ms")]
#[resilience::timeout("1s")]
#[resilience::circuit_breaker(max_failures = 2)]
#[resilience::bulkhead(max_concurrent_calls = 2)]
#[resilience::fallback(cached)]
async fn qualified(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

async fn cached(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

#[::resilience::retry(base_delay = "1ms")]
#[::resilience::timeout("1s")]
async fn absolute_paths(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

/// Qualified and bare attributes mixed.
#[resilience::timeout("1s")]
#[retry(base_delay = "1ms")]
#[resilience::bulkhead]
async fn mixed(id: u64) -> Result<u64, MyError> {
    Ok(id)
}

#[deprecated(note = "kept: only calls outside this crate warn")]
#[timeout("1s")]
async fn deprecated_kept() -> Result<(), MyError> {
    Ok(())
}

#[allow(deprecated)]
async fn use_them() -> Result<(), MyError> {
    documented(1).await?;
    lint_attributes(1).await?;
    qualified(1).await?;
    absolute_paths(1).await?;
    mixed(1).await?;
    deprecated_kept().await?;
    if false {
        return Err(MyError::Down);
    }
    Ok(())
}

fn main() {
    let _ = use_them();
}
