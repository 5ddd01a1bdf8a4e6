//! The gateway's keys as the config writes them: serde structs that refuse
//! unknown keys. Each field's doc names its key; `super` validates them.

use serde::Deserialize;

/// `[server]`: the keys the gateway owns ([`super::SERVER_KEYS`]).
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

/// `[gateway.jwt]`. Read in every build, so that its keys are checked;
/// only a build with the `jwt` feature uses them (without it, the section
/// is refused).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
#[cfg_attr(not(feature = "jwt"), allow(dead_code))]
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
