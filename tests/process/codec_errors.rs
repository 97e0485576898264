//! Values whose `Serialize` or `Deserialize` impl fails on the way to a
//! worker process or back: the call fails with the impl's own message and
//! says which step failed where, and the worker serves on, since nothing
//! crashed.

use serde::{Deserialize, Deserializer, Serialize, Serializer, de, ser};
use tokengate::{OperationsCoordinator, TaskError, task_token_guard};
use tokengate_tests::{builder, error, value, with_coordinator};

use crate::fns;

/// What both address types say about one without an `@`.
fn refusal(address: &str) -> String {
    format!("`{address}` is not a valid email")
}

/// An address whose `Serialize` refuses one without an `@`: it cannot be sent.
#[derive(Debug, PartialEq, Deserialize)]
struct Outgoing(String);

impl Serialize for Outgoing {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if !self.0.contains('@') {
            return Err(ser::Error::custom(refusal(&self.0)));
        }
        serializer.serialize_str(&self.0)
    }
}

/// An address whose `Deserialize` refuses one without an `@`: it cannot be
/// received.
#[derive(Debug, PartialEq, Serialize)]
struct Incoming(String);

impl<'de> Deserialize<'de> for Incoming {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let address = String::deserialize(deserializer)?;
        if !address.contains('@') {
            return Err(de::Error::custom(refusal(&address)));
        }
        Ok(Incoming(address))
    }
}

/// Its argument cannot be encoded, in the caller.
#[task_token_guard(op = "p_codec_send", process_pool = true)]
fn send(_to: Outgoing) -> u32 {
    std::process::id()
}

/// Its argument cannot be decoded, in the worker process.
#[task_token_guard(op = "p_codec_receive", process_pool = true)]
fn receive(_from: Incoming) -> u32 {
    std::process::id()
}

/// Its value cannot be encoded, in the worker process.
#[task_token_guard(op = "p_codec_issue", process_pool = true)]
fn issue(address: String) -> Outgoing {
    Outgoing(address)
}

/// Its value cannot be decoded, in the caller.
#[task_token_guard(op = "p_codec_look_up", process_pool = true)]
fn look_up(address: String) -> Incoming {
    Incoming(address)
}

/// Runs `body` with a coordinator of one worker process, already started, and
/// that worker's pid.
fn with_one_worker(name: &str, body: impl FnOnce(&OperationsCoordinator, u32)) {
    with_coordinator(builder(name).process_workers(1), |coordinator| {
        let worker = value(fns::pid());
        body(coordinator, worker);
    });
}

/// `err` is a process failure whose text is `step`, then the refusal of
/// `nobody`; and the one worker process is still `worker`, serving calls.
#[track_caller]
fn assert_refused(err: &TaskError, step: &str, coordinator: &OperationsCoordinator, worker: u32) {
    assert!(err.is_process_failure(), "{err}");
    assert!(!err.is_worker_lost() && !err.is_panic(), "{err}");
    let expected = format!(
        "process-pool call `{}` failed: {step}: {}",
        err.op(),
        refusal("nobody")
    );
    assert_eq!(err.to_string(), expected);
    assert_eq!(value(fns::pid()), worker, "the same worker serves on");
    let stats = coordinator.stats();
    assert_eq!((stats.processes.spawned, stats.processes.lost), (1, 0));
}

#[test]
fn an_argument_that_cannot_be_encoded_fails_in_the_caller() {
    with_one_worker("p-codec-send", |coordinator, worker| {
        let err = error(send(Outgoing("nobody".into())));
        let step = "could not encode its arguments in the caller";
        assert_refused(&err, step, coordinator, worker);
        assert_eq!(value(send(Outgoing("a@b".into()))), worker);
    });
}

#[test]
fn an_argument_that_cannot_be_decoded_fails_in_the_worker() {
    with_one_worker("p-codec-receive", |coordinator, worker| {
        let err = error(receive(Incoming("nobody".into())));
        let step = format!("could not decode its arguments in worker process {worker}");
        assert_refused(&err, &step, coordinator, worker);
        assert_eq!(value(receive(Incoming("a@b".into()))), worker);
    });
}

#[test]
fn a_value_that_cannot_be_encoded_fails_in_the_worker() {
    with_one_worker("p-codec-issue", |coordinator, worker| {
        let err = error(issue("nobody".into()));
        let step = format!("could not encode its value in worker process {worker}");
        assert_refused(&err, &step, coordinator, worker);
        assert_eq!(value(issue("a@b".into())), Outgoing("a@b".into()));
    });
}

#[test]
fn a_value_that_cannot_be_decoded_fails_in_the_caller() {
    with_one_worker("p-codec-look-up", |coordinator, worker| {
        let err = error(look_up("nobody".into()));
        let step = "could not decode its value in the caller";
        assert_refused(&err, step, coordinator, worker);
        assert_eq!(value(look_up("a@b".into())), Incoming("a@b".into()));
    });
}
