//! A crafted data sync source for the hostile-peer tests (tests/e2e_sync_hostile.rs):
//! a peer built from the crate's own parts (identity, TLS config, the link `Session`,
//! `sync::message`) that links like a baton would and then plays what a test tells it,
//! and the victim: one real baton whose copy it offers to.
#![allow(dead_code)] // each test binary uses some of it

use std::collections::{BTreeMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use baton::link::identity::Identity;
use baton::link::message::{Hello, VERSIONS};
use baton::link::session::{Event, Phase, Session, SessionConfig};
use baton::link::tls::{client_config, peer_fingerprint, server_name};
use baton::sync::message::{
    self as sm, Abort, Ack, CHUNK, Data, Manifest as Page, Msg, Offer, Want,
};
use baton::sync::tree::{Entry, Kind, Manifest};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use super::link::{LINK_PORT, link_conf};
use super::sync::{noise, sha256, snapshot};
use super::{Cluster, DEADLINE, Inst, conf};

pub const VICTIM: &str = "10.0.0.1";
/// How long the crafted peer waits for each answer.
pub const ANSWER: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------- the crafted peer

/// A linked connection to the victim, driven by baton's own session state machine.
pub struct Peer {
    pub tls: TlsStream<TcpStream>,
    pub s: Session,
    pub inbox: VecDeque<Msg>,
    /// Everything the victim said, for the report.
    pub seen: Vec<String>,
}

impl Peer {
    pub async fn connect(id_dir: &Path) -> Result<Peer, String> {
        let (id, _) = Identity::load_or_create(id_dir).map_err(|e| e.to_string())?;
        let (config, _) = client_config(&id, None).map_err(|e| e.to_string())?;
        let addr = IpAddr::V4(VICTIM.parse::<Ipv4Addr>().expect("addr"));
        let tcp = TcpStream::connect((addr, LINK_PORT))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(server_name(addr), tcp)
            .await
            .map_err(|e| format!("tls: {e}"))?;
        let fp = peer_fingerprint(tls.get_ref().1).ok_or("no certificate")?;
        let hello = Hello {
            versions: VERSIONS,
            node_id: "crafted".into(),
            fingerprint: id.fingerprint().to_string(),
            baton_version: "0.0.0-hostile".into(),
            capabilities: Vec::new(),
        };
        let mut s = Session::new(Instant::now(), SessionConfig::new(hello, fp.to_string()));
        s.set_trusted(true);
        let mut p = Peer {
            tls,
            s,
            inbox: VecDeque::new(),
            seen: Vec::new(),
        };
        let until = Instant::now() + ANSWER;
        while p.s.phase() != Phase::Up {
            if Instant::now() > until || p.s.phase() == Phase::Closed {
                return Err(format!("never up: {:?}", p.seen));
            }
            p.turn(until).await;
        }
        Ok(p)
    }

    pub async fn flush(&mut self) {
        if let Some(out) = self.s.poll_transmit() {
            let _ = self.tls.write_all(&out).await;
            let _ = self.tls.flush().await;
        }
    }

    /// One read or timer, and what it produced.
    pub async fn turn(&mut self, until: Instant) {
        self.flush().await;
        let wake = self.s.next_deadline().map_or(until, |t| t.min(until));
        let mut buf = vec![0u8; 64 * 1024];
        let wait = wake.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, self.tls.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => self.s.handle_eof(),
            Ok(Ok(n)) => self.s.handle_bytes(Instant::now(), &buf[..n]),
            Err(_) => self.s.handle_timeout(Instant::now()),
        }
        while let Some(e) = self.s.poll_event() {
            if matches!(
                e,
                Event::Closed(_) | Event::Up { .. } | Event::Pending { .. }
            ) {
                self.seen.push(format!("link event {e:?}"));
            }
        }
        while let Some(f) = self.s.poll_sync() {
            match sm::decode(f.kind.number(), &f.body) {
                Ok(m) => {
                    self.seen.push(short(&m));
                    self.inbox.push_back(m);
                }
                Err(e) => self.seen.push(format!("undecodable from the victim: {e}")),
            }
        }
        self.flush().await;
    }

    /// Runs the session until a sync message `pick` takes arrives (within `limit`).
    pub async fn wait<T>(
        &mut self,
        limit: Duration,
        pick: impl Fn(&Msg) -> Option<T>,
    ) -> Option<T> {
        let until = Instant::now() + limit;
        loop {
            if let Some(i) = self.inbox.iter().position(|m| pick(m).is_some()) {
                return self.inbox.remove(i).and_then(|m| pick(&m));
            }
            if Instant::now() > until || self.s.phase() == Phase::Closed {
                return None;
            }
            self.turn(until).await;
        }
    }

    pub async fn raw(&mut self, kind: u16, body: &[u8]) {
        assert!(
            self.s.send_sync(kind, body),
            "the session took no sync frame"
        );
        self.flush().await;
    }

    /// Every frame queued first and written in one go: a burst that does not wait for
    /// anything the victim sends meanwhile.
    pub async fn burst(&mut self, frames: &[(u16, Vec<u8>)]) {
        for (kind, body) in frames {
            assert!(
                self.s.send_sync(*kind, body),
                "the session took no sync frame"
            );
        }
        self.flush().await;
    }

    pub async fn send(&mut self, m: &Msg) {
        let (kind, body) = m.encode();
        self.raw(kind, &body).await;
    }

    pub async fn close(mut self) {
        self.s.shutdown();
        self.flush().await;
        let _ = self.tls.shutdown().await;
    }
}

/// A message as the report shows it (file bytes left out).
pub fn short(m: &Msg) -> String {
    match m {
        Msg::Data(d) => format!(
            "Data(transfer {}, file {}, offset {}, {} bytes)",
            d.transfer,
            d.index,
            d.offset,
            d.bytes.len()
        ),
        Msg::Manifest(p) => format!("Manifest(page {}, {} entries)", p.page, p.entries.len()),
        other => format!("{other:?}"),
    }
}

// ---------------------------------------------------------------- what the peer plays

/// What the crafted source does once the victim asks for the files.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterWant {
    /// Nothing is asked for: the manifest itself is to be refused.
    NoWant,
    /// Send the frames, expect the victim to abort the transfer.
    Abort,
    /// Send the frames, then end the connection.
    Close,
    /// Send the frames, expect an Ack ok.
    Ack,
}

type Frames = Box<dyn FnOnce(&Want) -> Vec<(u16, Vec<u8>)> + Send>;
/// Frames for the transfer the victim pulled, sent in the manifest's own TLS record.
type Early = Box<dyn FnOnce(u32) -> Vec<(u16, Vec<u8>)> + Send>;

pub struct Play {
    pub generation: u64,
    pub entries: Vec<Entry>,
    /// The digest the offer and manifest name; None: the entries' own.
    pub digest: Option<String>,
    pub after: AfterWant,
    pub frames: Option<Frames>,
    /// Sent with the manifest page in one write, so that the victim reads them in the same
    /// TLS record, before it can have asked for anything.
    pub early: Option<Early>,
    /// Frames sent instead of any offer (garbage).
    pub garbage: Vec<(u16, Vec<u8>)>,
}

impl Play {
    pub fn manifest(generation: u64, entries: Vec<Entry>) -> Play {
        Play {
            generation,
            entries,
            digest: None,
            after: AfterWant::NoWant,
            frames: None,
            early: None,
            garbage: Vec::new(),
        }
    }

    pub fn data(
        generation: u64,
        entries: Vec<Entry>,
        after: AfterWant,
        frames: impl FnOnce(&Want) -> Vec<(u16, Vec<u8>)> + Send + 'static,
    ) -> Play {
        Play {
            after,
            frames: Some(Box::new(frames)),
            ..Play::manifest(generation, entries)
        }
    }
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub pulled: bool,
    pub want: Option<Want>,
    pub abort: Option<Abort>,
    pub ack: Option<Ack>,
    /// After the case, the same connection offered again and the victim pulled again.
    pub pulled_again: bool,
    pub seen: Vec<String>,
    pub error: Option<String>,
}

pub fn offer_of(dir: &str, generation: u64, m: &Manifest, digest: &str) -> Msg {
    Msg::Offer(Offer {
        dir: dir.into(),
        generation,
        digest: digest.into(),
        files: m.files() as u64,
        bytes: m.bytes(),
        serving: true,
    })
}

pub async fn play(id_dir: PathBuf, dir: String, p: Play) -> Outcome {
    let mut out = Outcome::default();
    let mut peer = match Peer::connect(&id_dir).await {
        Ok(peer) => peer,
        Err(e) => {
            out.error = Some(e);
            return out;
        }
    };
    let m = Manifest {
        entries: p.entries.clone(),
    };
    let digest = p.digest.clone().unwrap_or_else(|| m.digest());
    let offer = offer_of(&dir, p.generation, &m, &digest);
    let is_pull = |m: &Msg| match m {
        Msg::Pull(p) => Some(p.transfer),
        _ => None,
    };
    if p.garbage.is_empty() {
        peer.send(&offer).await;
        let pull = peer.wait(ANSWER, is_pull).await;
        out.pulled = pull.is_some();
        let Some(transfer) = pull else {
            out.seen = peer.seen;
            return out;
        };
        let page = Msg::Manifest(Page {
            dir: dir.clone(),
            generation: p.generation,
            digest: digest.clone(),
            page: 0,
            last: true,
            transfer,
            entries: p.entries.clone(),
        });
        let mut first = vec![page.encode()];
        first.extend(p.early.map(|f| f(transfer)).unwrap_or_default());
        peer.burst(&first).await;
        if p.after != AfterWant::NoWant {
            let want = peer
                .wait(ANSWER, |m| match m {
                    Msg::Want(w) => Some(w.clone()),
                    _ => None,
                })
                .await;
            let Some(want) = want else {
                out.seen = peer.seen;
                return out;
            };
            out.want = Some(want.clone());
            let frames = p.frames.map(|f| f(&want)).unwrap_or_default();
            peer.burst(&frames).await;
            match p.after {
                AfterWant::Close => {
                    out.seen = peer.seen.clone();
                    peer.close().await;
                    return out;
                }
                AfterWant::Abort => {
                    // The abort, or (a refusal missed) the Ack of the generation.
                    let pick = |m: &Msg| match m {
                        Msg::Abort(a) => Some(Ok(a.clone())),
                        Msg::Ack(a) if a.generation == p.generation => Some(Err(a.clone())),
                        _ => None,
                    };
                    match peer.wait(ANSWER, pick).await {
                        Some(Ok(a)) => out.abort = Some(a),
                        Some(Err(a)) => out.ack = Some(a),
                        None => {}
                    }
                }
                AfterWant::Ack | AfterWant::NoWant => {}
            }
        }
    } else {
        for (kind, body) in &p.garbage {
            peer.raw(*kind, body).await;
        }
    }
    if p.after == AfterWant::Ack || (p.after == AfterWant::Abort && out.ack.is_none()) {
        // An Ack ends a transfer that was taken (or, with a bug, one that should not be).
        let pick = |m: &Msg| match m {
            Msg::Ack(a) if a.generation == p.generation => Some(a.clone()),
            _ => None,
        };
        let limit = if p.after == AfterWant::Ack {
            ANSWER
        } else {
            Duration::from_millis(300)
        };
        out.ack = peer.wait(limit, pick).await;
    }
    // The link still carries sync: the same offer again is pulled again (a refusal
    // ended the pull; a garbage frame never started one).
    if out.ack.is_none() {
        peer.send(&offer).await;
        out.pulled_again = peer.wait(ANSWER, is_pull).await.is_some();
    }
    out.seen = peer.seen.clone();
    peer.close().await;
    out
}

// ---------------------------------------------------------------- entries and frames

pub const MTIME: i64 = 1_700_000_000;

pub fn file(path: &str, bytes: &[u8]) -> Entry {
    Entry {
        path: path.into(),
        kind: Kind::File {
            size: bytes.len() as u64,
            sha256: sha256(bytes),
        },
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime: MTIME,
        mtime_ns: 0,
    }
}

pub fn dir_entry(path: &str) -> Entry {
    Entry {
        path: path.into(),
        kind: Kind::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
        mtime: MTIME,
        mtime_ns: 0,
    }
}

pub fn link(path: &str, target: &str) -> Entry {
    Entry {
        path: path.into(),
        kind: Kind::Symlink {
            target: target.into(),
        },
        mode: 0o777,
        uid: 0,
        gid: 0,
        mtime: MTIME,
        mtime_ns: 0,
    }
}

/// `bytes` of file `index` as the Data frames an honest source sends.
pub fn chunks(transfer: u32, index: u32, bytes: &[u8]) -> Vec<(u16, Vec<u8>)> {
    bytes
        .chunks(CHUNK)
        .enumerate()
        .map(|(n, c)| {
            Msg::Data(Data {
                transfer,
                index,
                offset: (n * CHUNK) as u64,
                bytes: c.to_vec(),
            })
            .encode()
        })
        .collect()
}

// ---------------------------------------------------------------- the victim

pub struct Victim {
    pub c: Cluster,
    pub v: usize,
    pub peer_ns: String,
    pub id_dir: PathBuf,
    /// The synced directory (its path is also its name on the wire).
    pub data: PathBuf,
}

/// The master (node 2, priority 100, no link), then the victim (node 0, BACKUP,
/// priority 90, nopreempt) pinning the crafted peer's key (node 1).
pub fn victim(test: &str) -> Victim {
    let mut c = Cluster::new(test, 3);
    let addrs: Vec<String> = (0..3).map(|i| c.net.node(i).v4.to_string()).collect();
    let mut master = Inst::new(100, "MASTER");
    master.unicast = Some((addrs[2].clone(), vec![addrs[0].clone()]));
    c.start("master", 2, &conf("master", "", &[&master]));
    c.d(0).wait_state("VI_1", "MASTER");

    let id_dir = c.path("crafted-identity");
    let (id, _) = Identity::load_or_create(&id_dir).expect("crafted identity");
    let fp = id.fingerprint().to_string();
    let data = c.path("victim/data");
    std::fs::create_dir_all(data.join("conf")).expect("mkdir");
    std::fs::write(data.join("conf/app.yaml"), b"name: hub\n").expect("write");
    std::fs::write(data.join("points.bin"), noise(100_000, 1)).expect("write");
    std::fs::write(data.join("empty"), b"").expect("write");
    std::os::unix::fs::symlink("conf/app.yaml", data.join("current")).expect("symlink");

    let mut inst = Inst::new(90, "BACKUP");
    inst.nopreempt = true;
    inst.unicast = Some((addrs[0].clone(), vec![addrs[2].clone()]));
    let peer = format!("{} fingerprint {fp}", addrs[1]);
    let sync_dir = format!("sync_dir {} instance VI_1", data.display());
    let baton = link_conf(
        &addrs[0],
        &[&peer],
        &c.path("state-victim"),
        &[&sync_dir, "sync_interval 3600", "sync_max_file_size 1M"],
    );
    let v = c.start_baton("victim", 0, &conf("victim", "", &[&inst]), &baton);
    c.d(v).wait_state("VI_1", "BACKUP");
    // Its own copy scanned: generation 1 of the four entries (three files).
    let t0 = Instant::now();
    while super::sync::row(c.d(v))["files"] != 3 {
        assert!(
            t0.elapsed() < DEADLINE,
            "the victim never scanned its copy: {:#}\n{}",
            super::sync::row(c.d(v)),
            c.all_logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let peer_ns = c.net.node(1).ns.clone();
    Victim {
        c,
        v,
        peer_ns,
        id_dir,
        data,
    }
}

impl Victim {
    pub fn wire_dir(&self) -> String {
        self.data.to_string_lossy().into_owned()
    }

    pub fn play(&self, p: Play) -> Outcome {
        let (id_dir, dir) = (self.id_dir.clone(), self.wire_dir());
        self.c.net.run_async(
            &self.peer_ns,
            move || async move { play(id_dir, dir, p).await },
        )
    }

    pub fn refused(&self) -> BTreeMap<String, u64> {
        let row = super::sync::row(self.c.d(self.v));
        row["refused"]
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_u64().unwrap_or(0)))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn log(&self) -> String {
        self.c.d(self.v).log_text()
    }

    /// Runs one case: `cause` (or each of `causes`) counted once more, nothing else
    /// counted, the copy as it was, the daemon running; returns the outcome.
    pub fn refuses(&mut self, name: &str, causes: &[&str], p: Play) -> Outcome {
        let before_copy = snapshot(&self.data);
        let before = self.refused();
        let o = self.play(p);
        let ctx = |o: &Outcome, v: &Victim| {
            format!(
                "{name}: {o:#?}\nrefused now {:?}\nrow {:#}\n--- victim log ---\n{}",
                v.refused(),
                super::sync::row(v.c.d(v.v)),
                v.log()
            )
        };
        assert!(o.error.is_none(), "{}", ctx(&o, self));
        assert!(
            o.ack.is_none(),
            "{name}: the victim took the generation\n{}",
            ctx(&o, self)
        );
        let t0 = Instant::now();
        loop {
            let now = self.refused();
            let ok = causes
                .iter()
                .all(|c| now.get(*c).copied().unwrap_or(0) > before.get(*c).copied().unwrap_or(0));
            if ok {
                break;
            }
            assert!(
                t0.elapsed() < DEADLINE,
                "{name}: {causes:?} not counted\n{}",
                ctx(&o, self)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            snapshot(&self.data),
            before_copy,
            "{name}: the copy changed\n{}",
            ctx(&o, self)
        );
        assert!(
            self.c.dm(self.v).is_running(),
            "{name}: the victim died\n{}",
            self.log()
        );
        assert_eq!(
            self.c.d(self.v).state("VI_1").as_deref(),
            Some("BACKUP"),
            "{name}"
        );
        let after = self.refused();
        println!(
            "{name}: counted {:?}; victim said {:?}",
            causes
                .iter()
                .map(|c| (c, after.get(*c).copied().unwrap_or(0)))
                .collect::<Vec<_>>(),
            o.seen
        );
        o
    }
}

pub fn no_incoming_parts(data: &Path) -> Vec<String> {
    let inc = data.with_file_name(".data.baton-incoming");
    std::fs::read_dir(inc)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(".part-"))
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------- the tests
