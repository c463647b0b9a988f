//! `clv fit`: from orders to a fitted model, printed with intervals and saved as versioned JSON.

use crate::cli::{FitArgs, ModelKind};
use crate::input::{load, thousands};
use anyhow::{Context, Result};
use clv_data::{Period, TimeUnit};
use clv_models::{fit as fit_model, BgNbd, FitReport, GammaGamma, MbgNbd, Patterns, SpendPattern};
use clv_summary::{summary_rows, SummaryOptions};
use std::hash::Hasher;

/// Format of saved models; bump when the JSON changes incompatibly.
const MODEL_FORMAT_VERSION: u32 = 1;

/// A saved model: enough to score new data without refitting, and to tell what it was fitted on.
#[derive(Debug, serde::Serialize)]
struct SavedModel<'a> {
    format: &'static str,
    version: u32,
    kind: &'static str,
    time_unit: TimeUnit,
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

fn fingerprint(values: impl Iterator<Item = f64>) -> String {
    let mut h = rustc_hash::FxHasher::default();
    for v in values {
        h.write_u64(v.to_bits());
    }
    format!("{:016x}", h.finish())
}

pub fn fit(args: &FitArgs) -> Result<()> {
    let time_unit: TimeUnit = args.time_unit.parse().map_err(anyhow::Error::msg)?;
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
        ModelKind::Bgnbd | ModelKind::Mbgnbd => {
            let data =
                Patterns::compress(rows.iter().map(|r| (r.frequency as f64, r.recency, r.t)));
            let (kind, report) = if args.model == ModelKind::Bgnbd {
                ("bgnbd", fit_model(&BgNbd, &data.rows)?)
            } else {
                ("mbgnbd", fit_model(&MbgNbd, &data.rows)?)
            };
            let print = fingerprint(data.rows.iter().flat_map(|p| [p.x, p.t_x, p.t, p.weight]));
            (kind, report, 0, print)
        }
        ModelKind::Gg => {
            let spend: Vec<SpendPattern> = rows
                .iter()
                .filter(|r| r.frequency > 0 && r.monetary_value > 0.0)
                .map(|r| SpendPattern {
                    x: r.frequency as f64,
                    m: r.monetary_value,
                    weight: 1.0,
                })
                .collect();
            let report = fit_model(&GammaGamma, &spend)?;
            let excluded = (rows.len() - spend.len()) as u64;
            let print = fingerprint(spend.iter().flat_map(|s| [s.x, s.m]));
            ("gg", report, excluded, print)
        }
    };
    tracing::info!(elapsed = ?started.elapsed(), "fit");
    print_report(kind, time_unit, &report, excluded);
    if let Some(path) = &args.output {
        let saved = SavedModel {
            format: "clv-model",
            version: MODEL_FORMAT_VERSION,
            kind,
            time_unit,
            parameters: report
                .names
                .iter()
                .map(String::as_str)
                .zip(report.params.iter().copied())
                .collect(),
            fit: &report,
            data: DataInfo {
                file: args.input.orders.display().to_string(),
                customers: rows.len() as u64,
                excluded,
                observation_end: clv_data::time::format_date(histories.main_end()),
                fingerprint: print,
            },
        };
        let text = serde_json::to_string_pretty(&saved)? + "\n";
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("saved the model to {}", path.display());
    }
    Ok(())
}

fn print_report(kind: &str, unit: TimeUnit, r: &FitReport, excluded: u64) {
    let title = match kind {
        "bgnbd" => format!("BG/NBD purchase model (rates per {unit})"),
        "mbgnbd" => format!("MBG/NBD purchase model (rates per {unit})"),
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
        "  converged: L-BFGS, {} iterations from start {}, gradient norm {:.1e}; intervals from the observed information",
        r.iterations,
        r.start + 1,
        r.gradient_norm
    );
}
