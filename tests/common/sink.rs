//! The SMTP sink the tests send email to: aiosmtpd (a real SMTP server, from PyPI, started
//! through tools/smtp-sink.sh) writing every message into a Maildir, read back with each file's
//! arrival time.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// A mail the sink received.
#[derive(Debug, Clone)]
pub struct Mail {
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// When the sink wrote it (seconds since 1970, the file's modification time).
    pub arrived: f64,
}

impl Mail {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// aiosmtpd on a free loopback port, its Maildir in a temp folder; stopped when dropped.
pub struct Sink {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Child,
    options: Vec<String>,
}

/// aiosmtpd on `port`, once it accepts connections.
fn spawn(port: u16, dir: &tempfile::TempDir, options: &[&str]) -> Child {
    let script = tools_dir().join("smtp-sink.sh");
    let child = Command::new(script)
        .args([
            &port.to_string(),
            &dir.path().join("maildir").display().to_string(),
        ])
        .args(options)
        .stdout(Stdio::null())
        .spawn()
        .expect("tools/smtp-sink.sh starts aiosmtpd");
    let started = std::time::Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed().as_secs() < 120,
            "the SMTP sink did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child
}

impl Sink {
    pub fn start() -> Sink {
        Sink::start_with(&[])
    }

    /// With more aiosmtpd options: `--tlscert C --tlskey K` (STARTTLS, required before MAIL)
    /// or `--smtpscert C --smtpskey K` (implicit TLS).
    pub fn start_with(options: &[&str]) -> Sink {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = spawn(port, &dir, options);
        Sink {
            port,
            dir,
            child,
            options: options.iter().map(|o| o.to_string()).collect(),
        }
    }

    /// Stop the server (dropping its connections) and start a new one on the same port and
    /// Maildir.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let options: Vec<&str> = self.options.iter().map(String::as_str).collect();
        self.child = spawn(self.port, &self.dir, &options);
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Every mail received so far.
    pub fn mails(&self) -> Vec<Mail> {
        let new = self.dir.path().join("maildir/new");
        let mut mails = Vec::new();
        for entry in std::fs::read_dir(new).into_iter().flatten().flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap();
            let arrived = entry.metadata().unwrap().modified().unwrap();
            let arrived = arrived
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs_f64();
            let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
            let mut headers: Vec<(String, String)> = Vec::new();
            for line in head.lines() {
                if line.starts_with([' ', '\t']) {
                    if let Some(last) = headers.last_mut() {
                        last.1.push(' ');
                        last.1.push_str(line.trim());
                    }
                } else if let Some((k, v)) = line.split_once(':') {
                    headers.push((k.trim().to_string(), v.trim().to_string()));
                }
            }
            let mut body = body.replace("\r\n", "\n");
            let encoding = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("Content-Transfer-Encoding"));
            if encoding.is_some_and(|(_, v)| v.eq_ignore_ascii_case("quoted-printable")) {
                body = quoted_printable(&body);
            }
            mails.push(Mail {
                headers,
                body,
                arrived,
            });
        }
        mails
    }
}

/// RFC 2045 quoted-printable text decoded (soft line breaks joined, `=XX` bytes restored).
fn quoted_printable(text: &str) -> String {
    let joined = text.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'=', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The repository's `tools/`, from the test crate (the root package or a crate under crates/).
fn tools_dir() -> PathBuf {
    let mut dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    while !dir.join("tools/smtp-sink.sh").exists() {
        assert!(
            dir.pop(),
            "tools/smtp-sink.sh is not above {}",
            env!("CARGO_MANIFEST_DIR")
        );
    }
    dir.join("tools")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
