//! Signatures beyond the simple ones: generics, lifetimes, where clauses, `impl Trait`
//! arguments, patterns in parameters, visibility, a `Result` alias.
use std::fmt::Display;

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

/// As `anyhow::Result<T>` or `std::io::Result<T>`: the error type is hidden behind an alias.
type Result<T> = std::result::Result<T, MyError>;

#[derive(Clone)]
struct Point {
    x: i64,
    y: i64,
}

#[retry(base_delay = "1ms")]
#[circuit_breaker]
async fn generic<T: Clone + Send>(items: Vec<T>) -> Result<T> {
    items.into_iter().next().ok_or(MyError::Down)
}

#[retry(base_delay = "1ms")]
#[timeout("1s")]
async fn generic_error<E>(value: u32) -> std::result::Result<u32, E>
where
    E: From<ResilienceError>,
{
    Ok(value)
}

#[retry(base_delay = "1ms")]
#[timeout("1s")]
async fn lifetimes<'a, 'b: 'a>(first: &'a str, _second: &'b str) -> Result<&'a str> {
    Ok(first)
}

#[retry(base_delay = "1ms")]
#[bulkhead]
async fn where_clause<T, U>(value: T, other: U) -> Result<String>
where
    T: Display + Clone,
    U: Clone + Into<String>,
{
    Ok(format!("{value}{}", other.into()))
}

#[retry(base_delay = "1ms")]
#[fallback(impl_trait_fallback)]
async fn impl_trait(name: impl AsRef<str> + Clone, by: &mut u32) -> Result<usize> {
    *by += 1;
    Ok(name.as_ref().len())
}

async fn impl_trait_fallback(_name: impl AsRef<str> + Clone, _by: &mut u32) -> Result<usize> {
    Ok(0)
}

#[retry(base_delay = "1ms")]
#[fallback(patterns_fallback)]
async fn patterns(
    (a, b): (u32, u32),
    Point { x, y }: Point,
    mut counter: u32,
    _: u8,
    [first, ..]: [u8; 3],
) -> Result<i64> {
    counter += a + b;
    Ok(x + y + i64::from(counter) + i64::from(first))
}

async fn patterns_fallback(
    _pair: (u32, u32),
    _point: Point,
    _counter: u32,
    _byte: u8,
    _bytes: [u8; 3],
) -> Result<i64> {
    Ok(0)
}

/// Patterns without `#[retry]`: the arguments are moved into the single attempt.
#[timeout("1s")]
async fn patterns_moved((a, b): (String, String), mut count: usize) -> Result<usize> {
    count += a.len() + b.len();
    Ok(count)
}

#[retry(base_delay = "1ms")]
pub(crate) async fn crate_visible(value: u32) -> Result<u32> {
    Ok(value)
}

mod inner {
    use super::{MyError, retry};

    #[retry(base_delay = "1ms")]
    pub(super) async fn parent_visible() -> Result<(), MyError> {
        Ok(())
    }

    #[retry(base_delay = "1ms")]
    pub(in crate::inner) async fn path_visible() -> Result<(), MyError> {
        Ok(())
    }

    pub(super) async fn call_path_visible() -> Result<(), MyError> {
        path_visible().await
    }
}

#[retry(base_delay = "1ms")]
async fn question_mark_and_return(value: Option<u32>) -> Result<u32> {
    let Some(value) = value else {
        return Err(MyError::Down);
    };
    let parsed: u32 = value.to_string().parse().map_err(|_| MyError::Down)?;
    Ok(parsed)
}

#[retry(base_delay = "1ms")]
async fn static_str() -> Result<&'static str> {
    Ok("static")
}

async fn use_them() -> Result<()> {
    generic(vec![1_u8]).await?;
    generic_error::<MyError>(1).await?;
    lifetimes("a", "b").await?;
    where_clause(1, "x").await?;
    let mut by = 0;
    impl_trait("name", &mut by).await?;
    patterns((1, 2), Point { x: 1, y: 2 }, 0, 0, [1, 2, 3]).await?;
    patterns_moved((String::new(), String::new()), 0).await?;
    crate_visible(1).await?;
    inner::parent_visible().await?;
    inner::call_path_visible().await?;
    question_mark_and_return(Some(1)).await?;
    static_str().await?;
    Ok(())
}

fn main() {
    let _ = use_them();
}
