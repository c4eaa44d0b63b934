//! Output params: a task sets `key` for its downstream tasks by printing
//! `${setValue(key=value)}` on a line of its output (the parsing rules are
//! [`baton_core::params::parse_set_values`]'s).
//!
//! The attempt's output is scanned as it streams through the log copier, line by line, whether
//! or not the log cap has been reached (the cap limits the log file, not the scan). stdout and
//! stderr share one pipe, so a `setValue` printed on stderr counts too.
//!
//! Bounded, whatever the task prints, by [`baton_core::params::limits`]:
//! - only the first [`LINE_SCAN_MAX`] bytes of a line are scanned: twice the longest pair, so
//!   that a pair beginning in the first half of them is read whole, or known to be too long. A
//!   pair that begins later and does not end within them is not seen;
//! - a pair over a limit (a name or value too long, one name too many, too many bytes in all),
//!   and a value still open at the end of the scanned part of its line that is already longer
//!   than a value may be, is an error: the first one is kept and the attempt fails with it (a
//!   value is never cut short, a pair never dropped). A later value of a key replaces the
//!   earlier one.
//!
//! Cheap when there is nothing to find: bytes are only looked at for `\n` and `$`, and nothing
//! is copied or allocated for a line until it contains a `$`. A task printing nothing costs
//! nothing.
//!
//! Output that is not UTF-8 is read lossily (invalid bytes become U+FFFD).
//!
//! Only a succeeded attempt reports its outputs (see the attempt): a failed, killed or timed
//! out attempt passes nothing on.
//!
//! The split step of a map-reduce task (a dispatch with `collect_subtasks`) is scanned for
//! `${addTask(name=N, args=A)}` lines too, in the same pass and under the same per-line
//! bound, with [`baton_core::params::SubtaskSet`]'s limits; then `subtasks.jsonl` in its
//! task directory is read ([`subtasks_of`]). The first sub-task that cannot be taken fails
//! the attempt, saying why.

use baton_core::params::limits::{
    self, OutputLimitError, OutputSet, MAX_OUTPUT_NAME_BYTES, MAX_OUTPUT_VALUE_BYTES,
};

use baton_core::params::{Subtask, SubtaskError, SubtaskSet};
use std::collections::HashMap;

/// Most bytes of one line that are scanned for `setValue`: twice the longest name and value,
/// so that a value too long is seen as such even after other text on its line.
pub(crate) const LINE_SCAN_MAX: usize = 2 * (MAX_OUTPUT_VALUE_BYTES + MAX_OUTPUT_NAME_BYTES);

/// The log line of an attempt whose output params went over a limit (it then fails).
pub(crate) fn limit_line(exceeded: &OutputLimitError) -> String {
    format!("\n[baton] {exceeded}: the task fails (see \"Output params\" in the README for the limits)\n")
}

/// The log line of a split step whose sub-tasks cannot be taken (it then fails).
pub(crate) fn subtask_line(e: &SubtaskError) -> String {
    format!("\n[baton] {e}: the task fails (see \"Map-reduce\" in the README for the rules and limits)\n")
}

/// Scans a stream of output, fed in chunks, for `${setValue(key=value)}` pairs.
#[derive(Debug, Default)]
pub(crate) struct Scanner {
    /// Bytes of the current line seen so far (saturating).
    line_len: usize,
    /// True once the current line had a `$` within its first `LINE_SCAN_MAX` bytes.
    capturing: bool,
    /// While capturing: the current line from its first `$`, up to `LINE_SCAN_MAX` bytes of
    /// the line.
    pending: Vec<u8>,
    outputs: OutputSet,
    /// The first limit the output went over; scanning stops finding pairs after it.
    exceeded: Option<OutputLimitError>,
    /// The split step of a map-reduce task: the sub-tasks its `${addTask(…)}` lines add
    /// (`None`: such lines are plain output).
    subtasks: Option<SubtaskSet>,
    /// The first sub-task that could not be taken; no later one is looked at.
    subtask_error: Option<SubtaskError>,
}

/// What a scan found.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    pub outputs: HashMap<String, String>,
    /// The first limit the output went over: the attempt fails with it.
    pub exceeded: Option<OutputLimitError>,
    /// The sub-tasks added, in order, when the scanner collected them.
    pub subtasks: Option<SubtaskSet>,
    /// The first sub-task that could not be taken (bad, or over a limit): the attempt
    /// fails with it.
    pub subtask_error: Option<SubtaskError>,
}

impl Scanner {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A scanner that also collects `${addTask(name=N, args=A)}` sub-tasks (the split step
    /// of a map-reduce task).
    pub(crate) fn collecting_subtasks() -> Self {
        Self {
            subtasks: Some(SubtaskSet::new()),
            ..Self::default()
        }
    }

    /// Scans the next piece of output.
    pub(crate) fn feed(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            if self.capturing {
                match find(data, |b| b == b'\n') {
                    Some(i) => {
                        self.capture(&data[..i]);
                        self.end_line();
                        data = &data[i + 1..];
                    }
                    None => {
                        self.capture(data);
                        return;
                    }
                }
            } else if self.line_len >= LINE_SCAN_MAX {
                // Past the scanned part of a line without a `$` in it: skip to its end.
                match find(data, |b| b == b'\n') {
                    Some(i) => {
                        self.line_len = 0;
                        data = &data[i + 1..];
                    }
                    None => return,
                }
            } else {
                match find(data, |b| b == b'\n' || b == b'$') {
                    None => {
                        self.line_len = self.line_len.saturating_add(data.len());
                        return;
                    }
                    Some(i) if data[i] == b'\n' => {
                        self.line_len = 0;
                        data = &data[i + 1..];
                    }
                    Some(i) => {
                        self.line_len = self.line_len.saturating_add(i);
                        self.capturing = self.line_len < LINE_SCAN_MAX;
                        data = &data[i..];
                    }
                }
            }
        }
    }

    /// The end of the output: a last line without a newline counts too.
    pub(crate) fn finish(mut self) -> Scanned {
        if self.capturing {
            self.end_line();
        }
        Scanned {
            outputs: self.outputs.into_map(),
            exceeded: self.exceeded,
            subtasks: self.subtasks,
            subtask_error: self.subtask_error,
        }
    }

    /// Keeps what of `part` (the current line's continuation) is within the scanned part.
    fn capture(&mut self, part: &[u8]) {
        let room = LINE_SCAN_MAX.saturating_sub(self.line_len);
        self.pending
            .extend_from_slice(&part[..part.len().min(room)]);
        self.line_len = self.line_len.saturating_add(part.len());
    }

    fn end_line(&mut self) {
        if self.exceeded.is_none() {
            let line = String::from_utf8_lossy(&self.pending);
            let cut = self.line_len > LINE_SCAN_MAX;
            self.exceeded = take_line(&mut self.outputs, &line, cut).err();
        }
        if let (Some(set), None) = (self.subtasks.as_mut(), &self.subtask_error) {
            let line = String::from_utf8_lossy(&self.pending);
            let cut = self.line_len > LINE_SCAN_MAX;
            self.subtask_error = take_subtasks(set, &line, cut).err();
        }
        self.pending.clear();
        self.capturing = false;
        self.line_len = 0;
    }
}

/// Sets the pairs of a line (`cut`: only its first part was read), up to the first error.
fn take_line(outputs: &mut OutputSet, line: &str, cut: bool) -> Result<(), OutputLimitError> {
    for (key, value) in baton_core::params::parse_set_values(line) {
        outputs.set(key, value)?;
    }
    match baton_core::params::unclosed_set_value(line) {
        Some((key, seen)) if cut => limits::check_unfinished(key, seen),
        Some(_) | None => Ok(()),
    }
}

/// Adds the sub-tasks of a line (`cut`: only its first part was read), up to the first error.
fn take_subtasks(set: &mut SubtaskSet, line: &str, cut: bool) -> Result<(), SubtaskError> {
    baton_core::params::parse_add_tasks(line, cut)
        .into_iter()
        .try_for_each(|found| set.add(found?))
}

/// The sub-tasks of a succeeded split step: those its output added, then those of
/// `subtasks.jsonl` in its task directory `dir` (if it wrote one), or the first reason they
/// cannot be taken.
pub(crate) fn subtasks_of(
    scanned: &mut Scanned,
    dir: &std::path::Path,
) -> Result<Vec<Subtask>, SubtaskError> {
    if let Some(e) = scanned.subtask_error.take() {
        return Err(e);
    }
    let mut set = scanned.subtasks.take().unwrap_or_default();
    let file = dir.join(baton_core::params::SUBTASKS_FILE);
    match read_bounded(&file) {
        Ok(Some(text)) => set.add_all(baton_core::params::parse_subtasks_file(&text)?)?,
        Ok(None) => {}
        Err(problem) => return Err(SubtaskError::FileLine { line: 0, problem }),
    }
    Ok(set.into_list())
}

/// The text of `file`, `None` if there is none; a file larger than sub-tasks may be in all
/// is refused unread.
fn read_bounded(file: &std::path::Path) -> Result<Option<String>, String> {
    use std::io::Read;
    let f = match std::fs::File::open(file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot be read: {e}")),
    };
    // Room for a JSON line's quotes and field names beside each sub-task's bytes.
    let limit = 2 * baton_core::params::MAX_SUBTASKS_BYTES as u64;
    let mut bytes = Vec::new();
    f.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "the file is larger than {}",
            baton_core::size::format_bytes(limit as usize)
        ));
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// The first byte of `data` that `hit` accepts.
#[inline]
fn find(data: &[u8], hit: impl Fn(u8) -> bool) -> Option<usize> {
    data.iter().position(|&b| hit(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::params::limits::{MAX_OUTPUTS_BYTES, MAX_OUTPUT_PARAMS};

    fn scan(chunks: &[&[u8]]) -> Scanned {
        let mut scanner = Scanner::new();
        for chunk in chunks {
            scanner.feed(chunk);
        }
        scanner.finish()
    }

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn finds_pairs_on_lines_with_or_without_a_final_newline() {
        let found =
            scan(&[b"a ${setValue(x=1)}\nplain\n$ ${setValue(y=two words)} tail\n${setValue(z=)}"]);
        assert_eq!(
            found.outputs,
            map(&[("x", "1"), ("y", "two words"), ("z", "")])
        );
        assert!(found.exceeded.is_none());
    }

    #[test]
    fn pairs_split_across_chunks_are_found_but_not_across_lines() {
        let text = b"noise ${setValue(key=some value)} more\n${setValue(a=\n1)}\n";
        for cut in 0..text.len() {
            let found = scan(&[&text[..cut], &text[cut..]]);
            assert_eq!(found.outputs, map(&[("key", "some value")]), "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert_eq!(scan(&bytes).outputs, map(&[("key", "some value")]));
    }

    #[test]
    fn later_values_win() {
        let found = scan(&[b"${setValue(k=1)}\n${setValue(k=2)} ${setValue(k=3)}\n"]);
        assert_eq!(found.outputs, map(&[("k", "3")]));
    }

    #[test]
    fn only_the_first_part_of_a_long_line_is_scanned() {
        let mut line = b"${setValue(early=1)}".to_vec();
        line.resize(LINE_SCAN_MAX - 10, b'x');
        line.extend_from_slice(b"${setValue(cut=1)} ${setValue(late=1)}\n${setValue(next=1)}\n");
        let found = scan(&[&line]);
        assert_eq!(found.outputs, map(&[("early", "1"), ("next", "1")]));

        // A `$` only past the scanned part: nothing is captured.
        let mut line = vec![b'y'; LINE_SCAN_MAX + 5];
        line.extend_from_slice(b"${setValue(late=1)}\n${setValue(next=2)}\n");
        let mut scanner = Scanner::new();
        for chunk in line.chunks(1000) {
            scanner.feed(chunk);
            assert!(scanner.pending.is_empty());
        }
        assert_eq!(scanner.finish().outputs, map(&[("next", "2")]));

        // A value that runs past the scanned part is not cut short: the output is over the
        // limit, by that value.
        let mut line = b"${setValue(early=1)} ${setValue(v=".to_vec();
        line.resize(LINE_SCAN_MAX + 100, b'v');
        line.extend_from_slice(b")}\n${setValue(next=1)}\n");
        let mut scanner = Scanner::new();
        scanner.feed(&line);
        assert!(scanner.pending.len() <= LINE_SCAN_MAX);
        let found = scanner.finish();
        match found.exceeded {
            Some(OutputLimitError::ValueTooLarge { name, len }) => {
                assert_eq!(name, "v");
                assert!(len > MAX_OUTPUT_VALUE_BYTES, "{len}");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_value_over_its_limit_within_the_scanned_part_is_an_error() {
        let value = "v".repeat(MAX_OUTPUT_VALUE_BYTES + 1);
        let found =
            scan(&[format!("${{setValue(ok=1)}}\n${{setValue(big={value})}}\n").as_bytes()]);
        assert_eq!(
            found.exceeded,
            Some(OutputLimitError::ValueTooLarge {
                name: "big".into(),
                len: MAX_OUTPUT_VALUE_BYTES + 1
            })
        );
        // Exactly at the limit, after other text on its line: kept whole.
        let value = "v".repeat(MAX_OUTPUT_VALUE_BYTES);
        let noise = "n".repeat(MAX_OUTPUT_VALUE_BYTES / 2);
        let found = scan(&[format!("{noise} ${{setValue(big={value})}}\n").as_bytes()]);
        assert_eq!(found.exceeded, None);
        assert_eq!(found.outputs["big"], value);
    }

    #[test]
    fn one_key_too_many_is_an_error_that_names_it() {
        let mut scanner = Scanner::new();
        for i in 0..MAX_OUTPUT_PARAMS {
            scanner.feed(format!("${{setValue(k{i}={i})}}\n").as_bytes());
        }
        // Known keys can still change.
        scanner.feed(b"${setValue(k0=changed)}\n");
        scanner.feed(format!("${{setValue(k{MAX_OUTPUT_PARAMS}=x)}}\n").as_bytes());
        // What follows the first error is not looked at.
        scanner.feed(b"${setValue(k1=later)}\n");
        let found = scanner.finish();
        assert_eq!(
            found.exceeded,
            Some(OutputLimitError::TooMany {
                name: format!("k{MAX_OUTPUT_PARAMS}")
            })
        );
        assert_eq!(found.outputs["k0"], "changed");
        assert_eq!(found.outputs["k1"], "1");
    }

    #[test]
    fn the_total_size_is_an_error_past_its_limit() {
        let value = "v".repeat(60 * 1024);
        let mut scanner = Scanner::new();
        // 17 such pairs fit in 1 MiB, the 18th does not.
        for i in 0..18 {
            scanner.feed(format!("${{setValue(k{i:02}={value})}}\n").as_bytes());
        }
        let found = scanner.finish();
        assert!(
            matches!(&found.exceeded, Some(OutputLimitError::TooLarge { name, .. }) if name == "k17"),
            "{:?}",
            found.exceeded
        );
        assert_eq!(found.outputs.len(), 17);
        let total: usize = found.outputs.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert!(total <= MAX_OUTPUTS_BYTES, "{total}");
    }

    #[test]
    fn output_without_dollars_captures_nothing() {
        let mut scanner = Scanner::new();
        for _ in 0..100 {
            scanner.feed(&[b'a'; 10_000]);
            scanner.feed(b"\nline\n");
        }
        assert!(scanner.pending.capacity() == 0);
        let found = scanner.finish();
        assert!(found.outputs.is_empty() && found.exceeded.is_none());
    }

    fn collect(chunks: &[&[u8]]) -> Scanned {
        let mut scanner = Scanner::collecting_subtasks();
        for chunk in chunks {
            scanner.feed(chunk);
        }
        scanner.finish()
    }

    fn names(scanned: &mut Scanned, dir: &std::path::Path) -> Vec<(String, String)> {
        subtasks_of(scanned, dir)
            .unwrap()
            .into_iter()
            .map(|s| (s.name, s.args))
            .collect()
    }

    #[test]
    fn add_task_lines_are_collected_only_when_asked_beside_set_values() {
        let text = b"${addTask(name=p0, args=0)} ${setValue(x=1)}\nnoise\n${addTask(name=p1, args={\"a\": 1})}";
        let dir = tempfile::tempdir().unwrap();
        for cut in 0..text.len() {
            let mut found = collect(&[&text[..cut], &text[cut..]]);
            assert_eq!(found.outputs, map(&[("x", "1")]));
            assert_eq!(
                names(&mut found, dir.path()),
                vec![
                    ("p0".to_string(), "0".to_string()),
                    ("p1".to_string(), r#"{"a": 1}"#.to_string())
                ],
                "cut at {cut}"
            );
        }
        let plain = scan(&[text]);
        assert!(plain.subtasks.is_none() && plain.subtask_error.is_none());
        assert_eq!(plain.outputs, map(&[("x", "1")]));
    }

    #[test]
    fn the_subtasks_file_follows_the_lines_and_a_bad_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("subtasks.jsonl");
        std::fs::write(&file, "{\"name\": \"f1\", \"args\": [1, 2]}\n").unwrap();
        let mut found = collect(&[b"${addTask(name=p0)}\n"]);
        assert_eq!(
            names(&mut found, dir.path()),
            vec![
                ("p0".to_string(), String::new()),
                ("f1".to_string(), "[1,2]".to_string())
            ]
        );
        std::fs::write(&file, "{\"name\": \"p0\", \"args\": \"other\"}\n").unwrap();
        let mut found = collect(&[b"${addTask(name=p0)}\n"]);
        let e = subtasks_of(&mut found, dir.path()).unwrap_err().to_string();
        assert!(
            e.contains("`p0` was added twice with different args"),
            "{e}"
        );
        std::fs::write(&file, "nope\n").unwrap();
        let e = subtasks_of(&mut collect(&[]), dir.path())
            .unwrap_err()
            .to_string();
        assert!(e.contains("subtasks.jsonl line 1: not JSON"), "{e}");
    }

    #[test]
    fn a_bad_or_too_long_add_task_is_kept_as_the_error_and_ends_collecting() {
        let dir = tempfile::tempdir().unwrap();
        let mut found =
            collect(&[b"${addTask(name=ok)}\n${addTask(name=bad name)}\n${addTask(name=late)}\n"]);
        let e = subtasks_of(&mut found, dir.path()).unwrap_err();
        assert!(matches!(e, SubtaskError::BadName { .. }), "{e:?}");
        let mut line = b"${addTask(name=big, args=".to_vec();
        line.resize(LINE_SCAN_MAX + 100, b'a');
        line.extend_from_slice(b")}\n");
        let mut found = collect(&[&line]);
        let e = subtasks_of(&mut found, dir.path()).unwrap_err();
        assert!(
            matches!(&e, SubtaskError::ArgsTooLarge { name, .. } if name == "big"),
            "{e:?}"
        );
    }

    #[test]
    fn invalid_utf8_does_not_hide_pairs() {
        let found = scan(&[b"\xff\xfe ${setValue(a=\xc3\xa9t\xc3\xa9)} \xff\n"]);
        assert_eq!(found.outputs, map(&[("a", "été")]));
    }
}
