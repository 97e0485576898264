//! A worker's heartbeat: who it is, what it serves and how busy it is,
//! published every interval, at once when a caller asks, and a last time
//! when it stops, so that callers can list the live workers (the broker
//! keeps no record of them).

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::HeaderMap;
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::wire::{self, FORMAT, FORMAT_HEADER, HeartbeatBody};
use crate::worker::Shared;

/// What a worker's heartbeats say about it that does not change.
pub(crate) struct Identity {
    /// Where they are published.
    pub(crate) subject: String,
    pub(crate) worker: String,
    pub(crate) host: String,
    pub(crate) pool: String,
    pub(crate) weights: Vec<String>,
    pub(crate) sticky: bool,
    pub(crate) slots: usize,
    pub(crate) interval: Duration,
    /// When the worker started, by the wall clock (for people) and by the
    /// monotonic one (for its uptime).
    pub(crate) started: SystemTime,
    pub(crate) since: Instant,
}

impl Identity {
    /// The heartbeat now.
    fn beat(&self, shared: &Shared, leaving: bool) -> HeartbeatBody {
        let counters = &shared.counters;
        HeartbeatBody {
            worker: self.worker.clone(),
            host: self.host.clone(),
            pid: std::process::id(),
            pool: self.pool.clone(),
            weights: self.weights.clone(),
            sticky: self.sticky,
            slots: self.slots as u64,
            busy: counters.running.load(Relaxed),
            done: counters.finished.load(Relaxed),
            started: self
                .started
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            up: self.since.elapsed(),
            interval: self.interval,
            leaving,
        }
    }

    /// Publishes one heartbeat (core NATS: lost if nobody is connected,
    /// which is what a heartbeat should be).
    pub(crate) async fn publish(
        &self,
        shared: &Shared,
        client: &async_nats::Client,
        leaving: bool,
    ) {
        let mut headers = HeaderMap::new();
        headers.insert(FORMAT_HEADER, FORMAT);
        let body = Bytes::from(wire::encode(&self.beat(shared, leaving)));
        let _ = client
            .publish_with_headers(self.subject.clone(), headers, body)
            .await;
    }
}

/// Beats every interval, and whenever a caller asks, until `stop` turns
/// true.
pub(crate) async fn beat(
    shared: Arc<Shared>,
    client: async_nats::Client,
    identity: Arc<Identity>,
    asks: async_nats::Subscriber,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(identity.interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut asks = Some(asks);
    loop {
        let ask = async {
            match asks.as_mut() {
                Some(asks) => asks.next().await,
                None => std::future::pending().await,
            }
        };
        let asked = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => return,
            _ = tick.tick() => None,
            ask = ask => Some(ask.is_some()),
        };
        if asked == Some(false) {
            // The subscription ended (the client closed): beat on the
            // interval only.
            asks = None;
            continue;
        }
        identity.publish(&shared, &client, false).await;
    }
}

/// The name of this machine, as the kernel has it; `unknown` where it cannot
/// be read.
pub(crate) fn host_name() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| {
            let name = std::fs::read_to_string(path).ok()?;
            let name = name.trim();
            (!name.is_empty()).then(|| name.to_owned())
        })
        .unwrap_or_else(|| "unknown".to_owned())
}
