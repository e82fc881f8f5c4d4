//! Tests of the keyword table: it agrees with the builder in both directions, and the
//! man page written from it.

use super::*;
use crate::config::{self, Diagnostic, LoadOptions, Severity};
use std::collections::HashSet;

/// Definitions the samples refer to, and an instance the sync group sample lists.
const BASE: &str = "\
vrrp_script S_T {
 script /bin/true
}
track_file F_T {
 file /run/baton-keywords-test
}
vrrp_track_process P_T {
 process sshd
}
";
const INSTANCE_HEAD: &str = "vrrp_instance VI_T {\n interface lo\n virtual_router_id 1\n priority 100\n virtual_ipaddress {\n 10.0.0.1/24\n }\n";

/// A whole configuration that uses `name sample` in `block`.
fn config_using(block: Block, name: &str, sample: &str) -> String {
    let line = format!("{name} {sample}\n");
    let instance = |extra: &str| format!("{INSTANCE_HEAD}{extra}}}\n");
    let body = match block {
        Block::Top => format!("{}{line}", instance("")),
        Block::GlobalDefs => format!("global_defs {{\n{line}}}\n{}", instance("")),
        Block::VrrpScript => {
            format!(
                "vrrp_script S_K {{\n script /bin/true\n{line}}}\n{}",
                instance("")
            )
        }
        Block::TrackFile => format!(
            "track_file F_K {{\n file /run/baton-keywords-test\n{line}}}\n{}",
            instance("")
        ),
        Block::TrackProcess => format!(
            "vrrp_track_process P_K {{\n process sshd\n{line}}}\n{}",
            instance("")
        ),
        Block::SyncGroup => format!(
            "{}vrrp_sync_group G_T {{\n group {{\n VI_T\n }}\n{line}}}\n",
            instance("")
        ),
        Block::Instance => instance(&line),
        Block::Authentication => {
            instance(&format!(" authentication {{\n auth_type PASS\n{line} }}\n"))
        }
    };
    format!("{BASE}{body}")
}

fn load(text: &str) -> Vec<Diagnostic> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    std::fs::write(&path, text).unwrap();
    let opts = LoadOptions {
        config_id: Some("test".into()),
        ..LoadOptions::default()
    };
    config::load_all(&path, &opts).1
}

fn problems(diags: &[Diagnostic]) -> Vec<String> {
    diags
        .iter()
        .filter(|d| d.severity == Severity::Error || d.message.contains("unknown keyword"))
        .map(ToString::to_string)
        .collect()
}

#[test]
fn the_base_config_is_clean() {
    let d = load(&format!("{BASE}{INSTANCE_HEAD}}}\n"));
    assert!(problems(&d).is_empty(), "{d:?}");
}

#[test]
fn every_row_is_accepted_in_its_block() {
    let mut bad = Vec::new();
    for kw in KEYWORDS {
        let text = config_using(kw.block, kw.name, kw.sample);
        let p = problems(&load(&text));
        if !p.is_empty() {
            bad.push(format!("{:?} {}: {p:?}\n{text}", kw.block, kw.name));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn ignored_lists_are_accepted_with_a_note() {
    let mut bad = Vec::new();
    for (block, list) in [
        (Block::GlobalDefs, IGNORED_GLOBAL),
        (Block::Instance, IGNORED_INSTANCE),
    ] {
        for name in list {
            let d = load(&config_using(block, name, ""));
            let noted = d.iter().any(|d| {
                d.message
                    .contains(&format!("'{name}' is accepted and ignored"))
            });
            if !problems(&d).is_empty() || !noted {
                bad.push(format!("{block:?} {name}: {d:?}"));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn rows_are_unique_and_complete() {
    let mut seen = HashSet::new();
    for kw in KEYWORDS {
        assert!(
            seen.insert((kw.block, kw.name)),
            "{:?} {} twice",
            kw.block,
            kw.name
        );
        assert!(!kw.about.is_empty(), "{} needs a description", kw.name);
        assert!(!kw.about.contains('\n'), "{}: one line", kw.name);
    }
    for block in Block::ALL {
        assert!(in_block(block).next().is_some(), "{block:?} has no rows");
    }
}

/// Words in the builder's keyword matches that are values, not keywords.
const VALUE_WORDS: &[&str] = &["MASTER", "BACKUP", "PASS", "AH"];

/// The builder's functions that dispatch on keyword names, and the block each reads.
const DISPATCHERS: &[(&str, &[Block])] = &[
    ("pub fn build(", &[Block::Top]),
    ("fn global(", &[Block::GlobalDefs]),
    ("fn vrrp_script(", &[Block::VrrpScript]),
    ("fn track_file(", &[Block::TrackFile]),
    ("fn track_process(", &[Block::TrackProcess]),
    ("fn notify(", &[Block::SyncGroup, Block::Instance]),
    ("fn sync_group(", &[Block::SyncGroup]),
    ("fn instance(", &[Block::Instance]),
    ("fn auth(", &[Block::Authentication]),
];

/// String patterns of `"a" | "b" =>` match arms in one function of the builder (build/).
fn arm_strings(src: &str, start: &str) -> Vec<String> {
    let from = src
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in build.rs"));
    let rest = &src[from + start.len()..];
    let end = [
        "\n    fn ",
        "\n    pub fn ",
        "\n    pub(super) fn ",
        "\nfn ",
        "\npub fn ",
    ]
    .iter()
    .filter_map(|m| rest.find(m))
    .min()
    .unwrap_or(rest.len());
    let mut out = Vec::new();
    for line in rest[..end].lines() {
        let t = line.trim_start();
        if !t.starts_with('"') {
            continue;
        }
        let Some((pattern, _)) = t.split_once("=>") else {
            continue;
        };
        for alt in pattern.split('|') {
            let alt = alt.trim();
            if let Some(s) = alt.strip_prefix('"').and_then(|a| a.strip_suffix('"')) {
                out.push(s.to_string());
            }
        }
    }
    out
}

#[test]
fn every_keyword_the_builder_matches_has_a_row() {
    // The builder is split by block kind under build/; scan it as one text.
    let src = [
        include_str!("../build/mod.rs"),
        include_str!("../build/values.rs"),
        include_str!("../build/global.rs"),
        include_str!("../build/track.rs"),
        include_str!("../build/groups.rs"),
        include_str!("../build/instance.rs"),
        include_str!("../build/addresses.rs"),
    ]
    .concat();
    let src = src.as_str();
    let rows: HashSet<(Block, &str)> = KEYWORDS.iter().map(|k| (k.block, k.name)).collect();
    let mut missing = Vec::new();
    let mut values_seen = HashSet::new();
    let mut total = 0;
    for (func, blocks) in DISPATCHERS {
        for word in arm_strings(src, func) {
            total += 1;
            if VALUE_WORDS.contains(&word.as_str()) {
                values_seen.insert(word);
                continue;
            }
            for b in *blocks {
                if !rows.contains(&(*b, word.as_str())) {
                    missing.push(format!("{b:?} {word}"));
                }
            }
        }
    }
    assert!(
        total > 100,
        "the scan found only {total} keywords: build.rs changed shape"
    );
    assert!(missing.is_empty(), "not in KEYWORDS: {missing:?}");
    assert_eq!(values_seen.len(), VALUE_WORDS.len(), "stale VALUE_WORDS");

    // The skipped blocks are a private list in build/mod.rs: read it from the source.
    let list = src
        .split_once("const SKIPPED_BLOCKS: &[&str] = &[")
        .and_then(|(_, r)| r.split_once("];"))
        .map(|(l, _)| l)
        .expect("SKIPPED_BLOCKS in build.rs");
    for name in list
        .split(',')
        .map(|s| s.trim().trim_matches('"'))
        .filter(|s| !s.is_empty())
    {
        let row = KEYWORDS
            .iter()
            .find(|k| k.block == Block::Top && k.name == name);
        assert!(
            matches!(row, Some(k) if k.support == Support::Skipped),
            "skipped block {name} needs a Top row marked Skipped"
        );
    }
}

#[test]
fn the_man_page_lists_every_keyword() {
    let mut page = Vec::new();
    write_man_page(&mut page, "1.2.3").unwrap();
    let page = String::from_utf8(page).unwrap();
    assert!(page.starts_with(".TH BATON-KEEPALIVED.CONF 5"));
    for kw in KEYWORDS {
        assert!(page.contains(&esc(kw.name)), "{} missing", kw.name);
    }
    for name in IGNORED_GLOBAL.iter().chain(IGNORED_INSTANCE) {
        assert!(page.contains(&esc(name)), "{name} missing");
    }
    // No line may start a roff request by accident.
    for line in page.lines() {
        if let Some(rest) = line.strip_prefix('.') {
            let req = rest.split_whitespace().next().unwrap_or("");
            assert!(
                ["TH", "nh", "ad", "SH", "SS", "PP", "TP", "B"].contains(&req),
                "unexpected request: {line}"
            );
        }
    }
}
