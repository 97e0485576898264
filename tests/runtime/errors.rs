//! What a `TaskError` tells: its kind to match on, who killed a killed call,
//! and a panic's own payload.

use std::time::Duration;

use tokengate::{ErrorKind, FullLanePolicy, KillReason, Task, TaskToken, TokenState};
use tokengate_tests::{
    ExpectedPanic, Gate, builder, error, eventually, quiet_expected_panics, single_worker,
    with_coordinator,
};

/// A call that waits for `gate`.
fn gated(gate: &std::sync::Arc<Gate>, op: &'static str) -> TaskToken<bool> {
    let gate = gate.clone();
    Task::new(op).spawn(move || gate.wait())
}

#[test]
fn each_failure_has_its_kind_and_each_kill_its_reason() {
    quiet_expected_panics();
    with_coordinator(
        single_worker("errors-kinds")
            .mailbox_capacity(1)
            .lane_capacity(1)
            .full_lane_policy(FullLanePolicy::Reject),
        |c| {
            let gate = Gate::new();
            let running = gated(&gate, "running");
            eventually("the first call runs", || {
                running.state() == TokenState::Executing
            });

            let by_token = gated(&gate, "by_token");
            let rejected = gated(&gate, "rejected");
            assert!(by_token.kill());
            let by_token = error(by_token);
            assert_eq!(
                (by_token.kind(), by_token.kill_reason()),
                (ErrorKind::Killed, Some(KillReason::Token))
            );
            let rejected = error(rejected);
            assert_eq!(
                (rejected.kind(), rejected.kill_reason()),
                (ErrorKind::Rejected, None)
            );

            let by_id = gated(&gate, "by_id");
            assert!(c.kill_token(by_id.id()));
            assert_eq!(error(by_id).kill_reason(), Some(KillReason::Admin));
            let by_op = gated(&gate, "by_op");
            assert_eq!(c.kill_all_by_operation("by_op"), 1);
            assert_eq!(error(by_op).kill_reason(), Some(KillReason::Operation));
            let drained = gated(&gate, "drained");
            assert_eq!(c.drain_pool(), 1);
            assert_eq!(error(drained).kill_reason(), Some(KillReason::Drain));
            let timed = Task::new("timed")
                .timeout(Duration::from_millis(5))
                .spawn(|| ());
            assert_eq!(error(timed).kind(), ErrorKind::TimedOut);

            gate.open();
            assert!(running.wait().unwrap());
            let panicked = error(Task::new("panicked").spawn(|| -> u8 { panic!("on purpose") }));
            assert_eq!(
                (panicked.kind(), panicked.kill_reason()),
                (ErrorKind::Panic, None)
            );
        },
    );
}

/// A panic payload that is not a string.
#[derive(Debug, PartialEq)]
struct Code(u16);

#[test]
fn a_panic_hands_back_its_own_payload() {
    quiet_expected_panics();
    with_coordinator(builder("errors-payload"), |_| {
        let err = error(
            Task::new("coded")
                .spawn(|| -> u8 { std::panic::panic_any((ExpectedPanic, Code(418))) }),
        );
        assert_eq!(err.panic_message(), Some("<non-string panic payload>"));
        let payload = err.clone().into_panic();
        let (_, code) = *payload
            .downcast::<(ExpectedPanic, Code)>()
            .expect("the payload the body panicked with");
        assert_eq!(code, Code(418));
        // A clone whose payload was taken hands back the message instead.
        let again = err.into_panic();
        assert_eq!(
            again.downcast_ref::<String>().map(String::as_str),
            Some("<non-string panic payload>")
        );

        let gate = Gate::new();
        let killed = gated(&gate, "killed");
        assert!(killed.kill());
        let killed = error(killed);
        let back = killed.try_into_panic().expect_err("not a panic");
        assert_eq!(back.kind(), ErrorKind::Killed);
        gate.open();
    });
}
