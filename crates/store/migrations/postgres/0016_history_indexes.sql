-- History at scale: every listing of instances walks an index in id order (newest first)
-- whichever filters it has, and retention finds ended instances by their end.
CREATE INDEX workflow_instance_by_project ON workflow_instance (project, id);
CREATE INDEX workflow_instance_by_project_state ON workflow_instance (project, state, id);
DROP INDEX workflow_instance_by_name_state;
CREATE INDEX workflow_instance_by_name_state ON workflow_instance (project, name, state, id);
CREATE INDEX workflow_instance_by_name ON workflow_instance (project, name, id);
CREATE INDEX workflow_instance_by_submitted ON workflow_instance (submitted_at);
CREATE INDEX workflow_instance_by_ended ON workflow_instance (ended_at);
CREATE INDEX command_by_instance ON command (workflow_instance_id);
