//! An SMTP server on a loopback port for the alert tests: the protocol's dialogue (RFC 5321:
//! greeting, EHLO, MAIL, RCPT, DATA ending in a lone `.`, QUIT), with STARTTLS (RFC 3207,
//! rustls on a test certificate) and AUTH PLAIN (RFC 4954) when asked for, each message kept
//! with its recipients and each login with what it presented.
//! (mailin-embedded, the maintained crate for this, turns on rustls' aws-lc backend, which
//! needs a C toolchain and cmake to build and breaks rustls' choice of provider for every
//! other test: a test-only dialogue of its own instead.)

use base64::Engine as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// One mail received: its recipients and its text.
pub type Mail = (Vec<String>, String);

/// One `AUTH PLAIN` the server was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// The user name presented.
    pub user: String,
    /// The password presented.
    pub password: String,
    /// Whether the connection was encrypted (after STARTTLS) when it was sent.
    pub encrypted: bool,
}

/// What the server was sent so far.
#[derive(Default)]
pub struct Seen {
    /// The mails accepted, in order.
    pub mails: Vec<Mail>,
    /// The logins tried, in order.
    pub logins: Vec<Login>,
}

/// How the server speaks: STARTTLS with this certificate, and the one login it accepts
/// (required before MAIL); neither by default (the plain dialogue).
#[derive(Clone, Default)]
pub struct Options {
    tls: Option<Arc<rustls::ServerConfig>>,
    login: Option<(String, String)>,
}

impl Options {
    /// Offers STARTTLS with the certificate and key at these PEM files, and refuses a login
    /// before it.
    pub fn starttls(mut self, cert: &Path, key: &Path) -> Options {
        let chain = CertificateDer::pem_file_iter(cert)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(key).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        self.tls = Some(Arc::new(config));
        self
    }

    /// Requires a login with this user and password before a mail.
    pub fn login(mut self, user: &str, password: &str) -> Options {
        self.login = Some((user.to_string(), password.to_string()));
        self
    }
}

/// A running test SMTP server (it lives as long as the test process).
pub struct Server {
    /// Its loopback port.
    pub port: u16,
    /// What it was sent.
    pub seen: Arc<Mutex<Seen>>,
}

impl Server {
    /// Listens on a free loopback port, one thread per connection.
    pub fn start(options: Options) -> Server {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen: Arc<Mutex<Seen>> = Arc::default();
        let kept = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().map_while(Result::ok) {
                let (kept, options) = (kept.clone(), options.clone());
                std::thread::spawn(move || serve(stream, &options, &kept));
            }
        });
        Server { port, seen }
    }

    /// The first mail, once there is one.
    pub fn first_mail(&self) -> Option<Mail> {
        self.seen.lock().unwrap().mails.first().cloned()
    }

    /// The logins tried so far.
    pub fn logins(&self) -> Vec<Login> {
        self.seen.lock().unwrap().logins.clone()
    }
}

/// One connection: the plain dialogue, then (after STARTTLS) the same dialogue over TLS.
fn serve(stream: std::net::TcpStream, options: &Options, seen: &Mutex<Seen>) {
    let mut plain = BufReader::new(stream);
    plain.get_mut().write_all(b"220 smtp.test ESMTP\r\n").ok();
    let mut session = Session {
        options,
        seen,
        encrypted: false,
        authenticated: false,
    };
    if session.converse(&mut plain) != Next::StartTls {
        return;
    }
    let Some(config) = options.tls.clone() else {
        return;
    };
    let tcp = plain.into_inner();
    let Ok(tls) = rustls::ServerConnection::new(config) else {
        return;
    };
    let mut secure = BufReader::new(rustls::StreamOwned::new(tls, tcp));
    session.encrypted = true;
    session.converse(&mut secure);
}

/// How a dialogue ended.
#[derive(PartialEq, Eq)]
enum Next {
    /// The client quit or went away.
    Done,
    /// The client asked for TLS and was told to go ahead.
    StartTls,
}

/// The state of one connection's dialogue.
struct Session<'a> {
    options: &'a Options,
    seen: &'a Mutex<Seen>,
    encrypted: bool,
    authenticated: bool,
}

impl Session<'_> {
    /// Answers commands until the client quits or asks for TLS.
    fn converse<S: Read + Write>(&mut self, lines: &mut BufReader<S>) -> Next {
        let (mut to, mut line) = (Vec::new(), String::new());
        while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
            let command = line.trim_end().to_string();
            line.clear();
            let upper = command.to_ascii_uppercase();
            let answer = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                self.greeting()
            } else if upper == "STARTTLS" && self.options.tls.is_some() && !self.encrypted {
                say(lines, "220 2.0.0 ready to start TLS");
                return Next::StartTls;
            } else if let Some(initial) = upper.strip_prefix("AUTH PLAIN ").map(|_| &command[11..])
            {
                self.auth_plain(initial.trim())
            } else if upper.starts_with("MAIL FROM:") && self.needs_login() {
                "530 5.7.0 authentication required".to_string()
            } else if upper.starts_with("RCPT TO:") {
                to.push(command[8..].trim().trim_matches(['<', '>']).to_string());
                "250 OK".to_string()
            } else if upper.starts_with("DATA") {
                say(lines, "354 go on");
                let data = read_data(lines);
                let mail = (std::mem::take(&mut to), data);
                self.seen.lock().unwrap().mails.push(mail);
                "250 OK: queued".to_string()
            } else if upper.starts_with("QUIT") {
                say(lines, "221 bye");
                return Next::Done;
            } else {
                "250 OK".to_string()
            };
            say(lines, &answer);
        }
        Next::Done
    }

    /// The EHLO answer: STARTTLS on a plain connection that may upgrade; AUTH once the
    /// connection is as safe as it will get.
    fn greeting(&self) -> String {
        if self.options.tls.is_some() && !self.encrypted {
            return "250-smtp.test\r\n250 STARTTLS".to_string();
        }
        if self.options.login.is_some() {
            return "250-smtp.test\r\n250 AUTH PLAIN".to_string();
        }
        "250 smtp.test".to_string()
    }

    fn needs_login(&self) -> bool {
        self.options.login.is_some() && !self.authenticated
    }

    /// `AUTH PLAIN` with its initial response: `\0user\0password`, base64.
    fn auth_plain(&mut self, initial: &str) -> String {
        if self.options.tls.is_some() && !self.encrypted {
            return "530 5.7.0 must issue a STARTTLS command first".to_string();
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(initial)
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&decoded);
        let mut parts = text.split('\0').skip(1);
        let login = Login {
            user: parts.next().unwrap_or_default().to_string(),
            password: parts.next().unwrap_or_default().to_string(),
            encrypted: self.encrypted,
        };
        let expected = self.options.login.as_ref();
        self.authenticated =
            expected.is_some_and(|(u, p)| *u == login.user && *p == login.password);
        self.seen.lock().unwrap().logins.push(login);
        if self.authenticated {
            "235 2.7.0 authentication successful".to_string()
        } else {
            "535 5.7.8 authentication credentials invalid".to_string()
        }
    }
}

fn say<S: Read + Write>(lines: &mut BufReader<S>, text: &str) {
    let stream = lines.get_mut();
    stream.write_all(format!("{text}\r\n").as_bytes()).ok();
    stream.flush().ok();
}

/// The message after DATA, up to the lone `.`.
fn read_data<S: Read + Write>(lines: &mut BufReader<S>) -> String {
    let (mut data, mut line) = (String::new(), String::new());
    while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
        if line.trim_end() == "." {
            break;
        }
        data.push_str(&line);
        line.clear();
    }
    data
}
