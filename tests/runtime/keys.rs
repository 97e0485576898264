//! Keys made of chosen arguments: `#[key]` marks the arguments a sticky key is
//! made of, so one domain serialises every call of an account whatever its
//! other arguments; and a lead under a `hash_policy` is seeded from its
//! arguments' key, so leads with equal key arguments share one domain, while a
//! lead under `none` (the default) is a domain of its own.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokengate::{TaskToken, current_worker, task_token_guard};
use tokengate_tests::{Gate, PATIENCE, builder, eventually, value};

// ----- one lock per account ----------------------------------------------------

const ACCOUNTS: usize = 8;
const CALLS: usize = 800;

/// What the bodies of the account test share. It is an argument of every call,
/// unmarked, so it needs neither `Hash` nor serde.
struct Ledger {
    /// Every body waits here first: the test opens it once every call was
    /// made, so that every account's domain lives from its first call to its
    /// last.
    start: Arc<Gate>,
    /// Per account: a body of the account is running now.
    busy: Vec<AtomicBool>,
    /// Bodies that found their account busy.
    overlaps: AtomicUsize,
    /// Per account: the sequence numbers of its calls, in the order the
    /// bodies ran.
    ran: Vec<Mutex<Vec<usize>>>,
}

/// One call of the account test: only `account` forms the key (under the
/// default `hash_policy`, standard), so calls with any amount share the
/// account's domain.
#[task_token_guard(op = "keys_settle", sticky_anchor = "accounts")]
fn settle(#[key] account: u64, amount: i64, seq: usize, ledger: Arc<Ledger>) -> i64 {
    let a = account as usize;
    assert!(ledger.start.wait(), "the test never opened the start gate");
    if ledger.busy[a]
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        ledger.overlaps.fetch_add(1, Ordering::SeqCst);
    }
    ledger.ran[a].lock().unwrap().push(seq);
    // Long enough for another body of the account to slip in, if one could.
    std::thread::sleep(Duration::from_micros(100));
    ledger.busy[a].store(false, Ordering::SeqCst);
    amount
}

#[test]
fn calls_of_one_account_never_overlap_and_keep_submission_order_whatever_the_amount() {
    let c = builder("keys-accounts")
        .core_groups(2)
        .workers_per_core(2)
        .start()
        .unwrap();
    let _g = c.enter();
    let ledger = Arc::new(Ledger {
        start: Gate::new(),
        busy: (0..ACCOUNTS).map(|_| AtomicBool::new(false)).collect(),
        overlaps: AtomicUsize::new(0),
        ran: (0..ACCOUNTS).map(|_| Mutex::default()).collect(),
    });
    // Call `i` is the `i / ACCOUNTS`-th of account `i % ACCOUNTS`; no two
    // calls of an account have the same amount.
    let amount = |i: usize| (i * 37 % 1009) as i64 - 500;
    let tokens: Vec<TaskToken<i64>> = (0..CALLS)
        .map(|i| {
            let account = (i % ACCOUNTS) as u64;
            settle(account, amount(i), i / ACCOUNTS, ledger.clone())
        })
        .collect();
    // One domain per account, not one per (account, amount).
    assert_eq!(c.stats().sticky_domains, ACCOUNTS);
    ledger.start.open();
    for (i, token) in tokens.into_iter().enumerate() {
        assert_eq!(value(token), amount(i));
    }

    assert_eq!(
        ledger.overlaps.load(Ordering::SeqCst),
        0,
        "two calls of one account ran at once"
    );
    let per_account: Vec<usize> = (0..CALLS / ACCOUNTS).collect();
    for (account, ran) in ledger.ran.iter().enumerate() {
        assert_eq!(
            *ran.lock().unwrap(),
            per_account,
            "account {account}: calls ran out of submission order"
        );
    }
    let s = c.stats();
    assert_eq!(s.sticky_domains, 0, "pins outlived their calls: {s}");
    assert_eq!(s.tokens.completed, CALLS as u64);
    drop(_g);
    c.stop();
}

// ----- leads keyed on their arguments --------------------------------------------

#[task_token_guard(op = "child")]
fn child_op(n: i64) -> i64 {
    n * 10
}

// The original's lead example, as written there but in Rust.
#[task_token_guard(
    op = "lead",
    weight = "medium",
    hash_policy = "fast",
    digest_policy = "fast",
    external_calls = ["child"]
)]
fn lead_operation(n: i64) -> Vec<TaskToken<i64>> {
    (0..4).map(|i| child_op(n + i)).collect()
}

#[test]
fn the_originals_lead_example_runs() {
    let c = builder("keys-lead-example")
        .core_groups(2)
        .workers_per_core(2)
        .start()
        .unwrap();
    let _g = c.enter();
    let children = value(lead_operation(3));
    let values: Vec<i64> = children.into_iter().map(value).collect();
    assert_eq!(values, [30, 40, 50, 60]);
    let s = c.stats();
    assert_eq!((s.lead_domains, s.lead_unlisted_calls), (0, 0));
    assert_eq!(s.tokens.completed, 5);
    drop(_g);
    c.stop();
}

/// The core group the calling worker belongs to.
fn group() -> usize {
    current_worker()
        .expect("a lead or child runs on a CPU worker")
        .group
}

#[task_token_guard(op = "keys_located_child")]
fn located_child() -> usize {
    group()
}

/// What a test lead does: waits at `gate` (so that it is live while the test
/// looks), makes four children and waits for them without claiming any (a
/// worker that waits on a token may run it inline; polling leaves them to the
/// workers of the group they were routed to). Returns its own group and its
/// children's.
fn lead_body(gate: &Gate) -> (usize, Vec<usize>) {
    assert!(gate.wait(), "the test never opened the gate");
    let me = group();
    let tokens: Vec<TaskToken<usize>> = (0..4).map(|_| located_child()).collect();
    let deadline = Instant::now() + PATIENCE;
    while !tokens.iter().all(TaskToken::is_finished) {
        assert!(Instant::now() < deadline, "children never finished");
        std::thread::sleep(Duration::from_millis(1));
    }
    (me, tokens.into_iter().map(value).collect())
}

// Two leads of different weights (so, in a coordinator of three core groups,
// in different groups) with one call list, keyed under `standard`, which
// leaves the op out of the key: equal `batch`es give equal seeds. `gate` is
// not part of the key.
#[task_token_guard(
    op = "keys_heavy_lead",
    weight = "heavy",
    hash_policy = "standard",
    external_calls = ["keys_located_child"]
)]
fn heavy_keyed_lead(#[key] batch: u32, gate: Arc<Gate>) -> (usize, Vec<usize>) {
    lead_body(&gate)
}

#[task_token_guard(
    op = "keys_light_lead",
    weight = "light",
    hash_policy = "standard",
    external_calls = ["keys_located_child"]
)]
fn light_keyed_lead(#[key] batch: u32, gate: Arc<Gate>) -> (usize, Vec<usize>) {
    lead_body(&gate)
}

// The same pair without a `hash_policy`: each call is seeded from its token id.
#[task_token_guard(
    op = "keys_heavy_unkeyed_lead",
    weight = "heavy",
    external_calls = ["keys_located_child"]
)]
fn heavy_unkeyed_lead(_batch: u32, gate: Arc<Gate>) -> (usize, Vec<usize>) {
    lead_body(&gate)
}

#[task_token_guard(
    op = "keys_light_unkeyed_lead",
    weight = "light",
    hash_policy = "none",
    external_calls = ["keys_located_child"]
)]
fn light_unkeyed_lead(_batch: u32, gate: Arc<Gate>) -> (usize, Vec<usize>) {
    lead_body(&gate)
}

/// A coordinator of three core groups of three workers: heavy calls run in
/// group 0, light ones in group 2, and two polling leads in a group leave a
/// worker of it to children.
fn three_groups(name: &str) -> tokengate::OperationsCoordinator {
    builder(name)
        .core_groups(3)
        .workers_per_core(3)
        .start()
        .unwrap()
}

#[test]
fn keyed_leads_with_equal_key_arguments_share_one_domain() {
    let c = three_groups("keys-lead-shared");
    let _g = c.enter();
    let gate = Gate::new();
    let heavy = heavy_keyed_lead(7, gate.clone());
    let light = light_keyed_lead(7, gate.clone());
    // A lead joins its domain when it is made, and both leads are held.
    assert_eq!(c.stats().lead_domains, 1);
    gate.open();

    let (heavy_group, heavy_children) = value(heavy);
    let (light_group, light_children) = value(light);
    assert_eq!((heavy_group, light_group), (0, 2));
    // One domain, so one group for every child of both leads, whichever lead
    // made the first: one of the leads had its children run outside its
    // own group.
    let shared = heavy_children[0];
    assert!(
        heavy_children
            .iter()
            .chain(&light_children)
            .all(|&g| g == shared),
        "children of one domain ran in groups {heavy_children:?} and {light_children:?}"
    );
    eventually("the domain is released", || c.stats().lead_domains == 0);

    // Another batch is another domain: each lead's children follow it.
    let gate = Gate::new();
    let heavy = heavy_keyed_lead(7, gate.clone());
    let light = light_keyed_lead(8, gate.clone());
    assert_eq!(c.stats().lead_domains, 2);
    gate.open();
    assert_eq!(value(heavy), (0, vec![0; 4]));
    assert_eq!(value(light), (2, vec![2; 4]));
    eventually("every domain is released", || c.stats().lead_domains == 0);
    assert_eq!(c.stats().lead_unlisted_calls, 0);
    drop(_g);
    c.stop();
}

#[test]
fn leads_without_a_hash_policy_are_a_domain_each_whatever_their_arguments() {
    let c = three_groups("keys-lead-apart");
    let _g = c.enter();
    let gate = Gate::new();
    let heavy = heavy_unkeyed_lead(7, gate.clone());
    let light = light_unkeyed_lead(7, gate.clone());
    let again = heavy_unkeyed_lead(7, gate.clone());
    assert_eq!(c.stats().lead_domains, 3);
    gate.open();

    // Each lead's children follow that lead's own group.
    for (expected, token) in [(0, heavy), (2, light), (0, again)] {
        let (lead_group, children) = value(token);
        assert_eq!(lead_group, expected);
        assert_eq!(children, [expected; 4]);
    }
    eventually("every domain is released", || c.stats().lead_domains == 0);
    drop(_g);
    c.stop();
}
