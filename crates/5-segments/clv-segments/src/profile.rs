//! One customer's profile: history, the usual gap between purchases, segment, tier, predictions
//! with intervals and favourite products.

use crate::products::ProductLog;
use crate::rfm::{RfmScore, SegmentRule};
use crate::tiers::tier_name;
use crate::valued::Valued;
use clv_data::time::DAY;
use clv_score::Bounded;
use clv_summary::{Histories, PurchasePeriod};
use std::collections::{BTreeMap, BTreeSet};

/// The gaps in days between a customer's purchase days.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Gaps {
    pub median: f64,
    pub shortest: i64,
    pub longest: i64,
    pub count: usize,
}

/// A prediction with its interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Predicted {
    pub value: f64,
    pub interval: Option<(f32, f32)>,
}

/// What the models predict for the customer.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    pub p_alive: Predicted,
    pub expected_purchases: Predicted,
    /// None without a spend model.
    pub expected_spend: Option<Predicted>,
    pub predicted_clv: Option<Predicted>,
    /// The median wait's date if still active (none: not expected), and P(an order by then).
    pub next_order: Option<i64>,
    pub next_order_probability: f64,
}

/// One customer, everything clv knows about them.
#[derive(Debug, Clone)]
pub struct Profile<'a> {
    pub customer_id: &'a str,
    /// The day the profile is as of (the end of the data's window).
    pub as_of: i64,
    pub first_purchase: i64,
    pub last_purchase: i64,
    pub recency_days: f64,
    pub orders: u64,
    pub purchase_days: u64,
    pub revenue: f64,
    /// None with a single purchase day.
    pub gaps: Option<Gaps>,
    pub score: RfmScore,
    pub segment: &'a SegmentRule,
    pub tier: String,
    pub predictions: Predictions,
    /// Up to five (product, units, purchase days), most days first; `None` when the customer
    /// has no product lines.
    pub favourites: Option<Vec<(String, f64, usize)>>,
    /// Purchase periods, most recent first.
    pub purchases: Vec<PurchasePeriod>,
}

/// Why there is no profile.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("the profile's predictions need the purchase and spend models: {0}")]
    NoValuation(String),
    #[error("no customer `{id}` with a purchase up to {end} (ids look like `{example}`)")]
    Unknown {
        id: String,
        end: String,
        example: String,
    },
}

fn predicted(b: &Bounded, i: usize) -> Predicted {
    Predicted {
        value: b.value[i],
        interval: b.lower.get(i).copied().zip(b.upper.get(i).copied()),
    }
}

fn gaps(periods: &[PurchasePeriod]) -> Option<Gaps> {
    let mut gaps: Vec<i64> = periods
        .windows(2)
        .map(|w| (w[1].time - w[0].time) / DAY)
        .collect();
    gaps.sort_unstable();
    let k = gaps.len();
    (k > 0).then(|| Gaps {
        median: if k % 2 == 1 {
            gaps[k / 2] as f64
        } else {
            (gaps[k / 2 - 1] + gaps[k / 2]) as f64 / 2.0
        },
        shortest: gaps[0],
        longest: gaps[k - 1],
        count: k,
    })
}

fn favourites(products: &ProductLog, id: &str) -> Option<Vec<(String, f64, usize)>> {
    let c = products.customers.get(id.as_bytes())?;
    let mut by_sku: BTreeMap<u32, (f64, BTreeSet<i32>)> = BTreeMap::new();
    for l in products.lines.iter().filter(|l| l.customer == c) {
        let e = by_sku.entry(l.sku).or_default();
        e.0 += l.quantity as f64;
        e.1.insert(l.day);
    }
    let mut list: Vec<(u32, f64, usize)> = by_sku
        .into_iter()
        .map(|(k, (u, d))| (k, u, d.len()))
        .collect();
    list.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.total_cmp(&a.1)));
    Some(
        list.into_iter()
            .take(5)
            .map(|(k, units, days)| (products.label(k), units, days))
            .collect(),
    )
}

/// The profile of customer `id`.
pub fn profile<'a>(
    v: &'a Valued<'a>,
    histories: &'a Histories,
    products: &'a ProductLog,
    id: &str,
) -> Result<Profile<'a>, ProfileError> {
    let scored = v
        .scored
        .as_ref()
        .map_err(|e| ProfileError::NoValuation(e.to_string()))?;
    let Some(i) = v.rows.iter().position(|r| r.customer_id == id) else {
        return Err(ProfileError::Unknown {
            id: id.to_string(),
            end: clv_data::time::format_date(histories.main_end()),
            example: v.rows.first().map_or("", |r| r.customer_id).to_string(),
        });
    };
    let r = &v.rows[i];
    let history = histories.get(i);
    let c = &scored.columns;
    Ok(Profile {
        customer_id: r.customer_id,
        as_of: histories.main_end(),
        first_purchase: r.first_purchase,
        last_purchase: r.last_purchase,
        recency_days: v.recency_days[i],
        orders: r.orders,
        purchase_days: r.frequency + 1,
        revenue: r.revenue,
        gaps: gaps(history.main.periods),
        score: v.scores[i],
        segment: &v.rules[v.segment[i]],
        tier: v
            .tier
            .get(i)
            .map_or("none (no predicted CLV)".into(), |&k| {
                tier_name(&v.cutoffs, k)
            }),
        predictions: Predictions {
            p_alive: predicted(&c.p_alive, i),
            expected_purchases: predicted(&c.expected_purchases, i),
            expected_spend: c.with_value.then(|| predicted(&c.expected_spend, i)),
            predicted_clv: c.with_value.then(|| predicted(&c.predicted_clv, i)),
            next_order: c.next_order_date[0][i],
            next_order_probability: c.next_order_probability[i],
        },
        favourites: favourites(products, r.customer_id),
        purchases: history.main.periods.iter().rev().copied().collect(),
    })
}
