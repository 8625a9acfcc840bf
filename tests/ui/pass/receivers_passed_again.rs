//! Receivers that cannot be copied (`&mut self`, `self: Arc<Self>`, `self` of a `Clone` type)
//! under `#[retry]` and `#[fallback]`: each attempt and the fallback need the receiver again, so
//! it is reborrowed (`&mut self`) or cloned (owned receivers, as every owned argument), natively
//! and under `#[async_trait]`.
use std::sync::Arc;

use resilience::{ResilienceError, fallback, retry};

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

#[async_trait::async_trait]
trait Counter {
    async fn bump(&mut self, by: &mut u32) -> Result<u32, MyError>;
    async fn bump_or_reset(&mut self) -> Result<u32, MyError>;
    async fn read(self: Arc<Self>) -> Result<u32, MyError>;
    async fn read_or_zero(self: Arc<Self>) -> Result<u32, MyError>;
}

struct Count {
    value: u32,
}

impl Count {
    async fn reset(&mut self) -> Result<u32, MyError> {
        self.value = 0;
        Ok(0)
    }

    async fn zero(self: Arc<Self>) -> Result<u32, MyError> {
        Ok(0)
    }
}

#[async_trait::async_trait]
impl Counter for Count {
    #[retry(max_retries = 2, base_delay = "1ms")]
    async fn bump(&mut self, by: &mut u32) -> Result<u32, MyError> {
        self.value += 1;
        *by += 1;
        if self.value < 3 {
            return Err(MyError::Down);
        }
        Ok(self.value)
    }

    #[fallback(Self::reset)]
    async fn bump_or_reset(&mut self) -> Result<u32, MyError> {
        self.value += 1;
        Ok(self.value)
    }

    #[retry(max_retries = 2, base_delay = "1ms")]
    async fn read(self: Arc<Self>) -> Result<u32, MyError> {
        Ok(self.value)
    }

    #[fallback(Self::zero)]
    async fn read_or_zero(self: Arc<Self>) -> Result<u32, MyError> {
        Ok(self.value)
    }
}

/// A handle that is cheap to clone, used by value.
#[derive(Clone)]
struct Handle {
    shared: Arc<Count>,
}

impl Count {
    async fn finish(self: Arc<Self>) -> Result<u32, MyError> {
        Ok(self.value)
    }

    #[retry(max_retries = 2, base_delay = "1ms")]
    async fn run(self: Arc<Self>) -> Result<u32, MyError> {
        self.finish().await
    }
}

impl Handle {
    async fn into_shared(self) -> Result<Arc<Count>, MyError> {
        Ok(self.shared)
    }

    #[retry(max_retries = 2, base_delay = "1ms")]
    #[fallback(Self::into_shared)]
    async fn consume(self) -> Result<Arc<Count>, MyError> {
        self.into_shared().await
    }
}

async fn use_them() -> Result<(), MyError> {
    let mut count = Count { value: 0 };
    let mut by = 0;
    count.bump(&mut by).await?;
    count.bump_or_reset().await?;
    let count = Arc::new(count);
    count.clone().read().await?;
    count.clone().read_or_zero().await?;
    count.clone().run().await?;
    Handle { shared: count }.consume().await?;
    Ok(())
}

fn main() {
    let _ = use_them();
}
