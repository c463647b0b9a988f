//! Reading orders for a command: the input options into the library's read settings, format
//! dispatch, the progress bar, and the data-quality report on stderr.

use crate::cli::InputArgs;
use anyhow::{Context, Result};
use clv_data::{
    ColumnSpec, DateParser, DecimalMark, OrderLine, Period, Progress, ReadOptions, ReadReport,
    RejectLog, SerialFeed,
};
use clv_parquet::Format;
use clv_report::text;
use clv_segments::products::ProductLog;
use clv_summary::{Histories, Ledger, LedgerOptions};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;

/// The input's format: `--input-format`, else its extension.
pub fn format(input: &InputArgs) -> Format {
    input.input_format.unwrap_or_else(|| Format::of(&input.orders))
}

pub fn date_parser(input: &InputArgs) -> Result<DateParser> {
    Ok(DateParser::new(input.date_format.as_deref(), &input.timezone)?)
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

/// A progress bar over the file's bytes on a terminal; none when stderr is redirected.
fn progress_bar(path: &Path) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let template = "{spinner} reading {msg} {wide_bar} {bytes}/{total_bytes} ({eta})";
    // A compressed file's bytes are not the text's: no total then.
    let packed = path.extension().is_some_and(|e| e == "gz" || e == "zst");
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    let bar = if packed { ProgressBar::no_length() } else { ProgressBar::new(size) };
    bar.set_style(ProgressStyle::with_template(template).expect("valid template"));
    bar.set_message(path.display().to_string());
    bar
}

pub fn read_options(input: &InputArgs, threads: usize) -> Result<ReadOptions> {
    let map = input.customer_map.as_deref().map(clv_data::read_customer_map_file);
    let customer_map = map.transpose()?.map(Arc::new);
    let test_orders = input.exclude_test.then(clv_data::RowFilter::test_orders);
    Ok(ReadOptions {
        delimiter: input.delimiter,
        // --header and --no-header conflict: at most one is set.
        has_header: (input.header || input.no_header).then_some(input.header),
        columns: ColumnSpec {
            customer: input.customer_col.clone(),
            date: input.date_col.clone(),
            amount: input.amount_col.clone(),
            order: input.order_col.clone(),
            sku: input.sku_col.clone(),
            quantity: input.quantity_col.clone(),
            price: input.price_col.clone(),
            description: input.description_col.clone(),
        },
        decimal: (input.decimal_comma.then_some(DecimalMark::Comma))
            .or(input.decimal_point.then_some(DecimalMark::Point)),
        block_bytes: None,
        threads,
        filters: input.filters.iter().cloned().chain(test_orders).collect(),
        customer_map,
        encoding: input.encoding,
    })
}

/// The rejects log and progress bar `input` asks for, and `read` with them.
fn read_with<T>(
    input: &InputArgs,
    read: impl FnOnce(&mut RejectLog, Progress<'_>) -> Result<T, clv_data::DataError>,
) -> Result<(T, RejectLog)> {
    let mut rejects = RejectLog::new(input.strict);
    if let Some(path) = &input.rejects {
        rejects = rejects.write_to(path)?;
    }
    let bar = progress_bar(&input.orders);
    let report = read(&mut rejects, &mut |bytes: u64| bar.set_position(bytes))?;
    bar.finish_and_clear();
    rejects.finish()?;
    Ok((report, rejects))
}

/// Stream the orders of `input` through `sink`, on this thread.
pub fn read_orders(
    input: &InputArgs,
    dates: &DateParser,
    sink: &mut dyn FnMut(&OrderLine<'_>),
) -> Result<(ReadReport, RejectLog)> {
    let options = read_options(input, 1)?;
    read_with(input, |r, p| {
        clv_parquet::read_orders(&input.orders, format(input), &options, dates, r, p, sink)
    })
}

/// Read, net and report; also hand every accepted line to `also` (e.g. a product-level
/// collector), so the file is read once. Without `also`, every core parses.
pub fn load(
    input: &InputArgs,
    period: Period,
    calibration_end: Option<&str>,
    threads: usize,
    also: Option<&mut dyn FnMut(&OrderLine<'_>)>,
) -> Result<Histories> {
    let dates = date_parser(input)?;
    let observation_end = input.observation_end.as_deref();
    let ledger = LedgerOptions {
        period,
        observation_end: end_bound(&dates, "--observation-end", observation_end)?,
        calibration_end: end_bound(&dates, "--calibration-end", calibration_end)?,
        threads,
    };
    ledger.check()?;
    let mut books = Ledger::new(ledger);
    let started = std::time::Instant::now();
    let (report, rejects) = match also {
        None => {
            let options = read_options(input, threads)?;
            let (path, format) = (&input.orders, format(input));
            read_with(input, |r, p| {
                clv_parquet::read_orders_sharded(path, format, &options, &dates, r, p, &mut books)
            })?
        }
        Some(also) => {
            let mut feed = SerialFeed::new(&mut books);
            read_orders(input, &dates, &mut |line| {
                feed.push(line);
                also(line);
            })?
        }
    };
    tracing::info!(rows = report.rows, elapsed = ?started.elapsed(), "read");
    let started = std::time::Instant::now();
    let histories = books.finish();
    tracing::info!(elapsed = ?started.elapsed(), "netting and merge");
    let stats = histories.as_ref().map(|h| &h.stats);
    eprint!("{}", text::read_report(&report, &rejects, stats));
    Histories::usable(histories).with_context(|| report.file.clone())
}

/// The customer ledger and, from the same read, the product lines up to the observation end.
pub fn load_with_products(
    input: &InputArgs,
    keep_orders: bool,
    threads: usize,
) -> Result<(Histories, ProductLog)> {
    let dates = date_parser(input)?;
    let end = end_bound(&dates, "--observation-end", input.observation_end.as_deref())?;
    let mut products = ProductLog::new(end, keep_orders);
    let also: &mut dyn FnMut(&OrderLine<'_>) = &mut |line| products.push(line);
    let histories = load(input, Period::Day, None, threads, Some(also))?;
    products.sort_ids();
    Ok((histories, products))
}

/// Product lines up to `end` (inclusive), with the usual read report.
pub fn read_products(input: &InputArgs, end: Option<i64>, keep_orders: bool) -> Result<ProductLog> {
    let dates = date_parser(input)?;
    let mut products = ProductLog::new(end, keep_orders);
    let started = std::time::Instant::now();
    let (report, rejects) = read_orders(input, &dates, &mut |line| products.push(line))?;
    products.sort_ids();
    tracing::info!(rows = report.rows, elapsed = ?started.elapsed(), "read");
    eprint!("{}", text::read_report(&report, &rejects, None));
    eprintln!("{}", text::product_lines(&products));
    anyhow::ensure!(
        !products.lines.is_empty(),
        "no product lines: the file needs a SKU column (pass --sku-col NAME|N)"
    );
    Ok(products)
}
