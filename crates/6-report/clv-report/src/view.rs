//! The report as data: every number the report shows, typed and serialisable, built once from the
//! same computations as `clv metrics`, `clv segments`, `clv score`, `clv validate`, `clv replenish`
//! and `clv cross-sell`. The HTML page ([`crate::page`]) is rendered from it, and a dashboard can
//! serve it as it is.

use clv_data::time::{format_date, DAY};
use clv_data::TimeUnit;
use clv_score::{ModelEstimate, Validation};
use clv_segments::products::ProductLog;
use clv_segments::{basket, replenish, tables, Valued};
use clv_summary::{Histories, ShopMetrics};

/// Settings of the report's product sections: `clv replenish`'s and `clv cross-sell`'s defaults.
pub const REMINDER_WINDOW_DAYS: i32 = 14;
pub const REMINDER_LEAD_DAYS: i32 = 3;
pub const MIN_REPEATS: usize = 5;
/// Reminders one customer gets in a window at most (`clv replenish --per-customer`).
pub const REMINDERS_PER_CUSTOMER: usize = 3;
pub const MIN_SUPPORT: f64 = 0.001;
pub const MIN_CONFIDENCE: f64 = 0.05;
pub const MIN_LIFT: f64 = 1.0;
pub const THRESHOLDS: basket::Thresholds = basket::Thresholds {
    min_support: MIN_SUPPORT,
    min_confidence: MIN_CONFIDENCE,
    min_lift: MIN_LIFT,
};
/// Rows in the report's lists (top customers, rules, …).
const SHOWN: usize = 10;

/// What the report is built from.
pub struct ReportInputs<'a> {
    /// The data's name (a file), for the subtitle.
    pub source: &'a str,
    pub histories: &'a Histories,
    pub metrics: ShopMetrics,
    pub valued: &'a Valued<'a>,
    /// The same orders cut at a calibration end, for the holdout comparison of the purchase
    /// models (in weeks).
    pub calibration: Option<&'a Histories>,
    pub products: &'a ProductLog,
    /// The horizon and discount rate as the user wrote them (`52w`, `10%`), for labels.
    pub horizon_label: &'a str,
    pub discount_label: &'a str,
    pub horizon_days: f64,
    /// The ISO 4217 code of the amounts (`EUR`), when the user named it.
    pub currency: Option<&'a str>,
    pub threads: usize,
    /// Where the holdout fits count their progress.
    pub progress: Option<&'static clv_models::FitProgress>,
}

/// One RFM segment.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SegmentView {
    pub segment: String,
    pub customers: usize,
    pub revenue_share: f64,
    pub average_order_value: f64,
    /// The segment's mean P(alive), with a valuation.
    pub mean_p_alive: Option<f64>,
    pub action: String,
}

/// Expected purchases and P(alive) over repeat purchases × recency, for a customer observed as
/// long as the longest-observed one.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FrequencyRecency {
    #[serde(rename = "T")]
    pub big_t: f64,
    pub unit: String,
    pub horizon: f64,
    pub recency: Vec<f64>,
    /// Repeat purchases, highest first (the rows of the grids).
    pub frequency: Vec<u64>,
    pub expected_purchases: Vec<Vec<Option<f64>>>,
    pub p_alive: Vec<Vec<Option<f64>>>,
}

/// The fitted models.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelsView {
    pub purchase: ModelEstimate,
    /// None without a spend model (no amounts, constant spend, …).
    pub spend: Option<ModelEstimate>,
    pub unit: String,
    pub frequency_recency: FrequencyRecency,
}

/// How predicted CLV and P(alive) are spread: customers per band.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Distributions {
    pub predicted_clv_bin_width: f64,
    pub predicted_clv_counts: Vec<f64>,
    pub p_alive_counts: Vec<f64>,
}

/// A customer in the report's lists.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CustomerRow {
    pub customer_id: String,
    pub segment: String,
    pub p_alive: f64,
    pub predicted_clv: f64,
    /// The predicted CLV's interval, with intervals.
    pub interval: Option<(f32, f32)>,
    pub historic_clv: f64,
    pub last_purchase: String,
    /// CLV if still active and (1 − P(alive)) × that, in the at-risk list.
    pub clv_if_active: Option<f64>,
    pub value_at_risk: Option<f64>,
}

/// The most valuable customers and the valuable ones most at risk.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CustomersView {
    pub top: Vec<CustomerRow>,
    pub at_risk: Vec<CustomerRow>,
    /// Customers qualifying as valuable and at risk (the list shows the first ten).
    pub at_risk_count: usize,
    /// The share of customers "valuable" means.
    pub valuable_share: f64,
}

/// A product's repeat-purchase cycle.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CycleRow {
    pub product: String,
    pub median_days: f64,
    pub lower_quartile_days: f64,
    pub upper_quartile_days: f64,
    pub repeat_purchases: usize,
    pub customers: usize,
}

/// A replenishment reminder due.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReminderRow {
    pub customer_id: String,
    pub product: String,
    pub last_purchase: String,
    pub due: String,
    pub remind_on: String,
}

/// An association rule.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RuleRow {
    pub antecedent: String,
    pub consequent: String,
    pub support: f64,
    pub confidence: f64,
    pub lift: f64,
}

/// The product sections: cycles and reminders, products bought together.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ProductsView {
    pub cycles: Vec<CycleRow>,
    pub reminders_due: usize,
    /// Reminders due but over the per-customer cap.
    pub reminders_held_back: usize,
    pub reminders: Vec<ReminderRow>,
    pub baskets: usize,
    pub rules_found: usize,
    pub rules: Vec<RuleRow>,
}

/// Every number of the report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReportView {
    pub source: String,
    pub as_of: String,
    pub customers: usize,
    pub horizon_label: String,
    pub discount_label: String,
    pub metrics: ShopMetrics,
    pub segments: Vec<SegmentView>,
    /// The models; without them, why they could not be fitted.
    pub models: Option<ModelsView>,
    pub why_no_models: Option<String>,
    /// Why there is no predicted value (no models, or no spend model).
    pub why_no_value: Option<String>,
    pub predicted_clv_total: Option<f64>,
    pub validation: Option<Validation>,
    pub distributions: Option<Distributions>,
    pub top_customers: Option<CustomersView>,
    /// None without SKU lines.
    pub products: Option<ProductsView>,
    /// The amounts' currency code, when named.
    pub currency: Option<String>,
}

fn segments(v: &Valued<'_>) -> Vec<SegmentView> {
    let revenue_total: f64 = v.rows.iter().map(|r| r.revenue).sum();
    v.segment_totals()
        .iter()
        .enumerate()
        .filter(|(_, t)| t.customers > 0)
        .map(|(k, t)| SegmentView {
            segment: v.rules[k].segment.clone(),
            customers: t.customers,
            revenue_share: t.revenue / revenue_total,
            average_order_value: t.revenue / t.orders as f64,
            mean_p_alive: (!v.p_alive().is_empty()).then(|| t.p_alive / t.customers as f64),
            action: v.rules[k].action.clone(),
        })
        .collect()
}

fn frequency_recency(
    v: &Valued<'_>,
    purchase: &ModelEstimate,
    unit: TimeUnit,
    horizon_days: f64,
) -> FrequencyRecency {
    let model = purchase
        .kind
        .purchase()
        .expect("scoring uses a purchase model")
        .predictor(&purchase.params);
    // The summary rows are in days.
    let big_t = v.rows.iter().map(|r| r.t).fold(0.0, f64::max) / unit.days();
    let max_x = v
        .rows
        .iter()
        .map(|r| r.frequency)
        .max()
        .unwrap_or(0)
        .min(20);
    let horizon = horizon_days / unit.days();
    let steps = 12;
    let recencies: Vec<f64> = (0..=steps)
        .map(|k| big_t * k as f64 / steps as f64)
        .collect();
    let grid = |f: &dyn Fn(f64, f64) -> f64| -> Vec<Vec<Option<f64>>> {
        (0..=max_x)
            .rev()
            .map(|x| {
                recencies
                    .iter()
                    .map(|&t_x| {
                        let valid = if x == 0 { t_x == 0.0 } else { t_x > 0.0 };
                        valid.then(|| f(x as f64, t_x)).filter(|v| v.is_finite())
                    })
                    .collect()
            })
            .collect()
    };
    let expected = grid(&|x, t_x| {
        model
            .conditional_expected_purchases(horizon, x, t_x, big_t)
            .unwrap_or(f64::NAN)
    });
    let alive = grid(&|x, t_x| model.p_alive(x, t_x, big_t).unwrap_or(f64::NAN));
    FrequencyRecency {
        big_t,
        unit: unit.to_string(),
        horizon,
        recency: recencies,
        frequency: (0..=max_x).rev().collect(),
        expected_purchases: expected,
        p_alive: alive,
    }
}

fn distributions(predicted: &[f64], p_alive: &[f64]) -> Distributions {
    let mut sorted = predicted.to_vec();
    sorted.sort_by(f64::total_cmp);
    let cap = clv_summary::metrics::quantile(&sorted, 0.99).max(1e-9);
    let bins = 20;
    let mut clv_bins = vec![0.0; bins];
    for &c in predicted {
        clv_bins[((c / cap * bins as f64) as usize).min(bins - 1)] += 1.0;
    }
    let mut alive_bins = vec![0.0; 10];
    for &p in p_alive {
        alive_bins[((p * 10.0) as usize).min(9)] += 1.0;
    }
    Distributions {
        predicted_clv_bin_width: cap / bins as f64,
        predicted_clv_counts: clv_bins,
        p_alive_counts: alive_bins,
    }
}

fn customers(v: &Valued<'_>) -> CustomersView {
    let (predicted, p_alive) = (v.predicted_clv(), v.p_alive());
    let bounds = v
        .scored
        .as_ref()
        .map(|s| &s.columns.predicted_clv)
        .expect("customer lists need a valuation");
    let row = |i: usize, value_at_risk: Option<f64>| CustomerRow {
        customer_id: v.rows[i].customer_id.to_string(),
        segment: v.segment_name(i).to_string(),
        p_alive: p_alive[i],
        predicted_clv: predicted[i],
        interval: bounds
            .lower
            .get(i)
            .copied()
            .zip(bounds.upper.get(i).copied()),
        historic_clv: v.rows[i].revenue,
        last_purchase: format_date(v.rows[i].last_purchase),
        clv_if_active: value_at_risk.map(|_| v.clv_if_active(i)),
        value_at_risk,
    };
    let mut top: Vec<usize> = (0..v.rows.len()).collect();
    top.sort_by(|&a, &b| predicted[b].total_cmp(&predicted[a]));
    top.truncate(SHOWN);
    let at_risk = v.at_risk();
    CustomersView {
        top: top.iter().map(|&i| row(i, None)).collect(),
        at_risk: at_risk
            .iter()
            .take(SHOWN)
            .map(|&(i, r)| row(i, Some(r)))
            .collect(),
        at_risk_count: at_risk.len(),
        valuable_share: v.valuable_share(),
    }
}

fn products(p: &ProductLog, as_of: i64, threads: usize) -> Option<ProductsView> {
    if p.lines.is_empty() {
        return None;
    }
    let plan = p.replenishment(replenish::PlanOptions {
        as_of_day: as_of.div_euclid(DAY) as i32,
        window_days: REMINDER_WINDOW_DAYS,
        lead_days: REMINDER_LEAD_DAYS,
        min_repeats: MIN_REPEATS,
        per_customer: REMINDERS_PER_CUSTOMER,
    });
    let (cycles, reminders) = (&plan.cycles, &plan.reminders);
    let day = |d: i32| format_date(d as i64 * DAY);
    let together = basket::together(p, THRESHOLDS, threads);
    let (baskets, rules) = (&together.baskets, &together.rules);
    Some(ProductsView {
        cycles: tables::by_evidence(cycles)
            .iter()
            .take(SHOWN)
            .map(|&k| {
                let c = cycles[k].as_ref().expect("with a cycle");
                CycleRow {
                    product: p.label(k as u32),
                    median_days: c.median,
                    lower_quartile_days: c.lower_quartile,
                    upper_quartile_days: c.upper_quartile,
                    repeat_purchases: c.gaps,
                    customers: c.customers,
                }
            })
            .collect(),
        reminders_due: reminders.len(),
        reminders_held_back: plan.held_back,
        reminders: reminders
            .iter()
            .take(SHOWN)
            .map(|r| ReminderRow {
                customer_id: p.customers.name(r.customer).to_string(),
                product: p.label(r.item),
                last_purchase: day(r.last),
                due: day(r.due),
                remind_on: day(r.remind_on),
            })
            .collect(),
        baskets: baskets.len(),
        rules_found: rules.len(),
        rules: rules
            .iter()
            .take(SHOWN)
            .map(|r| RuleRow {
                antecedent: tables::product_labels(p, &r.antecedent),
                consequent: tables::product_labels(p, &r.consequent),
                support: r.support,
                confidence: r.confidence,
                lift: r.lift,
            })
            .collect(),
    })
}

/// Every number of the report, from `inputs`.
pub fn build(inputs: ReportInputs<'_>) -> Result<ReportView, clv_score::ValuationError> {
    let options = clv_models::FitOptions {
        penalty: 0.0,
        threads: inputs.threads,
        progress: inputs.progress,
    };
    let validation = inputs
        .calibration
        .map(|h| {
            let all = clv_models::PurchaseModel::ALL;
            clv_score::validate::validation(h, TimeUnit::Week, &all, options).map(|(v, _)| v)
        })
        .transpose()?;
    let v = inputs.valued;
    let models = match &v.scored {
        Ok(s) => Some(ModelsView {
            purchase: s.fits.purchase.clone(),
            spend: s.fits.spend.clone(),
            unit: s.fits.time_unit.to_string(),
            frequency_recency: frequency_recency(
                v,
                &s.fits.purchase,
                s.fits.time_unit,
                inputs.horizon_days,
            ),
        }),
        Err(_) => None,
    };
    let predicted = v.predicted_clv();
    let valued = !predicted.is_empty();
    Ok(ReportView {
        currency: inputs.currency.map(str::to_string),
        source: inputs.source.to_string(),
        as_of: format_date(inputs.histories.main_end()),
        customers: v.rows.len(),
        horizon_label: inputs.horizon_label.to_string(),
        discount_label: inputs.discount_label.to_string(),
        segments: segments(v),
        models,
        why_no_models: v.scored.as_ref().err().map(|e| e.to_string()),
        why_no_value: v.why_no_value(),
        predicted_clv_total: valued.then(|| predicted.iter().sum()),
        validation,
        distributions: valued.then(|| distributions(predicted, v.p_alive())),
        top_customers: valued.then(|| customers(v)),
        products: products(inputs.products, inputs.histories.main_end(), inputs.threads),
        metrics: inputs.metrics,
    })
}
