//! Replenishment: how long customers take to buy the same product again, and who is due.
//!
//! A product's cycle is read from the gaps between a customer's consecutive purchase days of that
//! product, pooled over customers: the median gap, with the quartiles as its spread. A product
//! needs `min_gaps` gaps before it gets a cycle (most products are bought once by most
//! customers, and a cycle from two gaps would be noise); the counts are always reported. A
//! customer's next purchase of a product is due one typical gap after their last purchase of it,
//! so a customer who already re-ordered is due again only a cycle after that re-order. The cycle
//! is the product's, pooled across customers, not each customer's own pace. Reminders are capped
//! per customer and window.

/// A product's repeat-purchase cycle, in days.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Cycle {
    pub median: f64,
    pub lower_quartile: f64,
    pub upper_quartile: f64,
    /// Gaps the estimate rests on.
    pub gaps: usize,
    /// Customers who bought the product more than once.
    pub customers: usize,
}

/// Purchases of one product by one customer: distinct days, increasing.
#[derive(Debug, Clone, Copy)]
pub struct Repeats<'a> {
    pub customer: u32,
    pub item: u32,
    pub days: &'a [i32],
}

/// Gaps pooled per item; `None` for items with fewer than `min_gaps` gaps.
pub fn cycles<'a>(
    groups: impl IntoIterator<Item = Repeats<'a>>,
    items: usize,
    min_gaps: usize,
) -> Vec<Option<Cycle>> {
    let mut gaps: Vec<Vec<i32>> = vec![Vec::new(); items];
    let mut customers = vec![0usize; items];
    for g in groups {
        if g.days.len() > 1 {
            customers[g.item as usize] += 1;
            gaps[g.item as usize].extend(g.days.windows(2).map(|w| w[1] - w[0]));
        }
    }
    gaps.into_iter()
        .zip(customers)
        .map(|(mut g, customers)| {
            if g.len() < min_gaps.max(1) {
                return None;
            }
            g.sort_unstable();
            Some(Cycle {
                median: quantile(&g, 0.5),
                lower_quartile: quantile(&g, 0.25),
                upper_quartile: quantile(&g, 0.75),
                gaps: g.len(),
                customers,
            })
        })
        .collect()
}

/// The p-quantile of sorted values, interpolating between order statistics.
fn quantile(sorted: &[i32], p: f64) -> f64 {
    let position = p * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let fraction = position - below as f64;
    sorted[below] as f64 + fraction * (sorted[above] - sorted[below]) as f64
}

/// A reminder to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Reminder {
    pub customer: u32,
    pub item: u32,
    /// Day of the last purchase of the item.
    pub last: i32,
    /// Day the next purchase is due: last + the item's median gap.
    pub due: i32,
    /// Day to send the reminder: due − lead time.
    pub remind_on: i32,
    /// Times the customer bought the item.
    pub purchases: usize,
}

/// Reminders whose send day falls in [as_of, as_of + window), for items with a cycle.
pub fn reminders<'a>(
    groups: impl IntoIterator<Item = Repeats<'a>>,
    cycles: &[Option<Cycle>],
    as_of: i32,
    window_days: i32,
    lead_days: i32,
) -> Vec<Reminder> {
    let mut out: Vec<Reminder> = groups
        .into_iter()
        .filter_map(|g| {
            let cycle = cycles.get(g.item as usize)?.as_ref()?;
            let last = *g.days.last()?;
            let due = last + cycle.median.round() as i32;
            let remind_on = due - lead_days;
            (as_of..as_of + window_days)
                .contains(&remind_on)
                .then_some(Reminder {
                    customer: g.customer,
                    item: g.item,
                    last,
                    due,
                    remind_on,
                    purchases: g.days.len(),
                })
        })
        .collect();
    out.sort_by_key(|r| (r.remind_on, r.customer, r.item));
    out
}

/// At most `per_customer` reminders for each customer in the window: those with the strongest
/// habit (most purchases of the item), then the earliest. Returns the reminders kept (in send
/// order) and how many were held back. A wholesale customer buying hundreds of products would
/// otherwise get a reminder for each of them in one window.
pub fn cap_per_customer(
    mut reminders: Vec<Reminder>,
    per_customer: usize,
) -> (Vec<Reminder>, usize) {
    let before = reminders.len();
    reminders.sort_by_key(|r| {
        (
            r.customer,
            std::cmp::Reverse(r.purchases),
            r.remind_on,
            r.item,
        )
    });
    let mut kept = 0;
    let mut previous = None;
    reminders.retain(|r| {
        if previous != Some(r.customer) {
            (previous, kept) = (Some(r.customer), 0);
        }
        kept += 1;
        kept <= per_customer
    });
    reminders.sort_by_key(|r| (r.remind_on, r.customer, r.item));
    let held_back = before - reminders.len();
    (reminders, held_back)
}

/// What a replenishment plan covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlanOptions {
    /// The day to plan from (shop-local day number).
    pub as_of_day: i32,
    /// Reminders whose send day falls in the `window_days` from `as_of_day`.
    pub window_days: i32,
    /// Remind this many days before a purchase is due.
    pub lead_days: i32,
    /// Repeat purchases a product needs before it gets a cycle.
    pub min_repeats: usize,
    /// Reminders one customer gets in the window at most (0: no cap).
    pub per_customer: usize,
}

/// Each product's cycle and the reminders due.
#[derive(Debug, Clone)]
pub struct Plan {
    pub options: PlanOptions,
    /// By SKU id; `None` for products without enough repeat purchases.
    pub cycles: Vec<Option<Cycle>>,
    pub reminders: Vec<Reminder>,
    /// Reminders due but left out by the per-customer cap.
    pub held_back: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cycles_pool_gaps_and_need_evidence() {
        let a = [0, 30, 61, 90];
        let b = [5, 33];
        let c = [7];
        let groups = [
            Repeats {
                customer: 0,
                item: 0,
                days: &a,
            },
            Repeats {
                customer: 1,
                item: 0,
                days: &b,
            },
            Repeats {
                customer: 2,
                item: 0,
                days: &c,
            },
            Repeats {
                customer: 0,
                item: 1,
                days: &b,
            },
        ];
        let got = cycles(groups, 2, 3);
        // Gaps 30, 31, 29, 28: median 29.5, quartiles 28.75 and 30.25.
        let cycle = got[0].as_ref().unwrap();
        assert_eq!((cycle.gaps, cycle.customers), (4, 2));
        assert_eq!(
            (cycle.median, cycle.lower_quartile, cycle.upper_quartile),
            (29.5, 28.75, 30.25)
        );
        assert_eq!(got[1], None, "one gap is not enough evidence");
    }

    #[test]
    fn a_customer_who_reordered_is_not_reminded_early() {
        let cycle = Some(Cycle {
            median: 30.0,
            lower_quartile: 28.0,
            upper_quartile: 32.0,
            gaps: 10,
            customers: 5,
        });
        let reordered = [0, 28];
        let waiting = [3];
        let groups = [
            Repeats {
                customer: 1,
                item: 0,
                days: &reordered,
            },
            Repeats {
                customer: 2,
                item: 0,
                days: &waiting,
            },
        ];
        // As of day 30 with a 7-day window and 3 days' lead: customer 2 is due on day 33 (remind on
        // day 30); customer 1 re-ordered on day 28, so is due on day 58.
        let got = reminders(groups, &[cycle], 30, 7, 3);
        assert_eq!(got.len(), 1);
        assert_eq!((got[0].customer, got[0].due, got[0].remind_on), (2, 33, 30));
    }
}
