//! Ingest of Segment / RudderStack e-commerce v2 events (`POST /api/v1/events`). A batch is
//! checked whole before anything is written, then applied in one transaction; every event is
//! recorded by its `messageId`, so a resent event finds itself and changes nothing.
//!
//! Orders are snapshots (the latest `timestamp` wins); cancellations and refunds are kept apart
//! from the order, so any arrival order of the same events gives the same store.

use crate::error::ApiError;
use crate::money::to_minor;
use crate::shops::Shop;
use serde_json::Value;

/// A request body of `POST /api/v1/events` (documentation: the handler reads it as JSON, to
/// name the field at fault).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)]
pub struct EventBatch {
    batch: Vec<SegmentEvent>,
}

/// One event, as Segment's HTTP API sends it.
#[derive(utoipa::ToSchema)]
#[allow(dead_code, non_snake_case)]
pub struct SegmentEvent {
    /// track or identify.
    r#type: Option<String>,
    /// Order Completed, Order Refunded, Order Cancelled, Checkout Started, Product Viewed, Product Added.
    event: Option<String>,
    /// Unique per event: a resend with the same id changes nothing.
    messageId: String,
    userId: Option<String>,
    anonymousId: Option<String>,
    /// ISO 8601 with an offset.
    timestamp: String,
    /// order_id, total (or revenue), currency.
    #[schema(value_type = Object)]
    properties: Option<Value>,
    /// For identify: email and other traits.
    #[schema(value_type = Object)]
    traits: Option<Value>,
}

/// The change one event makes.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Order Completed: the order as it now is.
    Order {
        order_id: String,
        customer_id: String,
        total_minor: i64,
    },
    /// Order Refunded: `amount_minor` of the order given back.
    Refund { order_id: String, amount_minor: i64 },
    /// Order Cancelled: the order no longer counts.
    Cancel { order_id: String },
    /// Identify: who the customer is.
    Identify {
        customer_id: String,
        email: Option<String>,
        traits: Value,
    },
    /// Browsing and checkout events: recorded (journeys use them), no change to orders.
    Activity { customer_id: Option<String> },
}

/// One checked event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub message_id: String,
    /// The event name (`Order Completed`) or `identify`.
    pub kind: String,
    /// When it happened, UTC seconds.
    pub at: i64,
    pub effect: Effect,
}

/// The events this endpoint understands besides `identify`.
const TRACKED: [&str; 6] = [
    "Order Completed",
    "Order Refunded",
    "Order Cancelled",
    "Checkout Started",
    "Product Viewed",
    "Product Added",
];

/// Longest id or name accepted (ids longer than this are not ids).
const MAX_ID: usize = 256;

/// The events of a request body: `{"batch": [...]}` or one event object.
pub fn parse_body(body: &Value, shop: &Shop) -> Result<Vec<Event>, ApiError> {
    match body.get("batch") {
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, e)| parse_event(e, shop, &format!("batch[{i}]")))
            .collect(),
        Some(_) => Err(ApiError::invalid("batch", "`batch` is a list of events")),
        None if body.is_object() => Ok(vec![parse_event(body, shop, "")?]),
        None => Err(ApiError::invalid(
            "",
            "send an event object or {\"batch\": [events]}",
        )),
    }
}

fn text<'v>(event: &'v Value, path: &str, field: &str) -> Result<Option<&'v str>, ApiError> {
    let at = |f: &str| {
        if path.is_empty() {
            f.to_string()
        } else {
            format!("{path}.{f}")
        }
    };
    let mut value = event;
    for part in field.split('.') {
        match value.get(part) {
            Some(v) => value = v,
            None => return Ok(None),
        }
    }
    match value {
        Value::Null => Ok(None),
        Value::String(s) if s.len() <= MAX_ID && !s.trim().is_empty() => Ok(Some(s.trim())),
        Value::String(s) if s.trim().is_empty() => Err(ApiError::invalid(at(field), "is empty")),
        Value::String(_) => Err(ApiError::invalid(
            at(field),
            format!("is longer than {MAX_ID} characters"),
        )),
        _ => Err(ApiError::invalid(at(field), "must be a string")),
    }
}

fn parse_event(event: &Value, shop: &Shop, path: &str) -> Result<Event, ApiError> {
    let at = |f: &str| {
        if path.is_empty() {
            f.to_string()
        } else {
            format!("{path}.{f}")
        }
    };
    if !event.is_object() {
        return Err(ApiError::invalid(at(""), "an event is a JSON object"));
    }
    let message_id = text(event, path, "messageId")?.ok_or_else(|| {
        ApiError::invalid(
            at("messageId"),
            "is required: it makes a resent event harmless",
        )
    })?;
    let timestamp = text(event, path, "timestamp")?.or(text(event, path, "originalTimestamp")?);
    let timestamp = timestamp.ok_or_else(|| {
        ApiError::invalid(
            at("timestamp"),
            "is required: when the event happened, ISO 8601 with an offset",
        )
    })?;
    let when = chrono::DateTime::parse_from_rfc3339(timestamp).map_err(|_| {
        ApiError::invalid(
            at("timestamp"),
            format!("`{timestamp}` is not ISO 8601 with an offset, like 2024-05-01T12:30:00Z"),
        )
    })?;
    let customer = text(event, path, "userId")?
        .or(text(event, path, "anonymousId")?)
        .map(str::to_string);
    let kind = match text(event, path, "type")? {
        Some("identify") => "identify",
        Some("track") | None => text(event, path, "event")?.ok_or_else(|| {
            ApiError::invalid(
                at("event"),
                "a track call names its event, e.g. Order Completed",
            )
        })?,
        Some(other) => {
            return Err(ApiError::invalid(
                at("type"),
                format!("`{other}` calls are not taken: send track or identify"),
            ))
        }
    };
    let needs_customer = || {
        ApiError::invalid(
            at("userId"),
            "is required (or anonymousId): whose event it is",
        )
    };
    let order_id = || {
        text(event, path, "properties.order_id")?
            .map(str::to_string)
            .ok_or_else(|| {
                ApiError::invalid(
                    at("properties.order_id"),
                    format!("{kind} needs the order's id"),
                )
            })
    };
    let amount = |field: &str| -> Result<i64, ApiError> {
        let value = event
            .get("properties")
            .and_then(|p| p.get(field))
            .ok_or_else(|| {
                ApiError::invalid(
                    at(&format!("properties.{field}")),
                    format!("{kind} needs the amount in properties.{field}"),
                )
            })?;
        if let Some(code) = text(event, path, "properties.currency")? {
            if !code.eq_ignore_ascii_case(shop.currency.code()) {
                return Err(ApiError::invalid(
                    at("properties.currency"),
                    format!(
                        "is {code}, the shop keeps {}: convert before sending",
                        shop.currency.code()
                    ),
                ));
            }
        }
        to_minor(value, shop.minor_digits())
            .map_err(|m| ApiError::invalid(at(&format!("properties.{field}")), m))
    };
    let effect = match kind {
        "identify" => Effect::Identify {
            customer_id: customer.ok_or_else(needs_customer)?,
            email: text(event, path, "traits.email")?.map(str::to_string),
            traits: event
                .get("traits")
                .cloned()
                .unwrap_or(Value::Object(Default::default())),
        },
        "Order Completed" => Effect::Order {
            order_id: order_id()?,
            customer_id: customer.ok_or_else(needs_customer)?,
            // `total` is what the customer paid; `revenue` (before shipping and tax) if only it is sent.
            total_minor: match event.get("properties").and_then(|p| p.get("total")) {
                Some(_) => amount("total")?,
                None => amount("revenue")?,
            },
        },
        "Order Refunded" => Effect::Refund {
            order_id: order_id()?,
            amount_minor: amount("total")?,
        },
        "Order Cancelled" => Effect::Cancel {
            order_id: order_id()?,
        },
        k if TRACKED.contains(&k) => Effect::Activity {
            customer_id: customer,
        },
        other => {
            return Err(ApiError::invalid(
                at("event"),
                format!(
                    "`{other}` is not taken: send one of {} or identify",
                    TRACKED.join(", ")
                ),
            ))
        }
    };
    Ok(Event {
        message_id: message_id.to_string(),
        kind: kind.to_string(),
        at: when.timestamp(),
        effect,
    })
}

/// What applying a batch did.
#[derive(Debug, Default, serde::Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct Applied {
    /// Events applied now.
    pub accepted: u64,
    /// Events already applied before (same messageId), left alone.
    pub duplicates: u64,
}

/// Apply `events` of `shop` in one transaction: all or nothing.
pub async fn apply(
    pool: &sqlx::AnyPool,
    shop: &Shop,
    events: &[Event],
    source: &str,
) -> Result<Applied, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut applied = Applied::default();
    let now = crate::store::now();
    for e in events {
        let fresh = sqlx::query(
            "INSERT INTO events (shop_id, message_id, kind, received_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (shop_id, message_id) DO NOTHING",
        )
        .bind(shop.id)
        .bind(&e.message_id)
        .bind(&e.kind)
        .bind(now)
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if !fresh {
            applied.duplicates += 1;
            continue;
        }
        applied.accepted += 1;
        apply_effect(&mut tx, shop.id, e, source).await?;
    }
    tx.commit().await?;
    Ok(applied)
}

async fn apply_effect(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    shop: i64,
    e: &Event,
    source: &str,
) -> Result<(), sqlx::Error> {
    match &e.effect {
        Effect::Order {
            order_id,
            customer_id,
            total_minor,
        } => {
            upsert_order(
                tx,
                shop,
                order_id,
                customer_id,
                e.at,
                *total_minor,
                e.at,
                source,
            )
            .await?;
        }
        Effect::Refund {
            order_id,
            amount_minor,
        } => {
            insert_refund(tx, shop, &e.message_id, order_id, *amount_minor, e.at).await?;
        }
        Effect::Cancel { order_id } => {
            // The earliest cancellation stands, whichever copy arrives first.
            sqlx::query(
                "INSERT INTO cancellations (shop_id, order_id, cancelled_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (shop_id, order_id) DO UPDATE SET cancelled_at = excluded.cancelled_at \
                 WHERE excluded.cancelled_at < cancellations.cancelled_at",
            )
            .bind(shop)
            .bind(order_id)
            .bind(e.at)
            .execute(&mut **tx)
            .await?;
        }
        Effect::Identify {
            customer_id,
            email,
            traits,
        } => {
            seen(tx, shop, customer_id, e.at).await?;
            sqlx::query(
                "UPDATE customers SET email = COALESCE($3, email), traits = $4, traits_at = $5 \
                 WHERE shop_id = $1 AND customer_id = $2 AND traits_at <= $5",
            )
            .bind(shop)
            .bind(customer_id)
            .bind(email.as_deref())
            .bind(traits.to_string())
            .bind(e.at)
            .execute(&mut **tx)
            .await?;
        }
        Effect::Activity {
            customer_id: Some(customer_id),
        } => seen(tx, shop, customer_id, e.at).await?,
        Effect::Activity { customer_id: None } => {}
    }
    Ok(())
}

/// The order as of `version_at`, unless the store has a later version; its customer is seen.
#[allow(clippy::too_many_arguments)]
pub async fn upsert_order(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    shop: i64,
    order_id: &str,
    customer_id: &str,
    placed_at: i64,
    total_minor: i64,
    version_at: i64,
    source: &str,
) -> Result<(), sqlx::Error> {
    seen(tx, shop, customer_id, placed_at).await?;
    sqlx::query(
        "INSERT INTO orders (shop_id, order_id, customer_id, placed_at, total_minor, version_at, source) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (shop_id, order_id) DO UPDATE SET customer_id = excluded.customer_id, \
         placed_at = excluded.placed_at, total_minor = excluded.total_minor, version_at = excluded.version_at \
         WHERE orders.version_at <= excluded.version_at",
    )
    .bind(shop)
    .bind(order_id)
    .bind(customer_id)
    .bind(placed_at)
    .bind(total_minor)
    .bind(version_at)
    .bind(source)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// A refund, once by its id.
pub async fn insert_refund(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    shop: i64,
    refund_id: &str,
    order_id: &str,
    amount_minor: i64,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refunds (shop_id, refund_id, order_id, amount_minor, refunded_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (shop_id, refund_id) DO NOTHING",
    )
    .bind(shop)
    .bind(refund_id)
    .bind(order_id)
    .bind(amount_minor)
    .bind(at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The customer exists, first seen no later than `at`.
async fn seen(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    shop: i64,
    customer_id: &str,
    at: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO customers (shop_id, customer_id, first_seen, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (shop_id, customer_id) DO UPDATE SET \
         first_seen = CASE WHEN excluded.first_seen < customers.first_seen THEN excluded.first_seen ELSE customers.first_seen END, \
         updated_at = excluded.updated_at",
    )
    .bind(shop)
    .bind(customer_id)
    .bind(at)
    .bind(crate::store::now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
