//! Every list of users, tokens, projects, members and versions pages with `limit` and an
//! opaque `cursor`: walking the pages yields each item once, and a bad `limit` or cursor is a
//! 400 that says what is wrong.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use baton_api::{ApiState, Members};
use baton_auth::Role;
use baton_core::WorkflowSpec;
use baton_store::testing::TestDb;
use baton_store::Store;
use http_body_util::BodyExt;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;
use tower::ServiceExt;

struct World {
    app: axum::Router,
    token: String,
    _db: TestDb,
}

async fn world() -> World {
    let db = TestDb::sqlite();
    let store = db.store().await;
    let hash = baton_auth::password::hash("root-password").unwrap();
    let root = store.create_user("root", &hash, true).await.unwrap();
    for n in 0..6 {
        let user = store
            .create_user(&format!("user-{n}"), &hash, false)
            .await
            .unwrap();
        store.create_project(&format!("p-{n}")).await.unwrap();
        store.set_member("p-0", user, Role::Viewer).await.unwrap();
    }
    let token = token_for(&store, root, 5).await;
    for v in 0..5 {
        let text = format!(
            "name: w\nproject: p-0\ntasks:\n  - {{name: a, type: shell, command: 'echo {v}'}}\n"
        );
        let spec = WorkflowSpec::from_yaml(&text, "w.yaml").unwrap();
        store.apply_workflow(&spec, &text).await.unwrap();
    }
    let state = ApiState::new(store.clone(), Arc::new(|| {}), Members::Fixed(Vec::new()));
    World {
        app: baton_api::router(state),
        token,
        _db: db,
    }
}

/// `count` tokens of `user`; the plain text of the first.
async fn token_for(store: &Store, user: baton_auth::UserId, count: usize) -> String {
    let mut first = None;
    for n in 0..count {
        let plain = common::token_of(store, user, &format!("t-{n}")).await;
        first.get_or_insert(plain);
    }
    first.unwrap()
}

impl World {
    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        let request = Request::get(uri)
            .header("authorization", format!("Bearer {}", self.token))
            .body(Body::empty())
            .unwrap();
        let r = self.app.clone().oneshot(request).await.unwrap();
        let status = r.status();
        let bytes = r.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// Every item of the list at `path` (field `items`), read `limit` at a time, each page
    /// holding at most `limit`; the items' `key` values, in order.
    async fn walk(&self, path: &str, items: &str, key: &str, limit: u32) -> Vec<String> {
        let join = if path.contains('?') { '&' } else { '?' };
        let mut cursor: Option<String> = None;
        let mut seen = Vec::new();
        loop {
            let mut uri = format!("/api/v1{path}{join}limit={limit}");
            if let Some(c) = &cursor {
                uri.push_str(&format!("&cursor={c}"));
            }
            let (status, page) = self.get(&uri).await;
            assert_eq!(status, StatusCode::OK, "{uri}: {page}");
            let list = page[items].as_array().unwrap();
            assert!(list.len() <= limit as usize, "{uri}: {page}");
            seen.extend(list.iter().map(|item| item[key].to_string()));
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_string()),
                None => return seen,
            }
        }
    }
}

#[tokio::test]
async fn each_list_walks_its_pages_once_through_every_item() {
    let w = world().await;
    let lists = [
        ("/users", "users", "name", 7),
        ("/tokens", "tokens", "id", 5),
        ("/projects", "projects", "name", 7),
        ("/projects/p-0/members", "members", "user", 6),
        (
            "/workflows/w/versions?project=p-0",
            "versions",
            "version",
            5,
        ),
    ];
    for (path, items, key, count) in lists {
        let all = w.walk(path, items, key, 1000).await;
        assert_eq!(all.len(), count, "{path}: {all:?}");
        for limit in [1, 2, 3] {
            let paged = w.walk(path, items, key, limit).await;
            assert_eq!(paged, all, "{path} by {limit}");
            let distinct: BTreeSet<&String> = paged.iter().collect();
            assert_eq!(distinct.len(), count, "{path} by {limit}: {paged:?}");
        }
    }
}

#[tokio::test]
async fn a_bad_limit_or_cursor_is_refused_saying_what_is_wrong() {
    let w = world().await;
    for path in ["/users", "/tokens", "/projects", "/projects/p-0/members"] {
        for query in ["limit=0", "limit=1001", "limit=many", "cursor=not-a-cursor"] {
            let (status, body) = w.get(&format!("/api/v1{path}?{query}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}?{query}: {body}");
            let message = body["error"]["message"].as_str().unwrap_or_default();
            let named = if query.starts_with("limit") {
                "limit"
            } else {
                "cursor"
            };
            assert!(message.contains(named), "{path}?{query}: {message}");
        }
    }
}
