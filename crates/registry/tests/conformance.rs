//! One conformance suite for every registry backend: each case runs on the db backend over
//! SQLite and over PostgreSQL, and on the etcd backend over a real etcd server.

mod support;

use baton_registry::{
    registry_from_url, watch_members, Load, Membership, Registration, Registry, RegistryError,
    Role, SessionState,
};
use std::sync::Arc;
use std::time::Duration;
use support::{eventually, member, Fixture, TIMEOUT};
use tokio::time::Instant;

/// Time allowed for something that should happen within a session timeout or two.
const WAIT: Duration = Duration::from_secs(15);

async fn find(registry: &Arc<dyn Registry>, id: &str) -> Option<Registration> {
    registry
        .members()
        .await
        .expect("list members")
        .into_iter()
        .find(|r| r.member.id == id)
}

fn lost(result: Result<(), RegistryError>) -> bool {
    matches!(result, Err(RegistryError::SessionLost(_)))
}

async fn register_list_deregister(f: Fixture) {
    let r = &f.registry;
    let me = member("w1", Role::Worker, Some("default"));
    let session = r.register(&me).await.expect("register");
    let found = find(r, "w1").await.expect("listed after registering");
    assert_eq!(found.member, me);
    assert_eq!(found.session, session);
    assert!(found.heartbeat_at > 0);
    // Others see it too.
    let other = f.open_another().await;
    assert_eq!(
        find(&other, "w1").await.map(|r| r.session),
        Some(session.clone())
    );
    r.deregister("w1", &session).await.expect("deregister");
    assert!(
        find(r, "w1").await.is_none(),
        "gone at once after deregistering"
    );
    assert!(lost(r.heartbeat(&me, &session).await));
}

async fn heartbeat_renews(f: Fixture) {
    let r = &f.registry;
    let mut me = member("m1", Role::Master, None);
    let start = Instant::now();
    let session = r.register(&me).await.expect("register");
    let mut last_beat = find(r, "m1").await.expect("registered").heartbeat_at;
    let mut beats = 0u32;
    // Renew several times a session, for longer than a session timeout.
    while start.elapsed() < TIMEOUT + TIMEOUT / 2 {
        tokio::time::sleep(TIMEOUT / 5).await;
        beats += 1;
        me.load = Load {
            running: beats,
            cpu: 0.5,
            ..Load::default()
        };
        r.heartbeat(&me, &session).await.expect("heartbeat");
        let found = find(r, "m1").await.expect("still alive while heartbeating");
        assert_eq!(found.session, session);
        assert_eq!(
            found.member.load.running, beats,
            "the heartbeat carries fresh data"
        );
        assert!(
            found.heartbeat_at >= last_beat,
            "heartbeat time never goes back"
        );
        last_beat = found.heartbeat_at;
    }
}

async fn silent_member_expires(f: Fixture) {
    let r = &f.registry;
    let me = member("w2", Role::Worker, Some("default"));
    let start = Instant::now();
    r.register(&me).await.expect("register");
    assert!(find(r, "w2").await.is_some());
    eventually("the silent member to expire", WAIT, || async {
        find(r, "w2").await.is_none().then_some(())
    })
    .await;
    let after = start.elapsed();
    assert!(
        after >= TIMEOUT - Duration::from_millis(100),
        "expired after {after:?}, before the session timeout {TIMEOUT:?}"
    );
}

async fn heartbeat_after_expiry_is_session_lost(f: Fixture) {
    let r = &f.registry;
    let me = member("w3", Role::Worker, Some("default"));
    let old = r.register(&me).await.expect("register");
    eventually("the session to expire", WAIT, || async {
        find(r, "w3").await.is_none().then_some(())
    })
    .await;
    assert!(
        lost(r.heartbeat(&me, &old).await),
        "a late heartbeat is refused"
    );
    let new = r.register(&me).await.expect("register again");
    assert_ne!(new, old, "a new registration is a new session");
    r.heartbeat(&me, &new)
        .await
        .expect("the new session renews");
    assert!(
        lost(r.heartbeat(&me, &old).await),
        "the old session stays dead"
    );
    assert_eq!(find(r, "w3").await.map(|r| r.session), Some(new));
}

async fn registering_again_replaces_the_session(f: Fixture) {
    let r = &f.registry;
    let me = member("m2", Role::Master, None);
    let first = r.register(&me).await.expect("register");
    // The same member restarted (another process) registers before the first expired.
    let other = f.open_another().await;
    let second = other.register(&me).await.expect("register again");
    assert_ne!(first, second);
    assert!(
        lost(r.heartbeat(&me, &first).await),
        "the replaced session cannot renew"
    );
    other
        .heartbeat(&me, &second)
        .await
        .expect("the new session renews");
    // Deregistering the old session leaves the new one alone.
    r.deregister("m2", &first).await.expect("deregister old");
    let listed: Vec<_> = r
        .members()
        .await
        .expect("members")
        .into_iter()
        .filter(|m| m.member.id == "m2")
        .collect();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].session, second);
}

async fn members_of_different_roles(f: Fixture) {
    let r = &f.registry;
    let master = member("master-a", Role::Master, None);
    let worker = member("worker-b", Role::Worker, Some("etl"));
    let api = member("api-c", Role::Api, None);
    let master_session = r.register(&master).await.expect("register master");
    let other = f.open_another().await;
    other.register(&worker).await.expect("register worker");
    other.register(&api).await.expect("register api");
    let mut all = r.members().await.expect("members");
    all.sort_by(|a, b| a.member.id.cmp(&b.member.id));
    let seen: Vec<_> = all
        .iter()
        .map(|m| {
            (
                m.member.id.as_str(),
                m.member.role,
                m.member.group.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("api-c", Role::Api, None),
            ("master-a", Role::Master, None),
            ("worker-b", Role::Worker, Some("etl")),
        ]
    );
    assert_eq!(all[2].member.address, worker.address);
    r.deregister("master-a", &master_session)
        .await
        .expect("deregister master");
    let left: Vec<_> = other
        .members()
        .await
        .expect("members")
        .into_iter()
        .map(|m| m.member.id)
        .collect();
    assert_eq!(left.len(), 2);
    assert!(!left.contains(&"master-a".to_string()));
}

async fn many_connect_at_once(f: Fixture) {
    // Several processes start together (the db backend creates its table in each).
    let opened = futures::future::join_all((0..4).map(|_| f.open_another())).await;
    for (i, r) in opened.iter().enumerate() {
        let id = format!("w-{i}");
        r.register(&member(&id, Role::Worker, Some("default")))
            .await
            .expect("register");
    }
    assert_eq!(f.registry.members().await.expect("members").len(), 4);
}

async fn membership_join_load_leave(f: Fixture) {
    let observer = f.open_another().await;
    let view = watch_members(observer, Duration::from_millis(100));
    let me = member("w4", Role::Worker, Some("default"));
    let membership = Membership::join(f.registry.clone(), me, Duration::from_millis(200))
        .await
        .expect("join");
    let session = membership.session().expect("alive after joining");
    assert_eq!(
        *membership.state().borrow(),
        SessionState::Alive {
            session: session.clone()
        }
    );
    let mut view_rx = view.clone();
    let listed = view_rx
        .wait_for(|all| all.iter().any(|m| m.member.id == "w4"))
        .await
        .expect("the view keeps running")
        .iter()
        .find(|m| m.member.id == "w4")
        .cloned()
        .expect("listed");
    assert_eq!(listed.session, session);
    membership.set_load(Load {
        running: 7,
        slots: 8,
        ..Load::default()
    });
    tokio::time::timeout(
        WAIT,
        view_rx.wait_for(|all| {
            all.iter()
                .any(|m| m.member.id == "w4" && m.member.load.running == 7)
        }),
    )
    .await
    .expect("the new load is seen within the deadline")
    .expect("the view keeps running");
    // Alive for longer than a session timeout: the background heartbeats renew it.
    let held = Instant::now() + TIMEOUT + TIMEOUT / 4;
    while Instant::now() < held {
        assert_eq!(membership.session().as_deref(), Some(session.as_str()));
        tokio::time::sleep(TIMEOUT / 4).await;
    }
    assert!(find(&f.registry, "w4").await.is_some());
    let left_at = Instant::now();
    membership.leave().await;
    tokio::time::timeout(
        WAIT,
        view_rx.wait_for(|all| all.iter().all(|m| m.member.id != "w4")),
    )
    .await
    .expect("gone within the deadline")
    .expect("the view keeps running");
    assert!(
        left_at.elapsed() < TIMEOUT,
        "leaving deregisters at once instead of waiting for the expiry"
    );
}

async fn membership_recovers_from_session_loss(f: Fixture) {
    let me = member("m3", Role::Master, None);
    let membership = Membership::join(f.registry.clone(), me, Duration::from_millis(200))
        .await
        .expect("join");
    let first = membership.session().expect("alive");
    // Someone (an operator, or the registry) ends the session.
    f.registry
        .deregister("m3", &first)
        .await
        .expect("deregister");
    let mut state = membership.state();
    let renewed = tokio::time::timeout(
        WAIT,
        state.wait_for(|s| matches!(s, SessionState::Alive { session } if *session != first)),
    )
    .await
    .expect("registered again within the deadline")
    .expect("the heartbeat task runs")
    .clone();
    let SessionState::Alive { session } = renewed else {
        unreachable!()
    };
    let listed = eventually("the new session to be listed", WAIT, || async {
        find(&f.registry, "m3")
            .await
            .filter(|r| r.session == session)
    })
    .await;
    assert_eq!(listed.member.id, "m3");
    membership.leave().await;
}

async fn membership_lost_when_registry_unreachable(mut f: Fixture) {
    let me = member("w5", Role::Worker, Some("default"));
    let membership = Membership::join(f.registry.clone(), me, Duration::from_millis(200))
        .await
        .expect("join");
    let first = membership.session().expect("alive");
    let mut view = watch_members(f.registry.clone(), Duration::from_millis(100));
    view.wait_for(|all| all.iter().any(|m| m.member.id == "w5"))
        .await
        .expect("the view keeps running");

    let cut = Instant::now();
    f.outage().await;
    let mut state = membership.state();
    tokio::time::timeout(WAIT, state.wait_for(|s| *s == SessionState::Lost))
        .await
        .expect("Lost within the deadline")
        .expect("the heartbeat task runs");
    let after = cut.elapsed();
    assert!(
        after >= TIMEOUT - Duration::from_millis(500),
        "Lost after {after:?}: too early for a {TIMEOUT:?} session"
    );
    assert!(
        view.borrow().iter().any(|m| m.member.id == "w5"),
        "the view keeps the last good list while the registry is unreachable"
    );

    f.restore().await;
    let renewed = tokio::time::timeout(
        WAIT,
        state.wait_for(|s| matches!(s, SessionState::Alive { .. })),
    )
    .await
    .expect("Alive again within the deadline")
    .expect("the heartbeat task runs")
    .clone();
    let SessionState::Alive { session } = renewed else {
        unreachable!()
    };
    assert_ne!(session, first, "a lost session is never resumed");
    tokio::time::timeout(
        WAIT,
        view.wait_for(|all| {
            all.iter()
                .any(|m| m.member.id == "w5" && m.session == session)
        }),
    )
    .await
    .expect("the view shows the new session within the deadline")
    .expect("the view keeps running");
    membership.leave().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registry_from_url_picks_the_backend() {
    let sqlite = Fixture::sqlite().await;
    let db = registry_from_url("db", &sqlite.database_url(), TIMEOUT)
        .await
        .expect("the db registry");
    let etcd_fixture = Fixture::etcd().await;
    let host = etcd_fixture.etcd_host();
    // A dead first endpoint: the client must move on to the live one.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let etcd = registry_from_url(&format!("etcd://{dead},{host}"), "unused", TIMEOUT)
        .await
        .expect("the etcd registry");
    for (registry, on) in [(db, &sqlite), (etcd, &etcd_fixture)] {
        let me = member("from-url", Role::Api, None);
        for _ in 0..5 {
            let session = registry.register(&me).await.expect("register");
            assert_eq!(
                find(&on.registry, "from-url").await.map(|r| r.session),
                Some(session)
            );
        }
        assert_eq!(registry.session_timeout(), TIMEOUT);
    }
    for bad in ["zookeeper://h:2181", "etcd://", "etcd://,", "", "https://h"] {
        assert!(
            matches!(
                registry_from_url(bad, "sqlite:///nonexistent/x.db", TIMEOUT).await,
                Err(RegistryError::Config(_))
            ),
            "`{bad}` is a configuration error"
        );
    }
    assert!(matches!(
        registry_from_url("db", "mysql://h/db", TIMEOUT).await,
        Err(RegistryError::Config(_))
    ));
}

/// One test module per backend, each running the listed cases.
macro_rules! backend {
    ($backend:ident: $($case:ident),* $(,)?) => {
        mod $backend {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(super::Fixture::$backend().await).await;
                }
            )*
        }
    };
}

/// The cases every backend runs, plus `extra` ones.
macro_rules! conformance {
    ($backend:ident $(, $extra:ident)*) => {
        backend!(
            $backend:
            register_list_deregister,
            heartbeat_renews,
            silent_member_expires,
            heartbeat_after_expiry_is_session_lost,
            registering_again_replaces_the_session,
            members_of_different_roles,
            many_connect_at_once,
            membership_join_load_leave,
            membership_recovers_from_session_loss,
            $($extra,)*
        );
    };
}

conformance!(sqlite);
conformance!(postgres, membership_lost_when_registry_unreachable);
conformance!(etcd, membership_lost_when_registry_unreachable);
