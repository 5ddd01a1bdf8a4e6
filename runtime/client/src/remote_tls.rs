//! How the CLI trusts a management API served over HTTPS: a CA file, or
//! the SHA-256 fingerprint of a device's own (self-signed) certificate,
//! pinned. There is no fallback to trusting every certificate.

use anyhow::{Context as _, bail};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};
use std::path::Path;
use std::sync::Arc;

/// What the CLI trusts.
pub enum Trust<'a> {
    /// Certificates signed by the CAs in this PEM file.
    CaFile(&'a Path),
    /// The certificate of this SHA-256 fingerprint (hex, colons optional).
    Fingerprint(&'a str),
}

/// A TLS client config that trusts as `trust` says.
pub fn client_config(trust: &Trust<'_>) -> anyhow::Result<Arc<ClientConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let mut config = match trust {
        Trust::CaFile(file) => {
            let bytes = fenn_runtime::files::read(
                file,
                fenn_runtime::files::MAX_PEM,
                "the most a PEM file may be",
            )
            .map_err(anyhow::Error::msg)?;
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_slice_iter(&bytes) {
                let cert =
                    cert.with_context(|| format!("{}: not PEM certificates", file.display()))?;
                roots
                    .add(cert)
                    .with_context(|| format!("{}: a certificate rustls refuses", file.display()))?;
            }
            if roots.is_empty() {
                bail!("{}: holds no PEM certificate", file.display());
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::Fingerprint(text) => {
            let pinned = Pinned {
                sha256: parse_fingerprint(text)?,
                algorithms: provider.signature_verification_algorithms,
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(pinned))
                .with_no_client_auth()
        }
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A fingerprint as hex, with or without colons.
fn parse_fingerprint(text: &str) -> anyhow::Result<Vec<u8>> {
    let hex: String = text.chars().filter(|c| *c != ':').collect();
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
        })
        .collect();
    match bytes {
        Some(bytes) if bytes.len() == 32 => Ok(bytes),
        _ => {
            bail!("--fingerprint {text}: not a SHA-256 fingerprint (64 hex digits, colons allowed)")
        }
    }
}

/// Trusts exactly the certificate of one fingerprint; the handshake's
/// signatures are still checked, so the server must hold its key.
#[derive(Debug)]
struct Pinned {
    sha256: Vec<u8>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let digest = ring::digest::digest(&ring::digest::SHA256, end_entity.as_ref());
        if digest.as_ref() == self.sha256.as_slice() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the server's certificate is not the one of the pinned fingerprint".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_read_with_or_without_colons() {
        let plain = "ab".repeat(32);
        assert_eq!(parse_fingerprint(&plain).unwrap(), vec![0xab; 32]);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(parse_fingerprint(&colons).unwrap(), vec![0xab; 32]);
        assert!(parse_fingerprint("abcd").is_err());
        assert!(parse_fingerprint(&"zz".repeat(32)).is_err());
    }
}
