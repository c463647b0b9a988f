//! What the service crate's tests share: fresh stores on SQLite and PostgreSQL, the aiosmtpd sink
//! (a real SMTP server writing a Maildir), and fake HTTP providers that check every request.
#![allow(dead_code)]

use clv_serve::{create_shop, NewShop, Shop, Store};
use std::sync::{Arc, Mutex};

#[path = "../../../../../tests/common/postgres.rs"]
pub mod postgres;
#[path = "../../../../../tests/common/sink.rs"]
pub mod sink;
pub use sink::Sink;

/// A fresh store of each kind: a SQLite file in `dir`, and a new database in CLV_TEST_POSTGRES.
pub async fn stores(dir: &std::path::Path, name: &str) -> Vec<Store> {
    let mut stores = Vec::new();
    for url in postgres::database_urls(dir, name) {
        stores.push(Store::open(&url).await.unwrap());
    }
    stores
}

pub async fn shop(store: &Store, name: &str, timezone: &str) -> Shop {
    let new = NewShop {
        name,
        timezone,
        currency: "USD",
    };
    create_shop(store, &new).await.unwrap().0
}

/// Apply an events request body (`{"batch": [...]}`) as the API does.
pub async fn send(
    store: &Store,
    shop: &Shop,
    body: serde_json::Value,
) -> clv_serve::events::Applied {
    let events =
        clv_serve::events::parse_body(&body, shop).unwrap_or_else(|e| panic!("{}", e.message));
    clv_serve::events::apply(&store.writer, shop, &events)
        .await
        .unwrap()
}

/// Save `definition` as a journey of `shop` and switch it on.
pub async fn save_journey(store: &Store, shop: &Shop, definition: serde_json::Value) {
    let (journey, _) = clv_serve::journeys::save(store, shop.id, &definition.to_string())
        .await
        .unwrap_or_else(|e| panic!("{}", e.message));
    clv_serve::journeys::enable(store, shop.id, &journey.id, true)
        .await
        .unwrap();
}

/// Set up one of `shop`'s channels from its settings as JSON.
pub async fn set_channel(store: &Store, shop: &Shop, settings: serde_json::Value) {
    let settings = serde_json::from_value(settings).unwrap();
    clv_serve::outbox::set_channel(store, shop.id, &settings)
        .await
        .unwrap();
}

/// The newest message of `customer` in the message log.
pub async fn latest(store: &Store, shop: &Shop, customer: &str) -> clv_serve::outbox::Logged {
    clv_serve::outbox::log(store, shop.id, customer)
        .await
        .unwrap()
        .remove(0)
}

/// UTC seconds of an RFC 3339 time.
pub fn utc(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .unwrap()
        .timestamp()
}

/// A request a fake provider received: path, headers, body, and what was wrong with it (empty:
/// it was what the provider's API takes).
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub problems: Vec<String>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Fake Twilio, WhatsApp Cloud API, Telegram, Graph Send API (Messenger and Instagram), LINE and
/// WeChat on one loopback port, checking each request as the real APIs would: paths, auth, and
/// the fields each takes. Scripted answers: the first Twilio request of each idempotency key to
/// a +1555 number is a 429 with `Retry-After: 120`; Telegram chat 666 has blocked the bot (403);
/// WhatsApp +4915100000000 stopped marketing messages (131050); Messenger recipient 551 is not
/// available; LINE user Ulost's first push is accepted but answered 500 (a lost answer), and
/// its retry with the same retry key 409; WeChat follower o-gone unfollowed (errcode 43004).
pub struct Providers {
    pub base: String,
    pub received: Arc<Mutex<Vec<Received>>>,
}

pub const TWILIO_SID: &str = "AC0123456789";
pub const TWILIO_TOKEN: &str = "twilio-secret";
pub const TELEGRAM_TOKEN: &str = "123456:bot-token";
pub const WHATSAPP_TOKEN: &str = "wa-token";
pub const WHATSAPP_NUMBER_ID: &str = "1055";
pub const PAGE_TOKEN: &str = "page-token";
pub const LINE_TOKEN: &str = "line-token";
pub const WECHAT_TOKEN: &str = "wx token/1";

/// What a fake Graph, LINE or WeChat endpoint finds wrong with a JSON `body`: missing `fields`
/// (JSON pointers), and a wrong bearer `token`.
fn missing(json: &serde_json::Value, fields: &[&str], bearer: Option<(&str, &str)>) -> Vec<String> {
    let mut problems: Vec<String> = (fields.iter())
        .filter(|f| json.pointer(f).is_none_or(|v| v.is_null() || v == ""))
        .map(|f| format!("no {f}"))
        .collect();
    if let Some((got, token)) = bearer {
        if got != format!("Bearer {token}") {
            problems.push(format!("wrong bearer token `{got}`"));
        }
    }
    problems
}

pub async fn providers() -> Providers {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode, Uri};
    use axum::response::IntoResponse;
    let received: Arc<Mutex<Vec<Received>>> = Arc::default();
    let kept = received.clone();
    let handler = move |uri: Uri, headers: HeaderMap, body: Bytes| {
        let kept = kept.clone();
        async move {
            let path = uri.path().to_string();
            let body = String::from_utf8_lossy(&body).to_string();
            let header = |n: &str| {
                headers
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string()
            };
            let mut problems = Vec::new();
            let key = header("idempotency-key");
            if key.is_empty() {
                problems.push("no Idempotency-Key".to_string());
            }
            let seen_before = kept
                .lock()
                .unwrap()
                .iter()
                .any(|r: &Received| r.header("idempotency-key") == Some(key.as_str()));
            let answer = if path == format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages.json") {
                use base64::Engine;
                let auth = base64::engine::general_purpose::STANDARD
                    .encode(format!("{TWILIO_SID}:{TWILIO_TOKEN}"));
                if header("authorization") != format!("Basic {auth}") {
                    problems.push("wrong Basic auth".into());
                }
                if header("content-type") != "application/x-www-form-urlencoded" {
                    problems.push("not a form".into());
                }
                let form: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes())
                    .into_owned()
                    .collect();
                for field in ["To", "From", "Body"] {
                    if !form.iter().any(|(k, v)| k == field && !v.is_empty()) {
                        problems.push(format!("no {field}"));
                    }
                }
                // Only +1555 numbers are throttled, so that other tests see plain successes.
                let throttled = form
                    .iter()
                    .any(|(k, v)| k == "To" && v.starts_with("+1555"));
                if throttled && !seen_before {
                    (
                        StatusCode::TOO_MANY_REQUESTS,
                        [("retry-after", "120")],
                        r#"{"code": 20429, "message": "Too Many Requests"}"#.to_string(),
                    )
                        .into_response()
                } else {
                    let n = kept.lock().unwrap().len();
                    (
                        StatusCode::CREATED,
                        [("content-type", "application/json")],
                        format!(r#"{{"sid": "SM{n:032}", "status": "queued"}}"#),
                    )
                        .into_response()
                }
            } else if path == format!("/bot{TELEGRAM_TOKEN}/sendMessage") {
                let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                if json["chat_id"].as_str().is_none_or(str::is_empty)
                    || json["text"].as_str().is_none_or(str::is_empty)
                {
                    problems.push("chat_id and text are required".into());
                }
                if json["chat_id"] == "666" {
                    (StatusCode::FORBIDDEN, r#"{"ok": false, "error_code": 403, "description": "Forbidden: bot was blocked by the user"}"#.to_string()).into_response()
                } else {
                    (
                        StatusCode::OK,
                        r#"{"ok": true, "result": {"message_id": 77}}"#.to_string(),
                    )
                        .into_response()
                }
            } else if path == format!("/v21.0/{WHATSAPP_NUMBER_ID}/messages") {
                let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let fields = [
                    "/messaging_product",
                    "/to",
                    "/template/name",
                    "/template/language/code",
                    "/template/components/0/parameters/0/text",
                ];
                problems.extend(missing(
                    &json,
                    &fields,
                    Some((&header("authorization"), WHATSAPP_TOKEN)),
                ));
                if json["to"] == "+4915100000000" {
                    let error = r#"{"error": {"message": "This recipient has chosen to stop receiving marketing messages", "type": "OAuthException", "code": 131050}}"#;
                    (StatusCode::BAD_REQUEST, error.to_string()).into_response()
                } else {
                    (
                        StatusCode::OK,
                        r#"{"messaging_product": "whatsapp", "messages": [{"id": "wamid.1"}]}"#
                            .to_string(),
                    )
                        .into_response()
                }
            } else if path == "/v21.0/me/messages" {
                let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                let fields = ["/recipient/id", "/message/text", "/messaging_type"];
                problems.extend(missing(
                    &json,
                    &fields,
                    Some((&header("authorization"), PAGE_TOKEN)),
                ));
                if json["messaging_type"] == "MESSAGE_TAG" && json["tag"].as_str().is_none() {
                    problems.push("MESSAGE_TAG without a tag".into());
                }
                if json["recipient"]["id"] == "551" {
                    let error = r#"{"error": {"message": "This person isn't available right now.", "code": 551, "error_subcode": 1545041}}"#;
                    (StatusCode::BAD_REQUEST, error.to_string()).into_response()
                } else {
                    (
                        StatusCode::OK,
                        r#"{"recipient_id": "1", "message_id": "m_1"}"#.to_string(),
                    )
                        .into_response()
                }
            } else if path == "/v2/bot/message/push" {
                let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                problems.extend(missing(
                    &json,
                    &["/to", "/messages/0/text"],
                    Some((&header("authorization"), LINE_TOKEN)),
                ));
                let retry_key = header("x-line-retry-key");
                let uuid = retry_key.len() == 36
                    && retry_key.chars().enumerate().all(|(i, c)| {
                        if [8, 13, 18, 23].contains(&i) {
                            c == '-'
                        } else {
                            c.is_ascii_hexdigit()
                        }
                    });
                if !uuid {
                    problems.push(format!("X-Line-Retry-Key `{retry_key}` is not a UUID"));
                }
                let retried =
                    kept.lock().unwrap().iter().any(|r: &Received| {
                        r.header("x-line-retry-key") == Some(retry_key.as_str())
                    });
                match (json["to"].as_str(), retried) {
                    (_, true) => (
                        StatusCode::CONFLICT,
                        r#"{"message": "The retry key is already accepted"}"#.to_string(),
                    )
                        .into_response(),
                    (Some("Ulost"), false) => {
                        (StatusCode::INTERNAL_SERVER_ERROR, String::new()).into_response()
                    }
                    _ => (
                        StatusCode::OK,
                        r#"{"sentMessages": [{"id": "461230966842064897", "quoteToken": "q"}]}"#
                            .to_string(),
                    )
                        .into_response(),
                }
            } else if path == "/cgi-bin/message/custom/send" {
                let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
                problems.extend(missing(
                    &json,
                    &["/touser", "/msgtype", "/text/content"],
                    None,
                ));
                let token = form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
                    .find(|(k, _)| k == "access_token")
                    .map(|(_, v)| v.into_owned());
                if token.as_deref() != Some(WECHAT_TOKEN) {
                    problems.push(format!("wrong access_token {token:?}"));
                }
                let answer = match json["touser"].as_str() {
                    Some("o-gone") => r#"{"errcode": 43004, "errmsg": "require subscribe"}"#,
                    _ => r#"{"errcode": 0, "errmsg": "ok"}"#,
                };
                (StatusCode::OK, answer.to_string()).into_response()
            } else {
                problems.push(format!("no such endpoint {path}"));
                (StatusCode::NOT_FOUND, String::new()).into_response()
            };
            let headers = headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
                .collect();
            kept.lock().unwrap().push(Received {
                path,
                headers,
                body,
                problems,
            });
            answer
        }
    };
    let app = axum::Router::new().fallback(handler);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Providers { base, received }
}
