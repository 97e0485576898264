//! The dashboard's endpoints, and the layers every answer passes through.
//!
//! | method | path | what |
//! |---|---|---|
//! | `GET` | `/` (`/app.js`, `/app.css`, `/icon.svg`) | the page |
//! | `GET` | `/api/events` | server-sent events: `history`, then a `snapshot` a second |
//! | `GET` | `/api/stats` | [`Stats`](tokengate::stats::Stats) as JSON |
//! | `GET` | `/api/live` | [`LiveCall`](tokengate::stats::LiveCall)s as JSON, oldest first (`?limit=N`) |
//! | `GET` | `/api/history` | the last five minutes of one-second samples |
//! | `GET` | `/api/session` | the session's CSRF token, for the page |
//! | `GET` | `/metrics` | [`Handle::prometheus_text`](tokengate::Handle::prometheus_text) |
//! | `POST` | `/api/ops/{pause,resume,drain,kill,block,unblock}` | `{"op": "..."}` |
//! | `POST` | `/api/calls/kill` | `{"id": 42}` |
//! | `POST` | `/api/storage/cap` | `{"tier": "FAST", "cap": 80}` |
//! | `POST` | `/api/limits/cap` | `{"name": "db", "cap": 4}` |
//! | `POST` | `/api/admission/{pause,resume,drain}` | every operation at once |

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{from_fn_with_state, map_response};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Router};

use crate::app::App;
use crate::auth::{self, Via};
use crate::problem::{self, Problem};
use crate::{assets, control, feed, reply};

/// What the page may load and where it may connect: only the dashboard
/// itself. No inline script runs, even one injected into the page.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; \
    form-action 'none'; frame-ancestors 'none'";

/// The router, with the access checks in front of every endpoint.
pub(crate) fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/", get(assets::index))
        .route("/app.js", get(assets::script))
        .route("/app.css", get(assets::style))
        .route("/icon.svg", get(assets::icon))
        .route("/api/events", get(feed::events))
        .route("/api/stats", get(stats))
        .route("/api/live", get(live))
        .route("/api/history", get(history))
        .route("/api/session", get(session))
        .route("/metrics", get(metrics))
        .route("/api/ops/{action}", post(control::op))
        .route("/api/calls/kill", post(control::kill_call))
        .route("/api/storage/cap", post(control::storage_cap))
        .route("/api/limits/cap", post(control::limit_cap))
        .route("/api/admission/{action}", post(control::admission))
        .fallback(problem::no_such_path)
        .method_not_allowed_fallback(problem::wrong_method)
        .layer(from_fn_with_state(app.clone(), auth::guard))
        .layer(map_response(finish))
        .with_state(app)
}

/// The last layer: errors as JSON, and headers that keep the page from being
/// framed, sniffed, cached, or leaking its URL.
async fn finish(response: Response) -> Response {
    let mut response = problem::as_json(response).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /api/stats`.
async fn stats(State(app): State<Arc<App>>) -> Response {
    reply::json(&app.handle.stats())
}

/// `GET /api/live?limit=N`: the live calls, oldest first (all of them
/// without `limit`).
async fn live(State(app): State<Arc<App>>, RawQuery(query): RawQuery) -> Result<Response, Problem> {
    let limit = match query
        .as_deref()
        .unwrap_or("")
        .split('&')
        .find_map(|p| p.strip_prefix("limit="))
    {
        None => usize::MAX,
        Some(text) => text.parse().map_err(|_| {
            Problem::bad_request(format!(
                "`limit={text}` is not a count of calls; use `?limit=100`"
            ))
        })?,
    };
    let handle = app.handle.clone();
    // One pass over every live call: off the runtime's async threads.
    let calls = tokio::task::spawn_blocking(move || {
        let mut calls = handle.live_calls();
        calls.truncate(limit);
        calls
    })
    .await
    .map_err(|err| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()))?;
    Ok(reply::json(&calls))
}

/// `GET /metrics`: the Prometheus text exposition format.
async fn metrics(State(app): State<Arc<App>>) -> Result<Response, Problem> {
    let handle = app.handle.clone();
    let text = tokio::task::spawn_blocking(move || handle.prometheus_text())
        .await
        .map_err(|err| Problem::new(StatusCode::INTERNAL_SERVER_ERROR, err.to_string()))?;
    let mut response = text.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

/// `GET /api/history`.
async fn history(State(app): State<Arc<App>>) -> Response {
    reply::json(&app.history.samples())
}

/// `GET /api/session`: the CSRF token of the cookie's session (`null` for a
/// request authorized by header, which needs none).
async fn session(Extension(via): Extension<Via>) -> Response {
    let csrf = match via {
        Via::Cookie { csrf } => Some(csrf),
        Via::Header => None,
    };
    reply::json(&serde_json::json!({ "csrf": csrf, "csrf_header": auth::CSRF_HEADER }))
}
