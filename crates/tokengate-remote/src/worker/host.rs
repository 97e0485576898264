//! Worker hosts of `remote = true` fns: a worker whose executor runs each
//! job as a call of a tokengate coordinator on this host, found by op name
//! (`Worker::nats`).

use std::sync::Arc;

use tokengate::remote::JobFailure;
use tokengate::{Handle, OperationsCoordinator};

use crate::error::Error;
use crate::worker::Failure;
use crate::worker::cancel::CancelFlag;
use crate::worker::config::Executor;

/// Makes a worker host's executor when its worker starts: jobs run on
/// `given`'s coordinator, or on one started now, which is returned for the
/// worker to keep and stop with itself.
pub(crate) fn start(
    given: Option<&Handle>,
) -> Result<(Executor, Option<OperationsCoordinator>), Error> {
    let (handle, owned) = match given {
        Some(handle) => (handle.clone(), None),
        None => {
            let coordinator = OperationsCoordinator::builder()
                .thread_name("tg-host")
                .start()
                .map_err(|err| {
                    Error::host(format!(
                        "could not start the coordinator that runs this worker host's jobs: \
                         {err}"
                    ))
                })?;
            (coordinator.handle(), Some(coordinator))
        }
    };
    if !handle.is_running() {
        return Err(Error::host(
            "the coordinator given to `WorkerConfig::coordinator` has stopped; give a running \
             one",
        ));
    }
    Ok((executor(handle), owned))
}

/// Runs each job on `handle`'s coordinator, killing the call when the job's
/// cancel flag is set (a kill message, or its deadline).
fn executor(handle: Handle) -> Executor {
    Arc::new(move |op: &str, args: &[u8], cancel: &CancelFlag| {
        tokengate::remote::execute(&handle, op, args.to_vec(), &|| cancel.is_cancelled()).map_err(
            |failure| match failure {
                JobFailure::Panic(message) => Failure::Panic(message),
                JobFailure::Error(message) => Failure::Error(message),
                other => Failure::Error(format!("{other:?}")),
            },
        )
    })
}
