//! `remote = true`: one fn, hashed on worker hosts through a NATS JetStream
//! broker, its tokens resolving here.
//!
//! ```sh
//! cargo run --release --example remote            # a private nats-server
//! NATS_URL=nats://10.0.0.5:4222 cargo run --example remote
//! ```
//!
//! It starts a broker on a free loopback port (unless `NATS_URL` names one),
//! two worker processes of this same executable in worker mode
//! (`Worker::nats(url)`, see `remote_cluster.rs`), and a caller whose
//! coordinator sends `digest` calls through the broker (`Remote::nats(url)`).
//! It hashes a batch of blocks, checks every digest against one computed
//! here, and prints the throughput and where each call ran. Then it ends,
//! and its workers with it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use tokengate::{OperationsCoordinator, task_token_guard};
use tokengate_remote::Remote;

#[path = "remote_cluster.rs"]
mod cluster;

/// Blocks hashed, and the size and rounds of each.
const BLOCKS: usize = 400;
const BLOCK_SIZE: usize = 64 << 10;
const ROUNDS: u32 = 8;

/// The broker's failover time, which the caller and its worker hosts share
/// (a coordinator or worker with another one does not start).
const ACK_WAIT: Duration = Duration::from_secs(5);

/// Hashes `block` `rounds` times over; returns the digest and the process
/// that computed it.
#[task_token_guard(
    op = "remote_example_digest",
    weight = "heavy",
    timeout = "30s",
    remote = true
)]
fn digest(block: Vec<u8>, rounds: u32) -> ([u8; 32], u32) {
    (hash(&block, rounds), std::process::id())
}

/// The digest itself, here or on a worker host.
fn hash(block: &[u8], rounds: u32) -> [u8; 32] {
    let mut digest: [u8; 32] = Sha256::digest(block).into();
    for _ in 1..rounds {
        let mut next = Sha256::new();
        next.update(digest);
        next.update(block);
        digest = next.finalize().into();
    }
    digest
}

/// A block that differs per `i`, deterministically.
fn block(i: usize) -> Vec<u8> {
    let mut state = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..BLOCK_SIZE)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

fn main() {
    cluster::serve_if_worker();

    let (url, _server) = cluster::broker();
    println!("broker: {url}");
    let workers: Vec<_> = (0..2)
        .map(|_| cluster::WorkerProcess::start(&url, "default", 2, ACK_WAIT))
        .collect();
    let pids: Vec<u32> = workers.iter().map(cluster::WorkerProcess::pid).collect();
    println!("worker hosts: processes {pids:?}, 2 slots each");

    let coordinator = OperationsCoordinator::builder()
        .remote(Remote::nats(&url).ack_wait(ACK_WAIT).max_in_flight(64))
        .start()
        .expect("the coordinator connects to the broker");

    let blocks: Vec<Vec<u8>> = (0..BLOCKS).map(block).collect();
    let started = Instant::now();
    let tokens: Vec<_> = blocks
        .iter()
        .map(|block| digest(block.clone(), ROUNDS))
        .collect();
    let mut ran_on: BTreeMap<u32, usize> = BTreeMap::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let (digest, pid) = token.wait().expect("every call completes");
        assert_eq!(digest, hash(&blocks[i], ROUNDS), "block {i}'s digest");
        *ran_on.entry(pid).or_default() += 1;
    }
    let elapsed = started.elapsed();

    let mib = (BLOCKS * BLOCK_SIZE) as f64 / f64::from(1 << 20);
    println!(
        "{BLOCKS} blocks of {} KiB, {ROUNDS} rounds each: {:.2?}, {:.0} calls/s, {:.1} MiB/s of \
         arguments",
        BLOCK_SIZE >> 10,
        elapsed,
        BLOCKS as f64 / elapsed.as_secs_f64(),
        mib / elapsed.as_secs_f64()
    );
    for (pid, calls) in &ran_on {
        println!("  worker process {pid}: {calls} calls");
    }
    assert!(
        ran_on.keys().all(|pid| pids.contains(pid)),
        "every call ran in one of the worker processes: {ran_on:?}"
    );
    let remote = coordinator.stats().remote.expect("a remote backend");
    println!(
        "remote: submitted {}, redelivered {}, duplicates dropped {}, in flight {}",
        remote.submitted, remote.redelivered, remote.duplicates_dropped, remote.in_flight
    );
    assert_eq!(remote.submitted, BLOCKS as u64);
    // The worker hosts the caller hears from (their heartbeats).
    for host in &remote.workers {
        println!(
            "  worker host {} (pid {}): pool {}, {}/{} slots busy, {} calls done",
            host.host, host.pid, host.pool, host.busy, host.slots, host.done
        );
    }
    coordinator.stop();
    drop(workers);
}
