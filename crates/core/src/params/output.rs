//! Output params: a task sets `key` for its downstream tasks by printing
//! `${setValue(key=value)}` on stdout, the DolphinScheduler way. The worker parses each line;
//! checks read task bodies to learn which names upstream tasks may set.

use super::text::is_ident;

const OPEN: &str = "${setValue(";
const CLOSE: &str = ")}";

/// The `(key, value)` pairs a line of task output sets, in order (a later pair for the same
/// key wins when the caller inserts them into a map).
///
/// A pair is `${setValue(KEY=VALUE)}`: KEY is a param name (spaces around it are dropped),
/// VALUE is everything up to the first `)}` after the `=`, verbatim (spaces, `=` and `(`
/// included; empty is allowed). Anything else (no `=`, a bad key, no closing `)}`) is not a
/// pair and is ignored, and scanning goes on after it.
pub fn parse_set_values(line: &str) -> Vec<(String, String)> {
    pieces(line)
        .filter_map(|p| match p {
            Piece::Pair(key, value) => Some((key.to_string(), value.to_string())),
            Piece::Open(..) => None,
        })
        .collect()
}

/// A pair left open at the end of `line`: `${setValue(KEY=` with a valid KEY and no `)}`
/// after it. Returns KEY and how many bytes of its value the line holds. A reader that reads
/// only the first part of a long line calls this on that part: an open pair there is a value
/// running past it (see [`super::limits::check_unfinished`]). In a whole line an open pair
/// is just text, and is ignored.
pub fn unclosed_set_value(line: &str) -> Option<(&str, usize)> {
    pieces(line).find_map(|p| match p {
        Piece::Open(key, held) => Some((key, held)),
        Piece::Pair(..) => None,
    })
}

/// What a scan of a line finds, in order: closed pairs, then at most one open pair (once a
/// pair has no `)}` after it, no later one has either).
enum Piece<'a> {
    /// `${setValue(KEY=VALUE)}`.
    Pair(&'a str, &'a str),
    /// `${setValue(KEY=` and the length of what follows, with no `)}`.
    Open(&'a str, usize),
}

/// The pairs of `line` with a valid key; text that is not one is skipped, and scanning goes
/// on just after its `${setValue(`.
fn pieces(line: &str) -> impl Iterator<Item = Piece<'_>> {
    let mut rest = Some(line);
    std::iter::from_fn(move || loop {
        let text = rest?;
        let body = &text[text.find(OPEN)? + OPEN.len()..];
        rest = Some(body);
        let Some((key, after)) = body.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if !is_ident(key) {
            continue;
        }
        return Some(match after.find(CLOSE) {
            Some(end) => {
                rest = Some(&after[end + CLOSE.len()..]);
                Piece::Pair(key, &after[..end])
            }
            None => {
                rest = None;
                Piece::Open(key, after.len())
            }
        });
    })
}

/// The keys a task body may set, found by looking for `setValue(KEY=` in its text (so
/// `echo '${setValue(rows=$n)}'` and Python's `f"${{setValue(rows={n})}}"` both count).
/// Keys computed at run time are not found; checks accept extra names for them.
pub fn declared_outputs(body: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(pos) = rest.find("setValue(") {
        rest = &rest[pos + "setValue(".len()..];
        if let Some((key, _)) = rest.split_once('=') {
            let key = key.trim();
            if is_ident(key) && !names.iter().any(|n| n == key) {
                names.push(key.to_string());
            }
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::{parse_set_values, unclosed_set_value};

    #[test]
    fn an_open_pair_at_the_end_of_a_line_is_found() {
        let line = "x ${setValue(a=1)} ${setValue(b=partial va";
        assert_eq!(parse_set_values(line), vec![("a".into(), "1".into())]);
        assert_eq!(unclosed_set_value(line), Some(("b", "partial va".len())));
        // The first open one: the value of `c` runs over the second's opening.
        assert_eq!(
            unclosed_set_value("${setValue(c=12${setValue(d=3"),
            Some(("c", "12${setValue(d=3".len()))
        );
        for closed in [
            "${setValue(a=1)}",
            "plain",
            "${setValue(bad key=1",
            "${setValue(x",
        ] {
            assert_eq!(unclosed_set_value(closed), None, "{closed}");
        }
    }
}
