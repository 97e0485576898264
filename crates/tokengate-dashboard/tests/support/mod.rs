//! Helpers for the dashboard's tests: a coordinator with a dashboard, calls
//! that run until released or killed, and a small HTTP/1.1 client over a raw
//! TCP stream (so a test can also send what no HTTP library would).
//!
//! Every wait has a generous deadline ([`PATIENCE`]): a bug shows up as a
//! failing assertion, never as a hung test. Nothing asserts on speed.

#![allow(dead_code)] // each test binary uses its own part of these

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokengate::remote::{
    RemoteBackend, RemoteDone, RemoteJob, RemoteOutcome, RemotePermit, RemoteStats, RemoteWorker,
};
use tokengate::{Cancelled, OperationsCoordinator, Task, TaskToken, TokenId, Weight};
use tokengate_dashboard::{Config, Dashboard, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long anything that should happen "soon" may take.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

/// A coordinator (with a named limit `db`) and a dashboard serving it.
pub(crate) async fn start(name: &str) -> (OperationsCoordinator, Dashboard) {
    let coordinator = OperationsCoordinator::builder()
        .thread_name(format!("tg-dash-{name}"))
        .stop_timeout(PATIENCE)
        .limit("db", 3)
        .start()
        .expect("the coordinator starts");
    let dashboard = serve(coordinator.handle(), Config::default())
        .await
        .expect("the dashboard starts");
    (coordinator, dashboard)
}

/// [`start`], with a remote backend whose stats list two worker hosts
/// ([`TwoHosts`]).
pub(crate) async fn start_remote(name: &str) -> (OperationsCoordinator, Dashboard) {
    let coordinator = OperationsCoordinator::builder()
        .thread_name(format!("tg-dash-{name}"))
        .stop_timeout(PATIENCE)
        .limit("db", 3)
        .remote(Arc::new(TwoHosts))
        .start()
        .expect("the coordinator starts");
    let dashboard = serve(coordinator.handle(), Config::default())
        .await
        .expect("the dashboard starts");
    (coordinator, dashboard)
}

/// A remote backend that sends nothing anywhere (its window never has room,
/// and a call handed to it fails as unavailable); its stats list two worker
/// hosts, always the same, for the dashboard's remote panel.
#[derive(Debug)]
pub(crate) struct TwoHosts;

impl RemoteBackend for TwoHosts {
    fn try_reserve(&self) -> Option<RemotePermit> {
        None
    }

    fn when_capacity(&self, _wake: Box<dyn FnOnce() + Send>) {}

    fn submit(&self, _permit: RemotePermit, _job: RemoteJob, on_done: RemoteDone) {
        on_done(RemoteOutcome::Unavailable(
            "the dashboard tests' backend sends nothing".to_owned(),
        ));
    }

    fn kill(&self, _token: TokenId, _attempt: u32) {}

    fn stats(&self) -> RemoteStats {
        let host = |id: &str, host: &str, pid, pool: &str, slots, busy, done, up| {
            let mut worker = RemoteWorker::default();
            worker.id = id.to_owned();
            worker.host = host.to_owned();
            worker.pid = pid;
            worker.pool = pool.to_owned();
            worker.slots = slots;
            worker.busy = busy;
            worker.done = done;
            worker.up = Duration::from_secs(up);
            worker.last_seen = Duration::from_millis(400);
            worker
        };
        let mut a = host("w-a", "box-a", 101, "default", 4, 1, 17, 125);
        a.weights = Weight::ALL.to_vec();
        let mut b = host("w-b", "box-b", 202, "gpu", 8, 0, 3, 3_725);
        b.weights = vec![Weight::Heavy];
        b.sticky = true;
        let mut stats = RemoteStats::default();
        stats.max_in_flight = 16;
        stats.workers = vec![a, b];
        stats
    }

    fn close(&self) {}
}

/// A call of `op` that runs until `release` is set, or it is killed.
pub(crate) fn held(
    coordinator: &OperationsCoordinator,
    op: &'static str,
    release: &Arc<AtomicBool>,
) -> TaskToken<Result<(), Cancelled>> {
    let release = release.clone();
    coordinator.run(|| {
        Task::new(op).spawn(move || {
            while !release.load(Ordering::Relaxed) {
                tokengate::checkpoint()?;
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(())
        })
    })
}

/// Runs one quick call of `op`, so that the coordinator knows the op.
pub(crate) fn call_once(coordinator: &OperationsCoordinator, op: &'static str) {
    coordinator
        .run(|| Task::new(op).spawn(|| ()))
        .wait()
        .expect("a quick call completes");
}

/// Waits until `check` holds, or panics with `what` after [`PATIENCE`].
pub(crate) async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !check() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Reply {
    /// The first header named `name` (case-insensitive).
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("not JSON ({err}): {:?}", self.body))
    }

    /// The `error` of a JSON error body (and checks it is one).
    pub(crate) fn error(&self) -> String {
        assert_eq!(
            self.header("content-type"),
            Some("application/json"),
            "errors are JSON: {self:?}"
        );
        let json = self.json();
        assert_eq!(json["status"], self.status, "{json}");
        json["error"].as_str().expect("an error message").to_owned()
    }
}

/// A request to the dashboard.
#[derive(Clone, Debug)]
pub(crate) struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Request {
    pub(crate) fn get(path: &str) -> Request {
        Request {
            method: "GET".into(),
            path: path.into(),
            headers: Vec::new(),
            body: String::new(),
        }
    }

    pub(crate) fn post(path: &str, json: &str) -> Request {
        Request {
            method: "POST".into(),
            path: path.into(),
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: json.into(),
        }
    }

    pub(crate) fn method(mut self, method: &str) -> Request {
        self.method = method.into();
        self
    }

    pub(crate) fn header(mut self, name: &str, value: &str) -> Request {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }

    pub(crate) fn without(mut self, name: &str) -> Request {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self
    }

    /// With `Authorization: Bearer` and the dashboard's token.
    pub(crate) fn bearer(self, dashboard: &Dashboard) -> Request {
        let value = format!("Bearer {}", dashboard.token());
        self.header("Authorization", &value)
    }

    /// The request's bytes.
    pub(crate) fn bytes(&self, dashboard: &Dashboard) -> Vec<u8> {
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.method,
            self.path,
            dashboard.local_addr()
        );
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", self.body.len()));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(self.body.as_bytes());
        bytes
    }

    /// Sends it and reads the whole answer.
    pub(crate) async fn send(&self, dashboard: &Dashboard) -> Reply {
        let raw = send_raw(dashboard, &self.bytes(dashboard)).await;
        parse(&raw).unwrap_or_else(|| panic!("not an HTTP answer: {raw:?}"))
    }
}

/// Sends `bytes` on a fresh connection and reads until the server closes it.
pub(crate) async fn send_raw(dashboard: &Dashboard, bytes: &[u8]) -> String {
    let read = async {
        let mut stream = TcpStream::connect(dashboard.local_addr())
            .await
            .expect("connects");
        stream.write_all(bytes).await.expect("sends");
        let mut raw = Vec::new();
        // A server may close without reading all we sent (a reset): what it
        // answered before that still counts.
        let _ = stream.read_to_end(&mut raw).await;
        String::from_utf8_lossy(&raw).into_owned()
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("the dashboard answers and closes the connection")
}

/// Parses an HTTP/1.1 answer (content-length or chunked body).
pub(crate) fn parse(raw: &str) -> Option<Reply> {
    let (head, rest) = raw.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked {
        unchunk(rest)
    } else {
        rest.to_owned()
    };
    Some(Reply {
        status,
        headers,
        body,
    })
}

fn unchunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            body.push_str(&after[..size.min(after.len())]);
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}

/// Opens a session the way a browser does: the URL with the token, then the
/// cookie from the redirect. Returns the `Cookie` header value and the
/// session's CSRF token.
pub(crate) async fn browser_session(dashboard: &Dashboard) -> (String, String) {
    let login = Request::get(&format!("/?token={}", dashboard.token()))
        .send(dashboard)
        .await;
    assert_eq!(login.status, 303, "{login:?}");
    let set_cookie = login.header("set-cookie").expect("a session cookie");
    let cookie = set_cookie.split(';').next().unwrap().to_owned();
    let session = Request::get("/api/session")
        .header("Cookie", &cookie)
        .send(dashboard)
        .await;
    assert_eq!(session.status, 200, "{session:?}");
    let csrf = session.json()["csrf"]
        .as_str()
        .expect("a CSRF token")
        .to_owned();
    (cookie, csrf)
}

/// A control as the page sends it: the cookie, the CSRF token, the origin.
pub(crate) fn from_page(
    request: Request,
    dashboard: &Dashboard,
    cookie: &str,
    csrf: &str,
) -> Request {
    let origin = format!("http://{}", dashboard.local_addr());
    request
        .header("Cookie", cookie)
        .header("X-CSRF-Token", csrf)
        .header("Origin", &origin)
        .header("Sec-Fetch-Site", "same-origin")
}
