//! Secrets kept out of logs and answers: a database (or registry) URL is shown only through
//! [`redact_url`], wherever it is logged or named in an error.

/// What stands for a hidden secret.
const HIDDEN: &str = "***";

/// A URL fit to print: the password of its user info (`postgres://u:***@h/db`) and the value
/// of every query parameter that may hold a secret (`?password=***`, `&sslpassword=***`, see
/// [`is_secret_key`]) replaced by `***`; the rest is kept as written.
///
/// Built to fail safe on URLs that do not parse: a password holding an unencoded `@`, `/` or
/// `?` is hidden up to the last `@` before the query, keys are compared after percent-decoding
/// and case-folding (`PassWord`, `pass%77ord`), every repetition is hidden, and parameters
/// are split at `&`, `;` and whitespace (the `key=value` list form, too).
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|s| s + 3) else {
        return redact_query_like(url);
    };
    let (scheme, rest) = url.split_at(scheme_end);
    let at = userinfo_end(rest);
    let (userinfo, after) = match at {
        Some(at) => (&rest[..at], &rest[at..]),
        None => ("", rest),
    };
    let userinfo = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:{HIDDEN}"),
        None => userinfo.to_string(),
    };
    let after = match after.split_once('?') {
        Some((path, query)) => format!("{path}?{}", redact_params(query)),
        None => after.to_string(),
    };
    format!("{scheme}{userinfo}{after}")
}

/// Where the user info ends in what follows `scheme://`: the last `@` before the query, or,
/// when the part before the first `?` may begin with `user:pass` (a `:` before any `/`), the
/// first `@` after it (a password with an unencoded `?`; a `host:port` with an `@` in the
/// query is then hidden too, which is harmless).
fn userinfo_end(rest: &str) -> Option<usize> {
    let query_start = rest.find('?').unwrap_or(rest.len());
    let head = &rest[..query_start];
    head.rfind('@').or_else(|| {
        let colon = head.find(':')?;
        if head.find('/').is_some_and(|slash| slash < colon) {
            return None;
        }
        rest[query_start..].find('@').map(|at| query_start + at)
    })
}

/// A string with no `scheme://`: its query, if any, else the whole of it, read as parameters.
fn redact_query_like(text: &str) -> String {
    match text.split_once('?') {
        Some((path, query)) => format!("{path}?{}", redact_params(query)),
        None if text.contains('=') => redact_params(text),
        None => text.to_string(),
    }
}

/// `key=value` parameters with the values of secret keys hidden, separators kept.
fn redact_params(params: &str) -> String {
    let mut out = String::with_capacity(params.len());
    let mut rest = params;
    while !rest.is_empty() {
        let end = rest
            .find(|c: char| c == '&' || c == ';' || c.is_whitespace())
            .unwrap_or(rest.len());
        let (param, tail) = rest.split_at(end);
        match param.split_once('=') {
            Some((key, _)) if is_secret_key(key) => {
                out.push_str(key);
                out.push('=');
                out.push_str(HIDDEN);
            }
            _ => out.push_str(param),
        }
        let sep = tail.chars().next().map_or(0, char::len_utf8);
        out.push_str(&tail[..sep]);
        rest = &tail[sep..];
    }
    out
}

/// True for a parameter key that may name a secret: once percent-decoded and lower-cased, it
/// contains `password` (`password`, `sslpassword`, …), `passwd`, `secret` or `token`. Wider
/// than what the drivers read, on purpose: hiding too much is harmless.
pub fn is_secret_key(raw: &str) -> bool {
    let decoded = form_urlencoded::parse(raw.as_bytes())
        .next()
        .map(|(key, _)| key.trim().to_lowercase())
        .unwrap_or_default();
    let key = decoded.as_str();
    ["password", "passwd", "secret", "token"]
        .iter()
        .any(|word| key.contains(word))
}

#[cfg(test)]
mod tests {
    use super::{is_secret_key, redact_url};

    #[test]
    fn passwords_in_the_user_info_are_not_shown() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite:///tmp/x.db"), "sqlite:///tmp/x.db");
        assert_eq!(
            redact_url("sqlite:///tmp/x.db?mode=rwc"),
            "sqlite:///tmp/x.db?mode=rwc"
        );
    }

    #[test]
    fn passwords_holding_separators_are_hidden_whole() {
        // Unencoded `@`, `:`, `/` and `?` in a password: hidden up to the host.
        assert_eq!(
            redact_url("postgres://u:p@ss:w/rd@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            redact_url("postgres://u:pa?ss@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            redact_url("postgres://u:p%40ss%3Aw@h/db"),
            "postgres://u:***@h/db"
        );
        // An empty password is still a password field.
        assert_eq!(redact_url("postgres://u:@h/db"), "postgres://u:***@h/db");
    }

    #[test]
    fn password_query_parameters_are_not_shown() {
        assert_eq!(
            redact_url("postgres://u@h/db?password=secret"),
            "postgres://u@h/db?password=***"
        );
        assert_eq!(
            redact_url("postgres://h/db?sslmode=require&sslpassword=k3y&application_name=b"),
            "postgres://h/db?sslmode=require&sslpassword=***&application_name=b"
        );
        assert_eq!(
            redact_url("postgres://u:a@h/db?password=b"),
            "postgres://u:***@h/db?password=***"
        );
    }

    #[test]
    fn hostile_query_forms_are_hidden_too() {
        // Repeated: every copy, not just the first or the last.
        assert_eq!(
            redact_url("postgres://h/db?password=one&password=two"),
            "postgres://h/db?password=***&password=***"
        );
        // Mixed case, percent-encoded and `+`-encoded keys, spaces around.
        assert_eq!(
            redact_url("postgres://h/db?PassWord=x&pass%77ord=y&SSL%50ASSWORD=z&+password+=w"),
            "postgres://h/db?PassWord=***&pass%77ord=***&SSL%50ASSWORD=***&+password+=***"
        );
        // Other separators, a fragment, and values holding `=` or `@`.
        assert_eq!(
            redact_url("postgres://h/db?a=1;password=x=y@z#frag"),
            "postgres://h/db?a=1;password=***"
        );
        // A `?` in the password and a password parameter.
        assert_eq!(
            redact_url("postgres://u:p?w@h/db?password=q"),
            "postgres://u:***@h/db?password=***"
        );
        // An `@` in a query value is not mistaken for the user info.
        assert_eq!(
            redact_url("postgres://h/db?user=a@b&password=c"),
            "postgres://h/db?user=a@b&password=***"
        );
        // No scheme at all: a query, or a `key=value` list.
        assert_eq!(
            redact_url("host=h password=pw dbname=d"),
            "host=h password=*** dbname=d"
        );
        assert_eq!(redact_url("x.db?password=pw"), "x.db?password=***");
    }

    proptest::proptest! {
        /// Whatever a password holds (but a query value's own separators), it is not shown.
        #[test]
        fn generated_passwords_never_show(
            userinfo in "ZZ[A-Za-z0-9@:/?%!*$]{1,16}",
            query in "ZZ[A-Za-z0-9@:/?%!*$=+]{1,16}",
            key in "(password|sslpassword|PASSWORD|pass%77ord)",
            port in proptest::option::of(1u16..),
        ) {
            let port = port.map(|p| format!(":{p}")).unwrap_or_default();
            let url = format!("postgres://u:{userinfo}@h{port}/db?a=1&{key}={query}&b=2");
            let shown = redact_url(&url);
            proptest::prop_assert!(!shown.contains("ZZ"), "{url} -> {shown}");
            proptest::prop_assert!(shown.ends_with("=***&b=2"), "{url} -> {shown}");
        }
    }

    #[test]
    fn secret_keys_are_recognised_after_decoding() {
        for key in [
            "password",
            "sslpassword",
            "PASSWORD",
            "p%61ssword",
            "db_passwd",
            "token",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in ["user", "sslmode", "sslkey", "pass", "application_name"] {
            assert!(!is_secret_key(key), "{key}");
        }
    }
}
