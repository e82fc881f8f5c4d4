//! What baton's HTTP server answers, without the server: the HTTP request head parsed
//! within limits, the Prometheus metrics and the status page, each a pure function of
//! a status snapshot ([`crate::control::Status`]). The daemon's driver
//! (`daemon::web`) owns the sockets and reads the snapshot the engine publishes.

pub mod expo;
pub mod metrics;
pub mod page;
pub mod request;
pub mod route;
