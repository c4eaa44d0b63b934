//! The archive's URL: `s3://bucket[/prefix]` or `file:///absolute/directory`.

use std::path::PathBuf;

use crate::ArchiveError;

/// Where finished logs are archived, as configured (`--log-archive`, `[logs] archive`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveUrl {
    /// An S3 bucket (or an S3-compatible store, with `AWS_ENDPOINT_URL`), keys under `prefix`
    /// (no leading or trailing `/`; empty for the bucket's root).
    S3 {
        /// The bucket.
        bucket: String,
        /// The key prefix.
        prefix: String,
    },
    /// A local (or mounted) directory.
    Directory(PathBuf),
}

impl std::fmt::Display for ArchiveUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ArchiveUrl::S3 { bucket, prefix } if prefix.is_empty() => write!(f, "s3://{bucket}"),
            ArchiveUrl::S3 { bucket, prefix } => write!(f, "s3://{bucket}/{prefix}"),
            ArchiveUrl::Directory(dir) => write!(f, "file://{}", dir.display()),
        }
    }
}

impl std::str::FromStr for ArchiveUrl {
    type Err = ArchiveError;

    fn from_str(text: &str) -> Result<ArchiveUrl, ArchiveError> {
        // A URL given with a password in it is shown without that password.
        let bad = |why: &str| ArchiveError::BadUrl {
            url: baton_core::redact::redact_url(text),
            why: why.to_string(),
        };
        if let Some(rest) = text.strip_prefix("s3://") {
            return s3(rest).map_err(|why| bad(&why));
        }
        if let Some(path) = text.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad(
                    "a file URL names an absolute directory on this host: file:///var/lib/baton/logs",
                ));
            }
            return Ok(ArchiveUrl::Directory(PathBuf::from(path)));
        }
        Err(bad(
            "give s3://BUCKET/PREFIX (S3 or an S3-compatible store) or file:///DIRECTORY",
        ))
    }
}

/// `bucket[/prefix]` of an `s3://` URL.
fn s3(rest: &str) -> Result<ArchiveUrl, String> {
    if rest.contains(['?', '#']) {
        return Err(
            "it takes no query or fragment: set the endpoint and region with \
                    AWS_ENDPOINT_URL and AWS_REGION"
                .into(),
        );
    }
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.contains('@') || bucket.contains(':') {
        return Err(
            "credentials and ports do not go in the URL: the keys come from \
                    AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the AWS credentials file), \
                    the endpoint from AWS_ENDPOINT_URL"
                .into(),
        );
    }
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && !bucket.starts_with(['.', '-'])
        && !bucket.ends_with(['.', '-']);
    if !valid {
        return Err(format!(
            "`{bucket}` is not a bucket name (3 to 63 lowercase letters, digits, dots and dashes)"
        ));
    }
    let prefix = prefix.trim_end_matches('/');
    if prefix.split('/').any(|part| part.is_empty()) && !prefix.is_empty() {
        return Err("the prefix has an empty part (`//`)".into());
    }
    Ok(ArchiveUrl::S3 {
        bucket: bucket.to_string(),
        prefix: prefix.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<ArchiveUrl, String> {
        text.parse::<ArchiveUrl>().map_err(|e| e.to_string())
    }

    #[test]
    fn s3_and_file_urls_parse_and_print_back() {
        for (text, want) in [
            (
                "s3://baton-logs",
                ArchiveUrl::S3 {
                    bucket: "baton-logs".into(),
                    prefix: String::new(),
                },
            ),
            (
                "s3://baton-logs/prod/eu/",
                ArchiveUrl::S3 {
                    bucket: "baton-logs".into(),
                    prefix: "prod/eu".into(),
                },
            ),
            (
                "file:///var/lib/baton/logs",
                ArchiveUrl::Directory("/var/lib/baton/logs".into()),
            ),
        ] {
            let got = parse(text).unwrap();
            assert_eq!(got, want, "{text}");
            assert_eq!(got.to_string(), text.trim_end_matches('/'));
        }
    }

    #[test]
    fn bad_urls_say_what_is_wrong() {
        let e = parse("gs://bucket").unwrap_err();
        assert!(
            e.starts_with("bad log archive URL `gs://bucket`: give s3://"),
            "{e}"
        );
        let e = parse("s3://AKIA:secret@bucket/x").unwrap_err();
        assert!(e.contains("AWS_ACCESS_KEY_ID"), "{e}");
        assert!(!e.contains("secret@"), "the password is not shown: {e}");
        let e = parse("s3://Bad_Bucket").unwrap_err();
        assert!(e.contains("is not a bucket name"), "{e}");
        let e = parse("s3://bucket/a//b").unwrap_err();
        assert!(e.contains("empty part"), "{e}");
        let e = parse("s3://bucket/p?endpoint=http://x").unwrap_err();
        assert!(e.contains("AWS_ENDPOINT_URL"), "{e}");
        let e = parse("file://relative/dir").unwrap_err();
        assert!(e.contains("absolute directory"), "{e}");
    }
}
