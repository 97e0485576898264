//! The controls: `POST` endpoints that pause, resume, drain, kill, block and
//! unblock operations, kill single calls, and change caps. Each takes a small
//! JSON body and answers JSON: what it did (`message`, and `count` where the
//! coordinator says how many calls it touched), or a [`Problem`] with a 4xx
//! status for a body that does not parse, an unknown operation, call, tier or
//! limit.
//!
//! The access checks (token, CSRF) run before these, in [`crate::auth`].

use std::str::FromStr;
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokengate::{StorageSpeed, TokenId};

use crate::app::App;
use crate::problem::Problem;
use crate::reply;

/// The most bytes a control's body may have; they need a few dozen.
const MAX_BODY: usize = 16 * 1024;

/// What a control did.
#[derive(Debug, Serialize)]
struct Done<'a> {
    /// What was done, in words.
    message: String,
    /// How many calls it touched, where the coordinator says.
    count: Option<usize>,
    /// The operation, call, tier or limit it acted on.
    target: &'a str,
}

fn done(target: &str, message: String, count: Option<usize>) -> Response {
    reply::json(&Done {
        message,
        count,
        target,
    })
}

/// Reads a JSON body of shape `T`; `shape` shows it in the error message.
async fn read_json<T: DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    shape: &str,
) -> Result<T, Problem> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("application/json"));
    if !json {
        return Err(Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("send the body as `Content-Type: application/json`, like {shape}"),
        ));
    }
    let bytes = to_bytes(body, MAX_BODY).await.map_err(|_| {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over {MAX_BODY} bytes; a control's body is like {shape}"),
        )
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|err| Problem::bad_request(format!("malformed body ({err}); expected {shape}")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpBody {
    op: String,
}

/// The operation actions, as the URL names them.
const OP_ACTIONS: [&str; 6] = ["pause", "resume", "drain", "kill", "block", "unblock"];

/// `POST /api/ops/{action}` with `{"op": "..."}`.
pub(crate) async fn op(
    State(app): State<Arc<App>>,
    Path(action): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    if !OP_ACTIONS.contains(&action.as_str()) {
        return Err(Problem::not_found(format!(
            "no operation action `{action}`; the actions are {}",
            OP_ACTIONS.map(|a| format!("`{a}`")).join(", ")
        )));
    }
    let OpBody { op } = read_json(&headers, body, r#"{"op": "resize"}"#).await?;
    let handle = &app.handle;
    let known = handle.stats().op(&op).is_some() || handle.blocked_operations().contains(&op);
    if !known {
        return Err(Problem::not_found(format!(
            "no operation `{op}` has been called on this coordinator"
        )));
    }
    Ok(match action.as_str() {
        "pause" => {
            handle.pause_operation(&op);
            done(&op, format!("paused `{op}`: its new calls wait"), None)
        }
        "resume" => {
            let n = handle.resume_operation(&op);
            done(
                &op,
                format!("resumed `{op}`: released {n} held calls"),
                Some(n),
            )
        }
        "drain" => {
            let n = handle.drain_operation(&op);
            done(
                &op,
                format!("drained `{op}`: killed {n} waiting calls"),
                Some(n),
            )
        }
        "kill" => {
            let n = handle.kill_all_by_operation(&op);
            done(&op, format!("killed {n} calls of `{op}`"), Some(n))
        }
        "block" => {
            handle.block_operation(&op);
            done(
                &op,
                format!("blocked `{op}`: its new calls fail at once"),
                None,
            )
        }
        _ => {
            let message = match handle.unblock_operation(&op) {
                true => format!("unblocked `{op}`"),
                false => format!("`{op}` was not blocked"),
            };
            done(&op, message, None)
        }
    })
}

/// A token id, as a JSON number or a string of digits (JavaScript numbers
/// lose precision past 2⁵³).
#[derive(Deserialize)]
#[serde(untagged)]
enum Id {
    Number(u64),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CallBody {
    id: Id,
}

/// `POST /api/calls/kill` with `{"id": 42}`.
pub(crate) async fn kill_call(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let CallBody { id } = read_json(&headers, body, r#"{"id": 42}"#).await?;
    let id = match id {
        Id::Number(n) => TokenId::from(n),
        Id::Text(text) => TokenId::from_str(text.trim()).map_err(|_| {
            Problem::bad_request(format!("`{text}` is not a token id (a whole number)"))
        })?,
    };
    if !app.handle.kill_token(id) {
        return Err(Problem::not_found(format!(
            "no live call has id {id} (it may have finished already)"
        )));
    }
    Ok(done(&id.to_string(), format!("killed call {id}"), Some(1)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TierBody {
    tier: String,
    cap: u32,
}

/// `POST /api/storage/cap` with `{"tier": "FAST", "cap": 80}`.
pub(crate) async fn storage_cap(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let shape = r#"{"tier": "FAST", "cap": 80}"#;
    let TierBody { tier, cap } = read_json(&headers, body, shape).await?;
    let speed = StorageSpeed::from_str(&tier).map_err(|err| Problem::not_found(err.to_string()))?;
    app.handle.set_storage_cap(speed, cap as usize);
    Ok(done(
        speed.as_str(),
        format!("storage tier {speed} now runs at most {cap} calls at once"),
        None,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitBody {
    name: String,
    cap: u32,
}

/// `POST /api/limits/cap` with `{"name": "db", "cap": 4}`. Only limits the
/// coordinator has: the dashboard changes caps, it does not make limits.
pub(crate) async fn limit_cap(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Problem> {
    let shape = r#"{"name": "db", "cap": 4}"#;
    let LimitBody { name, cap } = read_json(&headers, body, shape).await?;
    if app.handle.stats().limit(&name).is_none() {
        return Err(Problem::not_found(format!(
            "this coordinator has no limit named `{name}`"
        )));
    }
    app.handle.set_limit(&name, cap as usize);
    Ok(done(
        &name,
        format!("limit `{name}` now lets at most {cap} calls run at once"),
        None,
    ))
}

/// `POST /api/admission/{action}`: `pause`, `resume` or `drain`, for all
/// operations at once.
pub(crate) async fn admission(
    State(app): State<Arc<App>>,
    Path(action): Path<String>,
) -> Result<Response, Problem> {
    let handle = &app.handle;
    Ok(match action.as_str() {
        "pause" => {
            handle.pause_admission();
            done("admission", "paused admission: new calls wait".into(), None)
        }
        "resume" => {
            handle.resume_admission();
            done("admission", "resumed admission".into(), None)
        }
        "drain" => {
            let n = handle.drain_pool();
            done("admission", format!("killed {n} waiting calls"), Some(n))
        }
        _ => {
            return Err(Problem::not_found(format!(
                "no admission action `{action}`; the actions are `pause`, `resume`, `drain`"
            )));
        }
    })
}
