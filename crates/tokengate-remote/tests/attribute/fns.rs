//! The `remote` fns the tests call, and what they record on their worker
//! host (this process): calls started, calls that saw their cancellation,
//! and gates they wait at, each by a tag the test chooses.

use std::collections::{HashMap, HashSet};
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Deserializer, Serialize};
use tokengate::task_token_guard;

use crate::support::{EXPECTED_PANIC, PATIENCE};

#[task_token_guard(op = "attr_double", remote = true)]
pub(crate) fn double(data: Vec<u8>) -> Vec<u8> {
    data.iter().chain(&data).copied().collect()
}

/// The process and the thread that ran the call.
#[task_token_guard(op = "attr_where", weight = "heavy", remote = true)]
pub(crate) fn where_am_i() -> (u32, String) {
    let thread = std::thread::current();
    (std::process::id(), thread.name().unwrap_or("").to_owned())
}

/// The process that ran the call: a worker process of the host's pool.
#[task_token_guard(op = "attr_isolated", remote = true, process_pool = true)]
pub(crate) fn isolated_pid() -> u32 {
    std::process::id()
}

/// An `Err` is a value like any other.
#[task_token_guard(op = "attr_parse", remote = true)]
pub(crate) fn parse(text: String) -> Result<u32, String> {
    text.parse().map_err(|err| format!("`{text}`: {err}"))
}

#[task_token_guard(op = "attr_boom", remote = true)]
pub(crate) fn boom(why: String) -> u8 {
    panic!("{EXPECTED_PANIC}: {why}")
}

/// A value whose `Deserialize` refuses it on the worker host.
#[derive(Debug, Serialize)]
pub(crate) struct Picky(pub(crate) String);

impl<'de> Deserialize<'de> for Picky {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Picky, D::Error> {
        let text = String::deserialize(deserializer)?;
        if text.is_empty() {
            return Err(serde::de::Error::custom("a picky value must not be empty"));
        }
        Ok(Picky(text))
    }
}

#[task_token_guard(op = "attr_picky", remote = true)]
pub(crate) fn picky(value: Picky) -> usize {
    value.0.len()
}

/// Fails its first `fails` attempts of `tag` with an `Err`, then succeeds.
#[task_token_guard(op = "attr_flaky", remote = true, retries = 3, retry_backoff = "1ms", retry_on = ["err"])]
pub(crate) fn flaky(tag: u32, fails: usize) -> Result<usize, String> {
    let attempt = started(tag);
    begin(tag);
    if attempt < fails {
        Err(format!("attempt {attempt} fails"))
    } else {
        Ok(attempt)
    }
}

/// Waits until the test opens `tag`'s gate, or until it is cancelled.
#[task_token_guard(op = "attr_gated", remote = true)]
pub(crate) fn gated(tag: u32) -> u32 {
    begin(tag);
    let _running = Running::enter(tag);
    wait_for(tag);
    tag
}

/// Runs until it is cancelled (a kill or its timeout), then records it.
#[task_token_guard(op = "attr_spin", remote = true, timeout = "300ms")]
pub(crate) fn spin(tag: u32) -> u32 {
    begin(tag);
    spin_until_cancelled(tag);
    tag
}

/// [`spin`] without a timeout, to be killed.
#[task_token_guard(op = "attr_spin_forever", remote = true)]
pub(crate) fn spin_forever(tag: u32) -> u32 {
    begin(tag);
    spin_until_cancelled(tag);
    tag
}

/// A plain thread call, for the calling coordinator.
#[task_token_guard(op = "attr_local")]
pub(crate) fn local(x: u8) -> u8 {
    x + 1
}

fn spin_until_cancelled(tag: u32) {
    let deadline = Instant::now() + PATIENCE;
    while !tokengate::is_cancelled() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    if tokengate::is_cancelled() {
        let mut seen = CANCELLED.lock().unwrap();
        seen.get_or_insert_with(HashSet::new).insert(tag);
    }
}

static STARTED: Mutex<Option<HashMap<u32, usize>>> = Mutex::new(None);
static CANCELLED: Mutex<Option<HashSet<u32>>> = Mutex::new(None);
static OPEN: Mutex<Option<HashSet<u32>>> = Mutex::new(None);
static OPENED: Condvar = Condvar::new();
/// Per tag: calls running now, and the most that ever ran at once.
static RUNNING: Mutex<Option<HashMap<u32, (usize, usize)>>> = Mutex::new(None);

fn begin(tag: u32) {
    *STARTED
        .lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .entry(tag)
        .or_default() += 1;
}

/// How many calls of `tag` started on the worker host.
pub(crate) fn started(tag: u32) -> usize {
    STARTED
        .lock()
        .unwrap()
        .as_ref()
        .and_then(|map| map.get(&tag).copied())
        .unwrap_or(0)
}

/// Whether a call of `tag` saw its cancellation on the worker host.
pub(crate) fn saw_cancel(tag: u32) -> bool {
    CANCELLED
        .lock()
        .unwrap()
        .as_ref()
        .is_some_and(|seen| seen.contains(&tag))
}

/// Lets every call of `tag` waiting at its gate go on.
pub(crate) fn open(tag: u32) {
    OPEN.lock()
        .unwrap()
        .get_or_insert_with(HashSet::new)
        .insert(tag);
    OPENED.notify_all();
}

fn wait_for(tag: u32) {
    let deadline = Instant::now() + PATIENCE;
    let mut open = OPEN.lock().unwrap();
    while !open.as_ref().is_some_and(|set| set.contains(&tag))
        && !tokengate::is_cancelled()
        && Instant::now() < deadline
    {
        open = OPENED
            .wait_timeout(open, Duration::from_millis(5))
            .unwrap()
            .0;
    }
}

/// The most calls of `tag` that ran at once on the worker host.
pub(crate) fn most_at_once(tag: u32) -> usize {
    RUNNING
        .lock()
        .unwrap()
        .as_ref()
        .and_then(|map| map.get(&tag))
        .map_or(0, |&(_, most)| most)
}

/// Counts a call of a tag as running while it lives.
struct Running(u32);

impl Running {
    fn enter(tag: u32) -> Running {
        let mut running = RUNNING.lock().unwrap();
        let (now, most) = running
            .get_or_insert_with(HashMap::new)
            .entry(tag)
            .or_default();
        *now += 1;
        *most = (*most).max(*now);
        Running(tag)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap();
        if let Some((now, _)) = running.as_mut().and_then(|map| map.get_mut(&self.0)) {
            *now -= 1;
        }
    }
}

/// Appends `seq` to `key`'s log on the worker host; calls of one key run one
/// at a time, in the order they were made.
#[task_token_guard(
    op = "attr_append",
    remote = true,
    sticky_anchor = "log",
    hash_policy = "fast"
)]
pub(crate) fn append(#[key] key: u32, seq: u32) -> u32 {
    let _running = Running::enter(key);
    LOGS.lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .entry(key)
        .or_default()
        .push(seq);
    // Long enough that calls of one key would overlap on the host's slots,
    // were they not kept apart.
    std::thread::sleep(Duration::from_millis(25));
    seq
}

static LOGS: Mutex<Option<HashMap<u32, Vec<u32>>>> = Mutex::new(None);

/// What [`append`] logged for `key`, in order.
pub(crate) fn log(key: u32) -> Vec<u32> {
    LOGS.lock()
        .unwrap()
        .as_ref()
        .and_then(|logs| logs.get(&key).cloned())
        .unwrap_or_default()
}

/// The thread that ran the call, for a pool of its own.
#[task_token_guard(op = "attr_where_gpu", remote = "gpu")]
pub(crate) fn where_gpu() -> String {
    std::thread::current().name().unwrap_or("").to_owned()
}

/// Where a call ran: its tag, process and thread.
pub(crate) type Ran = (u32, u32, String);

fn ran(tag: u32) -> Ran {
    let thread = std::thread::current();
    (
        tag,
        std::process::id(),
        thread.name().unwrap_or("").to_owned(),
    )
}

/// A child of [`lead`], a thread fn.
#[task_token_guard(op = "attr_child")]
pub(crate) fn child(tag: u32) -> Ran {
    ran(tag)
}

/// A child of [`lead`], a `remote` fn: called from the lead, it runs on the
/// lead's host.
#[task_token_guard(op = "attr_remote_child", remote = true)]
pub(crate) fn remote_child(tag: u32) -> Ran {
    ran(tag)
}

/// A remote lead: makes `n` children of each kind, all at once, and returns
/// where it ran with where each child ran (thread children `0..n`, then
/// remote ones `n..2n`).
#[task_token_guard(
    op = "attr_lead",
    remote = true,
    external_calls = ["attr_child", "attr_remote_child"]
)]
pub(crate) fn lead(n: u32) -> (Ran, Vec<Ran>) {
    let threads: Vec<_> = (0..n).map(child).collect();
    let remotes: Vec<_> = (n..2 * n).map(remote_child).collect();
    let children = threads
        .into_iter()
        .chain(remotes)
        .map(|token| token.wait().expect("a child of a remote lead returns"))
        .collect();
    (ran(u32::MAX), children)
}

/// A child of [`spin_lead`] that runs until it is cancelled.
#[task_token_guard(op = "attr_spin_child")]
pub(crate) fn spin_child(tag: u32) -> u32 {
    begin(tag);
    spin_until_cancelled(tag);
    tag
}

/// [`spin_child`], as a `remote` fn.
#[task_token_guard(op = "attr_spin_remote_child", remote = true)]
pub(crate) fn spin_remote_child(tag: u32) -> u32 {
    begin(tag);
    spin_until_cancelled(tag);
    tag
}

/// A remote lead, to be killed: starts a [`spin_child`] for each even tag of
/// `tags` and a [`spin_remote_child`] for each odd one, and waits for them.
/// Once they ended (killed with it), makes one more child, `late`, and notes
/// why it failed ([`late_outcome`]).
#[task_token_guard(
    op = "attr_spin_lead",
    remote = true,
    external_calls = ["attr_spin_child", "attr_spin_remote_child"]
)]
pub(crate) fn spin_lead(tags: Vec<u32>, late: u32) -> u32 {
    let children: Vec<_> = tags
        .iter()
        .map(|&tag| {
            if tag % 2 == 0 {
                spin_child(tag)
            } else {
                spin_remote_child(tag)
            }
        })
        .collect();
    for child in children {
        let _ = child.wait();
    }
    let outcome = match spin_child(late).wait() {
        Ok(_) => "returned".to_owned(),
        Err(err) => format!("{:?}", err.kill_reason()),
    };
    LATE.lock()
        .unwrap()
        .get_or_insert_with(HashMap::new)
        .insert(late, outcome);
    late
}

static LATE: Mutex<Option<HashMap<u32, String>>> = Mutex::new(None);

/// How the child `late` of a [`spin_lead`] ended, once it did: its kill
/// reason (`Some(Lead)`), or `returned`.
pub(crate) fn late_outcome(late: u32) -> Option<String> {
    LATE.lock()
        .unwrap()
        .as_ref()
        .and_then(|map| map.get(&late).cloned())
}
