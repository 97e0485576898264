//! Remote calls against a real `nats-server` (JetStream, file storage): each
//! test starts a private server of its own (`server.rs`).

mod expected;
#[allow(
    dead_code,
    reason = "shared with the attribute tests, which use other parts"
)]
mod queue;
mod server;
mod support;
#[allow(
    dead_code,
    reason = "shared with the attribute tests, which use other parts"
)]
mod worker_process;

mod calls;
mod deadlines;
mod kill;
mod processes;
mod restart;
mod sticky;
mod workers;
