//! The dashboard in a real browser: headless Chromium, driven over WebDriver
//! by chromedriver (Debian's `chromium` and `chromium-driver` packages, from
//! one source, so their versions match; `.ci/install-chromium` installs
//! them). Everything stays on loopback.
//!
//! While calls run, the test opens the page without the token (refused),
//! then with it; sees the numbers change; clicks an operation's pause button
//! and checks through the Rust API that the operation is paused; clicks a
//! live call's kill button and checks that its token resolved killed;
//! checks that an operation named like markup shows as text; checks that
//! the remote panel lists the (test) backend's worker hosts; and saves a
//! screenshot (`target/tmp/dashboard.png`; with
//! `TOKENGATE_UPDATE_SCREENSHOT=1` also `docs/dashboard.png`, after letting
//! the workload run long enough to draw the charts).
//!
//! Without Chromium and chromedriver the test fails and says how to install
//! them: a browser test that skips itself would pass on a machine that never
//! ran it.

mod support;

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;
use support::{PATIENCE, Request, eventually, held, start_remote};
use tokengate::{OperationsCoordinator, StorageSpeed, Task, Weight};

/// The operation whose name is markup: the page must show it as text.
const MARKUP_OP: &str = "<img src=x onerror=alert(1)>";

/// Panics raised on purpose by the flaky operation (kept out of the output).
const FLAKY: &str = "dashboard-test expected panic";

/// The whole test's bound; it takes a few seconds when nothing is wrong.
const BOUND: Duration = Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_in_a_real_browser() {
    let driver = Chromedriver::start();
    let (coordinator, dashboard) = start_remote("browser").await;
    let workload = Workload::start(&coordinator);
    let release = Arc::new(AtomicBool::new(false));
    let stuck = held(&coordinator, "slow_report", &release);

    let client = tokio::time::timeout(BOUND, driver.session())
        .await
        .expect("chromedriver starts a Chromium session within the test's bound");
    let checked = tokio::time::timeout(BOUND, async {
        check_page(&client, &coordinator, &dashboard, stuck).await;
    })
    .await;
    // Close the browser before reporting, so a failure leaves nothing behind.
    let _ = client.close().await;
    drop(driver);
    workload.stop();
    release.store(true, Ordering::Relaxed);
    dashboard.shutdown().await;
    coordinator.stop();
    checked.expect("the browser test finishes within its bound");
}

async fn check_page(
    client: &Client,
    coordinator: &OperationsCoordinator,
    dashboard: &tokengate_dashboard::Dashboard,
    mut stuck: tokengate::TaskToken<Result<(), tokengate::Cancelled>>,
) {
    let base = format!("http://{}", dashboard.local_addr());

    // Without the token: refused, in the browser as over plain HTTP.
    client.goto(&format!("{base}/")).await.unwrap();
    let body = text(client, "body").await;
    assert!(body.contains("needs its access token"), "{body}");
    let status = client
        .execute("return fetch('/api/stats').then(r => r.status)", vec![])
        .await
        .unwrap();
    assert_eq!(status, json!(401));
    assert_eq!(Request::get("/").send(dashboard).await.status, 401);

    // With it: a session cookie, and the token leaves the address bar.
    client.goto(&dashboard.url()).await.unwrap();
    let url = client.current_url().await.unwrap();
    assert_eq!(
        url.as_str(),
        format!("{base}/"),
        "redirected to the clean URL"
    );
    let cookies = client.get_all_cookies().await.unwrap();
    let session = cookies
        .iter()
        .find(|c| c.name().starts_with("tokengate_dashboard_"))
        .expect("a session cookie");
    assert_eq!(session.http_only(), Some(true));
    assert_eq!(format!("{:?}", session.same_site()), "Some(Strict)");

    // The numbers change while calls run.
    let first = number(client, "t-submitted").await;
    let deadline = Instant::now() + PATIENCE;
    loop {
        let now = number(client, "t-submitted").await;
        if now > first {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the submitted count stayed at {first}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(text(client, "#conn").await, "live");

    // Pause an operation with its button.
    let pause = wait_for(client, r#"button[data-op="export"][data-action="pause"]"#).await;
    pause.click().await.unwrap();
    eventually("`export` to be paused", || {
        coordinator.stats().op("export").is_some_and(|op| op.paused)
    })
    .await;
    eventually_in(client, "the page to show `export` paused", async |client| {
        let resume = client
            .find(Locator::Css(
                r#"button[data-op="export"][data-action="resume"]"#,
            ))
            .await
            .ok()?;
        let disabled = resume.prop("disabled").await.ok()??;
        (disabled == "false").then_some(())
    })
    .await;

    // Kill the stuck call with its button.
    let kill = wait_for(client, &format!(r#"button[data-kill="{}"]"#, stuck.id())).await;
    kill.click().await.unwrap();
    let outcome = tokio::task::spawn_blocking(move || stuck.wait_timeout(PATIENCE))
        .await
        .unwrap()
        .expect("the killed call resolves");
    let err = outcome.expect_err("the call was killed, not completed");
    assert!(err.is_killed(), "{err}");

    // Markup in an operation name is shown as text, and nothing runs.
    eventually_in(client, "the markup-named op to be listed", async |client| {
        let names = client
            .execute(
                "return Array.from(document.querySelectorAll('#ops td.name'), td => td.textContent)",
                vec![],
            )
            .await
            .ok()?;
        names.as_array()?.contains(&json!(MARKUP_OP)).then_some(())
    })
    .await;
    let images = client
        .execute("return document.querySelectorAll('img').length", vec![])
        .await
        .unwrap();
    assert_eq!(images, json!(0), "markup in data became an element");
    assert!(
        client.get_alert_text().await.is_err(),
        "an alert opened: data ran as script"
    );

    // The remote panel lists the backend's worker hosts with their slots.
    eventually_in(
        client,
        "the remote panel to list the worker hosts",
        async |client| {
            let rows = client
                .execute(
                    "return Array.from(document.querySelectorAll('#remote-workers tbody tr'), \
                 tr => Array.from(tr.cells, td => td.textContent))",
                    vec![],
                )
                .await
                .ok()?;
            let expected = json!([
                [
                    "box-a (pid 101)",
                    "default",
                    "1 / 4",
                    "17",
                    "light, medium, heavy",
                    "2 min 5 s",
                    "0 s ago"
                ],
                [
                    "box-b (pid 202)",
                    "gpu",
                    "0 / 8",
                    "3",
                    "heavy, sticky",
                    "1 h 2 min",
                    "0 s ago"
                ],
            ]);
            (rows == expected).then_some(())
        },
    )
    .await;
    let facts = text(client, "#remote").await;
    assert!(facts.contains("2 (1 / 12 slots busy)"), "{facts}");

    // A screenshot: kept under target/, and for the README on request.
    let update = std::env::var_os("TOKENGATE_UPDATE_SCREENSHOT").is_some_and(|v| v == "1");
    if update {
        // Charts over a few dozen seconds read better than over three.
        tokio::time::sleep(Duration::from_secs(40)).await;
    }
    let png = client.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "a PNG");
    let kept = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    std::fs::write(&kept, &png).unwrap();
    if update {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
        std::fs::create_dir_all(&docs).unwrap();
        std::fs::write(docs.join("dashboard.png"), &png).unwrap();
    }
}

/// The text of the first element matching `css`.
async fn text(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The number shown by the element with id `id`, once it shows one.
async fn number(client: &Client, id: &str) -> u64 {
    let mut shown = String::new();
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(element) = client.find(Locator::Id(id)).await {
            shown = element.text().await.unwrap_or_default();
            if let Ok(n) = shown.replace(',', "").parse() {
                return n;
            }
        }
        assert!(
            Instant::now() < deadline,
            "#{id} shows no number: {shown:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The first element matching `css`, once there is one and it is enabled.
async fn wait_for(client: &Client, css: &str) -> fantoccini::elements::Element {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(element) = client.find(Locator::Css(css)).await {
            if element.is_enabled().await.unwrap_or(false) {
                return element;
            }
        }
        assert!(Instant::now() < deadline, "no enabled `{css}` on the page");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `check` returns `Some`, or panics with `what`.
async fn eventually_in(client: &Client, what: &str, check: impl AsyncFn(&Client) -> Option<()>) {
    let deadline = Instant::now() + PATIENCE;
    while check(client).await.is_none() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// chromedriver on a free loopback port, in a process group of its own, so
/// that it and the browsers it starts are ended together, by that id.
struct Chromedriver {
    child: Child,
    port: u16,
}

impl Chromedriver {
    fn start() -> Chromedriver {
        let (driver, _) = (find("chromedriver"), find("chromium"));
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free loopback port")
            .port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let driver = Chromedriver { child, port };
        let deadline = Instant::now() + PATIENCE;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver does not listen on {port}"
            );
            thread::sleep(Duration::from_millis(50));
        }
        driver
    }

    /// A headless Chromium session.
    async fn session(&self) -> Client {
        let chromium = find("chromium");
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": [
                    "--headless=new",
                    // Root (CI) has no user namespace sandbox to give.
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--no-first-run",
                    "--hide-scrollbars",
                    "--force-device-scale-factor=1",
                    "--window-size=1400,1600",
                ],
            }),
        );
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{}", self.port))
            .await
            .unwrap_or_else(|err| panic!("chromedriver could not start Chromium: {err}"))
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The group's id is chromedriver's pid (`process_group(0)`).
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The path of `program` on `PATH`, or a failure that says how to get it.
fn find(program: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(program))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{program}` is not installed; the dashboard's browser test needs headless \
                 Chromium and chromedriver: run `.ci/install-chromium` (as root; it runs \
                 `apt-get install chromium chromium-driver`)"
            )
        })
}

/// Calls that keep the dashboard busy: quick CPU calls, a flaky op, storage
/// reads through the `db` limit, an op named like markup, and `export`
/// (which the test pauses).
struct Workload {
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<()>,
}

impl Workload {
    fn start(coordinator: &OperationsCoordinator) -> Workload {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info.payload().downcast_ref::<&str>();
            if !message.is_some_and(|m| m.starts_with(FLAKY)) {
                default(info);
            }
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let handle = coordinator.handle();
        let running = stop.clone();
        let thread = thread::spawn(move || {
            let _bound = handle.enter();
            let resize = Task::new("resize").weight(Weight::Light);
            let read = Task::new("read_blob")
                .storage_speed(StorageSpeed::Fast)
                .limit("db");
            let mut round = 0u64;
            while !running.load(Ordering::Relaxed) {
                round += 1;
                let mut tokens = Vec::new();
                for i in 0..8u64 {
                    tokens.push(resize.spawn(move || (0..20_000 * (i + 1)).sum::<u64>() > 0));
                }
                for _ in 0..3 {
                    tokens.push(read.spawn(|| {
                        thread::sleep(Duration::from_millis(15));
                        true
                    }));
                }
                tokens.push(Task::new("flaky_fetch").spawn(move || {
                    if round % 4 == 0 {
                        panic!("{FLAKY}");
                    }
                    true
                }));
                tokens.push(Task::new(MARKUP_OP).spawn(|| true));
                // `export` calls are not waited for: once it is paused they
                // wait in the coordinator, and the page shows them held.
                drop(Task::new("export").spawn(|| thread::sleep(Duration::from_millis(2))));
                for token in tokens {
                    let _ = token.wait();
                }
                thread::sleep(Duration::from_millis(50));
            }
        });
        Workload { stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("the workload thread ends");
    }
}
