//! Passwords: Argon2id hashes in the PHC string format (salt and parameters inside). Both
//! functions are slow on purpose: call them off the async runtime (`spawn_blocking`).

use argon2::password_hash::{rand_core::OsRng, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, PasswordHash};

/// Shortest password accepted for a user.
pub const MIN_LEN: usize = 8;

/// Why a password could not be hashed.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// Shorter than [`MIN_LEN`].
    #[error("a password must have at least {MIN_LEN} characters")]
    TooShort,
    /// The hasher failed (never seen in practice: out of memory).
    #[error("hashing the password failed: {0}")]
    Hash(String),
}

/// The Argon2id hash of `password`, with a fresh random salt.
pub fn hash(password: &str) -> Result<String, PasswordError> {
    if password.chars().count() < MIN_LEN {
        return Err(PasswordError::TooShort);
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// Whether `password` matches `stored` (a hash from [`hash`]); a malformed hash matches
/// nothing.
pub fn verify(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// A random password for the first admin: 20 characters from a 62-letter alphabet (~119 bits).
pub fn random() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 20];
    crate::token::fill_random(&mut bytes);
    bytes
        .iter()
        // 256 is not a multiple of 62: the bias (a few letters 1/256 likelier) costs < 1 bit.
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}
