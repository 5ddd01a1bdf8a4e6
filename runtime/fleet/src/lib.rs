//! fenn's fleet: one function to many devices through the MQTT broker
//! every device already reaches, with no server of fenn's own.
//!
//! The protocol, every message under a topic prefix (`fenn/fleet` by
//! default), retained so that a device that was away converges when it
//! comes back:
//!
//! - `<prefix>/groups/<group>/desired` and `<prefix>/devices/<id>/desired`:
//!   a deployment ([`deployment`]), signed with ed25519 ([`signed`]);
//! - `<prefix>/modules/<sha256>/<n>`: a module's chunks ([`chunks`]),
//!   checked against the hash the signed deployment names;
//! - `<prefix>/devices/<id>/reported`: each device's state ([`report`]),
//!   and `<prefix>/devices/<id>/alive`, `online` or, by the last will,
//!   `offline`.
//!
//! The device's side: [`ledger`] decides what a deployment is to it (new,
//! seen, replayed, superseded), [`apply`] applies one through the
//! [`device::Device`] seam and checks its health, rolling back on failure;
//! [`agent`] runs both on the broker's link ([`link`]). The operator's
//! side: [`waves`] plans and judges a rollout, [`operator`] runs it.

pub mod agent;
pub mod apply;
pub mod chunks;
pub mod deployment;
pub mod device;
mod fetch;
pub mod ledger;
pub mod link;
pub mod operator;
mod refusals;
pub mod report;
pub mod signed;
pub mod topics;
pub mod view;
pub mod waves;

pub use deployment::Deployment;
pub use device::Device;
pub use report::{Phase, Report};
pub use topics::Topics;

/// What goes wrong in the fleet, on either side.
#[derive(Debug, thiserror::Error)]
pub enum FleetError {
    /// A key that cannot be read or used.
    #[error("key: {0}")]
    Key(String),
    /// The broker refused or dropped the link.
    #[error("broker: {0}")]
    Broker(String),
    /// A rollout that stopped: too many devices failed, or none answered.
    #[error("rollout stopped: {0}")]
    Stopped(String),
    /// An argument or a message that is not what it must be.
    #[error("{0}")]
    Invalid(String),
}

/// Now, as RFC 3339 in UTC.
pub(crate) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
