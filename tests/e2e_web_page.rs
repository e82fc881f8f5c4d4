//! End-to-end: the status page (`GET /`) in a real headless Chromium, on both nodes of
//! a linked pair, across a failover.
//!
//! The NeuronEX guide's pair (a priority 100 with a tracked check, b 90 `nopreempt`,
//! the stand-in service in the hooks), each node with the `http` block in its
//! baton.conf. Chromium runs inside each node's namespace against
//! `http://127.0.0.1:9165/` and the test reads the DOM it built:
//! - before: a's page says "This node a: Serving" and "Peer node b: Standby", the VIP
//!   held by this node; b's page says the opposite, the VIP held by peer a; both say
//!   the configs match;
//! - a's check fails, b takes over: b's page says "Serving" with the VIP, its timeline
//!   shows BACKUP → MASTER with the reason `baton status` gives, its hooks list shows
//!   `notify_master` with `exit 0`; a's page says "Fault" for itself and "Serving" for
//!   its peer, its timeline MASTER → FAULT;
//! - every page refers to nothing outside the node (no `http://` or `https://` URL, no
//!   script), and laid out 360 px wide nothing is wider than the screen.
//!
//! Screenshots of each state, phone (360 px) and desktop (1280 px) wide, full height,
//! go to `target/tmp/e2e_web_page/`; with `BATON_UPDATE_SCREENSHOT=1` the desktop one
//! of b after the failover is copied to `docs/img/status-page.png` for the README.

mod common;
mod e2e;

use std::path::{Path, PathBuf};

use e2e::handover::settle;
use e2e::now_ns;
use e2e::web::{Browser, PAGE, chromium_present, headline, save, shows, text, wait_json, web_pair};

const PHONE: u32 = 360;
const DESKTOP: u32 = 1280;

/// Where the screenshots stay after the test.
fn shots_dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("e2e_web_page");
    std::fs::create_dir_all(&d).expect("screenshot dir");
    d
}

/// Checks what every page must be, saves it, and screenshots it phone and desktop wide
/// (full height, as measured); returns the desktop screenshot's path.
fn keep(b: &Browser, dom: &str, name: &str) -> PathBuf {
    for bad in ["http://", "https://", "<script", "@import", "url("] {
        assert!(!dom.contains(bad), "{name}: the page holds {bad:?}:\n{dom}");
    }
    assert!(dom.contains("http-equiv=\"refresh\""), "{name}: no refresh");
    let dir = shots_dir();
    let page = dir.join(format!("{name}.html"));
    save(dom, &page);
    let mut desktop = PathBuf::new();
    for (label, width) in [("phone", PHONE), ("desktop", DESKTOP)] {
        let (viewport, doc_width, doc_height) = b.measure(&page, width);
        println!("{name} {label}: viewport {viewport}, document {doc_width} x {doc_height}");
        assert_eq!(viewport, u64::from(width), "{name} {label}: viewport");
        assert!(
            doc_width <= viewport,
            "{name} {label}: the page is {doc_width} px wide, wider than {viewport}"
        );
        let height = u32::try_from(doc_height.clamp(400, 8000)).unwrap_or(8000);
        let png = dir.join(format!("{name}-{label}.png"));
        b.screenshot(&page, &png, width, height);
        desktop = png;
    }
    desktop
}

/// The text of the section with id `id` (empty if there is none).
fn section(dom: &str, id: &str) -> String {
    dom.split_once(&format!("<section id=\"{id}\">"))
        .and_then(|(_, rest)| rest.split_once("</section>"))
        .map(|(s, _)| text(s))
        .unwrap_or_default()
}

#[test]
fn the_status_page_shows_both_nodes_across_a_failover() {
    assert!(
        chromium_present(),
        "chromium is not installed; tests/all.sh installs it"
    );
    let p = web_pair("e2e_web_page");
    let c = &p.c;
    let (a_ns, b_ns) = (c.net.node(0).ns.clone(), c.net.node(1).ns.clone());
    let browser = Browser::new(&c.path("chromium"));
    // Both nodes know each other's state over the link before the first look.
    wait_json(c.d(1), "shows a MASTER over the link", |s| {
        s["link"]["peers"][0]["status"]["instances"][0]["state"] == "MASTER"
    });

    // Before: a serves, b stands by.
    let a_before = browser.load(&a_ns, PAGE, "a serving, b standing by", |dom| {
        shows(dom, "This node a", "Serving") && shows(dom, "Peer node b", "Standby")
    });
    assert!(
        shows(&a_before, "Peer config", "Match"),
        "{:?}",
        headline(&a_before)
    );
    let addresses = section(&a_before, "addresses");
    assert!(
        addresses.contains("10.0.0.100/24 VI_1 this node (a)"),
        "a's addresses: {addresses}"
    );
    let instances = section(&a_before, "instances");
    assert!(
        instances.contains("VI_1 MASTER 100 BACKUP 90"),
        "a's instances: {instances}"
    );
    keep(&browser, &a_before, "before-a");

    let b_before = browser.load(&b_ns, PAGE, "b standing by, a serving", |dom| {
        shows(dom, "This node b", "Standby") && shows(dom, "Peer node a", "Serving")
    });
    let addresses = section(&b_before, "addresses");
    assert!(
        addresses.contains("10.0.0.100/24 VI_1 peer a (10.0.0.1)"),
        "b's addresses: {addresses}"
    );
    keep(&browser, &b_before, "before-b");

    // a's check fails: a goes to FAULT, b takes over and starts the service.
    let t0 = now_ns();
    std::fs::remove_file(&p.check_file).expect("fail a's check");
    settle(&p, "a's check failed", 1, t0);
    wait_json(c.d(1), "shows its notify_master", |s| {
        s["hooks"]
            .as_array()
            .is_some_and(|h| h.iter().any(|r| r["hook"] == "notify_master"))
    });
    let b_status = c.d(1).status();
    let took_over = &b_status["instances"][0]["transitions"][0];
    assert_eq!(took_over["to"], "MASTER", "{b_status}");
    let reason = took_over["reason"].as_str().expect("a reason").to_string();

    let b_after = browser.load(&b_ns, PAGE, "b serving, a in fault", |dom| {
        shows(dom, "This node b", "Serving")
            && shows(dom, "Peer node a", "Fault")
            && section(dom, "hooks").contains("notify_master VI_1 exit 0")
    });
    let addresses = section(&b_after, "addresses");
    assert!(
        addresses.contains("10.0.0.100/24 VI_1 this node (b)"),
        "b's addresses: {addresses}"
    );
    let timeline = section(&b_after, "timeline");
    let want = format!("VI_1 BACKUP → MASTER priority 90 {reason}");
    assert!(
        timeline.contains(&want),
        "b's timeline lacks {want:?}: {timeline}"
    );
    let hooks = section(&b_after, "hooks");
    assert!(
        hooks.contains("notify_master VI_1 exit 0 after"),
        "b's hooks: {hooks}"
    );
    let shot = keep(&browser, &b_after, "after-b");

    let a_after = browser.load(&a_ns, PAGE, "a in fault, b serving", |dom| {
        shows(dom, "This node a", "Fault") && shows(dom, "Peer node b", "Serving")
    });
    let timeline = section(&a_after, "timeline");
    assert!(
        timeline.contains("VI_1 MASTER → FAULT"),
        "a's timeline: {timeline}"
    );
    let tracked = section(&a_after, "tracked");
    assert!(tracked.contains("down"), "a's tracked objects: {tracked}");
    keep(&browser, &a_after, "after-a");

    println!("screenshots in {}", shots_dir().display());
    if std::env::var_os("BATON_UPDATE_SCREENSHOT").is_some() {
        let img = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/img");
        std::fs::create_dir_all(&img).expect("docs/img");
        std::fs::copy(&shot, img.join("status-page.png")).expect("copy the screenshot");
    }
}
