-- A backfill: one instance per fire time (or day) of a date range, run serially or a few at
-- a time; visible as one object with progress, and stoppable as a whole.
CREATE TABLE backfill (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    workflow_id BIGINT NOT NULL REFERENCES workflow (id),
    times       TEXT   NOT NULL,
    parallel    BIGINT NOT NULL,
    next_index  BIGINT NOT NULL,
    state       TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);
ALTER TABLE workflow_instance ADD COLUMN backfill_id BIGINT;
CREATE INDEX workflow_instance_by_backfill ON workflow_instance (backfill_id);
