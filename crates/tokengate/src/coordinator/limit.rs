//! Named limits: one cap on how many calls run at once (a semaphore), and
//! optionally one rate (how many may start per period), shared by every call
//! that names the limit (`limit = "github_api"` on the attribute, or
//! [`Task::limit`](crate::Task::limit)).
//!
//! A limited call passes its limit's *gate* before it is routed: it takes a
//! *permit* at once if one is free and nobody waits, or waits at the gate in
//! call order, `Waiting` and off the workers (the gate is a queue, not a
//! thread). The coordinator's admission thread lets waiting calls through as
//! permits free up or the rate allows. Past the gate, a call is routed like any
//! other (its lane, tier, sticky domain or lead group).
//!
//! A permit is held from the gate until the body returns, or until the call
//! ends without running (killed, timed out, drained while queued). A call
//! killed while it runs keeps its permit until its body returns, as a storage
//! tier keeps its turn: the thread is still busy with it. The running count is
//! the only source of truth, so changing the cap at run time neither loses nor
//! doubles a permit.
//!
//! Which of those moments releases a permit, and whether a call still counts
//! as waiting at the gate, is decided by one atomic per call ([`GateBits`]):
//! whoever sets a bit checks the call's state afterwards, whoever ends the
//! call clears the bits after its state change, and the bits are cleared with
//! read-modify-write operations, so each is acted on exactly once however the
//! two race.
//!
//! The rate is a token bucket kept as a theoretical arrival time (the generic
//! cell rate algorithm): `calls` per `per`, bursts of up to `calls`, exact in
//! integer nanoseconds, checked under the gate's lock that a limited call takes
//! anyway.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use crate::TokenState;
use crate::stats::{LimitStats, RateStats};
use crate::token::JobRef;

/// A call waits at its limit's gate.
const AT_GATE: u8 = 1;
/// A call holds one of its limit's permits.
const PERMIT: u8 = 2;

/// A limited call's place at its gate; see the module doc.
#[derive(Debug, Default)]
pub(crate) struct GateBits(AtomicU8);

impl GateBits {
    /// Whether the call still has to pass its gate (it holds no permit).
    pub(crate) fn needs_pass(&self) -> bool {
        self.0.load(Ordering::SeqCst) & PERMIT == 0
    }

    /// Takes every bit: what the call held, for its end.
    fn take(&self) -> u8 {
        self.0.swap(0, Ordering::SeqCst)
    }
}

/// A rate: at most `calls` starts per `per`, in bursts of up to `calls`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RateSpec {
    pub(crate) calls: u32,
    pub(crate) per: Duration,
}

/// [`RateSpec`] as a theoretical arrival time.
#[derive(Debug)]
struct Rate {
    spec: RateSpec,
    /// Nanoseconds between starts at the steady rate.
    interval: u64,
    /// How far ahead of now the arrival time may run (the burst).
    tolerance: u64,
    /// When the bucket is empty again if nothing else starts.
    arrival: Instant,
}

impl Rate {
    fn new(spec: RateSpec, now: Instant) -> Rate {
        let per = u64::try_from(spec.per.as_nanos()).unwrap_or(u64::MAX);
        let interval = (per / u64::from(spec.calls.max(1))).max(1);
        Rate {
            spec,
            interval,
            tolerance: interval.saturating_mul(u64::from(spec.calls.saturating_sub(1))),
            arrival: now,
        }
    }

    /// `None` if a call may start at `now`, else the instant it may.
    fn wait_until(&self, now: Instant) -> Option<Instant> {
        let tolerance = Duration::from_nanos(self.tolerance);
        match now.checked_add(tolerance) {
            Some(limit) if self.arrival > limit => Some(self.arrival - tolerance),
            _ => None,
        }
    }

    fn take(&mut self, now: Instant) {
        let from = self.arrival.max(now);
        self.arrival = from
            .checked_add(Duration::from_nanos(self.interval))
            .unwrap_or(from);
    }
}

struct Gate {
    cap: Option<usize>,
    rate: Option<Rate>,
    running: usize,
    high_water: usize,
    started: u64,
    /// Waiting calls in call order; possibly stale (killed while waiting).
    queue: VecDeque<JobRef>,
}

impl Gate {
    /// Whether a call may start now; if only the rate stops it, when it may.
    fn room(&self, now: Instant) -> Result<(), Option<Instant>> {
        if self.cap.is_some_and(|cap| self.running >= cap) {
            return Err(None);
        }
        match self.rate.as_ref().and_then(|rate| rate.wait_until(now)) {
            Some(at) => Err(Some(at)),
            None => Ok(()),
        }
    }

    fn start(&mut self, now: Instant) {
        self.running += 1;
        self.high_water = self.high_water.max(self.running);
        self.started += 1;
        if let Some(rate) = &mut self.rate {
            rate.take(now);
        }
    }
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gate")
            .field("cap", &self.cap)
            .field("rate", &self.rate)
            .field("running", &self.running)
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}

/// One named limit.
#[derive(Debug)]
pub(crate) struct Limit {
    pub(crate) name: Box<str>,
    gate: Mutex<Gate>,
    /// Calls waiting at the gate, counted in under the gate's lock and out by
    /// whoever clears their `AT_GATE` bit.
    waiting: AtomicUsize,
}

/// What [`Limit::enter`] did with a call.
#[derive(Debug)]
pub(crate) enum Entry {
    /// It holds a permit: route it now.
    Granted,
    /// It waits at the gate; if only the rate held it, the gate can move at
    /// the instant given.
    Queued(Option<Instant>),
    /// The gate already holds `bound` calls and the coordinator rejects.
    Full(usize),
}

/// What [`Limit::take_ready`] took from the gate.
#[derive(Default)]
pub(crate) struct Ready {
    /// Calls that now hold a permit, in call order.
    pub(crate) granted: Vec<JobRef>,
    /// Calls of paused ops, taken out without a permit (the op holds them).
    pub(crate) paused: Vec<JobRef>,
    /// When the rate lets the next call through, if only the rate holds it.
    pub(crate) wake_at: Option<Instant>,
}

impl Limit {
    fn new(name: &str, cap: Option<usize>, rate: Option<RateSpec>) -> Limit {
        let now = Instant::now();
        Limit {
            name: name.into(),
            gate: Mutex::new(Gate {
                cap,
                rate: rate.map(|spec| Rate::new(spec, now)),
                running: 0,
                high_water: 0,
                started: 0,
                queue: VecDeque::new(),
            }),
            waiting: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Gate> {
        self.gate.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A fresh limited call, `Waiting`, arrives at the gate: it takes a permit
    /// if one is free and no call waits ahead of it, else it waits (or, with
    /// `bound` set and that many waiting, is turned away).
    pub(crate) fn enter(&self, job: &JobRef, bits: &GateBits, bound: Option<usize>) -> Entry {
        let now = Instant::now();
        let mut gate = self.lock();
        let wake_at = if gate.queue.is_empty() {
            match gate.room(now) {
                Ok(()) => {
                    gate.start(now);
                    bits.0.store(PERMIT, Ordering::SeqCst);
                    return Entry::Granted;
                }
                Err(at) => at,
            }
        } else {
            None
        };
        let waiting = self.waiting.load(Ordering::SeqCst);
        if let Some(bound) = bound.filter(|&bound| waiting >= bound) {
            return Entry::Full(bound);
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        bits.0.store(AT_GATE, Ordering::SeqCst);
        if gate.queue.len() >= 64 && gate.queue.len().is_power_of_two() {
            // Calls killed while waiting are dropped when reached; while the
            // gate stays shut they could pile up.
            gate.queue
                .retain(|job| job.header().state() == TokenState::Waiting);
        }
        gate.queue.push_back(job.clone());
        Entry::Queued(wake_at)
    }

    /// Takes the calls that may pass now: those the cap and rate let through,
    /// in call order, and the paused ops' calls ahead of them. `paused` says
    /// whether a call's op is paused.
    pub(crate) fn take_ready(&self, paused: impl Fn(&JobRef) -> bool) -> Ready {
        let now = Instant::now();
        let mut ready = Ready::default();
        let mut gate = self.lock();
        while let Some(job) = gate.queue.front() {
            if job.header().state() != TokenState::Waiting {
                gate.queue.pop_front();
                continue;
            }
            if paused(job) {
                ready.paused.extend(gate.queue.pop_front());
                continue;
            }
            match gate.room(now) {
                Ok(()) => {
                    gate.start(now);
                    ready.granted.extend(gate.queue.pop_front());
                }
                Err(at) => {
                    ready.wake_at = at;
                    break;
                }
            }
        }
        ready
    }

    /// Marks a call taken by [`take_ready`](Self::take_ready) as no longer
    /// waiting, with a permit if `granted`. Returns false if the call ended
    /// meanwhile; its permit (if any) is then released here, exactly once.
    pub(crate) fn leave(&self, job: &JobRef, bits: &GateBits, granted: bool) -> bool {
        let prev = bits
            .0
            .swap(if granted { PERMIT } else { 0 }, Ordering::SeqCst);
        if prev & AT_GATE != 0 {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
        if job.header().state() == TokenState::Waiting {
            return true;
        }
        // Ended meanwhile: its end may have found no bit to clear.
        self.end(bits);
        false
    }

    /// The call ended, or its body returned: it stops waiting at the gate and
    /// gives its permit back, whichever it held. Returns true if calls still
    /// wait (the gate may move now).
    pub(crate) fn end(&self, bits: &GateBits) -> bool {
        let held = bits.take();
        if held & AT_GATE != 0 {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
        if held & PERMIT == 0 {
            return false;
        }
        let mut gate = self.lock();
        debug_assert!(gate.running > 0, "limit `{}` released twice", self.name);
        gate.running = gate.running.saturating_sub(1);
        !gate.queue.is_empty()
    }

    /// Sets the cap (`None`: no cap, only the rate). Returns true if calls wait.
    fn set_cap(&self, cap: Option<usize>) -> bool {
        let mut gate = self.lock();
        gate.cap = cap;
        !gate.queue.is_empty()
    }

    /// Sets the rate. Returns true if calls wait.
    fn set_rate(&self, rate: Option<RateSpec>) -> bool {
        let mut gate = self.lock();
        gate.rate = rate.map(|spec| Rate::new(spec, Instant::now()));
        !gate.queue.is_empty()
    }

    fn snapshot(&self) -> LimitStats {
        let gate = self.lock();
        LimitStats {
            name: self.name.to_string(),
            cap: gate.cap,
            rate: gate.rate.as_ref().map(|rate| RateStats {
                calls: rate.spec.calls,
                per: rate.spec.per,
            }),
            running: gate.running,
            waiting: self.waiting.load(Ordering::SeqCst),
            high_water: gate.high_water,
            started: gate.started,
        }
    }
}

/// A coordinator's limits, by name.
#[derive(Debug, Default)]
pub(crate) struct Limits {
    map: RwLock<HashMap<Box<str>, Arc<Limit>>>,
}

impl Limits {
    pub(crate) fn new(specs: &[LimitSpec]) -> Limits {
        let map = specs
            .iter()
            .map(|spec| {
                let limit = Limit::new(&spec.name, spec.cap, spec.rate);
                (spec.name.clone().into_boxed_str(), Arc::new(limit))
            })
            .collect();
        Limits {
            map: RwLock::new(map),
        }
    }

    /// The limit named `name`, if it has a cap or a rate.
    pub(crate) fn get(&self, name: &str) -> Option<Arc<Limit>> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.get(name).cloned()
    }

    /// Every limit, in no particular order.
    pub(crate) fn all(&self) -> Vec<Arc<Limit>> {
        let map = self.map.read().unwrap_or_else(|p| p.into_inner());
        map.values().cloned().collect()
    }

    /// Changes (or makes) limit `name`. Returns true if calls wait at it.
    pub(crate) fn update(
        &self,
        name: &str,
        change: impl FnOnce(&Limit) -> bool,
        make: impl FnOnce() -> (Option<usize>, Option<RateSpec>),
    ) -> bool {
        if let Some(limit) = self.get(name) {
            return change(&limit);
        }
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        match map.get(name) {
            Some(limit) => change(limit),
            None => {
                let (cap, rate) = make();
                map.insert(name.into(), Arc::new(Limit::new(name, cap, rate)));
                false
            }
        }
    }

    /// Sets the cap of `name` (making the limit if needed).
    pub(crate) fn set_cap(&self, name: &str, cap: usize) -> bool {
        self.update(name, |limit| limit.set_cap(Some(cap)), || (Some(cap), None))
    }

    /// Sets the rate of `name` (making the limit if needed).
    pub(crate) fn set_rate(&self, name: &str, rate: RateSpec) -> bool {
        self.update(
            name,
            |limit| limit.set_rate(Some(rate)),
            || (None, Some(rate)),
        )
    }

    /// Every limit's figures, by name.
    pub(crate) fn snapshot(&self) -> Vec<LimitStats> {
        let mut stats: Vec<LimitStats> = self.all().iter().map(|l| l.snapshot()).collect();
        stats.sort_by(|a, b| a.name.cmp(&b.name));
        stats
    }

    /// Empties every gate (at stop, to break the cycles between waiting calls
    /// and the coordinator).
    pub(crate) fn clear(&self) {
        for limit in self.all() {
            let queue = std::mem::take(&mut limit.lock().queue);
            drop(queue);
        }
    }
}

/// A limit as configured on the builder.
#[derive(Clone, Debug)]
pub(crate) struct LimitSpec {
    pub(crate) name: String,
    pub(crate) cap: Option<usize>,
    pub(crate) rate: Option<RateSpec>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_lets_a_burst_through_then_one_per_interval() {
        let start = Instant::now();
        let mut rate = Rate::new(
            RateSpec {
                calls: 4,
                per: Duration::from_millis(400),
            },
            start,
        );
        for _ in 0..4 {
            assert_eq!(rate.wait_until(start), None);
            rate.take(start);
        }
        // The bucket is empty: the next start is one interval away.
        let next = start + Duration::from_millis(100);
        assert_eq!(rate.wait_until(start), Some(next));
        assert_eq!(rate.wait_until(next), None);
        rate.take(next);
        assert_eq!(
            rate.wait_until(next),
            Some(start + Duration::from_millis(200))
        );
        // A long pause refills the burst, no more.
        let later = start + Duration::from_secs(10);
        for _ in 0..4 {
            assert_eq!(rate.wait_until(later), None);
            rate.take(later);
        }
        assert!(rate.wait_until(later).is_some());
    }
}
