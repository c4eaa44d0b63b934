-- Baton's metadata, SQLite flavour. Times are microseconds since the Unix epoch.
CREATE TABLE workflow (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    project        TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    latest_version BIGINT  NOT NULL,
    created_at     BIGINT  NOT NULL,
    updated_at     BIGINT  NOT NULL,
    UNIQUE (project, name)
);

CREATE TABLE workflow_version (
    workflow_id BIGINT NOT NULL REFERENCES workflow (id),
    version     BIGINT NOT NULL,
    spec        TEXT   NOT NULL,
    source      TEXT   NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (workflow_id, version)
);

CREATE TABLE workflow_instance (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id  BIGINT NOT NULL REFERENCES workflow (id),
    version      BIGINT NOT NULL,
    project      TEXT   NOT NULL,
    name         TEXT   NOT NULL,
    state        TEXT   NOT NULL,
    params       TEXT   NOT NULL,
    priority     TEXT   NOT NULL,
    owner        TEXT,
    epoch        BIGINT NOT NULL DEFAULT 0,
    submitted_at BIGINT NOT NULL,
    started_at   BIGINT,
    ended_at     BIGINT
);
CREATE INDEX workflow_instance_by_workflow ON workflow_instance (workflow_id, id);
CREATE INDEX workflow_instance_by_state ON workflow_instance (state, id);

CREATE TABLE task_instance (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_instance_id BIGINT NOT NULL REFERENCES workflow_instance (id),
    task_name            TEXT   NOT NULL,
    state                TEXT   NOT NULL,
    attempt              BIGINT NOT NULL,
    retries_used         BIGINT NOT NULL DEFAULT 0,
    worker               TEXT,
    submitted_at         BIGINT NOT NULL,
    started_at           BIGINT,
    ended_at             BIGINT,
    exit_code            BIGINT,
    message              TEXT,
    next_retry_at        BIGINT,
    UNIQUE (workflow_instance_id, task_name)
);

CREATE TABLE task_attempt (
    task_instance_id BIGINT NOT NULL REFERENCES task_instance (id),
    attempt          BIGINT NOT NULL,
    state            TEXT   NOT NULL,
    worker           TEXT,
    started_at       BIGINT,
    ended_at         BIGINT NOT NULL,
    exit_code        BIGINT,
    message          TEXT,
    PRIMARY KEY (task_instance_id, attempt)
);

CREATE TABLE command (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                 TEXT   NOT NULL,
    workflow_instance_id BIGINT NOT NULL REFERENCES workflow_instance (id),
    -- The master that must take it (the owner of its instance); NULL: any master.
    target               TEXT,
    created_at           BIGINT NOT NULL
);

-- Blocks of ids handed to masters, so that a master can name new rows before it writes them
-- and write a whole tick's rows in one statement.
CREATE TABLE id_block (
    name TEXT   NOT NULL PRIMARY KEY,
    next BIGINT NOT NULL
);
INSERT INTO id_block (name, next) VALUES ('task_instance', 1);
