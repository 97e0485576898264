//! [`Problem`]: an error answer, always JSON (`{"error": "...", "status":
//! 400}`), so scripts and the page read every failure the same way; and the
//! layer that turns the framework's own plain-text rejections into the same
//! shape.

use axum::body::{Body, to_bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The largest error body the JSON layer reads back to rewrite.
const MAX_REWRITTEN: usize = 16 * 1024;

/// An error answer: a status and a message that says what to do.
#[derive(Debug)]
pub(crate) struct Problem {
    status: StatusCode,
    message: String,
}

impl Problem {
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> Problem {
        Problem {
            status,
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::BAD_REQUEST, message)
    }

    pub(crate) fn unauthorized(message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::UNAUTHORIZED, message)
    }

    pub(crate) fn forbidden(message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::FORBIDDEN, message)
    }

    pub(crate) fn not_found(message: impl Into<String>) -> Problem {
        Problem::new(StatusCode::NOT_FOUND, message)
    }
}

#[derive(Serialize)]
struct Shape<'a> {
    error: &'a str,
    status: u16,
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = serde_json::to_string(&Shape {
            error: &self.message,
            status: self.status.as_u16(),
        })
        .unwrap_or_else(|_| String::from(r#"{"error":"unprintable error"}"#));
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tokengate-dashboard\""),
            );
        }
        response
    }
}

/// The fallback for paths the dashboard does not serve.
pub(crate) async fn no_such_path() -> Problem {
    Problem::not_found(
        "no such page or endpoint; the dashboard serves `/`, `/api/stats`, `/api/live`, \
         `/api/history`, `/api/events` and `/metrics`",
    )
}

/// The fallback for a known path asked with the wrong method.
pub(crate) async fn wrong_method() -> Problem {
    Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "wrong method for this endpoint: pages and data are `GET`, controls are `POST`",
    )
}

/// Rewrites an error answer that is not JSON yet (the framework's own
/// rejections: a path that does not decode, a body too large) as a
/// [`Problem`] with the same status and message.
pub(crate) async fn as_json(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body): (_, Body) = response.into_parts();
    let text = to_bytes(body, MAX_REWRITTEN).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let message = match text.trim() {
        "" => status.canonical_reason().unwrap_or("error").to_lowercase(),
        text => text.to_owned(),
    };
    let (json, body) = Problem::new(status, message).into_response().into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.extend(json.headers);
    Response::from_parts(parts, body)
}
