//! Output params: a task sets `key` for its downstream tasks by printing
//! `${setValue(key=value)}` on a line of its output (the parsing rules are
//! [`baton_core::params::parse_set_values`]'s).
//!
//! The attempt's output is scanned as it streams through the log copier, line by line, whether
//! or not the log cap has been reached (the cap limits the log file, not the scan). stdout and
//! stderr share one pipe, so a `setValue` printed on stderr counts too.
//!
//! Bounded, whatever the task prints:
//! - only the first [`LINE_SCAN_MAX`] bytes of a line are scanned; a pair that is not complete
//!   within them is not seen (a cut never yields a shortened value: a value ends at its `)}`);
//! - at most [`MAX_KEYS`] keys, and [`MAX_BYTES`] of keys and values in all. A later value of a
//!   key replaces the earlier one; a pair that would go over a limit is ignored as if it had
//!   not been printed (a key keeps its earlier value), and the attempt appends one warning line
//!   to its log.
//!
//! Cheap when there is nothing to find: bytes are only looked at for `\n` and `$`, and nothing
//! is copied or allocated for a line until it contains a `$`. A task printing nothing costs
//! nothing.
//!
//! Output that is not UTF-8 is read lossily (invalid bytes become U+FFFD).
//!
//! Only a succeeded attempt reports its outputs (see the attempt): a failed, killed or timed
//! out attempt passes nothing on.

use std::collections::HashMap;

/// Most bytes of one line that are scanned for `setValue`.
pub(crate) const LINE_SCAN_MAX: usize = 64 * 1024;
/// Most distinct keys one attempt sets.
pub(crate) const MAX_KEYS: usize = 1000;
/// Most bytes (keys plus values) of the outputs of one attempt.
pub(crate) const MAX_BYTES: usize = 1024 * 1024;

/// The log line written when some pairs were ignored for the limits.
pub(crate) fn limit_warning() -> String {
    format!(
        "\n[baton] output params beyond the limits ({MAX_KEYS} keys, {MAX_BYTES} bytes in all) were ignored\n"
    )
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
    outputs: HashMap<String, String>,
    /// Bytes of keys and values in `outputs`.
    bytes: usize,
    /// True when a pair was ignored for the limits.
    over_limit: bool,
}

/// What a scan found.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    pub outputs: HashMap<String, String>,
    /// True when some pairs were ignored for the limits.
    pub over_limit: bool,
}

impl Scanner {
    pub(crate) fn new() -> Self {
        Self::default()
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
            outputs: self.outputs,
            over_limit: self.over_limit,
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
        let line = String::from_utf8_lossy(&self.pending);
        for (key, value) in baton_core::params::parse_set_values(&line) {
            self.set(key, value);
        }
        self.pending.clear();
        self.capturing = false;
        self.line_len = 0;
    }

    fn set(&mut self, key: String, value: String) {
        let size = key.len() + value.len();
        match self.outputs.get_mut(&key) {
            Some(old) => {
                let bytes = self.bytes - (key.len() + old.len()) + size;
                if bytes > MAX_BYTES {
                    self.over_limit = true;
                    return;
                }
                self.bytes = bytes;
                *old = value;
            }
            None => {
                if self.outputs.len() >= MAX_KEYS || self.bytes + size > MAX_BYTES {
                    self.over_limit = true;
                    return;
                }
                self.bytes += size;
                self.outputs.insert(key, value);
            }
        }
    }
}

/// The first byte of `data` that `hit` accepts.
#[inline]
fn find(data: &[u8], hit: impl Fn(u8) -> bool) -> Option<usize> {
    data.iter().position(|&b| hit(b))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert!(!found.over_limit);
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

        // A value that runs past the scanned part is not cut short: it is not seen at all.
        let mut line = b"${setValue(v=".to_vec();
        line.resize(LINE_SCAN_MAX + 100, b'v');
        line.extend_from_slice(b")}\n");
        let mut scanner = Scanner::new();
        scanner.feed(&line);
        assert!(scanner.pending.len() <= LINE_SCAN_MAX);
        assert!(scanner.finish().outputs.is_empty());
    }

    #[test]
    fn the_number_of_keys_is_capped() {
        let mut scanner = Scanner::new();
        for i in 0..MAX_KEYS + 5 {
            scanner.feed(format!("${{setValue(k{i}={i})}}\n").as_bytes());
        }
        // Known keys can still change.
        scanner.feed(b"${setValue(k0=changed)}\n");
        let found = scanner.finish();
        assert_eq!(found.outputs.len(), MAX_KEYS);
        assert!(found.over_limit);
        assert_eq!(found.outputs["k0"], "changed");
        assert!(!found.outputs.contains_key(&format!("k{MAX_KEYS}")));
    }

    #[test]
    fn the_total_size_is_capped() {
        let value = "v".repeat(60 * 1024);
        let mut scanner = Scanner::new();
        for i in 0..20 {
            scanner.feed(format!("${{setValue(k{i:02}={value})}}\n").as_bytes());
        }
        // Too big a new value for a known key: it keeps its earlier value.
        scanner.feed(format!("${{setValue(k00={value}{value})}}\n").as_bytes());
        scanner.feed(b"${setValue(k01=small)}\n");
        let found = scanner.finish();
        assert!(found.over_limit);
        let total: usize = found.outputs.iter().map(|(k, v)| k.len() + v.len()).sum();
        assert!(total <= MAX_BYTES, "{total}");
        assert_eq!(found.outputs.len(), MAX_BYTES / (60 * 1024 + 3));
        assert_eq!(found.outputs["k00"], value);
        assert_eq!(found.outputs["k01"], "small");
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
        assert!(found.outputs.is_empty() && !found.over_limit);
    }

    #[test]
    fn invalid_utf8_does_not_hide_pairs() {
        let found = scan(&[b"\xff\xfe ${setValue(a=\xc3\xa9t\xc3\xa9)} \xff\n"]);
        assert_eq!(found.outputs, map(&[("a", "été")]));
    }
}
