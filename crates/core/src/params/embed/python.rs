//! Params in a python task's script: each `${name}` becomes a Python string literal holding
//! the value, escaped. Outside strings it is an expression of type `str`; inside a string it
//! closes that string, adds the literal and reopens it (`"a${dt}b"` becomes
//! `"a" "<value>" "b"`), which Python joins into one string when it compiles the script. So a
//! value is always text to Python and never code.

use super::MARK;

/// Where a reference stands in a Python script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Context {
    /// In code or a comment.
    Code,
    /// In code inside an f-string's `{…}`, where Pythons before 3.12 allow neither a
    /// backslash nor the f-string's own quote.
    Field {
        /// The quote the literal written here must use.
        quote: char,
    },
    /// Inside a string literal that began with `prefix` and `quote` (`"`, `'`, `"""`, `'''`).
    Str {
        /// Its prefix as written (`r`, `b`, `f`, `rb`, …; empty for none).
        prefix: String,
        /// Its quote.
        quote: String,
    },
}

/// What writes `value` in `context`.
pub(crate) fn embed(context: &Context, value: &str) -> String {
    match context {
        Context::Code => literal(value, '"'),
        Context::Field { quote } => {
            let hex: String = value.bytes().map(|b| format!("{b:02x}")).collect();
            format!("bytes.fromhex({quote}{hex}{quote}).decode()")
        }
        Context::Str { prefix, quote } => {
            let bytes = prefix.contains(['b', 'B']);
            let inner = if bytes {
                bytes_literal(value)
            } else {
                literal(value, '"')
            };
            format!("{quote} {inner} {prefix}{quote}")
        }
    }
}

/// `value` as a Python `str` literal in `quote`s.
fn literal(value: &str, quote: char) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push(quote);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `value`'s UTF-8 bytes as a Python `bytes` literal.
fn bytes_literal(value: &str) -> String {
    let mut out = String::from("b\"");
    for b in value.bytes() {
        match b {
            b'\\' | b'"' => {
                out.push('\\');
                out.push(char::from(b));
            }
            0x20..=0x7e => out.push(char::from(b)),
            b => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

/// A nesting level of the scan.
#[derive(Debug, Clone)]
enum Frame {
    /// Code; `field`: inside an f-string's `{…}` whose string uses this quote character.
    Code { field: Option<char> },
    Str {
        prefix: String,
        quote: String,
        formatted: bool,
    },
}

/// The context of each [`MARK`] in `script`, in order.
pub(crate) fn contexts(script: &str) -> Vec<Context> {
    let chars: Vec<char> = script.chars().collect();
    let mut frames = vec![Frame::Code { field: None }];
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let frame = frames
            .last()
            .cloned()
            .unwrap_or(Frame::Code { field: None });
        i = match frame {
            Frame::Code { field } => code(&chars, i, field, &mut frames, &mut out),
            Frame::Str {
                prefix,
                quote,
                formatted,
            } => {
                let s = StrFrame {
                    prefix: &prefix,
                    quote: &quote,
                    formatted,
                };
                string(&chars, i, &s, &mut frames, &mut out)
            }
        };
    }
    out
}

/// One step in code.
fn code(
    chars: &[char],
    i: usize,
    field: Option<char>,
    frames: &mut Vec<Frame>,
    out: &mut Vec<Context>,
) -> usize {
    let here = match field {
        Some('"') => Context::Field { quote: '\'' },
        Some(_) => Context::Field { quote: '"' },
        None => Context::Code,
    };
    match chars[i] {
        MARK => out.push(here),
        '#' => {
            let mut j = i;
            while j < chars.len() && chars[j] != '\n' {
                if chars[j] == MARK {
                    out.push(Context::Code);
                }
                j += 1;
            }
            return j;
        }
        '}' if field.is_some() => {
            frames.pop();
        }
        '{' if field.is_some() => frames.push(Frame::Code { field }),
        '"' | '\'' => return open_string(chars, i, i, frames),
        c if c.is_alphabetic() || c == '_' => {
            let start = i;
            let mut j = i;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            let word: String = chars[start..j].iter().collect();
            let is_prefix = word.len() <= 2
                && word
                    .chars()
                    .all(|c| matches!(c.to_ascii_lowercase(), 'r' | 'b' | 'f' | 'u'));
            if is_prefix && matches!(chars.get(j), Some('"' | '\'')) {
                return open_string(chars, start, j, frames);
            }
            return j;
        }
        _ => {}
    }
    i + 1
}

/// A string literal whose prefix starts at `start` and whose quote is at `q`.
fn open_string(chars: &[char], start: usize, q: usize, frames: &mut Vec<Frame>) -> usize {
    let c = chars[q];
    let triple = chars.get(q + 1) == Some(&c) && chars.get(q + 2) == Some(&c);
    let quote: String = std::iter::repeat_n(c, if triple { 3 } else { 1 }).collect();
    let prefix: String = chars[start..q].iter().collect();
    let lower = prefix.to_ascii_lowercase();
    frames.push(Frame::Str {
        formatted: lower.contains('f'),
        prefix,
        quote: quote.clone(),
    });
    q + quote.chars().count()
}

/// The string literal being scanned.
struct StrFrame<'a> {
    prefix: &'a str,
    quote: &'a str,
    formatted: bool,
}

/// One step inside a string literal.
fn string(
    chars: &[char],
    i: usize,
    s: &StrFrame<'_>,
    frames: &mut Vec<Frame>,
    out: &mut Vec<Context>,
) -> usize {
    let quote_len = s.quote.chars().count();
    let closes = chars[i..]
        .iter()
        .take(quote_len)
        .copied()
        .eq(s.quote.chars());
    match chars[i] {
        MARK => out.push(Context::Str {
            prefix: s.prefix.to_string(),
            quote: s.quote.to_string(),
        }),
        // Even in a raw string a backslash keeps the quote after it from ending the string.
        '\\' if chars.get(i + 1) != Some(&MARK) => return i + 2,
        _ if closes => {
            frames.pop();
            return i + quote_len;
        }
        '{' if s.formatted && chars.get(i + 1) == Some(&'{') => return i + 2,
        '{' if s.formatted => {
            let own = s.quote.chars().next();
            frames.push(Frame::Code { field: own });
        }
        _ => {}
    }
    i + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(script: &str) -> Vec<Context> {
        contexts(&script.replace("@", &MARK.to_string()))
    }

    fn code() -> Context {
        Context::Code
    }

    fn s(prefix: &str, quote: &str) -> Context {
        Context::Str {
            prefix: prefix.into(),
            quote: quote.into(),
        }
    }

    #[test]
    fn strings_and_code() {
        assert_eq!(
            at("x = @\nprint(\"a @\", 'b @', r'c @', b\"d @\")"),
            [code(), s("", "\""), s("", "'"), s("r", "'"), s("b", "\"")]
        );
        assert_eq!(
            at("'''it's @''' \"\"\"@\"\"\" @"),
            [s("", "'''"), s("", "\"\"\""), code()]
        );
        assert_eq!(at("print('a\\'@') # it's @"), [s("", "'"), code()]);
        assert_eq!(at("rb = @; br'@'"), [code(), s("br", "'")]);
    }

    #[test]
    fn f_string_fields_are_code() {
        assert_eq!(
            at("f\"a {x + @} @ {{@}}\""),
            [Context::Field { quote: '\'' }, s("f", "\""), s("f", "\"")]
        );
    }

    #[test]
    fn values_become_literals() {
        let v = "a\"b'c\\d\ne\u{7}é";
        assert_eq!(
            embed(&code(), v),
            "\"a\\\"b'c\\\\d\\ne\\u0007é\"".to_string()
        );
        assert_eq!(embed(&s("f", "'''"), "x"), "''' \"x\" f'''");
        assert_eq!(
            embed(&Context::Field { quote: '\'' }, "a\\"),
            "bytes.fromhex('615c').decode()"
        );
        assert_eq!(embed(&s("b", "\""), "é\""), "\" b\"\\xc3\\xa9\\\"\" b\"");
    }
}
