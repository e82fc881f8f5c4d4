//! The link between baton nodes (issue 10; docs/link-design.md): each node's identity,
//! the peers it trusts, and the TLS that authenticates and encrypts their connection.

pub mod identity;
pub mod tls;
pub mod trust;
