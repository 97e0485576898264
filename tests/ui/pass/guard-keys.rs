//! The guard keys: retries, their backoff and causes, `queue_timeout`, and
//! `memory_limit` on a process-pool fn, together and with the other keys. The
//! expansion adds no warnings of its own.
#![deny(warnings)]

use tokengate::{TaskToken, task_token_guard};

#[task_token_guard(retries = 3)]
fn flaky(n: u64) -> u64 {
    n
}

// Every guard key a thread call takes, causes in any case, `err` on a
// `Result`.
#[task_token_guard(
    op = "fetch",
    weight = "light",
    timeout = "2s",
    queue_timeout = "100ms",
    retries = 3,
    retry_backoff = "10ms",
    retry_on = ["panic", "Timeout", "err"]
)]
fn fetch(url: String) -> Result<usize, String> {
    Ok(url.len())
}

// `err` on a `Result` alias, in a sticky fn, whose key comes first.
#[task_token_guard(
    sticky_anchor = "account",
    hash_policy = "fast",
    retries = 1,
    retry_on = ["err"]
)]
fn settle(#[key] account: u64, amount: i64) -> std::io::Result<i64> {
    Ok(amount + account as i64)
}

// `memory_limit` and every guard key on a process-pool fn, `err` included.
#[task_token_guard(
    op = "render",
    weight = "heavy",
    process_pool = true,
    memory_limit = "256MiB",
    queue_timeout = "1s",
    retries = 2,
    retry_backoff = "50ms",
    retry_on = ["worker_lost", "err"]
)]
fn render(pages: u32) -> Result<Vec<u8>, String> {
    Ok(vec![0; pages as usize])
}

// Decimal units too.
#[task_token_guard(process_pool = true, memory_limit = "500MB")]
fn small(n: u8) -> u8 {
    n
}

// `err` with a generic `Result`.
#[task_token_guard(retries = 1, retry_on = ["err"])]
fn parse<T: std::str::FromStr + Send + 'static>(text: String) -> Result<T, String> {
    text.parse().map_err(|_| format!("not a number: {text}"))
}

// `err` on a `Result` whose value type cannot be named.
#[task_token_guard(retries = 1, retry_on = ["err"])]
fn opaque(n: u8) -> Result<impl std::fmt::Debug + Send + 'static, String> {
    Ok(n)
}

fn main() {
    // No coordinator is running, so every call fails at once.
    assert!(no_coordinator(flaky(1)));
    let token = fetch("https://example.com".to_owned());
    assert_eq!(token.op(), "fetch");
    assert!(no_coordinator(token));
    assert!(no_coordinator(settle(7, 100)));
    assert!(no_coordinator(render(3)));
    assert!(no_coordinator(small(1)));
    assert!(no_coordinator(parse::<u64>("42".to_owned())));
    assert!(no_coordinator(opaque(1)));
}

/// Whether the call failed at once for want of a coordinator, as every call
/// here does.
fn no_coordinator<T>(token: TaskToken<T>) -> bool {
    token.wait().is_err_and(|error| error.is_no_coordinator())
}
