//! Certificates made at test time (rcgen): a private CA and a server certificate it signed
//! for the loopback names, as PEM files, so that tests run a real TLS listener and trust it
//! the way a user trusts a private CA (`--ca-cert`), never by skipping verification.

use std::path::{Path, PathBuf};

/// A private CA and a server certificate (with its key) for `localhost` and `127.0.0.1`,
/// written to a directory.
pub struct TestCerts {
    /// The CA's certificate (what a client trusts).
    pub ca_cert: PathBuf,
    /// The server's certificate, signed by the CA.
    pub server_cert: PathBuf,
    /// The server certificate's private key.
    pub server_key: PathBuf,
}

/// Why making the certificates failed.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// rcgen refused the parameters.
    #[error("generating a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    /// A file could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl TestCerts {
    /// Makes a fresh CA and server certificate and writes `ca.pem`, `server.pem` and
    /// `server.key` into `dir`.
    pub fn generate(dir: &Path) -> Result<TestCerts, CertError> {
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "Baton test CA");
        let ca = rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate()?)?;
        let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        let server_key = rcgen::KeyPair::generate()?;
        let server = rcgen::CertificateParams::new(names)?.signed_by(&server_key, &ca)?;
        let certs = TestCerts {
            ca_cert: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
        };
        write(&certs.ca_cert, &ca.pem())?;
        write(&certs.server_cert, &server.pem())?;
        write(&certs.server_key, &server_key.serialize_pem())?;
        Ok(certs)
    }
}

fn write(path: &Path, text: &str) -> Result<(), CertError> {
    std::fs::write(path, text).map_err(|source| CertError::Write {
        path: path.to_path_buf(),
        source,
    })
}
