//! The registry backend: instances stored under leases, every change numbered by a revision,
//! and a watch that gives a snapshot and then the changes after it — etcd's semantics, so the
//! etcd backend drops in behind the same trait. [`MemoryRegistry`] is the default, in-process.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap};
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
    /// Several changes at once, in revision order (a batch of lease expirations): the listener
    /// may apply them together.
    fn changed_all(&self, events: &[WatchEvent]) {
        for event in events {
            self.changed(event);
        }
    }
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
    /// The instances put under it, so that ending it costs O(k log n) for its k instances.
    instances: BTreeSet<InstanceId>,
}

#[derive(Default)]
struct State {
    revision: Revision,
    next_lease: LeaseId,
    entries: BTreeMap<InstanceId, Entry>,
    leases: HashMap<LeaseId, Lease>,
    /// One entry per lease, ordered by deadline (earliest first). A keep-alive only moves the
    /// lease's own deadline; its entry here, found early, is pushed again at the new deadline.
    deadlines: BinaryHeap<Reverse<(Instant, LeaseId)>>,
    listeners: Vec<Weak<dyn Listener>>,
    reaper_started: bool,
}

/// The longest the reaper holds the registry's lock in one batch of expirations (then it
/// lets writers and readers of the registry in, and goes on).
const EXPIRY_BATCH: std::time::Duration = std::time::Duration::from_millis(1);

/// `now + ttl`, or about 30 years from now when that overflows (a lease of `Duration::MAX`
/// never expires).
fn lease_deadline(now: Instant, ttl: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(86_400 * 365 * 30);
    now.checked_add(ttl.min(FAR))
        .unwrap_or_else(|| now + Duration::from_secs(86_400))
}

/// The in-memory registry: the default backend.
///
/// Leases expire on tokio's clock (paused in tests): a reaper task, started with the first
/// lease inside a runtime, deletes the instances of a lease not kept alive within its TTL.
/// Leases wait in a heap by deadline: expiring k of them costs O(k log n), done in batches
/// that hold the registry's lock for about a millisecond at most.
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

/// What one batch of the reaper left.
enum Expired {
    /// More leases are due now: run another batch.
    More,
    /// The next deadline, if any lease remains.
    Next(Option<Instant>),
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

    /// Records several deletions at once: each its own revision, in order, and the listeners
    /// told of them together.
    fn commit_deletions(&self, state: &mut State, ids: Vec<InstanceId>) {
        if ids.is_empty() {
            return;
        }
        let events: Vec<WatchEvent> = ids
            .into_iter()
            .map(|id| {
                state.revision += 1;
                WatchEvent {
                    revision: state.revision,
                    change: Change::Delete(id),
                }
            })
            .collect();
        state.listeners.retain(|listener| match listener.upgrade() {
            Some(listener) => {
                listener.changed_all(&events);
                true
            }
            None => false,
        });
        for event in events {
            let _ = self.events.send(event);
        }
    }

    /// Deletes the instances of leases past their deadline, for about `EXPIRY_BATCH` at most.
    fn expire(&self, now: Instant) -> Expired {
        /// Deletions committed (and applied by the listeners) together.
        const CHUNK: usize = 64;
        let started = std::time::Instant::now();
        let mut state = self.lock();
        let mut deleted = Vec::with_capacity(CHUNK);
        let outcome = loop {
            if deleted.len() >= CHUNK {
                self.commit_deletions(&mut state, std::mem::take(&mut deleted));
                // Stopping short of the budget: the next chunk may take as long again.
                if started.elapsed() >= EXPIRY_BATCH * 3 / 4 {
                    break Expired::More;
                }
            }
            let Some(&Reverse((deadline, lease))) = state.deadlines.peek() else {
                break Expired::Next(None);
            };
            if deadline > now {
                break Expired::Next(Some(deadline));
            }
            state.deadlines.pop();
            let Some(current) = state.leases.get(&lease).map(|lease| lease.deadline) else {
                continue; // Revoked: its entry was left here.
            };
            if current > now {
                // Kept alive since: wait for its new deadline.
                state.deadlines.push(Reverse((current, lease)));
                continue;
            }
            tracing::info!(target: "resilience::discovery", lease, "lease expired");
            Self::take_lease(&mut state, lease, &mut deleted);
        };
        self.commit_deletions(&mut state, deleted);
        outcome
    }

    /// Ends `lease`, removing its instances from the entries into `deleted` (to commit).
    fn take_lease(state: &mut State, lease: LeaseId, deleted: &mut Vec<InstanceId>) {
        let Some(ended) = state.leases.remove(&lease) else {
            return;
        };
        for id in ended.instances {
            if state
                .entries
                .get(&id)
                .is_some_and(|entry| entry.lease == Some(lease))
            {
                state.entries.remove(&id);
                deleted.push(id);
            }
        }
    }

    /// Ends `lease`, deleting its instances.
    fn drop_lease(&self, state: &mut State, lease: LeaseId) {
        let mut deleted = Vec::new();
        Self::take_lease(state, lease, &mut deleted);
        self.commit_deletions(state, deleted);
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
                    Expired::More => {
                        // Lets the threads waiting for the lock in before the next batch (a
                        // mutex is not fair: relocking at once could starve them).
                        std::thread::yield_now();
                        tokio::task::yield_now().await;
                    }
                    Expired::Next(Some(deadline)) => {
                        tokio::select! {
                            _ = tokio::time::sleep_until(deadline) => {}
                            _ = notified => {}
                        }
                    }
                    Expired::Next(None) => notified.await,
                }
            }
        });
    }

    /// Detaches `id` from the lease it was put under, if any.
    fn unlease(state: &mut State, id: &InstanceId, lease: Option<LeaseId>) {
        if let Some(lease) = lease
            && let Some(lease) = state.leases.get_mut(&lease)
        {
            lease.instances.remove(id);
        }
    }
}

impl RegistryBackend for Arc<MemoryRegistry> {
    fn grant(&self, ttl: Duration) -> Result<LeaseId, DiscoveryError> {
        let mut state = self.lock();
        state.next_lease += 1;
        let id = state.next_lease;
        let deadline = lease_deadline(Instant::now(), ttl);
        state.leases.insert(
            id,
            Lease {
                ttl,
                deadline,
                instances: BTreeSet::new(),
            },
        );
        state.deadlines.push(Reverse((deadline, id)));
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
        entry.deadline = lease_deadline(Instant::now(), entry.ttl);
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
        if let Some(lease) = lease {
            match state.leases.get_mut(&lease) {
                Some(entry) => {
                    entry.instances.insert(instance.id.clone());
                }
                None => return Err(DiscoveryError::UnknownLease { lease }),
            }
        }
        let previous = state.entries.insert(
            instance.id.clone(),
            Entry {
                instance: instance.clone(),
                lease,
            },
        );
        if let Some(previous) = previous
            && previous.lease != lease
        {
            MemoryRegistry::unlease(&mut state, &instance.id, previous.lease);
        }
        Ok(self.commit(&mut state, Change::Put(instance)))
    }

    fn delete(&self, id: &InstanceId) -> Result<Revision, DiscoveryError> {
        let mut state = self.lock();
        let Some(removed) = state.entries.remove(id) else {
            return Err(DiscoveryError::UnknownInstance { id: id.clone() });
        };
        MemoryRegistry::unlease(&mut state, id, removed.lease);
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
