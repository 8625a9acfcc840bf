//! The watcher task: lists the prefix at a revision R, watches from R + 1 (with `prev_kv`),
//! and resumes after the last revision seen when the stream breaks. A watch cancelled by
//! etcd (its start revision compacted away, or cancelled for any reason) lists again and
//! applies the difference. While etcd cannot be reached the view keeps what it has and the
//! backend is stale; it is fresh again once a watch is established.

use std::collections::BTreeMap;
use std::sync::Arc;

use etcd_client::{Client, EventType, GetOptions, KeyValue, WatchOptions};

use super::backend::Shared;
use super::codec;
use super::session::{Backoff, within};
use crate::id::InstanceId;
use crate::instance::Instance;

/// The instance a key-value holds; None (with a warning) for a key or value that is not one.
fn decode(shared: &Shared, kv: &KeyValue) -> Option<(InstanceId, Option<Instance>)> {
    let Some(id) = codec::parse_key(&shared.prefix, kv.key()) else {
        tracing::warn!(target: "resilience::discovery", key = %String::from_utf8_lossy(kv.key()), "skipping an etcd key outside the layout <prefix>/<service>/<instance-id>");
        return None;
    };
    match codec::decode(&id, kv.value()) {
        Ok(instance) => Some((id, Some(instance))),
        Err(reason) => {
            tracing::warn!(target: "resilience::discovery", key = %String::from_utf8_lossy(kv.key()), %reason, "skipping a malformed instance in etcd");
            // The key no longer holds a valid instance: whatever it held before is gone.
            Some((id, None))
        }
    }
}

/// Lists the prefix and makes it the view's remote part; the revision listed at.
pub(crate) async fn list(client: &mut Client, shared: &Shared) -> Result<i64, String> {
    let prefix = format!("{}/", shared.prefix);
    let response = within(
        shared.request_timeout,
        client.get(prefix, Some(GetOptions::new().with_prefix())),
    )
    .await?;
    let revision = response.header().map_or(0, |header| header.revision());
    let listed: BTreeMap<InstanceId, Instance> = response
        .kvs()
        .iter()
        .filter_map(|kv| match decode(shared, kv) {
            Some((id, Some(instance))) => Some((id, instance)),
            _ => None,
        })
        .collect();
    shared.view().replace_remote(listed, shared.session);
    Ok(revision)
}

enum End {
    /// etcd cancelled the watch (compaction or otherwise): list again.
    Cancelled,
    /// The stream broke: resume from the last revision seen.
    Broken(String),
}

/// Watches from `start`; `seen` follows the last revision applied.
async fn watch(
    client: &mut Client,
    shared: &Shared,
    start: i64,
    seen: &mut i64,
    backoff: &mut Backoff,
) -> End {
    let prefix = format!("{}/", shared.prefix);
    let options = WatchOptions::new()
        .with_prefix()
        .with_start_revision(start)
        .with_prev_key();
    let mut stream = match within(shared.request_timeout, client.watch(prefix, Some(options))).await
    {
        Ok(stream) => stream,
        Err(error) => return End::Broken(error),
    };
    loop {
        let response = match stream.message().await {
            Ok(Some(response)) => response,
            Ok(None) => return End::Broken("the watch stream ended".into()),
            Err(error) => return End::Broken(error.to_string()),
        };
        if response.canceled() || response.compact_revision() > 0 {
            tracing::info!(target: "resilience::discovery", compact_revision = response.compact_revision(), reason = response.cancel_reason(), "the etcd watch was cancelled: listing again");
            return End::Cancelled;
        }
        if response.created() {
            let now = response.header().map_or(0, |header| header.revision());
            if now + 1 < start {
                // The store is behind what the view reflects (etcd restored or recreated): a
                // watch from there would wait for revisions that mean something else.
                tracing::warn!(target: "resilience::discovery", revision = now, expected = start - 1, "etcd's revision went back: listing again");
                return End::Cancelled;
            }
            shared.mark_fresh();
            backoff.reset();
        }
        for event in response.events() {
            let Some(kv) = event.kv() else { continue };
            *seen = (*seen).max(kv.mod_revision());
            match event.event_type() {
                EventType::Put => {
                    if let Some((id, instance)) = decode(shared, kv) {
                        shared.view().set_remote(&id, instance, shared.session);
                    }
                }
                EventType::Delete => {
                    if let Some(id) = codec::parse_key(&shared.prefix, kv.key()) {
                        shared.view().set_remote(&id, None, shared.session);
                    }
                }
            }
        }
    }
}

pub(crate) async fn run(mut client: Client, shared: Arc<Shared>, listed_at: i64) {
    let mut backoff = Backoff::new();
    // The last revision the view reflects; None: list first.
    let mut seen = Some(listed_at);
    loop {
        let start = match seen {
            Some(revision) => revision,
            None => match list(&mut client, &shared).await {
                Ok(revision) => revision,
                Err(error) => {
                    retry_later(&shared, &error, &mut backoff).await;
                    continue;
                }
            },
        };
        let mut last = start;
        match watch(&mut client, &shared, start + 1, &mut last, &mut backoff).await {
            End::Cancelled => seen = None,
            End::Broken(error) => {
                seen = Some(last);
                retry_later(&shared, &error, &mut backoff).await;
            }
        }
    }
}

/// etcd could not be reached: the backend is stale (warned once per outage, in
/// `Shared::mark_stale`), each failed attempt is a debug event, and the next waits its backoff.
async fn retry_later(shared: &Shared, error: &str, backoff: &mut Backoff) {
    shared.mark_stale(error);
    let delay = backoff.next_delay();
    tracing::debug!(target: "resilience::discovery", %error, ?delay, "etcd watch attempt failed: retrying");
    tokio::time::sleep(delay).await;
}
