//! `clv fit`: from orders to a fitted model, printed with intervals and saved as versioned JSON.

use crate::cli::{FitArgs, ModelKind};
use crate::input::{load, thousands};
use anyhow::{Context, Result};
use clv_data::{Period, TimeUnit};
use clv_models::forecast::Estimate;
use clv_models::{
    fit_with, BgBb, BgNbd, BgNbdParams, FitOptions, FitReport, GammaGamma, MbgNbd, Model,
    ParetoNbd, ParetoNbdParams, Pattern, Patterns, PurchasePredictor, ShiftedBetaGeometric,
    SpendPattern, Tenure, Variant,
};
use clv_summary::{summary_rows, SummaryOptions};
use std::hash::Hasher;

/// Fit with the user's penalty.
pub fn fit_model<M: Model>(
    model: &M,
    rows: &[M::Row],
    penalty: f64,
) -> Result<FitReport, clv_models::FitError> {
    fit_with(model, rows, FitOptions { penalty })
}

/// Format of saved models; bump when the JSON changes incompatibly.
const MODEL_FORMAT_VERSION: u32 = 1;

/// A saved model: enough to score new data without refitting, and to tell what it was fitted on.
#[derive(Debug, serde::Serialize)]
struct SavedModel<'a> {
    format: &'static str,
    version: u32,
    kind: &'static str,
    /// The model's time unit (day … year), or "opportunity"/"period" for BG/BB and sBG.
    time_unit: String,
    /// Parameter name → estimate, for reading by hand; `fit` has them in order with errors.
    parameters: std::collections::BTreeMap<&'a str, f64>,
    fit: &'a FitReport,
    data: DataInfo,
}

#[derive(Debug, serde::Serialize)]
struct DataInfo {
    file: String,
    customers: u64,
    /// Customers left out of this model's data (e.g. no repeat purchase for the spend model).
    excluded: u64,
    observation_end: String,
    /// FxHash of the fitted rows, to recognise the same data later.
    fingerprint: String,
}

impl DataInfo {
    /// A model fitted to every row of a summary or survival-curve file (no observation window).
    fn whole_file(args: &FitArgs, report: &FitReport, fingerprint: String) -> Self {
        DataInfo {
            file: args.input.orders.display().to_string(),
            customers: report.customers as u64,
            excluded: 0,
            observation_end: String::new(),
            fingerprint,
        }
    }
}

fn fingerprint(values: impl Iterator<Item = f64>) -> String {
    let mut h = rustc_hash::FxHasher::default();
    for v in values {
        h.write_u64(v.to_bits());
    }
    format!("{:016x}", h.finish())
}

/// A fitted continuous-time purchase model: what scoring and validation need.
pub struct FittedPurchase {
    pub kind: &'static str,
    pub report: FitReport,
    pub model: Box<dyn PurchasePredictor>,
}

/// The continuous-time purchase models, by saved-model kind.
pub const PURCHASE_KINDS: [&str; 3] = ["bgnbd", "mbgnbd", "pareto"];

/// Predictions of a purchase model of `kind` at `params`.
pub fn purchase_predictor(kind: &str, params: &[f64]) -> Option<Box<dyn PurchasePredictor>> {
    Some(match kind {
        "bgnbd" => Box::new(BgNbdParams::of(Variant::Bg, params)),
        "mbgnbd" => Box::new(BgNbdParams::of(Variant::Mbg, params)),
        "pareto" => Box::new(ParetoNbdParams::from_slice(params)),
        _ => return None,
    })
}

/// Fit the purchase model `kind` ("bgnbd", "mbgnbd" or "pareto") to `rows`.
pub fn fit_purchase(kind: &str, rows: &[Pattern], penalty: f64) -> Result<FittedPurchase> {
    let (kind, report) = match kind {
        "bgnbd" => ("bgnbd", fit_model(&BgNbd, rows, penalty)?),
        "mbgnbd" => ("mbgnbd", fit_model(&MbgNbd, rows, penalty)?),
        "pareto" => ("pareto", fit_model(&ParetoNbd, rows, penalty)?),
        other => anyhow::bail!("`{other}` is not a purchase model"),
    };
    let model = purchase_predictor(kind, &report.params).expect("a purchase kind");
    Ok(FittedPurchase {
        kind,
        report,
        model,
    })
}

fn purchase_kind(model: ModelKind) -> Option<&'static str> {
    match model {
        ModelKind::Bgnbd => Some("bgnbd"),
        ModelKind::Mbgnbd => Some("mbgnbd"),
        ModelKind::Pareto => Some("pareto"),
        _ => None,
    }
}

pub fn fit(args: &FitArgs) -> Result<()> {
    let time_unit: TimeUnit = args.time_unit.parse().map_err(anyhow::Error::msg)?;
    match args.model {
        ModelKind::Bgbb => return fit_bgbb(args),
        ModelKind::Sbg => return fit_sbg(args),
        _ => {}
    }
    let histories = load(&args.input, Period::Day, args.calibration_end.as_deref())?;
    let rows = summary_rows(
        &histories,
        SummaryOptions {
            time_unit,
            include_first: false,
        },
    );
    let started = std::time::Instant::now();
    let (kind, report, excluded, print) = match args.model {
        ModelKind::Gg => {
            let spend = spend_rows(&rows);
            let report = fit_model(&GammaGamma, &spend, args.penalty)?;
            let excluded = (rows.len() - spend.len()) as u64;
            let print = fingerprint(spend.iter().flat_map(|s| [s.x, s.m]));
            ("gg", report, excluded, print)
        }
        model => {
            let data =
                Patterns::compress(rows.iter().map(|r| (r.frequency as f64, r.recency, r.t)));
            let fitted = match purchase_kind(model) {
                Some(kind) => fit_purchase(kind, &data.rows, args.penalty)?,
                None => {
                    // The calibration patterns are `data` either way; a holdout, if any, decides.
                    let choice = if histories.calibration_end.is_some() {
                        crate::validate::choose_by_holdout(&histories, time_unit, args.penalty)?
                    } else {
                        crate::validate::choose_by_bic(&data.rows, args.penalty)?
                    };
                    eprintln!("{}", choice.reason);
                    choice.fitted
                }
            };
            let print = fingerprint(data.rows.iter().flat_map(|p| [p.x, p.t_x, p.t, p.weight]));
            (fitted.kind, fitted.report, 0, print)
        }
    };
    tracing::info!(elapsed = ?started.elapsed(), "fit");
    print_report(kind, &time_unit.to_string(), &report, excluded);
    save_model(
        args,
        kind,
        &time_unit.to_string(),
        &report,
        DataInfo {
            file: args.input.orders.display().to_string(),
            customers: rows.len() as u64,
            excluded,
            observation_end: clv_data::time::format_date(histories.main_end()),
            fingerprint: print,
        },
    )
}

fn save_model(
    args: &FitArgs,
    kind: &'static str,
    unit: &str,
    report: &FitReport,
    data: DataInfo,
) -> Result<()> {
    let Some(path) = &args.output else {
        return Ok(());
    };
    let saved = SavedModel {
        format: "clv-model",
        version: MODEL_FORMAT_VERSION,
        kind,
        time_unit: unit.to_string(),
        parameters: report
            .names
            .iter()
            .map(String::as_str)
            .zip(report.params.iter().copied())
            .collect(),
        fit: report,
        data,
    };
    let text = serde_json::to_string_pretty(&saved)? + "\n";
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("saved the model to {}", path.display());
    Ok(())
}

/// Reads a small CSV of numbers with a header into column name → values.
fn read_numeric_columns(path: &std::path::Path) -> Result<Vec<(String, Vec<f64>)>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let mut records = reader.records();
    let first = records
        .next()
        .with_context(|| format!("{} is empty", path.display()))??;
    let has_header = first.iter().any(|v| v.trim().parse::<f64>().is_err());
    let names: Vec<String> = if has_header {
        first
            .iter()
            .map(|v| v.trim().to_ascii_lowercase())
            .collect()
    } else {
        (1..=first.len()).map(|i| format!("column{i}")).collect()
    };
    let mut columns: Vec<(String, Vec<f64>)> = names.into_iter().map(|n| (n, Vec::new())).collect();
    let rows = std::iter::once(Ok(first))
        .filter(|_| !has_header)
        .chain(records);
    for (line, record) in rows.enumerate() {
        let record = record?;
        for (i, (name, values)) in columns.iter_mut().enumerate() {
            let text = record.get(i).unwrap_or("").trim();
            let v: f64 = text.parse().with_context(|| {
                format!(
                    "{}:{}: column `{name}` value `{text}` is not a number",
                    path.display(),
                    line + 1 + usize::from(has_header)
                )
            })?;
            values.push(v);
        }
    }
    Ok(columns)
}

/// The BG/BB data: a summary file with frequency, recency, periods (or n) and optional weights,
/// or an order log with one opportunity per `--period`.
fn bgbb_rows(args: &FitArgs) -> Result<(Vec<Pattern>, String)> {
    let path = &args.input.orders;
    if !crate::input::is_parquet(path, args.input.input_format) {
        // Only the first line decides; an order log may be gigabytes.
        let mut header = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(
                std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?,
            ),
            &mut header,
        )?;
        let header = header.to_ascii_lowercase();
        if header.contains("frequency") && header.contains("recency") {
            let columns = read_numeric_columns(path)?;
            let get = |names: &[&str]| {
                columns
                    .iter()
                    .find(|(n, _)| names.contains(&n.as_str()))
                    .map(|(_, v)| v.clone())
            };
            let x = get(&["frequency", "x"]).context("no frequency column")?;
            let t_x = get(&["recency", "t_x"]).context("no recency column")?;
            let n = get(&["periods", "n_periods", "n", "opportunities"]).with_context(|| {
                format!(
                    "{}: add a `periods` column: the number of opportunities",
                    path.display()
                )
            })?;
            let weights =
                get(&["weights", "weight", "count"]).unwrap_or_else(|| vec![1.0; x.len()]);
            let mut rows: Vec<Pattern> = (0..x.len())
                .map(|i| Pattern {
                    x: x[i],
                    t_x: t_x[i],
                    t: n[i],
                    weight: weights[i],
                })
                .collect();
            rows.sort_by(|a, b| {
                (a.x, a.t_x, a.t)
                    .partial_cmp(&(b.x, b.t_x, b.t))
                    .expect("finite")
            });
            return Ok((rows, "opportunity".into()));
        }
    }
    let period_name = args.period.as_deref().unwrap_or("year");
    let period: Period = period_name.parse().map_err(anyhow::Error::msg)?;
    let unit: TimeUnit = period_name.parse().map_err(anyhow::Error::msg)?;
    let histories = load(&args.input, period, args.calibration_end.as_deref())?;
    let rows = summary_rows(
        &histories,
        SummaryOptions {
            time_unit: unit,
            include_first: false,
        },
    );
    // Month and year units are Gregorian averages: whole periods are the nearest integers.
    let data = Patterns::compress(
        rows.iter()
            .map(|r| (r.frequency as f64, r.recency.round(), r.t.round())),
    );
    Ok((data.rows, period.name().to_string()))
}

fn fit_bgbb(args: &FitArgs) -> Result<()> {
    let (rows, unit) = bgbb_rows(args)?;
    let report = fit_model(&BgBb, &rows, args.penalty)?;
    print_report("bgbb", &unit, &report, 0);
    let p = clv_models::BgBbParams::from_slice(&report.params);
    let n = rows.iter().map(|r| r.t).fold(0.0, f64::max);
    println!(
        "  a new customer makes {:.3} purchases in the first {n} opportunities on average; mean purchase probability {:.3}, mean dropout probability {:.3} per opportunity",
        p.expected_purchases_new(n),
        p.alpha / (p.alpha + p.beta),
        p.gamma / (p.gamma + p.delta),
    );
    save_model(
        args,
        "bgbb",
        &unit,
        &report,
        DataInfo::whole_file(
            args,
            &report,
            fingerprint(rows.iter().flat_map(|p| [p.x, p.t_x, p.t, p.weight])),
        ),
    )
}

/// A cohort survival curve: the column named `alive`/`active`/`customers`, else the last column,
/// the cohort size first, then those still active at the start of each later period.
pub fn survival_curve(path: &std::path::Path) -> Result<Vec<f64>> {
    let columns = read_numeric_columns(path)?;
    let (_, values) = columns
        .iter()
        .find(|(n, _)| {
            ["alive", "active", "customers", "subscribers", "survival"].contains(&n.as_str())
        })
        .or(columns.last())
        .context("no numbers in the survival curve")?;
    Ok(values.clone())
}

fn fit_sbg(args: &FitArgs) -> Result<()> {
    let (rows, unit) = sbg_rows(
        &args.input.orders,
        args.period.as_deref().unwrap_or("month"),
        args.input.observation_end.as_deref(),
        args.input.strict,
    )?;
    let report = fit_model(&ShiftedBetaGeometric, &rows, args.penalty)?;
    print_report("sbg", &unit, &report, 0);
    save_model(
        args,
        "sbg",
        &unit,
        &report,
        DataInfo::whole_file(
            args,
            &report,
            fingerprint(
                rows.iter()
                    .flat_map(|r| [r.periods, r.churned as u8 as f64, r.weight]),
            ),
        ),
    )
}

pub fn print_report(kind: &str, unit: &str, r: &FitReport, excluded: u64) {
    let title = match kind {
        "bgnbd" => format!("BG/NBD purchase model (rates per {unit})"),
        "mbgnbd" => format!("MBG/NBD purchase model (rates per {unit})"),
        "pareto" => format!("Pareto/NBD purchase model (rates per {unit})"),
        "bgbb" => format!("BG/BB model (one purchase opportunity per {unit})"),
        "sbg" => format!("Shifted-beta-geometric retention model (churn probability per {unit})"),
        _ => "Gamma-Gamma spend model".to_string(),
    };
    println!("{title}");
    println!(
        "  {:<8} {:>12} {:>12} {:>26}",
        "param", "estimate", "std. error", "95% interval"
    );
    for i in 0..r.params.len() {
        println!(
            "  {:<8} {:>12.6} {:>12.6} {:>12.6} … {:.6}",
            r.names[i], r.params[i], r.standard_errors[i], r.lower_95[i], r.upper_95[i]
        );
    }
    println!(
        "  log-likelihood {:.4} over {} customers ({} distinct patterns{})",
        r.log_likelihood,
        thousands(r.customers as u64),
        thousands(r.patterns as u64),
        if excluded > 0 {
            format!(
                "; {} without repeat purchases or with non-positive spend left out",
                thousands(excluded)
            )
        } else {
            String::new()
        }
    );
    println!(
        "  converged: {}, {} iterations from start {}, gradient norm {:.1e}; intervals from the observed information",
        r.method,
        r.iterations,
        r.start + 1,
        r.gradient_norm
    );
}

/// The display name of a model kind.
pub fn model_name(kind: &str) -> &'static str {
    match kind {
        "bgnbd" => "BG/NBD",
        "mbgnbd" => "MBG/NBD",
        "pareto" => "Pareto/NBD",
        "bgbb" => "BG/BB",
        "sbg" => "sBG",
        _ => "Gamma-Gamma",
    }
}

/// The summary columns scoring writes, and net revenue.
struct SummaryColumns<'h> {
    ids: Vec<std::borrow::Cow<'h, str>>,
    frequency: Vec<i64>,
    recency: Vec<f64>,
    t: Vec<f64>,
    monetary: Vec<f64>,
    revenue: Vec<f64>,
}

impl<'h> SummaryColumns<'h> {
    fn of(histories: &'h clv_summary::Histories, time_unit: TimeUnit) -> Self {
        let options = SummaryOptions {
            time_unit,
            include_first: false,
        };
        let all = clv_summary::summary_columns(histories, options, 0..histories.len());
        SummaryColumns {
            ids: all.customer_id,
            frequency: all.frequency,
            recency: all.recency,
            t: all.t,
            monetary: all.monetary_value,
            revenue: all.revenue,
        }
    }
}

/// Repeat buyers with a positive mean repeat spend, for Gamma-Gamma, sorted by x.
fn repeat_spend(frequency: &[i64], monetary: &[f64]) -> Vec<SpendPattern> {
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

fn spend_rows(rows: &[clv_summary::SummaryRow<'_>]) -> Vec<SpendPattern> {
    let frequency: Vec<i64> = rows.iter().map(|r| r.frequency as i64).collect();
    let monetary: Vec<f64> = rows.iter().map(|r| r.monetary_value).collect();
    repeat_spend(&frequency, &monetary)
}

/// A saved model read back.
struct LoadedModel {
    kind: String,
    time_unit: TimeUnit,
    params: Vec<f64>,
    /// From the fit's observed information; absent in hand-written files.
    covariance: Option<Vec<Vec<f64>>>,
}

fn read_model(path: &std::path::Path) -> Result<LoadedModel> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not JSON; pass a file written by `clv fit -o`",
            path.display()
        )
    })?;
    if json["format"] != "clv-model" || json["version"] != MODEL_FORMAT_VERSION {
        anyhow::bail!(
            "{} is not a clv model of format version {MODEL_FORMAT_VERSION}; refit with `clv fit -o`",
            path.display()
        );
    }
    let kind = json["kind"].as_str().unwrap_or_default().to_string();
    let names: &[&str] = match kind.as_str() {
        "bgnbd" | "mbgnbd" => &["r", "alpha", "a", "b"],
        "pareto" => &["r", "alpha", "s", "beta"],
        "gg" => &["p", "q", "gamma"],
        "bgbb" | "sbg" => anyhow::bail!(
            "{}: a `{kind}` model is for discrete opportunities or subscriptions; `clv score` takes bgnbd, mbgnbd, pareto and gg models",
            path.display()
        ),
        other => anyhow::bail!("{}: unknown model kind `{other}`", path.display()),
    };
    let params = names
        .iter()
        .map(|n| {
            json["parameters"][n]
                .as_f64()
                .filter(|v| v.is_finite() && *v > 0.0)
                .with_context(|| format!("{}: parameter `{n}` missing or invalid", path.display()))
        })
        .collect::<Result<Vec<f64>>>()?;
    let time_unit = serde_json::from_value(json["time_unit"].clone())
        .with_context(|| format!("{}: missing time_unit", path.display()))?;
    let covariance = serde_json::from_value(json["fit"]["covariance"].clone()).ok();
    Ok(LoadedModel {
        kind,
        time_unit,
        params,
        covariance,
    })
}

pub fn retention(args: &crate::cli::RetentionArgs) -> Result<()> {
    use clv_models::SbgParams;
    let (rows, unit) = sbg_rows(
        &args.curve,
        &args.period,
        args.observation_end.as_deref(),
        false,
    )?;
    let report = fit_model(&ShiftedBetaGeometric, &rows, 0.0)?;
    print_report("sbg", &unit, &report, 0);
    // What happened: the Kaplan–Meier curve (for a cohort curve, the curve itself).
    let actual_curve = clv_models::sbg::kaplan_meier(&rows);
    let p = SbgParams::from_slice(&report.params);
    let d = parse_rate(&args.discount_rate)?;
    println!(
        "\n  {:>6} {:>12} {:>10} {:>10} {:>10} {:>14}",
        unit, "actual", "survival", "retention", "DERL", "residual value"
    );
    for t in 0..=args.periods.max(actual_curve.len() as u32 - 1) {
        let tf = t as f64;
        let actual = actual_curve
            .get(t as usize)
            .map_or(String::new(), |a| format!("{a:.4}"));
        // DERL of a subscriber in period t + 1 (t renewals made), about to decide on the next.
        let derl = p.discounted_residual_lifetime(d, tf + 1.0)?;
        println!(
            "  {:>6} {:>12} {:>10.4} {:>10} {:>10.3} {:>14}",
            t,
            actual,
            p.survival(tf),
            if t == 0 {
                String::new()
            } else {
                format!("{:.4}", p.retention(tf))
            },
            derl,
            args.price
                .map_or(String::new(), |m| format!("{:.2}", m * derl)),
        );
    }
    println!(
        "\n  survival: share of the cohort still subscribed after each period (actual: the curve given);\n  retention: share of last period's subscribers who renewed; DERL: discounted expected\n  renewals still to come for a subscriber at that tenure ({}/period); residual value = price × DERL.",
        args.discount_rate
    );
    Ok(())
}

fn parse_rate(text: &str) -> Result<f64> {
    let t = text.trim();
    let rate = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .with_context(|| {
        format!("--discount-rate `{text}`: use a percentage like 10% or a fraction like 0.1")
    })?;
    anyhow::ensure!(
        (0.0..10.0).contains(&rate),
        "--discount-rate {text} is outside 0% … 1000%"
    );
    Ok(rate)
}

pub fn score(args: &crate::cli::ScoreArgs) -> Result<()> {
    let histories = load(&args.input, Period::Day, None)?;
    let (table, _) = score_table_with_models(args, &histories)?;
    crate::output::write_chunked(&table, &args.output)?;
    // Done: the operating system takes the memory back at exit faster than freeing it.
    std::mem::forget(table);
    std::mem::forget(histories);
    Ok(())
}

/// One scored row per customer of `histories`.
pub fn score_table<'h>(
    args: &crate::cli::ScoreArgs,
    histories: &'h clv_summary::Histories,
) -> Result<clv_data::Table<'h>> {
    Ok(score_table_with_models(args, histories)?.0.whole())
}

/// A model's estimates with 95% intervals (log-symmetric, from the covariance), for reports.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ModelEstimate {
    pub kind: &'static str,
    pub names: Vec<&'static str>,
    pub params: Vec<f64>,
    pub lower_95: Vec<f64>,
    pub upper_95: Vec<f64>,
    /// Why this model, when `--model auto` chose it.
    pub reason: Option<String>,
}

impl ModelEstimate {
    fn of(kind: &'static str, params: &[f64], covariance: Option<&[Vec<f64>]>) -> Self {
        let names: Vec<&'static str> = match kind {
            "pareto" => vec!["r", "alpha", "s", "beta"],
            "gg" => vec!["p", "q", "gamma"],
            _ => vec!["r", "alpha", "a", "b"],
        };
        let half = |i: usize| {
            covariance
                .and_then(|c| c.get(i)?.get(i).copied())
                .filter(|v| v.is_finite() && *v >= 0.0)
                .map_or(0.0, |v| 1.959963984540054 * v.sqrt() / params[i])
        };
        ModelEstimate {
            kind,
            names,
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

/// The score table (built a run of customers at a time) and the purchase and spend models
/// behind it.
pub fn score_table_with_models<'h>(
    args: &crate::cli::ScoreArgs,
    histories: &'h clv_summary::Histories,
) -> Result<(clv_data::ChunkedTable<'h>, [ModelEstimate; 2])> {
    use clv_models::forecast::Spread;
    use clv_models::gamma_gamma::GammaGammaParams;
    use clv_models::value::{discount_per_unit, Discounting};
    /// A model scoring uses, whether fitted here or read from a file.
    struct FittedOrSaved {
        kind: &'static str,
        params: Vec<f64>,
        covariance: Option<Vec<Vec<f64>>>,
    }

    let saved: Vec<LoadedModel> = args
        .model_file
        .iter()
        .map(|p| read_model(p))
        .collect::<Result<_>>()?;
    let saved_purchase = saved.iter().find(|m| m.kind != "gg");
    let saved_spend = saved.iter().find(|m| m.kind == "gg");
    let time_unit: TimeUnit = match saved_purchase {
        Some(m) => m.time_unit,
        None => args.time_unit.parse().map_err(anyhow::Error::msg)?,
    };
    let horizon_days = clv_data::time::parse_days(&args.horizon).map_err(anyhow::Error::msg)?;
    let horizon = horizon_days / time_unit.days();
    let annual_rate = parse_rate(&args.discount_rate)?;
    let delta = discount_per_unit(annual_rate, time_unit.days());
    let discounting = match args.discounting {
        crate::cli::Discounting::Continuous => Discounting::Continuous { per_unit: delta },
        // lifetimes' scheme: whole months, a monthly rate, and its own month lengths per unit.
        crate::cli::Discounting::Lifetimes => Discounting::Monthly {
            months: (horizon_days / TimeUnit::Month.days()).round() as u32,
            units_per_month: match time_unit {
                TimeUnit::Hour => 720.0,
                TimeUnit::Day => 30.0,
                TimeUnit::Week => 4.345,
                TimeUnit::Month => 1.0,
                TimeUnit::Year => 1.0 / 12.0,
            },
            monthly_rate: (1.0 + annual_rate).powf(1.0 / 12.0) - 1.0,
        },
    };

    // The summary columns the output needs, kept as the table's own columns; the full summary
    // rows (three times their size) are dropped before scoring, which halves its peak memory.
    let started = std::time::Instant::now();
    let c = SummaryColumns::of(histories, time_unit);
    tracing::info!(elapsed = ?started.elapsed(), "summary columns");
    // One pass over the customers: the distinct (x, t_x, T) patterns serve both the fit and the
    // predictions, which are made once per pattern.
    let started = std::time::Instant::now();
    let (data, pattern_of) = Patterns::compress_indexed(
        (0..c.ids.len()).map(|i| (c.frequency[i] as f64, c.recency[i], c.t[i])),
    );
    tracing::info!(elapsed = ?started.elapsed(), patterns = data.rows.len(), "patterns");
    let mut reason = None;
    let purchase: FittedOrSaved = match saved_purchase {
        Some(m) => FittedOrSaved {
            // read_model accepts only known kinds; the purchase ones are these.
            kind: PURCHASE_KINDS
                .into_iter()
                .find(|k| *k == m.kind)
                .expect("a purchase kind"),
            params: m.params.clone(),
            covariance: m.covariance.clone(),
        },
        None => {
            let started = std::time::Instant::now();
            let fitted = match purchase_kind(args.model) {
                Some(kind) => fit_purchase(kind, &data.rows, args.penalty)?,
                None => {
                    let choice = crate::validate::choose_by_bic(&data.rows, args.penalty)?;
                    eprintln!("{}", choice.reason);
                    reason = Some(choice.reason);
                    choice.fitted
                }
            };
            tracing::info!(elapsed = ?started.elapsed(), "purchase fit");
            FittedOrSaved {
                kind: fitted.kind,
                params: fitted.report.params,
                covariance: Some(fitted.report.covariance),
            }
        }
    };
    let repeat = repeat_spend(&c.frequency, &c.monetary);
    let spend_fit = match saved_spend {
        Some(m) => FittedOrSaved {
            kind: "gg",
            params: m.params.clone(),
            covariance: m.covariance.clone(),
        },
        None => {
            let started = std::time::Instant::now();
            let report = fit_model(&GammaGamma, &repeat, args.penalty)?;
            tracing::info!(elapsed = ?started.elapsed(), "spend fit");
            FittedOrSaved {
                kind: "gg",
                params: report.params,
                covariance: Some(report.covariance),
            }
        }
    };
    let spend = GammaGammaParams::from_slice(&spend_fit.params);
    anyhow::ensure!(
        spend.expected_spend(0.0, 0.0).is_some(),
        "the spend model has q ≤ 1, so average spend is unbounded; CLV cannot be computed from it"
    );

    // Parameter uncertainty: the sets each prediction is evaluated at.
    let spread = |model: &FittedOrSaved, draws: Option<Vec<Vec<f64>>>| -> Result<Spread> {
        Ok(match args.intervals {
            crate::cli::Intervals::None => Spread::none(&model.params),
            crate::cli::Intervals::Delta => {
                let covariance = model.covariance.as_deref().with_context(|| {
                    format!(
                        "the saved {} model has no covariance; refit it with `clv fit -o`, or pass --intervals none",
                        model_name(model.kind)
                    )
                })?;
                Spread::delta(&model.params, covariance, args.level)?
            }
            crate::cli::Intervals::Bootstrap => {
                Spread::draws(&model.params, draws.expect("bootstrap draws"), args.level)?
            }
        })
    };
    let (purchase_draws, spend_draws) = match args.intervals {
        crate::cli::Intervals::Bootstrap => {
            let refits = crate::bootstrap::refits(
                &crate::bootstrap::Fitted {
                    kind: purchase.kind,
                    purchase_params: &purchase.params,
                    patterns: &data.rows,
                    spend_params: &spend_fit.params,
                    spend_rows: &repeat,
                },
                args.draws,
                args.seed,
                args.penalty,
            )?;
            (Some(refits.purchase), Some(refits.spend))
        }
        _ => (None, None),
    };
    let purchase_spread = spread(&purchase, purchase_draws)?;
    let spend_spread = spread(&spend_fit, spend_draws)?;
    let spend_models: Vec<GammaGammaParams> = spend_spread
        .sets()
        .iter()
        .map(|s| GammaGammaParams::from_slice(s))
        .collect();

    let started = std::time::Instant::now();
    let kind = purchase.kind;
    let make = move |params: &[f64]| purchase_predictor(kind, params).expect("purchase kind");
    let forecasts =
        clv_models::forecast::forecast(&make, &purchase_spread, &data.rows, horizon, discounting)?;
    tracing::info!(elapsed = ?started.elapsed(), "forecast");
    let customers = c.ids.len();
    let scorer = Scorer {
        end_day: histories.main_end().div_euclid(clv_data::time::DAY) * clv_data::time::DAY,
        time_unit,
        with_intervals: purchase_spread.level().is_some(),
        summary: c,
        pattern_of,
        forecasts,
        purchase_spread,
        spend_spread,
        spend_models,
    };
    // CSV output asks for runs of a few thousand customers, one core each; a whole table (for the
    // other formats) is split across the cores.
    let table = clv_data::ChunkedTable::new(customers, move |rows| scorer.table(rows));
    let names: &[&str] = match purchase.kind {
        "pareto" => &["r", "α", "s", "β"],
        _ => &["r", "α", "a", "b"],
    };
    let params = names
        .iter()
        .zip(&purchase.params)
        .map(|(n, v)| format!("{n}={v:.4}"))
        .collect::<Vec<_>>()
        .join(", ");
    eprintln!(
        "scored {} customers: {} model ({params}; {}s), Gamma-Gamma spend (p={:.4}, q={:.4}, γ={:.4}); horizon {:.2} {}s from {}, discount {}/year = {:.6} per {} (continuous)",
        thousands(customers as u64),
        model_name(purchase.kind),
        time_unit,
        spend.p, spend.q, spend.gamma,
        horizon, time_unit, clv_data::time::format_date(histories.main_end()),
        args.discount_rate, delta, time_unit,
    );
    let mut purchase_estimate = ModelEstimate::of(
        purchase.kind,
        &purchase.params,
        purchase.covariance.as_deref(),
    );
    purchase_estimate.reason = reason;
    let spend_estimate =
        ModelEstimate::of("gg", &spend_fit.params, spend_fit.covariance.as_deref());
    Ok((table, [purchase_estimate, spend_estimate]))
}

/// Everything scoring a customer needs, once the models are fitted and each (x, t_x, T) pattern
/// is forecast.
struct Scorer<'h> {
    /// The day the predictions start from (the end of the main window).
    end_day: i64,
    time_unit: TimeUnit,
    with_intervals: bool,
    summary: SummaryColumns<'h>,
    /// Each customer's pattern (index into `forecasts`).
    pattern_of: Vec<u32>,
    forecasts: Vec<clv_models::forecast::PatternForecast>,
    purchase_spread: clv_models::forecast::Spread,
    spend_spread: clv_models::forecast::Spread,
    /// The spend model at each of `spend_spread`'s parameter sets.
    spend_models: Vec<clv_models::gamma_gamma::GammaGammaParams>,
}

impl<'h> Scorer<'h> {
    /// The date `wait` time units after the end of the window; none for waits of more than a
    /// century ("not expected").
    fn date_after(&self, wait: f64) -> Option<i64> {
        let wait_days = wait * self.time_unit.days();
        (wait_days.is_finite() && wait_days < 36_500.0)
            .then(|| self.end_day + (wait_days * clv_data::time::DAY as f64) as i64)
    }

    /// The output rows of customers `rows`: on every core when the run is long.
    fn table(&self, rows: std::ops::Range<usize>) -> clv_data::Table<'h> {
        use clv_data::{Table, Values};
        const PER_CORE: usize = 1 << 16;
        let cores = std::thread::available_parallelism()
            .map_or(1, |t| t.get())
            .min(rows.len() / PER_CORE)
            .max(1);
        let size = rows.len().div_ceil(cores).max(1);
        let scores = std::thread::scope(|scope| {
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
        });
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
    fn scores(&self, rows: std::ops::Range<usize>) -> ScoreColumns {
        let c = &self.summary;
        let mut columns = ScoreColumns::with_capacity(rows.len(), self.with_intervals);
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
            let (per_order, spend_ln_variance) =
                self.spend_spread.positive_with_ln_variance(&spend_values);
            let clv = self.purchase_spread.product_given(
                &f.discounted_purchases,
                f.discounted_ln_variance,
                &self.spend_spread,
                &spend_values,
                spend_ln_variance,
            );
            columns.push(ScoreRow {
                p_alive: f.p_alive,
                expected_purchases: f.expected_purchases,
                purchases: f.purchases,
                per_order,
                clv,
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
    per_order: Estimate,
    clv: Estimate,
    historic: f64,
    /// Expected next-order date and its interval.
    next_date: [Option<i64>; 3],
}

/// A prediction column and, with intervals, its bounds (single precision, rounded outwards:
/// they are approximations good to a few per cent).
#[derive(Default)]
struct Bounded {
    value: Vec<f64>,
    lower: Vec<f32>,
    upper: Vec<f32>,
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

    fn add_to<'h>(
        self,
        table: clv_data::Table<'h>,
        name: &str,
        with_bounds: bool,
    ) -> clv_data::Table<'h> {
        use clv_data::Values;
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

/// The prediction columns of `clv score`, each followed by `_lower`/`_upper` with intervals.
struct ScoreColumns {
    with_intervals: bool,
    p_alive: Bounded,
    churn: Bounded,
    expected: Bounded,
    purchases: [Vec<i64>; 2],
    spend: Bounded,
    predicted: Bounded,
    historic: Vec<f64>,
    total: Bounded,
    next_date: [Vec<Option<i64>>; 3],
    next_probability: Vec<f64>,
}

impl ScoreColumns {
    fn with_capacity(n: usize, with_intervals: bool) -> Self {
        ScoreColumns {
            with_intervals,
            p_alive: Bounded::with_capacity(n),
            churn: Bounded::with_capacity(n),
            expected: Bounded::with_capacity(n),
            purchases: std::array::from_fn(|_| Vec::with_capacity(n)),
            spend: Bounded::with_capacity(n),
            predicted: Bounded::with_capacity(n),
            historic: Vec::with_capacity(n),
            total: Bounded::with_capacity(n),
            next_date: std::array::from_fn(|_| Vec::with_capacity(n)),
            next_probability: Vec::with_capacity(n),
        }
    }

    fn append(&mut self, other: ScoreColumns) {
        self.p_alive.append(other.p_alive);
        self.churn.append(other.churn);
        self.expected.append(other.expected);
        self.spend.append(other.spend);
        self.predicted.append(other.predicted);
        self.total.append(other.total);
        self.historic.extend(other.historic);
        self.next_probability.extend(other.next_probability);
        for (to, from) in self.purchases.iter_mut().zip(other.purchases) {
            to.extend(from);
        }
        for (to, from) in self.next_date.iter_mut().zip(other.next_date) {
            to.extend(from);
        }
    }

    fn push(&mut self, row: ScoreRow) {
        let bounds = self.with_intervals;
        let (probability, positive, any) = ((0.0, 1.0), (0.0, f32::MAX), (f32::MIN, f32::MAX));
        self.p_alive.push(row.p_alive, bounds, probability);
        self.churn.push(
            Estimate {
                value: 1.0 - row.p_alive.value,
                lower: 1.0 - row.p_alive.upper,
                upper: 1.0 - row.p_alive.lower,
            },
            bounds,
            probability,
        );
        self.expected.push(row.expected_purchases, bounds, positive);
        if let Some((lower, upper)) = row.purchases {
            self.purchases[0].push(lower as i64);
            self.purchases[1].push(upper as i64);
        }
        self.spend.push(row.per_order, bounds, positive);
        self.predicted.push(row.clv, bounds, positive);
        self.historic.push(row.historic);
        self.total.push(
            Estimate {
                value: row.historic + row.clv.value,
                lower: row.historic + row.clv.lower,
                upper: row.historic + row.clv.upper,
            },
            bounds,
            any,
        );
        let dates = if bounds { 3 } else { 1 };
        for (col, date) in self.next_date.iter_mut().zip(row.next_date).take(dates) {
            col.push(date);
        }
        // The median wait is the median only if the customer is still active.
        self.next_probability.push(0.5 * row.p_alive.value);
    }

    fn into_table<'h>(self, table: clv_data::Table<'h>) -> clv_data::Table<'h> {
        use clv_data::Values;
        let with_intervals = self.with_intervals;
        let mut table = self.p_alive.add_to(table, "p_alive", with_intervals);
        table = self
            .churn
            .add_to(table, "churn_probability", with_intervals);
        table = self
            .expected
            .add_to(table, "expected_purchases", with_intervals);
        if with_intervals {
            let [lower, upper] = self.purchases;
            table = table
                .with("purchases_lower", Values::Int(lower))
                .with("purchases_upper", Values::Int(upper));
        }
        table = self.spend.add_to(table, "expected_spend", with_intervals);
        table = self
            .predicted
            .add_to(table, "predicted_clv", with_intervals);
        table = table.with("historic_clv", Values::Float(self.historic));
        table = self.total.add_to(table, "total_clv", with_intervals);
        let [date, lower, upper] = self.next_date;
        table = table.with("expected_next_order_date", Values::MaybeDate(date));
        if with_intervals {
            table = table
                .with("expected_next_order_date_lower", Values::MaybeDate(lower))
                .with("expected_next_order_date_upper", Values::MaybeDate(upper));
        }
        table.with(
            "next_order_probability",
            Values::Float(self.next_probability),
        )
    }
}

/// sBG data: a cohort survival curve, or one row per subscriber with a start date and an end
/// date (empty while still subscribed), each renewal `period` long. Returns the tenure rows and
/// the time unit they are in.
pub fn sbg_rows(
    path: &std::path::Path,
    period: &str,
    observation_end: Option<&str>,
    strict: bool,
) -> Result<(Vec<Tenure>, String)> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("reading {}", path.display()))?;
    let headers: Vec<String> = reader
        .headers()?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let find = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let start_names = [
        "start",
        "started",
        "start_date",
        "subscribed",
        "signup",
        "created",
    ];
    let end_names = [
        "end",
        "ended",
        "end_date",
        "cancelled",
        "canceled",
        "churned",
        "churn_date",
    ];
    let (Some(start_col), Some(end_col)) = (find(&start_names), find(&end_names)) else {
        let curve = survival_curve(path)?;
        let rows = Tenure::from_survival_curve(&curve).map_err(anyhow::Error::msg)?;
        return Ok((rows, "period".into()));
    };
    let unit: TimeUnit = period.parse().map_err(anyhow::Error::msg)?;
    let period_seconds = unit.seconds();
    let dates = clv_data::time::DateParser::utc();
    let end_of_observation = observation_end
        .map(|d| {
            dates
                .parse(d.as_bytes())
                .with_context(|| format!("--observation-end `{d}` is not a date (YYYY-MM-DD)"))
        })
        .transpose()?;
    // (start, end) per subscriber; problems counted by reason with their first lines.
    let mut spans: Vec<(i64, Option<i64>)> = Vec::new();
    let mut problems: std::collections::BTreeMap<&str, (u64, Vec<String>)> = Default::default();
    for (i, record) in reader.records().enumerate() {
        let record = record?;
        let line = i + 2;
        let field = |c: usize| record.get(c).unwrap_or("").trim();
        let start = dates.parse(field(start_col).as_bytes());
        let end_text = field(end_col);
        let end = (!end_text.is_empty()).then(|| dates.parse(end_text.as_bytes()));
        let problem = match (start, end) {
            (None, _) => Some((
                "start is not a date",
                headers[start_col].as_str(),
                field(start_col),
            )),
            (_, Some(None)) => Some(("end is not a date", headers[end_col].as_str(), end_text)),
            (Some(s), Some(Some(e))) if e < s => {
                Some(("end before start", headers[end_col].as_str(), end_text))
            }
            _ => None,
        };
        if let Some((reason, column, value)) = problem {
            let detail = format!(
                "{}:{line}: column {column}: `{value}`: {reason}",
                path.display()
            );
            anyhow::ensure!(
                !strict,
                "{detail} (--strict); fix the row or drop --strict to skip it"
            );
            let entry = problems.entry(reason).or_default();
            entry.0 += 1;
            if entry.1.len() < 3 {
                entry.1.push(detail);
            }
            continue;
        }
        spans.push((start.expect("checked"), end.flatten()));
    }
    for (reason, (count, examples)) in &problems {
        eprintln!(
            "skipped {count} subscriber rows: {reason}, e.g. {}",
            examples.join("; ")
        );
    }
    let observed_to = end_of_observation
        .or_else(|| spans.iter().map(|&(s, e)| e.unwrap_or(s)).max())
        .context("no subscribers with a valid start date")?;
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
    if too_recent > 0 {
        eprintln!(
            "{} subscribers started less than one {} before {} and say nothing yet about churn",
            thousands(too_recent),
            unit,
            clv_data::time::format_date(observed_to)
        );
    }
    anyhow::ensure!(
        !rows.is_empty(),
        "{}: no subscriber has a whole {unit} observed",
        path.display()
    );
    Ok((rows, unit.to_string()))
}
