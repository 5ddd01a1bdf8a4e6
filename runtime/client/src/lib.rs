//! The command line's client of fenn's management API: a connection to a
//! running fenn (`remote`, over HTTPS with `remote_tls` off loopback), the
//! commands that change and list its functions (`manage`) and its flows
//! (`flows`), and its invocation history and live stream (`logs`).

pub mod flows;
pub mod kv;
pub mod logs;
pub mod manage;
pub mod remote;
pub mod remote_tls;
