//! Reading orders for a command: format dispatch, progress bar, and the data-quality report on
//! stderr (what was read, the column mapping, every kind of rejected or left-out row).

use crate::cli::{InputArgs, InputFormat};
use anyhow::{bail, Context, Result};
use clv_data::{
    read_delimited, read_delimited_sharded, ColumnSpec, DateParser, Delimiter, OrderLine, Period,
    ReadOptions, ReadReport, RejectLog, SerialFeed, ShardedSink,
};
use clv_parquet::read_parquet;
use clv_summary::{Histories, Ledger, LedgerOptions, LedgerStats};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;

pub fn is_parquet(path: &Path, explicit: Option<InputFormat>) -> bool {
    match explicit {
        Some(f) => f == InputFormat::Parquet,
        None => path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq")),
    }
}

pub fn date_parser(input: &InputArgs) -> Result<DateParser> {
    DateParser::new(input.date_format.as_deref(), &input.timezone).map_err(anyhow::Error::msg)
}

/// Parse a `--…-end` option: a date means its whole day.
pub fn end_bound(dates: &DateParser, flag: &str, value: Option<&str>) -> Result<Option<i64>> {
    value
        .map(|v| {
            dates.parse_end_bound(v).with_context(|| {
                format!("{flag} `{v}` is not a date: use YYYY-MM-DD (or a date in --date-format)")
            })
        })
        .transpose()
}

fn progress_bar(path: &Path) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} reading {msg} {wide_bar} {bytes}/{total_bytes} ({eta})",
        )
        .expect("valid template"),
    );
    bar.set_message(path.display().to_string());
    bar
}

fn read_options(input: &InputArgs) -> Result<ReadOptions> {
    Ok(ReadOptions {
        delimiter: input
            .delimiter
            .as_deref()
            .map(str::parse::<Delimiter>)
            .transpose()
            .map_err(anyhow::Error::msg)?,
        has_header: match (input.header, input.no_header) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        columns: ColumnSpec {
            customer: input.customer_col.clone(),
            date: input.date_col.clone(),
            amount: input.amount_col.clone(),
            order: input.order_col.clone(),
            sku: input.sku_col.clone(),
            quantity: input.quantity_col.clone(),
            price: input.price_col.clone(),
        },
        decimal_comma: input.decimal_comma,
        block_bytes: None,
    })
}

/// Where accepted lines go: a closure on the reading thread, or a sink fed by every core.
enum Destination<'d, S: ShardedSink> {
    Serial(&'d mut dyn FnMut(&OrderLine<'_>)),
    Sharded(&'d mut S),
}

/// Read `input` into `destination`, with the rejects log and progress bar the options ask for.
fn read_into<S: ShardedSink>(
    input: &InputArgs,
    dates: &DateParser,
    destination: Destination<'_, S>,
) -> Result<(ReadReport, RejectLog)> {
    let options = read_options(input)?;
    let mut rejects = RejectLog::new(input.strict);
    if let Some(path) = &input.rejects {
        rejects = rejects.write_to(path)?;
    }
    let bar = progress_bar(&input.orders);
    let mut progress = |bytes: u64| bar.set_position(bytes);
    let path = &input.orders;
    let parquet = is_parquet(path, input.input_format);
    let (r, p) = (&mut rejects, &mut progress);
    let report = match destination {
        Destination::Serial(sink) if parquet => read_parquet(path, &options, dates, r, p, sink)?,
        Destination::Serial(sink) => read_delimited(path, &options, dates, r, p, sink)?,
        Destination::Sharded(sink) if parquet => {
            let mut feed = SerialFeed::new(sink);
            read_parquet(path, &options, dates, r, p, &mut |line| feed.push(line))?
        }
        Destination::Sharded(sink) => read_delimited_sharded(path, &options, dates, r, p, sink)?,
    };
    bar.finish_and_clear();
    rejects.finish()?;
    Ok((report, rejects))
}

/// Stream the orders of `input` through `sink`.
pub fn read_orders(
    input: &InputArgs,
    dates: &DateParser,
    sink: &mut dyn FnMut(&OrderLine<'_>),
) -> Result<(ReadReport, RejectLog)> {
    read_into::<Ledger>(input, dates, Destination::Serial(sink))
}

/// Read, net and report.
pub fn load(input: &InputArgs, period: Period, calibration_end: Option<&str>) -> Result<Histories> {
    load_with(input, period, calibration_end, None)
}

/// [`load`], also handing every accepted line to `also` (e.g. a product-level collector), so the
/// file is read once. Without `also`, every core parses.
pub fn load_with(
    input: &InputArgs,
    period: Period,
    calibration_end: Option<&str>,
    also: Option<&mut dyn FnMut(&OrderLine<'_>)>,
) -> Result<Histories> {
    let dates = date_parser(input)?;
    let observation_end = end_bound(
        &dates,
        "--observation-end",
        input.observation_end.as_deref(),
    )?;
    let calibration_end = end_bound(&dates, "--calibration-end", calibration_end)?;
    if let (Some(c), Some(o)) = (calibration_end, observation_end) {
        if c >= o {
            bail!("--calibration-end must be before --observation-end");
        }
    }
    let mut ledger = Ledger::new(LedgerOptions {
        period,
        observation_end,
        calibration_end,
    });
    let started = std::time::Instant::now();
    let (report, rejects) = match also {
        None => read_into(input, &dates, Destination::Sharded(&mut ledger))?,
        Some(also) => {
            let mut feed = SerialFeed::new(&mut ledger);
            let read = read_orders(input, &dates, &mut |line| {
                feed.push(line);
                also(line);
            })?;
            drop(feed);
            read
        }
    };
    tracing::info!(rows = report.rows, elapsed = ?started.elapsed(), "read");
    let started = std::time::Instant::now();
    let histories = ledger.finish();
    tracing::info!(elapsed = ?started.elapsed(), "netting and merge");
    print_read_report(&report, &rejects, histories.as_ref().map(|h| &h.stats));
    let Some(histories) = histories else {
        bail!(
            "no usable orders in {}: {} rows read, none accepted; see the rejected rows above",
            report.file,
            report.rows
        );
    };
    if histories.is_empty() {
        bail!(
            "no customer has a purchase in the window ending {}; check --observation-end / --calibration-end",
            clv_data::time::format_date(histories.main_end())
        );
    }
    if let Some(c) = calibration_end {
        if c >= histories.observation_end {
            bail!(
                "--calibration-end is not before the last order ({}): there is no holdout; pass --observation-end",
                clv_data::time::format_date(histories.observation_end)
            );
        }
    }
    Ok(histories)
}

/// 1234567 → "1,234,567".
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn print_read_report(report: &ReadReport, rejects: &RejectLog, stats: Option<&LedgerStats>) {
    let layout = match (report.delimiter, report.header) {
        (None, _) => "parquet".to_string(),
        (Some(d), h) => format!(
            "{d}-delimited, {}",
            if h { "header row" } else { "no header" }
        ),
    };
    eprintln!(
        "read {}: {} rows, {} accepted, {} rejected ({layout})",
        report.file,
        thousands(report.rows),
        thousands(report.accepted),
        thousands(report.rejected)
    );
    let mapping: Vec<String> = report
        .mapping
        .columns
        .iter()
        .map(|(role, c)| {
            format!(
                "{role} = {}{}",
                c.name,
                if c.detected { " (detected)" } else { "" }
            )
        })
        .collect();
    eprintln!("columns: {}", mapping.join(", "));
    if rejects.total() > 0 {
        for (reason, n) in rejects.counts() {
            eprintln!(
                "  rejected {:>9} rows: {reason} ({})",
                thousands(*n),
                reason.advice()
            );
        }
        for example in rejects.examples() {
            eprintln!("    e.g. {example}");
        }
        eprintln!(
            "  (write every rejected row with --rejects FILE; stop at the first with --strict)"
        );
    }
    if let Some(s) = stats {
        let lines = [
            (
                s.after_observation_end,
                "rows after the observation end left out",
            ),
            (s.return_lines, "return/cancellation rows"),
            (
                s.returns_matched_by_order,
                "returns netted into their order (same order id)",
            ),
            (
                s.returns_matched_by_date,
                "returns netted into the latest earlier purchase",
            ),
            (
                s.returns_unmatched,
                "returns with no purchase to net into (they only lower revenue)",
            ),
            (
                s.periods_cancelled_by_returns,
                "purchase periods cancelled by returns",
            ),
            (
                s.customers_without_purchase,
                "customers left out: no purchase left in the window",
            ),
            (
                s.customers_first_seen_in_holdout,
                "customers left out: first purchase after --calibration-end",
            ),
        ];
        for (n, what) in lines {
            if n > 0 {
                eprintln!("  {:>9} {what}", thousands(n));
            }
        }
    }
}
