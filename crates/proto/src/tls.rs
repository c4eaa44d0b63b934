//! Mutual TLS on the cluster's gRPC, in addition to the cluster secret of [`crate::auth`]:
//! every member (api, master, worker) has a certificate signed by the cluster's own CA, serves
//! with it, presents it when it calls, and accepts only peers whose certificate that CA
//! signed. The secret proves who calls; TLS also keeps what the calls say (commands, params,
//! logs) from being read or changed on the network.
//!
//! A member's certificate must name the host the others reach it by (its advertised
//! `host:port`'s host, as a DNS name or an IP address), since a caller checks it like a
//! browser does.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity, Server, ServerTlsConfig};

/// Why the cluster's TLS files cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file cannot be read.
    #[error("cannot read the cluster TLS {what} {path}: {source}")]
    Unreadable {
        /// Which file: certificate, key or CA.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A file holds no PEM object of the kind it should.
    #[error("the cluster TLS {what} {path} holds no PEM {expected}")]
    NotPem {
        /// Which file.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What it should hold.
        expected: &'static str,
    },
    /// tonic refused the configuration.
    #[error("cluster TLS: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// A member's certificate and key, and the cluster CA it trusts. Its `Debug` never shows
/// the key.
#[derive(Clone)]
pub struct ClusterTls(Arc<Files>);

struct Files {
    cert: Vec<u8>,
    key: Vec<u8>,
    ca: Vec<u8>,
}

impl fmt::Debug for ClusterTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterTls(…)")
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Unreadable {
        what,
        path: path.to_path_buf(),
        source,
    })
}

impl ClusterTls {
    /// Reads and checks the member's certificate chain (`cert`, PEM), its private key
    /// (`key`, PEM) and the cluster CA's certificate (`ca`, PEM).
    pub fn read(cert: &Path, key: &Path, ca: &Path) -> Result<ClusterTls, TlsError> {
        let files = Files {
            cert: read("certificate", cert)?,
            key: read("key", key)?,
            ca: read("CA", ca)?,
        };
        let not_pem = |what, path: &Path, expected| TlsError::NotPem {
            what,
            path: path.to_path_buf(),
            expected,
        };
        let has_cert = |bytes: &[u8]| CertificateDer::pem_slice_iter(bytes).any(|c| c.is_ok());
        if !has_cert(&files.cert) {
            return Err(not_pem("certificate", cert, "certificate"));
        }
        if !has_cert(&files.ca) {
            return Err(not_pem("CA", ca, "certificate"));
        }
        if PrivateKeyDer::from_pem_slice(&files.key).is_err() {
            return Err(not_pem("key", key, "private key"));
        }
        Ok(ClusterTls(Arc::new(files)))
    }

    fn identity(&self) -> Identity {
        Identity::from_pem(&self.0.cert, &self.0.key)
    }

    fn ca(&self) -> Certificate {
        Certificate::from_pem(&self.0.ca)
    }

    /// A gRPC server that speaks TLS and requires a client certificate of the cluster CA.
    pub fn server(&self) -> Result<Server, TlsError> {
        let config = ServerTlsConfig::new()
            .identity(self.identity())
            .client_ca_root(self.ca());
        Ok(Server::builder().tls_config(config)?)
    }
}

/// A gRPC server for a member: over TLS when the cluster has it, else plain.
pub fn server(tls: Option<&ClusterTls>) -> Result<Server, TlsError> {
    match tls {
        Some(t) => t.server(),
        None => Ok(Server::builder()),
    }
}

/// The endpoint of a member at `address` (`host:port`): `https` with the cluster's client
/// certificate when the cluster has TLS, else `http`. Timeouts are the caller's to add.
pub fn endpoint(address: &str, tls: Option<&ClusterTls>) -> Result<Endpoint, TlsError> {
    let scheme = if tls.is_some() { "https" } else { "http" };
    let endpoint = Endpoint::from_shared(format!("{scheme}://{address}"))?;
    Ok(match tls {
        Some(t) => endpoint.tls_config(
            ClientTlsConfig::new()
                .ca_certificate(t.ca())
                .identity(t.identity()),
        )?,
        None => endpoint,
    })
}
