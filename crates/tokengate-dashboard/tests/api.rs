//! The dashboard's HTTP surface without a browser: access checks (token,
//! cookie exchange, CSRF), every control and its effect on the coordinator,
//! the JSON endpoints and the event stream, and answers to requests that are
//! wrong (unknown operations and ids, malformed JSON, malformed HTTP).

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use support::{
    PATIENCE, Request, browser_session, call_once, eventually, from_page, held, send_raw, start,
    start_remote,
};
use tokengate::{StorageSpeed, Task, TokenState};
use tokengate_dashboard::{Config, serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_needs_the_token() {
    let (coordinator, dashboard) = start("token").await;
    let paths = [
        "/",
        "/app.js",
        "/app.css",
        "/api/stats",
        "/api/live",
        "/api/history",
        "/api/session",
        "/api/events",
        "/metrics",
        "/no/such/page",
    ];
    for path in paths {
        let missing = Request::get(path).send(&dashboard).await;
        assert_eq!(missing.status, 401, "{path}: {missing:?}");
        assert!(missing.error().contains("access token"), "{path}");
        assert!(missing.header("www-authenticate").is_some(), "{path}");
        let wrong = Request::get(path)
            .header("Authorization", "Bearer 0123456789abcdef0123456789abcdef")
            .send(&dashboard)
            .await;
        assert_eq!(wrong.status, 401, "{path}: {wrong:?}");
        let wrong_query = Request::get(&format!("{path}?token=guess"))
            .send(&dashboard)
            .await;
        assert_eq!(wrong_query.status, 401, "{path}: {wrong_query:?}");
    }
    let not_bearer = Request::get("/api/stats")
        .header("Authorization", &format!("Basic {}", dashboard.token()))
        .send(&dashboard)
        .await;
    assert_eq!(not_bearer.status, 401);
    let control = Request::post("/api/ops/pause", r#"{"op": "x"}"#)
        .send(&dashboard)
        .await;
    assert_eq!(control.status, 401, "{control:?}");
    let stale_cookie = Request::get("/")
        .header(
            "Cookie",
            &format!("tokengate_dashboard_{}=f00d", dashboard.local_addr().port()),
        )
        .send(&dashboard)
        .await;
    assert_eq!(stale_cookie.status, 401);
    assert!(stale_cookie.error().contains("session has ended"));

    let ok = Request::get("/api/stats")
        .bearer(&dashboard)
        .send(&dashboard)
        .await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.json()["tokens"]["submitted"], 0);
    // The answers forbid framing, sniffing, caching and inline scripts.
    assert_eq!(ok.header("x-frame-options"), Some("DENY"));
    assert_eq!(ok.header("cache-control"), Some("no-store"));
    assert!(
        ok.header("content-security-policy")
            .unwrap()
            .contains("script-src 'self'")
    );
    dashboard.shutdown().await;
    coordinator.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_url_token_is_exchanged_for_a_session_cookie() {
    let (coordinator, dashboard) = start("cookie").await;
    let url = dashboard.url();
    let addr = dashboard.local_addr();
    assert_eq!(url, format!("http://{addr}/?token={}", dashboard.token()));
    assert!(addr.ip().is_loopback());

    let login = Request::get(&format!("/?token={}", dashboard.token()))
        .send(&dashboard)
        .await;
    assert_eq!(login.status, 303, "{login:?}");
    assert_eq!(
        login.header("location"),
        Some("/"),
        "the token leaves the URL"
    );
    let cookie = login.header("set-cookie").unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        cookie.starts_with(&format!("tokengate_dashboard_{}=", addr.port())),
        "{cookie}"
    );
    assert!(
        !cookie.contains(dashboard.token()),
        "the cookie is not the token"
    );

    // Other query parameters survive; the path stays on this host.
    let deep = Request::get(&format!("/api/live?limit=1&token={}", dashboard.token()))
        .send(&dashboard)
        .await;
    assert_eq!(deep.header("location"), Some("/api/live?limit=1"));
    let sneaky = Request::get(&format!("//evil.example/?token={}", dashboard.token()))
        .send(&dashboard)
        .await;
    assert_eq!(sneaky.header("location"), Some("/"));

    let (cookie, csrf) = browser_session(&dashboard).await;
    let page = Request::get("/")
        .header("Cookie", &cookie)
        .send(&dashboard)
        .await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.body.contains("<script src=\"/app.js\""));
    let script = Request::get("/app.js")
        .header("Cookie", &cookie)
        .send(&dashboard)
        .await;
    assert_eq!(script.status, 200);
    assert!(script.body.contains("EventSource"));
    // No asset comes from elsewhere.
    for asset in [&page.body, &script.body] {
        assert!(!asset.contains("https://"), "an external URL in an asset");
    }
    // Scripts' header access needs no session, so it has no CSRF token.
    let header_session = Request::get("/api/session")
        .bearer(&dashboard)
        .send(&dashboard)
        .await;
    assert!(header_session.json()["csrf"].is_null());
    assert!(!csrf.is_empty());
    dashboard.shutdown().await;
    coordinator.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controls_from_a_browser_need_the_csrf_token_and_the_same_origin() {
    let (coordinator, dashboard) = start("csrf").await;
    call_once(&coordinator, "export");
    let (cookie, csrf) = browser_session(&dashboard).await;
    let pause = Request::post("/api/ops/pause", r#"{"op": "export"}"#);
    let origin = format!("http://{}", dashboard.local_addr());

    let refused = [
        (
            "no CSRF token",
            from_page(pause.clone(), &dashboard, &cookie, &csrf).without("X-CSRF-Token"),
        ),
        (
            "a wrong CSRF token",
            from_page(pause.clone(), &dashboard, &cookie, "f00d"),
        ),
        (
            "the token of no session",
            from_page(pause.clone(), &dashboard, &cookie, dashboard.token()),
        ),
        (
            "no Origin",
            from_page(pause.clone(), &dashboard, &cookie, &csrf).without("Origin"),
        ),
        (
            "another Origin",
            from_page(pause.clone(), &dashboard, &cookie, &csrf)
                .header("Origin", "http://evil.example"),
        ),
        (
            "a cross-site fetch",
            from_page(pause.clone(), &dashboard, &cookie, &csrf)
                .header("Sec-Fetch-Site", "cross-site"),
        ),
        (
            "a same-site (other port) fetch",
            from_page(pause.clone(), &dashboard, &cookie, &csrf)
                .header("Sec-Fetch-Site", "same-site"),
        ),
    ];
    for (what, request) in refused {
        let reply = request.send(&dashboard).await;
        assert_eq!(reply.status, 403, "{what}: {reply:?}");
        assert!(!reply.error().is_empty());
        assert!(
            !coordinator.stats().op("export").unwrap().paused,
            "{what} paused it"
        );
    }
    let accepted = from_page(pause, &dashboard, &cookie, &csrf)
        .send(&dashboard)
        .await;
    assert_eq!(accepted.status, 200, "{accepted:?}");
    assert!(coordinator.stats().op("export").unwrap().paused);
    assert_eq!(origin, format!("http://{}", dashboard.local_addr()));
    // Reads need no CSRF token.
    let read = Request::get("/api/stats")
        .header("Cookie", &cookie)
        .send(&dashboard)
        .await;
    assert_eq!(read.status, 200);
    dashboard.shutdown().await;
    coordinator.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_control_acts_on_the_coordinator() {
    let (coordinator, dashboard) = start("controls").await;
    let release = Arc::new(AtomicBool::new(false));
    let post = |path: &str, body: &str| Request::post(path, body).bearer(&dashboard);

    // pause, then calls wait; resume releases them.
    call_once(&coordinator, "report");
    let reply = post("/api/ops/pause", r#"{"op": "report"}"#)
        .send(&dashboard)
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.json()["message"].as_str().unwrap().contains("paused"));
    assert!(coordinator.stats().op("report").unwrap().paused);
    let waiting = coordinator.run(|| Task::new("report").spawn(|| 7));
    eventually("the paused call to be held", || {
        coordinator.stats().op("report").unwrap().held == 1
    })
    .await;
    let reply = post("/api/ops/resume", r#"{"op": "report"}"#)
        .send(&dashboard)
        .await;
    assert_eq!(reply.json()["count"], 1, "{reply:?}");
    assert_eq!(
        tokio::task::spawn_blocking(move || waiting.wait())
            .await
            .unwrap()
            .unwrap(),
        7
    );
    assert!(!coordinator.stats().op("report").unwrap().paused);

    // drain kills what waits.
    post("/api/ops/pause", r#"{"op": "report"}"#)
        .send(&dashboard)
        .await;
    let drained = coordinator.run(|| Task::new("report").spawn(|| 1));
    eventually("the call to be held", || {
        coordinator.stats().op("report").unwrap().held == 1
    })
    .await;
    let reply = post("/api/ops/drain", r#"{"op": "report"}"#)
        .send(&dashboard)
        .await;
    assert_eq!(reply.json()["count"], 1, "{reply:?}");
    assert!(drained.wait().unwrap_err().is_killed());
    post("/api/ops/resume", r#"{"op": "report"}"#)
        .send(&dashboard)
        .await;

    // kill all kills what runs.
    let running = held(&coordinator, "crunch", &release);
    eventually("the call to run", || {
        running.state() == TokenState::Executing
    })
    .await;
    let reply = post("/api/ops/kill", r#"{"op": "crunch"}"#)
        .send(&dashboard)
        .await;
    assert_eq!(reply.json()["count"], 1, "{reply:?}");
    assert!(running.wait().unwrap_err().is_killed());

    // block and unblock.
    let reply = post("/api/ops/block", r#"{"op": "crunch"}"#)
        .send(&dashboard)
        .await;
    assert_eq!(reply.status, 200);
    assert_eq!(coordinator.blocked_operations(), ["crunch"]);
    let refused = coordinator.run(|| Task::new("crunch").spawn(|| ()));
    assert_eq!(
        refused.wait().unwrap_err().kind(),
        tokengate::ErrorKind::Blocked
    );
    let reply = post("/api/ops/unblock", r#"{"op": "crunch"}"#)
        .send(&dashboard)
        .await;
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("unblocked")
    );
    assert!(coordinator.blocked_operations().is_empty());
    let reply = post("/api/ops/unblock", r#"{"op": "crunch"}"#)
        .send(&dashboard)
        .await;
    assert!(
        reply.json()["message"]
            .as_str()
            .unwrap()
            .contains("was not blocked")
    );

    // kill one call by id, as a number or a string.
    for id_json in [|id: u64| id.to_string(), |id: u64| format!("\"{id}\"")] {
        let call = held(&coordinator, "crunch", &release);
        eventually("the call to be live", || {
            coordinator.live_calls().iter().any(|c| c.id == call.id())
        })
        .await;
        let body = format!(r#"{{"id": {}}}"#, id_json(call.id().as_u64()));
        let reply = post("/api/calls/kill", &body).send(&dashboard).await;
        assert_eq!(reply.status, 200, "{reply:?}");
        assert!(call.wait().unwrap_err().is_killed());
    }

    // caps.
    let reply = post("/api/storage/cap", r#"{"tier": "fast", "cap": 7}"#)
        .send(&dashboard)
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(coordinator.storage_cap(StorageSpeed::Fast), 7);
    let reply = post("/api/limits/cap", r#"{"name": "db", "cap": 9}"#)
        .send(&dashboard)
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(coordinator.stats().limit("db").unwrap().cap, Some(9));

    // admission, for every operation.
    let reply = post("/api/admission/pause", "{}").send(&dashboard).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(coordinator.is_paused());
    let waiting = coordinator.run(|| Task::new("report").spawn(|| 1));
    eventually("the call to wait", || {
        waiting.state() == TokenState::Waiting
    })
    .await;
    let reply = post("/api/admission/drain", "{}").send(&dashboard).await;
    assert_eq!(reply.json()["count"], 1, "{reply:?}");
    assert!(waiting.wait().unwrap_err().is_killed());
    let reply = post("/api/admission/resume", "{}").send(&dashboard).await;
    assert_eq!(reply.status, 200);
    assert!(!coordinator.is_paused());

    release.store(true, Ordering::Relaxed);
    dashboard.shutdown().await;
    coordinator.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_requests_get_clear_json_errors() {
    let (coordinator, dashboard) = start("wrong").await;
    call_once(&coordinator, "known");
    let post = |path: &str, body: &str| Request::post(path, body).bearer(&dashboard);
    let cases = [
        (
            post("/api/ops/pause", r#"{"op": "unknown"}"#),
            404,
            "no operation `unknown`",
        ),
        (
            post("/api/ops/explode", r#"{"op": "known"}"#),
            404,
            "no operation action `explode`",
        ),
        (post("/api/ops/pause", r#"{"op": "#), 400, "malformed body"),
        (
            post("/api/ops/pause", r#"{"name": "known"}"#),
            400,
            "malformed body",
        ),
        (
            post("/api/ops/pause", r#"{"op": 3}"#),
            400,
            "malformed body",
        ),
        (post("/api/ops/pause", r#"[1, 2]"#), 400, "malformed body"),
        (post("/api/ops/pause", ""), 400, "malformed body"),
        (
            post("/api/ops/pause", "op=known")
                .header("Content-Type", "application/x-www-form-urlencoded"),
            415,
            "application/json",
        ),
        (
            post("/api/ops/pause", r#"{"op": "known"}"#).without("Content-Type"),
            415,
            "application/json",
        ),
        (
            post("/api/calls/kill", r#"{"id": 999999999}"#),
            404,
            "no live call has id 999999999",
        ),
        (
            post("/api/calls/kill", r#"{"id": "twelve"}"#),
            400,
            "not a token id",
        ),
        (
            post("/api/calls/kill", r#"{"id": -1}"#),
            400,
            "malformed body",
        ),
        (
            post("/api/storage/cap", r#"{"tier": "WARP", "cap": 1}"#),
            404,
            "unknown storage speed `WARP`",
        ),
        (
            post("/api/storage/cap", r#"{"tier": "FAST", "cap": -1}"#),
            400,
            "malformed body",
        ),
        (
            post("/api/limits/cap", r#"{"name": "nope", "cap": 1}"#),
            404,
            "no limit named `nope`",
        ),
        (
            post("/api/admission/explode", "{}"),
            404,
            "no admission action",
        ),
        (
            Request::get("/api/ops/pause").bearer(&dashboard),
            405,
            "wrong method",
        ),
        (
            Request::get("/api/stats")
                .method("DELETE")
                .bearer(&dashboard),
            405,
            "wrong method",
        ),
        (
            Request::get("/nowhere").bearer(&dashboard),
            404,
            "no such page",
        ),
        (
            Request::get("/api/live?limit=many").bearer(&dashboard),
            400,
            "not a count",
        ),
    ];
    for (request, status, needle) in cases {
        let reply = request.send(&dashboard).await;
        assert_eq!(reply.status, status, "{request:?}: {reply:?}");
        let error = reply.error();
        assert!(
            error.contains(needle),
            "{request:?}: {error:?} lacks {needle:?}"
        );
    }
    let huge = format!(r#"{{"op": "{}"}}"#, "x".repeat(64 * 1024));
    let reply = post("/api/ops/pause", &huge).send(&dashboard).await;
    assert_eq!(reply.status, 413, "{reply:?}");
    assert!(!reply.error().is_empty());
    // An op name that is not valid in a path is fine in a body.
    call_once(&coordinator, "a/b c?d");
    let reply = post("/api/ops/pause", r#"{"op": "a/b c?d"}"#)
        .send(&dashboard)
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(coordinator.stats().op("a/b c?d").unwrap().paused);
    dashboard.shutdown().await;
    coordinator.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_http_does_not_stop_the_server() {
    let (coordinator, dashboard) = start("malformed").await;
    let garbage: [&[u8]; 6] = [
        b"\x00\x01\x02\x03 not http at all\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n",
        b"GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n",
        b"POST /api/ops/pause HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{",
        b"GET / HTTP/1.1\r\nBad Header Without Colon\r\n\r\n",
        b"GET /%ZZ%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    ];
    for bytes in garbage {
        let raw = send_raw(&dashboard, bytes).await;
        if let Some(reply) = support::parse(&raw) {
            assert!((400..500).contains(&reply.status), "{bytes:?}: {raw}");
        }
    }
    // A client that sends half a request and hangs up.
    let mut half = tokio::net::TcpStream::connect(dashboard.local_addr())
        .await
        .unwrap();
    half.write_all(b"GET /api/stats HTTP/1.1\r\nHost:")
        .await
        .unwrap();
    drop(half);
    let ok = Request::get("/api/stats")
        .bearer(&dashboard)
        .send(&dashboard)
        .await;
    assert_eq!(ok.status, 200, "the server still answers");
    dashboard.shutdown().await;
    coordinator.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_endpoints_and_the_event_stream() {
    let (coordinator, dashboard) = start("json").await;
    let release = Arc::new(AtomicBool::new(false));
    call_once(&coordinator, "<img src=x onerror=alert(1)>");
    let call = held(&coordinator, "stuck", &release);
    eventually("the call to run", || call.state() == TokenState::Executing).await;

    let live = Request::get("/api/live")
        .bearer(&dashboard)
        .send(&dashboard)
        .await;
    let live = live.json();
    let entry = live
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == call.id().as_u64())
        .expect("the stuck call is listed");
    assert_eq!(entry["op"], "stuck");
    assert_eq!(entry["state"], "executing");
    let limited = Request::get("/api/live?limit=0")
        .bearer(&dashboard)
        .send(&dashboard)
        .await;
    assert_eq!(limited.json().as_array().unwrap().len(), 0);

    let stats = Request::get("/api/stats")
        .bearer(&dashboard)
        .send(&dashboard)
        .await
        .json();
    let names: Vec<&str> = stats["ops"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["op"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"<img src=x onerror=alert(1)>"),
        "names are data, kept as is: {names:?}"
    );

    // The event stream: the history first, then a snapshot a second.
    let mut stream = tokio::net::TcpStream::connect(dashboard.local_addr())
        .await
        .unwrap();
    let head = format!(
        "GET /api/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\r\n",
        dashboard.local_addr(),
        dashboard.token()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut seen = String::new();
    let read = async {
        let mut buf = [0u8; 16 * 1024];
        while seen.matches("event: snapshot").count() < 2 {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "the stream ended early: {seen}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    };
    tokio::time::timeout(PATIENCE, read)
        .await
        .expect("two snapshots arrive");
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(seen.contains("content-type: text/event-stream"), "{seen}");
    let history_at = seen.find("event: history").expect("a history event");
    assert!(history_at < seen.find("event: snapshot").unwrap());
    let snapshot = seen
        .split("event: snapshot\ndata: ")
        .nth(1)
        .and_then(|rest| rest.split('\n').next())
        .expect("a snapshot's data line");
    // A chunk boundary may split the line; the first snapshot is whole when
    // a second one follows it.
    let snapshot: serde_json::Value = serde_json::from_str(snapshot.trim()).unwrap_or_else(|err| {
        panic!("a snapshot is JSON ({err}): {snapshot}");
    });
    assert!(
        snapshot["live"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["op"] == "stuck")
    );
    assert_eq!(snapshot["live_total"], 1);
    assert!(snapshot["stats"]["workers"].as_array().unwrap().len() == coordinator.worker_count());
    let running: Vec<&serde_json::Value> = snapshot["running"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|op| !op.is_null())
        .collect();
    assert_eq!(running, ["stuck"], "the worker running it names its op");

    let history = Request::get("/api/history")
        .bearer(&dashboard)
        .send(&dashboard)
        .await
        .json();
    assert!(!history.as_array().unwrap().is_empty());

    // Shutting down ends the open stream instead of waiting on it.
    let shutdown = tokio::time::timeout(PATIENCE, dashboard.shutdown()).await;
    assert!(shutdown.is_ok(), "shutdown waits on an open event stream");
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut rest)).await;
    assert!(ended.is_ok(), "the event stream ends at shutdown");
    release.store(true, Ordering::Relaxed);
    assert!(call.wait().unwrap().is_ok());
    coordinator.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_remote_backends_worker_hosts_are_in_the_stats() {
    let (coordinator, dashboard) = start_remote("hosts").await;
    let stats = Request::get("/api/stats")
        .bearer(&dashboard)
        .send(&dashboard)
        .await
        .json();
    let remote = &stats["remote"];
    assert_eq!(remote["max_in_flight"], 16);
    let hosts = remote["workers"]
        .as_array()
        .expect("a list of worker hosts");
    assert_eq!(hosts.len(), 2);
    assert_eq!(hosts[0]["host"], "box-a");
    assert_eq!(hosts[0]["pid"], 101);
    assert_eq!(
        (&hosts[0]["busy"], &hosts[0]["slots"]),
        (&1.into(), &4.into())
    );
    assert_eq!(
        hosts[0]["weights"],
        serde_json::json!(["light", "medium", "heavy"])
    );
    assert_eq!(hosts[0]["up"], 125.0);
    assert_eq!(hosts[0]["last_seen"], 0.4);
    assert_eq!(hosts[1]["pool"], "gpu");
    assert_eq!(hosts[1]["sticky"], true);
    dashboard.shutdown().await;
    coordinator.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_serve_the_prometheus_text() {
    let (coordinator, dashboard) = start("metrics").await;
    call_once(&coordinator, "thumbnail");
    let reply = Request::get("/metrics")
        .bearer(&dashboard)
        .send(&dashboard)
        .await;
    assert_eq!(reply.status, 200, "{reply:?}");
    assert_eq!(
        reply.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(
        reply
            .body
            .contains(r#"tokengate_calls_submitted_total{op="thumbnail"} 1"#),
        "{}",
        reply.body
    );
    assert!(
        reply
            .body
            .contains("# TYPE tokengate_run_seconds histogram")
    );
    // Every sample line is `name{labels} value`, its value a number.
    for line in reply
        .body
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        assert!(series.starts_with("tokengate_"), "{line}");
        let value = value.replace("+Inf", "inf");
        assert!(value.parse::<f64>().is_ok(), "{line}");
    }
    // It needs the token like every endpoint; a cookie session works too.
    assert_eq!(Request::get("/metrics").send(&dashboard).await.status, 401);
    let (cookie, _) = support::browser_session(&dashboard).await;
    let from_browser = Request::get("/metrics")
        .header("Cookie", &cookie)
        .send(&dashboard)
        .await;
    assert_eq!(from_browser.status, 200);
    dashboard.shutdown().await;
    coordinator.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_non_loopback_address_needs_an_opt_in_and_a_token() {
    let coordinator = tokengate::OperationsCoordinator::start();
    let handle = coordinator.handle();
    let token = "0123456789abcdef0123456789abcdef";
    let everywhere = Config::new().bind(([0, 0, 0, 0], 0));
    let refused = serve(handle.clone(), everywhere.clone()).await.unwrap_err();
    assert!(refused.is_remote_refused(), "{refused}");
    assert!(refused.to_string().contains("allow_remote"), "{refused}");
    let refused = serve(handle.clone(), everywhere.clone().allow_remote(true))
        .await
        .unwrap_err();
    assert!(refused.is_remote_refused(), "{refused}");
    assert!(refused.to_string().contains("Config::token"), "{refused}");
    let refused = serve(handle.clone(), everywhere.token(token))
        .await
        .unwrap_err();
    assert!(refused.is_remote_refused(), "{refused}");
    let weak = serve(handle.clone(), Config::new().token("hunter2"))
        .await
        .unwrap_err();
    assert!(weak.is_bad_token(), "{weak}");

    // A token of one's own on loopback works as the generated one does.
    let dashboard = serve(handle.clone(), Config::new().token(token))
        .await
        .unwrap();
    assert_eq!(dashboard.token(), token);
    assert!(dashboard.url().ends_with(&format!("/?token={token}")));
    let ok = Request::get("/api/stats")
        .bearer(&dashboard)
        .send(&dashboard)
        .await;
    assert_eq!(ok.status, 200);
    // A port in use is a bind error, not a panic.
    let taken = serve(handle, Config::new().port(dashboard.local_addr().port()))
        .await
        .unwrap_err();
    assert!(taken.is_bind(), "{taken}");
    assert!(std::error::Error::source(&taken).is_some());
    dashboard.shutdown().await;
    coordinator.stop();
}
