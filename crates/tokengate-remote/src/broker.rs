//! Connecting to the broker and setting up the two streams, the same way on
//! both sides: whichever of a pool's callers and workers comes first creates
//! them, and the others find them.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_nats::{Client, ConnectOptions, Event};
use tokio::sync::watch;

use crate::error::Error;
use crate::names::{JOBS_STREAM, JOBS_SUBJECTS, RESULTS_STREAM, RESULTS_SUBJECTS};

/// How to reach the broker and how its streams are set up; shared by
/// [`CallerConfig`](crate::CallerConfig) and
/// [`WorkerConfig`](crate::WorkerConfig).
#[derive(Clone, Debug)]
pub(crate) struct BrokerSettings {
    /// The server's URL, `nats://host:port`.
    pub(crate) url: String,
    /// How long connecting may take before it fails.
    pub(crate) connect_timeout: Duration,
    /// How long the jobs stream remembers job ids to drop duplicates.
    pub(crate) duplicate_window: Duration,
    /// How long an unread result stays in the results stream.
    pub(crate) result_max_age: Duration,
}

impl BrokerSettings {
    pub(crate) fn new(url: impl Into<String>) -> BrokerSettings {
        BrokerSettings {
            url: url.into(),
            connect_timeout: Duration::from_secs(5),
            duplicate_window: Duration::from_secs(120),
            result_max_age: Duration::from_secs(600),
        }
    }

    /// Refuses values the broker would refuse later, with our own words.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.connect_timeout.is_zero() {
            return Err(Error::config(
                "`connect_timeout` must be more than zero; the default is 5 s",
            ));
        }
        if self.duplicate_window < Duration::from_millis(100) {
            return Err(Error::config(
                "`duplicate_window` must be at least 100 ms; the default is 2 min",
            ));
        }
        if self.result_max_age < self.duplicate_window {
            return Err(Error::config(format!(
                "`result_max_age` ({:?}) must not be shorter than `duplicate_window` ({:?})",
                self.result_max_age, self.duplicate_window
            )));
        }
        Ok(())
    }
}

/// A connection to the broker.
pub(crate) struct Connection {
    pub(crate) client: Client,
    pub(crate) js: jetstream::Context,
    /// Counts the times the client (re)connected: what was set up on the
    /// server for an earlier connection (pull requests, ephemeral consumers)
    /// may be gone after a change.
    pub(crate) connects: watch::Receiver<u64>,
}

/// Connects, with reconnection for ever: a broker that restarts is found
/// again within a second of coming back. Up to `publishes` publishes may
/// wait for the broker's confirmation at once; more wait for room rather
/// than fail.
pub(crate) async fn connect(
    settings: &BrokerSettings,
    name: &str,
    publishes: usize,
) -> Result<Connection, Error> {
    let (connected, connects) = watch::channel(0_u64);
    let client = ConnectOptions::new()
        .name(name)
        .event_callback(move |event| {
            if matches!(event, Event::Connected) {
                connected.send_modify(|count| *count += 1);
            }
            std::future::ready(())
        })
        .connection_timeout(settings.connect_timeout)
        .max_reconnects(None)
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis(1 << attempts.min(10)).min(Duration::from_secs(1))
        })
        .connect(settings.url.as_str())
        .await
        .map_err(|err| {
            Error::broker(format!(
                "could not connect to the NATS server at `{}`: {err}; check that \
                 `nats-server -js` runs there",
                settings.url
            ))
        })?;
    let js = jetstream::ContextBuilder::new()
        .max_ack_inflight(publishes.max(1))
        .backpressure_on_inflight(true)
        .build(client.clone());
    Ok(Connection {
        client,
        js,
        connects,
    })
}

/// The jobs and results streams, created if missing.
pub(crate) async fn streams(
    js: &jetstream::Context,
    settings: &BrokerSettings,
) -> Result<(stream::Stream, stream::Stream), Error> {
    let jobs = stream::Config {
        name: JOBS_STREAM.to_owned(),
        subjects: vec![JOBS_SUBJECTS.to_owned()],
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        duplicate_window: settings.duplicate_window,
        ..Default::default()
    };
    let results = stream::Config {
        name: RESULTS_STREAM.to_owned(),
        subjects: vec![RESULTS_SUBJECTS.to_owned()],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        max_age: settings.result_max_age,
        duplicate_window: settings.duplicate_window,
        ..Default::default()
    };
    let jobs = get_or_create(js, jobs, settings).await?;
    let results = get_or_create(js, results, settings).await?;
    Ok((jobs, results))
}

async fn get_or_create(
    js: &jetstream::Context,
    config: stream::Config,
    settings: &BrokerSettings,
) -> Result<stream::Stream, Error> {
    let name = config.name.clone();
    js.get_or_create_stream(config).await.map_err(|err| {
        Error::broker(format!(
            "could not create or open the stream `{name}` on the NATS server at `{}`: {err}; \
             the server must run with JetStream enabled (`nats-server -js`)",
            settings.url
        ))
    })
}
