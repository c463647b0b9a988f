//! Order logs in, tables out: everything clv needs to read a shop's order history faithfully.
//!
//! - [`time`]: timestamps, the shop's time zone, purchase periods and model time units.
//! - [`columns`]: which column is the customer, the date, the amount, … (explicit or detected).
//! - [`line`]: one order line, and turning raw text fields into one.
//! - [`decimal`]: the decimal mark of amounts, detected from the values.
//! - [`reject`]: rows that could not be used, with file, line, column, value and reason.
//! - [`text`]: from bytes to UTF-8 text: gzip/zstd unpacked, the encoding detected.
//! - [`read`]: streaming CSV/TSV/whitespace reader with delimiter and header detection.
//! - [`numeric`]: small non-order inputs: opportunity summaries, survival curves, subscribers.
//! - [`table`]: column-oriented output tables and their CSV, JSON and terminal renderings.
//!
//! The crate never prints: it returns values and errors, and reports progress through a callback.
//! Readers take a path or any `impl Read`, and use as many threads as their options say.

pub mod columns;
pub mod decimal;
pub mod line;
pub mod numeric;
pub mod precision;
pub mod read;
pub mod reject;
pub mod rules;
pub mod table;
pub mod text;
pub mod time;

pub use columns::{Column, ColumnMapping, ColumnSpec, Role};
pub use decimal::{DecimalChoice, DecimalMark};
pub use line::{LineBuilder, OrderLine};
pub use read::{
    accept, read_delimited, read_delimited_from, read_delimited_sharded,
    read_delimited_sharded_from, Delimiter, Progress, ReadOptions, ReadReport, SerialFeed,
    ShardedSink,
};
pub use reject::{Reject, RejectLog, RejectReason};
pub use rules::{
    read_customer_map, read_customer_map_file, CustomerMap, FilterOp, ResolvedFilter, RowFilter,
};
pub use table::{thousands, ChunkedTable, Table, Values};
pub use text::{Encoding, TextSource};
pub use time::{DateParser, Period, TimeError, TimeUnit};

use std::path::Path;

/// Everything that can go wrong while reading or writing data. Each message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    // The cause is in the message, not a `source`: printing the error chain would repeat it
    // ("Is a directory (os error 21): Is a directory (os error 21)").
    #[error("{path}: {cause}")]
    Io { path: String, cause: std::io::Error },
    #[error("{path}: {cause}")]
    Csv { path: String, cause: csv::Error },
    #[error("{0} (--strict stops at the first bad row: fix it, or drop --strict to skip and count such rows)")]
    Rejected(Box<Reject>),
    #[error("{0}")]
    Columns(String),
    #[error("{0}")]
    Delimiter(String),
    #[error("{0}: the file is empty")]
    Empty(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Decimal(String),
    #[error("{0}")]
    NotText(String),
    #[error(transparent)]
    Time(#[from] TimeError),
}

impl DataError {
    pub fn io(path: &Path, cause: std::io::Error) -> Self {
        DataError::Io {
            path: path.display().to_string(),
            cause,
        }
    }

    pub fn csv(path: &Path, cause: csv::Error) -> Self {
        DataError::Csv {
            path: path.display().to_string(),
            cause,
        }
    }
}
