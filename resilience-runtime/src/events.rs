//! The event stream of contract §8: [`Registry::subscribe`](crate::Registry::subscribe).
//!
//! One process-wide `broadcast` channel, created by the first subscriber. Policies send only
//! on their cold paths (transitions, retries, timeouts, rejections, ejections, reloads), and only when somebody listens: the
//! call path pays nothing for it.

use std::sync::OnceLock;
use tokio::sync::broadcast;

use crate::circuit_breaker::CircuitState;

/// How many events a slow subscriber may fall behind before it misses some (it then gets
/// `RecvError::Lagged`).
const CAPACITY: usize = 1024;

/// Something that happened to a policy or to the configuration.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// The breaker `name` went from `from` to `to`.
    CircuitBreakerTransition {
        /// The breaker's registry name.
        name: String,
        /// The state it left.
        from: CircuitState,
        /// The state it entered.
        to: CircuitState,
    },
    /// The bulkhead `name` turned a caller away (`BulkheadFull`).
    BulkheadRejected {
        /// The bulkhead's registry name.
        name: String,
    },
    /// The retry `name` starts attempt `attempt` (2 for the first retry) after `delay`.
    Retry {
        /// The retry's registry name.
        name: String,
        /// The attempt about to start, counting the first one as 1.
        attempt: u32,
        /// How long it waits first.
        delay: std::time::Duration,
        /// What the failed attempt returned: a rejection's message, or the operation error's
        /// type (the runtime does not require operation errors to be `Debug`).
        error: String,
    },
    /// An attempt bounded by the timeout `name` ran out of time.
    Timeout {
        /// The timeout's registry name.
        name: String,
        /// Its duration.
        after: std::time::Duration,
    },
    /// Outlier detection ejected an instance of `service` for `duration`.
    InstanceEjected {
        /// The service's name.
        service: String,
        /// The instance's id.
        instance: String,
        /// How long it stays out.
        duration: std::time::Duration,
    },
    /// Overrides were applied (`source`: the file, or `apply` when applied by hand).
    ConfigReloaded {
        /// Where they came from.
        source: String,
    },
    /// Overrides were refused; the previous configuration stays.
    ConfigReloadFailed {
        /// Where they came from.
        source: String,
        /// Why, naming the file, line and key.
        error: String,
    },
}

fn channel() -> &'static OnceLock<broadcast::Sender<Event>> {
    static CHANNEL: OnceLock<broadcast::Sender<Event>> = OnceLock::new();
    &CHANNEL
}

/// A new receiver of every event from now on.
pub(crate) fn subscribe() -> broadcast::Receiver<Event> {
    channel()
        .get_or_init(|| broadcast::channel(CAPACITY).0)
        .subscribe()
}

/// Sends the event `make` builds, if anybody listens. Public for the discovery crate's events
/// (ejections); not part of the API.
#[doc(hidden)]
pub fn emit(make: impl FnOnce() -> Event) {
    if let Some(sender) = channel().get()
        && sender.receiver_count() > 0
    {
        let _ = sender.send(make());
    }
}
