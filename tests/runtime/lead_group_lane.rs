//! A lead's children wait in its group's lane, and queuing one there wakes an
//! idle worker of that group: a lead that polls its children (and so never runs
//! them itself) sees each one started by its group's other worker as soon as it
//! is queued, not when that worker next re-checks the lanes on its own.

use std::time::{Duration, Instant};

use tokengate::{TaskToken, current_worker, task_token_guard};
use tokengate_tests::{PATIENCE, builder, value, with_coordinator};

#[task_token_guard(op = "group_child")]
fn group_child() -> usize {
    current_worker().expect("a child runs on a worker").index
}

/// How many children the lead makes, one after another.
const CHILDREN: usize = 200;

/// Makes its children one at a time, each once the previous one finished,
/// polling (never waiting, which would run a child inline). Returns where it
/// ran and where each child ran; stops early if [`PATIENCE`] runs out.
#[task_token_guard(op = "polling_group_lead", weight = "heavy", external_calls = ["group_child"])]
fn polling_lead() -> (usize, Vec<usize>) {
    let here = current_worker().expect("a lead runs on a worker").index;
    let deadline = Instant::now() + PATIENCE;
    let mut ran_on = Vec::new();
    for _ in 0..CHILDREN {
        let token: TaskToken<usize> = group_child();
        while !token.is_finished() {
            if Instant::now() > deadline {
                return (here, ran_on);
            }
            std::thread::sleep(Duration::from_micros(100));
        }
        ran_on.push(token.wait().expect("a child completes"));
    }
    (here, ran_on)
}

#[test]
fn each_child_of_a_polling_lead_is_started_by_its_groups_idle_worker() {
    // Two groups of two workers: the heavy lead runs in group 0 (workers 0 and
    // 1); its medium children wait in group 0's lane, which only the group's
    // other worker can serve while the lead polls. (Medium calls are otherwise
    // served by group 1.)
    with_coordinator(
        builder("lead-group-lane")
            .core_groups(2)
            .workers_per_core(2),
        |c| {
            let (lead_at, children_at) = value(polling_lead());
            assert!(lead_at < 2, "the heavy lead ran outside group 0: {lead_at}");
            let other = 1 - lead_at;
            // Each child costs a hand-off between two threads; within PATIENCE, all
            // of them ran, unless a queued child waited for its group's worker to
            // look at the lane on its own.
            assert_eq!(
                children_at.len(),
                CHILDREN,
                "only {} children ran within {PATIENCE:?}",
                children_at.len()
            );
            assert!(
                children_at.iter().all(|&w| w == other),
                "children ran outside their lead's group or on the lead's worker: {children_at:?}"
            );
            let s = c.stats();
            assert_eq!(s.lead_domains, 0);
            assert_eq!(s.tokens.completed, 1 + CHILDREN as u64);
        },
    );
}
