-- Task groups: pools with a cluster-wide limit of attempts running at once.
CREATE TABLE task_group (
    name       TEXT   NOT NULL PRIMARY KEY,
    slots      BIGINT NOT NULL,
    created_at BIGINT NOT NULL
);
ALTER TABLE task_instance ADD COLUMN task_group TEXT;
CREATE INDEX task_instance_by_group ON task_instance (task_group, state);
