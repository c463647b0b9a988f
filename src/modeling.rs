//! `clv fit`, `clv score`, `clv validate` and `clv retention`: options into valuation configs, the
//! valuation crate does the work, results printed or written.

use crate::cli::{FitArgs, ModelArgs, RetentionArgs, ScoreArgs, ValidateArgs};
use crate::input::load;
use crate::output::write_text;
use anyhow::{Context, Result};
use clv_data::numeric::{is_summary_header, read_numeric_columns, read_subscriptions};
use clv_data::{DateParser, Period, RejectLog};
use clv_models::{DataInfo, LoadedModel, ModelKind, SavedModel, SbgParams};
use clv_parquet::TableFormat;
use clv_report::text;
use clv_score::discrete::{self, Tenures};
use clv_score::{FitOutcome, FitTarget, ValuationConfig};
use std::io::BufRead;
use std::path::Path;

/// A rate written as `10%` or `0.1`.
pub fn parse_rate(text: &str, flag: &str) -> Result<f64> {
    let t = text.trim();
    let rate = match t.strip_suffix('%') {
        Some(p) => p.trim().parse::<f64>().map(|v| v / 100.0),
        None => t.parse::<f64>(),
    }
    .with_context(|| {
        format!("{flag} `{text}`: use a percentage like 10% or a fraction like 0.1")
    })?;
    anyhow::ensure!((0.0..10.0).contains(&rate), "{flag} {text} is outside 0% … 1000%");
    Ok(rate)
}

/// The valuation `models` and `intervals` ask for, on `threads` threads.
pub fn valuation_config(
    models: &ModelArgs,
    intervals: clv_score::Intervals,
    threads: usize,
) -> Result<ValuationConfig> {
    Ok(ValuationConfig {
        model: models.model,
        time_unit: models.time_unit,
        horizon: clv_score::config::days(clv_data::time::parse_days(&models.horizon)?),
        annual_discount_rate: parse_rate(&models.discount_rate, "--discount-rate")?,
        intervals,
        threads,
        progress: Some(&crate::progress::FITTING),
        ..Default::default()
    })
}

fn score_config(args: &ScoreArgs, threads: usize) -> Result<ValuationConfig> {
    let intervals = args.intervals.with(args.level, args.draws, args.seed);
    let mut config = valuation_config(&args.models, intervals, threads)?;
    config.penalty = args.penalty;
    config.discounting = args.discounting;
    for path in &args.model_file {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let model = LoadedModel::from_json(&text).with_context(|| path.display().to_string())?;
        let slot = match model.kind {
            ModelKind::Spend(_) => &mut config.saved_spend,
            _ => &mut config.saved_purchase,
        };
        *slot = Some(model);
    }
    Ok(config)
}

pub fn score(args: &ScoreArgs, threads: usize) -> Result<()> {
    let config = score_config(args, threads)?;
    let histories = load(&args.input, Period::Day, None, threads, None)?;
    let valuation = clv_score::value(&histories, &config)?;
    valuation.fits.warnings().iter().for_each(|w| eprintln!("{w}"));
    eprintln!("{}", valuation.describe());
    let table = valuation.into_chunked();
    crate::output::write_chunked(&table, &args.output, threads)?;
    // Done: the operating system takes the memory back at exit faster than freeing it.
    std::mem::forget(table);
    std::mem::forget(histories);
    Ok(())
}

/// Save `outcome` as versioned JSON when `-o` asks for it.
fn save(args: &FitArgs, outcome: &FitOutcome, unit: &str, observation_end: String) -> Result<()> {
    let Some(path) = &args.output else {
        return Ok(());
    };
    let data = DataInfo {
        file: args.input.orders.display().to_string(),
        customers: outcome.customers,
        excluded: outcome.excluded,
        observation_end,
        fingerprint: outcome.fingerprint.clone(),
    };
    let saved = SavedModel::new(outcome.kind, unit.to_string(), &outcome.report, data);
    std::fs::write(path, saved.to_json()).with_context(|| format!("writing {}", path.display()))?;
    eprintln!("saved the model to {}", path.display());
    Ok(())
}

pub fn fit(args: &FitArgs, threads: usize) -> Result<()> {
    let options = crate::progress::fit_options(args.penalty, threads);
    let what = match args.model {
        FitTarget::Opportunities => return fit_bgbb(args, options),
        FitTarget::Subscriptions => return fit_sbg(args, options),
        FitTarget::Orders(what) => what,
    };
    let time_unit = args.time_unit;
    let histories = load(&args.input, Period::Day, args.calibration_end.as_deref(), threads, None)?;
    let started = std::time::Instant::now();
    let outcome = clv_score::fit::fit_orders(&histories, what, time_unit, options)?;
    tracing::info!(elapsed = ?started.elapsed(), "fit");
    let warnings = outcome.choice.iter().flat_map(|c| c.warnings());
    warnings.for_each(|w| eprintln!("{w}"));
    let unit = time_unit.to_string();
    print!("{}", text::fit_report(outcome.kind, &unit, &outcome.report, outcome.excluded));
    let end = clv_data::time::format_date(histories.main_end());
    save(args, &outcome, &unit, end)
}

/// The BG/BB data: a summary file with frequency, recency, periods (or n) and optional weights,
/// or an order log with one opportunity per `--period` (default year).
fn fit_bgbb(args: &FitArgs, options: clv_models::FitOptions) -> Result<()> {
    let path = &args.input.orders;
    let name = path.display().to_string();
    let open = || std::fs::File::open(path).with_context(|| format!("reading {name}"));
    // Only the first line decides; an order log may be gigabytes.
    let mut header = String::new();
    if crate::input::format(&args.input) == clv_parquet::Format::Delimited {
        std::io::BufReader::new(open()?).read_line(&mut header)?;
    }
    let (rows, unit) = if is_summary_header(&header) {
        let mut rejects = RejectLog::new(args.input.strict);
        let columns = read_numeric_columns(&name, open()?, &mut rejects)?;
        eprint!("{}", text::skipped(&name, &rejects));
        (discrete::opportunity_patterns(&columns)?, "opportunity".to_string())
    } else {
        let period: Period = args.period.as_deref().unwrap_or("year").parse()?;
        let h = load(&args.input, period, args.calibration_end.as_deref(), options.threads, None)?;
        let rows = discrete::opportunity_patterns_of(&h).rows;
        (rows, period.name().to_string())
    };
    let outcome = clv_score::fit::fit_opportunities(&rows, options)?;
    print!("{}", text::fit_report(ModelKind::BgBb, &unit, &outcome.report, 0));
    let p = clv_models::BgBbParams::from_slice(&outcome.report.params);
    print!("{}", text::opportunities(&p, rows.iter().map(|r| r.t).fold(0.0, f64::max)));
    save(args, &outcome, &unit, String::new())
}

/// sBG rows from a survival curve or one row per subscriber, in periods of `period`.
fn tenures(path: &Path, period: &str, end: Option<&str>, strict: bool) -> Result<Tenures> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).with_context(|| format!("reading {name}"))?;
    let (dates, mut rejects) = (DateParser::utc(), RejectLog::new(strict));
    let subscriptions = read_subscriptions(&name, file, &dates, &mut rejects)?;
    eprint!("{}", text::skipped(&name, &rejects));
    // Subscriptions are observed to the start of that day (renewals fall on dates).
    let end = end.map(|d| {
        dates
            .parse(d.as_bytes())
            .with_context(|| format!("--observation-end `{d}` is not a date (YYYY-MM-DD)"))
    });
    let t = discrete::tenures(&subscriptions, period.parse()?, end.transpose()?)?;
    t.warnings().iter().for_each(|w| eprintln!("{w}"));
    Ok(t)
}

fn fit_sbg(args: &FitArgs, options: clv_models::FitOptions) -> Result<()> {
    let input = &args.input;
    let period = args.period.as_deref().unwrap_or("month");
    let t = tenures(&input.orders, period, input.observation_end.as_deref(), input.strict)?;
    let outcome = clv_score::fit::fit_tenures(&t.rows, options)?;
    print!("{}", text::fit_report(ModelKind::Sbg, &t.unit, &outcome.report, 0));
    save(args, &outcome, &t.unit, String::new())
}

pub fn retention(args: &RetentionArgs, threads: usize) -> Result<()> {
    let options = crate::progress::fit_options(0.0, threads);
    let t = tenures(&args.curve, &args.period, args.observation_end.as_deref(), false)?;
    let outcome = clv_score::fit::fit_tenures(&t.rows, options)?;
    print!("{}", text::fit_report(ModelKind::Sbg, &t.unit, &outcome.report, 0));
    let p = SbgParams::from_slice(&outcome.report.params);
    let d = parse_rate(&args.discount_rate, "--discount-rate")?;
    let projection = discrete::retention_projection(&p, &t.rows, args.periods, d, args.price)?;
    print!("{}", text::retention(&projection, &t.unit, &args.discount_rate));
    Ok(())
}

pub fn validate(args: &ValidateArgs, threads: usize) -> Result<()> {
    let histories = load(&args.input, Period::Day, Some(&args.calibration_end), threads, None)?;
    let options = crate::progress::fit_options(args.penalty, threads);
    let (v, _) =
        clv_score::validate::validation(&histories, args.time_unit, &args.models, options)?;
    v.not_compared.iter().for_each(|(m, e)| eprintln!("{m}: not compared: {e}"));
    match crate::output::resolve_format(&args.output) {
        TableFormat::Json => write_text(&args.output, &(serde_json::to_string_pretty(&v)? + "\n"))?,
        TableFormat::Text => write_text(&args.output, &text::validation(&v))?,
        TableFormat::Csv | TableFormat::Parquet => {
            crate::output::write_table(&v.table(), &args.output, threads)?;
        }
    }
    Ok(())
}
