//! S3 keys from the AWS shared credentials file (`~/.aws/credentials`, or the file named by
//! `AWS_SHARED_CREDENTIALS_FILE`; profile `AWS_PROFILE` or `default`), for a host that keeps
//! them there rather than in the environment.

use crate::ArchiveError;

/// Keys read from the file. No `Debug`: they are secret.
pub(crate) struct FileCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

/// The keys of the profile in the credentials file, if there is such a file. A file or a
/// profile named explicitly (`AWS_SHARED_CREDENTIALS_FILE`, `AWS_PROFILE`) must exist; the
/// default file and profile may be missing.
pub(crate) fn from_file(
    vars: &[(String, String)],
) -> Result<Option<FileCredentials>, ArchiveError> {
    let var = |name: &str| {
        vars.iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let (path, explicit_file) = match (var("AWS_SHARED_CREDENTIALS_FILE"), var("HOME")) {
        (Some(file), _) => (std::path::PathBuf::from(file), true),
        (None, Some(home)) => (std::path::Path::new(home).join(".aws/credentials"), false),
        (None, None) => return Ok(None),
    };
    let bad = |why: String| ArchiveError::Credentials {
        path: path.display().to_string(),
        why,
    };
    if !explicit_file && !path.exists() {
        return Ok(None);
    }
    // Case-sensitive, as the AWS tools read profile names.
    let mut ini = configparser::ini::Ini::new_cs();
    ini.load(&path).map_err(bad)?;
    let (profile, explicit_profile) = match var("AWS_PROFILE") {
        Some(p) => (p, true),
        None => ("default", false),
    };
    if !ini.sections().iter().any(|s| s == profile) {
        if explicit_profile {
            return Err(bad(format!("it has no profile `{profile}` (AWS_PROFILE)")));
        }
        return Ok(None);
    }
    let key = |name: &str| ini.get(profile, name).filter(|v| !v.is_empty());
    match (key("aws_access_key_id"), key("aws_secret_access_key")) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Some(FileCredentials {
            access_key_id,
            secret_access_key,
            session_token: key("aws_session_token"),
        })),
        _ => Err(bad(format!(
            "profile `{profile}` needs both aws_access_key_id and aws_secret_access_key"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn keys_come_from_the_profile_of_the_credentials_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".aws")).unwrap();
        let file = dir.path().join(".aws/credentials");
        std::fs::write(
            &file,
            "[default]\naws_access_key_id = AKIDEFAULT\naws_secret_access_key = s1\n\n\
             [ci]\naws_access_key_id=AKICI\naws_secret_access_key=s2\naws_session_token=t\n\
             [broken]\naws_access_key_id=AKIBROKEN\n",
        )
        .unwrap();
        let home = dir.path().to_str().unwrap();
        let c = from_file(&vars(&[("HOME", home)])).unwrap().unwrap();
        assert_eq!(
            (c.access_key_id.as_str(), c.secret_access_key.as_str()),
            ("AKIDEFAULT", "s1")
        );
        assert!(c.session_token.is_none());
        let c = from_file(&vars(&[("HOME", home), ("AWS_PROFILE", "ci")]))
            .unwrap()
            .unwrap();
        assert_eq!(c.access_key_id, "AKICI");
        assert_eq!(c.session_token.as_deref(), Some("t"));

        let err = |v: &[(&str, &str)]| match from_file(&vars(v)) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("{v:?} should be refused"),
        };
        let e = err(&[("HOME", home), ("AWS_PROFILE", "nope")]);
        assert!(e.contains("no profile `nope`"), "{e}");
        let e = err(&[("HOME", home), ("AWS_PROFILE", "broken")]);
        assert!(e.contains("needs both"), "{e}");
        assert!(!e.contains("AKIBROKEN"), "{e}");
        let e = err(&[("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/creds")]);
        assert!(
            e.starts_with("the AWS credentials file /nonexistent/creds"),
            "{e}"
        );

        let empty = tempfile::tempdir().unwrap();
        let none = from_file(&vars(&[("HOME", empty.path().to_str().unwrap())])).unwrap();
        assert!(none.is_none(), "no file, no keys, no error");
    }
}
