//! The config file as TOML says it: serde structs that refuse unknown
//! keys. Each field's doc names its TOML key; `super` validates them.

use serde::Deserialize;

/// Top level. TOML: the whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawConfig {
    /// `[server]`
    #[serde(default)]
    pub(super) server: RawServer,
    /// `[[function]]`
    #[serde(default, rename = "function")]
    pub(super) functions: Vec<RawFunction>,
    /// `[mqtt]`: the broker (absent: no MQTT).
    pub(super) mqtt: Option<RawMqtt>,
    /// `[admin]`: the management API (absent: none).
    pub(super) admin: Option<RawAdmin>,
    /// `[gateway]`: policies every route shares (absent: none).
    pub(super) gateway: Option<RawGateway>,
    /// `[[app]]`: callers' identities, which routes authorize.
    #[serde(default, rename = "app")]
    pub(super) apps: Vec<RawApp>,
}

/// `[gateway]`: global IP lists, trusted proxies, signatures and JWTs.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGateway {
    /// `allow`: addresses and CIDR blocks that may call any route (default: all).
    #[serde(default)]
    pub(super) allow: Vec<String>,
    /// `deny`: addresses and CIDR blocks refused on every route.
    #[serde(default)]
    pub(super) deny: Vec<String>,
    /// `trusted_proxies`: proxies whose `X-Forwarded-For` is believed.
    #[serde(default)]
    pub(super) trusted_proxies: Vec<String>,
    /// `signature_window`: how far a signed request's timestamp may be
    /// from now (default `15m`).
    pub(super) signature_window: Option<String>,
    /// `nonce_cache`: signed requests' nonces remembered (default 65536).
    pub(super) nonce_cache: Option<usize>,
    /// `auth_failures`: failed authentications from one address within
    /// `auth_penalty` before it is refused for `auth_penalty` (default
    /// 10; 0 turns it off).
    pub(super) auth_failures: Option<u32>,
    /// `auth_penalty`: the window and the wait (default `1m`).
    pub(super) auth_penalty: Option<String>,
    /// `[gateway.jwt]`: how JWT bearer tokens are checked.
    pub(super) jwt: Option<RawJwt>,
}

/// `[gateway.jwt]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawJwt {
    /// `secret_env`: the variable holding an HS256 secret.
    pub(super) secret_env: Option<String>,
    /// `secret_file`: a file holding an HS256 secret (mode 600).
    pub(super) secret_file: Option<String>,
    /// `public_key`: a PEM RSA (RS256) or EC P-256 (ES256) public key.
    pub(super) public_key: Option<String>,
    /// `jwks`: a JWKS file of RSA and EC keys.
    pub(super) jwks: Option<String>,
    /// `issuer`: the `iss` tokens must have.
    pub(super) issuer: Option<String>,
    /// `audience`: `aud` must name one of these.
    #[serde(default)]
    pub(super) audience: Vec<String>,
    /// `leeway`: how far `exp` and `nbf` may be off (default `30s`).
    pub(super) leeway: Option<String>,
}

/// `[[app]]`: a caller's identity.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawApp {
    /// `name`: what routes' `apps` name, and the function's `x-fenn-app`.
    pub(super) name: String,
    /// `key`: the AppKey, sent with signed requests as `X-Ca-Key` (needed
    /// with a secret only).
    pub(super) key: Option<String>,
    /// `secret_env`: the variable holding the AppSecret.
    pub(super) secret_env: Option<String>,
    /// `secret_file`: a file holding the AppSecret (mode 600).
    pub(super) secret_file: Option<String>,
    /// `code_env`: the variable holding the AppCode.
    pub(super) code_env: Option<String>,
    /// `code_file`: a file holding the AppCode (mode 600).
    pub(super) code_file: Option<String>,
    /// `debug_signature`: log the string fenn signed, at warn, when one
    /// of its signatures is refused (rate-limited; default false).
    #[serde(default)]
    pub(super) debug_signature: bool,
}

/// `[admin]`: the management API's own listener. The bearer token comes
/// from `FENN_ADMIN_TOKEN`, else from `token_file`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAdmin {
    /// `listen`: default `127.0.0.1:8081`.
    pub(super) listen: Option<String>,
    /// `token_file`: a file holding the token (relative to the config).
    pub(super) token_file: Option<String>,
    /// `tls_cert`: PEM certificate chain; with `tls_key`, the listener
    /// serves HTTPS (required off loopback).
    pub(super) tls_cert: Option<String>,
    /// `tls_key`: PEM private key of `tls_cert`, readable by its owner only.
    pub(super) tls_key: Option<String>,
    /// `insecure_plain_http`: serve plain HTTP on an address other than
    /// loopback, the token crossing the network in clear (default false:
    /// such an address needs `tls_cert` and `tls_key`).
    #[serde(default)]
    pub(super) insecure_plain_http: bool,
    /// `max_module_size`: largest module a deploy may upload (default `8MiB`).
    pub(super) max_module_size: Option<String>,
    /// `keep_versions`: versions of each function kept for rollback (default 5).
    pub(super) keep_versions: Option<usize>,
    /// `max_functions`: functions that may be deployed (default 100).
    pub(super) max_functions: Option<usize>,
    /// `history`: invocations kept per function (default 1000).
    pub(super) history: Option<usize>,
    /// `history_log`: log lines kept per invocation (default `8KiB`).
    pub(super) history_log: Option<String>,
    /// `history_memory`: all kept invocations together (default `16MiB`).
    pub(super) history_memory: Option<String>,
}

/// `[mqtt]`: the broker fenn subscribes at. Credentials come from the
/// environment: `FENN_MQTT_USERNAME` and `FENN_MQTT_PASSWORD`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMqtt {
    /// `url`: `mqtt://host:port` (port 1883 by default) or
    /// `mqtts://host:port` (TLS, port 8883 by default).
    pub(super) url: String,
    /// `ca_file`: PEM CA certificates for `mqtts://` (required; a system
    /// bundle such as `/etc/ssl/certs/ca-certificates.crt` works).
    pub(super) ca_file: Option<String>,
    /// `client_cert`: PEM client certificate, for mutual TLS.
    pub(super) client_cert: Option<String>,
    /// `client_key`: PEM key of `client_cert`.
    pub(super) client_key: Option<String>,
    /// `client_id`: default `fenn-<pid>`.
    pub(super) client_id: Option<String>,
    /// `keep_alive`: default `30s`.
    pub(super) keep_alive: Option<String>,
    /// `max_in_flight`: messages handled at once (default 32).
    pub(super) max_in_flight: Option<usize>,
    /// `max_payload`: largest message accepted (default `1MiB`); the broker
    /// is told, and drops larger ones.
    pub(super) max_payload: Option<String>,
    /// `session_expiry`: with a `client_id`, how long the broker keeps
    /// fenn's session (subscriptions, queued QoS 1 messages) while it is
    /// away (default `1h`; `0s` for a clean session every time).
    pub(super) session_expiry: Option<String>,
    /// `version`: `"5"` (default) or `"3.1.1"`, for brokers without MQTT 5.
    pub(super) version: Option<String>,
    /// `embedded`: run an MQTT broker inside fenn on the url's address
    /// (needs the `embedded-broker` build), unless one already listens
    /// there (default false).
    #[serde(default)]
    pub(super) embedded: bool,
    /// `outbox_size`: largest size of the results kept for the broker
    /// (default `16MiB`), on disk under `server.state_dir` when set.
    pub(super) outbox_size: Option<String>,
}

/// `[server]`: the HTTP listener and the worker pool.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    /// `listen`: address of the HTTP gateway (default `127.0.0.1:8080`).
    pub(super) listen: Option<String>,
    /// `max_body`: largest request body (default `1MiB`).
    pub(super) max_body: Option<String>,
    /// `header_read_timeout`: time to send request headers (default `10s`).
    pub(super) header_read_timeout: Option<String>,
    /// `body_read_timeout`: time to send a request body (default `30s`).
    pub(super) body_read_timeout: Option<String>,
    /// `shutdown_grace`: time in-flight requests get at shutdown (default `30s`).
    pub(super) shutdown_grace: Option<String>,
    /// `workers`: threads for guests that run past their first slice
    /// (default: the number of CPU cores).
    pub(super) workers: Option<usize>,
    /// `guest_memory`: linear memory of all running guests together
    /// (default `256MiB`); past it events are answered 503.
    pub(super) guest_memory: Option<String>,
    /// `buffer_memory`: request and response bodies held at once, all
    /// connections together (default `64MiB`); past it requests get 503.
    pub(super) buffer_memory: Option<String>,
    /// `max_connections`: open HTTP connections (default 512).
    pub(super) max_connections: Option<usize>,
    /// `max_connections_per_client`: open HTTP connections from one IP
    /// address (default 128).
    pub(super) max_connections_per_client: Option<usize>,
    /// `write_timeout`: time a client has to take each part of a response
    /// (default `30s`); a client that stops reading is cut.
    pub(super) write_timeout: Option<String>,
    /// `state_dir`: where fenn keeps state across restarts (cron's last
    /// fire times); default `$STATE_DIRECTORY` (set by systemd), else none.
    pub(super) state_dir: Option<String>,
}

/// `[[function]]`: one function, its limits and its triggers.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFunction {
    /// `name`: unique, used in logs and routes.
    pub(super) name: String,
    /// `module`: a `.wasm` path (relative to the config file) or
    /// `example:hello` / `example:echo` / `example:sensor`.
    pub(super) module: String,
    /// `timeout`: wall-clock deadline per event (default `5s`).
    pub(super) timeout: Option<String>,
    /// `fuel`: CPU budget per event (default 100 000 000).
    pub(super) fuel: Option<u64>,
    /// `memory`: linear memory cap (default `16MiB`).
    pub(super) memory: Option<String>,
    /// `max_module_size`: largest module accepted (default `8MiB`).
    pub(super) max_module_size: Option<String>,
    /// `max_recursion_depth`: wasm call depth (default 1024).
    pub(super) max_recursion_depth: Option<usize>,
    /// `concurrency`: events at once; more are answered 503 (default 32).
    pub(super) concurrency: Option<usize>,
    /// `max_response`: largest output the function may return (default `1MiB`).
    pub(super) max_response: Option<String>,
    /// `max_workers`: worker threads its long events may hold at once
    /// (default half of `server.workers`, at least 1).
    pub(super) max_workers: Option<usize>,
    /// `apps`: the apps its routes authorize, where a route names none.
    #[serde(default)]
    pub(super) apps: Vec<String>,
    /// `[[function.http]]`: the HTTP trigger's routes (its keys are its own).
    #[serde(default)]
    pub(super) http: Vec<fenn_http::RawRoute>,
    /// `[[function.cron]]`: the cron trigger's schedules.
    #[serde(default)]
    pub(super) cron: Vec<fenn_cron::RawSchedule>,
    /// `[[function.mqtt]]`: the MQTT trigger's subscriptions.
    #[serde(default)]
    pub(super) mqtt: Vec<fenn_mqtt::RawSubscription>,
}
