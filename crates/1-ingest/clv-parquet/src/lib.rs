//! Parquet in and out, and reading an order log of either format. Reading maps typed Arrow
//! columns onto the same [`LineBuilder`] the CSV reader uses, so the column mapping, value rules,
//! returns and rejects behave identically; writing turns a [`Table`] into one Parquet file
//! (Snappy). The heavy arrow/parquet build lives only in this crate.

use arrow_array::cast::AsArray;
use arrow_array::types::{
    Date32Type, Date64Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type, Int8Type,
    TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow_array::{
    Array, ArrayRef, Date32Array, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, Field, Schema, TimeUnit as ArrowTimeUnit};
use clv_data::{
    accept, read_delimited, read_delimited_sharded, ColumnMapping, DataError, DateParser,
    LineBuilder, OrderLine, Progress, ReadOptions, ReadReport, RejectLog, Role, SerialFeed,
    ShardedSink, Table, Values,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::{ArrowWriter, ProjectionMask};
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::ChunkReader;
use std::fmt::Write as _;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

fn parquet_error(name: &str, e: impl std::fmt::Display) -> DataError {
    DataError::Invalid(format!(
        "{name}: not a readable Parquet file ({e}); check the path, or pass a CSV file"
    ))
}

/// Read a Parquet order log. Delimiter and header options do not apply.
pub fn read_parquet(
    path: &Path,
    options: &ReadOptions,
    dates: &DateParser,
    rejects: &mut RejectLog,
    progress: Progress<'_>,
    sink: &mut dyn FnMut(&OrderLine<'_>),
) -> Result<ReadReport, DataError> {
    let file = File::open(path).map_err(|e| DataError::io(path, e))?;
    let name = path.display().to_string();
    read_parquet_from(&name, file, options, dates, rejects, progress, sink)
}

/// [`read_parquet`] from any Parquet source: a file, or bytes held in memory (`bytes::Bytes`,
/// e.g. an upload); `name` stands for the file in reports and rejects.
pub fn read_parquet_from<T: ChunkReader + 'static>(
    name: &str,
    source: T,
    options: &ReadOptions,
    dates: &DateParser,
    rejects: &mut RejectLog,
    progress: Progress<'_>,
    sink: &mut dyn FnMut(&OrderLine<'_>),
) -> Result<ReadReport, DataError> {
    let file_bytes = source.len();
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(source).map_err(|e| parquet_error(name, e))?;
    let schema = builder.schema().clone();
    let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
    let mapping = ColumnMapping::resolve(&options.columns, Some(&names), names.len())?;
    let filters = ColumnMapping::resolve_filters(&options.filters, Some(&names), names.len())?;
    let mut wanted: Vec<usize> = mapping.columns.iter().map(|(_, c)| c.index).collect();
    wanted.extend(filters.iter().map(|f| f.index));
    wanted.sort_unstable();
    wanted.dedup();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted.iter().copied());
    let total_rows = builder.metadata().file_metadata().num_rows().max(1) as u64;
    let reader = builder
        .with_projection(mask)
        .with_batch_size(64 * 1024)
        .build()
        .map_err(|e| parquet_error(name, e))?;
    // Typed numeric columns need no mark; text amounts use the given one, or the point.
    let mark = options.decimal.unwrap_or(clv_data::DecimalMark::Point);
    let line_builder = LineBuilder::with_rules(
        name,
        &mapping,
        dates.clone(),
        mark,
        filters,
        options.customer_map.clone(),
    );
    let date_index = mapping.get(Role::Date).expect("resolved").index;
    let mut report = ReadReport {
        file: name.to_string(),
        delimiter: None,
        header: true,
        mapping,
        decimal: None,
        rows: 0,
        accepted: 0,
        rejected: 0,
        filtered: 0,
        text: None,
    };
    // Cell text per projected column, reused across rows.
    let mut cells: Vec<String> = vec![String::new(); names.len()];
    let mut present: Vec<bool> = vec![false; names.len()];
    let mut scratch = Vec::new();
    for batch in reader {
        let batch = batch.map_err(|e| parquet_error(name, e))?;
        // Projection keeps file order, so batch column k is file column wanted[k].
        let columns: Vec<(usize, &ArrayRef)> =
            wanted.iter().copied().zip(batch.columns()).collect();
        for row in 0..batch.num_rows() {
            let mut time = None;
            for &(index, array) in &columns {
                present[index] = cell_text(array, row, &mut cells[index]);
                if index == date_index && present[index] {
                    time = typed_time(array, row, dates);
                }
            }
            let built = line_builder.build_with_time(
                |i| {
                    present
                        .get(i)
                        .copied()
                        .unwrap_or(false)
                        .then(|| cells[i].as_bytes())
                },
                names.len(),
                report.rows + 1,
                time,
                &mut scratch,
            );
            accept(built, rejects, sink, &mut report)?;
        }
        progress(file_bytes * report.rows / total_rows);
    }
    Ok(report)
}

/// Shop-local seconds for typed date/timestamp cells; `None` for text (parsed by the builder).
fn typed_time(array: &ArrayRef, row: usize, dates: &DateParser) -> Option<i64> {
    let day = clv_data::time::DAY;
    match array.data_type() {
        DataType::Date32 => Some(array.as_primitive::<Date32Type>().value(row) as i64 * day),
        DataType::Date64 => Some(
            array
                .as_primitive::<Date64Type>()
                .value(row)
                .div_euclid(1000),
        ),
        DataType::Timestamp(unit, zone) => {
            let secs = match unit {
                ArrowTimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(row),
                ArrowTimeUnit::Millisecond => array
                    .as_primitive::<TimestampMillisecondType>()
                    .value(row)
                    .div_euclid(1_000),
                ArrowTimeUnit::Microsecond => array
                    .as_primitive::<TimestampMicrosecondType>()
                    .value(row)
                    .div_euclid(1_000_000),
                ArrowTimeUnit::Nanosecond => array
                    .as_primitive::<TimestampNanosecondType>()
                    .value(row)
                    .div_euclid(1_000_000_000),
            };
            // A zone on the column means the values are UTC instants; without one they are
            // wall-clock times, taken to be in the shop's zone like naive CSV timestamps.
            Some(if zone.is_some() {
                dates.utc_to_local(secs)
            } else {
                secs
            })
        }
        _ => None,
    }
}

/// Write cell `row` of `array` as text into `out`; false for null.
fn cell_text(array: &ArrayRef, row: usize, out: &mut String) -> bool {
    out.clear();
    if array.is_null(row) {
        return false;
    }
    macro_rules! num {
        ($t:ty) => {{
            let _ = write!(out, "{}", array.as_primitive::<$t>().value(row));
        }};
    }
    match array.data_type() {
        DataType::Utf8 => out.push_str(array.as_string::<i32>().value(row)),
        DataType::LargeUtf8 => out.push_str(array.as_string::<i64>().value(row)),
        DataType::Utf8View => out.push_str(array.as_string_view().value(row)),
        DataType::Int8 => num!(Int8Type),
        DataType::Int16 => num!(Int16Type),
        DataType::Int32 => num!(Int32Type),
        DataType::Int64 => num!(Int64Type),
        DataType::UInt8 => num!(UInt8Type),
        DataType::UInt16 => num!(UInt16Type),
        DataType::UInt32 => num!(UInt32Type),
        DataType::UInt64 => num!(UInt64Type),
        DataType::Float32 => num!(Float32Type),
        DataType::Float64 => num!(Float64Type),
        // Typed dates and timestamps are handled by `typed_time`; any text keeps the row alive.
        DataType::Date32 | DataType::Date64 | DataType::Timestamp(_, _) => out.push_str("typed"),
        // Decimals, booleans and the rest: Arrow's own display text.
        _ => match ArrayFormatter::try_new(array.as_ref(), &FormatOptions::default()) {
            Ok(f) => {
                let _ = write!(out, "{}", f.value(row));
            }
            Err(_) => return false,
        },
    }
    true
}

/// Write `table` to `path` as Parquet.
pub fn write_parquet(table: &Table<'_>, path: &Path) -> Result<(), DataError> {
    let file = File::create(path).map_err(|e| DataError::io(path, e))?;
    write_parquet_to(table, file, &path.display().to_string())
}

/// `table` as one Arrow record batch (text as UTF-8, dates as `Date32`, missing values as nulls),
/// for Parquet output and for front ends that hand Arrow data on (Python).
pub fn record_batch(table: &Table<'_>) -> Result<RecordBatch, DataError> {
    let mut fields = Vec::with_capacity(table.columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(table.columns.len());
    for c in &table.columns {
        let (dt, array): (DataType, ArrayRef) = match &c.values {
            Values::Text(v) => (
                DataType::Utf8,
                Arc::new(StringArray::from_iter_values(v.iter().map(|s| s.as_ref()))),
            ),
            Values::Int(v) => (DataType::Int64, Arc::new(Int64Array::from(v.clone()))),
            Values::Float(v) => (DataType::Float64, Arc::new(Float64Array::from(v.clone()))),
            Values::MaybeFloat(v) => (DataType::Float64, Arc::new(Float64Array::from(v.clone()))),
            Values::Float32(v) => (DataType::Float32, Arc::new(Float32Array::from(v.clone()))),
            Values::Date(v) => (
                DataType::Date32,
                Arc::new(Date32Array::from_iter_values(
                    v.iter().map(|t| t.div_euclid(clv_data::time::DAY) as i32),
                )),
            ),
            Values::MaybeDate(v) => (
                DataType::Date32,
                Arc::new(Date32Array::from_iter(
                    v.iter()
                        .map(|t| t.map(|t| t.div_euclid(clv_data::time::DAY) as i32)),
                )),
            ),
        };
        fields.push(Field::new(&c.name, dt, array.null_count() > 0));
        arrays.push(array);
    }
    let schema = Arc::new(Schema::new(fields));
    RecordBatch::try_new(schema, arrays)
        .map_err(|e| DataError::Invalid(format!("building Arrow output: {e}")))
}

/// Write `table` as Parquet to any writer; `name` stands for it in errors.
pub fn write_parquet_to(
    table: &Table<'_>,
    out: impl std::io::Write + Send,
    name: &str,
) -> Result<(), DataError> {
    let batch = record_batch(table)?;
    let schema = batch.schema();
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut writer = ArrowWriter::try_new(out, schema, Some(props))
        .map_err(|e| DataError::Invalid(format!("{name}: {e}")))?;
    writer
        .write(&batch)
        .and_then(|_| writer.close().map(|_| ()))
        .map_err(|e| DataError::Invalid(format!("{name}: {e}")))
}

/// The formats an order log comes in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// CSV, TSV, `;`/`|`-separated or whitespace-aligned text.
    Delimited,
    Parquet,
}

impl Format {
    /// By extension: `.parquet` and `.pq` are Parquet, anything else delimited text.
    pub fn of(path: &Path) -> Format {
        let parquet = path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"));
        if parquet {
            Format::Parquet
        } else {
            Format::Delimited
        }
    }
}

/// `csv` (any delimited text) or `parquet`, as users name an input's format.
impl std::str::FromStr for Format {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Format, DataError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" | "tsv" | "text" => Ok(Format::Delimited),
            "parquet" | "pq" => Ok(Format::Parquet),
            other => Err(DataError::Invalid(format!(
                "unknown input format `{other}`: use csv or parquet"
            ))),
        }
    }
}

/// Read an order log of either format, every accepted line to `sink` on this thread.
pub fn read_orders(
    path: &Path,
    format: Format,
    options: &ReadOptions,
    dates: &DateParser,
    rejects: &mut RejectLog,
    progress: Progress<'_>,
    sink: &mut dyn FnMut(&OrderLine<'_>),
) -> Result<ReadReport, DataError> {
    match format {
        Format::Parquet => read_parquet(path, options, dates, rejects, progress, sink),
        Format::Delimited => read_delimited(path, options, dates, rejects, progress, sink),
    }
}

/// Read an order log of either format into a sink fed by [`ReadOptions::threads`] threads
/// (Parquet feeds it from one).
pub fn read_orders_sharded<S: ShardedSink>(
    path: &Path,
    format: Format,
    options: &ReadOptions,
    dates: &DateParser,
    rejects: &mut RejectLog,
    progress: Progress<'_>,
    sink: &mut S,
) -> Result<ReadReport, DataError> {
    match format {
        Format::Parquet => {
            let mut feed = SerialFeed::new(sink);
            read_parquet(path, options, dates, rejects, progress, &mut |l| {
                feed.push(l)
            })
        }
        Format::Delimited => read_delimited_sharded(path, options, dates, rejects, progress, sink),
    }
}

/// The formats a result table is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    /// Aligned columns for reading.
    Text,
    Csv,
    /// An array of row objects.
    Json,
    Parquet,
}

impl TableFormat {
    /// By extension: `.json`, `.parquet`/`.pq`, `.txt`; anything else CSV.
    pub fn of(path: &Path) -> TableFormat {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        match ext.to_ascii_lowercase().as_str() {
            "json" => TableFormat::Json,
            "parquet" | "pq" => TableFormat::Parquet,
            "txt" => TableFormat::Text,
            _ => TableFormat::Csv,
        }
    }
}

/// `table` (aligned text for a terminal), `csv`, `json` or `parquet`.
impl std::str::FromStr for TableFormat {
    type Err = DataError;
    fn from_str(s: &str) -> Result<TableFormat, DataError> {
        match s.trim().to_ascii_lowercase().as_str() {
            "table" | "text" => Ok(TableFormat::Text),
            "csv" => Ok(TableFormat::Csv),
            "json" => Ok(TableFormat::Json),
            "parquet" | "pq" => Ok(TableFormat::Parquet),
            other => Err(DataError::Invalid(format!(
                "unknown format `{other}`: use table, csv, json or parquet"
            ))),
        }
    }
}

/// A result table to write: whole, or built a run of rows at a time (CSV is then formatted run
/// by run, without building the whole table).
#[derive(Clone, Copy)]
pub enum Rows<'t, 'a> {
    Whole(&'t Table<'a>),
    Chunked(&'t clv_data::ChunkedTable<'a>),
}

impl Rows<'_, '_> {
    pub fn len(&self) -> usize {
        match self {
            Rows::Whole(t) => t.rows(),
            Rows::Chunked(t) => t.rows(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Write every row of `rows` to `out` in `format` (CSV formatted on `threads` threads), flushed;
/// `name` stands for `out` in errors.
pub fn write_rows(
    rows: Rows<'_, '_>,
    format: TableFormat,
    mut out: impl std::io::Write + Send,
    threads: usize,
    name: &str,
) -> Result<(), DataError> {
    let io = |e| DataError::io(Path::new(name), e);
    if let (Rows::Chunked(table), TableFormat::Csv) = (rows, format) {
        return table
            .write_csv(&mut out, threads)
            .and_then(|_| out.flush())
            .map_err(io);
    }
    let whole;
    let table = match rows {
        Rows::Whole(table) => table,
        Rows::Chunked(table) => {
            whole = table.whole();
            &whole
        }
    };
    match format {
        TableFormat::Text => out.write_all(table.render_text(usize::MAX).as_bytes()),
        TableFormat::Csv => table.write_csv(&mut out, threads),
        TableFormat::Json => table.write_json(&mut out),
        TableFormat::Parquet => return write_parquet_to(table, out, name),
    }
    .and_then(|_| out.flush())
    .map_err(io)
}
