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
    id_end: usize,
    /// Which partition's period arena the windows point into.
    part: u32,
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
    ids: String,
    customers: Vec<CustomerSlot>,
    /// Purchase periods, one arena per ledger partition (merging customers into id order does
    /// not move them).
    periods: Vec<Vec<PurchasePeriod>>,
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
        self.customers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.customers.is_empty()
    }

    fn window(&self, part: u32, slot: &WindowSlot) -> WindowHistory<'_> {
        let arena = &self.periods[part as usize];
        WindowHistory {
            periods: &arena[slot.start as usize..(slot.start + slot.len) as usize],
            revenue: slot.revenue,
            orders: slot.orders,
        }
    }

    /// Customer `i` (in id order).
    pub fn get(&self, i: usize) -> CustomerHistory<'_> {
        let c = &self.customers[i];
        let start = if i == 0 {
            0
        } else {
            self.customers[i - 1].id_end
        };
        CustomerHistory {
            id: &self.ids[start..c.id_end],
            main: self.window(c.part, &c.main),
            holdout: self
                .calibration_end
                .map(|_| self.window(c.part, &c.holdout)),
        }
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = CustomerHistory<'_>> + '_ {
        (0..self.customers.len()).map(|i| self.get(i))
    }
}

/// A customer's hash-table slot. It carries the first 8 bytes and the length of the id, so most
/// lookups compare ids without touching the id arena, and the customer's latest entry, so a line
/// costs one table probe and one entry access (the two cache misses that dominate reading).
#[derive(Debug, Clone, Copy)]
struct Slot {
    prefix: u64,
    customer: u32,
    last: u32,
    len: u32,
    /// Period index of the latest entry (truncated to 32 bits; only compared for equality).
    last_period: u32,
}

fn id_prefix(id: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = id.len().min(8);
    buf[..n].copy_from_slice(&id[..n]);
    u64::from_le_bytes(buf)
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
            && (len <= 8 || id_at(bytes, ends, s.customer as usize) == customer)
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
    hash: u64,
    id_start: u32,
    id_len: u32,
    time: i64,
    value: f64,
    order: u64,
    holdout: bool,
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
struct PartHistories {
    ids: Vec<u8>,
    keys: Vec<(bool, u128)>,
    customers: Vec<CustomerSlot>,
    periods: Vec<PurchasePeriod>,
    stats: LedgerStats,
}

const PARTS: usize = 256;
const FLUSH_AT: usize = 1024;

impl Part {
    fn apply(&mut self, pending: &[Pending], pending_ids: &[u8], period: Period) {
        for p in pending {
            let id = &pending_ids[p.id_start as usize..(p.id_start + p.id_len) as usize];
            let slot = slot(
                &mut self.index,
                &mut self.id_bytes,
                &mut self.id_ends,
                p.hash,
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
                    && e.holdout() == p.holdout
                    && !e.is_return()
                    && e.order == p.order
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
                prev: last,
                orders_and_window: u32::from(!is_return) | if p.holdout { HOLDOUT } else { 0 },
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
        let mut ids = Vec::with_capacity(self.id_bytes.len());
        let mut keys = Vec::with_capacity(order.len());
        let mut customers = Vec::with_capacity(order.len());
        let mut periods = Vec::with_capacity(self.entries.len());
        let mut scratch: Vec<Entry> = Vec::new();
        let mut netting = Netting::default();
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
            scratch.sort_by_key(|e| e.time);
            // Main-window lines are dated up to the calibration end and holdout lines after it,
            // so time order puts every main line first.
            let split = scratch.partition_point(|e| !e.holdout());
            let main = netting.net(&scratch[..split], period, &mut periods, &mut stats);
            let holdout = netting.net(&scratch[split..], period, &mut periods, &mut stats);
            if main.len == 0 {
                periods.truncate(main.start as usize);
                if holdout.len > 0 {
                    stats.customers_first_seen_in_holdout += 1;
                } else {
                    stats.customers_without_purchase += 1;
                }
                continue;
            }
            ids.extend_from_slice(id_at(&self.id_bytes, &self.id_ends, i));
            keys.push(key);
            customers.push(CustomerSlot {
                id_end: ids.len(),
                part: 0,
                main,
                holdout,
            });
        }
        PartHistories {
            ids,
            keys,
            customers,
            periods,
            stats,
        }
    }
}

/// Lines of one partition, on their way to the worker that owns it.
struct Batch {
    part: usize,
    lines: Vec<Pending>,
    ids: Vec<u8>,
}

/// Owns a share of the partitions and applies batches to them.
struct Worker {
    batches: std::sync::mpsc::SyncSender<Batch>,
    empties: std::sync::mpsc::Receiver<Batch>,
    handle: std::thread::JoinHandle<Vec<(usize, Part)>>,
}

impl Worker {
    fn spawn(parts: Vec<(usize, Part)>, period: Period) -> Worker {
        let (batches, inbox) = std::sync::mpsc::sync_channel::<Batch>(PARTS / 4);
        let (give_back, empties) = std::sync::mpsc::channel::<Batch>();
        let handle = std::thread::spawn(move || {
            let mut parts = parts;
            for mut batch in inbox {
                let (_, part) = parts
                    .iter_mut()
                    .find(|(i, _)| *i == batch.part)
                    .expect("batch sent to the partition's owner");
                part.apply(&batch.lines, &batch.ids, period);
                batch.lines.clear();
                batch.ids.clear();
                // The reader may be gone already; then the buffer is simply dropped.
                let _ = give_back.send(batch);
            }
            parts
        });
        Worker {
            batches,
            empties,
            handle,
        }
    }
}

/// Accumulates order lines per customer.
///
/// The caller's thread only hashes each line and appends it to its partition's buffer; full
/// buffers go to worker threads (one per spare core) that own the partitions, so reading and
/// aggregating overlap.
pub struct Ledger {
    options: LedgerOptions,
    /// Per partition: lines not yet sent.
    buffers: Vec<Batch>,
    workers: Vec<Worker>,
    stats: LedgerStats,
    first_time: i64,
    last_time: i64,
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
        let spare = std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1));
        let count = spare.clamp(1, PARTS);
        let mut shares: Vec<Vec<(usize, Part)>> = (0..count).map(|_| Vec::new()).collect();
        for i in 0..PARTS {
            shares[i % count].push((i, Part::default()));
        }
        Ledger {
            options,
            buffers: (0..PARTS)
                .map(|part| Batch {
                    part,
                    lines: Vec::with_capacity(FLUSH_AT),
                    ids: Vec::new(),
                })
                .collect(),
            workers: shares
                .into_iter()
                .map(|share| Worker::spawn(share, options.period))
                .collect(),
            stats: LedgerStats::default(),
            first_time: i64::MAX,
            last_time: i64::MIN,
        }
    }

    /// Hand partition `part`'s buffer to its worker, taking a recycled one in its place.
    fn send(&mut self, part: usize) {
        let worker = &self.workers[part % self.workers.len()];
        let replacement = match worker.empties.try_recv() {
            Ok(mut b) => {
                b.part = part;
                b
            }
            Err(_) => Batch {
                part,
                lines: Vec::with_capacity(FLUSH_AT),
                ids: Vec::new(),
            },
        };
        let full = std::mem::replace(&mut self.buffers[part], replacement);
        worker
            .batches
            .send(full)
            .expect("ledger worker stopped unexpectedly");
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
        self.stats.return_lines += u64::from(line.is_return());
        let hash = hash_bytes(line.customer);
        // FxHash mixes into the high bits, so they pick the partition; the table uses the rest.
        let part = (hash >> (64 - PARTS.trailing_zeros())) as usize;
        let buffer = &mut self.buffers[part];
        buffer.lines.push(Pending {
            hash,
            id_start: buffer.ids.len() as u32,
            id_len: line.customer.len() as u32,
            time: line.time,
            value: line.value,
            order: line.order.map_or(0, |o| hash_bytes(o).max(1)),
            holdout: self.options.calibration_end.is_some_and(|c| line.time > c),
        });
        buffer.ids.extend_from_slice(line.customer);
        if buffer.lines.len() >= FLUSH_AT {
            self.send(part);
        }
    }

    /// Net returns and close the books. `None` when no line was accepted. Partitions finish on
    /// all available cores, then merge in customer-id order.
    pub fn finish(mut self) -> Option<Histories> {
        let period = self.options.period;
        for part in 0..PARTS {
            if !self.buffers[part].lines.is_empty() {
                self.send(part);
            }
        }
        let mut all_parts: Vec<(usize, Part)> = Vec::with_capacity(PARTS);
        for worker in std::mem::take(&mut self.workers) {
            drop(worker.batches);
            all_parts.extend(worker.handle.join().expect("ledger worker panicked"));
        }
        if all_parts.iter().all(|(_, p)| p.id_ends.is_empty()) {
            return None;
        }
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(PARTS);
        let mut queues: Vec<Vec<(usize, Part)>> = (0..workers).map(|_| Vec::new()).collect();
        for (k, entry) in all_parts.into_iter().enumerate() {
            queues[k % workers].push(entry);
        }
        let mut finished: Vec<(usize, PartHistories)> = std::thread::scope(|scope| {
            let handles: Vec<_> = queues
                .into_iter()
                .map(|queue| {
                    scope.spawn(move || {
                        queue
                            .into_iter()
                            .map(|(i, part)| (i, part.finish(period)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("partition worker panicked"))
                .collect()
        });
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
        }
        let (ids, customers) = merge_parts(&parts);
        let periods = parts.into_iter().map(|p| p.periods).collect();
        Some(Histories {
            ids,
            customers,
            periods,
            period,
            observation_end: self.options.observation_end.unwrap_or(self.last_time),
            calibration_end: self.options.calibration_end,
            first_time: self.first_time,
            stats,
        })
    }
}

/// K-way merge of the partitions' id-sorted customers into one id-sorted arena.
fn merge_parts(parts: &[PartHistories]) -> (String, Vec<CustomerSlot>) {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    let total: usize = parts.iter().map(|p| p.customers.len()).sum();
    let mut ids = Vec::with_capacity(parts.iter().map(|p| p.ids.len()).sum());
    let mut customers = Vec::with_capacity(total);
    fn id_of(p: &PartHistories, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { p.customers[i - 1].id_end };
        &p.ids[start..p.customers[i].id_end]
    }
    /// Sort key, full id (for ties), partition, position in the partition.
    type Head<'a> = Reverse<((bool, u128), &'a [u8], usize, usize)>;
    let mut heap: BinaryHeap<Head<'_>> = parts
        .iter()
        .enumerate()
        .filter(|(_, p)| !p.customers.is_empty())
        .map(|(k, p)| Reverse((p.keys[0], id_of(p, 0), k, 0)))
        .collect();
    while let Some(Reverse((_, id, k, i))) = heap.pop() {
        let p = &parts[k];
        ids.extend_from_slice(id);
        customers.push(CustomerSlot {
            id_end: ids.len(),
            part: k as u32,
            ..p.customers[i]
        });
        if i + 1 < p.customers.len() {
            heap.push(Reverse((p.keys[i + 1], id_of(p, i + 1), k, i + 1)));
        }
    }
    let ids = match String::from_utf8(ids) {
        Ok(text) => text,
        Err(e) => {
            // Rare: some ids are not UTF-8. Rebuild the arena with replacement characters.
            let bytes = e.into_bytes();
            let mut text = String::with_capacity(bytes.len());
            let mut start = 0;
            for c in &mut customers {
                text.push_str(&String::from_utf8_lossy(&bytes[start..c.id_end]));
                start = c.id_end;
                c.id_end = text.len();
            }
            text
        }
    };
    (ids, customers)
}

/// Customer indices in output order: numeric ids as numbers first, then the rest as bytes.
/// Sorting on a packed (class, number-or-16-byte-prefix) key keeps the id arena out of almost
/// every comparison.
fn sorted_ids(bytes: &[u8], ends: &[usize]) -> Vec<((bool, u128), usize)> {
    let key = |id: &[u8]| -> (bool, u128) {
        if !id.is_empty() && id.len() <= 38 && id.iter().all(u8::is_ascii_digit) {
            (
                false,
                id.iter().fold(0u128, |n, d| n * 10 + (d - b'0') as u128),
            )
        } else {
            let mut buf = [0u8; 16];
            let n = id.len().min(16);
            buf[..n].copy_from_slice(&id[..n]);
            (true, u128::from_be_bytes(buf))
        }
    };
    let mut keyed: Vec<(bool, u128, usize)> = (0..ends.len())
        .map(|i| {
            let (class, k) = key(id_at(bytes, ends, i));
            (class, k, i)
        })
        .collect();
    keyed.sort_unstable_by(|a, b| {
        (a.0, a.1)
            .cmp(&(b.0, b.1))
            .then_with(|| id_at(bytes, ends, a.2).cmp(id_at(bytes, ends, b.2)))
    });
    keyed.into_iter().map(|(c, k, i)| ((c, k), i)).collect()
}

/// Reusable buffers for netting one window at a time.
#[derive(Default)]
struct Netting {
    purchases: Vec<(Entry, bool)>,
    orders: Vec<u64>,
}

impl Netting {
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
        self.purchases.clear();
        self.purchases.extend(
            entries
                .iter()
                .filter(|e| !e.is_return())
                .map(|e| (*e, false)),
        );
        let purchases = &mut self.purchases;
        for r in entries.iter().filter(|e| e.is_return()) {
            let target = if r.order != 0 {
                let found = purchases.iter().position(|(p, _)| p.order == r.order);
                stats.returns_matched_by_order += u64::from(found.is_some());
                found
            } else {
                let found = purchases.iter().rposition(|(p, _)| p.time <= r.time);
                stats.returns_matched_by_date += u64::from(found.is_some());
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
        let mut k = 0;
        while k < purchases.len() {
            let idx = period.index(purchases[k].0.time);
            let mut value = 0.0;
            let mut refunded = false;
            let time = purchases[k].0.time;
            while k < purchases.len() && period.index(purchases[k].0.time) == idx {
                value += purchases[k].0.value;
                refunded |= purchases[k].1;
                k += 1;
            }
            // Policy: a period is a purchase when its net value is positive, or zero with no
            // refund in it (a free order). Refunds that cancel a period cancel the purchase.
            if value > 0.0 || (value == 0.0 && !refunded) {
                periods.push(PurchasePeriod { time, value });
            } else {
                stats.periods_cancelled_by_returns += 1;
            }
        }
        WindowSlot {
            start,
            len: periods.len() as u32 - start,
            revenue,
            orders,
        }
    }
}
