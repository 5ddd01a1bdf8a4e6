//! JWT bearer tokens in a build without the `jwt` feature: `[gateway.jwt]`
//! is refused when the config is read ([`Jwt::refused`]), so no [`Jwt`]
//! exists and no route accepts a token.

use super::Refusal;
use std::sync::Arc;

/// How tokens are checked: never, in this build.
#[derive(Debug, Clone)]
pub enum Jwt {}

impl Jwt {
    /// Why `[gateway.jwt]` is refused.
    pub const REFUSED: &str = "this fenn was built without JWT support (the cargo feature `jwt`)";

    /// The subject of a valid `token`: there is no `Jwt` to ask.
    ///
    /// # Errors
    ///
    /// None: no value of this type exists.
    pub fn verify(&self, _token: &str) -> Result<Arc<str>, Refusal> {
        match *self {}
    }
}
