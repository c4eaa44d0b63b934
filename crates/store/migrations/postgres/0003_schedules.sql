-- A workflow's schedule (from its file's `schedule:` block), and which fire made an instance.
CREATE TABLE schedule (
    workflow_id  BIGINT NOT NULL PRIMARY KEY REFERENCES workflow (id),
    spec         TEXT   NOT NULL,
    online       BIGINT NOT NULL,
    -- The next fire due (µs); NULL when none is (ended, offline, or a fixed delay waiting for
    -- the running instance to end).
    next_fire_at BIGINT,
    last_fire_at BIGINT,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX schedule_due ON schedule (next_fire_at);

ALTER TABLE workflow_instance ADD COLUMN schedule_id BIGINT;
-- Exactly one instance per (schedule, fire time), however many masters fire.
CREATE UNIQUE INDEX workflow_instance_fire ON workflow_instance (schedule_id, schedule_time)
    WHERE schedule_id IS NOT NULL;
