//! The loyalty program on the store: the program's settings, the ledger kept in step with the
//! orders (in the same transaction as the order, refund or cancellation that calls for a row),
//! balances and tiers read as sums of rows, redemptions that cannot overspend, and the expiry
//! sweep. The rules themselves are `clv_loyalty`'s; this module reads facts and writes rows.

use crate::error::ApiError;
use crate::events::{in_list, multi_row, ROWS_PER_STATEMENT};
use crate::store::Backend;
use axum::http::StatusCode;
use clv_loyalty::{Entry, Kind, OrderFacts, Program, RefundFact};
use serde::Serialize;
use std::collections::HashMap;

type Tx<'c> = sqlx::Transaction<'c, sqlx::Any>;

/// The shop's program and its currency's minor digits, if it has one.
async fn program_in(
    conn: &mut sqlx::AnyConnection,
    shop: i64,
) -> Result<Option<(Program, u32)>, sqlx::Error> {
    let row: Option<(String, String)> = sqlx::query_as(
        "SELECT p.program, s.currency FROM loyalty_programs p JOIN shops s ON s.id = p.shop_id WHERE p.shop_id = $1",
    )
    .bind(shop)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((program, currency)) = row else {
        return Ok(None);
    };
    let program: Program =
        serde_json::from_str(&program).map_err(|e| sqlx::Error::Decode(Box::new(e)))?;
    let digits = iso_currency::Currency::from_code(&currency)
        .and_then(|c| c.exponent())
        .unwrap_or(0) as u32;
    Ok(Some((program, digits)))
}

/// The shop's program (none set: 404).
pub async fn program(store: &crate::Store, shop: i64) -> Result<Program, ApiError> {
    let mut conn = store.pool.acquire().await?;
    match program_in(&mut conn, shop).await? {
        Some((p, _)) => Ok(p),
        None => Err(ApiError::not_found(
            "this shop has no loyalty program: PUT /api/v1/loyalty/program sets one",
        )),
    }
}

/// Check and save `program`. Rows already written keep the rate they were earned at.
pub async fn save_program(
    store: &crate::Store,
    shop: i64,
    program: &Program,
) -> Result<(), ApiError> {
    program
        .check()
        .map_err(|e| ApiError::invalid("program", e.to_string()))?;
    let text = serde_json::to_string(program).unwrap_or_default();
    sqlx::query(
        "INSERT INTO loyalty_programs (shop_id, program, updated_at) VALUES ($1, $2, $3) \
         ON CONFLICT (shop_id) DO UPDATE SET program = excluded.program, updated_at = excluded.updated_at",
    )
    .bind(shop)
    .bind(text)
    .bind(crate::store::now())
    .execute(&store.writer)
    .await?;
    Ok(())
}

/// A stored ledger row.
type Row = (String, String, i64, i64, i64, Option<String>, i64, String);

const ROW_COLUMNS: &str = "entry_key, kind, points, at, available_at, order_id, rate, reason";

fn entry((key, kind, points, at, available_at, order_id, rate, reason): Row) -> Entry {
    Entry {
        key,
        kind: Kind::parse(&kind).unwrap_or(Kind::Adjust),
        points,
        at,
        available_at,
        order_id,
        rate: rate.clamp(0, i64::from(u32::MAX)) as u32,
        reason,
    }
}

/// Write `rows` (customer, entry); a row whose key is there already is left as it is.
pub(crate) async fn insert(
    tx: &mut Tx<'_>,
    shop: i64,
    rows: &[(String, Entry)],
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let sql = multi_row(
            tx,
            "loyalty_ledger (shop_id, entry_key, customer_id, kind, points, at, available_at, order_id, rate, reason)",
            chunk.len(),
            10,
            "ON CONFLICT (shop_id, entry_key) DO NOTHING",
        );
        let mut q = sqlx::query(sql);
        for (customer, e) in chunk {
            q = q
                .bind(shop)
                .bind(&e.key)
                .bind(customer)
                .bind(e.kind.name())
                .bind(e.points)
                .bind(e.at)
                .bind(e.available_at)
                .bind(&e.order_id)
                .bind(i64::from(e.rate))
                .bind(&e.reason);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Orders synced per statement group.
const ORDERS_PER_SYNC: usize = 500;

/// Bring the ledger rows of `orders` (ids) in line with what the store now knows of them, in
/// `tx` (the transaction that changed them). Nothing without a program. Returns the rows written.
pub async fn sync_orders(tx: &mut Tx<'_>, shop: i64, orders: &[&str]) -> Result<u64, sqlx::Error> {
    if orders.is_empty() {
        return Ok(0);
    }
    let Some((program, digits)) = program_in(tx, shop).await? else {
        return Ok(0);
    };
    let mut written = 0;
    for chunk in orders.chunks(ORDERS_PER_SYNC) {
        // One placeholder style in a statement: sqlx numbers SQLite's `?` apart from `$n`.
        let (shop_p, ids) = (in_list(tx, 1, 1), in_list(tx, 2, chunk.len()));
        macro_rules! read {
            ($ty:ty, $sql:expr) => {{
                let sql = format!($sql, shop = shop_p, ids = ids);
                let mut q = sqlx::query_as::<_, $ty>(sqlx::AssertSqlSafe(sql)).bind(shop);
                for id in chunk {
                    q = q.bind(*id);
                }
                q.fetch_all(&mut **tx).await?
            }};
        }
        let facts = read!(
            (String, String, i64, i64, i64),
            "SELECT order_id, customer_id, placed_at, total_minor, version_at FROM orders WHERE shop_id = {shop} AND order_id IN ({ids})"
        );
        let cancels: HashMap<String, i64> = read!(
            (String, i64),
            "SELECT order_id, cancelled_at FROM cancellations WHERE shop_id = {shop} AND order_id IN ({ids})"
        )
        .into_iter()
        .collect();
        let mut refunds: HashMap<String, Vec<RefundFact>> = HashMap::new();
        for (order, refund_id, at, amount_minor) in read!(
            (String, String, i64, i64),
            "SELECT order_id, refund_id, refunded_at, amount_minor FROM refunds WHERE shop_id = {shop} AND order_id IN ({ids})"
        ) {
            refunds.entry(order).or_default().push(RefundFact {
                refund_id,
                at,
                amount_minor,
            });
        }
        let mut rows: HashMap<String, Vec<Entry>> = HashMap::new();
        for row in read!(
            Row,
            "SELECT entry_key, kind, points, at, available_at, order_id, rate, reason FROM loyalty_ledger WHERE shop_id = {shop} AND order_id IN ({ids})"
        ) {
            let e = entry(row);
            rows.entry(e.order_id.clone().unwrap_or_default()).or_default().push(e);
        }
        let mut new = Vec::new();
        for (order_id, customer, placed_at, total_minor, version_at) in facts {
            let facts = OrderFacts {
                cancelled_at: cancels.get(&order_id).copied(),
                refunds: refunds.remove(&order_id).unwrap_or_default(),
                order_id,
                placed_at,
                total_minor,
                version_at,
            };
            let had = rows.get(&facts.order_id).map_or(&[][..], |v| &v[..]);
            let effects = clv_loyalty::order_effects(&program, digits, &facts, had);
            new.extend(effects.into_iter().map(|e| (customer.clone(), e)));
        }
        insert(tx, shop, &new).await?;
        written += new.len() as u64;
    }
    Ok(written)
}

/// Earn on every order the shop has (a program set up after its history was imported): the
/// same rows live ingest would have written, each once. Returns (orders, rows written).
pub async fn backfill(store: &crate::Store, shop: i64) -> Result<(u64, u64), ApiError> {
    let (mut after, mut orders, mut written) = (String::new(), 0u64, 0u64);
    loop {
        let page: Vec<(String,)> = sqlx::query_as(
            "SELECT order_id FROM orders WHERE shop_id = $1 AND order_id > $2 ORDER BY order_id LIMIT $3",
        )
        .bind(shop)
        .bind(&after)
        .bind(ORDERS_PER_SYNC as i64 * 20)
        .fetch_all(&store.pool)
        .await?;
        let Some((last,)) = page.last() else {
            return Ok((orders, written));
        };
        after = last.clone();
        let ids: Vec<&str> = page.iter().map(|(id,)| id.as_str()).collect();
        let mut tx = store.writer.begin().await?;
        written += sync_orders(&mut tx, shop, &ids).await?;
        tx.commit().await?;
        orders += ids.len() as u64;
    }
}

/// A customer's ledger, oldest first.
async fn entries(
    conn: &mut sqlx::AnyConnection,
    shop: i64,
    customer: &str,
) -> Result<Vec<Entry>, sqlx::Error> {
    let sql = format!(
        "SELECT {ROW_COLUMNS} FROM loyalty_ledger WHERE shop_id = $1 AND customer_id = $2 ORDER BY at, entry_key"
    );
    let rows: Vec<Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(shop)
        .bind(customer)
        .fetch_all(&mut *conn)
        .await?;
    Ok(rows.into_iter().map(entry).collect())
}

/// A customer's points, tier and ledger, as `GET /api/v1/customers/{id}/loyalty` shows them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Account {
    #[schema(value_type = Object)]
    pub balance: clv_loyalty::Balance,
    pub tier: Option<String>,
    /// The points that count towards the tier (earned in the tier window, less refunds).
    pub tier_points: i64,
    /// With tiers by predicted CLV: the prediction of the latest finished rescore the tier went
    /// by (none before the first rescore: the customer counts as 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier_clv: Option<f64>,
    #[schema(value_type = Vec<Object>)]
    pub ledger: Vec<Entry>,
    pub rewards: Vec<Issued>,
}

/// A reward a redemption issued.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Issued {
    pub code: String,
    pub reward_id: String,
    #[schema(value_type = Object)]
    pub reward: serde_json::Value,
    pub issued_at: i64,
}

async fn issued(
    conn: &mut sqlx::AnyConnection,
    shop: i64,
    customer: &str,
    key: Option<&str>,
) -> Result<Vec<Issued>, sqlx::Error> {
    let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT code, reward_id, reward, issued_at FROM loyalty_rewards WHERE shop_id = $1 AND customer_id = $2 \
         AND ($3 IS NULL OR entry_key = $3) ORDER BY issued_at, code",
    )
    .bind(shop)
    .bind(customer)
    .bind(key)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(code, reward_id, reward, issued_at)| Issued {
            code,
            reward_id,
            reward: serde_json::from_str(&reward).unwrap_or_default(),
            issued_at,
        })
        .collect())
}

/// The customer's predicted CLV in the latest rescore that scored the shop.
async fn predicted_clv(
    conn: &mut sqlx::AnyConnection,
    shop: i64,
    customer: &str,
) -> Result<Option<f64>, sqlx::Error> {
    let found: Option<(Option<f64>,)> = sqlx::query_as(
        "SELECT predicted_clv FROM predictions WHERE shop_id = $1 AND customer_id = $2 AND run_id = \
         (SELECT MAX(id) FROM score_runs WHERE shop_id = $1 AND status = 'done')",
    )
    .bind(shop)
    .bind(customer)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(found.and_then(|(clv,)| clv))
}

pub async fn account(store: &crate::Store, shop: i64, customer: &str) -> Result<Account, ApiError> {
    let program = program(store, shop).await?;
    let mut conn = store.pool.acquire().await?;
    let ledger = entries(&mut conn, shop, customer).await?;
    let now = crate::store::now();
    let tier_clv = match program.tier_basis {
        clv_loyalty::TierBasis::PredictedClv => predicted_clv(&mut conn, shop, customer).await?,
        clv_loyalty::TierBasis::Points => None,
    };
    Ok(Account {
        balance: clv_loyalty::balance(&ledger, now),
        tier: clv_loyalty::tier(&program, &ledger, now, tier_clv).map(|t| t.name.clone()),
        tier_clv,
        tier_points: clv_loyalty::tier_points(&program, &ledger, now),
        rewards: issued(&mut conn, shop, customer, None).await?,
        ledger,
    })
}

/// Spend a customer's points on `reward_id` under the client's `key`: the ledger row and the
/// reward's code are written together or not at all, and a retry with the same key gets the
/// same code. Concurrent redemptions of one customer run one at a time (SQLite has one writer;
/// PostgreSQL takes a lock on the customer for the transaction), so they cannot overspend.
pub async fn redeem(
    store: &crate::Store,
    shop: i64,
    customer: &str,
    reward_id: &str,
    key: &str,
) -> Result<(StatusCode, Issued), ApiError> {
    let mut tx = store.writer.begin().await?;
    if store.backend == Backend::Postgres {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(format!("{shop}\0{customer}").as_bytes());
        let lock = i64::from_be_bytes(digest[..8].try_into().unwrap_or_default());
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(lock)
            .execute(&mut *tx)
            .await?;
    }
    let entry_key = format!("redeem:{customer}:{key}");
    if let Some(done) = issued(&mut tx, shop, customer, Some(&entry_key))
        .await?
        .pop()
    {
        return Ok((StatusCode::OK, done));
    }
    let Some((program, _)) = program_in(&mut tx, shop).await? else {
        return Err(ApiError::not_found("this shop has no loyalty program"));
    };
    let ledger = entries(&mut tx, shop, customer).await?;
    let now = crate::store::now();
    let entry = clv_loyalty::redeem(
        &program,
        &ledger,
        reward_id,
        &format!("{customer}:{key}"),
        now,
    )
    .map_err(|e| match e {
        clv_loyalty::LoyaltyError::NoSuchReward(_) => ApiError::invalid("reward", e.to_string()),
        _ => ApiError::new(StatusCode::CONFLICT, "not_enough_points", e.to_string()),
    })?;
    let reward = (program.rewards.iter())
        .find(|r| r.id == reward_id)
        .map(|r| serde_json::to_value(r).unwrap_or_default())
        .unwrap_or_default();
    insert(&mut tx, shop, &[(customer.to_string(), entry.clone())]).await?;
    let code = reward_code();
    sqlx::query(
        "INSERT INTO loyalty_rewards (shop_id, code, entry_key, customer_id, reward_id, reward, issued_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(shop)
    .bind(&code)
    .bind(&entry.key)
    .bind(customer)
    .bind(reward_id)
    .bind(reward.to_string())
    .bind(now)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok((
        StatusCode::CREATED,
        Issued {
            code,
            reward_id: reward_id.to_string(),
            reward,
            issued_at: now,
        },
    ))
}

/// A reward code: 16 letters and digits a customer can type (no 0/O or 1/I), 80 random bits.
pub(crate) fn reward_code() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// Write the expiry rows due by `now` for every customer of the shop. Returns the rows written.
pub async fn expire(
    store: &crate::Store,
    shop: &crate::shops::Shop,
    now: i64,
) -> Result<u64, ApiError> {
    let program = program(store, shop.id).await?;
    if program.expiry_months.is_none() {
        return Ok(0);
    }
    let customers: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT customer_id FROM loyalty_ledger WHERE shop_id = $1 ORDER BY customer_id",
    )
    .bind(shop.id)
    .fetch_all(&store.pool)
    .await?;
    let mut written = 0;
    for (customer,) in customers {
        let mut tx = store.writer.begin().await?;
        let ledger = entries(&mut tx, shop.id, &customer).await?;
        let due = clv_loyalty::expiries(&program, shop.timezone, &ledger, now);
        let rows: Vec<(String, Entry)> = due.into_iter().map(|e| (customer.clone(), e)).collect();
        insert(&mut tx, shop.id, &rows).await?;
        tx.commit().await?;
        written += rows.len() as u64;
    }
    Ok(written)
}

/// How often the server writes the expiry rows due (and once when it starts).
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Write the expiry rows due in every shop with expiry, and settle the referrals due, every
/// `period`, until the task is dropped. Several processes may sweep one database: an expiry row's key admits it once.
pub async fn expire_every(state: crate::api::AppState, period: std::time::Duration) {
    let mut ticks = tokio::time::interval(period);
    loop {
        ticks.tick().await;
        let Ok(shops) = crate::shops::all(&state.store).await else {
            continue;
        };
        for id in shops {
            let outcome = match state.shop(id).await {
                Ok(shop) => expire(&state.store, &shop, crate::store::now()).await,
                Err(e) => Err(e),
            };
            match crate::referrals::settle_due(&state.store, id, crate::store::now()).await {
                Ok((0, 0)) => {}
                Ok((paid, refused)) => {
                    tracing::info!(shop = id, paid, refused, "referrals settled")
                }
                Err(e) if e.status == StatusCode::NOT_FOUND => {}
                Err(e) => tracing::warn!(shop = id, error = e.message, "referral sweep"),
            }
            match outcome {
                Ok(0) => {}
                Ok(rows) => tracing::info!(shop = id, rows, "loyalty: points expired"),
                // No program: nothing to expire.
                Err(e) if e.status == StatusCode::NOT_FOUND => {}
                Err(e) => tracing::warn!(shop = id, error = e.message, "loyalty expiry sweep"),
            }
        }
    }
}

/// Members (customers with a ledger row) or the others: how many, their orders a customer
/// (cancelled orders left out) and their mean predicted CLV in the latest finished rescore.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Group {
    pub customers: i64,
    pub orders_per_customer: Option<f64>,
    pub mean_predicted_clv: Option<f64>,
}

/// The program's economics, as `GET /api/v1/loyalty/liability` shows them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Economics {
    #[schema(value_type = Object)]
    pub liability: clv_loyalty::Liability,
    #[schema(value_type = Object)]
    pub points: clv_loyalty::Balance,
    pub members: Group,
    pub others: Group,
}

/// What `shop`'s program owes at `now`, what it has cost, and its members against the others.
pub async fn economics(store: &crate::Store, shop: i64, now: i64) -> Result<Economics, ApiError> {
    let program = program(store, shop).await?;
    let sums: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT kind, CASE WHEN available_at <= $2 THEN 1 ELSE 0 END, CAST(SUM(points) AS BIGINT) \
         FROM loyalty_ledger WHERE shop_id = $1 AND at <= $2 GROUP BY 1, 2",
    )
    .bind(shop)
    .bind(now)
    .fetch_all(&store.pool)
    .await?;
    let mut points = clv_loyalty::Balance::default();
    for (kind, spendable, sum) in sums {
        if let Some(kind) = clv_loyalty::Kind::parse(&kind) {
            points.add(kind, sum, spendable == 1);
        }
    }
    let issued: Vec<(String,)> =
        sqlx::query_as("SELECT reward FROM loyalty_rewards WHERE shop_id = $1")
            .bind(shop)
            .fetch_all(&store.pool)
            .await?;
    let issued: Vec<clv_loyalty::Reward> = issued
        .iter()
        .filter_map(|(r,)| serde_json::from_str(r).ok())
        .collect();
    let groups: Vec<(i64, i64, i64, Option<f64>)> = sqlx::query_as(
        "SELECT CASE WHEN m.customer_id IS NULL THEN 0 ELSE 1 END, COUNT(*), \
         CAST(COALESCE(SUM(n.orders), 0) AS BIGINT), AVG(p.predicted_clv) \
         FROM customers c \
         LEFT JOIN (SELECT DISTINCT customer_id FROM loyalty_ledger WHERE shop_id = $1) m ON m.customer_id = c.customer_id \
         LEFT JOIN (SELECT o.customer_id, COUNT(*) AS orders FROM orders o WHERE o.shop_id = $1 \
           AND NOT EXISTS (SELECT 1 FROM cancellations x WHERE x.shop_id = o.shop_id AND x.order_id = o.order_id) \
           GROUP BY o.customer_id) n ON n.customer_id = c.customer_id \
         LEFT JOIN predictions p ON p.shop_id = c.shop_id AND p.customer_id = c.customer_id \
           AND p.run_id = (SELECT MAX(id) FROM score_runs WHERE shop_id = $1 AND status = 'done') \
         WHERE c.shop_id = $1 GROUP BY 1",
    )
    .bind(shop)
    .fetch_all(&store.pool)
    .await?;
    let group = |member: i64| {
        let found = groups.iter().find(|g| g.0 == member);
        let (customers, orders, clv) = found.map_or((0, 0, None), |g| (g.1, g.2, g.3));
        Group {
            customers,
            orders_per_customer: (customers > 0).then(|| orders as f64 / customers as f64),
            mean_predicted_clv: clv,
        }
    };
    Ok(Economics {
        liability: clv_loyalty::liability(&program, &points, &issued),
        points,
        members: group(1),
        others: group(0),
    })
}
