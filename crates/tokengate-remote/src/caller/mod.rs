//! The caller side: submits jobs to the broker and delivers each job's
//! outcome to its callback, exactly once.
//!
//! A [`Caller`] owns one NATS connection, driven by a tokio runtime on a
//! thread of its own (`io.rs`), so that the synchronous core can use it
//! without a runtime: every method here returns at once.

mod backend;
mod config;
mod io;
mod ledger;
mod roster;
mod stats;
mod window;

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use bytes::Bytes;
use tokio::sync::mpsc;

pub use config::{CallerConfig, Remote};
pub use roster::WorkerInfo;
pub use stats::{CallerStats, ConnectionState};
pub use window::Permit;

use crate::broker;
use crate::error::Error;
use crate::job::{Job, OnDone, Outcome};
use crate::names::{self, Names, Route};
use crate::wire::{self, FORMAT, FORMAT_HEADER, JobBody, REPLY_HEADER};
use io::{Command, Io, Outgoing};
use ledger::Ledger;
use roster::Roster;
use window::Window;

/// Submits jobs to remote workers through a NATS JetStream broker and
/// delivers their outcomes.
///
/// Every method returns at once; the connection is served by a thread of the
/// caller's own. Each submitted job's callback runs exactly once, with its
/// [`Outcome`]. At most [`max_in_flight`] jobs are in flight: room is taken
/// with [`try_reserve`](Self::try_reserve) before a job is
/// [`submit`](Self::submit)ted, so the core chooses whether a full window
/// means waiting ([`when_capacity`](Self::when_capacity)) or refusing.
///
/// # Examples
///
/// ```no_run
/// use std::sync::mpsc;
/// use tokengate_remote::{Caller, CallerConfig, Job, Outcome};
///
/// let caller = Caller::connect(CallerConfig::new("nats://127.0.0.1:4222"))?;
/// let (tx, rx) = mpsc::channel();
/// let permit = caller.try_reserve().expect("an empty window has room");
/// let job = Job::new(caller.next_job_id(), "thumbnail", vec![1, 2, 3]).weight("heavy");
/// caller.submit(permit, job, Box::new(move |outcome| tx.send(outcome).unwrap()));
/// match rx.recv().unwrap() {
///     Outcome::Value(bytes) => println!("{} bytes back", bytes.len()),
///     other => println!("failed: {other:?}"),
/// }
/// # Ok::<(), tokengate_remote::Error>(())
/// ```
///
/// # Dropping
///
/// Dropping a caller closes it ([`close`](Self::close)): jobs still in flight
/// resolve as [`Outcome::Unavailable`] and the thread ends.
///
/// [`max_in_flight`]: CallerConfig::max_in_flight
pub struct Caller {
    id: String,
    ledger: Arc<Ledger>,
    commands: mpsc::UnboundedSender<Command>,
    /// Taken by the first close.
    thread: Mutex<Option<JoinHandle<()>>>,
    client: async_nats::Client,
    reply: String,
    names: Names,
    partitions: u32,
    roster: Arc<Roster>,
    next_job: AtomicU64,
}

impl Caller {
    /// Connects to the broker, creates the jobs and results streams if they
    /// are missing, and starts the caller's thread.
    ///
    /// # Errors
    ///
    /// A configuration value out of range ([`Error::is_config`]), or a broker
    /// that cannot be reached within the connect timeout or has no JetStream
    /// ([`Error::is_broker`]).
    pub fn connect(config: CallerConfig) -> Result<Caller, Error> {
        config.check()?;
        let id = config.caller_id.clone().unwrap_or_else(names::random_id);
        let names = config.shared().names();
        let partitions = config.shared().partitions;
        let reply = names.result_subject(&id);
        let window = Window::new(config.max_in_flight);
        let ledger = Arc::new(Ledger::new(window));
        let roster = Arc::new(Roster::default());
        let (commands, receiver) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
        let start = {
            let ledger = ledger.clone();
            let roster = roster.clone();
            let id = id.clone();
            let reply = reply.clone();
            move || -> Result<(tokio::runtime::Runtime, Io), Error> {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map_err(|err| {
                        Error::broker(format!("could not start the caller's runtime: {err}"))
                    })?;
                let io = runtime.block_on(open(config, ledger, roster, id, reply))?;
                Ok((runtime, io))
            }
        };
        let thread = std::thread::Builder::new()
            .name("tg-remote-caller".to_owned())
            .spawn(move || match start() {
                Ok((runtime, io)) => {
                    let _ = ready_tx.send(Ok(io.client.clone()));
                    runtime.block_on(io::run(io, receiver));
                }
                Err(err) => {
                    let _ = ready_tx.send(Err(err));
                }
            })
            .map_err(|err| Error::broker(format!("could not start the caller's thread: {err}")))?;
        let client = match ready_rx.recv() {
            Ok(Ok(client)) => client,
            Ok(Err(err)) => {
                let _ = thread.join();
                return Err(err);
            }
            Err(_) => {
                let _ = thread.join();
                return Err(Error::broker("the caller's thread ended while connecting"));
            }
        };
        Ok(Caller {
            id,
            ledger,
            commands,
            thread: Mutex::new(Some(thread)),
            client,
            reply,
            names,
            partitions,
            roster,
            next_job: AtomicU64::new(0),
        })
    }

    /// This caller's id: its results come back on `tg.res.<id>`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// A fresh job id, `<caller id>.<n>`: unique among this caller's jobs,
    /// and among all callers' as long as caller ids are.
    pub fn next_job_id(&self) -> String {
        format!("{}.{}", self.id, self.next_job.fetch_add(1, Relaxed) + 1)
    }

    /// Room for one job in the in-flight window, if there is some now.
    pub fn try_reserve(&self) -> Option<Permit> {
        self.ledger.window.try_reserve()
    }

    /// Room for one job, waiting for it at most `timeout`. Blocks the calling
    /// thread; the core uses [`try_reserve`](Self::try_reserve) and
    /// [`when_capacity`](Self::when_capacity) instead.
    pub fn reserve_timeout(&self, timeout: Duration) -> Option<Permit> {
        self.ledger.window.reserve_timeout(timeout)
    }

    /// Runs `wake` once the window may have room: at once if it has, else
    /// when a job in flight resolves. Room is not held for it, so `wake`
    /// should call [`try_reserve`](Self::try_reserve) again (and register
    /// again if that fails). It runs on the thread that resolved the job:
    /// keep it short.
    pub fn when_capacity(&self, wake: impl FnOnce() + Send + 'static) {
        self.ledger.window.when_free(Box::new(wake));
    }

    /// How many jobs may be in flight at once
    /// ([`CallerConfig::max_in_flight`]).
    pub fn max_in_flight(&self) -> usize {
        self.ledger.window.max()
    }

    /// Room left in the window now.
    pub fn capacity(&self) -> usize {
        let window = &self.ledger.window;
        window.max().saturating_sub(window.used())
    }

    /// Submits `job`, which holds `permit`'s room until its outcome is
    /// delivered to `on_done` (exactly once). Never blocks.
    ///
    /// A job the caller refuses resolves at once, on this thread: an invalid
    /// id, pool or weight ([`Outcome::Error`]), an id already in flight here
    /// ([`Outcome::Error`]), or a closed caller ([`Outcome::Unavailable`]).
    ///
    /// # Panics
    ///
    /// If `permit` was reserved on another caller.
    pub fn submit(&self, permit: Permit, job: Job, on_done: OnDone) {
        assert!(
            permit.is_from(&self.ledger.window),
            "a permit reserved on another caller was submitted; reserve room on the caller \
             that submits the job"
        );
        permit.into_job();
        let route = match self.check(&job) {
            Ok(route) => route,
            Err(msg) => return self.ledger.refuse(on_done, Outcome::Error(msg)),
        };
        if !self.ledger.admit(&job.id, &job.pool, on_done) {
            return;
        }
        let outgoing = self.outgoing(&job, route);
        if self.commands.send(Command::Publish(outgoing)).is_err() {
            self.ledger.resolve(
                &job.id,
                Outcome::Unavailable(format!(
                    "job `{}` was submitted after its caller's thread ended; it was not queued",
                    job.id
                )),
            );
        }
    }

    /// Kills job `id`: its callback runs at once with
    /// [`Outcome::Cancelled`], the job is deleted from the queue if it is
    /// still there, and the workers of its pool are told to stop it if one
    /// runs it (its [`CancelFlag`](crate::CancelFlag) is set). The stop is
    /// best effort: a worker that misses the message finishes the job, and
    /// its result is dropped. Returns whether the job was in flight.
    pub fn kill(&self, id: &str) -> bool {
        match self.ledger.kill(id) {
            Some((pool, seq)) => {
                let _ = self.commands.send(Command::Kill {
                    id: id.to_owned(),
                    pool,
                    seq,
                });
                true
            }
            None => false,
        }
    }

    /// The caller's counters now.
    pub fn stats(&self) -> CallerStats {
        let c = &self.ledger.counters;
        CallerStats {
            submitted: c.submitted.load(Relaxed),
            in_flight: self.ledger.in_flight(),
            resolved: c.resolved.load(Relaxed),
            redelivered: c.redelivered.load(Relaxed),
            duplicates_dropped: c.duplicates.load(Relaxed),
            poison: c.poison.load(Relaxed),
            unavailable: c.unavailable.load(Relaxed),
            cancelled: c.cancelled.load(Relaxed),
            malformed: c.malformed.load(Relaxed),
            connection: ConnectionState::of(&self.client),
        }
    }

    /// The workers of this caller's namespace heard from lately, in every
    /// pool, by pool, host, pid and id: each one's latest heartbeat. A worker
    /// is listed within a round trip of its start (or of this caller's
    /// connecting), and dropped when it stops, or after three of its
    /// heartbeat intervals of silence when it dies
    /// ([`WorkerConfig::heartbeat_interval`](crate::WorkerConfig::heartbeat_interval)).
    pub fn workers(&self) -> Vec<WorkerInfo> {
        self.roster.live()
    }

    /// Closes the caller: jobs in flight resolve as
    /// [`Outcome::Unavailable`], this caller's unread results are purged, and
    /// the thread ends before this returns.
    pub fn close(self) {
        self.shut_down();
    }

    /// Closes the caller (once; later calls find it closed).
    pub(crate) fn shut_down(&self) {
        let _ = self.commands.send(Command::Close);
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            // A callback that drops the last handle to its caller runs on
            // the caller's own thread, which cannot wait for itself; it ends
            // on its own once it has read `Close`.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
        // The thread resolves what is pending; this covers a thread that
        // ended early.
        self.ledger.close();
    }

    /// Checks the parts of `job` that name things on the broker; returns
    /// where it is queued.
    fn check<'a>(&self, job: &'a Job) -> Result<Route<'a>, String> {
        names::check_job_id(&job.id)?;
        names::check_token("pool name", &job.pool)?;
        names::check_weight(&job.weight)?;
        Ok(match &job.sticky {
            Some(key) => Route::Partition(names::partition(key, self.partitions)),
            None => Route::Weight(&job.weight),
        })
    }

    fn outgoing(&self, job: &Job, route: Route<'_>) -> Outgoing {
        let body = wire::encode(&JobBody {
            op: &job.op,
            budget: job.deadline,
            args: &job.args,
        });
        let message = PublishMessage::build()
            .message_id(&job.id)
            .header(FORMAT_HEADER, FORMAT)
            .header(REPLY_HEADER, self.reply.as_str())
            .payload(Bytes::from(body));
        Outgoing {
            id: job.id.clone(),
            op: job.op.clone(),
            subject: self.names.job_subject(&job.pool, route, &job.op),
            message,
        }
    }
}

impl Drop for Caller {
    fn drop(&mut self) {
        self.shut_down();
    }
}

impl fmt::Debug for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Caller")
            .field("id", &self.id)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Connects and sets up what the I/O thread needs.
async fn open(
    config: CallerConfig,
    ledger: Arc<Ledger>,
    roster: Arc<Roster>,
    caller_id: String,
    reply: String,
) -> Result<Io, Error> {
    let name = format!("tokengate-remote caller {caller_id}");
    let broker::Connection {
        client,
        mut js,
        connects,
    } = broker::connect(&config.broker, &name, config.max_in_flight).await?;
    js.set_timeout(config.publish_timeout);
    let (jobs, mut results) = broker::streams(&js, &config.broker, "caller").await?;
    let names = config.shared().names();
    let heartbeats = client.subscribe(names.heartbeats()).await.map_err(|err| {
        Error::broker(format!(
            "could not subscribe to the workers' heartbeats on the NATS server at `{}`: {err}",
            config.broker.url
        ))
    })?;
    let results_start = results
        .info()
        .await
        .map_err(|err| {
            Error::broker(format!(
                "could not read the results stream on the NATS server at `{}`: {err}",
                config.broker.url
            ))
        })?
        .state
        .last_sequence;
    Ok(Io {
        ledger,
        roster,
        heartbeats: Some(heartbeats),
        names,
        client,
        js,
        jobs,
        results,
        reply,
        caller_id,
        results_start,
        connects,
        url: config.broker.url,
        publish_attempts: config.publish_attempts,
        publish_timeout: config.publish_timeout,
    })
}
