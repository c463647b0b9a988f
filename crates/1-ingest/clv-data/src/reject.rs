//! Rejected input rows: why, where (file, line, column, value), how many of each, and an optional
//! rejects file. Nothing is dropped silently; `strict` turns the first rejection into an error.

use crate::DataError;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::BufWriter;
use std::path::Path;

/// Why a row could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    MissingCustomer,
    BadDate,
    BadAmount,
    BadQuantity,
    BadPrice,
    /// Fewer fields than the mapped columns need.
    ShortRow,
    /// A summary or survival-curve value that is not a finite number.
    BadNumber,
    /// A subscriber whose end date is before the start date.
    EndBeforeStart,
    /// A customer id the customer map has no person for.
    UnmappedCustomer,
}

impl RejectReason {
    pub fn code(self) -> &'static str {
        match self {
            RejectReason::MissingCustomer => "missing_customer",
            RejectReason::BadDate => "bad_date",
            RejectReason::BadAmount => "bad_amount",
            RejectReason::BadQuantity => "bad_quantity",
            RejectReason::BadPrice => "bad_price",
            RejectReason::ShortRow => "short_row",
            RejectReason::BadNumber => "bad_number",
            RejectReason::EndBeforeStart => "end_before_start",
            RejectReason::UnmappedCustomer => "unmapped_customer",
        }
    }

    /// What the user can do about it.
    pub fn advice(self) -> &'static str {
        match self {
            RejectReason::MissingCustomer => {
                "rows need a customer id; guest orders cannot be tied to a customer"
            }
            RejectReason::BadDate => {
                "not a date clv recognises; pass --date-format (e.g. %d/%m/%Y) or fix the value"
            }
            RejectReason::BadAmount => {
                "not a number; amounts use '.' for decimals (pass --decimal-comma for 12,50)"
            }
            RejectReason::BadQuantity => "quantity is not a number",
            RejectReason::BadPrice => "price is not a number",
            RejectReason::ShortRow => {
                "the row has fewer fields than the columns being read; check --delimiter"
            }
            RejectReason::BadNumber => "not a finite number (NaN and inf are not counts)",
            RejectReason::EndBeforeStart => "the end date is before the start date",
            RejectReason::UnmappedCustomer => {
                "the customer map has no person for this id; add it to the map"
            }
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One rejected row.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Reject {
    pub file: String,
    /// 1-based line (CSV) or row (Parquet, counting from 1).
    pub line: u64,
    pub column: String,
    pub value: String,
    pub reason: RejectReason,
}

impl fmt::Display for Reject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: column `{}` value `{}`: {} ({})",
            self.file,
            self.line,
            self.column,
            self.value,
            self.reason,
            self.reason.advice()
        )
    }
}

/// Counts rejections by reason, keeps the first few as examples, and optionally writes every one
/// to a CSV rejects file (`file,line,column,value,reason`).
pub struct RejectLog {
    counts: BTreeMap<RejectReason, u64>,
    examples: Vec<Reject>,
    max_examples: usize,
    strict: bool,
    out: Option<(String, csv::Writer<BufWriter<File>>)>,
}

impl RejectLog {
    pub fn new(strict: bool) -> Self {
        RejectLog {
            counts: BTreeMap::new(),
            examples: Vec::new(),
            max_examples: 5,
            strict,
            out: None,
        }
    }

    /// Also write every rejected row to `path`.
    pub fn write_to(mut self, path: &Path) -> Result<Self, DataError> {
        let file = File::create(path).map_err(|e| DataError::io(path, e))?;
        let mut w = csv::Writer::from_writer(BufWriter::new(file));
        w.write_record(["file", "line", "column", "value", "reason"])
            .map_err(|e| DataError::csv(path, e))?;
        self.out = Some((path.display().to_string(), w));
        Ok(self)
    }

    /// Count a rejected row. In strict mode this is the error that stops the run.
    pub fn record(&mut self, reject: Reject) -> Result<(), DataError> {
        if self.strict {
            return Err(DataError::Rejected(Box::new(reject)));
        }
        *self.counts.entry(reject.reason).or_insert(0) += 1;
        if let Some((path, w)) = &mut self.out {
            w.write_record([
                reject.file.as_str(),
                &reject.line.to_string(),
                &reject.column,
                &reject.value,
                reject.reason.code(),
            ])
            .map_err(|e| DataError::csv(Path::new(path), e))?;
        }
        if self.examples.len() < self.max_examples {
            self.examples.push(reject);
        }
        Ok(())
    }

    pub fn total(&self) -> u64 {
        self.counts.values().sum()
    }

    pub fn counts(&self) -> &BTreeMap<RejectReason, u64> {
        &self.counts
    }

    pub fn examples(&self) -> &[Reject] {
        &self.examples
    }

    /// Flush the rejects file; returns its path if there is one.
    pub fn finish(&mut self) -> Result<Option<String>, DataError> {
        match &mut self.out {
            Some((path, w)) => {
                w.flush().map_err(|e| DataError::io(Path::new(path), e))?;
                Ok(Some(path.clone()))
            }
            None => Ok(None),
        }
    }
}
