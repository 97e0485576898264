//! Leads (`external_calls`): calls of the listed ops made inside a lead (or
//! inside its children, however deep) are its children: they run in the lead's
//! worker group, and the lead's domain lives until the lead and every child
//! finished. Calls of other ops are routed freely and counted. Waiting on
//! children never deadlocks, even with one worker.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokengate::{OperationsCoordinator, TaskToken, TokenState, current_worker, task_token_guard};
use tokengate_tests::{
    Gate, PATIENCE, builder, eventually, single_worker, value, with_coordinator,
};

/// Where a call ran: its worker's group and index.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct At {
    group: usize,
    worker: usize,
}

fn here() -> At {
    let w = current_worker().expect("a lead or child runs on a CPU worker");
    At {
        group: w.group,
        worker: w.index,
    }
}

/// Waits until every token finished without claiming any (a worker that waits
/// on a token may run it inline; polling leaves the children to the group's
/// other workers), then takes the results.
fn poll_all<T>(tokens: Vec<TaskToken<T>>) -> Vec<T> {
    let deadline = Instant::now() + PATIENCE;
    while !tokens.iter().all(TaskToken::is_finished) {
        assert!(Instant::now() < deadline, "children never finished");
        std::thread::sleep(Duration::from_millis(1));
    }
    tokens.into_iter().map(|t| t.wait().unwrap()).collect()
}

#[task_token_guard(op = "child")]
fn child(gate: Option<Arc<Gate>>) -> At {
    if let Some(gate) = gate {
        assert!(gate.wait(), "the test never opened the gate");
    }
    here()
}

#[task_token_guard(op = "heavy_child", weight = "heavy")]
fn heavy_child() -> At {
    here()
}

#[task_token_guard(op = "other", weight = "heavy")]
fn other(gate: Option<Arc<Gate>>) -> At {
    if let Some(gate) = gate {
        assert!(gate.wait(), "the test never opened the gate");
    }
    here()
}

/// A lead that leaves its children to the other workers of its group.
#[task_token_guard(op = "polling_lead", weight = "heavy", external_calls = ["child"])]
fn polling_lead(children: usize) -> (At, Vec<At>) {
    let me = here();
    let tokens = (0..children).map(|_| child(None)).collect();
    (me, poll_all(tokens))
}

#[test]
fn children_run_in_their_leads_group_on_its_other_workers() {
    // Three groups of two: the heavy lead runs in group 0, which is not a home
    // group of its medium children.
    with_coordinator(
        builder("lead-group").core_groups(3).workers_per_core(2),
        |c| {
            for _ in 0..5 {
                let (lead, children) = value(polling_lead(6));
                assert_eq!(lead.group, 0, "a heavy call ran off group 0");
                for at in &children {
                    assert_eq!(at.group, lead.group, "a child left its lead's group");
                    assert_ne!(at.worker, lead.worker, "the polling lead ran a child");
                }
            }
            let s = c.stats();
            assert_eq!(s.lead_domains, 0);
            assert_eq!(s.lead_unlisted_calls, 0);
            assert_eq!(s.tokens.completed, 5 * 7);
        },
    );
}

#[task_token_guard(op = "lead_light", weight = "light", external_calls = ["child"])]
fn lead_light(children: usize) -> (At, Vec<At>) {
    let me = here();
    let tokens: Vec<TaskToken<At>> = (0..children).map(|_| child(None)).collect();
    (me, tokens.into_iter().map(|t| t.wait().unwrap()).collect())
}

#[task_token_guard(op = "lead_medium", external_calls = ["child"])]
fn lead_medium(children: usize) -> (At, Vec<At>) {
    let me = here();
    let tokens: Vec<TaskToken<At>> = (0..children).map(|_| child(None)).collect();
    (me, tokens.into_iter().map(|t| t.wait().unwrap()).collect())
}

#[task_token_guard(op = "lead_heavy", weight = "heavy", external_calls = ["child"])]
fn lead_heavy(children: usize) -> (At, Vec<At>) {
    let me = here();
    let tokens: Vec<TaskToken<At>> = (0..children).map(|_| child(None)).collect();
    (me, tokens.into_iter().map(|t| t.wait().unwrap()).collect())
}

#[test]
fn many_leads_at_once_each_keep_their_children_in_their_group() {
    with_coordinator(
        builder("lead-many").core_groups(4).workers_per_core(2),
        |c| {
            let leads: Vec<TaskToken<(At, Vec<At>)>> = (0..30)
                .map(|i| match i % 3 {
                    0 => lead_light(8),
                    1 => lead_medium(8),
                    _ => lead_heavy(8),
                })
                .collect();
            let mut groups = BTreeSet::new();
            for token in leads {
                let (lead, children) = value(token);
                groups.insert(lead.group);
                assert_eq!(children.len(), 8);
                assert!(
                    children.iter().all(|at| at.group == lead.group),
                    "lead in group {} had children in {children:?}",
                    lead.group
                );
            }
            assert!(groups.len() >= 2, "every lead ran in one group: {groups:?}");
            let s = c.stats();
            assert_eq!(s.lead_domains, 0);
            assert_eq!(s.tokens.completed, 30 * 9);
        },
    );
}

// ----- unlisted calls --------------------------------------------------------

/// What `mixed_lead` saw: where it ran, where its listed and unlisted calls
/// ran, and the token of an unlisted call still held.
type Mixed = (At, Vec<At>, Vec<At>, TaskToken<At>);

/// Makes listed children (medium and heavy) and unlisted heavy calls; returns
/// where each ran, and the token of one more unlisted call held on `gate`.
#[task_token_guard(op = "mixed_lead", external_calls = ["child", "heavy_child"])]
fn mixed_lead(gate: Arc<Gate>) -> Mixed {
    let me = here();
    let listed = poll_all(vec![child(None), heavy_child(), heavy_child()]);
    let unlisted = poll_all(vec![other(None), other(None)]);
    // Made last: if it held a worker of this group, the children above could
    // only run on this (polling) one.
    let held = other(Some(gate));
    (me, listed, unlisted, held)
}

#[test]
fn calls_to_unlisted_ops_are_routed_freely_counted_and_left_out_of_the_domain() {
    with_coordinator(
        builder("lead-unlisted").core_groups(3).workers_per_core(2),
        |c| {
            let gate = Gate::new();
            let (lead, listed, unlisted, held) = value(mixed_lead(gate.clone()));
            // A medium lead runs in a medium home group (1 or 2), and so do its
            // children, heavy ones included.
            assert_ne!(lead.group, 0);
            assert!(
                listed.iter().all(|at| at.group == lead.group),
                "listed children ran at {listed:?}, lead in group {}",
                lead.group
            );
            // Unlisted heavy calls go where heavy calls go: group 0.
            assert!(
                unlisted.iter().all(|at| at.group == 0),
                "unlisted calls ran at {unlisted:?}"
            );
            assert_eq!(c.stats().lead_unlisted_calls, 3);
            // The held unlisted call still runs, but the domain is gone: it never
            // counted in it.
            eventually("the held unlisted call runs", || {
                held.state() == TokenState::Executing
            });
            assert_eq!(
                c.stats().lead_domains,
                0,
                "an unlisted call kept the domain alive"
            );
            gate.open();
            assert_eq!(value(held).group, 0);
            // Outside any lead, calls of any op are not counted.
            value(other(None));
            value(child(None));
            assert_eq!(c.stats().lead_unlisted_calls, 3);
        },
    );
}

// ----- the domain's lifetime -----------------------------------------------------

#[task_token_guard(op = "returning_lead", external_calls = ["child"])]
fn returning_lead(gate: Arc<Gate>) -> (At, TaskToken<At>) {
    (here(), child(Some(gate)))
}

/// A child that says when it started, then holds on until `gate` opens.
#[task_token_guard(op = "reporting_child")]
fn reporting_child(started: Arc<AtomicBool>, gate: Arc<Gate>) -> At {
    started.store(true, Ordering::SeqCst);
    assert!(gate.wait(), "the test never opened the gate");
    here()
}

#[task_token_guard(op = "detaching_lead", external_calls = ["reporting_child"])]
fn detaching_lead(started: Arc<AtomicBool>, gate: Arc<Gate>) -> At {
    drop(reporting_child(started, gate));
    here()
}

#[test]
fn the_domain_lives_until_the_lead_and_every_child_finished() {
    with_coordinator(
        builder("lead-lifetime").core_groups(2).workers_per_core(2),
        |c| {
            // The lead returns the token of a child that is still held.
            let gate = Gate::new();
            let (lead, held) = value(returning_lead(gate.clone()));
            assert!(!held.is_finished());
            assert_eq!(
                c.stats().lead_domains,
                1,
                "the domain left before its child"
            );
            gate.open();
            let at = value(held);
            assert_eq!(at.group, lead.group);
            assert_eq!(c.stats().lead_domains, 0, "the domain outlived its members");

            // The lead drops the token of a held child: the child still counts. The
            // lead has finished (a domain without the child would be gone now), and
            // the child runs.
            let gate = Gate::new();
            let started = Arc::new(AtomicBool::new(false));
            value(detaching_lead(started.clone(), gate.clone()));
            eventually("the detached child runs", || started.load(Ordering::SeqCst));
            assert_eq!(
                c.stats().lead_domains,
                1,
                "the domain left before its child"
            );
            gate.open();
            eventually("the detached child finishes and the domain leaves", || {
                c.stats().lead_domains == 0
            });

            // Two leads, two domains.
            let (gate_a, gate_b) = (Gate::new(), Gate::new());
            let a = returning_lead(gate_a.clone());
            let b = returning_lead(gate_b.clone());
            let (_, a_child) = value(a);
            let (_, b_child) = value(b);
            assert_eq!(c.stats().lead_domains, 2);
            gate_a.open();
            value(a_child);
            assert_eq!(c.stats().lead_domains, 1);
            gate_b.open();
            value(b_child);
            assert_eq!(c.stats().lead_domains, 0);
        },
    );
}

#[task_token_guard(op = "middle")]
fn middle(gate: Arc<Gate>) -> (At, TaskToken<At>) {
    // A grandchild of the lead: `child` is listed by the lead.
    (here(), child(Some(gate)))
}

#[task_token_guard(op = "grand_lead", weight = "heavy", external_calls = ["middle", "child"])]
fn grand_lead(gate: Arc<Gate>) -> (At, At, TaskToken<At>) {
    let me = here();
    let (middle_at, grandchild) = middle(gate).wait().unwrap();
    (me, middle_at, grandchild)
}

#[test]
fn grandchildren_join_the_leads_domain_and_group() {
    with_coordinator(
        builder("lead-grandchild")
            .core_groups(3)
            .workers_per_core(2),
        |c| {
            let gate = Gate::new();
            let (lead, middle_at, grandchild) = value(grand_lead(gate.clone()));
            assert_eq!(lead.group, 0, "a heavy lead ran off group 0");
            assert_eq!(middle_at.group, lead.group);
            // Lead and child are done; the grandchild alone keeps the domain.
            assert!(!grandchild.is_finished());
            let s = c.stats();
            assert_eq!(
                s.lead_domains, 1,
                "the grandchild is not in the lead's domain"
            );
            assert_eq!(s.lead_unlisted_calls, 0);
            gate.open();
            let at = value(grandchild);
            assert_eq!(at.group, lead.group, "the grandchild left the lead's group");
            assert_eq!(c.stats().lead_domains, 0);
        },
    );
}

// ----- nested leads ----------------------------------------------------------

#[task_token_guard(op = "leaf")]
fn leaf(gate: Option<Arc<Gate>>) -> At {
    if let Some(gate) = gate {
        assert!(gate.wait(), "the test never opened the gate");
    }
    here()
}

/// Where a lead ran, and where its children ran.
type Family = (At, Vec<At>);

#[task_token_guard(op = "inner_lead", external_calls = ["leaf"])]
fn inner_lead(gate: Option<Arc<Gate>>, leaves: usize) -> Family {
    let me = here();
    // The held leaf last, so that every other call can finish before it
    // blocks a worker (and its waiter another).
    let mut tokens: Vec<TaskToken<At>> = (1..leaves).map(|_| leaf(None)).collect();
    tokens.push(leaf(gate));
    (me, tokens.into_iter().map(|t| t.wait().unwrap()).collect())
}

#[task_token_guard(op = "outer_lead", weight = "heavy", external_calls = ["inner_lead"])]
fn outer_lead(gate: Option<Arc<Gate>>, inners: usize) -> (At, Vec<Family>) {
    let me = here();
    let mut tokens: Vec<TaskToken<Family>> = (1..inners).map(|_| inner_lead(None, 3)).collect();
    tokens.push(inner_lead(gate, 3));
    (me, tokens.into_iter().map(|t| t.wait().unwrap()).collect())
}

#[test]
fn a_child_that_is_a_lead_nests_and_every_domain_is_released() {
    with_coordinator(
        builder("lead-nested").core_groups(3).workers_per_core(2),
        |c| {
            let gate = Gate::new();
            let outer = outer_lead(Some(gate.clone()), 3);
            // The outer lead waits on its inner leads, the last of which waits on a
            // held leaf. (Each inner lead's domain lives from the moment it is made.)
            eventually("only the outer and the held inner domains are live", || {
                c.stats().lead_domains == 2
            });
            std::thread::sleep(Duration::from_millis(20));
            assert_eq!(c.stats().lead_domains, 2);
            assert!(!outer.is_finished());
            gate.open();
            let (lead, inners) = value(outer);
            assert_eq!(lead.group, 0);
            for (inner, leaves) in &inners {
                assert_eq!(
                    inner.group, lead.group,
                    "an inner lead left its lead's group"
                );
                assert!(
                    leaves.iter().all(|at| at.group == inner.group),
                    "leaves {leaves:?} left their inner lead's group {}",
                    inner.group
                );
            }
            let s = c.stats();
            assert_eq!(s.lead_domains, 0, "a nested domain was never released");
            assert_eq!(s.lead_unlisted_calls, 0);
            assert_eq!(s.tokens.completed, 1 + 3 + 9);
        },
    );
}

// ----- no deadlock -------------------------------------------------------------

#[task_token_guard(op = "fan_child")]
fn fan_child(grandchildren: u32) -> u64 {
    let tokens: Vec<TaskToken<u64>> = (0..grandchildren).map(|_| fan_child(0)).collect();
    1 + tokens.into_iter().map(|t| t.wait().unwrap()).sum::<u64>()
}

#[task_token_guard(op = "fan_lead", external_calls = ["fan_child", "fan_sub_lead"])]
fn fan_lead(children: u32, grandchildren: u32) -> u64 {
    let mut tokens: Vec<TaskToken<u64>> = (0..children).map(|_| fan_child(grandchildren)).collect();
    tokens.push(fan_sub_lead(children, grandchildren));
    1 + tokens.into_iter().map(|t| t.wait().unwrap()).sum::<u64>()
}

/// A child of `fan_lead` that leads its own children.
#[task_token_guard(op = "fan_sub_lead", external_calls = ["fan_child"])]
fn fan_sub_lead(children: u32, grandchildren: u32) -> u64 {
    let tokens: Vec<TaskToken<u64>> = (0..children).map(|_| fan_child(grandchildren)).collect();
    1 + tokens.into_iter().map(|t| t.wait().unwrap()).sum::<u64>()
}

fn fan_out_completes(c: &OperationsCoordinator) {
    // Four leads at once, each with 6 children of 3 grandchildren, and a
    // sub-lead with as many: 1 + 2 * 6 * 4 calls per lead, +1 for the sub-lead.
    let per_lead = 1 + 1 + 2 * 6 * 4;
    let leads: Vec<TaskToken<u64>> = (0..4).map(|_| fan_lead(6, 3)).collect();
    for token in leads {
        assert_eq!(value(token), per_lead);
    }
    let s = c.stats();
    assert_eq!(s.tokens.completed, 4 * per_lead);
    assert_eq!(s.lead_domains, 0);
    assert_eq!(s.lead_unlisted_calls, 0);
}

#[test]
fn leads_waiting_on_children_never_deadlock_on_one_worker() {
    with_coordinator(single_worker("lead-one-worker"), fan_out_completes);
}

#[test]
fn leads_waiting_on_children_never_deadlock_with_one_worker_per_group() {
    with_coordinator(
        builder("lead-two-groups")
            .core_groups(2)
            .workers_per_core(1),
        fan_out_completes,
    );
}

#[test]
fn leads_waiting_on_children_never_deadlock_with_tight_lanes_and_mailboxes() {
    with_coordinator(
        single_worker("lead-tight")
            .lane_capacity(2)
            .mailbox_capacity(1),
        fan_out_completes,
    );
}

#[task_token_guard(op = "gated_lead", external_calls = ["fan_child"])]
fn gated_lead(gate: Arc<Gate>, children: u32) -> u64 {
    let tokens: Vec<TaskToken<u64>> = (0..children).map(|_| fan_child(0)).collect();
    assert!(gate.wait(), "the test never opened the gate");
    tokens.into_iter().map(|t| t.wait().unwrap()).sum()
}

#[test]
fn a_paused_admission_delays_but_does_not_wedge_a_waiting_lead() {
    with_coordinator(single_worker("lead-pause"), |c| {
        let gate = Gate::new();
        // The lead makes its children, then holds the only worker until the gate
        // opens: its children wait in its group's lane.
        let lead = gated_lead(gate.clone(), 5);
        eventually("the children are made", || c.stats().tokens.submitted == 6);
        // Paused, the lead cannot run its waiting children inline, and must wait.
        c.pause_admission();
        gate.open();
        std::thread::sleep(Duration::from_millis(30));
        assert!(
            !lead.is_finished(),
            "children ran while admission was paused"
        );
        assert_eq!(c.stats().tokens.completed, 0);
        c.resume_admission();
        assert_eq!(value(lead), 5);
        let s = c.stats();
        assert_eq!((s.tokens.completed, s.lead_domains), (6, 0));
    });
}
