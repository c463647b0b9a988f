//! Email's connections to the relay. lettre speaks SMTP; this module opens the TCP connections
//! itself so that it can turn Nagle's algorithm off, and keeps them open between messages.
//!
//! Why not lettre's transport: it writes a message's body and its `\r\n.\r\n` in two writes on a
//! socket with Nagle on, and the relay's delayed ACK then holds the terminator back ~40 ms: 20
//! messages a second on loopback. (lettre sets TCP_NODELAY upstream from 0.11.24 on, unreleased
//! here; with it, this module could shrink to the pool.)

use lettre::transport::smtp::authentication::{Credentials, Mechanism};
// lettre marks its stream type deprecated ("not meant to be public") but its own
// `connect_with_transport` is built on it; it is how implicit TLS reuses lettre's TLS settings.
#[allow(deprecated)]
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::transport::smtp::client::{
    AsyncSmtpConnection, AsyncTokioStream, Certificate, TlsParameters,
};
use lettre::transport::smtp::extension::ClientId;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

/// Where email goes and how: parsed from a channel's `smtp_url`.
#[derive(Clone)]
pub struct Relay {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
    /// The TLS settings (the public roots, and a private CA's from `ca=`), built once at parse.
    tls: Option<TlsParameters>,
}

impl std::fmt::Debug for Relay {
    /// Without the credentials and TLS settings (lettre's have no Debug).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{} {:?}", self.host, self.port, self.security)
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Security {
    Plain,
    /// STARTTLS after the greeting; `required`: refuse a relay that does not offer it.
    StartTls {
        required: bool,
    },
    /// TLS from the first byte (`smtps`, port 465).
    Implicit,
}

impl Relay {
    /// `smtp://host[:port]` (plain, port 25), `smtp://host?tls=required` (STARTTLS, 587; or
    /// `tls=opportunistic`), `smtps://user:password@host` (implicit TLS, 465); a path names the
    /// EHLO host, `ca=/path/ca.pem` adds trusted roots.
    pub fn parse(url: &str) -> Result<Relay, String> {
        let url = url::Url::parse(url).map_err(|e| format!("`{url}` is not a URL: {e}"))?;
        let query = |name: &str| {
            url.query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        let (security, default_port) = match (url.scheme(), query("tls").as_deref()) {
            ("smtp", None) => (Security::Plain, 25),
            ("smtp", Some("required")) => (Security::StartTls { required: true }, 587),
            ("smtp", Some("opportunistic")) => (Security::StartTls { required: false }, 587),
            ("smtps", None) => (Security::Implicit, 465),
            (scheme, tls) => {
                return Err(format!(
                    "scheme `{scheme}` with tls={}: use smtp://, smtp://…?tls=required|opportunistic or smtps://",
                    tls.unwrap_or("(none)")
                ))
            }
        };
        let host = url
            .host_str()
            .ok_or("the URL names no host")?
            .trim_matches(['[', ']'])
            .to_string();
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|s| s.into_owned())
                .map_err(|_| "the user or password is not UTF-8 once decoded")
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, password) => Some(Credentials::new(
                decode(user)?,
                decode(password.unwrap_or(""))?,
            )),
        };
        let hello = match url.path().trim_start_matches('/') {
            "" => ClientId::default(),
            name => ClientId::Domain(name.to_string()),
        };
        let ca = query("ca")
            .map(|path| std::fs::read(&path).map_err(|e| format!("ca={path}: cannot read it: {e}")))
            .transpose()?;
        let tls = match security {
            Security::Plain => None,
            _ => {
                let mut builder = TlsParameters::builder(host.clone());
                if let Some(pem) = &ca {
                    let cert = Certificate::from_pem(pem).map_err(|e| format!("ca: {e}"))?;
                    builder = builder.add_root_certificate(cert);
                }
                Some(builder.build_rustls().map_err(|e| format!("tls: {e}"))?)
            }
        };
        Ok(Relay {
            port: url.port().unwrap_or(default_port),
            host,
            security,
            credentials,
            hello,
            tls,
        })
    }

    /// A new connection, greeted, encrypted as asked and logged in (the caller bounds its time).
    async fn connect(&self) -> Result<AsyncSmtpConnection, String> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| format!("{}:{}: {e}", self.host, self.port))?;
        tcp.set_nodelay(true).map_err(|e| e.to_string())?;
        let stream: Box<dyn AsyncTokioStream> = if self.security == Security::Implicit {
            #[allow(deprecated)]
            let mut tls = AsyncNetworkStream::use_existing_tokio1(Box::new(tcp));
            tls.upgrade_tls(
                self.tls
                    .clone()
                    .ok_or("implicit TLS without TLS settings")?,
            )
            .await
            .map_err(|e| e.to_string())?;
            Box::new(Bridge(tls))
        } else {
            Box::new(tcp)
        };
        let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &self.hello)
            .await
            .map_err(|e| e.to_string())?;
        if let Security::StartTls { required } = self.security {
            if conn.can_starttls() {
                let tls = self.tls.clone().ok_or("STARTTLS without TLS settings")?;
                conn.starttls(tls, &self.hello)
                    .await
                    .map_err(|e| e.to_string())?;
            } else if required {
                return Err(format!(
                    "{}: the relay does not offer STARTTLS (tls=required)",
                    self.host
                ));
            }
        }
        if let Some(credentials) = &self.credentials {
            conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(conn)
    }
}

/// Each relay's settings and the connections kept open to it between messages, by URL.
#[derive(Clone, Default)]
pub struct Pool {
    relays: Arc<Mutex<HashMap<String, Kept>>>,
}

struct Kept {
    relay: Arc<Relay>,
    idle: Vec<(AsyncSmtpConnection, Instant)>,
}

/// Idle connections kept per relay: one per concurrent sender is enough.
const IDLE_PER_RELAY: usize = 4;
/// A connection idle longer than this is checked with NOOP before a message: relays close
/// idle sessions, and a message must not be sent on a connection that is gone.
const CHECK_AFTER: Duration = Duration::from_secs(5);
/// Connections idle longer than this are closed rather than checked.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// Why a send failed: `permanent` when retrying cannot help (the relay refused the message
/// itself with a 5xx, or the URL is wrong).
#[derive(Debug)]
pub struct SendError {
    pub permanent: bool,
    pub error: String,
}

impl Pool {
    /// Send one message (`envelope`, formatted bytes) to the relay at `url`: its answer.
    pub async fn send(
        &self,
        url: &str,
        envelope: &lettre::address::Envelope,
        email: &[u8],
        timeout: Duration,
    ) -> Result<String, SendError> {
        let (relay, mut idle) = self.take(url).await?;
        loop {
            let reused = idle.is_some();
            let mut conn = match idle.take() {
                Some(conn) => conn,
                // The whole of connecting (TCP, greeting, TLS, AUTH) within the timeout: a
                // relay that accepts and never greets must not hold the worker.
                None => match tokio::time::timeout(timeout, relay.connect()).await {
                    Ok(connected) => connected,
                    Err(_) => Err(format!(
                        "{}:{}: no session within {} s",
                        relay.host,
                        relay.port,
                        timeout.as_secs()
                    )),
                }
                .map_err(|error| SendError {
                    permanent: false,
                    error,
                })?,
            };
            return match tokio::time::timeout(timeout, conn.send(envelope, email)).await {
                Ok(Ok(response)) => {
                    self.give_back(url, conn);
                    Ok(response.message().collect::<Vec<_>>().join(" "))
                }
                // No SMTP answer on a kept connection (lettre reads the relay's close as an
                // "incomplete response"): the relay closed it while it was idle. Once more on a
                // new one (should the relay have taken the message before the connection broke,
                // it gets it twice with one Message-ID, as after a crash).
                Ok(Err(e)) if reused && !e.is_permanent() && !e.is_transient() => continue,
                Ok(Err(e)) => {
                    // After a refused recipient the session is still good; lettre marks
                    // broken ones.
                    if !conn.has_broken() {
                        self.give_back(url, conn);
                    }
                    Err(SendError {
                        permanent: e.is_permanent(),
                        error: e.to_string(),
                    })
                }
                Err(_) => Err(SendError {
                    permanent: false,
                    error: format!("the relay took over {} s", timeout.as_secs()),
                }),
            };
        }
    }

    /// The relay at `url`, and an idle connection to it that still answers if there is one.
    async fn take(
        &self,
        url: &str,
    ) -> Result<(Arc<Relay>, Option<AsyncSmtpConnection>), SendError> {
        loop {
            let (relay, idle) = {
                let mut relays = self.relays.lock().unwrap_or_else(|p| p.into_inner());
                let kept = match relays.get_mut(url) {
                    Some(kept) => kept,
                    None => {
                        let relay = Relay::parse(url).map_err(|error| SendError {
                            permanent: true,
                            error: format!("smtp_url: {error}"),
                        })?;
                        relays.entry(url.to_string()).or_insert(Kept {
                            relay: Arc::new(relay),
                            idle: Vec::new(),
                        })
                    }
                };
                (kept.relay.clone(), kept.idle.pop())
            };
            let Some((mut conn, since)) = idle else {
                return Ok((relay, None));
            };
            let idle_for = since.elapsed();
            if idle_for <= CHECK_AFTER || (idle_for <= IDLE_LIMIT && conn.test_connected().await) {
                return Ok((relay, Some(conn)));
            }
            conn.abort().await;
        }
    }

    fn give_back(&self, url: &str, conn: AsyncSmtpConnection) {
        let mut relays = self.relays.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(kept) = relays.get_mut(url) {
            if kept.idle.len() < IDLE_PER_RELAY {
                kept.idle.push((conn, Instant::now()));
            }
        }
    }
}

/// lettre's TLS stream (futures-io traits) as the tokio stream its connection takes: how an
/// implicit-TLS connection gets TLS from lettre's own settings over a socket opened here.
#[derive(Debug)]
#[allow(deprecated)]
struct Bridge(AsyncNetworkStream);

impl tokio::io::AsyncRead for Bridge {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let unfilled = buf.initialize_unfilled();
        match futures_io::AsyncRead::poll_read(Pin::new(&mut self.0), cx, unfilled) {
            Poll::Ready(Ok(n)) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl tokio::io::AsyncWrite for Bridge {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        futures_io::AsyncWrite::poll_write(Pin::new(&mut self.0), cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        futures_io::AsyncWrite::poll_flush(Pin::new(&mut self.0), cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        futures_io::AsyncWrite::poll_close(Pin::new(&mut self.0), cx)
    }
}

impl AsyncTokioStream for Bridge {
    fn peer_addr(&self) -> std::io::Result<std::net::SocketAddr> {
        self.0.peer_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Host, port, security, and user and password.
    type Parsed<'a> = (&'a str, u16, Security, Option<(&'a str, &'a str)>);

    /// `url` parses to `expect`, or fails saying `expect`'s text.
    fn check(url: &str, expect: Result<Parsed, &str>) {
        match (Relay::parse(url), expect) {
            (Ok(r), Ok((host, port, security, login))) => {
                let login = login.map(|(u, p)| Credentials::new(u.into(), p.into()));
                assert_eq!(
                    (r.host.as_str(), r.port, r.security),
                    (host, port, security),
                    "{url}"
                );
                assert!(r.credentials == login, "{url}: credentials differ");
            }
            (Err(e), Err(part)) => assert!(e.contains(part), "{url}: {e}"),
            (got, want) => panic!("{url}: {got:?} vs {want:?}"),
        }
    }

    #[test]
    fn relay_urls() {
        use Security::*;
        let required = StartTls { required: true };
        let opportunistic = StartTls { required: false };
        check(
            "smtp://127.0.0.1:2525",
            Ok(("127.0.0.1", 2525, Plain, None)),
        );
        check("smtp://mail.example", Ok(("mail.example", 25, Plain, None)));
        check(
            "smtp://u:p@mail.example?tls=required",
            Ok(("mail.example", 587, required, Some(("u", "p")))),
        );
        check(
            "smtp://mail.example?tls=opportunistic",
            Ok(("mail.example", 587, opportunistic, None)),
        );
        check(
            "smtps://u%40x:p%2F%3A@mail.example",
            Ok(("mail.example", 465, Implicit, Some(("u@x", "p/:")))),
        );
        check("smtps://[::1]:4650", Ok(("::1", 4650, Implicit, None)));
        check("http://mail.example", Err("scheme `http`"));
        check("smtp://mail.example?tls=sometimes", Err("tls=sometimes"));
        check(
            "smtp://x?tls=required&ca=/nonexistent.pem",
            Err("ca=/nonexistent.pem: cannot read"),
        );
        check("smtp://u:%FF@x", Err("not UTF-8"));
        check("not a url", Err("is not a URL"));
    }
}
