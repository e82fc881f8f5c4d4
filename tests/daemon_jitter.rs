//! Measurement, not a test of behaviour: how regularly a baton master's adverts leave.
//! An observer namespace receives them on a raw VRRP socket and prints the spread of
//! the intervals between them (arrival time on the same host, so the figure includes
//! scheduling on both sides). Run with:
//!
//!     cargo test --release --test daemon_jitter -- --ignored --nocapture

mod common;
mod e2e;

use std::net::IpAddr;
use std::time::{Duration, Instant};

use baton::net::{Family, SocketConfig, VrrpSocket};
use e2e::{Cluster, Inst, conf};

fn measure(advert_int: &str, count: usize) {
    let mut c = Cluster::new("jitter", 2);
    let mut a = Inst::new(150, "BACKUP");
    a.advert_int = advert_int.into();
    c.start("a", 0, &conf("a", "", &[&a]));
    c.d(0).wait_state("VI_1", "MASTER");
    let ns = c.net.node(1).ns.clone();
    let arrivals: Vec<Instant> = c.net.run_async(&ns, move || async move {
        let ifindex = nix::net::if_::if_nametoindex("eth0").expect("eth0");
        let sock = VrrpSocket::open(&SocketConfig {
            ifname: "eth0".into(),
            ifindex,
            family: Family::V4,
            groups: vec![IpAddr::from([224, 0, 0, 18])],
        })
        .expect("observer socket");
        let mut at = Vec::with_capacity(count);
        while at.len() < count {
            let p = tokio::time::timeout(Duration::from_secs(5), sock.recv())
                .await
                .expect("adverts keep coming")
                .expect("recv");
            if p.payload.get(1) == Some(&51) {
                at.push(Instant::now());
            }
        }
        at
    });
    let gaps: Vec<f64> = arrivals
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs_f64() * 1000.0)
        .collect();
    let nominal: f64 = advert_int.parse::<f64>().expect("interval") * 1000.0;
    let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
    let mut dev: Vec<f64> = gaps.iter().map(|g| (g - nominal).abs()).collect();
    dev.sort_by(f64::total_cmp);
    let pct = |p: f64| dev[((dev.len() - 1) as f64 * p) as usize];
    println!(
        "advert_int {advert_int:>5} s: {} intervals, mean {mean:.3} ms (nominal {nominal:.1}), \
         |deviation| median {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        gaps.len(),
        pct(0.5),
        pct(0.99),
        pct(1.0)
    );
}

#[test]
#[ignore = "measurement: run on demand, prints figures"]
fn advert_send_jitter() {
    measure("0.01", 1000);
    measure("0.1", 300);
    measure("1", 30);
}
