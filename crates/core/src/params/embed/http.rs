//! An `http` task's request: a value in the URL is percent-encoded (it can add to a path
//! segment or a query value, never change the URL's structure) and is refused before the
//! path (a value never chooses the host a request goes to); a value
//! in a header cannot hold a line break (which would start another header); a value inside a
//! JSON body's string stays inside that string (the body is serialized as JSON, which
//! escapes it).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// Everything but RFC 3986's unreserved characters is encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A value as it is written into a URL.
pub(crate) fn url_value(value: &str) -> String {
    utf8_percent_encode(value, COMPONENT).to_string()
}

/// Where the path of `url` starts (after `scheme://host:port`): a reference before it is
/// refused, so that a value never chooses where a request goes.
pub(crate) fn path_start(url: &str) -> usize {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url.len(), |i| after_scheme + i)
}

/// Why `value` cannot be a header's value, if it cannot.
pub(crate) fn header_value(value: &str) -> Result<(), &'static str> {
    if value.contains(['\r', '\n', '\0']) {
        Err("a header value cannot hold a line break or a NUL")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_cannot_change_the_structure_of_a_url() {
        assert_eq!(url_value("2026-01-31"), "2026-01-31");
        assert_eq!(
            url_value("x/../admin?y=1#z @evil.test"),
            "x%2F..%2Fadmin%3Fy%3D1%23z%20%40evil.test"
        );
        assert_eq!(url_value("é"), "%C3%A9");
    }

    #[test]
    fn the_path_starts_after_the_host() {
        assert_eq!(path_start("https://h.test:8/a?b"), 16);
        assert_eq!(path_start("https://h.test?q"), 14);
        assert_eq!(path_start("https://h.test"), 14);
    }

    #[test]
    fn a_header_value_cannot_start_another_header() {
        assert!(header_value("Bearer abc").is_ok());
        assert!(header_value("x\r\nX-Admin: 1").is_err());
    }
}
