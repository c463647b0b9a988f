//! The per-customer summary table with lifetimes' semantics and column names
//! (`frequency`, `recency`, `T`, `monetary_value`, and the `_holdout` columns), plus clv's own
//! `first_purchase`, `last_purchase`, `orders` and `revenue`.

use crate::ledger::{CustomerHistory, Histories, PurchasePeriod};
use clv_data::{Table, TimeUnit, Values};

/// How to express the summary.
#[derive(Debug, Clone, Copy)]
pub struct SummaryOptions {
    pub time_unit: TimeUnit,
    /// Count the first purchase in `monetary_value` (lifetimes' `include_first_transaction`).
    pub include_first: bool,
}

/// One customer's summary row.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    pub customer_id: String,
    /// Repeat purchase periods.
    pub frequency: u64,
    /// Time from first to last purchase period.
    pub recency: f64,
    /// Time from first purchase period to the end of the (calibration) window.
    pub t: f64,
    /// Mean net value of repeat purchase periods (0 without repeats), or of all periods with
    /// `include_first`.
    pub monetary_value: f64,
    pub first_purchase: i64,
    pub last_purchase: i64,
    pub orders: u64,
    /// Net revenue in the window: historic CLV.
    pub revenue: f64,
    pub holdout: Option<HoldoutRow>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HoldoutRow {
    pub frequency: u64,
    pub monetary_value: f64,
    pub duration: f64,
}

fn mean(periods: &[PurchasePeriod]) -> f64 {
    if periods.is_empty() {
        0.0
    } else {
        periods.iter().map(|p| p.value).sum::<f64>() / periods.len() as f64
    }
}

/// Summarise one customer. `histories` supplies the period and window ends.
pub fn summarise(c: &CustomerHistory, h: &Histories, options: SummaryOptions) -> SummaryRow {
    let unit = options.time_unit.seconds();
    let floor = |t: i64| h.period.floor(t);
    let periods = &c.main.periods;
    let first = floor(periods[0].time);
    let last = floor(periods[periods.len() - 1].time);
    let monetary_value = if options.include_first {
        mean(periods)
    } else {
        mean(&periods[1..])
    };
    let holdout = c.holdout.as_ref().map(|w| HoldoutRow {
        frequency: w.periods.len() as u64,
        monetary_value: mean(&w.periods),
        duration: (floor(h.observation_end) - floor(h.main_end())) as f64 / unit,
    });
    SummaryRow {
        customer_id: c.id.clone(),
        frequency: periods.len() as u64 - 1,
        recency: (last - first) as f64 / unit,
        t: (floor(h.main_end()) - first) as f64 / unit,
        monetary_value,
        first_purchase: first,
        last_purchase: last,
        orders: c.main.orders,
        revenue: c.main.revenue,
        holdout,
    }
}

/// Summarise every customer.
pub fn summary_rows(h: &Histories, options: SummaryOptions) -> Vec<SummaryRow> {
    h.customers
        .iter()
        .map(|c| summarise(c, h, options))
        .collect()
}

/// The summary as an output table.
pub fn summary_table(rows: &[SummaryRow]) -> Table {
    let col = |f: &dyn Fn(&SummaryRow) -> f64| Values::Float(rows.iter().map(f).collect());
    let int =
        |f: &dyn Fn(&SummaryRow) -> u64| Values::Int(rows.iter().map(|r| f(r) as i64).collect());
    let date = |f: &dyn Fn(&SummaryRow) -> i64| Values::Date(rows.iter().map(f).collect());
    let mut table = Table::new()
        .with(
            "customer_id",
            Values::Text(rows.iter().map(|r| r.customer_id.clone()).collect()),
        )
        .with("frequency", int(&|r| r.frequency))
        .with("recency", col(&|r| r.recency))
        .with("T", col(&|r| r.t))
        .with("monetary_value", col(&|r| r.monetary_value));
    if rows.first().is_some_and(|r| r.holdout.is_some()) {
        let hold = |r: &SummaryRow| {
            r.holdout
                .expect("every row has a holdout when the first does")
        };
        table = table
            .with("frequency_holdout", int(&|r| hold(r).frequency))
            .with("monetary_value_holdout", col(&|r| hold(r).monetary_value))
            .with("duration_holdout", col(&|r| hold(r).duration));
    }
    table
        .with("first_purchase", date(&|r| r.first_purchase))
        .with("last_purchase", date(&|r| r.last_purchase))
        .with("orders", int(&|r| r.orders))
        .with("revenue", col(&|r| r.revenue))
}
