-- Data sources: the databases a project's sql tasks use. The URL holds no password; the
-- password is kept only sealed (`v1.<key id>.<data>`, see baton-secrets), or is NULL.
CREATE TABLE datasource (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project    TEXT   NOT NULL REFERENCES project (name),
    name       TEXT   NOT NULL,
    kind       TEXT   NOT NULL,
    url        TEXT   NOT NULL,
    secret     TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (project, name)
);
