//! The status page in a real browser: Debian's Chromium, headless, run inside a test
//! node's namespace against that node's own HTTP server (`http://127.0.0.1:9165/`).
//!
//! [`Browser::load`] dumps the DOM Chromium built (`--dump-dom`) and retries until it
//! shows what the test waits for: Chromium's first start on a small machine can take
//! seconds, and the page is a snapshot that may be a moment behind. Each run has a
//! profile of its own under the cluster's temp dir and a `timeout` around it, so no
//! browser outlives a failed test.
//!
//! Layout is measured, not guessed: [`Browser::measure`] loads a saved page in an
//! iframe of a given width next to it and reads the document's widths and height back
//! through the DOM, which tells whether anything is wider than a 360 px phone screen
//! and how tall a full-page screenshot must be.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use super::handover::{NAMES, Pair, install_service, link_conf, service_hooks};
use super::{Cluster, DEADLINE, Inst, conf, file_check};

/// The HTTP server's default port (the keepalived exporter's).
pub const HTTP_PORT: u16 = 9165;

/// The page's address inside a node's namespace.
pub const PAGE: &str = "http://127.0.0.1:9165/";

/// How long a page may take to show what a test waits for, Chromium's cold starts
/// included.
pub const BROWSER_DEADLINE: Duration = Duration::from_secs(60);

/// A `timeout` around each Chromium run.
const RUN_LIMIT_S: &str = "45";

/// baton.conf's `http` block: the server on its default address and port.
pub fn http_block() -> String {
    "http {\n    listen 127.0.0.1\n    port 9165\n}\n".to_string()
}

/// Whether Chromium is installed (tests/all.sh installs Debian's package).
pub fn chromium_present() -> bool {
    Command::new("chromium")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The NeuronEX guide's pair, linked, each node serving its status page: a priority
/// 100 (`state MASTER`, its tracked check on [`Pair::check_file`]), b priority 90
/// (`nopreempt`, the same check on a file of its own), unicast, the stand-in service in
/// every hook. Returns once they have
/// approved each other and a is MASTER.
pub fn web_pair(test: &str) -> Pair {
    let mut c = Cluster::new(test, 2);
    install_service(&c);
    let addrs = [c.net.node(0).v4.to_string(), c.net.node(1).v4.to_string()];
    let check_file = c.path("a-healthy");
    std::fs::write(&check_file, "").expect("check file");
    for (i, me) in NAMES.iter().enumerate() {
        let mut inst = if i == 0 {
            Inst::new(100, "MASTER")
        } else {
            Inst::new(90, "BACKUP")
        };
        inst.nopreempt = i == 1;
        inst.unicast = Some((addrs[i].clone(), vec![addrs[1 - i].clone()]));
        inst.extra = service_hooks(&c, me);
        // Both check their service, so the configs match; b's check keeps passing.
        let mine = if i == 0 {
            check_file.clone()
        } else {
            c.path("b-healthy")
        };
        std::fs::write(&mine, "").expect("check file");
        inst.track_scripts = vec!["healthy".into()];
        let scripts = file_check("healthy", &mine, "0.1", "");
        let state = c.path(&format!("state-{me}"));
        let baton = link_conf(&addrs[i], &addrs[1 - i], &state) + &http_block();
        c.start_baton(me, i, &conf(me, &scripts, &[&inst]), &baton);
        if i == 0 {
            c.d(0).wait_state("VI_1", "MASTER");
        }
    }
    super::link::approve_each_other(&c, 0, 1, &addrs[0], &addrs[1]);
    Pair {
        c,
        linked: true,
        check_file,
        weight_file: PathBuf::new(),
        addrs,
    }
}

/// Headless Chromium runs, each with a fresh profile under `dir`.
pub struct Browser {
    dir: PathBuf,
    runs: std::cell::Cell<u32>,
}

impl Browser {
    pub fn new(dir: &Path) -> Browser {
        std::fs::create_dir_all(dir).expect("browser dir");
        Browser {
            dir: dir.to_owned(),
            runs: std::cell::Cell::new(0),
        }
    }

    /// One Chromium run: in namespace `ns` if given; `args` after the common flags.
    fn run(&self, ns: Option<&str>, args: &[String]) -> Output {
        let n = self.runs.get() + 1;
        self.runs.set(n);
        let profile = self.dir.join(format!("profile-{n}"));
        let mut cmd = Command::new("timeout");
        cmd.args(["-k", "5", RUN_LIMIT_S]);
        if let Some(ns) = ns {
            cmd.args(["ip", "netns", "exec", ns]);
        }
        cmd.arg("chromium")
            .args([
                "--headless",
                // As root Chromium's sandbox cannot start.
                "--no-sandbox",
                "--disable-gpu",
                "--hide-scrollbars",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--mute-audio",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(args);
        let out = cmd.output().expect("spawn chromium");
        let _ = std::fs::remove_dir_all(&profile);
        out
    }

    /// The DOM Chromium built from `url`, loaded inside `ns`.
    pub fn dump_dom(&self, ns: &str, url: &str) -> Result<String, String> {
        let out = self.run(Some(ns), &["--dump-dom".into(), url.into()]);
        let dom = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && dom.contains("</html>") {
            Ok(dom)
        } else {
            Err(format!(
                "chromium {}: {dom}\n{}",
                out.status,
                tail(&String::from_utf8_lossy(&out.stderr), 2000)
            ))
        }
    }

    /// Loads `url` in `ns` until its DOM satisfies `ok` ([`BROWSER_DEADLINE`]); the DOM.
    pub fn load(&self, ns: &str, url: &str, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let last = match self.dump_dom(ns, url) {
                Ok(dom) if ok(&dom) => return dom,
                Ok(dom) => format!("page text: {}", text(&dom)),
                Err(e) => e,
            };
            assert!(
                start.elapsed() < BROWSER_DEADLINE,
                "{ns}: the page never showed {what}\nlast: {last}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// A `width` x `height` screenshot of a local HTML file.
    pub fn screenshot(&self, page: &Path, png: &Path, width: u32, height: u32) {
        let out = self.run(
            None,
            &[
                format!("--screenshot={}", png.display()),
                format!("--window-size={width},{height}"),
                file_url(page),
            ],
        );
        assert!(
            out.status.success() && png.exists(),
            "screenshot {}: {}\n{}",
            png.display(),
            out.status,
            tail(&String::from_utf8_lossy(&out.stderr), 2000)
        );
    }

    /// The saved page laid out `width` px wide: (viewport width, document width,
    /// document height), read through the DOM of an iframe that width.
    pub fn measure(&self, page: &Path, width: u32) -> (u64, u64, u64) {
        let name = page
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("page.html");
        let frame = page.with_extension(format!("frame{width}.html"));
        let html = format!(
            "<!doctype html><html><body style=\"margin:0\">\
             <iframe style=\"width:{width}px;height:800px;border:0\" src=\"{name}\" onload=\"\
             var d=this.contentDocument.documentElement;\
             document.body.setAttribute('data-size', d.clientWidth+' '+d.scrollWidth+' '+d.scrollHeight)\">\
             </iframe></body></html>"
        );
        std::fs::write(&frame, html).expect("write the measuring page");
        let out = self.run(
            None,
            &[
                "--allow-file-access-from-files".into(),
                "--dump-dom".into(),
                file_url(&frame),
            ],
        );
        let dom = String::from_utf8_lossy(&out.stdout);
        let size = dom
            .split_once("data-size=\"")
            .and_then(|(_, rest)| rest.split_once('"'))
            .map(|(v, _)| v.to_string())
            .unwrap_or_else(|| panic!("no size measured for {}: {dom}", page.display()));
        let n: Vec<u64> = size.split(' ').filter_map(|v| v.parse().ok()).collect();
        assert_eq!(n.len(), 3, "measured {size:?}");
        (n[0], n[1], n[2])
    }
}

fn file_url(p: &Path) -> String {
    format!("file://{}", p.display())
}

fn tail(s: &str, n: usize) -> &str {
    let at = s.len().saturating_sub(n);
    let at = (at..s.len()).find(|&i| s.is_char_boundary(i)).unwrap_or(0);
    &s[at..]
}

/// The text of an HTML fragment: tags become spaces, the five entities are decoded,
/// runs of white space are one space.
pub fn text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                out.push(' ');
            }
            (true, '>') => in_tag = false,
            (false, c) => out.push(c),
            (true, _) => {}
        }
    }
    let out = out
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The headline's rows as text: `This node a Serving MASTER: VI_1`, ...
pub fn headline(dom: &str) -> Vec<String> {
    dom.split("<div class=\"hl ")
        .skip(1)
        .map(|row| text(&format!("<{}", row.split("</div>").next().unwrap_or(""))))
        .collect()
}

/// Whether the headline has a row that starts with `label` and shows `role`.
pub fn shows(dom: &str, label: &str, role: &str) -> bool {
    headline(dom)
        .iter()
        .any(|r| r.starts_with(label) && format!("{r} ").contains(&format!(" {role} ")))
}

/// Saves a DOM Chromium produced as a standalone page (with the doctype it drops, so
/// the copy lays out in standards mode as the original did).
pub fn save(dom: &str, path: &Path) {
    let body = dom.trim_start();
    let page = if body.starts_with("<!") {
        body.to_string()
    } else {
        format!("<!doctype html>\n{body}")
    };
    std::fs::write(path, page).expect("save the page");
}

/// Waits (at most the e2e deadline) until `d`'s `baton status --json` satisfies `ok`.
pub fn wait_json(d: &super::Daemon, what: &str, ok: impl Fn(&serde_json::Value) -> bool) {
    let start = Instant::now();
    while !d.try_status().is_some_and(|s| ok(&s)) {
        assert!(
            start.elapsed() < DEADLINE,
            "{}: never {what}\n{}",
            d.name,
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
