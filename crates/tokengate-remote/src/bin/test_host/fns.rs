//! The `remote` fns of `tokengate-remote-test-host`, compiled into that
//! executable and into the attribute tests (`tests/attribute`), so that the
//! calling test and the worker host agree on their ops and types, as a real
//! deployment's callers and hosts do by running the same build.

use std::io::Write;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use tokengate::task_token_guard;

/// Where the host notes each call it starts, as `<op> <pid>` lines.
static LOG: OnceLock<PathBuf> = OnceLock::new();

/// Notes calls in `path` from now on (once per process).
pub(crate) fn log_to(path: PathBuf) {
    let _ = LOG.set(path);
}

/// Appends `<op> <pid>` to the log, if there is one: one write per line, so
/// that lines of several processes interleave whole.
fn note(op: &str) {
    let Some(path) = LOG.get() else {
        return;
    };
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("the log file opens");
    let line = format!("{op} {}\n", std::process::id());
    file.write_all(line.as_bytes())
        .expect("the log file takes a line");
}

/// Notes its start, then sleeps `ms` milliseconds (less if cancelled).
/// Returns `tag` and the process that ran it.
#[task_token_guard(op = "host_nap", remote = true)]
pub(crate) fn nap(tag: u32, ms: u64) -> (u32, u32) {
    note("host_nap");
    let until = Instant::now() + Duration::from_millis(ms);
    while Instant::now() < until && !tokengate::is_cancelled() {
        std::thread::sleep(Duration::from_millis(5));
    }
    (tag, std::process::id())
}

/// Notes its start, then ends the process that runs it at once, as a crash
/// would (`exit(3)`: gone without acknowledging anything, and no core file).
#[task_token_guard(op = "host_crash", remote = true)]
pub(crate) fn crash() -> u32 {
    note("host_crash");
    std::process::exit(3)
}

/// A child of [`lead`]: sleeps `ms` milliseconds, then returns `i` and the
/// process that ran it.
#[task_token_guard(op = "host_child")]
pub(crate) fn child(i: u32, ms: u64) -> (u32, u32) {
    std::thread::sleep(Duration::from_millis(ms));
    (i, std::process::id())
}

/// [`child`], as a `remote` fn: called from [`lead`], it runs on the lead's
/// host too.
#[task_token_guard(op = "host_remote_child", remote = true)]
pub(crate) fn remote_child(i: u32, ms: u64) -> (u32, u32) {
    std::thread::sleep(Duration::from_millis(ms));
    (i, std::process::id())
}

/// A remote lead: makes `n` children of each kind, each sleeping `ms`
/// milliseconds, all at once, and returns the process that ran it with
/// what each child returned, in order (thread children `0..n`, then remote
/// ones `n..2n`).
#[task_token_guard(
    op = "host_lead",
    remote = true,
    external_calls = ["host_child", "host_remote_child"]
)]
pub(crate) fn lead(n: u32, ms: u64) -> (u32, Vec<(u32, u32)>) {
    note("host_lead");
    let threads: Vec<_> = (0..n).map(|i| child(i, ms)).collect();
    let remotes: Vec<_> = (n..2 * n).map(|i| remote_child(i, ms)).collect();
    let children = threads
        .into_iter()
        .chain(remotes)
        .map(|token| token.wait().expect("a child of a remote lead returns"))
        .collect();
    (std::process::id(), children)
}
