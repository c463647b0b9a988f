//! Order history imports (`POST /api/v1/imports`, `clv import`): a CSV/TSV export read by the
//! same clv-data reader and reject rules as the CLI, gathered into orders and refunds, and
//! written in one transaction, or not at all. Orders are keyed by their id, so importing the same
//! history again (or one that overlaps the events already sent) changes nothing. An import is a
//! backfill: it records history and triggers nothing.

use crate::error::ApiError;
use crate::events::{Effect, Event};
use crate::shops::Shop;
use axum::http::StatusCode;
use clv_data::{DateParser, OrderLine, ReadOptions, RejectLog};
use serde::Serialize;
use std::collections::HashMap;

/// An order gathered from its lines.
struct Gathered {
    order_id: String,
    customer_id: String,
    /// UTC seconds of its first line.
    placed_at: i64,
    total_minor: i64,
    /// Returned lines: (minor units, UTC seconds).
    refunds: Vec<(i64, i64)>,
    /// Its product lines, when the export has a SKU column.
    items: Vec<crate::events::Item>,
}

/// Orders in one import from which the tables' statistics are refreshed.
const ANALYZE_AFTER: u64 = 10_000;

/// A rejected row, as the import answers it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct RejectedRow {
    pub line: u64,
    pub column: String,
    pub value: String,
    pub reason: String,
}

/// What an import read and wrote.
#[derive(Debug, Serialize, Default, utoipa::ToSchema)]
pub struct ImportReport {
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Rejections by reason code.
    pub rejected_by_reason: HashMap<String, u64>,
    /// The first rejected rows, with what to do about them.
    pub examples: Vec<RejectedRow>,
    pub orders: u64,
    pub refunds: u64,
}

impl ImportReport {
    /// For a terminal: each rejected example as `source:line: …`, then what was imported from
    /// `source` into `shop`.
    pub fn lines(&self, source: &str, shop: &str) -> Vec<String> {
        let examples = self.examples.iter().map(|r| {
            format!(
                "{source}:{}: column `{}` value `{}`: {}",
                r.line, r.column, r.value, r.reason
            )
        });
        let total = format!(
            "imported {} orders ({} refunds) into shop `{shop}` from {source}: {} rows, {} accepted, {} rejected",
            self.orders, self.refunds, self.rows, self.accepted, self.rejected
        );
        examples.chain(std::iter::once(total)).collect()
    }
}

/// How a file is read; the shop's time zone reads its naive timestamps.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub read: ReadOptions,
    /// strftime format of the dates when they are not ISO 8601 or yyyymmdd.
    pub date_format: Option<String>,
    /// Refuse the import at the first bad row (else bad rows are skipped and reported).
    pub strict: bool,
}

fn refused(message: String) -> ApiError {
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "import_refused", message)
}

/// Read `input` (named `name` in messages) into orders of `shop`.
fn gather(
    shop: &Shop,
    name: &str,
    input: &[u8],
    options: &ImportOptions,
) -> Result<(Vec<Gathered>, ImportReport), ApiError> {
    let dates = DateParser::new(options.date_format.as_deref(), shop.timezone.name())
        .map_err(|e| ApiError::invalid("date_format", e.to_string()))?;
    let mut rejects = RejectLog::new(options.strict);
    let digits = shop.minor_digits();
    let scale = 10f64.powi(digits as i32);
    let (mut orders, mut index) = (Vec::<Gathered>::new(), HashMap::<String, usize>::new());
    // Lines without an order id each stand for an order: customer, time and how many such lines
    // came before make a stable id, so a re-import finds the same orders.
    let mut seen_lines = HashMap::<(Vec<u8>, i64), u32>::new();
    let mut problems = Vec::<String>::new();
    let mut sink = |line: &OrderLine<'_>| {
        let customer = String::from_utf8_lossy(line.customer).into_owned();
        // PostgreSQL's text cannot hold a NUL, so neither database takes one; ids are as long
        // as events may send them (an index entry has a size limit).
        let ids = [Some(line.customer), line.order];
        let bad = |id: &[u8]| id.contains(&0) || id.len() > crate::events::MAX_ID;
        if ids.into_iter().flatten().any(bad) {
            if problems.len() < 5 {
                let shown: String = customer.chars().take(40).collect();
                problems.push(format!(
                    "customer {}: a customer or order id with a NUL character (\\0) or longer than {} bytes: fix it in the export",
                    shown.escape_debug(),
                    crate::events::MAX_ID
                ));
            }
            return;
        }
        let utc = dates.local_to_utc(line.time);
        let amount = line.value.abs() * scale;
        let minor = amount.round();
        if (amount - minor).abs() > 1e-6 * amount.max(1.0) {
            if problems.len() < 5 {
                problems.push(format!(
                    "customer {customer}: amount {} has more decimals than {digits}",
                    line.value
                ));
            }
            return;
        }
        let order_id = match line.order {
            Some(o) => String::from_utf8_lossy(o).into_owned(),
            None if line.is_return() => {
                if problems.len() < 5 {
                    problems.push(format!(
                        "customer {customer}: a return ({}) without an order id: add the order column (order_col) so returns net into their order",
                        line.value
                    ));
                }
                return;
            }
            None => {
                let k = seen_lines
                    .entry((line.customer.to_vec(), line.time))
                    .or_insert(0);
                *k += 1;
                format!(
                    "line:{customer}:{}:{k}",
                    chrono::DateTime::from_timestamp(utc, 0)
                        .map_or(utc.to_string(), |d| d.format("%Y%m%dT%H%M%S").to_string())
                )
            }
        };
        let at = *index.entry(order_id.clone()).or_insert_with(|| {
            orders.push(Gathered {
                order_id,
                customer_id: customer,
                placed_at: utc,
                total_minor: 0,
                refunds: Vec::new(),
                items: Vec::new(),
            });
            orders.len() - 1
        });
        let order = &mut orders[at];
        if line.is_return() {
            order.refunds.push((minor as i64, utc));
        } else {
            order.total_minor += minor as i64;
            order.placed_at = order.placed_at.min(utc);
            if let Some(sku) = line.sku {
                order.items.push(crate::events::Item {
                    sku: String::from_utf8_lossy(sku).into_owned(),
                    quantity: line.quantity,
                    amount_minor: minor as i64,
                });
            }
        }
    };
    let read = clv_data::read_delimited_from(
        name,
        input,
        &options.read,
        &dates,
        &mut rejects,
        &mut |_| {},
        &mut sink,
    );
    let read = read.map_err(|e| refused(e.to_string()))?;
    if !problems.is_empty() {
        return Err(refused(format!(
            "nothing was imported: {}",
            problems.join("; ")
        )));
    }
    let report = ImportReport {
        rows: read.rows,
        accepted: read.accepted,
        rejected: read.rejected,
        rejected_by_reason: rejects
            .counts()
            .iter()
            .map(|(r, n)| (r.code().to_string(), *n))
            .collect(),
        examples: rejects
            .examples()
            .iter()
            .map(|r| RejectedRow {
                line: r.line,
                column: r.column.clone(),
                value: r.value.clone(),
                reason: format!("{} ({})", r.reason, r.reason.advice()),
            })
            .collect(),
        orders: orders.len() as u64,
        refunds: orders.iter().map(|o| o.refunds.len() as u64).sum(),
    };
    Ok((orders, report))
}

/// Import `input` into `shop`: all of it, or nothing and why.
pub async fn import(
    pool: &sqlx::AnyPool,
    shop: &Shop,
    name: String,
    input: Vec<u8>,
    options: ImportOptions,
) -> Result<ImportReport, ApiError> {
    let for_reading = shop.clone();
    let gathered =
        tokio::task::spawn_blocking(move || gather(&for_reading, &name, &input, &options))
            .await
            .map_err(|e| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "import", e.to_string())
            })?;
    let (orders, report) = gathered?;
    let mut effects = Vec::with_capacity(orders.len());
    for o in orders {
        for (k, (amount_minor, at)) in o.refunds.iter().enumerate() {
            let refund_id = Some(format!("import:{}:{}", o.order_id, k + 1));
            let effect = Effect::Refund {
                order_id: o.order_id.clone(),
                amount_minor: *amount_minor,
                refund_id,
            };
            effects.push(Event {
                message_id: String::new(),
                kind: String::new(),
                at: *at,
                effect,
            });
        }
        // An exported order's version is its own time: a newer event about it wins.
        let effect = Effect::Order {
            order_id: o.order_id,
            customer_id: o.customer_id,
            placed_at: o.placed_at,
            total_minor: o.total_minor,
            items: o.items,
        };
        effects.push(Event {
            message_id: String::new(),
            kind: String::new(),
            at: o.placed_at,
            effect,
        });
    }
    let mut tx = pool.begin().await?;
    let effects: Vec<&Event> = effects.iter().collect();
    crate::events::write_effects(&mut tx, shop.id, &effects, crate::events::IMPORT).await?;
    tx.commit().await?;
    // After a large backfill the planners' statistics describe the empty tables of before.
    if report.orders >= ANALYZE_AFTER {
        for table in ["orders", "refunds", "order_lines", "customers"] {
            let analyzed = sqlx::query(sqlx::AssertSqlSafe(format!("ANALYZE {table}")))
                .execute(pool)
                .await;
            if let Err(e) = analyzed {
                tracing::warn!(error = %e, table, "refreshing statistics after an import");
            }
        }
    }
    tracing::info!(
        shop = shop.id,
        orders = report.orders,
        rejected = report.rejected,
        "imported"
    );
    Ok(report)
}
