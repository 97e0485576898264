//! A lock per account: `#[key]` makes one sticky domain per account.
//!
//! `settle` reads an account's balance, works a little, and writes the new
//! balance back: a read-modify-write that loses updates if two settlements
//! of one account overlap. `sticky_anchor = "accounts"` with `#[key]` on
//! `account` alone makes every call for an account run in that account's
//! domain (one worker, one call at a time, submission order) whatever the
//! amount, while different accounts run in parallel. No lock in sight.
//!
//! 800 settlements over 8 accounts: the example checks every final balance
//! against the sum of its amounts (no lost update), that no two calls of one
//! account ever overlapped, and that each account's calls ran in the order
//! they were made.
//!
//! Run it with `cargo run --release --example accounts`.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokengate::{OperationsCoordinator, task_token_guard};

const ACCOUNTS: usize = 8;

/// Balances, read and written in two steps, as a database row would be.
static BALANCES: [Mutex<i64>; ACCOUNTS] = [const { Mutex::new(0) }; ACCOUNTS];
/// Set while a settlement of the account runs: seeing it set means overlap.
static BUSY: [AtomicBool; ACCOUNTS] = [const { AtomicBool::new(false) }; ACCOUNTS];
/// The sequence numbers each account's settlements ran in.
static ORDER: [Mutex<Vec<usize>>; ACCOUNTS] = [const { Mutex::new(Vec::new()) }; ACCOUNTS];

/// Settles `amount` on `account`; `seq` is the call's place in the run.
#[task_token_guard(op = "settle", sticky_anchor = "accounts")]
fn settle(#[key] account: usize, amount: i64, seq: usize) -> i64 {
    assert!(
        !BUSY[account].swap(true, Ordering::SeqCst),
        "two settlements of account {account} overlapped"
    );
    ORDER[account].lock().unwrap().push(seq);
    let balance = *BALANCES[account].lock().unwrap();
    // The work between read and write: any overlap would lose an update.
    std::thread::sleep(Duration::from_micros(200));
    let balance = balance + amount;
    *BALANCES[account].lock().unwrap() = balance;
    BUSY[account].store(false, Ordering::SeqCst);
    balance
}

fn main() {
    let coordinator = OperationsCoordinator::start();
    let start = Instant::now();

    let mut expected = [0i64; ACCOUNTS];
    let tokens: Vec<_> = (0..800)
        .map(|seq| {
            let account = seq % ACCOUNTS;
            let amount = (seq as i64 * 37 % 101) - 50;
            expected[account] += amount;
            settle(account, amount, seq)
        })
        .collect();
    for token in tokens {
        token.wait().expect("a settlement succeeds");
    }

    println!(
        "800 settlements over {ACCOUNTS} accounts in {:?}",
        start.elapsed()
    );
    for (account, want) in expected.iter().enumerate() {
        let balance = *BALANCES[account].lock().unwrap();
        let order = ORDER[account].lock().unwrap();
        assert_eq!(balance, *want, "account {account} lost an update");
        assert!(
            order.windows(2).all(|w| w[0] < w[1]),
            "account {account} ran out of order"
        );
        println!(
            "  account {account}: balance {balance:>5}  ({} settlements, in order)",
            order.len()
        );
    }
    let stats = coordinator.stats();
    println!(
        "no overlap, no lost update; {} sticky domains live now",
        stats.sticky_domains
    );
    coordinator.stop();
}
