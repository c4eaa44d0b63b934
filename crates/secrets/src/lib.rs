//! Secrets at rest: a data source's password (and, later, other credentials) is kept in the
//! metadata store only sealed with XChaCha20-Poly1305, an AEAD.
//!
//! - Each seal draws a fresh random 24-byte nonce.
//! - The record the secret belongs to (its *context*, e.g. `datasource:<project>/<name>`) is
//!   authenticated with it as associated data, so a sealed value copied onto another record
//!   does not open there.
//! - The sealed text is versioned and names the key it was sealed with:
//!   `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`, where the key id is the first four
//!   bytes of the SHA-256 of the key, in hex.
//! - A [`Keyring`] holds the current key and any previous ones: it opens with any of them and
//!   seals with the current one, which is how a key is rotated (re-seal what
//!   [`Keyring::needs_reseal`] names, then drop the old key).
//!
//! Keys are 32 random bytes written as text (base64, or 64 hex digits) in a file that only its
//! owner may read. No `Debug` here shows a key or an opened secret, and key bytes and opened
//! secrets are zeroed when dropped.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;

/// Opened secrets and key bytes come wrapped in this: zeroed when dropped.
pub use zeroize::Zeroizing;

/// The record a project secret's value is sealed for (the associated data of its sealing),
/// `secret:PROJECT/NAME`: a sealed value copied onto another secret does not open there.
pub fn project_secret_context(project: &str, name: &str) -> String {
    format!("secret:{project}/{name}")
}

/// Bytes in a key.
pub const KEY_BYTES: usize = 32;
/// Bytes in a nonce (XChaCha20's extended nonce: random ones never collide in practice).
const NONCE_BYTES: usize = 24;
/// The version prefix of the sealed text this code writes.
const VERSION: &str = "v1";
/// Put before the context in the associated data, so that a Baton seal is never taken for
/// another program's under the same key.
const DOMAIN: &[u8] = b"baton-secret-v1\0";

/// What can go wrong with keys and sealed secrets, said in the user's words.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// The sealed text names a key the keyring does not hold.
    #[error(
        "the secret was sealed with key {key}, which is not configured (give that key with \
         --previous-secret-key-file, or set the secret again)"
    )]
    UnknownKey {
        /// The key id the text names.
        key: String,
    },
    /// The text is not a sealed secret of a known version.
    #[error("not a sealed secret: {0}")]
    Malformed(String),
    /// The key is right but the text does not open: it was changed, or sealed for another record.
    #[error(
        "the secret of {context} does not open with key {key}: it was altered, or it was \
         sealed for another record"
    )]
    Refused {
        /// The key tried.
        key: String,
        /// The record it was opened for.
        context: String,
    },
    /// A key's text is not 32 bytes in base64 or hex.
    #[error(
        "not a secret key: expected {KEY_BYTES} bytes written as base64 or as 64 hex digits \
         (`baton secret key` prints one), got {0}"
    )]
    BadKey(String),
    /// A key file cannot be used.
    #[error("secret key file {path}: {problem}")]
    KeyFile {
        /// The file.
        path: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Two keys given to one keyring are the same key, or share an id.
    #[error(
        "key {0} is given twice (as the current key and as a previous one, or twice as previous)"
    )]
    Duplicate(String),
    /// The operating system gave no random bytes.
    #[error("the system's random source failed: {0}")]
    NoRandom(String),
    /// The opened secret is not UTF-8 text.
    #[error("the secret of {0} opened, but it is not UTF-8 text")]
    NotText(String),
}

/// A key's short public name: the first four bytes of the SHA-256 of the key, in hex.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(String);

impl KeyId {
    /// The id as text (8 hex digits).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0)
    }
}

/// One 32-byte key. Its `Debug` shows only its id; its bytes are zeroed on drop.
#[derive(Clone)]
pub struct SecretKey {
    id: KeyId,
    bytes: Zeroizing<[u8; KEY_BYTES]>,
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}, …)", self.id)
    }
}

impl SecretKey {
    /// A new random key.
    pub fn generate() -> Result<SecretKey, SecretError> {
        let mut bytes = Zeroizing::new([0u8; KEY_BYTES]);
        getrandom::getrandom(bytes.as_mut()).map_err(|e| SecretError::NoRandom(e.to_string()))?;
        Ok(SecretKey::from_bytes(bytes))
    }

    fn from_bytes(bytes: Zeroizing<[u8; KEY_BYTES]>) -> SecretKey {
        let digest = Sha256::digest(bytes.as_ref());
        let id = digest[..4].iter().map(|b| format!("{b:02x}")).collect();
        SecretKey {
            id: KeyId(id),
            bytes,
        }
    }

    /// A key from its text: 32 bytes as base64 (standard, padded or not) or as 64 hex digits;
    /// surrounding whitespace (a file's last newline) is not part of it.
    pub fn from_text(text: &str) -> Result<SecretKey, SecretError> {
        let text = text.trim();
        let decoded = if text.len() == 2 * KEY_BYTES && text.bytes().all(|b| b.is_ascii_hexdigit())
        {
            unhex(text)
        } else {
            STANDARD
                .decode(text)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
                .ok()
                .map(Zeroizing::new)
        };
        let decoded = decoded.ok_or_else(|| {
            SecretError::BadKey(format!("{} characters that are neither", text.len()))
        })?;
        let array: [u8; KEY_BYTES] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| SecretError::BadKey(format!("{} bytes", decoded.len())))?;
        Ok(SecretKey::from_bytes(Zeroizing::new(array)))
    }

    /// The key as text (base64), to write to a key file.
    pub fn to_text(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.bytes.as_ref()))
    }

    /// The key in `path`. The file must be readable by its owner only (no group or other
    /// permission bits), since whoever reads it can open every secret.
    pub fn read_file(path: &Path) -> Result<SecretKey, SecretError> {
        let bad = |problem: String| SecretError::KeyFile {
            path: path.display().to_string(),
            problem,
        };
        let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
        check_mode(&meta).map_err(bad)?;
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?);
        SecretKey::from_text(&text).map_err(|e| bad(e.to_string()))
    }

    /// Writes a new random key to `path`, created with mode 0600 (refused if it exists).
    pub fn create_file(path: &Path) -> Result<SecretKey, SecretError> {
        use std::io::Write;
        let bad = |e: std::io::Error| SecretError::KeyFile {
            path: path.display().to_string(),
            problem: e.to_string(),
        };
        let key = SecretKey::generate()?;
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(bad)?;
        file.write_all(key.to_text().as_bytes()).map_err(bad)?;
        file.write_all(b"\n").map_err(bad)?;
        file.sync_all().map_err(bad)?;
        Ok(key)
    }

    /// The key's id.
    pub fn id(&self) -> &KeyId {
        &self.id
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(Key::from_slice(self.bytes.as_ref()))
    }
}

/// Refuses a key file that its group or others may read or write.
#[cfg(unix)]
fn check_mode(meta: &std::fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if !meta.is_file() {
        return Err("it is not a regular file".into());
    }
    if mode & 0o077 != 0 {
        return Err(format!(
            "other users may read or change it (mode {mode:04o}), and it opens every secret: \
             `chmod 600` it"
        ));
    }
    Ok(())
}

/// No permission bits to check.
#[cfg(not(unix))]
fn check_mode(_: &std::fs::Metadata) -> Result<(), String> {
    Ok(())
}

fn unhex(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; text.len() / 2]);
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// The associated data of a seal: the domain, the key id and the record's context.
fn associated(key: &KeyId, context: &str) -> Vec<u8> {
    let mut aad = DOMAIN.to_vec();
    aad.extend_from_slice(key.as_str().as_bytes());
    aad.push(0);
    aad.extend_from_slice(context.as_bytes());
    aad
}

/// The parts of a sealed text.
struct Sealed<'a> {
    key: &'a str,
    data: Vec<u8>,
}

fn parse(sealed: &str) -> Result<Sealed<'_>, SecretError> {
    let mut parts = sealed.splitn(3, '.');
    let (Some(version), Some(key), Some(data)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(SecretError::Malformed(
            "expected the form v1.<key id>.<data>".into(),
        ));
    };
    if version != VERSION {
        return Err(SecretError::Malformed(format!(
            "version `{version}` is not one this Baton reads (it reads {VERSION})"
        )));
    }
    let data = URL_SAFE_NO_PAD
        .decode(data)
        .map_err(|_| SecretError::Malformed("its data is not base64url".into()))?;
    if data.len() < NONCE_BYTES + 16 {
        return Err(SecretError::Malformed("its data is too short".into()));
    }
    Ok(Sealed { key, data })
}

/// The current key and the previous ones: opens with any, seals with the current.
#[derive(Clone, Debug)]
pub struct Keyring {
    current: SecretKey,
    previous: Vec<SecretKey>,
}

impl Keyring {
    /// A keyring sealing with `current`, opening also with `previous`.
    pub fn new(current: SecretKey, previous: Vec<SecretKey>) -> Result<Keyring, SecretError> {
        let mut seen = vec![current.id.clone()];
        for key in &previous {
            if seen.contains(&key.id) {
                return Err(SecretError::Duplicate(key.id.to_string()));
            }
            seen.push(key.id.clone());
        }
        Ok(Keyring { current, previous })
    }

    /// The id of the key new seals use.
    pub fn current_id(&self) -> &KeyId {
        &self.current.id
    }

    /// The ids of the previous keys, in the order given.
    pub fn previous_ids(&self) -> Vec<&KeyId> {
        self.previous.iter().map(|k| &k.id).collect()
    }

    fn key(&self, id: &str) -> Option<&SecretKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id.as_str() == id)
    }

    /// Seals `plaintext` for the record `context` with the current key.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<String, SecretError> {
        let key = &self.current;
        let mut nonce = [0u8; NONCE_BYTES];
        getrandom::getrandom(&mut nonce).map_err(|e| SecretError::NoRandom(e.to_string()))?;
        let aad = associated(&key.id, context);
        let ciphertext = key
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: &aad,
                },
            )
            // Encryption fails only for a message longer than the cipher's limit (256 GiB).
            .map_err(|_| SecretError::Malformed("the secret is too long to seal".into()))?;
        let mut data = nonce.to_vec();
        data.extend_from_slice(&ciphertext);
        Ok(format!(
            "{VERSION}.{}.{}",
            key.id,
            URL_SAFE_NO_PAD.encode(data)
        ))
    }

    /// Seals a text secret (a password).
    pub fn seal_text(&self, context: &str, plaintext: &str) -> Result<String, SecretError> {
        self.seal(context, plaintext.as_bytes())
    }

    /// Opens `sealed`, which must have been sealed for `context` with a key of this keyring.
    pub fn open(&self, context: &str, sealed: &str) -> Result<Zeroizing<Vec<u8>>, SecretError> {
        let parsed = parse(sealed)?;
        let key = self
            .key(parsed.key)
            .ok_or_else(|| SecretError::UnknownKey {
                key: parsed.key.to_string(),
            })?;
        let (nonce, ciphertext) = parsed.data.split_at(NONCE_BYTES);
        let aad = associated(&key.id, context);
        key.cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: &aad,
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SecretError::Refused {
                key: key.id.to_string(),
                context: context.to_string(),
            })
    }

    /// Opens a text secret.
    pub fn open_text(&self, context: &str, sealed: &str) -> Result<Zeroizing<String>, SecretError> {
        let mut bytes = self.open(context, sealed)?;
        let taken = std::mem::take(&mut *bytes);
        String::from_utf8(taken).map(Zeroizing::new).map_err(|e| {
            // Zero what failed to decode, too.
            drop(Zeroizing::new(e.into_bytes()));
            SecretError::NotText(context.to_string())
        })
    }

    /// The id of the key `sealed` names (without opening it).
    pub fn sealed_with(sealed: &str) -> Result<String, SecretError> {
        parse(sealed).map(|p| p.key.to_string())
    }

    /// Whether `sealed` should be sealed again: it names a key other than the current one.
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        Keyring::sealed_with(sealed).map_or(true, |k| k != self.current.id.as_str())
    }

    /// Opens `sealed` for `context` and seals it again with the current key.
    pub fn reseal(&self, context: &str, sealed: &str) -> Result<String, SecretError> {
        let plain = self.open(context, sealed)?;
        self.seal(context, &plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        Keyring::new(SecretKey::generate().unwrap(), Vec::new()).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_for_its_record_and_names_its_key() {
        let ring = ring();
        let sealed = ring.seal_text("datasource:p/a", "hunter2").unwrap();
        assert!(sealed.starts_with(&format!("v1.{}.", ring.current_id())));
        assert!(!sealed.contains("hunter2"));
        assert_eq!(
            *ring.open_text("datasource:p/a", &sealed).unwrap(),
            "hunter2"
        );
        // A fresh nonce each time: the same secret seals differently.
        assert_ne!(sealed, ring.seal_text("datasource:p/a", "hunter2").unwrap());
        assert!(!ring.needs_reseal(&sealed));
    }

    #[test]
    fn a_secret_moved_to_another_record_is_refused() {
        let ring = ring();
        let sealed = ring.seal_text("datasource:p/a", "hunter2").unwrap();
        let e = ring.open_text("datasource:p/b", &sealed).unwrap_err();
        assert!(matches!(e, SecretError::Refused { .. }), "{e}");
        assert!(e.to_string().contains("datasource:p/b"), "{e}");
    }

    #[test]
    fn tampered_text_is_refused() {
        let ring = ring();
        let sealed = ring.seal_text("c", "hunter2").unwrap();
        let (head, data) = sealed.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(data).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&bytes));
        assert!(matches!(
            ring.open_text("c", &tampered),
            Err(SecretError::Refused { .. })
        ));
        for bad in ["", "v1.x", "v2.abcd.AAAA", "v1.abcd.!!!", "v1.abcd.AAAA"] {
            assert!(
                matches!(ring.open_text("c", bad), Err(SecretError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn an_old_key_opens_and_the_current_one_reseals() {
        let old = SecretKey::generate().unwrap();
        let before = Keyring::new(old.clone(), Vec::new()).unwrap();
        let sealed = before.seal_text("c", "hunter2").unwrap();
        let after = Keyring::new(SecretKey::generate().unwrap(), vec![old]).unwrap();
        assert_eq!(*after.open_text("c", &sealed).unwrap(), "hunter2");
        assert!(after.needs_reseal(&sealed));
        let resealed = after.reseal("c", &sealed).unwrap();
        assert!(!after.needs_reseal(&resealed));
        assert_eq!(
            Keyring::sealed_with(&resealed).unwrap(),
            after.current_id().as_str()
        );
        assert_eq!(*after.open_text("c", &resealed).unwrap(), "hunter2");
    }

    #[test]
    fn an_unknown_key_is_named() {
        let sealed = ring().seal_text("c", "hunter2").unwrap();
        let id = Keyring::sealed_with(&sealed).unwrap();
        let e = ring().open_text("c", &sealed).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!(
                "the secret was sealed with key {id}, which is not configured (give that key \
                 with --previous-secret-key-file, or set the secret again)"
            )
        );
    }

    #[test]
    fn keys_read_back_from_their_text_and_never_show_in_debug() {
        let key = SecretKey::generate().unwrap();
        let text = key.to_text();
        let again = SecretKey::from_text(&format!("{}\n", *text)).unwrap();
        assert_eq!(again.id(), key.id());
        let hex: String = key.bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(SecretKey::from_text(&hex).unwrap().id(), key.id());
        let shown = format!("{key:?} {:?}", Keyring::new(key.clone(), vec![]).unwrap());
        assert!(
            !shown.contains(text.as_str()) && !shown.contains(&hex),
            "{shown}"
        );
        assert!(SecretKey::from_text("c2hvcnQ=").is_err(), "too short");
        assert!(SecretKey::from_text("not a key at all").is_err());
        assert!(matches!(
            Keyring::new(key.clone(), vec![again]),
            Err(SecretError::Duplicate(_))
        ));
    }

    #[test]
    fn key_files_are_made_private_and_open_ones_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let made = SecretKey::create_file(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(SecretKey::read_file(&path).unwrap().id(), made.id());
        assert!(SecretKey::create_file(&path).is_err(), "never overwritten");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = SecretKey::read_file(&path).unwrap_err().to_string();
        assert!(e.contains("secret.key") && e.contains("0644"), "{e}");
        let short = dir.path().join("short.key");
        std::fs::write(&short, "c2hvcnQ=\n").unwrap();
        std::fs::set_permissions(&short, std::fs::Permissions::from_mode(0o600)).unwrap();
        let e = SecretKey::read_file(&short).unwrap_err().to_string();
        assert!(e.contains("short.key") && e.contains("5 bytes"), "{e}");
        let e = SecretKey::read_file(&dir.path().join("none")).unwrap_err();
        assert!(e.to_string().contains("none"), "{e}");
    }
}
