//! Inherent methods: `&self`, `&mut self`, `self: Arc<Self>`, associated functions, with every
//! attribute, fallbacks to sibling methods included.
use std::sync::Arc;

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

pub struct Client {
    calls: u32,
    base: String,
}

impl Client {
    #[circuit_breaker(max_failures = 2)]
    #[retry(max_retries = 2, base_delay = "1ms")]
    #[timeout("1s")]
    #[bulkhead(max_concurrent_calls = 2)]
    #[fallback(cached)]
    async fn by_ref(&self, id: u64, path: String) -> Result<String, MyError> {
        Ok(format!("{}/{path}/{id}", self.base))
    }

    async fn cached(&self, id: u64, path: String) -> Result<String, MyError> {
        Ok(format!("cached {}/{path}/{id}", self.base))
    }

    #[retry(max_retries = 2, base_delay = "1ms")]
    #[fallback(reset)]
    async fn by_mut(&mut self, by: &mut u32) -> Result<u32, MyError> {
        self.calls += 1;
        *by += 1;
        if self.calls < 3 {
            Err(MyError::Down)
        } else {
            Ok(self.calls)
        }
    }

    async fn reset(&mut self, by: &mut u32) -> Result<u32, MyError> {
        self.calls = 0;
        *by = 0;
        Ok(0)
    }

    #[circuit_breaker]
    #[retry(base_delay = "1ms")]
    #[timeout("1s")]
    #[bulkhead]
    #[fallback(shared_cached)]
    async fn by_arc(self: Arc<Self>, id: u64) -> Result<String, MyError> {
        Ok(format!("{}/{id}", self.base))
    }

    async fn shared_cached(self: Arc<Self>, id: u64) -> Result<String, MyError> {
        Ok(format!("cached {}/{id}", self.base))
    }

    #[retry(base_delay = "1ms")]
    #[fallback(Self::make_default)]
    async fn make(base: String) -> Result<Client, MyError> {
        Ok(Client { calls: 0, base })
    }

    async fn make_default(_base: String) -> Result<Client, MyError> {
        Ok(Client {
            calls: 0,
            base: String::from("default"),
        })
    }

    #[timeout("1s")]
    async fn by_value(self) -> Result<String, MyError> {
        Ok(self.base)
    }
}

/// A generic impl: the call site's `static` does not depend on `T`.
struct Wrapper<T> {
    value: T,
}

impl<T: Clone + Send + Sync> Wrapper<T> {
    #[retry(base_delay = "1ms")]
    #[fallback(Self::same)]
    async fn get(&self, extra: u32) -> Result<(T, u32), MyError> {
        Ok((self.value.clone(), extra))
    }

    async fn same(&self, extra: u32) -> Result<(T, u32), MyError> {
        Ok((self.value.clone(), extra))
    }

    #[timeout("1s")]
    async fn wrap(value: T) -> Result<Self, MyError> {
        Ok(Wrapper { value })
    }
}

async fn use_them() -> Result<(), MyError> {
    Wrapper::wrap(1_u8).await?.get(2).await?;
    let mut client = Client::make(String::from("http://localhost")).await?;
    let mut by = 0;
    client.by_mut(&mut by).await?;
    client.by_ref(1, String::from("users")).await?;
    let shared = Arc::new(client);
    shared.clone().by_arc(2).await?;
    let client = Arc::try_unwrap(shared).map_err(|_| MyError::Down)?;
    client.by_value().await?;
    Ok(())
}

fn main() {
    let _ = use_them();
}
