//! Splitting a text into literal runs, `${name}` references and `$[...]` time expressions,
//! so that every consumer (substitution, checks, listing references) agrees on what counts.

/// A part of a text: literal, a reference to a param, or a time expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Copied as is.
    Text(&'a str),
    /// The name inside `${...}`.
    Ref(&'a str),
    /// The expression inside `$[...]`.
    Expr(&'a str),
}

/// True for a param name: a letter or `_`, then letters, digits, `_` or `.`.
pub(crate) fn is_ident(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// The next `${` (or `$[` when `exprs`) in `text`: its position and the bracket.
fn next_open(text: &str, exprs: bool) -> Option<(usize, u8)> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(1)).find_map(|i| match (bytes[i], bytes[i + 1]) {
        (b'$', b'{') => Some((i, b'{')),
        (b'$', b'[') if exprs => Some((i, b'[')),
        _ => None,
    })
}

/// Splits `text` into pieces. `$${x}` yields the literal `${x}`; with `exprs`, `$[e]` is a
/// time expression (up to the first `]` on the same line) and `$$[e]` the literal `$[e]`.
/// Without `exprs`, `$[...]` is plain text, as it was before time expressions existed.
pub(crate) fn pieces(text: &str, exprs: bool) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some((pos, open)) = next_open(rest, exprs) {
        let escaped = rest[..pos].ends_with('$');
        let after = &rest[pos + 2..];
        let close = if open == b'{' { '}' } else { ']' };
        let end = after.find(close).filter(|&end| {
            let inner = &after[..end];
            if open == b'{' {
                is_ident(inner)
            } else {
                !inner.contains('\n')
            }
        });
        match end {
            Some(end) => {
                let inner = &after[..end];
                if escaped {
                    out.push(Piece::Text(&rest[..pos - 1]));
                    out.push(Piece::Text(&rest[pos..pos + 2 + end + 1]));
                } else {
                    out.push(Piece::Text(&rest[..pos]));
                    out.push(if open == b'{' {
                        Piece::Ref(inner)
                    } else {
                        Piece::Expr(inner)
                    });
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push(Piece::Text(&rest[..pos + 2]));
                rest = after;
            }
        }
    }
    out.push(Piece::Text(rest));
    out.retain(|p| *p != Piece::Text(""));
    out
}

/// `text` with each time expression replaced by what `expr` makes of it, and everything
/// else, `${name}` included, as it is: how a start-time value is expanded.
pub(crate) fn expand_times(text: &str, mut expr: impl FnMut(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    for piece in pieces(text, true) {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Ref(name) => {
                out.push_str("${");
                out.push_str(name);
                out.push('}');
            }
            Piece::Expr(e) => out.push_str(&expr(e)),
        }
    }
    out
}
