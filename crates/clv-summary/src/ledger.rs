//! The streaming ledger: order lines go in one at a time, one compact log per customer comes out.
//!
//! Memory grows with customers and their purchase periods, not with input rows: lines of the same
//! order and purchases in the same period merge as they arrive (when the input is grouped by
//! customer or sorted by time, which exports almost always are). Returns are netted when the
//! ledger is finished, because a refund may arrive before or after the order it refunds.

use clv_data::{OrderLine, Period};
use hashbrown::HashTable;
use rustc_hash::FxHasher;
use std::hash::Hasher;

/// What the ledger needs to know while lines arrive.
#[derive(Debug, Clone, Copy)]
pub struct LedgerOptions {
    pub period: Period,
    /// Inclusive, shop-local seconds; `None` means the last order in the data.
    pub observation_end: Option<i64>,
    /// Inclusive; lines after it go to the holdout window.
    pub calibration_end: Option<i64>,
}

/// Merged lines of one customer: one order (or, without order ids, one period's orders).
#[derive(Debug, Clone, Copy)]
struct Entry {
    time: i64,
    value: f64,
    /// Hash of the order id, 0 when the input has none.
    order: u64,
    /// Orders merged into this entry (0 for returns).
    orders: u32,
    holdout: bool,
}

impl Entry {
    fn is_return(&self) -> bool {
        self.value.is_sign_negative()
    }
}

/// Counts the user sees in the data-quality report.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct LedgerStats {
    /// Accepted lines offered to the ledger.
    pub lines: u64,
    /// Lines dated after the observation end: left out, not errors.
    pub after_observation_end: u64,
    /// Return/cancellation lines (negative amount or quantity).
    pub return_lines: u64,
    /// Returns netted into the order with the same order id.
    pub returns_matched_by_order: u64,
    /// Returns without an order id, netted into the customer's latest purchase on or before them.
    pub returns_matched_by_date: u64,
    /// Returns with nothing to net into (their order is outside the window, or nothing was bought
    /// before them); they still reduce the customer's revenue.
    pub returns_unmatched: u64,
    /// Purchase periods whose net value fell to zero or below because of returns: not purchases.
    pub periods_cancelled_by_returns: u64,
    /// Customers left out because no purchase period remains in the main window.
    pub customers_without_purchase: u64,
    /// Customers whose first purchase is after the calibration end (holdout only): left out of the
    /// calibration summary, as lifetimes does.
    pub customers_first_seen_in_holdout: u64,
}

/// One purchase period that counts: its first order's time and its net value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PurchasePeriod {
    pub time: i64,
    pub value: f64,
}

/// A customer's netted history in one window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WindowHistory {
    /// Counted purchase periods, in time order.
    pub periods: Vec<PurchasePeriod>,
    /// Net value of every line in the window (refunds included).
    pub revenue: f64,
    /// Orders placed (a later refund does not un-place an order).
    pub orders: u64,
}

/// A customer after netting.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerHistory {
    pub id: String,
    pub main: WindowHistory,
    /// Present when there is a calibration cut.
    pub holdout: Option<WindowHistory>,
}

/// The finished ledger.
#[derive(Debug, Clone)]
pub struct Histories {
    /// Customers with at least one purchase period in the main window, sorted by id (numerically
    /// when ids are numbers).
    pub customers: Vec<CustomerHistory>,
    pub period: Period,
    /// Resolved inclusive ends (shop-local seconds).
    pub observation_end: i64,
    pub calibration_end: Option<i64>,
    /// Earliest accepted line.
    pub first_time: i64,
    pub stats: LedgerStats,
}

impl Histories {
    /// End of the main window: the calibration end when there is one.
    pub fn main_end(&self) -> i64 {
        self.calibration_end.unwrap_or(self.observation_end)
    }
}

/// Accumulates order lines per customer.
pub struct Ledger {
    options: LedgerOptions,
    index: HashTable<u32>,
    id_bytes: Vec<u8>,
    id_ends: Vec<usize>,
    logs: Vec<Vec<Entry>>,
    stats: LedgerStats,
    first_time: i64,
    last_time: i64,
}

/// The i-th customer id in the ledger's id arena.
fn id_at<'a>(bytes: &'a [u8], ends: &[usize], i: usize) -> &'a [u8] {
    let start = if i == 0 { 0 } else { ends[i - 1] };
    &bytes[start..ends[i]]
}

fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(bytes);
    h.finish()
}

impl Ledger {
    pub fn new(options: LedgerOptions) -> Self {
        Ledger {
            options,
            index: HashTable::new(),
            id_bytes: Vec::new(),
            id_ends: Vec::new(),
            logs: Vec::new(),
            stats: LedgerStats::default(),
            first_time: i64::MAX,
            last_time: i64::MIN,
        }
    }

    /// Number of distinct customers seen so far.
    pub fn customers(&self) -> usize {
        self.logs.len()
    }

    fn customer_index(&mut self, customer: &[u8]) -> usize {
        let hash = hash_bytes(customer);
        let (bytes, ends) = (&self.id_bytes, &self.id_ends);
        if let Some(&i) = self
            .index
            .find(hash, |&i| id_at(bytes, ends, i as usize) == customer)
        {
            return i as usize;
        }
        let i = self.logs.len();
        self.id_bytes.extend_from_slice(customer);
        self.id_ends.push(self.id_bytes.len());
        self.logs.push(Vec::new());
        let (bytes, ends) = (&self.id_bytes, &self.id_ends);
        self.index.insert_unique(hash, i as u32, |&j| {
            hash_bytes(id_at(bytes, ends, j as usize))
        });
        i
    }

    /// Add one accepted order line.
    pub fn push(&mut self, line: &OrderLine<'_>) {
        self.stats.lines += 1;
        if self
            .options
            .observation_end
            .is_some_and(|end| line.time > end)
        {
            self.stats.after_observation_end += 1;
            return;
        }
        self.first_time = self.first_time.min(line.time);
        self.last_time = self.last_time.max(line.time);
        let holdout = self.options.calibration_end.is_some_and(|c| line.time > c);
        let order = line.order.map_or(0, |o| hash_bytes(o).max(1));
        let is_return = line.is_return();
        if is_return {
            self.stats.return_lines += 1;
        }
        let entry = Entry {
            time: line.time,
            value: line.value,
            order,
            orders: u32::from(!is_return),
            holdout,
        };
        let period = self.options.period;
        let c = self.customer_index(line.customer);
        let log = &mut self.logs[c];
        if let Some(last) = log.last_mut() {
            let mergeable = last.holdout == holdout
                && last.is_return() == is_return
                && period.index(last.time) == period.index(line.time);
            // Lines of one order merge; without order ids, orders of the same period merge.
            if mergeable && last.order == order {
                last.value += line.value;
                last.time = last.time.min(line.time);
                if order == 0 {
                    last.orders += entry.orders;
                }
                return;
            }
        }
        log.push(entry);
    }

    /// Net returns and close the books. `None` when no line was accepted.
    pub fn finish(self) -> Option<Histories> {
        if self.logs.is_empty() {
            return None;
        }
        let observation_end = self.options.observation_end.unwrap_or(self.last_time);
        let mut stats = self.stats.clone();
        let period = self.options.period;
        let mut order: Vec<usize> = (0..self.logs.len()).collect();
        order.sort_by_cached_key(|&i| id_sort_key(id_at(&self.id_bytes, &self.id_ends, i)));
        let has_holdout = self.options.calibration_end.is_some();
        let mut customers = Vec::with_capacity(self.logs.len());
        let mut logs = self.logs;
        for i in order {
            let mut entries = std::mem::take(&mut logs[i]);
            entries.sort_by_key(|e| e.time);
            let (main, hold): (Vec<Entry>, Vec<Entry>) =
                entries.into_iter().partition(|e| !e.holdout);
            let main = net_window(main, period, &mut stats);
            let holdout = has_holdout.then(|| net_window(hold, period, &mut stats));
            if main.periods.is_empty() {
                if holdout.as_ref().is_some_and(|h| !h.periods.is_empty()) {
                    stats.customers_first_seen_in_holdout += 1;
                } else {
                    stats.customers_without_purchase += 1;
                }
                continue;
            }
            customers.push(CustomerHistory {
                id: String::from_utf8_lossy(id_at(&self.id_bytes, &self.id_ends, i)).into_owned(),
                main,
                holdout,
            });
        }
        Some(Histories {
            customers,
            period,
            observation_end,
            calibration_end: self.options.calibration_end,
            first_time: self.first_time,
            stats,
        })
    }
}

/// Numeric ids sort as numbers, others after them as bytes.
fn id_sort_key(id: &[u8]) -> (bool, u128, Vec<u8>) {
    match std::str::from_utf8(id)
        .ok()
        .and_then(|s| s.parse::<u128>().ok())
    {
        Some(n) => (false, n, id.to_vec()),
        None => (true, 0, id.to_vec()),
    }
}

/// Apply the returns policy to one window's time-sorted entries and form purchase periods.
fn net_window(entries: Vec<Entry>, period: Period, stats: &mut LedgerStats) -> WindowHistory {
    let revenue = entries.iter().map(|e| e.value).sum();
    let mut purchases: Vec<(Entry, bool)> = Vec::with_capacity(entries.len());
    let mut returns = Vec::new();
    for e in entries {
        if e.is_return() {
            returns.push(e);
        } else {
            purchases.push((e, false));
        }
    }
    for r in returns {
        let target = if r.order != 0 {
            let found = purchases.iter().position(|(p, _)| p.order == r.order);
            if found.is_some() {
                stats.returns_matched_by_order += 1;
            }
            found
        } else {
            let found = purchases.iter().rposition(|(p, _)| p.time <= r.time);
            if found.is_some() {
                stats.returns_matched_by_date += 1;
            }
            found
        };
        match target {
            Some(p) => {
                purchases[p].0.value += r.value;
                purchases[p].1 = true;
            }
            None => stats.returns_unmatched += 1,
        }
    }
    let mut seen_orders: Vec<u64> = purchases
        .iter()
        .filter(|(p, _)| p.order != 0)
        .map(|(p, _)| p.order)
        .collect();
    seen_orders.sort_unstable();
    seen_orders.dedup();
    let orders = seen_orders.len() as u64
        + purchases
            .iter()
            .filter(|(p, _)| p.order == 0)
            .map(|(p, _)| p.orders as u64)
            .sum::<u64>();
    let mut periods: Vec<PurchasePeriod> = Vec::with_capacity(purchases.len());
    let mut current: Option<(i64, PurchasePeriod, bool)> = None;
    let mut close = |slot: Option<(i64, PurchasePeriod, bool)>,
                     periods: &mut Vec<PurchasePeriod>| {
        if let Some((_, p, refunded)) = slot {
            // Policy: a period is a purchase when its net value is positive, or zero with no
            // refund in it (a free order). Refunds that cancel a period cancel the purchase.
            if p.value > 0.0 || (p.value == 0.0 && !refunded) {
                periods.push(p);
            } else {
                stats.periods_cancelled_by_returns += 1;
            }
        }
    };
    for (p, refunded) in purchases {
        let idx = period.index(p.time);
        match &mut current {
            Some((i, acc, r)) if *i == idx => {
                acc.value += p.value;
                *r |= refunded;
            }
            _ => {
                close(current.take(), &mut periods);
                current = Some((
                    idx,
                    PurchasePeriod {
                        time: p.time,
                        value: p.value,
                    },
                    refunded,
                ));
            }
        }
    }
    close(current, &mut periods);
    WindowHistory {
        periods,
        revenue,
        orders,
    }
}
