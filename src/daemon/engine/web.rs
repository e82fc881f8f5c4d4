//! The engine's side of the HTTP server: start it when baton's file has an http block,
//! and after a reload stop, start or rebind it and hand it the configuration's facts.
//!
//! The engine only hands over a snapshot receiver and binds sockets (quick, failing at
//! once); everything else runs on the server's own thread and never reaches back.
//!
//! A server that cannot listen does not stop baton: a monitoring port already taken
//! (by a keepalived exporter still running, say) must not take failover down with it.
//! The error is logged and a reload tries again.

use tracing::{error, info};

use crate::config;
use crate::web::metrics::{InstanceFacts, NodeFacts};

use super::super::plan::Plan;
use super::super::web::WebHandle;
use super::Engine;

impl Engine {
    /// Starts the HTTP server if baton's file has an http block. Only a thread that
    /// cannot be started is an error; a port that cannot be bound is logged.
    pub(super) fn start_web(&mut self, config: &config::Config) -> anyhow::Result<()> {
        self.web = None;
        let Some(http) = &config.baton.http else {
            return Ok(());
        };
        let mut handle = WebHandle::start(self.subscribe(), facts(&self.plan))?;
        match handle.listen(&http.sockets()) {
            Ok(()) => {
                info!("http: serving /metrics, /status and / on {}", list(&handle));
                self.web = Some(handle);
            }
            // Dropped: no thread, and no snapshots built for nobody.
            Err(e) => {
                error!("http: {e:#}; baton runs without its HTTP server (a reload tries again)")
            }
        }
        Ok(())
    }

    /// After a reload: the http block's new addresses, or none.
    pub(super) fn reload_web(&mut self, config: &config::Config) {
        match (&config.baton.http, self.web.as_mut()) {
            (None, None) => {}
            (None, Some(_)) => {
                self.web = None;
                info!("http: no http block any more; the server is stopped");
            }
            (Some(http), Some(handle)) => {
                handle.set_facts(facts(&self.plan));
                let want = http.sockets();
                if handle.bound() == want.as_slice() {
                    return;
                }
                match handle.listen(&want) {
                    Ok(()) => info!("http: now serving on {}", list(handle)),
                    Err(e) => error!(
                        "http settings not applied: {e:#}; the server stays on {}",
                        list(handle)
                    ),
                }
            }
            (Some(_), None) => {
                if let Err(e) = self.start_web(config) {
                    error!("http: {e:#}");
                }
            }
        }
    }
}

fn list(handle: &WebHandle) -> String {
    let addrs: Vec<String> = handle.bound().iter().map(|a| a.to_string()).collect();
    addrs.join(", ")
}

/// What the metrics need of the running configuration beside the status.
fn facts(plan: &Plan) -> NodeFacts {
    let instances = (plan.instances.iter())
        .map(|p| {
            let address_dev = (p.virtual_addresses.iter())
                .chain(&p.excluded_addresses)
                .filter_map(|a| {
                    let dev = a.dev.clone()?;
                    Some((format!("{}/{}", a.address, a.prefix_len), dev))
                })
                .collect();
            let f = InstanceFacts {
                garp_delay_secs: p.garp.delay.as_secs_f64(),
                address_dev,
            };
            (p.name.clone(), f)
        })
        .collect();
    NodeFacts { instances }
}
