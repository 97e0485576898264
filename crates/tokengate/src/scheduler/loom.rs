//! loom models over the scheduler's real code (run with
//! `RUSTFLAGS="--cfg loom"`, see `.ci/run`): lanes, placement, the idle
//! search and sticky domains use `crate::sync`, which is loom's there.

use std::sync::Arc;
use std::sync::atomic::Ordering::SeqCst;

use ::loom::sync::atomic::AtomicUsize;
use ::loom::thread;

use super::testing::{scheduler, waiting};
use super::{Dispatch, DomainKey, Domains};
use crate::fingerprint::KeyId;
use crate::token::JobRef;
use crate::{TokenState, Weight};

/// A call queued while the only worker goes idle is never stranded (the
/// design note's "Lost wake-ups"): the worker finishes its call (its load
/// drops to 0) and searches the lanes, while a caller that found no room
/// takes a lane slot, pushes the call and nudges an idle worker. Either the
/// worker's search finds the call, or the caller sees the worker idle and
/// nudges it.
#[test]
fn a_lane_push_never_strands_a_call() {
    ::loom::model(|| {
        let sched = scheduler(1, 1, 4, 4);
        sched.workers[0].load.store(1, SeqCst); // it runs one call
        let worker = {
            let sched = sched.clone();
            thread::spawn(move || {
                let me = &sched.workers[0];
                me.load.fetch_sub(1, SeqCst);
                sched.find_work(me).is_some()
            })
        };
        let job = waiting(Weight::Medium, 1);
        let lane = sched.lane(Weight::Medium);
        assert!(lane.try_reserve() && job.header().arm_lane_slot());
        lane.push(job.clone());
        sched.nudge_idle(Weight::Medium);
        let found = worker.join().unwrap();
        assert!(
            found || sched.workers[0].nudged.load(SeqCst),
            "the call was stranded"
        );
        assert_eq!(found, job.header().state() == TokenState::Admitted);
    });
}

/// Records what sticky domains ask of the scheduler.
#[derive(Default)]
struct Recorder {
    pins: AtomicUsize,
    sent: AtomicUsize,
}

impl Dispatch for Recorder {
    fn pin(&self, _: Weight) -> usize {
        self.pins.fetch_add(1, SeqCst);
        0
    }
    fn unpin(&self, _: usize) {
        self.pins.fetch_sub(1, SeqCst);
    }
    fn admission_open(&self, _: &JobRef) -> bool {
        true
    }
    fn send_pinned(&self, _: usize, job: JobRef) {
        assert_eq!(job.header().state(), TokenState::Admitted);
        self.sent.fetch_add(1, SeqCst);
    }
}

const KEY: DomainKey = DomainKey {
    anchor: "turns",
    key: KeyId::Anchor,
};

/// Runs an admitted member to completion and tells its domain.
fn complete(domains: &Domains, sched: &Recorder, job: &JobRef) {
    assert!(job.transition(TokenState::Admitted, TokenState::Executing));
    assert!(job.transition(TokenState::Executing, TokenState::Completed));
    domains.finish(KEY, job.header().id, true, sched);
}

/// A sticky domain's turn hand-off: the active member finishes (which hands
/// the turn to the next) while the next, still queued, is killed. The next
/// member is dispatched exactly when it was not killed first, never both; and
/// once every member has finished, the domain and its pin are gone.
#[test]
fn a_domain_hands_its_turn_on_once_while_the_next_member_is_killed() {
    ::loom::model(|| {
        let domains = Arc::new(Domains::default());
        let sched = Arc::new(Recorder::default());
        let (first, next) = (waiting(Weight::Medium, 1), waiting(Weight::Medium, 2));
        for _member in [&first, &next] {
            domains.join(KEY, Weight::Medium, &*sched);
        }
        domains.enqueue(KEY, first.clone(), &*sched);
        domains.enqueue(KEY, next.clone(), &*sched);
        assert_eq!(sched.sent.load(SeqCst), 1, "the first member's turn");

        let finisher = {
            let (domains, sched, first) = (domains.clone(), sched.clone(), first.clone());
            thread::spawn(move || complete(&domains, &sched, &first))
        };
        let killed = next.transition(TokenState::Waiting, TokenState::Killed);
        if killed {
            domains.finish(KEY, next.header().id, true, &*sched);
        }
        finisher.join().unwrap();

        assert_eq!(sched.sent.load(SeqCst), if killed { 1 } else { 2 });
        if !killed {
            complete(&domains, &sched, &next);
        }
        assert_eq!(domains.len(), 0);
        assert_eq!(sched.pins.load(SeqCst), 0);
    });
}

/// A call that joins a full lane's line while the last slot is given back is
/// never left in line with room free: either the releaser sees the line (and
/// has it moved), or the caller sees the room (and does).
#[test]
fn a_call_joining_the_line_while_a_slot_frees_is_moved_in() {
    ::loom::model(|| {
        let lane = Arc::new(super::Lane::new(Weight::Medium, 1));
        assert!(lane.try_reserve());
        let releaser = {
            let lane = lane.clone();
            thread::spawn(move || lane.release())
        };
        let room_seen = lane.line_push(waiting(Weight::Medium, 1));
        let line_seen = releaser.join().unwrap();
        assert!(
            room_seen || line_seen,
            "the call was left in line with room free"
        );
    });
}
