//! Predictions kept fresh: a rescore reads a shop's stored orders, refunds and cancellations
//! into the same ledger a file goes through, runs the valuation crate on them, and stores every
//! customer's predictions with the run's model and diagnostics. The run before is kept, so a
//! change (P(alive) falling, a VIP at risk) can be seen by comparing the two.

use crate::api::AppState;
use crate::error::ApiError;
use crate::money::to_major;
use crate::shops::Shop;
use crate::store::Native;
use clv_data::time::{date_to_local, DAY};
use clv_data::{DateParser, OrderLine, Period, SerialFeed};
use clv_score::ValuationConfig;
use clv_summary::{Histories, Ledger, LedgerOptions};
use serde::Serialize;
use sqlx::AnyPool;

/// A finished run, as `POST /api/v1/rescore` answers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Run {
    pub run_id: i64,
    /// The last day (shop-local, inclusive) the history was read to.
    pub as_of: String,
    /// done, or insufficient (too little history to fit: `detail` says why).
    pub status: String,
    pub customers: u64,
    /// The models and settings (done), or why there are no predictions (insufficient).
    pub detail: String,
}

/// One stored line: an order (positive) or a refund (negative) of a customer, borrowed from the
/// database's row.
struct Line<'r> {
    customer: &'r str,
    order: &'r str,
    utc: i64,
    minor: i64,
    refund: bool,
}

const ORDER_LINES: &str = concat!(
    "SELECT o.customer_id, o.order_id, o.placed_at, o.total_minor FROM orders o WHERE o.shop_id = $1 AND ",
    crate::store::live!()
);
const REFUND_LINES: &str = concat!(
    "SELECT o.customer_id, r.order_id, r.refunded_at, r.amount_minor FROM refunds r \
     JOIN orders o ON o.shop_id = r.shop_id AND o.order_id = r.order_id WHERE r.shop_id = $1 AND ",
    crate::store::live!()
);

/// The statements a read runs: the orders, then the refunds (when the shop has any), each with
/// whether its lines are refunds.
fn line_queries(refunds: bool) -> impl Iterator<Item = (&'static str, bool)> {
    [(ORDER_LINES, false), (REFUND_LINES, true)]
        .into_iter()
        .filter(move |&(_, refund)| refunds || !refund)
}

/// Hand every live order of `shop`, then every refund of one (when `refunds`), to `push` as the
/// database returns them (2.3 M rows are never held); returns how many there were. Runs on a
/// blocking thread: SQLite is read there, PostgreSQL through `database`.
fn each_line(
    native: &Native,
    database: &tokio::runtime::Handle,
    shop: i64,
    refunds: bool,
    push: &mut dyn FnMut(Line<'_>),
) -> Result<u64, ApiError> {
    let mut count = 0u64;
    match native {
        Native::Sqlite(path) => {
            use rusqlite::types::{FromSqlError, Type};
            let mut db = rusqlite::Connection::open_with_flags(
                path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            db.busy_timeout(std::time::Duration::from_secs(10))?;
            db.pragma_update(None, "cache_size", -65536)?;
            // One read transaction: the orders and the refunds are of the same moment.
            let snapshot = db.transaction()?;
            for (sql, refund) in line_queries(refunds) {
                let mut statement = snapshot.prepare(sql)?;
                let mut rows = statement.query([shop])?;
                while let Some(row) = rows.next()? {
                    let text = |i| {
                        (row.get_ref(i)?.as_str()).map_err(|e: FromSqlError| {
                            rusqlite::Error::FromSqlConversionFailure(i, Type::Text, e.into())
                        })
                    };
                    push(Line {
                        customer: text(0)?,
                        order: text(1)?,
                        utc: row.get(2)?,
                        minor: row.get(3)?,
                        refund,
                    });
                    count += 1;
                }
            }
        }
        Native::Postgres(pool) => database.block_on(async {
            use futures_util::TryStreamExt;
            use sqlx::Row;
            let mut snapshot = pool.begin().await?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *snapshot)
                .await?;
            for (sql, refund) in line_queries(refunds) {
                let mut rows = sqlx::query(sql).bind(shop).fetch(&mut *snapshot);
                while let Some(row) = rows.try_next().await? {
                    push(Line {
                        customer: row.try_get(0)?,
                        order: row.try_get(1)?,
                        utc: row.try_get(2)?,
                        minor: row.try_get(3)?,
                        refund,
                    });
                    count += 1;
                }
            }
            Ok::<_, sqlx::Error>(())
        })?,
    }
    Ok(count)
}

/// One stored product line of a live order: customer, order, UTC time, sku, quantity, amount.
type ItemRow = (String, String, i64, String, f64, i64);

async fn items(pool: &AnyPool, shop: i64) -> Result<Vec<ItemRow>, sqlx::Error> {
    if !crate::store::has_rows(pool, "order_lines", shop).await? {
        return Ok(Vec::new());
    }
    sqlx::query_as(concat!(
        "SELECT o.customer_id, o.order_id, o.placed_at, l.sku, l.quantity, l.amount_minor \
         FROM order_lines l JOIN orders o ON o.shop_id = l.shop_id AND o.order_id = l.order_id \
         WHERE l.shop_id = $1 AND ",
        crate::store::live!(),
        " ORDER BY o.customer_id, o.placed_at, l.order_id, l.line_no"
    ))
    .bind(shop)
    .fetch_all(pool)
    .await
}

/// Each product's repeat-purchase cycle, the reminders due and the products bought together, as
/// `clv replenish` and `clv cross-sell` compute them with their defaults, up to the end of
/// `as_of`; none without product lines.
fn products(
    shop: &Shop,
    items: &[ItemRow],
    as_of: chrono::NaiveDate,
    threads: usize,
) -> Option<String> {
    use clv_report::view as defaults;
    use clv_segments::products::ProductLog;
    use clv_segments::{basket, replenish, tables};
    if items.is_empty() {
        return None;
    }
    let zone = DateParser::new(None, shop.timezone.name()).ok()?;
    let end = date_to_local(as_of) + DAY - 1;
    // With order ids (baskets need them; cycles count purchase days either way, as the report
    // computes both from one log).
    let mut log = ProductLog::new(Some(end), true);
    let digits = shop.minor_digits();
    for (customer, order, utc, sku, quantity, minor) in items {
        log.push(&OrderLine {
            customer: customer.as_bytes(),
            time: zone.utc_to_local(*utc),
            value: to_major(*minor, digits),
            order: Some(order.as_bytes()),
            sku: Some(sku.as_bytes()),
            description: None,
            quantity: *quantity,
        });
    }
    if log.lines.is_empty() {
        return None;
    }
    log.sort_ids();
    let plan = log.replenishment(replenish::PlanOptions {
        as_of_day: end.div_euclid(DAY) as i32,
        window_days: defaults::REMINDER_WINDOW_DAYS,
        lead_days: defaults::REMINDER_LEAD_DAYS,
        min_repeats: defaults::MIN_REPEATS,
        per_customer: defaults::REMINDERS_PER_CUSTOMER,
    });
    let together = basket::together(&log, defaults::THRESHOLDS, threads);
    let rows = |t: clv_data::Table<'_>| -> Vec<serde_json::Value> {
        (t.json_rows().iter())
            .filter_map(|r| serde_json::from_str(r).ok())
            .collect()
    };
    let all = tables::by_evidence(&plan.cycles);
    Some(
        serde_json::json!({
            "cycles": rows(tables::cycle_table(&log, &plan.cycles, &all)),
            "reminders": rows(tables::reminder_table(&log, &plan.cycles, &plan.reminders)),
            "rules": rows(tables::rules_table(&log, &together.rules)),
            "baskets": together.baskets.len(),
        })
        .to_string(),
    )
}

/// The customers' histories up to the end of `as_of` in the shop's zone, from the lines `read`
/// hands to the function it is given.
fn histories<E>(
    shop: &Shop,
    as_of: chrono::NaiveDate,
    threads: usize,
    read: impl FnOnce(&mut dyn FnMut(Line<'_>)) -> Result<u64, E>,
) -> Result<(Result<Histories, String>, u64), E> {
    let zone = match DateParser::new(None, shop.timezone.name()) {
        Ok(zone) => zone,
        Err(e) => return Ok((Err(e.to_string()), 0)),
    };
    let mut ledger = Ledger::new(LedgerOptions {
        period: Period::Day,
        observation_end: Some(date_to_local(as_of) + DAY - 1),
        calibration_end: None,
        threads,
    });
    let digits = shop.minor_digits();
    let mut feed = SerialFeed::new(&mut ledger);
    let lines = read(&mut |l: Line<'_>| {
        let amount = to_major(l.minor, digits);
        feed.push(&OrderLine {
            customer: l.customer.as_bytes(),
            time: zone.utc_to_local(l.utc),
            // A refund is a negative line of its order, as in an exported file.
            value: if l.refund { -amount } else { amount },
            order: Some(l.order.as_bytes()),
            sku: None,
            description: None,
            quantity: if l.refund { -1.0 } else { 1.0 },
        });
    })?;
    drop(feed);
    let histories = Histories::usable(ledger.finish()).map_err(|e| e.to_string());
    Ok((histories, lines))
}

/// One customer's stored prediction: the columns filters use, and every other `clv score`
/// column's value as one JSON array (the run's `score_columns` names them all, in order).
struct Prediction {
    customer_id: String,
    p_alive: f64,
    expected_purchases: f64,
    predicted_clv: Option<f64>,
    segment: String,
    tier: Option<String>,
    /// The customer's place in the run's pages of scores.
    score_row: i64,
}

/// Consecutive customers' `scores` arrays, a line each, compressed together: the page of a run
/// that starts at row `first_row`.
struct Page {
    first_row: i64,
    scores: Vec<u8>,
}

/// What the scoring hands the writer at a time.
struct Chunk {
    predictions: Vec<Prediction>,
    pages: Vec<Page>,
}

/// Customers a page of scores holds: 1,000 arrays compress ~3.6x (250: ~3.2x; one alone hardly
/// at all). A profile decompresses one page: sequential profile reads (PostgreSQL, 1 M
/// customers) took 1.3–1.4 ms with pages of 1,000 and of 250 alike, against 0.6–0.9 ms from a
/// row's own array.
const PAGE_ROWS: usize = 1_000;

/// zstd's fastest level: on these pages it compresses as well as the default (3.57 against 3.79
/// MB for 50 pages of 1,000 rows of the 1 M simulated shop) in less time.
const PAGE_LEVEL: i32 = 1;

/// `arrays` (one customer's `scores` each) as one compressed page.
fn page(arrays: &[String]) -> Result<Vec<u8>, String> {
    let text = arrays.join("\n");
    zstd::bulk::compress(text.as_bytes(), PAGE_LEVEL)
        .map_err(|e| format!("compressing scores: {e}"))
}

/// Row `slot` of a page of scores, if the page has it (only that line is checked as text).
pub fn page_row(page: &[u8], slot: usize) -> Option<String> {
    let text = zstd::decode_all(page).ok()?;
    let line = text.split(|&b| b == b'\n').nth(slot)?;
    String::from_utf8(line.to_vec()).ok()
}

/// `clv score` columns a prediction stores in columns of their own, and so leaves out of its
/// `scores` array (254 bytes a row on average instead of about 300 at 1 M simulated customers).
/// `api::profile` puts them back in their place.
pub const TYPED_SCORES: [&str; 4] = [
    "customer_id",
    "p_alive",
    "expected_purchases",
    "predicted_clv",
];

/// Value tiers a rescore assigns: the top 1%, 5% and 20% by predicted CLV, then the rest (as
/// `clv segments` does by default).
pub const TIER_PERCENTS: [f64; 3] = [1.0, 5.0, 20.0];

/// How long ago "retention" looks: this window against the one before it.
const RETENTION_WINDOW_DAYS: u32 = 90;

/// The shop metrics, cohorts and monthly activity of `histories`, as stored with a run and
/// shown by `GET /api/v1/metrics` and the dashboard.
fn metrics(histories: &Histories) -> String {
    let metrics = clv_summary::shop_metrics(
        histories,
        clv_summary::MetricsOptions {
            window_days: RETENTION_WINDOW_DAYS,
            cac: None,
        },
    );
    serde_json::json!({ "metrics": metrics, "months": clv_summary::monthly(histories) }).to_string()
}

/// Customers per chunk handed from scoring to the writer: scoring the next chunk overlaps
/// writing this one, and memory holds two chunks, not every customer's row.
const CHUNK: usize = 5_000;

/// Fewer repeat buyers than this and the purchase models cannot be told apart from noise.
pub const MIN_REPEAT_CUSTOMERS: u64 = 20;

/// Why `histories` are too little to fit, if they are (as Klaviyo says why its predictions are
/// blank, rather than showing numbers from a fit that means nothing).
pub fn insufficient(histories: &Histories) -> Option<String> {
    let repeat = histories.repeat_customers();
    (repeat < MIN_REPEAT_CUSTOMERS).then(|| {
        format!(
            "only {repeat} of {} customers have ordered more than once; predictions need at least \
             {MIN_REPEAT_CUSTOMERS} repeat customers (import more history, or wait for more orders)",
            histories.len()
        )
    })
}

/// Score `histories` and send the predictions chunk by chunk; returns the run's description.
fn score(
    histories: &Histories,
    threads: usize,
    out: &tokio::sync::mpsc::Sender<Chunk>,
    columns: &mut String,
) -> Result<String, String> {
    if let Some(why) = insufficient(histories) {
        return Err(why);
    }
    let config = ValuationConfig {
        threads,
        ..Default::default()
    };
    let at = std::time::Instant::now();
    let valuation = clv_score::value(histories, &config).map_err(|e| e.to_string())?;
    tracing::debug!(elapsed = ?at.elapsed(), "rescore: fitted");
    let rules = clv_segments::rfm::default_rules();
    let rfm = clv_segments::valued::rfm(histories, &rules, threads);
    // Tiers rank every customer, so every customer is scored (on every thread) before the
    // first chunk is written; the chunks are slices of these scores.
    let all = valuation.scores(0..valuation.len());
    let cutoffs = TIER_PERCENTS.map(|p| p / 100.0);
    let tiers = match &all.predicted_clv.value {
        clv if clv.is_empty() => Vec::new(),
        clv => clv_segments::tiers::tiers(clv, &cutoffs),
    };
    tracing::debug!(elapsed = ?at.elapsed(), "rescore: segments and tiers");
    let mut detail = valuation.describe();
    for w in valuation.fits.warnings() {
        detail.push_str(&format!("\n{w}"));
    }
    for start in (0..valuation.len()).step_by(CHUNK) {
        let rows = start..(start + CHUNK).min(valuation.len());
        let table = valuation.table_of(rows.clone(), all.slice(rows));
        // The typed columns come from the same table as the JSON: the customers are scored once.
        let floats = |name| match table.column(name) {
            Some(clv_data::Values::Float(v)) => Some(v),
            _ => None,
        };
        let (Some(p_alive), Some(expected)) = (floats("p_alive"), floats("expected_purchases"))
        else {
            return Err("the scores have no p_alive or expected_purchases column".into());
        };
        let clv = floats("predicted_clv");
        if clv.is_none() && table.column("predicted_clv").is_some() {
            return Err("the scores' predicted_clv column is not a number column".into());
        }
        let Some(clv_data::Values::Text(ids)) = table.column("customer_id") else {
            return Err("the scores have no customer_id column".into());
        };
        if start == 0 {
            *columns = serde_json::to_string(&table.names()).unwrap_or_default();
        }
        let arrays = table.json_value_rows_except(&TYPED_SCORES);
        let pages = (arrays.chunks(PAGE_ROWS).enumerate())
            .map(|(k, rows)| {
                Ok(Page {
                    first_row: (start + k * PAGE_ROWS) as i64,
                    scores: page(rows)?,
                })
            })
            .collect::<Result<Vec<Page>, String>>()?;
        let predictions: Vec<Prediction> = (ids.iter().enumerate())
            .map(|(i, id)| Prediction {
                customer_id: id.to_string(),
                p_alive: p_alive[i],
                expected_purchases: expected[i],
                predicted_clv: clv.map(|v| v[i]),
                segment: rules[rfm.segment[start + i]].segment.clone(),
                tier: tiers
                    .get(start + i)
                    .map(|&k| clv_segments::tiers::tier_name(&cutoffs, k)),
                score_row: (start + i) as i64,
            })
            .collect();
        let chunk = Chunk { predictions, pages };
        if out.blocking_send(chunk).is_err() {
            return Err("the writer stopped".into());
        }
    }
    Ok(detail)
}

/// Refit and rescore `shop` from its stored history up to `as_of` (default: today in the shop's zone).
pub async fn rescore(
    state: &AppState,
    shop: &Shop,
    as_of: Option<chrono::NaiveDate>,
) -> Result<Run, ApiError> {
    let writer = &state.store.writer;
    let as_of = as_of.unwrap_or_else(|| {
        chrono::Utc::now()
            .with_timezone(&shop.timezone)
            .date_naive()
    });
    let now = crate::store::now();
    // A run left `running` past the lease belongs to a process that died: it failed.
    sqlx::query("UPDATE score_runs SET status = 'failed', detail = 'abandoned (its process stopped)' WHERE shop_id = $1 AND status = 'running' AND started_at < $2")
        .bind(shop.id)
        .bind(now - LEASE.as_secs() as i64)
        .execute(writer)
        .await?;
    // The partial unique index admits one running rescore per shop.
    let inserted = sqlx::query_as::<_, (i64,)>(
        "INSERT INTO score_runs (shop_id, as_of, started_at, status) VALUES ($1, $2, $3, 'running') RETURNING id",
    )
    .bind(shop.id)
    .bind(as_of.to_string())
    .bind(now)
    .fetch_one(writer)
    .await;
    let run_id = match inserted {
        Ok((id,)) => id,
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
            return Err(ApiError::new(
                axum::http::StatusCode::CONFLICT,
                "rescore_running",
                "a rescore of this shop is running: its result will be in GET /api/v1/shop",
            ))
        }
        Err(e) => return Err(e.into()),
    };
    // On SQLite the WAL is not copied into the database file while the predictions go in: a
    // million rows are ~400 MB, and every commit past 1,000 pages would copy them, doubling what
    // the rescore writes (rescores of 1 M customers went from 9.3–11.6 s to 5.9–8.0 s). The copy
    // is made after the answer, without holding up the writer.
    let sqlite = state.store.backend == crate::store::Backend::Sqlite;
    if sqlite {
        sqlx::query("PRAGMA wal_autocheckpoint = 0")
            .execute(writer)
            .await?;
    }
    let outcome = run(state, shop, as_of, run_id).await;
    if outcome.is_err() {
        let failed = sqlx::query("UPDATE score_runs SET status = 'failed', finished_at = $2 WHERE id = $1 AND status = 'running'")
            .bind(run_id)
            .bind(crate::store::now())
            .execute(writer)
            .await;
        if let Err(e) = failed {
            tracing::warn!(run_id, error = %e, "marking a rescore failed");
        }
    }
    let done = matches!(&outcome, Ok(run) if run.status == "done");
    let (store, shop_id) = (state.store.clone(), shop.id);
    tokio::spawn(async move { after_run(&store, shop_id, run_id, sqlite, done).await });
    outcome
}

/// A rescore's work after its answer: the WAL copied into the database (SQLite) and
/// checkpoints back to normal, then (after a finished run) the predictions older than the run
/// before it deleted, a batch a transaction, so ingest is never held up behind one big delete
/// (readers never see runs older than the one before the last).
async fn after_run(store: &crate::Store, shop: i64, run_id: i64, sqlite: bool, done: bool) {
    let at = std::time::Instant::now();
    if sqlite {
        match store.native.checkpoint().await {
            Ok(frames) => tracing::debug!(?frames, elapsed = ?at.elapsed(), "rescore: WAL copied"),
            Err(e) => tracing::warn!(error = %e, "copying the WAL into the database"),
        }
        let restored = sqlx::query("PRAGMA wal_autocheckpoint = 1000")
            .execute(&store.writer)
            .await;
        if let Err(e) = restored {
            tracing::warn!(error = %e, "turning SQLite's checkpoints back on");
        }
    }
    if done {
        match forget_old_runs(store, shop, run_id).await {
            Ok(deleted) => {
                tracing::debug!(shop, deleted, elapsed = ?at.elapsed(), "rescore: old predictions deleted")
            }
            Err(e) => {
                tracing::warn!(shop, error = %e, "deleting old predictions (the next rescore retries)")
            }
        }
    }
}

/// The body of run `run_id`: read, score, write, mark done.
async fn run(
    state: &AppState,
    shop: &Shop,
    as_of: chrono::NaiveDate,
    run_id: i64,
) -> Result<Run, ApiError> {
    let (pool, writer) = (&state.store.pool, &state.store.writer);
    let started = std::time::Instant::now();
    // Most shops have no refunds or lines: a join over every order is skipped then (a planner
    // with stale statistics may not see that it is empty: 7 s at 2.3 M orders).
    let refunds = crate::store::has_rows(pool, "refunds", shop.id).await?;
    let (threads, for_scoring) = (state.threads, shop.clone());
    let (native, shop_id) = (state.store.native.clone(), shop.id);
    let (sender, mut chunks) = tokio::sync::mpsc::channel(1);
    // The lines go into the ledger on this blocking thread as the database's own thread (SQLite)
    // or socket (PostgreSQL) delivers them, so reading and summarising overlap.
    let scoring = tokio::task::spawn_blocking(move || {
        let database = tokio::runtime::Handle::current();
        let read =
            |push: &mut dyn FnMut(Line<'_>)| each_line(&native, &database, shop_id, refunds, push);
        let (h, lines) = histories(&for_scoring, as_of, threads, read)?;
        tracing::info!(shop = shop_id, lines, elapsed = ?started.elapsed(), "rescore: read and summarised");
        let h = match h {
            Ok(h) => h,
            Err(why) => return Ok(Err((None, why))),
        };
        let metrics = metrics(&h);
        tracing::debug!(elapsed = ?started.elapsed(), "rescore: metrics");
        let mut columns = String::new();
        Ok::<_, ApiError>(match score(&h, threads, &sender, &mut columns) {
            Ok(detail) => Ok((metrics, columns, detail)),
            Err(why) => Err((Some(metrics), why)),
        })
    });
    let items = items(pool, shop.id).await?;
    let for_products = shop.clone();
    // Products are worked out beside the scoring.
    let products =
        tokio::task::spawn_blocking(move || products(&for_products, &items, as_of, threads));
    // Readers see a run's predictions only once it is marked done, so they appear whole or not
    // at all. On SQLite a chunk a transaction, so that ingest goes on between them; on
    // PostgreSQL (no single writer) one COPY of every chunk in one transaction.
    let mut customers = 0u64;
    let mut copy = match &state.store.native {
        // One statement, so one transaction: all or nothing (an error midway aborts it).
        Native::Postgres(pool) => {
            use sqlx::postgres::PgPoolCopyExt;
            Some(pool.copy_in_raw(COPY_PREDICTIONS).await?)
        }
        Native::Sqlite(_) => None,
    };
    while let Some(chunk) = chunks.recv().await {
        customers += chunk.predictions.len() as u64;
        // Pages are read only through a finished run's predictions: on PostgreSQL they go in
        // beside the COPY, on a connection of their own.
        let mut tx = writer.begin().await?;
        insert_pages(&mut tx, shop.id, run_id, &chunk.pages).await?;
        match &mut copy {
            Some(copy) => {
                tx.commit().await?;
                let text = copy_text(shop.id, run_id, &chunk.predictions);
                copy.send(text.as_bytes()).await?;
            }
            None => {
                insert_predictions(&mut tx, shop.id, run_id, &chunk.predictions).await?;
                tx.commit().await?;
            }
        }
    }
    if let Some(copy) = copy {
        copy.finish().await?;
    }
    let outcome = scoring.await.map_err(|e| {
        ApiError::new(
            axum::http::StatusCode::INTERNAL_SERVER_ERROR,
            "rescore",
            e.to_string(),
        )
    })??;
    let products = products.await.ok().flatten();
    let (status, metrics, columns, detail) = match outcome {
        Ok((metrics, columns, detail)) => ("done", Some(metrics), Some(columns), detail),
        Err((metrics, why)) => ("insufficient", metrics, None, why),
    };
    let run = Run {
        run_id,
        as_of: as_of.to_string(),
        status: status.into(),
        customers,
        detail,
    };
    tracing::debug!(elapsed = ?started.elapsed(), "rescore: predictions written");
    let mut tx = writer.begin().await?;
    sqlx::query("UPDATE score_runs SET status = $2, finished_at = $3, detail = $4, customers = $5, metrics = $6, products = $7, score_columns = $8 WHERE id = $1")
        .bind(run_id)
        .bind(&run.status)
        .bind(crate::store::now())
        .bind(&run.detail)
        .bind(run.customers as i64)
        .bind(metrics)
        .bind(products)
        .bind(columns)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    if status == "done" {
        // Customers whose P(alive) fell below a journey's threshold since the run before enter it.
        let previous: (Option<i64>,) = sqlx::query_as(
            "SELECT MAX(id) FROM score_runs WHERE shop_id = $1 AND status = 'done' AND id < $2",
        )
        .bind(shop.id)
        .bind(run_id)
        .fetch_one(&state.store.pool)
        .await?;
        // They enter when the prediction was made for: now, or the end of a past `as_of` day
        // (a rescore of history, or a simulation, enters them on its own calendar).
        let end_of_day = as_of.succ_opt().map(|d| d.and_time(chrono::NaiveTime::MIN));
        let end_of_day = end_of_day.map(|d| clv_journeys::local::instant(shop.timezone, d));
        let now = crate::store::now();
        let entered = end_of_day.map_or(now, |end| end.min(now));
        crate::journeys::on_rescore(&state.store, shop.id, previous.0, run_id, entered).await?;
    }
    tracing::info!(shop = shop.id, run_id, status = %run.status, customers = run.customers, elapsed = ?started.elapsed(), "rescored");
    Ok(run)
}

/// Predictions deleted per transaction when old runs are forgotten.
const FORGET_BATCH: i64 = 20_000;

/// Delete the predictions of `shop`'s runs before the one before `run_id` (this run and the one
/// before it stay, for `/changes`).
pub async fn forget_old_runs(
    store: &crate::Store,
    shop: i64,
    run_id: i64,
) -> Result<u64, sqlx::Error> {
    let keep: (i64,) = sqlx::query_as(
        "SELECT COALESCE(MAX(id), 0) FROM score_runs WHERE shop_id = $1 AND status = 'done' AND id < $2",
    )
    .bind(shop)
    .bind(run_id)
    .fetch_one(&store.pool)
    .await?;
    // A thousand customers a page: the pages go in one statement.
    sqlx::query("DELETE FROM prediction_pages WHERE shop_id = $1 AND run_id < $2")
        .bind(shop)
        .bind(keep.0)
        .execute(&store.writer)
        .await?;
    let mut total = 0;
    loop {
        let deleted = sqlx::query(
            "DELETE FROM predictions WHERE shop_id = $1 AND run_id < $2 AND customer_id IN \
             (SELECT customer_id FROM predictions WHERE shop_id = $1 AND run_id < $2 LIMIT $3)",
        )
        .bind(shop)
        .bind(keep.0)
        .bind(FORGET_BATCH)
        .execute(&store.writer)
        .await?
        .rows_affected();
        if deleted == 0 {
            return Ok(total);
        }
        total += deleted;
    }
}

/// `text` as a field of PostgreSQL's COPY text format: backslash, tab, newline and carriage
/// return escaped (any other byte stands for itself).
fn push_copy_text(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}

/// A number or NULL (`\N`) as a COPY field: Rust's shortest form that reads back as the same
/// double (no exponent, which PostgreSQL reads too); nothing infinite or NaN is stored.
fn push_copy_number(out: &mut String, value: Option<f64>) {
    match value.filter(|v| v.is_finite()) {
        Some(v) => out.push_str(&v.to_string()),
        None => out.push_str("\\N"),
    }
}

/// PostgreSQL: where a rescore's predictions go (through the native pool: no per-value
/// conversion, no statements of thousands of parameters to parse; with 500-row `INSERT`s the
/// write of 1,000,000 predictions took 11–13 s).
const COPY_PREDICTIONS: &str = "COPY predictions (shop_id, run_id, customer_id, p_alive, \
     expected_purchases, predicted_clv, segment, tier, scores, score_row) FROM STDIN";

/// `rows` as lines of [`COPY_PREDICTIONS`] (the text format).
fn copy_text(shop: i64, run_id: i64, rows: &[Prediction]) -> String {
    let mut text = String::with_capacity(rows.len() * 100);
    for p in rows {
        text.push_str(&format!("{shop}\t{run_id}\t"));
        push_copy_text(&mut text, &p.customer_id);
        for v in [Some(p.p_alive), Some(p.expected_purchases), p.predicted_clv] {
            text.push('\t');
            push_copy_number(&mut text, v);
        }
        text.push('\t');
        push_copy_text(&mut text, &p.segment);
        text.push('\t');
        match &p.tier {
            Some(tier) => push_copy_text(&mut text, tier),
            None => text.push_str("\\N"),
        }
        // The scores are in the pages: the row's array is empty.
        text.push_str(&format!("\t\t{}\n", p.score_row));
    }
    text
}

/// Rows per statement of a rescore's write on SQLite: each statement is a round trip to its
/// worker thread, and 1,000,000 rows in statements of 64 made 15,625 of them (alone, 500 rows
/// changed the write by less than the run-to-run noise: 5.0–5.9 s against 5.7 s).
const PREDICTIONS_PER_STATEMENT: usize = 500;

async fn insert_predictions(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    shop: i64,
    run_id: i64,
    rows: &[Prediction],
) -> Result<(), sqlx::Error> {
    for chunk in rows.chunks(PREDICTIONS_PER_STATEMENT) {
        let sql = crate::events::multi_row(
            tx,
            "predictions (shop_id, run_id, customer_id, p_alive, expected_purchases, predicted_clv, segment, tier, scores, score_row)",
            chunk.len(),
            10,
            "",
        );
        let mut insert = sqlx::query(sql);
        for p in chunk {
            insert = insert
                .bind(shop)
                .bind(run_id)
                .bind(&p.customer_id)
                .bind(p.p_alive)
                .bind(p.expected_purchases)
                .bind(p.predicted_clv)
                .bind(&p.segment)
                .bind(&p.tier)
                .bind("")
                .bind(p.score_row);
        }
        insert.execute(&mut **tx).await?;
    }
    Ok(())
}

async fn insert_pages(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    shop: i64,
    run_id: i64,
    pages: &[Page],
) -> Result<(), sqlx::Error> {
    if pages.is_empty() {
        return Ok(());
    }
    let head = "prediction_pages (shop_id, run_id, first_row, scores)";
    let sql = crate::events::multi_row(tx, head, pages.len(), 4, "");
    let mut insert = sqlx::query(sql);
    for p in pages {
        insert = insert
            .bind(shop)
            .bind(run_id)
            .bind(p.first_row)
            .bind(&p.scores);
    }
    insert.execute(&mut **tx).await?;
    Ok(())
}

/// How long a claimed scheduled rescore is its process's before another may take it over.
pub const LEASE: std::time::Duration = std::time::Duration::from_secs(15 * 60);

/// Claim slot `slot` of `shop`'s scheduled rescore for `owner`: true when this process is to run
/// it. The claim is a row under a unique key, so of several processes exactly one gets it.
async fn claim(state: &AppState, shop: i64, slot: i64, owner: &str) -> Result<bool, sqlx::Error> {
    let now = crate::store::now();
    let claimed: Option<(String,)> = sqlx::query_as(
        "INSERT INTO job_claims (shop_id, job, slot, owner, claimed_at) VALUES ($1, 'rescore', $2, $3, $4) \
         ON CONFLICT (shop_id, job, slot) DO UPDATE SET owner = excluded.owner, claimed_at = excluded.claimed_at \
         WHERE job_claims.finished_at IS NULL AND job_claims.claimed_at < $5 RETURNING owner",
    )
    .bind(shop)
    .bind(slot)
    .bind(owner)
    .bind(now)
    .bind(now - LEASE.as_secs() as i64)
    .fetch_optional(&state.store.writer)
    .await?;
    Ok(claimed.is_some_and(|(o,)| o == owner))
}

/// Rescore every shop once per `every` (the slot is the time divided by `every`), until the task
/// is dropped. Several processes on one database share the work: each slot of each shop is run
/// by the one that claims it.
pub async fn every(state: AppState, every: std::time::Duration) {
    let owner = format!("{}-{}", std::process::id(), crate::store::now());
    let period = every.as_secs_f64().max(1e-3);
    let check = (every / 4).clamp(
        std::time::Duration::from_millis(100),
        std::time::Duration::from_secs(60),
    );
    let mut ticks = tokio::time::interval(check);
    loop {
        ticks.tick().await;
        let slot = (crate::store::now_f64() / period).floor() as i64;
        let Ok(shops) = crate::shops::all(&state.store).await else {
            continue;
        };
        for id in shops {
            match claim(&state, id, slot, &owner).await {
                Ok(true) => {}
                Ok(false) => continue,
                Err(e) => {
                    tracing::warn!(shop = id, error = %e, "claiming a scheduled rescore");
                    continue;
                }
            }
            let outcome = match state.shop(id).await {
                Ok(shop) => rescore(&state, &shop, None).await.map(|_| ()),
                Err(e) => Err(e),
            };
            if let Err(e) = outcome {
                tracing::warn!(shop = id, error = e.message, "scheduled rescore");
            }
            let finished = sqlx::query(
                "UPDATE job_claims SET finished_at = $4 WHERE shop_id = $1 AND job = 'rescore' AND slot = $2 AND owner = $3",
            )
            .bind(id)
            .bind(slot)
            .bind(&owner)
            .bind(crate::store::now())
            .execute(&state.store.writer)
            .await;
            if let Err(e) = finished {
                tracing::warn!(shop = id, error = %e, "finishing a scheduled rescore");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields of PostgreSQL's COPY text format: (text or number, the field).
    #[test]
    fn copy_fields() {
        fn check(text: &str, expect: &str) {
            let mut out = String::new();
            super::push_copy_text(&mut out, text);
            assert_eq!(out, expect, "{text:?}");
        }
        check("c0140001", "c0140001");
        check("a\tb\nc\rd\\e", "a\\tb\\nc\\rd\\\\e");
        check("Müller \\N", "Müller \\\\N");
        let number = |v| {
            let mut out = String::new();
            super::push_copy_number(&mut out, v);
            out
        };
        for v in [0.1, 1e-7, 2.0f64.powi(60), 0.744081086286, -3.5] {
            assert_eq!(number(Some(v)).parse::<f64>().unwrap(), v);
        }
        for v in [None, Some(f64::NAN), Some(f64::INFINITY)] {
            assert_eq!(number(v), "\\N");
        }
    }

    #[test]
    fn a_page_gives_back_each_row_as_written() {
        let rows: Vec<String> = (0..PAGE_ROWS)
            .map(|i| match i % 3 {
                0 => format!("[{i},0.5,\"2025-07-18\"]"),
                1 => format!("[{i},null,\"line\\nbreak, \\\"quoted\\\" ü\"]"),
                _ => "[]".to_string(),
            })
            .collect();
        let page = page(&rows).unwrap();
        assert!(
            page.len() * 3 < rows.iter().map(|r| r.len() + 1).sum::<usize>(),
            "{} bytes",
            page.len()
        );
        for slot in [0, 1, 2, PAGE_ROWS / 2, PAGE_ROWS - 1] {
            assert_eq!(
                page_row(&page, slot).as_ref(),
                Some(&rows[slot]),
                "slot {slot}"
            );
        }
        assert_eq!(page_row(&page, PAGE_ROWS), None);
        assert_eq!(page_row(b"not zstd", 0), None);
    }
}
