-- Project secrets: values an http task's headers and body use as ${secret.NAME}. The value is
-- kept only sealed (`v1.<key id>.<data>`, see baton-secrets), for its record
-- (`secret:PROJECT/NAME`); the API never returns it.
CREATE TABLE secret (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project    TEXT   NOT NULL REFERENCES project (name),
    name       TEXT   NOT NULL,
    sealed     TEXT   NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (project, name)
);
