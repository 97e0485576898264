//! Sticky fns with 20 arguments, more than one tuple's `Hash` (12 elements) or
//! serde (16) impls reach: the key groups the arguments into tuples of 12, and
//! calls still form one domain per distinct arguments, whichever argument
//! differs, under either kind of key.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use serde::{Serialize, Serializer};
use tokengate::{TaskToken, TokenState, current_token_id, current_worker, task_token_guard};
use tokengate_tests::{Gate, Log, builder, eventually, value, with_coordinator};

/// The 19 keyed arguments of a call.
type Args = [u32; 19];

/// One step of a call, as logged by its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Start(u64, usize),
    End(u64),
}

/// A call's 20th argument: where its body logs, and a gate to wait at first.
/// It is left out of the key (it serializes as `()` and hashes as nothing), so
/// calls that differ only in it share a domain.
#[derive(Clone, Debug)]
struct Probe {
    log: Arc<Log<Step>>,
    gate: Option<Arc<Gate>>,
}

impl Serialize for Probe {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_unit()
    }
}

impl Hash for Probe {
    fn hash<H: Hasher>(&self, _: &mut H) {}
}

impl Probe {
    fn new(log: &Arc<Log<Step>>) -> Probe {
        Probe {
            log: log.clone(),
            gate: None,
        }
    }

    fn gated(log: &Arc<Log<Step>>, gate: &Arc<Gate>) -> Probe {
        Probe {
            log: log.clone(),
            gate: Some(gate.clone()),
        }
    }

    /// The body of a call: logs its start and end, with the gate between.
    fn run(&self) -> usize {
        let id = current_token_id().expect("inside a guarded call").as_u64();
        let worker = current_worker()
            .expect("a sticky call runs on a CPU worker")
            .index;
        self.log.push(Step::Start(id, worker));
        if let Some(gate) = &self.gate {
            assert!(gate.wait(), "the test never opened the gate");
        }
        // Long enough for another body of the domain to slip in, if one could.
        std::thread::sleep(Duration::from_micros(200));
        self.log.push(Step::End(id));
        worker
    }
}

#[task_token_guard(op = "wide_standard", sticky_anchor = "wide")]
#[allow(clippy::too_many_arguments)]
fn wide_standard(
    a0: u32,
    a1: u32,
    a2: u32,
    a3: u32,
    a4: u32,
    a5: u32,
    a6: u32,
    a7: u32,
    a8: u32,
    a9: u32,
    a10: u32,
    a11: u32,
    a12: u32,
    a13: u32,
    a14: u32,
    a15: u32,
    a16: u32,
    a17: u32,
    a18: u32,
    probe: Probe,
) -> usize {
    probe.run()
}

#[task_token_guard(op = "wide_fast", sticky_anchor = "wide", hash_policy = "fast")]
#[allow(clippy::too_many_arguments)]
fn wide_fast(
    a0: u32,
    a1: u32,
    a2: u32,
    a3: u32,
    a4: u32,
    a5: u32,
    a6: u32,
    a7: u32,
    a8: u32,
    a9: u32,
    a10: u32,
    a11: u32,
    a12: u32,
    a13: u32,
    a14: u32,
    a15: u32,
    a16: u32,
    a17: u32,
    a18: u32,
    probe: Probe,
) -> usize {
    probe.run()
}

fn call_standard(a: Args, probe: Probe) -> TaskToken<usize> {
    wide_standard(
        a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13],
        a[14], a[15], a[16], a[17], a[18], probe,
    )
}

fn call_fast(a: Args, probe: Probe) -> TaskToken<usize> {
    wide_fast(
        a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13],
        a[14], a[15], a[16], a[17], a[18], probe,
    )
}

/// Asserts that the logged steps never interleave (each start is followed by
/// its own end) and returns the ids in the order they started and the workers
/// they ran on.
#[track_caller]
fn serial(log: &Log<Step>) -> (Vec<u64>, BTreeSet<usize>) {
    let items = log.items();
    let mut ids = Vec::new();
    let mut workers = BTreeSet::new();
    for pair in items.chunks(2) {
        match pair {
            [Step::Start(a, w), Step::End(b)] if a == b => {
                ids.push(*a);
                workers.insert(*w);
            }
            _ => panic!("bodies of one domain overlapped: {items:?}"),
        }
    }
    (ids, workers)
}

/// Calls with equal arguments queue behind a held call of theirs and then run
/// one at a time, in call order, on one worker; a call that differs in any
/// one argument, in the first group of 12 or past it, is a domain of its own
/// and runs meanwhile.
fn equal_arguments_share_a_domain(name: &str, call: fn(Args, Probe) -> TaskToken<usize>) {
    with_coordinator(builder(name).core_groups(1).workers_per_core(4), |c| {
        let args: Args = std::array::from_fn(|i| i as u32);
        let log = Log::new();
        let gate = Gate::new();
        let first = call(args, Probe::gated(&log, &gate));
        eventually("the first call runs", || {
            first.state() == TokenState::Executing
        });
        let queued: Vec<TaskToken<usize>> = (0..4).map(|_| call(args, Probe::new(&log))).collect();

        for differing in [0, 11, 12, 18] {
            let mut other = args;
            other[differing] += 100;
            let other_log = Log::new();
            value(call(other, Probe::new(&other_log)));
            assert_eq!(serial(&other_log).0.len(), 1);
        }

        assert_eq!(log.len(), 1, "a call with equal arguments ran alongside");
        assert!(queued.iter().all(|t| t.state() == TokenState::Waiting));
        assert_eq!(c.stats().sticky_domains, 1);
        let expected: Vec<u64> = std::iter::once(&first)
            .chain(&queued)
            .map(|t| t.id().as_u64())
            .collect();
        gate.open();
        let workers: BTreeSet<usize> = std::iter::once(first).chain(queued).map(value).collect();
        let (ids, ran_on) = serial(&log);
        assert_eq!(ids, expected, "bodies ran out of call order");
        assert_eq!(workers.len(), 1, "one domain ran on workers {workers:?}");
        assert_eq!(ran_on, workers);
        assert_eq!(c.stats().sticky_domains, 0);
    });
}

#[test]
fn a_stable_key_of_20_arguments_keeps_one_domain_per_distinct_arguments() {
    equal_arguments_share_a_domain("many-args-standard", call_standard);
}

#[test]
fn a_fast_key_of_20_arguments_keeps_one_domain_per_distinct_arguments() {
    equal_arguments_share_a_domain("many-args-fast", call_fast);
}

/// Seven arguments are within clippy's `too_many_arguments` limit, and the
/// key's helper (one parameter more) must not make the lint fire on the
/// attribute: clippy checks this file with `-D warnings`.
#[task_token_guard(op = "seven_keyed", sticky_anchor = "seven")]
fn seven_keyed(a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8) -> u32 {
    [a, b, c, d, e, f, g].into_iter().map(u32::from).sum()
}

#[test]
fn a_sticky_fn_with_seven_arguments_runs() {
    with_coordinator(builder("seven-keyed"), |_| {
        assert_eq!(value(seven_keyed(1, 2, 3, 4, 5, 6, 7)), 28);
    });
}
