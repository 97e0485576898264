//! Connecting to the broker and setting up the two streams, the same way on
//! both sides: whichever of a pool's callers and workers comes first creates
//! them, and the others find them.

use std::time::Duration;

use async_nats::jetstream::{self, stream};
use async_nats::{Client, ConnectOptions, Event};
use tokio::sync::watch;

use crate::error::Error;
use crate::topology::Topology;

/// How to reach the broker and how its streams are set up; shared by
/// [`CallerConfig`](crate::CallerConfig) and
/// [`WorkerConfig`](crate::WorkerConfig).
#[derive(Clone, Debug)]
pub(crate) struct BrokerSettings {
    /// The server's URL, `nats://host:port`.
    pub(crate) url: String,
    /// How long connecting may take before it fails.
    pub(crate) connect_timeout: Duration,
    /// What every caller and worker of the namespace shares.
    pub(crate) topology: Topology,
}

impl BrokerSettings {
    pub(crate) fn new(url: impl Into<String>) -> BrokerSettings {
        BrokerSettings {
            url: url.into(),
            connect_timeout: Duration::from_secs(5),
            topology: Topology::new(),
        }
    }

    /// Refuses values the broker would refuse later, with our own words.
    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.connect_timeout.is_zero() {
            return Err(Error::config(
                "`connect_timeout` must be more than zero; the default is 5 s",
            ));
        }
        self.topology.check()
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

/// The jobs and results streams, created if missing, and checked against
/// `settings`' topology if they were there: `side` ("caller", "worker")
/// names this end in the error when they differ.
pub(crate) async fn streams(
    js: &jetstream::Context,
    settings: &BrokerSettings,
    side: &str,
) -> Result<(stream::Stream, stream::Stream), Error> {
    let topology = &settings.topology;
    let names = topology.names();
    let jobs = stream::Config {
        name: names.jobs_stream(),
        subjects: vec![names.jobs_subjects()],
        description: Some(topology.record()),
        retention: stream::RetentionPolicy::WorkQueue,
        storage: stream::StorageType::File,
        duplicate_window: topology.duplicate_window,
        ..Default::default()
    };
    let results = stream::Config {
        name: names.results_stream(),
        subjects: vec![names.results_subjects()],
        retention: stream::RetentionPolicy::Limits,
        storage: stream::StorageType::File,
        max_age: topology.result_max_age,
        duplicate_window: topology.duplicate_window,
        ..Default::default()
    };
    let jobs = get_or_create(js, jobs, settings).await?;
    let results = get_or_create(js, results, settings).await?;
    for (stream, subjects) in [
        (&jobs, names.jobs_subjects()),
        (&results, names.results_subjects()),
    ] {
        let held = &stream.cached_info().config;
        if held.subjects != [subjects.clone()] {
            return Err(Error::mismatch(format!(
                "the stream `{}` on the NATS server at `{}` holds the subjects {:?}, not \
                 `{subjects}`: it was made for something else; choose another namespace \
                 (`Topology::namespace`)",
                held.name, settings.url, held.subjects
            )));
        }
    }
    let mut differ = Vec::new();
    let held = &jobs.cached_info().config;
    if let Some(description) = &held.description {
        differ.extend(topology.differences(description));
    }
    let held_window = held.duplicate_window;
    let held_age = results.cached_info().config.max_age;
    if held_window != topology.duplicate_window {
        differ.push((
            "duplicate_window",
            format!("{held_window:?}"),
            format!("{:?}", topology.duplicate_window),
        ));
    }
    if held_age != topology.result_max_age {
        differ.push((
            "result_max_age",
            format!("{held_age:?}"),
            format!("{:?}", topology.result_max_age),
        ));
    }
    if !differ.is_empty() {
        let list: Vec<String> = differ
            .iter()
            .map(|(setting, there, here)| format!("`{setting}` is {there} there and {here} here"))
            .collect();
        return Err(Error::mismatch(format!(
            "the namespace `{}` on the NATS server at `{}` was set up with other settings than \
             this {side}'s: {}; give every caller and worker of a namespace the same \
             `Topology` (to change it, stop them all and delete the streams `{}` and `{}` once \
             no job is queued)",
            topology.namespace,
            settings.url,
            list.join(", "),
            names.jobs_stream(),
            names.results_stream()
        )));
    }
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
