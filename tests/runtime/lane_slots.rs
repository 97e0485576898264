//! A weight lane's slots and queue: a call that waits in its lane takes exactly
//! one slot while there is room, and waits for (or is refused) room when there
//! is none; killed calls give their slot back at once and their entries never
//! crowd out the live ones, however many pile up while the lane is paused.

use std::sync::Arc;

use tokengate::{
    CoordinatorBuilder, FullLanePolicy, OperationsCoordinator, Task, TaskToken, TokenState, Weight,
};
use tokengate_tests::{
    Gate, Log, SplitMix64, error, eventually, single_worker, value, with_coordinator,
};

/// Occupies the only worker until `gate` opens.
fn block_worker(gate: &Arc<Gate>) -> TaskToken<()> {
    let g = gate.clone();
    let t = Task::new("blocker").spawn(move || assert!(g.wait()));
    eventually("the blocker runs", || t.state() == TokenState::Executing);
    t
}

/// A call that logs `label` when it runs and returns it.
fn logged(log: &Arc<Log<u32>>, label: u32) -> TaskToken<u32> {
    let log = log.clone();
    Task::new("logged").spawn(move || {
        log.push(label);
        label
    })
}

const CAPACITY: usize = 3;

/// One worker whose mailbox holds only the call it runs, and a lane of
/// [`CAPACITY`] slots.
fn small_lane(name: &str, policy: FullLanePolicy) -> CoordinatorBuilder {
    single_worker(name)
        .mailbox_capacity(1)
        .lane_capacity(CAPACITY)
        .full_lane_policy(policy)
}

fn depth(c: &OperationsCoordinator) -> usize {
    c.stats().lane(Weight::Medium).depth
}

/// Fills the lane of `c` (its worker blocked) one call at a time, checking that
/// each call took exactly one slot and did not block its caller.
fn fill(
    c: &OperationsCoordinator,
    log: &Arc<Log<u32>>,
    labels: std::ops::Range<u32>,
) -> Vec<TaskToken<u32>> {
    labels
        .enumerate()
        .map(|(k, label)| {
            let token = logged(log, label);
            assert_eq!(token.state(), TokenState::Waiting);
            assert_eq!(
                depth(c),
                k + 1,
                "call {label} took other than one lane slot"
            );
            token
        })
        .collect()
}

#[test]
fn a_call_takes_one_slot_while_the_lane_has_room_and_waits_in_line_when_it_is_full() {
    with_coordinator(small_lane("slots-wait", FullLanePolicy::Wait), |c| {
        let log = Log::new();
        for round in 0..2u32 {
            let gate = Gate::new();
            let blocker = block_worker(&gate);
            let base = 10 * round;
            let queued = fill(c, &log, base..base + CAPACITY as u32);
            // The lane is full: the next call returns at once and waits in line,
            // holding no slot, until the worker takes the first queued call.
            let next = logged(&log, base + 9);
            assert_eq!(next.state(), TokenState::Waiting);
            assert_eq!(depth(c), CAPACITY, "a call took a slot of a full lane");
            assert_eq!(c.stats().lane(Weight::Medium).in_line, 1);
            gate.open();
            value(blocker);
            let mut expected: Vec<u32> = (base..base + CAPACITY as u32).collect();
            expected.push(base + 9);
            for (token, label) in queued.into_iter().chain([next]).zip(&expected) {
                assert_eq!(value(token), *label);
            }
            // Every slot came back: the next round fills the lane again.
            eventually("the lane is empty", || depth(c) == 0);
            assert_eq!(c.stats().lane(Weight::Medium).in_line, 0);
            let ran = log.items();
            assert_eq!(ran[ran.len() - expected.len()..], expected, "round {round}");
        }
    });
}

#[test]
fn a_call_is_queued_while_the_lane_has_room_and_rejected_when_it_is_full() {
    with_coordinator(small_lane("slots-reject", FullLanePolicy::Reject), |c| {
        let log = Log::new();
        for round in 0..2u32 {
            let gate = Gate::new();
            let blocker = block_worker(&gate);
            let base = 10 * round;
            let queued = fill(c, &log, base..base + CAPACITY as u32);
            let rejected = logged(&log, base + 9);
            assert!(error(rejected).is_rejected());
            assert_eq!(depth(c), CAPACITY);
            gate.open();
            value(blocker);
            for (token, label) in queued.into_iter().zip(base..) {
                assert_eq!(value(token), label);
            }
            eventually("the lane is empty", || depth(c) == 0);
        }
        let ran = log.items();
        assert_eq!(ran, [0, 1, 2, 10, 11, 12], "a rejected call ran");
    });
}

#[test]
fn a_paused_lane_under_a_kill_storm_runs_exactly_its_survivors_in_call_order() {
    with_coordinator(single_worker("slots-kill-storm"), |c| {
        let log = Log::new();
        let mut rng = SplitMix64::new(0x51075);
        c.pause_admission();
        // 2,000 calls wait in the paused lane; one in ten survives. The others are
        // killed at random moments while calls keep coming, so killed entries pile
        // up in the lane, between and around the live ones, far beyond them.
        let mut survivors: Vec<(u32, TaskToken<u32>)> = Vec::new();
        let mut doomed: Vec<TaskToken<u32>> = Vec::new();
        let mut killed = 0;
        for label in 0..2_000u32 {
            let token = logged(&log, label);
            assert_eq!(token.state(), TokenState::Waiting);
            if label % 10 == 3 {
                survivors.push((label, token));
            } else {
                doomed.push(token);
            }
            while !doomed.is_empty() && rng.chance(60) {
                let victim = doomed.swap_remove(rng.below(doomed.len() as u64) as usize);
                assert!(victim.kill());
                assert!(error(victim).is_killed());
                killed += 1;
            }
        }
        for victim in doomed {
            assert!(victim.kill());
            killed += 1;
        }
        assert_eq!(killed, 1_800);
        assert_eq!(depth(c), survivors.len(), "killed calls hold no slot");
        assert!(log.is_empty(), "a call ran while admission was paused");
        c.resume_admission();
        let order: Vec<u32> = survivors.iter().map(|(label, _)| *label).collect();
        for (label, token) in survivors {
            assert_eq!(value(token), label);
        }
        assert_eq!(
            log.items(),
            order,
            "the survivors ran out of call order, or others ran"
        );
        let s = c.stats();
        assert_eq!((s.tokens.completed, s.tokens.killed), (200, 1_800));
        assert_eq!(s.lane(Weight::Medium).depth, 0);
    });
}
