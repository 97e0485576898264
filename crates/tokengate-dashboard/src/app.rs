//! [`App`]: what every request handler and the sampler share.

use std::sync::Arc;

use tokengate::Handle;
use tokio::sync::watch;

use crate::history::History;
use crate::session::Sessions;

/// The dashboard's state, shared by its handlers (as axum `State`) and its
/// sampler task.
#[derive(Debug)]
pub(crate) struct App {
    /// The coordinator watched and administered.
    pub(crate) handle: Handle,
    /// The access token.
    pub(crate) token: String,
    /// The session cookie's name: it carries the port, since browsers share
    /// cookies between the ports of one host, and two dashboards on one
    /// machine must not overwrite each other's sessions.
    pub(crate) cookie: String,
    /// Browser sessions.
    pub(crate) sessions: Sessions,
    /// The last five minutes of one-second samples.
    pub(crate) history: History,
    /// The latest snapshot, as JSON, for the page's event stream (`None`
    /// before the first tick).
    pub(crate) feed: watch::Sender<Option<Arc<str>>>,
    /// Turns true when the dashboard shuts down: event streams end then, so
    /// the server's graceful shutdown does not wait on them.
    pub(crate) stopping: watch::Receiver<bool>,
}
