//! JWT bearer tokens: HS256 with a shared secret, RS256 and ES256 with PEM
//! public keys or a JWKS file; the issuer, the audience, `exp` (required)
//! and `nbf`, with a leeway for clocks that disagree a little. The token's
//! `sub` names the caller.
//!
//! A token whose header has `crit` is refused (fenn understands no JOSE
//! extension, and RFC 7515 says a token naming one it does not understand
//! is invalid), and so is one whose `exp`, `nbf` or `iat` is not a number
//! (the library would skip such a date rather than refuse it).

use super::Refusal;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use std::sync::Arc;

/// Most keys of a JWKS.
pub const MAX_KEYS: usize = 64;

/// Longest subject passed on to the function.
const MAX_SUBJECT: usize = 256;

/// One key tokens may be signed with.
#[derive(Clone)]
pub struct JwtKey {
    kid: Option<String>,
    key: DecodingKey,
    algorithm: Algorithm,
}

impl std::fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?} key {:?}", self.algorithm, self.kid)
    }
}

impl JwtKey {
    /// An HS256 secret.
    pub fn secret(secret: &[u8]) -> Self {
        Self {
            kid: None,
            key: DecodingKey::from_secret(secret),
            algorithm: Algorithm::HS256,
        }
    }

    /// A PEM public key: RSA for RS256, EC P-256 for ES256.
    ///
    /// # Errors
    ///
    /// Neither kind of key.
    pub fn pem(pem: &[u8]) -> Result<Self, String> {
        let (key, algorithm) = match DecodingKey::from_rsa_pem(pem) {
            Ok(key) => (key, Algorithm::RS256),
            Err(_) => (
                DecodingKey::from_ec_pem(pem)
                    .map_err(|_| "holds no PEM RSA or EC public key".to_owned())?,
                Algorithm::ES256,
            ),
        };
        Ok(Self {
            kid: None,
            key,
            algorithm,
        })
    }

    /// The keys of a JWKS document (RSA and EC P-256 keys).
    ///
    /// # Errors
    ///
    /// Not a JWKS, or a key of another kind.
    pub fn jwks(json: &[u8]) -> Result<Vec<Self>, String> {
        let set: JwkSet =
            serde_json::from_slice(json).map_err(|error| format!("is not a JWKS: {error}"))?;
        if set.keys.len() > MAX_KEYS {
            // A token without a kid may be tried against each.
            return Err(format!("holds more than {MAX_KEYS} keys"));
        }
        set.keys
            .iter()
            .map(|jwk| {
                let algorithm = match &jwk.algorithm {
                    AlgorithmParameters::RSA(_) => Algorithm::RS256,
                    AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                    _ => return Err("holds a key that is neither RSA nor EC".to_owned()),
                };
                let key = DecodingKey::from_jwk(jwk)
                    .map_err(|error| format!("holds a key fenn cannot use: {error}"))?;
                Ok(Self {
                    kid: jwk.common.key_id.clone(),
                    key,
                    algorithm,
                })
            })
            .collect()
    }
}

/// How tokens are checked.
#[derive(Debug, Clone)]
pub struct Jwt {
    /// The keys.
    pub keys: Vec<JwtKey>,
    /// `iss` required, when set.
    pub issuer: Option<String>,
    /// One of these in `aud` required, when any.
    pub audience: Vec<String>,
    /// Seconds `exp` and `nbf` may be off by.
    pub leeway: u64,
}

/// The claims fenn reads; the dates are numbers or the token is refused.
#[derive(serde::Deserialize)]
struct Claims {
    sub: Option<String>,
    #[serde(default, rename = "exp")]
    _exp: Option<NumericDate>,
    #[serde(default, rename = "nbf")]
    _nbf: Option<NumericDate>,
    #[serde(default, rename = "iat")]
    _iat: Option<NumericDate>,
}

/// Seconds since the epoch, as JSON writes a number (RFC 7519, 2): a
/// string or anything else fails to deserialize, and so does a number
/// jsonwebtoken would read as no date at all (and skip its check): one
/// that is not finite, is negative or is 2^64 or more.
#[derive(serde::Deserialize)]
#[serde(try_from = "f64")]
struct NumericDate;

impl TryFrom<f64> for NumericDate {
    type Error = &'static str;

    fn try_from(seconds: f64) -> Result<Self, Self::Error> {
        #[allow(clippy::cast_precision_loss)]
        let beyond = u64::MAX as f64;
        if seconds.is_finite() && seconds >= 0.0 && seconds < beyond {
            Ok(Self)
        } else {
            Err("a date out of range")
        }
    }
}

/// The token's header, with its `crit`, which jsonwebtoken's header does
/// not read.
#[derive(serde::Deserialize)]
struct TokenHeader {
    #[serde(flatten)]
    header: jsonwebtoken::Header,
    crit: Option<serde::de::IgnoredAny>,
}

/// The header of `token`, read once; None when it cannot be read or names
/// critical extensions (fenn knows none).
fn header(token: &str) -> Option<jsonwebtoken::Header> {
    use base64::Engine as _;
    let segment = token.split('.').next()?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(segment)
        .ok()?;
    let read: TokenHeader = serde_json::from_slice(&json).ok()?;
    if read.crit.is_some() {
        tracing::debug!("token refused: its header names critical extensions");
        return None;
    }
    Some(read.header)
}

impl Jwt {
    /// The subject of a valid `token`.
    ///
    /// # Errors
    ///
    /// `Invalid Token` for anything wrong with it: fenn does not say what.
    pub fn verify(&self, token: &str) -> Result<Arc<str>, Refusal> {
        let invalid = Refusal::unauthorized("Invalid Token");
        let header = header(token).ok_or_else(|| invalid.clone())?;
        // Every key of the token's algorithm (and its kid, when both have
        // one) is tried: a JWKS may hold several during a rotation.
        let data = self
            .keys
            .iter()
            .filter(|key| {
                key.algorithm == header.alg
                    && (header.kid.is_none() || key.kid.is_none() || key.kid == header.kid)
            })
            .find_map(|key| {
                let mut validation = Validation::new(key.algorithm);
                validation.leeway = self.leeway;
                validation.validate_nbf = true;
                validation.set_required_spec_claims(&["exp"]);
                if let Some(issuer) = &self.issuer {
                    validation.set_issuer(&[issuer]);
                }
                if self.audience.is_empty() {
                    validation.validate_aud = false;
                } else {
                    validation.set_audience(&self.audience);
                }
                jsonwebtoken::decode::<Claims>(token, &key.key, &validation)
                    .map_err(|error| tracing::debug!(%error, "token refused"))
                    .ok()
            })
            .ok_or_else(|| invalid.clone())?;
        match data.claims.sub {
            Some(sub)
                if !sub.is_empty()
                    && sub.len() <= MAX_SUBJECT
                    && sub.chars().all(|c| c.is_ascii_graphic() || c == ' ') =>
            {
                Ok(Arc::from(sub))
            }
            _ => Err(invalid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};
    use serde_json::json;

    fn now() -> u64 {
        jsonwebtoken::get_current_timestamp()
    }

    fn hs(claims: &serde_json::Value, secret: &[u8]) -> String {
        encode(
            &Header::default(),
            claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    fn jwt() -> Jwt {
        Jwt {
            keys: vec![JwtKey::secret(b"s3cret")],
            issuer: Some("plant".into()),
            audience: vec!["fenn".into()],
            leeway: 30,
        }
    }

    #[test]
    fn a_valid_token_names_its_subject_and_a_bad_one_is_refused() {
        let good = json!({"sub": "pump-7", "iss": "plant", "aud": "fenn", "exp": now() + 60});
        assert_eq!(&*jwt().verify(&hs(&good, b"s3cret")).unwrap(), "pump-7");
        let refused =
            |claims: serde_json::Value, secret: &[u8]| jwt().verify(&hs(&claims, secret)).is_err();
        assert!(refused(good.clone(), b"other"));
        let mut expired = good.clone();
        expired["exp"] = json!(now() - 120);
        assert!(refused(expired, b"s3cret"));
        let mut early = good.clone();
        early["nbf"] = json!(now() + 120);
        assert!(refused(early, b"s3cret"));
        let mut within_leeway = good.clone();
        within_leeway["exp"] = json!(now() - 10);
        assert!(!refused(within_leeway, b"s3cret"));
        let mut issuer = good.clone();
        issuer["iss"] = json!("elsewhere");
        assert!(refused(issuer, b"s3cret"));
        let mut audience = good.clone();
        audience["aud"] = json!("other");
        assert!(refused(audience, b"s3cret"));
        let mut no_exp = good;
        no_exp.as_object_mut().unwrap().remove("exp");
        assert!(refused(no_exp, b"s3cret"));
    }

    /// A token of `header` and `claims` as written, signed with HS256.
    fn hand_made(header: &str, claims: &serde_json::Value, secret: &[u8]) -> String {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let message = format!("{}.{}", b64.encode(header), b64.encode(claims.to_string()));
        let key = EncodingKey::from_secret(secret);
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::HS256)
                .unwrap();
        format!("{message}.{signature}")
    }

    #[test]
    fn a_critical_extension_or_a_date_that_is_not_a_number_is_refused() {
        let good = json!({"sub": "pump-7", "iss": "plant", "aud": "fenn", "exp": now() + 60});
        let plain = r#"{"alg":"HS256","typ":"JWT"}"#;
        assert!(jwt().verify(&hand_made(plain, &good, b"s3cret")).is_ok());
        let crit = r#"{"alg":"HS256","typ":"JWT","crit":["x-unknown"],"x-unknown":1}"#;
        assert!(jwt().verify(&hand_made(crit, &good, b"s3cret")).is_err());
        for date in ["exp", "nbf", "iat"] {
            let mut claims = good.clone();
            claims[date] = json!(format!("{}", now() + 600));
            assert!(jwt().verify(&hs(&claims, b"s3cret")).is_err(), "{date}");
        }
        let mut fractional = good;
        fractional["iat"] = json!(1.5);
        assert!(jwt().verify(&hs(&fractional, b"s3cret")).is_ok());
    }

    #[test]
    fn a_date_out_of_range_is_refused_rather_than_skipped() {
        let good = json!({"sub": "pump-7", "iss": "plant", "aud": "fenn", "exp": now() + 60});
        for (date, value) in [
            ("nbf", json!(1e20)),
            ("nbf", json!(-1)),
            ("nbf", json!(18_446_744_073_709_551_615_u64)),
            ("iat", json!(-1.5)),
        ] {
            let mut claims = good.clone();
            claims[date] = value;
            assert!(jwt().verify(&hs(&claims, b"s3cret")).is_err(), "{claims}");
        }
    }

    #[test]
    fn alg_none_and_garbage_are_refused() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = b64.encode(format!(
            r#"{{"sub":"x","iss":"plant","aud":"fenn","exp":{}}}"#,
            now() + 60
        ));
        assert!(jwt().verify(&format!("{header}.{claims}.")).is_err());
        assert!(jwt().verify("not.a.token").is_err());
        assert!(jwt().verify("").is_err());
    }
}
