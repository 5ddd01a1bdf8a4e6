//! The config file as TOML says it: serde structs that refuse unknown
//! keys. Each field's doc names its TOML key; `super` validates them.

use serde::Deserialize;

/// The keys of the whole file that are fenn's own; every other section
/// belongs to a trigger (`[mqtt]`, `[gateway]`, `[[app]]`), which reads it.
pub(crate) const SECTIONS: [&str; 5] = ["server", "function", "flow", "admin", "fleet"];

/// `[admin]`: the management API's own listener. The bearer token comes
/// from `FENN_ADMIN_TOKEN`, else from `token_file`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawAdmin {
    /// `listen`: default `127.0.0.1:8081`.
    pub(crate) listen: Option<String>,
    /// `token_file`: a file holding the token (relative to the config).
    pub(crate) token_file: Option<String>,
    /// `tls_cert`: PEM certificate chain; with `tls_key`, the listener
    /// serves HTTPS (required off loopback).
    pub(crate) tls_cert: Option<String>,
    /// `tls_key`: PEM private key of `tls_cert`, readable by its owner only.
    pub(crate) tls_key: Option<String>,
    /// `insecure_plain_http`: serve plain HTTP on an address other than
    /// loopback, the token crossing the network in clear (default false:
    /// such an address needs `tls_cert` and `tls_key`).
    #[serde(default)]
    pub(crate) insecure_plain_http: bool,
    /// `max_module_size`: largest module a deploy may upload (default `8MiB`).
    pub(crate) max_module_size: Option<String>,
    /// `keep_versions`: versions of each function kept for rollback (default 5).
    pub(crate) keep_versions: Option<usize>,
    /// `max_functions`: functions that may be deployed (default 100).
    pub(crate) max_functions: Option<usize>,
    /// `history`: invocations kept per function (default 1000).
    pub(crate) history: Option<usize>,
    /// `history_log`: log lines kept per invocation (default `8KiB`).
    pub(crate) history_log: Option<String>,
    /// `history_memory`: all kept invocations together (default `16MiB`).
    pub(crate) history_memory: Option<String>,
}

/// `[fleet]`: the device in a fleet (needs `[admin]`, whose store of
/// deployed functions the fleet deploys to).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFleet {
    /// `brokers`: `mqtt://host:port` of each broker (a cluster's nodes),
    /// tried in turn.
    #[serde(default)]
    pub(crate) brokers: Vec<String>,
    /// `device`: the device's id (default: its host name).
    pub(crate) device: Option<String>,
    /// `groups`: the groups it belongs to (default none).
    #[serde(default)]
    pub(crate) groups: Vec<String>,
    /// `trusted_keys`: the ed25519 public keys (base64) whose deployments
    /// it applies.
    #[serde(default)]
    pub(crate) trusted_keys: Vec<String>,
    /// `prefix`: the fleet's topics' prefix (default `fenn/fleet`).
    pub(crate) prefix: Option<String>,
    /// `keep_alive`: MQTT keep-alive; the broker says the device is offline
    /// after 1.5 times it (default `30s`).
    pub(crate) keep_alive: Option<String>,
    /// `fetch_timeout`: time a module's download may go without a chunk
    /// before the deployment fails (default `60s`).
    pub(crate) fetch_timeout: Option<String>,
}

/// `[server]`: what every trigger shares. The gateway's keys of `[server]`
/// (`listen`, `max_body`, ...) are its own.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawServer {
    /// `shutdown_grace`: time in-flight requests get at shutdown (default `30s`).
    pub(crate) shutdown_grace: Option<String>,
    /// `workers`: threads for guests that run past their first slice
    /// (default: the number of CPU cores).
    pub(crate) workers: Option<usize>,
    /// `guest_memory`: linear memory of all running guests together
    /// (default `256MiB`); past it events are answered 503.
    pub(crate) guest_memory: Option<String>,
    /// `state_dir`: where fenn keeps state across restarts (cron's last
    /// fire times); default `$STATE_DIRECTORY` (set by systemd), else none.
    pub(crate) state_dir: Option<String>,
}

/// `[[function]]`: one function and its limits; its bindings
/// (`[[function.http]]`, ...) are read by their triggers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFunction {
    /// `name`: unique, used in logs and routes.
    pub(crate) name: String,
    /// `module`: a `.wasm` path (relative to the config file) or
    /// `example:hello` / `example:echo` / `example:sensor`.
    pub(crate) module: String,
    /// `timeout`: wall-clock deadline per event (default `5s`).
    pub(crate) timeout: Option<String>,
    /// `fuel`: CPU budget per event (default 100 000 000).
    pub(crate) fuel: Option<u64>,
    /// `memory`: linear memory cap (default `16MiB`).
    pub(crate) memory: Option<String>,
    /// `max_module_size`: largest module accepted (default `8MiB`).
    pub(crate) max_module_size: Option<String>,
    /// `max_recursion_depth`: wasm call depth (default 1024).
    pub(crate) max_recursion_depth: Option<usize>,
    /// `concurrency`: events at once; more are answered 503 (default 32).
    pub(crate) concurrency: Option<usize>,
    /// `max_response`: largest output the function may return (default `1MiB`).
    pub(crate) max_response: Option<String>,
    /// `max_workers`: worker threads its long events may hold at once
    /// (default half of `server.workers`, at least 1).
    pub(crate) max_workers: Option<usize>,
    /// `apps`: the apps its routes authorize, where a route names none.
    #[serde(default)]
    pub(crate) apps: Vec<String>,
    /// `vars`: plain values the function reads by name (`[function.vars]`).
    #[serde(default)]
    pub(crate) vars: std::collections::BTreeMap<String, String>,
    /// `secrets`: `NAME = { env = "VAR" }` or `{ file = "path" }`
    /// (owner-only), read by name like a variable and never shown
    /// (`[function.secrets]`).
    #[serde(default)]
    pub(crate) secrets: std::collections::BTreeMap<String, RawSecret>,
    /// `kv`: `true` for a key-value store of its own, or a table with
    /// `store` (a shared store's name) and quotas.
    pub(crate) kv: Option<RawKv>,
    /// `publish`: MQTT topic filters it may publish to (`{function}` and
    /// `{device}` are replaced by its name and the device's host name).
    #[serde(default)]
    pub(crate) publish: Vec<String>,
    /// `emit`: functions it may emit events to.
    #[serde(default)]
    pub(crate) emit: Vec<String>,
}

/// `[function.secrets]`: each secret's source, `env` or `file`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSecret {
    /// `env`: an environment variable of fenn's.
    pub(crate) env: Option<String>,
    /// `file`: a file readable by its owner only (relative to the config).
    pub(crate) file: Option<String>,
}

/// `kv`: `true`, or its settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum RawKv {
    /// `kv = true`: a store of its own with the default quotas.
    On(bool),
    /// `[function.kv]`.
    Settings(RawKvSettings),
}

/// `[function.kv]`: a store shared with other functions, and quotas.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawKvSettings {
    /// `store`: a shared store's name, for functions that share state
    /// (default: a store of its own).
    pub(crate) store: Option<String>,
    /// `max_keys`: keys the store may hold (default 10000).
    pub(crate) max_keys: Option<u64>,
    /// `max_bytes`: bytes of keys and values (default `16MiB`).
    pub(crate) max_bytes: Option<String>,
    /// `max_value`: the largest value (default `64KiB`, at most `1MiB`).
    pub(crate) max_value: Option<String>,
}
