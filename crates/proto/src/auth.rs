//! Proof of cluster membership on every gRPC call: members share a cluster secret, and each
//! call carries an HMAC-SHA256 of a fresh timestamp and nonce under it, so a caller without
//! the secret is refused (`UNAUTHENTICATED`) before the service sees the request. The secret
//! itself never travels; a captured proof is refused when it is replayed (each nonce is
//! accepted once) or once it is older than [`WINDOW`].
//!
//! This proves who calls, not what the call says: on a network where someone can change
//! traffic in flight, run the cluster's gRPC over TLS as well.

use std::collections::HashMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tonic::metadata::MetadataValue;
use tonic::{Request, Status};

/// The metadata key of the proof.
pub const HEADER: &str = "x-baton-member";

/// How far a proof's timestamp may be from the receiver's clock, either way.
pub const WINDOW: Duration = Duration::from_secs(120);

/// Fewest bytes a cluster secret may have.
pub const MIN_SECRET_BYTES: usize = 16;

/// Why a cluster secret cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Too short to resist guessing.
    #[error("the cluster secret is too short: it needs at least {MIN_SECRET_BYTES} characters (`baton cluster secret` prints a good one)")]
    TooShort,
    /// The file cannot be read.
    #[error("cannot read the cluster secret file {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// What failed.
        source: std::io::Error,
    },
    /// The operating system gave no random bytes.
    #[error("cannot make a cluster secret: the system's random source failed: {0}")]
    NoRandom(String),
}

/// The cluster secret, as every member holds it: the HMAC already keyed with it (every call
/// is proven and checked, so the key's part of the work is done once). Its `Debug` never
/// shows it.
#[derive(Clone)]
pub struct ClusterKey(Arc<Hmac<Sha256>>);

impl fmt::Debug for ClusterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClusterKey(…)")
    }
}

impl ClusterKey {
    /// A key from the secret's text (surrounding whitespace, such as a file's last newline,
    /// is not part of it).
    pub fn from_secret(secret: &str) -> Result<ClusterKey, KeyError> {
        let secret = secret.trim();
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyError::TooShort);
        }
        Ok(ClusterKey::of_bytes(secret.as_bytes()))
    }

    fn of_bytes(secret: &[u8]) -> ClusterKey {
        let mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
        ClusterKey(Arc::new(mac))
    }

    /// The key in `path`.
    pub fn read(path: &Path) -> Result<ClusterKey, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::Unreadable {
            path: path.display().to_string(),
            source,
        })?;
        ClusterKey::from_secret(&text)
    }

    /// A key of a new random secret, for a member given none: it shares the key with
    /// nobody, so only what runs in its own process (an embedded node) can call it.
    pub fn fresh() -> ClusterKey {
        let bytes = random::<32>().unwrap_or_else(|_| {
            // No OS randomness: still unguessable enough from outside the process.
            let t = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            let mut b = [0u8; 32];
            b[..16].copy_from_slice(&t.as_nanos().to_le_bytes());
            b[16..20].copy_from_slice(&std::process::id().to_le_bytes());
            b
        });
        ClusterKey::of_bytes(hex::encode(bytes).as_bytes())
    }

    /// A new random secret (32 bytes, hex), to write where every member can read it.
    pub fn generate_secret() -> Result<String, KeyError> {
        Ok(hex::encode(random::<32>()?))
    }

    fn mac(&self, timestamp: u64, nonce: &str) -> Hmac<Sha256> {
        let mut mac = (*self.0).clone();
        mac.update(b"baton-member-v1\0");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b"\0");
        mac.update(nonce.as_bytes());
        mac
    }

    /// A fresh proof: `v1.<unix seconds>.<nonce>.<mac>`.
    fn proof(&self) -> Result<String, KeyError> {
        let timestamp = unix_now();
        let nonce = hex::encode(Nonces::next()?);
        let mac = hex::encode(self.mac(timestamp, &nonce).finalize().into_bytes());
        Ok(format!("v1.{timestamp}.{nonce}.{mac}"))
    }
}

/// The nonces of this process's proofs: a random prefix drawn once, then a counter. A nonce
/// needs to be unique, not unpredictable (the MAC covers it, and a receiver accepts each
/// once), so proving a call costs no system call for randomness.
struct Nonces;

impl Nonces {
    fn next() -> Result<[u8; 16], KeyError> {
        static PREFIX: std::sync::OnceLock<[u8; 8]> = std::sync::OnceLock::new();
        static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let prefix = match PREFIX.get() {
            Some(prefix) => prefix,
            None => {
                let drawn = random::<8>()?;
                PREFIX.get_or_init(|| drawn)
            }
        };
        let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(prefix);
        nonce[8..].copy_from_slice(&n.to_be_bytes());
        Ok(nonce)
    }
}

fn random<const N: usize>() -> Result<[u8; N], KeyError> {
    let mut bytes = [0u8; N];
    getrandom::getrandom(&mut bytes).map_err(|e| KeyError::NoRandom(e.to_string()))?;
    Ok(bytes)
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A channel whose calls carry a proof: what every client of another member uses.
pub type MemberChannel =
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Prove>;

/// Adds a proof to every call a client makes (clients of members are built with it by
/// [`crate::sizes`]).
#[derive(Debug, Clone)]
pub struct Prove(pub ClusterKey);

impl tonic::service::Interceptor for Prove {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let proof = self
            .0
            .proof()
            .map_err(|e| Status::internal(e.to_string()))?;
        let value = MetadataValue::try_from(proof)
            .map_err(|_| Status::internal("a proof is plain ASCII"))?;
        request.metadata_mut().insert(HEADER, value);
        Ok(request)
    }
}

/// Refuses every call without a valid, fresh, unreplayed proof (`Server::with_interceptor`).
#[derive(Debug, Clone)]
pub struct Check {
    key: ClusterKey,
    seen: Arc<Mutex<Seen>>,
}

/// Nonces accepted within the last two windows, by when they were accepted.
#[derive(Debug, Default)]
struct Seen {
    nonces: HashMap<u128, u64>,
    swept_at: u64,
}

impl Check {
    /// Checks proofs made with `key`.
    pub fn new(key: ClusterKey) -> Check {
        Check {
            key,
            seen: Arc::new(Mutex::new(Seen::default())),
        }
    }

    /// Whether `proof` is valid now; the reason when not, for the caller's log.
    fn verify(&self, proof: &str, now: u64) -> Result<(), &'static str> {
        let mut parts = proof.split('.');
        let (Some("v1"), Some(ts), Some(nonce), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err("malformed proof");
        };
        let timestamp: u64 = ts.parse().map_err(|_| "malformed proof")?;
        let mut mac_bytes = [0u8; 32];
        hex::decode_to_slice(mac, &mut mac_bytes).map_err(|_| "malformed proof")?;
        let mut nonce_bytes = [0u8; 16];
        hex::decode_to_slice(nonce, &mut nonce_bytes).map_err(|_| "malformed proof")?;
        self.key
            .mac(timestamp, nonce)
            .verify_slice(&mac_bytes)
            .map_err(|_| "wrong cluster secret")?;
        if timestamp.abs_diff(now) > WINDOW.as_secs() {
            return Err("the proof is too old (or the clocks disagree by more than 2 minutes)");
        }
        let mut seen = self.seen.lock().expect("nonce table poisoned");
        if now.saturating_sub(seen.swept_at) > WINDOW.as_secs() {
            let horizon = now.saturating_sub(2 * WINDOW.as_secs());
            seen.nonces.retain(|_, at| *at >= horizon);
            seen.swept_at = now;
        }
        if seen
            .nonces
            .insert(u128::from_be_bytes(nonce_bytes), now)
            .is_some()
        {
            return Err("a replayed proof");
        }
        Ok(())
    }
}

impl tonic::service::Interceptor for Check {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        let proof = request
            .metadata()
            .get(HEADER)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                Status::unauthenticated("not a member of this cluster: the call carries no proof")
            })?;
        match self.verify(proof, unix_now()) {
            Ok(()) => Ok(request),
            Err(why) => Err(Status::unauthenticated(format!(
                "not a member of this cluster: {why}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> ClusterKey {
        ClusterKey::from_secret(s).unwrap()
    }

    #[test]
    fn a_proof_of_the_same_secret_passes_once() {
        let k = key("0123456789abcdef-secret");
        let check = Check::new(k.clone());
        let proof = k.proof().unwrap();
        assert_eq!(check.verify(&proof, unix_now()), Ok(()));
        assert_eq!(check.verify(&proof, unix_now()), Err("a replayed proof"));
        assert_eq!(check.verify(&k.proof().unwrap(), unix_now()), Ok(()));
    }

    #[test]
    fn other_secrets_old_proofs_and_garbage_are_refused() {
        let check = Check::new(key("0123456789abcdef-secret"));
        let other = key("0123456789abcdef-other");
        assert_eq!(
            check.verify(&other.proof().unwrap(), unix_now()),
            Err("wrong cluster secret")
        );
        let k = key("0123456789abcdef-secret");
        let proof = k.proof().unwrap();
        let later = unix_now() + WINDOW.as_secs() + 5;
        assert!(check.verify(&proof, later).unwrap_err().contains("too old"));
        for garbage in ["", "v1", "v1.1.2.3", "v2.1.aa.bb", "v1.x.y.z.w"] {
            assert_eq!(check.verify(garbage, unix_now()), Err("malformed proof"));
        }
    }

    #[test]
    fn short_secrets_are_refused_and_debug_hides_the_secret() {
        assert!(matches!(
            ClusterKey::from_secret("  short \n"),
            Err(KeyError::TooShort)
        ));
        let secret = ClusterKey::generate_secret().unwrap();
        assert_eq!(secret.len(), 64);
        let k = key(&secret);
        assert!(!format!("{k:?}").contains(&secret[..8]));
    }
}
