//! A worker process for this crate's tests: the tests start it, kill it by
//! its pid, and read what it ran from a log file. Not for production use.
//!
//! ```text
//! tokengate-remote-test-worker --url nats://127.0.0.1:4222 [--pool P] [--slots N]
//!     [--ack-wait-ms N] [--max-deliver N] [--sticky] [--log FILE] [--crash-after-result]
//! ```
//!
//! Ops: `echo` returns its arguments; `sleep` sleeps for the little-endian
//! `u64` of milliseconds in its arguments (stopping early when cancelled) and
//! returns them; `crash` ends the process at once. Each call appends
//! `<op> <pid>` to the log file when it starts. With `--crash-after-result`
//! the process ends after its first result is stored and before that job is
//! acknowledged. It prints `ready` on stdout once it serves.
//!
//! A crash is `exit(3)` from the calling thread: the process is gone
//! without acknowledging anything, as after an abort, but leaves no core
//! file behind.

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use tokengate_remote::{CancelFlag, Failure, Worker, WorkerConfig};

fn main() {
    let mut url = None;
    let mut pool = None;
    let mut slots = 1;
    let mut ack_wait = Duration::from_secs(1);
    let mut max_deliver = 5;
    let mut sticky = false;
    let mut log: Option<PathBuf> = None;
    let mut crash_after_result = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("`{arg}` needs a value")))
        };
        match arg.as_str() {
            "--url" => url = Some(value()),
            "--pool" => pool = Some(value()),
            "--slots" => slots = number(&value()),
            "--ack-wait-ms" => ack_wait = Duration::from_millis(number(&value())),
            "--max-deliver" => max_deliver = number(&value()),
            "--log" => log = Some(value().into()),
            "--sticky" => sticky = true,
            "--crash-after-result" => crash_after_result = true,
            other => usage(&format!("unknown argument `{other}`")),
        }
    }
    let url = url.unwrap_or_else(|| usage("`--url` is required"));
    let executor = move |op: &str, args: &[u8], cancel: &CancelFlag| {
        if let Some(log) = &log {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(log)
                .expect("the log file opens");
            // One write per line: appends of several processes interleave
            // by whole writes only.
            let line = format!("{op} {}\n", std::process::id());
            file.write_all(line.as_bytes())
                .expect("the log file takes a line");
        }
        match op {
            "echo" => Ok(args.to_vec()),
            "sleep" => {
                let ms =
                    u64::from_le_bytes(args.try_into().map_err(|_| {
                        Failure::Error("`sleep` takes a little-endian u64".to_owned())
                    })?);
                let until = Instant::now() + Duration::from_millis(ms);
                while Instant::now() < until && !cancel.is_cancelled() {
                    std::thread::sleep(Duration::from_millis(5));
                }
                Ok(args.to_vec())
            }
            "crash" => crash(),
            other => Err(Failure::Error(format!("unknown op `{other}`"))),
        }
    };
    let mut config = WorkerConfig::new(url, executor)
        .slots(slots)
        .ack_wait(ack_wait)
        .max_deliver(max_deliver)
        .sticky(sticky)
        .poll_interval(Duration::from_millis(250));
    if let Some(pool) = pool {
        config = config.pool(pool);
    }
    if crash_after_result {
        config = config.on_result_stored(|_, _| crash());
    }
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

/// Ends the process at once, as a crash would.
fn crash() -> ! {
    std::process::exit(3)
}

fn number<T: std::str::FromStr>(text: &str) -> T {
    text.parse()
        .unwrap_or_else(|_| usage(&format!("`{text}` is not a number")))
}

fn usage(problem: &str) -> ! {
    eprintln!("error: {problem}");
    eprintln!(
        "usage: tokengate-remote-test-worker --url URL [--pool P] [--slots N] [--ack-wait-ms N] \
         [--max-deliver N] [--sticky] [--log FILE] [--crash-after-result]"
    );
    std::process::exit(2);
}
