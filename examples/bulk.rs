//! A bulk job over 2,000 items with a progress bar: `map_unordered` makes at
//! most 64 calls at a time and hands results back as they finish; the
//! progress hook drives an `indicatif` bar, and the coordinator's
//! `bulk_maps()` shows the same progress to anyone holding a handle (a
//! dashboard thread here).
//!
//! Run it with `cargo run --release --example bulk` (a second or two).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use tokengate::{OperationsCoordinator, task_token_guard};

const ITEMS: u64 = 2_000;

/// A simulated record import: a little CPU, a little waiting.
#[task_token_guard(op = "import_record", weight = "light")]
fn import_record(id: u64) -> u64 {
    std::thread::sleep(Duration::from_micros(300 + id % 7 * 100));
    (0..2_000u64).fold(id, |acc, x| acc.wrapping_mul(31).wrapping_add(x))
}

fn main() {
    let coordinator = OperationsCoordinator::start();
    let handle = coordinator.handle();
    let started = Instant::now();

    // Another thread watches the coordinator's view of the job.
    let done = Arc::new(AtomicBool::new(false));
    let dashboard = {
        let (handle, done) = (handle.clone(), done.clone());
        std::thread::spawn(move || {
            let mut seen = None;
            while !done.load(Ordering::SeqCst) {
                if let Some(map) = handle.bulk_maps().into_iter().next() {
                    seen = Some(map);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            seen
        })
    };

    let bar = ProgressBar::new(ITEMS);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} items, {per_sec}, eta {eta}")
            .expect("a valid template"),
    );
    let hook_bar = bar.clone();
    let mut checksum = 0u64;
    let mut handled = vec![false; ITEMS as usize];
    for (index, result) in tokengate::map_unordered(import_record, 0..ITEMS)
        .in_flight(64)
        .label("record import")
        .on_progress(move |done, total| {
            hook_bar.set_length(total as u64);
            hook_bar.set_position(done as u64);
        })
    {
        checksum ^= result.expect("no import fails");
        assert!(!handled[index], "item {index} handed back twice");
        handled[index] = true;
    }
    bar.finish();
    done.store(true, Ordering::SeqCst);
    let watched = dashboard.join().expect("the dashboard thread");

    assert!(handled.iter().all(|&h| h), "every item handled");
    assert!(handle.bulk_maps().is_empty(), "the finished map is gone");
    println!(
        "imported {ITEMS} records in {:.2?} (checksum {checksum:#x})",
        started.elapsed()
    );
    if let Some(map) = watched {
        println!(
            "the dashboard last saw `{}` at {}/{} ({} in flight, {} failed)",
            map.label, map.done, map.total, map.in_flight, map.failed
        );
    }
    coordinator.stop();
}
