//! The event stream of contract §8: [`Registry::subscribe`](crate::Registry::subscribe).
//!
//! One process-wide `broadcast` channel, created by the first subscriber. Policies send only
//! on their cold paths (transitions, rejections, reloads), and only when somebody listens: the
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

/// Sends the event `make` builds, if anybody listens.
pub(crate) fn emit(make: impl FnOnce() -> Event) {
    if let Some(sender) = channel().get()
        && sender.receiver_count() > 0
    {
        let _ = sender.send(make());
    }
}
