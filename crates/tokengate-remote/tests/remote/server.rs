//! A private `nats-server` with JetStream for one test (or one benchmark):
//! its own free loopback port and its own store directory, started and
//! stopped by its process id. Never a mock.
//!
//! The server binary is looked up on `PATH` (and in `/usr/sbin`, where
//! Debian puts it); if it is missing, the workspace's `.ci/install-nats` is
//! run once to install it. The remote examples include this file too.

use std::io::{BufRead, BufReader};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long a server may take to start or stop.
const STARTUP: Duration = Duration::from_secs(20);

/// A running `nats-server -js` on `127.0.0.1`, killed (by pid) and its store
/// removed when dropped.
#[derive(Debug)]
pub(crate) struct NatsServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    binary: PathBuf,
}

impl NatsServer {
    /// Starts a server on a free port with a fresh store, and waits until it
    /// accepts clients with JetStream enabled.
    pub(crate) fn start() -> NatsServer {
        let binary = binary();
        let dir = scratch_dir();
        let mut last_failure = String::new();
        for _ in 0..5 {
            let mut server = NatsServer {
                child: None,
                port: free_port(),
                dir: dir.clone(),
                binary: binary.clone(),
            };
            match server.launch() {
                Ok(()) => return server,
                // Another process took the port between our probe and the
                // server's bind: take another.
                Err(failure) => last_failure = failure,
            }
            server.dir = PathBuf::new();
        }
        let _ = std::fs::remove_dir_all(&dir);
        panic!("nats-server did not start: {last_failure}");
    }

    /// The URL clients connect to.
    pub(crate) fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Stops the server gracefully (SIGTERM, by pid) and waits until it has
    /// exited; its store stays.
    pub(crate) fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + STARTUP;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Stops the server and starts it again on the same port and store: what
    /// it had stored (file storage) is there again.
    pub(crate) fn restart(&mut self) {
        self.stop();
        if let Err(failure) = self.launch() {
            panic!("nats-server did not restart: {failure}");
        }
    }

    fn launch(&mut self) -> Result<(), String> {
        let store = self.dir.join("store");
        let log = self.dir.join("server.log");
        let child = Command::new(&self.binary)
            .args(["-js", "-a", "127.0.0.1", "-p", &self.port.to_string()])
            .arg("-sd")
            .arg(&store)
            .arg("-l")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| format!("could not run `{}`: {err}", self.binary.display()))?;
        self.child = Some(child);
        let deadline = Instant::now() + STARTUP;
        loop {
            if self.accepts_jetstream_clients() {
                return Ok(());
            }
            let child = self.child.as_mut().expect("just started");
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(format!("it exited with {status}; its log:\n{}", tail(&log)));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                self.child = None;
                return Err(format!(
                    "it was not ready within {STARTUP:?}; its log:\n{}",
                    tail(&log)
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the server answers a connection with an INFO line that says
    /// JetStream is on.
    fn accepts_jetstream_clients(&self) -> bool {
        let Ok(stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).is_ok() && line.contains("\"jetstream\":true")
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if !self.dir.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The last lines of a log file, for a failure message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}

/// A fresh directory for one server's store and log.
fn scratch_dir() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "tokengate-remote-nats-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory for nats-server");
    dir
}

/// The `nats-server` binary, installed by `.ci/install-nats` if missing.
fn binary() -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    if let Some(path) = find() {
        return path;
    }
    let _once = INSTALL.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = find() {
        return path;
    }
    // The workspace's script, from whichever of its packages includes this
    // file (the tests here, the remote examples).
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|dir| dir.join(".ci/install-nats"))
        .find(|script| script.is_file())
        .unwrap_or_else(|| Path::new(".ci/install-nats").to_path_buf());
    let status = Command::new("bash").arg(&script).status();
    match (status, find()) {
        (_, Some(path)) => path,
        (status, None) => panic!(
            "`nats-server` is not installed, and `{}` could not install it ({status:?}); it \
             needs root and apt (Debian's package `nats-server`); or install nats-server 2.9 or \
             newer yourself and put it on PATH",
            script.display()
        ),
    }
}

fn find() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([
            "/usr/sbin".into(),
            "/usr/local/sbin".into(),
            "/usr/local/bin".into(),
        ])
        .map(|dir: PathBuf| dir.join("nats-server"))
        .find(|candidate| candidate.is_file())
}
