//! Taking jobs from one consumer: only as many as the worker has free slots.
//!
//! A job delivered to a worker that cannot start it would sit where no
//! in-progress ack covers it; if the worker died, it would wait out
//! `ack_wait` and might run twice, while other workers were idle. So every
//! job a pull request may bring has a slot reserved before the request is
//! sent:
//!
//! 1. take one slot (waiting, first come first served among the consumers),
//! 2. ask for one job, waiting up to `poll_interval` for it,
//! 3. when one comes, take every other free slot at once and ask for that
//!    many more without waiting (a consumer with a backlog fills the worker
//!    in one round trip); slots no job came for are given back.
//!
//! An idle consumer thus holds one slot while its request waits; with fewer
//! slots than consumers, they take turns.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use futures::StreamExt;
use tokio::sync::watch;

use crate::worker::Shared;
use crate::worker::run::{self, Limits};

/// Pulls from `consumer` until `stop` turns true.
pub(crate) async fn serve(
    shared: Arc<Shared>,
    consumer: PullConsumer,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let slot = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => return,
            slot = shared.slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => return,
            },
        };
        let request = consumer
            .batch()
            .max_messages(1)
            .expires(shared.poll_interval)
            .messages();
        // The broker answers an expired request; a request lost with the
        // connection gets no answer, hence the timeout of our own.
        let patience = shared.poll_interval + Duration::from_millis(500);
        let first = tokio::select! {
            biased;
            _ = stop.wait_for(|stop| *stop) => return,
            first = tokio::time::timeout(patience, async {
                match request.await {
                    Ok(mut batch) => batch.next().await,
                    Err(err) => Some(Err(err.into())),
                }
            }) => first,
        };
        match first {
            Ok(Some(Ok(message))) => {
                tokio::spawn(run::job(shared.clone(), message, slot, limits));
                take_more(&shared, &consumer, limits).await;
            }
            Ok(Some(Err(_))) => {
                // The broker is away, or refused the request: try again soon.
                drop(slot);
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Ok(None) | Err(_) => drop(slot),
        }
    }
}

/// Takes every free slot and fills them with jobs the consumer has ready now.
async fn take_more(shared: &Arc<Shared>, consumer: &PullConsumer, limits: Limits) {
    let free = shared.slots.available_permits();
    if free == 0 {
        return;
    }
    let Ok(mut slots) = shared
        .slots
        .clone()
        .try_acquire_many_owned(u32::try_from(free).unwrap_or(u32::MAX))
    else {
        return;
    };
    let Ok(mut batch) = consumer.fetch().max_messages(free).messages().await else {
        return;
    };
    while let Some(Ok(message)) = batch.next().await {
        let Some(slot) = slots.split(1) else {
            // More came than asked for: cannot happen, but never run a job
            // without a slot; the broker delivers it again.
            break;
        };
        tokio::spawn(run::job(shared.clone(), message, slot, limits));
    }
}
