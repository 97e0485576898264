//! `remote = true` calls end to end: the attribute, a coordinator whose
//! remote backend is a `Caller`, a real `nats-server` (private to each test,
//! started by `server.rs`, shared with the `remote` tests), and a worker host
//! (`Worker::nats`) running in this process on a coordinator of its own, or
//! worker host processes (`tokengate-remote-test-host`, serving the fns of
//! `host_fns`) that the tests kill.
//!
//! Every test bounds its waits ([`support::PATIENCE`]) and asserts no
//! timing beyond "resolved well before the patience ran out".

#[path = "../remote/expected.rs"]
mod expected;
#[path = "../../src/bin/test_host/fns.rs"]
#[allow(dead_code, reason = "`log_to` is the host process's")]
mod host_fns;
#[path = "../remote/queue.rs"]
#[allow(
    dead_code,
    reason = "shared with the remote tests, which use other parts"
)]
mod queue;
#[path = "../remote/server.rs"]
mod server;
#[path = "../remote/worker_process.rs"]
#[allow(
    dead_code,
    reason = "shared with the remote tests, which use other parts"
)]
mod worker_process;

mod fns;
mod support;

mod broker;
mod calls;
mod cancel;
mod failover;
mod leads;
mod local;
mod topology;
mod window;
mod workers;
