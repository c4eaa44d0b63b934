-- Alerts: a project's channels (the secret kept only sealed, or NULL), its rules, and the
-- deliveries made from the event log (one per rule, channel and event: `once_key`), each
-- attempt recorded. `alert_cursor` is how far the event log has been matched against rules;
-- it starts at the newest event, so that the history before alerts existed sends nothing.
CREATE TABLE alert_channel (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project    TEXT   NOT NULL REFERENCES project (name),
    name       TEXT   NOT NULL,
    kind       TEXT   NOT NULL,
    settings   TEXT   NOT NULL,
    secret     TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    UNIQUE (project, name)
);
CREATE TABLE alert_rule (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    project    TEXT   NOT NULL REFERENCES project (name),
    workflow   TEXT,
    kinds      TEXT   NOT NULL,
    channel    TEXT   NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX alert_rule_by_project ON alert_rule (project, id);
CREATE TABLE alert_delivery (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    once_key    TEXT   NOT NULL UNIQUE,
    project     TEXT   NOT NULL,
    workflow    TEXT,
    instance_id BIGINT,
    event_id    BIGINT NOT NULL,
    kind        TEXT   NOT NULL,
    rule        TEXT   NOT NULL,
    channel     TEXT   NOT NULL,
    state       TEXT   NOT NULL,
    attempts    BIGINT NOT NULL,
    next_at     BIGINT NOT NULL,
    claim       TEXT,
    claim_until BIGINT,
    created_at  BIGINT NOT NULL
);
CREATE INDEX alert_delivery_due ON alert_delivery (state, next_at);
CREATE INDEX alert_delivery_by_project ON alert_delivery (project, id);
CREATE TABLE alert_attempt (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    delivery_id BIGINT NOT NULL REFERENCES alert_delivery (id) ON DELETE CASCADE,
    n           BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    ok          BIGINT NOT NULL,
    error       TEXT,
    UNIQUE (delivery_id, n)
);
CREATE TABLE alert_cursor (
    id       INTEGER PRIMARY KEY,
    event_id BIGINT NOT NULL
);
INSERT INTO alert_cursor (id, event_id) SELECT 1, COALESCE(MAX(id), 0) FROM event;
