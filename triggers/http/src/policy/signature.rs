//! Signed requests, as Alibaba Cloud API Gateway's clients sign them.
//!
//! The client sends its AppKey as `X-Ca-Key` and an HMAC (SHA-256, or
//! SHA-1 when `X-Ca-Signature-Method: HmacSHA1`) of a string to sign, made
//! with its AppSecret, as `X-Ca-Signature` (base64). The string to sign is,
//! each followed by a line feed: the method, `Accept`, `Content-MD5`,
//! `Content-Type`, `Date` (each empty when absent); then each header named
//! in `X-Ca-Signature-Headers`, sorted, as `name:value` and a line feed;
//! then the path, and `?` with the query's and a form body's parameters
//! sorted by name (`name=value`, or `name` alone when empty) joined by `&`.
//!
//! fenn requires `X-Ca-Timestamp` (ms since the epoch, within the window)
//! and `X-Ca-Nonce` (refused when seen again), both signed.

use super::Refusal;
use super::apps::{App, Apps};
use axum::http::{HeaderMap, Uri};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use md5::Digest as _;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Most headers one request may sign.
const MAX_SIGNED_HEADERS: usize = 32;
/// Longest nonce accepted.
pub const MAX_NONCE: usize = 128;

/// A signed request whose headers are in order, to verify once its body
/// is read.
pub struct Pending {
    /// The app whose key it names.
    pub app: Arc<App>,
    sha1: bool,
    signature: Vec<u8>,
    /// As `X-Ca-Signature-Headers` names them, sorted.
    signed: Vec<String>,
    /// `X-Ca-Nonce`.
    pub nonce: String,
    /// `X-Ca-Timestamp`, ms.
    pub stamp: u64,
}

/// The one value of header `name`, as text.
fn one<'h>(headers: &'h HeaderMap, name: &str) -> Result<Option<&'h str>, Refusal> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Refusal::unauthorized("Duplicated X-Ca Header"));
    }
    first
        .to_str()
        .map(Some)
        .map_err(|_| Refusal::unauthorized("Invalid X-Ca Header"))
}

/// Whether the request means to be signed.
pub fn is_signed(headers: &HeaderMap) -> bool {
    headers.contains_key("x-ca-key") || headers.contains_key("x-ca-signature")
}

/// Checks a signed request's headers, before its body is read.
///
/// # Errors
///
/// A [`Refusal`] with the gateway's message for the first thing wrong.
pub fn check_headers(
    headers: &HeaderMap,
    apps: &Apps,
    now: u64,
    window: u64,
) -> Result<Pending, Refusal> {
    let key = one(headers, "x-ca-key")?.ok_or(Refusal::unauthorized("Invalid AppKey"))?;
    let app = apps
        .by_key(key)
        .filter(|app| app.key(false).is_some())
        .ok_or(Refusal::unauthorized("Invalid AppKey"))?
        .clone();
    let sha1 = match one(headers, "x-ca-signature-method")? {
        None | Some("HmacSHA256") => false,
        Some("HmacSHA1") => true,
        Some(_) => return Err(Refusal::unauthorized("Invalid Signature Method")),
    };
    let signature = one(headers, "x-ca-signature")?
        .filter(|text| text.len() <= 128)
        .and_then(|text| STANDARD.decode(text).ok())
        .ok_or(Refusal::unauthorized("Invalid Signature"))?;
    let stamp = one(headers, "x-ca-timestamp")?
        .and_then(|text| text.parse::<u64>().ok())
        .filter(|stamp| stamp.abs_diff(now) <= window)
        .ok_or(Refusal::unauthorized("Invalid Timestamp"))?;
    let nonce = one(headers, "x-ca-nonce")?
        .filter(|nonce| !nonce.is_empty() && nonce.len() <= MAX_NONCE)
        .ok_or(Refusal::unauthorized("Invalid Nonce"))?
        .to_owned();
    let mut signed: Vec<String> = one(headers, "x-ca-signature-headers")?
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .collect();
    signed.sort();
    signed.dedup();
    let names = |wanted: &str| signed.iter().any(|name| name.eq_ignore_ascii_case(wanted));
    if signed.len() > MAX_SIGNED_HEADERS || !names("x-ca-timestamp") || !names("x-ca-nonce") {
        return Err(Refusal::unauthorized("Invalid Signature Headers"));
    }
    Ok(Pending {
        app,
        sha1,
        signature,
        signed,
        nonce,
        stamp,
    })
}

impl Pending {
    /// Verifies the signature over the request and its `body`.
    ///
    /// # Errors
    ///
    /// `Invalid Content-MD5` or `Invalid Signature`.
    pub fn verify(
        &self,
        method: &str,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), Refusal> {
        if let Some(sent) = one(headers, "content-md5")? {
            let actual = STANDARD.encode(md5::Md5::digest(body));
            if sent != actual {
                return Err(Refusal::unauthorized("Invalid Content-MD5"));
            }
        }
        let text = string_to_sign(method, headers, &self.signed, uri, body)?;
        let key = self
            .app
            .key(self.sha1)
            .ok_or(Refusal::unauthorized("Invalid AppKey"))?;
        ring::hmac::verify(key, text.as_bytes(), &self.signature).map_err(|_| {
            let app = &*self.app.name;
            // Newlines as \n: the line stays one line, and reads as the
            // client writes the string.
            let string_to_sign = text.escape_debug();
            if self.app.debug_signature {
                fenn_runtime::limited!(
                    warn,
                    "signature refused",
                    app,
                    app,
                    %string_to_sign,
                    "gateway: signature refused; compare the string fenn signed with the client's"
                );
            } else {
                tracing::debug!(app, %string_to_sign, "signature refused");
            }
            Refusal::unauthorized("Invalid Signature")
        })
    }
}

/// The string a request's signature is made over (module docs).
///
/// # Errors
///
/// A signed header that is absent or sent twice, or a value that is not
/// text.
pub fn string_to_sign(
    method: &str,
    headers: &HeaderMap,
    signed: &[String],
    uri: &Uri,
    body: &[u8],
) -> Result<String, Refusal> {
    let mut text = String::with_capacity(256);
    text.push_str(method);
    text.push('\n');
    for name in ["accept", "content-md5", "content-type", "date"] {
        text.push_str(one(headers, name)?.unwrap_or(""));
        text.push('\n');
    }
    for name in signed {
        let value = one(headers, name)?.ok_or(Refusal::unauthorized("Invalid Signature"))?;
        text.push_str(name);
        text.push(':');
        text.push_str(value);
        text.push('\n');
    }
    text.push_str(uri.path());
    let form = one(headers, "content-type")?
        .is_some_and(|kind| kind.starts_with("application/x-www-form-urlencoded"));
    let mut parameters: BTreeMap<String, String> = BTreeMap::new();
    if let Some(query) = uri.query() {
        add_parameters(&mut parameters, query.as_bytes())?;
    }
    if form {
        add_parameters(&mut parameters, body)?;
    }
    for (i, (name, value)) in parameters.iter().enumerate() {
        text.push(if i == 0 { '?' } else { '&' });
        text.push_str(name);
        if !value.is_empty() {
            text.push('=');
            text.push_str(value);
        }
    }
    Ok(text)
}

/// Adds the parameters of `encoded` (a query or a form body) to those
/// signed. Requests that two different ones could sign alike are refused:
/// a name given twice (in the query, or in the query and the form), a
/// decoded `&` (or `=` in a name) that would read as a separator, and
/// bytes that are not UTF-8 (decoded alike whatever they were).
fn add_parameters(
    parameters: &mut BTreeMap<String, String>,
    encoded: &[u8],
) -> Result<(), Refusal> {
    let refused = Refusal::unauthorized("Invalid Signature");
    let pairs = serde_urlencoded::from_bytes::<Vec<(String, String)>>(encoded)
        .map_err(|_| refused.clone())?;
    for (name, value) in pairs {
        let ambiguous = name.contains(['&', '=', '\u{FFFD}']) || value.contains(['&', '\u{FFFD}']);
        if ambiguous || parameters.insert(name, value).is_some() {
            return Err(refused);
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "signature_tests.rs"]
mod tests;
