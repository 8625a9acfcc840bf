//! The programmatic API (contract §6): the same pipeline as the attributes, driven by closures
//! and a configuration value instead of generated code.

use std::future::Future;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, OnceLock};

use arc_swap::ArcSwap;

use crate::bulkhead::{Bulkhead, BulkheadConfig};
use crate::circuit_breaker::{CircuitBreaker, CircuitBreakerConfig};
use crate::error::{BoxError, ConfigError, ResilienceError};
use crate::failure::Failure;
use crate::layers::{Layers, OperationErrors};
use crate::pipeline::Retries;
use crate::registry::{Registry, registry, validate_name_part};
use crate::retry::RetryConfig;
use crate::timeout::TimeoutConfig;

/// The configuration every call of a [`ResilienceFacade`] runs with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ResilienceConfig {
    /// The breaker of each `"<service>/<operation>"`.
    pub circuit_breaker: CircuitBreakerConfig,
    /// Retries of each call.
    pub retry: RetryConfig,
    /// Per-attempt timeout.
    pub timeout: TimeoutConfig,
    /// The bulkhead of each `"<service>/<operation>"`.
    pub bulkhead: BulkheadConfig,
}

impl ResilienceConfig {
    /// Checks every policy's values against the contract's ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.circuit_breaker.validate()?;
        self.retry.validate()?;
        self.timeout.validate()?;
        self.bulkhead.validate()
    }
}

/// The type of "no fallback" for [`ResilienceFacade::execute`]:
/// `execute(.., None::<NoFallback<T>>)`. A plain `None` cannot be inferred there (nothing says
/// which closure type it is not), so [`ResilienceFacade::execute_without_fallback`] is the
/// spelling to use.
pub type NoFallback<T> = fn() -> std::future::Ready<Result<T, BoxError>>;

/// Runs closures through retry → circuit breaker → timeout → bulkhead, with an optional fallback
/// (contract §6). Breakers and bulkheads are registered in the process-wide
/// [`registry()`](crate::registry()) under `"<service>/<operation>"`, so two facades calling the
/// same operation share them (the first configuration wins, as for the attributes).
///
/// # Names
///
/// The registry name is exactly `"<service>/<operation>"`. So that two pairs never share a
/// name, a `service` containing `/` is refused (`("a/b", "c")` and `("a", "b/c")` would both be
/// `a/b/c`); an `operation` may contain `/`, since the name then splits at its first `/`. An
/// empty or all-whitespace `service` or `operation` is refused too. A refused call runs
/// nothing and returns [`ResilienceError::Config`] whose key is `service` or `operation`.
///
/// # Cost
///
/// The first call of an operation registers its policies (amortised O(1) in the number of
/// operations already known); every later call finds them without a lock or an allocation.
///
/// ```
/// use resilience_runtime::{BoxError, ResilienceFacade};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), resilience_runtime::ResilienceError> {
/// let resilience = ResilienceFacade::new();
/// let data = resilience
///     .execute_without_fallback("my_service", "get_data", || async { Ok::<_, BoxError>("data") })
///     .await?;
/// let or_cached = resilience
///     .execute(
///         "my_service",
///         "get_data",
///         || async { Err::<&str, BoxError>("down".into()) },
///         Some(|| async { Ok("fallback") }),
///     )
///     .await?;
/// assert_eq!((data, or_cached), ("data", "fallback"));
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct ResilienceFacade {
    config: ResilienceConfig,
    invalid: Option<ConfigError>,
    registry: &'static Registry,
    /// The policies of each (`service`, `operation`) this facade has called (shared by its
    /// clones).
    operations: Arc<Operations>,
}

/// The policies of each (`service`, `operation`): an open-addressing hash table that readers
/// probe through one `ArcSwap` load, without a lock or an allocation, and that writers (the
/// first call of an operation) fill under a mutex. A table is never more than half full, so a
/// probe always meets an empty slot; when the next entry would pass that, a table of twice the
/// size replaces it, with the entries' `Arc`s copied over: fewer than 2n copies for n entries,
/// so registering an operation is amortised O(1). A filled slot never changes, and a replaced
/// table is never written again, so a reader holding an old one reads a consistent (if older)
/// table; one that misses looks again under the mutex.
struct Operations {
    table: ArcSwap<Table>,
    writer: Mutex<()>,
    /// Seeded per process; the names hashed are the program's own, not a client's.
    hasher: foldhash::fast::RandomState,
    /// Entries copied into grown tables so far (for the amortised-cost test).
    #[cfg(test)]
    copied: std::sync::atomic::AtomicUsize,
}

struct Table {
    slots: Box<[OnceLock<Arc<Entry>>]>,
    /// Filled slots; changed only under `Operations::writer`.
    len: std::sync::atomic::AtomicUsize,
}

struct Entry {
    hash: u64,
    service: Box<str>,
    operation: Box<str>,
    policies: Arc<OperationPolicies>,
}

impl std::fmt::Debug for Operations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let table = self.table.load();
        f.debug_struct("Operations")
            .field("len", &table.len.load(std::sync::atomic::Ordering::Relaxed))
            .field("capacity", &table.slots.len())
            .finish()
    }
}

impl Table {
    fn with_capacity(capacity: usize) -> Table {
        Table {
            slots: (0..capacity).map(|_| OnceLock::new()).collect(),
            len: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// The slot holding (`service`, `operation`), or the empty slot where it would go.
    fn probe(&self, hash: u64, service: &str, operation: &str) -> &OnceLock<Arc<Entry>> {
        let mask = self.slots.len() - 1;
        let mut index = hash as usize & mask;
        loop {
            let slot = &self.slots[index];
            match slot.get() {
                None => return slot,
                Some(entry)
                    if entry.hash == hash
                        && *entry.service == *service
                        && *entry.operation == *operation =>
                {
                    return slot;
                }
                Some(_) => index = (index + 1) & mask,
            }
        }
    }
}

impl Operations {
    const INITIAL_CAPACITY: usize = 16;

    fn new() -> Operations {
        Operations {
            table: ArcSwap::from_pointee(Table::with_capacity(Self::INITIAL_CAPACITY)),
            writer: Mutex::new(()),
            hasher: foldhash::fast::RandomState::default(),
            #[cfg(test)]
            copied: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn hash(&self, service: &str, operation: &str) -> u64 {
        self.hasher.hash_one((service, operation))
    }

    /// The policies of (`service`, `operation`) if registered: no lock, no allocation.
    fn get(&self, hash: u64, service: &str, operation: &str) -> Option<Arc<OperationPolicies>> {
        let table = self.table.load();
        let entry = table.probe(hash, service, operation).get()?;
        Some(Arc::clone(&entry.policies))
    }

    /// The policies of (`service`, `operation`), created by `create` unless another caller got
    /// there first.
    fn get_or_insert(
        &self,
        hash: u64,
        service: &str,
        operation: &str,
        create: impl FnOnce() -> Result<Arc<OperationPolicies>, ConfigError>,
    ) -> Result<Arc<OperationPolicies>, ConfigError> {
        use std::sync::atomic::Ordering;
        let _writer = self
            .writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut table = self.table.load_full();
        if let Some(entry) = table.probe(hash, service, operation).get() {
            return Ok(Arc::clone(&entry.policies));
        }
        let policies = create()?;
        let len = table.len.load(Ordering::Relaxed);
        if (len + 1) * 2 > table.slots.len() {
            let grown = Table::with_capacity(table.slots.len() * 2);
            for entry in table.slots.iter().filter_map(OnceLock::get) {
                let slot = grown.probe(entry.hash, &entry.service, &entry.operation);
                let _ = slot.set(Arc::clone(entry));
            }
            grown.len.store(len, Ordering::Relaxed);
            #[cfg(test)]
            self.copied.fetch_add(len, Ordering::Relaxed);
            table = Arc::new(grown);
            self.table.store(Arc::clone(&table));
        }
        let entry = Arc::new(Entry {
            hash,
            service: service.into(),
            operation: operation.into(),
            policies: Arc::clone(&policies),
        });
        let _ = table.probe(hash, service, operation).set(entry);
        table.len.store(len + 1, Ordering::Relaxed);
        Ok(policies)
    }
}

#[derive(Debug)]
struct OperationPolicies {
    circuit_breaker: Arc<CircuitBreaker>,
    bulkhead: Arc<Bulkhead>,
}

impl Default for ResilienceFacade {
    fn default() -> Self {
        Self::new()
    }
}

impl ResilienceFacade {
    /// A facade with the contract's defaults.
    pub fn new() -> Self {
        Self::with_config(ResilienceConfig::default())
    }

    /// A facade with `config`.
    ///
    /// A value out of range is not fixed up silently: it is logged at once, and every
    /// [`execute`](Self::execute) returns [`ResilienceError::Config`] without running anything.
    /// Use [`try_with_config`](Self::try_with_config) to get the error here instead.
    pub fn with_config(config: ResilienceConfig) -> Self {
        let invalid = config.validate().err();
        if let Some(error) = &invalid {
            tracing::error!(target: "resilience", %error, "ResilienceFacade built with an invalid configuration; every call will fail");
        }
        ResilienceFacade {
            config,
            invalid,
            registry: registry(),
            operations: Arc::new(Operations::new()),
        }
    }

    /// A facade with `config`, or the first value out of range.
    pub fn try_with_config(config: ResilienceConfig) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self::with_config(config))
    }

    /// The configuration calls run with.
    pub fn config(&self) -> &ResilienceConfig {
        &self.config
    }

    /// Runs `operation` for `service`/`operation_name` through the pipeline; on any failure
    /// (operation error after retries, `CircuitOpen`, `Timeout`, `BulkheadFull`) runs `fallback`
    /// if there is one and returns its result.
    ///
    /// Every operation error counts as a breaker failure and is retried. An error of the
    /// operation reaches the caller as [`ResilienceError::Operation`]; so does one of the
    /// fallback. A `service` or `operation` the facade refuses (see [Names](Self#names)) is a
    /// [`ResilienceError::Config`], and nothing runs.
    ///
    /// Without a fallback, call [`execute_without_fallback`](Self::execute_without_fallback):
    /// a bare `None` here leaves the fallback's type unknown (E0283), and
    /// `None::<NoFallback<T>>` is the only other way to say it.
    pub async fn execute<T, Op, Fut, Fb, FbFut>(
        &self,
        service: &str,
        operation_name: &str,
        operation: Op,
        fallback: Option<Fb>,
    ) -> Result<T, ResilienceError>
    where
        Op: FnMut() -> Fut,
        Fut: Future<Output = Result<T, BoxError>>,
        Fb: FnOnce() -> FbFut,
        FbFut: Future<Output = Result<T, BoxError>>,
    {
        if let Some(error) = &self.invalid {
            return Err(ResilienceError::Config(error.clone()));
        }
        let policies = self.policies(service, operation_name)?;
        // Every policy is there: the composition with the layers' concrete types, as the
        // attributes expand it (not `Pipeline::run`'s expansion per combination of policies).
        let layers = Layers {
            circuit_breaker: &*policies.circuit_breaker,
            timeout: self.config.timeout.timeout,
            bulkhead: &*policies.bulkhead,
        };
        let mut operation = operation;
        let outcome = crate::__pipeline!(
            retry = Retries::new(Some(&self.config.retry)),
            retry_if = &every_error,
            breaker = some,
            timeout = some,
            bulkhead = some,
            layers = &layers,
            failure_if = &every_error,
            attempt = OperationErrors {
                future: operation(),
            }
            .await,
        );
        match outcome {
            Ok(value) => Ok(value),
            Err(failure) => match fallback {
                Some(fallback) => fallback().await.map_err(ResilienceError::Operation),
                None => Err(match failure {
                    Failure::Operation(error) => ResilienceError::Operation(error),
                    Failure::Rejected(rejection) => rejection,
                }),
            },
        }
    }

    /// [`execute`](Self::execute) with no fallback: the pipeline's error (the operation's
    /// last error after retries, `CircuitOpen`, `Timeout`, `BulkheadFull`) reaches the caller.
    ///
    /// ```
    /// use resilience_runtime::{BoxError, ResilienceError, ResilienceFacade};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let resilience = ResilienceFacade::new();
    /// let value = resilience
    ///     .execute_without_fallback("my_service", "get_data", || async { Ok::<_, BoxError>(42) })
    ///     .await;
    /// assert_eq!(value.ok(), Some(42));
    /// // A service name containing `/` could collide with another pair: refused.
    /// let refused = resilience
    ///     .execute_without_fallback("my/service", "get_data", || async { Ok::<_, BoxError>(42) })
    ///     .await;
    /// assert!(matches!(refused, Err(ResilienceError::Config(error)) if error.key == "service"));
    /// # }
    /// ```
    pub async fn execute_without_fallback<T, Op, Fut>(
        &self,
        service: &str,
        operation_name: &str,
        operation: Op,
    ) -> Result<T, ResilienceError>
    where
        Op: FnMut() -> Fut,
        Fut: Future<Output = Result<T, BoxError>>,
    {
        self.execute(service, operation_name, operation, None::<NoFallback<T>>)
            .await
    }
}

impl ResilienceFacade {
    /// The breaker and bulkhead of `service`/`operation`, registered on first use. The names
    /// are checked only then: an operation already seen was valid.
    fn policies(
        &self,
        service: &str,
        operation: &str,
    ) -> Result<Arc<OperationPolicies>, ConfigError> {
        let hash = self.operations.hash(service, operation);
        if let Some(policies) = self.operations.get(hash, service, operation) {
            return Ok(policies);
        }
        validate_operation_name(service, operation)?;
        self.operations.get_or_insert(hash, service, operation, || {
            let name = format!("{service}/{operation}");
            Ok(Arc::new(OperationPolicies {
                circuit_breaker: self
                    .registry
                    .circuit_breaker_or_register(&name, &self.config.circuit_breaker)?,
                bulkhead: self
                    .registry
                    .bulkhead_or_register(&name, &self.config.bulkhead)?,
            }))
        })
    }
}

/// The facade's classification: every operation error is a breaker failure and is retried.
fn every_error(_: &BoxError) -> bool {
    true
}

/// The facade's rule for names (see [Names](ResilienceFacade#names)).
fn validate_operation_name(service: &str, operation: &str) -> Result<(), ConfigError> {
    validate_name_part("facade", "service", service)?;
    validate_name_part("facade", "operation", operation)?;
    if service.contains('/') {
        return Err(ConfigError::new(
            "facade",
            "service",
            format!(
                "must not contain `/` (got {service:?}): the registry name is \"<service>/<operation>\", \
                 and a `/` in the service would let two pairs share one name"
            ),
        ));
    }
    Ok(())
}

impl From<BoxError> for ResilienceError {
    fn from(error: BoxError) -> Self {
        ResilienceError::Operation(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn registering_operations_copies_each_entry_a_bounded_number_of_times() {
        let facade = ResilienceFacade::new();
        let operations = 5_000;
        for i in 0..operations {
            facade
                .policies("facade-unit-many", &format!("op-{i}"))
                .expect("valid names");
        }
        let table = facade.operations.table.load();
        let len = table.len.load(std::sync::atomic::Ordering::Relaxed);
        assert_eq!(len, operations);
        assert!(table.slots.len() >= 2 * len && table.slots.len() <= 4 * len);
        let copied = facade
            .operations
            .copied
            .load(std::sync::atomic::Ordering::Relaxed);
        assert!(
            copied < 2 * operations,
            "doubling copies fewer than twice the entries it holds: {copied}"
        );
        for i in (0..operations).step_by(97) {
            let name = format!("op-{i}");
            let policies = facade
                .operations
                .get(
                    facade.operations.hash("facade-unit-many", &name),
                    "facade-unit-many",
                    &name,
                )
                .expect("registered");
            assert_eq!(
                policies.circuit_breaker.name(),
                format!("facade-unit-many/{name}")
            );
        }
    }

    #[test]
    fn names_that_would_collide_are_refused_and_others_keep_the_contract_name() {
        assert!(validate_operation_name("a", "b/c").is_ok());
        assert_eq!(
            validate_operation_name("a/b", "c").map_err(|e| e.key),
            Err("service")
        );
        assert_eq!(
            validate_operation_name("", "c").map_err(|e| e.key),
            Err("service")
        );
        assert_eq!(
            validate_operation_name("a", " ").map_err(|e| e.key),
            Err("operation")
        );
    }
}
