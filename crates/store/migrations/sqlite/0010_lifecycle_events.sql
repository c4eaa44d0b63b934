-- The event log records every lifecycle change, not only alerts: events about workers and
-- schedules have no instance, and a few kinds (a timeout a worker may report twice, a worker
-- lost as seen by every master) are recorded once under a key of their own.
CREATE TABLE event_log (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    kind                 TEXT   NOT NULL,
    workflow_instance_id BIGINT,
    project              TEXT,
    workflow             TEXT,
    task_instance_id     BIGINT,
    task_name            TEXT,
    attempt              BIGINT,
    worker               TEXT,
    message              TEXT   NOT NULL,
    detail               TEXT,
    once_key             TEXT UNIQUE,
    at                   BIGINT NOT NULL,
    recorded_at          BIGINT NOT NULL
);
INSERT INTO event_log (id, kind, workflow_instance_id, project, workflow, task_instance_id,
                       task_name, attempt, worker, message, once_key, at, recorded_at)
SELECT id, kind, workflow_instance_id, project, workflow, task_instance_id, task_name, attempt,
       worker, message, kind || ':' || task_instance_id || ':' || attempt, at, recorded_at
FROM event;
DROP TABLE event;
ALTER TABLE event_log RENAME TO event;
CREATE INDEX event_by_kind ON event (kind, id);
CREATE INDEX event_by_instance ON event (workflow_instance_id, id);
CREATE INDEX event_by_time ON event (at);
CREATE INDEX event_by_workflow ON event (project, workflow, id);
