//! [`EtcdBackend`]: the [`RegistryBackend`] over etcd. Its methods change the local view at
//! once and hand the network work to the session task; the watcher task keeps the view in step
//! with etcd.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use etcd_client::{Client, ConnectOptions};
use tokio::sync::{broadcast, mpsc};

use super::view::View;
use super::{EtcdOptions, session, watcher};
use crate::error::DiscoveryError;
use crate::id::InstanceId;
use crate::instance::Instance;
use crate::store::{LeaseId, Listener, RegistryBackend, Revision, Snapshot, WatchEvent};

/// What the tasks and the backend share.
pub(crate) struct Shared {
    view: Mutex<View>,
    stale: AtomicBool,
    pub(crate) prefix: String,
    pub(crate) session: LeaseId,
    pub(crate) lease_ttl: Duration,
    pub(crate) request_timeout: Duration,
}

impl Shared {
    pub(crate) fn view(&self) -> MutexGuard<'_, View> {
        // Every mutation of the view completes before its guard drops.
        self.view
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// etcd is unreachable: warns once per outage.
    pub(crate) fn mark_stale(&self, reason: &str) {
        if !self.stale.swap(true, Ordering::AcqRel) {
            tracing::warn!(target: "resilience::discovery", %reason, "etcd is unreachable: discovery serves its last snapshot until it is back");
        }
    }

    pub(crate) fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Acquire)
    }

    pub(crate) fn mark_fresh(&self) {
        if self.stale.swap(false, Ordering::AcqRel) {
            tracing::info!(target: "resilience::discovery", "etcd is reachable again: discovery is up to date");
        }
    }
}

/// A network write for the session task, in the order the backend made them locally.
#[derive(Debug)]
pub(crate) enum Command {
    Grant(LeaseId),
    Put(InstanceId),
    Delete(InstanceId),
    KeepAlive(LeaseId),
    Revoke(LeaseId),
}

/// The etcd registry backend (see the module `etcd`).
pub(crate) struct EtcdBackend {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    watcher: tokio::task::AbortHandle,
}

impl Drop for EtcdBackend {
    fn drop(&mut self) {
        // The session task sees its command channel closed and revokes the leases.
        self.watcher.abort();
    }
}

/// A lease id etcd accepts (positive in an i64), chosen here so that granting needs no round
/// trip and a lease keeps its id when re-granted after an outage.
fn new_lease_id() -> LeaseId {
    fastrand::u64(1..=i64::MAX as u64)
}

pub(crate) fn to_etcd_lease(lease: LeaseId) -> i64 {
    i64::try_from(lease).unwrap_or(i64::MAX)
}

impl EtcdBackend {
    pub(crate) async fn connect(options: EtcdOptions) -> Result<EtcdBackend, DiscoveryError> {
        let error = |reason: String| DiscoveryError::Backend { reason };
        if options.endpoints.is_empty() {
            return Err(error(
                "no etcd endpoint given (EtcdOptions::new([\"http://127.0.0.1:2379\"]))".into(),
            ));
        }
        if options.lease_ttl < EtcdOptions::MIN_LEASE_TTL {
            return Err(error(format!(
                "lease_ttl {:?} is below etcd's minimum of 2 s",
                options.lease_ttl
            )));
        }
        if options.prefix.is_empty() || !options.prefix.starts_with('/') {
            return Err(error(format!(
                "prefix {:?} must start with `/` (e.g. \"/resilience/services\")",
                options.prefix
            )));
        }
        let connect = ConnectOptions::new()
            .with_connect_timeout(options.request_timeout)
            .with_timeout(options.request_timeout)
            .with_keep_alive(options.request_timeout, options.request_timeout)
            .with_keep_alive_while_idle(true);
        let endpoints = options.endpoints.join(", ");
        let unreachable =
            |reason: String| error(format!("no etcd endpoint answers ({endpoints}): {reason}"));
        // The channel is lazy: connecting succeeds even when nothing listens. Listing the
        // prefix proves an endpoint answers, and loads the first view.
        let mut client = Client::connect(&options.endpoints, Some(connect))
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        let session = new_lease_id();
        let shared = Arc::new(Shared {
            view: Mutex::new(View::new()),
            stale: AtomicBool::new(false),
            prefix: options.prefix,
            session,
            lease_ttl: options.lease_ttl,
            request_timeout: options.request_timeout,
        });
        let revision = watcher::list(&mut client, &shared)
            .await
            .map_err(unreachable)?;
        shared.view().leases.insert(session, options.lease_ttl);
        session::grant(
            &mut client,
            session,
            options.lease_ttl,
            shared.request_timeout,
        )
        .await
        .map_err(unreachable)?;
        let (commands, receiver) = mpsc::unbounded_channel();
        tokio::spawn(session::run(client.clone(), Arc::clone(&shared), receiver));
        let watcher =
            tokio::spawn(watcher::run(client, Arc::clone(&shared), revision)).abort_handle();
        Ok(EtcdBackend {
            shared,
            commands,
            watcher,
        })
    }

    fn send(&self, command: Command) {
        // The session task ends only when this sender is dropped.
        let _ = self.commands.send(command);
    }
}

impl RegistryBackend for EtcdBackend {
    fn grant(&self, ttl: Duration) -> Result<LeaseId, DiscoveryError> {
        if ttl < EtcdOptions::MIN_LEASE_TTL {
            return Err(DiscoveryError::Backend {
                reason: format!("lease TTL {ttl:?} is below etcd's minimum of 2 s"),
            });
        }
        let lease = new_lease_id();
        self.shared.view().leases.insert(lease, ttl);
        self.send(Command::Grant(lease));
        Ok(lease)
    }

    fn keep_alive(&self, lease: LeaseId) -> Result<(), DiscoveryError> {
        if !self.shared.view().leases.contains_key(&lease) {
            return Err(DiscoveryError::UnknownLease { lease });
        }
        self.send(Command::KeepAlive(lease));
        Ok(())
    }

    fn revoke(&self, lease: LeaseId) -> Result<(), DiscoveryError> {
        let mut view = self.shared.view();
        if lease == self.shared.session || !view.leases.contains_key(&lease) {
            return Err(DiscoveryError::UnknownLease { lease });
        }
        view.drop_lease(lease);
        drop(view);
        self.send(Command::Revoke(lease));
        Ok(())
    }

    fn put(&self, instance: Instance, lease: Option<LeaseId>) -> Result<Revision, DiscoveryError> {
        let lease = lease.unwrap_or(self.shared.session);
        let mut view = self.shared.view();
        if !view.leases.contains_key(&lease) {
            return Err(DiscoveryError::UnknownLease { lease });
        }
        let id = instance.id.clone();
        let revision = view.put_own(instance, lease);
        drop(view);
        self.send(Command::Put(id));
        Ok(revision)
    }

    fn delete(&self, id: &InstanceId) -> Result<Revision, DiscoveryError> {
        let mut view = self.shared.view();
        if !view.delete_own(id) {
            view.pending_deletes.remove(id);
            return Err(DiscoveryError::UnknownInstance { id: id.clone() });
        }
        let revision = view.revision();
        drop(view);
        self.send(Command::Delete(id.clone()));
        Ok(revision)
    }

    fn watch(&self) -> (Snapshot, broadcast::Receiver<WatchEvent>) {
        self.shared.view().watch()
    }

    fn listen(&self, listener: Weak<dyn Listener>) -> Snapshot {
        self.shared.view().listen(listener)
    }

    fn is_stale(&self) -> bool {
        self.shared.is_stale()
    }
}
