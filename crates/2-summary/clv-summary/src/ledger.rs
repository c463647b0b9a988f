//! The streaming ledger: order lines go in one at a time, compact per-customer histories come out.
//!
//! Memory grows with customers and their purchase periods, not with input rows: lines of the same
//! order and purchases in the same period merge as they arrive (when the input is grouped by
//! customer or sorted by time, which exports almost always are). All entries live in one arena,
//! each linked to the customer's previous entry, so a customer costs no allocation of its own.
//! Returns are netted when the ledger is finished, because a refund may arrive before or after the
//! order it refunds.

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
    /// Threads that finish (net and sort) the partitions (0 and 1: the calling thread).
    pub threads: usize,
}

const HOLDOUT: u32 = 1 << 31;
const NO_ENTRY: u32 = u32::MAX;

/// Merged lines of one customer: one order (or, without order ids, one period's orders).
#[derive(Debug, Clone, Copy)]
struct Entry {
    time: i64,
    value: f64,
    /// Hash of the order id, 0 when the input has none.
    order: u64,
    /// Hash of the SKU, 0 when the input has none: lines of other SKUs stay apart, so a
    /// cancellation finds the purchase of its own SKU.
    sku: u64,
    /// The customer's previous entry in the arena, or `NO_ENTRY`.
    prev: u32,
    /// Orders merged into this entry (0 for returns); the top bit marks the holdout window.
    orders_and_window: u32,
}

impl Entry {
    fn is_return(&self) -> bool {
        self.value.is_sign_negative()
    }
    fn holdout(&self) -> bool {
        self.orders_and_window & HOLDOUT != 0
    }
    fn orders(&self) -> u64 {
        (self.orders_and_window & !HOLDOUT) as u64
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
    /// Returns whose order id matches no purchase of the customer (an invoice export gives a
    /// cancellation its own number, `C536379`), netted by date instead.
    pub returns_by_date_order_not_found: u64,
    /// Returns netted by date into the latest earlier purchase of their own SKU (with a SKU
    /// column; the others net into the latest earlier purchase of any product).
    pub returns_matched_by_sku: u64,
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
    /// Net value of every accepted line up to the observation end.
    pub value_in_window: f64,
    /// Net value of the lines dated after the observation end.
    pub value_after_observation_end: f64,
    /// Net value of the main-window lines of customers left out (only returns, or refunds that
    /// cancel every purchase): with it, customers' revenue adds up to the file's amounts.
    pub value_of_customers_left_out: f64,
}

/// Why finished books hold nothing to analyse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("the calibration end must be before the observation end")]
    CalibrationAfterObservation,
    #[error("no usable orders: no row was accepted; see the rejected rows")]
    NothingAccepted,
    #[error("no customer has a purchase in the window ending {0}; check the observation and calibration ends")]
    NoCustomer(String),
    #[error("the calibration end is not before the last order ({0}): there is no holdout; give an observation end after it")]
    NoHoldout(String),
}

impl LedgerOptions {
    /// The ends must leave a holdout when there is a calibration cut.
    pub fn check(&self) -> Result<(), WindowError> {
        match (self.calibration_end, self.observation_end) {
            (Some(c), Some(o)) if c >= o => Err(WindowError::CalibrationAfterObservation),
            _ => Ok(()),
        }
    }
}

impl Histories {
    /// `finished` (from [`Ledger::finish`]) if it has customers to analyse and, with a
    /// calibration cut, a holdout after it.
    pub fn usable(finished: Option<Histories>) -> Result<Histories, WindowError> {
        let h = finished.ok_or(WindowError::NothingAccepted)?;
        if h.is_empty() {
            return Err(WindowError::NoCustomer(clv_data::time::format_date(
                h.main_end(),
            )));
        }
        if h.calibration_end.is_some_and(|c| c >= h.observation_end) {
            return Err(WindowError::NoHoldout(clv_data::time::format_date(
                h.observation_end,
            )));
        }
        Ok(h)
    }
}

impl LedgerStats {
    /// Each count with what it counts, in the order the data-quality report lists them.
    pub fn described(&self) -> [(u64, &'static str); 10] {
        [
            (
                self.after_observation_end,
                "rows after the observation end left out",
            ),
            (self.return_lines, "return/cancellation rows"),
            (
                self.returns_matched_by_order,
                "returns netted into their order (same order id)",
            ),
            (
                self.returns_matched_by_date,
                "returns netted into the latest earlier purchase",
            ),
            (
                self.returns_by_date_order_not_found,
                "of them: their order id matched no purchase (e.g. a C-numbered cancellation)",
            ),
            (
                self.returns_matched_by_sku,
                "of them: into the latest earlier purchase of the same SKU",
            ),
            (
                self.returns_unmatched,
                "returns with no purchase to net into (they only lower revenue)",
            ),
            (
                self.periods_cancelled_by_returns,
                "purchase periods cancelled by returns",
            ),
            (
                self.customers_without_purchase,
                "customers left out: no purchase left in the window",
            ),
            (
                self.customers_first_seen_in_holdout,
                "customers left out: first purchase after --calibration-end",
            ),
        ]
    }
}

/// One purchase period that counts: its first order's time and its net value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PurchasePeriod {
    pub time: i64,
    pub value: f64,
}

/// Where one customer's window lives in the period arena, and its totals.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct WindowSlot {
    start: u32,
    len: u32,
    revenue: f64,
    orders: u64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct CustomerSlot {
    /// Where the id is in its partition's id arena.
    id_start: u32,
    id_len: u32,
    main: WindowSlot,
    holdout: WindowSlot,
}

/// A customer's netted history in one window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowHistory<'a> {
    /// Counted purchase periods, in time order.
    pub periods: &'a [PurchasePeriod],
    /// Net value of every line in the window (refunds included).
    pub revenue: f64,
    /// Orders placed (a later refund does not un-place an order).
    pub orders: u64,
}

/// A customer after netting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CustomerHistory<'a> {
    pub id: &'a str,
    /// Up to the calibration end, or the observation end without one. Never empty.
    pub main: WindowHistory<'a>,
    /// Present when there is a calibration cut.
    pub holdout: Option<WindowHistory<'a>>,
}

/// The finished ledger: customers with at least one purchase period in the main window, sorted by
/// id (numerically when ids are numbers).
#[derive(Debug, Clone)]
pub struct Histories {
    /// Netted partitions, each in id order; they stay where they were built.
    parts: Vec<PartHistories>,
    /// (partition, position in it) of every customer, in id order.
    order: Vec<(u32, u32)>,
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

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Customer `i` (in id order).
    pub fn get(&self, i: usize) -> CustomerHistory<'_> {
        let (p, j) = self.order[i];
        self.parts[p as usize].history(j as usize, self.calibration_end.is_some())
    }

    /// Purchase periods in the main window after each customer's first: Σ `frequency` with
    /// purchases merged per period (counted while the partitions were netted).
    pub fn repeat_purchases(&self) -> u64 {
        self.parts
            .iter()
            .map(|p| p.main_periods - p.customers.len() as u64)
            .sum()
    }

    /// Customers with more than one purchase period in the main window.
    pub fn repeat_customers(&self) -> u64 {
        self.iter_stored()
            .filter(|c| c.main.periods.len() > 1)
            .count() as u64
    }

    /// Purchase periods in the holdout window, all customers together.
    pub fn holdout_purchases(&self) -> u64 {
        self.parts.iter().map(|p| p.holdout_periods).sum()
    }

    /// Every customer in the order they are stored, not id order: for totals, where order does
    /// not matter, this walks memory in sequence.
    pub fn iter_stored(&self) -> impl Iterator<Item = CustomerHistory<'_>> + '_ {
        let holdout = self.calibration_end.is_some();
        self.parts
            .iter()
            .flat_map(move |part| (0..part.customers.len()).map(move |j| part.history(j, holdout)))
    }

    /// Every customer, in id order.
    pub fn iter(&self) -> InOrder<'_> {
        self.range(0..self.len())
    }

    /// Customers `rows` (positions in id order; positions past the end are left out).
    pub fn range(&self, rows: std::ops::Range<usize>) -> InOrder<'_> {
        let end = rows.end.min(self.len());
        InOrder {
            histories: self,
            next: rows.start.min(end),
            end,
        }
    }

    /// Start loading customer `i`'s slot into cache.
    fn prefetch_slot(&self, i: usize) {
        if let Some(&(p, j)) = self.order.get(i) {
            // A slot may straddle two cache lines.
            let slot = &self.parts[p as usize].customers[j as usize];
            prefetch(slot);
            prefetch(
                (slot as *const CustomerSlot)
                    .cast::<u8>()
                    .wrapping_add(size_of::<CustomerSlot>() - 1),
            );
        }
    }

    /// Start loading customer `i`'s id and purchase periods into cache (reads its slot).
    fn prefetch_history(&self, i: usize) {
        if let Some(&(p, j)) = self.order.get(i) {
            let part = &self.parts[p as usize];
            let c = &part.customers[j as usize];
            prefetch(
                part.ids
                    .as_bytes()
                    .as_ptr()
                    .wrapping_add(c.id_start as usize),
            );
            prefetch(part.periods.as_ptr().wrapping_add(c.main.start as usize));
        }
    }
}

/// Customers in id order, loaded into cache a few customers ahead.
///
/// Consecutive customers live in different partitions, so each one is a few cache misses; issuing
/// them ahead of use lets the memory system serve many at once (the summary table and the score
/// walk a million customers this way).
pub struct InOrder<'h> {
    histories: &'h Histories,
    next: usize,
    end: usize,
}

/// How many customers ahead the iterator loads each step (slots at twice this distance, ids and
/// periods at this distance, once the slot is in cache).
const PREFETCH_AHEAD: usize = 8;

impl<'h> Iterator for InOrder<'h> {
    type Item = CustomerHistory<'h>;

    fn next(&mut self) -> Option<CustomerHistory<'h>> {
        if self.next >= self.end {
            return None;
        }
        let i = self.next;
        self.next += 1;
        let h = self.histories;
        if i + 2 * PREFETCH_AHEAD < self.end {
            h.prefetch_slot(i + 2 * PREFETCH_AHEAD);
        }
        if i + PREFETCH_AHEAD < self.end {
            h.prefetch_history(i + PREFETCH_AHEAD);
        }
        Some(h.get(i))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.end - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for InOrder<'_> {}

/// A hint to start loading the cache line at `p`; never dereferences it.
#[inline(always)]
fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it does not fault or read for the program, whatever the
    // address, and SSE (which provides it) is part of every x86-64 CPU. One of the two documented
    // uses of `unsafe` (ARCHITECTURE.md).
    #[allow(unsafe_code)]
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(p.cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// A customer's hash-table slot. It carries the first 16 bytes and the length of the id, so most
/// lookups compare ids without touching the id arena, and the customer's latest entry, so a line
/// costs one table probe and one entry access (the two cache misses that dominate reading).
#[derive(Debug, Clone, Copy)]
struct Slot {
    /// The id's first 16 bytes (zero-padded): ids up to 16 bytes (order numbers, Shopify's
    /// 13-digit customer ids) compare without the arena. With 8 bytes, 9-byte ids such as
    /// `c00000001` went to the arena on every line, one more cache miss each: reading 10,000,000
    /// customers took 14× as long as 1,000,000 with 8-byte ids.
    prefix: [u64; 2],
    customer: u32,
    last: u32,
    len: u32,
    /// Period index of the latest entry (truncated to 32 bits; only compared for equality).
    last_period: u32,
}

/// Ids of this many bytes or fewer are told apart by [`Slot::prefix`] and their length alone.
const INLINE_ID: usize = 16;

fn id_prefix(id: &[u8]) -> [u64; 2] {
    let mut buf = [0u8; INLINE_ID];
    let n = id.len().min(INLINE_ID);
    buf[..n].copy_from_slice(&id[..n]);
    let (a, b) = buf.split_at(8);
    [
        u64::from_le_bytes(a.try_into().expect("8 bytes")),
        u64::from_le_bytes(b.try_into().expect("8 bytes")),
    ]
}

/// The slot of `customer`, created on first sight (with its id appended to the arena).
fn slot<'t>(
    index: &'t mut HashTable<Slot>,
    id_bytes: &mut Vec<u8>,
    id_ends: &mut Vec<usize>,
    hash: u64,
    customer: &[u8],
) -> &'t mut Slot {
    let (prefix, len) = (id_prefix(customer), customer.len() as u32);
    let (bytes, ends) = (&*id_bytes, &*id_ends);
    let same = |s: &Slot| {
        s.prefix == prefix
            && s.len == len
            && (len as usize <= INLINE_ID || id_at(bytes, ends, s.customer as usize) == customer)
    };
    let rehash = |s: &Slot| hash_bytes(id_at(bytes, ends, s.customer as usize));
    match index.entry(hash, same, rehash) {
        hashbrown::hash_table::Entry::Occupied(o) => o.into_mut(),
        hashbrown::hash_table::Entry::Vacant(v) => {
            let customer_index = id_ends.len() as u32;
            id_bytes.extend_from_slice(customer);
            id_ends.push(id_bytes.len());
            v.insert(Slot {
                prefix,
                customer: customer_index,
                last: NO_ENTRY,
                len,
                last_period: 0,
            })
            .into_mut()
        }
    }
}

/// Lines waiting for their partition to be flushed.
#[derive(Debug, Clone, Copy)]
struct Pending {
    id_start: u32,
    /// Length of the id; the top bit marks the holdout window (40 bytes a line, not 56: these
    /// are written once and read once per line).
    id_len_and_window: u32,
    time: i64,
    value: f64,
    order: u64,
    sku: u64,
}

impl Pending {
    fn id<'a>(&self, ids: &'a [u8]) -> &'a [u8] {
        let len = self.id_len_and_window & !HOLDOUT;
        &ids[self.id_start as usize..(self.id_start + len) as usize]
    }
    fn holdout(&self) -> bool {
        self.id_len_and_window & HOLDOUT != 0
    }
}

/// One partition of the customers (by the top bits of their id hash): its own small hash table,
/// id arena and entry arena, which stay in cache while its pending lines are applied.
#[derive(Default)]
struct Part {
    index: HashTable<Slot>,
    id_bytes: Vec<u8>,
    id_ends: Vec<usize>,
    entries: Vec<Entry>,
}

/// A finished partition: its customers in id order.
#[derive(Debug, Clone)]
struct PartHistories {
    ids: String,
    /// Sort key of each customer ([`id_key`]).
    keys: Vec<u128>,
    customers: Vec<CustomerSlot>,
    periods: Vec<PurchasePeriod>,
    /// Purchase periods of the kept customers, per window.
    main_periods: u64,
    holdout_periods: u64,
    stats: LedgerStats,
}

impl PartHistories {
    fn id(&self, j: usize) -> &str {
        let c = &self.customers[j];
        &self.ids[c.id_start as usize..(c.id_start + c.id_len) as usize]
    }

    fn history(&self, j: usize, holdout: bool) -> CustomerHistory<'_> {
        let c = &self.customers[j];
        let window = |slot: &WindowSlot| WindowHistory {
            periods: &self.periods[slot.start as usize..(slot.start + slot.len) as usize],
            revenue: slot.revenue,
            orders: slot.orders,
        };
        CustomerHistory {
            id: self.id(j),
            main: window(&c.main),
            holdout: holdout.then(|| window(&c.holdout)),
        }
    }

    /// Customer `j`'s place in id order: its key, then its whole id for equal keys.
    fn rank(&self, j: usize) -> (u128, &[u8]) {
        (self.keys[j], self.id(j).as_bytes())
    }
}

const PARTS: usize = 256;

/// The partition of a customer id's hash. hashbrown picks a bucket by the low bits and tags it
/// with the top 7, so the partition comes from bits neither uses (every bit of [`hash_bytes`] is
/// well mixed). Taken from the top bits, it made the tag the same for every customer of a
/// partition, and lookups compared ids with every occupied slot of a probed group (reading took
/// 0.35 s instead of 0.32 s at 1,000,000 customers).
fn partition_of(hash: u64) -> usize {
    (hash >> 48) as usize & (PARTS - 1)
}

impl Part {
    fn apply(&mut self, pending: &[Pending], pending_ids: &[u8], period: Period) {
        for p in pending {
            let id = p.id(pending_ids);
            let slot = slot(
                &mut self.index,
                &mut self.id_bytes,
                &mut self.id_ends,
                hash_bytes(id),
                id,
            );
            let last = slot.last;
            let line_period = period.index(p.time);
            let is_return = p.value.is_sign_negative();
            // Only a line in the same period as the customer's latest entry can merge into it;
            // the period kept in the slot spares most lines a trip to the entry arena.
            if last != NO_ENTRY && slot.last_period == line_period as u32 {
                let e = &mut self.entries[last as usize];
                // Lines of one order merge; without order ids, orders of the same period merge.
                // Returns never merge: each one nets by its own time.
                if !is_return
                    && e.holdout() == p.holdout()
                    && !e.is_return()
                    && e.order == p.order
                    && e.sku == p.sku
                    && period.index(e.time) == line_period
                {
                    e.value += p.value;
                    e.time = e.time.min(p.time);
                    if p.order == 0 {
                        e.orders_and_window += 1;
                    }
                    continue;
                }
            }
            let index = u32::try_from(self.entries.len())
                .expect("fewer than 4 billion entries per partition");
            slot.last = index;
            slot.last_period = line_period as u32;
            self.entries.push(Entry {
                time: p.time,
                value: p.value,
                order: p.order,
                sku: p.sku,
                prev: last,
                orders_and_window: u32::from(!is_return) | (p.id_len_and_window & HOLDOUT),
            });
        }
    }

    fn finish(self, period: Period) -> PartHistories {
        let mut stats = LedgerStats::default();
        let mut last = vec![NO_ENTRY; self.id_ends.len()];
        for slot in &self.index {
            last[slot.customer as usize] = slot.last;
        }
        let order = sorted_ids(&self.id_bytes, &self.id_ends);
        // Customers are walked in id order, which jumps around the entry arena, one dependent
        // load per entry. A partition's arena fits in a core's cache: load it in sequence first,
        // so the walk finds every entry there.
        for line in self.entries.chunks((64 / size_of::<Entry>()).max(1)) {
            prefetch(line.as_ptr());
        }
        let mut ids = Vec::with_capacity(self.id_bytes.len());
        let mut keys = Vec::with_capacity(order.len());
        let mut customers = Vec::with_capacity(order.len());
        let mut periods = Vec::with_capacity(self.entries.len());
        let mut scratch: Vec<Entry> = Vec::new();
        let mut netting = Netting::default();
        let (mut main_periods, mut holdout_periods) = (0, 0);
        for (key, i) in order {
            scratch.clear();
            let mut e = last[i];
            while e != NO_ENTRY {
                let entry = self.entries[e as usize];
                scratch.push(entry);
                e = entry.prev;
            }
            scratch.reverse();
            // Usually already in time order; the sort is for unsorted exports.
            if !scratch.is_sorted_by_key(|e| e.time) {
                scratch.sort_by_key(|e| e.time);
            }
            // Main-window lines are dated up to the calibration end and holdout lines after it,
            // so time order puts every main line first.
            let split = scratch.partition_point(|e| !e.holdout());
            netting.know_orders(&scratch);
            let main = netting.net(&scratch[..split], period, &mut periods, &mut stats);
            let holdout = netting.net(&scratch[split..], period, &mut periods, &mut stats);
            if main.len == 0 {
                periods.truncate(main.start as usize);
                stats.value_of_customers_left_out += main.revenue;
                if holdout.len > 0 {
                    stats.customers_first_seen_in_holdout += 1;
                } else {
                    stats.customers_without_purchase += 1;
                }
                continue;
            }
            main_periods += u64::from(main.len);
            holdout_periods += u64::from(holdout.len);
            let id = id_at(&self.id_bytes, &self.id_ends, i);
            let id_start = u32::try_from(ids.len()).expect("partition ids under 4 GB");
            ids.extend_from_slice(id);
            keys.push(key);
            customers.push(CustomerSlot {
                id_start,
                id_len: id.len() as u32,
                main,
                holdout,
            });
        }
        let ids = match String::from_utf8(ids) {
            Ok(text) => text,
            Err(e) => {
                // Rare: some ids are not UTF-8. Rebuild the arena with replacement characters.
                let bytes = e.into_bytes();
                let mut text = String::with_capacity(bytes.len());
                for c in &mut customers {
                    let (start, end) = (c.id_start as usize, (c.id_start + c.id_len) as usize);
                    c.id_start = text.len() as u32;
                    text.push_str(&String::from_utf8_lossy(&bytes[start..end]));
                    c.id_len = text.len() as u32 - c.id_start;
                }
                text
            }
        };
        PartHistories {
            ids,
            keys,
            customers,
            periods,
            main_periods,
            holdout_periods,
            stats,
        }
    }
}

/// Lines of one block bound for one partition.
#[derive(Default)]
struct Batch {
    lines: Vec<Pending>,
    ids: Vec<u8>,
}

/// One reading thread's share of a block: its lines sorted into partitions, and its counts.
/// Aligned to its own cache lines: shards sit side by side and each is written by another core.
#[repr(align(128))]
pub struct LedgerShard {
    options: LedgerOptions,
    batches: Vec<Batch>,
    lines: u64,
    after_observation_end: u64,
    value_after_observation_end: f64,
    value_in_window: f64,
    return_lines: u64,
    first_time: i64,
    last_time: i64,
}

/// Accumulates order lines per customer.
///
/// Reading threads hash each line into their own [`LedgerShard`]; after each block, every core
/// applies the shards' lines to its own share of the partitions (in file order), so parsing and
/// aggregating both use every core.
pub struct Ledger {
    options: LedgerOptions,
    parts: Vec<Part>,
    threads: usize,
    stats: LedgerStats,
    first_time: i64,
    last_time: i64,
    /// [`clv_data::ShardedSink::expect_lines`]'s hint, until the first block uses it.
    expected_lines: u64,
}

/// The i-th customer id in an id arena.
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
            parts: (0..PARTS).map(|_| Part::default()).collect(),
            threads: options.threads.clamp(1, PARTS),
            stats: LedgerStats::default(),
            first_time: i64::MAX,
            last_time: i64::MIN,
            expected_lines: 0,
        }
    }

    /// Reserve the partitions' arenas for `lines` lines in all, with as many id bytes per line as
    /// in `shards`. Growing them by doubling instead copied every arena about once more and
    /// faulted in fresh pages each time (a tenth of the summary at 1,000,000 customers). Reserved
    /// but unused capacity is address space only: pages are mapped when first written.
    fn reserve(&mut self, lines: u64, shards: &[LedgerShard]) {
        let (sample_lines, sample_id_bytes) = shards
            .iter()
            .flat_map(|s| &s.batches)
            .fold((0, 0), |(n, b), batch| {
                (n + batch.lines.len(), b + batch.ids.len())
            });
        if sample_lines == 0 {
            return;
        }
        // Partitions get a hash's share each: a few percent more than the mean covers them all.
        // Beyond a billion lines the arenas grow as usual.
        const MOST_PER_PART: u64 = 1 << 22;
        let per_part = (lines.div_ceil(PARTS as u64) * 21 / 20 + 64).min(MOST_PER_PART) as usize;
        let id_bytes = per_part * sample_id_bytes.div_ceil(sample_lines);
        for part in &mut self.parts {
            // Only a head start: where the system refuses the address space (strict overcommit),
            // the arenas grow as they fill instead.
            let _ = part.entries.try_reserve(per_part);
            let _ = part.id_ends.try_reserve(per_part);
            let _ = part.id_bytes.try_reserve(id_bytes);
        }
    }

    /// Net returns and close the books. `None` when no line was accepted. Partitions finish on
    /// all available cores, then merge in customer-id order.
    pub fn finish(self) -> Option<Histories> {
        let period = self.options.period;
        if self.parts.iter().all(|p| p.id_ends.is_empty()) {
            return None;
        }
        let started = std::time::Instant::now();
        let workers = self.threads;
        let mut queues: Vec<Vec<(usize, Part)>> = (0..workers).map(|_| Vec::new()).collect();
        for (k, part) in self.parts.into_iter().enumerate() {
            queues[k % workers].push((k, part));
        }
        let finish = move |queue: Vec<(usize, Part)>| {
            queue
                .into_iter()
                .map(|(i, part)| (i, part.finish(period)))
                .collect::<Vec<_>>()
        };
        // On one thread, the calling thread does the work. On several, every queue gets a thread
        // of its own, the calling one waiting: netting's scratch memory then goes back to the
        // system when those threads end (mimalloc's heaps are per thread; finishing a queue here
        // kept ~15 MB more at the peak of `clv score` at 1,000,000 customers).
        let mut finished: Vec<(usize, PartHistories)> = if workers == 1 {
            queues.into_iter().flat_map(finish).collect()
        } else {
            std::thread::scope(|scope| {
                let handles: Vec<_> = queues
                    .into_iter()
                    .map(|queue| scope.spawn(move || finish(queue)))
                    .collect();
                handles
                    .into_iter()
                    .flat_map(|h| h.join().expect("partition worker panicked"))
                    .collect()
            })
        };
        tracing::debug!(elapsed = ?started.elapsed(), "partitions netted");
        finished.sort_by_key(|(i, _)| *i);
        let parts: Vec<PartHistories> = finished.into_iter().map(|(_, p)| p).collect();
        let mut stats = self.stats.clone();
        for p in &parts {
            let s = &p.stats;
            stats.returns_matched_by_order += s.returns_matched_by_order;
            stats.returns_matched_by_date += s.returns_matched_by_date;
            stats.returns_unmatched += s.returns_unmatched;
            stats.periods_cancelled_by_returns += s.periods_cancelled_by_returns;
            stats.customers_without_purchase += s.customers_without_purchase;
            stats.customers_first_seen_in_holdout += s.customers_first_seen_in_holdout;
            stats.returns_by_date_order_not_found += s.returns_by_date_order_not_found;
            stats.returns_matched_by_sku += s.returns_matched_by_sku;
            stats.value_of_customers_left_out += s.value_of_customers_left_out;
        }
        let started = std::time::Instant::now();
        let order = id_order(&parts, workers);
        tracing::debug!(elapsed = ?started.elapsed(), "merged into id order");
        Some(Histories {
            parts,
            order,
            period,
            observation_end: self.options.observation_end.unwrap_or(self.last_time),
            calibration_end: self.options.calibration_end,
            first_time: self.first_time,
            stats,
        })
    }
}

/// The (partition, position) of every customer in id order: a k-way merge of the partitions'
/// sorted runs, cut into one key range per thread.
fn id_order(parts: &[PartHistories], threads: usize) -> Vec<(u32, u32)> {
    // Every partition is a random sample of the ids (they are split by hash), so the largest
    // one's quantiles split the whole key range evenly.
    let sample = parts
        .iter()
        .max_by_key(|p| p.customers.len())
        .expect("at least one partition");
    let n = sample.customers.len();
    if n == 0 {
        return Vec::new();
    }
    let cuts: Vec<(u128, &[u8])> = (1..threads).map(|t| sample.rank(n * t / threads)).collect();
    // Where each cut falls in each partition.
    let bounds: Vec<Vec<usize>> = parts
        .iter()
        .map(|p| {
            let mut b = vec![0];
            b.extend(cuts.iter().map(|cut| {
                let (mut lo, mut hi) = (0, p.customers.len());
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    if p.rank(mid) < *cut {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                lo
            }));
            b.push(p.customers.len());
            b
        })
        .collect();
    // Heads of the runs: (key, partition, position); ids break ties between equal keys.
    type Head = (u128, u32, u32);
    let before = |a: &Head, b: &Head| {
        a.0 < b.0
            || a.0 == b.0
                && parts[a.1 as usize].id(a.2 as usize) < parts[b.1 as usize].id(b.2 as usize)
    };
    let merge_range = |t: usize| {
        let mut heads: Vec<Head> = Vec::with_capacity(parts.len());
        let mut ends = vec![0u32; parts.len()];
        let mut total = 0;
        for (k, p) in parts.iter().enumerate() {
            let (from, to) = (bounds[k][t], bounds[k][t + 1]);
            ends[k] = to as u32;
            total += to - from;
            if from < to {
                heads.push((p.keys[from], k as u32, from as u32));
            }
        }
        for i in (0..heads.len()).rev() {
            sift_down(&mut heads, i, &before);
        }
        let mut out = Vec::with_capacity(total);
        while let Some(&(_, k, j)) = heads.first() {
            out.push((k, j));
            let next = j + 1;
            if next < ends[k as usize] {
                heads[0] = (parts[k as usize].keys[next as usize], k, next);
            } else {
                heads.swap_remove(0);
            }
            sift_down(&mut heads, 0, &before);
        }
        out
    };
    let pieces: Vec<Vec<(u32, u32)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (1..threads)
            .map(|t| scope.spawn(move || merge_range(t)))
            .collect();
        let mut pieces = vec![merge_range(0)];
        pieces.extend(
            handles
                .into_iter()
                .map(|h| h.join().expect("merge thread panicked")),
        );
        pieces
    });
    pieces.concat()
}

/// Restore the min-heap order below `i` (a hand-rolled heap: `BinaryHeap` cannot compare by
/// looking ids up in the partitions).
fn sift_down<T>(heap: &mut [T], mut i: usize, before: &impl Fn(&T, &T) -> bool) {
    loop {
        let left = 2 * i + 1;
        if left >= heap.len() {
            return;
        }
        let right = left + 1;
        let child = if right < heap.len() && before(&heap[right], &heap[left]) {
            right
        } else {
            left
        };
        if !before(&heap[child], &heap[i]) {
            return;
        }
        heap.swap(i, child);
        i = child;
    }
}

/// Sort key of an id: numeric ids (up to 38 digits) by value, before all others, which go by
/// their first 15 bytes; equal keys fall back to comparing whole ids. One `u128` keeps the id
/// arena out of almost every comparison.
fn id_key(id: &[u8]) -> u128 {
    const TEXT: u128 = 1 << 127;
    if !id.is_empty() && id.len() <= 38 && id.iter().all(u8::is_ascii_digit) {
        id.iter().fold(0u128, |n, d| n * 10 + (d - b'0') as u128)
    } else {
        let mut buf = [0u8; 16];
        let n = id.len().min(15);
        buf[..n].copy_from_slice(&id[..n]);
        TEXT | u128::from_be_bytes(buf) >> 8
    }
}

/// Customer indices in output order, with their keys.
fn sorted_ids(bytes: &[u8], ends: &[usize]) -> Vec<(u128, usize)> {
    let mut keyed: Vec<(u128, usize)> = (0..ends.len())
        .map(|i| (id_key(id_at(bytes, ends, i)), i))
        .collect();
    keyed.sort_unstable_by(|a, b| {
        a.0.cmp(&b.0)
            .then_with(|| id_at(bytes, ends, a.1).cmp(id_at(bytes, ends, b.1)))
    });
    keyed
}

/// Reusable buffers for netting one window at a time.
#[derive(Default)]
struct Netting {
    purchases: Vec<(Entry, bool)>,
    orders: Vec<u64>,
    /// The order ids of the customer's purchases in either window, sorted.
    known: Vec<u64>,
}

impl Netting {
    /// Remember the order ids of a customer's purchases in both windows: a return for an order of
    /// the other window stays unmatched, one for an order never seen nets by date.
    fn know_orders(&mut self, entries: &[Entry]) {
        self.known.clear();
        if entries.iter().any(|e| e.is_return() && e.order != 0) {
            let orders = entries.iter().filter(|e| !e.is_return() && e.order != 0);
            self.known.extend(orders.map(|e| e.order));
            self.known.sort_unstable();
        }
    }

    /// Apply the returns policy to one window's time-sorted entries, append its purchase periods
    /// to `periods`, and return where they are.
    fn net(
        &mut self,
        entries: &[Entry],
        period: Period,
        periods: &mut Vec<PurchasePeriod>,
        stats: &mut LedgerStats,
    ) -> WindowSlot {
        let start = periods.len() as u32;
        let revenue = entries.iter().map(|e| e.value).sum();
        let orders = if entries.iter().all(|e| !e.is_return() && e.order == 0) {
            // Nothing to net and no order ids to count: the common case, without copies.
            push_periods(entries.iter().map(|e| (*e, false)), period, periods, stats);
            entries.iter().map(Entry::orders).sum()
        } else {
            self.net_returns(entries, period, periods, stats)
        };
        WindowSlot {
            start,
            len: periods.len() as u32 - start,
            revenue,
            orders,
        }
    }

    /// The general case of [`Netting::net`]: match returns to purchases, push the periods and
    /// count orders.
    fn net_returns(
        &mut self,
        entries: &[Entry],
        period: Period,
        periods: &mut Vec<PurchasePeriod>,
        stats: &mut LedgerStats,
    ) -> u64 {
        self.purchases.clear();
        self.purchases.extend(
            entries
                .iter()
                .filter(|e| !e.is_return())
                .map(|e| (*e, false)),
        );
        let (purchases, known) = (&mut self.purchases, &self.known);
        for r in entries.iter().filter(|e| e.is_return()) {
            let by_order = match r.order {
                0 => None,
                order => purchases.iter().position(|(p, _)| p.order == order),
            };
            stats.returns_matched_by_order += u64::from(by_order.is_some());
            // Without an order id, or with one no purchase has (a cancellation numbered on its
            // own), the latest purchase on or before the return; not for an order of the other
            // window, whose refund never changes this one.
            let other_window = r.order != 0 && known.binary_search(&r.order).is_ok();
            let target = by_order.or_else(|| {
                if other_window {
                    return None;
                }
                // A cancellation of a SKU: the latest earlier purchase of that SKU, else of any.
                let same_sku = (r.sku != 0)
                    .then(|| {
                        purchases
                            .iter()
                            .rposition(|(p, _)| p.time <= r.time && p.sku == r.sku)
                    })
                    .flatten();
                stats.returns_matched_by_sku += u64::from(same_sku.is_some());
                let found =
                    same_sku.or_else(|| purchases.iter().rposition(|(p, _)| p.time <= r.time));
                stats.returns_matched_by_date += u64::from(found.is_some());
                stats.returns_by_date_order_not_found += u64::from(found.is_some() && r.order != 0);
                found
            });
            match target {
                Some(p) => {
                    purchases[p].0.value += r.value;
                    purchases[p].1 = true;
                }
                None => stats.returns_unmatched += 1,
            }
        }
        self.orders.clear();
        self.orders.extend(
            purchases
                .iter()
                .filter(|(p, _)| p.order != 0)
                .map(|(p, _)| p.order),
        );
        self.orders.sort_unstable();
        self.orders.dedup();
        let orders = self.orders.len() as u64
            + purchases
                .iter()
                .filter(|(p, _)| p.order == 0)
                .map(|(p, _)| p.orders())
                .sum::<u64>();
        push_periods(purchases.iter().copied(), period, periods, stats);
        orders
    }
}

/// Group time-sorted purchases (with whether a refund reached each) into periods and append the
/// ones that count. Policy: a period is a purchase when its net value is positive, or zero with
/// no refund in it (a free order). Refunds that cancel a period cancel the purchase.
fn push_periods(
    purchases: impl Iterator<Item = (Entry, bool)>,
    period: Period,
    periods: &mut Vec<PurchasePeriod>,
    stats: &mut LedgerStats,
) {
    let mut purchases = purchases.peekable();
    while let Some(&(first, _)) = purchases.peek() {
        let index = period.index(first.time);
        let (mut value, mut refunded) = (0.0, false);
        while let Some((p, r)) = purchases.next_if(|(p, _)| period.index(p.time) == index) {
            value += p.value;
            refunded |= r;
        }
        if value > 0.0 || (value == 0.0 && !refunded) {
            periods.push(PurchasePeriod {
                time: first.time,
                value,
            });
        } else {
            stats.periods_cancelled_by_returns += 1;
        }
    }
}

impl clv_data::ShardedSink for Ledger {
    type Shard = LedgerShard;

    fn shard(&self) -> LedgerShard {
        LedgerShard {
            options: self.options,
            batches: (0..PARTS).map(|_| Batch::default()).collect(),
            lines: 0,
            after_observation_end: 0,
            value_after_observation_end: 0.0,
            value_in_window: 0.0,
            return_lines: 0,
            first_time: i64::MAX,
            last_time: i64::MIN,
        }
    }

    fn push(shard: &mut LedgerShard, line: &OrderLine<'_>) {
        shard.lines += 1;
        if shard
            .options
            .observation_end
            .is_some_and(|end| line.time > end)
        {
            shard.after_observation_end += 1;
            shard.value_after_observation_end += line.value;
            return;
        }
        shard.first_time = shard.first_time.min(line.time);
        shard.last_time = shard.last_time.max(line.time);
        shard.value_in_window += line.value;
        shard.return_lines += u64::from(line.is_return());
        let hash = hash_bytes(line.customer);
        let part = partition_of(hash);
        let batch = &mut shard.batches[part];
        let holdout = shard.options.calibration_end.is_some_and(|c| line.time > c);
        batch.lines.push(Pending {
            id_start: batch.ids.len() as u32,
            // Ids are parts of one input line, far below 2 GB.
            id_len_and_window: line.customer.len() as u32 | if holdout { HOLDOUT } else { 0 },
            time: line.time,
            value: line.value,
            order: line.order.map_or(0, |o| hash_bytes(o).max(1)),
            sku: line.sku.map_or(0, |s| hash_bytes(s).max(1)),
        });
        batch.ids.extend_from_slice(line.customer);
    }

    fn expect_lines(&mut self, lines: u64) {
        self.expected_lines = lines;
    }

    fn absorb(&mut self, shards: &mut [LedgerShard]) {
        let expected = std::mem::take(&mut self.expected_lines);
        if expected > 0 {
            self.reserve(expected, shards);
        }
        for shard in shards.iter_mut() {
            self.stats.lines += std::mem::take(&mut shard.lines);
            self.stats.after_observation_end += std::mem::take(&mut shard.after_observation_end);
            self.stats.value_after_observation_end +=
                std::mem::take(&mut shard.value_after_observation_end);
            self.stats.value_in_window += std::mem::take(&mut shard.value_in_window);
            self.stats.return_lines += std::mem::take(&mut shard.return_lines);
            self.first_time = self
                .first_time
                .min(std::mem::replace(&mut shard.first_time, i64::MAX));
            self.last_time = self
                .last_time
                .max(std::mem::replace(&mut shard.last_time, i64::MIN));
        }
        let period = self.options.period;
        let mut shares: Vec<Vec<(usize, &mut Part)>> =
            (0..self.threads).map(|_| Vec::new()).collect();
        for (i, part) in self.parts.iter_mut().enumerate() {
            shares[i % self.threads].push((i, part));
        }
        let shards_read: &[LedgerShard] = shards;
        let apply = move |share: Vec<(usize, &mut Part)>| {
            for (i, part) in share {
                for shard in shards_read {
                    let batch = &shard.batches[i];
                    part.apply(&batch.lines, &batch.ids, period);
                }
            }
        };
        std::thread::scope(|scope| {
            let mut shares = shares.into_iter();
            let own = shares.next().expect("at least one share");
            for share in shares {
                scope.spawn(move || apply(share));
            }
            apply(own);
        });
        for shard in shards.iter_mut() {
            for batch in &mut shard.batches {
                batch.lines.clear();
                batch.ids.clear();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sequential ids spread evenly over the partitions, and within one partition they still
    /// differ in the bits hashbrown uses for its bucket (low) and tag (top 7).
    #[test]
    fn partitions_are_even_and_leave_the_table_its_bits() {
        let ids: Vec<String> = (0..256_000).map(|i| format!("c{i:07}")).collect();
        let mut sizes = vec![0usize; PARTS];
        let mut tags = vec![std::collections::BTreeSet::new(); PARTS];
        let mut buckets = vec![std::collections::BTreeSet::new(); PARTS];
        for id in &ids {
            let hash = hash_bytes(id.as_bytes());
            let part = partition_of(hash);
            sizes[part] += 1;
            tags[part].insert(hash >> 57);
            buckets[part].insert(hash & 1023);
        }
        let mean = ids.len() / PARTS;
        assert!(sizes
            .iter()
            .all(|&n| n > mean * 8 / 10 && n < mean * 12 / 10));
        // 1,000 ids per partition: nearly all 128 tags and most of 1,024 buckets are used.
        assert!(tags.iter().all(|t| t.len() > 120), "tags");
        assert!(buckets.iter().all(|b| b.len() > 550), "buckets");
    }
}
