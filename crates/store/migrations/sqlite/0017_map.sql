-- Mapped tasks (`map:`): the mapped task's row keeps the list it expanded (`map_items`, a JSON
-- list), and each item's row names its mapped task and its place in that list, so that a
-- master rebuilding an instance finds every item, and the items of a task are read a page at
-- a time in list order.
ALTER TABLE task_instance ADD COLUMN map_items TEXT;
ALTER TABLE task_instance ADD COLUMN map_task TEXT;
ALTER TABLE task_instance ADD COLUMN map_index BIGINT;
CREATE INDEX task_instance_map_items ON task_instance (workflow_instance_id, map_task, map_index);
