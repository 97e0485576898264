//! A live web dashboard for a [tokengate] coordinator: what runs, what
//! waits, what fails and what is stuck, with the controls to act on it,
//! served on localhost.
//!
//! [tokengate]: tokengate
//!
//! # Watching a coordinator
//!
//! ```no_run
//! use tokengate::OperationsCoordinator;
//! use tokengate_dashboard::{Config, serve};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), tokengate_dashboard::Error> {
//!     let coordinator = OperationsCoordinator::start();
//!     let dashboard = serve(coordinator.handle(), Config::default()).await?;
//!     println!("dashboard: {}", dashboard.url());
//!     // ... make calls; open the URL ...
//!     # let _ = tokengate::spawn("resize", || ()).await;
//!     dashboard.shutdown().await;
//!     coordinator.stop();
//!     Ok(())
//! }
//! ```
//!
//! It prints `http://127.0.0.1:PORT/?token=...`. The page shows, updated
//! every second over server-sent events:
//!
//! - tokens by state, and charts of throughput and run-time latency over the
//!   last five minutes (sampled once a second into a ring on the server, so
//!   a page opened late still sees the past five minutes);
//! - one row per operation: calls, failures, latency, health (its circuit
//!   breaker), paused and blocked flags, with the controls pause, resume,
//!   drain, kill all, block and unblock;
//! - the live calls, oldest first (what is stuck right now), each with a
//!   kill button;
//! - lanes (depth, capacity, oldest wait) and worker threads (busy, the
//!   operation running, mailbox depth);
//! - storage tiers and named limits (running out of cap, waiting), with a
//!   cap editor; streaming maps in progress
//!   ([`Handle::bulk_maps`](tokengate::Handle::bulk_maps): done of total,
//!   failed, in flight); sticky and lead domains; worker processes (pids,
//!   starts, losses); remote calls, when the coordinator has a backend
//!   (broker connection, in flight of the window, redelivered, duplicates
//!   dropped, poison jobs); global pause, resume and drain.
//!
//! The latency chart draws the p50, p95, p99 and mean run time of the calls
//! that ended in the five seconds before each sample. The coordinator's
//! histograms count every call since it started, so the sampler reads their
//! bucket counts (from [`Handle::prometheus_text`](tokengate::Handle::prometheus_text))
//! each second and takes percentiles of the difference, interpolated within
//! power-of-two buckets as Prometheus's `histogram_quantile` does; the mean
//! is exact. The operations table shows each operation's percentiles since
//! start, from [`Handle::stats`](tokengate::Handle::stats) (within 12.5 %).
//!
//! # Endpoints for scripts
//!
//! `GET /metrics` (the Prometheus text exposition format, as
//! [`Handle::prometheus_text`](tokengate::Handle::prometheus_text) renders
//! it), `GET /api/stats` ([`Stats`](tokengate::stats::Stats) as JSON, through
//! tokengate's `serde` feature), `GET /api/live` (the live calls;
//! `?limit=N`), `GET /api/history` (the samples behind the charts), and
//! `POST` controls (`/api/ops/{pause,resume,drain,kill,block,unblock}` with
//! `{"op": "..."}`, `/api/calls/kill` with `{"id": 42}`, `/api/storage/cap`
//! with `{"tier": "FAST", "cap": 80}`, `/api/limits/cap` with `{"name": "db",
//! "cap": 4}`, `/api/admission/{pause,resume,drain}`). Scripts send the token
//! as a header:
//!
//! ```text
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:PORT/api/stats
//! curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:PORT/metrics
//! curl -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
//!      -d '{"op": "resize"}' http://127.0.0.1:PORT/api/ops/pause
//! ```
//!
//! Every failure answers JSON with a 4xx or 5xx status: `{"error": "no
//! operation `resize` has been called on this coordinator", "status": 404}`.
//!
//! # Who may use it
//!
//! The dashboard can pause and kill work, so every endpoint needs the access
//! token, which is generated at start (192 random bits) unless
//! [`Config::token`] supplies one:
//!
//! - a script sends `Authorization: Bearer <token>`;
//! - a browser opens the printed URL once: the token is exchanged for a
//!   session cookie (`HttpOnly`, `SameSite=Strict`) and the page reloads
//!   without it in the address bar;
//! - every control is a `POST` that, from a browser, must also come from the
//!   dashboard's own origin (`Origin`, `Sec-Fetch-Site`) and carry the
//!   session's CSRF token in a header;
//! - the page runs only its own script (a `Content-Security-Policy` without
//!   inline scripts), and writes every operation name and message as text,
//!   never as markup.
//!
//! It listens on `127.0.0.1` unless told otherwise; another address needs
//! [`Config::allow_remote`] and a token of the user's own, and it speaks
//! plain HTTP, so expose it only behind a TLS proxy.
//!
//! # Why axum
//!
//! The server is [axum] on hyper, HTTP/1 only, without axum's default
//! features and without TLS: compared with hyper alone it adds routing,
//! middleware (the access checks wrap every route in one place), server-sent
//! events and graceful shutdown for a handful of small crates (`matchit`,
//! `tower`), all maintained with tokio, which a tokengate program already
//! runs. Every asset (HTML, CSS, JavaScript, no framework, SVG charts) is
//! compiled into the binary: nothing is fetched from a CDN, so it works on a
//! machine without internet.
//!
//! [axum]: https://docs.rs/axum
//!
//! # Features
//!
//! `process` (default): the worker processes' pids (tokengate's `process`
//! feature).

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(no_crate_inject, attr(deny(warnings))))]

mod app;
mod assets;
mod auth;
mod config;
mod control;
mod dashboard;
mod error;
mod feed;
mod history;
mod latency;
mod problem;
mod reply;
mod routes;
mod secret;
mod session;
mod snapshot;

pub use config::Config;
pub use dashboard::{Dashboard, serve};
pub use error::Error;
