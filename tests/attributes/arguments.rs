//! docs/CONTRACT.md §2.2 and §2.5: owned arguments are cloned for each attempt, references re-borrowed,
//! and the fallback receives the original arguments.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use resilience::{fallback, retry};

use super::TestError;

/// Counts its clones.
#[derive(Debug)]
struct Counted {
    clones: Arc<AtomicU32>,
    value: u32,
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.clones.fetch_add(1, Ordering::SeqCst);
        Counted {
            clones: self.clones.clone(),
            value: self.value,
        }
    }
}

impl Counted {
    fn new(value: u32) -> (Self, Arc<AtomicU32>) {
        let clones = Arc::new(AtomicU32::new(0));
        (
            Counted {
                clones: clones.clone(),
                value,
            },
            clones,
        )
    }
}

static CLONED_ATTEMPTS: AtomicU32 = AtomicU32::new(0);

#[retry(
    max_retries = 2,
    backoff = "fixed",
    base_delay = "1ms",
    jitter_factor = 0.0
)]
async fn always_fails(counted: Counted) -> Result<u32, TestError> {
    CLONED_ATTEMPTS.fetch_add(1, Ordering::SeqCst);
    // Consume the argument: each attempt owns its own copy.
    let Counted { value, .. } = counted;
    Err(TestError::Op(value))
}

#[tokio::test(start_paused = true)]
async fn owned_arguments_are_cloned_once_per_attempt() {
    let (counted, clones) = Counted::new(5);
    assert_eq!(always_fails(counted).await, Err(TestError::Op(5)));
    assert_eq!(CLONED_ATTEMPTS.load(Ordering::SeqCst), 3);
    assert_eq!(clones.load(Ordering::SeqCst), 3);
}

async fn counted_fallback(counted: Counted) -> Result<u32, TestError> {
    Ok(1000 + counted.value)
}

#[retry(
    max_retries = 2,
    backoff = "fixed",
    base_delay = "1ms",
    jitter_factor = 0.0
)]
#[fallback(counted_fallback)]
async fn fails_then_falls_back(counted: Counted) -> Result<u32, TestError> {
    Err(TestError::Op(counted.value))
}

#[tokio::test(start_paused = true)]
async fn the_fallback_gets_the_original_owned_argument_not_a_clone() {
    let (counted, clones) = Counted::new(5);
    assert_eq!(fails_then_falls_back(counted).await, Ok(1005));
    // One clone per attempt; the fallback is given the caller's value itself.
    assert_eq!(clones.load(Ordering::SeqCst), 3);
}

#[retry(
    max_retries = 2,
    backoff = "fixed",
    base_delay = "1ms",
    jitter_factor = 0.0
)]
async fn records(log: &mut Vec<u32>, label: &str) -> Result<u32, TestError> {
    log.push(log.len() as u32 + 1);
    Err(TestError::Op(label.len() as u32))
}

#[tokio::test(start_paused = true)]
async fn mutable_references_are_reborrowed_for_each_attempt() {
    let mut log = Vec::new();
    assert_eq!(records(&mut log, "abc").await, Err(TestError::Op(3)));
    assert_eq!(log, [1, 2, 3]);
}

async fn mutated_fallback(mut items: Vec<u32>, log: &mut Vec<u32>) -> Result<u32, TestError> {
    items.push(0);
    log.push(items.len() as u32 * 100);
    Ok(items.len() as u32)
}

#[retry(
    max_retries = 2,
    backoff = "fixed",
    base_delay = "1ms",
    jitter_factor = 0.0
)]
#[fallback(mutated_fallback)]
async fn mutates_its_copy(mut items: Vec<u32>, log: &mut Vec<u32>) -> Result<u32, TestError> {
    items.push(9);
    items.push(9);
    log.push(items.len() as u32);
    Err(TestError::Op(items.len() as u32))
}

#[tokio::test(start_paused = true)]
async fn the_fallback_receives_the_callers_arguments_unchanged_by_the_attempts() {
    let mut log = Vec::new();
    // Each attempt sees `[1]` and makes it `[1, 9, 9]`; the fallback still gets `[1]`, and the
    // same `&mut` the attempts pushed to.
    assert_eq!(mutates_its_copy(vec![1], &mut log).await, Ok(2));
    assert_eq!(log, [3, 3, 3, 200]);
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key(u32);

async fn by_key(key: Key, offset: &u32) -> Result<(Key, u32), TestError> {
    Ok((key, *offset))
}

#[fallback(by_key)]
async fn fallback_only(key: Key, offset: &u32) -> Result<(Key, u32), TestError> {
    Err(TestError::Op(key.0 + offset))
}

#[tokio::test(start_paused = true)]
async fn a_fallback_without_retry_gets_the_same_arguments() {
    assert_eq!(fallback_only(Key(4), &6).await, Ok((Key(4), 6)));
}
