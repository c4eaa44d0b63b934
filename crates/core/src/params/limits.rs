//! The limits on a task's output params (`${setValue(key=value)}`), which a worker applies
//! while it reads a task's output and a master applies again to every report (a worker may be
//! buggy, or older). A task over a limit fails, saying which limit: a value is never cut short
//! and a pair never silently dropped, since a downstream task would then run on wrong input.
//!
//! The limits keep a report, the store's row of a task's outputs and the dispatches of the
//! downstream tasks (which carry the outputs they use) well within the sizes the gRPC servers
//! accept.

use crate::size::format_bytes;
use std::collections::HashMap;

/// Most output params one attempt may set (distinct names).
pub const MAX_OUTPUT_PARAMS: usize = 1000;
/// Most bytes of one output param's name.
pub const MAX_OUTPUT_NAME_BYTES: usize = 256;
/// Most bytes of one output param's value.
pub const MAX_OUTPUT_VALUE_BYTES: usize = 64 * 1024;
/// Most bytes of one attempt's output params in all, names and values.
pub const MAX_OUTPUTS_BYTES: usize = 1024 * 1024;

/// Which limit a task's output params went over, and by what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutputLimitError {
    /// More distinct names than [`MAX_OUTPUT_PARAMS`].
    #[error(
        "the task set more than {MAX_OUTPUT_PARAMS} output params (the most one task may set); \
         `{name}` is one too many"
    )]
    TooMany {
        /// The first name past the limit.
        name: String,
    },
    /// A name longer than [`MAX_OUTPUT_NAME_BYTES`].
    #[error(
        "an output param's name is {len} bytes (it begins `{start}`), more than the \
         {MAX_OUTPUT_NAME_BYTES} bytes a name may have"
    )]
    NameTooLong {
        /// The name's first bytes, for people.
        start: String,
        /// Its length in bytes.
        len: usize,
    },
    /// A value larger than [`MAX_OUTPUT_VALUE_BYTES`].
    #[error(
        "output param `{name}` has a value of {len} bytes or more, more than the {} a value \
         may have",
        format_bytes(MAX_OUTPUT_VALUE_BYTES)
    )]
    ValueTooLarge {
        /// The param.
        name: String,
        /// The value's length in bytes, or as much of it as was read (a value running past
        /// the part of a line a worker reads is at least that long).
        len: usize,
    },
    /// Names and values larger than [`MAX_OUTPUTS_BYTES`] in all.
    #[error(
        "the task's output params come to {} or more (at `{name}`), more than the {} they may \
         have in all",
        format_bytes(*total),
        format_bytes(MAX_OUTPUTS_BYTES)
    )]
    TooLarge {
        /// The param whose value took the total over.
        name: String,
        /// The total with it, in bytes.
        total: usize,
    },
}

/// The first bytes of a long name, cut at a character boundary.
fn start_of(name: &str) -> String {
    let mut end = 32.min(name.len());
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &name[..end])
}

/// Checks one pair on its own (its name and value lengths).
fn check_pair(name: &str, value_len: usize) -> Result<(), OutputLimitError> {
    if name.len() > MAX_OUTPUT_NAME_BYTES {
        return Err(OutputLimitError::NameTooLong {
            start: start_of(name),
            len: name.len(),
        });
    }
    if value_len > MAX_OUTPUT_VALUE_BYTES {
        return Err(OutputLimitError::ValueTooLarge {
            name: name.to_string(),
            len: value_len,
        });
    }
    Ok(())
}

/// Checks a pair whose value did not end within what was read of its line (`seen` bytes of
/// it were read): over a limit if its name is, or if `seen` already is. (Whether a shorter
/// unfinished value would have fitted is unknown: the reader decides what to make of it.)
pub fn check_unfinished(name: &str, seen: usize) -> Result<(), OutputLimitError> {
    check_pair(name, seen)
}

/// Checks a finished set of output params (the master, on a worker's report).
pub fn check_outputs<'a>(
    outputs: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> Result<(), OutputLimitError> {
    let mut count = 0usize;
    let mut total = 0usize;
    for (name, value) in outputs {
        check_pair(name, value.len())?;
        count += 1;
        if count > MAX_OUTPUT_PARAMS {
            return Err(OutputLimitError::TooMany { name: name.clone() });
        }
        total = total.saturating_add(name.len() + value.len());
        if total > MAX_OUTPUTS_BYTES {
            return Err(OutputLimitError::TooLarge {
                name: name.clone(),
                total,
            });
        }
    }
    Ok(())
}

/// Output params as they are set one pair at a time (the worker, reading a task's output): a
/// later value of a name replaces the earlier one, and the limits hold for what is kept.
#[derive(Debug, Default)]
pub struct OutputSet {
    values: HashMap<String, String>,
    /// Bytes of names and values in `values`.
    bytes: usize,
}

impl OutputSet {
    /// Sets `name` to `value`, or says which limit that would break (and keeps what it had).
    pub fn set(&mut self, name: String, value: String) -> Result<(), OutputLimitError> {
        check_pair(&name, value.len())?;
        let size = name.len() + value.len();
        let (bytes, is_new) = match self.values.get(&name) {
            Some(old) => (self.bytes - (name.len() + old.len()) + size, false),
            None => (self.bytes + size, true),
        };
        if is_new && self.values.len() >= MAX_OUTPUT_PARAMS {
            return Err(OutputLimitError::TooMany { name });
        }
        if bytes > MAX_OUTPUTS_BYTES {
            return Err(OutputLimitError::TooLarge { name, total: bytes });
        }
        self.bytes = bytes;
        self.values.insert(name, value);
        Ok(())
    }

    /// The params set.
    pub fn into_map(self) -> HashMap<String, String> {
        self.values
    }

    /// How many params are set.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// True when none is.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_all(
        pairs: impl IntoIterator<Item = (String, String)>,
    ) -> Result<OutputSet, OutputLimitError> {
        let mut set = OutputSet::default();
        for (k, v) in pairs {
            set.set(k, v)?;
        }
        Ok(set)
    }

    #[test]
    fn values_up_to_the_limits_are_kept() {
        let name = "n".repeat(MAX_OUTPUT_NAME_BYTES);
        let value = "v".repeat(MAX_OUTPUT_VALUE_BYTES);
        let set = set_all([(name.clone(), value.clone())]).unwrap();
        assert_eq!(set.into_map()[&name], value);
        let many = (0..MAX_OUTPUT_PARAMS).map(|i| (format!("k{i}"), i.to_string()));
        let set = set_all(many).unwrap();
        assert_eq!(set.len(), MAX_OUTPUT_PARAMS);
        check_outputs(&set.into_map()).unwrap();
    }

    #[test]
    fn a_value_over_its_limit_is_refused_by_name() {
        let value = "v".repeat(MAX_OUTPUT_VALUE_BYTES + 1);
        let err = set_all([("rows".into(), value.clone())]).unwrap_err();
        assert_eq!(
            err,
            OutputLimitError::ValueTooLarge {
                name: "rows".into(),
                len: MAX_OUTPUT_VALUE_BYTES + 1
            }
        );
        assert_eq!(
            err.to_string(),
            "output param `rows` has a value of 65537 bytes or more, more than the 64 KiB a value may have"
        );
        let map = HashMap::from([("rows".to_string(), value)]);
        assert_eq!(check_outputs(&map), Err(err));
    }

    #[test]
    fn a_long_name_is_refused_and_shown_in_part() {
        let name = "é".repeat(MAX_OUTPUT_NAME_BYTES);
        let err = set_all([(name.clone(), "1".into())]).unwrap_err();
        let OutputLimitError::NameTooLong { start, len } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(*len, 2 * MAX_OUTPUT_NAME_BYTES);
        assert!(start.len() < 40 && start.ends_with('…'), "{start}");
        assert!(err
            .to_string()
            .contains("more than the 256 bytes a name may have"));
        assert_eq!(check_unfinished(&name, 10), Err(err));
    }

    #[test]
    fn one_param_too_many_is_refused() {
        let many = (0..=MAX_OUTPUT_PARAMS).map(|i| (format!("k{i}"), String::new()));
        let err = set_all(many.clone()).unwrap_err();
        assert_eq!(
            err,
            OutputLimitError::TooMany {
                name: "k1000".into()
            }
        );
        assert!(err
            .to_string()
            .starts_with("the task set more than 1000 output params"));
        let map: HashMap<String, String> = many.collect();
        assert!(matches!(
            check_outputs(&map),
            Err(OutputLimitError::TooMany { .. })
        ));
    }

    #[test]
    fn the_total_is_bounded_and_replacing_a_value_counts_its_new_size() {
        let value = "v".repeat(MAX_OUTPUT_VALUE_BYTES);
        let mut set = OutputSet::default();
        // Sixteen values of 64 KiB and their names are just over 1 MiB.
        for i in 0..15 {
            set.set(format!("k{i:02}"), value.clone()).unwrap();
        }
        let err = set.set("k15".into(), value.clone()).unwrap_err();
        assert_eq!(
            err,
            OutputLimitError::TooLarge {
                name: "k15".into(),
                total: 16 * (3 + MAX_OUTPUT_VALUE_BYTES)
            }
        );
        assert!(
            err.to_string()
                .contains("more than the 1 MiB they may have in all"),
            "{err}"
        );
        // What was kept is unchanged, and a smaller value may replace a larger one.
        assert_eq!(set.len(), 15);
        set.set("k00".into(), "small".into()).unwrap();
        set.set("k15".into(), value.clone()).unwrap();
        let map = set.into_map();
        check_outputs(&map).unwrap();

        let mut over = map;
        over.insert("k16".into(), value);
        assert!(matches!(
            check_outputs(&over),
            Err(OutputLimitError::TooLarge { .. })
        ));
    }

    #[test]
    fn an_unfinished_value_is_over_the_limit_once_it_is_longer() {
        check_unfinished("v", MAX_OUTPUT_VALUE_BYTES).unwrap();
        assert_eq!(
            check_unfinished("v", 70_000),
            Err(OutputLimitError::ValueTooLarge {
                name: "v".into(),
                len: 70_000
            })
        );
    }
}
