//! keepalived's probes of the command line, answered by the real binary: `--signum` as
//! keepalived 2.2.7 answers it, and `-v` / `--version` in a form the Prometheus exporter's
//! version probe accepts (its parsing rules are in tests/dump/exporter.rs).

mod dump;

use std::process::{Command, Output};

use dump::exporter;

fn baton(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .output()
        .expect("run baton")
}

fn keepalived(args: &[&str]) -> Option<Output> {
    Command::new("keepalived").args(args).output().ok()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn signum_answers_as_keepalived() {
    let expected = [
        ("DATA", "10\n"),
        ("STATS", "12\n"),
        ("RELOAD", "1\n"),
        ("STOP", "15\n"),
        ("JSON", "36\n"),
    ];
    for (name, want) in expected {
        let out = baton(&[&format!("--signum={name}")]);
        assert!(out.status.success(), "--signum={name}: {out:?}");
        assert_eq!(text(&out.stdout), want, "--signum={name}");
        assert_eq!(
            exporter::parse_signum(&text(&out.stdout)).ok(),
            want.trim().parse().ok()
        );
        let spaced = baton(&["--signum", name]);
        assert_eq!(text(&spaced.stdout), want, "--signum {name}");
    }
    // keepalived accepts upper case only and refuses everything else on stderr, status 1.
    for name in ["data", "Json", "TDATA", "STATS_CLEAR", "nonsense"] {
        let out = baton(&[&format!("--signum={name}")]);
        assert_eq!(out.status.code(), Some(1), "--signum={name}");
        assert!(out.stdout.is_empty());
        assert_eq!(text(&out.stderr), format!("Unknown sigfunc {name}\n"));
    }
}

/// Against the installed keepalived, when there is one (CI installs it).
#[test]
fn signum_matches_the_installed_keepalived() {
    if keepalived(&["--version"]).is_none() {
        eprintln!("keepalived is not installed: skipped");
        return;
    }
    for name in [
        "DATA", "STATS", "JSON", "RELOAD", "STOP", "data", "TDATA", "nonsense",
    ] {
        let arg = format!("--signum={name}");
        let (ours, theirs) = (baton(&[&arg]), keepalived(&[&arg]).expect("keepalived"));
        assert_eq!(ours.status.code(), theirs.status.code(), "{arg}");
        assert_eq!(text(&ours.stdout), text(&theirs.stdout), "{arg}");
        assert_eq!(text(&ours.stderr), text(&theirs.stderr), "{arg}");
    }
}

#[test]
fn version_passes_the_exporters_probe_and_stays_readable() {
    let v = env!("CARGO_PKG_VERSION");
    for flag in ["-v", "--version", "-V"] {
        let out = baton(&[flag]);
        assert!(out.status.success(), "{flag}");
        // People and the packaging checks: `baton X` on stdout, exactly.
        assert_eq!(text(&out.stdout), format!("baton {v}\n"), "{flag}");
        // The exporter: first stderr line, second word, minus its first character.
        let stderr = text(&out.stderr);
        assert_eq!(
            stderr.lines().next(),
            Some(format!("Keepalived v2.2.7 (baton {v})").as_str())
        );
        let version = exporter::parse_version(&stderr).expect("the exporter's parse");
        assert_eq!(version, [2, 2, 7]);
        assert!(
            version >= vec![1, 4, 0],
            "signum and script state need >= 1.4.0"
        );
        // With -ka.json the exporter wants `--enable-json` in `keepalived --version`.
        let all = format!("{}{stderr}", text(&out.stdout));
        assert!(all.contains("--enable-json"), "{all}");
    }
    if let Some(out) = keepalived(&["-v"]) {
        // The same parse on keepalived's own banner gives the same version.
        assert_eq!(
            exporter::parse_version(&text(&out.stderr)),
            Ok(vec![2, 2, 7])
        );
    }
}
