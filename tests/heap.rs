//! A stopped coordinator gives its memory back: the calls it resolved at stop,
//! wherever they waited (a weight lane, a storage tier, a sticky domain), and
//! the coordinator itself, which those queued calls refer to.
//!
//! What `stop` frees is not visible through the API (a resolved call has
//! already dropped what it captured), so this binary counts the bytes its heap
//! holds, with a global allocator that forwards to the system allocator. It has
//! one test, so nothing else allocates while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use tokengate::{Task, TaskToken, TokenState, task_token_guard};
use tokengate_tests::builder;

/// Bytes allocated and not freed, by anyone in this process.
static LIVE: AtomicIsize = AtomicIsize::new(0);

/// The system allocator, counting [`LIVE`] bytes.
struct Counting;

// SAFETY: every method forwards its arguments unchanged to the system
// allocator and returns its result; the only addition is an atomic counter
// update, which neither allocates nor touches the memory.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let ptr = unsafe { System.alloc_zeroed(layout) };
        if !ptr.is_null() {
            LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract for `dealloc` is passed on as is.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller's contract for `realloc` is passed on as is.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            LIVE.fetch_add(
                new_size as isize - layout.size() as isize,
                Ordering::Relaxed,
            );
        }
        new
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::SeqCst)
}

/// Every call of the anchor joins one domain (`hash_policy = "none"`).
#[task_token_guard(op = "heap_sticky", sticky_anchor = "heap", hash_policy = "none")]
fn sticky() -> u32 {
    1
}

#[task_token_guard(op = "heap_io", storage_speed = "SLOW")]
fn io(x: u32) -> u32 {
    x
}

/// Queued calls per kind in a round.
const QUEUED: u32 = 200;

/// Starts a coordinator, queues calls in a weight lane, a storage tier and a
/// sticky domain (admission is paused, so all of them wait), and stops it.
fn round() {
    let c = builder("heap")
        .core_groups(1)
        .workers_per_core(1)
        .start()
        .unwrap();
    c.pause_admission();
    let tokens: Vec<TaskToken<u32>> = c.run(|| {
        (0..QUEUED)
            .flat_map(|i| [Task::new("heap_lane").spawn(move || i), io(i), sticky()])
            .collect()
    });
    assert!(tokens.iter().all(|t| t.state() == TokenState::Waiting));
    assert_eq!(c.stats().sticky_domains, 1);
    c.stop();
    for token in tokens {
        assert!(token.wait().unwrap_err().is_shutdown());
    }
}

#[test]
fn stop_gives_back_the_memory_of_queued_calls_and_of_the_coordinator() {
    // The first rounds fill one-time caches (per-thread, process-wide).
    for _ in 0..3 {
        round();
    }
    let before = live();
    const ROUNDS: isize = 5;
    for _ in 0..ROUNDS {
        round();
    }
    let grown = live() - before;
    eprintln!("heap: {grown} bytes more after {ROUNDS} rounds");
    assert!(
        grown < 16 * 1024,
        "{grown} bytes stayed allocated after {ROUNDS} stopped coordinators"
    );
}
