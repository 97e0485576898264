//! The worker side: takes a pool's jobs from the broker, runs them through an
//! executor, and publishes their results.
//!
//! A worker binds one durable consumer per weight it serves (and, with
//! `sticky(true)`, one per sticky partition, each with one job in flight
//! across all workers), pulls only as many jobs as it has free slots
//! (`pull.rs`), and runs each job's executor call on a thread of its blocking
//! pool while its I/O thread keeps the job alive at the broker (`run.rs`).

mod cancel;
mod config;
mod heartbeat;
mod host;
mod jobs;
mod pull;
mod run;
mod stats;

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use async_nats::jetstream::consumer::{self as consumer, AckPolicy, PullConsumer};
use async_nats::jetstream::{self, stream};
use futures::StreamExt;
use tokio::sync::{Semaphore, watch};

pub use cancel::CancelFlag;
use config::Runner;
pub use config::{Executor, Failure, ResultHook, WorkerConfig};
pub use stats::WorkerStats;

use crate::broker;
use crate::caller::ConnectionState;
use crate::error::Error;
use crate::names::{self, Names, Route};
use heartbeat::Identity;
use jobs::Jobs;
use run::Limits;
use stats::Counters;

/// What the worker's tasks share.
pub(crate) struct Shared {
    pub(crate) js: jetstream::Context,
    pub(crate) executor: Executor,
    /// One permit per slot: held by a job from its delivery until its
    /// executor call returns, and by a pull request while it waits.
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) jobs: Jobs,
    pub(crate) counters: Counters,
    pub(crate) on_result_stored: Option<ResultHook>,
    pub(crate) poll_interval: Duration,
    /// The consumer loops waiting for a slot.
    pub(crate) waiting: pull::Waiting,
}

/// A running worker: serves its pool's jobs until [`stop`](Self::stop)ped.
///
/// Its connection and pull loops run on a thread of its own; executor calls
/// run on up to [`slots`](WorkerConfig::slots) further threads.
///
/// # Examples
///
/// ```no_run
/// use tokengate_remote::{Failure, Worker, WorkerConfig};
///
/// let worker = Worker::start(WorkerConfig::new("nats://127.0.0.1:4222", |op, args, _| {
///     match op {
///         "echo" => Ok(args.to_vec()),
///         _ => Err(Failure::Error(format!("unknown op `{op}`"))),
///     }
/// }))?;
/// println!("{}", worker.stats());
/// worker.stop();
/// # Ok::<(), tokengate_remote::Error>(())
/// ```
///
/// # Dropping
///
/// Dropping a worker stops it, as [`stop`](Self::stop) does.
pub struct Worker {
    shared: Arc<Shared>,
    client: async_nats::Client,
    stop: watch::Sender<bool>,
    thread: Option<JoinHandle<()>>,
    /// The coordinator a worker host started for its jobs, stopped after
    /// the worker.
    host: Option<tokengate::OperationsCoordinator>,
}

impl Worker {
    /// A worker host for this executable's `remote = true` fns: the settings
    /// of a worker of the NATS server at `url` whose jobs run as calls of a
    /// tokengate coordinator on this host, found by op name. A `remote` fn
    /// runs on one of that coordinator's worker threads (and sees
    /// [`tokengate::is_cancelled`] when its caller kills it or its deadline
    /// passes); one with `process_pool = true` too runs in that
    /// coordinator's process pool, under its `memory_limit`.
    ///
    /// The worker starts a coordinator of its own when it starts, and stops
    /// it when it stops; [`WorkerConfig::coordinator`] gives it one instead.
    /// Like any coordinator started last, the worker's own becomes the
    /// process default for guarded calls made outside a coordinator: a
    /// process that is a caller too binds its calls with
    /// [`Handle::enter`](tokengate::Handle::enter), or gives the worker its
    /// coordinator.
    ///
    /// A remote lead (a `remote` fn with `external_calls`) runs as a lead of
    /// that coordinator, and its children run on it too, in the lead's
    /// domain: thread fns on its worker threads, `remote` fns as this host
    /// runs their jobs, without going back through the broker (also when the
    /// coordinator given has a remote backend of its own). The lead holds
    /// one slot; its children take no slot, only the coordinator's threads
    /// in the lead's worker group (a lead waiting on a child that has not
    /// started runs it inline). A kill message or deadline of the lead kills
    /// its children here too.
    /// The executable must be the same build as the callers' (their `remote`
    /// fns are found by op name, and their values decoded by type).
    ///
    /// ```no_run
    /// use tokengate::task_token_guard;
    /// use tokengate_remote::{Worker, serve};
    ///
    /// #[task_token_guard(op = "thumbnail", weight = "heavy", remote = true)]
    /// fn thumbnail(image: Vec<u8>, width: u32) -> Vec<u8> {
    ///     image.into_iter().take(width as usize).collect()
    /// }
    ///
    /// fn main() -> Result<(), tokengate_remote::Error> {
    ///     if std::env::args().any(|arg| arg == "--worker") {
    ///         match serve(Worker::nats("nats://10.0.0.5:4222").slots(8))? {}
    ///     }
    ///     // ... the caller's side: a coordinator with `Remote::nats(..)`.
    ///     # let _ = thumbnail;
    ///     Ok(())
    /// }
    /// ```
    pub fn nats(url: impl Into<String>) -> WorkerConfig {
        WorkerConfig::nats(url)
    }

    /// Connects, creates the streams and the consumers it serves if they are
    /// missing, and starts serving.
    ///
    /// # Errors
    ///
    /// A configuration value out of range ([`Error::is_config`]), or a broker
    /// that cannot be reached or refuses the streams or consumers
    /// ([`Error::is_broker`]).
    pub fn start(mut config: WorkerConfig) -> Result<Worker, Error> {
        config.check()?;
        let mut host = None;
        if let Runner::Host(given) = &config.runner {
            let (executor, owned) = host::start(given.as_ref())?;
            config.runner = Runner::Executor(executor);
            host = owned;
        }
        let (stop, stop_rx) = watch::channel(false);
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let thread = std::thread::Builder::new()
            .name(format!("tg-remote-worker-{}", config.pool))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    // Executor calls, one per slot, and a few for tokio's own
                    // blocking work (name lookups on reconnect).
                    .max_blocking_threads(config.slots + 2)
                    .thread_name("tg-remote-job")
                    .build();
                let runtime = match runtime {
                    Ok(runtime) => runtime,
                    Err(err) => {
                        let _ = ready_tx.send(Err(Error::broker(format!(
                            "could not start the worker's runtime: {err}"
                        ))));
                        return;
                    }
                };
                let stop_timeout = config.stop_timeout;
                let slots = config.slots;
                match runtime.block_on(open(config)) {
                    Ok(opened) => {
                        let _ = ready_tx.send(Ok((opened.shared.clone(), opened.client.clone())));
                        runtime.block_on(serve_until_stopped(opened, stop_rx, slots, stop_timeout));
                    }
                    Err(err) => {
                        let _ = ready_tx.send(Err(err));
                    }
                }
                // Executor calls still running past the stop timeout keep
                // their threads; their jobs are delivered again elsewhere.
                runtime.shutdown_background();
            })
            .map_err(|err| Error::broker(format!("could not start the worker's thread: {err}")))?;
        match ready_rx.recv() {
            Ok(Ok((shared, client))) => Ok(Worker {
                shared,
                client,
                stop,
                thread: Some(thread),
                host,
            }),
            Ok(Err(err)) => {
                let _ = thread.join();
                Err(err)
            }
            Err(_) => {
                let _ = thread.join();
                Err(Error::broker("the worker's thread ended while connecting"))
            }
        }
    }

    /// The worker's counters now.
    pub fn stats(&self) -> WorkerStats {
        self.shared.counters.read(ConnectionState::of(&self.client))
    }

    /// Stops the worker: no more jobs are taken; running ones may finish and
    /// publish their results for up to the stop timeout; the connection is
    /// closed. Jobs still running then, and any a pull request brought after
    /// the stop, are left to the broker, which delivers them again after
    /// `ack_wait`. Returns the final counters.
    pub fn stop(mut self) -> WorkerStats {
        self.shut_down();
        self.stats()
    }

    fn shut_down(&mut self) {
        let _ = self.stop.send(true);
        if let Some(thread) = self.thread.take() {
            // A hook that drops the last handle to its worker runs on the
            // worker's own thread, which cannot wait for itself.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
        // After the worker: its jobs ran on it.
        if let Some(host) = self.host.take() {
            host.stop();
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.shut_down();
    }
}

impl fmt::Debug for Worker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Worker")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Serves `config`'s pool on this thread until the process ends; returns only
/// if the worker cannot start. For a worker binary's `main`.
///
/// # Errors
///
/// As [`Worker::start`].
///
/// # Examples
///
/// ```no_run
/// use tokengate_remote::{Failure, WorkerConfig, serve};
///
/// fn main() -> Result<(), tokengate_remote::Error> {
///     let config = WorkerConfig::new("nats://10.0.0.5:4222", |op, args, _| match op {
///         "echo" => Ok(args.to_vec()),
///         _ => Err(Failure::Error(format!("unknown op `{op}`"))),
///     });
///     match serve(config)? {}
/// }
/// ```
pub fn serve(config: WorkerConfig) -> Result<Infallible, Error> {
    let mut worker = Worker::start(config)?;
    // The worker's thread ends only when it is stopped, and the sender that
    // stops it lives here: this waits for ever unless that thread fails.
    if let Some(thread) = worker.thread.take() {
        let _ = thread.join();
    }
    Err(Error::broker("the worker's thread ended unexpectedly"))
}

/// A connected worker, before it serves.
struct Opened {
    shared: Arc<Shared>,
    client: async_nats::Client,
    consumers: Vec<(PullConsumer, Limits)>,
    kills: async_nats::Subscriber,
    identity: Arc<Identity>,
    heartbeat_asks: async_nats::Subscriber,
}

/// Connects, and finds or creates the streams and consumers.
async fn open(config: WorkerConfig) -> Result<Opened, Error> {
    let name = format!("tokengate-remote worker ({} pool)", config.pool);
    let broker::Connection { client, js, .. } =
        broker::connect(&config.broker, &name, config.slots).await?;
    let (jobs, _results) = broker::streams(&js, &config.broker, "worker").await?;
    let names = config.shared().names();
    let mut routes: Vec<Route<'_>> = Vec::new();
    for weight in &config.weights {
        // A weight named twice is one consumer.
        if !routes.contains(&Route::Weight(weight)) {
            routes.push(Route::Weight(weight));
        }
    }
    if config.sticky {
        routes.extend((0..config.shared().partitions).map(Route::Partition));
    }
    let mut consumers = Vec::with_capacity(routes.len());
    for route in routes {
        consumers.push(bind(&jobs, &config, &names, route).await?);
    }
    let subscribe = |subject: String, what: &'static str| {
        let client = client.clone();
        let url = config.broker.url.clone();
        async move {
            client.subscribe(subject).await.map_err(|err| {
                Error::broker(format!(
                    "could not subscribe to {what} on the NATS server at `{url}`: {err}"
                ))
            })
        }
    };
    let kills = subscribe(names.kill_subject(&config.pool), "kill messages").await?;
    let heartbeat_asks = subscribe(names.heartbeat_request(), "heartbeat requests").await?;
    let worker_id = config.worker_id.clone().unwrap_or_else(names::random_id);
    let mut weights: Vec<String> = Vec::new();
    for weight in &config.weights {
        if !weights.contains(weight) {
            weights.push(weight.clone());
        }
    }
    let identity = Arc::new(Identity {
        subject: names.heartbeat_subject(&config.pool, &worker_id),
        worker: worker_id,
        host: heartbeat::host_name(),
        pool: config.pool.clone(),
        weights,
        sticky: config.sticky,
        slots: config.slots,
        interval: config.heartbeat_interval,
        started: std::time::SystemTime::now(),
        since: tokio::time::Instant::now(),
    });
    // Results are published with this context: a confirmation that does not
    // come within half of `ack_wait` is retried before the job would be
    // delivered again anyway.
    let mut js = js;
    js.set_timeout(
        (config.shared().ack_wait / 2).clamp(Duration::from_millis(200), Duration::from_secs(5)),
    );
    let executor = match config.runner {
        Runner::Executor(executor) => executor,
        // `Worker::start` made the host's executor before connecting.
        Runner::Host(_) => unreachable!("a host's executor is made before it connects"),
    };
    let shared = Arc::new(Shared {
        js,
        executor,
        slots: Arc::new(Semaphore::new(config.slots)),
        jobs: Jobs::default(),
        counters: Counters::default(),
        on_result_stored: config.on_result_stored,
        poll_interval: config.poll_interval,
        waiting: pull::Waiting::default(),
    });
    Ok(Opened {
        shared,
        client,
        consumers,
        kills,
        identity,
        heartbeat_asks,
    })
}

/// Finds or creates the durable consumer of `route`, checks that the broker
/// holds it with the topology's `ack_wait` and `max_deliver`, and reads the
/// limits its jobs run under.
async fn bind(
    jobs: &stream::Stream,
    config: &WorkerConfig,
    names: &Names,
    route: Route<'_>,
) -> Result<(PullConsumer, Limits), Error> {
    let name = names::consumer_name(&config.pool, route);
    let topology = config.shared();
    let wanted = consumer::pull::Config {
        durable_name: Some(name.clone()),
        filter_subject: names.consumer_filter(&config.pool, route),
        ack_policy: AckPolicy::Explicit,
        ack_wait: topology.ack_wait,
        max_deliver: i64::from(topology.max_deliver),
        max_ack_pending: match route {
            // One job in flight per partition, across all workers: the
            // partition's jobs run one at a time, in order.
            Route::Partition(_) => 1,
            // Workers pull only for free slots, so this never binds; the
            // server's default (1,000) would, silently, past 1,000 slots.
            Route::Weight(_) => 1 << 20,
        },
        ..Default::default()
    };
    let consumer: PullConsumer =
        jobs.get_or_create_consumer(&name, wanted)
            .await
            .map_err(|err| {
                Error::broker(format!(
                    "could not create or open the consumer `{name}` of the jobs stream on the NATS \
                 server at `{}`: {err}",
                    config.broker.url
                ))
            })?;
    let held = &consumer.cached_info().config;
    if held.ack_wait != topology.ack_wait || held.max_deliver != i64::from(topology.max_deliver) {
        // A consumer made before the namespace recorded its topology, or by
        // other means.
        return Err(Error::mismatch(format!(
            "the consumer `{name}` on the NATS server at `{}` has `ack_wait` {:?} and \
             `max_deliver` {}, and this worker's topology {:?} and {}; give every caller and \
             worker of a namespace the same `Topology`, or delete the consumer (`nats consumer \
             rm {} {name}`) to set it anew",
            config.broker.url,
            held.ack_wait,
            held.max_deliver,
            topology.ack_wait,
            topology.max_deliver,
            names.jobs_stream()
        )));
    }
    let ack_wait = held.ack_wait;
    let limits = Limits {
        ack_wait,
        max_deliver: if held.max_deliver > 0 {
            held.max_deliver
        } else {
            i64::MAX
        },
        progress_every: config.progress_every(ack_wait),
        one_at_a_time: held.max_ack_pending == 1,
    };
    Ok((consumer, limits))
}

/// Serves until `stop` turns true, then drains.
async fn serve_until_stopped(
    opened: Opened,
    mut stop: watch::Receiver<bool>,
    slots: usize,
    stop_timeout: Duration,
) {
    let Opened {
        shared,
        client,
        consumers,
        mut kills,
        identity,
        heartbeat_asks,
    } = opened;
    let heart = tokio::spawn(heartbeat::beat(
        shared.clone(),
        client.clone(),
        identity.clone(),
        heartbeat_asks,
        stop.clone(),
    ));
    let mut loops = Vec::with_capacity(consumers.len());
    for (consumer, limits) in consumers {
        loops.push(tokio::spawn(pull::serve(
            shared.clone(),
            consumer,
            limits,
            stop.clone(),
        )));
    }
    let listener = {
        let shared = shared.clone();
        tokio::spawn(async move {
            while let Some(message) = kills.next().await {
                if let Ok(id) = std::str::from_utf8(&message.payload) {
                    shared.jobs.kill(id);
                }
            }
        })
    };
    let _ = stop.wait_for(|stop| *stop).await;
    // Callers stop listing the worker at once.
    heart.abort();
    identity.publish(&shared, &client, true).await;
    for pull in loops {
        // Each loop ends at its next await; a request the broker never
        // answers is not waited for.
        let abort = pull.abort_handle();
        if tokio::time::timeout(Duration::from_secs(1), pull)
            .await
            .is_err()
        {
            abort.abort();
        }
    }
    // Every slot back means every job is done (published and acked).
    let all = u32::try_from(slots).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(stop_timeout, shared.slots.acquire_many(all)).await;
    listener.abort();
    let _ = tokio::time::timeout(Duration::from_secs(2), client.flush()).await;
}
