//! The decision function over every rule, role and credential narrowing.

use super::*;

fn user(global_admin: bool, roles: &[(&str, Role)], credential: Credential) -> Principal {
    Principal {
        user: UserId(1),
        name: "u".into(),
        global_admin,
        roles: roles.iter().map(|(p, r)| (p.to_string(), *r)).collect(),
        credential,
    }
}

fn token(project: Option<&str>, role: Option<Role>) -> Credential {
    Credential::Token {
        id: TokenId(7),
        project: project.map(str::to_string),
        role,
    }
}

#[test]
fn without_credentials_only_public_passes() {
    assert_eq!(allowed(None, Rule::Public, None), Decision::Allow);
    for rule in [
        Rule::Authenticated,
        Rule::GlobalAdmin,
        Rule::Project(Role::Viewer),
    ] {
        assert_eq!(allowed(None, rule, Some("p")), Decision::Unauthenticated);
    }
}

#[test]
fn a_project_role_includes_the_lower_ones_and_only_on_its_project() {
    for have in Role::ALL {
        let p = user(false, &[("p", have)], Credential::Session);
        for need in Role::ALL {
            let expect = if have >= need {
                Decision::Allow
            } else {
                Decision::Forbidden
            };
            assert_eq!(allowed(Some(&p), Rule::Project(need), Some("p")), expect);
            assert_eq!(
                allowed(Some(&p), Rule::Project(need), Some("q")),
                Decision::Forbidden
            );
        }
        assert_eq!(
            allowed(Some(&p), Rule::GlobalAdmin, None),
            Decision::Forbidden
        );
        assert_eq!(
            allowed(Some(&p), Rule::Authenticated, None),
            Decision::Allow
        );
    }
}

#[test]
fn a_missing_object_is_refused_like_one_of_another_project() {
    let p = user(false, &[("p", Role::Admin)], Credential::Session);
    let missing = allowed(Some(&p), Rule::Project(Role::Viewer), None);
    let other = allowed(Some(&p), Rule::Project(Role::Viewer), Some("q"));
    assert_eq!((missing, other), (Decision::Forbidden, Decision::Forbidden));
    let admin = user(true, &[], Credential::Session);
    assert_eq!(
        allowed(Some(&admin), Rule::Project(Role::Admin), None),
        Decision::Allow
    );
}

#[test]
fn a_global_admin_may_do_everything() {
    let admin = user(true, &[], Credential::Session);
    for rule in [
        Rule::Public,
        Rule::Authenticated,
        Rule::GlobalAdmin,
        Rule::Project(Role::Admin),
    ] {
        assert_eq!(allowed(Some(&admin), rule, Some("any")), Decision::Allow);
    }
    assert_eq!(admin.visible_projects(Role::Viewer), None);
}

#[test]
fn a_token_is_narrowed_to_its_project_and_role() {
    let t = user(
        false,
        &[("p", Role::Admin), ("q", Role::Admin)],
        token(Some("p"), Some(Role::Operator)),
    );
    assert_eq!(t.role_on("p"), Some(Role::Operator));
    assert_eq!(t.role_on("q"), None);
    assert_eq!(
        allowed(Some(&t), Rule::Project(Role::Editor), Some("p")),
        Decision::Forbidden
    );
    assert_eq!(
        allowed(Some(&t), Rule::Project(Role::Operator), Some("p")),
        Decision::Allow
    );
    assert_eq!(
        t.visible_projects(Role::Viewer),
        Some(vec!["p".to_string()])
    );
}

#[test]
fn a_token_never_raises_the_users_role() {
    let t = user(
        false,
        &[("p", Role::Viewer)],
        token(None, Some(Role::Admin)),
    );
    assert_eq!(t.role_on("p"), Some(Role::Viewer));
    let outsider = user(false, &[], token(Some("p"), Some(Role::Viewer)));
    assert_eq!(outsider.role_on("p"), None);
}

#[test]
fn a_narrowed_token_of_a_global_admin_is_not_global() {
    let t = user(true, &[], token(Some("p"), None));
    assert!(!t.acts_as_global_admin());
    assert_eq!(
        allowed(Some(&t), Rule::GlobalAdmin, None),
        Decision::Forbidden
    );
    assert_eq!(t.role_on("p"), Some(Role::Admin));
    assert_eq!(t.role_on("q"), None);
    let full = user(true, &[], token(None, None));
    assert!(full.acts_as_global_admin());
}

#[test]
fn roles_parse_and_print() {
    for r in Role::ALL {
        assert_eq!(r.as_str().parse::<Role>(), Ok(r));
    }
    assert!("root".parse::<Role>().is_err());
}

#[test]
fn passwords_hash_with_argon2id_and_verify() {
    let h = password::hash("correct horse").unwrap();
    assert!(h.starts_with("$argon2id$"), "{h}");
    assert!(password::verify("correct horse", &h));
    assert!(!password::verify("wrong horse!", &h));
    assert!(!password::verify("correct horse", "not a hash"));
    assert!(matches!(
        password::hash("short"),
        Err(password::PasswordError::TooShort)
    ));
    let random = password::random();
    assert_eq!(random.len(), 20);
    assert_ne!(random, password::random());
}

#[test]
fn secrets_are_random_well_formed_and_stored_as_digests() {
    let a = token::generate();
    let b = token::generate();
    assert_ne!(a.plain, b.plain);
    assert!(token::well_formed(&a.plain));
    assert!(!token::well_formed("baton_xyz"));
    assert!(!token::well_formed("Bearer"));
    assert_eq!(a.hash, token::digest(&a.plain));
    assert_eq!(a.hash.len(), 64);
    assert!(!a.hash.contains(&a.plain[6..]));
}
