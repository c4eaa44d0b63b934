-- An instance started from a task runs only these tasks (a JSON list of names); NULL: all.
ALTER TABLE workflow_instance ADD COLUMN only_tasks TEXT;
