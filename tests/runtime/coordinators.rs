//! Several coordinators in one process: calls go to the one they are bound to.

use std::sync::Arc;

use tokengate::{OperationsCoordinator, Task, TaskToken};
use tokengate_tests::{builder, value};

fn thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed>")
        .to_owned()
}

#[test]
fn two_coordinators_on_two_threads_keep_their_own_calls() {
    let alpha = builder("alpha")
        .core_groups(1)
        .workers_per_core(2)
        .start()
        .unwrap();
    let beta = builder("beta")
        .core_groups(2)
        .workers_per_core(1)
        .start()
        .unwrap();
    let run = |c: &OperationsCoordinator, n: usize| {
        c.run(|| {
            let tokens: Vec<TaskToken<String>> = (0..n)
                .map(|_| Task::new("where").spawn(thread_name))
                .collect();
            tokens.into_iter().map(value).collect::<Vec<_>>()
        })
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| run(&alpha, 200));
        let b = s.spawn(|| run(&beta, 300));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert!(a.iter().all(|n| n.starts_with("tg-alpha-worker-")), "{a:?}");
    assert!(b.iter().all(|n| n.starts_with("tg-beta-worker-")), "{b:?}");
    let (sa, sb) = (alpha.stats().tokens, beta.stats().tokens);
    assert_eq!((sa.submitted, sa.completed), (200, 200));
    assert_eq!((sb.submitted, sb.completed), (300, 300));
    alpha.stop();
    beta.stop();
}

#[test]
fn the_most_recently_entered_coordinator_wins() {
    let outer = builder("outer")
        .core_groups(1)
        .workers_per_core(1)
        .start()
        .unwrap();
    let inner = builder("inner")
        .core_groups(1)
        .workers_per_core(1)
        .start()
        .unwrap();
    {
        let _o = outer.enter();
        assert!(value(Task::new("w").spawn(thread_name)).starts_with("tg-outer-"));
        {
            let _i = inner.enter();
            assert!(value(Task::new("w").spawn(thread_name)).starts_with("tg-inner-"));
        }
        assert!(value(Task::new("w").spawn(thread_name)).starts_with("tg-outer-"));
    }
    assert_eq!(outer.stats().tokens.completed, 2);
    assert_eq!(inner.stats().tokens.completed, 1);
    outer.stop();
    inner.stop();
}

#[test]
fn a_nested_call_goes_to_the_coordinator_running_its_caller() {
    let home = builder("home")
        .core_groups(1)
        .workers_per_core(1)
        .start()
        .unwrap();
    let elsewhere = Arc::new(
        builder("elsewhere")
            .core_groups(1)
            .workers_per_core(1)
            .start()
            .unwrap(),
    );
    let e = elsewhere.clone();
    let name = value(home.run(|| {
        Task::new("outer").spawn(move || {
            // Even with another coordinator entered on this worker thread, the
            // nested call goes to the coordinator running this call.
            let _bound = e.enter();
            Task::new("nested").spawn(thread_name).wait().unwrap()
        })
    }));
    assert!(name.starts_with("tg-home-"), "{name}");
    assert_eq!(home.stats().tokens.completed, 2);
    assert_eq!(elsewhere.stats().tokens.submitted, 0);
    home.stop();
    Arc::try_unwrap(elsewhere).expect("no other handle").stop();
}

#[test]
fn a_handle_administers_and_watches_its_coordinator_from_anywhere() {
    let c = builder("handle").start().unwrap();
    let handle = c.handle();
    // From another thread: pause an op, see it in the stats.
    let remote = handle.clone();
    std::thread::spawn(move || remote.pause_operation("held"))
        .join()
        .unwrap();
    let held = c.run(|| tokengate::Task::new("held").spawn(|| 7));
    assert_eq!(handle.stats().op("held").unwrap().held, 1);
    assert_eq!(handle.resume_operation("held"), 1);
    assert_eq!(value(held), 7);
    // `enter` binds calls to it, as the coordinator's own does.
    let ran = handle.run(|| tokengate::spawn("spawn", || 1));
    assert_eq!(value(ran), 1);
    assert_eq!(c.stats().tokens.completed, 2);
    // After stop, the handle still answers.
    assert!(handle.is_running());
    c.stop();
    assert!(!handle.is_running());
    assert_eq!(handle.stats().tokens.completed, 2);
    assert_eq!(handle.drain_pool(), 0);
}

#[test]
fn handle_current_is_where_calls_go() {
    let a = builder("current-a").start().unwrap();
    let b = builder("current-b").start().unwrap();
    let id = |h: &tokengate::Handle| h.stats().tokens.submitted;
    {
        let _in_b = b.enter();
        // In an entered scope: the entered coordinator.
        let before = id(&b);
        tokengate::Handle::current().run(|| value(tokengate::spawn("spawn", || ())));
        assert_eq!(id(&b), before + 1);
    }
    // Inside a call: the coordinator running it, whatever is entered.
    let _in_b = b.enter();
    let inside = a.run(|| {
        tokengate::spawn("spawn", || {
            let handle = tokengate::Handle::current();
            handle.stats().tokens.executing
        })
    });
    assert_eq!(
        value(inside),
        1,
        "the handle of the coordinator running the call"
    );
    drop(_in_b);
    a.stop();
    b.stop();
}
