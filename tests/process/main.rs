//! Behaviour tests of `process_pool = true` calls: worker processes, faults,
//! cancellation, lifecycle and the admin surface.
//!
//! Every test starts its own coordinator and binds its calls to it, as in the
//! runtime tests. The process-pool fns live in `fns.rs`, shared by all tests:
//! a worker process serves any of them. Nothing here asserts how fast
//! something happened; waits have generous deadlines (`PATIENCE`).

mod admin;
mod codec_errors;
mod faults;
mod fns;
mod lifecycle;
mod many_args;
mod memory_limit;
mod pipeline;
mod retries;
mod routing;
mod stress;
mod types;

use tokengate_tests::eventually;

/// Whether process `pid` has exited: no `/proc` entry, or a zombie waiting for
/// a parent that is not ours to reap it.
pub(crate) fn exited(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // `pid (comm) S ...`: the state follows the last `)`.
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Waits up to `PATIENCE` for process `pid` to exit; panics if it does not.
#[track_caller]
pub(crate) fn wait_exited(pid: u32) {
    eventually(&format!("process {pid} exited"), || exited(pid));
}

/// Waits up to `PATIENCE` for a file the worker writes (a pid, usually).
#[track_caller]
pub(crate) fn read_when_written(path: &std::path::Path) -> String {
    let mut text = String::new();
    eventually(&format!("{} written", path.display()), || {
        text = std::fs::read_to_string(path).unwrap_or_default();
        text.ends_with('\n')
    });
    text.trim_end().to_owned()
}

/// A fresh, empty directory for one test's files, removed when dropped.
pub(crate) fn scratch_dir(test: &str) -> Scratch {
    let dir = std::env::temp_dir().join(format!("tokengate-process-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch dir");
    Scratch(dir)
}

/// See [`scratch_dir`].
pub(crate) struct Scratch(std::path::PathBuf);

impl std::ops::Deref for Scratch {
    type Target = std::path::Path;

    fn deref(&self) -> &std::path::Path {
        &self.0
    }
}

impl AsRef<std::path::Path> for Scratch {
    fn as_ref(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
