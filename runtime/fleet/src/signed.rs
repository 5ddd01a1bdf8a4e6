//! Signed deployments: the deployment's JSON text and an ed25519
//! signature over exactly those bytes, in one JSON envelope. A device
//! applies only what a key in its `trusted_keys` signed.
//!
//! Keys: the private key is PKCS#8 in PEM (`PRIVATE KEY`), as
//! `fenn fleet keygen` and `openssl genpkey -algorithm ed25519` write it;
//! the public key a device trusts is its 32 bytes in base64.

use crate::FleetError;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair as _, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

/// What travels on a desired-state topic.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Envelope {
    /// The deployment, as JSON text: the bytes signed.
    pub deployment: String,
    /// The ed25519 signature of `deployment`, in base64.
    pub signature: String,
}

/// Largest envelope a device reads: a deployment names at most
/// [`crate::deployment::MAX_FUNCTIONS`] functions, each with its
/// definition and test event, and a wave its devices.
pub const MAX_ENVELOPE: usize = 1 << 20;

/// The operator's private key.
pub struct Signer {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("public", &self.public_key())
            .finish()
    }
}

impl Signer {
    /// A new key, as the PEM text of its PKCS#8 document.
    ///
    /// # Errors
    ///
    /// The system's random source failed.
    pub fn generate() -> Result<String, FleetError> {
        let random = ring::rand::SystemRandom::new();
        let document = Ed25519KeyPair::generate_pkcs8(&random)
            .map_err(|_| FleetError::Key("no randomness for a new key".into()))?;
        Ok(pem(document.as_ref()))
    }

    /// The key in `text`: PEM, or the base64 of its PKCS#8 document.
    ///
    /// # Errors
    ///
    /// Not such a key.
    pub fn from_pem(text: &str) -> Result<Self, FleetError> {
        let body: String = text
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect::<Vec<_>>()
            .join("");
        let der = STANDARD
            .decode(body.trim())
            .map_err(|_| FleetError::Key("not a PEM private key".into()))?;
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der)
            .map_err(|_| FleetError::Key("not an ed25519 private key (PKCS#8)".into()))?;
        Ok(Self { pair })
    }

    /// The public key devices trust, in base64.
    pub fn public_key(&self) -> String {
        STANDARD.encode(self.pair.public_key().as_ref())
    }

    /// `deployment` signed.
    pub fn sign(&self, deployment: String) -> Envelope {
        let signature = STANDARD.encode(self.pair.sign(deployment.as_bytes()).as_ref());
        Envelope {
            deployment,
            signature,
        }
    }

    /// The keys that trust this one.
    pub fn trusted(&self) -> Trusted {
        Trusted {
            keys: vec![self.pair.public_key().as_ref().to_vec()],
        }
    }
}

/// PEM of a PKCS#8 document.
fn pem(der: &[u8]) -> String {
    let text = STANDARD.encode(der);
    let mut out = String::from("-----BEGIN PRIVATE KEY-----\n");
    for line in text.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str("-----END PRIVATE KEY-----\n");
    out
}

/// The public keys a device trusts.
#[derive(Debug, Clone, Default)]
pub struct Trusted {
    keys: Vec<Vec<u8>>,
}

impl Trusted {
    /// The keys, each the base64 of its 32 bytes.
    ///
    /// # Errors
    ///
    /// The first that is not such a key.
    pub fn parse(keys: &[String]) -> Result<Self, String> {
        let keys = keys
            .iter()
            .map(|key| match STANDARD.decode(key.trim()) {
                Ok(bytes) if bytes.len() == 32 => Ok(bytes),
                _ => Err(format!(
                    "'{key}' is not an ed25519 public key (32 bytes in base64, as `fenn fleet keygen` prints it)"
                )),
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { keys })
    }

    /// The deployment text in `payload`, when a trusted key signed it.
    ///
    /// # Errors
    ///
    /// Why it is refused: not an envelope, or no trusted key's signature.
    pub fn open(&self, payload: &[u8]) -> Result<String, String> {
        if payload.len() > MAX_ENVELOPE {
            return Err(format!(
                "a deployment of {} bytes, over the {MAX_ENVELOPE} a device reads",
                payload.len()
            ));
        }
        let envelope: Envelope = serde_json::from_slice(payload)
            .map_err(|_| "not a signed deployment (deployment and signature)".to_owned())?;
        let signature = STANDARD
            .decode(envelope.signature.as_bytes())
            .map_err(|_| "its signature is not base64".to_owned())?;
        let signed = self.keys.iter().any(|key| {
            UnparsedPublicKey::new(&ED25519, key)
                .verify(envelope.deployment.as_bytes(), &signature)
                .is_ok()
        });
        if signed {
            Ok(envelope.deployment)
        } else {
            Err("not signed by a key this device trusts".into())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::from_pem(&Signer::generate().unwrap()).unwrap()
    }

    #[test]
    fn a_trusted_key_opens_what_it_signed_and_nothing_else() {
        let (ours, theirs) = (signer(), signer());
        let trusted = Trusted::parse(&[ours.public_key()]).unwrap();
        let envelope = ours.sign(r#"{"id":1}"#.into());
        let bytes = serde_json::to_vec(&envelope).unwrap();
        assert_eq!(trusted.open(&bytes).unwrap(), r#"{"id":1}"#);

        let forged = serde_json::to_vec(&theirs.sign(r#"{"id":1}"#.into())).unwrap();
        assert!(trusted.open(&forged).unwrap_err().contains("not signed"));

        let mut altered = envelope;
        altered.deployment = r#"{"id":2}"#.into();
        let altered = serde_json::to_vec(&altered).unwrap();
        assert!(trusted.open(&altered).unwrap_err().contains("not signed"));

        assert!(
            trusted
                .open(br#"{"id":1}"#)
                .unwrap_err()
                .contains("not a signed")
        );
        assert!(trusted.open(&vec![b' '; MAX_ENVELOPE + 1]).is_err());
    }

    #[test]
    fn keys_read_back_as_pem_and_bad_keys_are_refused() {
        let pem = Signer::generate().unwrap();
        assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----\n"));
        let a = Signer::from_pem(&pem).unwrap();
        let b = Signer::from_pem(&pem).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        assert!(Signer::from_pem("nonsense").is_err());
        assert!(Trusted::parse(&["AAAA".into()]).is_err());
        assert!(Trusted::parse(&[a.public_key()]).is_ok());
    }

    #[test]
    fn an_openssl_key_is_read() {
        // `openssl genpkey -algorithm ed25519`: PKCS#8 v1.
        let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIBpJp0l9xaJ+3PzWbLtx1mPLxjqI3K9DsJcWFTvrmUcP\n-----END PRIVATE KEY-----\n";
        assert!(Signer::from_pem(pem).is_ok());
    }
}
