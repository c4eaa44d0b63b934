//! What a dispatch carries of a sql task's data source and of an http task's project secrets,
//! opened with the master's keyring for that dispatch alone, and the clear failure of the
//! attempt when the master cannot open them or they do not exist.

use super::harness::*;
use baton_core::TaskState;
use baton_proto::dispatch_request::Kind;
use baton_secrets::{Keyring, SecretKey};
use baton_store::NewDataSource;
use std::sync::Arc;

fn keyring() -> Keyring {
    Keyring::new(SecretKey::generate().unwrap(), Vec::new()).unwrap()
}

const SQL: &str = "name: q\ntasks:\n  - {name: q, type: sql, datasource: wh, sql: 'select ${v}', params: {v: x}}\n";
const HTTP: &str = "name: h\ntasks:\n  - {name: h, type: http, method: POST, url: 'https://h.test/', headers: {Authorization: 'Bearer ${secret.token}'}, body: {k: '${secret.token}'}}\n";

async fn with_datasource(h: &Harness, ring: &Keyring) {
    let sealed = ring
        .seal_text(&baton_datasource::secret_context("default", "wh"), "pw-123")
        .unwrap();
    h.store
        .sql()
        .create_datasource(NewDataSource {
            project: "default",
            name: "wh",
            kind: "postgresql",
            url: "postgres://etl@db.test/wh",
            secret: Some(&sealed),
        })
        .await
        .unwrap();
}

#[tokio::test]
async fn a_sql_dispatch_carries_its_opened_connection_and_bound_values() {
    let mut h = Harness::standalone().await;
    let ring = keyring();
    with_datasource(&h, &ring).await;
    h.engine.config.keyring = Some(Arc::new(ring));
    h.start(SQL).await;
    let tick = h.tick().await;
    let request = dispatched(&tick, "q");
    let Some(Kind::Sql(sql)) = &request.kind else {
        panic!("a sql dispatch: {request:?}");
    };
    let c = sql.connection.as_ref().unwrap();
    assert_eq!(c.url, "postgres://etl@db.test/wh");
    assert_eq!(c.password.as_deref(), Some("pw-123"));
    assert_eq!(sql.statements[0].parts, ["select ", ""]);
    assert_eq!(sql.statements[0].args, ["x"]);
    assert!(!format!("{request:?}").contains("pw-123"), "Debug hides it");
}

#[tokio::test]
async fn a_master_without_the_key_or_a_missing_data_source_fails_the_attempt_saying_so() {
    let mut h = Harness::standalone().await;
    with_datasource(&h, &keyring()).await;
    let id = h.start(SQL).await;
    let tick = h.tick().await;
    assert!(tick.dispatches.is_empty());
    let q = h.task(id, "q").await;
    assert_eq!(q.state, TaskState::Failed);
    assert!(
        q.message.as_deref().unwrap_or_default().contains(
            "data source `wh` has a password, and this master has no secret key to open it with"
        ),
        "{q:?}"
    );
    let id = h.start(&SQL.replace("wh", "gone")).await;
    h.tick().await;
    let q = h.task(id, "q").await;
    assert!(
        q.message
            .as_deref()
            .unwrap_or_default()
            .contains("data source `gone` does not exist in project `default`"),
        "{q:?}"
    );
}

#[tokio::test]
async fn an_http_dispatch_carries_its_secrets_and_asks_the_worker_to_mask_them() {
    let mut h = Harness::standalone().await;
    let ring = keyring();
    let sealed = ring
        .seal_text(
            &baton_secrets::project_secret_context("default", "token"),
            "t0k",
        )
        .unwrap();
    h.store
        .sql()
        .set_secret("default", "token", &sealed)
        .await
        .unwrap();
    h.engine.config.keyring = Some(Arc::new(ring));
    h.start(HTTP).await;
    let tick = h.tick().await;
    let Some(Kind::Http(http)) = &dispatched(&tick, "h").kind else {
        panic!("an http dispatch");
    };
    assert_eq!(http.headers["Authorization"], "Bearer t0k");
    assert_eq!(http.body.as_deref(), Some(r#"{"k":"t0k"}"#));
    assert_eq!(http.redact, ["t0k"]);

    h.store
        .sql()
        .delete_secret("default", "token")
        .await
        .unwrap();
    let id = h.start(HTTP).await;
    h.tick().await;
    let t = h.task(id, "h").await;
    assert_eq!(t.state, TaskState::Failed);
    assert!(
        t.message
            .as_deref()
            .unwrap_or_default()
            .contains("project `default` has no secret `token`"),
        "{t:?}"
    );
}
