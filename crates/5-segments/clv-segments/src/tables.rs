//! The result tables of the segment and product analyses, with the column names clv writes to
//! CSV, JSON and Parquet (and shows on the terminal): one place, whichever front end asks.

use crate::basket::{Frequent, Itemset, Rule, Suggestion};
use crate::products::ProductLog;
use crate::replenish::{Cycle, Reminder};
use crate::tiers::tier_name;
use crate::valued::Valued;
use clv_data::time::DAY;
use clv_data::{Table, Values};
use std::borrow::Cow;

/// One row per segment present: size, shares, order value, recency and what to do.
pub fn segment_summary(v: &Valued<'_>) -> Table<'static> {
    let n = v.rows.len() as f64;
    let totals = v.segment_totals();
    let revenue: f64 = v.rows.iter().map(|r| r.revenue).sum();
    let present: Vec<usize> = (0..v.rules.len())
        .filter(|&k| totals[k].customers > 0)
        .collect();
    let per = |f: &dyn Fn(usize) -> f64| Values::Float(present.iter().map(|&k| f(k)).collect());
    let t = Table::new()
        .with(
            "segment",
            Values::text(
                present
                    .iter()
                    .map(|&k| v.rules[k].segment.clone())
                    .collect(),
            ),
        )
        .with(
            "customers",
            Values::Int(
                present
                    .iter()
                    .map(|&k| totals[k].customers as i64)
                    .collect(),
            ),
        )
        .with("share_%", per(&|k| 100.0 * totals[k].customers as f64 / n))
        .with(
            "revenue_share_%",
            per(&|k| 100.0 * totals[k].revenue / revenue),
        )
        .with(
            "avg_order_value",
            per(&|k| totals[k].revenue / totals[k].orders as f64),
        )
        .with(
            "avg_recency_days",
            per(&|k| totals[k].recency_days / totals[k].customers as f64),
        );
    // The model's view beside RFM's, so a segment and its P(alive) can be read together.
    let t = match v.p_alive().is_empty() {
        true => t,
        false => t.with(
            "mean_p_alive",
            per(&|k| totals[k].p_alive / totals[k].customers as f64),
        ),
    };
    t.with(
        "what_to_do",
        Values::text(present.iter().map(|&k| v.rules[k].action.clone()).collect()),
    )
}

/// One row per value tier: customers, share of predicted CLV, lowest predicted CLV in it.
pub fn tier_summary(v: &Valued<'_>) -> Table<'static> {
    let predicted = v.predicted_clv();
    let total: f64 = predicted.iter().sum();
    let tiers: Vec<usize> = (0..=v.cutoffs.len()).collect();
    let in_tier = |k: usize| (0..predicted.len()).filter(move |&i| v.tier[i] == k);
    Table::new()
        .with(
            "tier",
            Values::text(tiers.iter().map(|&k| tier_name(&v.cutoffs, k)).collect()),
        )
        .with(
            "customers",
            Values::Int(tiers.iter().map(|&k| in_tier(k).count() as i64).collect()),
        )
        .with(
            "predicted_clv_share_%",
            Values::Float(
                tiers
                    .iter()
                    .map(|&k| 100.0 * in_tier(k).map(|i| predicted[i]).sum::<f64>() / total)
                    .collect(),
            ),
        )
        .with(
            "min_predicted_clv",
            Values::Float(
                tiers
                    .iter()
                    .map(|&k| {
                        in_tier(k)
                            .map(|i| predicted[i])
                            .fold(f64::INFINITY, f64::min)
                    })
                    .map(|m| if m.is_finite() { m } else { 0.0 })
                    .collect(),
            ),
        )
}

/// The `shown` valuable customers at risk ((customer, value at risk), from
/// [`Valued::at_risk`]): segment, P(alive), CLV if active, value at risk, history.
pub fn at_risk_table<'h>(v: &Valued<'h>, shown: &[(usize, f64)]) -> Table<'h> {
    let p_alive = v.p_alive();
    Table::new()
        .with(
            "customer_id",
            Values::Text(
                shown
                    .iter()
                    .map(|&(i, _)| Cow::Borrowed(v.rows[i].customer_id))
                    .collect(),
            ),
        )
        .with(
            "segment",
            Values::text(
                shown
                    .iter()
                    .map(|&(i, _)| v.segment_name(i).to_string())
                    .collect(),
            ),
        )
        .with(
            "p_alive",
            Values::Float(shown.iter().map(|&(i, _)| p_alive[i]).collect()),
        )
        .with(
            "clv_if_active",
            Values::Float(shown.iter().map(|&(i, _)| v.clv_if_active(i)).collect()),
        )
        .with(
            "value_at_risk",
            Values::Float(shown.iter().map(|&(_, r)| r).collect()),
        )
        .with(
            "historic_clv",
            Values::money(shown.iter().map(|&(i, _)| v.rows[i].revenue).collect()),
        )
        .with(
            "last_purchase",
            Values::Date(
                shown
                    .iter()
                    .map(|&(i, _)| v.rows[i].last_purchase)
                    .collect(),
            ),
        )
}

/// One row per customer: RFM inputs and scores, segment and, with a valuation, P(alive),
/// predicted CLV and tier.
pub fn per_customer<'h>(v: &Valued<'h>) -> Table<'h> {
    let rows = &v.rows;
    let score = |f: fn(&crate::rfm::RfmScore) -> u8| {
        Values::Int(v.scores.iter().map(|s| f(s) as i64).collect())
    };
    let table = Table::new()
        .with(
            "customer_id",
            Values::Text(rows.iter().map(|r| Cow::Borrowed(r.customer_id)).collect()),
        )
        .with("recency_days", Values::Float(v.recency_days.clone()))
        .with(
            "frequency",
            Values::Int(rows.iter().map(|r| r.frequency as i64 + 1).collect()),
        )
        .with(
            "monetary",
            Values::money(rows.iter().map(|r| r.revenue).collect()),
        )
        .with("r_score", score(|s| s.r))
        .with("f_score", score(|s| s.f))
        .with("m_score", score(|s| s.m))
        .with(
            "rfm",
            Values::text(
                v.scores
                    .iter()
                    .map(|s| format!("{}{}{}", s.r, s.f, s.m))
                    .collect(),
            ),
        )
        .with(
            "segment",
            Values::Text(
                (0..rows.len())
                    .map(|i| Cow::Owned(v.segment_name(i).to_string()))
                    .collect(),
            ),
        );
    if v.scored.is_err() {
        return table;
    }
    let table = table.with("p_alive", Values::Float(v.p_alive().to_vec()));
    if v.predicted_clv().is_empty() {
        return table;
    }
    table
        .with("predicted_clv", Values::Float(v.predicted_clv().to_vec()))
        .with(
            "tier",
            Values::text(v.tier.iter().map(|&k| tier_name(&v.cutoffs, k)).collect()),
        )
}

/// `table` with a `description` column of `ids` when the file had descriptions.
fn with_descriptions<'p>(
    table: Table<'p>,
    name: &'static str,
    products: &'p ProductLog,
    ids: impl IntoIterator<Item = u32>,
) -> Table<'p> {
    match products.has_descriptions() {
        true => table.with(name, products.descriptions(ids)),
        false => table,
    }
}

/// Each product's repeat-purchase cycle, for products `skus` (which all have one).
pub fn cycle_table<'p>(
    products: &'p ProductLog,
    cycles: &[Option<Cycle>],
    skus: &[usize],
) -> Table<'p> {
    let c = |k: usize| cycles[k].as_ref().expect("a product with a cycle");
    let per = |f: &dyn Fn(&Cycle) -> f64| Values::Float(skus.iter().map(|&k| f(c(k))).collect());
    let ids = || skus.iter().map(|&k| k as u32);
    let t = Table::new().with("sku", products.skus.names(ids()));
    with_descriptions(t, "description", products, ids())
        .with("median_gap_days", per(&|c| c.median))
        .with("lower_quartile_days", per(&|c| c.lower_quartile))
        .with("upper_quartile_days", per(&|c| c.upper_quartile))
        .with(
            "repeat_purchases",
            Values::Int(skus.iter().map(|&k| c(k).gaps as i64).collect()),
        )
        .with(
            "customers",
            Values::Int(skus.iter().map(|&k| c(k).customers as i64).collect()),
        )
}

/// The products with a cycle, most evidence (repeat purchases) first.
pub fn by_evidence(cycles: &[Option<Cycle>]) -> Vec<usize> {
    let mut with_cycle: Vec<usize> = (0..cycles.len()).filter(|&k| cycles[k].is_some()).collect();
    with_cycle.sort_by_key(|&k| std::cmp::Reverse(cycles[k].as_ref().map_or(0, |c| c.gaps)));
    with_cycle
}

/// The replenishment reminders due, with each product's typical gap.
pub fn reminder_table<'p>(
    products: &'p ProductLog,
    cycles: &[Option<Cycle>],
    reminders: &[Reminder],
) -> Table<'p> {
    let date = |d: i32| d as i64 * DAY;
    let t = Table::new()
        .with(
            "customer_id",
            products
                .customers
                .names(reminders.iter().map(|r| r.customer)),
        )
        .with("sku", products.skus.names(reminders.iter().map(|r| r.item)));
    with_descriptions(t, "description", products, reminders.iter().map(|r| r.item))
        .with(
            "purchases",
            Values::Int(reminders.iter().map(|r| r.purchases as i64).collect()),
        )
        .with(
            "last_purchase",
            Values::Date(reminders.iter().map(|r| date(r.last)).collect()),
        )
        .with(
            "typical_gap_days",
            Values::Float(
                reminders
                    .iter()
                    .map(|r| cycles[r.item as usize].as_ref().map_or(0.0, |c| c.median))
                    .collect(),
            ),
        )
        .with(
            "due",
            Values::Date(reminders.iter().map(|r| date(r.due)).collect()),
        )
        .with(
            "remind_on",
            Values::Date(reminders.iter().map(|r| date(r.remind_on)).collect()),
        )
}

/// Products joined with " + ".
pub fn product_names(products: &ProductLog, items: &[u32]) -> String {
    items
        .iter()
        .map(|&i| products.skus.name(i))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// Products for people (SKU and description) joined with " + ".
pub fn product_labels(products: &ProductLog, items: &[u32]) -> String {
    items
        .iter()
        .map(|&i| products.label(i))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// `table` with a column of each row's product descriptions when the file had descriptions.
fn with_set_descriptions<'t, 's>(
    table: Table<'t>,
    name: &'static str,
    products: &ProductLog,
    sets: impl Iterator<Item = &'s [u32]>,
) -> Table<'t> {
    if !products.has_descriptions() {
        return table;
    }
    let text = sets.map(|items| {
        let each = items.iter().map(|&i| products.description(i).unwrap_or(""));
        each.collect::<Vec<_>>().join(" + ")
    });
    table.with(name, Values::text(text.collect()))
}

/// Association rules with their supports, confidence and lift.
pub fn rules_table(products: &ProductLog, rules: &[Rule]) -> Table<'static> {
    let per = |f: &dyn Fn(&Rule) -> f64| Values::Float(rules.iter().map(f).collect());
    let t = Table::new()
        .with(
            "antecedent",
            Values::text(
                rules
                    .iter()
                    .map(|r| product_names(products, &r.antecedent))
                    .collect(),
            ),
        )
        .with(
            "consequent",
            Values::text(
                rules
                    .iter()
                    .map(|r| product_names(products, &r.consequent))
                    .collect(),
            ),
        );
    let t = with_set_descriptions(
        t,
        "antecedent_description",
        products,
        rules.iter().map(|r| &r.antecedent[..]),
    );
    with_set_descriptions(
        t,
        "consequent_description",
        products,
        rules.iter().map(|r| &r.consequent[..]),
    )
    .with("antecedent_support", per(&|r| r.antecedent_support))
    .with("consequent_support", per(&|r| r.consequent_support))
    .with("support", per(&|r| r.support))
    .with("confidence", per(&|r| r.confidence))
    .with("lift", per(&|r| r.lift))
}

/// Bundle candidates: itemsets with their basket count and support.
pub fn bundle_table(
    products: &ProductLog,
    frequent: &Frequent,
    bundles: &[Itemset],
) -> Table<'static> {
    let t = Table::new().with(
        "products",
        Values::text(
            bundles
                .iter()
                .map(|s| product_names(products, &s.items))
                .collect(),
        ),
    );
    with_set_descriptions(
        t,
        "descriptions",
        products,
        bundles.iter().map(|s| &s.items[..]),
    )
    .with(
        "baskets",
        Values::Int(bundles.iter().map(|s| s.count as i64).collect()),
    )
    .with(
        "support",
        Values::Float(bundles.iter().map(|s| frequent.support(s.count)).collect()),
    )
}

/// Each product's top products bought with it, products in name order.
pub fn bought_with_table<'p>(
    products: &'p ProductLog,
    with: &rustc_hash::FxHashMap<u32, Vec<&Rule>>,
) -> Table<'p> {
    let mut items: Vec<u32> = with.keys().copied().collect();
    items.sort_by(|a, b| products.skus.name(*a).cmp(products.skus.name(*b)));
    let rows: Vec<(u32, usize, &Rule)> = items
        .iter()
        .flat_map(|&i| {
            with[&i]
                .iter()
                .enumerate()
                .map(move |(k, r)| (i, k + 1, *r))
        })
        .collect();
    let per = |f: &dyn Fn(&Rule) -> f64| Values::Float(rows.iter().map(|(_, _, r)| f(r)).collect());
    let t = Table::new().with("sku", products.skus.names(rows.iter().map(|(i, _, _)| *i)));
    with_descriptions(t, "description", products, rows.iter().map(|(i, _, _)| *i))
        .with(
            "rank",
            Values::Int(rows.iter().map(|(_, k, _)| *k as i64).collect()),
        )
        .with(
            "bought_with",
            Values::text(
                rows.iter()
                    .map(|(_, _, r)| product_names(products, &r.consequent))
                    .collect(),
            ),
        )
        .with("confidence", per(&|r| r.confidence))
        .with("lift", per(&|r| r.lift))
        .with("support", per(&|r| r.support))
}

/// Each customer's top suggestions: (customer, rank, suggestion) rows.
pub fn recommendation_table<'p>(
    products: &'p ProductLog,
    rows: &[(u32, usize, Suggestion)],
) -> Table<'p> {
    let t = Table::new()
        .with(
            "customer_id",
            products.customers.names(rows.iter().map(|(c, _, _)| *c)),
        )
        .with(
            "rank",
            Values::Int(rows.iter().map(|(_, k, _)| *k as i64).collect()),
        )
        .with(
            "sku",
            products.skus.names(rows.iter().map(|(_, _, s)| s.item)),
        );
    with_descriptions(
        t,
        "description",
        products,
        rows.iter().map(|(_, _, s)| s.item),
    )
    .with(
        "because_of",
        products.skus.names(rows.iter().map(|(_, _, s)| s.because)),
    )
    .with(
        "confidence",
        Values::Float(rows.iter().map(|(_, _, s)| s.confidence).collect()),
    )
    .with(
        "lift",
        Values::Float(rows.iter().map(|(_, _, s)| s.lift).collect()),
    )
}
