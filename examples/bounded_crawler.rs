//! A bounded crawler: 40 simulated page fetches through one named limit.
//!
//! `limit = "site"` makes every call of `fetch` share one cap, set on the
//! coordinator with `CoordinatorBuilder::limit("site", 5)`: at most five
//! fetches run at once however many are made, the rest wait in line off the
//! CPU workers (as storage-tier calls do). A `rate("site", ..)` would also
//! bound how many start per second. Each page is printed as it completes, and
//! the example checks that the cap held and was reached.
//!
//! Halfway through, `set_limit("site", 2)` narrows the cap while fetches run:
//! the running ones finish, and no more than two run from then on.
//!
//! Run it with `cargo run --release --example bounded_crawler`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures::stream::{FuturesUnordered, StreamExt};
use tokengate::{OperationsCoordinator, task_token_guard};

/// Fetches running right now, and the most seen at once.
static RUNNING: AtomicUsize = AtomicUsize::new(0);
static HIGH_WATER: AtomicUsize = AtomicUsize::new(0);

/// A page fetch: 20–60 ms of waiting on a pretend server, then its size.
#[task_token_guard(op = "fetch", weight = "light", limit = "site", timeout = "5s")]
fn fetch(url: String) -> (String, usize) {
    let now = RUNNING.fetch_add(1, Ordering::SeqCst) + 1;
    HIGH_WATER.fetch_max(now, Ordering::SeqCst);
    let page = url.bytes().map(usize::from).sum::<usize>();
    std::thread::sleep(Duration::from_millis(20 + (page % 41) as u64));
    RUNNING.fetch_sub(1, Ordering::SeqCst);
    (url, page * 17)
}

#[tokio::main]
async fn main() {
    let coordinator = OperationsCoordinator::builder()
        .limit("site", 5)
        .start()
        .expect("a coordinator starts");

    let urls: Vec<String> = (0..40)
        .map(|i| format!("https://example.test/page/{i}"))
        .collect();
    let start = Instant::now();
    let mut pages: FuturesUnordered<_> = urls.into_iter().map(fetch).collect();
    println!("40 fetches made; at most 5 run at once\n");

    let mut done = 0;
    while let Some(page) = pages.next().await {
        let (url, bytes) = page.expect("a fetch succeeds");
        done += 1;
        println!(
            "{:>7.1?}  {done:>2}/40  {url}  ({bytes} bytes, {} running)",
            start.elapsed(),
            RUNNING.load(Ordering::SeqCst)
        );
        if done == 20 {
            let before = HIGH_WATER.swap(0, Ordering::SeqCst);
            assert!(before <= 5, "{before} fetches ran at once under a cap of 5");
            assert!(before >= 3, "the cap of 5 was never approached ({before})");
            coordinator.set_limit("site", 2);
            println!("\n  first half: at most {before} at once; cap now 2\n");
        }
    }

    // Fetches that had started under the old cap may overlap the narrower
    // one as they finish; none of the second half's starts exceed 5.
    let after = HIGH_WATER.load(Ordering::SeqCst);
    assert!(after <= 5, "{after} fetches ran at once");
    let limit = &coordinator.stats().limits[0];
    println!(
        "\nall 40 fetched in {:?}; limit {:?}: cap {:?}, {} started, high-water {}",
        start.elapsed(),
        limit.name,
        limit.cap,
        limit.started,
        limit.high_water
    );
    assert_eq!(limit.cap, Some(2));
    assert_eq!(limit.started, 40);
    assert!(limit.high_water <= 5);
    coordinator.stop();
}
