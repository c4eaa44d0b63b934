-- The event log records every lifecycle change, not only alerts: events about workers and
-- schedules have no instance, and a few kinds (a timeout a worker may report twice, a worker
-- lost as seen by every master) are recorded once under a key of their own.
ALTER TABLE event ALTER COLUMN workflow_instance_id DROP NOT NULL;
ALTER TABLE event ALTER COLUMN project DROP NOT NULL;
ALTER TABLE event ALTER COLUMN workflow DROP NOT NULL;
ALTER TABLE event ADD COLUMN detail TEXT;
ALTER TABLE event ADD COLUMN once_key TEXT;
UPDATE event SET once_key = kind || ':' || task_instance_id || ':' || attempt;
ALTER TABLE event DROP CONSTRAINT event_task_instance_id_attempt_kind_key;
CREATE UNIQUE INDEX event_once ON event (once_key);
CREATE INDEX event_by_workflow ON event (project, workflow, id);
-- Event ids must become visible in the order they were given, so that a reader that has seen
-- id N never later finds a smaller one committed (the event stream resumes after an id): every
-- transaction that records events takes this row's lock just before it commits.
CREATE TABLE event_order (
    id   INTEGER PRIMARY KEY,
    n    BIGINT NOT NULL
);
INSERT INTO event_order (id, n) VALUES (1, 0);
