//! `clv fit`: from orders to a fitted model, printed with intervals and saved as versioned JSON.

use crate::cli::{FitArgs, ModelKind};
use crate::input::{load, thousands};
use anyhow::{Context, Result};
use clv_data::{Period, TimeUnit};
use clv_models::{
    fit_with, BgBb, BgNbd, BgNbdParams, FitOptions, FitReport, GammaGamma, MbgNbd, Model,
    ParetoNbd, ParetoNbdParams, Pattern, Patterns, PurchasePredictor, ShiftedBetaGeometric,
    SpendPattern, Tenure, Variant,
};
use clv_summary::{summary_rows, SummaryOptions};
use std::hash::Hasher;

/// Fit with the user's penalty.
fn fit_model<M: Model>(
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
    let period: Period = args.period.parse().map_err(anyhow::Error::msg)?;
    let unit: TimeUnit = args.period.parse().map_err(anyhow::Error::msg)?;
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
    let curve = survival_curve(&args.input.orders)?;
    let rows = Tenure::from_survival_curve(&curve).map_err(anyhow::Error::msg)?;
    let report = fit_model(&ShiftedBetaGeometric, &rows, args.penalty)?;
    print_report("sbg", "period", &report, 0);
    save_model(
        args,
        "sbg",
        "period",
        &report,
        DataInfo::whole_file(args, &report, fingerprint(curve.iter().copied())),
    )
}

pub fn print_report(kind: &str, unit: &str, r: &FitReport, excluded: u64) {
    let title = match kind {
        "bgnbd" => format!("BG/NBD purchase model (rates per {unit})"),
        "mbgnbd" => format!("MBG/NBD purchase model (rates per {unit})"),
        "pareto" => format!("Pareto/NBD purchase model (rates per {unit})"),
        "bgbb" => format!("BG/BB model (one purchase opportunity per {unit})"),
        "sbg" => {
            "Shifted-beta-geometric retention model (churn probability per period)".to_string()
        }
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

/// Repeat buyers with a positive mean repeat spend, the Gamma-Gamma model's data, ordered by
/// purchase count so the model shares its per-x terms.
fn spend_rows(rows: &[clv_summary::SummaryRow<'_>]) -> Vec<SpendPattern> {
    let mut spend: Vec<SpendPattern> = rows
        .iter()
        .filter(|r| r.frequency > 0 && r.monetary_value > 0.0)
        .map(|r| SpendPattern {
            x: r.frequency as f64,
            m: r.monetary_value,
            weight: 1.0,
        })
        .collect();
    spend.sort_by(|a, b| a.x.total_cmp(&b.x));
    spend
}

/// A saved model read back.
struct LoadedModel {
    kind: String,
    time_unit: TimeUnit,
    params: Vec<f64>,
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
    Ok(LoadedModel {
        kind,
        time_unit,
        params,
    })
}

pub fn retention(args: &crate::cli::RetentionArgs) -> Result<()> {
    use clv_models::SbgParams;
    let curve = survival_curve(&args.curve)?;
    let rows = Tenure::from_survival_curve(&curve).map_err(anyhow::Error::msg)?;
    let report = fit_model(&ShiftedBetaGeometric, &rows, 0.0)?;
    print_report("sbg", "period", &report, 0);
    let p = SbgParams::from_slice(&report.params);
    let d = parse_rate(&args.discount_rate)?;
    println!(
        "\n  {:>6} {:>12} {:>10} {:>10} {:>10} {:>14}",
        "period", "actual", "survival", "retention", "DERL", "residual value"
    );
    let size = curve[0];
    for t in 0..=args.periods.max(curve.len() as u32 - 1) {
        let tf = t as f64;
        let actual = curve
            .get(t as usize)
            .map_or(String::new(), |a| format!("{:.4}", a / size));
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
    let table = score_table(args, &histories)?;
    crate::output::write_table(&table, &args.output)?;
    Ok(())
}

/// One scored row per customer of `histories`.
pub fn score_table<'h>(
    args: &crate::cli::ScoreArgs,
    histories: &'h clv_summary::Histories,
) -> Result<clv_data::Table<'h>> {
    use clv_data::{Table, Values};
    use clv_models::gamma_gamma::GammaGammaParams;
    use clv_models::value::{
        discount_per_unit, expected_and_discounted_purchases, lifetimes_discounted_purchases,
        median_time_to_next_purchase,
    };
    /// The purchase model scoring uses, whether fitted here or read from a file.
    struct FittedOrSaved {
        kind: &'static str,
        params: Vec<f64>,
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
    // lifetimes' scheme: whole months, a monthly rate, and its own month lengths per unit.
    let lifetimes_months = (horizon_days / TimeUnit::Month.days()).round() as u32;
    let lifetimes_monthly_rate = (1.0 + annual_rate).powf(1.0 / 12.0) - 1.0;
    let lifetimes_units_per_month = match time_unit {
        TimeUnit::Hour => 720.0,
        TimeUnit::Day => 30.0,
        TimeUnit::Week => 4.345,
        TimeUnit::Month => 1.0,
        TimeUnit::Year => 1.0 / 12.0,
    };

    let rows = summary_rows(
        histories,
        SummaryOptions {
            time_unit,
            include_first: false,
        },
    );
    // One pass over the customers: the distinct (x, t_x, T) patterns serve both the fit and the
    // predictions, which are made once per pattern.
    let (data, pattern_of) =
        Patterns::compress_indexed(rows.iter().map(|r| (r.frequency as f64, r.recency, r.t)));
    let purchase: FittedOrSaved = match saved_purchase {
        Some(m) => FittedOrSaved {
            // read_model accepts only known kinds; the purchase ones are these.
            kind: PURCHASE_KINDS
                .into_iter()
                .find(|k| *k == m.kind)
                .expect("a purchase kind"),
            params: m.params.clone(),
        },
        None => {
            let fitted = match purchase_kind(args.model) {
                Some(kind) => fit_purchase(kind, &data.rows, args.penalty)?,
                None => {
                    let choice = crate::validate::choose_by_bic(&data.rows, args.penalty)?;
                    eprintln!("{}", choice.reason);
                    choice.fitted
                }
            };
            FittedOrSaved {
                kind: fitted.kind,
                params: fitted.report.params,
            }
        }
    };
    let purchase_model =
        purchase_predictor(purchase.kind, &purchase.params).expect("purchase kind");
    let purchase_model: &dyn PurchasePredictor = purchase_model.as_ref();
    let spend = match saved_spend {
        Some(m) => GammaGammaParams::from_slice(&m.params),
        None => {
            let repeat = spend_rows(&rows);
            let started = std::time::Instant::now();
            let params = GammaGammaParams::from_slice(
                &fit_model(&GammaGamma, &repeat, args.penalty)?.params,
            );
            tracing::info!(elapsed = ?started.elapsed(), "spend fit");
            params
        }
    };
    anyhow::ensure!(
        spend.expected_spend(0.0, 0.0).is_some(),
        "the spend model has q ≤ 1, so average spend is unbounded; CLV cannot be computed from it"
    );

    // Purchase predictions depend only on (x, t_x, T): compute each distinct pattern once, the
    // patterns split across all cores.
    let started = std::time::Instant::now();
    let predict = |&Pattern { x, t_x, t, .. }: &Pattern| -> Result<(f64, f64, f64, f64)> {
        let (purchases, discounted) = match args.discounting {
            crate::cli::Discounting::Continuous => {
                expected_and_discounted_purchases(purchase_model, horizon, delta, x, t_x, t)?
            }
            crate::cli::Discounting::Lifetimes => (
                purchase_model.conditional_expected_purchases(horizon, x, t_x, t)?,
                lifetimes_discounted_purchases(
                    purchase_model,
                    lifetimes_months,
                    lifetimes_units_per_month,
                    lifetimes_monthly_rate,
                    x,
                    t_x,
                    t,
                )?,
            ),
        };
        Ok((
            purchase_model.p_alive(x, t_x, t)?,
            purchases,
            discounted,
            median_time_to_next_purchase(purchase_model, x, t),
        ))
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let patterns = &data.rows;
    let size = patterns.len().div_ceil(threads).max(1);
    let predictions: Vec<(f64, f64, f64, f64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = patterns
            .chunks(size)
            .map(|chunk| scope.spawn(move || chunk.iter().map(predict).collect::<Result<Vec<_>>>()))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("scoring worker panicked"))
            .collect::<Result<Vec<Vec<_>>>>()
    })?
    .into_iter()
    .flatten()
    .collect();
    let end_day = histories.main_end().div_euclid(clv_data::time::DAY) * clv_data::time::DAY;
    let n = rows.len();
    let (mut p_alive, mut churn, mut expected, mut spend_col) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let (mut predicted, mut historic, mut total, mut next_date, mut next_prob) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for (r, &k) in rows.iter().zip(&pattern_of) {
        let x = r.frequency as f64;
        let (alive, purchases, discounted, wait) = predictions[k as usize];
        let m = if r.frequency > 0 && r.monetary_value > 0.0 {
            r.monetary_value
        } else {
            0.0
        };
        let per_order = spend
            .expected_spend(if m > 0.0 { x } else { 0.0 }, m)
            .expect("q > 1 checked");
        let clv = per_order * discounted;
        p_alive.push(alive);
        churn.push(1.0 - alive);
        expected.push(purchases);
        spend_col.push(per_order);
        predicted.push(clv);
        historic.push(r.revenue);
        total.push(r.revenue + clv);
        let wait_days = wait * time_unit.days();
        next_date.push(if wait_days.is_finite() && wait_days < 36_500.0 {
            std::borrow::Cow::Owned(clv_data::time::format_date(
                end_day + (wait_days * clv_data::time::DAY as f64) as i64,
            ))
        } else {
            std::borrow::Cow::Borrowed("")
        });
        next_prob.push(0.5 * alive);
    }
    tracing::info!(elapsed = ?started.elapsed(), patterns = patterns.len(), "score");
    let table = Table::new()
        .with(
            "customer_id",
            Values::Text(
                rows.iter()
                    .map(|r| std::borrow::Cow::Borrowed(r.customer_id))
                    .collect(),
            ),
        )
        .with(
            "frequency",
            Values::Int(rows.iter().map(|r| r.frequency as i64).collect()),
        )
        .with(
            "recency",
            Values::Float(rows.iter().map(|r| r.recency).collect()),
        )
        .with("T", Values::Float(rows.iter().map(|r| r.t).collect()))
        .with(
            "monetary_value",
            Values::Float(rows.iter().map(|r| r.monetary_value).collect()),
        )
        .with("p_alive", Values::Float(p_alive))
        .with("churn_probability", Values::Float(churn))
        .with("expected_purchases", Values::Float(expected))
        .with("expected_spend", Values::Float(spend_col))
        .with("predicted_clv", Values::Float(predicted))
        .with("historic_clv", Values::Float(historic))
        .with("total_clv", Values::Float(total))
        .with("expected_next_order_date", Values::Text(next_date))
        .with("next_order_probability", Values::Float(next_prob));
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
        thousands(rows.len() as u64),
        model_name(purchase.kind),
        time_unit,
        spend.p, spend.q, spend.gamma,
        horizon, time_unit, clv_data::time::format_date(histories.main_end()),
        args.discount_rate, delta, time_unit,
    );
    Ok(table)
}
