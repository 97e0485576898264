//! Producer and consumers: a producer feeds 20 items through a bounded queue
//! to three guarded consumers, all inside one `TokenGroup`.
//!
//! The asyncio material's first example, with tokengate's pieces: the
//! consumers are guarded calls (they run on the coordinator's workers), the
//! queue is a bounded channel of capacity 3, and the group owns the
//! consumers: if one failed, the others would be cancelled. The producer
//! makes items faster than the consumers handle them, so it blocks on the
//! full queue: its "waited" lines are the backpressure. Every item is handled
//! exactly once (checked at the end).
//!
//! Run it with `cargo run --example producer_consumer` (about 1 s).

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokengate::{OperationsCoordinator, TokenGroup, task_token_guard};

const ITEMS: u32 = 20;
const CONSUMERS: u32 = 3;
const QUEUE: usize = 3;

/// The consumers' shared end of the queue.
type Queue = Arc<Mutex<Receiver<u32>>>;

/// Takes items until the queue is closed and empty; returns the items it
/// handled. Each takes 40 ms.
#[task_token_guard(op = "consumer", weight = "light")]
fn consumer(name: u32, queue: Queue) -> Vec<u32> {
    let mut handled = Vec::new();
    loop {
        // The lock is held only to take one item.
        let next = queue.lock().unwrap().recv();
        let Ok(item) = next else {
            return handled;
        };
        if tokengate::is_cancelled() {
            return handled;
        }
        std::thread::sleep(Duration::from_millis(40));
        println!("    consumer {name} handled item {item:>2}");
        handled.push(item);
    }
}

fn produce(queue: SyncSender<u32>, started: Instant) {
    for item in 0..ITEMS {
        let before = Instant::now();
        queue.send(item).expect("the consumers are alive");
        let waited = before.elapsed();
        if waited > Duration::from_millis(5) {
            println!(
                "producer: queue full, waited {waited:>6.1?} to put item {item:>2} (t = {:.0?})",
                started.elapsed()
            );
        } else {
            println!("producer: put item {item:>2}");
        }
        // Producing takes 5 ms; consuming, 40 ms, spread over 3 consumers.
        std::thread::sleep(Duration::from_millis(5));
    }
    println!("producer: done, closing the queue");
}

fn main() {
    let coordinator = OperationsCoordinator::builder()
        // Three consumers at once on any machine.
        .core_groups(1)
        .workers_per_core(CONSUMERS as usize)
        .start()
        .expect("the coordinator starts");
    let started = Instant::now();

    let (tx, rx) = sync_channel(QUEUE);
    let queue: Queue = Arc::new(Mutex::new(rx));
    let mut group = TokenGroup::new();
    for name in 1..=CONSUMERS {
        group.add(consumer(name, queue.clone()));
    }
    println!("{CONSUMERS} consumers started; queue capacity {QUEUE}\n");

    produce(tx, started);

    let handled = group.wait().expect("no consumer fails");
    for (name, items) in (1..=CONSUMERS).zip(&handled) {
        println!("consumer {name} handled {} items: {items:?}", items.len());
    }
    let mut all: Vec<u32> = handled.into_iter().flatten().collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..ITEMS).collect::<Vec<_>>(),
        "every item handled once"
    );
    println!(
        "\nall {ITEMS} items handled exactly once in {:.2?}",
        started.elapsed()
    );
    coordinator.stop();
}
