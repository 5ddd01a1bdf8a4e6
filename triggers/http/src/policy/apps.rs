//! Apps: the callers' identities. Each has a name, an AppKey sent with
//! signed requests, and an AppSecret that signs them and an AppCode sent
//! as `Authorization: APPCODE <code>`, either or both.

use fenn_runtime::trigger::BindingError;
use ring::{digest, hmac};
use std::collections::HashMap;
use std::sync::Arc;

/// An app as the config gives it, its secrets already read.
#[derive(Clone)]
pub struct AppSpec {
    /// The name routes authorize it by, and the function is told.
    pub name: String,
    /// AppKey: public, sent as `X-Ca-Key`; an app with an AppCode only
    /// needs none.
    pub key: Option<String>,
    /// AppSecret: signs requests.
    pub secret: Option<Vec<u8>>,
    /// AppCode: sent as `Authorization: APPCODE <code>`.
    pub code: Option<String>,
    /// Its refused signatures log the string fenn signed, at warn.
    pub debug_signature: bool,
}

impl std::fmt::Debug for AppSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppSpec")
            .field("name", &self.name)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// One app, ready to check requests against.
pub struct App {
    /// Its name.
    pub name: Arc<str>,
    /// Its refused signatures log the string fenn signed, at warn.
    pub debug_signature: bool,
    sha256: Option<hmac::Key>,
    sha1: Option<hmac::Key>,
}

impl App {
    /// Its AppSecret as an HMAC key for `algorithm`, if it has one.
    pub(crate) fn key(&self, sha1: bool) -> Option<&hmac::Key> {
        if sha1 {
            self.sha1.as_ref()
        } else {
            self.sha256.as_ref()
        }
    }
}

/// Every app, by AppKey and by AppCode.
#[derive(Default)]
pub struct Apps {
    by_key: HashMap<String, Arc<App>>,
    /// By the SHA-256 of the code: looking one up tells nothing of how
    /// much of a guessed code was right.
    by_code: HashMap<[u8; 32], Arc<App>>,
    names: Vec<Arc<str>>,
}

impl std::fmt::Debug for Apps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.names).finish()
    }
}

fn code_digest(code: &str) -> [u8; 32] {
    let mut out = [0; 32];
    out.copy_from_slice(digest::digest(&digest::SHA256, code.as_bytes()).as_ref());
    out
}

impl Apps {
    /// The apps of `specs`.
    ///
    /// # Errors
    ///
    /// Two apps with one name, AppKey or AppCode (`app[i].name` and so on).
    pub fn new(specs: &[AppSpec]) -> Result<Self, BindingError> {
        let mut apps = Self::default();
        for (i, spec) in specs.iter().enumerate() {
            let same = |field: &str| {
                BindingError::new(&format!("app[{i}].{field}"), "is also another app's")
            };
            if apps.names.iter().any(|name| **name == *spec.name) {
                return Err(same("name"));
            }
            let app = Arc::new(App {
                name: Arc::from(spec.name.as_str()),
                debug_signature: spec.debug_signature,
                sha256: spec
                    .secret
                    .as_ref()
                    .map(|s| hmac::Key::new(hmac::HMAC_SHA256, s)),
                sha1: spec
                    .secret
                    .as_ref()
                    .map(|s| hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, s)),
            });
            if let Some(key) = &spec.key {
                if apps.by_key.insert(key.clone(), app.clone()).is_some() {
                    return Err(same("key"));
                }
            }
            if let Some(code) = &spec.code {
                if apps
                    .by_code
                    .insert(code_digest(code), app.clone())
                    .is_some()
                {
                    return Err(same("code"));
                }
            }
            apps.names.push(app.name.clone());
        }
        Ok(apps)
    }

    /// The app whose AppKey is `key`.
    pub fn by_key(&self, key: &str) -> Option<&Arc<App>> {
        self.by_key.get(key)
    }

    /// The app whose AppCode is `code`.
    pub fn by_code(&self, code: &str) -> Option<&Arc<App>> {
        self.by_code.get(&code_digest(code))
    }

    /// The app named `name`, as routes name it.
    pub fn named(&self, name: &str) -> Option<&Arc<str>> {
        self.names.iter().find(|known| ***known == *name)
    }

    /// Every app's name.
    pub fn names(&self) -> &[Arc<str>] {
        &self.names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, key: &str, code: Option<&str>) -> AppSpec {
        AppSpec {
            name: name.into(),
            key: Some(key.into()),
            secret: Some(b"secret".to_vec()),
            code: code.map(Into::into),
            debug_signature: false,
        }
    }

    #[test]
    fn apps_are_found_by_key_and_code_and_collisions_are_refused() {
        let apps = Apps::new(&[spec("a", "ka", Some("ca")), spec("b", "kb", None)]).unwrap();
        assert_eq!(&*apps.by_key("kb").unwrap().name, "b");
        assert_eq!(&*apps.by_code("ca").unwrap().name, "a");
        assert!(apps.by_code("cb").is_none());
        assert!(apps.named("b").is_some());
        let error = Apps::new(&[spec("a", "k", None), spec("b", "k", None)]).unwrap_err();
        assert_eq!(error.field, "app[1].key");
        let error = Apps::new(&[spec("a", "k", None), spec("a", "j", None)]).unwrap_err();
        assert_eq!(error.field, "app[1].name");
    }
}
