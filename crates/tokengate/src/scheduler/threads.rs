//! The threads a scheduler runs (workers and IO threads): how they are
//! spawned, counted while they live, and waited for and joined at stop.

use std::sync::{Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

/// What every spawned thread is built with.
#[derive(Clone, Debug)]
pub(crate) struct ThreadConfig {
    /// Thread names start with this.
    pub(crate) prefix: String,
    /// The stack size, if not Rust's default.
    pub(crate) stack_size: Option<usize>,
}

#[derive(Debug, Default)]
struct Counts {
    /// Threads spawned and not exited yet.
    live: usize,
    /// Worker threads to join at stop (IO threads come and go, and are only
    /// counted).
    handles: Vec<JoinHandle<()>>,
}

/// The scheduler's threads.
#[derive(Debug)]
pub(crate) struct Threads {
    config: ThreadConfig,
    counts: Mutex<Counts>,
    /// Signalled each time a thread exits.
    exited: Condvar,
}

/// Counts its thread as exited when dropped, however the thread ends.
pub(crate) struct Exit<'a>(&'a Threads);

impl Drop for Exit<'_> {
    fn drop(&mut self) {
        self.0.lock().live -= 1;
        self.0.exited.notify_all();
    }
}

impl Threads {
    pub(crate) fn new(config: ThreadConfig) -> Threads {
        Threads {
            config,
            counts: Mutex::default(),
            exited: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Spawns a thread named `<prefix>-<name>` running `body`, counted live
    /// until the [`Exit`] that `body` is given drops. `keep` keeps its handle,
    /// to be joined at stop.
    pub(crate) fn spawn(
        &self,
        name: &str,
        keep: bool,
        body: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<()> {
        let mut builder =
            std::thread::Builder::new().name(format!("{}-{name}", self.config.prefix));
        if let Some(bytes) = self.config.stack_size {
            builder = builder.stack_size(bytes);
        }
        let mut counts = self.lock();
        counts.live += 1;
        match builder.spawn(body) {
            Ok(handle) => {
                if keep {
                    counts.handles.push(handle);
                }
                Ok(())
            }
            Err(err) => {
                counts.live -= 1;
                Err(err)
            }
        }
    }

    /// The guard a spawned thread holds for its whole life.
    pub(crate) fn exit_guard(&self) -> Exit<'_> {
        Exit(self)
    }

    /// Waits until at most `left` threads are alive (the caller's own, if it
    /// is one of them), or `deadline` passes (`None`: no deadline). Returns
    /// whether they exited.
    pub(crate) fn wait_exited(&self, left: usize, deadline: Option<Instant>) -> bool {
        let mut counts = self.lock();
        while counts.live > left {
            let now = Instant::now();
            counts = match deadline {
                Some(deadline) if now >= deadline => return false,
                Some(deadline) => {
                    self.exited
                        .wait_timeout(counts, deadline - now)
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
                None => self.exited.wait(counts).unwrap_or_else(|p| p.into_inner()),
            };
        }
        true
    }

    /// Joins the kept threads that have finished (all of them, if
    /// `all_exited`), never the calling thread; the others are left to finish
    /// on their own.
    pub(crate) fn join(&self, all_exited: bool) {
        let handles = std::mem::take(&mut self.lock().handles);
        let current = std::thread::current().id();
        for handle in handles {
            if handle.thread().id() != current && (all_exited || handle.is_finished()) {
                let _ = handle.join();
            }
        }
    }
}
