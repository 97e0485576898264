//! tokengate without async: a plain `fn main`, no executor anywhere.
//!
//! Shows `.wait()` (block until the result), `wait_timeout` (block for at most
//! a while, keep the token if it is not done), `tokengate::map` (one guarded fn
//! over many items, results in input order), `Task::func` for a closure, and
//! the coordinator's stats.

use std::time::{Duration, Instant};

use tokengate::{OperationsCoordinator, Task, Weight, task_token_guard};

#[task_token_guard(op = "word_count", weight = "light")]
fn word_count(text: String) -> usize {
    text.split_whitespace().count()
}

#[task_token_guard(op = "collatz_steps")]
fn collatz_steps(mut n: u64) -> u32 {
    let mut steps = 0;
    while n != 1 {
        n = if n % 2 == 0 { n / 2 } else { 3 * n + 1 };
        steps += 1;
    }
    steps
}

#[task_token_guard(op = "nap", weight = "heavy")]
fn nap(ms: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(ms));
    ms
}

fn main() {
    let coordinator = OperationsCoordinator::start();

    // `.wait()`: call, then block until the result is there.
    let words = word_count("the quick brown fox".to_owned()).wait().unwrap();
    assert_eq!(words, 4);
    println!("wait:         word_count(\"the quick brown fox\") = {words}");

    // `wait_timeout`: give up waiting (not the call) after a while.
    let mut token = nap(150);
    let start = Instant::now();
    assert!(token.wait_timeout(Duration::from_millis(20)).is_none());
    println!(
        "wait_timeout: nap(150) not done after {:.0?}; state {:?}",
        start.elapsed(),
        token.state()
    );
    let slept = token.wait_timeout(Duration::from_secs(5)).unwrap().unwrap();
    assert_eq!(slept, 150);
    println!("wait_timeout: nap(150) done after {:.0?}", start.elapsed());

    // `map`: every call is made first (they run in parallel), results in order.
    let steps: Vec<u32> = tokengate::map(collatz_steps, 1..=10_000)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let (longest, n) = steps.iter().zip(1..).max().unwrap();
    assert_eq!((*longest, n), (261, 6_171));
    println!("map:          longest Collatz chain below 10,001 starts at {n} ({longest} steps)");

    // `Task::func`: the same for a closure, no attribute needed.
    let cube = Task::new("cube")
        .weight(Weight::Light)
        .func(|x: i64| x * x * x);
    let cubes: Vec<i64> = tokengate::map(cube, [-2, 3, 5])
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(cubes, [-8, 27, 125]);
    println!("Task::func:   cubes of [-2, 3, 5] = {cubes:?}");

    let stats = coordinator.stats();
    println!("\n{stats}");
    assert_eq!(stats.tokens.completed, 1 + 1 + 10_000 + 3);
    assert_eq!(stats.op("collatz_steps").unwrap().counts.completed, 10_000);
    coordinator.stop();
}
