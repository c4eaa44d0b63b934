//! The first start: a server whose store has no user creates `admin`, a global admin, so
//! that someone can log in at all.

use crate::ApiError;
use baton_store::{Store, StoreError};

/// The name of the first user.
pub const ADMIN_USER: &str = "admin";

/// What [`ensure_admin`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum FirstAdmin {
    /// Users exist already: nothing.
    Existing,
    /// `admin` was created with the password given (`BATON_ADMIN_PASSWORD`).
    Given,
    /// `admin` was created with this random password, to show once.
    Generated(String),
}

/// Creates `admin` when the store has no user: with `password` when given, else a random
/// one, which is returned to be printed once. Two servers starting together on one
/// database make one `admin` between them.
pub async fn ensure_admin(store: &Store, password: Option<String>) -> Result<FirstAdmin, ApiError> {
    if store.user_count().await? > 0 {
        return Ok(FirstAdmin::Existing);
    }
    let (plain, outcome) = match password {
        Some(p) => (p, FirstAdmin::Given),
        None => {
            let p = baton_auth::password::random();
            (p.clone(), FirstAdmin::Generated(p))
        }
    };
    let hash = crate::handlers::identity::hash_password(plain).await?;
    match store.create_user(ADMIN_USER, &hash, true).await {
        Ok(_) => Ok(outcome),
        // Another server made it first: its password is the one.
        Err(StoreError::Conflict(_)) => Ok(FirstAdmin::Existing),
        Err(e) => Err(e.into()),
    }
}
