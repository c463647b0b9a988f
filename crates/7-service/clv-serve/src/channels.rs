//! The channels a message goes out on, behind one call: email over SMTP (lettre), SMS through
//! Twilio's Messages API, Telegram's Bot API, and a signed generic webhook. Each provider's base
//! URL is a setting, so tests point them at local fake servers that check every request.
//!
//! Every send carries the message's idempotency key: email as a stable Message-ID, HTTP
//! providers as an `Idempotency-Key` header (Twilio and Telegram ignore it; the webhook's
//! receiver can deduplicate on it). Provider answers map to what the outbox does next: 429 →
//! retry after the time the provider asks; 5xx and network errors → retry with the same key;
//! other 4xx → fail for good, and where the answer means the recipient left (Telegram's 403
//! "blocked by the user", Twilio's 21610 "unsubscribed"), revoke their consent too.

use clv_journeys::Channel;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where a shop's channel sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "channel", rename_all = "snake_case", deny_unknown_fields)]
pub enum Settings {
    Email {
        /// `smtp://host:port` (plain, for a local relay), `smtp://host?tls=required` (STARTTLS)
        /// or `smtps://user:password@host` (implicit TLS).
        smtp_url: String,
        /// The sender, e.g. `Shop <hello@shop.example>`.
        from: String,
    },
    Sms {
        #[serde(default = "twilio")]
        base_url: String,
        account_sid: String,
        auth_token: String,
        from: String,
    },
    Telegram {
        #[serde(default = "telegram")]
        base_url: String,
        bot_token: String,
    },
    Webhook {
        url: String,
        /// Signs every body: `X-Clv-Signature: sha256=<hex HMAC-SHA256 of the body>`.
        secret: String,
    },
}

fn twilio() -> String {
    "https://api.twilio.com".into()
}

fn telegram() -> String {
    "https://api.telegram.org".into()
}

impl Settings {
    pub fn channel(&self) -> Channel {
        match self {
            Settings::Email { .. } => Channel::Email,
            Settings::Sms { .. } => Channel::Sms,
            Settings::Telegram { .. } => Channel::Telegram,
            Settings::Webhook { .. } => Channel::Webhook,
        }
    }

    /// What is wrong with the settings, before they are saved.
    pub fn check(&self) -> Result<(), String> {
        let url_ok = |u: &str| u.starts_with("http://") || u.starts_with("https://");
        match self {
            Settings::Email { smtp_url, from } => {
                lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(smtp_url)
                    .map_err(|e| format!("smtp_url: {e}"))?;
                from.parse::<lettre::message::Mailbox>()
                    .map_err(|e| format!("from: `{from}` is not an address: {e}"))?;
            }
            Settings::Sms { base_url, .. } | Settings::Telegram { base_url, .. }
                if !url_ok(base_url) =>
            {
                return Err(format!("base_url: `{base_url}` is not an http(s) URL"));
            }
            Settings::Webhook { url, .. } if !url_ok(url) => {
                return Err(format!("url: `{url}` is not an http(s) URL"));
            }
            _ => {}
        }
        Ok(())
    }
}

/// A message ready to go.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The outbox key: the same on every attempt.
    pub key: String,
    /// The email Message-ID, from the key.
    pub message_id: String,
    pub customer: String,
    /// The address on the channel: email, phone number, chat id, customer id.
    pub to: String,
    pub subject: Option<String>,
    pub body: String,
    /// The one-click unsubscribe link (marketing).
    pub unsubscribe: Option<String>,
}

/// Why a send did not go.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Try again (after `after`, when the provider said).
    Retry {
        after: Option<Duration>,
        error: String,
    },
    /// Never: `left` when the answer means the recipient left the channel.
    Permanent { error: String, left: bool },
}

/// The senders, with what they keep between sends (SMTP connection pools, the HTTP agent).
#[derive(Clone)]
pub struct Senders {
    smtp: Arc<Mutex<HashMap<String, lettre::AsyncSmtpTransport<lettre::Tokio1Executor>>>>,
    http: ureq::Agent,
}

impl Default for Senders {
    fn default() -> Self {
        Senders::new()
    }
}

/// How long a provider may take to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

impl Senders {
    pub fn new() -> Senders {
        let http = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            .build()
            .into();
        Senders {
            smtp: Arc::new(Mutex::new(HashMap::new())),
            http,
        }
    }

    /// Send `message` with `settings`: the provider's id for it.
    pub async fn send(&self, settings: &Settings, message: &Outgoing) -> Result<String, Failure> {
        match settings {
            Settings::Email { smtp_url, from } => self.email(smtp_url, from, message).await,
            other => {
                let request = http_request(other, message)?;
                let http = self.http.clone();
                let answer = tokio::task::spawn_blocking(move || call(&http, request))
                    .await
                    .map_err(|e| Failure::Retry {
                        after: None,
                        error: e.to_string(),
                    })??;
                read_answer(other.channel(), answer)
            }
        }
    }

    async fn email(&self, url: &str, from: &str, message: &Outgoing) -> Result<String, Failure> {
        use lettre::message::header::ContentType;
        use lettre::AsyncTransport;
        let permanent = |error: String| Failure::Permanent { error, left: false };
        let to = message
            .to
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| permanent(format!("`{}` is not an email address: {e}", message.to)))?;
        let from = from
            .parse::<lettre::message::Mailbox>()
            .map_err(|e| permanent(format!("from: {e}")))?;
        let mut builder = lettre::Message::builder()
            .from(from)
            .to(to)
            .subject(message.subject.clone().unwrap_or_default())
            .message_id(Some(message.message_id.clone()))
            .header(ContentType::TEXT_PLAIN)
            .header(IdempotencyKey(message.key.clone()));
        if let Some(link) = &message.unsubscribe {
            // RFC 8058: the link, and the header that says one POST to it unsubscribes.
            builder = builder
                .header(ListUnsubscribe(format!("<{link}>")))
                .header(ListUnsubscribePost);
        }
        let email = builder
            .body(message.body.clone())
            .map_err(|e| permanent(e.to_string()))?;
        let transport = {
            let mut pools = self.smtp.lock().unwrap_or_else(|p| p.into_inner());
            match pools.get(url) {
                Some(t) => t.clone(),
                None => {
                    let t = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
                        .map_err(|e| permanent(format!("smtp_url: {e}")))?
                        .timeout(Some(TIMEOUT))
                        .build();
                    pools.insert(url.to_string(), t.clone());
                    t
                }
            }
        };
        match transport.send(email).await {
            Ok(response) => Ok(response.message().collect::<Vec<_>>().join(" ")),
            Err(e) if e.is_permanent() => Err(permanent(e.to_string())),
            Err(e) => Err(Failure::Retry {
                after: None,
                error: e.to_string(),
            }),
        }
    }
}

/// An HTTP request to a provider: method POST, URL, headers, body.
struct Request {
    url: String,
    headers: Vec<(String, String)>,
    body: String,
}

/// A provider's answer: status, Retry-After seconds, body.
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: String,
}

fn http_request(settings: &Settings, message: &Outgoing) -> Result<Request, Failure> {
    use base64::Engine;
    let mut headers = vec![("Idempotency-Key".to_string(), message.key.clone())];
    let (url, body) = match settings {
        Settings::Sms {
            base_url,
            account_sid,
            auth_token,
            from,
        } => {
            let auth = base64::engine::general_purpose::STANDARD
                .encode(format!("{account_sid}:{auth_token}"));
            headers.push(("Authorization".into(), format!("Basic {auth}")));
            headers.push((
                "Content-Type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("To", &message.to)
                .append_pair("From", from)
                .append_pair("Body", &message.body)
                .finish();
            let base = base_url.trim_end_matches('/');
            (
                format!("{base}/2010-04-01/Accounts/{account_sid}/Messages.json"),
                body,
            )
        }
        Settings::Telegram {
            base_url,
            bot_token,
        } => {
            headers.push(("Content-Type".into(), "application/json".into()));
            let body = serde_json::json!({"chat_id": message.to, "text": message.body}).to_string();
            let base = base_url.trim_end_matches('/');
            (format!("{base}/bot{bot_token}/sendMessage"), body)
        }
        Settings::Webhook { url, secret } => {
            let body = serde_json::json!({
                "idempotency_key": message.key,
                "customer_id": message.customer,
                "to": message.to,
                "subject": message.subject,
                "body": message.body,
            })
            .to_string();
            headers.push(("Content-Type".into(), "application/json".into()));
            headers.push((
                "X-Clv-Signature".into(),
                format!("sha256={}", sign(secret, body.as_bytes())),
            ));
            (url.clone(), body)
        }
        Settings::Email { .. } => {
            return Err(Failure::Permanent {
                error: "email is not sent over HTTP".into(),
                left: false,
            })
        }
    };
    Ok(Request { url, headers, body })
}

/// HMAC-SHA256 of `body` with `secret`, hex.
pub fn sign(secret: &str, body: &[u8]) -> String {
    use hmac::{KeyInit, Mac};
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

fn call(http: &ureq::Agent, request: Request) -> Result<Answer, Failure> {
    let mut builder = ureq::http::Request::builder()
        .method("POST")
        .uri(&request.url);
    for (k, v) in &request.headers {
        builder = builder.header(k, v);
    }
    let built = builder.body(request.body).map_err(|e| Failure::Permanent {
        error: format!("{}: {e}", request.url),
        left: false,
    })?;
    let mut response = http.run(built).map_err(|e| Failure::Retry {
        after: None,
        error: e.to_string(),
    })?;
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok());
    Ok(Answer {
        status: response.status().as_u16(),
        retry_after,
        body: response.body_mut().read_to_string().unwrap_or_default(),
    })
}

/// Longest wait a provider may ask for before the outbox retries anyway.
const MAX_RETRY_AFTER: u64 = 3_600;

fn read_answer(channel: Channel, answer: Answer) -> Result<String, Failure> {
    let json: serde_json::Value = serde_json::from_str(&answer.body).unwrap_or_default();
    let error = format!(
        "{} answered {}: {}",
        channel.name(),
        answer.status,
        answer.body.chars().take(300).collect::<String>()
    );
    match answer.status {
        200..=299 => Ok(match channel {
            Channel::Sms => json["sid"].as_str().unwrap_or_default().to_string(),
            Channel::Telegram => json["result"]["message_id"].to_string(),
            _ => String::new(),
        }),
        429 => {
            // Telegram says how long in the body, Twilio and others in Retry-After.
            let after = answer
                .retry_after
                .or_else(|| json["parameters"]["retry_after"].as_u64());
            Err(Failure::Retry {
                after: after.map(|s| Duration::from_secs(s.min(MAX_RETRY_AFTER))),
                error,
            })
        }
        500..=599 => Err(Failure::Retry {
            after: answer.retry_after.map(Duration::from_secs),
            error,
        }),
        status => {
            let left = (channel == Channel::Telegram && status == 403)
                || (channel == Channel::Sms && json["code"].as_i64() == Some(21610));
            Err(Failure::Permanent { error, left })
        }
    }
}

/// A header lettre does not know, by name.
macro_rules! text_header {
    ($ty:ident, $name:expr) => {
        #[derive(Debug, Clone)]
        struct $ty(String);
        impl lettre::message::header::Header for $ty {
            fn name() -> lettre::message::header::HeaderName {
                lettre::message::header::HeaderName::new_from_ascii_str($name)
            }
            fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
                Ok($ty(s.to_string()))
            }
            fn display(&self) -> lettre::message::header::HeaderValue {
                lettre::message::header::HeaderValue::new(Self::name(), self.0.clone())
            }
        }
    };
}
text_header!(ListUnsubscribe, "List-Unsubscribe");
text_header!(IdempotencyKey, "X-Clv-Idempotency-Key");

#[derive(Debug, Clone)]
struct ListUnsubscribePost;
impl lettre::message::header::Header for ListUnsubscribePost {
    fn name() -> lettre::message::header::HeaderName {
        lettre::message::header::HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribePost)
    }
    fn display(&self) -> lettre::message::header::HeaderValue {
        lettre::message::header::HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".into())
    }
}
