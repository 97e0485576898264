//! `remote` fns: serde arguments and values, pools, `process_pool` and
//! `memory_limit` on the worker host, sticky keys, retries, leads whose
//! children run on the lead's worker host. Without a remote
//! backend they run in the coordinator's own process pool, so this runs here.
//! The expansion adds no warnings of its own.
#![deny(warnings)]

use serde::{Deserialize, Serialize};
use tokengate::{OperationsCoordinator, task_token_guard};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
pub struct Thumbnail {
    pub width: u32,
    pub pixels: Vec<u8>,
}

#[task_token_guard(op = "thumbnail", weight = "heavy", timeout = "5s", remote = true)]
pub fn thumbnail(image: Vec<u8>, width: u32) -> Thumbnail {
    Thumbnail {
        width,
        pixels: image.into_iter().take(width as usize).collect(),
    }
}

// A named pool, isolated in the worker host's process pool under a limit.
#[task_token_guard(remote = "gpu", process_pool = true, memory_limit = "256MiB")]
fn render((w, h): (u32, u32)) -> u64 {
    u64::from(w) * u64::from(h)
}

// Sticky calls keep their order per key; `remote = false` is a thread call.
#[task_token_guard(sticky_anchor = "account", remote = true)]
fn settle(account: u64, cents: i64) -> i64 {
    cents + account as i64
}

#[task_token_guard(remote = false)]
fn here(x: u8) -> u8 {
    x
}

#[task_token_guard(remote = true, retries = 2, retry_on = ["err", "worker_lost"])]
fn parse(text: String) -> Result<u32, String> {
    text.parse().map_err(|_| format!("not a number: {text}"))
}

// A remote lead: its children, a thread fn and a remote fn, run where it
// runs (here, a worker process of the local pool).
#[task_token_guard(op = "scale")]
fn scale(x: u32) -> u32 {
    x * 10
}

#[task_token_guard(remote = true, external_calls = ["scale", "parse"])]
fn scale_all(xs: Vec<u32>) -> u32 {
    let parsed = parse("5".to_owned()).wait().unwrap().unwrap();
    xs.into_iter().map(|x| scale(x).wait().unwrap()).sum::<u32>() + parsed
}

// No arguments, no return type.
#[task_token_guard(remote = true)]
fn ping() {}

fn main() {
    let coordinator = OperationsCoordinator::start();
    let small = thumbnail(vec![1, 2, 3, 4], 2).wait().unwrap();
    assert_eq!(small, Thumbnail { width: 2, pixels: vec![1, 2] });
    assert_eq!(render((3, 4)).wait().unwrap(), 12);
    assert_eq!(settle(1, 2).wait().unwrap(), 3);
    assert_eq!(here(7).wait().unwrap(), 7);
    assert_eq!(parse("12".to_owned()).wait().unwrap(), Ok(12));
    ping().wait().unwrap();
    assert_eq!(scale_all(vec![1, 2]).wait().unwrap(), 35);
    coordinator.stop();
}
