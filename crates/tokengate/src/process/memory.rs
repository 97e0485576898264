//! `memory_limit`: a worker process holds itself to a call's limit while the
//! call runs.
//!
//! The limit travels in the call's frame. Before the call, the worker lowers
//! its soft `RLIMIT_DATA` to what it holds already plus the limit; after the
//! call, it puts the previous soft limit back, so that the next call, limited
//! or not, starts from the worker's own. An allocation past the limit fails,
//! and Rust ends the process on a failed allocation (SIGABRT, after printing
//! `memory allocation of N bytes failed`); the pool then fails the call with
//! an error that names the limit, and replaces the worker (see `pool`).
//!
//! See the [module docs](super) for what the limit counts and its caveats.

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(crate) use self::elsewhere::Held;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) use self::linux::Held;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux {
    use std::num::NonZeroU64;

    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};

    /// A call's limit, in force until [`lift`](Held::lift)ed.
    #[derive(Debug)]
    pub(crate) struct Held {
        /// The worker's own limit, to put back.
        previous: Rlimit,
    }

    impl Held {
        /// Holds this process to `limit` bytes more than its data segment
        /// has now; the error says why it could not.
        pub(crate) fn new(limit: NonZeroU64) -> Result<Held, String> {
            let held = data_bytes().map_err(|err| {
                format!(
                    "could not hold the call to its memory limit: reading the worker's \
                     memory use from /proc/self/status failed: {err}"
                )
            })?;
            let previous = getrlimit(Resource::Data);
            // Never above the limit the worker already has, soft or hard.
            let current = [previous.current, previous.maximum]
                .into_iter()
                .flatten()
                .fold(held.saturating_add(limit.get()), u64::min);
            let lowered = Rlimit {
                current: Some(current),
                maximum: previous.maximum,
            };
            setrlimit(Resource::Data, lowered).map_err(|err| {
                format!("could not hold the call to its memory limit: setrlimit failed: {err}")
            })?;
            Ok(Held { previous })
        }

        /// Puts the worker's own limit back; `false` if that failed, and the
        /// call's limit still holds.
        pub(crate) fn lift(self) -> bool {
            // Raising a soft limit up to the hard one needs no privilege.
            setrlimit(Resource::Data, self.previous).is_ok()
        }
    }

    /// What `RLIMIT_DATA` counts of this process now, in bytes.
    fn data_bytes() -> std::io::Result<u64> {
        let status = std::fs::read_to_string("/proc/self/status")?;
        vm_data(&status).ok_or_else(|| std::io::Error::other("no `VmData: N kB` line"))
    }

    /// `VmData` of a `/proc/PID/status` text, in bytes: the private writable
    /// mappings (heap, anonymous memory, thread stacks), which is what
    /// `RLIMIT_DATA` limits.
    fn vm_data(status: &str) -> Option<u64> {
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmData:"))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|kib| kib.trim().parse::<u64>().ok())
            .map(|kib| kib.saturating_mul(1024))
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn vm_data_is_read_in_bytes() {
            let status = "Name:\tworker\nVmSize:\t   70640 kB\nVmData:\t    2436 kB\n\
                          VmStk:\t     132 kB\n";
            assert_eq!(vm_data(status), Some(2436 * 1024));
            assert_eq!(vm_data("VmData: lots\n"), None);
            assert_eq!(vm_data("VmSize:\t 1 kB\n"), None);
        }

        #[test]
        #[cfg_attr(miri, ignore)] // reads /proc
        fn this_process_has_data_bytes() {
            assert!(data_bytes().unwrap() > 0);
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
mod elsewhere {
    use std::num::NonZeroU64;

    /// A call's limit, which this platform cannot hold a process to.
    #[derive(Debug)]
    pub(crate) struct Held {
        _never: std::convert::Infallible,
    }

    impl Held {
        /// Always an error: only Linux counts every allocation against
        /// `RLIMIT_DATA`, and a limit that does not hold would be worse than
        /// none.
        pub(crate) fn new(_limit: NonZeroU64) -> Result<Held, String> {
            Err(
                "`memory_limit` is enforced on Linux only, where `RLIMIT_DATA` counts every \
                 allocation; remove it from this fn on this platform"
                    .to_owned(),
            )
        }

        /// Never called: there is no `Held` to lift.
        pub(crate) fn lift(self) -> bool {
            match self._never {}
        }
    }
}
