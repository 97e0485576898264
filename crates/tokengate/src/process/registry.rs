//! The process-pool registry: every `process_pool = true` fn, and every
//! `remote` fn, by op name.
//!
//! The attribute adds one [`ProcessFn`] per fn to [`PROCESS_FNS`], a slice the
//! linker assembles (see `linkme`). Nothing runs to fill it, which matters
//! because a worker process looks fns up before `main`, and because nothing
//! else would tie a fn to its name in a fresh process: fns are found by op
//! name, never by code address, so a worker needs no shared address layout.
//! A worker host looks up the jobs it receives from its broker the same way;
//! a `remote` fn's entry says how the host runs it ([`RemoteFn`]).

use std::collections::HashMap;
use std::num::NonZeroU64;
use std::sync::OnceLock;

use linkme::distributed_slice;

use crate::Weight;

/// Runs one process-pool call inside a worker: decodes the arguments from the
/// first slice, runs the fn, and appends the encoded return value to the
/// vector. An `Err` is a codec error, reported to the caller as such.
pub(crate) type RunFn = fn(&[u8], &mut Vec<u8>) -> Result<(), String>;

/// One `process_pool = true` or `remote` fn, as the attribute registers it.
#[derive(Debug)]
pub struct ProcessFn {
    pub(crate) op: &'static str,
    pub(crate) path: &'static str,
    pub(crate) run: RunFn,
    /// Set for a `remote` fn: how a worker host runs its jobs.
    pub(crate) remote: Option<RemoteFn>,
}

/// How a worker host runs the jobs of a `remote` fn.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RemoteFn {
    /// The fn's weight, on the host's coordinator too.
    pub(crate) weight: Weight,
    /// `process_pool = true` as well: the host runs it in its process pool.
    pub(crate) isolated: bool,
    /// Its `memory_limit` there, if it has one.
    pub(crate) memory_limit: Option<NonZeroU64>,
    /// `external_calls`: a remote lead, which runs as a lead of the host's
    /// coordinator, its children on that host.
    pub(crate) lead: Option<&'static [&'static str]>,
}

impl ProcessFn {
    /// The registration of the fn at `path` (for error messages) under `op`.
    pub const fn new(op: &'static str, path: &'static str, run: RunFn) -> ProcessFn {
        ProcessFn {
            op,
            path,
            run,
            remote: None,
        }
    }

    /// Marks a `remote` fn: a worker host runs its jobs at `weight`, in its
    /// process pool if `isolated` (`process_pool = true` too), held to
    /// `memory_limit` bytes there (0: no limit).
    pub const fn remote(mut self, weight: Weight, isolated: bool, memory_limit: u64) -> ProcessFn {
        self.remote = Some(RemoteFn {
            weight,
            isolated,
            memory_limit: NonZeroU64::new(memory_limit),
            lead: None,
        });
        self
    }

    /// Marks a `remote` fn (after [`remote`](Self::remote)) as a lead of
    /// `calls` (`external_calls`): a worker host runs its jobs as leads, and
    /// their children there.
    pub const fn lead(mut self, calls: &'static [&'static str]) -> ProcessFn {
        match &mut self.remote {
            Some(remote) => remote.lead = Some(calls),
            None => panic!("only a `remote` fn is registered as a lead"),
        }
        self
    }
}

/// Every `process_pool = true` fn linked into this executable.
#[distributed_slice]
pub static PROCESS_FNS: [ProcessFn];

/// The registered fns by op name; built once.
fn by_name() -> &'static HashMap<&'static str, &'static ProcessFn> {
    static MAP: OnceLock<HashMap<&'static str, &'static ProcessFn>> = OnceLock::new();
    MAP.get_or_init(|| PROCESS_FNS.iter().map(|f| (f.op, f)).collect())
}

/// The fn registered under `op`, if any (the first one, if `op` is duplicated:
/// a coordinator refuses to start in that case, see [`duplicate`]).
pub(crate) fn find(op: &str) -> Option<&'static ProcessFn> {
    by_name().get(op).copied()
}

/// Two fns registered under one op name, if any: a worker could not tell
/// which one a call means.
pub(crate) fn duplicate() -> Option<(&'static ProcessFn, &'static ProcessFn)> {
    duplicate_in(&PROCESS_FNS)
}

fn duplicate_in(fns: &'static [ProcessFn]) -> Option<(&'static ProcessFn, &'static ProcessFn)> {
    let mut seen: HashMap<&str, &'static ProcessFn> = HashMap::with_capacity(fns.len());
    for f in fns {
        if let Some(first) = seen.insert(f.op, f) {
            return Some((first, f));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nothing(_: &[u8], _: &mut Vec<u8>) -> Result<(), String> {
        Ok(())
    }

    #[test]
    fn finds_duplicated_op_names() {
        static FNS: [ProcessFn; 3] = [
            ProcessFn::new("a", "m::a", nothing),
            ProcessFn::new("b", "m::b", nothing),
            ProcessFn::new("a", "n::a", nothing),
        ];
        let (first, second) = duplicate_in(&FNS).expect("a duplicate");
        assert_eq!((first.path, second.path), ("m::a", "n::a"));
        assert!(duplicate_in(&FNS[..2]).is_none());
    }
}
