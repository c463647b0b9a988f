//! Shopify webhooks (`POST /webhooks/shopify/{shop}`): the signature (`X-Shopify-Hmac-Sha256`,
//! base64 HMAC-SHA256 of the raw body with the shop's app secret) is checked before anything
//! else; each delivery is applied once by `X-Shopify-Webhook-Id`; an order payload is a snapshot
//! that replaces an older one (`updated_at`), never a newer one.

use crate::error::ApiError;
use crate::events::{Effect, Event};
use crate::money::to_minor;
use crate::shops::Shop;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

/// The topics taken; others are acknowledged and ignored (Shopify retries anything but a 2xx).
pub const TOPICS: [&str; 7] = [
    "orders/create",
    "orders/updated",
    "orders/paid",
    "orders/cancelled",
    "refunds/create",
    "customers/create",
    "customers/update",
];

fn unauthorized(message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", message)
}

/// Whether `signature` (base64) is the HMAC-SHA256 of `body` with `secret`, compared in
/// constant time.
pub fn verify(secret: &str, body: &[u8], signature: &str) -> bool {
    let Ok(tag) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&tag).is_ok()
}

/// The signature a body gets (for tests and for senders).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The shop's Shopify secret, if it has one.
pub async fn secret(pool: &sqlx::AnyPool, shop: i64) -> Result<Option<String>, sqlx::Error> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT secret FROM integrations WHERE shop_id = $1 AND platform = 'shopify'",
    )
    .bind(shop)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(|r| r.0))
}

/// Set (or replace) the shop's Shopify secret.
pub async fn set_secret(pool: &sqlx::AnyPool, shop: i64, secret: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO integrations (shop_id, platform, secret, created_at) VALUES ($1, 'shopify', $2, $3) \
         ON CONFLICT (shop_id, platform) DO UPDATE SET secret = excluded.secret",
    )
    .bind(shop)
    .bind(secret)
    .bind(crate::store::now())
    .execute(pool)
    .await?;
    Ok(())
}

/// Check a delivery's signature against the shop's secret.
pub fn authenticate(secret: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let signature = headers
        .get("x-shopify-hmac-sha256")
        .and_then(|h| h.to_str().ok());
    match signature {
        Some(s) if verify(secret, body, s) => Ok(()),
        Some(_) => Err(unauthorized(
            "X-Shopify-Hmac-Sha256 does not match the body: check the app secret",
        )),
        None => Err(unauthorized("X-Shopify-Hmac-Sha256 is missing")),
    }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, ApiError> {
    headers
        .get(name)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.len() <= 256)
        .ok_or_else(|| ApiError::invalid(name, "is required on a Shopify webhook"))
}

fn id_of(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn time_of(payload: &Value, field: &str) -> Result<Option<i64>, ApiError> {
    match payload.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(t)) => chrono::DateTime::parse_from_rfc3339(t)
            .map(|t| Some(t.timestamp()))
            .map_err(|_| ApiError::invalid(field, format!("`{t}` is not ISO 8601"))),
        Some(_) => Err(ApiError::invalid(field, "is a timestamp string")),
    }
}

/// Refunded money of a refund object: its successful refund transactions.
fn refunded(refund: &Value, shop: &Shop) -> Result<i64, ApiError> {
    let mut total = 0;
    for t in refund
        .get("transactions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let kind = t.get("kind").and_then(Value::as_str);
        let status = t.get("status").and_then(Value::as_str);
        if kind == Some("refund") && status.is_none_or(|s| s == "success") {
            let amount = t.get("amount").unwrap_or(&Value::Null);
            total += to_minor(amount, shop.minor_digits())
                .map_err(|m| ApiError::invalid("transactions.amount", m))?;
        }
    }
    Ok(total)
}

/// An order's `line_items`: each its `sku` (or `product_id`), `quantity` and unit `price`.
fn line_items(shop: &Shop, payload: &Value) -> Result<Vec<crate::events::Item>, ApiError> {
    let list = payload.get("line_items").and_then(Value::as_array);
    let mut items = Vec::new();
    for (i, line) in list.into_iter().flatten().enumerate() {
        let at = |f: &str| format!("line_items[{i}].{f}");
        let sku = match (line.get("sku"), line.get("product_id")) {
            (Some(Value::String(s)), _) if !s.trim().is_empty() => s.trim().to_string(),
            (_, Some(Value::Number(n))) => n.to_string(),
            (_, Some(Value::String(s))) if !s.trim().is_empty() => s.trim().to_string(),
            _ => {
                return Err(ApiError::invalid(
                    at("sku"),
                    "a line needs its sku or product_id",
                ))
            }
        };
        let quantity = line
            .get("quantity")
            .and_then(Value::as_f64)
            .filter(|q| *q > 0.0 && q.is_finite())
            .ok_or_else(|| ApiError::invalid(at("quantity"), "is a positive number"))?;
        let price = match line.get("price") {
            Some(p) => {
                to_minor(p, shop.minor_digits()).map_err(|m| ApiError::invalid(at("price"), m))?
            }
            None => 0,
        };
        items.push(crate::events::Item {
            sku,
            quantity,
            amount_minor: (price as f64 * quantity).round() as i64,
        });
    }
    Ok(items)
}

/// The events a delivery stands for, each with its own stable id.
pub fn events(shop: &Shop, headers: &HeaderMap, payload: &Value) -> Result<Vec<Event>, ApiError> {
    let topic = header(headers, "x-shopify-topic")?;
    let delivery = header(headers, "x-shopify-webhook-id")?;
    if !TOPICS.contains(&topic) {
        return Ok(Vec::new());
    }
    let message_id = |part: &str| format!("shopify:{delivery}{part}");
    let mut out = Vec::new();
    if topic.starts_with("customers/") {
        let customer_id = id_of(payload.get("id"))
            .ok_or_else(|| ApiError::invalid("id", "the customer's id is missing"))?;
        let at = time_of(payload, "updated_at")?
            .or(time_of(payload, "created_at")?)
            .unwrap_or_else(crate::store::now);
        let email = payload
            .get("email")
            .and_then(Value::as_str)
            .map(str::to_string);
        let traits = serde_json::json!({
            "email": email, "first_name": payload.get("first_name"), "last_name": payload.get("last_name"),
            "accepts_marketing": payload.get("accepts_marketing"), "tags": payload.get("tags"),
        });
        out.push(Event {
            message_id: message_id(""),
            kind: "identify".into(),
            at,
            effect: Effect::Identify {
                customer_id,
                email,
                traits,
            },
        });
        return Ok(out);
    }
    if topic == "refunds/create" {
        let order_id = id_of(payload.get("order_id"))
            .ok_or_else(|| ApiError::invalid("order_id", "the refund's order is missing"))?;
        let refund_id = id_of(payload.get("id"))
            .ok_or_else(|| ApiError::invalid("id", "the refund's id is missing"))?;
        let at = time_of(payload, "created_at")?.unwrap_or_else(crate::store::now);
        let amount_minor = refunded(payload, shop)?;
        // Keyed by the refund's own id: the same refund in an orders/updated payload is the same row.
        out.push(Event {
            message_id: message_id(""),
            kind: "Order Refunded".into(),
            at,
            effect: Effect::Refund {
                order_id,
                amount_minor,
                refund_id: Some(format!("shopify-refund:{refund_id}")),
            },
        });
        return Ok(out);
    }
    // An order snapshot.
    let order_id = id_of(payload.get("id"))
        .ok_or_else(|| ApiError::invalid("id", "the order's id is missing"))?;
    if let Some(code) = payload.get("currency").and_then(Value::as_str) {
        shop.accepts_currency(code)
            .map_err(|m| ApiError::invalid("currency", m))?;
    }
    let customer = payload.get("customer").and_then(|c| id_of(c.get("id")));
    let customer = customer.or_else(|| {
        payload
            .get("email")
            .and_then(Value::as_str)
            .filter(|e| !e.is_empty())
            .map(|e| format!("guest:{}", e.to_lowercase()))
    });
    let customer_id = customer
        .ok_or_else(|| ApiError::invalid("customer.id", "an order needs a customer or an email"))?;
    let placed = time_of(payload, "created_at")?
        .ok_or_else(|| ApiError::invalid("created_at", "is required"))?;
    let version = time_of(payload, "updated_at")?.unwrap_or(placed);
    let total = payload
        .get("total_price")
        .ok_or_else(|| ApiError::invalid("total_price", "is required"))?;
    let total_minor =
        to_minor(total, shop.minor_digits()).map_err(|m| ApiError::invalid("total_price", m))?;
    out.push(Event {
        message_id: message_id(""),
        kind: format!("shopify {topic}"),
        at: version,
        effect: Effect::Order {
            order_id: order_id.clone(),
            customer_id,
            placed_at: placed,
            total_minor,
            items: line_items(shop, payload)?,
        },
    });
    if let Some(cancelled) = time_of(payload, "cancelled_at")? {
        out.push(Event {
            message_id: message_id(":cancel"),
            kind: "Order Cancelled".into(),
            at: cancelled,
            effect: Effect::Cancel {
                order_id: order_id.clone(),
            },
        });
    }
    for (i, refund) in payload
        .get("refunds")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let Some(refund_id) = id_of(refund.get("id")) else {
            continue;
        };
        let at = time_of(refund, "created_at")?.unwrap_or(version);
        out.push(Event {
            message_id: message_id(&format!(":refund:{i}")),
            kind: "Order Refunded".into(),
            at,
            effect: Effect::Refund {
                order_id: order_id.clone(),
                amount_minor: refunded(refund, shop)?,
                refund_id: Some(format!("shopify-refund:{refund_id}")),
            },
        });
    }
    Ok(out)
}
