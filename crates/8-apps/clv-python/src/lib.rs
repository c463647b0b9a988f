//! clv's native Python module, `clv._clv`: the engine's summary, fits, predictions and valuation
//! over Arrow arrays.
//!
//! The classes and functions users call (lifetimes' API and clv's own) are Python, in
//! `python/clv`; they broadcast and type the arguments, so this module checks them, runs the
//! engine without holding the GIL and hands Arrow back. Customer ids arrive as int64 or text
//! (the Python side factorizes any other kind into integer codes) and go back in the same kind.
//! Like a binary, this is a front end: it parses the few option strings Python passes and decides
//! how many threads predictions use; the engine crates do neither.

mod read;

use arrow_array::{
    make_array, Array, ArrayRef, Float64Array, Int64Array, LargeStringArray, RecordBatch,
    StringArray,
};
use arrow_data::ArrayData;
use arrow_pyarrow::PyArrowType;
use clv_data::{OrderLine, Period, Table, TimeUnit, Values};
use clv_models::value::Discounting;
use clv_models::{BgBbParams, GammaGammaParams, ModelKind, Patterns, PurchaseModel, SpendPattern};
use clv_summary::{Histories, Ledger, LedgerOptions};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::str::FromStr;
use std::sync::Arc;

type Arrow<T> = PyArrowType<T>;

fn invalid(message: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(message.to_string())
}

/// `data` as the array type `A` (`kind` names it in the error).
fn typed<A: Array + Clone + 'static>(data: ArrayData, name: &str, kind: &str) -> PyResult<A> {
    make_array(data)
        .as_any()
        .downcast_ref::<A>()
        .cloned()
        .ok_or_else(|| invalid(format!("{name}: expected {kind} values")))
}

fn floats(data: ArrayData, name: &str) -> PyResult<Float64Array> {
    typed(data, name, "float64")
}

fn ints(data: ArrayData, name: &str) -> PyResult<Int64Array> {
    typed(data, name, "int64")
}

/// lifetimes' `freq` letters (pandas period aliases) as purchase periods.
fn period(freq: &str) -> PyResult<Period> {
    match freq {
        "H" | "h" => Ok(Period::Hour),
        "D" => Ok(Period::Day),
        "W" | "W-SUN" => Ok(Period::Week),
        "M" | "ME" => Ok(Period::Month),
        "Y" | "YE" | "A" => Ok(Period::Year),
        other => Err(invalid(format!(
            "freq {other:?}: clv counts in hours (H), days (D), weeks (W, Monday to Sunday), \
             months (M) or years (Y)"
        ))),
    }
}

/// lifetimes' `freq` and `freq_multiplier`, checked.
fn periods(freq: &str, freq_multiplier: f64) -> PyResult<(Period, f64)> {
    if !(freq_multiplier.is_finite() && freq_multiplier > 0.0) {
        return Err(invalid("freq_multiplier must be a positive number"));
    }
    Ok((period(freq)?, freq_multiplier))
}

/// Why a row was left out, and how many were.
#[derive(Default)]
struct Rejects {
    counts: std::collections::BTreeMap<&'static str, u64>,
    /// The first few, as (row, reason).
    examples: Vec<(usize, &'static str)>,
}

impl Rejects {
    const EXAMPLES: usize = 10;

    fn add(&mut self, row: usize, reason: &'static str) {
        *self.counts.entry(reason).or_default() += 1;
        if self.examples.len() < Self::EXAMPLES {
            self.examples.push((row, reason));
        }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "counts": self.counts,
            "examples": self.examples.iter()
                .map(|(row, reason)| serde_json::json!({"row": row, "reason": reason}))
                .collect::<Vec<_>>(),
        })
    }
}

/// Customer ids as they arrive: the integer codes pandas' side makes, or text (Spark's ids).
enum Ids {
    Codes(Int64Array),
    Text(StringArray),
    LargeText(LargeStringArray),
}

impl Ids {
    fn of(data: ArrayData) -> PyResult<Ids> {
        let array = make_array(data);
        let any = array.as_any();
        if let Some(a) = any.downcast_ref::<Int64Array>() {
            Ok(Ids::Codes(a.clone()))
        } else if let Some(a) = any.downcast_ref::<StringArray>() {
            Ok(Ids::Text(a.clone()))
        } else if let Some(a) = any.downcast_ref::<LargeStringArray>() {
            Ok(Ids::LargeText(a.clone()))
        } else {
            Err(invalid("customer ids: expected int64 codes or text"))
        }
    }

    fn array(&self) -> &dyn Array {
        match self {
            Ids::Codes(a) => a,
            Ids::Text(a) => a,
            Ids::LargeText(a) => a,
        }
    }

    /// The ids of summary `rows` in the kind they came in.
    fn column(&self, rows: &[clv_summary::SummaryRow]) -> ArrayRef {
        match self {
            Ids::Codes(_) => Arc::new(Int64Array::from_iter_values(
                rows.iter().map(|r| code(r.customer_id)),
            )),
            _ => text_ids(rows),
        }
    }

    /// Row `i`'s id as bytes (codes written in decimal into `buffer`).
    fn get<'a>(&'a self, i: usize, buffer: &'a mut String) -> &'a [u8] {
        match self {
            Ids::Codes(a) => {
                buffer.clear();
                use std::fmt::Write as _;
                let _ = write!(buffer, "{}", a.value(i));
                buffer.as_bytes()
            }
            Ids::Text(a) => a.value(i).as_bytes(),
            Ids::LargeText(a) => a.value(i).as_bytes(),
        }
    }
}

fn text_ids(rows: &[clv_summary::SummaryRow]) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(
        rows.iter().map(|r| r.customer_id),
    ))
}

/// Row `i`'s order value, or why the row is left out.
fn checked_value(
    customers: &Ids,
    times: &Int64Array,
    values: Option<&Float64Array>,
    i: usize,
) -> Result<f64, &'static str> {
    if customers.array().is_null(i) {
        return Err("no customer id");
    }
    if times.is_null(i) {
        return Err("no date");
    }
    match values {
        None => Ok(1.0),
        Some(v) if v.is_null(i) => Err("no monetary value"),
        Some(v) if !v.value(i).is_finite() => Err("monetary value is not a finite number"),
        Some(v) => Ok(v.value(i)),
    }
}

/// Rows each thread hands the ledger per round (the ledger then applies every thread's rows,
/// in row order, on all of them).
const ROWS_PER_THREAD: usize = 1 << 16;

/// Feed one batch of orders to `ledger` on `threads` threads, leaving out (and counting in
/// `rejects`) rows without a customer, a date or a finite value. `first_row` numbers the batch's
/// rows for the report. `times` are shop-local seconds, `values` the order values (all 1
/// without them).
fn feed(
    ledger: &mut Ledger,
    customers: &Ids,
    times: &Int64Array,
    values: Option<&Float64Array>,
    rejects: &mut Rejects,
    first_row: usize,
    threads: usize,
) -> PyResult<()> {
    use clv_data::ShardedSink;
    let n = customers.array().len();
    if times.len() != n || values.is_some_and(|v| v.len() != n) {
        return Err(invalid(
            "customers, times and values must have the same length",
        ));
    }
    let threads = threads.clamp(1, 64);
    ledger.expect_lines(n as u64);
    let mut shards: Vec<_> = (0..threads).map(|_| ledger.shard()).collect();
    let mut start = 0;
    while start < n {
        let end = (start + ROWS_PER_THREAD * threads).min(n);
        let per_thread = (end - start).div_ceil(threads);
        let left_out: Vec<Vec<(usize, &'static str)>> = std::thread::scope(|scope| {
            let runs: Vec<_> = shards
                .iter_mut()
                .enumerate()
                .map(|(k, shard)| {
                    let rows =
                        (start + k * per_thread).min(end)..(start + (k + 1) * per_thread).min(end);
                    scope.spawn(move || {
                        let mut buffer = String::new();
                        let mut left_out = Vec::new();
                        for i in rows {
                            match checked_value(customers, times, values, i) {
                                Ok(value) => Ledger::push(
                                    shard,
                                    &OrderLine {
                                        customer: customers.get(i, &mut buffer),
                                        time: times.value(i),
                                        value,
                                        order: None,
                                        sku: None,
                                        description: None,
                                        quantity: if value.is_sign_negative() { -1.0 } else { 1.0 },
                                    },
                                ),
                                Err(reason) => left_out.push((i, reason)),
                            }
                        }
                        left_out
                    })
                })
                .collect();
            runs.into_iter()
                .map(|run| run.join().expect("feeding does not panic"))
                .collect()
        });
        for (i, reason) in left_out.into_iter().flatten() {
            rejects.add(first_row + i, reason);
        }
        ledger.absorb(&mut shards);
        start = end;
    }
    Ok(())
}

/// The orders as per-customer histories, and the rows left out.
fn histories(
    customers: &Ids,
    times: &Int64Array,
    values: Option<&Float64Array>,
    options: LedgerOptions,
) -> PyResult<(Histories, Rejects)> {
    options.check().map_err(invalid)?;
    let mut ledger = Ledger::new(options);
    let mut rejects = Rejects::default();
    feed(
        &mut ledger,
        customers,
        times,
        values,
        &mut rejects,
        0,
        options.threads,
    )?;
    let histories = Histories::usable(ledger.finish()).map_err(invalid)?;
    Ok((histories, rejects))
}

/// Without a calibration end lifetimes counts every order in the observation end's period (it
/// compares period starts): the inclusive end of that period.
fn end_of_period(period: Period, t: i64) -> i64 {
    period.start(period.index(t) + 1) - 1
}

/// lifetimes' summary columns of every customer of `h` (with the holdout's when there is a
/// calibration cut), the customers first as `ids` makes them.
fn summary_batch(
    h: &Histories,
    freq_multiplier: f64,
    include_first: bool,
    threads: usize,
    ids: impl Fn(&[clv_summary::SummaryRow]) -> ArrayRef,
) -> PyResult<RecordBatch> {
    // Runs of customers on each thread: at a million customers this is a third of the call.
    let threads = threads.clamp(1, 64);
    let per_thread = h.len().div_ceil(threads).max(1);
    let rows: Vec<_> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..h.len())
            .step_by(per_thread)
            .map(|start| {
                let run = start..(start + per_thread).min(h.len());
                scope.spawn(move || {
                    h.range(run)
                        .map(|c| {
                            clv_summary::summarise_in_periods(&c, h, freq_multiplier, include_first)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        runs.into_iter()
            .flat_map(|run| run.join().expect("summarising does not panic"))
            .collect()
    });
    let column = |f: &dyn Fn(&clv_summary::SummaryRow) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(rows.iter().map(f)))
    };
    let mut columns: Vec<(&str, ArrayRef)> = vec![
        ("customer", ids(&rows)),
        ("frequency", column(&|r| r.frequency as f64)),
        ("recency", column(&|r| r.recency)),
        ("T", column(&|r| r.t)),
        ("monetary_value", column(&|r| r.monetary_value)),
    ];
    if h.calibration_end.is_some() {
        let holdout = |r: &clv_summary::SummaryRow| r.holdout.expect("a calibration cut");
        columns.push((
            "frequency_holdout",
            column(&|r| holdout(r).frequency as f64),
        ));
        columns.push((
            "monetary_value_holdout",
            column(&|r| holdout(r).monetary_value),
        ));
        columns.push(("duration_holdout", column(&|r| holdout(r).duration)));
    }
    RecordBatch::try_from_iter(columns).map_err(invalid)
}

fn report(h: &Histories, rejects: &Rejects) -> String {
    serde_json::json!({"ledger": h.stats, "rejected": rejects.json()}).to_string()
}

fn code(id: &str) -> i64 {
    id.parse()
        .expect("customer ids here are the codes the caller passed")
}

/// lifetimes' `summary_data_from_transaction_data` (without `calibration_end`) and
/// `calibration_and_holdout_data` (with it) on integer-coded customers.
///
/// Without a calibration end, every order in the observation end's period counts (lifetimes
/// compares period starts); with one, the calibration window ends at `calibration_end` and the
/// holdout at `observation_end` exactly (lifetimes compares the timestamps). Returns the columns
/// `customer` (code), `frequency`, `recency`, `T`, `monetary_value` and, with a calibration end,
/// `frequency_holdout`, `monetary_value_holdout`, `duration_holdout`; and a JSON report of the
/// ledger's counts and the rows left out.
#[pyfunction]
#[pyo3(signature = (customers, times, values, freq, freq_multiplier, observation_end, calibration_end, include_first, threads))]
#[allow(clippy::too_many_arguments)]
fn summarize(
    py: Python<'_>,
    customers: Arrow<ArrayData>,
    times: Arrow<ArrayData>,
    values: Option<Arrow<ArrayData>>,
    freq: &str,
    freq_multiplier: f64,
    observation_end: i64,
    calibration_end: Option<i64>,
    include_first: bool,
    threads: usize,
) -> PyResult<(Arrow<RecordBatch>, String)> {
    let (period, freq_multiplier) = periods(freq, freq_multiplier)?;
    let customers = Ids::of(customers.0)?;
    let times = ints(times.0, "times")?;
    let values = values.map(|v| floats(v.0, "monetary values")).transpose()?;
    py.detach(|| {
        let observation_end = match calibration_end {
            None => end_of_period(period, observation_end),
            Some(_) => observation_end,
        };
        let options = LedgerOptions {
            period,
            observation_end: Some(observation_end),
            calibration_end,
            threads,
        };
        let (h, rejects) = histories(&customers, &times, values.as_ref(), options)?;
        let batch = summary_batch(&h, freq_multiplier, include_first, threads, |rows| {
            customers.column(rows)
        })?;
        Ok((PyArrowType(batch), report(&h, &rejects)))
    })
}

/// A ledger fed batch by batch (one Spark partition's orders, say): memory grows with its
/// customers, not with the rows pushed. `finish` gives lifetimes' summary of its customers, ids
/// as text, and the report.
#[pyclass(name = "Ledger", module = "clv._clv")]
struct StreamingLedger {
    ledger: Option<Ledger>,
    rejects: Rejects,
    rows: usize,
    freq_multiplier: f64,
    include_first: bool,
    threads: usize,
}

#[pymethods]
impl StreamingLedger {
    #[new]
    #[pyo3(signature = (freq, freq_multiplier, observation_end, include_first, threads))]
    fn new(
        freq: &str,
        freq_multiplier: f64,
        observation_end: i64,
        include_first: bool,
        threads: usize,
    ) -> PyResult<Self> {
        let (period, freq_multiplier) = periods(freq, freq_multiplier)?;
        let ledger = Ledger::new(LedgerOptions {
            period,
            observation_end: Some(end_of_period(period, observation_end)),
            calibration_end: None,
            threads,
        });
        Ok(StreamingLedger {
            ledger: Some(ledger),
            rejects: Rejects::default(),
            rows: 0,
            freq_multiplier,
            include_first,
            threads,
        })
    }

    /// Add a batch: ids (text or int64), local seconds, values (or None).
    #[pyo3(signature = (customers, times, values))]
    fn push(
        &mut self,
        py: Python<'_>,
        customers: Arrow<ArrayData>,
        times: Arrow<ArrayData>,
        values: Option<Arrow<ArrayData>>,
    ) -> PyResult<()> {
        let customers = Ids::of(customers.0)?;
        let times = ints(times.0, "times")?;
        let values = values.map(|v| floats(v.0, "monetary values")).transpose()?;
        let Some(ledger) = self.ledger.as_mut() else {
            return Err(invalid("this ledger is finished"));
        };
        let first_row = self.rows;
        self.rows += times.len();
        let rejects = &mut self.rejects;
        let threads = self.threads;
        py.detach(|| {
            feed(
                ledger,
                &customers,
                &times,
                values.as_ref(),
                rejects,
                first_row,
                threads,
            )
        })
    }

    /// The summary of every customer pushed (none if no row was), and the report.
    fn finish(&mut self, py: Python<'_>) -> PyResult<(Arrow<RecordBatch>, String)> {
        let Some(ledger) = self.ledger.take() else {
            return Err(invalid("this ledger is finished"));
        };
        let (multiplier, include_first, threads) =
            (self.freq_multiplier, self.include_first, self.threads);
        let rejects = &self.rejects;
        py.detach(|| {
            let Some(h) = ledger.finish() else {
                let empty = RecordBatch::new_empty(Arc::new(arrow_schema::Schema::new(vec![
                    arrow_schema::Field::new("customer", arrow_schema::DataType::Utf8, false),
                ])));
                let report = serde_json::json!({"ledger": null, "rejected": rejects.json()});
                return Ok((PyArrowType(empty), report.to_string()));
            };
            let batch = summary_batch(&h, multiplier, include_first, threads, text_ids)?;
            Ok((PyArrowType(batch), report(&h, rejects)))
        })
    }
}

/// The key of the purchase model `name` names ("auto" stays "auto"), or the library's reason
/// it is not one.
#[pyfunction]
fn purchase_model(name: &str) -> PyResult<&'static str> {
    match name {
        "auto" => Ok("auto"),
        _ => PurchaseModel::from_str(name)
            .map(|m| ModelKind::Purchase(m).key())
            .map_err(invalid),
    }
}

/// Fit `model` (any of clv's names for BG/NBD, MBG/NBD, Pareto/NBD, BG/BB or Gamma-Gamma, or
/// "auto": the purchase model with the lowest BIC) by maximum likelihood. The columns are (frequency, recency, T) for the purchase models,
/// (frequency, recency, n_periods) for BG/BB and (frequency, monetary_value) for Gamma-Gamma.
/// Returns the fit report as JSON (parameters, standard errors, covariance, log-likelihood, what
/// the data leaves undetermined) and, when the data's `time_unit` is known (BG/BB counts
/// opportunities), the model in clv's saved-model format, for `clv score --model-file`. The
/// report's `model` names the model fitted and `choice` says why "auto" chose it.
#[pyfunction]
#[pyo3(signature = (model, columns, weights, penalizer, threads, time_unit=None))]
fn fit(
    py: Python<'_>,
    model: &str,
    columns: Vec<Arrow<ArrayData>>,
    weights: Option<Arrow<ArrayData>>,
    penalizer: f64,
    threads: usize,
    time_unit: Option<&str>,
) -> PyResult<(String, Option<String>)> {
    // "auto": the purchase model with the lowest BIC, as `clv fit --model auto` without a
    // calibration end; BG/NBD stands in until the choice is made.
    let auto = model == "auto";
    let kind = match auto {
        true => ModelKind::BG_NBD,
        false => ModelKind::from_str(model).map_err(invalid)?,
    };
    let time_unit = match kind {
        ModelKind::BgBb => Some("opportunity".to_string()),
        _ => time_unit
            .map(|u| TimeUnit::from_str(u).map(|u| u.name().to_string()))
            .transpose()
            .map_err(invalid)?,
    };
    let columns = columns
        .into_iter()
        .enumerate()
        .map(|(i, c)| floats(c.0, &format!("column {i}")))
        .collect::<PyResult<Vec<_>>>()?;
    let weights = weights.map(|w| floats(w.0, "weights")).transpose()?;
    let n = columns.first().map_or(0, Array::len);
    if columns.iter().any(|c| c.len() != n) || weights.as_ref().is_some_and(|w| w.len() != n) {
        return Err(invalid(
            "every column and the weights must have the same length",
        ));
    }
    let all = columns
        .iter()
        .map(|c| ("a data column", c))
        .chain(weights.iter().map(|w| ("weights", w)));
    for (what, c) in all {
        if let Some(row) = (0..c.len()).find(|&i| c.is_null(i) || !c.value(i).is_finite()) {
            return Err(invalid(format!(
                "{kind}: {what} has no finite number in row {row}; drop or fix that customer"
            )));
        }
    }
    let wanted = if kind == ModelKind::GAMMA_GAMMA { 2 } else { 3 };
    if columns.len() != wanted {
        return Err(invalid(format!("{kind} takes {wanted} columns")));
    }
    let options = clv_models::FitOptions {
        penalty: penalizer,
        threads,
        progress: None,
    };
    let col = |k: usize, i: usize| columns[k].value(i);
    let weight = |i: usize| weights.as_ref().map_or(1.0, |w| w.value(i));
    py.detach(|| {
        let patterns = || {
            let rows = (0..n).map(|i| ((col(0, i), col(1, i), col(2, i)), weight(i)));
            Patterns::compress_weighted(rows).0.rows
        };
        // The fingerprint covers the rows fitted, as `clv fit` computes it.
        let mut kind = kind;
        let mut reason = None;
        let (report, fingerprint) = match kind {
            ModelKind::Purchase(_) | ModelKind::BgBb => {
                let rows = patterns();
                let report = match kind {
                    _ if auto => match clv_score::choose::choose_by_bic(&rows, options) {
                        Ok(choice) => {
                            kind = ModelKind::Purchase(choice.fitted.model);
                            reason = Some(choice.reason());
                            Ok(choice.fitted.report)
                        }
                        Err(e) => return Err(invalid(format!("auto: {e}"))),
                    },
                    ModelKind::Purchase(m) => m.fit(&rows, options),
                    _ => clv_models::fit_with(&clv_models::BgBb, &rows, options),
                };
                let values = rows.iter().flat_map(|p| [p.x, p.t_x, p.t, p.weight]);
                (report, clv_models::saved::fingerprint(values))
            }
            ModelKind::Spend(m) => {
                let rows = clv_models::spend_patterns((0..n).map(|i| SpendPattern {
                    x: col(0, i),
                    m: col(1, i),
                    weight: weight(i),
                }));
                let values = rows.iter().flat_map(|s| [s.x, s.m]);
                (
                    m.fit(&rows, options),
                    clv_models::saved::fingerprint(values),
                )
            }
            ModelKind::Sbg => {
                return Err(invalid(
                    "sBG fits subscription tenures; it has no lifetimes fitter",
                ))
            }
        };
        let report = report.map_err(|e| invalid(format!("{kind}: {e}")))?;
        let saved = time_unit.map(|unit| {
            let data = clv_models::DataInfo {
                file: "clv Python package".into(),
                customers: report.customers.round() as u64,
                excluded: 0,
                observation_end: String::new(),
                fingerprint,
            };
            clv_models::SavedModel::new(kind, unit, &report, data).to_json()
        });
        let mut json = serde_json::to_value(&report).map_err(invalid)?;
        json["model"] = kind.key().into();
        json["choice"] = reason.into();
        Ok((json.to_string(), saved))
    })
}

/// `f(i)` for rows 0..len on up to `threads` threads; the first failure (by row) wins, as (row,
/// why), and a result that is not a finite number is a failure too: no NaN or infinity reaches
/// the user.
fn each_row(
    len: usize,
    threads: usize,
    f: impl Fn(usize) -> Result<f64, String> + Sync,
) -> Result<Vec<f64>, (usize, String)> {
    let mut out = vec![0.0; len];
    let chunk = len.div_ceil(threads.clamp(1, 256)).max(1);
    let checked = |i: usize| match f(i) {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(v) => Err((i, format!("the prediction is {v}, not a number"))),
        Err(e) => Err((i, e)),
    };
    std::thread::scope(|s| {
        let runs: Vec<_> = out
            .chunks_mut(chunk)
            .enumerate()
            .map(|(k, slice)| {
                let checked = &checked;
                s.spawn(move || {
                    for (j, v) in slice.iter_mut().enumerate() {
                        *v = checked(k * chunk + j)?;
                    }
                    Ok(())
                })
            })
            .collect();
        runs.into_iter()
            .try_for_each(|run| run.join().expect("predictions do not panic"))
    })?;
    Ok(out)
}

/// The distinct rows of some columns and which of them each row is: predictions are made once
/// per distinct history (the simulated million customers' weekly summaries have 147,179).
struct DistinctRows {
    columns: Vec<Vec<f64>>,
    row_of: Vec<u32>,
}

impl DistinctRows {
    fn of(columns: &[Float64Array]) -> DistinctRows {
        let len = columns.first().map_or(0, Array::len);
        let mut index: rustc_hash::FxHashMap<[u64; 4], u32> = rustc_hash::FxHashMap::default();
        let mut distinct: Vec<Vec<f64>> = vec![Vec::new(); columns.len()];
        let row_of = (0..len)
            .map(|i| {
                let mut key = [0u64; 4];
                for (k, c) in columns.iter().enumerate() {
                    key[k] = c.values()[i].to_bits();
                }
                *index.entry(key).or_insert_with(|| {
                    for (k, c) in columns.iter().enumerate() {
                        distinct[k].push(c.values()[i]);
                    }
                    (distinct[0].len() - 1) as u32
                })
            })
            .collect();
        DistinctRows {
            columns: distinct,
            row_of,
        }
    }

    fn len(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    /// Each row's prediction from the distinct rows' `values`.
    fn spread(&self, values: &[f64]) -> Vec<f64> {
        self.row_of.iter().map(|&j| values[j as usize]).collect()
    }

    /// A failure at distinct row `j`, told by the first input row that is it.
    fn failure(&self, (j, why): (usize, String)) -> String {
        let row = self.row_of.iter().position(|&r| r as usize == j);
        format!("row {}: {why}", row.unwrap_or(j))
    }
}

/// What `predict` computes; the columns each takes are in [`predict`]'s documentation.
#[derive(Clone, Copy)]
enum Quantity {
    PAlive,
    ConditionalExpected,
    ExpectedNew,
    ProbabilityNew,
    ConditionalProbability,
    DiscountedMonthly,
    ExpectedSpend,
}

impl FromStr for Quantity {
    type Err = PyErr;
    fn from_str(s: &str) -> PyResult<Self> {
        Ok(match s {
            "p_alive" => Quantity::PAlive,
            "conditional_expected" => Quantity::ConditionalExpected,
            "expected_new" => Quantity::ExpectedNew,
            "probability_new" => Quantity::ProbabilityNew,
            "conditional_probability" => Quantity::ConditionalProbability,
            "discounted_monthly" => Quantity::DiscountedMonthly,
            "expected_spend" => Quantity::ExpectedSpend,
            other => return Err(invalid(format!("unknown quantity {other:?}"))),
        })
    }
}

/// A fitted model's predictions, one per row of `columns` (equal lengths, already broadcast):
///
/// | quantity | BG/NBD, MBG/NBD, Pareto/NBD | BG/BB | Gamma-Gamma |
/// |---|---|---|---|
/// | `p_alive` | x, t_x, T | m, x, t_x, n | |
/// | `conditional_expected` | t, x, t_x, T | m, x, t_x, n | |
/// | `expected_new` | t | n | |
/// | `probability_new` (of `n` purchases) | t | periods | |
/// | `conditional_probability` (of `n`, Pareto/NBD) | t, x, t_x, T | | |
/// | `discounted_monthly` (lifetimes' CLV scheme) | x, t_x, T | | |
/// | `expected_spend` | | | x, m |
#[pyfunction]
#[pyo3(signature = (model, params, quantity, columns, n=0, months=0, units_per_month=0.0, monthly_rate=0.0, threads=1))]
#[allow(clippy::too_many_arguments)]
fn predict(
    py: Python<'_>,
    model: &str,
    params: Vec<f64>,
    quantity: &str,
    columns: Vec<Arrow<ArrayData>>,
    n: u32,
    months: u32,
    units_per_month: f64,
    monthly_rate: f64,
    threads: usize,
) -> PyResult<Arrow<ArrayData>> {
    let kind = ModelKind::from_str(model).map_err(invalid)?;
    let quantity = Quantity::from_str(quantity)?;
    let expected_params = kind.param_names().len();
    if params.len() != expected_params || params.iter().any(|p| !(p.is_finite() && *p > 0.0)) {
        return Err(invalid(format!(
            "{kind} needs {expected_params} positive parameters, got {params:?}"
        )));
    }
    let columns = columns
        .into_iter()
        .enumerate()
        .map(|(i, c)| floats(c.0, &format!("column {i}")))
        .collect::<PyResult<Vec<_>>>()?;
    let len = columns.first().map_or(0, Array::len);
    if columns.iter().any(|c| c.len() != len || c.null_count() > 0) {
        return Err(invalid(
            "the columns must have one value per row, none missing",
        ));
    }
    let wanted = match (kind, quantity) {
        (_, Quantity::ExpectedNew | Quantity::ProbabilityNew) => 1,
        (_, Quantity::ExpectedSpend) => 2,
        (ModelKind::BgBb, _) => 4,
        (_, Quantity::PAlive | Quantity::DiscountedMonthly) => 3,
        _ => 4,
    };
    if columns.len() != wanted {
        return Err(invalid(format!("this prediction takes {wanted} columns")));
    }
    if columns.len() > 4 {
        return Err(invalid("predictions take at most 4 columns"));
    }
    if let (ModelKind::Purchase(m), Quantity::ConditionalExpected | Quantity::DiscountedMonthly) =
        (kind, quantity)
    {
        let scheme = Discounting::Monthly {
            months,
            units_per_month,
            monthly_rate,
        };
        let out = py.detach(|| purchases_by_parts(m, &params, quantity, &columns, scheme, threads));
        return Ok(PyArrowType(
            Float64Array::from(out.map_err(invalid)?).into_data(),
        ));
    }
    let out = py.detach(|| {
        let rows = DistinctRows::of(&columns);
        let len = rows.len();
        let v = |k: usize, j: usize| rows.columns[k][j];
        let out = predict_rows(
            kind,
            quantity,
            &params,
            len,
            v,
            n,
            threads,
            months,
            units_per_month,
            monthly_rate,
        );
        out.map(|values| rows.spread(&values))
            .map_err(|f| rows.failure(f))
    });
    let out = out.map_err(invalid)?;
    Ok(PyArrowType(Float64Array::from(out).into_data()))
}

/// Expected purchases ahead (`ConditionalExpected`: columns t, x, t_x, T) or lifetimes'
/// discounted monthly purchases (`DiscountedMonthly`: x, t_x, T), as P(alive) times what an
/// active customer is expected to buy. P(alive) needs the whole history; the rest depends on x and
/// T only (and t), which a shop's customers share far more often, so each part is computed once
/// per distinct value: lifetimes' 12-month CLV then costs little more than P(alive).
fn purchases_by_parts(
    m: PurchaseModel,
    params: &[f64],
    quantity: Quantity,
    columns: &[Float64Array],
    scheme: Discounting,
    threads: usize,
) -> Result<Vec<f64>, String> {
    let p = m.predictor(params);
    let p = p.as_ref();
    let e = |e: clv_models::hyp2f1::Hyp2f1Error| e.to_string();
    let (history, active) = match quantity {
        Quantity::ConditionalExpected => (
            columns[1..4].to_vec(),
            vec![columns[0].clone(), columns[1].clone(), columns[3].clone()],
        ),
        _ => (
            columns.to_vec(),
            vec![columns[0].clone(), columns[2].clone()],
        ),
    };
    let histories = DistinctRows::of(&history);
    let h = &histories.columns;
    let alive = each_row(histories.len(), threads, |j| {
        p.p_alive(h[0][j], h[1][j], h[2][j]).map_err(e)
    })
    .map_err(|f| histories.failure(f))?;
    let actives = DistinctRows::of(&active);
    let a = &actives.columns;
    let horizon = match scheme {
        Discounting::Monthly {
            months,
            units_per_month,
            ..
        } => months as f64 * units_per_month,
        Discounting::Continuous { .. } => 0.0,
    };
    let if_active = each_row(actives.len(), threads, |j| match quantity {
        Quantity::ConditionalExpected => p
            .expected_purchases_if_active(a[0][j], a[1][j], a[2][j])
            .map_err(e),
        _ => scheme
            .if_active(p, horizon, a[0][j], a[1][j])
            .map(|(_, discounted)| discounted)
            .map_err(e),
    })
    .map_err(|f| actives.failure(f))?;
    let (alive, if_active) = (histories.spread(&alive), actives.spread(&if_active));
    Ok(alive.iter().zip(&if_active).map(|(a, b)| a * b).collect())
}

/// [`predict`]'s quantity for rows 0..len, column `k` of row `j` being `v(k, j)`.
#[allow(clippy::too_many_arguments)]
fn predict_rows(
    kind: ModelKind,
    quantity: Quantity,
    params: &[f64],
    len: usize,
    v: impl Fn(usize, usize) -> f64 + Sync,
    n: u32,
    threads: usize,
    months: u32,
    units_per_month: f64,
    monthly_rate: f64,
) -> Result<Vec<f64>, (usize, String)> {
    let no_such = |why: String| Err((0, why));
    {
        let e = |e: clv_models::hyp2f1::Hyp2f1Error| e.to_string();
        match (kind, quantity) {
            (ModelKind::Purchase(m), q) => {
                let p = m.predictor(params);
                let p = p.as_ref();
                match q {
                    Quantity::PAlive => each_row(len, threads, |i| {
                        p.p_alive(v(0, i), v(1, i), v(2, i)).map_err(e)
                    }),
                    Quantity::ConditionalExpected => each_row(len, threads, |i| {
                        p.conditional_expected_purchases(v(0, i), v(1, i), v(2, i), v(3, i))
                            .map_err(e)
                    }),
                    Quantity::DiscountedMonthly => {
                        let scheme = Discounting::Monthly {
                            months,
                            units_per_month,
                            monthly_rate,
                        };
                        let horizon = months as f64 * units_per_month;
                        each_row(len, threads, |i| {
                            scheme
                                .expected_and_discounted(p, horizon, v(0, i), v(1, i), v(2, i))
                                .map(|(_, discounted)| discounted)
                                .map_err(e)
                        })
                    }
                    Quantity::ExpectedNew | Quantity::ProbabilityNew => {
                        new_customer(m, params, q, n, len, threads, |i| v(0, i))
                    }
                    Quantity::ConditionalProbability => match m {
                        PurchaseModel::ParetoNbd => {
                            let p = clv_models::ParetoNbdParams::from_slice(params);
                            each_row(len, threads, |i| {
                                p.conditional_probability_of_purchases(
                                    n,
                                    v(0, i),
                                    v(1, i),
                                    v(2, i),
                                    v(3, i),
                                )
                                .map_err(e)
                            })
                        }
                        _ => no_such(format!(
                            "{kind} has no conditional purchase distribution here"
                        )),
                    },
                    Quantity::ExpectedSpend => no_such(format!("{kind} does not predict spend")),
                }
            }
            (ModelKind::BgBb, q) => {
                let p = BgBbParams::from_slice(params);
                match q {
                    Quantity::PAlive => each_row(len, threads, |i| {
                        Ok(p.p_alive(v(0, i), v(1, i), v(2, i), v(3, i)))
                    }),
                    Quantity::ConditionalExpected => each_row(len, threads, |i| {
                        Ok(p.conditional_expected_purchases(v(0, i), v(1, i), v(2, i), v(3, i)))
                    }),
                    Quantity::ExpectedNew => {
                        each_row(len, threads, |i| Ok(p.expected_purchases_new(v(0, i))))
                    }
                    Quantity::ProbabilityNew => each_row(len, threads, |i| {
                        Ok(p.probability_of_purchases(n, whole(v(0, i))?))
                    }),
                    _ => no_such(format!("{kind} has no such prediction")),
                }
            }
            (ModelKind::Spend(_), Quantity::ExpectedSpend) => {
                let p = GammaGammaParams::from_slice(params);
                each_row(len, threads, |i| {
                    p.expected_spend(v(0, i), v(1, i)).ok_or_else(|| {
                        "q ≤ 1: the population's mean spend is unbounded".to_string()
                    })
                })
            }
            _ => no_such(format!("{kind} has no such prediction")),
        }
    }
}

/// A count of periods given as a float.
fn whole(v: f64) -> Result<u32, String> {
    if v >= 0.0 && v.fract() == 0.0 && v <= u32::MAX as f64 {
        Ok(v as u32)
    } else {
        Err(format!("{v} is not a whole number of periods"))
    }
}

/// A new customer's expected purchases by `t` (or the probability of exactly `n` of them).
fn new_customer(
    m: PurchaseModel,
    params: &[f64],
    q: Quantity,
    n: u32,
    len: usize,
    threads: usize,
    t: impl Fn(usize) -> f64 + Sync,
) -> Result<Vec<f64>, (usize, String)> {
    let expected = matches!(q, Quantity::ExpectedNew);
    match m {
        PurchaseModel::ParetoNbd => {
            let p = clv_models::ParetoNbdParams::from_slice(params);
            each_row(len, threads, |i| match expected {
                true => Ok(p.expected_purchases_new(t(i))),
                false => p
                    .probability_of_purchases(n, t(i))
                    .map_err(|e| e.to_string()),
            })
        }
        _ => {
            let variant = match m {
                PurchaseModel::MbgNbd => clv_models::Variant::Mbg,
                _ => clv_models::Variant::Bg,
            };
            let p = clv_models::BgNbdParams::of(variant, params);
            each_row(len, threads, |i| match expected {
                true => p.expected_purchases_new(t(i)).map_err(|e| e.to_string()),
                false => Ok(p.probability_of_purchases(n, t(i))),
            })
        }
    }
}

/// clv's own valuation (what `clv score` computes) of integer-coded orders: the purchase model
/// (`auto` chooses by BIC), Gamma-Gamma spend, every customer's P(alive), expected purchases,
/// spend and discounted CLV over `horizon_days`, the expected next-order date, with intervals at
/// `level` (0: none; `draws` > 0: bootstrap). Returns the score table (customer codes in
/// `customer_id`) and the description of the fits.
#[pyfunction]
#[pyo3(signature = (customers, times, values, observation_end, model, time_unit, horizon_days, annual_discount_rate, level, draws, seed, penalizer, threads))]
#[allow(clippy::too_many_arguments)]
fn value(
    py: Python<'_>,
    customers: Arrow<ArrayData>,
    times: Arrow<ArrayData>,
    values: Arrow<ArrayData>,
    observation_end: i64,
    model: &str,
    time_unit: &str,
    horizon_days: f64,
    annual_discount_rate: f64,
    level: f64,
    draws: usize,
    seed: u64,
    penalizer: f64,
    threads: usize,
) -> PyResult<(Arrow<RecordBatch>, String)> {
    let model = clv_score::ModelChoice::from_str(model).map_err(invalid)?;
    let time_unit = TimeUnit::from_str(time_unit).map_err(invalid)?;
    if !(horizon_days.is_finite() && horizon_days > 0.0) {
        return Err(invalid("the horizon must be a positive number of days"));
    }
    let intervals = match (level, draws) {
        (0.0, _) => clv_score::Intervals::None,
        (l, _) if !(l > 0.0 && l < 1.0) => {
            return Err(invalid("the interval level must be between 0 and 1"))
        }
        (level, 0) => clv_score::Intervals::Delta { level },
        (level, draws) => clv_score::Intervals::Bootstrap { level, draws, seed },
    };
    let config = clv_score::ValuationConfig {
        model,
        time_unit,
        horizon: clv_score::config::days(horizon_days),
        annual_discount_rate,
        penalty: penalizer,
        intervals,
        threads,
        ..Default::default()
    };
    let customers = Ids::of(customers.0)?;
    let times = ints(times.0, "times")?;
    let values = floats(values.0, "monetary values")?;
    py.detach(|| {
        let options = LedgerOptions {
            period: Period::Day,
            observation_end: Some(observation_end),
            calibration_end: None,
            threads,
        };
        let (h, rejects) = histories(&customers, &times, Some(&values), options)?;
        let valuation = clv_score::value(&h, &config).map_err(invalid)?;
        let table = with_segments(&h, valuation.table(0..valuation.len()), threads);
        let table = match customers {
            Ids::Codes(_) => recoded(table),
            _ => table,
        };
        let batch = clv_parquet::record_batch(&table).map_err(invalid)?;
        let mut description = valuation.describe();
        for w in valuation.fits.warnings() {
            description.push_str(&format!("\n{w}"));
        }
        let report = serde_json::json!({
            "description": description,
            "ledger": h.stats,
            "rejected": rejects.json(),
        });
        Ok((PyArrowType(batch), report.to_string()))
    })
}

/// Value tiers `clv.score` gives: the top 1%, 5% and 20% by predicted CLV, then the rest (as
/// `clv segments` and the service do by default).
const TIER_SHARES: [f64; 3] = [0.01, 0.05, 0.2];

/// `table` (the scores of every customer of `h`, in id order) with each customer's RFM scores,
/// RFM segment (the default rules) and value tier.
fn with_segments<'h>(h: &'h Histories, table: Table<'h>, threads: usize) -> Table<'h> {
    let rules = clv_segments::rfm::default_rules();
    let rfm = clv_segments::valued::rfm(h, &rules, threads);
    let score = |f: fn(&clv_segments::rfm::RfmScore) -> u8| {
        Values::Int(rfm.scores.iter().map(|s| f(s) as i64).collect())
    };
    let segment = rfm.segment.iter().map(|&k| rules[k].segment.clone().into());
    let table = table
        .with("rfm_r", score(|s| s.r))
        .with("rfm_f", score(|s| s.f))
        .with("rfm_m", score(|s| s.m))
        .with("segment", Values::Text(segment.collect()));
    let tiers = match table.column("predicted_clv") {
        Some(Values::Float(clv)) => clv_segments::tiers::tiers(clv, &TIER_SHARES),
        _ => return table,
    };
    let names = tiers
        .iter()
        .map(|&k| clv_segments::tiers::tier_name(&TIER_SHARES, k).into());
    table.with("value_tier", Values::Text(names.collect()))
}

/// `table` with its `customer_id` text column turned back into the integer ids it came from.
fn recoded(mut table: Table<'_>) -> Table<'_> {
    for column in &mut table.columns {
        if column.name == "customer_id" {
            if let Values::Text(ids) = &column.values {
                column.values = Values::Int(ids.iter().map(|id| code(id)).collect());
            }
        }
    }
    table
}

#[pymodule]
fn _clv(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(summarize, m)?)?;
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(purchase_model, m)?)?;
    m.add_function(wrap_pyfunction!(predict, m)?)?;
    m.add_function(wrap_pyfunction!(value, m)?)?;
    m.add_function(wrap_pyfunction!(read::read_orders, m)?)?;
    m.add_class::<StreamingLedger>()?;
    Ok(())
}
