//! `[admin]`: the management API's listener, its token and its store.

use super::raw::RawAdmin;
use super::{ConfigError, Validator};
use fenn_observe::HistorySettings;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where the management API listens unless told otherwise.
pub(crate) const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:8081";
/// The environment variable that holds the management API's token.
pub const TOKEN_VARIABLE: &str = "FENN_ADMIN_TOKEN";
/// Shortest token accepted: a guessable token is no lock.
const MIN_TOKEN: usize = 16;
/// Largest token file.
const MAX_TOKEN_FILE: u64 = 4 << 10;

/// The validated `[admin]` section.
#[derive(Clone)]
pub struct AdminSettings {
    /// Where it listens.
    pub listen: SocketAddr,
    /// TLS, when `tls_cert` and `tls_key` are set.
    pub tls: Option<Tls>,
    /// The bearer token every request must carry.
    pub token: String,
    /// Largest module a deploy or a check may upload.
    pub max_module_bytes: usize,
    /// Versions of each function kept for rollback.
    pub keep_versions: usize,
    /// Functions that may be deployed at once.
    pub max_functions: usize,
    /// Where deployed functions are kept: `<state_dir>/functions`.
    pub store_dir: PathBuf,
    /// Where deployed flows are kept: `<state_dir>/flows`.
    pub flow_dir: PathBuf,
    /// What the invocation history keeps.
    pub history: HistorySettings,
}

impl std::fmt::Debug for AdminSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminSettings")
            .field("listen", &self.listen)
            .field("store_dir", &self.store_dir)
            .finish_non_exhaustive()
    }
}

impl Validator<'_> {
    pub(crate) fn admin(
        &self,
        raw: &RawAdmin,
        state_dir: Option<&Path>,
    ) -> Result<AdminSettings, ConfigError> {
        let text = raw.listen.as_deref().unwrap_or(DEFAULT_ADMIN_LISTEN);
        let listen: SocketAddr = text.parse().map_err(|_| {
            self.error(
                "admin.listen",
                format!("'{text}' is not an address such as {DEFAULT_ADMIN_LISTEN}"),
            )
        })?;
        let tls = match (&raw.tls_cert, &raw.tls_key) {
            (Some(cert), Some(key)) => Some(self.admin_tls(cert, key)?),
            (None, None) => None,
            (Some(_), None) => return Err(self.error("admin.tls_key", "tls_cert needs tls_key")),
            (None, Some(_)) => return Err(self.error("admin.tls_cert", "tls_key needs tls_cert")),
        };
        if !listen.ip().is_loopback() && tls.is_none() && !raw.insecure_plain_http {
            return Err(self.error(
                "admin.listen",
                format!(
                    "{listen} is reachable from other machines: the token must not cross the network in clear. Set admin.tls_cert and admin.tls_key (HTTPS), or listen on loopback, or set admin.insecure_plain_http = true on a network you trust"
                ),
            ));
        }
        let token = self.admin_token(raw)?;
        let Some(state_dir) = state_dir else {
            return Err(self.error(
                "admin",
                "needs server.state_dir, where deployed functions are kept",
            ));
        };
        let max_module_bytes = self.size(
            "admin.max_module_size",
            &raw.max_module_size,
            fenn_runtime::Limits::default().module_bytes,
        )?;
        Ok(AdminSettings {
            listen,
            tls,
            token,
            max_module_bytes,
            keep_versions: self.count("admin.keep_versions", raw.keep_versions, 5, 100)?,
            max_functions: self.count("admin.max_functions", raw.max_functions, 100, 10_000)?,
            store_dir: state_dir.join("functions"),
            flow_dir: state_dir.join("flows"),
            history: self.history(raw)?,
        })
    }

    fn history(&self, raw: &RawAdmin) -> Result<HistorySettings, ConfigError> {
        let log_bytes = self.size("admin.history_log", &raw.history_log, 8 << 10)?;
        if log_bytes > 1 << 20 {
            return Err(self.error("admin.history_log", "is over the most fenn allows, 1MiB"));
        }
        Ok(HistorySettings {
            per_function: self.count("admin.history", raw.history, 1000, 100_000)?,
            log_bytes,
            max_bytes: self.size("admin.history_memory", &raw.history_memory, 16 << 20)?,
        })
    }

    fn admin_token(&self, raw: &RawAdmin) -> Result<String, ConfigError> {
        let (key, token) = match (std::env::var(TOKEN_VARIABLE), &raw.token_file) {
            (Ok(token), _) => (TOKEN_VARIABLE.to_owned(), token),
            (Err(_), Some(file)) => {
                let path = self.file.parent().unwrap_or(Path::new(".")).join(file);
                let bytes = fenn_runtime::files::read(
                    &path,
                    MAX_TOKEN_FILE,
                    "the most a token file may be",
                )
                .map_err(|reason| self.error("admin.token_file", reason))?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| self.error("admin.token_file", "is not UTF-8 text"))?;
                ("admin.token_file".to_owned(), text.trim().to_owned())
            }
            (Err(_), None) => {
                return Err(self.error(
                    "admin.token_file",
                    format!("the management API needs a token: set {TOKEN_VARIABLE}, or name a file holding it"),
                ));
            }
        };
        let fits = token.len() >= MIN_TOKEN && token.bytes().all(|b| b.is_ascii_graphic());
        if fits {
            Ok(token)
        } else {
            Err(self.error(
                key,
                format!("the token must be at least {MIN_TOKEN} printable characters without spaces (e.g. from: openssl rand -hex 24)"),
            ))
        }
    }
}

/// The management API's TLS: the server config and the certificate's
/// SHA-256 fingerprint, which a client may pin.
#[derive(Clone)]
pub struct Tls {
    /// The listener's TLS settings.
    #[cfg(feature = "tls")]
    pub config: std::sync::Arc<rustls::ServerConfig>,
    /// The certificate's SHA-256 fingerprint, as `AB:CD:…`.
    pub fingerprint: String,
}

/// A fingerprint as `AB:CD:…`, the way `openssl x509 -fingerprint` writes it.
#[cfg(feature = "tls")]
pub(crate) fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

impl Validator<'_> {
    #[cfg(not(feature = "tls"))]
    fn admin_tls(&self, _cert: &str, _key: &str) -> Result<Tls, ConfigError> {
        Err(self.error(
            "admin.tls_cert",
            "this fenn was built without TLS (the cargo feature `tls`)",
        ))
    }

    #[cfg(feature = "tls")]
    fn admin_tls(&self, cert: &str, key: &str) -> Result<Tls, ConfigError> {
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let base = self.file.parent().unwrap_or(Path::new("."));
        let read = |key: &str, path: &Path| {
            fenn_runtime::files::read(
                path,
                fenn_runtime::files::MAX_PEM,
                "the most a PEM file may be",
            )
            .map_err(|reason| self.error(key, reason))
        };
        let key_path = base.join(key);
        fenn_runtime::files::private_to_owner(&key_path)
            .map_err(|reason| self.error("admin.tls_key", reason))?;
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_slice_iter(&read("admin.tls_cert", &base.join(cert))?)
                .collect::<Result<_, _>>()
                .map_err(|error| {
                    self.error("admin.tls_cert", format!("not PEM certificates: {error}"))
                })?;
        let Some(first) = certs.first() else {
            return Err(self.error("admin.tls_cert", "holds no PEM certificate"));
        };
        let fingerprint = fingerprint(first.as_ref());
        let private =
            PrivateKeyDer::from_pem_slice(&read("admin.tls_key", &key_path)?).map_err(|error| {
                self.error(
                    "admin.tls_key",
                    format!("holds no PEM private key: {error}"),
                )
            })?;
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| self.error("admin.tls_cert", error.to_string()))?
            .with_no_client_auth()
            .with_single_cert(certs, private)
            .map_err(|error| {
                self.error("admin.tls_key", format!("does not fit tls_cert: {error}"))
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            config: std::sync::Arc::new(config),
            fingerprint,
        })
    }
}
