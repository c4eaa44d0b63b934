-- Events for alerting (a task that ran past its timeout, ...), newest last. One of each kind
-- per attempt: a worker that sends one again finds it stored already.
CREATE TABLE event (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                 TEXT   NOT NULL,
    workflow_instance_id BIGINT NOT NULL,
    project              TEXT   NOT NULL,
    workflow             TEXT   NOT NULL,
    task_instance_id     BIGINT,
    task_name            TEXT,
    attempt              BIGINT,
    worker               TEXT,
    message              TEXT   NOT NULL,
    at                   BIGINT NOT NULL,
    recorded_at          BIGINT NOT NULL,
    UNIQUE (task_instance_id, attempt, kind)
);
CREATE INDEX event_by_kind ON event (kind, id);
CREATE INDEX event_by_instance ON event (workflow_instance_id, id);
CREATE INDEX event_by_time ON event (at);
