//! `#[discover]` alone on every supported shape: free functions, any path to `ServiceClient`,
//! any pattern for it, every balancer, version and metadata filters, methods, trait impls
//! (native and `#[async_trait]`), generics, functions written by `macro_rules!`. Callers never
//! pass the client, and the futures stay `Send`.
use std::sync::Arc;

use resilience::{ResilienceError, ServiceClient, discover, retry};

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

#[discover("user-service")]
async fn plain(id: u64, client: ServiceClient) -> Result<String, MyError> {
    Ok(format!("{}/users/{id}", client.base_url()))
}

#[discover("user-service")]
async fn client_first(client: ServiceClient, id: u64) -> Result<String, MyError> {
    Ok(client.url(&format!("/users/{id}")))
}

#[discover("user-service")]
async fn qualified(client: resilience::ServiceClient) -> Result<u16, MyError> {
    Ok(client.instance().port)
}

#[discover("user-service")]
async fn fully_qualified(client: ::resilience::discovery::ServiceClient) -> Result<u16, MyError> {
    Ok(client.instance().port)
}

#[discover("user-service")]
async fn mutable_binding(mut client: ServiceClient) -> Result<(), MyError> {
    client = client.clone();
    let _ = client;
    Ok(())
}

#[discover("user-service")]
async fn unused(_client: ServiceClient) -> Result<(), MyError> {
    Ok(())
}

#[discover("user-service")]
async fn wildcard(_: ServiceClient) -> Result<(), MyError> {
    Err(MyError::Down)
}

#[discover(service = "user-service")]
async fn named_service(_client: ServiceClient) -> Result<(), MyError> {
    Ok(())
}

#[discover("user-service", balancer = "p2c")]
async fn p2c(_client: ServiceClient) -> Result<(), MyError> {
    Ok(())
}

#[discover("user-service", balancer = "round_robin")]
async fn round_robin(_client: ServiceClient) -> Result<(), MyError> {
    Ok(())
}

#[discover("user-service", balancer = "least_connections")]
async fn least_connections(_client: ServiceClient) -> Result<(), MyError> {
    Ok(())
}

#[discover("user-service", balancer = "random")]
async fn random(_client: ServiceClient) -> Result<(), MyError> {
    Ok(())
}

#[discover("user-service", balancer = "weighted_round_robin")]
async fn weighted_round_robin(_client: ServiceClient) -> Result<(), MyError> {
    Ok(())
}

#[discover(
    "user-service",
    version = ">=1.4, <3",
    metadata(zone = "eu-west-1", env = "prod", r#type = "primary")
)]
async fn filtered(_client: ServiceClient) -> Result<(), MyError> {
    Ok(())
}

#[resilience::discover("user-service")]
async fn attribute_path_qualified(_client: ServiceClient) -> Result<(), MyError> {
    Ok(())
}

#[discover("user-service")]
async fn generic<T: std::fmt::Display + Send>(
    value: T,
    client: ServiceClient,
) -> Result<String, MyError> {
    Ok(format!("{}{value}", client.base_url()))
}

#[discover("user-service")]
async fn with_return(client: ServiceClient) -> Result<u16, MyError> {
    if client.instance().port == 0 {
        return Err(MyError::Down);
    }
    Ok(client.instance().port)
}

#[discover("user-service")]
async fn opaque(client: ServiceClient) -> Result<impl Iterator<Item = u16>, MyError> {
    Ok(std::iter::once(client.instance().port))
}

#[discover("user-service")]
async fn attributed(#[allow(unused_mut)] mut client: ServiceClient) -> Result<u16, MyError> {
    Ok(client.instance().port)
}

struct Api {
    calls: u32,
}

impl Api {
    #[discover("user-service")]
    async fn shared(&self, client: ServiceClient) -> Result<u32, MyError> {
        let _ = client.get("/");
        Ok(self.calls)
    }

    #[retry(max_retries = 1, base_delay = "1ms")]
    #[discover("user-service")]
    async fn exclusive(&mut self, key: String, client: ServiceClient) -> Result<u32, MyError> {
        self.calls += 1;
        let _ = client.post(&key);
        Ok(self.calls)
    }

    #[retry(max_retries = 1, base_delay = "1ms")]
    #[discover("user-service")]
    async fn arc(self: Arc<Self>, client: ServiceClient) -> Result<u32, MyError> {
        let _ = client.delete("/");
        Ok(self.calls)
    }
}

trait Users {
    async fn name(&self, id: u64) -> Result<String, MyError>;
}

impl Users for Api {
    #[discover("user-service")]
    async fn name(&self, id: u64, client: ServiceClient) -> Result<String, MyError> {
        Ok(format!("{}{id}{}", client.base_url(), self.calls))
    }
}

#[async_trait::async_trait]
trait RemoteUsers {
    async fn remote_name(&self, id: u64) -> Result<String, MyError>;
    async fn remote_touch(&mut self) -> Result<(), MyError>;
}

#[async_trait::async_trait]
impl RemoteUsers for Api {
    #[retry(max_retries = 1, base_delay = "1ms")]
    #[discover("user-service", balancer = "round_robin")]
    async fn remote_name(&self, id: u64, client: ServiceClient) -> Result<String, MyError> {
        Ok(format!("{}{id}{}", client.base_url(), self.calls))
    }

    #[discover("user-service")]
    async fn remote_touch(&mut self, _: ServiceClient) -> Result<(), MyError> {
        self.calls += 1;
        Ok(())
    }
}

macro_rules! discovered {
    ($($function:tt)*) => {
        #[discover("user-service", balancer = "random")]
        $($function)*
    };
}

discovered! {
    async fn written_through_macro_rules(client: ServiceClient) -> Result<String, MyError> {
        Ok(client.base_url().to_owned())
    }
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

async fn use_them() -> Result<(), MyError> {
    let mut api = Api { calls: 0 };
    assert_send(plain(1)).await?;
    assert_send(client_first(1)).await?;
    assert_send(qualified()).await?;
    assert_send(fully_qualified()).await?;
    mutable_binding().await?;
    unused().await?;
    wildcard().await?;
    named_service().await?;
    p2c().await?;
    round_robin().await?;
    least_connections().await?;
    random().await?;
    weighted_round_robin().await?;
    filtered().await?;
    attribute_path_qualified().await?;
    assert_send(generic(1)).await?;
    with_return().await?;
    let _ = assert_send(opaque()).await?.count();
    attributed().await?;
    assert_send(api.shared()).await?;
    assert_send(api.exclusive("k".to_owned())).await?;
    assert_send(Arc::new(Api { calls: 0 }).arc()).await?;
    assert_send(api.name(1)).await?;
    assert_send(api.remote_name(1)).await?;
    api.remote_touch().await?;
    written_through_macro_rules().await?;
    Ok(())
}

fn main() {
    let _ = use_them();
}
