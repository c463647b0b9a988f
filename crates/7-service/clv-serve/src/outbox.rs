//! The outbox: messages are rows, sent by whichever worker claims them. A claim is a lease
//! (SKIP LOCKED on PostgreSQL, the single writer on SQLite); everything about whether a message
//! may go is decided then, at send time, never when it was scheduled: expiry, suppression,
//! consent per channel and topic, quiet hours on the recipient's clock, the channel (the
//! customer's preferred one, then the others the message has text for), and for marketing one of
//! the customer's cap slots for that local day, taken under a unique key. Every skip is written
//! with its reason. A send's result is written fenced by the lease: a worker that lost its lease
//! (it stalled, another took over) changes nothing.
//!
//! Delivery is at least once: a worker killed after the provider accepted a message and before
//! it wrote so leaves the row to be sent again when the lease ends, with the same Message-ID and
//! idempotency key, so at most one extra delivery per crash, and a receiver can tell.

use crate::channels::{Failure, Outgoing, Senders, Settings};
use crate::error::ApiError;
use crate::journeys::{by_ids, facts, versions, LEASE};
use crate::store::{Backend, Store};
use clv_journeys::{decide, Channel, Class, Consent, Decision, SkipReason, Step};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;

/// What a delivering worker needs besides the store.
#[derive(Clone)]
pub struct Delivery {
    pub senders: Senders,
    /// The service's public address, for unsubscribe links (`https://shop-mail.example`).
    pub public_url: String,
    /// This worker's lease name: unique per process.
    pub owner: String,
    /// True in the server: each message's send-time decision reads the system clock, so a
    /// message late in a claimed batch is not judged by the batch's start (a message went out
    /// a second after its expiry that way). False: every decision uses the `now` given (tests
    /// that run days on a simulated clock).
    pub live_clock: bool,
}

/// A shop's messaging rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Messaging {
    /// Marketing messages a customer may get per calendar day on their clock, over all journeys
    /// (transactional messages are never capped).
    #[serde(default = "default_cap")]
    pub marketing_per_day: u32,
}

fn default_cap() -> u32 {
    2
}

impl Default for Messaging {
    fn default() -> Messaging {
        Messaging {
            marketing_per_day: default_cap(),
        }
    }
}

pub async fn messaging(store: &Store, shop: i64) -> Result<Messaging, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT settings FROM messaging_settings WHERE shop_id = $1")
            .bind(shop)
            .fetch_optional(&store.pool)
            .await?;
    Ok(row
        .and_then(|(s,)| serde_json::from_str(&s).ok())
        .unwrap_or_default())
}

pub async fn set_messaging(
    store: &Store,
    shop: i64,
    settings: &Messaging,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO messaging_settings (shop_id, settings, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (shop_id) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
    )
    .bind(shop)
    .bind(serde_json::to_string(settings).unwrap_or_default())
    .bind(crate::store::now())
    .execute(&store.writer)
    .await?;
    Ok(())
}

/// Save where a channel of `shop` sends.
pub async fn set_channel(store: &Store, shop: i64, settings: &Settings) -> Result<(), ApiError> {
    settings
        .check()
        .map_err(|e| ApiError::invalid("settings", e))?;
    sqlx::query(
        "INSERT INTO channel_settings (shop_id, channel, settings, updated_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (shop_id, channel) DO UPDATE SET settings = excluded.settings, updated_at = excluded.updated_at",
    )
    .bind(shop)
    .bind(settings.channel().name())
    .bind(serde_json::to_string(settings).unwrap_or_default())
    .bind(crate::store::now())
    .execute(&store.writer)
    .await?;
    Ok(())
}

/// How `shop` set up `channel`, if it did.
pub(crate) async fn channel_settings(
    store: &Store,
    shop: i64,
    channel: Channel,
) -> Result<Option<Settings>, sqlx::Error> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT settings FROM channel_settings WHERE shop_id = $1 AND channel = $2")
            .bind(shop)
            .bind(channel.name())
            .fetch_optional(&store.pool)
            .await?;
    Ok(row.and_then(|(s,)| serde_json::from_str(&s).ok()))
}

async fn channels(store: &Store, shop: i64) -> Result<HashMap<Channel, Settings>, sqlx::Error> {
    let rows: Vec<(String,)> =
        sqlx::query_as("SELECT settings FROM channel_settings WHERE shop_id = $1")
            .bind(shop)
            .fetch_all(&store.pool)
            .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(s,)| serde_json::from_str::<Settings>(&s).ok())
        .map(|s| (s.channel(), s))
        .collect())
}

/// Record a statement of consent, unless a later one is stored: `topic` "marketing" is the
/// opt-in to the channel, any other topic (granted false) is that topic left.
#[allow(clippy::too_many_arguments)]
pub async fn set_consent<'e>(
    executor: impl sqlx::Executor<'e, Database = sqlx::Any>,
    shop: i64,
    customer: &str,
    channel: Channel,
    topic: &str,
    granted: bool,
    at: i64,
    source: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO consents (shop_id, customer_id, channel, topic, granted, at, source) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (shop_id, customer_id, channel, topic) DO UPDATE SET granted = excluded.granted, at = excluded.at, source = excluded.source \
         WHERE excluded.at >= consents.at",
    )
    .bind(shop)
    .bind(customer)
    .bind(channel.name())
    .bind(topic)
    .bind(i64::from(granted))
    .bind(at)
    .bind(source)
    .execute(executor)
    .await?;
    Ok(())
}

/// Identify traits that state marketing consent (`{channel}_marketing_consent` for every
/// channel, e.g. `sms_marketing_consent`, and Shopify's `accepts_marketing` for email), recorded
/// at the event's time.
pub(crate) async fn consent_from_traits(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    shop: i64,
    customer: &str,
    traits: &Value,
    at: i64,
) -> Result<(), sqlx::Error> {
    let named = Channel::ALL.map(|c| (format!("{}_marketing_consent", c.name()), c));
    let shopify = ("accepts_marketing".to_string(), Channel::Email);
    for (field, channel) in named.into_iter().chain([shopify]) {
        if let Some(granted) = traits.get(&field).and_then(Value::as_bool) {
            set_consent(
                &mut **tx,
                shop,
                customer,
                channel,
                "marketing",
                granted,
                at,
                "identify",
            )
            .await?;
        }
    }
    Ok(())
}

/// The customer's address on `channel`, from their profile.
fn address(
    channel: Channel,
    customer: &str,
    email: Option<&str>,
    traits: &Value,
) -> Option<String> {
    let text = |name: &str| {
        traits
            .get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    match channel {
        Channel::Email => email.map(str::to_string).or_else(|| text("email")),
        Channel::Sms => text("phone"),
        Channel::Whatsapp => text("whatsapp").or_else(|| text("phone")),
        Channel::Telegram => text("telegram_chat_id").or_else(|| {
            traits
                .get("telegram_chat_id")
                .and_then(Value::as_i64)
                .map(|n| n.to_string())
        }),
        Channel::Messenger => text("messenger_psid"),
        Channel::Instagram => text("instagram_id"),
        Channel::Line => text("line_user_id"),
        Channel::Wechat => text("wechat_openid"),
        Channel::Webhook => Some(customer.to_string()),
    }
}

/// The key unsubscribe links are signed with (made on first use, kept in the store).
async fn link_secret(store: &Store) -> Result<String, sqlx::Error> {
    let fresh = crate::users::random_secret(32);
    sqlx::query("INSERT INTO service_secrets (name, secret) VALUES ('unsubscribe', $1) ON CONFLICT (name) DO NOTHING")
        .bind(fresh)
        .execute(&store.writer)
        .await?;
    let (secret,): (String,) =
        sqlx::query_as("SELECT secret FROM service_secrets WHERE name = 'unsubscribe'")
            .fetch_one(&store.pool)
            .await?;
    Ok(secret)
}

/// An unsubscribe token: who leaves which topic on which channel, signed.
fn token(secret: &str, shop: i64, customer: &str, channel: Channel, topic: &str) -> String {
    use base64::Engine;
    let what = json!([shop, customer, channel.name(), topic]).to_string();
    let signature = crate::channels::sign(secret, what.as_bytes());
    let what = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(what);
    format!("{what}.{}", &signature[..32])
}

/// What an unsubscribe token says, when its signature holds: shop, customer, channel, topic.
async fn read_token(
    store: &Store,
    token: &str,
) -> Result<(i64, String, Channel, String), ApiError> {
    use base64::Engine;
    let bad =
        || ApiError::not_found("this unsubscribe link is not valid (it was changed or cut short)");
    let (what, signature) = token.split_once('.').ok_or_else(bad)?;
    let what = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(what)
        .map_err(|_| bad())?;
    let secret = link_secret(store).await?;
    let want = crate::channels::sign(&secret, &what);
    if !crate::users::same_secret(&want[..32], signature) {
        return Err(bad());
    }
    let (shop, customer, channel, topic): (i64, String, String, String) =
        serde_json::from_slice(&what).map_err(|_| bad())?;
    Ok((
        shop,
        customer,
        Channel::parse(&channel).ok_or_else(bad)?,
        topic,
    ))
}

/// One-click unsubscribe (RFC 8058): the topic is left on the channel from now.
pub async fn unsubscribe(store: &Store, token: &str) -> Result<(String, String), ApiError> {
    let (shop, customer, channel, topic) = read_token(store, token).await?;
    set_consent(
        &store.writer,
        shop,
        &customer,
        channel,
        &topic,
        false,
        crate::store::now(),
        "unsubscribe",
    )
    .await?;
    Ok((channel.name().to_string(), topic))
}

/// A claimed message.
type ClaimedRow = (i64, String, String, i64, String, String, i64, i64, i64);

/// Send up to `limit` messages due at `now`. Returns how many were handled (sent, skipped,
/// deferred or failed).
pub async fn deliver_due(
    store: &Store,
    delivery: &Delivery,
    now: i64,
    limit: i64,
) -> Result<usize, sqlx::Error> {
    let pick = match store.backend {
        Backend::Sqlite => "SELECT shop_id, message_key FROM outbox WHERE status = 'pending' AND next_at <= $3 AND lease_until < $3 ORDER BY next_at LIMIT $4",
        Backend::Postgres => "SELECT shop_id, message_key FROM outbox WHERE status = 'pending' AND next_at <= $3 AND lease_until < $3 ORDER BY next_at LIMIT $4 FOR UPDATE SKIP LOCKED",
    };
    let sql = format!(
        "UPDATE outbox SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 WHERE (shop_id, message_key) IN ({pick}) \
         RETURNING shop_id, message_key, run_key, step, journey_id, customer_id, due_at, expires_at, attempts"
    );
    let rows: Vec<ClaimedRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&delivery.owner)
        .bind(now + LEASE)
        .bind(now)
        .bind(limit)
        .fetch_all(&store.writer)
        .await?;
    let count = rows.len();
    let mut by_shop: HashMap<i64, Vec<ClaimedRow>> = HashMap::new();
    for row in rows {
        by_shop.entry(row.0).or_default().push(row);
    }
    for (shop, rows) in by_shop {
        deliver_shop(store, delivery, shop, now, rows).await?;
    }
    Ok(count)
}

/// What became of a message.
enum Done {
    Sent {
        channel: Channel,
        to: String,
        provider_id: String,
    },
    Skipped(SkipReason, Option<String>),
    Defer(i64),
    Retry {
        at: i64,
        error: String,
    },
}

async fn deliver_shop(
    store: &Store,
    delivery: &Delivery,
    shop_id: i64,
    now: i64,
    rows: Vec<ClaimedRow>,
) -> Result<(), sqlx::Error> {
    let shop = crate::shops::load(store, shop_id).await?;
    let settings = channels(store, shop_id).await?;
    let cap = messaging(store, shop_id).await?.marketing_per_day;
    let mut conn = store.pool.acquire().await?;
    // The runs' journey versions and orders.
    let keys: Vec<&str> = rows.iter().map(|r| r.2.as_str()).collect();
    let sql = "SELECT run_key, journey_id, version, order_id FROM journey_runs WHERE shop_id = {p1} AND run_key IN ({ids})";
    let runs: HashMap<String, (String, i64, Option<String>)> =
        by_ids::<(String, String, i64, Option<String>)>(&mut conn, sql, &[shop_id], &keys)
            .await?
            .into_iter()
            .map(|(key, journey, version, order)| (key, (journey, version, order)))
            .collect();
    let mut customers: Vec<&str> = rows.iter().map(|r| r.5.as_str()).collect();
    customers.sort_unstable();
    customers.dedup();
    let sql = "SELECT customer_id, channel, topic, granted FROM consents WHERE shop_id = {p1} AND customer_id IN ({ids})";
    let consents: HashMap<(String, String, String), bool> =
        by_ids::<(String, String, String, i64)>(&mut conn, sql, &[shop_id], &customers)
            .await?
            .into_iter()
            .map(|(customer, channel, topic, granted)| ((customer, channel, topic), granted != 0))
            .collect();
    let suppressed: Vec<(String, String)> =
        sqlx::query_as("SELECT channel, address FROM suppressions WHERE shop_id = $1")
            .bind(shop_id)
            .fetch_all(&mut *conn)
            .await?;
    let suppressed: std::collections::HashSet<(String, String)> = suppressed.into_iter().collect();
    drop(conn);
    let wanted = runs.values().map(|(j, v, _)| (j.clone(), *v)).collect();
    let definitions = versions(store, shop_id, wanted).await?;
    let people: Vec<(&str, Option<&str>)> = rows
        .iter()
        .map(|r| (r.5.as_str(), runs.get(&r.2).and_then(|x| x.2.as_deref())))
        .collect();
    let people = facts(store, &shop, &people).await?;
    let secret = link_secret(store).await?;
    for (row, person) in rows.iter().zip(people) {
        let now = if delivery.live_clock {
            crate::store::now().max(now)
        } else {
            now
        };
        let (_, key, run_key, step, _, customer, due, _, attempts) = row;
        let send = runs
            .get(run_key)
            .and_then(|(j, v, _)| definitions.get(&(j.clone(), *v)))
            .and_then(|j| match j.steps.get(*step as usize) {
                Some(Step::Send(s)) => Some(s),
                _ => None,
            });
        let Some(send) = send else {
            finish(
                store,
                delivery,
                shop_id,
                key,
                now,
                Done::Skipped(
                    SkipReason::Template,
                    Some("the journey version or its step is missing".into()),
                ),
            )
            .await?;
            continue;
        };
        let preferred = person
            .traits
            .get("preferred_channel")
            .and_then(Value::as_str)
            .and_then(Channel::parse);
        let mut first_reason = None;
        let mut defer: Option<i64> = None;
        let mut chosen = None;
        for channel in send.channel_order(preferred) {
            let Some(to) = address(channel, customer, person.email.as_deref(), &person.traits)
            else {
                first_reason.get_or_insert(SkipReason::NoAddress);
                continue;
            };
            let Some(channel_settings) = settings.get(&channel) else {
                first_reason.get_or_insert(SkipReason::NotConfigured);
                continue;
            };
            let granted = |topic: &str| {
                consents
                    .get(&(
                        customer.clone(),
                        channel.name().to_string(),
                        topic.to_string(),
                    ))
                    .copied()
            };
            let consent = Consent {
                marketing: granted("marketing") == Some(true),
                topic_revoked: send.topic != "marketing" && granted(&send.topic) == Some(false),
            };
            let is_suppressed = suppressed.contains(&(channel.name().to_string(), to.clone()));
            match decide(send, *due, person.zone, now, consent, is_suppressed) {
                Decision::Send => {
                    chosen = Some((channel, to, channel_settings));
                    break;
                }
                Decision::Skip(SkipReason::Expired) => {
                    first_reason = Some(SkipReason::Expired);
                    defer = None;
                    break;
                }
                // A channel's own reason says more than another channel's missing address.
                Decision::Skip(reason) => {
                    if matches!(
                        first_reason,
                        None | Some(SkipReason::NoAddress | SkipReason::NotConfigured)
                    ) {
                        first_reason = Some(reason);
                    }
                }
                Decision::Defer { until } => defer = Some(defer.map_or(until, |d| d.min(until))),
            }
        }
        let Some((channel, to, channel_settings)) = chosen else {
            let done = match (defer, first_reason) {
                (Some(until), reason) if reason != Some(SkipReason::Expired) => Done::Defer(until),
                (_, reason) => Done::Skipped(reason.unwrap_or(SkipReason::NoAddress), None),
            };
            finish(store, delivery, shop_id, key, now, done).await?;
            continue;
        };
        if send.class == Class::Marketing
            && !take_cap_slot(store, shop_id, customer, key, person.zone, now, cap).await?
        {
            finish(
                store,
                delivery,
                shop_id,
                key,
                now,
                Done::Skipped(SkipReason::Capped, None),
            )
            .await?;
            continue;
        }
        let mut context = person.context;
        let unsubscribe = (send.class == Class::Marketing).then(|| {
            let t = token(&secret, shop_id, customer, channel, &send.topic);
            format!("{}/u/{t}", delivery.public_url.trim_end_matches('/'))
        });
        context["links"] = json!({"unsubscribe": unsubscribe.clone().unwrap_or_default()});
        let message = &send.templates[&channel];
        let rendered = message
            .subject
            .as_ref()
            .map(|s| s.render(&context))
            .transpose()
            .and_then(|subject| message.body.render(&context).map(|body| (subject, body)));
        let (subject, body) = match rendered {
            Ok(texts) => texts,
            Err(problem) => {
                release_cap_slot(store, shop_id, key).await?;
                finish(
                    store,
                    delivery,
                    shop_id,
                    key,
                    now,
                    Done::Skipped(SkipReason::Template, Some(problem)),
                )
                .await?;
                continue;
            }
        };
        let outgoing = Outgoing {
            key: key.clone(),
            message_id: message_id(shop_id, key),
            customer: customer.clone(),
            to: to.clone(),
            subject,
            body,
            unsubscribe,
            marketing: send.class == Class::Marketing,
        };
        let done = match delivery.senders.send(channel_settings, &outgoing).await {
            Ok(provider_id) => Done::Sent {
                channel,
                to,
                provider_id,
            },
            Err(Failure::Retry { after, error }) => {
                // Backoff doubles from 30 s, unless the provider said how long.
                let backoff =
                    after.map_or(30i64 << (*attempts - 1).clamp(0, 7), |d| d.as_secs() as i64);
                Done::Retry {
                    at: now + backoff.max(1),
                    error,
                }
            }
            Err(Failure::Permanent { error, left }) => {
                release_cap_slot(store, shop_id, key).await?;
                if left {
                    let at = crate::store::now();
                    set_consent(
                        &store.writer,
                        shop_id,
                        customer,
                        channel,
                        "marketing",
                        false,
                        at,
                        "provider",
                    )
                    .await?;
                    sqlx::query("INSERT INTO suppressions (shop_id, channel, address, reason, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (shop_id, channel, address) DO NOTHING")
                        .bind(shop_id)
                        .bind(channel.name())
                        .bind(&to)
                        .bind("the provider says the recipient left the channel")
                        .bind(at)
                        .execute(&store.writer)
                        .await?;
                }
                Done::Skipped(SkipReason::Failed, Some(error))
            }
        };
        finish(store, delivery, shop_id, key, now, done).await?;
    }
    Ok(())
}

/// The email Message-ID of a message: the same on every attempt, unique per shop and message.
pub fn message_id(shop: i64, key: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{shop}\n{key}").as_bytes());
    format!("<{}@clv.outbox>", hex::encode(&digest[..16]))
}

/// Take one of the customer's marketing slots of the local day for message `key` (kept when it
/// had one already: a retry after a crash). False when the day's slots are all taken.
#[allow(clippy::too_many_arguments)]
async fn take_cap_slot(
    store: &Store,
    shop: i64,
    customer: &str,
    key: &str,
    zone: chrono_tz::Tz,
    now: i64,
    cap: u32,
) -> Result<bool, sqlx::Error> {
    let held: Option<(i64,)> =
        sqlx::query_as("SELECT slot FROM cap_slots WHERE shop_id = $1 AND message_key = $2")
            .bind(shop)
            .bind(key)
            .fetch_optional(&store.writer)
            .await?;
    if held.is_some() {
        return Ok(true);
    }
    let day = clv_journeys::local::day(zone, now).to_string();
    for slot in 1..=i64::from(cap) {
        let taken: Option<(i64,)> = sqlx::query_as(
            "INSERT INTO cap_slots (shop_id, customer_id, day, slot, message_key) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT DO NOTHING RETURNING slot",
        )
        .bind(shop)
        .bind(customer)
        .bind(&day)
        .bind(slot)
        .bind(key)
        .fetch_optional(&store.writer)
        .await?;
        if taken.is_some() {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn release_cap_slot(store: &Store, shop: i64, key: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM cap_slots WHERE shop_id = $1 AND message_key = $2")
        .bind(shop)
        .bind(key)
        .execute(&store.writer)
        .await?;
    Ok(())
}

/// Write what became of message `key`, if this worker still holds it.
async fn finish(
    store: &Store,
    delivery: &Delivery,
    shop: i64,
    key: &str,
    now: i64,
    done: Done,
) -> Result<(), sqlx::Error> {
    let fence =
        "WHERE shop_id = $1 AND message_key = $2 AND lease_owner = $3 AND status = 'pending'";
    let query = match &done {
        Done::Sent { .. } => format!("UPDATE outbox SET status = 'sent', sent_at = $4, channel = $5, recipient = $6, provider_id = $7, lease_until = 0 {fence}"),
        Done::Skipped(..) => format!("UPDATE outbox SET status = CASE WHEN $5 = 'failed' THEN 'failed' ELSE 'skipped' END, reason = $5, last_error = $6, sent_at = NULL, lease_until = 0, next_at = $4 {fence}"),
        Done::Defer(_) => format!("UPDATE outbox SET next_at = $4, reason = 'deferred', lease_until = 0 {fence}"),
        Done::Retry { .. } => format!("UPDATE outbox SET next_at = $4, last_error = $5, lease_until = 0 {fence}"),
    };
    let q = sqlx::query(sqlx::AssertSqlSafe(query))
        .bind(shop)
        .bind(key)
        .bind(&delivery.owner);
    let q = match done {
        Done::Sent {
            channel,
            to,
            provider_id,
        } => q.bind(now).bind(channel.name()).bind(to).bind(provider_id),
        Done::Skipped(reason, detail) => q.bind(now).bind(reason.code()).bind(detail),
        Done::Defer(until) => q.bind(until),
        Done::Retry { at, error } => q.bind(at).bind(error),
    };
    let written = q.execute(&store.writer).await?.rows_affected();
    if written == 0 {
        tracing::warn!(
            shop,
            key,
            "the message's lease passed to another worker before its result was written"
        );
    }
    Ok(())
}

/// A message of a customer, as the message log shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct Logged {
    pub message_key: String,
    pub journey_id: String,
    pub class: String,
    pub status: String,
    pub reason: Option<String>,
    pub channel: Option<String>,
    pub due_at: i64,
    pub sent_at: Option<i64>,
    pub attempts: i64,
    pub last_error: Option<String>,
    /// What the provider's status webhook last said: sent, delivered, read or failed.
    pub delivery: Option<String>,
    pub delivered_at: Option<i64>,
}

/// Every message of `customer`, newest first.
pub async fn log(store: &Store, shop: i64, customer: &str) -> Result<Vec<Logged>, sqlx::Error> {
    sqlx::query_as(
        "SELECT message_key, journey_id, class, status, reason, channel, due_at, sent_at, attempts, last_error, delivery, delivered_at \
         FROM outbox WHERE shop_id = $1 AND customer_id = $2 ORDER BY due_at DESC, message_key",
    )
    .bind(shop)
    .bind(customer)
    .fetch_all(&store.pool)
    .await
}

/// Advance due runs and deliver due messages until `shutdown`; idle, look again every
/// `poll`. Errors are logged and retried: the rows are the state, nothing is lost by waiting.
pub async fn work(store: Store, delivery: Delivery, poll: std::time::Duration) {
    loop {
        let now = crate::store::now();
        let stepped = crate::journeys::step_due(&store, &delivery.owner, now, 500).await;
        // Few messages a claim: a claim's sends must finish well within its lease.
        let delivered = deliver_due(&store, &delivery, now, 25).await;
        let busy = match (&stepped, &delivered) {
            (Ok(s), Ok(d)) => s + d > 0,
            _ => {
                for e in [stepped.err(), delivered.err()].into_iter().flatten() {
                    tracing::warn!(error = %e, "journeys worker (retrying)");
                }
                false
            }
        };
        if !busy {
            tokio::time::sleep(poll).await;
        }
    }
}
