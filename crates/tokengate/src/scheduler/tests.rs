//! The scheduler on its own: placement, lanes and the idle search, with calls
//! owned by a stub (`testing.rs`) and no coordinator.

use std::sync::atomic::Ordering;

use super::testing::{scheduler, waiting};
use super::worker::Msg;
use super::{Path, Placement};
use crate::{TokenState, Weight};

/// The call a worker's mailbox holds, if any.
fn mailbox(sched: &super::Scheduler, worker: usize) -> Option<u64> {
    match sched.workers[worker].rx.try_recv() {
        Ok(Msg::Run(job)) => Some(job.header().id),
        _ => None,
    }
}

#[test]
fn placement_prefers_an_idle_home_worker_then_fills_the_least_loaded() {
    // Two groups of two: heavy's home is group 0 (workers 0 and 1).
    let sched = scheduler(2, 2, 2, 8);
    let first = waiting(Weight::Heavy, 1);
    assert!(matches!(sched.place(&first), Placement::Placed));
    assert_eq!(first.header().state(), TokenState::Admitted);
    let busy = (0..4).find(|&w| sched.workers[w].load.load(Ordering::SeqCst) == 1);
    assert!(
        matches!(busy, Some(0 | 1)),
        "a home worker took it: {busy:?}"
    );
    // Idle workers go first, home or roaming, before any mailbox queues two.
    let placed: Vec<_> = (0..3)
        .map(|i| sched.place(&waiting(Weight::Heavy, i)))
        .collect();
    assert!(placed.iter().all(|p| matches!(p, Placement::Placed)));
    let loads: Vec<usize> = sched
        .workers
        .iter()
        .map(|w| w.load.load(Ordering::SeqCst))
        .collect();
    assert_eq!(loads.iter().sum::<usize>(), 4);
}

#[test]
fn placement_prefers_a_spinning_idle_worker() {
    // One group of three workers, all idle; the third polls for work.
    let sched = scheduler(1, 3, 2, 8);
    sched.workers[2].spinning.store(true, Ordering::SeqCst);
    sched.spinners.store(1, Ordering::SeqCst);
    let job = waiting(Weight::Medium, 1);
    assert!(matches!(sched.place(&job), Placement::Placed));
    assert_eq!(mailbox(&sched, 2), Some(job.header().id));
    // Once it is busy, any idle worker is next.
    let next = waiting(Weight::Medium, 2);
    assert!(matches!(sched.place(&next), Placement::Placed));
    let taken = [0, 1].map(|w| mailbox(&sched, w));
    assert!(taken.contains(&Some(next.header().id)), "{taken:?}");
}

#[test]
fn a_call_that_finds_no_room_is_not_admitted() {
    // One worker, a mailbox of one: the second call has no room.
    let sched = scheduler(1, 1, 1, 8);
    assert!(matches!(
        sched.place(&waiting(Weight::Medium, 1)),
        Placement::Placed
    ));
    let second = waiting(Weight::Medium, 2);
    assert!(matches!(sched.place(&second), Placement::NoRoom));
    assert_eq!(second.header().state(), TokenState::Waiting);
}

#[test]
fn a_killed_call_is_gone_not_placed() {
    let sched = scheduler(1, 1, 4, 8);
    let job = waiting(Weight::Light, 1);
    assert!(job.transition(TokenState::Waiting, TokenState::Killed));
    assert!(matches!(sched.place(&job), Placement::Gone));
    assert_eq!(
        sched.workers[0].load.load(Ordering::SeqCst),
        0,
        "its load is given back"
    );
}

#[test]
fn an_idle_worker_pulls_its_lane_in_order_and_skips_stale_entries() {
    let sched = scheduler(1, 1, 4, 8);
    let lane = sched.lane(Weight::Medium);
    let jobs: Vec<_> = (0..3).map(|i| waiting(Weight::Medium, i)).collect();
    for job in &jobs {
        assert!(lane.try_reserve() && job.header().arm_lane_slot());
        lane.push(job.clone());
    }
    assert!(jobs[0].transition(TokenState::Waiting, TokenState::Killed));
    let me = &sched.workers[0];
    let next = sched.find_work(me).expect("a queued call");
    assert_eq!(
        next.header().id,
        jobs[1].header().id,
        "the killed one is skipped"
    );
    assert_eq!(next.header().state(), TokenState::Admitted);
    assert_eq!(
        me.load.load(Ordering::SeqCst),
        1,
        "counted in the worker's load"
    );
    assert_eq!(
        sched.find_work(me).unwrap().header().id,
        jobs[2].header().id
    );
    assert!(sched.find_work(me).is_none());
}

#[test]
fn stale_entries_of_a_lane_nobody_pops_stay_bounded() {
    // Paused, in effect: calls are pushed and killed, nothing pops. Nine in
    // ten are killed as they wait; the lane keeps at most twice its live
    // calls (or a small floor) however many were pushed.
    let sched = scheduler(1, 1, 4, 4096);
    let lane = sched.lane(Weight::Medium);
    let mut most = 0;
    for i in 0..2_000u64 {
        let job = waiting(Weight::Medium, i);
        assert!(lane.try_reserve() && job.header().arm_lane_slot());
        lane.push(job.clone());
        if i % 10 != 3 {
            assert!(job.transition(TokenState::Waiting, TokenState::Killed));
            // The coordinator gives a killed call's slot back; the stub owner
            // does not, so the test does.
            lane.release();
        }
        // Compaction runs on a push, before that call is killed.
        let bound = 64.max(2 * lane.taken() + 2);
        assert!(
            lane.queued() <= bound,
            "{} entries for {} live calls after {} pushes",
            lane.queued(),
            lane.taken(),
            i + 1
        );
        most = most.max(lane.queued());
    }
    assert_eq!(lane.taken(), 200);
    assert!(most < 500, "at most {most} entries were kept");
}

#[test]
fn a_paused_scheduler_leaves_calls_in_their_lane() {
    let sched = scheduler(1, 1, 4, 8);
    let lane = sched.lane(Weight::Heavy);
    let job = waiting(Weight::Heavy, 1);
    assert!(lane.try_reserve() && job.header().arm_lane_slot());
    lane.push(job.clone());
    sched.set_paused(true);
    assert!(sched.find_work(&sched.workers[0]).is_none());
    assert_eq!(job.header().state(), TokenState::Waiting);
    sched.set_paused(false);
    assert!(sched.find_work(&sched.workers[0]).is_some());
}

#[test]
fn an_idle_worker_steals_a_queued_call_from_a_busy_neighbour() {
    // One group of two workers, mailboxes of two.
    let sched = scheduler(1, 2, 2, 8);
    // Worker 0 runs a call and has one queued behind it.
    let busy = &sched.workers[0];
    busy.load.store(2, Ordering::SeqCst);
    let queued = waiting(Weight::Medium, 1);
    assert!(queued.transition(TokenState::Waiting, TokenState::Admitted));
    assert!(busy.tx.try_send(Msg::Run(queued.clone())).is_ok());
    let thief = &sched.workers[1];
    let stolen = sched.find_work(thief).expect("the neighbour's queued call");
    assert_eq!(stolen.header().id, queued.header().id);
    assert_eq!(busy.load.load(Ordering::SeqCst), 1);
    assert_eq!(thief.load.load(Ordering::SeqCst), 1);
    assert_eq!(mailbox(&sched, 0), None);
}

#[test]
fn a_lane_push_nudges_an_idle_eligible_worker() {
    let sched = scheduler(1, 1, 4, 8);
    sched.nudge_idle(Weight::Light);
    assert!(sched.workers[0].nudged.load(Ordering::SeqCst));
    assert!(matches!(sched.workers[0].rx.try_recv(), Ok(Msg::Nudge)));
}

#[test]
fn slot_lanes_follow_the_path() {
    let sched = scheduler(2, 1, 4, 8);
    let lane = |path| sched.slot_lane(path, Weight::Light) as *const _;
    assert_eq!(lane(Path::Lane), sched.lane(Weight::Light) as *const _);
    assert_eq!(lane(Path::Group(1)), &sched.group_lanes[1] as *const _);
    assert_eq!(lane(Path::Remote), &sched.remote_lane as *const _);
    let tier = crate::StorageSpeed::Fast;
    assert_eq!(
        lane(Path::Storage(tier)),
        &sched.tiers[tier.index()].lane as *const _
    );
}
