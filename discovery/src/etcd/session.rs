//! The session task: carries the backend's writes to etcd in order, keeps the session lease
//! alive every TTL/3, and after any failure (etcd's keep-alive stream does not recover once
//! etcd goes away) re-grants every own lease under its id and re-puts every own instance, with
//! jittered exponential backoff, for as long as the discovery lives. Dropping the discovery
//! closes the command channel: the task revokes its leases and ends.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, LeaseGrantOptions, LeaseKeepAliveStream, LeaseKeeper, PutOptions};
use tokio::sync::mpsc;

use super::backend::{Command, Shared, to_etcd_lease};
use super::codec;
use crate::id::InstanceId;
use crate::store::LeaseId;

/// Runs `request` within `timeout`; any failure as text.
pub(crate) async fn within<T, E: std::fmt::Display>(
    timeout: Duration,
    request: impl Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(timeout, request).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

/// Grants `lease` (a lease that still exists, after a short outage, is fine as it is).
pub(crate) async fn grant(
    client: &mut Client,
    lease: LeaseId,
    ttl: Duration,
    timeout: Duration,
) -> Result<(), String> {
    let ttl = i64::try_from(ttl.as_secs().max(2)).unwrap_or(i64::MAX);
    let options = LeaseGrantOptions::new().with_id(to_etcd_lease(lease));
    match within(timeout, client.lease_grant(ttl, Some(options))).await {
        Ok(_) => Ok(()),
        Err(error) if error.contains("lease already exists") => Ok(()),
        Err(error) => Err(error),
    }
}

/// Jittered exponential backoff: 100 ms doubling to 5 s, each delay drawn in [d/2, d].
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(5);

    pub(crate) fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    pub(crate) fn reset(&mut self) {
        self.next = Self::FIRST;
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.next.mul_f64(0.5 + fastrand::f64() / 2.0);
        self.next = (self.next * 2).min(Self::MAX);
        delay
    }
}

struct Session {
    client: Client,
    shared: Arc<Shared>,
    keeper: Option<(LeaseKeeper, LeaseKeepAliveStream)>,
}

impl Session {
    async fn put(&mut self, id: &InstanceId) -> Result<(), String> {
        let Some((instance, lease)) = self.shared.view().own.get(id).cloned() else {
            return Ok(()); // Deregistered meanwhile.
        };
        let key = codec::key(&self.shared.prefix, id);
        let options = PutOptions::new().with_lease(to_etcd_lease(lease));
        within(
            self.shared.request_timeout,
            self.client
                .put(key, codec::encode(&instance), Some(options)),
        )
        .await
        .map(drop)
    }

    async fn delete(&mut self, id: &InstanceId) -> Result<(), String> {
        if self.shared.view().own.contains_key(id) {
            return Ok(()); // Registered again meanwhile.
        }
        let key = codec::key(&self.shared.prefix, id);
        within(self.shared.request_timeout, self.client.delete(key, None)).await?;
        self.shared.view().pending_deletes.remove(id);
        Ok(())
    }

    /// One keep-alive of `lease`; Err when etcd does not renew it.
    async fn keep_alive(&mut self, lease: LeaseId) -> Result<(), String> {
        let timeout = self.shared.request_timeout;
        let reuse = lease == self.shared.session;
        let (mut keeper, mut stream) = match (reuse, self.keeper.take()) {
            (true, Some(pair)) => pair,
            _ => within(timeout, self.client.lease_keep_alive(to_etcd_lease(lease))).await?,
        };
        within(timeout, keeper.keep_alive()).await?;
        let answer = within(timeout, stream.message()).await?;
        match answer {
            Some(answer) if answer.ttl() > 0 => {
                if reuse {
                    self.keeper = Some((keeper, stream));
                }
                Ok(())
            }
            Some(_) => Err(format!("lease {lease} expired in etcd")),
            None => Err("the keep-alive stream ended".into()),
        }
    }

    async fn execute(&mut self, command: Command) -> Result<(), String> {
        let timeout = self.shared.request_timeout;
        match command {
            Command::Grant(lease) => {
                let Some(ttl) = self.shared.view().leases.get(&lease).copied() else {
                    return Ok(());
                };
                grant(&mut self.client, lease, ttl, timeout).await
            }
            Command::Put(id) => self.put(&id).await,
            Command::Delete(id) => self.delete(&id).await,
            Command::KeepAlive(lease) => match self.keep_alive(lease).await {
                Err(error) if error.contains("expired in etcd") => {
                    // A lease the user let lapse (its heartbeats came too late): its
                    // instances are gone for good, as in memory.
                    tracing::warn!(target: "resilience::discovery", lease, "a lease expired in etcd before its heartbeat: its instances are removed");
                    self.shared.view().drop_lease(lease);
                    Ok(())
                }
                other => other,
            },
            Command::Revoke(lease) => {
                within(timeout, self.client.lease_revoke(to_etcd_lease(lease)))
                    .await
                    .map(drop)
            }
        }
    }

    /// Re-establishes everything this process owns in etcd.
    async fn resync(&mut self) -> Result<(), String> {
        self.keeper = None;
        let timeout = self.shared.request_timeout;
        let (leases, own, deletes) = {
            let view = self.shared.view();
            let leases: Vec<(LeaseId, Duration)> = view
                .leases
                .iter()
                .map(|(lease, ttl)| (*lease, *ttl))
                .collect();
            let own: Vec<InstanceId> = view.own.keys().cloned().collect();
            let deletes: Vec<InstanceId> = view.pending_deletes.iter().cloned().collect();
            (leases, own, deletes)
        };
        for (lease, ttl) in leases {
            grant(&mut self.client, lease, ttl, timeout).await?;
        }
        for id in deletes {
            self.delete(&id).await?;
        }
        for id in own {
            self.put(&id).await?;
        }
        Ok(())
    }

    async fn revoke_all(&mut self) {
        let leases: Vec<LeaseId> = self.shared.view().leases.keys().copied().collect();
        for lease in leases {
            if let Err(error) = within(
                self.shared.request_timeout,
                self.client.lease_revoke(to_etcd_lease(lease)),
            )
            .await
            {
                tracing::debug!(target: "resilience::discovery", lease, %error, "could not revoke a lease on drop: it expires after its TTL");
            }
        }
    }
}

pub(crate) async fn run(
    client: Client,
    shared: Arc<Shared>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    let mut ticks = tokio::time::interval(shared.lease_ttl / 3);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut session = Session {
        client,
        shared,
        keeper: None,
    };
    let mut backoff = Backoff::new();
    let mut failing = false;
    loop {
        if failing {
            match session.resync().await {
                Ok(()) => {
                    tracing::info!(target: "resilience::discovery", "own registrations re-established in etcd");
                    failing = false;
                    backoff.reset();
                }
                Err(error) => {
                    tracing::debug!(target: "resilience::discovery", %error, "re-establishing own registrations failed; retrying");
                    let pause = tokio::time::sleep(backoff.next_delay());
                    tokio::pin!(pause);
                    // Commands meanwhile are covered by the next resync, which writes the
                    // view's state as it is then.
                    loop {
                        tokio::select! {
                            _ = &mut pause => break,
                            command = commands.recv() => if command.is_none() { return },
                        }
                    }
                    continue;
                }
            }
        }
        let outcome = tokio::select! {
            command = commands.recv() => match command {
                Some(command) => session.execute(command).await,
                None => {
                    session.revoke_all().await;
                    return;
                }
            },
            _ = ticks.tick() => {
                let lease = session.shared.session;
                session.keep_alive(lease).await
            }
        };
        if let Err(error) = outcome {
            // During an outage the watcher has already warned (once): this is its consequence.
            if session.shared.is_stale() {
                tracing::debug!(target: "resilience::discovery", %error, "an etcd write or keep-alive failed: re-granting the lease and re-putting own instances with backoff");
            } else {
                tracing::warn!(target: "resilience::discovery", %error, "an etcd write or keep-alive failed: re-granting the lease and re-putting own instances with backoff");
            }
            failing = true;
        }
    }
}
