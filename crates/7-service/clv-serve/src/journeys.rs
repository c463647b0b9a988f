//! Journeys on the store: definitions saved as versions, runs entered from live events (in the
//! ingest transaction) and from rescores (P(alive) crossing a threshold), and the stepper that
//! advances due runs. A run's state and wake-up time are rows, never timers in memory; a step's
//! advance and the outbox rows it sends are written in one transaction, the rows under the
//! deterministic key `{run}#{step}`, so a run advanced twice (a worker killed before it
//! recorded the advance) writes each message once.
//!
//! Imports and backfills never enter runs: only events that arrive live do.

use crate::error::ApiError;
use crate::events::{in_list, multi_row, ROWS_PER_STATEMENT};
use crate::shops::Shop;
use crate::store::{Backend, Store};
use clv_journeys::{Advance, Entry, Journey, Outcome, RunState, Step, Trigger};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::HashMap;

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// How long a claimed run or message is its worker's before another may take it.
pub const LEASE: i64 = 30;

/// Save `text` as the next version of its journey (disabled if it is new, as it was otherwise).
pub async fn save(store: &Store, shop: i64, text: &str) -> Result<(Journey, i64), ApiError> {
    let journey =
        Journey::parse(text).map_err(|e| ApiError::invalid("definition", e.to_string()))?;
    let now = crate::store::now();
    let mut tx = store.writer.begin().await?;
    let (version,): (i64,) = sqlx::query_as(
        "SELECT COALESCE(MAX(version), 0) + 1 FROM journey_versions WHERE shop_id = $1 AND journey_id = $2",
    )
    .bind(shop)
    .bind(&journey.id)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query("INSERT INTO journey_versions (shop_id, journey_id, version, definition, saved_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(shop)
        .bind(&journey.id)
        .bind(version)
        .bind(journey.to_json())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "INSERT INTO journeys (shop_id, journey_id, version, enabled, updated_at) VALUES ($1, $2, $3, 0, $4) \
         ON CONFLICT (shop_id, journey_id) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at",
    )
    .bind(shop)
    .bind(&journey.id)
    .bind(version)
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((journey, version))
}

/// Switch journey `id` on or off. A built-in journey the shop has not saved is saved first.
pub async fn enable(store: &Store, shop: i64, id: &str, on: bool) -> Result<i64, ApiError> {
    let saved: Option<(i64,)> =
        sqlx::query_as("SELECT version FROM journeys WHERE shop_id = $1 AND journey_id = $2")
            .bind(shop)
            .bind(id)
            .fetch_optional(&store.pool)
            .await?;
    let version = match (saved, clv_journeys::library::built_in(id)) {
        (Some((v,)), _) => v,
        (None, Some(Ok(journey))) => save(store, shop, &journey.to_json()).await?.1,
        (None, Some(Err(e))) => return Err(ApiError::invalid("journey", e.to_string())),
        (None, None) => {
            let ids: Vec<&str> = clv_journeys::library::BUILT_IN
                .iter()
                .map(|(i, _)| *i)
                .collect();
            return Err(ApiError::not_found(format!(
                "no journey `{id}`: save one (PUT /api/v1/journeys/{id}) or enable a built-in one: {}",
                ids.join(", ")
            )));
        }
    };
    sqlx::query(
        "UPDATE journeys SET enabled = $3, updated_at = $4 WHERE shop_id = $1 AND journey_id = $2",
    )
    .bind(shop)
    .bind(id)
    .bind(i64::from(on))
    .bind(crate::store::now())
    .execute(&store.writer)
    .await?;
    Ok(version)
}

/// A journey as listed, with its counts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Listed {
    pub id: String,
    pub name: String,
    pub version: i64,
    pub enabled: bool,
    /// Runs by status: active, done, exited.
    pub runs: HashMap<String, i64>,
    /// Messages by status (sent, pending, skipped, failed), and skipped ones by reason.
    pub messages: HashMap<String, i64>,
    pub skipped: HashMap<String, i64>,
    /// Runs in a holdout group (they received nothing: the comparison for uplift).
    pub holdout: i64,
}

impl Listed {
    /// One line for a terminal: id, version, on or off, runs and messages by status, and why
    /// messages were skipped.
    pub fn line(&self) -> String {
        let count = |m: &HashMap<String, i64>, k: &str| m.get(k).copied().unwrap_or(0);
        let mut skipped: Vec<String> = self
            .skipped
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        skipped.sort();
        let why = if skipped.is_empty() {
            String::new()
        } else {
            format!(" ({})", skipped.join(", "))
        };
        let (runs, messages) = (&self.runs, &self.messages);
        format!(
            "{:<18} v{} {:<3} runs: {} active, {} done, {} exited ({} holdout); messages: {} sent, {} pending, {} skipped{why}",
            self.id, self.version, if self.enabled { "on" } else { "off" },
            count(runs, "active"), count(runs, "done"), count(runs, "exited"), self.holdout,
            count(messages, "sent"), count(messages, "pending"), count(messages, "skipped") + count(messages, "failed"),
        )
    }
}

/// The shop's journeys with their run and message counts.
pub async fn list(store: &Store, shop: i64) -> Result<Vec<Listed>, ApiError> {
    let rows: Vec<(String, i64, i64, String)> = sqlx::query_as(
        "SELECT j.journey_id, j.version, j.enabled, v.definition FROM journeys j JOIN journey_versions v \
         ON v.shop_id = j.shop_id AND v.journey_id = j.journey_id AND v.version = j.version \
         WHERE j.shop_id = $1 ORDER BY j.journey_id",
    )
    .bind(shop)
    .fetch_all(&store.pool)
    .await?;
    let runs: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT journey_id, status, COUNT(*) FROM journey_runs WHERE shop_id = $1 GROUP BY journey_id, status",
    )
    .bind(shop)
    .fetch_all(&store.pool)
    .await?;
    let held: Vec<(String, i64)> = sqlx::query_as(
        "SELECT journey_id, COUNT(*) FROM journey_runs WHERE shop_id = $1 AND exit_reason = 'holdout' GROUP BY journey_id",
    )
    .bind(shop)
    .fetch_all(&store.pool)
    .await?;
    let messages: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(
        "SELECT journey_id, status, reason, COUNT(*) FROM outbox WHERE shop_id = $1 GROUP BY journey_id, status, reason",
    )
    .bind(shop)
    .fetch_all(&store.pool)
    .await?;
    let mut listed = Vec::new();
    for (id, version, enabled, definition) in rows {
        let name = Journey::parse(&definition)
            .map(|j| j.name)
            .unwrap_or_default();
        let mut item = Listed {
            runs: HashMap::new(),
            messages: HashMap::new(),
            skipped: HashMap::new(),
            holdout: held.iter().find(|h| h.0 == id).map_or(0, |h| h.1),
            id,
            name,
            version,
            enabled: enabled != 0,
        };
        for (_, status, n) in runs.iter().filter(|r| r.0 == item.id) {
            item.runs.insert(status.clone(), *n);
        }
        for (_, status, reason, n) in messages.iter().filter(|m| m.0 == item.id) {
            *item.messages.entry(status.clone()).or_default() += n;
            if let (Some(reason), "skipped" | "failed") = (reason, status.as_str()) {
                *item.skipped.entry(reason.clone()).or_default() += n;
            }
        }
        listed.push(item);
    }
    Ok(listed)
}

/// Journey `id`'s current definition and version.
pub async fn current(store: &Store, shop: i64, id: &str) -> Result<(Journey, i64, bool), ApiError> {
    let row: Option<(String, i64, i64)> = sqlx::query_as(
        "SELECT v.definition, j.version, j.enabled FROM journeys j JOIN journey_versions v \
         ON v.shop_id = j.shop_id AND v.journey_id = j.journey_id AND v.version = j.version \
         WHERE j.shop_id = $1 AND j.journey_id = $2",
    )
    .bind(shop)
    .bind(id)
    .fetch_optional(&store.pool)
    .await?;
    let Some((definition, version, enabled)) = row else {
        return Err(ApiError::not_found(format!(
            "this shop has no journey `{id}`"
        )));
    };
    let journey =
        Journey::parse(&definition).map_err(|e| ApiError::invalid("definition", e.to_string()))?;
    Ok((journey, version, enabled != 0))
}

/// The enabled journeys of `shop`: (journey, version).
async fn enabled(
    conn: &mut sqlx::AnyConnection,
    shop: i64,
) -> Result<Vec<(Journey, i64)>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT v.definition, j.version FROM journeys j JOIN journey_versions v \
         ON v.shop_id = j.shop_id AND v.journey_id = j.journey_id AND v.version = j.version \
         WHERE j.shop_id = $1 AND j.enabled = 1",
    )
    .bind(shop)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(d, v)| Journey::parse(&d).ok().map(|j| (j, v)))
        .collect())
}

/// An event that may start or wake runs.
#[derive(Debug, Clone)]
pub(crate) struct Arrival<'a> {
    pub message_id: &'a str,
    pub kind: &'a str,
    pub customer: Option<&'a str>,
    pub order: Option<&'a str>,
    pub at: i64,
}

/// A run to insert: key, journey, version, customer, order, entered.
type NewRun = (String, String, i64, String, Option<String>, i64);

/// In the ingest transaction of live events: record the customers' latest activity, wake
/// their active runs (an exit rule or a wait-for step may now hold), and enter the runs the
/// enabled journeys' triggers call for.
pub(crate) async fn on_events(
    tx: &mut Tx<'_>,
    shop: i64,
    arrivals: &[Arrival<'_>],
) -> Result<(), sqlx::Error> {
    if arrivals.is_empty() {
        return Ok(());
    }
    // Refund and cancellation events name only the order: its customer is the stored one.
    let orphans: Vec<&str> = arrivals
        .iter()
        .filter(|a| a.customer.is_none())
        .filter_map(|a| a.order)
        .collect();
    let owners = order_customers(tx, shop, &orphans).await?;
    let arrivals: Vec<(Arrival, &str)> = arrivals
        .iter()
        .filter_map(|a| {
            let customer = a
                .customer
                .or_else(|| a.order.and_then(|o| owners.get(o).map(String::as_str)))?;
            Some((a.clone(), customer))
        })
        .collect();
    let mut latest: HashMap<(&str, &str), i64> = HashMap::new();
    for (a, customer) in &arrivals {
        let at = latest.entry((customer, a.kind)).or_insert(a.at);
        *at = (*at).max(a.at);
    }
    let latest: Vec<_> = latest.into_iter().collect();
    for chunk in latest.chunks(ROWS_PER_STATEMENT) {
        let sql = multi_row(
            tx,
            "customer_activity (shop_id, customer_id, event, last_at)",
            chunk.len(),
            4,
            "ON CONFLICT (shop_id, customer_id, event) DO UPDATE SET last_at = excluded.last_at \
             WHERE excluded.last_at > customer_activity.last_at",
        );
        let mut q = sqlx::query(sql);
        for ((customer, kind), at) in chunk {
            q = q.bind(shop).bind(*customer).bind(*kind).bind(*at);
        }
        q.execute(&mut **tx).await?;
    }
    // Woken at the events' time (the earliest of the batch), not the clock's: a run re-sleeps
    // if it has nothing to do, and a simulated clock stays the only clock.
    let now = arrivals
        .iter()
        .map(|(a, _)| a.at)
        .min()
        .unwrap_or_else(crate::store::now);
    let mut customers: Vec<&str> = arrivals.iter().map(|(_, c)| *c).collect();
    customers.sort_unstable();
    customers.dedup();
    for chunk in customers.chunks(500) {
        let sql = format!(
            "UPDATE journey_runs SET wake_at = {} WHERE shop_id = {} AND status = 'active' \
             AND wake_at > {} AND customer_id IN ({})",
            in_list(tx, 1, 1),
            in_list(tx, 2, 1),
            in_list(tx, 3, 1),
            in_list(tx, 4, chunk.len())
        );
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(shop)
            .bind(now);
        for c in chunk {
            q = q.bind(*c);
        }
        q.execute(&mut **tx).await?;
    }
    let journeys = enabled(tx, shop).await?;
    let mut runs: Vec<NewRun> = Vec::new();
    let mut reentry: Vec<(usize, u32)> = Vec::new();
    for (journey, version) in &journeys {
        let Trigger::Event { event } = &journey.trigger else {
            continue;
        };
        for (a, customer) in arrivals.iter().filter(|(a, _)| a.kind == event) {
            let id = &journey.id;
            let key = match journey.entry() {
                Entry::OncePerOrder => match a.order {
                    Some(order) => format!("{id}:o:{order}"),
                    None => format!("{id}:e:{}", a.message_id),
                },
                Entry::OncePerCustomer => format!("{id}:c:{customer}"),
                Entry::ReentryAfter { days } => {
                    reentry.push((runs.len(), days));
                    format!("{id}:c:{customer}:{}", a.at)
                }
            };
            let order = a.order.map(str::to_string);
            runs.push((key, id.clone(), *version, customer.to_string(), order, a.at));
        }
    }
    // Re-entry: not while an earlier entry of the same journey is younger than the gap.
    let mut blocked = std::collections::HashSet::new();
    for (i, days) in reentry {
        let (_, journey, _, customer, _, at) = &runs[i];
        let recent: Option<(i64,)> = sqlx::query_as(
            "SELECT 1 FROM journey_runs WHERE shop_id = $1 AND customer_id = $2 AND journey_id = $3 AND entered_at > $4 LIMIT 1",
        )
        .bind(shop)
        .bind(customer)
        .bind(journey)
        .bind(at - i64::from(days) * clv_journeys::local::DAY)
        .fetch_optional(&mut **tx)
        .await?;
        let earlier_here = runs[..i].iter().any(|r| {
            &r.1 == journey
                && &r.3 == customer
                && r.5 > at - i64::from(days) * clv_journeys::local::DAY
        });
        if recent.is_some() || earlier_here {
            blocked.insert(i);
        }
    }
    let runs: Vec<NewRun> = runs
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !blocked.contains(i))
        .map(|(_, r)| r)
        .collect();
    insert_runs(tx, shop, &runs).await
}

/// The stored customers of `orders`.
async fn order_customers(
    tx: &mut Tx<'_>,
    shop: i64,
    orders: &[&str],
) -> Result<HashMap<String, String>, sqlx::Error> {
    let mut found = HashMap::new();
    for chunk in orders.chunks(500) {
        let sql = format!(
            "SELECT order_id, customer_id FROM orders WHERE shop_id = {} AND order_id IN ({})",
            in_list(tx, 1, 1),
            in_list(tx, 2, chunk.len())
        );
        let mut q = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql)).bind(shop);
        for o in chunk {
            q = q.bind(*o);
        }
        found.extend(q.fetch_all(&mut **tx).await?);
    }
    Ok(found)
}

async fn insert_runs(tx: &mut Tx<'_>, shop: i64, runs: &[NewRun]) -> Result<(), sqlx::Error> {
    for chunk in runs.chunks(ROWS_PER_STATEMENT) {
        let sql = multi_row(
            tx,
            "journey_runs (shop_id, run_key, journey_id, version, customer_id, order_id, entered_at, step, step_at, wake_at, status)",
            chunk.len(),
            11,
            "ON CONFLICT (shop_id, run_key) DO NOTHING",
        );
        let mut q = sqlx::query(sql);
        for (key, journey, version, customer, order, at) in chunk {
            q = q
                .bind(shop)
                .bind(key)
                .bind(journey)
                .bind(*version)
                .bind(customer)
                .bind(order)
                .bind(*at)
                .bind(0i64)
                .bind(*at)
                .bind(*at)
                .bind("active");
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// After rescore `run_id` of `shop`: enter the P(alive) journeys for the customers whose P(alive)
/// fell below the threshold since the run before (`previous`). Returns the runs entered.
pub async fn on_rescore(
    store: &Store,
    shop: i64,
    previous: Option<i64>,
    run_id: i64,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let Some(previous) = previous else {
        return Ok(0);
    };
    let mut conn = store.pool.acquire().await?;
    let journeys = enabled(&mut conn, shop).await?;
    drop(conn);
    let mut entered = 0;
    for (journey, version) in journeys {
        let Trigger::PAliveBelow {
            threshold,
            min_orders,
            min_clv,
        } = journey.trigger
        else {
            continue;
        };
        let crossed: Vec<(String,)> = sqlx::query_as(concat!(
            "SELECT n.customer_id FROM predictions n JOIN predictions p ON p.shop_id = n.shop_id AND p.run_id = $3 AND p.customer_id = n.customer_id \
             WHERE n.shop_id = $1 AND n.run_id = $2 AND n.p_alive < $4 AND p.p_alive >= $4 AND COALESCE(n.predicted_clv, 0) >= $5 \
             AND (SELECT COUNT(*) FROM orders o WHERE o.shop_id = n.shop_id AND o.customer_id = n.customer_id AND ",
            crate::store::live!(),
            ") >= $6 ORDER BY n.customer_id"
        ))
        .bind(shop)
        .bind(run_id)
        .bind(previous)
        .bind(threshold)
        .bind(min_clv)
        .bind(i64::from(min_orders))
        .fetch_all(&store.pool)
        .await?;
        let mut tx = store.writer.begin().await?;
        let mut runs = Vec::new();
        for (customer,) in crossed {
            let key = match journey.entry() {
                Entry::ReentryAfter { days } => {
                    let recent: Option<(i64,)> = sqlx::query_as(
                        "SELECT 1 FROM journey_runs WHERE shop_id = $1 AND customer_id = $2 AND journey_id = $3 AND entered_at > $4 LIMIT 1",
                    )
                    .bind(shop)
                    .bind(&customer)
                    .bind(&journey.id)
                    .bind(now - i64::from(days) * clv_journeys::local::DAY)
                    .fetch_optional(&mut *tx)
                    .await?;
                    if recent.is_some() {
                        continue;
                    }
                    format!("{}:c:{customer}:r{run_id}", journey.id)
                }
                _ => format!("{}:c:{customer}", journey.id),
            };
            runs.push((key, journey.id.clone(), version, customer, None, now));
        }
        entered += runs.len() as u64;
        insert_runs(&mut tx, shop, &runs).await?;
        tx.commit().await?;
    }
    Ok(entered)
}

/// A claimed run.
#[derive(Debug, Clone)]
struct Claimed {
    shop: i64,
    key: String,
    journey: String,
    version: i64,
    customer: String,
    order: Option<String>,
    entered_at: i64,
    state: RunState,
}

type ClaimedRow = (
    i64,
    String,
    String,
    i64,
    String,
    Option<String>,
    i64,
    i64,
    i64,
);

/// Advance up to `limit` runs due at `now`, as worker `owner`. Returns how many were advanced.
pub async fn step_due(
    store: &Store,
    owner: &str,
    now: i64,
    limit: i64,
) -> Result<usize, sqlx::Error> {
    let pick = match store.backend {
        Backend::Sqlite => "SELECT shop_id, run_key FROM journey_runs WHERE status = 'active' AND wake_at <= $3 AND lease_until < $3 ORDER BY wake_at LIMIT $4",
        Backend::Postgres => "SELECT shop_id, run_key FROM journey_runs WHERE status = 'active' AND wake_at <= $3 AND lease_until < $3 ORDER BY wake_at LIMIT $4 FOR UPDATE SKIP LOCKED",
    };
    let sql = format!(
        "UPDATE journey_runs SET lease_owner = $1, lease_until = $2 WHERE (shop_id, run_key) IN ({pick}) \
         RETURNING shop_id, run_key, journey_id, version, customer_id, order_id, entered_at, step, step_at"
    );
    let rows: Vec<ClaimedRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(owner)
        .bind(now + LEASE)
        .bind(now)
        .bind(limit)
        .fetch_all(&store.writer)
        .await?;
    let claimed: Vec<Claimed> = rows
        .into_iter()
        .map(
            |(shop, key, journey, version, customer, order, entered_at, step, step_at)| Claimed {
                shop,
                key,
                journey,
                version,
                customer,
                order,
                entered_at,
                state: RunState {
                    step: step as usize,
                    step_at,
                },
            },
        )
        .collect();
    let count = claimed.len();
    let mut by_shop: HashMap<i64, Vec<Claimed>> = HashMap::new();
    for c in claimed {
        by_shop.entry(c.shop).or_default().push(c);
    }
    for (shop_id, runs) in by_shop {
        let shop = crate::shops::load(store, shop_id).await?;
        advance_runs(store, &shop, owner, now, &runs).await?;
    }
    Ok(count)
}

/// The definitions of `versions` (journey, version) of `shop`.
pub(crate) async fn versions(
    store: &Store,
    shop: i64,
    wanted: Vec<(String, i64)>,
) -> Result<HashMap<(String, i64), Journey>, sqlx::Error> {
    let mut found = HashMap::new();
    for (journey, version) in wanted {
        if found.contains_key(&(journey.clone(), version)) {
            continue;
        }
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT definition FROM journey_versions WHERE shop_id = $1 AND journey_id = $2 AND version = $3",
        )
        .bind(shop)
        .bind(&journey)
        .bind(version)
        .fetch_optional(&store.pool)
        .await?;
        if let Some(j) = row.and_then(|(d,)| Journey::parse(&d).ok()) {
            found.insert((journey, version), j);
        }
    }
    Ok(found)
}

/// Advance `runs` of `shop` and write what they did in one transaction, fenced by the lease.
async fn advance_runs(
    store: &Store,
    shop: &Shop,
    owner: &str,
    now: i64,
    runs: &[Claimed],
) -> Result<(), sqlx::Error> {
    let wanted = runs
        .iter()
        .map(|r| (r.journey.clone(), r.version))
        .collect();
    let definitions = versions(store, shop.id, wanted).await?;
    let people: Vec<(&str, Option<&str>)> = runs
        .iter()
        .map(|r| (r.customer.as_str(), r.order.as_deref()))
        .collect();
    let facts = facts(store, shop, &people).await?;
    let mut outbox: Vec<(String, &Claimed, usize, &clv_journeys::Send, i64)> = Vec::new();
    let mut updates: Vec<(&Claimed, Advance)> = Vec::new();
    for (run, person) in runs.iter().zip(&facts) {
        let Some(journey) = definitions.get(&(run.journey.clone(), run.version)) else {
            let exit = Advance {
                state: run.state,
                sends: Vec::new(),
                outcome: Outcome::Exit(clv_journeys::ExitReason::Error {
                    step: run.state.step,
                    problem: format!("version {} of the journey is missing", run.version),
                }),
            };
            updates.push((run, exit));
            continue;
        };
        let last = |event: &str| person.activity.get(event).copied();
        let machine = clv_journeys::Facts {
            run_key: &run.key,
            zone: person.zone,
            entered_at: run.entered_at,
            order_placed_at: person.order_placed_at,
            context: &person.context,
            last_event: &last,
        };
        let next = clv_journeys::advance(journey, run.state, now, &machine);
        for (step, due) in &next.sends {
            if let Some(Step::Send(send)) = journey.steps.get(*step) {
                outbox.push((format!("{}#{step}", run.key), run, *step, send, *due));
            }
        }
        updates.push((run, next));
    }
    let mut tx = store.writer.begin().await?;
    for chunk in outbox.chunks(ROWS_PER_STATEMENT) {
        let sql = multi_row(
            &tx,
            "outbox (shop_id, message_key, run_key, step, journey_id, customer_id, class, topic, due_at, expires_at, next_at, status)",
            chunk.len(),
            12,
            "ON CONFLICT (shop_id, message_key) DO NOTHING",
        );
        let mut q = sqlx::query(sql);
        for (key, run, step, send, due) in chunk {
            q = q
                .bind(shop.id)
                .bind(key)
                .bind(&run.key)
                .bind(*step as i64)
                .bind(&run.journey)
                .bind(&run.customer)
                .bind(send.class.name())
                .bind(&send.topic)
                .bind(*due)
                .bind(due + send.max_lateness.seconds())
                .bind(*due)
                .bind("pending");
        }
        q.execute(&mut *tx).await?;
    }
    for (run, next) in updates {
        let (status, wake, reason) = match &next.outcome {
            Outcome::Wait { until } => ("active", *until, None),
            Outcome::Done => ("done", now, None),
            Outcome::Exit(reason) => ("exited", now, Some(reason.code())),
        };
        let finished = (status != "active").then_some(now);
        sqlx::query(
            "UPDATE journey_runs SET step = $3, step_at = $4, wake_at = $5, status = $6, exit_reason = $7, finished_at = $8, lease_until = 0 \
             WHERE shop_id = $1 AND run_key = $2 AND lease_owner = $9 AND status = 'active'",
        )
        .bind(shop.id)
        .bind(&run.key)
        .bind(next.state.step as i64)
        .bind(next.state.step_at)
        .bind(wake)
        .bind(status)
        .bind(reason)
        .bind(finished)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The rows of `sql` for every id of `ids`, a few hundred a statement: `{p1}`, `{p2}`, … are
/// the `fixed` values, `{ids}` the list.
pub(crate) async fn by_ids<T>(
    conn: &mut sqlx::AnyConnection,
    sql: &str,
    fixed: &[i64],
    ids: &[&str],
) -> Result<Vec<T>, sqlx::Error>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow> + Send + Unpin,
{
    let mut rows = Vec::new();
    for chunk in ids.chunks(500) {
        let mut text = sql.to_string();
        for i in 0..fixed.len() {
            text = text.replace(&format!("{{p{}}}", i + 1), &in_list(conn, i + 1, 1));
        }
        let text = text.replace("{ids}", &in_list(conn, fixed.len() + 1, chunk.len()));
        // Only placeholders are put in; the values are bound.
        let mut q = sqlx::query_as::<_, T>(sqlx::AssertSqlSafe(text));
        for v in fixed {
            q = q.bind(*v);
        }
        for id in chunk {
            q = q.bind(*id);
        }
        rows.extend(q.fetch_all(&mut *conn).await?);
    }
    Ok(rows)
}

/// A stored prediction: P(alive), expected purchases, predicted CLV.
type Predicted = (Option<f64>, Option<f64>, Option<f64>);

/// What a run or a message may read of one customer.
pub(crate) struct Person {
    pub zone: chrono_tz::Tz,
    pub context: Value,
    pub activity: HashMap<String, i64>,
    pub order_placed_at: Option<i64>,
    pub email: Option<String>,
    pub traits: Value,
}

/// The facts of each (customer, order): addresses, zone, the template and condition variables
/// (customer, order with its lines, latest prediction, shop), and the latest activity.
pub(crate) async fn facts(
    store: &Store,
    shop: &Shop,
    people: &[(&str, Option<&str>)],
) -> Result<Vec<Person>, sqlx::Error> {
    let mut conn = store.pool.acquire().await?;
    let mut customers: Vec<&str> = people.iter().map(|p| p.0).collect();
    customers.sort_unstable();
    customers.dedup();
    let mut orders: Vec<&str> = people.iter().filter_map(|p| p.1).collect();
    orders.sort_unstable();
    orders.dedup();
    let latest_run: (Option<i64>,) =
        sqlx::query_as("SELECT MAX(id) FROM score_runs WHERE shop_id = $1 AND status = 'done'")
            .bind(shop.id)
            .fetch_one(&mut *conn)
            .await?;
    let mut profile: HashMap<String, (Option<String>, String)> = HashMap::new();
    let mut totals: HashMap<String, (i64, i64)> = HashMap::new();
    let mut predictions: HashMap<String, Predicted> = HashMap::new();
    let mut activity: HashMap<String, HashMap<String, i64>> = HashMap::new();
    let run = latest_run.0.unwrap_or(0);
    for (id, email, traits) in by_ids::<(String, Option<String>, String)>(&mut conn, "SELECT customer_id, email, traits FROM customers WHERE shop_id = {p1} AND customer_id IN ({ids})", &[shop.id], &customers).await? {
        profile.insert(id, (email, traits));
    }
    let sql = concat!("SELECT o.customer_id, COUNT(*), CAST(COALESCE(SUM(o.total_minor), 0) AS BIGINT) FROM orders o WHERE o.shop_id = {p1} AND o.customer_id IN ({ids}) AND ", crate::store::live!(), " GROUP BY o.customer_id");
    for (id, n, revenue) in
        by_ids::<(String, i64, i64)>(&mut conn, sql, &[shop.id], &customers).await?
    {
        totals.insert(id, (n, revenue));
    }
    if latest_run.0.is_some() {
        let sql = "SELECT customer_id, p_alive, expected_purchases, predicted_clv FROM predictions WHERE shop_id = {p1} AND run_id = {p2} AND customer_id IN ({ids})";
        for (id, p, e, c) in by_ids::<(String, Option<f64>, Option<f64>, Option<f64>)>(
            &mut conn,
            sql,
            &[shop.id, run],
            &customers,
        )
        .await?
        {
            predictions.insert(id, (p, e, c));
        }
    }
    for (id, event, at) in by_ids::<(String, String, i64)>(&mut conn, "SELECT customer_id, event, last_at FROM customer_activity WHERE shop_id = {p1} AND customer_id IN ({ids})", &[shop.id], &customers).await? {
        activity.entry(id).or_default().insert(event, at);
    }
    let mut order_rows: HashMap<String, (i64, i64)> = HashMap::new();
    for (id, placed, total) in by_ids::<(String, i64, i64)>(&mut conn, "SELECT order_id, placed_at, total_minor FROM orders WHERE shop_id = {p1} AND order_id IN ({ids})", &[shop.id], &orders).await? {
        order_rows.insert(id, (placed, total));
    }
    let mut lines: HashMap<String, Vec<Value>> = HashMap::new();
    let sql = "SELECT order_id, sku, quantity, amount_minor FROM order_lines WHERE shop_id = {p1} AND order_id IN ({ids}) ORDER BY order_id, line_no";
    for (id, sku, quantity, amount) in
        by_ids::<(String, String, f64, i64)>(&mut conn, sql, &[shop.id], &orders).await?
    {
        let quantity = if quantity.fract() == 0.0 {
            json!(quantity as i64)
        } else {
            json!(quantity)
        };
        lines.entry(id).or_default().push(json!({"sku": sku, "quantity": quantity, "amount": crate::money::to_text(amount, shop.minor_digits())}));
    }
    let digits = shop.minor_digits();
    let mut out = Vec::with_capacity(people.len());
    for (customer, order) in people {
        let (email, traits) = profile
            .get(*customer)
            .cloned()
            .unwrap_or((None, "{}".into()));
        let traits: Value = serde_json::from_str(&traits).unwrap_or(json!({}));
        let zone = traits
            .get("timezone")
            .and_then(Value::as_str)
            .and_then(|z| z.parse().ok())
            .unwrap_or(shop.timezone);
        let mut person = serde_json::Map::new();
        person.insert("id".into(), json!(customer));
        if let Some(e) = &email {
            person.insert("email".into(), json!(e));
        }
        for (field, trait_names) in [
            ("phone", ["phone", "phone"]),
            ("name", ["name", "full_name"]),
            ("first_name", ["first_name", "firstName"]),
        ] {
            if let Some(v) = trait_names
                .iter()
                .find_map(|t| traits.get(*t).filter(|v| !v.is_null()))
            {
                person.insert(field.into(), v.clone());
            }
        }
        person.insert("timezone".into(), json!(zone.name()));
        let (n, revenue) = totals.get(*customer).copied().unwrap_or((0, 0));
        person.insert("orders".into(), json!(n));
        person.insert(
            "revenue".into(),
            json!(crate::money::to_text(revenue, digits)),
        );
        person.insert("traits".into(), traits.clone());
        let mut context = serde_json::Map::new();
        context.insert("customer".into(), Value::Object(person));
        context.insert(
            "shop".into(),
            json!({"name": shop.name, "currency": shop.currency.code()}),
        );
        context.insert("recommendations".into(), json!([]));
        if let Some((p, e, c)) = predictions.get(*customer) {
            let mut prediction = serde_json::Map::new();
            for (name, v) in [("p_alive", p), ("expected_purchases", e), ("clv", c)] {
                if let Some(v) = v {
                    prediction.insert(name.into(), json!(v));
                }
            }
            context.insert("prediction".into(), Value::Object(prediction));
        }
        let mut order_placed_at = None;
        if let Some(order) = order {
            if let Some((placed, total)) = order_rows.get(*order) {
                order_placed_at = Some(*placed);
                let date = chrono::DateTime::from_timestamp(*placed, 0)
                    .unwrap_or_default()
                    .with_timezone(&zone);
                context.insert(
                    "order".into(),
                    json!({
                        "id": order,
                        "total": crate::money::to_text(*total, digits),
                        "currency": shop.currency.code(),
                        "placed_at": date.to_rfc3339(),
                        "date": date.format("%Y-%m-%d").to_string(),
                        "items": lines.get(*order).cloned().unwrap_or_default(),
                    }),
                );
            } else {
                context.insert(
                    "order".into(),
                    json!({"id": order, "currency": shop.currency.code(), "items": []}),
                );
            }
        }
        out.push(Person {
            zone,
            context: Value::Object(context),
            activity: activity.get(*customer).cloned().unwrap_or_default(),
            order_placed_at,
            email,
            traits,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listed_journey_is_one_line_with_skips_and_failures_counted_together() {
        let counts =
            |pairs: &[(&str, i64)]| pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect();
        let listed = Listed {
            id: "win-back".into(),
            name: "Win back".into(),
            version: 3,
            enabled: true,
            runs: counts(&[("active", 4), ("done", 10)]),
            messages: counts(&[("sent", 9), ("skipped", 2), ("failed", 1)]),
            skipped: counts(&[("quiet_hours", 1), ("capped", 1)]),
            holdout: 2,
        };
        assert_eq!(
            listed.line(),
            "win-back           v3 on  runs: 4 active, 10 done, 0 exited (2 holdout); messages: 9 sent, 0 pending, 3 skipped (capped 1, quiet_hours 1)"
        );
    }
}
