//! Params in a `sql` task's statements: each `${name}` becomes a bound parameter (`$1` on
//! PostgreSQL, `?` on MySQL and SQLite), never text spliced into SQL. A reference stands
//! where a value may: in the statement's code, or as a whole string literal (`'${dt}'` is the
//! same as `${dt}`). One inside a longer string literal, a quoted identifier or a
//! dollar-quoted body is refused (a bound value cannot be part of those); one in a comment is
//! dropped. The text is split into statements at each `;` outside quotes and comments.
//!
//! The master resolves a `sql` task's text into [`BoundStatement`]s
//! (`ResolvedTask::statements`) and the worker renders each with its database's placeholder.

use super::MARK;

/// One statement with its bound values: the text is `parts` joined by placeholders, the
/// `n`th placeholder taking `args[n]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundStatement {
    /// The text around the placeholders: one more than `args`.
    pub parts: Vec<String>,
    /// The values, in order.
    pub args: Vec<String>,
}

impl BoundStatement {
    /// The statement with placeholder `n` (0-based) written by `placeholder`
    /// (`|n| format!("${}", n + 1)` for PostgreSQL, `|_| "?".into()` for MySQL and SQLite).
    pub fn render(&self, placeholder: impl Fn(usize) -> String) -> String {
        let mut out = String::new();
        for (i, part) in self.parts.iter().enumerate() {
            out.push_str(part);
            if i < self.args.len() {
                out.push_str(&placeholder(i));
            }
        }
        out
    }
}

/// Why a reference cannot be bound where it stands.
pub(crate) const INSIDE_LITERAL: &str = "a bound value cannot be part of a longer string literal: write the literal as '${name}' alone, or join strings in SQL (`'a' || ${name}`, `CONCAT('a', ${name})`)";
const INSIDE_IDENTIFIER: &str =
    "a bound value cannot be a quoted identifier (a table or column name)";
const INSIDE_DOLLAR: &str = "a bound value cannot be inside a dollar-quoted body";

/// The statements of `skeleton` (the SQL with each reference a [`MARK`]) with `values` (the
/// references' values, in order) bound; the error names the reference (by its index) and why.
pub(crate) fn statements(
    skeleton: &str,
    values: &[String],
) -> Result<Vec<BoundStatement>, (usize, &'static str)> {
    let chars: Vec<char> = skeleton.chars().collect();
    let mut out = Vec::new();
    let mut current = BoundStatement {
        parts: vec![String::new()],
        args: Vec::new(),
    };
    let mut mark = 0usize;
    let mut i = 0usize;
    let push = |s: &mut BoundStatement, c: char| s.parts.last_mut().expect("one part").push(c);
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            _ if c == MARK => {
                bind(&mut current, values.get(mark).cloned().unwrap_or_default());
                mark += 1;
                i += 1;
            }
            ';' => {
                finish(&mut out, std::mem::replace(&mut current, empty()));
                i += 1;
            }
            '-' if next == Some('-') => {
                let end = chars[i..]
                    .iter()
                    .position(|&c| c == '\n')
                    .map_or(chars.len(), |p| i + p);
                mark += chars[i..end].iter().filter(|&&c| c == MARK).count();
                chars[i..end]
                    .iter()
                    .filter(|&&c| c != MARK)
                    .for_each(|&c| push(&mut current, c));
                i = end;
            }
            '/' if next == Some('*') => {
                let end = find(&chars, i + 2, &['*', '/']).map_or(chars.len(), |p| p + 2);
                mark += chars[i..end].iter().filter(|&&c| c == MARK).count();
                chars[i..end]
                    .iter()
                    .filter(|&&c| c != MARK)
                    .for_each(|&c| push(&mut current, c));
                i = end;
            }
            '\'' => {
                let end = quoted_end(&chars, i, '\'');
                let body = &chars[i + 1..end.saturating_sub(1).max(i + 1)];
                if body == [MARK] && end > i + 2 {
                    bind(&mut current, values.get(mark).cloned().unwrap_or_default());
                } else if body.contains(&MARK) {
                    return Err((mark, INSIDE_LITERAL));
                } else {
                    chars[i..end].iter().for_each(|&c| push(&mut current, c));
                }
                mark += body.iter().filter(|&&c| c == MARK).count();
                i = end;
            }
            '"' | '`' => {
                let end = quoted_end(&chars, i, c);
                if chars[i..end].contains(&MARK) {
                    return Err((mark, INSIDE_IDENTIFIER));
                }
                chars[i..end].iter().for_each(|&c| push(&mut current, c));
                i = end;
            }
            '$' if dollar_tag(&chars, i).is_some() => {
                let tag = dollar_tag(&chars, i).expect("checked");
                let close =
                    find(&chars, i + tag.len(), &tag).map_or(chars.len(), |p| p + tag.len());
                if chars[i..close].contains(&MARK) {
                    return Err((mark, INSIDE_DOLLAR));
                }
                chars[i..close].iter().for_each(|&c| push(&mut current, c));
                i = close;
            }
            _ => {
                push(&mut current, c);
                i += 1;
            }
        }
    }
    finish(&mut out, current);
    Ok(out)
}

fn empty() -> BoundStatement {
    BoundStatement {
        parts: vec![String::new()],
        args: Vec::new(),
    }
}

fn bind(s: &mut BoundStatement, value: String) {
    s.args.push(value);
    s.parts.push(String::new());
}

/// Keeps a statement that holds more than blanks.
fn finish(out: &mut Vec<BoundStatement>, mut s: BoundStatement) {
    if s.args.is_empty() && s.parts.iter().all(|p| p.trim().is_empty()) {
        return;
    }
    if let Some(first) = s.parts.first_mut() {
        *first = first.trim_start().to_string();
    }
    if let Some(last) = s.parts.last_mut() {
        *last = last.trim_end().to_string();
    }
    out.push(s);
}

/// The index just past the quote closing the one at `open` (a doubled quote is one quote).
fn quoted_end(chars: &[char], open: usize, quote: char) -> usize {
    let mut i = open + 1;
    while i < chars.len() {
        if chars[i] == quote {
            if chars.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    chars.len()
}

/// The first index at or after `from` where `needle` starts.
fn find(chars: &[char], from: usize, needle: &[char]) -> Option<usize> {
    (from..chars.len().saturating_sub(needle.len() - 1)).find(|&i| chars[i..].starts_with(needle))
}

/// A PostgreSQL dollar-quote tag starting at `at` (`$$`, `$body$`).
fn dollar_tag(chars: &[char], at: usize) -> Option<Vec<char>> {
    let rest = &chars[at + 1..];
    let len = rest.iter().position(|&c| c == '$')?;
    let tag = &rest[..len];
    let ok = tag.iter().all(|c| c.is_alphanumeric() || *c == '_')
        && tag.first().is_none_or(|c| !c.is_ascii_digit());
    ok.then(|| chars[at..at + len + 2].to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each statement as PostgreSQL would get it, with its values.
    type Rendered = Vec<(String, Vec<String>)>;

    fn bound(sql: &str, values: &[&str]) -> Result<Rendered, (usize, &'static str)> {
        let skeleton = sql.replace("${}", &MARK.to_string());
        let values: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        Ok(statements(&skeleton, &values)?
            .into_iter()
            .map(|s| (s.render(|n| format!("${}", n + 1)), s.args))
            .collect())
    }

    #[test]
    fn references_become_bound_parameters_statement_by_statement() {
        let got = bound(
            "insert into t select * from s where dt = ${};\n  select count(*) as rows from t where dt = '${}' and n > ${} ;\n",
            &["2026-01-31'; drop table t; --", "d2", "3"],
        )
        .unwrap();
        assert_eq!(
            got,
            [
                (
                    "insert into t select * from s where dt = $1".to_string(),
                    vec!["2026-01-31'; drop table t; --".to_string()]
                ),
                (
                    "select count(*) as rows from t where dt = $1 and n > $2".to_string(),
                    vec!["d2".to_string(), "3".to_string()]
                ),
            ]
        );
    }

    #[test]
    fn quotes_comments_and_dollar_bodies_are_read_as_sql_reads_them() {
        let got = bound(
            "select 'a;b', 'it''s', \"col;x\" -- a ${} ; comment\n/* ${} ; */ from t where x = ${}; ;",
            &["skipped", "skipped", "v"],
        )
        .unwrap();
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(
            got[0].0,
            "select 'a;b', 'it''s', \"col;x\" -- a  ; comment\n/*  ; */ from t where x = $1"
        );
        assert_eq!(got[0].1, ["v"]);
        let body = bound(
            "create function f() returns int as $$ select 1; $$ language sql; select ${}",
            &["x"],
        )
        .unwrap();
        assert_eq!(body.len(), 2, "{body:?}");
    }

    #[test]
    fn a_reference_that_cannot_be_bound_is_refused_naming_it() {
        assert_eq!(
            bound("select 'day ${}'", &["x"]).unwrap_err(),
            (0, INSIDE_LITERAL)
        );
        assert_eq!(
            bound("select ${}, \"${}\"", &["a", "b"]).unwrap_err(),
            (1, INSIDE_IDENTIFIER)
        );
        assert_eq!(
            bound("do $x$ begin ${} end $x$", &["a"]).unwrap_err(),
            (0, INSIDE_DOLLAR)
        );
    }
}
