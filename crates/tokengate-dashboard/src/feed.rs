//! The sampler and the page's event stream.
//!
//! One task samples the coordinator once a second: it pushes a [`Sample`]
//! into the history and, while a page is open, publishes a [`Snapshot`] as
//! JSON. Every open page's server-sent event stream forwards the latest one,
//! so the coordinator is read once a second however many pages are open.
//!
//! The stream sends `history` first (the ring, for the charts), then
//! `snapshot` events. It ends when the dashboard shuts down.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
use tokengate::stats::Stats;
use tokio::time::MissedTickBehavior;

use crate::app::App;
use crate::history::Sample;
use crate::snapshot::Snapshot;

/// How often the coordinator is sampled and the page updated.
pub(crate) const PERIOD: Duration = Duration::from_secs(1);

/// Samples `app`'s coordinator every [`PERIOD`] until the dashboard stops.
pub(crate) async fn sample(app: Arc<App>) {
    let mut stopping = app.stopping.clone();
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut previous: Option<(Stats, Instant)> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
        let watching = app.feed.receiver_count() > 0;
        let handle = app.handle.clone();
        // `stats()` is cheap, but `live_calls()` walks every live call: off
        // the runtime's async threads.
        let taken = tokio::task::spawn_blocking(move || {
            let stats = handle.stats();
            let at = (Instant::now(), SystemTime::now());
            (stats, at, handle)
        })
        .await;
        let Ok((stats, (now, wall), handle)) = taken else {
            return;
        };
        let sample = Sample::between(
            previous.as_ref().map(|(s, at)| (s, now - *at)),
            &stats,
            wall,
        );
        app.history.push(sample);
        if watching {
            let kept = stats.clone();
            let json = tokio::task::spawn_blocking(move || {
                serde_json::to_string(&Snapshot::take(&handle, kept, sample)).ok()
            })
            .await;
            if let Ok(Some(json)) = json {
                app.feed.send_replace(Some(Arc::from(json)));
            }
        }
        previous = Some((stats, now));
    }
}

/// `GET /api/events`: the page's server-sent event stream.
pub(crate) async fn events(
    State(app): State<Arc<App>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let history = serde_json::to_string(&app.history.samples()).unwrap_or_else(|_| "[]".into());
    let mut latest = app.feed.subscribe();
    let current = latest.borrow_and_update().clone();
    let first = std::iter::once(Event::default().event("history").data(history))
        .chain(current.map(|json| Event::default().event("snapshot").data(&*json)))
        .map(Ok);
    let next = stream::unfold(
        (latest, app.stopping.clone()),
        |(mut latest, mut stopping)| async move {
            tokio::select! {
                changed = latest.changed() => changed.ok()?,
                _ = stopping.wait_for(|stop| *stop) => return None,
            }
            let json = latest.borrow_and_update().clone()?;
            let event = Event::default().event("snapshot").data(&*json);
            Some((Ok(event), (latest, stopping)))
        },
    );
    Sse::new(stream::iter(first).chain(next)).keep_alive(KeepAlive::default())
}
