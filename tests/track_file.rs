//! track_file with a real file in a temp dir: initial value, in-place writes, atomic
//! replacement by rename, deletion (reads as 0), junk (reads as 0).

#![allow(clippy::unwrap_used)] // tests: a failed setup step should panic

use std::path::Path;
use std::time::Duration;

use baton::hooks::RunAs;
use baton::proto::TrackStatus;
use baton::track::{FileSpec, ScriptSettings, TrackEvent, TrackSpecs, Tracker};
use tokio::sync::mpsc::UnboundedReceiver;

const DEADLINE: Duration = Duration::from_secs(20);

async fn next(rx: &mut UnboundedReceiver<TrackEvent>) -> TrackEvent {
    tokio::time::timeout(DEADLINE, rx.recv())
        .await
        .expect("no track event before the deadline")
        .expect("channel closed")
}

fn start(spec: FileSpec) -> (Tracker, UnboundedReceiver<TrackEvent>) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let settings = ScriptSettings {
        script_user: RunAs::current(),
        script_security: false,
    };
    let specs = TrackSpecs {
        files: vec![spec],
        ..TrackSpecs::default()
    };
    (Tracker::start(specs, settings, tx), rx)
}

fn value(n: i64) -> TrackEvent {
    TrackEvent {
        key: "file:weight".into(),
        status: TrackStatus::Value(n),
    }
}

fn replace(path: &Path, text: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn file_values_follow_keepalived_rules() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weight");
    let (tracker, mut rx) = start(FileSpec {
        name: "weight".into(),
        path: path.clone(),
        init_file: Some(5),
        init_overwrite: false,
    });
    assert_eq!(next(&mut rx).await, value(5));
    assert_eq!(std::fs::read_to_string(&path).unwrap().trim(), "5");

    std::fs::write(&path, "12\n").unwrap();
    assert_eq!(next(&mut rx).await, value(12));

    replace(&path, "  -3 trailing words\n");
    assert_eq!(next(&mut rx).await, value(-3));

    std::fs::remove_file(&path).unwrap();
    assert_eq!(next(&mut rx).await, value(0));

    std::fs::write(&path, "0x10").unwrap();
    assert_eq!(next(&mut rx).await, value(16));

    // Not a number: reads as 0.
    std::fs::write(&path, "abc").unwrap();
    assert_eq!(next(&mut rx).await, value(0));

    // Out of range: ignored, the value stays; the next good value comes through.
    std::fs::write(&path, "99999999999").unwrap();
    std::fs::write(&path, "7").unwrap();
    assert_eq!(next(&mut rx).await, value(7));
    tracker.stop().await;
}

#[tokio::test(flavor = "current_thread")]
async fn init_file_overwrite_and_missing_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("weight");
    std::fs::write(&path, "40").unwrap();
    let (tracker, mut rx) = start(FileSpec {
        name: "weight".into(),
        path: path.clone(),
        init_file: Some(-2),
        init_overwrite: true,
    });
    assert_eq!(next(&mut rx).await, value(-2));
    tracker.stop().await;

    let missing = dir.path().join("nothing-here");
    let (tracker, mut rx) = start(FileSpec {
        name: "weight".into(),
        path: missing.clone(),
        init_file: None,
        init_overwrite: false,
    });
    assert_eq!(next(&mut rx).await, value(0));
    assert!(
        !missing.exists(),
        "without init_file the file is not created"
    );
    std::fs::write(&missing, "3").unwrap();
    assert_eq!(next(&mut rx).await, value(3));
    tracker.stop().await;
}
