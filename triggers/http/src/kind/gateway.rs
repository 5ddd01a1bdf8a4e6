//! `[gateway]` and `[[app]]`: the policies every route shares. Secrets
//! (AppSecret, AppCode, a JWT's HS256 secret) come from an environment
//! variable or from a file only its owner may read, never from the
//! config itself.

use fenn_runtime::files;
#[cfg(feature = "jwt")]
use fenn_runtime::files::MAX_PEM;

/// Largest secret file (an AppSecret, an AppCode, an HS256 secret).
const MAX_SECRET_FILE: u64 = 64 << 10;
use super::raw::{RawApp, RawGateway, RawJwt};
use super::reader::Reader;
use crate::policy::apps::{AppSpec, Apps};
use crate::policy::failures::{AuthFailures, FailureLimit};
use crate::policy::ip::{self, IpList};
use crate::policy::jwt::Jwt;
#[cfg(feature = "jwt")]
use crate::policy::jwt::JwtKey;
use crate::policy::{DEFAULT_NONCES, GatewayPolicy, nonce::Nonces};
use fenn_runtime::trigger::{BindingError, KeyError};
use fenn_runtime::units;
use ipnet::IpNet;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// Most apps.
const MAX_APPS: usize = 1024;

/// The validated `[gateway]` and `[[app]]`s.
#[derive(Debug, Clone)]
pub(super) struct GatewaySettings {
    pub(super) apps: Arc<Apps>,
    pub(super) jwt: Option<Jwt>,
    pub(super) ip: IpList,
    pub(super) trusted_proxies: Vec<IpNet>,
    pub(super) window: Duration,
    pub(super) nonces: usize,
    pub(super) failures: FailureLimit,
    /// Apps whose own keys were refused (reported once, as theirs).
    pub(super) refused: Vec<Arc<str>>,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            apps: Arc::default(),
            jwt: None,
            ip: IpList::default(),
            trusted_proxies: Vec::new(),
            window: Duration::from_secs(15 * 60),
            nonces: DEFAULT_NONCES,
            failures: FailureLimit::default(),
            refused: Vec::new(),
        }
    }
}

impl GatewaySettings {
    /// The gateway's policy, to serve with.
    pub(super) fn policy(&self) -> GatewayPolicy {
        GatewayPolicy {
            apps: self.apps.clone(),
            jwt: self.jwt.clone(),
            ip: self.ip.clone(),
            trusted_proxies: self.trusted_proxies.clone(),
            nonces: Nonces::new(self.nonces, self.apps.names().len()),
            window: self.window,
            failures: Arc::new(AuthFailures::new(self.failures)),
        }
    }
}

impl Reader<'_> {
    /// `[gateway]` and `[[app]]`, every error reported.
    pub(super) fn gateway(&self, raw: Option<&RawGateway>, apps: &[Value]) -> GatewaySettings {
        let mut settings = GatewaySettings::default();
        self.apps(apps, &mut settings);
        let Some(raw) = raw else {
            return settings;
        };
        self.gateway_keys(raw, &mut settings);
        settings.jwt = raw.jwt.as_ref().and_then(|jwt| self.keep(self.jwt(jwt)));
        settings
    }

    /// The `[[app]]`s into `settings.apps`; the names of apps refused (for
    /// their own keys, or all of them for the apps' error) into
    /// `settings.refused`.
    fn apps(&self, apps: &[Value], settings: &mut GatewaySettings) {
        let mut specs: Vec<AppSpec> = Vec::new();
        for (i, app) in apps.iter().enumerate() {
            let key = format!("app[{i}]");
            let Some(app) = self.value::<RawApp>(&key, app) else {
                // Refused for its own keys: routes naming it add no error.
                let name = app.get("name").and_then(Value::as_str);
                settings.refused.extend(name.map(Arc::from));
                continue;
            };
            match self.keep(self.app(&key, &app)) {
                Some(spec) => specs.push(spec),
                None => settings.refused.push(Arc::from(app.name.as_str())),
            }
        }
        if apps.len() > MAX_APPS {
            self.report(self.error("app", format!("more than {MAX_APPS} apps")));
        }
        match self.keep(Apps::new(&specs).map_err(|error| self.error(error.field, error.reason))) {
            Some(apps) => settings.apps = Arc::new(apps),
            // Reported once, as the apps' error.
            None => settings
                .refused
                .extend(specs.iter().map(|spec| Arc::from(spec.name.as_str()))),
        }
    }

    /// `[gateway]`'s IP lists, signature window, nonce cache and failure
    /// limit into `settings`; a key in error leaves its default.
    fn gateway_keys(&self, raw: &RawGateway, settings: &mut GatewaySettings) {
        let key =
            |error: BindingError| self.error(format!("gateway.{}", error.field), error.reason);
        settings.ip = self
            .keep(IpList::parse(&raw.allow, &raw.deny).map_err(key))
            .unwrap_or_default();
        settings.trusted_proxies = self
            .keep(ip::nets("trusted_proxies", &raw.trusted_proxies).map_err(key))
            .unwrap_or_default();
        if let Some(text) = &raw.signature_window {
            settings.window = self
                .keep(
                    units::duration(text)
                        .map_err(|reason| self.error("gateway.signature_window", reason)),
                )
                .unwrap_or(settings.window);
        }
        if raw.nonce_cache.is_some() {
            settings.nonces = self
                .keep(self.count(
                    "gateway.nonce_cache",
                    raw.nonce_cache,
                    DEFAULT_NONCES,
                    1 << 20,
                ))
                .unwrap_or(DEFAULT_NONCES);
        }
        if let Some(limit) = raw.auth_failures {
            settings.failures.limit = limit;
        }
        if let Some(text) = &raw.auth_penalty {
            if let Some(penalty) = self.keep(self.auth_penalty(text)) {
                settings.failures.penalty = penalty;
            }
        }
    }

    /// `gateway.auth_penalty`: a duration from 1s to 24h.
    fn auth_penalty(&self, text: &str) -> Result<Duration, KeyError> {
        units::duration(text)
            .map_err(|reason| self.error("gateway.auth_penalty", reason))
            .and_then(|penalty| {
                if penalty.is_zero() || penalty > Duration::from_secs(86_400) {
                    Err(self.error("gateway.auth_penalty", "must be from 1s to 24h"))
                } else {
                    Ok(penalty)
                }
            })
    }

    fn app(&self, key: &str, raw: &RawApp) -> Result<AppSpec, KeyError> {
        self.name(key, &raw.name)?;
        let fits = |app_key: &String| {
            !app_key.is_empty()
                && app_key.len() <= 128
                && app_key.bytes().all(|b| b.is_ascii_graphic())
        };
        if raw.key.as_ref().is_some_and(|app_key| !fits(app_key)) {
            return Err(self.error(
                format!("{key}.key"),
                "must be 1 to 128 printable characters without spaces",
            ));
        }
        let secret = self.secret(
            key,
            "secret",
            raw.secret_env.as_deref(),
            raw.secret_file.as_deref(),
        )?;
        let code = self.secret(
            key,
            "code",
            raw.code_env.as_deref(),
            raw.code_file.as_deref(),
        )?;
        let code = code
            .map(|code| {
                String::from_utf8(code)
                    .map_err(|_| self.error(format!("{key}.code_file"), "is not UTF-8 text"))
            })
            .transpose()?;
        if secret.is_some() && raw.key.is_none() {
            return Err(self.error(
                format!("{key}.key"),
                "an app that signs requests needs its AppKey (key), which they carry as X-Ca-Key",
            ));
        }
        if secret.is_none() && code.is_none() {
            return Err(self.error(
                key.to_owned(),
                "an app needs secret_env or secret_file (signatures), or code_env or code_file (AppCode)",
            ));
        }
        Ok(AppSpec {
            name: raw.name.clone(),
            key: raw.key.clone(),
            secret,
            code,
            debug_signature: raw.debug_signature,
        })
    }

    /// A secret from the variable `env` or the file `file` (one of them),
    /// trimmed; keyed `{key}.{what}_env` or `{key}.{what}_file`.
    fn secret(
        &self,
        key: &str,
        what: &str,
        env: Option<&str>,
        file: Option<&str>,
    ) -> Result<Option<Vec<u8>>, KeyError> {
        let bytes = match (env, file) {
            (Some(_), Some(_)) => {
                return Err(self.error(
                    format!("{key}.{what}_env"),
                    format!("give {what}_env or {what}_file, not both"),
                ));
            }
            (None, None) => return Ok(None),
            (Some(variable), None) => std::env::var(variable)
                .map_err(|_| {
                    self.error(
                        format!("{key}.{what}_env"),
                        format!("the environment variable {variable} is not set"),
                    )
                })?
                .into_bytes(),
            (None, Some(file)) => self.private_file(&format!("{key}.{what}_file"), file)?,
        };
        let text = String::from_utf8_lossy(&bytes).trim().as_bytes().to_vec();
        if text.len() < 8 || text.len() > 4096 {
            let which = if env.is_some() { "env" } else { "file" };
            return Err(self.error(format!("{key}.{what}_{which}"), "must be 8 to 4096 bytes"));
        }
        Ok(Some(text))
    }

    /// A file under `key` that only its owner may read, as ssh asks of a
    /// private key.
    fn private_file(&self, key: &str, file: &str) -> Result<Vec<u8>, KeyError> {
        let path = self.config_dir.join(file);
        files::private_to_owner(&path).map_err(|reason| self.error(key, reason))?;
        files::read(&path, MAX_SECRET_FILE, "the most a secret file may be")
            .map_err(|reason| self.error(key, reason))
    }

    #[cfg(not(feature = "jwt"))]
    fn jwt(&self, _raw: &RawJwt) -> Result<Jwt, KeyError> {
        Err(self.error("gateway.jwt", Jwt::REFUSED))
    }

    #[cfg(feature = "jwt")]
    fn jwt(&self, raw: &RawJwt) -> Result<Jwt, KeyError> {
        let base = self.config_dir;
        let mut keys = Vec::new();
        if let Some(secret) = self.secret(
            "gateway.jwt",
            "secret",
            raw.secret_env.as_deref(),
            raw.secret_file.as_deref(),
        )? {
            keys.push(JwtKey::secret(&secret));
        }
        if let Some(file) = &raw.public_key {
            let pem = files::read(&base.join(file), MAX_PEM, "the most a PEM file may be")
                .map_err(|reason| self.error("gateway.jwt.public_key", reason))?;
            keys.push(
                JwtKey::pem(&pem).map_err(|reason| self.error("gateway.jwt.public_key", reason))?,
            );
        }
        if let Some(file) = &raw.jwks {
            let json = files::read(
                &base.join(file),
                MAX_SECRET_FILE,
                "the most a JWKS file may be",
            )
            .map_err(|reason| self.error("gateway.jwt.jwks", reason))?;
            keys.extend(
                JwtKey::jwks(&json).map_err(|reason| self.error("gateway.jwt.jwks", reason))?,
            );
        }
        if keys.is_empty() {
            return Err(self.error(
                "gateway.jwt",
                "names no key: give secret_env, secret_file, public_key or jwks",
            ));
        }
        let leeway = match &raw.leeway {
            Some(text) => {
                units::duration(text).map_err(|reason| self.error("gateway.jwt.leeway", reason))?
            }
            None => Duration::from_secs(30),
        };
        Ok(Jwt {
            keys,
            issuer: raw.issuer.clone(),
            audience: raw.audience.clone(),
            leeway: leeway.as_secs(),
        })
    }
}
