//! docs/CONTRACT.md §2: the attributes go on any `async fn` shape: free functions, inherent methods
//! (`&self`, `&mut self`, `self: Arc<Self>`), trait-impl methods (native and `#[async_trait]`),
//! generic functions with where clauses, `impl Trait` arguments, patterns in parameters, any
//! visibility, with doc comments kept.

use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use resilience::{circuit_breaker, fallback, registry, retry, timeout};

use super::{TestError, ms};

static FREE_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(
    max_retries = 2,
    backoff = "fixed",
    base_delay = "1ms",
    jitter_factor = 0.0
)]
async fn free_function() -> Result<u32, TestError> {
    Err(TestError::Op(FREE_CALLS.fetch_add(1, Ordering::SeqCst) + 1))
}

#[tokio::test(start_paused = true)]
async fn free_function_is_retried() {
    assert_eq!(free_function().await, Err(TestError::Op(3)));
    assert_eq!(FREE_CALLS.load(Ordering::SeqCst), 3);
}

#[derive(Default)]
struct Counter {
    calls: AtomicU32,
}

impl Counter {
    #[retry(
        max_retries = 2,
        backoff = "fixed",
        base_delay = "1ms",
        jitter_factor = 0.0
    )]
    async fn by_ref(&self, succeed_on: u32) -> Result<u32, TestError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if call == succeed_on {
            Ok(call)
        } else {
            Err(TestError::Op(call))
        }
    }

    #[retry(
        max_retries = 2,
        backoff = "fixed",
        base_delay = "1ms",
        jitter_factor = 0.0
    )]
    #[fallback(Self::arc_fallback)]
    async fn by_arc(self: Arc<Self>) -> Result<u32, TestError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        Err(TestError::Op(call))
    }

    async fn arc_fallback(self: Arc<Self>) -> Result<u32, TestError> {
        Ok(100 + self.calls.load(Ordering::SeqCst))
    }
}

#[tokio::test(start_paused = true)]
async fn method_with_shared_self_is_retried() {
    let counter = Counter::default();
    assert_eq!(counter.by_ref(3).await, Ok(3));
    assert_eq!(counter.calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn method_with_arc_self_is_retried_and_its_fallback_gets_self() {
    let counter = Arc::new(Counter::default());
    assert_eq!(counter.clone().by_arc().await, Ok(103));
    assert_eq!(counter.calls.load(Ordering::SeqCst), 3);
    // Every clone of the `Arc` made for the attempts is gone again.
    assert_eq!(Arc::strong_count(&counter), 1);
}

struct Connection {
    attempts: u32,
    log: Vec<u32>,
}

impl Connection {
    #[retry(
        max_retries = 5,
        backoff = "fixed",
        base_delay = "1ms",
        jitter_factor = 0.0
    )]
    #[timeout("1s")]
    async fn connect(&mut self, needed: u32) -> Result<u32, TestError> {
        self.attempts += 1;
        self.log.push(self.attempts);
        if self.attempts < needed {
            Err(TestError::Op(self.attempts))
        } else {
            Ok(self.attempts)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn method_with_mut_self_keeps_state_mutated_across_attempts() {
    let mut connection = Connection {
        attempts: 0,
        log: Vec::new(),
    };
    assert_eq!(connection.connect(3).await, Ok(3));
    assert_eq!(connection.attempts, 3);
    assert_eq!(connection.log, [1, 2, 3]);
}

trait Store {
    async fn load(&self, key: String) -> Result<String, TestError>;
    async fn bump(&mut self) -> Result<u32, TestError>;
}

#[derive(Default)]
struct NativeStore {
    loads: AtomicU32,
    bumps: u32,
}

impl Store for NativeStore {
    #[retry(
        max_retries = 2,
        backoff = "fixed",
        base_delay = "1ms",
        jitter_factor = 0.0
    )]
    #[circuit_breaker(name = "shapes.native_trait", max_failures = 10)]
    async fn load(&self, key: String) -> Result<String, TestError> {
        let call = self.loads.fetch_add(1, Ordering::SeqCst) + 1;
        if call < 3 {
            Err(TestError::Op(call))
        } else {
            Ok(format!("{key}#{call}"))
        }
    }

    #[retry(
        max_retries = 2,
        backoff = "fixed",
        base_delay = "1ms",
        jitter_factor = 0.0
    )]
    async fn bump(&mut self) -> Result<u32, TestError> {
        self.bumps += 1;
        Err(TestError::Op(self.bumps))
    }
}

#[tokio::test(start_paused = true)]
async fn native_async_trait_method_is_retried() {
    let mut store = NativeStore::default();
    assert_eq!(store.load("k".into()).await, Ok("k#3".to_owned()));
    assert_eq!(
        registry()
            .circuit_breaker("shapes.native_trait")
            .unwrap()
            .metrics()
            .failed,
        2
    );
    assert_eq!(store.bump().await, Err(TestError::Op(3)));
    assert_eq!(store.bumps, 3);
}

#[async_trait::async_trait]
trait SendStore {
    async fn load(&self, key: String) -> Result<String, TestError>;
    async fn add(&self, pair: (u32, u32), log: &mut Vec<u32>) -> Result<u32, TestError>;
}

#[derive(Default)]
struct BoxedStore {
    loads: AtomicU32,
}

#[async_trait::async_trait]
impl SendStore for BoxedStore {
    #[retry(
        max_retries = 2,
        backoff = "fixed",
        base_delay = "1ms",
        jitter_factor = 0.0
    )]
    #[fallback(Self::cached)]
    async fn load(&self, key: String) -> Result<String, TestError> {
        let call = self.loads.fetch_add(1, Ordering::SeqCst) + 1;
        Err(TestError::Op(call + key.len() as u32 * 100))
    }

    #[retry(
        max_retries = 2,
        backoff = "fixed",
        base_delay = "1ms",
        jitter_factor = 0.0
    )]
    async fn add(&self, (a, b): (u32, u32), log: &mut Vec<u32>) -> Result<u32, TestError> {
        log.push(a + b);
        if log.len() < 3 {
            Err(TestError::Op(log.len() as u32))
        } else {
            Ok(a + b)
        }
    }
}

impl BoxedStore {
    async fn cached(&self, key: String) -> Result<String, TestError> {
        Ok(format!(
            "cached {key} after {}",
            self.loads.load(Ordering::SeqCst)
        ))
    }
}

#[tokio::test(start_paused = true)]
async fn async_trait_method_is_retried_and_falls_back() {
    let store = BoxedStore::default();
    assert_eq!(
        store.load("k".into()).await,
        Ok("cached k after 3".to_owned())
    );
    let mut log = Vec::new();
    assert_eq!(store.add((1, 2), &mut log).await, Ok(3));
    assert_eq!(log, [3, 3, 3]);
    // The boxed future is still `Send`, as `#[async_trait]` requires.
    let store: Arc<dyn SendStore + Send + Sync> = Arc::new(BoxedStore::default());
    let handle = tokio::spawn(async move { store.load("s".into()).await });
    assert_eq!(handle.await.unwrap(), Ok("cached s after 3".to_owned()));
}

static GENERIC_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(
    max_retries = 2,
    backoff = "fixed",
    base_delay = "1ms",
    jitter_factor = 0.0
)]
async fn lookup<K, V>(key: K, table: &HashMap<K, V>) -> Result<V, TestError>
where
    K: Hash + Eq + Clone,
    V: Clone,
{
    let call = GENERIC_CALLS.fetch_add(1, Ordering::SeqCst) + 1;
    match table.get(&key) {
        Some(value) if call >= 3 => Ok(value.clone()),
        _ => Err(TestError::Op(call)),
    }
}

#[tokio::test(start_paused = true)]
async fn generic_function_with_where_clause_is_retried() {
    let table = HashMap::from([("a", 1u8)]);
    assert_eq!(lookup("a", &table).await, Ok(1));
    assert_eq!(GENERIC_CALLS.load(Ordering::SeqCst), 3);
}

static IMPL_TRAIT_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(
    max_retries = 2,
    backoff = "fixed",
    base_delay = "1ms",
    jitter_factor = 0.0
)]
async fn describe(
    label: impl Display + Clone,
    seen: &mut Vec<String>,
    suffix: &impl AsRef<str>,
) -> Result<String, TestError> {
    IMPL_TRAIT_CALLS.fetch_add(1, Ordering::SeqCst);
    seen.push(format!("{label}{}", suffix.as_ref()));
    Err(TestError::Op(seen.len() as u32))
}

#[tokio::test(start_paused = true)]
async fn impl_trait_arguments_are_accepted_and_retried() {
    let mut seen = Vec::new();
    assert_eq!(
        describe(7, &mut seen, &String::from("!")).await,
        Err(TestError::Op(3))
    );
    assert_eq!(seen, ["7!", "7!", "7!"]);
    assert_eq!(IMPL_TRAIT_CALLS.load(Ordering::SeqCst), 3);
}

#[derive(Debug, Clone, PartialEq)]
struct Point {
    x: u32,
    y: u32,
}

async fn sum_fallback((a, b): (u32, u32), Point { x, y }: Point) -> Result<u32, TestError> {
    Ok(1000 + a + b + x + y)
}

static PATTERN_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(
    max_retries = 2,
    backoff = "fixed",
    base_delay = "1ms",
    jitter_factor = 0.0
)]
#[fallback(sum_fallback)]
async fn sum((a, b): (u32, u32), Point { x, y }: Point) -> Result<u32, TestError> {
    PATTERN_CALLS.fetch_add(1, Ordering::SeqCst);
    Err(TestError::Op(a + b + x + y))
}

#[tokio::test(start_paused = true)]
async fn patterns_in_parameters_are_destructured_for_each_attempt_and_the_fallback() {
    assert_eq!(sum((1, 2), Point { x: 3, y: 4 }).await, Ok(1010));
    assert_eq!(PATTERN_CALLS.load(Ordering::SeqCst), 3);
}

static MUT_BINDING_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(
    max_retries = 2,
    backoff = "fixed",
    base_delay = "1ms",
    jitter_factor = 0.0
)]
async fn drains(mut budget: u32) -> Result<u32, TestError> {
    MUT_BINDING_CALLS.fetch_add(1, Ordering::SeqCst);
    budget -= 1;
    // Each attempt starts again from the caller's value.
    Err(TestError::Op(budget))
}

#[tokio::test(start_paused = true)]
async fn mut_bindings_start_from_the_callers_value_in_each_attempt() {
    assert_eq!(drains(10).await, Err(TestError::Op(9)));
    assert_eq!(MUT_BINDING_CALLS.load(Ordering::SeqCst), 3);
}

mod private {
    use std::sync::atomic::{AtomicU32, Ordering};

    use resilience::retry;

    use super::super::TestError;

    pub(crate) static CRATE_VISIBLE_CALLS: AtomicU32 = AtomicU32::new(0);

    #[retry(
        max_retries = 2,
        backoff = "fixed",
        base_delay = "1ms",
        jitter_factor = 0.0
    )]
    pub(crate) async fn crate_visible() -> Result<u32, TestError> {
        Err(TestError::Op(
            CRATE_VISIBLE_CALLS.fetch_add(1, Ordering::SeqCst) + 1,
        ))
    }
}

#[tokio::test(start_paused = true)]
async fn crate_visible_function_keeps_its_visibility_and_is_retried() {
    assert_eq!(private::crate_visible().await, Err(TestError::Op(3)));
    assert_eq!(private::CRATE_VISIBLE_CALLS.load(Ordering::SeqCst), 3);
}

/// A type alias of `Result`, as `anyhow::Result<T>` is.
type AliasResult<T> = Result<T, TestError>;

static ALIAS_CALLS: AtomicU32 = AtomicU32::new(0);

#[retry(
    max_retries = 2,
    backoff = "fixed",
    base_delay = "1ms",
    jitter_factor = 0.0
)]
#[timeout("10ms")]
async fn aliased() -> AliasResult<u32> {
    ALIAS_CALLS.fetch_add(1, Ordering::SeqCst);
    tokio::time::sleep(ms(20)).await;
    Ok(1)
}

#[tokio::test(start_paused = true)]
async fn result_type_alias_is_accepted_and_rejections_convert() {
    assert_eq!(aliased().await, Err(TestError::Timeout { after: ms(10) }));
    assert_eq!(ALIAS_CALLS.load(Ordering::SeqCst), 3);
}

static EARLY_RETURN_CALLS: AtomicU32 = AtomicU32::new(0);

fn parse(text: &str) -> Result<u32, TestError> {
    text.parse().map_err(|_| TestError::Op(0))
}

#[retry(
    max_retries = 2,
    backoff = "fixed",
    base_delay = "1ms",
    jitter_factor = 0.0
)]
async fn early_returns(text: &str) -> Result<u32, TestError> {
    EARLY_RETURN_CALLS.fetch_add(1, Ordering::SeqCst);
    let value = parse(text)?;
    if value == 0 {
        return Err(TestError::Op(1));
    }
    Ok(value)
}

#[tokio::test(start_paused = true)]
async fn question_mark_and_return_end_only_the_attempt() {
    assert_eq!(early_returns("x").await, Err(TestError::Op(0)));
    assert_eq!(EARLY_RETURN_CALLS.load(Ordering::SeqCst), 3);
    assert_eq!(early_returns("0").await, Err(TestError::Op(1)));
    assert_eq!(EARLY_RETURN_CALLS.load(Ordering::SeqCst), 6);
    assert_eq!(early_returns("5").await, Ok(5));
    assert_eq!(EARLY_RETURN_CALLS.load(Ordering::SeqCst), 7);
}

// Functions written by declarative macros: the attribute, the signature and the fallback path
// may come from different macro_rules expansions (different hygiene contexts).

/// Adds `#[retry]` to the function it is given.
macro_rules! with_retry {
    ($($function:tt)*) => {
        #[retry(max_retries = 2, backoff = "fixed", base_delay = "1ms", jitter_factor = 0.0)]
        $($function)*
    };
}

static MACRO_RULES_CALLS: AtomicU32 = AtomicU32::new(0);

with_retry! {
    async fn written_through_macro_rules() -> Result<u32, TestError> {
        Err(TestError::Op(MACRO_RULES_CALLS.fetch_add(1, Ordering::SeqCst) + 1))
    }
}

#[tokio::test(start_paused = true)]
async fn an_attribute_added_by_a_declarative_macro_works() {
    assert_eq!(written_through_macro_rules().await, Err(TestError::Op(3)));
}

/// A function whose fallback path is a macro argument.
macro_rules! falling_back_to {
    ($fallback:path) => {
        #[fallback($fallback)]
        async fn falls_back_to_argument() -> Result<u32, TestError> {
            Err(TestError::Op(1))
        }
    };
}

async fn seven() -> Result<u32, TestError> {
    Ok(7)
}

falling_back_to!(seven);

#[tokio::test(start_paused = true)]
async fn a_fallback_path_given_to_a_declarative_macro_works() {
    assert_eq!(falls_back_to_argument().await, Ok(7));
}

// A receiver taken by value is cloned for each attempt, as owned arguments are, so the body may
// move it.

#[derive(Default)]
struct Worker {
    calls: AtomicU32,
}

impl Worker {
    #[retry(
        max_retries = 2,
        backoff = "fixed",
        base_delay = "1ms",
        jitter_factor = 0.0
    )]
    async fn hand_off(self: Arc<Self>) -> Result<u32, TestError> {
        let this: Arc<Self> = self;
        Err(TestError::Op(this.calls.fetch_add(1, Ordering::SeqCst) + 1))
    }
}

#[tokio::test(start_paused = true)]
async fn an_arc_self_body_may_move_self_in_each_attempt() {
    let worker = Arc::new(Worker::default());
    assert_eq!(worker.clone().hand_off().await, Err(TestError::Op(3)));
}

// Under `#[async_trait]` the body starts with `let mut __self = self;`, run again by each
// attempt: `self` must be reborrowed (`&mut self`) or cloned (`self: Arc<Self>`) each time.

#[async_trait::async_trait]
trait Bumper {
    async fn bump(&mut self) -> Result<u32, TestError>;
    async fn shared_bump(self: Arc<Self>) -> Result<u32, TestError>;
}

#[derive(Default)]
struct Bumps {
    bumps: u32,
    shared: AtomicU32,
}

#[async_trait::async_trait]
impl Bumper for Bumps {
    #[retry(
        max_retries = 2,
        backoff = "fixed",
        base_delay = "1ms",
        jitter_factor = 0.0
    )]
    async fn bump(&mut self) -> Result<u32, TestError> {
        self.bumps += 1;
        Err(TestError::Op(self.bumps))
    }

    #[retry(
        max_retries = 2,
        backoff = "fixed",
        base_delay = "1ms",
        jitter_factor = 0.0
    )]
    async fn shared_bump(self: Arc<Self>) -> Result<u32, TestError> {
        let call = self.shared.fetch_add(1, Ordering::SeqCst) + 1;
        Err(TestError::Op(call))
    }
}

#[tokio::test(start_paused = true)]
async fn async_trait_mut_self_method_keeps_state_across_attempts() {
    let mut count = Bumps::default();
    assert_eq!(count.bump().await, Err(TestError::Op(3)));
    assert_eq!(count.bumps, 3);
}

#[tokio::test(start_paused = true)]
async fn async_trait_arc_self_method_is_retried() {
    let count = Arc::new(Bumps::default());
    assert_eq!(count.clone().shared_bump().await, Err(TestError::Op(3)));
}
