//! The listener's certificate and key (PEM files), made into a rustls server configuration
//! on the ring provider. Every way a file can be wrong is a startup error that names it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// TLS for the HTTP listener: a certificate chain and its key, loaded and checked.
#[derive(Clone)]
pub struct Tls {
    pub(super) config: Arc<rustls::ServerConfig>,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tls { .. }")
    }
}

/// Why the certificate or key could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("cannot read the TLS {what} {}: {source}", path.display())]
    Read {
        /// `certificate` or `key`.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The certificate file is not PEM certificates.
    #[error("the TLS certificate {} holds no PEM certificate (`-----BEGIN CERTIFICATE-----`){detail}", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
        /// What the PEM parser said, if anything.
        detail: String,
    },
    /// The key file holds no private key.
    #[error("the TLS key {} holds no PEM private key (`-----BEGIN PRIVATE KEY-----`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`){detail}", path.display())]
    NoKey {
        /// The file.
        path: PathBuf,
        /// What the PEM parser said, if anything.
        detail: String,
    },
    /// rustls refused the pair (an unsupported key, or a key that is not the certificate's).
    #[error("the TLS key {} cannot serve the certificate {}: {source}", key.display(), cert.display())]
    Refused {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// What rustls said.
        source: rustls::Error,
    },
}

impl Tls {
    /// Loads a PEM certificate chain (the server's certificate first) and its PEM private
    /// key. The listener then speaks HTTP/1.1 over TLS 1.2 or 1.3 only.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Tls, TlsError> {
        let chain = certificates(cert)?;
        let private = private_key(key)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let refused = |source| TlsError::Refused {
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
            source,
        };
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(refused)?
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .map_err(refused)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            config: Arc::new(config),
        })
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read("certificate", path)?;
    let none = |detail: String| TlsError::NoCertificate {
        path: path.to_path_buf(),
        detail,
    };
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| none(format!(": {e}")))?;
    if chain.is_empty() {
        return Err(none(String::new()));
    }
    Ok(chain)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = read("key", path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::NoKey {
        path: path.to_path_buf(),
        detail: match e {
            rustls::pki_types::pem::Error::NoItemsFound => String::new(),
            other => format!(": {other}"),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_testkit::tls::TestCerts;

    fn certs() -> (tempfile::TempDir, TestCerts) {
        let dir = tempfile::tempdir().unwrap();
        let certs = TestCerts::generate(dir.path()).unwrap();
        (dir, certs)
    }

    #[test]
    fn a_generated_certificate_and_key_load() {
        let (_dir, c) = certs();
        Tls::from_pem_files(&c.server_cert, &c.server_key).unwrap();
    }

    #[test]
    fn a_missing_file_is_named() {
        let (dir, c) = certs();
        let missing = dir.path().join("nope.pem");
        let err = Tls::from_pem_files(&missing, &c.server_key).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("TLS certificate") && text.contains("nope.pem"),
            "{text}"
        );
        let err = Tls::from_pem_files(&c.server_cert, &missing).unwrap_err();
        assert!(err.to_string().contains("TLS key"), "{err}");
    }

    #[test]
    fn swapped_files_say_which_holds_what() {
        let (_dir, c) = certs();
        let err = Tls::from_pem_files(&c.server_key, &c.server_cert).unwrap_err();
        assert!(matches!(err, TlsError::NoCertificate { .. }), "{err}");
        assert!(err.to_string().contains("server.key"), "{err}");
        let err = Tls::from_pem_files(&c.server_cert, &c.server_cert).unwrap_err();
        assert!(matches!(err, TlsError::NoKey { .. }), "{err}");
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        let (dir, c) = certs();
        let other = tempfile::tempdir_in(dir.path()).unwrap();
        let o = TestCerts::generate(other.path()).unwrap();
        let err = Tls::from_pem_files(&c.server_cert, &o.server_key).unwrap_err();
        assert!(matches!(err, TlsError::Refused { .. }), "{err}");
    }
}
