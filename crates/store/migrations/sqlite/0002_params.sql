-- The time an instance stands for ($[...] and system.biz.date are relative to it), and the
-- output params each task instance set.
ALTER TABLE workflow_instance ADD COLUMN schedule_time BIGINT;
ALTER TABLE task_instance ADD COLUMN outputs TEXT;
