//! Two real workers on real directories, their frames carried by the test: random
//! changes on the source, links that drop in the middle of a transfer, and the roles
//! changing hands. After every step the copy is a whole generation the source had (never
//! a mix), and once the frames are all delivered the copy equals the source.
//!
//! Both workers keep "the same" directory at two paths on one host; the carrier rewrites
//! the directory named in each message from one to the other.
#![allow(clippy::unwrap_used)]

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use tokio::sync::mpsc::{UnboundedReceiver, unbounded_channel};

use super::super::message::{self, Msg};
use super::super::tree::Scanner;
use super::{DirSetup, SyncIn, SyncSetup, Worker};

struct Node {
    w: Worker,
    root: PathBuf,
    /// Frames this worker sent on the current connection.
    out: UnboundedReceiver<(u16, Vec<u8>)>,
}

struct World {
    _tmp: tempfile::TempDir,
    nodes: [Node; 2],
    conn: u64,
    /// Digests of every generation either node served.
    served: HashSet<String>,
}

fn setup(root: &Path, state: &Path) -> SyncSetup {
    SyncSetup {
        dirs: vec![DirSetup {
            path: root.to_path_buf(),
            label: "instance VI_1".into(),
            target: "VI_1".into(),
        }],
        state_dir: state.to_path_buf(),
        interval: Duration::from_secs(3600),
        max_file_size: 1 << 20,
    }
}

fn digest(root: &Path) -> String {
    Scanner::new().scan(root).unwrap().manifest.digest()
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let make = |name: &str| {
            let root = tmp.path().join(name).join("data");
            std::fs::create_dir_all(&root).unwrap();
            let (tx, _rx) = std::sync::mpsc::channel();
            let w = Worker::new(
                setup(&root, &tmp.path().join(format!("state-{name}"))),
                tx,
                Arc::new(Mutex::new(Vec::new())),
            );
            let (_, out) = unbounded_channel();
            Node { w, root, out }
        };
        let nodes = [make("a"), make("b")];
        let mut world = World {
            _tmp: tmp,
            nodes,
            conn: 0,
            served: HashSet::new(),
        };
        world.serve(0);
        world.link();
        world
    }

    /// Node `s` serves, the other does not.
    fn serve(&mut self, s: usize) {
        for (i, n) in self.nodes.iter_mut().enumerate() {
            n.w.handle(SyncIn::Serving(BTreeMap::from([(
                "VI_1".to_string(),
                i == s,
            )])));
        }
    }

    fn link(&mut self) {
        self.conn += 1;
        for n in &mut self.nodes {
            let (tx, rx) = unbounded_channel();
            n.out = rx;
            n.w.handle(SyncIn::PeerUp {
                conn: self.conn,
                addr: "10.0.0.9".parse().unwrap(),
                outbox: tx,
            });
        }
    }

    fn unlink(&mut self) {
        for n in &mut self.nodes {
            n.w.handle(SyncIn::PeerDown { conn: self.conn });
            while n.out.try_recv().is_ok() {}
        }
    }

    /// Scans both (as inotify would have them do), recording what a serving node holds.
    fn rescan(&mut self) {
        for n in &mut self.nodes {
            n.w.rescan(0, false);
            if n.w.dirs[0].serving {
                if let Some(l) = &n.w.dirs[0].local {
                    self.served.insert(l.digest.clone());
                }
            }
        }
    }

    /// Carries at most `budget` frames (each way in turn); whether any was left.
    fn deliver(&mut self, mut budget: usize) -> bool {
        let paths = [self.nodes[0].root.clone(), self.nodes[1].root.clone()];
        let mut moved = true;
        while moved && budget > 0 {
            moved = false;
            for from in [0, 1] {
                if budget == 0 {
                    break;
                }
                self.nodes[from].w.pump_sends();
                let Ok((kind, body)) = self.nodes[from].out.try_recv() else {
                    continue;
                };
                let to = 1 - from;
                let (kind, body) = retarget(kind, &body, &paths[from], &paths[to]);
                self.nodes[to].w.handle(SyncIn::Frame {
                    conn: self.conn,
                    kind,
                    body,
                });
                self.check();
                moved = true;
                budget -= 1;
            }
        }
        moved
    }

    /// The copy's directory is a whole generation some node served, or its first state.
    fn check(&self) {
        for n in &self.nodes {
            if n.w.dirs[0].serving {
                continue;
            }
            let d = digest(&n.root);
            assert!(
                self.served.contains(&d) || d == super::super::tree::Manifest::default().digest(),
                "{} holds a generation nobody served",
                n.root.display()
            );
        }
    }

    fn settle(&mut self) {
        for _ in 0..50 {
            self.rescan();
            if !self.deliver(100_000) {
                self.rescan();
                if !self.deliver(100_000) {
                    return;
                }
            }
        }
    }
}

/// The message with its directory named as the receiver names it.
fn retarget(kind: u16, body: &[u8], from: &Path, to: &Path) -> (u16, Vec<u8>) {
    let Ok(mut m) = message::decode(kind, body) else {
        return (kind, body.to_vec());
    };
    let (from, to) = (from.to_string_lossy(), to.to_string_lossy().into_owned());
    let dir = match &mut m {
        Msg::Offer(x) => Some(&mut x.dir),
        Msg::Pull(x) => Some(&mut x.dir),
        Msg::Manifest(x) => Some(&mut x.dir),
        Msg::Want(x) => Some(&mut x.dir),
        Msg::Abort(x) => Some(&mut x.dir),
        Msg::Ack(x) => Some(&mut x.dir),
        _ => None,
    };
    if let Some(d) = dir.filter(|d| **d == from) {
        *d = to;
    }
    m.encode()
}

#[derive(Debug, Clone)]
enum Op {
    /// Write file `n` (of 8) with `len` bytes of `seed` on the serving node.
    Write {
        n: u8,
        len: u32,
        seed: u8,
    },
    Remove {
        n: u8,
    },
    /// Carry this many frames, then scan.
    Deliver(u16),
    /// Cut the link and bring it back.
    Relink,
    /// The service moves to the other node (after everything is in step).
    Handover,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u8..8, 0u32..200_000, any::<u8>()).prop_map(|(n, len, seed)| Op::Write { n, len, seed }),
        1 => (0u8..8).prop_map(|n| Op::Remove { n }),
        4 => (1u16..40).prop_map(Op::Deliver),
        1 => Just(Op::Relink),
        1 => Just(Op::Handover),
    ]
}

fn path_of(n: u8) -> String {
    if n % 2 == 0 {
        format!("f{n}.bin")
    } else {
        format!("d{}/f{n}.bin", n % 3)
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn the_copy_is_always_a_whole_served_generation_and_ends_equal(ops in proptest::collection::vec(op(), 1..30)) {
        let mut w = World::new();
        let mut source = 0;
        w.rescan();
        for op in ops {
            let root = w.nodes[source].root.clone();
            match op {
                Op::Write { n, len, seed } => {
                    let p = root.join(path_of(n));
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    let bytes: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(seed | 1)).collect();
                    std::fs::write(p, bytes).unwrap();
                    w.rescan();
                }
                Op::Remove { n } => {
                    let _ = std::fs::remove_file(root.join(path_of(n)));
                    w.rescan();
                }
                Op::Deliver(k) => {
                    w.deliver(k as usize);
                    w.rescan();
                }
                Op::Relink => {
                    w.unlink();
                    w.link();
                }
                Op::Handover => {
                    w.settle();
                    source = 1 - source;
                    w.serve(source);
                    w.rescan();
                }
            }
        }
        w.settle();
        let (a, b) = (digest(&w.nodes[0].root), digest(&w.nodes[1].root));
        prop_assert_eq!(a, b);
    }
}
