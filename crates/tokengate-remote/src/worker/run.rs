//! One delivered job, from its delivery to its acknowledgement.
//!
//! ```text
//! delivered ─ unreadable ───────────────────────────────────────▶ term
//!     │      ─ killed before ───────────────────────────────────▶ term
//!     │      ─ last allowed delivery ─ publish WorkerLost ──────▶ term
//!     │      ─ deadline passed in the queue ─ publish TimedOut ─▶ term
//!     ▼
//!  executor call (blocking pool) ── progress ack every interval
//!     ├─ returns ─────── publish Value / Error / Panic ─ hook ──▶ ack
//!     ├─ past deadline ─ cancel flag, publish TimedOut ─────────▶ ack
//!     └─ kill message ── cancel flag ───────────────────────────▶ term
//! ```
//!
//! The result is stored by the broker *before* the job is acknowledged: a
//! worker that dies in between leaves a job that runs again, and the caller
//! drops the second result; the other order could lose the result for good.
//! A job whose result cannot be stored is left unacknowledged, and the broker
//! delivers it again after `ack_wait`.
//!
//! The slot a job holds is given back only when its executor call returns,
//! also after a kill or a deadline: a thread cannot be stopped from outside,
//! and a worker must not run more calls at once than it has slots.

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_nats::HeaderMap;
use async_nats::jetstream::{self, AckKind};
use bytes::Bytes;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use crate::wire::{self, FORMAT, FORMAT_HEADER, JobBody, REPLY_HEADER, ResultBody, WireOutcome};
use crate::worker::Shared;
use crate::worker::stats::Counters;

/// What a consumer's jobs are delivered under, as the broker has it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) ack_wait: Duration,
    pub(crate) max_deliver: i64,
    pub(crate) progress_every: Duration,
    /// Whether the consumer delivers one job at a time (a sticky partition).
    pub(crate) one_at_a_time: bool,
}

/// Where a delivery came from and where its result goes.
struct Head {
    id: String,
    reply: String,
    delivered: u64,
    /// Time in the queue, by the broker's clock and ours.
    queued: Duration,
}

impl Head {
    fn read(message: &jetstream::Message) -> Option<Head> {
        let headers = message.headers.as_ref()?;
        let id = headers.get(async_nats::header::NATS_MESSAGE_ID)?.as_str();
        let reply = headers.get(REPLY_HEADER)?.as_str();
        let info = message.info().ok()?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let published = info.published.unix_timestamp_nanos();
        let queued = u64::try_from(now as i128 - published).unwrap_or(0);
        Some(Head {
            id: id.to_owned(),
            reply: reply.to_owned(),
            delivered: u64::try_from(info.delivered).unwrap_or(0),
            queued: Duration::from_nanos(queued),
        })
    }
}

/// How an executor call ended.
enum End {
    Returned(Result<Result<Vec<u8>, crate::Failure>, Box<dyn Any + Send>>),
    Deadline,
    Killed,
}

/// Handles one delivered job; `slot` is given back when it is done.
pub(crate) async fn job(
    shared: Arc<Shared>,
    message: jetstream::Message,
    slot: OwnedSemaphorePermit,
    limits: Limits,
) {
    Counters::bump(&shared.counters.received);
    let Some(head) = Head::read(&message) else {
        Counters::bump(&shared.counters.malformed);
        term(&message).await;
        return;
    };
    let format = message
        .headers
        .as_ref()
        .and_then(|h| h.get(FORMAT_HEADER))
        .map(|v| v.as_str());
    if format != Some(FORMAT) {
        Counters::bump(&shared.counters.errors);
        let outcome = WireOutcome::Error(wire::format_mismatch(format));
        finish_unrun(&shared, &message, &head, outcome, limits).await;
        return;
    }
    let body: JobBody<'_> = match wire::decode(&message.payload, "job") {
        Ok(body) => body,
        Err(msg) => {
            Counters::bump(&shared.counters.errors);
            finish_unrun(&shared, &message, &head, WireOutcome::Error(msg), limits).await;
            return;
        }
    };
    if shared.jobs.is_killed(&head.id) {
        Counters::bump(&shared.counters.killed);
        term(&message).await;
        return;
    }
    if i64::try_from(head.delivered).unwrap_or(i64::MAX) >= limits.max_deliver {
        Counters::bump(&shared.counters.poison);
        let outcome = WireOutcome::WorkerLost(format!(
            "job `{}` (op `{}`) was delivered {} times and no worker finished it: each worker \
             it reached died or lost the broker while running it (a job that crashes its \
             worker does this); it is not retried",
            head.id, body.op, head.delivered
        ));
        finish_unrun(&shared, &message, &head, outcome, limits).await;
        return;
    }
    let left = match body.budget {
        Some(budget) if head.queued >= budget => {
            Counters::bump(&shared.counters.expired);
            let outcome = WireOutcome::TimedOut(format!(
                "job `{}` (op `{}`) waited {:?} in the queue, past its deadline of {budget:?}; \
                 it was not run",
                head.id, body.op, head.queued
            ));
            finish_unrun(&shared, &message, &head, outcome, limits).await;
            return;
        }
        Some(budget) => Some(budget - head.queued),
        None => None,
    };
    let Some(running) = shared.jobs.start(&head.id) else {
        Counters::bump(&shared.counters.killed);
        term(&message).await;
        return;
    };

    let op = body.op.to_owned();
    let budget = body.budget;
    let args = message.payload.slice_ref(body.args);
    let call = {
        let executor = shared.executor.clone();
        let flag = running.flag.clone();
        let op = op.clone();
        move || {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| executor(&op, &args, &flag)))
        }
    };
    Counters::bump(&shared.counters.executed);
    shared
        .counters
        .running
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut call = tokio::task::spawn_blocking(call);
    let start = Instant::now();
    let mut progress =
        tokio::time::interval_at(start + limits.progress_every, limits.progress_every);
    let deadline = left.map(|left| start + left);
    let end = loop {
        tokio::select! {
            returned = &mut call => break End::Returned(returned.map_err(|err| {
                Box::new(format!("the executor's task failed: {err}")) as Box<dyn Any + Send>
            }).and_then(|r| r)),
            _ = progress.tick() => {
                let _ = message.ack_with(AckKind::Progress).await;
            }
            () = sleep_until(deadline) => break End::Deadline,
            () = running.kill.notified() => break End::Killed,
        }
    };
    let end = match end {
        End::Returned(_) if running.was_killed() => End::Killed,
        end => end,
    };
    match end {
        End::Returned(returned) => {
            let outcome = match returned {
                Ok(Ok(value)) => {
                    Counters::bump(&shared.counters.values);
                    WireOutcome::Value(value)
                }
                Ok(Err(crate::Failure::Error(msg))) => {
                    Counters::bump(&shared.counters.errors);
                    WireOutcome::Error(msg)
                }
                Ok(Err(crate::Failure::Panic(msg))) => {
                    Counters::bump(&shared.counters.panics);
                    WireOutcome::Panic(msg)
                }
                Err(payload) => {
                    Counters::bump(&shared.counters.panics);
                    WireOutcome::Panic(panic_message(payload.as_ref()))
                }
            };
            if publish(&shared, &head, outcome, limits.ack_wait).await {
                if let Some(hook) = &shared.on_result_stored {
                    hook(&head.id, &op);
                }
                let _ = message.ack().await;
            }
            end_call(&shared, &head, &running, slot);
        }
        End::Deadline => {
            Counters::bump(&shared.counters.timed_out);
            running.flag.cancel();
            let outcome = WireOutcome::TimedOut(format!(
                "job `{}` (op `{op}`) ran past its deadline of {:?} and was told to stop (its \
                 cancel flag is set)",
                head.id,
                budget.unwrap_or_default()
            ));
            if publish(&shared, &head, outcome, limits.ack_wait).await {
                let _ = message.ack().await;
            }
            let _ = call.await;
            end_call(&shared, &head, &running, slot);
        }
        End::Killed => {
            Counters::bump(&shared.counters.killed);
            running.flag.cancel();
            term(&message).await;
            let _ = call.await;
            end_call(&shared, &head, &running, slot);
        }
    }
}

/// The executor call of a job is over: its slot is free again.
fn end_call(
    shared: &Shared,
    head: &Head,
    running: &Arc<super::jobs::Running>,
    slot: OwnedSemaphorePermit,
) {
    shared.jobs.finish(&head.id, running);
    Counters::bump(&shared.counters.finished);
    shared
        .counters
        .running
        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    drop(slot);
}

/// Ends a job without running it: its result, then term (no redelivery).
async fn finish_unrun(
    shared: &Shared,
    message: &jetstream::Message,
    head: &Head,
    outcome: WireOutcome,
    limits: Limits,
) {
    if publish(shared, head, outcome, limits.ack_wait).await {
        term(message).await;
    }
}

/// Tells the broker never to deliver the job again; on a work-queue stream
/// this removes it.
async fn term(message: &jetstream::Message) {
    let _ = message.ack_with(AckKind::Term).await;
}

/// Stores a job's result in the results stream, retrying for at most
/// `patience` (after that the broker delivers the job again anyway). Returns
/// whether the broker confirmed it.
async fn publish(shared: &Shared, head: &Head, outcome: WireOutcome, patience: Duration) -> bool {
    let payload = Bytes::from(wire::encode(&ResultBody {
        job: head.id.clone(),
        delivered: head.delivered,
        outcome,
    }));
    let mut headers = HeaderMap::new();
    headers.insert(FORMAT_HEADER, FORMAT);
    let give_up = Instant::now() + patience;
    let mut pause = Duration::from_millis(50);
    loop {
        let sent = shared
            .js
            .publish_with_headers(head.reply.clone(), headers.clone(), payload.clone())
            .await;
        if let Ok(ack) = sent
            && ack.await.is_ok()
        {
            return true;
        }
        if Instant::now() + pause > give_up {
            Counters::bump(&shared.counters.unpublished);
            return false;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(1));
    }
}

/// Sleeps until `deadline`, or for ever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The message of a panic payload.
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "the fn panicked with a payload that is not a string".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_read_from_strings() {
        assert_eq!(panic_message(&"boom"), "boom");
        assert_eq!(panic_message(&String::from("bang")), "bang");
        assert_eq!(
            panic_message(&42_u32),
            "the fn panicked with a payload that is not a string"
        );
    }
}
