//! Taking jobs from one consumer: only as many as the worker has free slots.
//!
//! A job delivered to a worker that cannot start it would sit where no
//! in-progress ack covers it; if the worker died, it would wait out
//! `ack_wait` and might run twice, while other workers were idle. So every
//! job a pull request may bring has a slot reserved before the request is
//! sent, and a worker's consumers share its slots:
//!
//! 1. A consumer's loop takes one slot (first come, first served).
//! 2. It asks for one job, in one of three ways:
//!    - it knows it has a backlog (the last job it got said how many are
//!      left), or another busy consumer (one with a backlog, or that got a
//!      job from its last request) waits for a slot: it asks without
//!      waiting, and gives the slot back at once if nothing came;
//!    - other consumers wait, none with a backlog: it waits for a job for a
//!      short turn ([`TURN`]), so that idle consumers take turns quickly
//!      when there are fewer slots than consumers;
//!    - nobody waits: it waits for a job up to `poll_interval`.
//!
//!    A sticky partition always waits: it delivers one job at a time, so its
//!    next job comes only after the last one's ack.
//! 3. When a job comes and more are queued, a weight's consumer takes every
//!    other free slot at once and asks for that many more without waiting
//!    (a backlog fills the worker in one round trip); slots no job came for
//!    are given back.
//!
//! A consumer with nothing queued thus never keeps a slot from one with a
//! backlog for longer than one poll, and probes for new jobs between the
//! backlog's jobs, so no weight starves another.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::consumer::PullConsumer;
use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, watch};

use crate::worker::Shared;
use crate::worker::run::{self, Limits};

/// How long a consumer with nothing queued waits for a job while other
/// consumers wait for a slot.
const TURN: Duration = Duration::from_millis(100);

/// How long we wait for the answer to a request that does not wait; the
/// broker answers at once, so only a lost connection takes longer.
///
/// Sticky partitions never ask without waiting: with its one job in flight,
/// a partition's queued jobs cannot be delivered, and the broker (2.9) keeps
/// such a request waiting, for ever since it has no expiry.
const ANSWER: Duration = Duration::from_secs(2);

/// How long a consumer that found nothing, while one with a backlog was
/// waiting, stays out of the queue for slots.
const PROBE_PAUSE: Duration = Duration::from_millis(20);

/// Consumers waiting for a slot, shared by a worker's consumer loops.
#[derive(Default)]
pub(crate) struct Waiting {
    /// All of them.
    all: AtomicUsize,
    /// Those that have a backlog or just had a job.
    busy: AtomicUsize,
}

/// Counts its consumer as waiting while it lives.
struct InLine<'a> {
    waiting: &'a Waiting,
    busy: bool,
}

impl<'a> InLine<'a> {
    fn new(waiting: &'a Waiting, busy: bool) -> InLine<'a> {
        waiting.all.fetch_add(1, Relaxed);
        if busy {
            waiting.busy.fetch_add(1, Relaxed);
        }
        InLine { waiting, busy }
    }
}

impl Drop for InLine<'_> {
    fn drop(&mut self) {
        self.waiting.all.fetch_sub(1, Relaxed);
        if self.busy {
            self.waiting.busy.fetch_sub(1, Relaxed);
        }
    }
}

/// How one request asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ask {
    /// Without waiting.
    Now,
    /// Waiting up to this long.
    Wait(Duration),
}

/// Pulls from `consumer` until `stop` turns true.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    consumer: PullConsumer,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    // Jobs left in the consumer after the last one delivered to us.
    let mut backlog = 0_u64;
    // Whether the last request brought a job: a consumer that just had one
    // likely gets the next soon (a caller making one call after another),
    // so it counts as busy while it waits for a slot.
    let mut recent = false;
    loop {
        let slot = {
            let _in_line = InLine::new(&shared.waiting, backlog > 0 || recent);
            tokio::select! {
                biased;
                _ = stop.wait_for(|stop| *stop) => return,
                slot = shared.slots.clone().acquire_owned() => match slot {
                    Ok(slot) => slot,
                    Err(_) => return,
                },
            }
        };
        let others_busy = shared.waiting.busy.load(Relaxed) > 0;
        let ask = if (backlog > 0 || others_busy) && !limits.one_at_a_time {
            Ask::Now
        } else if shared.waiting.all.load(Relaxed) > 0 {
            Ask::Wait(TURN.min(shared.poll_interval))
        } else {
            Ask::Wait(shared.poll_interval)
        };
        let first = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => return,
            first = request(&consumer, ask) => first,
        };
        match first {
            Some(Ok(message)) => {
                recent = true;
                backlog = pending(&message);
                tokio::spawn(run::job(shared.clone(), message, slot, limits));
                // A sticky partition delivers one job at a time: more can
                // only come after this one's ack.
                if backlog > 0 && !limits.one_at_a_time {
                    backlog = take_more(&shared, &consumer, limits, backlog).await;
                }
            }
            Some(Err(())) => {
                // The broker is away, or refused the request: try again soon.
                drop(slot);
                (backlog, recent) = (0, false);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            None => {
                drop(slot);
                (backlog, recent) = (0, false);
                if ask == Ask::Now && others_busy {
                    // Let the consumer with a backlog have the slots for a
                    // moment before asking again.
                    tokio::time::sleep(PROBE_PAUSE).await;
                }
            }
        }
    }
}

/// Asks `consumer` for one job. `None` if none came; `Some(Err(()))` if the
/// request failed.
async fn request(consumer: &PullConsumer, ask: Ask) -> Option<Result<jetstream::Message, ()>> {
    match ask {
        Ask::Now => {
            let request = async {
                let mut batch = consumer.fetch().max_messages(1).messages().await.ok()?;
                batch.next().await.map(|m| m.map_err(drop))
            };
            tokio::time::timeout(ANSWER, request).await.unwrap_or(None)
        }
        Ask::Wait(expires) => {
            let request = async {
                match consumer
                    .batch()
                    .max_messages(1)
                    .expires(expires)
                    .messages()
                    .await
                {
                    Ok(mut batch) => batch.next().await.map(|m| m.map_err(drop)),
                    Err(_) => Some(Err(())),
                }
            };
            // The broker answers an expired request; a request lost with the
            // connection (a broker restart) gets no answer, hence a timeout
            // of our own.
            let patience = expires + Duration::from_millis(500);
            tokio::time::timeout(patience, request)
                .await
                .unwrap_or(None)
        }
    }
}

/// Takes the free slots, up to `backlog`, and fills them with jobs the
/// consumer has ready now. Returns the backlog left.
async fn take_more(
    shared: &Arc<Shared>,
    consumer: &PullConsumer,
    limits: Limits,
    backlog: u64,
) -> u64 {
    let free = shared
        .slots
        .available_permits()
        .min(usize::try_from(backlog).unwrap_or(usize::MAX));
    if free == 0 {
        return backlog;
    }
    let Ok(mut slots) = shared
        .slots
        .clone()
        .try_acquire_many_owned(u32::try_from(free).unwrap_or(u32::MAX))
    else {
        return backlog;
    };
    let mut left = 0;
    let fill = async {
        let Ok(mut batch) = consumer.fetch().max_messages(free).messages().await else {
            return;
        };
        while let Some(Ok(message)) = batch.next().await {
            left = pending(&message);
            let Some(slot) = split(&mut slots) else {
                // More came than asked for: cannot happen, but never run a
                // job without a slot; the broker delivers it again.
                break;
            };
            tokio::spawn(run::job(shared.clone(), message, slot, limits));
        }
    };
    if tokio::time::timeout(ANSWER, fill).await.is_err() {
        // Unanswered: assume nothing is left rather than ask again at once.
        left = 0;
    }
    left
}

/// One slot out of several.
fn split(slots: &mut OwnedSemaphorePermit) -> Option<OwnedSemaphorePermit> {
    slots.split(1)
}

/// How many jobs the consumer had left after delivering `message`.
fn pending(message: &jetstream::Message) -> u64 {
    message.info().map_or(0, |info| info.pending)
}
