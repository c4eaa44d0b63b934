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
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(start) = rest.find(OPEN) {
        let body = &rest[start + OPEN.len()..];
        rest = body;
        let Some((key, after)) = body.split_once('=') else {
            continue;
        };
        let key = key.trim();
        if let Some(end) = after.find(CLOSE).filter(|_| is_ident(key)) {
            out.push((key.to_string(), after[..end].to_string()));
            rest = &after[end + CLOSE.len()..];
        }
    }
    out
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
