//! The models of discrete time: BG/BB on purchase opportunities (from a per-customer summary or
//! from an order log, one opportunity per period) and the shifted-beta-geometric model on
//! subscriptions (from a survival curve or one span per subscriber), with sBG's projection.

use crate::error::ValuationError;
use clv_data::numeric::{NumericColumns, Subscriptions};
use clv_data::{Period, TimeUnit};
use clv_models::{Pattern, Patterns, SbgParams, Tenure};
use clv_summary::{summary_rows, Histories, SummaryOptions};

/// BG/BB patterns from a summary's columns: `frequency` (or `x`), `recency` (`t_x`), the number
/// of opportunities (`periods`, `n_periods`, `n`, `opportunities`) and optional weights
/// (`weights`, `weight`, `count`); sorted by (x, t_x, n).
pub fn opportunity_patterns(columns: &NumericColumns) -> Result<Vec<Pattern>, ValuationError> {
    let need = |names: &[&str], what: &str| {
        columns
            .get(names)
            .ok_or_else(|| ValuationError::Data(format!("add a `{}` column: {what}", names[0])))
    };
    let x = need(&["frequency", "x"], "repeat purchases")?;
    let t_x = need(&["recency", "t_x"], "the opportunity of the last purchase")?;
    let n = need(
        &["periods", "n_periods", "n", "opportunities"],
        "the number of opportunities",
    )?;
    let weights = columns.get(&["weights", "weight", "count"]);
    let mut rows: Vec<Pattern> = (0..x.len())
        .map(|i| Pattern {
            x: x[i],
            t_x: t_x[i],
            t: n[i],
            weight: weights.map_or(1.0, |w| w[i]),
        })
        .collect();
    rows.sort_by(|a, b| {
        a.x.total_cmp(&b.x)
            .then(a.t_x.total_cmp(&b.t_x))
            .then(a.t.total_cmp(&b.t))
    });
    Ok(rows)
}

/// The time unit of one `period`.
pub fn period_unit(period: Period) -> TimeUnit {
    match period {
        Period::Hour => TimeUnit::Hour,
        Period::Day => TimeUnit::Day,
        Period::Week => TimeUnit::Week,
        Period::Month => TimeUnit::Month,
        Period::Year => TimeUnit::Year,
    }
}

/// BG/BB patterns from an order log read with one opportunity per `period` (the histories'
/// own period).
pub fn opportunity_patterns_of(h: &Histories) -> Patterns {
    let rows = summary_rows(
        h,
        SummaryOptions {
            time_unit: period_unit(h.period),
            include_first: false,
            threads: 1,
        },
    );
    // Month and year units are Gregorian averages: whole periods are the nearest integers.
    Patterns::compress(
        rows.iter()
            .map(|r| (r.frequency as f64, r.recency.round(), r.t.round())),
    )
}

/// sBG rows, with what was left out.
#[derive(Debug, Clone, PartialEq)]
pub struct Tenures {
    pub rows: Vec<Tenure>,
    /// Subscribers who started less than one period before the end of observation: they say
    /// nothing about churn yet.
    pub too_recent: u64,
    /// The end of observation (shop-local seconds), for spans.
    pub observed_to: Option<i64>,
    /// What one period is: the renewal unit for spans, "period" for a curve.
    pub unit: String,
}

impl Tenures {
    /// What was left out, for people.
    pub fn warnings(&self) -> Vec<String> {
        match self.observed_to {
            Some(to) if self.too_recent > 0 => vec![format!(
                "{} subscribers started less than one {} before {} and say nothing yet about churn",
                clv_data::thousands(self.too_recent),
                self.unit,
                clv_data::time::format_date(to)
            )],
            _ => Vec::new(),
        }
    }
}

/// sBG rows from a survival curve, or from subscriber spans with renewals every `period`,
/// observed until `observation_end` (default: the last date in the spans).
pub fn tenures(
    subscriptions: &Subscriptions,
    period: TimeUnit,
    observation_end: Option<i64>,
) -> Result<Tenures, ValuationError> {
    let spans = match subscriptions {
        Subscriptions::Curve(curve) => {
            let rows = Tenure::from_survival_curve(curve).map_err(ValuationError::Data)?;
            return Ok(Tenures {
                rows,
                too_recent: 0,
                observed_to: None,
                unit: "period".into(),
            });
        }
        Subscriptions::Spans(spans) => spans,
    };
    let observed_to = observation_end
        .or_else(|| spans.iter().map(|&(s, e)| e.unwrap_or(s)).max())
        .ok_or_else(|| ValuationError::Data("no subscribers with a valid start date".into()))?;
    let period_seconds = period.seconds();
    // Renewals seen while still subscribed: whole periods up to the end of observation (a renewal
    // falling after it is not seen).
    let whole = |seconds: i64| (seconds as f64 / period_seconds).floor().max(0.0) as u32;
    let mut too_recent = 0u64;
    let rows = Tenure::from_subscribers(spans.iter().filter_map(|&(s, e)| {
        let tenure = match e {
            // Churned in the period the end falls in: paid for ceil((end − start)/period), with
            // 5% slack so calendar months of 28–31 days count as one month each.
            Some(e) if e <= observed_to => {
                let paid = ((e - s) as f64 / period_seconds - 0.05).ceil().max(1.0) as u32;
                (paid, true)
            }
            _ => (whole(observed_to - s), false),
        };
        if tenure.0 == 0 {
            too_recent += 1;
            return None;
        }
        Some(tenure)
    }));
    if rows.is_empty() {
        return Err(ValuationError::Data(format!(
            "no subscriber has a whole {period} observed"
        )));
    }
    Ok(Tenures {
        rows,
        too_recent,
        observed_to: Some(observed_to),
        unit: period.to_string(),
    })
}

/// One period of an sBG projection.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RetentionRow {
    pub period: u32,
    /// The observed (Kaplan–Meier) survival, while there is one.
    pub actual: Option<f64>,
    /// Share of the cohort still subscribed after `period` periods.
    pub survival: f64,
    /// Share of the previous period's subscribers who renewed (none for period 0).
    pub retention: Option<f64>,
    /// Discounted expected renewals still to come for a subscriber at this tenure.
    pub discounted_residual_lifetime: f64,
    /// Price × DERL, with a price.
    pub residual_value: Option<f64>,
}

/// The fitted sBG model's survival, retention and discounted residual lifetime for at least
/// `periods` periods (and as long as the observed curve), at `discount` per period.
pub fn retention_projection(
    params: &SbgParams,
    rows: &[Tenure],
    periods: u32,
    discount: f64,
    price: Option<f64>,
) -> Result<Vec<RetentionRow>, ValuationError> {
    let actual_curve = clv_models::sbg::kaplan_meier(rows);
    (0..=periods.max(actual_curve.len() as u32 - 1))
        .map(|t| {
            let tf = t as f64;
            // DERL of a subscriber in period t + 1 (t renewals made), about to decide on the next.
            let derl = params.discounted_residual_lifetime(discount, tf + 1.0)?;
            Ok(RetentionRow {
                period: t,
                actual: actual_curve.get(t as usize).copied(),
                survival: params.survival(tf),
                retention: (t > 0).then(|| params.retention(tf)),
                discounted_residual_lifetime: derl,
                residual_value: price.map(|m| m * derl),
            })
        })
        .collect()
}
