//! Behaviour tests of the tokengate runtime, in one binary to keep link time low.
//!
//! Every test runs its calls on a coordinator of its own, bound to it:
//! `tokengate_tests::with_coordinator` starts one, binds the test's calls to it
//! and stops it; tests of starting, stopping and binding do those steps
//! themselves. Tests run in parallel in this process, and the process default
//! coordinator is whichever test started last. Nothing here asserts how fast
//! something happened; waits have generous safety deadlines (see
//! `tokengate_tests::PATIENCE`).

mod admin;
mod backpressure;
mod cancel;
mod combined;
mod coordinators;
mod cpu_share;
mod errors;
mod fingerprint;
mod group;
mod guards;
mod keys;
mod kill_on_drop;
mod lane_slots;
mod lanes;
mod lead_group_lane;
mod leads;
mod lifecycle;
mod limits;
mod live;
mod many_args;
mod map;
mod map_unordered;
mod nesting;
mod per_call;
mod placement;
mod release;
mod remote;
mod retries;
mod stats;
mod sticky;
mod sticky_turns;
mod stop_now;
mod storage;
mod telemetry;
mod token;
