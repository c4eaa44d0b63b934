-- What a start gave in place of the workflow's values for that one instance (its failure
-- strategy, priority, worker group), as JSON; NULL when nothing was overridden. Every master
-- that runs the instance (after an adoption or a recover too) reads it from here.
ALTER TABLE workflow_instance ADD COLUMN overrides TEXT;
