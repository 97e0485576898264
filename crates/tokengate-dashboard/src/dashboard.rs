//! [`serve`] and the [`Dashboard`] it returns.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokengate::Handle;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::App;
use crate::{Config, Error, feed, routes};

/// How long [`Dashboard::shutdown`] waits for requests in progress.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Starts a dashboard for the coordinator behind `handle`, as `config` says,
/// and returns once it listens. It serves on the current tokio runtime's
/// tasks until [`Dashboard::shutdown`] (or the [`Dashboard`] is dropped).
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), tokengate_dashboard::Error> {
/// let coordinator = tokengate::OperationsCoordinator::start();
/// let dashboard = tokengate_dashboard::serve(coordinator.handle(), Default::default()).await?;
/// println!("dashboard: {}", dashboard.url()); // http://127.0.0.1:PORT/?token=...
/// # dashboard.shutdown().await; coordinator.stop(); Ok(()) }
/// ```
///
/// # Errors
///
/// A non-loopback address without [`Config::allow_remote`] and a
/// [`Config::token`] ([`Error::is_remote_refused`]), a token that is too
/// weak ([`Error::is_bad_token`]), an address that cannot be bound
/// ([`Error::is_bind`]).
///
/// # Panics
///
/// Panics outside a tokio runtime (with its `net` and `time` drivers
/// enabled, as `#[tokio::main]` has).
pub async fn serve(handle: Handle, config: Config) -> Result<Dashboard, Error> {
    let token = config.resolve_token()?;
    let listener = TcpListener::bind(config.addr())
        .await
        .map_err(|err| Error::bind(config.addr(), err))?;
    let addr = listener
        .local_addr()
        .map_err(|err| Error::bind(config.addr(), err))?;
    let (stop, stopping) = watch::channel(false);
    let app = Arc::new(App {
        handle,
        token: token.clone(),
        cookie: format!("tokengate_dashboard_{}", addr.port()),
        sessions: Default::default(),
        history: Default::default(),
        feed: watch::channel(None).0,
        stopping: stopping.clone(),
    });
    let sampler = tokio::spawn(feed::sample(app.clone()));
    let router = routes::router(app);
    let mut until = stopping;
    let server = tokio::spawn(async move {
        let stopped = async move {
            let _ = until.wait_for(|stop| *stop).await;
        };
        // Accept errors (out of file descriptors, say) are retried inside
        // `serve`; it returns only at shutdown.
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(stopped)
            .await;
    });
    Ok(Dashboard {
        addr,
        token,
        stop,
        server: Some(server),
        sampler: Some(sampler),
    })
}

/// A running dashboard: where it listens, its access token, and the way to
/// stop it.
///
/// # Dropping
///
/// Dropping it stops the dashboard as [`shutdown`](Self::shutdown) does,
/// without waiting: keep it alive (`let _dashboard = ...`) for as long as it
/// should serve.
pub struct Dashboard {
    /// The address it listens on.
    addr: SocketAddr,
    /// The access token.
    token: String,
    /// Set to true to stop.
    stop: watch::Sender<bool>,
    /// The server task (taken by `shutdown`).
    server: Option<JoinHandle<()>>,
    /// The sampler task (taken by `shutdown`).
    sampler: Option<JoinHandle<()>>,
}

impl Dashboard {
    /// The URL to open, with the access token, like Jupyter's:
    /// `http://127.0.0.1:PORT/?token=...`. Opening it exchanges the token
    /// for a session cookie and drops it from the address bar. For a
    /// dashboard listening on all interfaces (`0.0.0.0`), the URL names
    /// the loopback address; replace it with the machine's name.
    pub fn url(&self) -> String {
        let ip = match self.addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        format!(
            "http://{}/?token={}",
            SocketAddr::new(ip, self.addr.port()),
            self.token
        )
    }

    /// The access token: for scripts, send it as `Authorization: Bearer
    /// <token>` (Prometheus: `authorization: {credentials: <token>}`).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The address it listens on (with the port chosen, when the
    /// configuration asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the dashboard: it stops accepting connections, ends the pages'
    /// event streams, and waits up to 5 seconds for requests in progress.
    /// The coordinator is not touched.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(server) = self.server.take() {
            let abort = server.abort_handle();
            if tokio::time::timeout(SHUTDOWN_GRACE, server).await.is_err() {
                abort.abort();
            }
        }
        if let Some(sampler) = self.sampler.take() {
            let _ = sampler.await;
        }
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        self.stop.send_replace(true);
    }
}

impl fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dashboard")
            .field("addr", &self.addr)
            .field("token", &"<redacted>")
            .field("running", &!*self.stop.borrow())
            .finish()
    }
}
