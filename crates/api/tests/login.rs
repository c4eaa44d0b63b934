//! Logins are rate limited and audited with the name tried; the last global admin cannot be
//! disabled; an event stream ends once its credential is revoked.

mod common;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use baton_api::{ApiState, Members, LOGIN_ATTEMPTS_PER_USER};
use baton_auth::password;
use baton_store::testing::TestDb;
use baton_store::{AuditFilter, Store};
use http_body_util::BodyExt;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

struct World {
    app: axum::Router,
    store: Store,
    _db: TestDb,
}

async fn world() -> World {
    let db = TestDb::sqlite();
    let store = db.store().await;
    for (name, admin) in [("root", true), ("alice", false), ("bob", false)] {
        let hash = password::hash(&format!("{name}-password")).unwrap();
        store.create_user(name, &hash, admin).await.unwrap();
    }
    let state = ApiState::new(store.clone(), Arc::new(|| {}), Members::Fixed(Vec::new()));
    World {
        app: baton_api::router(state),
        store,
        _db: db,
    }
}

impl World {
    async fn send(&self, method: Method, uri: &str, auth: Option<&str>, body: &str) -> Response {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        if let Some(t) = auth {
            request = request.header("authorization", format!("Bearer {t}"));
        }
        let request = request.body(Body::from(body.to_string())).unwrap();
        self.app.clone().oneshot(request).await.unwrap()
    }

    async fn login(&self, user: &str, password: &str) -> Response {
        let body = serde_json::json!({"username": user, "password": password});
        self.send(Method::POST, "/api/v1/auth/login", None, &body.to_string())
            .await
    }

    async fn token_of(&self, user: &str) -> String {
        let id = self.store.user_id(user).await.unwrap();
        common::token_of(&self.store, id, "t").await
    }
}

type Response = axum::http::Response<Body>;

async fn text(r: Response) -> String {
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test]
async fn login_attempts_for_one_name_are_limited_and_audited_with_the_name() {
    let w = world().await;
    // All at once: each is counted before its password is checked, so however slow the
    // checks are, the quota has not refilled by the time the last is counted.
    let attempts = (0..=LOGIN_ATTEMPTS_PER_USER).map(|_| w.login("alice", "guess"));
    let answers = futures::future::join_all(attempts).await;
    let status = |s: StatusCode| answers.iter().filter(|r| r.status() == s).count();
    let quota = usize::try_from(LOGIN_ATTEMPTS_PER_USER).unwrap();
    assert_eq!(status(StatusCode::UNAUTHORIZED), quota);
    assert_eq!(status(StatusCode::TOO_MANY_REQUESTS), 1);
    let r = answers
        .into_iter()
        .find(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .unwrap();
    let wait: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "Retry-After: {wait}");
    assert!(text(r).await.contains("too many attempts"));

    let r = w.login("bob", "bob-password").await;
    assert_eq!(r.status(), StatusCode::OK, "another name is not held up");

    let filter = AuditFilter {
        since: None,
        user: None,
        before: None,
        limit: 100,
    };
    let rows = w.store.list_audit(&filter).await.unwrap();
    let alice: Vec<_> = rows
        .iter()
        .filter(|a| a.target.contains("user \"alice\""))
        .collect();
    assert_eq!(alice.len(), quota + 1);
    assert!(alice.iter().all(|a| a.outcome == "denied"), "{alice:?}");
    assert!(rows
        .iter()
        .any(|a| a.target.contains("user \"bob\"") && a.outcome == "allowed"));
}

#[tokio::test]
async fn the_last_enabled_global_admin_cannot_be_disabled_through_the_api() {
    let w = world().await;
    let root = w.token_of("root").await;
    let r = w
        .send(Method::POST, "/api/v1/users/root/disable", Some(&root), "")
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    assert!(text(r).await.contains("last enabled global admin"));
    let r = w.login("root", "root-password").await;
    assert_eq!(r.status(), StatusCode::OK, "root can still log in");
    let r = w
        .send(Method::POST, "/api/v1/users/alice/disable", Some(&root), "")
        .await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT, "others can be disabled");
}

/// Whether the stream's body ends (or fails) within `limit`; keep-alives and events do not
/// count.
async fn ends_within(body: &mut Body, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, body.frame()).await {
            Err(_) => return false,
            Ok(None | Some(Err(_))) => return true,
            Ok(Some(Ok(_))) => {}
        }
    }
}

#[tokio::test]
async fn an_event_stream_ends_once_its_token_is_revoked() {
    let w = world().await;
    let kept = w.token_of("alice").await;
    let revoked = w.token_of("bob").await;
    let open = |t: String| {
        let w = &w;
        async move {
            let r = w
                .send(Method::GET, "/api/v1/events/stream", Some(&t), "")
                .await;
            assert_eq!(r.status(), StatusCode::OK);
            r.into_body()
        }
    };
    let mut kept_stream = open(kept).await;
    let mut revoked_stream = open(revoked).await;
    let bob = w.store.user_id("bob").await.unwrap();
    let id = w.store.list_tokens(Some(bob)).await.unwrap()[0].id;
    w.store.revoke_token(id, None).await.unwrap();
    let bound = baton_api::EVENT_STREAM_RECHECK * 3;
    assert!(
        ends_within(&mut revoked_stream, bound).await,
        "the revoked token's stream goes on"
    );
    assert!(
        !ends_within(&mut kept_stream, Duration::from_millis(200)).await,
        "a valid token's stream must stay open"
    );
}
