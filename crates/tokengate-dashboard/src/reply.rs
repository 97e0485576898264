//! JSON answers.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::problem::Problem;

/// `value` as a `200 OK` JSON answer.
pub(crate) fn json<T: Serialize + ?Sized>(value: &T) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => {
            let mut response = (StatusCode::OK, body).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(err) => Problem::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("could not encode the answer as JSON: {err}"),
        )
        .into_response(),
    }
}
