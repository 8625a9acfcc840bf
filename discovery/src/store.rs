//! The registry backend: instances stored under leases, every change numbered by a revision,
//! and a watch that gives a snapshot and then the changes after it — etcd's semantics, so the
//! etcd backend drops in behind the same trait. [`MemoryRegistry`] is the default, in-process.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::error::DiscoveryError;
use crate::id::InstanceId;
use crate::instance::Instance;

/// A registry revision: every change increments it.
pub type Revision = u64;
/// A lease id.
pub type LeaseId = u64;

/// One change of the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An instance was registered (or replaced).
    Put(Instance),
    /// An instance was deregistered, or its lease expired.
    Delete(InstanceId),
}

/// A change with the revision it made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchEvent {
    /// The registry's revision after the change.
    pub revision: Revision,
    /// The change.
    pub change: Change,
}

/// Every instance at one revision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// The revision the snapshot was taken at.
    pub revision: Revision,
    /// The instances, by id.
    pub instances: Vec<Instance>,
}

/// A registry of instances with etcd's semantics.
///
/// Methods return at once. A backend that talks to a remote store applies the change to its
/// local view, sends it in the background and keeps leases alive itself; its watch delivers
/// what other processes change.
pub trait RegistryBackend: Send + Sync + 'static {
    /// A lease that expires `ttl` after its last keep-alive.
    fn grant(&self, ttl: Duration) -> Result<LeaseId, DiscoveryError>;
    /// Renews a lease (a heartbeat).
    fn keep_alive(&self, lease: LeaseId) -> Result<(), DiscoveryError>;
    /// Ends a lease now, deleting its instances.
    fn revoke(&self, lease: LeaseId) -> Result<(), DiscoveryError>;
    /// Stores `instance` (replacing one with the same id), under `lease` if given.
    fn put(&self, instance: Instance, lease: Option<LeaseId>) -> Result<Revision, DiscoveryError>;
    /// Deletes an instance.
    fn delete(&self, id: &InstanceId) -> Result<Revision, DiscoveryError>;
    /// The instances now, and a receiver of every change after that snapshot.
    fn watch(&self) -> (Snapshot, broadcast::Receiver<WatchEvent>);

    /// Tells `listener` of every change after the returned snapshot, in revision order, until
    /// it is dropped. This is how a [`ServiceDiscovery`](crate::ServiceDiscovery) keeps its
    /// lock-free snapshot in step, whatever the backend.
    ///
    /// A backend that applies its own writes locally calls the listener synchronously from
    /// them, so that a registration is visible to the process that made it at once (both
    /// built-in backends do). The default forwards [`watch`](Self::watch)'s stream from a task
    /// of the current tokio runtime: changes are seen shortly after, not at once.
    fn listen(&self, listener: Weak<dyn Listener>) -> Snapshot {
        let (snapshot, mut events) = self.watch();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    loop {
                        match events.recv().await {
                            Ok(event) => match listener.upgrade() {
                                Some(listener) => listener.changed(&event),
                                None => return,
                            },
                            Err(broadcast::error::RecvError::Lagged(missed)) => {
                                tracing::warn!(target: "resilience::discovery", missed, "a registry watcher fell behind and missed changes");
                            }
                            Err(broadcast::error::RecvError::Closed) => return,
                        }
                    }
                });
            }
            Err(_) => {
                tracing::warn!(target: "resilience::discovery", "a registry backend was attached outside a tokio runtime: later changes are not followed");
            }
        }
        snapshot
    }

    /// Whether the local view may be out of date because the store behind it is unreachable
    /// (reads keep serving it). Never true for an in-process backend.
    fn is_stale(&self) -> bool {
        false
    }
}

/// Something told of every change synchronously, in revision order: what a
/// [`ServiceDiscovery`](crate::ServiceDiscovery) gives [`RegistryBackend::listen`].
pub trait Listener: Send + Sync {
    /// One change, after the one before it.
    fn changed(&self, event: &WatchEvent);
}

#[derive(Debug)]
struct Entry {
    instance: Instance,
    lease: Option<LeaseId>,
}

#[derive(Debug)]
struct Lease {
    ttl: Duration,
    deadline: Instant,
}

#[derive(Default)]
struct State {
    revision: Revision,
    next_lease: LeaseId,
    entries: BTreeMap<InstanceId, Entry>,
    leases: BTreeMap<LeaseId, Lease>,
    listeners: Vec<Weak<dyn Listener>>,
    reaper_started: bool,
}

/// The in-memory registry: the default backend.
///
/// Leases expire on tokio's clock (paused in tests): a reaper task, started with the first
/// lease inside a runtime, deletes the instances of a lease not kept alive within its TTL.
pub struct MemoryRegistry {
    state: Mutex<State>,
    events: broadcast::Sender<WatchEvent>,
    lease_changed: Arc<tokio::sync::Notify>,
}

impl Drop for MemoryRegistry {
    fn drop(&mut self) {
        // Wakes the reaper so it sees the registry gone and ends.
        self.lease_changed.notify_one();
    }
}

impl std::fmt::Debug for MemoryRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("MemoryRegistry")
            .field("revision", &state.revision)
            .field("instances", &state.entries.len())
            .field("leases", &state.leases.len())
            .finish()
    }
}

impl Default for MemoryRegistry {
    fn default() -> Self {
        MemoryRegistry {
            state: Mutex::new(State::default()),
            events: broadcast::channel(1024).0,
            lease_changed: Arc::new(tokio::sync::Notify::new()),
        }
    }
}

impl MemoryRegistry {
    /// An empty registry.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // Every mutation below is completed before the guard drops; a poisoned lock holds a
        // consistent state.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn add_listener(&self, listener: Weak<dyn Listener>) {
        self.lock().listeners.push(listener);
    }

    /// Records a change: new revision, listeners told in order, watchers sent the event.
    fn commit(&self, state: &mut State, change: Change) -> Revision {
        state.revision += 1;
        let event = WatchEvent {
            revision: state.revision,
            change,
        };
        state.listeners.retain(|listener| match listener.upgrade() {
            Some(listener) => {
                listener.changed(&event);
                true
            }
            None => false,
        });
        // No receiver is not an error: nobody watches.
        let _ = self.events.send(event);
        state.revision
    }

    /// Deletes the instances of every lease past its deadline; returns the next deadline.
    fn expire(&self, now: Instant) -> Option<Instant> {
        let mut state = self.lock();
        let expired: Vec<LeaseId> = state
            .leases
            .iter()
            .filter(|(_, lease)| lease.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for lease in expired {
            tracing::info!(target: "resilience::discovery", lease, "lease expired");
            self.drop_lease(&mut state, lease);
        }
        state.leases.values().map(|lease| lease.deadline).min()
    }

    fn drop_lease(&self, state: &mut State, lease: LeaseId) {
        state.leases.remove(&lease);
        let ids: Vec<InstanceId> = state
            .entries
            .iter()
            .filter(|(_, entry)| entry.lease == Some(lease))
            .map(|(id, _)| id.clone())
            .collect();
        for id in ids {
            state.entries.remove(&id);
            self.commit(state, Change::Delete(id));
        }
    }

    fn start_reaper(self: &Arc<Self>, state: &mut State) {
        if state.reaper_started {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return; // Outside a runtime: leases are reaped once a lease is granted inside one.
        };
        state.reaper_started = true;
        let registry = Arc::downgrade(self);
        runtime.spawn(async move {
            loop {
                let Some(this) = registry.upgrade() else {
                    return;
                };
                let next = this.expire(Instant::now());
                let wake = Arc::clone(&this.lease_changed);
                let notified = wake.notified();
                // Not keeping the registry alive while waiting.
                drop(this);
                match next {
                    Some(deadline) => {
                        tokio::select! {
                            _ = tokio::time::sleep_until(deadline) => {}
                            _ = notified => {}
                        }
                    }
                    None => notified.await,
                }
            }
        });
    }
}

impl RegistryBackend for Arc<MemoryRegistry> {
    fn grant(&self, ttl: Duration) -> Result<LeaseId, DiscoveryError> {
        let mut state = self.lock();
        state.next_lease += 1;
        let id = state.next_lease;
        state.leases.insert(
            id,
            Lease {
                ttl,
                deadline: Instant::now() + ttl,
            },
        );
        self.start_reaper(&mut state);
        drop(state);
        self.lease_changed.notify_one();
        Ok(id)
    }

    fn keep_alive(&self, lease: LeaseId) -> Result<(), DiscoveryError> {
        let mut state = self.lock();
        let entry = state
            .leases
            .get_mut(&lease)
            .ok_or(DiscoveryError::UnknownLease { lease })?;
        entry.deadline = Instant::now() + entry.ttl;
        Ok(())
    }

    fn revoke(&self, lease: LeaseId) -> Result<(), DiscoveryError> {
        let mut state = self.lock();
        if !state.leases.contains_key(&lease) {
            return Err(DiscoveryError::UnknownLease { lease });
        }
        self.drop_lease(&mut state, lease);
        Ok(())
    }

    fn put(&self, instance: Instance, lease: Option<LeaseId>) -> Result<Revision, DiscoveryError> {
        let mut state = self.lock();
        if let Some(lease) = lease
            && !state.leases.contains_key(&lease)
        {
            return Err(DiscoveryError::UnknownLease { lease });
        }
        state.entries.insert(
            instance.id.clone(),
            Entry {
                instance: instance.clone(),
                lease,
            },
        );
        Ok(self.commit(&mut state, Change::Put(instance)))
    }

    fn delete(&self, id: &InstanceId) -> Result<Revision, DiscoveryError> {
        let mut state = self.lock();
        if state.entries.remove(id).is_none() {
            return Err(DiscoveryError::UnknownInstance { id: id.clone() });
        }
        Ok(self.commit(&mut state, Change::Delete(id.clone())))
    }

    fn listen(&self, listener: Weak<dyn Listener>) -> Snapshot {
        // Listening first, then taking the snapshot: a change between the two is applied
        // twice, which is harmless (the same instance put again).
        self.add_listener(listener);
        self.watch().0
    }

    fn watch(&self) -> (Snapshot, broadcast::Receiver<WatchEvent>) {
        let state = self.lock();
        // Subscribing under the lock: no change can fall between the snapshot and the stream.
        let receiver = self.events.subscribe();
        let snapshot = Snapshot {
            revision: state.revision,
            instances: state
                .entries
                .values()
                .map(|entry| entry.instance.clone())
                .collect(),
        };
        (snapshot, receiver)
    }
}
