//! Helpers the API's tests share.

use baton_auth::UserId;
use baton_store::{NewToken, Store};

/// A new unrestricted API token of `user` named `name`: its plain text.
pub async fn token_of(store: &Store, user: UserId, name: &str) -> String {
    let secret = baton_auth::token::generate();
    let token = NewToken {
        user,
        name,
        secret_hash: &secret.hash,
        project: None,
        role: None,
        expires_at: None,
    };
    store.create_token(token).await.unwrap();
    secret.plain
}

/// A global admin `admin` and an API token of theirs, for tests of what a route does, not
/// who may.
#[allow(
    dead_code,
    reason = "not every test file that shares these helpers calls each"
)]
pub async fn admin_token(store: &Store) -> String {
    let user = store.create_user("admin", "unused", true).await.unwrap();
    token_of(store, user, "test").await
}
