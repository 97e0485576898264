//! A coordinator's panic handler gets the panics of its calls, thread and
//! process-pool calls alike, while other panics still reach the hook that was
//! in place. Its own binary: the panic hook is process-wide.

use std::sync::{Arc, Mutex};

use tokengate::{Task, TokenId, task_token_guard};
use tokengate_tests::{builder, error, value};

#[task_token_guard(op = "handler_process_panic", process_pool = true)]
fn process_panic() -> u8 {
    panic!("in a worker process")
}

/// What the handler saw: op, token id, message, whether it had a location,
/// and the worker process.
type Seen = (&'static str, TokenId, String, bool, Option<u32>);

#[test]
fn panics_in_calls_go_to_the_handler_and_others_to_the_previous_hook() {
    // The hook in place before: records what reaches it.
    let before: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = before.clone();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .unwrap_or_default();
        record.lock().unwrap().push(message);
    }));

    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let sink = seen.clone();
    let with_handler = builder("handler")
        .panic_handler(move |report| {
            sink.lock().unwrap().push((
                report.op,
                report.token_id,
                report.message.to_owned(),
                report.location.is_some(),
                report.process,
            ));
        })
        .start()
        .unwrap();
    let without = builder("no-handler").start().unwrap();

    let token =
        with_handler.run(|| Task::new("thread_panic").spawn(|| -> u8 { panic!("on a thread") }));
    let id = token.id();
    assert!(error(token).is_panic());
    let token = with_handler.run(process_panic);
    let process_id = token.id();
    let err = error(token);
    assert_eq!(err.panic_message(), Some("in a worker process"));
    // A coordinator without a handler, and a panic outside any call.
    assert!(
        error(without.run(|| Task::new("other").spawn(|| -> u8 { panic!("elsewhere") })))
            .is_panic()
    );
    let outside = std::thread::spawn(|| panic!("outside a call")).join();
    assert!(outside.is_err());

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(
        seen[0],
        ("thread_panic", id, "on a thread".to_owned(), true, None)
    );
    let (op, token_id, message, located, process) = seen[1].clone();
    assert_eq!(
        (op, token_id, message.as_str(), located),
        (
            "handler_process_panic",
            process_id,
            "in a worker process",
            false
        )
    );
    assert!(process.is_some_and(|pid| pid != std::process::id()));
    assert_eq!(
        *before.lock().unwrap(),
        ["elsewhere", "outside a call"],
        "the previous hook still gets every other panic"
    );
    // The handled calls' workers live on.
    assert_eq!(
        value(with_handler.run(|| tokengate::spawn("spawn", || 1))),
        1
    );
    with_handler.stop();
    without.stop();
}
