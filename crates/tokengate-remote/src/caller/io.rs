//! The caller's I/O thread: publishes jobs, reads results, sends kills.
//!
//! Everything here runs on one tokio current-thread runtime on the caller's
//! own thread; the synchronous side talks to it through [`Command`]s and the
//! shared [`Ledger`].
//!
//! - **Publishing**: commands are taken in submission order and each job is
//!   handed to the connection before the next, so jobs of one sticky key are
//!   stored in the order they were submitted. The broker's confirmation is
//!   awaited on a task of its own; a publish that is not confirmed is sent
//!   again with the same `Nats-Msg-Id`, so the broker keeps one copy.
//! - **Results** are read from the results stream, not from a plain
//!   subscription: a plain subscription loses what is published while the
//!   connection is down (a broker restart) or while the reader falls behind;
//!   the stream keeps it. The reader follows the stream with an ordered
//!   consumer filtered to this caller's subject and, when that consumer is
//!   lost, opens a new one after the last result it read.
//! - **Workers**: heartbeats are read into the [`Roster`]; on connecting and
//!   on every reconnect, the workers are asked for one at once.
//! - **Cleanup**: every second, the results read so far are purged from the
//!   stream; what a caller leaves behind ages out after `result_max_age`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use async_nats::jetstream::consumer::{DeliverPolicy, pull::OrderedConfig};
use async_nats::jetstream::context::{PublishAckFuture, PublishError, PublishErrorKind};
use async_nats::jetstream::{self, message::PublishMessage, stream};
use bytes::Bytes;
use futures::StreamExt;
use tokio::sync::{mpsc, watch};

use crate::caller::ledger::{Ledger, Stored};
use crate::caller::roster::Roster;
use crate::job::Outcome;
use crate::names::Names;
use crate::wire::{self, FORMAT, FORMAT_HEADER, HeartbeatBody, ResultBody};

/// What the synchronous side asks of the I/O thread.
pub(crate) enum Command {
    /// Queue a job (already in the ledger).
    Publish(Outgoing),
    /// Stop a killed job: tell the workers, delete it from the queue.
    Kill {
        id: String,
        pool: String,
        seq: Option<u64>,
    },
    /// Resolve what is pending, clean up, and end the thread.
    Close,
}

/// A job ready to publish.
pub(crate) struct Outgoing {
    pub(crate) id: String,
    pub(crate) op: String,
    pub(crate) subject: String,
    pub(crate) message: PublishMessage,
}

/// What the I/O thread works with.
pub(crate) struct Io {
    pub(crate) ledger: Arc<Ledger>,
    pub(crate) roster: Arc<Roster>,
    /// The workers' heartbeats; taken by [`run`].
    pub(crate) heartbeats: Option<async_nats::Subscriber>,
    pub(crate) names: Names,
    pub(crate) client: async_nats::Client,
    pub(crate) js: jetstream::Context,
    pub(crate) jobs: stream::Stream,
    pub(crate) results: stream::Stream,
    /// This caller's result subject.
    pub(crate) reply: String,
    /// For consumer names.
    pub(crate) caller_id: String,
    /// The results stream's last sequence when the caller connected: this
    /// caller's results all come after it.
    pub(crate) results_start: u64,
    /// Changes when the client reconnects.
    pub(crate) connects: watch::Receiver<u64>,
    pub(crate) url: String,
    pub(crate) publish_attempts: u32,
    pub(crate) publish_timeout: Duration,
}

/// Runs until [`Command::Close`] (or until the caller is gone).
pub(crate) async fn run(mut io: Io, mut commands: mpsc::UnboundedReceiver<Command>) {
    let heartbeats = io.heartbeats.take();
    let io = Arc::new(io);
    let last_read = Arc::new(AtomicU64::new(io.results_start));
    let reader = tokio::spawn(read_results(io.clone(), last_read.clone()));
    let purger = tokio::spawn(purge_read_results(io.clone(), last_read));
    let listener = heartbeats.map(|beats| tokio::spawn(follow_heartbeats(io.clone(), beats)));
    let asker = tokio::spawn(ask_for_heartbeats(io.clone()));
    while let Some(command) = commands.recv().await {
        match command {
            Command::Publish(job) => publish(&io, job).await,
            Command::Kill { id, pool, seq } => kill(&io, id, pool, seq).await,
            Command::Close => break,
        }
    }
    reader.abort();
    purger.abort();
    asker.abort();
    if let Some(listener) = listener {
        listener.abort();
    }
    io.ledger.close();
    // Results nobody will read; best effort, the stream ages them out anyway.
    let cleanup = async {
        let _ = io.results.purge().filter(io.reply.as_str()).await;
        let _ = io.client.flush().await;
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), cleanup).await;
}

/// Hands `job` to the connection, then confirms it on a task of its own.
async fn publish(io: &Arc<Io>, job: Outgoing) {
    let first = io
        .js
        .send_publish(job.subject.clone(), job.message.clone())
        .await;
    tokio::spawn(confirm(io.clone(), job, first));
}

/// Waits for the broker to confirm `job`, publishing it again (same message
/// id) until it does or the attempts run out.
async fn confirm(io: Arc<Io>, job: Outgoing, first: Result<PublishAckFuture, PublishError>) {
    let mut attempt = 1;
    let mut sent = first;
    loop {
        let confirmed = match sent {
            Ok(ack) => ack.await,
            Err(err) => Err(err),
        };
        match confirmed {
            Ok(ack) if ack.duplicate && attempt == 1 => {
                // Not a retry of ours: the id was used before.
                io.ledger.resolve(
                    &job.id,
                    Outcome::Error(format!(
                        "the broker already holds or has run a job with id `{}` (ids are \
                         remembered for the stream's duplicate window) and dropped this copy, \
                         which does not run; give each job its own id (see \
                         `Caller::next_job_id`)",
                        job.id
                    )),
                );
                return;
            }
            Ok(ack) => {
                if io.ledger.stored(&job.id, ack.sequence) == Stored::Killed {
                    let _ = io.jobs.delete_message(ack.sequence).await;
                }
                return;
            }
            Err(err) if err.kind() == PublishErrorKind::MaxPayloadExceeded => {
                io.ledger.resolve(
                    &job.id,
                    Outcome::Error(format!(
                        "job `{}` (op `{}`) is larger than the broker accepts ({err}); pass \
                         large data through shared storage and send its location instead",
                        job.id, job.op
                    )),
                );
                return;
            }
            Err(err) => {
                if attempt >= io.publish_attempts || !io.ledger.is_pending(&job.id) {
                    io.ledger.resolve(
                        &job.id,
                        Outcome::Unavailable(format!(
                            "could not queue job `{}` (op `{}`): the NATS server at `{}` did not \
                             confirm it in {attempt} attempt(s) of {:?} each (last error: \
                             {err}); the job may still have been queued and may run, but its \
                             result would be dropped",
                            job.id, job.op, io.url, io.publish_timeout
                        )),
                    );
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50) * attempt).await;
                attempt += 1;
                sent = io
                    .js
                    .send_publish(job.subject.clone(), job.message.clone())
                    .await;
            }
        }
    }
}

/// Tells the pool's workers to stop job `id`, and deletes it from the queue
/// if it is still there. Both are best effort: the job already resolved.
async fn kill(io: &Arc<Io>, id: String, pool: String, seq: Option<u64>) {
    let _ = io
        .client
        .publish(io.names.kill_subject(&pool), Bytes::from(id))
        .await;
    if let Some(seq) = seq {
        let io = io.clone();
        tokio::spawn(async move {
            // Fails when a worker has it already (acked or termed): fine.
            let _ = io.jobs.delete_message(seq).await;
        });
    }
}

/// Follows this caller's results in the results stream for ever, from the
/// first one after `last_read`.
///
/// The ordered consumer is ephemeral: a broker restart loses it. It would
/// notice by itself after a few missed heartbeats; a reconnect says so
/// sooner, and a new consumer then starts after the last result read.
async fn read_results(io: Arc<Io>, last_read: Arc<AtomicU64>) {
    let mut connects = io.connects.clone();
    let mut generation = 0_u64;
    loop {
        connects.borrow_and_update();
        generation += 1;
        let config = OrderedConfig {
            name: Some(format!("tg_res_{}_{generation}", io.caller_id)),
            filter_subject: io.reply.clone(),
            deliver_policy: DeliverPolicy::ByStartSequence {
                start_sequence: last_read.load(Relaxed) + 1,
            },
            // Pull requests expire (and heartbeats come) often enough that a
            // lost consumer is noticed within seconds, not the default 30 s.
            max_expires: Duration::from_secs(2),
            ..Default::default()
        };
        if let Ok(consumer) = io.results.create_consumer(config).await
            && let Ok(mut messages) = consumer.messages().await
        {
            loop {
                tokio::select! {
                    message = messages.next() => match message {
                        Some(Ok(message)) => {
                            if let Ok(info) = message.info() {
                                last_read.store(info.stream_sequence, Relaxed);
                            }
                            deliver(&io.ledger, &message);
                        }
                        _ => break,
                    },
                    _ = connects.changed() => break,
                }
            }
        }
        // The broker is away, or the consumer was lost: a new one soon.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Hands one result message to the ledger.
fn deliver(ledger: &Ledger, message: &async_nats::Message) {
    let format = message
        .headers
        .as_ref()
        .and_then(|h| h.get(FORMAT_HEADER))
        .map(|v| v.as_str());
    let body = if format == Some(FORMAT) {
        wire::decode::<ResultBody>(&message.payload, "result").ok()
    } else {
        None
    };
    match body {
        Some(body) => ledger.result(body),
        None => {
            ledger.counters.malformed.fetch_add(1, Relaxed);
        }
    }
}

/// Purges the results read so far, once a second.
async fn purge_read_results(io: Arc<Io>, last_read: Arc<AtomicU64>) {
    let mut purged = io.results_start;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let read = last_read.load(Relaxed);
        if read > purged {
            let purge = io
                .results
                .purge()
                .filter(io.reply.as_str())
                .sequence(read + 1);
            if purge.await.is_ok() {
                purged = read;
            }
        }
    }
}

/// Reads the workers' heartbeats into the roster for ever (the client
/// subscribes again by itself after a reconnect).
async fn follow_heartbeats(io: Arc<Io>, mut beats: async_nats::Subscriber) {
    while let Some(message) = beats.next().await {
        let format = message
            .headers
            .as_ref()
            .and_then(|h| h.get(FORMAT_HEADER))
            .map(|v| v.as_str());
        // A worker of another wire format is not listed: its jobs would fail
        // anyway, each with an error that says so.
        if format == Some(FORMAT)
            && let Ok(beat) = wire::decode::<HeartbeatBody>(&message.payload, "heartbeat")
        {
            io.roster.heard(beat);
        }
    }
}

/// Asks every worker for a heartbeat now, and again after each reconnect: a
/// fresh caller lists the live workers within a round trip instead of a
/// heartbeat interval.
async fn ask_for_heartbeats(io: Arc<Io>) {
    let mut connects = io.connects.clone();
    let subject = io.names.heartbeat_request();
    loop {
        connects.borrow_and_update();
        let _ = io.client.publish(subject.clone(), Bytes::new()).await;
        if connects.changed().await.is_err() {
            return;
        }
    }
}
