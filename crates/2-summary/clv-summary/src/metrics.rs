//! Shop-wide metrics over the main window: size, order value, frequency, repeat rate, gaps between
//! orders, window-over-window retention and churn, monthly cohort retention, historic CLV
//! quantiles and LTV:CAC. Definitions are in the README ("Shop metrics").

use crate::ledger::Histories;
use clv_data::precision::{money, significant};
use clv_data::time::{format_date, format_month, DAY};
use clv_data::{Period, Table, Values};

#[derive(Debug, Clone, Copy)]
pub struct MetricsOptions {
    /// Retention window length in days.
    pub window_days: u32,
    /// Customer acquisition cost, for LTV:CAC.
    pub cac: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ShopMetrics {
    pub first_order: String,
    pub observation_end: String,
    pub customers: u64,
    pub orders: u64,
    pub revenue: f64,
    pub average_order_value: Option<f64>,
    pub purchase_frequency: f64,
    pub repeat_purchase_rate: f64,
    pub average_days_between_orders: Option<f64>,
    pub retention: Retention,
    pub historic_clv: Quantiles,
    pub ltv_to_cac: Option<LtvToCac>,
    pub cohorts: Vec<Cohort>,
    /// The same by calendar quarter (`month` is then `YYYY-Qn`), when the data span at least
    /// [`QUARTERS_FROM_MONTHS`] months.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cohorts_by_quarter: Option<Vec<Cohort>>,
}

/// Customers who bought in the previous window, and how many of them bought again in the current.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Retention {
    pub window_days: u32,
    pub previous_window: [String; 2],
    pub current_window: [String; 2],
    pub active_previous: u64,
    pub retained: u64,
    pub retention_rate: Option<f64>,
    pub churn_rate: Option<f64>,
    pub active_current: u64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Quantiles {
    pub mean: f64,
    pub p10: f64,
    pub p25: f64,
    pub p50: f64,
    pub p75: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LtvToCac {
    pub cac: f64,
    /// Mean historic CLV (net revenue per customer so far).
    pub ltv: f64,
    pub ratio: f64,
}

/// Customers whose first purchase fell in `month`, and the share of them with a purchase in each
/// month since (index 0 = the first month, always 1); by quarter the same with quarters.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Cohort {
    pub month: String,
    pub customers: u64,
    pub retention: Vec<f64>,
}

/// Linear-interpolation quantile of sorted data (numpy's default), `q` in [0, 1].
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// `num / den` to the precision clv writes computed values with; none when `den` is 0.
fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| significant(num / den))
}

/// Compute every shop metric.
pub fn shop_metrics(h: &Histories, options: MetricsOptions) -> ShopMetrics {
    let end = h.main_end();
    let customers = h.len() as u64;
    let orders: u64 = h.iter().map(|c| c.main.orders).sum();
    let revenue: f64 = h.iter().map(|c| c.main.revenue).sum();
    let repeaters = h.iter().filter(|c| c.main.periods.len() > 1).count() as f64;
    let (gap_days, gaps) =
        h.iter()
            .flat_map(|c| c.main.periods.windows(2))
            .fold((0.0, 0u64), |(sum, n), w| {
                let gap = h.period.floor(w[1].time) - h.period.floor(w[0].time);
                (sum + gap as f64 / DAY as f64, n + 1)
            });

    let window = options.window_days as i64 * DAY;
    let (current_start, previous_start) = (end - window, end - 2 * window);
    let bought_in = |c: &crate::ledger::CustomerHistory<'_>, from: i64, to: i64| {
        c.main.periods.iter().any(|p| p.time > from && p.time <= to)
    };
    let mut active_previous = 0;
    let mut retained = 0;
    let mut active_current = 0;
    for c in h.iter() {
        let prev = bought_in(&c, previous_start, current_start);
        let cur = bought_in(&c, current_start, end);
        active_previous += u64::from(prev);
        retained += u64::from(prev && cur);
        active_current += u64::from(cur);
    }
    let retention_rate = ratio(retained as f64, active_previous as f64);
    // Windows are (start, end]: the label's first day is the day after the start.
    let day_after = |t: i64| format_date(t + DAY);
    let retention = Retention {
        window_days: options.window_days,
        previous_window: [day_after(previous_start), format_date(current_start)],
        current_window: [day_after(current_start), format_date(end)],
        active_previous,
        retained,
        retention_rate,
        churn_rate: retention_rate.map(|r| 1.0 - r),
        active_current,
    };

    let mut values: Vec<f64> = h.iter().map(|c| c.main.revenue).collect();
    values.sort_by(f64::total_cmp);
    let mean_clv = ratio(revenue, customers as f64).unwrap_or(0.0);
    let historic_clv = Quantiles {
        mean: mean_clv,
        p10: money(quantile(&values, 0.10)),
        p25: money(quantile(&values, 0.25)),
        p50: money(quantile(&values, 0.50)),
        p75: money(quantile(&values, 0.75)),
        p90: money(quantile(&values, 0.90)),
        p99: money(quantile(&values, 0.99)),
        max: money(values.last().copied().unwrap_or(0.0)),
    };
    let ltv_to_cac = options.cac.filter(|c| *c > 0.0).map(|cac| LtvToCac {
        cac,
        ltv: mean_clv,
        ratio: significant(mean_clv / cac),
    });

    ShopMetrics {
        first_order: format_date(h.first_time),
        observation_end: format_date(end),
        customers,
        orders,
        revenue: money(revenue),
        average_order_value: ratio(revenue, orders as f64),
        purchase_frequency: ratio(orders as f64, customers as f64).unwrap_or(0.0),
        repeat_purchase_rate: ratio(repeaters, customers as f64).unwrap_or(0.0),
        average_days_between_orders: ratio(gap_days, gaps as f64),
        retention,
        historic_clv,
        ltv_to_cac,
        cohorts: cohorts(h, end, 1),
        cohorts_by_quarter: (Period::Month.index(end) - Period::Month.index(h.first_time)
            >= QUARTERS_FROM_MONTHS)
            .then(|| cohorts(h, end, 3)),
    }
}

/// Cohorts by quarter from this many months of data on: a monthly heatmap gets unreadable.
pub const QUARTERS_FROM_MONTHS: i64 = 24;

/// Cohorts of `months` calendar months (1, or 3 for quarters): customers by the period of their first order,
/// and the share of them ordering in each period since.
fn cohorts(h: &Histories, end: i64, months: i64) -> Vec<Cohort> {
    let month = |t: i64| Period::Month.index(t).div_euclid(months);
    // A month's index is year · 12 + month − 1, so a quarter's is year · 4 + quarter − 1.
    let label = |first: i64| match months {
        1 => format_month(Period::Month.start(first)),
        _ => format!("{}-Q{}", first.div_euclid(4), first.rem_euclid(4) + 1),
    };
    let last = month(end);
    let mut by_cohort: std::collections::BTreeMap<i64, (u64, Vec<u64>)> = Default::default();
    for c in h.iter() {
        let first = month(c.main.periods[0].time);
        let (size, active) = by_cohort
            .entry(first)
            .or_insert_with(|| (0, vec![0; (last - first + 1) as usize]));
        *size += 1;
        let mut months: Vec<i64> = c
            .main
            .periods
            .iter()
            .map(|p| month(p.time) - first)
            .collect();
        months.dedup();
        for k in months {
            active[k as usize] += 1;
        }
    }
    by_cohort
        .into_iter()
        .map(|(first, (size, active))| Cohort {
            month: label(first),
            customers: size,
            retention: active
                .iter()
                .map(|&a| significant(a as f64 / size as f64))
                .collect(),
        })
        .collect()
}

/// One calendar month of the main window: net revenue, customers with an order, and customers
/// whose first order it was.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Month {
    pub month: String,
    pub revenue: f64,
    pub active_customers: u64,
    pub new_customers: u64,
}

/// Every month from the first order to the end of the window (months without orders included,
/// so a trend line does not skip them).
pub fn monthly(h: &Histories) -> Vec<Month> {
    let month = |t: i64| Period::Month.index(t);
    let Some(first) = h.iter().map(|c| month(c.main.periods[0].time)).min() else {
        return Vec::new();
    };
    let last = month(h.main_end()).max(first);
    let mut months: Vec<Month> = (first..=last)
        .map(|m| Month {
            month: format_month(Period::Month.start(m)),
            revenue: 0.0,
            active_customers: 0,
            new_customers: 0,
        })
        .collect();
    for c in h.iter() {
        let mut previous = None;
        for p in c.main.periods {
            let k = (month(p.time) - first) as usize;
            months[k].revenue += p.value;
            if previous != Some(k) {
                months[k].active_customers += 1;
                months[k].new_customers += u64::from(previous.is_none());
                previous = Some(k);
            }
        }
    }
    for m in &mut months {
        m.revenue = money(m.revenue);
    }
    months
}

/// Metrics as a long table (`metric`, `cohort`, `months_since`, `value`) for CSV and Parquet.
pub fn metrics_table(m: &ShopMetrics) -> Table<'static> {
    let mut metric = Vec::new();
    let mut cohort = Vec::new();
    let mut months = Vec::new();
    let mut value = Vec::new();
    let mut push = |name: &str, c: &str, k: Option<f64>, v: Option<f64>| {
        metric.push(name.to_string());
        cohort.push(c.to_string());
        months.push(k);
        value.push(v);
    };
    let r = &m.retention;
    let q = &m.historic_clv;
    let scalars: Vec<(&str, Option<f64>)> = vec![
        ("customers", Some(m.customers as f64)),
        ("orders", Some(m.orders as f64)),
        ("revenue", Some(m.revenue)),
        ("average_order_value", m.average_order_value),
        ("purchase_frequency", Some(m.purchase_frequency)),
        ("repeat_purchase_rate", Some(m.repeat_purchase_rate)),
        ("average_days_between_orders", m.average_days_between_orders),
        ("retention_window_days", Some(r.window_days as f64)),
        ("active_previous_window", Some(r.active_previous as f64)),
        ("retained", Some(r.retained as f64)),
        ("retention_rate", r.retention_rate),
        ("churn_rate", r.churn_rate),
        ("active_current_window", Some(r.active_current as f64)),
        ("historic_clv_mean", Some(q.mean)),
        ("historic_clv_p10", Some(q.p10)),
        ("historic_clv_p25", Some(q.p25)),
        ("historic_clv_p50", Some(q.p50)),
        ("historic_clv_p75", Some(q.p75)),
        ("historic_clv_p90", Some(q.p90)),
        ("historic_clv_p99", Some(q.p99)),
        ("historic_clv_max", Some(q.max)),
        ("cac", m.ltv_to_cac.as_ref().map(|l| l.cac)),
        ("ltv_to_cac", m.ltv_to_cac.as_ref().map(|l| l.ratio)),
    ];
    for (name, v) in scalars {
        push(name, "", None, v);
    }
    for c in &m.cohorts {
        push("cohort_customers", &c.month, None, Some(c.customers as f64));
        for (k, share) in c.retention.iter().enumerate() {
            push("cohort_retention", &c.month, Some(k as f64), Some(*share));
        }
    }
    Table::new()
        .with("metric", Values::text(metric))
        .with("cohort", Values::text(cohort))
        .with("months_since", Values::MaybeFloat(months))
        .with("value", Values::MaybeFloat(value))
}
