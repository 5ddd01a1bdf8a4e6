//! `[admin]`: the management API's listener, its token and its store.

use super::raw::RawAdmin;
use super::{ConfigError, Validator};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where the management API listens unless told otherwise.
pub(crate) const DEFAULT_ADMIN_LISTEN: &str = "127.0.0.1:8081";
/// The environment variable that holds the management API's token.
pub(crate) const TOKEN_VARIABLE: &str = "FENN_ADMIN_TOKEN";
/// Shortest token accepted: a guessable token is no lock.
const MIN_TOKEN: usize = 16;
/// Largest token file.
const MAX_TOKEN_FILE: u64 = 4 << 10;

/// The validated `[admin]` section.
#[derive(Clone)]
pub(crate) struct AdminSettings {
    pub(crate) listen: SocketAddr,
    /// The bearer token every request must carry.
    pub(crate) token: String,
    /// Largest module a deploy or a check may upload.
    pub(crate) max_module_bytes: usize,
    /// Versions of each function kept for rollback.
    pub(crate) keep_versions: usize,
    /// Where deployed functions are kept: `<state_dir>/functions`.
    pub(crate) store_dir: PathBuf,
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
    pub(super) fn admin(
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
        if !listen.ip().is_loopback() && !raw.insecure_plain_http {
            return Err(self.error(
                "admin.listen",
                format!(
                    "{listen} is reachable from other machines, and the management API speaks plain HTTP: its token would cross the network in clear. Listen on loopback and reach it through an SSH tunnel or a TLS proxy, or set admin.insecure_plain_http = true on a network you trust"
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
            token,
            max_module_bytes,
            keep_versions: self.count("admin.keep_versions", raw.keep_versions, 5, 1000)?,
            store_dir: state_dir.join("functions"),
        })
    }

    fn admin_token(&self, raw: &RawAdmin) -> Result<String, ConfigError> {
        let (key, token) = match (std::env::var(TOKEN_VARIABLE), &raw.token_file) {
            (Ok(token), _) => (TOKEN_VARIABLE.to_owned(), token),
            (Err(_), Some(file)) => {
                let path = self.file.parent().unwrap_or(Path::new(".")).join(file);
                let bytes =
                    crate::files::read(&path, MAX_TOKEN_FILE, "the most a token file may be")
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
