//! The status page (`GET /`): this node and its linked peers, plain HTML and CSS.
//!
//! A pure function of one status snapshot ([`crate::control::Status`], what
//! `baton status --json` prints): no I/O, no clock, no JavaScript. The page reloads
//! itself every [`REFRESH_S`] seconds with a `<meta http-equiv="refresh">`; its
//! stylesheet is compiled into the binary and inlined, and it refers to nothing outside
//! this node's own server (`/status`, `/metrics`), so it works on a network with no way
//! out. It reads on a phone: one column below 40em, nothing wider than the screen.
//!
//! Every string that comes from the snapshot (names, reasons, hook arguments, and what
//! a peer says of itself over the link) goes through [`escape`]; class names are picked
//! from fixed lists, never taken from the status.
//!
//! The headline follows the product redundancy guide our users know ("Current Node
//! Status: Running / Redundant Node Status: Standby"): this node's role and each peer's
//! (serving, standby, fault, ...), and whether their configs match. The sections below
//! word things as `baton status` does.

use std::fmt::{self, Write as _};

use crate::control::Status;

mod headline;
mod history;
mod node;
mod peers;
mod words;

#[cfg(test)]
mod tests;

/// Seconds between two reloads of the page.
pub const REFRESH_S: u32 = 2;

const STYLE: &str = include_str!("page/style.css");

/// The whole page for one snapshot.
pub fn render(status: &Status) -> String {
    let mut out = String::with_capacity(16 * 1024);
    let role = headline::this_node(status);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_S}\">\
         <link rel=\"icon\" href=\"data:,\">\
         <title>baton {}: {}</title><style>{STYLE}</style></head>\n<body>\n",
        Esc(&status.router_id),
        Esc(&role.word)
    );
    out.push_str("<main>\n");
    headline::render(&mut out, status);
    // This node's column, then the peers' (side by side on a wide screen).
    out.push_str("<div class=\"pair\"><div>\n");
    node::render_instances(&mut out, status);
    node::render_addresses(&mut out, status);
    node::render_tracked(&mut out, status);
    out.push_str("</div><div>\n");
    peers::render(&mut out, status);
    history::render_handover(&mut out, status);
    history::render_arbiter(&mut out, status);
    history::render_sync(&mut out, status);
    out.push_str("</div></div>\n");
    history::render_timeline(&mut out, status);
    history::render_hooks(&mut out, status);
    history::render_unknown(&mut out, status);
    render_footer(&mut out, status);
    out.push_str("</main>\n</body></html>\n");
    out
}

fn render_footer(out: &mut String, status: &Status) {
    let _ = writeln!(
        out,
        "<footer><p>baton {} · pid {} · up {} · router_id {}</p>\
         <p>config <code>{}</code> · digest <code>{}</code></p>\
         <p>This page reloads itself every {REFRESH_S} s. \
         The same as data: <a href=\"/status\">/status</a> (as <code>baton status --json</code>), \
         <a href=\"/metrics\">/metrics</a>.</p></footer>",
        env!("CARGO_PKG_VERSION"),
        status.pid,
        words::human_ms(status.uptime_ms),
        Esc(&status.router_id),
        Esc(&status.config_file.display().to_string()),
        Esc(&status.config_digest),
    );
}

/// `text` made safe to put in HTML text or in a quoted attribute value.
pub fn escape(text: &str) -> String {
    Esc(text).to_string()
}

/// Writes its text escaped for HTML: `&`, `<`, `>`, both quotes; control characters
/// other than tab and newline (which a reason or an argument could carry) become `?`.
#[derive(Debug, Clone, Copy)]
struct Esc<'a>(&'a str);

impl fmt::Display for Esc<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(needs_escape) {
            f.write_str(&rest[..at])?;
            let mut chars = rest[at..].chars();
            let c = chars.next().unwrap_or('?');
            f.write_str(match c {
                '&' => "&amp;",
                '<' => "&lt;",
                '>' => "&gt;",
                '"' => "&quot;",
                '\'' => "&#39;",
                _ => "?",
            })?;
            rest = chars.as_str();
        }
        f.write_str(rest)
    }
}

fn needs_escape(c: char) -> bool {
    matches!(c, '&' | '<' | '>' | '"' | '\'') || (c.is_control() && c != '\n' && c != '\t')
}

/// `<section>` with a heading; `id` is one of ours, never from the status.
fn open_section(out: &mut String, id: &str, title: &str) {
    let _ = writeln!(out, "<section id=\"{id}\"><h2>{title}</h2>");
}

fn close_section(out: &mut String) {
    out.push_str("</section>\n");
}
