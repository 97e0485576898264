//! Remote calls against a real `nats-server` (JetStream, file storage): each
//! test starts a private server of its own (`server.rs`).

mod expected;
mod server;
mod support;

mod calls;
mod deadlines;
mod kill;
mod processes;
mod restart;
mod sticky;
