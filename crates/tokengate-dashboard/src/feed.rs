//! The sampler and the page's event stream.
//!
//! One task samples the coordinator once a second: it pushes a [`Sample`]
//! into the history and, while a page is open, publishes a [`Snapshot`] as
//! JSON. Every open page's server-sent event stream forwards the latest one,
//! so the coordinator is read once a second however many pages are open.
//!
//! The stream sends `history` first (the ring, for the charts), then
//! `snapshot` events. It ends when the dashboard shuts down.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::stream::{self, Stream, StreamExt};
use tokengate::stats::Stats;
use tokio::time::MissedTickBehavior;

use crate::app::App;
use crate::history::{LATENCY_WINDOW, Sample};
use crate::latency::RunBuckets;
use crate::snapshot::Snapshot;

/// How often the coordinator is sampled and the page updated.
pub(crate) const PERIOD: Duration = Duration::from_secs(1);

/// Samples `app`'s coordinator every [`PERIOD`] until the dashboard stops.
pub(crate) async fn sample(app: Arc<App>) {
    let mut stopping = app.stopping.clone();
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut previous: Option<(Stats, Instant)> = None;
    // Run-time histograms of the last few ticks, oldest first: the latency
    // figures cover the difference between the newest and the oldest.
    let mut readings: VecDeque<(Instant, RunBuckets)> = VecDeque::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
        let watching = app.feed.receiver_count() > 0;
        let handle = app.handle.clone();
        // Off the runtime's async threads: `prometheus_text()` builds a text
        // of every operation's histograms, `live_calls()` (below) walks every
        // live call.
        let taken = tokio::task::spawn_blocking(move || {
            let stats = handle.stats();
            let buckets = RunBuckets::parse(&handle.prometheus_text());
            (stats, buckets, Instant::now(), SystemTime::now(), handle)
        })
        .await;
        let Ok((stats, buckets, now, wall, handle)) = taken else {
            return;
        };
        while readings
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > LATENCY_WINDOW + PERIOD / 2)
        {
            readings.pop_front();
        }
        let recent = match readings.front() {
            Some((_, oldest)) => buckets.since(oldest),
            None => RunBuckets::default(),
        };
        readings.push_back((now, buckets));
        let sample = Sample::new(
            wall,
            &stats,
            previous.as_ref().map(|(s, at)| (s, now - *at)),
            &recent,
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
        } else {
            // Nobody watches: forget the last snapshot, so that the next page
            // to open does not start from a stale one.
            app.feed.send_replace(None);
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
