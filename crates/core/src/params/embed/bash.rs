//! Params in a shell task's command: each `${name}` becomes a reference to the environment
//! variable holding the value, in the quoting that keeps it one exact string where it stands.
//! Bash expands a variable once and never reads its value as code, so nothing in a value
//! runs; quoting it also keeps bash from splitting it into words or expanding globs.

use super::MARK;

/// Where a reference stands in a bash program, as far as quoting goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Context {
    /// Outside quotes (a command substitution and a comment count as outside).
    Bare,
    /// Inside `"…"`, or in the body of a here-document whose delimiter is unquoted.
    Double,
    /// Inside `'…'`.
    Single,
    /// Inside `$'…'`.
    AnsiC,
    /// In the body of a here-document whose delimiter is quoted (`<<'EOF'`): bash expands
    /// nothing there, so the text itself is the program's input.
    Literal,
}

/// What writes a reference to the variable `var` holding `value`, in `context`. In a quoted
/// here-document the value itself is written, so it must be a single line: a line of it
/// equal to the delimiter would end the document and make the rest a command.
pub(crate) fn embed(context: Context, var: &str, value: &str) -> Result<String, &'static str> {
    Ok(match context {
        Context::Bare => format!("\"${{{var}}}\""),
        Context::Double => format!("${{{var}}}"),
        Context::Single => format!("'\"${{{var}}}\"'"),
        Context::AnsiC => format!("'\"${{{var}}}\"$'"),
        Context::Literal if value.contains(['\n', '\r']) => {
            return Err(
                "its value has a line break and it stands in a quoted here-document \
                (<<'EOF'), where a line of the value could end the document: use an \
                unquoted one (<<EOF), where it is a variable",
            );
        }
        Context::Literal => value.to_string(),
    })
}

/// A nesting level of the scan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Outside quotes: the top level, `$(…)`, `(…)` and `` `…` ``.
    Code(Closer),
    Double,
    Single,
    AnsiC,
}

/// What ends a [`Frame::Code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closer {
    End,
    Paren,
    Backtick,
}

/// A here-document whose body starts at the next line.
struct HereDoc {
    delimiter: String,
    quoted: bool,
    strip_tabs: bool,
}

/// The context of each [`MARK`] in `program`, in order.
pub(crate) fn contexts(program: &str) -> Vec<Context> {
    let chars: Vec<char> = program.chars().collect();
    let mut scan = Scan {
        chars: &chars,
        frames: vec![Frame::Code(Closer::End)],
        pending: Vec::new(),
        out: Vec::new(),
    };
    scan.run();
    scan.out
}

struct Scan<'a> {
    chars: &'a [char],
    frames: Vec<Frame>,
    pending: Vec<HereDoc>,
    out: Vec<Context>,
}

impl Scan<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.chars.get(i).copied()
    }

    fn run(&mut self) {
        let mut i = 0;
        while i < self.chars.len() {
            let frame = *self.frames.last().unwrap_or(&Frame::Code(Closer::End));
            i = match frame {
                Frame::Code(closer) => self.code(i, closer),
                Frame::Double => self.double(i),
                Frame::Single => self.quoted(i, Context::Single, false),
                Frame::AnsiC => self.quoted(i, Context::AnsiC, true),
            };
        }
    }

    /// One step outside quotes; returns where the next step starts.
    fn code(&mut self, i: usize, closer: Closer) -> usize {
        let c = self.chars[i];
        let next = self.at(i + 1);
        match c {
            MARK => self.out.push(Context::Bare),
            '\\' if next != Some(MARK) => return i + 2,
            '\'' => self.frames.push(Frame::Single),
            '"' => self.frames.push(Frame::Double),
            '$' if next == Some('\'') => {
                self.frames.push(Frame::AnsiC);
                return i + 2;
            }
            '$' if next == Some('(') => {
                self.frames.push(Frame::Code(Closer::Paren));
                return i + 2;
            }
            '(' => self.frames.push(Frame::Code(Closer::Paren)),
            ')' if closer == Closer::Paren => {
                self.frames.pop();
            }
            '`' if closer == Closer::Backtick => {
                self.frames.pop();
            }
            '`' => self.frames.push(Frame::Code(Closer::Backtick)),
            '#' if self.word_starts(i) => return self.comment(i),
            '<' if next == Some('<') => return self.here_doc_operator(i),
            '\n' if !self.pending.is_empty() => return self.here_doc_bodies(i + 1),
            _ => {}
        }
        i + 1
    }

    /// True when position `i` starts a word (where `#` begins a comment).
    fn word_starts(&self, i: usize) -> bool {
        i == 0 || matches!(self.chars[i - 1], ' ' | '\t' | '\n' | ';' | '&' | '|' | '(')
    }

    /// Skips a comment up to its line's end; references in it count as outside quotes.
    fn comment(&mut self, mut i: usize) -> usize {
        while i < self.chars.len() && self.chars[i] != '\n' {
            if self.chars[i] == MARK {
                self.out.push(Context::Bare);
            }
            i += 1;
        }
        i
    }

    /// One step inside `"…"`.
    fn double(&mut self, i: usize) -> usize {
        let next = self.at(i + 1);
        match self.chars[i] {
            MARK => self.out.push(Context::Double),
            '\\' if next != Some(MARK) => return i + 2,
            '"' => {
                self.frames.pop();
            }
            '$' if next == Some('(') => {
                self.frames.push(Frame::Code(Closer::Paren));
                return i + 2;
            }
            '`' => self.frames.push(Frame::Code(Closer::Backtick)),
            _ => {}
        }
        i + 1
    }

    /// One step inside `'…'` (`escapes`: `$'…'`, where a backslash escapes the quote).
    fn quoted(&mut self, i: usize, context: Context, escapes: bool) -> usize {
        match self.chars[i] {
            MARK => self.out.push(context),
            '\\' if escapes && self.at(i + 1) != Some(MARK) => return i + 2,
            '\'' => {
                self.frames.pop();
            }
            _ => {}
        }
        i + 1
    }

    /// `<<` at `i`: a here-string (`<<<`) is skipped; a here-document operator notes its
    /// delimiter, whose body starts after the end of the line.
    fn here_doc_operator(&mut self, i: usize) -> usize {
        let mut j = i + 2;
        if self.at(j) == Some('<') {
            return j + 1;
        }
        let strip_tabs = self.at(j) == Some('-');
        if strip_tabs {
            j += 1;
        }
        while matches!(self.at(j), Some(' ' | '\t')) {
            j += 1;
        }
        let mut delimiter = String::new();
        let mut quoted = false;
        while let Some(c) = self.at(j) {
            match c {
                ' ' | '\t' | '\n' | ';' | '&' | '|' | '<' | '>' | '(' | ')' => break,
                '\'' | '"' | '\\' => quoted = true,
                MARK => {}
                c => delimiter.push(c),
            }
            j += 1;
        }
        if !delimiter.is_empty() {
            self.pending.push(HereDoc {
                delimiter,
                quoted,
                strip_tabs,
            });
        }
        j
    }

    /// The bodies of the pending here-documents, from `i` (a line's start); returns where
    /// the program goes on after the last delimiter line.
    fn here_doc_bodies(&mut self, mut i: usize) -> usize {
        for doc in std::mem::take(&mut self.pending) {
            let context = if doc.quoted {
                Context::Literal
            } else {
                Context::Double
            };
            while i < self.chars.len() {
                let end = (i..self.chars.len())
                    .find(|&j| self.chars[j] == '\n')
                    .unwrap_or(self.chars.len());
                let line: String = self.chars[i..end].iter().collect();
                let line = if doc.strip_tabs {
                    line.trim_start_matches('\t')
                } else {
                    &line
                };
                i = end + 1;
                if line == doc.delimiter {
                    break;
                }
                let marks = line.chars().filter(|&c| c == MARK).count();
                self.out.extend(std::iter::repeat_n(context, marks));
            }
        }
        i
    }
}

#[cfg(test)]
mod tests {
    use super::Context::*;
    use super::*;

    fn at(program: &str) -> Vec<Context> {
        contexts(&program.replace("@", &MARK.to_string()))
    }

    #[test]
    fn quotes_decide_the_context() {
        assert_eq!(at("echo @ \"@\" '@' $'@'"), [Bare, Double, Single, AnsiC]);
        assert_eq!(at("echo \"a 'b' @\" 'x \"y\" @'"), [Double, Single]);
        assert_eq!(at(r#"echo "a \" @" 'it''s @' \'@"#), [Double, Single, Bare]);
        assert_eq!(at(r"echo $'a \' @' @"), [AnsiC, Bare]);
    }

    #[test]
    fn command_substitutions_nest() {
        assert_eq!(
            at("echo \"$(echo '@' \"@\" @)\" @ `echo @` \"`echo @`\""),
            [Single, Double, Bare, Bare, Bare, Bare]
        );
        assert_eq!(at("(cd / && echo @) ; echo \"@\""), [Bare, Double]);
    }

    #[test]
    fn comments_count_as_outside_quotes() {
        assert_eq!(at("echo a # it's @\necho '@'"), [Bare, Single]);
        assert_eq!(at("echo a#'@'"), [Single]);
    }

    #[test]
    fn here_documents_by_their_delimiter() {
        let program = "cat <<EOF\nit's @\nEOF\ncat <<'END'\n@ \"x\"\nEND\necho '@'";
        assert_eq!(at(program), [Double, Literal, Single]);
        assert_eq!(at("cat <<-\"E\" | wc\n\t@\n\tE\necho @"), [Literal, Bare]);
        assert_eq!(at("cat <<< '@'"), [Single]);
    }

    #[test]
    fn each_context_has_its_form() {
        assert_eq!(embed(Bare, "V", "x").unwrap(), "\"${V}\"");
        assert_eq!(embed(Double, "V", "x").unwrap(), "${V}");
        assert_eq!(embed(Single, "V", "x").unwrap(), "'\"${V}\"'");
        assert_eq!(embed(AnsiC, "V", "x").unwrap(), "'\"${V}\"$'");
        assert_eq!(embed(Literal, "V", "x $(id)").unwrap(), "x $(id)");
        assert!(embed(Literal, "V", "x\nEOF\nid").is_err());
    }
}
