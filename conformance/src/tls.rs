//! TLS for `https://` URLs, through rustls with the ring crypto provider.
//!
//! A [`Tls`] says which server certificates the suite accepts: those issued under the Mozilla root certificates
//! (`webpki-roots`, the default), those issued by the CA certificates of a PEM file (a private CA:
//! `--ca-cert FILE`), or any certificate at all ([`Tls::insecure`], `--insecure`). The last one still encrypts and
//! still checks the handshake signatures, but anybody between the suite and the server could read and change the
//! traffic; the report says so in capitals.
//!
//! The handshake is done as soon as the TCP connection is open, so that a certificate that is not trusted, or a
//! plain-HTTP server on an https URL, is reported as such ([`ClientError::Tls`]) rather than as a broken response.

use std::fmt;
use std::io;
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme};

use crate::client::ClientError;

/// A TLS connection over TCP, as the raw client uses it.
pub(crate) type TlsStream = rustls::StreamOwned<ClientConnection, TcpStream>;

/// Which server certificates are accepted on `https://` URLs.
#[derive(Clone)]
pub struct Tls {
    config: Arc<ClientConfig>,
    trust: String,
    verifies: bool,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Tls").field("trust", &self.trust).field("verifies", &self.verifies).finish()
    }
}

impl Default for Tls {
    /// [`Tls::webpki_roots`].
    fn default() -> Self {
        Tls::webpki_roots()
    }
}

/// The crypto provider: ring, named explicitly (a build may have both ring and aws-lc-rs enabled in rustls, and
/// then rustls cannot pick a default one).
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn config_with(roots: RootCertStore) -> Arc<ClientConfig> {
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map(|b| b.with_root_certificates(roots).with_no_client_auth());
    // The ring provider supports the default protocol versions; this cannot fail.
    Arc::new(config.unwrap_or_else(|e| panic!("rustls with ring rejects its default protocol versions: {e}")))
}

impl Tls {
    /// Server certificates are checked against the Mozilla root certificates (the `webpki-roots` crate), as
    /// browsers would.
    pub fn webpki_roots() -> Tls {
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        Tls {
            config: config_with(roots),
            trust: "checked against the Mozilla root certificates (webpki-roots)".into(),
            verifies: true,
        }
    }

    /// Server certificates are checked against the CA certificates in `pem` (and only those): a server whose
    /// certificate comes from a private CA. `source` names them in reports (a file name).
    pub fn with_ca_pem(pem: &[u8], source: &str) -> Result<Tls, String> {
        let mut roots = RootCertStore::empty();
        let mut seen = 0;
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("{source}: not a PEM file: {e}"))?;
            seen += 1;
            roots.add(cert).map_err(|e| format!("{source}: certificate {seen} is not a usable CA certificate: {e}"))?;
        }
        if seen == 0 {
            return Err(format!("{source} holds no certificate (PEM, BEGIN CERTIFICATE)"));
        }
        Ok(Tls {
            config: config_with(roots),
            trust: format!("checked against the CA certificates of {source}"),
            verifies: true,
        })
    }

    /// [`Tls::with_ca_pem`] with the contents of a file.
    pub fn with_ca_file(path: &Path) -> Result<Tls, String> {
        let pem = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Tls::with_ca_pem(&pem, &path.display().to_string())
    }

    /// Any server certificate is accepted (self-signed, expired, for another name): the connection is encrypted
    /// but not authenticated. For test servers only; reports say so loudly.
    pub fn insecure() -> Tls {
        let provider = provider();
        let verifier = AcceptAnyCertificate { algorithms: provider.signature_verification_algorithms };
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map(|b| b.dangerous().with_custom_certificate_verifier(Arc::new(verifier)).with_no_client_auth());
        Tls {
            config: Arc::new(
                config.unwrap_or_else(|e| panic!("rustls with ring rejects its default protocol versions: {e}")),
            ),
            trust: "NOT VERIFIED (insecure): any certificate is accepted".into(),
            verifies: false,
        }
    }

    /// Whether server certificates are checked at all.
    pub fn verifies(&self) -> bool {
        self.verifies
    }

    /// How server certificates are checked, for reports.
    pub fn describe(&self) -> &str {
        &self.trust
    }

    /// Wraps an open TCP connection to `host` in TLS and completes the handshake (bounded by the stream's
    /// read and write timeouts).
    pub(crate) fn connect(&self, host: &str, tcp: TcpStream) -> Result<TlsStream, ClientError> {
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| ClientError::Tls(format!("{host:?} cannot be a TLS server name: {e}")))?;
        let conn = ClientConnection::new(self.config.clone(), name)
            .map_err(|e| ClientError::Tls(format!("cannot start a TLS session: {e}")))?;
        let mut stream = rustls::StreamOwned::new(conn, tcp);
        while stream.conn.is_handshaking() {
            if let Err(e) = stream.conn.complete_io(&mut stream.sock) {
                return Err(handshake_error(e));
            }
        }
        Ok(stream)
    }
}

/// What went wrong in a handshake, in words that say what to do about it.
fn handshake_error(e: io::Error) -> ClientError {
    if let Some(tls) = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>()) {
        return ClientError::Tls(describe(tls));
    }
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => ClientError::Timeout("during the TLS handshake"),
        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
            ClientError::Tls(format!(
                "the server closed the connection during the TLS handshake ({e}): does it speak TLS on this port?"
            ))
        }
        _ => ClientError::Io(e),
    }
}

const TRUST_HINT: &str = "--ca-cert FILE trusts a private CA, --insecure skips the check";

fn describe(e: &rustls::Error) -> String {
    match e {
        rustls::Error::InvalidCertificate(why) => {
            let what = match why {
                CertificateError::UnknownIssuer => "is not issued by a trusted CA".to_string(),
                CertificateError::BadSignature => "has a bad signature".to_string(),
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                    "is not valid for this host name".to_string()
                }
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => "has expired".to_string(),
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    "is not valid yet".to_string()
                }
                other => format!("is not accepted ({other:?})"),
            };
            format!("the server's certificate {what} ({TRUST_HINT})")
        }
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            format!("the server does not answer in TLS ({e}): is this a plain-HTTP port (http:// URL)?")
        }
        rustls::Error::AlertReceived(alert) => format!("the server refused the TLS handshake (alert {alert:?})"),
        other => format!("TLS handshake failed: {other}"),
    }
}

/// The verifier of [`Tls::insecure`]: accepts every certificate, but still checks that the server holds the key of
/// the certificate it sent (the handshake signatures), so the connection is at least a TLS connection.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_files_are_checked() {
        assert!(Tls::with_ca_pem(b"", "empty.pem").expect_err("no certificate").contains("holds no certificate"));
        let junk = b"-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n";
        assert!(Tls::with_ca_pem(junk, "junk.pem").is_err());
        assert!(Tls::with_ca_file(Path::new("/nonexistent/ca.pem")).expect_err("missing").contains("cannot read"));
        assert!(Tls::webpki_roots().verifies());
        let insecure = Tls::insecure();
        assert!(!insecure.verifies());
        assert!(insecure.describe().contains("NOT VERIFIED"));
    }

    #[test]
    fn errors_say_what_to_do() {
        let unknown = describe(&rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer));
        assert!(unknown.contains("not issued by a trusted CA") && unknown.contains("--ca-cert"), "{unknown}");
        let plain = describe(&rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType));
        assert!(plain.contains("plain-HTTP"), "{plain}");
    }
}
