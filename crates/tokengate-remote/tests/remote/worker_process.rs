//! Worker processes the tests start and kill by pid, and the log file they
//! note each call they start in. Shared by the `remote` tests (the
//! `tokengate-remote-test-worker` executable, a plain executor) and the
//! `attribute` tests (`tokengate-remote-test-host`, a worker host of
//! `remote` fns).

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::server::NatsServer;

/// How long a worker process may take to get ready, or to exit.
const PATIENCE: Duration = Duration::from_secs(20);

/// A worker process, killed by its pid when dropped.
pub(crate) struct WorkerProcess {
    child: Child,
    _stdout: BufReader<ChildStdout>,
}

impl WorkerProcess {
    /// Starts a `tokengate-remote-test-worker` with `args` after `--url`, and
    /// waits until it serves.
    pub(crate) fn start<S: AsRef<OsStr>>(server: &NatsServer, args: &[S]) -> WorkerProcess {
        WorkerProcess::spawn(
            env!("CARGO_BIN_EXE_tokengate-remote-test-worker"),
            server,
            args,
        )
    }

    /// Starts a `tokengate-remote-test-host` (the `remote` fns of
    /// `src/bin/test_host/fns.rs`) with `args` after `--url`, and waits until
    /// it serves.
    pub(crate) fn start_host<S: AsRef<OsStr>>(server: &NatsServer, args: &[S]) -> WorkerProcess {
        WorkerProcess::spawn(
            env!("CARGO_BIN_EXE_tokengate-remote-test-host"),
            server,
            args,
        )
    }

    fn spawn<S: AsRef<OsStr>>(exe: &str, server: &NatsServer, args: &[S]) -> WorkerProcess {
        let mut child = Command::new(exe)
            .arg("--url")
            .arg(server.url())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the test worker starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        let (tx, rx) = mpsc::channel();
        let mut line = String::new();
        // Read the first line on a thread, to wait for it with a deadline.
        let reader = std::thread::spawn(move || {
            let read = stdout.read_line(&mut line).map(|_| line);
            let _ = tx.send(read);
            stdout
        });
        let ready = rx.recv_timeout(PATIENCE);
        if !matches!(&ready, Ok(Ok(line)) if line.trim() == "ready") {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the test worker did not get ready: {ready:?}");
        }
        let stdout = reader.join().expect("the reader thread");
        WorkerProcess {
            child,
            _stdout: stdout,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`, by pid, and reaps it.
    pub(crate) fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits until the process has exited (it aborted, say); returns whether
    /// it did within [`PATIENCE`].
    pub(crate) fn wait_exit(&mut self) -> bool {
        self.wait_exit_for(PATIENCE)
    }

    /// Waits at most `timeout` for the process to exit; returns whether it
    /// did.
    pub(crate) fn wait_exit_for(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        matches!(self.child.try_wait(), Ok(Some(_)))
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// A log file the test workers append to, removed when dropped.
pub(crate) struct Log {
    path: PathBuf,
}

impl Log {
    pub(crate) fn new() -> Log {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "tokengate-remote-log-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_file(&path);
        Log { path }
    }

    pub(crate) fn arg(&self) -> &str {
        self.path.to_str().expect("a UTF-8 temp path")
    }

    /// The `(op, pid)` of every call started so far, in order.
    pub(crate) fn calls(&self) -> Vec<(String, u32)> {
        std::fs::read_to_string(&self.path)
            .unwrap_or_default()
            .lines()
            .filter_map(|line| {
                let (op, pid) = line.split_once(' ')?;
                Some((op.to_owned(), pid.parse().ok()?))
            })
            .collect()
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
