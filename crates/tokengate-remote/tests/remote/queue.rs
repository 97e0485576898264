//! What the broker holds, read with a client of the test's own: the jobs
//! stream's queued and unacknowledged jobs, and the results stream's
//! messages. Shared by the `remote` and `attribute` tests.

use std::time::{Duration, Instant};

use async_nats::jetstream;

use crate::server::NatsServer;

/// How long a look at the broker may take.
const PATIENCE: Duration = Duration::from_secs(20);

/// What the broker holds: queued jobs, and jobs delivered but not acked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Queue {
    pub(crate) messages: u64,
    pub(crate) ack_pending: u64,
}

/// Reads the jobs stream's state and its consumers' pending acks.
pub(crate) fn jobs_queue(server: &NatsServer) -> Queue {
    jobs_queue_in(server, "TG_JOBS")
}

/// [`jobs_queue`] of the jobs stream `stream` (another namespace's).
pub(crate) fn jobs_queue_in(server: &NatsServer, stream: &str) -> Queue {
    run_async(async {
        let client = async_nats::connect(server.url()).await.expect("connects");
        let js = jetstream::new(client);
        let mut stream = js.get_stream(stream).await.expect("the jobs stream");
        let messages = stream.info().await.expect("stream info").state.messages;
        let mut ack_pending = 0;
        let mut names = stream.consumer_names();
        use futures::StreamExt;
        while let Some(Ok(name)) = names.next().await {
            let info = stream.consumer_info(&name).await.expect("consumer info");
            ack_pending += info.num_ack_pending as u64;
        }
        Queue {
            messages,
            ack_pending,
        }
    })
}

/// Messages in the results stream.
pub(crate) fn results_left(server: &NatsServer) -> u64 {
    run_async(async {
        let client = async_nats::connect(server.url()).await.expect("connects");
        let js = jetstream::new(client);
        let mut stream = js
            .get_stream("TG_RESULTS")
            .await
            .expect("the results stream");
        stream.info().await.expect("stream info").state.messages
    })
}

/// The names of the streams the server holds, sorted.
pub(crate) fn stream_names(server: &NatsServer) -> Vec<String> {
    run_async(async {
        use futures::StreamExt;
        let client = async_nats::connect(server.url()).await.expect("connects");
        let js = jetstream::new(client);
        let mut names: Vec<String> = js
            .stream_names()
            .filter_map(|name| async move { name.ok() })
            .collect()
            .await;
        names.sort();
        names
    })
}

/// Waits until the jobs stream holds nothing: no job queued, none delivered
/// and unacked.
#[track_caller]
pub(crate) fn wait_until_queue_empty(server: &NatsServer) {
    wait_until_queue_empty_in(server, "TG_JOBS");
}

/// [`wait_until_queue_empty`] for the jobs stream `stream`.
#[track_caller]
pub(crate) fn wait_until_queue_empty_in(server: &NatsServer, stream: &str) {
    let empty = Queue {
        messages: 0,
        ack_pending: 0,
    };
    let deadline = Instant::now() + PATIENCE;
    loop {
        let queue = jobs_queue_in(server, stream);
        if queue == empty {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the jobs stream still holds {queue:?} after {PATIENCE:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn run_async<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(async {
            tokio::time::timeout(PATIENCE, future)
                .await
                .expect("the broker answers within PATIENCE")
        })
}
