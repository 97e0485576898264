//! `remote = true` calls end to end: the attribute, a coordinator whose
//! remote backend is a `Caller`, a real `nats-server` (private to each test,
//! started by `server.rs`, shared with the `remote` tests), and a worker host
//! (`Worker::nats`) running in this process on a coordinator of its own.
//!
//! Every test bounds its waits ([`support::PATIENCE`]) and asserts no
//! timing beyond "resolved well before the patience ran out".

#[path = "../remote/expected.rs"]
mod expected;
#[path = "../remote/server.rs"]
#[allow(dead_code, reason = "the attribute tests never restart their server")]
mod server;

mod fns;
mod support;

mod broker;
mod calls;
mod cancel;
mod local;
mod window;
