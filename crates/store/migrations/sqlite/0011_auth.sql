-- Identity and access. Times are microseconds since the Unix epoch; flags are 0 or 1.

-- A project is a real object: members have roles on it, and every workflow belongs to one.
CREATE TABLE project (
    name       TEXT   NOT NULL PRIMARY KEY,
    created_at BIGINT NOT NULL
);
INSERT INTO project (name, created_at) VALUES ('default', CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER));
INSERT INTO project (name, created_at)
    SELECT DISTINCT project, CAST((julianday('now') - 2440587.5) * 86400000000 AS INTEGER) FROM workflow WHERE project <> 'default';

-- Local users; the password as an Argon2id PHC string, which never leaves the store.
CREATE TABLE app_user (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    name          TEXT   NOT NULL UNIQUE,
    password_hash TEXT   NOT NULL,
    disabled      BIGINT NOT NULL DEFAULT 0,
    global_admin  BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL
);

-- A user's role on a project: viewer, operator, editor or admin.
CREATE TABLE project_member (
    project TEXT   NOT NULL REFERENCES project (name) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    role    TEXT   NOT NULL,
    PRIMARY KEY (project, user_id)
);
CREATE INDEX project_member_by_user ON project_member (user_id);

-- API tokens, stored as the SHA-256 of the secret; optionally narrowed to a project and a role.
CREATE TABLE api_token (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      BIGINT NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    name         TEXT   NOT NULL,
    secret_hash  TEXT   NOT NULL UNIQUE,
    project      TEXT,
    role         TEXT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_token_by_user ON api_token (user_id);

-- Login sessions (the CLI's bearer session, a browser's cookie), by the SHA-256 of their id;
-- a browser session also has the SHA-256 of its CSRF token.
CREATE TABLE login_session (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      BIGINT NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
    secret_hash  TEXT   NOT NULL UNIQUE,
    csrf_hash    TEXT,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX login_session_by_user ON login_session (user_id);

-- Every change asked of the API, allowed or refused.
CREATE TABLE audit (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        BIGINT NOT NULL,
    user_id   BIGINT,
    user_name TEXT,
    action    TEXT   NOT NULL,
    target    TEXT   NOT NULL,
    address   TEXT,
    outcome   TEXT   NOT NULL,
    status    BIGINT NOT NULL
);
CREATE INDEX audit_by_time ON audit (at);
CREATE INDEX audit_by_user ON audit (user_name, id);
