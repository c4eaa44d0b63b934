//! Default deny, walked over the router's own route list: every operation × every role ×
//! {no credentials, malformed, expired, revoked, a token of another project} gets 401, 403
//! or through, as its declared rule says. A route registered without a rule is not in the
//! list and fails the first test; one with the wrong rule fails the walk.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use baton_api::{ApiState, Members, Scope};
use baton_auth::{token, Role, Rule, UserId};
use baton_store::testing::{applied, TestDb};
use baton_store::{NewInstance, NewToken, Store};
use http_body_util::BodyExt;
use std::sync::Arc;
use tower::ServiceExt;

const WORKFLOW: &str = "project: p\nname: w\ntasks:\n  - {name: a, type: shell, command: 'true'}\n";
const OTHER: &str = "project: q\nname: w\ntasks:\n  - {name: a, type: shell, command: 'true'}\n";
const FAR: i64 = 4_000_000_000_000_000;

/// Who calls: a user with a role on `p` (or a global admin, or none), through a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Member(Role),
    GlobalAdmin,
    /// Admin of `q` only.
    Outsider,
}

/// How the credential is broken (or not).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cred {
    Fresh,
    None,
    Malformed,
    Expired,
    Revoked,
    /// An API token of an admin of both `p` and `q`, narrowed to `q`.
    OtherProject,
}

/// The expected answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Through,
    Unauthenticated,
    Forbidden,
}

struct World {
    app: axum::Router,
    store: Store,
    users: Vec<(Who, UserId)>,
    both_admin: UserId,
    instance: i64,
    other_instance: i64,
    _db: TestDb,
}

async fn user(store: &Store, name: &str, global: bool, roles: &[(&str, Role)]) -> UserId {
    let id = store.create_user(name, "unused", global).await.unwrap();
    for (project, role) in roles {
        store.set_member(project, id, *role).await.unwrap();
    }
    id
}

async fn world() -> World {
    let db = TestDb::sqlite();
    let store = db.store().await;
    store.create_project("p").await.unwrap();
    store.create_project("q").await.unwrap();
    let wf = applied(&store, WORKFLOW).await;
    let other = applied(&store, OTHER).await;
    let new = |w| NewInstance {
        workflow: w,
        params: Default::default(),
        overrides: Default::default(),
    };
    let instance = store.create_instance(new(&wf)).await.unwrap().0;
    let other_instance = store.create_instance(new(&other)).await.unwrap().0;
    let mut users = Vec::new();
    for role in Role::ALL {
        let id = user(&store, &format!("p-{role}"), false, &[("p", role)]).await;
        users.push((Who::Member(role), id));
    }
    users.push((Who::GlobalAdmin, user(&store, "root", true, &[]).await));
    let outsider = user(&store, "q-admin", false, &[("q", Role::Admin)]).await;
    users.push((Who::Outsider, outsider));
    let both = [("p", Role::Admin), ("q", Role::Admin)];
    let both_admin = user(&store, "pq-admin", false, &both).await;
    let state = ApiState::new(store.clone(), Arc::new(|| {}), Members::Fixed(Vec::new()));
    World {
        app: baton_api::router(state),
        store,
        users,
        both_admin,
        instance,
        other_instance,
        _db: db,
    }
}

impl World {
    /// A new login session of `user` (each request gets its own: a logout ends one).
    async fn session(&self, user: UserId) -> String {
        let s = token::generate();
        self.store
            .create_session(user, &s.hash, None, FAR)
            .await
            .unwrap();
        s.plain
    }

    async fn api_token(&self, user: UserId, project: Option<&str>, expires: i64) -> String {
        let s = token::generate();
        let t = NewToken {
            user,
            name: "t",
            secret_hash: &s.hash,
            project,
            role: None,
            expires_at: Some(expires),
        };
        self.store.create_token(t).await.unwrap();
        s.plain
    }

    /// The `Authorization` header for `who` with `cred`.
    async fn header(&self, who: UserId, cred: Cred) -> Option<String> {
        let bearer = |t: String| Some(format!("Bearer {t}"));
        match cred {
            Cred::Fresh => bearer(self.session(who).await),
            Cred::None => None,
            Cred::Malformed => Some("Bearer not-a-token".into()),
            Cred::Expired => bearer(self.api_token(who, None, 1).await),
            Cred::Revoked => {
                let t = self.api_token(who, None, FAR).await;
                let id = self.store.list_tokens(Some(who)).await.unwrap()[0].id;
                self.store.revoke_token(id, None).await.unwrap();
                bearer(t)
            }
            Cred::OtherProject => bearer(self.api_token(self.both_admin, Some("q"), FAR).await),
        }
    }

    async fn call(
        &self,
        method: Method,
        uri: &str,
        auth: Option<String>,
        body: &str,
    ) -> (StatusCode, String) {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/json");
        if let Some(a) = auth {
            request = request.header("authorization", a);
        }
        let request = request.body(Body::from(body.to_string())).unwrap();
        let response = self.app.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let sse = response
            .headers()
            .get("content-type")
            .is_some_and(|c| c.as_bytes().starts_with(b"text/event-stream"));
        if sse {
            return (status, String::new());
        }
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A concrete URL for a route: its ids are the instance of `p`, or (tasks, backfills,
    /// tokens) ids that do not exist; `?project=p` on each.
    fn url(&self, path: &str) -> String {
        let id = if path.starts_with("/api/v1/instances/") {
            self.instance
        } else {
            999_999
        };
        let path = path
            .replace("{id}", &id.to_string())
            .replace("{name}", "w")
            .replace("{project}", "p")
            .replace("{user}", "nobody");
        format!("{path}?project=p")
    }
}

/// The role the caller acts with on `p`, and whether it acts as a global admin.
fn rights(who: Who, cred: Cred) -> (Option<Role>, bool) {
    match (cred, who) {
        (Cred::OtherProject, _) => (None, false),
        (_, Who::GlobalAdmin) => (Some(Role::Admin), true),
        (_, Who::Member(r)) => (Some(r), false),
        (_, Who::Outsider) => (None, false),
    }
}

/// What the rule must answer, worked out independently of the server's code.
fn want(rule: Rule, scope: Scope, who: Who, cred: Cred) -> Want {
    if rule == Rule::Public {
        return Want::Through;
    }
    if cred != Cred::Fresh && cred != Cred::OtherProject {
        return Want::Unauthenticated;
    }
    let (on_p, global) = rights(who, cred);
    let yes = match rule {
        Rule::Public | Rule::Authenticated => true,
        Rule::GlobalAdmin => global,
        // These routes' objects do not exist: only a global admin gets past (to a 404).
        Rule::Project(_) if matches!(scope, Scope::TaskInstance | Scope::Backfill) => global,
        Rule::Project(need) => on_p.is_some_and(|r| r >= need),
    };
    if yes {
        Want::Through
    } else {
        Want::Forbidden
    }
}

fn got(status: StatusCode) -> Want {
    match status {
        StatusCode::UNAUTHORIZED => Want::Unauthenticated,
        StatusCode::FORBIDDEN => Want::Forbidden,
        _ => Want::Through,
    }
}

#[test]
fn every_documented_operation_has_a_rule_and_only_health_readiness_and_login_are_public() {
    let table = baton_api::route_table();
    let doc = serde_json::to_value(baton_api::openapi()).unwrap();
    let mut documented = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            documented += 1;
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let rules: Vec<_> = table
                .iter()
                .filter(|r| r.method == m && r.path == *path)
                .collect();
            assert_eq!(rules.len(), 1, "{m} {path} has {} rules", rules.len());
            // The document says which need credentials, as the table does.
            let public = rules[0].access.rule == Rule::Public;
            assert_eq!(op.get("security").is_none(), public, "{m} {path}: {op}");
        }
    }
    assert_eq!(documented, table.len());
    let mut public: Vec<String> = table
        .iter()
        .filter(|r| r.access.rule == Rule::Public)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    public.sort();
    assert_eq!(
        public,
        [
            "GET /api/v1/health",
            "GET /api/v1/health/ready",
            "POST /api/v1/auth/login"
        ]
    );
}

#[tokio::test]
async fn every_route_answers_every_role_and_credential_as_its_rule_says() {
    let w = world().await;
    let creds = [
        Cred::Fresh,
        Cred::None,
        Cred::Malformed,
        Cred::Expired,
        Cred::Revoked,
        Cred::OtherProject,
    ];
    let mut checked = 0;
    for route in baton_api::route_table() {
        let body = if route.access.scope == Scope::ApplyBody {
            serde_json::json!({ "source": WORKFLOW }).to_string()
        } else {
            "{}".to_string()
        };
        for (who, id) in &w.users {
            for cred in creds {
                let auth = w.header(*id, cred).await;
                let url = w.url(&route.path);
                let (status, text) = w.call(route.method.clone(), &url, auth, &body).await;
                let mut expected = want(route.access.rule, route.access.scope, *who, cred);
                // Only a login session makes API tokens (a token cannot mint a wider one).
                let mints = route.method == Method::POST && route.path == "/api/v1/tokens";
                if mints && cred == Cred::OtherProject {
                    expected = Want::Forbidden;
                }
                assert_eq!(
                    got(status),
                    expected,
                    "{} {url} as {who:?} with {cred:?}: {status} {text}",
                    route.method
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 300, "{checked}");
}

#[tokio::test]
async fn another_projects_object_and_a_missing_one_get_the_same_answer() {
    let w = world().await;
    let viewer = w.users[0].1;
    let mut answers = Vec::new();
    for id in [w.other_instance, 424_242] {
        let auth = w.header(viewer, Cred::Fresh).await;
        let uri = format!("/api/v1/instances/{id}");
        answers.push(w.call(Method::GET, &uri, auth, "").await);
    }
    assert_eq!(answers[0].0, StatusCode::FORBIDDEN, "{}", answers[0].1);
    assert_eq!(answers[0], answers[1]);
    let auth = w.header(viewer, Cred::Fresh).await;
    let uri = format!("/api/v1/instances/{}", w.instance);
    assert_eq!(w.call(Method::GET, &uri, auth, "").await.0, StatusCode::OK);
}

#[tokio::test]
async fn listings_show_a_member_only_their_projects() {
    let w = world().await;
    let viewer = w.users[0].1;
    for (uri, key) in [
        ("/api/v1/instances", "instances"),
        ("/api/v1/workflows", "workflows"),
        ("/api/v1/projects", "projects"),
    ] {
        let auth = w.header(viewer, Cred::Fresh).await;
        let (status, text) = w.call(Method::GET, uri, auth, "").await;
        assert_eq!(status, StatusCode::OK, "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let projects: Vec<&str> = v[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                o.get("project")
                    .or(o.get("name"))
                    .unwrap()
                    .as_str()
                    .unwrap()
            })
            .collect();
        assert!(
            !projects.is_empty() && projects.iter().all(|p| *p == "p"),
            "{uri}: {v}"
        );
    }
    let admin = w.users[4].1;
    let auth = w.header(admin, Cred::Fresh).await;
    let (_, text) = w.call(Method::GET, "/api/v1/instances", auth, "").await;
    assert!(
        text.contains("\"q\""),
        "a global admin sees every project: {text}"
    );
}

#[tokio::test]
async fn state_changes_are_audited_allowed_or_refused() {
    let w = world().await;
    let viewer = w.users[0].1;
    let uri = format!("/api/v1/instances/{}/stop", w.instance);
    let auth = w.header(viewer, Cred::Fresh).await;
    assert_eq!(
        w.call(Method::POST, &uri, auth, "").await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        w.call(Method::POST, &uri, None, "").await.0,
        StatusCode::UNAUTHORIZED
    );
    let operator = w.users[1].1;
    let auth = w.header(operator, Cred::Fresh).await;
    assert_eq!(
        w.call(Method::POST, &uri, auth, "").await.0,
        StatusCode::ACCEPTED
    );
    let filter = baton_store::AuditFilter {
        limit: 10,
        ..Default::default()
    };
    let rows = w.store.list_audit(&filter).await.unwrap();
    let seen: Vec<(Option<&str>, &str, i64)> = rows
        .iter()
        .map(|r| (r.user_name.as_deref(), r.outcome.as_str(), r.status))
        .collect();
    assert_eq!(
        seen,
        [
            (Some("p-operator"), "allowed", 202),
            (None, "denied", 401),
            (Some("p-viewer"), "denied", 403),
        ]
    );
    assert!(rows
        .iter()
        .all(|r| r.action == "POST /api/v1/instances/{id}/stop"));
}

/// Gives `p-operator` a real password (the world's users have none), for a login.
async fn give_the_operator_a_password(w: &World) {
    let hash = baton_auth::password::hash("operator-password").unwrap();
    w.store.set_password("p-operator", &hash).await.unwrap();
}

/// A browser (cookie) login as `p-operator`: its status, headers and body.
async fn cookie_login(w: &World) -> (StatusCode, axum::http::HeaderMap, String) {
    let login = serde_json::json!({"username": "p-operator", "password": "operator-password", "session": "cookie"});
    let json = [("content-type", "application/json")];
    raw(
        w,
        Method::POST,
        "/api/v1/auth/login",
        &json,
        &login.to_string(),
    )
    .await
}

/// A request with the given headers; its status and body.
async fn raw(
    w: &World,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut request = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = w
        .app
        .clone()
        .oneshot(request.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

#[tokio::test]
async fn behind_tls_the_session_cookie_and_its_clearing_are_secure() {
    let mut w = world().await;
    give_the_operator_a_password(&w).await;
    let state = ApiState::new(w.store.clone(), Arc::new(|| {}), Members::Fixed(Vec::new()))
        .with_secure_cookies(true);
    w.app = baton_api::router(state);
    let (status, headers, text) = cookie_login(&w).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let cookie = headers["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    let session = cookie.split(';').next().unwrap().to_string();
    let csrf = answer["csrf_token"].as_str().unwrap();
    let (status, headers, text) = raw(
        &w,
        Method::POST,
        "/api/v1/auth/logout",
        &[
            ("cookie", &session),
            ("x-csrf-token", csrf),
            ("content-type", "application/json"),
        ],
        "{}",
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
    let cleared = headers["set-cookie"].to_str().unwrap();
    assert!(
        cleared.contains("Max-Age=0") && cleared.contains("; Secure"),
        "{cleared}"
    );
}

#[tokio::test]
async fn a_browser_session_is_an_httponly_cookie_whose_changes_need_the_csrf_token() {
    let w = world().await;
    give_the_operator_a_password(&w).await;
    let (status, headers, text) = cookie_login(&w).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let cookie = headers["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    let answer: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert!(
        answer.get("token").is_none(),
        "no bearer token for a browser: {answer}"
    );
    let csrf = answer["csrf_token"].as_str().unwrap().to_string();
    let session = cookie.split(';').next().unwrap().to_string();

    let (status, _, _) = raw(
        &w,
        Method::GET,
        "/api/v1/auth/me",
        &[("cookie", &session)],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "a read needs no CSRF token");
    let stop = format!("/api/v1/instances/{}/stop", w.instance);
    let with = |extra: &[(&'static str, &str)]| {
        let mut h = vec![("cookie", session.as_str())];
        h.extend_from_slice(extra);
        h.into_iter()
            .map(|(k, v)| (k, v.to_string()))
            .collect::<Vec<_>>()
    };
    for headers in [
        with(&[("content-type", "application/json")]),
        with(&[("content-type", "text/plain"), ("x-csrf-token", &csrf)]),
        with(&[
            ("content-type", "application/json"),
            ("x-csrf-token", "baton_wrong"),
        ]),
    ] {
        let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, _, text) = raw(&w, Method::POST, &stop, &h, "{}").await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{h:?}: {text}");
    }
    let ok = with(&[
        ("content-type", "application/json"),
        ("x-csrf-token", &csrf),
    ]);
    let h: Vec<(&str, &str)> = ok.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, text) = raw(&w, Method::POST, &stop, &h, "{}").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{text}");

    // Logout ends the session; a new login is a new session id.
    let (status, _, _) = raw(&w, Method::POST, "/api/v1/auth/logout", &h, "").await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _, _) = raw(
        &w,
        Method::GET,
        "/api/v1/auth/me",
        &[("cookie", &session)],
        "",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, again, _) = cookie_login(&w).await;
    assert_ne!(again["set-cookie"].to_str().unwrap(), cookie);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_user_get_the_same_401() {
    let w = world().await;
    let json = [("content-type", "application/json")];
    let mut answers = Vec::new();
    for user in ["p-viewer", "nobody"] {
        let body = serde_json::json!({"username": user, "password": "wrong-password"});
        let (status, _, text) = raw(
            &w,
            Method::POST,
            "/api/v1/auth/login",
            &json,
            &body.to_string(),
        )
        .await;
        answers.push((status, text));
    }
    assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED);
    assert_eq!(answers[0], answers[1]);
}

#[tokio::test]
async fn a_request_naming_another_host_or_origin_is_refused() {
    let w = world().await;
    let auth = format!("Bearer {}", w.session(w.users[4].1).await);
    let me = "/api/v1/auth/me";
    for (name, value) in [
        ("host", "127.0.0.1:12345"),
        ("host", "localhost:8080"),
        ("host", "[::1]:12345"),
        ("origin", "http://localhost:3000"),
    ] {
        let (status, _, text) = raw(
            &w,
            Method::GET,
            me,
            &[("authorization", &auth), (name, value)],
            "",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{name}: {value}: {text}");
    }
    for (name, value) in [
        ("host", "evil.example:12345"),
        ("origin", "http://evil.example"),
        ("origin", "null"),
    ] {
        let (status, _, text) = raw(
            &w,
            Method::GET,
            me,
            &[("authorization", &auth), (name, value)],
            "",
        )
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{name}: {value}: {text}");
        assert!(text.contains("--public-host"), "{text}");
    }
    // A configured public name is allowed.
    let state = ApiState::new(w.store.clone(), Arc::new(|| {}), Members::Fixed(Vec::new()))
        .with_public_hosts(vec!["baton.internal".into()]);
    let app = baton_api::router(state);
    let request = Request::builder()
        .uri(me)
        .header("authorization", &auth)
        .header("host", "baton.internal:12345")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.oneshot(request).await.unwrap().status(), StatusCode::OK);
}
