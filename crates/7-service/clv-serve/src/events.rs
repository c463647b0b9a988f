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
    /// Order Completed, Order Refunded, Order Cancelled, Order Shipped, Order Delivered, Checkout Started, Product Viewed, Product Added.
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
        /// When it was placed (the event's time is its version).
        placed_at: i64,
        total_minor: i64,
        /// What it holds, by product (empty when the source does not say).
        items: Vec<Item>,
    },
    /// Order Refunded: `amount_minor` of the order given back, once by `refund_id` (the
    /// platform's refund id; the event's messageId when it has none).
    Refund {
        order_id: String,
        amount_minor: i64,
        refund_id: Option<String>,
    },
    /// Order Cancelled: the order no longer counts.
    Cancel { order_id: String },
    /// Identify: who the customer is.
    Identify {
        customer_id: String,
        email: Option<String>,
        traits: Value,
    },
    /// Browsing, checkout and delivery events: recorded (journeys use them), no change to
    /// orders. `order_id` when the event names an order (Order Shipped, Order Delivered).
    Activity {
        customer_id: Option<String>,
        order_id: Option<String>,
    },
}

/// A line of an order: a product, how many, and what they cost together.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub sku: String,
    pub quantity: f64,
    pub amount_minor: i64,
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
const TRACKED: [&str; 8] = [
    "Order Completed",
    "Order Refunded",
    "Order Cancelled",
    "Order Shipped",
    "Order Delivered",
    "Checkout Started",
    "Product Viewed",
    "Product Added",
];

/// Longest id or name accepted (ids longer than this are not ids).
pub const MAX_ID: usize = 256;

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

/// `field` of the event at `path` (`batch[3]`, or empty for a lone event), as errors name it.
fn field_at(path: &str, field: &str) -> String {
    if path.is_empty() {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

fn text<'v>(event: &'v Value, path: &str, field: &str) -> Result<Option<&'v str>, ApiError> {
    let at = |f: &str| field_at(path, f);
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

/// The `properties.products` of an order event (Segment's e-commerce spec): each a `sku` (or
/// `product_id`), a `quantity` (default 1) and a unit `price` (default 0).
fn products(event: &Value, path: &str, shop: &Shop) -> Result<Vec<Item>, ApiError> {
    let Some(list) = event.get("properties").and_then(|p| p.get("products")) else {
        return Ok(Vec::new());
    };
    let list = list.as_array().ok_or_else(|| {
        ApiError::invalid(
            field_at(path, "properties.products"),
            "is a list of products",
        )
    })?;
    let mut items = Vec::with_capacity(list.len());
    for (i, p) in list.iter().enumerate() {
        let at = format!("properties.products[{i}]");
        let sku = match text(p, "", "sku")? {
            Some(s) => s.to_string(),
            None => match p.get("product_id") {
                Some(Value::Number(n)) => n.to_string(),
                _ => text(p, "", "product_id")?
                    .ok_or_else(|| {
                        ApiError::invalid(
                            field_at(path, &at),
                            "a product needs its sku or product_id",
                        )
                    })?
                    .to_string(),
            },
        };
        let quantity = match p.get("quantity") {
            None | Some(Value::Null) => 1.0,
            Some(q) => q
                .as_f64()
                .filter(|q| *q > 0.0 && q.is_finite())
                .ok_or_else(|| {
                    ApiError::invalid(
                        field_at(path, &format!("{at}.quantity")),
                        "is a positive number",
                    )
                })?,
        };
        let price = match p.get("price") {
            None | Some(Value::Null) => 0,
            Some(v) => to_minor(v, shop.minor_digits())
                .map_err(|m| ApiError::invalid(field_at(path, &format!("{at}.price")), m))?,
        };
        items.push(Item {
            sku,
            quantity,
            amount_minor: (price as f64 * quantity).round() as i64,
        });
    }
    Ok(items)
}

fn parse_event(event: &Value, shop: &Shop, path: &str) -> Result<Event, ApiError> {
    let at = |f: &str| field_at(path, f);
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
            (shop.accepts_currency(code))
                .map_err(|m| ApiError::invalid(at("properties.currency"), m))?;
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
            placed_at: when.timestamp(),
            // `total` is what the customer paid; `revenue` (before shipping and tax) if only it is sent.
            total_minor: match event.get("properties").and_then(|p| p.get("total")) {
                Some(_) => amount("total")?,
                None => amount("revenue")?,
            },
            items: products(event, path, shop)?,
        },
        "Order Refunded" => Effect::Refund {
            order_id: order_id()?,
            amount_minor: amount("total")?,
            refund_id: None,
        },
        "Order Cancelled" => Effect::Cancel {
            order_id: order_id()?,
        },
        k if TRACKED.contains(&k) => Effect::Activity {
            customer_id: customer,
            order_id: text(event, path, "properties.order_id")?.map(str::to_string),
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

/// Apply `events` of `shop` in one transaction: all or nothing. Each event is applied the first
/// time its messageId is recorded; the effects of the new ones are then written a few
/// statements per batch, not per event.
pub async fn apply(
    pool: &sqlx::AnyPool,
    shop: &Shop,
    events: &[Event],
) -> Result<Applied, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut fresh = record(&mut tx, shop.id, events).await?;
    // A messageId twice in one batch is applied once, as its first occurrence.
    let new: Vec<&Event> = events
        .iter()
        .filter(|e| fresh.remove(e.message_id.as_str()))
        .collect();
    let applied = Applied {
        accepted: new.len() as u64,
        duplicates: (events.len() - new.len()) as u64,
    };
    write_effects(&mut tx, shop.id, &new, "events").await?;
    tx.commit().await?;
    Ok(applied)
}

/// Rows per multi-row statement.
pub(crate) const ROWS_PER_STATEMENT: usize = 64;

/// `INSERT INTO {head} VALUES (…), (…)` for `rows` rows of `columns` values, then `tail`, with
/// the placeholders `conn`'s database binds fastest: `?` on SQLite, `$1, $2, …` on PostgreSQL.
/// (SQLite finds a numbered parameter's name by walking the statement's list, so numbered
/// parameters cost the square of their count: 1,000 rows of 7 spent 60% of a rescore there.)
pub(crate) fn multi_row(
    conn: &sqlx::AnyConnection,
    head: &str,
    rows: usize,
    columns: usize,
    tail: &str,
) -> sqlx::AssertSqlSafe<String> {
    let anonymous = anonymous_placeholders(conn);
    let mut sql = format!("INSERT INTO {head} VALUES ");
    for r in 0..rows {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..columns {
            if c > 0 {
                sql.push_str(", ");
            }
            push_placeholder(&mut sql, anonymous, r * columns + c + 1);
        }
        sql.push(')');
    }
    sql.push(' ');
    sql.push_str(tail);
    // Only placeholders and the callers' constant SQL are in it; every value is bound.
    sqlx::AssertSqlSafe(sql)
}

/// `n` placeholders for an `IN (…)` list whose first is parameter `first`, in `conn`'s style.
pub(crate) fn in_list(conn: &sqlx::AnyConnection, first: usize, n: usize) -> String {
    let anonymous = anonymous_placeholders(conn);
    let mut sql = String::new();
    for i in 0..n {
        if i > 0 {
            sql.push_str(", ");
        }
        push_placeholder(&mut sql, anonymous, first + i);
    }
    sql
}

/// Replace the lines of `orders` with the items given (none: the order has no lines now).
async fn replace_items(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    shop: i64,
    orders: &[(&str, &[Item])],
) -> Result<(), sqlx::Error> {
    let any_new = orders.iter().any(|(_, items)| !items.is_empty());
    // Most shops send no lines: then there is nothing to replace unless some were sent before.
    if !any_new && !crate::store::has_rows(&mut **tx, "order_lines", shop).await? {
        return Ok(());
    }
    let anonymous = anonymous_placeholders(tx);
    for chunk in orders.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from("DELETE FROM order_lines WHERE shop_id = ");
        push_placeholder(&mut sql, anonymous, 1);
        sql.push_str(" AND order_id IN (");
        for n in 2..chunk.len() + 2 {
            if n > 2 {
                sql.push_str(", ");
            }
            push_placeholder(&mut sql, anonymous, n);
        }
        sql.push(')');
        // Only placeholders in it; the values are bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(shop);
        for (order, _) in chunk {
            q = q.bind(*order);
        }
        q.execute(&mut **tx).await?;
    }
    let lines: Vec<(&str, usize, &Item)> = (orders.iter())
        .flat_map(|(order, items)| {
            items
                .iter()
                .enumerate()
                .map(move |(i, item)| (*order, i + 1, item))
        })
        .collect();
    for chunk in lines.chunks(ROWS_PER_STATEMENT) {
        let sql = multi_row(
            tx,
            "order_lines (shop_id, order_id, line_no, sku, quantity, amount_minor)",
            chunk.len(),
            6,
            "",
        );
        let mut q = sqlx::query(sql);
        for (order, line_no, item) in chunk {
            q = q
                .bind(shop)
                .bind(*order)
                .bind(*line_no as i64)
                .bind(item.sku.as_str())
                .bind(item.quantity)
                .bind(item.amount_minor);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Placeholder `n` (from 1) of a statement whose placeholders all come from here, in order.
fn push_placeholder(sql: &mut String, anonymous: bool, n: usize) {
    match anonymous {
        true => sql.push('?'),
        false => {
            let _ = std::fmt::Write::write_fmt(sql, format_args!("${n}"));
        }
    }
}

/// Whether `conn` takes `?` placeholders (SQLite) rather than `$n` (PostgreSQL).
fn anonymous_placeholders(conn: &sqlx::AnyConnection) -> bool {
    conn.backend_name().eq_ignore_ascii_case("sqlite")
}

/// Record the events' messageIds; returns the ones not seen before.
async fn record<'e>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    shop: i64,
    events: &'e [Event],
) -> Result<std::collections::HashSet<&'e str>, sqlx::Error> {
    let now = crate::store::now();
    let mut unique = std::collections::HashSet::new();
    let first: Vec<&Event> = events
        .iter()
        .filter(|e| unique.insert(e.message_id.as_str()))
        .collect();
    let mut fresh = std::collections::HashSet::new();
    for chunk in first.chunks(ROWS_PER_STATEMENT) {
        let sql = multi_row(
            tx,
            "events (shop_id, message_id, kind, received_at)",
            chunk.len(),
            4,
            "ON CONFLICT (shop_id, message_id) DO NOTHING RETURNING message_id",
        );
        let mut insert = sqlx::query_as::<_, (String,)>(sql);
        for e in chunk {
            insert = insert
                .bind(shop)
                .bind(&e.message_id)
                .bind(&e.kind)
                .bind(now);
        }
        let recorded = insert.fetch_all(&mut **tx).await?;
        let ids: std::collections::HashSet<String> = recorded.into_iter().map(|r| r.0).collect();
        fresh.extend(
            chunk
                .iter()
                .map(|e| e.message_id.as_str())
                .filter(|m| ids.contains(*m)),
        );
    }
    Ok(fresh)
}

/// Write the effects of `events` (in their order): customers seen, order snapshots (the latest
/// version wins), refunds (once by id), cancellations (the earliest stands), identities.
pub async fn write_effects(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    shop: i64,
    events: &[&Event],
    source: &str,
) -> Result<(), sqlx::Error> {
    use std::collections::HashMap;
    let mut seen: HashMap<&str, i64> = HashMap::new();
    let mut orders: HashMap<&str, (&str, i64, i64, i64, &[Item])> = HashMap::new();
    let mut refunds: HashMap<&str, (&str, i64, i64)> = HashMap::new();
    let mut cancels: HashMap<&str, i64> = HashMap::new();
    let mut identities: HashMap<&str, (Option<&str>, &Value, i64)> = HashMap::new();
    fn see<'a>(seen: &mut HashMap<&'a str, i64>, customer: &'a str, at: i64) {
        let first = seen.entry(customer).or_insert(at);
        *first = (*first).min(at);
    }
    for e in events {
        match &e.effect {
            Effect::Order {
                order_id,
                customer_id,
                placed_at,
                total_minor,
                items,
            } => {
                see(&mut seen, customer_id, *placed_at);
                let newer = orders.get(order_id.as_str()).is_none_or(|o| o.3 <= e.at);
                if newer {
                    let order = (
                        customer_id.as_str(),
                        *placed_at,
                        *total_minor,
                        e.at,
                        &items[..],
                    );
                    orders.insert(order_id, order);
                }
            }
            Effect::Refund {
                order_id,
                amount_minor,
                refund_id,
            } => {
                let id = refund_id.as_deref().unwrap_or(&e.message_id);
                refunds.entry(id).or_insert((order_id, *amount_minor, e.at));
            }
            Effect::Cancel { order_id } => {
                let at = cancels.entry(order_id).or_insert(e.at);
                *at = (*at).min(e.at);
            }
            Effect::Identify {
                customer_id,
                email,
                traits,
            } => {
                see(&mut seen, customer_id, e.at);
                let newer = identities
                    .get(customer_id.as_str())
                    .is_none_or(|i| i.2 <= e.at);
                if newer {
                    identities.insert(customer_id, (email.as_deref(), traits, e.at));
                }
            }
            Effect::Activity {
                customer_id: Some(c),
                ..
            } => see(&mut seen, c, e.at),
            Effect::Activity {
                customer_id: None, ..
            } => {}
        }
    }
    let now = crate::store::now();
    let seen: Vec<_> = seen.into_iter().collect();
    for chunk in seen.chunks(ROWS_PER_STATEMENT) {
        let sql = multi_row(
            tx,
            "customers (shop_id, customer_id, first_seen, updated_at)",
            chunk.len(),
            4,
            "ON CONFLICT (shop_id, customer_id) DO UPDATE SET \
             first_seen = CASE WHEN excluded.first_seen < customers.first_seen THEN excluded.first_seen ELSE customers.first_seen END, \
             updated_at = excluded.updated_at",
        );
        let mut q = sqlx::query(sql);
        for (customer, first) in chunk {
            q = q.bind(shop).bind(*customer).bind(*first).bind(now);
        }
        q.execute(&mut **tx).await?;
    }
    let orders: Vec<_> = orders.into_iter().collect();
    // The snapshots written (not older than the stored ones), whose lines they replace.
    let mut replaced: Vec<(&str, &[Item])> = Vec::new();
    for chunk in orders.chunks(ROWS_PER_STATEMENT) {
        let sql = multi_row(
            tx,
            "orders (shop_id, order_id, customer_id, placed_at, total_minor, version_at, source)",
            chunk.len(),
            7,
            "ON CONFLICT (shop_id, order_id) DO UPDATE SET customer_id = excluded.customer_id, \
             placed_at = excluded.placed_at, total_minor = excluded.total_minor, version_at = excluded.version_at \
             WHERE orders.version_at <= excluded.version_at RETURNING order_id",
        );
        let mut q = sqlx::query_as::<_, (String,)>(sql);
        for (order, (customer, placed, total, version, _)) in chunk {
            q = q
                .bind(shop)
                .bind(*order)
                .bind(*customer)
                .bind(*placed)
                .bind(*total)
                .bind(*version)
                .bind(source);
        }
        let written: Vec<(String,)> = q.fetch_all(&mut **tx).await?;
        let items: HashMap<&str, &[Item]> = chunk.iter().map(|(o, v)| (*o, v.4)).collect();
        replaced.extend(
            (written.iter())
                .filter_map(|(o,)| items.get_key_value(o.as_str()).map(|(k, v)| (*k, *v))),
        );
    }
    replace_items(tx, shop, &replaced).await?;
    let refunds: Vec<_> = refunds.into_iter().collect();
    for chunk in refunds.chunks(ROWS_PER_STATEMENT) {
        let sql = multi_row(
            tx,
            "refunds (shop_id, refund_id, order_id, amount_minor, refunded_at)",
            chunk.len(),
            5,
            "ON CONFLICT (shop_id, refund_id) DO NOTHING",
        );
        let mut q = sqlx::query(sql);
        for (refund, (order, amount, at)) in chunk {
            q = q
                .bind(shop)
                .bind(*refund)
                .bind(*order)
                .bind(*amount)
                .bind(*at);
        }
        q.execute(&mut **tx).await?;
    }
    let cancels: Vec<_> = cancels.into_iter().collect();
    for chunk in cancels.chunks(ROWS_PER_STATEMENT) {
        let sql = multi_row(
            tx,
            "cancellations (shop_id, order_id, cancelled_at)",
            chunk.len(),
            3,
            "ON CONFLICT (shop_id, order_id) DO UPDATE SET cancelled_at = excluded.cancelled_at \
             WHERE excluded.cancelled_at < cancellations.cancelled_at",
        );
        let mut q = sqlx::query(sql);
        for (order, at) in chunk {
            q = q.bind(shop).bind(*order).bind(*at);
        }
        q.execute(&mut **tx).await?;
    }
    // The loyalty ledger follows the orders in the same transaction: an order and its points are
    // written together or not at all.
    let mut touched: Vec<&str> = orders.iter().map(|(o, _)| *o).collect();
    touched.extend(refunds.iter().map(|(_, (o, _, _))| *o));
    touched.extend(cancels.iter().map(|(o, _)| *o));
    touched.sort_unstable();
    touched.dedup();
    crate::loyalty::sync_orders(tx, shop, &touched).await?;
    for (customer, (email, traits, at)) in identities {
        sqlx::query(
            "UPDATE customers SET email = COALESCE($3, email), traits = $4, traits_at = $5 \
             WHERE shop_id = $1 AND customer_id = $2 AND traits_at <= $5",
        )
        .bind(shop)
        .bind(customer)
        .bind(email)
        .bind(traits.to_string())
        .bind(at)
        .execute(&mut **tx)
        .await?;
        crate::outbox::consent_from_traits(tx, shop, customer, traits, at).await?;
    }
    // Live events start and wake journey runs; an import or backfill is history and never does.
    if source != IMPORT {
        let arrivals: Vec<crate::journeys::Arrival> = events.iter().map(|e| arrival(e)).collect();
        crate::journeys::on_events(tx, shop, &arrivals).await?;
    }
    Ok(())
}

/// The source of effects that come from an import (history: no journey starts from it).
pub const IMPORT: &str = "import";

/// Who and what an event is about, for journeys.
fn arrival(e: &Event) -> crate::journeys::Arrival<'_> {
    let (customer, order) = match &e.effect {
        Effect::Order {
            customer_id,
            order_id,
            ..
        } => (Some(customer_id.as_str()), Some(order_id.as_str())),
        Effect::Refund { order_id, .. } | Effect::Cancel { order_id } => {
            (None, Some(order_id.as_str()))
        }
        Effect::Identify { customer_id, .. } => (Some(customer_id.as_str()), None),
        Effect::Activity {
            customer_id,
            order_id,
        } => (customer_id.as_deref(), order_id.as_deref()),
    };
    // Journeys know an order event by the Segment name, whichever platform sent it (Shopify's
    // `orders/create` and `orders/updated` are snapshots of an order, like Order Completed).
    let kind = match &e.effect {
        Effect::Order { .. } => "Order Completed",
        _ => e.kind.as_str(),
    };
    crate::journeys::Arrival {
        message_id: &e.message_id,
        kind,
        customer,
        order,
        at: e.at,
    }
}
