//! `clv.read_orders`: an order file (CSV, TSV, `;`/`|`-separated or whitespace-aligned text,
//! gzip/zstd, Windows-1252, Parquet) read by the same clv-data readers as the CLI, with their
//! detection (delimiter, header, columns, decimal mark, encoding) and reject report, the accepted
//! order lines handed back as Arrow columns.

use crate::{invalid, Arrow};
use arrow_array::builder::{Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_pyarrow::PyArrowType;
use clv_data::{
    ColumnSpec, DateParser, DecimalMark, Delimiter, Encoding, OrderLine, ReadOptions, RejectLog,
};
use pyo3::prelude::*;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

/// The accepted lines, column by column.
#[derive(Default)]
struct Lines {
    customer: StringBuilder,
    time: Int64Builder,
    value: Float64Builder,
    order: StringBuilder,
    sku: StringBuilder,
    quantity: Float64Builder,
}

fn text(bytes: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(bytes)
}

impl Lines {
    fn push(&mut self, line: &OrderLine<'_>) {
        self.customer.append_value(text(line.customer));
        self.time.append_value(line.time);
        self.value.append_value(line.value);
        self.order.append_option(line.order.map(text));
        self.sku.append_option(line.sku.map(text));
        self.quantity.append_value(line.quantity);
    }

    fn batch(mut self) -> Result<RecordBatch, arrow_schema::ArrowError> {
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("customer", Arc::new(self.customer.finish())),
            ("time", Arc::new(self.time.finish())),
            ("amount", Arc::new(self.value.finish())),
            ("order", Arc::new(self.order.finish())),
            ("sku", Arc::new(self.sku.finish())),
            ("quantity", Arc::new(self.quantity.finish())),
        ];
        RecordBatch::try_from_iter(columns)
    }
}

/// The rejects as the Python side reports them (`row` says where, `reason` what and what to do),
/// with the structured fields beside.
fn rejected(rejects: &RejectLog) -> serde_json::Value {
    let counts: serde_json::Map<String, serde_json::Value> = rejects
        .counts()
        .iter()
        .map(|(reason, n)| (reason.code().to_string(), (*n).into()))
        .collect();
    let examples: Vec<serde_json::Value> = rejects
        .examples()
        .iter()
        .map(|r| {
            serde_json::json!({
                "row": format!("{}:{}", r.file, r.line),
                "reason": format!("column `{}` value `{}`: {} ({})", r.column, r.value, r.reason,
                                  r.reason.advice()),
                "file": r.file, "line": r.line, "column": r.column, "value": r.value,
                "code": r.reason.code(),
            })
        })
        .collect();
    serde_json::json!({"counts": counts, "examples": examples})
}

/// Read the order file at `path`. Column arguments are header names or 1-based positions (none:
/// detected); `delimiter`, `header`, `decimal` ("point" or "comma") and `encoding` are detected
/// when not given; dates are read with `date_format` (default: ISO and the common layouts) in
/// `timezone`, and come back as shop-local seconds. With `strict`, the first rejected row is the
/// error. Returns the lines (`customer`, `time`, `amount`, `order`, `sku`, `quantity`) and a JSON
/// report: what the reader detected and counted, and the rows left out.
#[pyfunction]
#[pyo3(signature = (path, customer, date, amount, order, sku, quantity, price, delimiter, header, decimal, encoding, date_format, timezone, strict))]
#[allow(clippy::too_many_arguments)]
pub fn read_orders(
    py: Python<'_>,
    path: &str,
    customer: Option<String>,
    date: Option<String>,
    amount: Option<String>,
    order: Option<String>,
    sku: Option<String>,
    quantity: Option<String>,
    price: Option<String>,
    delimiter: Option<&str>,
    header: Option<bool>,
    decimal: Option<&str>,
    encoding: Option<&str>,
    date_format: Option<&str>,
    timezone: &str,
    strict: bool,
) -> PyResult<(Arrow<RecordBatch>, String)> {
    let decimal = match decimal {
        None => None,
        Some("point" | ".") => Some(DecimalMark::Point),
        Some("comma" | ",") => Some(DecimalMark::Comma),
        Some(other) => {
            return Err(invalid(format!(
                "decimal `{other}`: use \"point\" or \"comma\" (or leave it out to detect it)"
            )))
        }
    };
    let options = ReadOptions {
        delimiter: delimiter
            .map(Delimiter::from_str)
            .transpose()
            .map_err(invalid)?,
        has_header: header,
        columns: ColumnSpec {
            customer,
            date,
            amount,
            order,
            sku,
            quantity,
            price,
            description: None,
        },
        decimal,
        encoding: encoding
            .map(Encoding::from_str)
            .transpose()
            .map_err(invalid)?,
        threads: 1,
        ..ReadOptions::default()
    };
    let dates = DateParser::new(date_format, timezone).map_err(invalid)?;
    let path = Path::new(path);
    py.detach(|| {
        let mut rejects = RejectLog::new(strict);
        let mut lines = Lines::default();
        let format = clv_parquet::Format::of(path);
        let report = clv_parquet::read_orders(
            path,
            format,
            &options,
            &dates,
            &mut rejects,
            &mut |_| {},
            &mut |line| lines.push(line),
        )
        .map_err(invalid)?;
        let report = serde_json::json!({"read": report, "rejected": rejected(&rejects)});
        Ok((
            PyArrowType(lines.batch().map_err(invalid)?),
            report.to_string(),
        ))
    })
}
