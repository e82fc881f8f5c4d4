//! Comparing a dump baton wrote with the one keepalived wrote for the same state.
//!
//! `.data`: both files are split into lines with their section, their block (the
//! `VRRP Instance = X` / `VRRP Script = X` line above them), indent, label and value. The
//! capture loses what baton deliberately leaves out ([`Rules`]); after that the two line
//! lists must have the same sections, blocks, labels and indents in the same order, and the
//! same values, except values that vary from run to run and the documented differences,
//! each of which must still read exactly as documented on both sides (so a change on
//! either side shows). `.stats` and `.json` are compared the same way, with only the
//! run-dependent counters and times masked.

/// One line of a `.data` file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub section: String,
    pub block: String,
    pub indent: usize,
    pub label: String,
    pub value: String,
}

/// Labels whose value is part of the label's text in keepalived's format.
const VALUE_IN_LABEL: &[&str] = &[
    "Multicast address ",
    "Script security ",
    "Default script uid:gid ",
    "fd_in ",
];

/// Splits one line (without its indent) into label and value.
fn label_value(indent: usize, t: &str) -> (String, String) {
    if indent >= 5 {
        return ("<item>".into(), t.into());
    }
    if let Some((a, b)) = t.split_once(" = ") {
        return (a.trim().into(), b.trim().into());
    }
    if let Some(a) = t.strip_suffix(':') {
        return (a.trim().into(), String::new());
    }
    for p in VALUE_IN_LABEL {
        if let Some(rest) = t.strip_prefix(p) {
            return (p.trim().into(), rest.trim().into());
        }
    }
    if let Some((a, b)) = t.split_once(" : ").or_else(|| t.split_once(": ")) {
        return (a.trim().into(), b.trim().into());
    }
    (t.into(), String::new())
}

/// `t` with the numbers after `fd_in` and `fd_out` written as `#`: descriptor numbers
/// depend on what the daemon inherited from whoever started it (a shell, cargo, CI's
/// runner), so neither side's can be compared with a capture's.
fn without_descriptors(t: &str) -> String {
    if !t.starts_with("fd_in ") {
        return t.to_string();
    }
    let mut out = String::with_capacity(t.len());
    let mut in_number = false;
    for c in t.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            out.push(c);
            in_number = false;
        }
    }
    out
}

/// The lines of a `.data` file.
pub fn parse_data(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut block = String::new();
    for raw in text.lines() {
        if let Some(name) = raw
            .strip_prefix("------< ")
            .and_then(|r| r.strip_suffix(" >------"))
        {
            section = name.to_string();
            block.clear();
            continue;
        }
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        let t = without_descriptors(raw.trim());
        let t = t.as_str();
        if indent == 1 && section != "Global definitions" {
            block = t.to_string();
        }
        let (label, value) = label_value(indent, t);
        out.push(Line {
            section: section.clone(),
            block: block.clone(),
            indent,
            label,
            value,
        });
    }
    out
}

/// The sections a file has, in order.
pub fn sections(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| l.strip_prefix("------< ")?.strip_suffix(" >------"))
        .map(str::to_string)
        .collect()
}

/// A value known to differ, with why.
#[derive(Debug, Clone, Copy)]
pub struct Difference {
    /// The block's header line (`VRRP Script = chk_ok`), or "" for any block.
    pub block: &'static str,
    pub label: &'static str,
    pub baton: &'static str,
    pub keepalived: &'static str,
    pub why: &'static str,
}

/// What baton leaves out or fills differently.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// Sections of keepalived's file baton does not write.
    pub omitted_sections: &'static [&'static str],
    /// The global lines baton writes (keepalived writes many more); `None`: all.
    pub globals: Option<&'static [&'static str]>,
    /// (block, label) whose value changes from run to run (times, descriptors); a block
    /// of "" stands for every block.
    pub varying: &'static [(&'static str, &'static str)],
    pub differences: &'static [Difference],
}

/// Every mismatch between baton's `.data` and keepalived's, as readable lines (empty: the
/// same).
pub fn compare_data(baton: &str, keepalived: &str, rules: &Rules) -> Vec<String> {
    let ours: Vec<Line> = parse_data(baton)
        .into_iter()
        .filter(|l| !rules.omitted_sections.contains(&l.section.as_str()))
        .collect();
    let theirs: Vec<Line> = parse_data(keepalived)
        .into_iter()
        .filter(|l| !rules.omitted_sections.contains(&l.section.as_str()))
        .filter(|l| {
            l.section != "Global definitions"
                || rules.globals.is_none_or(|g| g.contains(&l.label.as_str()))
        })
        .collect();
    let mut problems = Vec::new();
    let kept = |text: &str| -> Vec<String> {
        let mut s = sections(text);
        s.retain(|s| !rules.omitted_sections.contains(&s.as_str()));
        s
    };
    if kept(baton) != kept(keepalived) {
        problems.push(format!(
            "sections: baton {:?}, keepalived {:?}",
            kept(baton),
            kept(keepalived)
        ));
    }
    for (n, (b, k)) in ours.iter().zip(&theirs).enumerate() {
        let here = format!("line {} ({} / {})", n + 1, k.section, k.block);
        if (&b.section, &b.block, b.indent, &b.label) != (&k.section, &k.block, k.indent, &k.label)
        {
            problems.push(format!(
                "{here}: baton has {:?} at indent {} in {:?}, keepalived {:?} at indent {} \
                 in {:?}",
                b.label, b.indent, b.block, k.label, k.indent, k.block
            ));
            // Everything after a shifted line would differ too.
            return problems;
        }
        if (rules.varying.iter())
            .any(|(blk, l)| *l == k.label && (blk.is_empty() || *blk == k.block))
        {
            continue;
        }
        let known = rules
            .differences
            .iter()
            .find(|d| d.label == k.label && (d.block.is_empty() || d.block == k.block));
        match known {
            Some(d) if b.value == d.baton && k.value == d.keepalived => {}
            Some(d) => problems.push(format!(
                "{here}: {:?} documented as baton {:?} / keepalived {:?} ({}), found {:?} / {:?}",
                k.label, d.baton, d.keepalived, d.why, b.value, k.value
            )),
            None if b.value != k.value => problems.push(format!(
                "{here}: {:?} = {:?} in baton, {:?} in keepalived",
                k.label, b.value, k.value
            )),
            None => {}
        }
    }
    if ours.len() != theirs.len() {
        let (longer, who) = if ours.len() > theirs.len() {
            (&ours[theirs.len()..], "baton")
        } else {
            (&theirs[ours.len()..], "keepalived")
        };
        problems.push(format!(
            "{who} has {} more lines, from {:?}",
            longer.len(),
            longer.first()
        ));
    }
    problems
}

/// `.stats` lines as (indent, sub-section, label, value).
pub fn parse_stats(text: &str) -> Vec<(usize, String, String, String)> {
    let mut out = Vec::new();
    let mut sub = String::new();
    for raw in text.lines() {
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        let t = raw.trim();
        let (label, value) = match t.split_once(':') {
            Some((a, b)) => (a.trim().to_string(), b.trim().to_string()),
            None => (t.to_string(), String::new()),
        };
        if indent <= 2 {
            sub = if value.is_empty() {
                label.clone()
            } else {
                String::new()
            };
        }
        out.push((indent, sub.clone(), label, value));
    }
    out
}

/// Every mismatch between two `.stats` files; the advert counters vary with time and are
/// only required to be numbers.
pub fn compare_stats(baton: &str, keepalived: &str) -> Vec<String> {
    let (ours, theirs) = (parse_stats(baton), parse_stats(keepalived));
    let mut problems = Vec::new();
    if ours.len() != theirs.len() {
        problems.push(format!(
            "baton has {} lines, keepalived {}",
            ours.len(),
            theirs.len()
        ));
    }
    for (b, k) in ours.iter().zip(&theirs) {
        if (b.0, &b.1, &b.2) != (k.0, &k.1, &k.2) {
            problems.push(format!("baton {b:?}, keepalived {k:?}"));
            return problems;
        }
        let varying = k.0 == 4 && k.1 == "Advertisements";
        if varying {
            if b.3.parse::<u64>().is_err() {
                problems.push(format!("{:?} / {:?} is not a count: {:?}", k.1, k.2, b.3));
            }
        } else if b.3 != k.3 {
            problems.push(format!(
                "{:?} / {:?}: baton {:?}, keepalived {:?}",
                k.1, k.2, b.3, k.3
            ));
        }
    }
    problems
}

/// `text` with the number after each `"key":` replaced by `#` (for run-dependent values).
pub fn mask_json(text: &str, keys: &[&str]) -> String {
    let mut out = text.to_string();
    for key in keys {
        let pat = format!("\"{key}\":");
        let mut result = String::new();
        let mut rest = out.as_str();
        while let Some(at) = rest.find(&pat) {
            let (head, tail) = rest.split_at(at + pat.len());
            result.push_str(head);
            let end = tail
                .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
                .unwrap_or(tail.len());
            result.push('#');
            rest = &tail[end..];
        }
        result.push_str(rest);
        out = result;
    }
    out
}

/// The JSON values that vary from run to run.
pub const JSON_VARYING: &[&str] = &["last_transition", "advert_rcvd", "advert_sent"];
