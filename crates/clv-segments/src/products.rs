//! Order lines at product level, collected from the streaming reader: customers, SKUs and orders
//! interned to dense ids, one compact record per purchased line.
//!
//! Lines without a SKU, returns (negative amount or quantity) and lines after the end of
//! observation are left out of product analyses and counted. A basket is an order (by order id)
//! or, without an order id, a customer's purchases on one day.

use clv_data::line::OrderLine;
use clv_data::time::DAY;
use rustc_hash::FxHashMap;

/// One purchased product line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProductLine {
    pub customer: u32,
    pub sku: u32,
    /// Shop-local day number (days since 1970-01-01).
    pub day: i32,
    /// Interned order id, or `NO_ORDER`.
    pub order: u32,
    pub quantity: f32,
}

/// `ProductLine::order` of a line without an order id.
pub const NO_ORDER: u32 = u32::MAX;

/// Dense ids for byte strings.
#[derive(Debug, Default)]
pub struct Interner {
    index: FxHashMap<Box<[u8]>, u32>,
    names: Vec<Box<[u8]>>,
}

impl Interner {
    pub fn id(&mut self, name: &[u8]) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.into());
        self.index.insert(name.into(), i);
        i
    }

    pub fn get(&self, name: &[u8]) -> Option<u32> {
        self.index.get(name).copied()
    }

    pub fn name(&self, id: u32) -> &str {
        std::str::from_utf8(&self.names[id as usize]).unwrap_or("?")
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Collects product lines up to an end time.
#[derive(Debug, Default)]
pub struct ProductLog {
    pub customers: Interner,
    pub skus: Interner,
    orders: Interner,
    pub lines: Vec<ProductLine>,
    /// Last shop-local second included, if any.
    end: Option<i64>,
    keep_orders: bool,
    pub without_sku: u64,
    pub returns: u64,
    pub after_end: u64,
}

impl ProductLog {
    /// Lines up to `end` (inclusive; `None`: all); order ids kept only if `keep_orders` (baskets
    /// need them, replenishment does not).
    pub fn new(end: Option<i64>, keep_orders: bool) -> Self {
        ProductLog {
            end,
            keep_orders,
            ..Default::default()
        }
    }

    pub fn push(&mut self, line: &OrderLine<'_>) {
        if self.end.is_some_and(|end| line.time > end) {
            self.after_end += 1;
            return;
        }
        let Some(sku) = line.sku else {
            self.without_sku += 1;
            return;
        };
        if line.is_return() || line.quantity < 0.0 {
            self.returns += 1;
            return;
        }
        let order = match (self.keep_orders, line.order) {
            (true, Some(o)) => self.orders.id(o),
            _ => NO_ORDER,
        };
        self.lines.push(ProductLine {
            customer: self.customers.id(line.customer),
            sku: self.skus.id(sku),
            day: line.time.div_euclid(DAY) as i32,
            order,
            quantity: line.quantity as f32,
        });
    }

    /// (basket, sku) pairs: baskets by order id, or by customer and day without one.
    pub fn basket_pairs(&self) -> Vec<(u32, u32)> {
        let mut by_day: FxHashMap<(u32, i32), u32> = FxHashMap::default();
        let orders = self.orders.len() as u32;
        self.lines
            .iter()
            .map(|l| {
                let basket = if l.order != NO_ORDER {
                    l.order
                } else {
                    let next = orders + by_day.len() as u32;
                    *by_day.entry((l.customer, l.day)).or_insert(next)
                };
                (basket, l.sku)
            })
            .collect()
    }

    /// Sorts the lines by customer, SKU and day and returns each customer's distinct purchase
    /// days of each SKU.
    pub fn repeats(&mut self) -> Vec<(u32, u32, Vec<i32>)> {
        self.lines
            .sort_unstable_by_key(|l| (l.customer, l.sku, l.day));
        let mut out: Vec<(u32, u32, Vec<i32>)> = Vec::new();
        for l in &self.lines {
            match out.last_mut() {
                Some((c, s, days)) if *c == l.customer && *s == l.sku => {
                    if days.last() != Some(&l.day) {
                        days.push(l.day);
                    }
                }
                _ => out.push((l.customer, l.sku, vec![l.day])),
            }
        }
        out
    }
}
