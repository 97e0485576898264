//! Round trips through the attribute: values, `Err` values, panics and
//! failures come back as the token's result; retried calls send each attempt.

use std::time::Instant;

use crate::fns::*;
use crate::support::*;

#[test]
fn a_remote_call_runs_on_the_worker_host_and_resolves_here() {
    let hosts = Hosts::start(2);
    let coordinator = start(caller(1).remote(hosts.remote()));
    let _bound = coordinator.enter();

    let data: Vec<u8> = (0..=255).collect();
    let token = double(data.clone());
    assert_eq!(token.op(), "attr_double");
    assert_eq!(token.wait().unwrap(), [data.clone(), data].concat());

    // On a thread of the host's coordinator, not of the caller's.
    let (pid, thread) = where_am_i().wait().unwrap();
    assert_eq!(pid, std::process::id(), "the host is this process");
    assert!(thread.starts_with("tg-host"), "ran on `{thread}`");
    // With `process_pool` too: in a worker process of the host's pool.
    assert_ne!(isolated_pid().wait().unwrap(), std::process::id());
    assert!(!hosts.host.worker_processes().is_empty());

    let stats = coordinator.stats();
    let remote = stats
        .remote
        .as_ref()
        .expect("the coordinator has a backend");
    assert_eq!(remote.submitted, 3);
    assert_eq!((remote.in_flight, remote.waiting), (0, 0));
    assert_eq!(remote.connection.as_str(), "connected");
    assert_eq!(remote.max_in_flight, 1_000);
    assert_eq!(stats.tokens.completed, 3);
    assert!(
        stats.to_string().contains("remote: broker connected"),
        "{stats}"
    );
    // The host counted them as calls of its own.
    assert_eq!(
        hosts
            .host
            .stats()
            .op("attr_double")
            .unwrap()
            .counts
            .completed,
        1
    );
    assert_eq!(hosts.worker.stats().values, 3);
}

#[test]
fn errors_panics_and_failures_come_back_as_the_tokens_result() {
    let hosts = Hosts::start(2);
    let coordinator = start(caller(1).remote(hosts.remote()));
    let _bound = coordinator.enter();

    assert_eq!(parse("42".to_owned()).wait().unwrap(), Ok(42));
    let err = parse("forty".to_owned()).wait().unwrap();
    assert!(err.unwrap_err().starts_with("`forty`: invalid digit"));

    let err = boom("on purpose".to_owned()).wait().unwrap_err();
    assert!(err.is_panic(), "{err}");
    assert_eq!(
        err.panic_message(),
        Some(&*format!("{EXPECTED_PANIC}: on purpose"))
    );

    // The host's `Deserialize` refuses the argument: a failure that says
    // where, with the impl's own message.
    let err = picky(Picky(String::new())).wait().unwrap_err();
    assert!(err.is_process_failure(), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with(
            "remote call `attr_picky` failed: could not decode its arguments on the worker host"
        ),
        "{text}"
    );
    assert!(text.contains("a picky value must not be empty"), "{text}");
    assert_eq!(picky(Picky("ok".to_owned())).wait().unwrap(), 2);

    // Nothing was delivered twice.
    let remote = coordinator.stats().remote.unwrap();
    assert_eq!((remote.redelivered, remote.duplicates_dropped), (0, 0));
}

#[test]
fn a_retried_remote_call_sends_each_attempt() {
    let hosts = Hosts::start(1);
    let coordinator = start(caller(1).remote(hosts.remote()));
    let _bound = coordinator.enter();

    let tag = tag();
    let token = flaky(tag, 2);
    let started_at = Instant::now();
    let attempts = {
        let mut token = token;
        let value = token.wait_timeout(PATIENCE).expect("resolves").unwrap();
        assert_eq!(value, Ok(2), "the third attempt succeeds");
        token.attempts()
    };
    assert!(started_at.elapsed() < PATIENCE);
    assert_eq!(attempts, 3);
    assert_eq!(started(tag), 3);
    let stats = coordinator.stats();
    assert_eq!(
        stats.remote.as_ref().unwrap().submitted,
        3,
        "one job per attempt"
    );
    assert_eq!(stats.op("attr_flaky").unwrap().retries, 2);

    // Out of retries, the last `Err` is the value.
    let tag = crate::support::tag();
    assert_eq!(
        flaky(tag, 10).wait().unwrap(),
        Err("attempt 3 fails".to_owned())
    );
    assert_eq!(started(tag), 4);
}

#[test]
fn sticky_remote_calls_of_one_key_run_in_order() {
    // Serving the sticky partitions too, with more slots than its consumers
    // (three weights, four partitions): calls of one key would overlap, were
    // they not kept apart.
    let hosts = Hosts::start_with(16, |config| config.sticky(true));
    let coordinator = start(caller(1).remote(hosts.remote()));
    let _bound = coordinator.enter();

    let keys: Vec<u32> = (0..3).map(|_| tag()).collect();
    let tokens: Vec<_> = (0..10)
        .flat_map(|seq| keys.iter().map(move |&key| (key, seq)))
        .map(|(key, seq)| append(key, seq))
        .collect();
    for token in tokens {
        token.wait().unwrap();
    }
    for key in keys {
        assert_eq!(log(key), (0..10).collect::<Vec<_>>(), "key {key}");
        assert_eq!(most_at_once(key), 1, "key {key}'s calls overlapped");
    }
}

#[test]
fn a_named_pool_goes_to_its_own_worker_hosts() {
    let hosts = Hosts::start(1);
    let gpu_host = tokengate::OperationsCoordinator::builder()
        .thread_name("tg-gpu")
        .stop_timeout(PATIENCE)
        .start()
        .unwrap();
    let _gpu = tokengate_remote::Worker::start(
        tokengate_remote::Worker::nats(hosts.server.url())
            .pool("gpu")
            .ack_wait(ACK_WAIT)
            .coordinator(gpu_host.handle())
            .slots(1)
            .poll_interval(std::time::Duration::from_millis(250)),
    )
    .expect("the gpu pool's worker host starts");
    let coordinator = start(caller(1).remote(hosts.remote()));
    let _bound = coordinator.enter();

    for _ in 0..3 {
        let gpu = where_gpu().wait().unwrap();
        assert!(gpu.starts_with("tg-gpu"), "ran on `{gpu}`");
        let (_, default) = where_am_i().wait().unwrap();
        assert!(default.starts_with("tg-host"), "ran on `{default}`");
    }
}
