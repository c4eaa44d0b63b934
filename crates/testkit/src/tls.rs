//! Certificates made at test time (rcgen): a private CA and certificates it signs for the
//! loopback names (`localhost`, `127.0.0.1`), as PEM files, so that tests run real TLS
//! between real processes and trust it the way a user trusts a private CA (`--ca-cert`,
//! `--cluster-ca`), never by skipping verification. Nothing here is fit for production: the
//! keys sit in a test's directory.

use std::path::{Path, PathBuf};

/// Why certificates could not be made or written.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// rcgen refused.
    #[error("making a test certificate: {0}")]
    Make(#[from] rcgen::Error),
    /// A file could not be written.
    #[error("writing {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
}

/// A CA of its own, which signs loopback certificates.
pub struct TestCa {
    params: rcgen::CertificateParams,
    key: rcgen::KeyPair,
    cert: rcgen::Certificate,
}

/// A certificate's files: the certificate, its private key, and the CA that signed it.
#[derive(Debug, Clone)]
pub struct CertFiles {
    /// The certificate (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// The signing CA's certificate (PEM).
    pub ca: PathBuf,
}

impl CertFiles {
    /// The cluster flags that name these files, for every role's command line.
    pub fn cluster_args(&self) -> Vec<String> {
        let path = |p: &Path| p.display().to_string();
        vec![
            "--cluster-tls-cert".into(),
            path(&self.cert),
            "--cluster-tls-key".into(),
            path(&self.key),
            "--cluster-ca".into(),
            path(&self.ca),
        ]
    }
}

fn write(path: PathBuf, text: &str) -> Result<PathBuf, CertError> {
    std::fs::write(&path, text).map_err(|source| CertError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

impl TestCa {
    /// A new CA named `name`.
    pub fn new(name: &str) -> Result<TestCa, CertError> {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate()?;
        let cert = params.self_signed(&key)?;
        Ok(TestCa { params, key, cert })
    }

    /// A certificate for `localhost` and `127.0.0.1` signed by this CA, written to `dir` as
    /// `NAME.pem`, `NAME.key` and the CA as `NAME-ca.pem`.
    pub fn issue(&self, dir: &Path, name: &str) -> Result<CertFiles, CertError> {
        let params =
            rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
        let key = rcgen::KeyPair::generate()?;
        let issuer = rcgen::Issuer::from_params(&self.params, &self.key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok(CertFiles {
            cert: write(dir.join(format!("{name}.pem")), &cert.pem())?,
            key: write(dir.join(format!("{name}.key")), &key.serialize_pem())?,
            ca: write(dir.join(format!("{name}-ca.pem")), &self.cert.pem())?,
        })
    }
}

/// A private CA and a server certificate (with its key) for `localhost` and `127.0.0.1`,
/// written to a directory: what an HTTPS listener under test serves.
pub struct TestCerts {
    /// The CA's certificate (what a client trusts).
    pub ca_cert: PathBuf,
    /// The server's certificate, signed by the CA.
    pub server_cert: PathBuf,
    /// The server certificate's private key.
    pub server_key: PathBuf,
}

impl TestCerts {
    /// Makes a fresh CA and server certificate and writes `server.pem`, `server.key` and
    /// `server-ca.pem` into `dir`.
    pub fn generate(dir: &Path) -> Result<TestCerts, CertError> {
        let files = TestCa::new("Baton test CA")?.issue(dir, "server")?;
        Ok(TestCerts {
            ca_cert: files.ca,
            server_cert: files.cert,
            server_key: files.key,
        })
    }
}
