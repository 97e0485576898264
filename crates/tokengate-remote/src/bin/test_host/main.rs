//! A worker host process for this crate's attribute tests: serves the
//! `remote` fns of `fns.rs` through `Worker::nats`, on a coordinator of its
//! own, until it is killed. The tests start it, kill it by its pid, and read
//! which process started each call from the log file. Not for production
//! use.
//!
//! ```text
//! tokengate-remote-test-host --url nats://127.0.0.1:4222 [--slots N]
//!     [--ack-wait-ms N] [--max-deliver N] [--namespace NS] [--heartbeat-ms N]
//!     [--log FILE]
//! ```
//!
//! It prints `ready` on stdout once it serves.

#[allow(
    dead_code,
    reason = "the fns run through the registry, found by op name; nothing here calls them"
)]
mod fns;

use std::io::Write;
use std::time::Duration;

use tokengate_remote::{Topology, Worker};

fn main() {
    let mut url = None;
    let mut slots = 1;
    let mut topology = Topology::new().ack_wait(Duration::from_secs(1));
    let mut heartbeat = Duration::from_millis(200);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("`{arg}` needs a value")))
        };
        match arg.as_str() {
            "--url" => url = Some(value()),
            "--slots" => slots = number(&value()),
            "--ack-wait-ms" => {
                topology = topology.ack_wait(Duration::from_millis(number(&value())))
            }
            "--max-deliver" => topology = topology.max_deliver(number(&value())),
            "--namespace" => topology = topology.namespace(value()),
            "--heartbeat-ms" => heartbeat = Duration::from_millis(number(&value())),
            "--log" => fns::log_to(value().into()),
            other => usage(&format!("unknown argument `{other}`")),
        }
    }
    let url = url.unwrap_or_else(|| usage("`--url` is required"));
    let config = Worker::nats(url)
        .topology(topology)
        .slots(slots)
        .heartbeat_interval(heartbeat)
        .poll_interval(Duration::from_millis(250));
    let _worker = Worker::start(config).unwrap_or_else(|err| {
        eprintln!("error: {err}");
        std::process::exit(1);
    });
    println!("ready");
    let _ = std::io::stdout().flush();
    // The worker serves on its own threads until the process is killed.
    loop {
        std::thread::park();
    }
}

fn number<T: std::str::FromStr>(text: &str) -> T {
    text.parse()
        .unwrap_or_else(|_| usage(&format!("`{text}` is not a number")))
}

fn usage(problem: &str) -> ! {
    eprintln!("error: {problem}");
    eprintln!(
        "usage: tokengate-remote-test-host --url URL [--slots N] [--ack-wait-ms N] \
         [--max-deliver N] [--namespace NS] [--heartbeat-ms N] [--log FILE]"
    );
    std::process::exit(2);
}
