-- What a start gave in place of the workflow's values for that one instance (its failure
-- strategy, priority, worker group), as JSON; NULL when nothing was overridden. Every master
-- that runs the instance (after an adoption or a recover too) reads it from here.
ALTER TABLE workflow_instance ADD COLUMN overrides TEXT;

-- The child instances of an instance's sub_workflow tasks, read with the instance.
CREATE INDEX workflow_instance_by_parent ON workflow_instance (parent_instance_id, id);

-- The failed instances of the last day, counted per project for the projects list.
CREATE INDEX workflow_instance_by_state_end ON workflow_instance (state, ended_at);
