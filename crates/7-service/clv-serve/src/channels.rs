//! The channels a message goes out on, behind one call: email over SMTP (lettre), SMS through
//! Twilio's Messages API, the WhatsApp Cloud API, Telegram's Bot API, Messenger and Instagram
//! through the Graph Send API, the LINE Messaging API, WeChat official-account customer
//! messages, and a signed generic webhook. Each provider's base URL is a setting, so tests point
//! them at local fake servers that check every request.
//!
//! Every send carries the message's idempotency key: email as a stable Message-ID, HTTP
//! providers as an `Idempotency-Key` header (only the webhook's receiver can deduplicate on it)
//! and LINE also as its `X-Line-Retry-Key`, which LINE does deduplicate on (a retry it already
//! accepted answers 409, which counts as sent). Provider answers map to what the outbox does
//! next: 429 and the providers' rate-limit codes → retry after the time the provider asks; 5xx
//! and network errors → retry with the same key; other refusals → fail for good, and where the
//! answer means the recipient left (Telegram's 403 "blocked by the user", Twilio's 21610
//! "unsubscribed", WhatsApp's 131050 "stopped marketing messages", Messenger's 551 "not
//! available", WeChat's 43004 "not following"), revoke their consent too.

use clv_journeys::Channel;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Where a shop's channel sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "channel", rename_all = "snake_case", deny_unknown_fields)]
pub enum Settings {
    Email {
        /// `smtp://host:port` (plain, for a local relay), `smtp://host?tls=required` (STARTTLS)
        /// or `smtps://user:password@host` (implicit TLS); `ca=/path/ca.pem` trusts a private
        /// CA (see `smtp::Relay::parse`).
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
    /// WhatsApp Cloud API. A business-initiated message needs an approved template: with
    /// `template`, every message goes as it, the rendered text its one body parameter; without,
    /// as free text, which WhatsApp takes only within 24 hours of the customer's last message.
    Whatsapp {
        #[serde(default = "graph")]
        base_url: String,
        #[serde(default = "graph_version")]
        api_version: String,
        phone_number_id: String,
        access_token: String,
        #[serde(default)]
        template: Option<String>,
        /// The template's language code.
        #[serde(default = "english")]
        language: String,
        /// The app secret that signs status webhooks (`X-Hub-Signature-256`) to
        /// `/webhooks/whatsapp/{shop id}`; without it they are refused.
        #[serde(default)]
        app_secret: Option<String>,
        /// What Meta's subscription handshake (`GET …?hub.verify_token=`) must bring.
        #[serde(default)]
        verify_token: Option<String>,
    },
    Telegram {
        #[serde(default = "telegram")]
        base_url: String,
        bot_token: String,
    },
    /// Messenger (Graph Send API) with a page access token. Transactional messages go with the
    /// `POST_PURCHASE_UPDATE` tag, which Messenger delivers outside the 24-hour window; marketing
    /// ones as `UPDATE`, which it takes only inside it.
    Messenger {
        #[serde(default = "graph")]
        base_url: String,
        #[serde(default = "graph_version")]
        api_version: String,
        page_access_token: String,
    },
    /// Instagram messaging (the same Send API): replies within 24 hours of the customer's last
    /// message only.
    Instagram {
        #[serde(default = "graph")]
        base_url: String,
        #[serde(default = "graph_version")]
        api_version: String,
        page_access_token: String,
    },
    /// LINE Messaging API push messages.
    Line {
        #[serde(default = "line")]
        base_url: String,
        channel_access_token: String,
    },
    /// WeChat official-account customer-service messages, which WeChat takes within 48 hours of
    /// the follower's last interaction. The access token expires every two hours: keep it
    /// fresh from the account's token service (one place fetches it, as WeChat asks) with a
    /// `PUT` of these settings.
    Wechat {
        #[serde(default = "wechat")]
        base_url: String,
        access_token: String,
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

fn graph() -> String {
    "https://graph.facebook.com".into()
}

fn graph_version() -> String {
    "v21.0".into()
}

fn english() -> String {
    "en".into()
}

fn line() -> String {
    "https://api.line.me".into()
}

fn wechat() -> String {
    "https://api.weixin.qq.com".into()
}

impl Settings {
    pub fn channel(&self) -> Channel {
        match self {
            Settings::Email { .. } => Channel::Email,
            Settings::Sms { .. } => Channel::Sms,
            Settings::Whatsapp { .. } => Channel::Whatsapp,
            Settings::Telegram { .. } => Channel::Telegram,
            Settings::Messenger { .. } => Channel::Messenger,
            Settings::Instagram { .. } => Channel::Instagram,
            Settings::Line { .. } => Channel::Line,
            Settings::Wechat { .. } => Channel::Wechat,
            Settings::Webhook { .. } => Channel::Webhook,
        }
    }

    /// What is wrong with the settings, before they are saved.
    pub fn check(&self) -> Result<(), String> {
        let url_ok = |u: &str| u.starts_with("http://") || u.starts_with("https://");
        match self {
            Settings::Email { smtp_url, from } => {
                crate::smtp::Relay::parse(smtp_url).map_err(|e| format!("smtp_url: {e}"))?;
                from.parse::<lettre::message::Mailbox>()
                    .map_err(|e| format!("from: `{from}` is not an address: {e}"))?;
            }
            Settings::Webhook { url, .. } if !url_ok(url) => {
                return Err(format!("url: `{url}` is not an http(s) URL"));
            }
            _ => {}
        }
        match self.base_url() {
            Some(base) if !url_ok(base) => Err(format!("base_url: `{base}` is not an http(s) URL")),
            _ => Ok(()),
        }
    }

    /// The provider's base URL, for the channels that have one.
    fn base_url(&self) -> Option<&str> {
        match self {
            Settings::Sms { base_url, .. }
            | Settings::Whatsapp { base_url, .. }
            | Settings::Telegram { base_url, .. }
            | Settings::Messenger { base_url, .. }
            | Settings::Instagram { base_url, .. }
            | Settings::Line { base_url, .. }
            | Settings::Wechat { base_url, .. } => Some(base_url.trim_end_matches('/')),
            Settings::Email { .. } | Settings::Webhook { .. } => None,
        }
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
    /// A marketing message (else transactional): Messenger tags them differently.
    pub marketing: bool,
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
    smtp: crate::smtp::Pool,
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
            smtp: crate::smtp::Pool::default(),
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
        let bytes = email.formatted();
        match self.smtp.send(url, email.envelope(), &bytes, TIMEOUT).await {
            Ok(answer) => Ok(answer),
            Err(e) if e.permanent => Err(permanent(e.error)),
            Err(e) => Err(Failure::Retry {
                after: None,
                error: e.error,
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
    let json = "application/json".to_string();
    let base = settings.base_url().unwrap_or_default();
    let (url, content_type, body) = match settings {
        Settings::Sms {
            account_sid,
            auth_token,
            from,
            ..
        } => {
            let auth = base64::engine::general_purpose::STANDARD
                .encode(format!("{account_sid}:{auth_token}"));
            headers.push(("Authorization".into(), format!("Basic {auth}")));
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("To", &message.to)
                .append_pair("From", from)
                .append_pair("Body", &message.body)
                .finish();
            let url = format!("{base}/2010-04-01/Accounts/{account_sid}/Messages.json");
            (url, "application/x-www-form-urlencoded".to_string(), body)
        }
        Settings::Whatsapp {
            api_version,
            phone_number_id,
            access_token,
            template,
            language,
            ..
        } => {
            headers.push(("Authorization".into(), format!("Bearer {access_token}")));
            let mut body = serde_json::json!({"messaging_product": "whatsapp", "to": message.to});
            match template {
                Some(name) => {
                    body["type"] = "template".into();
                    let text = serde_json::json!({"type": "text", "text": message.body});
                    body["template"] = serde_json::json!({"name": name, "language": {"code": language},
                        "components": [{"type": "body", "parameters": [text]}]});
                }
                None => {
                    body["type"] = "text".into();
                    body["text"] = serde_json::json!({"body": message.body});
                }
            }
            (
                format!("{base}/{api_version}/{phone_number_id}/messages"),
                json,
                body.to_string(),
            )
        }
        Settings::Telegram { bot_token, .. } => {
            let body = serde_json::json!({"chat_id": message.to, "text": message.body}).to_string();
            (format!("{base}/bot{bot_token}/sendMessage"), json, body)
        }
        Settings::Messenger {
            api_version,
            page_access_token,
            ..
        }
        | Settings::Instagram {
            api_version,
            page_access_token,
            ..
        } => {
            headers.push((
                "Authorization".into(),
                format!("Bearer {page_access_token}"),
            ));
            let mut body = serde_json::json!({"recipient": {"id": message.to}, "message": {"text": message.body}});
            match (settings, message.marketing) {
                (Settings::Instagram { .. }, _) => body["messaging_type"] = "RESPONSE".into(),
                (_, true) => body["messaging_type"] = "UPDATE".into(),
                (_, false) => {
                    body["messaging_type"] = "MESSAGE_TAG".into();
                    body["tag"] = "POST_PURCHASE_UPDATE".into();
                }
            }
            (
                format!("{base}/{api_version}/me/messages"),
                json,
                body.to_string(),
            )
        }
        Settings::Line {
            channel_access_token,
            ..
        } => {
            headers.push((
                "Authorization".into(),
                format!("Bearer {channel_access_token}"),
            ));
            headers.push(("X-Line-Retry-Key".into(), retry_uuid(&message.key)));
            let body = serde_json::json!({"to": message.to, "messages": [{"type": "text", "text": message.body}]});
            (
                format!("{base}/v2/bot/message/push"),
                json,
                body.to_string(),
            )
        }
        Settings::Wechat { access_token, .. } => {
            let token: String = form_urlencoded::byte_serialize(access_token.as_bytes()).collect();
            let body = serde_json::json!({"touser": message.to, "msgtype": "text", "text": {"content": message.body}});
            (
                format!("{base}/cgi-bin/message/custom/send?access_token={token}"),
                json,
                body.to_string(),
            )
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
            headers.push((
                "X-Clv-Signature".into(),
                format!("sha256={}", sign(secret, body.as_bytes())),
            ));
            (url.clone(), json, body)
        }
        Settings::Email { .. } => {
            return Err(Failure::Permanent {
                error: "email is not sent over HTTP".into(),
                left: false,
            })
        }
    };
    headers.push(("Content-Type".into(), content_type));
    Ok(Request { url, headers, body })
}

/// LINE's retry key for outbox key `key`: LINE takes only a UUID, so the key's SHA-256 written
/// as one (version 4 and variant bits set, as UUID validators expect), the same on every retry.
fn retry_uuid(key: &str) -> String {
    use sha2::Digest;
    let mut b: [u8; 16] = sha2::Sha256::digest(key.as_bytes())[..16]
        .try_into()
        .expect("16 bytes");
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
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

/// Graph API error codes (WhatsApp, Messenger, Instagram) that mean "too fast, later".
const GRAPH_RATE_LIMITS: [i64; 6] = [4, 17, 32, 613, 130429, 131056];
/// WeChat error codes that pass: -1 system busy, 45047 too many messages to one follower, and
/// the access-token codes (40001 invalid, 42001 expired, 40014 malformed), which the account's
/// token service fixes with a fresh token.
const WECHAT_RETRY: [i64; 5] = [-1, 45047, 40001, 42001, 40014];

fn read_answer(channel: Channel, answer: Answer) -> Result<String, Failure> {
    let json: serde_json::Value = serde_json::from_str(&answer.body).unwrap_or_default();
    let error = format!(
        "{} answered {}: {}",
        channel.name(),
        answer.status,
        answer.body.chars().take(300).collect::<String>()
    );
    let graph_code = json["error"]["code"].as_i64();
    let retry = |after: Option<u64>| Failure::Retry {
        after: after.map(|s| Duration::from_secs(s.min(MAX_RETRY_AFTER))),
        error: error.clone(),
    };
    // WeChat answers 200 with its verdict in `errcode`.
    if channel == Channel::Wechat && (200..=299).contains(&answer.status) {
        return match json["errcode"].as_i64().unwrap_or(0) {
            0 => Ok(json["msgid"]
                .as_i64()
                .map(|id| id.to_string())
                .unwrap_or_default()),
            code if WECHAT_RETRY.contains(&code) => Err(retry(None)),
            code => Err(Failure::Permanent {
                error,
                left: code == 43004,
            }),
        };
    }
    match answer.status {
        200..=299 => Ok(match channel {
            Channel::Sms => json["sid"].as_str().unwrap_or_default().to_string(),
            Channel::Whatsapp => json["messages"][0]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            Channel::Telegram => json["result"]["message_id"].to_string(),
            Channel::Messenger | Channel::Instagram => {
                json["message_id"].as_str().unwrap_or_default().to_string()
            }
            Channel::Line => json["sentMessages"][0]["id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            _ => String::new(),
        }),
        // LINE has accepted this retry key before: the message went.
        409 if channel == Channel::Line => Ok(String::new()),
        // Telegram says how long in the body, Twilio and others in Retry-After.
        429 => Err(retry(
            answer
                .retry_after
                .or_else(|| json["parameters"]["retry_after"].as_u64()),
        )),
        _ if graph_code.is_some_and(|c| GRAPH_RATE_LIMITS.contains(&c)) => {
            Err(retry(answer.retry_after))
        }
        500..=599 => Err(Failure::Retry {
            after: answer.retry_after.map(Duration::from_secs),
            error,
        }),
        status => {
            let left = match channel {
                Channel::Telegram => status == 403,
                Channel::Sms => json["code"].as_i64() == Some(21610),
                Channel::Whatsapp => graph_code == Some(131050),
                Channel::Messenger | Channel::Instagram => graph_code == Some(551),
                _ => false,
            };
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The request `settings` make of a message to `to` saying "Hi", marketing or not: its URL
    /// and its JSON body.
    fn check(settings: serde_json::Value, marketing: bool, url: &str, body: serde_json::Value) {
        let settings: Settings = serde_json::from_value(settings).unwrap();
        let message = Outgoing {
            key: "thank-you:o:1#0".into(),
            message_id: "<m@x>".into(),
            customer: "c1".into(),
            to: "to-1".into(),
            subject: None,
            body: "Hi".into(),
            unsubscribe: None,
            marketing,
        };
        let request = http_request(&settings, &message).unwrap();
        assert_eq!(request.url, url);
        let got: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(got, body, "{url}");
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(header("Idempotency-Key"), Some("thank-you:o:1#0"));
        assert_eq!(header("Content-Type"), Some("application/json"));
    }

    #[test]
    fn each_chat_api_gets_its_own_request_shape() {
        let messenger = serde_json::json!({"channel": "messenger", "page_access_token": "t"});
        let url = "https://graph.facebook.com/v21.0/me/messages";
        let tagged = serde_json::json!({"recipient": {"id": "to-1"}, "message": {"text": "Hi"},
            "messaging_type": "MESSAGE_TAG", "tag": "POST_PURCHASE_UPDATE"});
        check(messenger.clone(), false, url, tagged);
        let update = serde_json::json!({"recipient": {"id": "to-1"}, "message": {"text": "Hi"}, "messaging_type": "UPDATE"});
        check(messenger, true, url, update);
        let free_text = serde_json::json!({"channel": "whatsapp", "base_url": "http://127.0.0.1:9/", "phone_number_id": "7", "access_token": "t"});
        let text = serde_json::json!({"messaging_product": "whatsapp", "to": "to-1", "type": "text", "text": {"body": "Hi"}});
        check(free_text, true, "http://127.0.0.1:9/v21.0/7/messages", text);
        let wechat = serde_json::json!({"channel": "wechat", "access_token": "a b&c"});
        let content =
            serde_json::json!({"touser": "to-1", "msgtype": "text", "text": {"content": "Hi"}});
        check(
            wechat,
            false,
            "https://api.weixin.qq.com/cgi-bin/message/custom/send?access_token=a+b%26c",
            content,
        );
    }

    #[test]
    fn line_retry_keys_are_uuids_fixed_by_the_outbox_key() {
        let a = retry_uuid("thank-you:o:1#0");
        assert_eq!(a, retry_uuid("thank-you:o:1#0"));
        assert_ne!(a, retry_uuid("thank-you:o:2#0"));
        let parts: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_eq!((&a[14..15], "89ab".contains(&a[19..20])), ("4", true));
    }
}
