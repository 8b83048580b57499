//! The web UI in a real headless Chromium (Debian's `chromium` and
//! `chromium-driver`, driven over WebDriver with fantoccini): the runs list,
//! the report of a real Redis run whose client pause broke mutual exclusion
//! (timeline and charts drawn, the anomaly in words), the compare page, and
//! the check page finding a non-linearizable upload with its partial
//! linearization — with no script error on any page. Screenshots go to
//! `target/screenshots/`.

#[path = "common/chrome.rs"]
mod chrome;
mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrome::{browser, eval};
use common::{fencepost, import, temp_store, Server, OVERLAP};
use fantoccini::{Client, Locator};
use serde_json::json;

/// Waits until the page's script says it has drawn (`data-ready`).
async fn wait_ready(client: &Client, attr: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let script = format!("return document.body.dataset.{attr} || null");
    while eval(client, &script).await != json!("1") {
        assert!(Instant::now() < deadline, "the page never set data-{attr}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn no_errors(client: &Client, page: &str) {
    let errors = eval(client, "return window.__errors || ['fencepost.js did not load']").await;
    assert_eq!(errors, json!([]), "script errors on {page}");
}

async fn screenshot(client: &Client, name: &str) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(format!("{name}.png")), client.screenshot().await.unwrap()).unwrap();
}

/// A canvas that was drawn on: sized, and not every pixel blank.
async fn drawn(client: &Client, id: &str) -> bool {
    let script = format!(
        "const c = document.getElementById('{id}'); if (!c || c.width === 0 || c.height === 0) return false; \
         const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; \
         for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) return true; return false;"
    );
    eval(client, &script).await == json!(true)
}

/// The texts drawn on a canvas (the page's script records them), each
/// checked to lie wholly inside the canvas: none clipped at an edge.
async fn canvas_texts(client: &Client, id: &str) -> Vec<String> {
    let script = format!(
        "const c = document.getElementById('{id}'); \
         return {{ width: c.clientWidth, height: c.clientHeight, texts: c.__texts || [] }};"
    );
    let v = eval(client, &script).await;
    let (width, height) = (v["width"].as_f64().unwrap(), v["height"].as_f64().unwrap());
    let texts = v["texts"].as_array().unwrap();
    for t in texts {
        let (x, y, w) = (t["x"].as_f64().unwrap(), t["y"].as_f64().unwrap(), t["w"].as_f64().unwrap());
        assert!(
            x >= 0.0 && x + w <= width + 0.5 && y > 0.0 && y <= height,
            "#{id}: {t} is cut by the edge ({width}×{height})"
        );
    }
    texts.iter().map(|t| t["text"].as_str().unwrap().to_string()).collect()
}

fn has_all(texts: &[String], want: &[&str], what: &str) {
    for w in want {
        assert!(texts.iter().any(|t| t == w), "{what}: no `{w}` drawn in {texts:?}");
    }
}

/// WCAG contrast of an element's text against its background.
async fn contrast(client: &Client, selector: &str) -> f64 {
    let script = format!(
        "const s = getComputedStyle(document.querySelector('{selector}')); \
         const lum = (c) => {{ const [r, g, b] = c.match(/[0-9.]+/g).slice(0, 3).map((v) => {{ v /= 255; \
           return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }}); \
           return 0.2126 * r + 0.7152 * g + 0.0722 * b; }}; \
         const a = lum(s.color), b = lum(s.backgroundColor); \
         return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);"
    );
    eval(client, &script).await.as_f64().unwrap()
}

/// A real run on Redis in which a client pause breaks mutual exclusion: the
/// clients layer is red, but the holder's own lease ran out first, so the
/// service kept its promise and the run is valid (exit 0).
fn real_run(store: &Path) -> String {
    let out = fencepost()
        .args(["run", "redis", "--ttl", "1s", "--nemesis", "client-pause", "--client-pause", "2s"])
        .args(["--nemesis-interval", "1s", "--time-limit", "6s", "--store"])
        .arg(store)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("INVALID  clients: "), "{stdout}");
    let dirs: Vec<PathBuf> =
        std::fs::read_dir(store).unwrap().flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs[0].file_name().unwrap().to_string_lossy().into_owned()
}

/// "5421 operations, 5 processes, …": the first number of the timeline's
/// status line.
fn visible_total(status: &str) -> u64 {
    status.split_whitespace().next().and_then(|n| n.parse().ok()).unwrap_or_else(|| panic!("{status}"))
}

/// An election observed by p0 over 4 s: p2 leads (term 7) until nobody
/// does, then p3 (term 9); p1's campaign is refused while p2 leads.
const ELECTION: &str = r#"{"time":100000000,"process":1,"type":"invoke","f":"campaign","key":"e0","value":{"id":"p1","ttl_ms":1000}}
{"time":120000000,"process":1,"type":"fail","f":"campaign","key":"e0","value":{"id":"p1","busy":true},"error":"another candidate leads"}
{"time":200000000,"process":0,"type":"invoke","f":"observe","key":"e0","value":null}
{"time":210000000,"process":0,"type":"ok","f":"observe","key":"e0","value":{"leader":"p2","term":7}}
{"time":1500000000,"process":0,"type":"invoke","f":"observe","key":"e0","value":null}
{"time":1510000000,"process":0,"type":"ok","f":"observe","key":"e0","value":{"leader":"p2","term":7}}
{"time":2000000000,"process":0,"type":"invoke","f":"observe","key":"e0","value":null}
{"time":2010000000,"process":0,"type":"ok","f":"observe","key":"e0","value":null}
{"time":2500000000,"process":0,"type":"invoke","f":"observe","key":"e0","value":null}
{"time":2510000000,"process":0,"type":"ok","f":"observe","key":"e0","value":{"leader":"p3","term":9}}
{"time":4000000000,"process":0,"type":"invoke","f":"observe","key":"e0","value":null}
{"time":4010000000,"process":0,"type":"ok","f":"observe","key":"e0","value":{"leader":"p3","term":9}}
"#;

/// OVERLAP, then a final read by the final-read process (1000000).
fn overlap_with_final_read() -> String {
    format!(
        "{OVERLAP}{}\n{}\n",
        r#"{"index":8,"time":3100000000,"process":1000000,"type":"invoke","f":"final-read","key":"k0","value":null}"#,
        r#"{"index":9,"time":3110000000,"process":1000000,"type":"ok","f":"final-read","key":"k0","value":0}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_shows_runs_reports_comparison_and_checks_in_a_real_browser() {
    let store = temp_store("browser");
    let run = real_run(&store);
    let imported = import(&store, "overlap.jsonl", &overlap_with_final_read(), "imported-redis");
    let server = Server::start(&store);
    let base = format!("http://127.0.0.1:{}", server.port);
    let (_driver, client) = browser().await;

    // Runs list.
    client.goto(&format!("{base}/")).await.unwrap();
    let rows = client.find_all(Locator::Css("#runs tbody tr")).await.unwrap();
    assert_eq!(rows.len(), 2);
    let text = client.find(Locator::Css("#runs")).await.unwrap().text().await.unwrap();
    assert!(text.contains(&run) && text.contains(&imported) && text.contains("invalid"), "{text}");
    no_errors(&client, "/").await;
    screenshot(&client, "runs").await;

    // The real run's report: the anomaly in words, the timeline and charts
    // with their legends and axis titles, every tick inside its canvas.
    client.goto(&format!("{base}/runs/{run}")).await.unwrap();
    wait_ready(&client, "ready").await;
    let body = client.find(Locator::Css("main")).await.unwrap().text().await.unwrap();
    assert!(body.contains("mutual-exclusion") && body.contains("both held lock k0"), "{body}");
    assert!(body.contains("client pause"), "the anomaly names the fault active then");
    // The headline: each layer with its own verdict, above the checkers.
    let layers = client.find(Locator::Id("layers")).await.unwrap().text().await.unwrap().to_lowercase();
    assert!(layers.contains("service") && layers.contains("clients"), "{layers}");
    assert!(body.find("Overall").unwrap() < body.find("Checkers").unwrap(), "the headline comes first: {body}");
    for canvas in ["timeline", "latency", "throughput"] {
        assert!(drawn(&client, canvas).await, "#{canvas} was not drawn");
    }
    // Refusals under contention ("busy") are told from errors ("fail").
    let legend = ["ok", "busy", "fail", "info", "fault", "time since the start of the run"];
    let latency = canvas_texts(&client, "latency").await;
    has_all(&latency, &legend, "latency");
    // One strip per kind of operation, each named.
    has_all(&latency, &["latency, invoke to completion (log scale)", "1 ms", "acquire", "release"], "latency");
    let throughput = canvas_texts(&client, "throughput").await;
    has_all(&throughput, &legend, "throughput");
    has_all(&throughput, &["completions per second", "0"], "throughput");
    // Round ticks: 0 and equal steps of 1, 2 or 5 × 10^k.
    let ticks: Vec<u64> = throughput.iter().filter_map(|t| t.parse().ok()).collect();
    assert!(ticks.len() >= 3 && ticks[0] == 0, "{throughput:?}");
    let step = ticks[1];
    let lead = step / 10u64.pow(step.ilog10());
    assert!([1, 2, 5].contains(&lead) && step.is_multiple_of(10u64.pow(step.ilog10())), "round step {step}: {ticks:?}");
    assert!(ticks.windows(2).all(|w| w[1] - w[0] == step), "equal steps: {ticks:?}");
    let ticks = canvas_texts(&client, "timeline").await;
    has_all(&ticks, &["time since the start of the run"], "timeline");
    assert!(
        ticks.iter().filter(|t| t.ends_with(" s") && t.starts_with(|c: char| c.is_ascii_digit())).count() >= 3,
        "{ticks:?}"
    );
    // How to make it again: its options, and its faults replayed.
    let again = client.find(Locator::Id("again-run")).await.unwrap().text().await.unwrap();
    assert!(again.starts_with("fencepost run redis --time-limit 6s --ttl 1s --nemesis client-pause"), "{again}");
    let replay = client.find(Locator::Id("again-replay")).await.unwrap().text().await.unwrap();
    assert_eq!(replay, format!("fencepost run --replay {run}"));
    let status = client.find(Locator::Id("timeline-status")).await.unwrap().text().await.unwrap();
    assert!(status.contains(" marked") && !status.contains(" 0 anomalies"), "{status}");
    let count = client.find(Locator::Id("anomaly-count")).await.unwrap().text().await.unwrap();
    let listed = client.find_all(Locator::Css("ol.anomalies li")).await.unwrap().len();
    // "Showing 20 of 98 anomalies (…)", "All 3 anomalies (…)" or "1 anomaly (…)".
    let numbers: Vec<usize> =
        count.split('(').next().unwrap().split_whitespace().filter_map(|w| w.parse().ok()).collect();
    let total = *numbers.last().unwrap();
    assert_eq!(listed, numbers[0], "{count}");
    assert!(
        status.contains(&format!(", {total} {} marked", if total == 1 { "anomaly" } else { "anomalies" })),
        "the timeline marks the {total} the page counts: {status}"
    );
    assert!(contrast(&client, ".checkers .verdict.info").await >= 4.5, "the info badge is readable");
    no_errors(&client, "the report").await;
    screenshot(&client, "report").await;
    eval(&client, "document.getElementById('timeline').scrollIntoView(); return null;").await;
    screenshot(&client, "report-timeline").await;
    // Level of detail: the server bins the whole run when more than two
    // operations per pixel show; zoomed to 10 ms at the first anomaly it
    // sends the operations themselves.
    let whole = eval(&client, "const s = window.__timeline.shown(); return [document.getElementById('timeline').dataset.mode, s.visible, s.px];").await;
    let (visible, px) = (whole[1].as_u64().unwrap(), whole[2].as_u64().unwrap());
    assert_eq!(whole[0] == "bins", visible > 2 * px, "{whole}");
    let zoomed = eval(
        &client,
        "const tl = window.__timeline, a = tl.base().anomalies[0]; tl.view.t0 = a.start - 5e6; tl.view.t1 = a.start + 5e6; \
         return tl.refresh().then(() => [document.getElementById('timeline').dataset.mode, tl.shown().visible, \
           tl.shown().ops.lane.length, document.getElementById('timeline-status').textContent]);",
    )
    .await;
    assert_eq!(zoomed[0], "ops", "{zoomed}");
    let shown = zoomed[1].as_u64().unwrap();
    assert!(shown >= 1 && shown < visible && zoomed[2] == zoomed[1], "{zoomed}");
    assert!(zoomed[3].as_str().unwrap().contains(&format!(": {shown} operation")), "{zoomed}");
    // Hovering an operation shows what it was.
    let tip = eval(
        &client,
        "const tl = window.__timeline, o = tl.shown().ops, b = tl.base(), p = tl.pointOf(0); \
         document.getElementById('timeline').dispatchEvent(new MouseEvent('mousemove', \
           { clientX: p.x, clientY: p.y, bubbles: true })); \
         const t = document.getElementById('op-tip'); \
         return [t.hidden, t.textContent, b.fs[o.f[0]], 'p' + b.lanes[o.lane[0]]];",
    )
    .await;
    assert_eq!(tip[0], false, "the tip shows: {tip}");
    let text = tip[1].as_str().unwrap();
    assert!(text.starts_with(tip[3].as_str().unwrap()) && text.contains(tip[2].as_str().unwrap()), "{tip}");
    assert!(text.contains(" · invoked "), "{tip}");
    // Clicking it pins its details, with the values the server read from
    // the history.
    let detail = eval(
        &client,
        "const tl = window.__timeline, p = tl.pointOf(0), c = document.getElementById('timeline'); \
         const at = { clientX: p.x, clientY: p.y, bubbles: true }; \
         c.dispatchEvent(new MouseEvent('mousedown', at)); window.dispatchEvent(new MouseEvent('mouseup', at)); \
         c.dispatchEvent(new MouseEvent('click', at)); \
         const panel = document.getElementById('op-detail'); \
         return new Promise((ok) => { const wait = () => panel.dataset.loaded ? ok([panel.hidden, panel.innerText]) \
           : setTimeout(wait, 50); wait(); });",
    )
    .await;
    assert_eq!(detail[0], false, "the details show: {detail}");
    let words = detail[1].as_str().unwrap();
    assert!(words.contains("invoke value") && words.contains("completion") && words.contains("invoked"), "{words}");
    assert!(!words.contains("unavailable"), "{words}");
    screenshot(&client, "report-timeline-zoomed").await;
    // Each listed anomaly links to the timeline: a click zooms to it.
    let links = client.find_all(Locator::Css("ol.anomalies li a.show")).await.unwrap();
    assert_eq!(links.len(), listed, "every listed anomaly links to the timeline");
    links[1].click().await.unwrap();
    let focus = eval(
        &client,
        "const tl = window.__timeline; return new Promise((ok) => setTimeout(() => ok([tl.view.t0, tl.view.t1, \
           document.getElementById('timeline').dataset.focus || '', \
           document.querySelectorAll('ol.anomalies li')[1].querySelector('.tag').textContent]), 300));",
    )
    .await;
    let (t0, t1) = (focus[0].as_f64().unwrap(), focus[1].as_f64().unwrap());
    let focused = focus[2].as_str().unwrap();
    let (checker, start) = focused.split_once(':').unwrap_or_else(|| panic!("no anomaly focused: {focus}"));
    let start: f64 = start.parse().unwrap();
    assert_eq!(checker, focus[3].as_str().unwrap(), "{focus}");
    assert!(t0 <= start && start <= t1 && t1 - t0 < 2e9, "zoomed to the anomaly: {focus}");
    screenshot(&client, "report-anomaly-focused").await;

    // The same report as one file (`report --html`), opened from file://
    // with the server's pages out of reach: drawn, with its anomalies and
    // hold bands, and nothing fetched.
    let file = store.join("report.html");
    let out = fencepost().args(["report", &run, "--html"]).arg(&file).arg("--store").arg(&store).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    client.goto(&format!("file://{}", file.display())).await.unwrap();
    wait_ready(&client, "ready").await;
    for canvas in ["timeline", "latency", "throughput"] {
        assert!(drawn(&client, canvas).await, "#{canvas} was not drawn in the file");
    }
    let offline = eval(
        &client,
        "const s = window.__timeline.shown(), b = window.__timeline.base(); \
         return [performance.getEntriesByType('resource').length, b.anomalies.length, b.total, \
           document.getElementById('timeline-status').textContent];",
    )
    .await;
    assert_eq!(offline[0], 0, "the file fetches nothing: {offline}");
    assert!(offline[1].as_u64().unwrap() >= 1, "its anomalies are marked: {offline}");
    assert_eq!(offline[2].as_u64(), Some(visible_total(&status)), "every operation is in the file: {offline}");
    let holds = eval(
        &client,
        "const tl = window.__timeline, a = tl.base().anomalies[0]; tl.view.t0 = a.start - 5e6; tl.view.t1 = a.start + 5e6; \
         return tl.refresh().then(() => tl.shown().holds.lane.length);",
    )
    .await;
    assert!(holds.as_u64().unwrap() >= 1, "the hold bands are drawn: {holds}");
    no_errors(&client, "the report file").await;
    screenshot(&client, "report-file").await;
    // A real run's partition is long: its evidence is cut to the stuck op's
    // neighbourhood (asserted on the imported run below; here, to look at).
    if eval(&client, "const c = document.getElementById('lin-0'); if (c) c.scrollIntoView(); return !!c;").await
        == json!(true)
    {
        screenshot(&client, "report-linearizability-real").await;
    }

    // The imported run: its `linearizable` checkers fail, and the partial
    // linearization is drawn as on /check; the final read has a lane so named.
    client.goto(&format!("{base}/runs/{imported}")).await.unwrap();
    wait_ready(&client, "ready").await;
    assert!(drawn(&client, "lin-0").await, "the linearizability evidence was not drawn");
    let words = client.find(Locator::Id("lin-0-stuck")).await.unwrap().text().await.unwrap();
    assert!(words.contains("cannot place") && words.contains("operations placed"), "{words}");
    let evidence = canvas_texts(&client, "lin-0").await;
    has_all(&evidence, &["p1", "p2", "1", "time since the start of the run"], "evidence");
    let lanes = canvas_texts(&client, "timeline").await;
    has_all(&lanes, &["p1", "p2", "final read"], "timeline lanes");
    assert!(!lanes.iter().any(|l| l.contains("1000000")), "{lanes:?}");
    let status = client.find(Locator::Id("timeline-status")).await.unwrap().text().await.unwrap();
    // The overlap, seen by mutual-exclusion and (its grants recording no
    // lease, so promised until released) by lease-safety.
    assert!(status.contains(", 2 anomalies marked"), "{status}");
    no_errors(&client, "the imported report").await;
    eval(&client, "document.getElementById('lin-0').scrollIntoView(); return null;").await;
    screenshot(&client, "report-linearizability").await;

    // An election's report: a row above the lanes says who led, as the
    // observer saw it, each leader named with its term.
    let election = import(&store, "election.jsonl", ELECTION, "imported-etcd");
    client.goto(&format!("{base}/runs/{election}")).await.unwrap();
    wait_ready(&client, "ready").await;
    let rows = eval(&client, "return document.getElementById('timeline').dataset.elections || '0'").await;
    assert_eq!(rows, json!("1"), "one election, one leader row");
    let texts = canvas_texts(&client, "timeline").await;
    has_all(&texts, &["e0 leader", "p2 · term 7", "p3 · term 9", "p0", "p1"], "election timeline");
    no_errors(&client, "the election report").await;
    screenshot(&client, "report-election").await;

    // Compare: latencies on a log scale.
    client.goto(&format!("{base}/compare")).await.unwrap();
    wait_ready(&client, "ready").await;
    assert!(drawn(&client, "compare-chart").await);
    has_all(
        &canvas_texts(&client, "compare-chart").await,
        &["p99 grant latency (log scale)", "valid", "invalid"],
        "compare",
    );
    let table = client.find(Locator::Id("compare")).await.unwrap().text().await.unwrap();
    assert!(table.contains("redis") && table.contains("client-pause"), "{table}");
    no_errors(&client, "/compare").await;
    screenshot(&client, "compare").await;
    // The comparison and the scenario library as files: drawn from file://,
    // nothing fetched.
    for (flag, name, table) in [("--suite", "compare.html", "compare"), ("--scenarios", "scenarios.html", "scenarios")]
    {
        let file = store.join(name);
        let out = fencepost().args(["report", flag, "--html"]).arg(&file).arg("--store").arg(&store).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        client.goto(&format!("file://{}", file.display())).await.unwrap();
        let text = client.find(Locator::Id(table)).await.unwrap().text().await.unwrap();
        assert!(text.contains("redis"), "{flag}: {text}");
        let fetched = eval(&client, "return performance.getEntriesByType('resource').length").await;
        assert_eq!(fetched, json!(0), "{flag}: the file fetches nothing");
        if flag == "--suite" {
            wait_ready(&client, "ready").await;
            assert!(drawn(&client, "compare-chart").await, "the comparison's chart was not drawn in the file");
        }
        no_errors(&client, flag).await;
    }
    client.goto(&format!("{base}/compare")).await.unwrap();

    // Scenarios: the library as a table, reached from the header.
    client.find(Locator::LinkText("Scenarios")).await.unwrap().click().await.unwrap();
    // Sources and commands are folded, so the page stays short: a row is
    // its name and title until its fold is opened.
    let folded = client.find(Locator::Id("scenarios")).await.unwrap().text().await.unwrap();
    assert!(folded.contains("etcd-lease-pause") && !folded.contains("Jepsen's etcd 3.4.3 analysis"), "{folded}");
    let height: f64 =
        client.execute("return document.body.scrollHeight", vec![]).await.unwrap().as_f64().unwrap_or(f64::MAX);
    client.find(Locator::Css("#etcd-lease-pause details summary")).await.unwrap().click().await.unwrap();
    client
        .execute("document.querySelectorAll('#scenarios details').forEach((d) => d.open = true)", vec![])
        .await
        .unwrap();
    let unfolded: f64 =
        client.execute("return document.body.scrollHeight", vec![]).await.unwrap().as_f64().unwrap_or(0.0);
    assert!(height < unfolded, "folding shortens the page: {height} px folded, {unfolded} px open");
    let table = client.find(Locator::Id("scenarios")).await.unwrap().text().await.unwrap();
    assert!(table.contains("etcd-lease-pause") && table.contains("Jepsen's etcd 3.4.3 analysis"), "{table}");
    assert!(table.contains("fencepost run redis-sentinel --workload lock --nemesis partition:primary"), "{table}");
    no_errors(&client, "/scenarios").await;
    client
        .execute("document.querySelectorAll('#scenarios details').forEach((d) => d.open = false)", vec![])
        .await
        .unwrap();
    screenshot(&client, "scenarios").await;

    // Check: a non-linearizable Porcupine etcd log, pasted. Each label on
    // one line, no empty box before the result, ticks in positions (the
    // log has no timestamps).
    client.goto(&format!("{base}/check")).await.unwrap();
    wait_ready(&client, "ready").await;
    let tallest = eval(
        &client,
        "return Math.max(...[...document.querySelectorAll('#check-form label > span')].map((s) => s.getBoundingClientRect().height));",
    )
    .await;
    assert!(tallest.as_f64().unwrap() < 30.0, "a label wraps: {tallest} px");
    let boxed = eval(&client, "return document.getElementById('check-timeline').parentElement.offsetHeight;").await;
    assert_eq!(boxed, json!(0), "an empty box shows before any result");
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("checker/tests/data/porcupine/jepsen/etcd_000.log");
    let history = std::fs::read_to_string(corpus).unwrap();
    client.execute("document.getElementById('check-text').value = arguments[0];", vec![json!(history)]).await.unwrap();
    let model = client.find(Locator::Id("check-model")).await.unwrap();
    model.select_by_value("cas-register").await.unwrap();
    client.find(Locator::Id("check-initial")).await.unwrap().send_keys("nil").await.unwrap();
    client.find(Locator::Css("#check-form button")).await.unwrap().click().await.unwrap();
    wait_ready(&client, "checked").await;
    let verdict = client.find(Locator::Id("check-verdict")).await.unwrap().text().await.unwrap();
    assert_eq!(verdict, "invalid");
    let words = client.find(Locator::Id("check-words")).await.unwrap().text().await.unwrap();
    assert_eq!(words, "not linearizable", "the linearizability words beside the verdict");
    let stuck = client.find(Locator::Id("check-stuck")).await.unwrap().text().await.unwrap();
    assert!(stuck.contains("cannot place"), "{stuck}");
    assert!(drawn(&client, "check-timeline").await);
    let texts = canvas_texts(&client, "check-timeline").await;
    has_all(&texts, &["0", "position in the history (it has no timestamps)"], "check ticks");
    assert!(!texts.iter().any(|t| t.contains("0.000")), "{texts:?}");
    let used = client.find(Locator::Id("check-used")).await.unwrap().text().await.unwrap();
    assert_eq!(used, "model cas-register (given here), initial nil (given here)");
    no_errors(&client, "/check").await;
    screenshot(&client, "check").await;

    // An initial value with the model left to inference is used (not
    // dropped), and the page says so: the example without its statement.
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("checker/tests/data/fencepost/concurrent-ok.edn");
    let bare: String = std::fs::read_to_string(example)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with("; fencepost:"))
        .map(|l| format!("{l}\n"))
        .collect();
    client.execute("document.getElementById('check-text').value = arguments[0];", vec![json!(bare)]).await.unwrap();
    client.execute("document.body.dataset.checked = '';", vec![]).await.unwrap();
    client.find(Locator::Id("check-model")).await.unwrap().select_by_value("").await.unwrap();
    let initial = client.find(Locator::Id("check-initial")).await.unwrap();
    initial.clear().await.unwrap();
    initial.send_keys("0").await.unwrap();
    client.find(Locator::Css("#check-form button")).await.unwrap().click().await.unwrap();
    wait_ready(&client, "checked").await;
    let verdict = client.find(Locator::Id("check-verdict")).await.unwrap().text().await.unwrap();
    assert_eq!(verdict, "valid");
    let used = client.find(Locator::Id("check-used")).await.unwrap().text().await.unwrap();
    assert_eq!(used, "model cas-register (inferred from the ops), initial 0 (given here)");
    no_errors(&client, "/check").await;

    // A run in progress: its page appends the operations as they stream
    // in, then reloads as the finished report.
    let mut live = fencepost()
        .args(["run", "redis", "--time-limit", "8s", "--store"])
        .arg(&store)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let id = loop {
        let fresh = std::fs::read_dir(&store).unwrap().flatten().map(|e| e.path()).find(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            p.join("test.json").is_file() && name != run && name != imported && name != election
        });
        if let Some(dir) = fresh.filter(|d| std::fs::metadata(d.join("history.jsonl")).is_ok_and(|m| m.len() > 0)) {
            break dir.file_name().unwrap().to_string_lossy().into_owned();
        }
        assert!(Instant::now() < deadline, "the live run never started recording");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    client.goto(&format!("{base}/runs/{id}")).await.unwrap();
    wait_ready(&client, "ready").await;
    assert!(client.find(Locator::Id("live")).await.is_ok(), "the page says it is live");
    let count = |client: &Client| {
        let client = client.clone();
        async move { eval(&client, "return window.__timeline ? window.__timeline.base().total : 0").await.as_u64().unwrap() }
    };
    let first = count(&client).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let later = count(&client).await;
    assert!(first > 0 && later > first, "operations are appended as they stream: {first} then {later}");
    assert!(drawn(&client, "timeline").await && drawn(&client, "latency").await);
    no_errors(&client, "a live run").await;
    screenshot(&client, "live").await;
    assert_eq!(live.wait().unwrap().code(), Some(0));
    // Once the results are stored the page reloads as the report.
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.find(Locator::Id("live")).await.is_ok() {
        assert!(Instant::now() < deadline, "the live page never turned into the report");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_ready(&client, "ready").await;
    let status = client.find(Locator::Id("timeline-status")).await.unwrap().text().await.unwrap();
    assert!(status.contains(" operations") && !status.starts_with("0 "), "{status}");
    no_errors(&client, "the finished live run").await;

    client.close().await.unwrap();
    drop(server);
    std::fs::remove_dir_all(&store).unwrap();
}
