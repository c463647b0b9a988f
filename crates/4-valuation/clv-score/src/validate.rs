//! Holdout validation: fit each purchase model on the calibration window, predict the holdout,
//! and compare with what happened, in total, by calibration frequency, per customer and week by
//! week.

use crate::error::ValuationError;
use crate::purchase::{fit_purchase, FittedPurchase};
use clv_data::TimeUnit;
use clv_models::{FitError, FitOptions, Pattern, Patterns, PurchaseModel};
use clv_summary::{summary_rows, Histories, SummaryOptions};

/// Calibration frequencies are grouped 0, 1, …, 6 and 7+.
pub const FREQUENCY_GROUPS: usize = 8;

/// How one model did on the holdout.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelValidation {
    pub model: PurchaseModel,
    pub parameters: std::collections::BTreeMap<String, f64>,
    pub log_likelihood: f64,
    /// k ln n − 2ℓ.
    pub bic: f64,
    pub predicted_holdout_purchases: f64,
    /// Per customer: mean |predicted − actual| and root mean square of it.
    pub mae: f64,
    pub rmse: f64,
    /// Mean predicted holdout purchases per calibration-frequency group.
    pub predicted_by_frequency: Vec<f64>,
    /// Cumulative predicted holdout purchases at the end of each holdout week.
    pub predicted_cumulative: Vec<f64>,
}

/// A whole holdout comparison.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Validation {
    pub customers: usize,
    pub calibration_end: String,
    pub observation_end: String,
    pub time_unit: String,
    pub holdout_weeks: usize,
    pub actual_holdout_purchases: u64,
    /// "0", …, "6", "7+"
    pub frequency_groups: Vec<String>,
    pub customers_by_frequency: Vec<u64>,
    pub actual_by_frequency: Vec<f64>,
    pub actual_cumulative: Vec<f64>,
    pub models: Vec<ModelValidation>,
    /// Models that could not be fitted to the calibration data (a finding, not the end of the
    /// comparison).
    #[serde(skip)]
    pub not_compared: Vec<(PurchaseModel, FitError)>,
}

/// The calibration patterns of every customer with their actual holdout purchases.
struct Holdout {
    data: Patterns,
    /// Per customer: their pattern's row in `data`, and their actual holdout purchases.
    pattern_of: Vec<u32>,
    actual: Vec<u64>,
    /// Holdout length in model units.
    duration: f64,
    weeks: usize,
    actual_cumulative: Vec<f64>,
}

fn holdout(h: &Histories, time_unit: TimeUnit) -> Result<Holdout, ValuationError> {
    if h.calibration_end.is_none() {
        return Err(ValuationError::NoHoldout);
    }
    let rows = summary_rows(
        h,
        SummaryOptions {
            time_unit,
            include_first: false,
            threads: 1,
        },
    );
    let (data, pattern_of) =
        Patterns::compress_indexed(rows.iter().map(|r| (r.frequency as f64, r.recency, r.t)));
    let actual: Vec<u64> = rows
        .iter()
        .map(|r| r.holdout.map_or(0, |x| x.frequency))
        .collect();
    let day = clv_data::time::DAY;
    let start = h.period.floor(h.main_end());
    let end = h.period.floor(h.observation_end);
    let duration = (end - start) as f64 / time_unit.seconds();
    let weeks = ((end - start) as f64 / (7 * day) as f64).ceil().max(1.0) as usize;
    let mut actual_cumulative = vec![0.0; weeks];
    for c in h.iter() {
        if let Some(w) = c.holdout {
            for p in w.periods {
                // Holdout periods start after the calibration end; week k covers (k−1, k] weeks.
                let week =
                    ((h.period.floor(p.time) - start) as f64 / (7 * day) as f64).ceil() as usize;
                actual_cumulative[week.clamp(1, weeks) - 1] += 1.0;
            }
        }
    }
    for k in 1..weeks {
        actual_cumulative[k] += actual_cumulative[k - 1];
    }
    Ok(Holdout {
        data,
        pattern_of,
        actual,
        duration,
        weeks,
        actual_cumulative,
    })
}

fn group(x: f64) -> usize {
    (x as usize).min(FREQUENCY_GROUPS - 1)
}

/// Per pattern: predicted holdout purchases, and at each week's end.
type Predictions = Vec<(f64, Vec<f64>)>;

fn predictions(
    fitted: &FittedPurchase,
    hold: &Holdout,
    time_unit: TimeUnit,
) -> Result<Predictions, ValuationError> {
    let model = fitted.predictor();
    let week = 7.0 / time_unit.days();
    let predict = |p: &Pattern| -> Result<(f64, Vec<f64>), ValuationError> {
        // P(alive) once per pattern; the horizons only change the active customer's expectation.
        let alive = model.p_alive(p.x, p.t_x, p.t)?;
        let ahead = |t: f64| {
            model
                .expected_purchases_if_active(t, p.x, p.t)
                .map(|e| alive * e)
        };
        let total = ahead(hold.duration)?;
        let weekly = (1..=hold.weeks)
            .map(|k| ahead((k as f64 * week).min(hold.duration)))
            .collect::<Result<Vec<f64>, _>>()?;
        Ok((total, weekly))
    };
    hold.data.rows.iter().map(predict).collect()
}

fn validate_one(
    model: PurchaseModel,
    hold: &Holdout,
    time_unit: TimeUnit,
    options: FitOptions,
) -> Result<(ModelValidation, FittedPurchase), ValuationError> {
    let fitted = fit_purchase(model, &hold.data.rows, options)?;
    let predictions = predictions(&fitted, hold, time_unit)?;
    let mut cumulative = vec![0.0; hold.weeks];
    let mut by_frequency = vec![0.0; FREQUENCY_GROUPS];
    let mut total = 0.0;
    for (p, (predicted, weekly)) in hold.data.rows.iter().zip(&predictions) {
        total += p.weight * predicted;
        by_frequency[group(p.x)] += p.weight * predicted;
        for (c, w) in cumulative.iter_mut().zip(weekly) {
            *c += p.weight * w;
        }
    }
    divide_by_counts(&mut by_frequency, &customers_by_frequency(hold));
    let (mut abs, mut sq) = (0.0, 0.0);
    for (&k, &actual) in hold.pattern_of.iter().zip(&hold.actual) {
        let e = predictions[k as usize].0 - actual as f64;
        abs += e.abs();
        sq += e * e;
    }
    let n = hold.actual.len() as f64;
    let r = &fitted.report;
    let validation = ModelValidation {
        model,
        parameters: r
            .names
            .iter()
            .cloned()
            .zip(r.params.iter().copied())
            .collect(),
        log_likelihood: r.log_likelihood,
        bic: r.params.len() as f64 * n.ln() - 2.0 * r.log_likelihood,
        predicted_holdout_purchases: total,
        mae: abs / n,
        rmse: (sq / n).sqrt(),
        predicted_by_frequency: by_frequency,
        predicted_cumulative: cumulative,
    };
    Ok((validation, fitted))
}

/// Sums per group → means per customer of the group (groups without customers stay 0).
fn divide_by_counts(sums: &mut [f64], counts: &[u64]) {
    for (b, n) in sums.iter_mut().zip(counts) {
        if *n > 0 {
            *b /= *n as f64;
        }
    }
}

fn customers_by_frequency(hold: &Holdout) -> Vec<u64> {
    let mut counts = vec![0u64; FREQUENCY_GROUPS];
    for p in &hold.data.rows {
        counts[group(p.x)] += p.weight as u64;
    }
    counts
}

/// Validate `models` on the calibration/holdout split of `h`. Also returns each compared model's
/// calibration fit, in the order of [`Validation::models`]. A model that cannot be fitted is
/// listed in [`Validation::not_compared`]; none fitting is an error.
pub fn validation(
    h: &Histories,
    time_unit: TimeUnit,
    models: &[PurchaseModel],
    options: FitOptions,
) -> Result<(Validation, Vec<FittedPurchase>), ValuationError> {
    let hold = holdout(h, time_unit)?;
    let (mut compared, mut fits, mut not_compared) = (Vec::new(), Vec::new(), Vec::new());
    for &model in models {
        match validate_one(model, &hold, time_unit, options) {
            Ok((v, fitted)) => {
                compared.push(v);
                fits.push(fitted);
            }
            Err(ValuationError::Fit { cause, .. }) => not_compared.push((model, cause)),
            Err(e) => return Err(e),
        }
    }
    if compared.is_empty() {
        return Err(ValuationError::NoModelFitted(
            not_compared
                .into_iter()
                .map(|(m, e)| (m.into(), e))
                .collect(),
        ));
    }
    let counts = customers_by_frequency(&hold);
    let mut actual_by_frequency = vec![0.0; FREQUENCY_GROUPS];
    for (&k, &a) in hold.pattern_of.iter().zip(&hold.actual) {
        actual_by_frequency[group(hold.data.rows[k as usize].x)] += a as f64;
    }
    divide_by_counts(&mut actual_by_frequency, &counts);
    let validation = Validation {
        customers: hold.actual.len(),
        calibration_end: clv_data::time::format_date(h.main_end()),
        observation_end: clv_data::time::format_date(h.observation_end),
        time_unit: time_unit.to_string(),
        holdout_weeks: hold.weeks,
        actual_holdout_purchases: hold.actual.iter().sum(),
        frequency_groups: (0..FREQUENCY_GROUPS)
            .map(|g| {
                if g + 1 == FREQUENCY_GROUPS {
                    format!("{g}+")
                } else {
                    g.to_string()
                }
            })
            .collect(),
        customers_by_frequency: counts,
        actual_by_frequency,
        actual_cumulative: hold.actual_cumulative,
        models: compared,
        not_compared,
    };
    Ok((validation, fits))
}

impl Validation {
    /// The comparison as a long table for CSV and Parquet: one row per (`model`, `measure`,
    /// `group`) with its `value`. `model` is the model's key (`bgnbd`, as in JSON) or `actual` for
    /// what happened; `group` is the
    /// calibration-frequency group of the `*_by_frequency` measures and the holdout week of the
    /// `*_cumulative` ones, empty for the totals.
    pub fn table(&self) -> clv_data::Table<'static> {
        let mut rows = LongRows::default();
        rows.push(
            "actual",
            "holdout_purchases",
            "",
            self.actual_holdout_purchases as f64,
        );
        rows.series(
            "actual",
            "customers",
            &self.frequency_groups,
            &self
                .customers_by_frequency
                .iter()
                .map(|&c| c as f64)
                .collect::<Vec<_>>(),
        );
        rows.series(
            "actual",
            "purchases_by_frequency",
            &self.frequency_groups,
            &self.actual_by_frequency,
        );
        rows.weekly("actual", "cumulative_purchases", &self.actual_cumulative);
        for m in &self.models {
            let model = clv_models::ModelKind::from(m.model).key().to_string();
            for (name, &value) in &m.parameters {
                rows.push(&model, name, "", value);
            }
            rows.push(&model, "log_likelihood", "", m.log_likelihood);
            rows.push(&model, "bic", "", m.bic);
            rows.push(
                &model,
                "holdout_purchases",
                "",
                m.predicted_holdout_purchases,
            );
            rows.push(&model, "mae", "", m.mae);
            rows.push(&model, "rmse", "", m.rmse);
            rows.series(
                &model,
                "purchases_by_frequency",
                &self.frequency_groups,
                &m.predicted_by_frequency,
            );
            rows.weekly(&model, "cumulative_purchases", &m.predicted_cumulative);
        }
        clv_data::Table::new()
            .with("model", clv_data::Values::text(rows.model))
            .with("measure", clv_data::Values::text(rows.measure))
            .with("group", clv_data::Values::text(rows.group))
            .with("value", clv_data::Values::Float(rows.value))
    }
}

/// The columns of [`Validation::table`], filled row by row.
#[derive(Default)]
struct LongRows {
    model: Vec<String>,
    measure: Vec<String>,
    group: Vec<String>,
    value: Vec<f64>,
}

impl LongRows {
    fn push(&mut self, model: &str, measure: &str, group: &str, value: f64) {
        self.model.push(model.into());
        self.measure.push(measure.into());
        self.group.push(group.into());
        self.value.push(value);
    }

    fn series(&mut self, model: &str, measure: &str, groups: &[String], values: &[f64]) {
        for (g, &v) in groups.iter().zip(values) {
            self.push(model, measure, g, v);
        }
    }

    /// Week k (1-based) of the holdout.
    fn weekly(&mut self, model: &str, measure: &str, values: &[f64]) {
        for (k, &v) in values.iter().enumerate() {
            self.push(model, measure, &(k + 1).to_string(), v);
        }
    }
}
