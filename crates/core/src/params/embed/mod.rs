//! How a param's value is written into a task's program so that it stays data: the value
//! reaches the program as exactly that string, whatever it contains (`$(…)`, backquotes,
//! `;`, quotes, newlines, `${other}`), and is never read as code by the language it is
//! written into.
//!
//! Each language scans the program once, with every `${name}` replaced by a marker, to learn
//! where each reference stands (outside quotes, inside a string, a comment, a here-document),
//! and then writes each one in the form that is exact there:
//!
//! - [`bash`]: a reference to an environment variable that holds the value, quoted for where
//!   it stands (`"${BATON_PARAM_dt}"` outside quotes, `${BATON_PARAM_dt}` inside double quotes,
//!   `'"${BATON_PARAM_dt}"'` inside single quotes);
//! - [`python`]: a string literal holding the value, escaped, joined to the string it stands
//!   in by Python's implicit concatenation (`"a${dt}b"` becomes `"a" "<value>" "b"`);
//! - [`cel`]: a variable bound to the value (a number or a bool when the value is one, else a
//!   string), so a `switch` condition compares values and never runs them;
//! - [`sql`]: a bound parameter (`$1`, `?`), never text in the statement;
//! - [`http`]: percent-encoded in a URL, refused in a header when it holds a line break,
//!   kept inside its string in a JSON body.

pub(crate) mod bash;
pub(crate) mod cel;
pub(crate) mod http;
pub(crate) mod python;
pub mod sql;

/// Stands for one `${name}` in the program being scanned: a character from Unicode's private
/// use area, which a program's own text is not expected to hold (one that does only makes
/// the scan see a reference where there is none, which is harmless).
pub(crate) const MARK: char = '\u{F8FF}';

/// The environment variable a param's value is exported in for a task: `BATON_PARAM_` and
/// the name, with each `.` (of `system.*` names) written `__`.
pub fn env_name(param: &str) -> String {
    format!("BATON_PARAM_{}", param.replace('.', "__"))
}
