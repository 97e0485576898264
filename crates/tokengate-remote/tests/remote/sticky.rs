//! Sticky keys: jobs with one key run one at a time, in submission order,
//! even with two workers serving the partitions.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokengate_remote::Job;

use crate::support::*;

const KEYS: u8 = 4;
const PER_KEY: u8 = 20;

#[derive(Default)]
struct Seen {
    /// Per key, the sequence numbers in the order they ran.
    order: HashMap<u8, Vec<u8>>,
    /// Per key, how many run now.
    active: HashMap<u8, u32>,
    /// Per key, the most that ever ran at once.
    most: HashMap<u8, u32>,
}

#[test]
fn jobs_of_one_key_run_in_order_one_at_a_time_across_two_workers() {
    let server = NatsServer::start();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let sticky_worker = || {
        let seen = seen.clone();
        let config = worker_config(&server, move |_, args, _| {
            let (key, seq) = (args[0], args[1]);
            {
                let mut seen = seen.lock().unwrap();
                seen.order.entry(key).or_default().push(seq);
                let active = seen.active.entry(key).or_default();
                *active += 1;
                let now = *active;
                let most = seen.most.entry(key).or_default();
                *most = (*most).max(now);
            }
            std::thread::sleep(Duration::from_millis(2));
            *seen.lock().unwrap().active.get_mut(&key).unwrap() -= 1;
            Ok(args.to_vec())
        });
        start(
            config
                .weights(Vec::<String>::new())
                .sticky(true)
                .partitions(2)
                .slots(2),
        )
    };
    let (a, b) = (sticky_worker(), sticky_worker());
    let caller = caller_with(&server, |config| config.partitions(2));
    let outcomes = Outcomes::new();
    let mut ids = Vec::new();
    for seq in 0..PER_KEY {
        for key in 0..KEYS {
            let job = Job::new(caller.next_job_id(), "step", vec![key, seq]).sticky(u64::from(key));
            ids.push((submit(&caller, &outcomes, job), key, seq));
        }
    }
    for (id, key, seq) in &ids {
        assert_eq!(value(outcomes.wait(id)), vec![*key, *seq]);
    }
    let seen = seen.lock().unwrap();
    for key in 0..KEYS {
        let expected: Vec<u8> = (0..PER_KEY).collect();
        assert_eq!(
            seen.order[&key], expected,
            "key {key} ran in submission order"
        );
        assert_eq!(seen.most[&key], 1, "key {key} ran one at a time");
    }
    let (a, b) = (a.stop().executed, b.stop().executed);
    assert_eq!(a + b, u64::from(KEYS) * u64::from(PER_KEY));
    assert!(a > 0 && b > 0, "both workers served ({a} and {b} jobs)");
    wait_until_queue_empty(&server);
}
