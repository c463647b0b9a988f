//! The per-customer summary table with lifetimes' semantics and column names
//! (`frequency`, `recency`, `T`, `monetary_value`, and the `_holdout` columns), plus clv's own
//! `first_purchase`, `last_purchase`, `orders` and `revenue`.

use crate::ledger::{CustomerHistory, Histories, PurchasePeriod};
use clv_data::{ChunkedTable, Table, TimeUnit, Values};
use std::borrow::Cow;
use std::ops::Range;

/// How to express the summary.
#[derive(Debug, Clone, Copy)]
pub struct SummaryOptions {
    pub time_unit: TimeUnit,
    /// Count the first purchase in `monetary_value` (lifetimes' `include_first_transaction`).
    pub include_first: bool,
    /// Threads that fill long runs of rows (0 and 1: the calling thread).
    pub threads: usize,
}

/// One customer's summary row.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow<'a> {
    pub customer_id: &'a str,
    /// Repeat purchase periods.
    pub frequency: u64,
    /// Time from first to last purchase period.
    pub recency: f64,
    /// Time from first purchase period to the end of the (calibration) window.
    pub t: f64,
    /// Mean net value of repeat purchase periods (0 without repeats), or of all periods with
    /// `include_first`.
    pub monetary_value: f64,
    /// Start of the first and last purchase periods (shop-local seconds).
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

/// Summarise one customer of `h`.
pub fn summarise<'a>(
    c: &CustomerHistory<'a>,
    h: &Histories,
    options: SummaryOptions,
) -> SummaryRow<'a> {
    let unit = options.time_unit.seconds();
    let floor = |t: i64| h.period.floor(t);
    let periods = c.main.periods;
    let first = floor(periods[0].time);
    let last = floor(periods[periods.len() - 1].time);
    let monetary_value = if options.include_first {
        mean(periods)
    } else {
        mean(&periods[1..])
    };
    let holdout = c.holdout.as_ref().map(|w| HoldoutRow {
        frequency: w.periods.len() as u64,
        monetary_value: mean(w.periods),
        duration: (floor(h.observation_end) - floor(h.main_end())) as f64 / unit,
    });
    SummaryRow {
        customer_id: c.id,
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

/// Summarise one customer of `h` with lifetimes' arithmetic: times are counted in whole purchase
/// periods of `h` (so with monthly periods a month is a calendar month, not 30.44 days) and
/// divided by `periods_per_unit` (lifetimes' `freq_multiplier`).
pub fn summarise_in_periods<'a>(
    c: &CustomerHistory<'a>,
    h: &Histories,
    periods_per_unit: f64,
    include_first: bool,
) -> SummaryRow<'a> {
    let index = |t: i64| h.period.index(t);
    let between = |from: i64, to: i64| (index(to) - index(from)) as f64 / periods_per_unit;
    let options = SummaryOptions {
        time_unit: clv_data::TimeUnit::Day,
        include_first,
        threads: 1,
    };
    let mut row = summarise(c, h, options);
    row.recency = between(row.first_purchase, row.last_purchase);
    row.t = between(row.first_purchase, h.main_end());
    if let Some(holdout) = row.holdout.as_mut() {
        holdout.duration = between(h.main_end(), h.observation_end);
    }
    row
}

/// Summarise every customer.
pub fn summary_rows(h: &Histories, options: SummaryOptions) -> Vec<SummaryRow<'_>> {
    h.iter().map(|c| summarise(&c, h, options)).collect()
}

/// Mutable column slices for a run of rows, so threads can fill disjoint runs.
struct ColumnsMut<'c, 'h> {
    first_row: usize,
    ids: &'c mut [Cow<'h, str>],
    ints: [&'c mut [i64]; 3],
    floats: [&'c mut [f64]; 6],
    dates: [&'c mut [i64]; 2],
}

impl<'h> ColumnsMut<'_, 'h> {
    fn fill(self, h: &'h Histories, options: SummaryOptions) {
        let ColumnsMut {
            first_row,
            ids,
            ints,
            floats,
            dates,
        } = self;
        for (k, c) in h.range(first_row..first_row + ids.len()).enumerate() {
            let r = summarise(&c, h, options);
            ids[k] = Cow::Borrowed(r.customer_id);
            ints[0][k] = r.frequency as i64;
            ints[1][k] = r.orders as i64;
            floats[0][k] = r.recency;
            floats[1][k] = r.t;
            floats[2][k] = r.monetary_value;
            floats[3][k] = r.revenue;
            dates[0][k] = r.first_purchase;
            dates[1][k] = r.last_purchase;
            if let Some(x) = r.holdout {
                ints[2][k] = x.frequency as i64;
                floats[4][k] = x.monetary_value;
                floats[5][k] = x.duration;
            }
        }
    }
}

/// The next `len` elements of a column (empty for a column that is not there).
fn take<'c, T>(column: &mut &'c mut [T], len: usize) -> &'c mut [T] {
    let len = len.min(column.len());
    let (head, tail) = std::mem::take(column).split_at_mut(len);
    *column = tail;
    head
}

/// The summary as an output table, built column by column (on every core) without a row vector
/// in between.
pub fn summary_table(h: &Histories, options: SummaryOptions) -> Table<'_> {
    summary_run(h, options, 0..h.len())
}

/// The summary a run of rows at a time: CSV output is formatted straight from the histories.
pub fn summary_chunked(h: &Histories, options: SummaryOptions) -> ChunkedTable<'_> {
    ChunkedTable::new(h.len(), move |rows| summary_run(h, options, rows))
}

/// Rows `rows` of the summary (customers in id order) as a table.
fn summary_run(h: &Histories, options: SummaryOptions, rows: Range<usize>) -> Table<'_> {
    summary_columns(h, options, rows).into_table()
}

/// The summary's columns, one vector per field, for a run of customers.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryColumns<'h> {
    pub customer_id: Vec<Cow<'h, str>>,
    pub frequency: Vec<i64>,
    pub recency: Vec<f64>,
    pub t: Vec<f64>,
    pub monetary_value: Vec<f64>,
    pub first_purchase: Vec<i64>,
    pub last_purchase: Vec<i64>,
    pub orders: Vec<i64>,
    pub revenue: Vec<f64>,
    /// With a calibration cut; `None` without one.
    pub holdout: Option<HoldoutColumns>,
}

/// The holdout columns of [`SummaryColumns`].
#[derive(Debug, Clone, PartialEq)]
pub struct HoldoutColumns {
    pub frequency: Vec<i64>,
    pub monetary_value: Vec<f64>,
    pub duration: Vec<f64>,
}

impl<'h> SummaryColumns<'h> {
    /// The output table, in lifetimes' column order, then clv's own columns.
    pub fn into_table(self) -> Table<'h> {
        let mut table = Table::new()
            .with("customer_id", Values::Text(self.customer_id))
            .with("frequency", Values::Int(self.frequency))
            .with("recency", Values::Float(self.recency))
            .with("T", Values::Float(self.t))
            .with("monetary_value", Values::Float(self.monetary_value));
        if let Some(holdout) = self.holdout {
            table = table
                .with("frequency_holdout", Values::Int(holdout.frequency))
                .with(
                    "monetary_value_holdout",
                    Values::Float(holdout.monetary_value),
                )
                .with("duration_holdout", Values::Float(holdout.duration));
        }
        table
            .with("first_purchase", Values::Date(self.first_purchase))
            .with("last_purchase", Values::Date(self.last_purchase))
            .with("orders", Values::Int(self.orders))
            .with("revenue", Values::money(self.revenue))
    }
}

/// The summary columns of customers `rows` (in id order), filled on every core when the run is
/// long.
pub fn summary_columns(
    h: &Histories,
    options: SummaryOptions,
    rows: Range<usize>,
) -> SummaryColumns<'_> {
    let n = rows.len();
    let holdout_rows = if h.calibration_end.is_some() { n } else { 0 };
    let mut ids = vec![Cow::Borrowed(""); n];
    let mut ints: [Vec<i64>; 3] = [vec![0; n], vec![0; n], vec![0; holdout_rows]];
    let mut floats: [Vec<f64>; 6] =
        std::array::from_fn(|k| vec![0.0; if k < 4 { n } else { holdout_rows }]);
    let mut dates: [Vec<i64>; 2] = [vec![0; n], vec![0; n]];
    // Spawning threads costs more than filling a short run.
    const ROWS_PER_THREAD: usize = 1 << 16;
    let threads = options.threads.min(n / ROWS_PER_THREAD).max(1);
    let run = n.div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let mut ids_left = ids.as_mut_slice();
        let mut ints_left = ints.each_mut().map(|c| c.as_mut_slice());
        let mut floats_left = floats.each_mut().map(|c| c.as_mut_slice());
        let mut dates_left = dates.each_mut().map(|c| c.as_mut_slice());
        let mut done = 0;
        while done < n {
            let len = run.min(n - done);
            let columns = ColumnsMut {
                first_row: rows.start + done,
                ids: take(&mut ids_left, len),
                ints: ints_left.each_mut().map(|c| take(c, len)),
                floats: floats_left.each_mut().map(|c| take(c, len)),
                dates: dates_left.each_mut().map(|c| take(c, len)),
            };
            done += len;
            if done < n {
                scope.spawn(move || columns.fill(h, options));
            } else {
                columns.fill(h, options);
            }
        }
    });
    let [frequency, orders, frequency_holdout] = ints;
    let [recency, t, monetary_value, revenue, monetary_holdout, duration_holdout] = floats;
    let [first_purchase, last_purchase] = dates;
    SummaryColumns {
        customer_id: ids,
        frequency,
        recency,
        t,
        monetary_value,
        first_purchase,
        last_purchase,
        orders,
        revenue,
        holdout: h.calibration_end.map(|_| HoldoutColumns {
            frequency: frequency_holdout,
            monetary_value: monetary_holdout,
            duration: duration_holdout,
        }),
    }
}
