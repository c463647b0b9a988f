//! `clv segments`, `clv customer`, `clv replenish`, `clv cross-sell` and `clv report`: who to look
//! after, what to offer and when to remind, on the terminal, in files and in the report.

use crate::cli::{
    CrossSellArgs, CustomerArgs, ReplenishArgs, ReportArgs, SegmentsArgs, ValuationArgs,
};
use crate::input::{date_parser, end_bound, load, load_with_products, read_products};
use crate::modeling::valuation_config;
use crate::output::{write_table, write_to};
use anyhow::{Context, Result};
use clv_data::time::{parse_days, DAY};
use clv_data::{thousands, Period};
use clv_report::text::{self, Labels};
use clv_score::Intervals;
use clv_segments::{basket, replenish, rfm, tables, Valued};
use clv_summary::Histories;

/// Segments, predictions and tiers of every customer.
fn value<'h>(
    histories: &'h Histories,
    valuation: &ValuationArgs,
    intervals: Intervals,
    threads: usize,
) -> Result<Valued<'h>> {
    let rules = match &valuation.segment_rules {
        None => rfm::default_rules(),
        Some(path) => {
            let text =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            rfm::read_rules(text.as_slice()).with_context(|| path.display().to_string())?
        }
    };
    let config = valuation_config(&valuation.models, intervals, threads)?;
    let v = clv_segments::value(histories, &config, rules, &valuation.tiers)?;
    if let Ok(s) = &v.scored {
        s.fits.warnings().iter().for_each(|w| eprintln!("{w}"));
        eprintln!("{}", s.fits.describe());
    }
    Ok(v)
}

fn labels(v: &ValuationArgs) -> Labels<'_> {
    Labels { horizon: &v.models.horizon, discount: &v.models.discount_rate }
}

/// True when `out` asks for a file or a machine format (not only the terminal page).
fn wants_table(out: &crate::cli::OutputArgs) -> bool {
    out.output.is_some() || out.format.is_some_and(|f| f != clv_parquet::TableFormat::Text)
}

pub fn segments(args: &SegmentsArgs, threads: usize) -> Result<()> {
    let histories = load(&args.input, Period::Day, None, threads, None)?;
    // Segments and tiers show no intervals: none are computed.
    let v = value(&histories, &args.valuation, Intervals::None, threads)?;
    let labels = labels(&args.valuation);
    print!("{}", text::segments(&v, histories.main_end(), &labels, args.top));
    if wants_table(&args.output) {
        write_table(&tables::per_customer(&v), &args.output, threads)?;
    }
    Ok(())
}

pub fn customer(args: &CustomerArgs, threads: usize) -> Result<()> {
    let (histories, products) = load_with_products(&args.input, false, threads)?;
    let v = value(&histories, &args.valuation, Intervals::Delta { level: 0.9 }, threads)?;
    let p = clv_segments::profile::profile(&v, &histories, &products, &args.customer)?;
    print!("{}", text::profile(&p, &labels(&args.valuation), &text::model_name(&v)));
    Ok(())
}

pub fn replenish(args: &ReplenishArgs, threads: usize) -> Result<()> {
    let dates = date_parser(&args.input)?;
    let as_of = end_bound(&dates, "--as-of", args.as_of.as_deref())?;
    let products = read_products(&args.input, as_of, false)?;
    let as_of_day = match as_of {
        Some(t) => t.div_euclid(DAY) as i32,
        None => products.lines.iter().map(|l| l.day).max().expect("lines"),
    };
    let started = std::time::Instant::now();
    let options = replenish::PlanOptions {
        as_of_day,
        window_days: args.window,
        lead_days: args.lead_time,
        min_repeats: args.min_repeats,
        per_customer: args.per_customer,
    };
    let plan = products.replenishment(options);
    tracing::info!(elapsed = ?started.elapsed(), "cycles and reminders");
    print!("{}", text::replenish(&products, &plan));
    if let Some(path) = &args.cycles {
        let all = tables::by_evidence(&plan.cycles);
        write_to(&tables::cycle_table(&products, &plan.cycles, &all), path, threads)?;
    }
    let table = tables::reminder_table(&products, &plan.cycles, &plan.reminders);
    write_table(&table, &args.output, threads)?;
    Ok(())
}

pub fn cross_sell(args: &CrossSellArgs, threads: usize) -> Result<()> {
    let dates = date_parser(&args.input)?;
    let end = end_bound(&dates, "--observation-end", args.input.observation_end.as_deref())?;
    let products = read_products(&args.input, end, true)?;
    let started = std::time::Instant::now();
    let thresholds = basket::Thresholds {
        min_support: args.min_support,
        min_confidence: args.min_confidence,
        min_lift: args.min_lift,
    };
    let t = basket::together(&products, thresholds, threads);
    tracing::info!(elapsed = ?started.elapsed(), baskets = t.baskets.len(), "rules");
    print!("{}", text::cross_sell(&products, &t));
    let rules = &t.rules;
    if wants_table(&args.output) {
        write_table(&tables::rules_table(&products, rules), &args.output, threads)?;
    }
    let with = basket::bought_with(rules, args.top);
    if let Some(path) = &args.bought_with {
        write_to(&tables::bought_with_table(&products, &with), path, threads)?;
    }
    if let Some(path) = &args.recommendations {
        let rows = basket::customer_suggestions(&products, &with, args.top);
        write_to(&tables::recommendation_table(&products, &rows), path, threads)?;
    }
    Ok(())
}

pub fn report(args: &ReportArgs, threads: usize) -> Result<()> {
    let started = std::time::Instant::now();
    let (histories, products) = load_with_products(&args.input, true, threads)?;
    let metrics = crate::commands::metrics_of(&histories, args.window, args.cac);
    // Intervals: the top-customer tables show the CLV interval.
    let v = value(&histories, &args.valuation, Intervals::Delta { level: 0.9 }, threads)?;
    let calibration = match &args.calibration_end {
        Some(c) => Some(load(&args.input, Period::Day, Some(c), threads, None)?),
        None => None,
    };
    let m = &args.valuation.models;
    let source = args.input.orders.display().to_string();
    let view = clv_report::build(clv_report::ReportInputs {
        source: &source,
        histories: &histories,
        metrics,
        valued: &v,
        calibration: calibration.as_ref(),
        products: &products,
        horizon_label: &m.horizon,
        discount_label: &m.discount_rate,
        horizon_days: parse_days(&m.horizon)?,
        currency: args.currency.as_deref(),
        threads,
        progress: Some(&crate::progress::FITTING),
    })?;
    let html = clv_report::report_html(&view);
    std::fs::write(&args.output, &html)
        .with_context(|| format!("writing {}", args.output.display()))?;
    eprintln!(
        "wrote the report to {} ({} KB) in {:.2} s",
        args.output.display(),
        thousands(html.len() as u64 / 1024),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
