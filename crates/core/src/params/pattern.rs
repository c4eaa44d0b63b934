//! Date patterns as DolphinScheduler users write them (Java `SimpleDateFormat` letters:
//! `yyyy-MM-dd HH:mm:ss`), compiled once and formatted with chrono's field accessors, so that
//! no user text ever reaches a `strftime` string and `%` needs no escaping.
//!
//! Letters: `y` year (`yy` two digits), `M` month (`MMM` Jan, `MMMM` January), `d` day,
//! `H` hour 0–23, `h` hour 1–12, `a` AM/PM, `m` minute, `s` second, `S` millisecond,
//! `E` weekday (`EEE` Mon, `EEEE` Monday). A run of one letter pads to its length. Other
//! ASCII letters are refused; every other character is literal, and `'...'` quotes letters
//! (`''` is a quote).

use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

/// A calendar or clock field a pattern letter stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Year,
    Month,
    Day,
    Hour24,
    Hour12,
    AmPm,
    Minute,
    Second,
    Millis,
    Weekday,
}

impl Field {
    fn from_letter(c: char) -> Option<Field> {
        Some(match c {
            'y' => Field::Year,
            'M' => Field::Month,
            'd' => Field::Day,
            'H' => Field::Hour24,
            'h' => Field::Hour12,
            'a' => Field::AmPm,
            'm' => Field::Minute,
            's' => Field::Second,
            'S' => Field::Millis,
            'E' => Field::Weekday,
            _ => return None,
        })
    }
}

/// One element of a compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Literal(String),
    /// A field and how many times its letter was repeated.
    Field(Field, usize),
}

/// A compiled date pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pattern {
    tokens: Vec<Token>,
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

impl Pattern {
    /// Compiles `text`; the error says what is wrong with it, in words.
    pub(crate) fn parse(text: &str) -> Result<Pattern, String> {
        if text.is_empty() {
            return Err("empty date format".into());
        }
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            if c == '\'' {
                if chars.peek() == Some(&'\'') {
                    chars.next();
                    literal.push('\'');
                    continue;
                }
                loop {
                    match chars.next() {
                        None => return Err(format!("unclosed quote in date format `{text}`")),
                        Some('\'') if chars.peek() == Some(&'\'') => {
                            chars.next();
                            literal.push('\'');
                        }
                        Some('\'') => break,
                        Some(q) => literal.push(q),
                    }
                }
            } else if c.is_ascii_alphabetic() {
                let field = Field::from_letter(c).ok_or_else(|| {
                    format!("unknown letter `{c}` in date format `{text}` (known: y M d H h a m s S E; quote literal text as 'T')")
                })?;
                let mut count = 1;
                while chars.peek() == Some(&c) {
                    chars.next();
                    count += 1;
                }
                if !literal.is_empty() {
                    tokens.push(Token::Literal(std::mem::take(&mut literal)));
                }
                tokens.push(Token::Field(field, count));
            } else {
                literal.push(c);
            }
        }
        if !literal.is_empty() {
            tokens.push(Token::Literal(literal));
        }
        Ok(Pattern { tokens })
    }

    /// The time written with this pattern.
    pub(crate) fn format(&self, t: &NaiveDateTime) -> String {
        let mut out = String::new();
        for token in &self.tokens {
            match token {
                Token::Literal(s) => out.push_str(s),
                Token::Field(field, n) => out.push_str(&format_field(*field, *n, t)),
            }
        }
        out
    }

    /// The time with every field the pattern does not show reset (year 1970, January, day 1,
    /// midnight): what `SimpleDateFormat` gives back when it parses its own output.
    pub(crate) fn truncate(&self, t: &NaiveDateTime) -> Option<NaiveDateTime> {
        let has = |f: &[Field]| {
            self.tokens
                .iter()
                .any(|tok| matches!(tok, Token::Field(x, _) if f.contains(x)))
        };
        let pick = |present: bool, value: u32, default: u32| if present { value } else { default };
        let year = if has(&[Field::Year]) { t.year() } else { 1970 };
        let date = NaiveDate::from_ymd_opt(
            year,
            pick(has(&[Field::Month]), t.month(), 1),
            pick(has(&[Field::Day]), t.day(), 1),
        )?;
        date.and_hms_milli_opt(
            pick(has(&[Field::Hour24, Field::Hour12]), t.hour(), 0),
            pick(has(&[Field::Minute]), t.minute(), 0),
            pick(has(&[Field::Second]), t.second(), 0),
            pick(
                has(&[Field::Millis]),
                t.nanosecond().min(999_999_999) / 1_000_000,
                0,
            ),
        )
    }
}

fn format_field(field: Field, n: usize, t: &NaiveDateTime) -> String {
    let pad = |v: i64| format!("{v:0n$}");
    match field {
        Field::Year if n == 2 => format!("{:02}", t.year().rem_euclid(100)),
        Field::Year => pad(t.year().into()),
        Field::Month if n == 3 => MONTHS[t.month0() as usize][..3].to_string(),
        Field::Month if n > 3 => MONTHS[t.month0() as usize].to_string(),
        Field::Month => pad(t.month().into()),
        Field::Day => pad(t.day().into()),
        Field::Hour24 => pad(t.hour().into()),
        Field::Hour12 => pad(t.hour12().1.into()),
        Field::AmPm => if t.hour12().0 { "PM" } else { "AM" }.to_string(),
        Field::Minute => pad(t.minute().into()),
        Field::Second => pad(t.second().into()),
        Field::Millis => pad((t.nanosecond().min(999_999_999) / 1_000_000).into()),
        Field::Weekday => {
            let name = match t.weekday() {
                chrono::Weekday::Mon => "Monday",
                chrono::Weekday::Tue => "Tuesday",
                chrono::Weekday::Wed => "Wednesday",
                chrono::Weekday::Thu => "Thursday",
                chrono::Weekday::Fri => "Friday",
                chrono::Weekday::Sat => "Saturday",
                chrono::Weekday::Sun => "Sunday",
            };
            if n >= 4 { name } else { &name[..3] }.to_string()
        }
    }
}
