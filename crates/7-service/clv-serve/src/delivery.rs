//! Delivery-status webhooks: Twilio's status callbacks and the WhatsApp Cloud API's `statuses`,
//! each checked by its signature before anything is read, applied to the outbox row the
//! provider's message id names. Applying is idempotent and never goes backwards: a status is
//! written only over a lower one (sent < delivered < read < failed), so a replayed or late
//! callback changes nothing.

use crate::error::ApiError;
use crate::Store;
use axum::http::StatusCode;
use clv_journeys::Channel;
use hmac::{KeyInit, Mac};
use serde_json::Value;

/// What a provider says of a message, in the order statuses may follow each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    Sent = 1,
    Delivered = 2,
    Read = 3,
    Failed = 4,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Sent => "sent",
            Status::Delivered => "delivered",
            Status::Read => "read",
            Status::Failed => "failed",
        }
    }

    /// Twilio's `MessageStatus` or WhatsApp's `status`; `None` for the stages before sending
    /// (queued, accepted, sending, scheduled), which say nothing new.
    pub fn parse(status: &str) -> Option<Status> {
        match status {
            "sent" => Some(Status::Sent),
            "delivered" => Some(Status::Delivered),
            "read" => Some(Status::Read),
            "failed" | "undelivered" => Some(Status::Failed),
            _ => None,
        }
    }
}

/// One status of one message, by the provider's id for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub provider_id: String,
    pub status: Status,
    /// The provider's error, for a failure.
    pub error: Option<String>,
}

fn refused(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", message)
}

/// Twilio's `X-Twilio-Signature`: base64 of HMAC-SHA1, keyed by the auth token, of the URL
/// Twilio posted to followed by each form parameter's name and value, sorted by name.
pub fn twilio_signature(auth_token: &str, url: &str, form: &[(String, String)]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .encode(twilio_mac(auth_token, url, form).finalize().into_bytes())
}

fn twilio_mac(auth_token: &str, url: &str, form: &[(String, String)]) -> hmac::Hmac<sha1::Sha1> {
    let mut sorted: Vec<&(String, String)> = form.iter().collect();
    sorted.sort();
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    mac
}

/// A Twilio status callback to `url`, checked against `signature` (compared in constant time),
/// as the update it states.
pub fn twilio_update(
    auth_token: &str,
    url: &str,
    signature: Option<&str>,
    body: &[u8],
) -> Result<Option<Update>, ApiError> {
    use base64::Engine;
    let form: Vec<(String, String)> = form_urlencoded::parse(body).into_owned().collect();
    let signature = signature.ok_or_else(|| refused("X-Twilio-Signature is missing"))?;
    let given = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .unwrap_or_default();
    twilio_mac(auth_token, url, &form)
        .verify_slice(&given)
        .map_err(|_| refused("X-Twilio-Signature does not match: check the auth token and the service's public URL"))?;
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let sid = field("MessageSid").ok_or_else(|| ApiError::invalid("MessageSid", "is required"))?;
    let status =
        field("MessageStatus").ok_or_else(|| ApiError::invalid("MessageStatus", "is required"))?;
    Ok(Status::parse(status).map(|status| Update {
        provider_id: sid.to_string(),
        status,
        error: field("ErrorCode")
            .filter(|c| !c.is_empty())
            .map(|c| format!("twilio: {} (ErrorCode {c})", status.name())),
    }))
}

/// A WhatsApp webhook's body, checked against `X-Hub-Signature-256` (HMAC-SHA256 of the body
/// with the app secret, compared in constant time), as the updates its `statuses` state.
pub fn whatsapp_updates(
    app_secret: &str,
    signature: Option<&str>,
    body: &[u8],
) -> Result<Vec<Update>, ApiError> {
    let signature = signature.ok_or_else(|| refused("X-Hub-Signature-256 is missing"))?;
    let given = signature
        .strip_prefix("sha256=")
        .and_then(|h| hex::decode(h).ok())
        .unwrap_or_default();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(app_secret.as_bytes())
        .expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&given).map_err(|_| {
        refused("X-Hub-Signature-256 does not match the body: check the app secret")
    })?;
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid("body", format!("is not JSON: {e}")))?;
    let statuses = (json["entry"].as_array().into_iter().flatten())
        .flat_map(|entry| entry["changes"].as_array().into_iter().flatten())
        .flat_map(|change| change["value"]["statuses"].as_array().into_iter().flatten());
    Ok(statuses
        .filter_map(|s| {
            let status = Status::parse(s["status"].as_str()?)?;
            let error = s["errors"][0].as_object().map(|e| {
                format!(
                    "whatsapp: {} ({})",
                    e.get("title").and_then(Value::as_str).unwrap_or("failed"),
                    e.get("code").map(Value::to_string).unwrap_or_default()
                )
            });
            Some(Update {
                provider_id: s["id"].as_str()?.to_string(),
                status,
                error,
            })
        })
        .collect())
}

/// Apply `updates` to `shop`'s messages sent on `channel`: the number of messages whose status
/// moved (a replay moves none).
pub async fn apply(
    store: &Store,
    shop: i64,
    channel: Channel,
    updates: &[Update],
    at: i64,
) -> Result<u64, sqlx::Error> {
    let mut moved = 0;
    for u in updates {
        let reached = matches!(u.status, Status::Delivered | Status::Read);
        moved += sqlx::query(
            "UPDATE outbox SET delivery = $4, \
             delivered_at = CASE WHEN $5 = 1 THEN COALESCE(delivered_at, $6) ELSE delivered_at END, \
             last_error = COALESCE($7, last_error) \
             WHERE shop_id = $1 AND channel = $2 AND provider_id = $3 AND status = 'sent' \
             AND (CASE delivery WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3 WHEN 'failed' THEN 4 ELSE 0 END) < $8",
        )
        .bind(shop)
        .bind(channel.name())
        .bind(&u.provider_id)
        .bind(u.status.name())
        .bind(i64::from(reached))
        .bind(at)
        .bind(&u.error)
        .bind(u.status as i64)
        .execute(&store.writer)
        .await?
        .rows_affected();
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Twilio's signing of a callback: the example of Twilio's security guide (auth token
    /// 12345), whose signature `openssl dgst -sha1 -hmac 12345 -binary | base64` of the URL and
    /// the sorted `CallSid…To+18005551212` gives too.
    #[test]
    fn twilio_signatures_are_hmac_sha1_of_the_url_and_the_sorted_parameters() {
        let form: Vec<(String, String)> = [
            ("To", "+18005551212"),
            ("CallSid", "CA1234567890ABCDE"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("Caller", "+12349013030"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(twilio_signature("12345", url, &form), OPENSSL_TWILIO);
    }

    const OPENSSL_TWILIO: &str = "0/KCTR6DLpKmkAf8muzZqo1nDgQ=";

    #[test]
    fn a_whatsapp_body_is_read_only_with_its_signature() {
        let body = br#"{"entry": [{"changes": [{"value": {"statuses": [
            {"id": "wamid.1", "status": "delivered"}, {"id": "wamid.2", "status": "failed", "errors": [{"code": 131026, "title": "Message undeliverable"}]},
            {"id": "wamid.3", "status": "queued"}]}}]}]}"#;
        let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"app-secret").unwrap();
        mac.update(body);
        let good = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        let updates = whatsapp_updates("app-secret", Some(&good), body).unwrap();
        assert_eq!(
            updates,
            [
                Update {
                    provider_id: "wamid.1".into(),
                    status: Status::Delivered,
                    error: None
                },
                Update {
                    provider_id: "wamid.2".into(),
                    status: Status::Failed,
                    error: Some("whatsapp: Message undeliverable (131026)".into())
                },
            ]
        );
        for bad in [
            None,
            Some("sha256=00"),
            Some(good.trim_start_matches("sha256=")),
        ] {
            let e = whatsapp_updates("app-secret", bad, body).unwrap_err();
            assert_eq!(e.status, StatusCode::UNAUTHORIZED, "{bad:?}");
        }
        assert!(whatsapp_updates("other-secret", Some(&good), body).is_err());
    }
}
