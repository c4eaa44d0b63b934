//! The data source routes on a real store, through the router: what is checked, what is
//! answered (never the password), that a sealed password belongs to its record, and the
//! re-seal of a key rotation. The end-to-end test (`tests/datasources.rs`) connects to the
//! real databases.

mod common;
use common::admin_token;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use baton_api::{ApiState, Members};
use baton_secrets::{Keyring, SecretKey};
use baton_store::testing::TestDb;
use baton_store::Store;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

struct Api {
    app: axum::Router,
    token: String,
}

impl Api {
    async fn new(store: &Store, keyring: Option<Keyring>) -> Api {
        let token = admin_token(store).await;
        let mut state = ApiState::new(store.clone(), Arc::new(|| {}), Members::Fixed(Vec::new()));
        if let Some(k) = keyring {
            state = state.with_keyring(k);
        }
        Api {
            app: baton_api::router(state),
            token,
        }
    }

    async fn call(&self, method: Method, uri: &str, body: Value) -> (StatusCode, Value, String) {
        let request = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {}", self.token))
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let value = serde_json::from_str(&text).unwrap_or(Value::Null);
        (status, value, text)
    }
}

fn ring(key: &SecretKey) -> Keyring {
    Keyring::new(key.clone(), Vec::new()).unwrap()
}

#[tokio::test]
async fn a_password_is_sealed_for_its_record_and_never_answered() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    let key = SecretKey::generate().unwrap();
    let api = Api::new(&store, Some(ring(&key))).await;

    let (status, created, text) = api
        .call(
            Method::POST,
            "/api/v1/datasources?project=default",
            json!({"name": "wh", "type": "postgres", "url": "postgres://etl:s%3Dcret1@db:5432/wh"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{text}");
    assert_eq!(created["url"], "postgres://etl@db:5432/wh");
    assert_eq!(created["type"], "postgresql");
    assert_eq!(created["has_password"], true);
    assert!(!text.contains("cret1"), "{text}");
    let stored = store
        .get_datasource("default", "wh")
        .await
        .unwrap()
        .unwrap();
    let sealed = stored.secret.clone().unwrap();
    assert!(!sealed.contains("cret1"));
    assert_eq!(
        *ring(&key)
            .open_text("datasource:default/wh", &sealed)
            .unwrap(),
        "s=cret1"
    );

    // The same sealed text on another record does not open there.
    let (status, _, _) = api
        .call(
            Method::POST,
            "/api/v1/datasources",
            json!({"name": "other", "type": "postgresql", "url": "postgres://etl@127.0.0.1:1/x"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let other = store
        .get_datasource("default", "other")
        .await
        .unwrap()
        .unwrap();
    assert!(other.secret.is_none());
    sqlx_copy_secret(&db, other.id, &sealed).await;
    let (status, tested, text) = api
        .call(Method::POST, "/api/v1/datasources/other/test", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(tested["ok"], false);
    assert!(
        tested["message"]
            .as_str()
            .unwrap()
            .contains("sealed for another record"),
        "{text}"
    );
    let (_, shown, text) = api
        .call(Method::GET, "/api/v1/datasources/wh", json!({}))
        .await;
    assert_eq!(shown["has_password"], true, "{text}");
    assert!(!text.contains(&sealed) && !text.contains("cret1"), "{text}");
}

/// Puts `sealed` as the secret of data source `id`, as someone editing the database would.
async fn sqlx_copy_secret(db: &TestDb, id: i64, sealed: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
    sqlx::query("UPDATE datasource SET secret = $1 WHERE id = $2")
        .bind(sealed)
        .bind(id)
        .execute(&mut conn)
        .await
        .unwrap();
}

#[tokio::test]
async fn names_urls_and_passwords_are_checked_and_lists_are_paged() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    let api = Api::new(&store, None).await;
    let post = |body: Value| api.call(Method::POST, "/api/v1/datasources", body);

    let (status, e, _) =
        post(json!({"name": "bad name", "type": "sqlite", "url": "sqlite:///x.db"})).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_name"))
    );
    let (status, e, _) = post(json!({"name": "a", "type": "mysql", "url": "postgres://h/d"})).await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_url"))
    );
    let (status, e, _) = post(json!({"name": "a", "type": "mysql", "url": "mysql:///d"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    let (status, e, _) =
        post(json!({"name": "a", "type": "sqlite", "url": "sqlite:///x.db", "password": "p"}))
            .await;
    assert_eq!(
        (status, e["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_password"))
    );
    let (status, e, _) = post(json!({"name": "a", "type": "oracle", "url": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{e}");
    let (status, _, text) =
        post(json!({"name": "a", "type": "mysql", "url": "mysql://u@h/d", "password": 987654321}))
            .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{text}");
    assert!(
        !text.contains("987654321"),
        "a malformed body is not quoted: {text}"
    );
    // Without a secret key, no password can be kept.
    let (status, e, text) =
        post(json!({"name": "a", "type": "mysql", "url": "mysql://u@h/d", "password": "hunter2"}))
            .await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{e}");
    assert!(!text.contains("hunter2"));

    for name in ["c", "a", "b"] {
        let (status, _, text) =
            post(json!({"name": name, "type": "mariadb", "url": "mariadb://u@h/d"})).await;
        assert_eq!(status, StatusCode::CREATED, "{text}");
    }
    let (status, _, _) = post(json!({"name": "a", "type": "mysql", "url": "mysql://u@h/d"})).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, _, _) = api
        .call(
            Method::POST,
            "/api/v1/datasources?project=nope",
            json!({"name": "a", "type": "mysql", "url": "mysql://u@h/d"}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let mut names = Vec::new();
    let mut uri = "/api/v1/datasources?limit=1".to_string();
    loop {
        let (status, page, text) = api.call(Method::GET, &uri, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{text}");
        for d in page["datasources"].as_array().unwrap() {
            names.push(d["name"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => uri = format!("/api/v1/datasources?limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(names, ["a", "b", "c"]);

    let (status, _, _) = api
        .call(Method::DELETE, "/api/v1/datasources/a", json!({}))
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, e, _) = api
        .call(Method::GET, "/api/v1/datasources/a", json!({}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        e["error"]["message"],
        "data source `a` not found in project `default`"
    );
}

#[tokio::test]
async fn a_rotation_reseals_every_password_with_the_new_key() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    let old = SecretKey::generate().unwrap();
    {
        let api = Api::new(&store, Some(ring(&old))).await;
        for name in ["a", "b", "c"] {
            let body = json!({"name": name, "type": "mysql", "url": "mysql://u@h/d", "password": format!("pw-{name}")});
            let (status, _, text) = api.call(Method::POST, "/api/v1/datasources", body).await;
            assert_eq!(status, StatusCode::CREATED, "{text}");
        }
    }
    let new = SecretKey::generate().unwrap();
    let rotated = Keyring::new(new.clone(), vec![old]).unwrap();
    let done = baton_api::reseal(&store, &rotated).await.unwrap();
    assert_eq!((done.resealed, done.unopened), (3, 0));
    let again = baton_api::reseal(&store, &rotated).await.unwrap();
    assert_eq!(again.resealed, 0, "nothing left under the old key");
    let only_new = ring(&new);
    for name in ["a", "b", "c"] {
        let d = store
            .get_datasource("default", name)
            .await
            .unwrap()
            .unwrap();
        let plain = only_new
            .open_text(
                &format!("datasource:default/{name}"),
                d.secret.as_deref().unwrap(),
            )
            .unwrap();
        assert_eq!(*plain, format!("pw-{name}"));
    }
    // A key that opens none of them leaves them as they are, counted.
    let stranger = ring(&SecretKey::generate().unwrap());
    let done = baton_api::reseal(&store, &stranger).await.unwrap();
    assert_eq!((done.resealed, done.unopened), (0, 3));
}

/// The fields each refusal names (`problems[].field`), for the UI's forms to show it there.
fn fields_of(e: &Value) -> Vec<&str> {
    e["error"]["problems"]
        .as_array()
        .map(|ps| ps.iter().filter_map(|p| p["field"].as_str()).collect())
        .unwrap_or_default()
}

#[tokio::test]
async fn refusals_of_data_sources_secrets_and_alert_channels_name_their_field() {
    let db = TestDb::sqlite();
    let store = db.store().await;
    let key = SecretKey::generate().unwrap();
    let api = Api::new(&store, Some(ring(&key))).await;
    let refused = |method: Method, uri: &'static str, body: Value| {
        let api = &api;
        async move {
            let (status, e, text) = api.call(method, uri, body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {text}");
            assert!(!text.contains("hunter2"), "{text}");
            fields_of(&e)
                .into_iter()
                .map(String::from)
                .collect::<Vec<_>>()
        }
    };
    let cases: Vec<(Method, &str, Value, &str)> = vec![
        (
            Method::POST,
            "/api/v1/datasources",
            json!({"name": "bad name", "type": "sqlite", "url": "sqlite:///x.db"}),
            "name",
        ),
        (
            Method::POST,
            "/api/v1/datasources",
            json!({"name": "a", "type": "mysql", "url": "postgres://h/d"}),
            "url",
        ),
        (
            Method::POST,
            "/api/v1/datasources",
            json!({"name": "a", "type": "mysql", "url": "mysql://u:hunter2@h/d", "password": "hunter2"}),
            "password",
        ),
        (
            Method::PUT,
            "/api/v1/secrets/bad.name",
            json!({"value": "hunter2"}),
            "name",
        ),
        (
            Method::PUT,
            "/api/v1/secrets/token",
            json!({"value": ""}),
            "value",
        ),
        (
            Method::POST,
            "/api/v1/alerts/channels",
            json!({"name": "bad name", "type": "slack", "secret": "https://h.test/hunter2"}),
            "name",
        ),
        (
            Method::POST,
            "/api/v1/alerts/channels",
            json!({"name": "s", "type": "slack", "secret": "ftp://h.test/hunter2"}),
            "secret",
        ),
        (
            Method::POST,
            "/api/v1/alerts/channels",
            json!({"name": "w", "type": "webhook", "settings": {"url": "nope"}}),
            "settings.url",
        ),
        (
            Method::POST,
            "/api/v1/alerts/channels",
            json!({"name": "m", "type": "email", "settings": {"smtp_host": "mx", "from": "a@x.test", "to": ["not an address"]}}),
            "settings.to",
        ),
        (
            Method::POST,
            "/api/v1/alerts/rules",
            json!({"on": [], "channel": "ops"}),
            "on",
        ),
        (
            Method::POST,
            "/api/v1/alerts/rules",
            json!({"on": ["instance_failed"], "channel": "bad name"}),
            "channel",
        ),
    ];
    for (method, uri, body, field) in cases {
        let shown = body.to_string();
        assert_eq!(refused(method, uri, body).await, [field], "{uri} {shown}");
    }
}
