//! Scoring every customer: fit (or take) the purchase and spend models, forecast each distinct
//! history once, and hand every customer their pattern's forecast with their own spend.
//!
//! [`value`] does the work that depends on the whole customer base (fits, intervals, per-pattern
//! forecasts); [`Valuation::scores`] then scores any run of customers, so a million-row result
//! can be formatted a run at a time ([`Valuation::into_chunked`]) and never exist whole.

use crate::bootstrap::{refits, Fitted};
use crate::choose::{choose_by_bic, fit_purchase, Choice};
use crate::config::{Discounting, Intervals, ModelChoice, ValuationConfig};
use crate::error::ValuationError;
use clv_data::{ChunkedTable, Table, TimeUnit, Values};
use clv_models::forecast::{forecast, Estimate, PatternForecast, Spread};
use clv_models::gamma_gamma::GammaGammaParams;
use clv_models::value::discount_per_unit;
use clv_models::{
    FitReport, LoadedModel, ModelKind, Patterns, PurchaseModel, SpendModel, SpendPattern,
};
use clv_summary::{Histories, SummaryOptions};
use std::borrow::Cow;
use std::ops::Range;
use std::time::Instant;

/// A model's estimates with 95% intervals (log-symmetric, from the covariance), for reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelEstimate {
    pub kind: ModelKind,
    pub names: Vec<&'static str>,
    pub params: Vec<f64>,
    pub lower_95: Vec<f64>,
    pub upper_95: Vec<f64>,
    /// Why this model, when it was chosen automatically.
    pub reason: Option<String>,
}

impl ModelEstimate {
    fn of(kind: ModelKind, params: &[f64], covariance: Option<&[Vec<f64>]>) -> Self {
        let half = |i: usize| {
            covariance
                .and_then(|c| c.get(i)?.get(i).copied())
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map_or(0.0, |v| 1.959963984540054 * v.sqrt() / params[i])
        };
        ModelEstimate {
            kind,
            names: kind.param_names().to_vec(),
            params: params.to_vec(),
            lower_95: (0..params.len())
                .map(|i| params[i] * (-half(i)).exp())
                .collect(),
            upper_95: (0..params.len())
                .map(|i| params[i] * half(i).exp())
                .collect(),
            reason: None,
        }
    }
}

/// A model scoring uses, fitted here or read from a file.
struct ModelInUse {
    params: Vec<f64>,
    covariance: Option<Vec<Vec<f64>>>,
    /// The fit made here (none for a saved model).
    fit: Option<FitReport>,
}

impl ModelInUse {
    fn saved(m: &LoadedModel) -> Self {
        ModelInUse {
            params: m.params.clone(),
            covariance: m.covariance.clone(),
            fit: None,
        }
    }

    fn fitted(report: FitReport) -> Self {
        ModelInUse {
            params: report.params.clone(),
            covariance: Some(report.covariance.clone()),
            fit: Some(report),
        }
    }
}

/// The summary columns scoring writes, and net revenue.
struct SummaryColumns<'h> {
    ids: Vec<Cow<'h, str>>,
    frequency: Vec<i64>,
    recency: Vec<f64>,
    t: Vec<f64>,
    monetary: Vec<f64>,
    revenue: Vec<f64>,
    orders: Vec<i64>,
}

impl<'h> SummaryColumns<'h> {
    fn of(histories: &'h Histories, time_unit: TimeUnit, threads: usize) -> Self {
        let options = SummaryOptions {
            time_unit,
            include_first: false,
            threads,
        };
        let all = clv_summary::summary_columns(histories, options, 0..histories.len());
        SummaryColumns {
            ids: all.customer_id,
            frequency: all.frequency,
            recency: all.recency,
            t: all.t,
            monetary: all.monetary_value,
            revenue: all.revenue,
            orders: all.orders,
        }
    }
}

/// Repeat buyers with a positive mean repeat spend, for Gamma-Gamma, sorted by x.
pub fn repeat_spend(frequency: &[i64], monetary: &[f64]) -> Vec<SpendPattern> {
    let mut spend: Vec<SpendPattern> = frequency
        .iter()
        .zip(monetary)
        .filter(|(x, m)| **x > 0 && **m > 0.0)
        .map(|(x, m)| SpendPattern {
            x: *x as f64,
            m: *m,
            weight: 1.0,
        })
        .collect();
    spend.sort_by(|a, b| a.x.total_cmp(&b.x));
    spend
}

/// Everything about a valuation except the per-customer scores: what was fitted, how, and the
/// choices made.
#[derive(Debug, Clone)]
pub struct Fits {
    pub purchase_model: PurchaseModel,
    pub purchase: ModelEstimate,
    /// The spend model; without one there are purchase predictions but no value columns
    /// (`no_value` says why).
    pub spend: Option<ModelEstimate>,
    pub no_value: Option<String>,
    /// The fits made here (none for a saved model).
    pub purchase_fit: Option<FitReport>,
    pub spend_fit: Option<FitReport>,
    /// The automatic choice, when the purchase model was chosen.
    pub choice: Option<Choice>,
    /// The unit the predictions' times are in.
    pub time_unit: TimeUnit,
    /// The horizon in `time_unit`s, the discount rate per unit and the day predictions start.
    pub horizon: f64,
    pub annual_discount_rate: f64,
    pub discount_per_unit: f64,
    pub as_of: i64,
    pub customers: usize,
    /// Distinct (x, t_x, T) histories forecast.
    pub patterns: usize,
    /// Bootstrap draws left out because their refit did not converge.
    pub bootstrap_left_out: usize,
}

impl Fits {
    /// What the valuation left out or could not compare, for people.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.bootstrap_left_out > 0 {
            out.push(format!(
                "bootstrap: {} refits did not converge and were left out",
                self.bootstrap_left_out
            ));
        }
        if let Some(choice) = &self.choice {
            out.extend(choice.warnings());
        }
        if let Some(why) = &self.no_value {
            out.push(format!("no spend model, so no value columns (expected spend, predicted and total CLV): {why}; purchase predictions are unaffected"));
        }
        out
    }

    /// A line saying what was scored, with which models and settings.
    pub fn describe(&self) -> String {
        let f = self;
        let params = f
            .purchase_model
            .param_symbols()
            .iter()
            .zip(&f.purchase.params)
            .map(|(n, v)| format!("{n}={v:.4}"))
            .collect::<Vec<_>>()
            .join(", ");
        let spend = match &f.spend {
            Some(e) => {
                let g = GammaGammaParams::from_slice(&e.params);
                format!(
                    "Gamma-Gamma spend (p={:.4}, q={:.4}, γ={:.4})",
                    g.p, g.q, g.gamma
                )
            }
            None => "no spend model".to_string(),
        };
        format!(
            "scored {} customers: {} model ({params}; {}s), {spend}; horizon {:.2} {}s from {}, discount {}%/year = {:.6} per {} (continuous)",
            clv_data::thousands(f.customers as u64),
            f.purchase_model,
            f.time_unit,
            f.horizon,
            f.time_unit,
            clv_data::time::format_date(f.as_of),
            100.0 * f.annual_discount_rate,
            f.discount_per_unit,
            f.time_unit,
        )
    }
}

/// A scored customer base: fits and per-pattern forecasts, ready to score any run of customers.
pub struct Valuation<'h> {
    pub fits: Fits,
    scorer: Scorer<'h>,
}

/// The purchase model: a saved one, or fitted here (by choice or automatically, by BIC).
fn purchase_model(
    config: &ValuationConfig,
    data: &Patterns,
) -> Result<(PurchaseModel, ModelInUse, Option<Choice>), ValuationError> {
    if let Some(m) = &config.saved_purchase {
        let model = m.kind.purchase().ok_or_else(|| {
            ValuationError::Config(format!(
                "the saved {} model is not a purchase model",
                m.kind
            ))
        })?;
        return Ok((model, ModelInUse::saved(m), None));
    }
    let started = Instant::now();
    let (fitted, choice) = match config.model {
        ModelChoice::Fixed(model) => (fit_purchase(model, &data.rows, config.fit_options())?, None),
        ModelChoice::Auto => {
            let choice = choose_by_bic(&data.rows, config.fit_options())?;
            (choice.fitted.clone(), Some(choice))
        }
    };
    tracing::info!(elapsed = ?started.elapsed(), "purchase fit");
    Ok((fitted.model, ModelInUse::fitted(fitted.report), choice))
}

/// The time unit predictions are in: a saved purchase model's own, else the configured one.
fn time_unit(config: &ValuationConfig) -> Result<TimeUnit, ValuationError> {
    match &config.saved_purchase {
        Some(m) => Ok(m.time_unit.parse()?),
        None => Ok(config.time_unit),
    }
}

/// How the horizon's purchases are discounted.
fn discounting(
    config: &ValuationConfig,
    time_unit: TimeUnit,
) -> Result<(clv_models::value::Discounting, f64), ValuationError> {
    let rate = config.annual_discount_rate;
    if !(0.0..10.0).contains(&rate) {
        return Err(ValuationError::Config(format!(
            "the discount rate {rate} is outside 0% … 1000% a year"
        )));
    }
    let delta = discount_per_unit(rate, time_unit.days());
    let scheme = match config.discounting {
        Discounting::Continuous => clv_models::value::Discounting::Continuous { per_unit: delta },
        // lifetimes' scheme: whole months, a monthly rate, and its own month lengths per unit.
        Discounting::Lifetimes => clv_models::value::Discounting::Monthly {
            months: (config.horizon_days() / TimeUnit::Month.days()).round() as u32,
            units_per_month: match time_unit {
                TimeUnit::Hour => 720.0,
                TimeUnit::Day => 30.0,
                TimeUnit::Week => 4.345,
                TimeUnit::Month => 1.0,
                TimeUnit::Year => 1.0 / 12.0,
            },
            monthly_rate: (1.0 + rate).powf(1.0 / 12.0) - 1.0,
        },
    };
    Ok((scheme, delta))
}

/// The parameter sets each prediction is evaluated at.
fn spread(
    intervals: Intervals,
    kind: ModelKind,
    model: &ModelInUse,
    draws: Option<Vec<Vec<f64>>>,
) -> Result<Spread, ValuationError> {
    Ok(match intervals {
        Intervals::None => Spread::none(&model.params),
        Intervals::Delta { level } => {
            let covariance = model
                .covariance
                .as_deref()
                .ok_or(ValuationError::NoCovariance(kind))?;
            Spread::delta(&model.params, covariance, level)?
        }
        Intervals::Bootstrap { level, .. } => {
            Spread::draws(&model.params, draws.expect("bootstrap draws"), level)?
        }
    })
}

/// Why spend cannot be modelled from customers with these net revenues and orders, if it
/// cannot: no amounts at all, or every order worth the same (Gamma-Gamma's likelihood then
/// grows without bound).
pub fn spend_unmodellable(revenue: &[f64], orders: &[i64]) -> Option<String> {
    if revenue.iter().all(|&r| r == 0.0) {
        return Some("the orders carry no amounts (every order is worth 0)".into());
    }
    let mut values = revenue
        .iter()
        .zip(orders)
        .filter(|(_, &n)| n > 0)
        .map(|(r, &n)| r / n as f64);
    let first = values.next()?;
    values.all(|v| (v - first).abs() <= 1e-9 * first.abs()).then(|| {
        format!("every order is worth {first} (constant spend), so spend does not vary and Gamma-Gamma cannot be fitted; expected spend per order is {first} for everyone")
    })
}

/// The spend model: a saved one, or Gamma-Gamma fitted to the repeat buyers here; without one
/// (no amounts, constant spend, a fit that fails, unbounded mean spend), why.
fn spend_model(config: &ValuationConfig, repeat: &[SpendPattern]) -> Result<ModelInUse, String> {
    let spend = match &config.saved_spend {
        Some(m) => ModelInUse::saved(m),
        None => {
            let started = Instant::now();
            let report = SpendModel::GammaGamma
                .fit(repeat, config.fit_options())
                .map_err(|e| e.to_string())?;
            tracing::info!(elapsed = ?started.elapsed(), "spend fit");
            ModelInUse::fitted(report)
        }
    };
    match GammaGammaParams::from_slice(&spend.params).expected_spend(0.0, 0.0) {
        Some(_) => Ok(spend),
        None => Err(ValuationError::UnboundedSpend.to_string()),
    }
}

/// The parameter sets both models' predictions are evaluated at (bootstrap refits when asked),
/// and the bootstrap draws left out.
fn spreads(
    config: &ValuationConfig,
    purchase_model: PurchaseModel,
    purchase: &ModelInUse,
    spend: Option<&ModelInUse>,
    patterns: &[clv_models::Pattern],
    repeat: &[SpendPattern],
) -> Result<(Spread, Option<Spread>, usize), ValuationError> {
    let (purchase_draws, spend_draws, left_out) = match config.intervals {
        Intervals::Bootstrap { draws, seed, .. } => {
            let fitted = Fitted {
                purchase: purchase_model,
                purchase_params: &purchase.params,
                patterns,
                spend: spend.map(|s| (s.params.as_slice(), repeat)),
            };
            let r = refits(&fitted, draws, seed, config.fit_options())?;
            (Some(r.purchase), r.spend, r.left_out)
        }
        _ => (None, None, 0),
    };
    let purchase_kind = ModelKind::from(purchase_model);
    let purchase_spread = spread(config.intervals, purchase_kind, purchase, purchase_draws)?;
    let spend_kind = ModelKind::GAMMA_GAMMA;
    let spend_spread = spend
        .map(|s| spread(config.intervals, spend_kind, s, spend_draws))
        .transpose()?;
    Ok((purchase_spread, spend_spread, left_out))
}

/// Fit (or take) the models for `histories` and forecast every distinct history.
pub fn value<'h>(
    histories: &'h Histories,
    config: &ValuationConfig,
) -> Result<Valuation<'h>, ValuationError> {
    let time_unit = time_unit(config)?;
    let horizon = config.horizon_days() / time_unit.days();
    let (discounting, delta) = discounting(config, time_unit)?;

    // The summary columns the output needs, kept as the table's own columns; the full summary
    // rows (three times their size) are never built, which halves scoring's peak memory.
    let started = Instant::now();
    let c = SummaryColumns::of(histories, time_unit, config.threads);
    tracing::info!(elapsed = ?started.elapsed(), "summary columns");
    // One pass over the customers: the distinct (x, t_x, T) patterns serve both the fit and the
    // predictions, which are made once per pattern.
    let started = Instant::now();
    let (data, pattern_of) = Patterns::compress_indexed(
        (0..c.ids.len()).map(|i| (c.frequency[i] as f64, c.recency[i], c.t[i])),
    );
    tracing::info!(elapsed = ?started.elapsed(), patterns = data.rows.len(), "patterns");
    let (purchase_model, purchase, choice) = purchase_model(config, &data)?;
    let repeat = repeat_spend(&c.frequency, &c.monetary);
    let spend = match spend_unmodellable(&c.revenue, &c.orders) {
        Some(why) if config.saved_spend.is_none() => Err(why),
        _ => spend_model(config, &repeat),
    };
    let (spend_fit, no_value) = match spend {
        Ok(spend) => (Some(spend), None),
        Err(why) => (None, Some(why)),
    };
    let (purchase_spread, spend_spread, left_out) = spreads(
        config,
        purchase_model,
        &purchase,
        spend_fit.as_ref(),
        &data.rows,
        &repeat,
    )?;
    let purchase_kind = ModelKind::from(purchase_model);
    let spend_models: Vec<GammaGammaParams> = spend_spread
        .iter()
        .flat_map(|s| s.sets())
        .map(|s| GammaGammaParams::from_slice(s))
        .collect();

    let started = Instant::now();
    let make = move |params: &[f64]| purchase_model.predictor(params);
    let forecasts = forecast(
        &make,
        &purchase_spread,
        &data.rows,
        horizon,
        discounting,
        config.threads,
    )?;
    tracing::info!(elapsed = ?started.elapsed(), "forecast");

    let mut purchase_estimate = ModelEstimate::of(
        purchase_kind,
        &purchase.params,
        purchase.covariance.as_deref(),
    );
    purchase_estimate.reason = choice.as_ref().map(Choice::reason);
    let fits = Fits {
        purchase_model,
        purchase: purchase_estimate,
        spend: spend_fit
            .as_ref()
            .map(|s| ModelEstimate::of(ModelKind::GAMMA_GAMMA, &s.params, s.covariance.as_deref())),
        no_value,
        purchase_fit: purchase.fit,
        spend_fit: spend_fit.and_then(|s| s.fit),
        choice,
        time_unit,
        horizon,
        annual_discount_rate: config.annual_discount_rate,
        discount_per_unit: delta,
        as_of: histories.main_end(),
        customers: c.ids.len(),
        patterns: data.rows.len(),
        bootstrap_left_out: left_out,
    };
    let scorer = Scorer {
        end_day: histories.main_end().div_euclid(clv_data::time::DAY) * clv_data::time::DAY,
        time_unit,
        with_intervals: purchase_spread.level().is_some(),
        threads: config.threads,
        summary: c,
        pattern_of,
        forecasts,
        purchase_spread,
        spend_spread,
        spend_models,
    };
    Ok(Valuation { fits, scorer })
}

impl<'h> Valuation<'h> {
    /// Customers scored.
    pub fn len(&self) -> usize {
        self.fits.customers
    }

    pub fn is_empty(&self) -> bool {
        self.fits.customers == 0
    }

    /// Whether the scores carry `_lower`/`_upper` bounds.
    pub fn with_intervals(&self) -> bool {
        self.scorer.with_intervals
    }

    /// The scores of customers `rows` (positions in id order).
    pub fn scores(&self, rows: Range<usize>) -> ScoreColumns {
        self.scorer.score_runs(rows)
    }

    /// The output table of customers `rows`: summary columns, then every prediction.
    pub fn table(&self, rows: Range<usize>) -> Table<'h> {
        self.scorer.table(rows)
    }

    /// [`Valuation::table`] of customers `rows` whose `scores` are already computed (from
    /// [`Valuation::scores`], sliced to `rows`), so a caller that needs every score first (to
    /// rank them) scores each customer once.
    pub fn table_of(&self, rows: Range<usize>, scores: ScoreColumns) -> Table<'h> {
        self.scorer.table_of(rows, scores)
    }

    /// The `n` customers with the highest predicted CLV (positions in id order), most valuable
    /// first; ties keep id order.
    pub fn most_valuable(&self, n: usize) -> Vec<usize> {
        let clv = self.scores(0..self.len()).predicted_clv.value;
        let mut order: Vec<usize> = (0..clv.len()).collect();
        order.sort_by(|&a, &b| clv[b].total_cmp(&clv[a]));
        order.truncate(n);
        order
    }

    /// Every customer's row, built a run at a time when written.
    pub fn into_chunked(self) -> ChunkedTable<'h> {
        let scorer = self.scorer;
        ChunkedTable::new(self.fits.customers, move |rows| scorer.table(rows))
    }

    /// A line saying what was scored, with which models and settings.
    pub fn describe(&self) -> String {
        self.fits.describe()
    }
}

/// Everything scoring a customer needs, once the models are fitted and each (x, t_x, T) pattern
/// is forecast.
struct Scorer<'h> {
    /// The day the predictions start from (the end of the main window).
    end_day: i64,
    time_unit: TimeUnit,
    with_intervals: bool,
    threads: usize,
    summary: SummaryColumns<'h>,
    /// Each customer's pattern (index into `forecasts`).
    pattern_of: Vec<u32>,
    forecasts: Vec<PatternForecast>,
    purchase_spread: Spread,
    /// None without a spend model: then no value columns.
    spend_spread: Option<Spread>,
    /// The spend model at each of `spend_spread`'s parameter sets.
    spend_models: Vec<GammaGammaParams>,
}

impl<'h> Scorer<'h> {
    /// The date `wait` time units after the end of the window; none for waits of more than a
    /// century ("not expected").
    fn date_after(&self, wait: f64) -> Option<i64> {
        let wait_days = wait * self.time_unit.days();
        (wait_days.is_finite() && wait_days < 36_500.0)
            .then(|| self.end_day + (wait_days * clv_data::time::DAY as f64) as i64)
    }

    /// The scores of customers `rows`: on several threads when the run is long.
    fn score_runs(&self, rows: Range<usize>) -> ScoreColumns {
        const PER_THREAD: usize = 1 << 16;
        let threads = self.threads.min(rows.len() / PER_THREAD).max(1);
        let size = rows.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let mut runs = rows
                .clone()
                .step_by(size)
                .map(|a| a..(a + size).min(rows.end));
            let first = runs.next().unwrap_or(0..0);
            let others: Vec<_> = runs
                .map(|run| scope.spawn(move || self.scores(run)))
                .collect();
            let mut scores = self.scores(first);
            for other in others {
                scores.append(other.join().expect("scoring thread panicked"));
            }
            scores
        })
    }

    /// The output rows of customers `rows`.
    fn table(&self, rows: Range<usize>) -> Table<'h> {
        self.table_of(rows.clone(), self.score_runs(rows))
    }

    /// The output rows of customers `rows`, whose scores are `scores`.
    fn table_of(&self, rows: Range<usize>, scores: ScoreColumns) -> Table<'h> {
        let c = &self.summary;
        let summary = Table::new()
            .with("customer_id", Values::Text(c.ids[rows.clone()].to_vec()))
            .with("frequency", Values::Int(c.frequency[rows.clone()].to_vec()))
            .with("recency", Values::Float(c.recency[rows.clone()].to_vec()))
            .with("T", Values::Float(c.t[rows.clone()].to_vec()))
            .with("monetary_value", Values::Float(c.monetary[rows].to_vec()));
        scores.into_table(summary)
    }

    /// Scores of customers `rows` (the per-customer half of scoring; the forecasts per pattern
    /// are the other half).
    fn scores(&self, rows: Range<usize>) -> ScoreColumns {
        let c = &self.summary;
        let with_value = self.spend_spread.is_some();
        let mut columns = ScoreColumns::with_capacity(rows.len(), self.with_intervals, with_value);
        let mut spend_values = vec![0.0; self.spend_models.len()];
        for i in rows {
            let (frequency, monetary, k) = (c.frequency[i], c.monetary[i], self.pattern_of[i]);
            let x = frequency as f64;
            let f = &self.forecasts[k as usize];
            let m = if frequency > 0 && monetary > 0.0 {
                monetary
            } else {
                0.0
            };
            for (v, model) in spend_values.iter_mut().zip(&self.spend_models) {
                // q > 1 at the estimate was checked; a bootstrap set with q ≤ 1 has no mean spend.
                *v = model
                    .expected_spend(if m > 0.0 { x } else { 0.0 }, m)
                    .unwrap_or(f64::INFINITY);
            }
            let value = self.spend_spread.as_ref().map(|spend_spread| {
                let (per_order, spend_ln_variance) =
                    spend_spread.positive_with_ln_variance(&spend_values);
                let clv = self.purchase_spread.product_given(
                    &f.discounted_purchases,
                    f.discounted_ln_variance,
                    spend_spread,
                    &spend_values,
                    spend_ln_variance,
                );
                (per_order, clv)
            });
            columns.push(ScoreRow {
                p_alive: f.p_alive,
                expected_purchases: f.expected_purchases,
                purchases: f.purchases,
                value,
                historic: c.revenue[i],
                next_date: [f.wait.value, f.wait.lower, f.wait.upper].map(|w| self.date_after(w)),
            });
        }
        columns
    }
}

/// One customer's scored predictions.
struct ScoreRow {
    p_alive: Estimate,
    expected_purchases: Estimate,
    purchases: Option<(u32, u32)>,
    /// Expected spend per order and predicted CLV, with a spend model.
    value: Option<(Estimate, Estimate)>,
    historic: f64,
    /// Expected next-order date and its interval.
    next_date: [Option<i64>; 3],
}

/// A prediction column and, with intervals, its bounds (single precision, rounded outwards:
/// they are approximations good to a few per cent).
#[derive(Debug, Clone, Default)]
pub struct Bounded {
    pub value: Vec<f64>,
    pub lower: Vec<f32>,
    pub upper: Vec<f32>,
}

impl Bounded {
    fn with_capacity(n: usize) -> Self {
        Bounded {
            value: Vec::with_capacity(n),
            lower: Vec::with_capacity(n),
            upper: Vec::with_capacity(n),
        }
    }

    /// Adds a prediction; its bounds one single-precision step further out than needed, so that
    /// their shortest decimal forms, read back as doubles, still bracket the value, and clamped
    /// to `range`.
    fn push(&mut self, e: Estimate, with_bounds: bool, range: (f32, f32)) {
        self.value.push(e.value);
        if with_bounds {
            self.lower
                .push(f32_at_most(e.lower).next_down().clamp(range.0, range.1));
            self.upper
                .push((-f32_at_most(-e.upper)).next_up().clamp(range.0, range.1));
        }
    }

    fn append(&mut self, mut other: Bounded) {
        self.value.append(&mut other.value);
        self.lower.append(&mut other.lower);
        self.upper.append(&mut other.upper);
    }

    /// Entries `rows` (the bounds' too, when there are bounds).
    fn slice(&self, rows: Range<usize>) -> Bounded {
        let part = |v: &[f32]| v.get(rows.clone()).map_or_else(Vec::new, <[f32]>::to_vec);
        Bounded {
            value: self.value[rows.clone()].to_vec(),
            lower: part(&self.lower),
            upper: part(&self.upper),
        }
    }

    fn add_to<'h>(self, table: Table<'h>, name: &str, with_bounds: bool) -> Table<'h> {
        let table = table.with(name, Values::Float(self.value));
        if with_bounds {
            table
                .with(&format!("{name}_lower"), Values::Float32(self.lower))
                .with(&format!("{name}_upper"), Values::Float32(self.upper))
        } else {
            table
        }
    }
}

/// The largest f32 not above `v`.
fn f32_at_most(v: f64) -> f32 {
    let f = v as f32;
    if f as f64 > v {
        f.next_down()
    } else {
        f
    }
}

/// Every prediction of a run of customers, each (with intervals) with its bounds.
#[derive(Debug, Clone, Default)]
pub struct ScoreColumns {
    pub with_intervals: bool,
    /// False without a spend model: `expected_spend`, `predicted_clv` and `total_clv` are
    /// then empty (and absent from the table).
    pub with_value: bool,
    pub p_alive: Bounded,
    pub churn_probability: Bounded,
    pub expected_purchases: Bounded,
    /// Predictive interval of the purchase count (with intervals only): lower, upper.
    pub purchases: [Vec<i64>; 2],
    pub expected_spend: Bounded,
    pub predicted_clv: Bounded,
    pub historic_clv: Vec<f64>,
    pub total_clv: Bounded,
    /// Expected next-order date (shop-local seconds) and, with intervals, its bounds.
    pub next_order_date: [Vec<Option<i64>>; 3],
    /// P(an order by the expected next-order date).
    pub next_order_probability: Vec<f64>,
}

impl ScoreColumns {
    fn with_capacity(n: usize, with_intervals: bool, with_value: bool) -> Self {
        ScoreColumns {
            with_intervals,
            with_value,
            p_alive: Bounded::with_capacity(n),
            churn_probability: Bounded::with_capacity(n),
            expected_purchases: Bounded::with_capacity(n),
            purchases: std::array::from_fn(|_| Vec::with_capacity(n)),
            expected_spend: Bounded::with_capacity(n),
            predicted_clv: Bounded::with_capacity(n),
            historic_clv: Vec::with_capacity(n),
            total_clv: Bounded::with_capacity(n),
            next_order_date: std::array::from_fn(|_| Vec::with_capacity(n)),
            next_order_probability: Vec::with_capacity(n),
        }
    }

    fn append(&mut self, other: ScoreColumns) {
        self.p_alive.append(other.p_alive);
        self.churn_probability.append(other.churn_probability);
        self.expected_purchases.append(other.expected_purchases);
        self.expected_spend.append(other.expected_spend);
        self.predicted_clv.append(other.predicted_clv);
        self.total_clv.append(other.total_clv);
        self.historic_clv.extend(other.historic_clv);
        self.next_order_probability
            .extend(other.next_order_probability);
        for (to, from) in self.purchases.iter_mut().zip(other.purchases) {
            to.extend(from);
        }
        for (to, from) in self.next_order_date.iter_mut().zip(other.next_order_date) {
            to.extend(from);
        }
    }

    /// The scores of customers `rows` of these (positions within them).
    pub fn slice(&self, rows: Range<usize>) -> ScoreColumns {
        fn part<T: Clone>(v: &[T], rows: &Range<usize>) -> Vec<T> {
            v.get(rows.clone()).map_or_else(Vec::new, <[T]>::to_vec)
        }
        ScoreColumns {
            with_intervals: self.with_intervals,
            with_value: self.with_value,
            p_alive: self.p_alive.slice(rows.clone()),
            churn_probability: self.churn_probability.slice(rows.clone()),
            expected_purchases: self.expected_purchases.slice(rows.clone()),
            purchases: self.purchases.each_ref().map(|v| part(v, &rows)),
            expected_spend: self.expected_spend.slice(rows.clone()),
            predicted_clv: self.predicted_clv.slice(rows.clone()),
            historic_clv: part(&self.historic_clv, &rows),
            total_clv: self.total_clv.slice(rows.clone()),
            next_order_date: self.next_order_date.each_ref().map(|v| part(v, &rows)),
            next_order_probability: part(&self.next_order_probability, &rows),
        }
    }

    fn push(&mut self, row: ScoreRow) {
        let bounds = self.with_intervals;
        let (probability, positive, any) = ((0.0, 1.0), (0.0, f32::MAX), (f32::MIN, f32::MAX));
        self.p_alive.push(row.p_alive, bounds, probability);
        self.churn_probability.push(
            Estimate {
                value: 1.0 - row.p_alive.value,
                lower: 1.0 - row.p_alive.upper,
                upper: 1.0 - row.p_alive.lower,
            },
            bounds,
            probability,
        );
        self.expected_purchases
            .push(row.expected_purchases, bounds, positive);
        if let Some((lower, upper)) = row.purchases {
            self.purchases[0].push(lower as i64);
            self.purchases[1].push(upper as i64);
        }
        if let Some((per_order, clv)) = row.value {
            self.expected_spend.push(per_order, bounds, positive);
            self.predicted_clv.push(clv, bounds, positive);
            let total = Estimate {
                value: row.historic + clv.value,
                lower: row.historic + clv.lower,
                upper: row.historic + clv.upper,
            };
            self.total_clv.push(total, bounds, any);
        }
        self.historic_clv.push(row.historic);
        let dates = if bounds { 3 } else { 1 };
        for (col, date) in self
            .next_order_date
            .iter_mut()
            .zip(row.next_date)
            .take(dates)
        {
            col.push(date);
        }
        // The median wait is the median only if the customer is still active.
        self.next_order_probability.push(0.5 * row.p_alive.value);
    }

    /// The predictions as columns after `table`'s (`clv score`'s column names and order).
    pub fn into_table(self, table: Table<'_>) -> Table<'_> {
        let with_intervals = self.with_intervals;
        let mut table = self.p_alive.add_to(table, "p_alive", with_intervals);
        table = self
            .churn_probability
            .add_to(table, "churn_probability", with_intervals);
        table = self
            .expected_purchases
            .add_to(table, "expected_purchases", with_intervals);
        if with_intervals {
            let [lower, upper] = self.purchases;
            table = table
                .with("purchases_lower", Values::Int(lower))
                .with("purchases_upper", Values::Int(upper));
        }
        if self.with_value {
            table = self
                .expected_spend
                .add_to(table, "expected_spend", with_intervals);
            table = self
                .predicted_clv
                .add_to(table, "predicted_clv", with_intervals);
        }
        table = table.with("historic_clv", Values::money(self.historic_clv));
        if self.with_value {
            table = self.total_clv.add_to(table, "total_clv", with_intervals);
        }
        let [date, lower, upper] = self.next_order_date;
        table = table.with("expected_next_order_date", Values::MaybeDate(date));
        if with_intervals {
            table = table
                .with("expected_next_order_date_lower", Values::MaybeDate(lower))
                .with("expected_next_order_date_upper", Values::MaybeDate(upper));
        }
        table.with(
            "next_order_probability",
            Values::Float(self.next_order_probability),
        )
    }
}
