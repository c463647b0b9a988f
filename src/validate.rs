//! `clv validate` and `--model auto`: fit each purchase model on a calibration window, predict the
//! holdout, and compare with what happened.

use crate::cli::ValidateArgs;
use crate::input::{load, thousands};
use crate::modeling::{fit_purchase, model_name, FittedPurchase, PURCHASE_KINDS};
use anyhow::Result;
use clv_data::{Period, TimeUnit};
use clv_models::{Pattern, Patterns};
use clv_summary::{summary_rows, Histories, SummaryOptions};

/// A model chosen automatically, with the reason shown to the user.
pub struct Choice {
    pub fitted: FittedPurchase,
    pub reason: String,
}

/// Calibration frequencies are grouped 0, 1, …, 6 and 7+.
const FREQUENCY_GROUPS: usize = 8;

/// How one model did on the holdout.
#[derive(serde::Serialize)]
pub struct ModelValidation {
    pub model: &'static str,
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

/// Everything `clv validate` reports.
#[derive(serde::Serialize)]
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

fn holdout(h: &Histories, time_unit: TimeUnit) -> Result<Holdout> {
    let Some(_) = h.calibration_end else {
        anyhow::bail!("validation needs --calibration-end");
    };
    let rows = summary_rows(
        h,
        SummaryOptions {
            time_unit,
            include_first: false,
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

fn validate_one(
    kind: &str,
    hold: &Holdout,
    time_unit: TimeUnit,
    penalty: f64,
) -> Result<(ModelValidation, FittedPurchase)> {
    let fitted = fit_purchase(kind, &hold.data.rows, penalty)?;
    let model = fitted.model.as_ref();
    let week = 7.0 / time_unit.days();
    // Per pattern: predicted holdout purchases, and at each week's end.
    let predict = |p: &Pattern| -> Result<(f64, Vec<f64>)> {
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
    let predictions: Vec<(f64, Vec<f64>)> =
        hold.data.rows.iter().map(predict).collect::<Result<_>>()?;
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
    let counts = customers_by_frequency(hold);
    for (b, n) in by_frequency.iter_mut().zip(&counts) {
        if *n > 0 {
            *b /= *n as f64;
        }
    }
    let (mut abs, mut sq) = (0.0, 0.0);
    for (&k, &actual) in hold.pattern_of.iter().zip(&hold.actual) {
        let e = predictions[k as usize].0 - actual as f64;
        abs += e.abs();
        sq += e * e;
    }
    let n = hold.actual.len() as f64;
    let r = &fitted.report;
    let validation = ModelValidation {
        model: fitted.kind,
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

fn customers_by_frequency(hold: &Holdout) -> Vec<u64> {
    let mut counts = vec![0u64; FREQUENCY_GROUPS];
    for p in &hold.data.rows {
        counts[group(p.x)] += p.weight as u64;
    }
    counts
}

/// Validate `kinds` on the calibration/holdout split of `h`.
/// Also returns each compared model's calibration fit, in the same order as `models`.
pub fn validation(
    h: &Histories,
    time_unit: TimeUnit,
    kinds: &[&str],
    penalty: f64,
) -> Result<(Validation, Vec<FittedPurchase>)> {
    let hold = holdout(h, time_unit)?;
    let (mut models, mut fits) = (Vec::new(), Vec::new());
    for kind in kinds {
        match validate_one(kind, &hold, time_unit, penalty) {
            Ok((v, fitted)) => {
                models.push(v);
                fits.push(fitted);
            }
            // One model failing to fit is a finding, not the end of the comparison.
            Err(e) => eprintln!("{}: not compared: {e:#}", model_name(kind)),
        }
    }
    anyhow::ensure!(
        !models.is_empty(),
        "no model could be fitted to the calibration data"
    );
    let counts = customers_by_frequency(&hold);
    let mut actual_by_frequency = vec![0.0; FREQUENCY_GROUPS];
    for (&k, &a) in hold.pattern_of.iter().zip(&hold.actual) {
        actual_by_frequency[group(hold.data.rows[k as usize].x)] += a as f64;
    }
    for (b, n) in actual_by_frequency.iter_mut().zip(&counts) {
        if *n > 0 {
            *b /= *n as f64;
        }
    }
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
        models,
    };
    Ok((validation, fits))
}

/// `--model auto` with a holdout: the model with the lowest per-customer MAE on the holdout, as
/// fitted on the calibration window during the comparison.
pub fn choose_by_holdout(h: &Histories, time_unit: TimeUnit, penalty: f64) -> Result<Choice> {
    let (v, fits) = validation(h, time_unit, &PURCHASE_KINDS, penalty)?;
    let best = (0..v.models.len())
        .min_by(|&a, &b| v.models[a].mae.total_cmp(&v.models[b].mae))
        .expect("at least one model");
    let others = v
        .models
        .iter()
        .map(|m| format!("{} {:.4}", model_name(m.model), m.mae))
        .collect::<Vec<_>>()
        .join(", ");
    let reason = format!(
        "--model auto chose {}: lowest mean absolute error per customer on the holdout ({others}; {} actual holdout purchases, it predicted {:.0})",
        model_name(v.models[best].model),
        thousands(v.actual_holdout_purchases),
        v.models[best].predicted_holdout_purchases
    );
    let fitted = fits.into_iter().nth(best).expect("one fit per model");
    Ok(Choice { fitted, reason })
}

/// `--model auto` without a holdout: the lowest BIC among the models that fit.
pub fn choose_by_bic(rows: &[Pattern], penalty: f64) -> Result<Choice> {
    let n: f64 = rows.iter().map(|r| r.weight).sum();
    let mut fits: Vec<(f64, FittedPurchase)> = Vec::new();
    for kind in PURCHASE_KINDS {
        match fit_purchase(kind, rows, penalty) {
            Ok(f) => fits.push((
                f.report.params.len() as f64 * n.ln() - 2.0 * f.report.log_likelihood,
                f,
            )),
            Err(e) => eprintln!("{}: not compared: {e:#}", model_name(kind)),
        }
    }
    anyhow::ensure!(!fits.is_empty(), "no purchase model could be fitted");
    let summary = fits
        .iter()
        .map(|(bic, f)| format!("{} {bic:.1}", model_name(f.kind)))
        .collect::<Vec<_>>()
        .join(", ");
    let best = fits
        .into_iter()
        .min_by(|a, b| a.0.total_cmp(&b.0))
        .expect("non-empty");
    Ok(Choice {
        reason: format!(
            "--model auto chose {}: lowest BIC ({summary}); give --calibration-end to choose by holdout error instead",
            model_name(best.1.kind)
        ),
        fitted: best.1,
    })
}

pub fn validate(args: &ValidateArgs) -> Result<()> {
    let time_unit: TimeUnit = args.time_unit.parse().map_err(anyhow::Error::msg)?;
    let histories = load(&args.input, Period::Day, Some(&args.calibration_end))?;
    let kinds: Vec<&str> = if args.models.is_empty() {
        PURCHASE_KINDS.to_vec()
    } else {
        args.models.iter().map(String::as_str).collect()
    };
    if let Some(bad) = kinds.iter().find(|k| !PURCHASE_KINDS.contains(k)) {
        anyhow::bail!("--models: `{bad}` is not one of bgnbd, mbgnbd, pareto");
    }
    let (v, _) = validation(&histories, time_unit, &kinds, args.penalty)?;
    match args.format {
        Some(crate::cli::OutputFormat::Json) => {
            println!("{}", serde_json::to_string_pretty(&v)?);
            return Ok(());
        }
        Some(crate::cli::OutputFormat::Csv | crate::cli::OutputFormat::Parquet) => {
            anyhow::bail!("clv validate writes a table or --format json")
        }
        _ => {}
    }
    print_validation(&v);
    Ok(())
}

fn print_validation(v: &Validation) {
    println!(
        "Holdout validation: {} customers, calibration to {}, holdout to {} ({} weeks); times in {}s",
        thousands(v.customers as u64),
        v.calibration_end,
        v.observation_end,
        v.holdout_weeks,
        v.time_unit
    );
    println!(
        "  actual holdout purchases: {}",
        thousands(v.actual_holdout_purchases)
    );
    println!(
        "  {:<11} {:>12} {:>12} {:>10} {:>8} {:>8}",
        "model", "log-lik.", "BIC", "predicted", "MAE", "RMSE"
    );
    for m in &v.models {
        println!(
            "  {:<11} {:>12.2} {:>12.2} {:>10.1} {:>8.4} {:>8.4}",
            model_name(m.model),
            m.log_likelihood,
            m.bic,
            m.predicted_holdout_purchases,
            m.mae,
            m.rmse
        );
    }
    println!("\n  mean holdout purchases by calibration frequency");
    print!("  {:<6} {:>9} {:>8}", "freq", "customers", "actual");
    for m in &v.models {
        print!(" {:>11}", model_name(m.model));
    }
    println!();
    for g in 0..v.frequency_groups.len() {
        print!(
            "  {:<6} {:>9} {:>8.3}",
            v.frequency_groups[g], v.customers_by_frequency[g], v.actual_by_frequency[g]
        );
        for m in &v.models {
            print!(" {:>11.3}", m.predicted_by_frequency[g]);
        }
        println!();
    }
    println!("\n  cumulative holdout purchases by week (every 4th week and the last; --format json has all)");
    print!("  {:<6} {:>8}", "week", "actual");
    for m in &v.models {
        print!(" {:>11}", model_name(m.model));
    }
    println!();
    for k in (0..v.holdout_weeks).filter(|k| (k + 1) % 4 == 0 || k + 1 == v.holdout_weeks) {
        print!("  {:<6} {:>8.0}", k + 1, v.actual_cumulative[k]);
        for m in &v.models {
            print!(" {:>11.1}", m.predicted_cumulative[k]);
        }
        println!();
    }
}
