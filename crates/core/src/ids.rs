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
