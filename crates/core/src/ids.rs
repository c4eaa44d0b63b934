//! Newtypes for the ids that cross crate and process boundaries, so that a task instance id
//! can never be passed where a workflow instance id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

id_type!(
    /// A workflow definition (all of its versions share it).
    WorkflowId
);
id_type!(
    /// One run of one workflow version.
    WorkflowInstanceId
);
id_type!(
    /// One node of one workflow instance; its attempts share the id.
    TaskInstanceId
);

/// The number of one attempt of a task instance: 1 for its first run, one more for each
/// retry or rerun. Its own type so that it is never mixed up with an id or a count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Attempt(pub u32);

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One attempt of one task instance: what a worker runs, logs and reports on, and the key of
/// every table that tracks attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AttemptKey {
    /// The task instance.
    pub task_instance: TaskInstanceId,
    /// Which of its attempts.
    pub attempt: Attempt,
}

impl AttemptKey {
    /// The key of attempt `attempt` of task instance `task_instance`.
    pub fn new(task_instance: TaskInstanceId, attempt: Attempt) -> AttemptKey {
        AttemptKey {
            task_instance,
            attempt,
        }
    }
}

impl fmt::Display for AttemptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task instance {}, attempt {}",
            self.task_instance, self.attempt
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_key_reads_as_words() {
        let key = AttemptKey::new(TaskInstanceId(7), Attempt(2));
        assert_eq!(key.to_string(), "task instance 7, attempt 2");
        assert!(key < AttemptKey::new(TaskInstanceId(7), Attempt(3)));
    }
}
