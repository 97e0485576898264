//! The original's "hash conductor" demo, ported: leads and their children.
//!
//! A *lead* is a guarded fn tagged `external_calls = ["conductor_child"]`: the
//! guarded calls of `conductor_child` it makes while it runs are its children.
//! They run in the lead's worker group, and the lead's domain lives until the
//! lead and every child have finished.
//!
//! 3 leads × 4 children (`CHILDREN_PER_LEAD = 4`, each child sleeping
//! `CHILD_SLEEP = 150 ms`, the original's `CHILD_SLEEP_SECS = 0.15`), in two
//! variants:
//!
//! * A, as the original: each lead makes its children and returns their tokens
//!   at once; the caller waits on them afterwards, so the children outlive
//!   their lead. Each lead also makes one call of an op it does not list
//!   (`conductor_audit`), which is routed freely and counted in
//!   `Stats::lead_unlisted_calls`.
//! * B: each lead waits on its children itself and returns their results
//!   (a worker that waits on a queued call runs it itself, so this cannot
//!   deadlock). Its leads use `digest_policy = "short"`.
//!
//! Every call records `tokengate::current_worker()` and
//! `tokengate::current_token_id()`. The demo checks that each lead's children
//! ran in the lead's worker group, that `Stats::lead_domains` is 3 while the
//! children run (in A, after the leads have returned) and 0 at the end, and it
//! prints the lead seeds' format per `digest_policy`. As a control, the same
//! child op called outside any lead is routed freely (printed, not asserted).
//!
//! The original's version passed partly by luck: each finished call released
//! its conductor domain twice, so domains were released about halfway through
//! the children, and a grace cache hid it (reference §3.7).

use std::collections::BTreeSet;
use std::thread;
use std::time::{Duration, Instant};

use tokengate::fingerprint::DigestPolicy;
use tokengate::{OperationsCoordinator, TaskToken, TokenId, WorkerInfo, task_token_guard};

const N_LEADS: u64 = 3;
const CHILDREN_PER_LEAD: u64 = 4;
/// How long each child sleeps (the original: 0.15 s).
const CHILD_SLEEP: Duration = Duration::from_millis(150);
/// The ops the leads list, as the attribute has them.
const EXTERNAL_CALLS: [&str; 1] = ["conductor_child"];

/// A call, as it ran.
#[derive(Clone, Copy, Debug)]
struct Ran {
    id: TokenId,
    worker: WorkerInfo,
}

fn here() -> Ran {
    Ran {
        id: tokengate::current_token_id().expect("runs in a guarded call"),
        worker: tokengate::current_worker().expect("runs on a worker"),
    }
}

/// A child's result: n², and where it ran.
#[derive(Clone, Copy, Debug)]
struct Child {
    n: u64,
    square: u64,
    ran: Ran,
}

#[task_token_guard(op = "conductor_child", weight = "medium")]
fn conductor_child_op(n: u64) -> Child {
    thread::sleep(CHILD_SLEEP);
    Child {
        n,
        square: n * n,
        ran: here(),
    }
}

/// An op the leads do not list: routed freely, counted as unlisted.
#[task_token_guard(op = "conductor_audit", weight = "light")]
fn conductor_audit_op(lead_n: u64) -> u64 {
    lead_n
}

/// Variant A: returns its children's tokens at once.
#[task_token_guard(
    op = "conductor_lead",
    weight = "medium",
    external_calls = ["conductor_child"]
)]
fn conductor_lead_op(lead_n: u64) -> (Ran, Vec<TaskToken<Child>>, TaskToken<u64>) {
    let children = (0..CHILDREN_PER_LEAD)
        .map(|i| conductor_child_op(lead_n * 100 + i))
        .collect();
    (here(), children, conductor_audit_op(lead_n))
}

/// Variant B: waits on its children and returns their results.
#[task_token_guard(
    op = "conductor_lead_wait",
    weight = "medium",
    external_calls = ["conductor_child"],
    digest_policy = "short"
)]
fn conductor_lead_wait_op(lead_n: u64) -> (Ran, Vec<Child>) {
    let children: Vec<TaskToken<Child>> = (0..CHILDREN_PER_LEAD)
        .map(|i| conductor_child_op(lead_n * 100 + i))
        .collect();
    let results = children
        .into_iter()
        .map(|t| t.wait().expect("child failed"))
        .collect();
    (here(), results)
}

/// Polls until no lead domain is live (a domain is released as its last
/// member finishes, which may be a moment after its token resolved).
fn lead_domains_drained(coordinator: &OperationsCoordinator) -> usize {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let live = coordinator.stats().lead_domains;
        if live == 0 || Instant::now() >= deadline {
            return live;
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Checks one lead's children against it and prints the line.
fn check_lead(lead_n: u64, lead: Ran, lead_token_id: TokenId, children: &[Child]) {
    assert_eq!(
        lead.id, lead_token_id,
        "current_token_id() is the token's id"
    );
    assert_eq!(children.len() as u64, CHILDREN_PER_LEAD);
    for (i, child) in children.iter().enumerate() {
        assert_eq!(child.n, lead_n * 100 + i as u64);
        assert_eq!(child.square, child.n * child.n);
        assert_eq!(
            child.ran.worker.group, lead.worker.group,
            "lead {lead_n}: child {} ran in group {}, the lead in group {}",
            child.n, child.ran.worker.group, lead.worker.group
        );
    }
    let workers: BTreeSet<usize> = children.iter().map(|c| c.ran.worker.index).collect();
    println!(
        "  ok  lead {lead_n} (token {lead_token_id}) on worker {} in group {}: its {} children ran \
         in group {} (workers {workers:?})",
        lead.worker.index,
        lead.worker.group,
        children.len(),
        lead.worker.group
    );
}

/// The seed a lead with token id `id` gets under each digest policy: the digest
/// of `"{id}:{calls:?}"` (the coordinator's formula; seeds are internal, so this
/// shows their format rather than reading them back).
fn print_seeds(ids: &[TokenId], used: DigestPolicy) {
    println!(
        "  lead seeds = digest(\"<lead token id>:{EXTERNAL_CALLS:?}\"); this variant uses `{used}`:"
    );
    for &id in ids {
        let material = format!("{id}:{EXTERNAL_CALLS:?}");
        println!("    {material}");
        for policy in DigestPolicy::ALL {
            let mark = if policy == used { "*" } else { " " };
            println!(
                "     {mark} {:<8} {}",
                policy.as_str(),
                policy.hex(material.as_bytes())
            );
        }
    }
    for policy in DigestPolicy::ALL {
        let seeds: BTreeSet<String> = ids
            .iter()
            .map(|id| policy.hex(format!("{id}:{EXTERNAL_CALLS:?}").as_bytes()))
            .collect();
        assert_eq!(seeds.len(), ids.len(), "{policy}: lead seeds collide");
    }
}

fn main() {
    let coordinator = OperationsCoordinator::start();
    println!(
        "hash conductor: {N_LEADS} leads x {CHILDREN_PER_LEAD} children, each child sleeping \
         {CHILD_SLEEP:?} (the original's 0.15 s); {} workers in {} core groups\n",
        coordinator.worker_count(),
        coordinator.core_groups()
    );

    // ----- A: leads return their children's tokens -----------------------------
    println!(
        "variant A: each lead returns its children's tokens (digest_policy full, the default)"
    );
    let started = Instant::now();
    let leads: Vec<(u64, TaskToken<_>)> =
        (1..=N_LEADS).map(|n| (n, conductor_lead_op(n))).collect();
    let lead_ids: Vec<TokenId> = leads.iter().map(|(_, t)| t.id()).collect();
    let mut returned = Vec::new();
    for (lead_n, token) in leads {
        let id = token.id();
        let (ran, children, audit) = token.wait().expect("lead failed");
        assert_eq!(audit.wait().expect("audit failed"), lead_n);
        returned.push((lead_n, id, ran, children));
    }
    // Every lead has returned; its children still run, so its domain lives.
    let live_after_leads = coordinator.stats().lead_domains;
    println!(
        "  leads returned after {:.2?}; live lead domains now (children still running): {live_after_leads}",
        started.elapsed()
    );
    assert_eq!(
        live_after_leads, N_LEADS as usize,
        "domains outlive their leads"
    );
    for (lead_n, id, ran, children) in returned {
        let children: Vec<Child> = children
            .into_iter()
            .map(|t| t.wait().expect("child failed"))
            .collect();
        check_lead(lead_n, ran, id, &children);
    }
    let live = lead_domains_drained(&coordinator);
    assert_eq!(live, 0, "every lead domain released");
    let stats = coordinator.stats();
    assert_eq!(stats.lead_unlisted_calls, N_LEADS);
    println!(
        "  ok  all done after {:.2?}; live lead domains: {live}; unlisted calls made inside leads \
         (conductor_audit, routed freely): {}",
        started.elapsed(),
        stats.lead_unlisted_calls
    );
    print_seeds(&lead_ids, DigestPolicy::Full);

    // ----- B: leads wait on their children -------------------------------------
    println!("\nvariant B: each lead waits on its children (digest_policy = \"short\")");
    let started = Instant::now();
    let leads: Vec<(u64, TaskToken<_>)> = (1..=N_LEADS)
        .map(|n| (n, conductor_lead_wait_op(n)))
        .collect();
    let lead_ids: Vec<TokenId> = leads.iter().map(|(_, t)| t.id()).collect();
    thread::sleep(CHILD_SLEEP / 2);
    let live_during = coordinator.stats().lead_domains;
    println!("  live lead domains while the children run: {live_during}");
    assert_eq!(live_during, N_LEADS as usize);
    for (lead_n, token) in leads {
        let id = token.id();
        let (ran, children) = token.wait().expect("lead failed");
        check_lead(lead_n, ran, id, &children);
    }
    let live = lead_domains_drained(&coordinator);
    assert_eq!(live, 0, "every lead domain released");
    println!(
        "  ok  all done after {:.2?}; live lead domains: {live}",
        started.elapsed()
    );
    print_seeds(&lead_ids, DigestPolicy::Short);

    // ----- control: the same children, outside any lead ------------------------
    let free: Vec<TaskToken<Child>> = (0..N_LEADS * CHILDREN_PER_LEAD)
        .map(conductor_child_op)
        .collect();
    let groups: BTreeSet<usize> = free
        .into_iter()
        .map(|t| t.wait().expect("child failed").ran.worker.group)
        .collect();
    println!(
        "\ncontrol: {} conductor_child calls made outside any lead ran in groups {groups:?} \
         (free routing: medium calls go to their home group, and roaming workers of other groups \
         may take them)",
        N_LEADS * CHILDREN_PER_LEAD
    );

    let stats = coordinator.stats();
    assert_eq!(stats.lead_domains, 0);
    assert_eq!(
        stats.tokens.failed + stats.tokens.killed + stats.tokens.timed_out,
        0
    );
    coordinator.stop();
}
