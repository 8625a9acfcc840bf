//! Methods of trait impls: native `async fn` in traits, and under `#[async_trait]` (which
//! expands first and hands us a boxed future).
use resilience::{ResilienceError, bulkhead, circuit_breaker, fallback, retry, timeout};

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

trait Store {
    async fn load(&self, key: String) -> Result<String, MyError>;
    async fn save(&mut self, key: String, value: &str) -> Result<(), MyError>;
}

struct Memory {
    saved: Vec<(String, String)>,
}

impl Memory {
    async fn load_cached(&self, key: String) -> Result<String, MyError> {
        Ok(key)
    }
}

impl Store for Memory {
    #[circuit_breaker(max_failures = 3)]
    #[retry(max_retries = 1, base_delay = "1ms")]
    #[timeout("1s")]
    #[bulkhead(max_concurrent_calls = 8)]
    #[fallback(Self::load_cached)]
    async fn load(&self, key: String) -> Result<String, MyError> {
        if key.is_empty() {
            return Err(MyError::Down);
        }
        Ok(key)
    }

    #[retry(max_retries = 1, base_delay = "1ms")]
    async fn save(&mut self, key: String, value: &str) -> Result<(), MyError> {
        self.saved.push((key, value.to_owned()));
        Ok(())
    }
}

#[async_trait::async_trait]
trait RemoteStore {
    async fn fetch(&self, key: String) -> Result<String, MyError>;
    async fn store(&mut self, key: String, value: &str) -> Result<(), MyError>;
}

#[async_trait::async_trait]
impl RemoteStore for Memory {
    #[circuit_breaker(max_failures = 3)]
    #[retry(max_retries = 1, base_delay = "1ms")]
    #[timeout("1s")]
    #[bulkhead(max_concurrent_calls = 8)]
    async fn fetch(&self, key: String) -> Result<String, MyError> {
        Ok(key)
    }

    #[timeout("1s")]
    async fn store(&mut self, key: String, value: &str) -> Result<(), MyError> {
        self.saved.push((key, value.to_owned()));
        Ok(())
    }
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

async fn use_them() -> Result<(), MyError> {
    let mut memory = Memory { saved: Vec::new() };
    Store::save(&mut memory, String::from("a"), "1").await?;
    Store::load(&memory, String::from("a")).await?;
    assert_send(RemoteStore::store(&mut memory, String::from("b"), "2")).await?;
    assert_send(RemoteStore::fetch(&memory, String::from("b"))).await?;
    Ok(())
}

fn main() {
    let _ = use_them();
}
