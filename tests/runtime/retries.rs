//! Retries on the same token: a failed attempt waits out its backoff off the
//! workers, re-enters admission, and the token resolves once with the last
//! attempt's outcome.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use tokengate::{ErrorKind, KillReason, RetryOn, Task, TaskToken, TokenState};
use tokengate_tests::{
    Gate, Log, builder, eventually, quiet_expected_panics, resolve, settle, value, with_coordinator,
};

/// Panics on its first `failures` runs, then returns how many runs it took.
fn flaky(failures: u32) -> (Arc<AtomicU32>, impl Fn() -> u32 + Send + Sync + 'static) {
    let runs = Arc::new(AtomicU32::new(0));
    let seen = runs.clone();
    let body = move || {
        let run = seen.fetch_add(1, Ordering::SeqCst) + 1;
        if run <= failures {
            std::panic::panic_any(tokengate_tests::ExpectedPanic);
        }
        run
    };
    (runs, body)
}

#[test]
fn a_call_that_fails_twice_then_succeeds_delivers_its_value_to_the_first_token() {
    quiet_expected_panics();
    with_coordinator(builder("retry-heals"), |c| {
        let (runs, body) = flaky(2);
        let mut token = Task::new("heals").retries(3).spawn(body);
        assert_eq!(settle(&mut token).unwrap(), 3);
        assert_eq!(token.attempts(), 3);
        assert_eq!(runs.load(Ordering::SeqCst), 3);
        let stats = c.stats();
        let op = stats.op("heals").unwrap();
        assert_eq!(
            (op.retries, op.counts.completed, op.counts.failed),
            (2, 1, 0)
        );
    });
}

#[test]
fn a_call_that_always_fails_runs_one_plus_retries_times_and_reports_the_last_error() {
    quiet_expected_panics();
    with_coordinator(builder("retry-exhausted"), |c| {
        let runs = Arc::new(AtomicU32::new(0));
        let seen = runs.clone();
        let mut token = Task::new("hopeless").retries(4).spawn(move || -> u8 {
            let run = seen.fetch_add(1, Ordering::SeqCst) + 1;
            panic!("attempt {run} failed")
        });
        let err = settle(&mut token).unwrap_err();
        assert_eq!(err.panic_message(), Some("attempt 5 failed"));
        assert_eq!(token.attempts(), 5);
        assert_eq!(runs.load(Ordering::SeqCst), 5);
        assert_eq!(c.stats().op("hopeless").unwrap().retries, 4);
    });
}

#[test]
fn a_kill_between_attempts_ends_the_retries() {
    quiet_expected_panics();
    with_coordinator(builder("retry-killed"), |_| {
        let (runs, body) = flaky(u32::MAX);
        // A backoff far longer than the test: the call sits between attempts.
        let mut token = Task::new("killed_in_backoff")
            .retries(5)
            .retry_backoff(Duration::from_secs(3600))
            .spawn(body);
        eventually("the first attempt failed", || {
            runs.load(Ordering::SeqCst) == 1 && token.state() == TokenState::Waiting
        });
        // The first backoff is drawn from [0, 1 h]: if it was short, a second
        // attempt may have run; either way the kill ends the call.
        assert!(token.kill());
        let err = settle(&mut token).unwrap_err();
        assert_eq!(err.kill_reason(), Some(KillReason::Token));
        let ran = runs.load(Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(
            runs.load(Ordering::SeqCst),
            ran,
            "an attempt ran after the kill"
        );
    });
}

#[test]
fn backoffs_grow_from_attempt_to_attempt() {
    quiet_expected_panics();
    with_coordinator(builder("retry-backoff"), |_| {
        // Full jitter makes single gaps random; their means over many calls
        // grow with the bound (about 5, 10, 20 ms for a 10 ms backoff).
        let calls = 24;
        let logs: Vec<(Arc<Log<Instant>>, TaskToken<()>)> = (0..calls)
            .map(|_| {
                let log = Log::new();
                let seen = log.clone();
                let token = Task::new("spaced")
                    .retries(3)
                    .retry_backoff(Duration::from_millis(10))
                    .spawn(move || {
                        seen.push(Instant::now());
                        std::panic::panic_any(tokengate_tests::ExpectedPanic)
                    });
                (log, token)
            })
            .collect();
        let mut gaps = [Duration::ZERO; 3];
        for (log, token) in logs {
            assert!(resolve(token).unwrap_err().is_panic());
            let runs = log.items();
            assert_eq!(runs.len(), 4);
            for k in 0..3 {
                gaps[k] += runs[k + 1] - runs[k];
            }
        }
        assert!(gaps[2] > gaps[0], "mean gaps did not grow: {gaps:?}");
    });
}

#[test]
fn an_err_value_is_retried_with_retry_on_err() {
    with_coordinator(builder("retry-err"), |_| {
        let runs = Arc::new(AtomicU32::new(0));
        let seen = runs.clone();
        let task = Task::new("fallible").retries(5).retry_on(&[RetryOn::Err]);
        let mut token = task.try_spawn(move || {
            let run = seen.fetch_add(1, Ordering::SeqCst) + 1;
            if run < 3 { Err(run) } else { Ok("fine") }
        });
        assert_eq!(settle(&mut token).unwrap(), Ok("fine"));
        assert_eq!(token.attempts(), 3);
        // Out of retries, the last `Err` is the call's value.
        let mut always = task.try_spawn(|| Err::<(), _>("still broken"));
        assert_eq!(settle(&mut always).unwrap(), Err("still broken"));
        assert_eq!(always.attempts(), 6);
    });
}

#[test]
fn without_retry_on_err_an_err_value_is_the_result() {
    with_coordinator(builder("retry-no-err"), |_| {
        let runs = Arc::new(AtomicU32::new(0));
        let seen = runs.clone();
        let token = Task::new("fallible_once").retries(5).try_spawn(move || {
            seen.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>("no")
        });
        assert_eq!(value(token), Err("no"));
        assert_eq!(runs.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn retry_on_timeout_bounds_each_attempt() {
    with_coordinator(builder("retry-timeout"), |_| {
        let runs = Arc::new(AtomicU32::new(0));
        let seen = runs.clone();
        let task = Task::new("slow_then_quick")
            .timeout(Duration::from_millis(20))
            .retries(3)
            .retry_on(&[RetryOn::Timeout]);
        let mut token = task.spawn(move || {
            let run = seen.fetch_add(1, Ordering::SeqCst) + 1;
            if run < 3 {
                // Runs until its attempt is cut off.
                while !tokengate::is_cancelled() {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            run
        });
        assert_eq!(settle(&mut token).unwrap(), 3);
        assert_eq!(token.attempts(), 3);

        // Every attempt too slow: the call times out after the last one.
        let mut hopeless = task.spawn(|| {
            while !tokengate::is_cancelled() {
                std::thread::sleep(Duration::from_millis(1));
            }
            0
        });
        let err = settle(&mut hopeless).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert_eq!(hopeless.attempts(), 4);
    });
}

#[test]
fn the_call_s_timeout_ends_the_retries() {
    quiet_expected_panics();
    with_coordinator(builder("retry-deadline"), |_| {
        let (runs, body) = flaky(u32::MAX);
        let body = move || {
            std::thread::sleep(Duration::from_millis(5));
            body()
        };
        let mut token = Task::new("out_of_time")
            .timeout(Duration::from_millis(60))
            .retries(1_000)
            .retry_backoff(Duration::from_millis(1))
            .spawn(body);
        let err = settle(&mut token).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        let ran = runs.load(Ordering::SeqCst);
        assert!((1..1_001).contains(&ran), "{ran} attempts");
    });
}

#[test]
fn a_retry_re_enters_admission_where_a_pause_holds_it() {
    quiet_expected_panics();
    with_coordinator(builder("retry-paused"), |c| {
        // The first attempt fails only once the op is paused, so its retry
        // meets the pause however slow this machine is.
        let gate = Gate::new();
        let runs = Arc::new(AtomicU32::new(0));
        let (g, r) = (gate.clone(), runs.clone());
        let mut token = Task::new("paused_between")
            .retries(1)
            .retry_backoff(Duration::from_millis(1))
            .spawn(move || {
                if r.fetch_add(1, Ordering::SeqCst) == 0 {
                    assert!(g.wait());
                    std::panic::panic_any(tokengate_tests::ExpectedPanic);
                }
                2
            });
        eventually("the first attempt runs", || {
            runs.load(Ordering::SeqCst) == 1
        });
        c.pause_operation("paused_between");
        gate.open();
        eventually("the pause holds the retry", || {
            c.stats().op("paused_between").unwrap().held == 1
        });
        assert_eq!(runs.load(Ordering::SeqCst), 1, "the retry ran while paused");
        assert_eq!(token.state(), TokenState::Waiting);
        c.resume_operation("paused_between");
        assert_eq!(settle(&mut token).unwrap(), 2);
    });
}

#[test]
fn a_retried_call_gives_its_limit_back_during_its_backoff() {
    quiet_expected_panics();
    with_coordinator(builder("retry-limit").limit("one", 1), |_| {
        let (runs, body) = flaky(1);
        let mut retried = Task::new("retried")
            .limit("one")
            .retries(1)
            .retry_backoff(Duration::from_secs(3600))
            .spawn(body);
        eventually("the first attempt failed", || {
            runs.load(Ordering::SeqCst) == 1
        });
        // During the backoff (up to an hour) another call of the limit runs.
        let other = Task::new("other").limit("one").spawn(|| 7);
        assert_eq!(value(other), 7);
        assert!(retried.kill());
        assert!(settle(&mut retried).unwrap_err().is_killed());
    });
}

#[test]
fn a_retried_sticky_call_keeps_its_domain_s_turn() {
    quiet_expected_panics();
    with_coordinator(builder("retry-sticky"), |_| {
        let order = Log::new();
        let account = 1_u64;
        let runs = Arc::new(AtomicU32::new(0));
        let first = {
            let (order, runs) = (order.clone(), runs.clone());
            Task::new("settle")
                .sticky("accounts", &account)
                .retries(2)
                .spawn(move || {
                    let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
                    order.push(format!("first #{run}"));
                    if run == 1 {
                        std::panic::panic_any(tokengate_tests::ExpectedPanic);
                    }
                })
        };
        let second = {
            let order = order.clone();
            Task::new("settle")
                .sticky("accounts", &account)
                .spawn(move || order.push("second".to_owned()))
        };
        value(first);
        value(second);
        assert_eq!(order.items(), ["first #1", "first #2", "second"]);
    });
}

static FLAKY_RUNS: AtomicU32 = AtomicU32::new(0);

/// Fails its first two runs; its arguments are bound by patterns, one `mut`.
#[tokengate::task_token_guard(op = "attr_flaky", retries = 3, retry_backoff = "1ms")]
fn attr_flaky((a, b): (u32, u32), mut scale: u32, label: String) -> String {
    scale += 1;
    if FLAKY_RUNS.fetch_add(1, Ordering::SeqCst) < 2 {
        std::panic::panic_any(tokengate_tests::ExpectedPanic);
    }
    format!("{label}: {}", (a + b) * scale)
}

#[test]
fn the_attribute_retries_a_thread_fn_on_a_copy_of_its_arguments() {
    quiet_expected_panics();
    with_coordinator(builder("retry-attr"), |c| {
        let mut token = attr_flaky((2, 3), 1, "sum".to_owned());
        assert_eq!(settle(&mut token).unwrap(), "sum: 10");
        assert_eq!(token.attempts(), 3);
        assert_eq!(c.stats().op("attr_flaky").unwrap().retries, 2);
    });
}

static BARE_RUNS: AtomicU32 = AtomicU32::new(0);

/// No arguments at all: nothing to copy between attempts.
#[tokengate::task_token_guard(op = "attr_bare", retries = 1, retry_backoff = "1ms")]
fn attr_bare() -> u32 {
    let run = BARE_RUNS.fetch_add(1, Ordering::SeqCst);
    if run == 0 {
        std::panic::panic_any(tokengate_tests::ExpectedPanic);
    }
    run
}

#[test]
fn the_attribute_retries_a_fn_without_arguments() {
    quiet_expected_panics();
    with_coordinator(builder("retry-bare"), |_| {
        let mut token = attr_bare();
        assert_eq!(settle(&mut token).unwrap(), 1);
        assert_eq!(token.attempts(), 2);
    });
}

#[tokengate::task_token_guard(op = "attr_err", retries = 2, retry_on = ["err"])]
fn attr_err(runs: Arc<AtomicU32>) -> Result<u32, String> {
    match runs.fetch_add(1, Ordering::SeqCst) {
        0 => Err("first".to_owned()),
        n => Ok(n),
    }
}

#[tokengate::task_token_guard(
    op = "attr_sticky_retry",
    sticky_anchor = "account",
    retries = 1,
    retry_backoff = "1ms"
)]
fn attr_sticky_retry(#[key] account: u64, log: Arc<Log<(u64, u32)>>, runs: Arc<AtomicU32>) {
    let run = runs.fetch_add(1, Ordering::SeqCst);
    log.push((account, run));
    if run == 0 {
        std::panic::panic_any(tokengate_tests::ExpectedPanic);
    }
}

#[test]
fn the_attribute_retries_err_values_and_sticky_calls() {
    quiet_expected_panics();
    with_coordinator(builder("retry-attr-err"), |_| {
        let runs = Arc::new(AtomicU32::new(0));
        assert_eq!(value(attr_err(runs.clone())), Ok(1));
        assert_eq!(runs.load(Ordering::SeqCst), 2);

        let log = Log::new();
        let first_runs = Arc::new(AtomicU32::new(0));
        let first = attr_sticky_retry(9, log.clone(), first_runs);
        let second = attr_sticky_retry(9, log.clone(), Arc::new(AtomicU32::new(10)));
        value(first);
        value(second);
        // The retried first call kept its turn: the second ran after it.
        assert_eq!(log.items(), [(9, 0), (9, 1), (9, 10)]);
    });
}
