//! Order lines at product level, collected from the streaming reader: customers, SKUs and orders
//! interned to dense ids, one compact record per purchased line.
//!
//! Lines without a SKU, returns (negative amount or quantity) and lines after the end of
//! observation are left out of product analyses and counted. A basket is an order (by order id)
//! or, without an order id, a customer's purchases on one day.

use crate::replenish::{self, Plan, PlanOptions};
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

    /// A text column of the names of `ids`, borrowed from the interner.
    pub fn names<'a>(&'a self, ids: impl IntoIterator<Item = u32>) -> clv_data::Values<'a> {
        clv_data::Values::Text(
            ids.into_iter()
                .map(|i| std::borrow::Cow::Borrowed(self.name(i)))
                .collect(),
        )
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// Renumber the ids in name order; returns each old id's new id.
    fn sort(&mut self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.names.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| self.names[a as usize].cmp(&self.names[b as usize]));
        let mut new_of = vec![0; order.len()];
        for (new, &old) in order.iter().enumerate() {
            new_of[old as usize] = new as u32;
        }
        let mut names: Vec<Option<Box<[u8]>>> = self.names.drain(..).map(Some).collect();
        self.names = order
            .iter()
            .map(|&old| names[old as usize].take().expect("each id once"))
            .collect();
        for (name, id) in self.index.iter_mut() {
            *id = new_of[*id as usize];
            debug_assert_eq!(&self.names[*id as usize], name);
        }
        new_of
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
    /// The previous line's customer: lines of one order come together, so most lookups repeat it.
    last_customer: (Vec<u8>, u32),
    /// Each SKU's description (the first non-empty one read), by SKU id.
    descriptions: Vec<Option<Box<str>>>,
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

    /// Number customers, products and orders in name order, so that every result, ties
    /// included, is the same whatever order the lines were read in (a file, or rows from a
    /// database). Call once every line is in.
    pub fn sort_ids(&mut self) {
        let customers = self.customers.sort();
        let skus = self.skus.sort();
        let orders = self.orders.sort();
        for line in &mut self.lines {
            line.customer = customers[line.customer as usize];
            line.sku = skus[line.sku as usize];
            if line.order != NO_ORDER {
                line.order = orders[line.order as usize];
            }
        }
        let mut descriptions = vec![None; self.descriptions.len()];
        for (old, d) in self.descriptions.drain(..).enumerate() {
            descriptions[skus[old] as usize] = d;
        }
        self.descriptions = descriptions;
        self.last_customer = Default::default();
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
        let customer = if !self.customers.is_empty() && self.last_customer.0 == line.customer {
            self.last_customer.1
        } else {
            let id = self.customers.id(line.customer);
            self.last_customer.0.clear();
            self.last_customer.0.extend_from_slice(line.customer);
            self.last_customer.1 = id;
            id
        };
        let sku = self.skus.id(sku);
        if sku as usize == self.descriptions.len() {
            self.descriptions.push(None);
        }
        if let (None, Some(d)) = (&self.descriptions[sku as usize], line.description) {
            self.descriptions[sku as usize] = Some(String::from_utf8_lossy(d).into());
        }
        self.lines.push(ProductLine {
            customer,
            sku,
            day: line.time.div_euclid(DAY) as i32,
            order,
            quantity: line.quantity as f32,
        });
    }

    /// The description read for `sku`, if any.
    pub fn description(&self, sku: u32) -> Option<&str> {
        self.descriptions.get(sku as usize)?.as_deref()
    }

    /// True when the file had a description column with values.
    pub fn has_descriptions(&self) -> bool {
        self.descriptions.iter().any(Option::is_some)
    }

    /// `sku` for people: its id, and its description in parentheses when there is one.
    pub fn label(&self, sku: u32) -> String {
        match self.description(sku) {
            Some(d) => format!("{} ({d})", self.skus.name(sku)),
            None => self.skus.name(sku).to_string(),
        }
    }

    /// A text column of the descriptions of `ids` (empty where a SKU has none).
    pub fn descriptions<'a>(&'a self, ids: impl IntoIterator<Item = u32>) -> clv_data::Values<'a> {
        let text = ids
            .into_iter()
            .map(|i| std::borrow::Cow::Borrowed(self.description(i).unwrap_or("")));
        clv_data::Values::Text(text.collect())
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

    /// The replenishment plan of these lines: each product's cycle and the reminders due.
    pub fn replenishment(&self, options: PlanOptions) -> Plan {
        let repeats = self.repeats();
        let cycles = replenish::cycles(repeats.iter(), self.skus.len(), options.min_repeats);
        let reminders = replenish::reminders(
            repeats.iter(),
            &cycles,
            options.as_of_day,
            options.window_days,
            options.lead_days,
        );
        let (reminders, held_back) = match options.per_customer {
            0 => (reminders, 0),
            cap => replenish::cap_per_customer(reminders, cap),
        };
        Plan {
            options,
            cycles,
            reminders,
            held_back,
        }
    }

    /// Each customer's distinct purchase days of each SKU, in one flat allocation (millions of
    /// small groups would otherwise be millions of small vectors).
    pub fn repeats(&self) -> RepeatTable {
        let mut keys: Vec<(u64, i32)> = self
            .lines
            .iter()
            .map(|l| (((l.customer as u64) << 32) | l.sku as u64, l.day))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let mut groups = Vec::new();
        let mut days = Vec::with_capacity(keys.len());
        for (k, &(key, day)) in keys.iter().enumerate() {
            if k == 0 || keys[k - 1].0 != key {
                groups.push(((key >> 32) as u32, key as u32, days.len() as u32));
            }
            days.push(day);
        }
        RepeatTable { groups, days }
    }
}

/// Distinct purchase days per (customer, SKU): group g holds `days[start_g..start_{g+1}]`.
#[derive(Debug, Clone, Default)]
pub struct RepeatTable {
    /// (customer, SKU, first index into `days`), sorted by customer then SKU.
    groups: Vec<(u32, u32, u32)>,
    days: Vec<i32>,
}

impl RepeatTable {
    /// Each customer's purchase days of each SKU, as the replenishment analysis takes them.
    pub fn iter(&self) -> impl Iterator<Item = crate::replenish::Repeats<'_>> + '_ {
        self.groups
            .iter()
            .enumerate()
            .map(|(g, &(customer, item, start))| {
                let end = self
                    .groups
                    .get(g + 1)
                    .map_or(self.days.len(), |next| next.2 as usize);
                crate::replenish::Repeats {
                    customer,
                    item,
                    days: &self.days[start as usize..end],
                }
            })
    }
}
