//! The etcd backend's local view: what etcd last said (`remote`) overlaid with this process's
//! own registrations (`own`), numbered by a local revision, every change told to the listeners
//! synchronously. Pure state under one lock; the network lives in `session.rs` and `watcher.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Weak;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::id::InstanceId;
use crate::instance::Instance;
use crate::store::{Change, LeaseId, Listener, Revision, Snapshot, WatchEvent};

pub(crate) struct View {
    revision: Revision,
    /// What etcd holds under the prefix, as last listed or watched.
    remote: BTreeMap<InstanceId, Instance>,
    /// Registrations of this process, with their lease: re-put after every outage.
    pub(crate) own: BTreeMap<InstanceId, (Instance, LeaseId)>,
    /// Leases of this process and their TTL: re-granted after every outage.
    pub(crate) leases: BTreeMap<LeaseId, Duration>,
    /// Own instances deregistered but not yet deleted from etcd.
    pub(crate) pending_deletes: BTreeSet<InstanceId>,
    listeners: Vec<Weak<dyn Listener>>,
    events: broadcast::Sender<WatchEvent>,
}

impl View {
    pub(crate) fn new() -> View {
        View {
            revision: 0,
            remote: BTreeMap::new(),
            own: BTreeMap::new(),
            leases: BTreeMap::new(),
            pending_deletes: BTreeSet::new(),
            listeners: Vec::new(),
            events: broadcast::channel(1024).0,
        }
    }

    fn effective(&self, id: &InstanceId) -> Option<&Instance> {
        self.own
            .get(id)
            .map(|(instance, _)| instance)
            .or_else(|| self.remote.get(id))
    }

    /// Runs `update`, then tells everyone how the instance `id` changed, if it did.
    fn change(&mut self, id: &InstanceId, update: impl FnOnce(&mut View)) -> Option<Revision> {
        let before = self.effective(id).cloned();
        update(self);
        let after = self.effective(id).cloned();
        if before == after {
            return None;
        }
        let change = match after {
            Some(instance) => Change::Put(instance),
            None => Change::Delete(id.clone()),
        };
        self.revision += 1;
        let event = WatchEvent {
            revision: self.revision,
            change,
        };
        self.listeners.retain(|listener| match listener.upgrade() {
            Some(listener) => {
                listener.changed(&event);
                true
            }
            None => false,
        });
        // No receiver is not an error: nobody watches.
        let _ = self.events.send(event);
        Some(self.revision)
    }

    pub(crate) fn revision(&self) -> Revision {
        self.revision
    }

    pub(crate) fn put_own(&mut self, instance: Instance, lease: LeaseId) -> Revision {
        let id = instance.id.clone();
        self.pending_deletes.remove(&id);
        self.change(&id, |view| {
            view.own.insert(id.clone(), (instance, lease));
        });
        self.revision
    }

    /// Removes an own registration (and etcd's copy from the view, so that it vanishes now
    /// rather than when the watch echoes the delete). Whether there was one.
    pub(crate) fn delete_own(&mut self, id: &InstanceId) -> bool {
        let known = self.own.contains_key(id) || self.remote.contains_key(id);
        self.pending_deletes.insert(id.clone());
        self.change(id, |view| {
            view.own.remove(id);
            view.remote.remove(id);
        });
        known
    }

    /// Forgets `lease` and its own instances; their ids.
    pub(crate) fn drop_lease(&mut self, lease: LeaseId) -> Vec<InstanceId> {
        self.leases.remove(&lease);
        let ids: Vec<InstanceId> = self
            .own
            .iter()
            .filter(|(_, (_, owner))| *owner == lease)
            .map(|(id, _)| id.clone())
            .collect();
        for id in &ids {
            self.change(id, |view| {
                view.own.remove(id);
                view.remote.remove(id);
            });
        }
        ids
    }

    /// etcd says `id` holds `instance` now (`None`: deleted, or not a valid instance).
    /// `session` is the lease kept alive by this process itself: an own instance under another
    /// lease that etcd deleted has expired for good.
    pub(crate) fn set_remote(
        &mut self,
        id: &InstanceId,
        instance: Option<Instance>,
        session: LeaseId,
    ) {
        let expired =
            instance.is_none() && self.own.get(id).is_some_and(|(_, lease)| *lease != session);
        self.change(id, |view| {
            match instance {
                Some(instance) => view.remote.insert(id.clone(), instance),
                None => view.remote.remove(id),
            };
            if expired {
                view.own.remove(id);
            }
        });
    }

    /// A full listing of etcd: applies the difference with what the view held.
    pub(crate) fn replace_remote(
        &mut self,
        listed: BTreeMap<InstanceId, Instance>,
        session: LeaseId,
    ) {
        let gone: Vec<InstanceId> = self
            .remote
            .keys()
            .filter(|id| !listed.contains_key(*id))
            .cloned()
            .collect();
        for id in gone {
            self.set_remote(&id, None, session);
        }
        for (id, instance) in listed {
            self.set_remote(&id, Some(instance), session);
        }
    }

    pub(crate) fn listen(&mut self, listener: Weak<dyn Listener>) -> Snapshot {
        self.listeners.push(listener);
        self.snapshot()
    }

    pub(crate) fn watch(&self) -> (Snapshot, broadcast::Receiver<WatchEvent>) {
        (self.snapshot(), self.events.subscribe())
    }

    fn snapshot(&self) -> Snapshot {
        let ids: BTreeSet<&InstanceId> = self.own.keys().chain(self.remote.keys()).collect();
        Snapshot {
            revision: self.revision,
            instances: ids
                .into_iter()
                .filter_map(|id| self.effective(id).cloned())
                .collect(),
        }
    }
}
