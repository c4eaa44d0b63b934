//! Bearer secrets (API tokens, login sessions, CSRF tokens): 32 random bytes from the OS,
//! shown once as `baton_<64 hex digits>`, stored only as their SHA-256. A high-entropy secret
//! needs no slow hash: nobody can guess one to compare against the stored digest.

use sha2::{Digest, Sha256};

/// What every secret starts with, so that a leaked one is recognisable (secret scanners).
pub const PREFIX: &str = "baton_";

/// A new secret: the text to hand out once, and the hash to store.
#[derive(Debug)]
pub struct NewSecret {
    /// `baton_…`: given to the caller, never stored.
    pub plain: String,
    /// [`digest`] of it: what the store keeps.
    pub hash: String,
}

/// Fills `buf` from the operating system's random source.
///
/// # Panics
/// If the OS has no random source (the process cannot do anything safe then).
pub fn fill_random(buf: &mut [u8]) {
    getrandom::getrandom(buf).expect("the operating system's random source");
}

/// A fresh secret.
pub fn generate() -> NewSecret {
    let mut bytes = [0u8; 32];
    fill_random(&mut bytes);
    let plain = format!("{PREFIX}{}", hex::encode(bytes));
    let hash = digest(&plain);
    NewSecret { plain, hash }
}

/// Whether `text` has the shape of a secret from [`generate`] (a malformed one is refused
/// before any lookup).
pub fn well_formed(text: &str) -> bool {
    text.strip_prefix(PREFIX)
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The stored form of a secret: its SHA-256, in hex.
pub fn digest(plain: &str) -> String {
    hex::encode(Sha256::digest(plain.as_bytes()))
}
