//! Who may use the dashboard: the access-token check in front of every
//! endpoint, the exchange of the URL's token for a session cookie, and the
//! CSRF checks in front of every control.
//!
//! A request is let through when it carries
//! - `Authorization: Bearer <token>` (scripts, Prometheus): no cookie is
//!   involved, so no CSRF check either, since a browser never adds that
//!   header by itself; or
//! - the session cookie (the page). Then every request other than `GET` or
//!   `HEAD` must also come from the dashboard's own origin (`Origin` equal to
//!   the `Host` it was sent to, `Sec-Fetch-Site: same-origin` where the
//!   browser sends it) and carry the session's CSRF token in `X-CSRF-Token`,
//!   which only a page of the dashboard's origin can read (`/api/session`).
//!   The cookie is `SameSite=Strict` as well, so a cross-site request does
//!   not even carry it.
//!
//! A `GET` whose query has `token=<token>` opens a session: the answer sets
//! the cookie and redirects to the same URL without the token, so the token
//! leaves the address bar and the browser's history.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::app::App;
use crate::problem::Problem;
use crate::secret;

/// The header a control carries the session's CSRF token in.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// How a request was let in.
#[derive(Clone, Debug)]
pub(crate) enum Via {
    /// `Authorization: Bearer`.
    Header,
    /// The session cookie; the session's CSRF token.
    Cookie { csrf: String },
}

/// The middleware in front of every endpoint.
pub(crate) async fn guard(
    State(app): State<Arc<App>>,
    mut request: Request,
    next: Next,
) -> Response {
    let via = match admit(&app, &request) {
        Ok(Admit::Via(via)) => via,
        Ok(Admit::Exchange { location }) => return exchange(&app, &location),
        Err(problem) => return problem.into_response(),
    };
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    if let (false, Via::Cookie { csrf }) = (reads, &via) {
        if let Err(problem) = same_origin(request.headers(), csrf) {
            return problem.into_response();
        }
    }
    request.extensions_mut().insert(via);
    next.run(request).await
}

enum Admit {
    Via(Via),
    /// A valid token in the query: open a session, go to `location`.
    Exchange {
        location: String,
    },
}

fn admit(app: &App, request: &Request) -> Result<Admit, Problem> {
    let headers = request.headers();
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let given = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        return match given {
            Some(given) if secret::same(given, &app.token) => Ok(Admit::Via(Via::Header)),
            Some(_) => Err(Problem::unauthorized(
                "wrong access token in the `Authorization` header",
            )),
            None => Err(Problem::unauthorized(
                "the `Authorization` header must be `Bearer <token>`",
            )),
        };
    }
    let reads = matches!(*request.method(), Method::GET | Method::HEAD);
    if let (true, Some(given)) = (reads, query_token(request.uri().query())) {
        if !secret::same(given, &app.token) {
            return Err(Problem::unauthorized(
                "wrong access token in the URL; open the URL the dashboard printed at start",
            ));
        }
        return Ok(Admit::Exchange {
            location: clean_location(request.uri().path(), request.uri().query()),
        });
    }
    if let Some(id) = cookie(headers, &app.cookie) {
        return match app.sessions.find(id) {
            Some(session) => Ok(Admit::Via(Via::Cookie { csrf: session.csrf })),
            None => Err(Problem::unauthorized(
                "this session has ended (the dashboard restarted, or too many sessions were \
                 opened); open the URL with the token again",
            )),
        };
    }
    Err(Problem::unauthorized(
        "this dashboard needs its access token: open the URL it printed at start \
         (`http://HOST:PORT/?token=...`), or send `Authorization: Bearer <token>`",
    ))
}

/// Opens a session and redirects to `location` with its cookie.
fn exchange(app: &App, location: &str) -> Response {
    let session = match app.sessions.open() {
        Ok(session) => session,
        Err(err) => {
            return Problem::new(StatusCode::INTERNAL_SERVER_ERROR, err.to_string())
                .into_response();
        }
    };
    let cookie = format!(
        "{}={}; Path=/; HttpOnly; SameSite=Strict",
        app.cookie, session.id
    );
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    // The cookie is a name of the dashboard's and hex; the location is the
    // request's own (already percent-encoded) path and query.
    if let Ok(cookie) = HeaderValue::from_str(&cookie) {
        headers.insert(header::SET_COOKIE, cookie);
    }
    let location = HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/"));
    headers.insert(header::LOCATION, location);
    response
}

/// The value of the `token` query parameter, if any.
fn query_token(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
}

/// Where to redirect after the exchange: the same path and query, without
/// the token. A path that a browser could read as another host (`//host`,
/// backslashes) becomes `/`.
fn clean_location(path: &str, query: Option<&str>) -> String {
    let path = if path.starts_with('/') && !path.starts_with("//") && !path.contains('\\') {
        path
    } else {
        "/"
    };
    let rest: Vec<&str> = query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("token="))
        .collect();
    if rest.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", rest.join("&"))
    }
}

/// The value of cookie `name`, from any `Cookie` header.
fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key == name).then_some(value)
        })
}

/// The CSRF checks for a cookie-authenticated control.
fn same_origin(headers: &HeaderMap, csrf: &str) -> Result<(), Problem> {
    let text = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(site) = text(header::HeaderName::from_static("sec-fetch-site")) {
        if site != "same-origin" {
            return Err(Problem::forbidden(format!(
                "controls are accepted only from the dashboard's own page (this request came \
                 from a `{site}` context)"
            )));
        }
    }
    let host = text(header::HOST).unwrap_or("");
    let origin = text(header::ORIGIN).unwrap_or("");
    let origin_host = origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"));
    if host.is_empty() || origin_host != Some(host) {
        return Err(Problem::forbidden(
            "controls are accepted only from the dashboard's own page (the `Origin` header \
             is missing or names another site)",
        ));
    }
    match text(header::HeaderName::from_static(CSRF_HEADER)) {
        Some(given) if secret::same(given, csrf) => Ok(()),
        Some(_) => Err(Problem::forbidden(
            "wrong CSRF token; reload the page (scripts: use `Authorization: Bearer <token>`)",
        )),
        None => Err(Problem::forbidden(
            "a control needs the session's CSRF token in the `X-CSRF-Token` header \
             (scripts: use `Authorization: Bearer <token>`)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_drop_the_token_and_stay_on_this_host() {
        assert_eq!(clean_location("/", Some("token=abc")), "/");
        assert_eq!(
            clean_location("/api/stats", Some("a=1&token=abc&b=2")),
            "/api/stats?a=1&b=2"
        );
        assert_eq!(clean_location("//evil.example/", Some("token=abc")), "/");
        assert_eq!(clean_location("/\\evil.example", None), "/");
    }

    #[test]
    fn query_and_cookie_parsing() {
        assert_eq!(query_token(Some("x=1&token=abc")), Some("abc"));
        assert_eq!(query_token(Some("tokens=abc")), None);
        assert_eq!(query_token(None), None);
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; tg_1=xyz"));
        assert_eq!(cookie(&headers, "tg_1"), Some("xyz"));
        assert_eq!(cookie(&headers, "tg"), None);
    }
}
