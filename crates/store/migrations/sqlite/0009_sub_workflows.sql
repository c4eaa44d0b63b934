-- Child instances of sub_workflow tasks: the parent instance and task that started them.
ALTER TABLE workflow_instance ADD COLUMN parent_instance_id BIGINT;
ALTER TABLE workflow_instance ADD COLUMN parent_task_instance_id BIGINT;
CREATE INDEX workflow_instance_by_parent_task ON workflow_instance (parent_task_instance_id);
-- What dependent tasks look for: succeeded instances of a workflow by schedule time.
CREATE INDEX workflow_instance_by_name_state ON workflow_instance (project, name, state);
