//! Params in a `switch` condition: each `${name}` becomes a CEL variable bound to the value,
//! so `${rows} > 100` compares a number and a value such as `1 || true` is a string that
//! compares false, never an expression that holds. Outside a string literal the variable is
//! a number or a bool when the whole value reads as one, else a string; inside a string
//! literal (`'${env}' == 'prod'`) it is joined to that string as a string.

use super::MARK;

/// A value bound to a condition's variable.
#[derive(Debug, Clone, PartialEq)]
pub enum Binding {
    /// The value read as an integer.
    Int(i64),
    /// The value read as a number with a fraction or an exponent.
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// Anything else, as it is.
    Str(String),
}

impl Binding {
    /// `value` as the most specific type it reads as.
    pub fn typed(value: &str) -> Binding {
        if let Ok(i) = value.parse::<i64>() {
            return Binding::Int(i);
        }
        match value {
            "true" => return Binding::Bool(true),
            "false" => return Binding::Bool(false),
            _ => {}
        }
        match value.parse::<f64>() {
            Ok(f) if f.is_finite() && value.bytes().any(|b| b.is_ascii_digit()) => {
                Binding::Float(f)
            }
            _ => Binding::Str(value.to_string()),
        }
    }
}

/// Where a reference stands in a condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Context {
    /// In the expression itself.
    Code,
    /// Inside a string literal opened with `prefix` and `quote`.
    Str {
        /// `r`/`R` for a raw string, else empty.
        prefix: String,
        /// `'`, `"`, `'''` or `"""`.
        quote: String,
    },
}

/// What writes variable `var` in `context`, and the value it is bound to.
pub(crate) fn embed(context: &Context, var: &str, value: &str) -> (String, Binding) {
    match context {
        Context::Code => (var.to_string(), Binding::typed(value)),
        Context::Str { prefix, quote } => (
            format!("{quote} + {var} + {prefix}{quote}"),
            Binding::Str(value.to_string()),
        ),
    }
}

/// The context of each [`MARK`] in `condition`, in order.
pub(crate) fn contexts(condition: &str) -> Vec<Context> {
    let chars: Vec<char> = condition.chars().collect();
    let mut out = Vec::new();
    let mut open: Option<(String, String)> = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match &open {
            None => match c {
                MARK => out.push(Context::Code),
                '"' | '\'' => {
                    let raw = i > 0 && matches!(chars[i - 1], 'r' | 'R');
                    let prefix = if raw {
                        chars[i - 1].to_string()
                    } else {
                        String::new()
                    };
                    let triple = chars.get(i + 1) == Some(&c) && chars.get(i + 2) == Some(&c);
                    let quote: String =
                        std::iter::repeat_n(c, if triple { 3 } else { 1 }).collect();
                    i += quote.len();
                    open = Some((prefix, quote));
                    continue;
                }
                _ => {}
            },
            Some((prefix, quote)) => {
                if c == MARK {
                    out.push(Context::Str {
                        prefix: prefix.clone(),
                        quote: quote.clone(),
                    });
                } else if c == '\\' && chars.get(i + 1) != Some(&MARK) {
                    i += 2;
                    continue;
                } else if chars[i..]
                    .iter()
                    .take(quote.len())
                    .copied()
                    .eq(quote.chars())
                {
                    i += quote.len();
                    open = None;
                    continue;
                }
            }
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(condition: &str) -> Vec<Context> {
        contexts(&condition.replace("@", &MARK.to_string()))
    }

    #[test]
    fn strings_and_code() {
        let s = |q: &str| Context::Str {
            prefix: String::new(),
            quote: q.into(),
        };
        assert_eq!(
            at("@ > 1 && '@' == \"x @\" && '''@''' != 'it\\'s @'"),
            [Context::Code, s("'"), s("\""), s("'''"), s("'")]
        );
    }

    #[test]
    fn values_bind_as_their_type() {
        assert_eq!(Binding::typed("150"), Binding::Int(150));
        assert_eq!(Binding::typed("-2.5"), Binding::Float(-2.5));
        assert_eq!(Binding::typed("true"), Binding::Bool(true));
        assert_eq!(
            Binding::typed("1 || true"),
            Binding::Str("1 || true".into())
        );
        assert_eq!(Binding::typed("inf"), Binding::Str("inf".into()));
        assert_eq!(Binding::typed("NaN"), Binding::Str("NaN".into()));
    }
}
