//! Baton's access model, with no I/O but hashing: who is calling ([`Principal`]), what a route
//! demands ([`Rule`]), and the one pure function that decides ([`allowed`]); plus the
//! credentials' secrets: Argon2id password hashes ([`password`]) and random API tokens stored
//! only as their SHA-256 ([`token`]).
//!
//! The API resolves the project a request is about and asks [`allowed`]; nothing else in
//! Baton decides access.

pub mod password;
pub mod token;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A role on one project; each includes the ones below it (the derived order is the rank).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads the project's workflows, instances, logs and events.
    Viewer,
    /// Also starts, stops, pauses, resumes, reruns, recovers, backfills, marks success.
    Operator,
    /// Also applies workflows and sets schedules.
    Editor,
    /// Also manages the project's members.
    Admin,
}

impl Role {
    /// Every role, lowest first (for tests and help texts).
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Editor, Role::Admin];

    /// The name used in the API, the CLI and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role name that is not one of [`Role::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown role `{0}`: use viewer, operator, editor or admin")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| UnknownRole(s.to_string()))
    }
}

/// A user's id in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct UserId(pub i64);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An API token's id in the store (not its secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct TokenId(pub i64);

impl fmt::Display for TokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// How the caller proved who they are: what it may do is the user's rights, narrowed by
/// the token's own limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A login session (CLI or browser cookie): the user's full rights.
    Session,
    /// An API token, perhaps narrowed to one project and at most one role.
    Token {
        /// Which token.
        id: TokenId,
        /// The only project it acts on, when set.
        project: Option<String>,
        /// The highest role it acts with, when set (never above the user's).
        role: Option<Role>,
    },
}

/// An authenticated caller: a user, their rights, and the credential they came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user.
    pub user: UserId,
    /// Their name, for the audit log and `auth/me`.
    pub name: String,
    /// A global admin may do everything on every project and manage users.
    pub global_admin: bool,
    /// The user's role on each project they are a member of.
    pub roles: BTreeMap<String, Role>,
    /// How they came.
    pub credential: Credential,
}

/// What a route demands. Every route declares one next to its registration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Anyone, even without credentials (health, login).
    Public,
    /// Any authenticated caller; what it then shows is filtered to their projects.
    Authenticated,
    /// At least this role on the project the request is about.
    Project(Role),
    /// A global admin (users, task groups, projects, the audit log).
    GlobalAdmin,
}

/// The answer of [`allowed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Go on.
    Allow,
    /// No (valid) credentials: 401.
    Unauthenticated,
    /// A known principal without the right: 403.
    Forbidden,
}

impl Principal {
    /// The role the caller acts with on `project`: the user's (or admin for a global admin),
    /// capped by the token's role, and none outside the token's project.
    pub fn role_on(&self, project: &str) -> Option<Role> {
        let own = if self.global_admin {
            Some(Role::Admin)
        } else {
            self.roles.get(project).copied()
        };
        match &self.credential {
            Credential::Session => own,
            Credential::Token {
                project: only,
                role: cap,
                ..
            } => {
                if only.as_deref().is_some_and(|p| p != project) {
                    return None;
                }
                match (own, cap) {
                    (Some(own), Some(cap)) => Some(own.min(*cap)),
                    (own, None) => own,
                    (None, Some(_)) => None,
                }
            }
        }
    }

    /// Whether the caller acts as a global admin (a narrowed token does not).
    pub fn acts_as_global_admin(&self) -> bool {
        self.global_admin
            && match &self.credential {
                Credential::Session => true,
                Credential::Token { project, role, .. } => {
                    project.is_none() && role.is_none_or(|r| r == Role::Admin)
                }
            }
    }

    /// The projects whose objects a listing shows this caller: `None` for all of them (a
    /// global admin), otherwise those where it has at least `role`.
    pub fn visible_projects(&self, role: Role) -> Option<Vec<String>> {
        if self.acts_as_global_admin() {
            return None;
        }
        Some(
            self.roles
                .keys()
                .filter(|p| self.role_on(p).is_some_and(|r| r >= role))
                .cloned()
                .collect(),
        )
    }

    /// Whether the caller has at least `role` on some project (a route whose project is
    /// known only from its body is refused early to a caller who has it nowhere).
    pub fn has_role_somewhere(&self, role: Role) -> bool {
        self.acts_as_global_admin()
            || self
                .roles
                .keys()
                .any(|p| self.role_on(p).is_some_and(|r| r >= role))
    }
}

/// Whether `principal` (`None`: no valid credentials) may do what `rule` demands on
/// `project` (the project the request is about; `None` when it has none, or its object does
/// not exist: then only a global admin passes, so that a missing object and one of another
/// project look the same).
pub fn allowed(principal: Option<&Principal>, rule: Rule, project: Option<&str>) -> Decision {
    let Some(p) = principal else {
        return match rule {
            Rule::Public => Decision::Allow,
            Rule::Authenticated | Rule::Project(_) | Rule::GlobalAdmin => Decision::Unauthenticated,
        };
    };
    let yes = match rule {
        Rule::Public | Rule::Authenticated => true,
        Rule::GlobalAdmin => p.acts_as_global_admin(),
        Rule::Project(need) => match project {
            Some(project) => p.role_on(project).is_some_and(|r| r >= need),
            None => p.acts_as_global_admin(),
        },
    };
    if yes {
        Decision::Allow
    } else {
        Decision::Forbidden
    }
}

#[cfg(test)]
mod tests;
