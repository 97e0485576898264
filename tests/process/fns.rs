//! The process-pool fns the tests call, and their thread twins.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokengate::task_token_guard;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Point {
    pub(crate) x: i64,
    pub(crate) y: i64,
    pub(crate) label: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) enum Shape {
    Empty,
    Dot(Point),
    Line { from: Point, to: Point },
    Poly(Vec<Point>),
}

#[task_token_guard(op = "p_square", process_pool = true)]
pub(crate) fn square(n: u64) -> u64 {
    n * n
}

#[task_token_guard(op = "p_pid", process_pool = true)]
pub(crate) fn pid() -> u32 {
    std::process::id()
}

#[task_token_guard(op = "p_text", process_pool = true)]
pub(crate) fn shout(text: String, times: usize) -> String {
    text.to_uppercase().repeat(times)
}

#[task_token_guard(op = "p_floats", process_pool = true)]
pub(crate) fn stats(values: Vec<f64>) -> (f64, f64, Option<f64>) {
    let sum: f64 = values.iter().sum();
    let max = values.iter().copied().reduce(f64::max);
    (sum, sum / values.len().max(1) as f64, max)
}

#[task_token_guard(op = "p_shape", process_pool = true)]
pub(crate) fn mirror(shape: Shape) -> Shape {
    let flip = |p: Point| Point {
        x: -p.x,
        y: p.y,
        label: p.label,
    };
    match shape {
        Shape::Empty => Shape::Empty,
        Shape::Dot(p) => Shape::Dot(flip(p)),
        Shape::Line { from, to } => Shape::Line {
            from: flip(from),
            to: flip(to),
        },
        Shape::Poly(points) => Shape::Poly(points.into_iter().map(flip).collect()),
    }
}

#[task_token_guard(op = "p_bytes", process_pool = true)]
pub(crate) fn reverse_bytes(mut data: Vec<u8>) -> Vec<u8> {
    data.reverse();
    data
}

#[task_token_guard(op = "p_parse", process_pool = true)]
pub(crate) fn parse(text: String) -> Result<i64, String> {
    text.trim()
        .parse::<i64>()
        .map_err(|err| format!("`{text}`: {err}"))
}

#[task_token_guard(op = "p_count", process_pool = true)]
pub(crate) fn word_count(text: String) -> BTreeMap<String, u32> {
    let mut counts = BTreeMap::new();
    for word in text.split_whitespace() {
        *counts.entry(word.to_owned()).or_insert(0) += 1;
    }
    counts
}

#[task_token_guard(op = "p_pattern", process_pool = true)]
pub(crate) fn add_pair((a, b): (i32, i32), scale: i32) -> i32 {
    (a + b) * scale
}

#[task_token_guard(op = "p_unit", process_pool = true)]
pub(crate) fn touch(path: String) {
    std::fs::write(path, "touched\n").expect("the scratch file is writable");
}

/// Panics with `message` (prefixed to keep the worker's panic hook quiet).
#[task_token_guard(op = "p_panic", process_pool = true)]
pub(crate) fn explode(message: String) -> u32 {
    // This runs in the worker process: its hook is the one to quiet.
    tokengate_tests::quiet_expected_panics();
    panic!("{} {message}", tokengate_tests::EXPECTED_PANIC)
}

/// Ends its worker process: `abort`, or `exit` with the code.
#[task_token_guard(op = "p_die", process_pool = true)]
pub(crate) fn die(abort: bool, code: i32) -> u32 {
    if abort {
        std::process::abort()
    }
    std::process::exit(code)
}

/// Writes its pid to `path`, then spins (pure CPU, never checking for
/// cancellation) until `seconds` pass.
#[task_token_guard(op = "p_spin", process_pool = true)]
pub(crate) fn spin(path: String, seconds: u64) -> u32 {
    std::fs::write(&path, format!("{}\n", std::process::id())).expect("pid file");
    let until = std::time::Instant::now() + Duration::from_secs(seconds);
    let mut x = 0u64;
    while std::time::Instant::now() < until {
        x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    x as u32
}

/// [`spin`] with a timeout.
#[task_token_guard(op = "p_runaway", process_pool = true, timeout = "300ms")]
pub(crate) fn runaway(path: String) -> u32 {
    std::fs::write(&path, format!("{}\n", std::process::id())).expect("pid file");
    loop {
        std::hint::spin_loop();
    }
}

/// Creates `dir/<i>` exclusively (a second run of the same call would fail),
/// and returns `i`.
#[task_token_guard(op = "p_mark", process_pool = true)]
pub(crate) fn mark(dir: String, i: u32) -> u32 {
    claim(&dir, i);
    i
}

/// Creates `dir/<i>`, failing if it exists: a call that ran twice.
fn claim(dir: &str, i: u32) {
    let path = std::path::Path::new(dir).join(i.to_string());
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .unwrap_or_else(|err| panic!("call {i} ran twice? {}: {err}", path.display()));
}

/// Sleeps, then reports when it started and ended (ns since the Unix epoch)
/// and in which process.
#[task_token_guard(
    op = "p_span",
    sticky_anchor = "span_key",
    hash_policy = "standard",
    process_pool = true
)]
pub(crate) fn sticky_span(key: u32, millis: u64) -> (u32, u128, u128, u32) {
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_nanos()
    };
    let start = now();
    std::thread::sleep(Duration::from_millis(millis));
    (key, start, now(), std::process::id())
}

/// A thread-path fn, called from inside a worker process.
#[task_token_guard(op = "t_where")]
pub(crate) fn where_am_i() -> (u32, bool) {
    (std::process::id(), tokengate::process::is_worker_process())
}

/// A process-pool fn that makes guarded calls of both kinds from its worker.
#[task_token_guard(op = "p_nested", process_pool = true)]
pub(crate) fn nested(n: u64) -> (u32, u64, (u32, bool)) {
    let inner = square(n).wait().expect("the inline process call");
    let there = where_am_i().wait().expect("the inline thread call");
    (std::process::id(), inner, there)
}

/// A lead whose child runs from inside its worker process.
#[task_token_guard(op = "p_lead", external_calls = ["t_where"], process_pool = true)]
pub(crate) fn lead() -> (u32, u32) {
    let (child, _) = where_am_i().wait().expect("the child call");
    (std::process::id(), child)
}

/// [`mark`], then sleeps `millis` (a call to kill while it runs).
#[task_token_guard(op = "p_slow_mark", process_pool = true)]
pub(crate) fn slow_mark(dir: String, i: u32, millis: u64) -> u32 {
    claim(&dir, i);
    std::thread::sleep(Duration::from_millis(millis));
    i
}

/// Sleeps `millis` in a worker process, as a heavy call.
#[task_token_guard(op = "p_heavy_nap", weight = "heavy", process_pool = true)]
pub(crate) fn heavy_nap(millis: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(millis));
    millis
}

/// A medium thread call.
#[task_token_guard(op = "t_double")]
pub(crate) fn double(n: u64) -> u64 {
    n * 2
}

/// Allocates and fills `bytes` in a worker process held to 64 MiB; its pid,
/// and the pages it touched.
#[task_token_guard(op = "p_allocate_limited", process_pool = true, memory_limit = "64MiB")]
pub(crate) fn allocate_limited(bytes: usize) -> (u32, usize) {
    (std::process::id(), fill(bytes))
}

/// [`allocate_limited`] without a limit.
#[task_token_guard(op = "p_allocate", process_pool = true)]
pub(crate) fn allocate(bytes: usize) -> (u32, usize) {
    (std::process::id(), fill(bytes))
}

/// Allocates `bytes`, writes every page, and counts the pages.
fn fill(bytes: usize) -> usize {
    let block = std::hint::black_box(vec![1u8; bytes]);
    block.iter().step_by(4096).map(|&b| usize::from(b)).sum()
}

/// Aborts its worker process on the first attempt (leaving `marker` behind),
/// returns its pid on a later one.
#[task_token_guard(
    op = "p_dies_once",
    process_pool = true,
    retries = 2,
    retry_backoff = "1ms"
)]
pub(crate) fn dies_once(marker: String) -> u32 {
    if std::fs::metadata(&marker).is_err() {
        std::fs::write(&marker, b"died").expect("the marker");
        std::process::abort();
    }
    std::process::id()
}

/// Always aborts its worker process.
#[task_token_guard(
    op = "p_always_dies",
    process_pool = true,
    retries = 2,
    retry_backoff = "1ms"
)]
pub(crate) fn always_dies() -> u32 {
    std::process::abort()
}
