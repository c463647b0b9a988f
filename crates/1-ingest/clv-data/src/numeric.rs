//! Small inputs that are not order logs: a per-customer summary of discrete opportunities (for
//! BG/BB), a cohort survival curve, or one row per subscriber with start and end dates (for sBG).
//! Bad rows go to the same [`RejectLog`] as order lines, with their line, column and value: a
//! value like `NaN` or `inf` is rejected, never read as a number.

use crate::reject::{Reject, RejectLog, RejectReason};
use crate::time::DateParser;
use crate::DataError;
use std::io::Read;
use std::path::Path;

/// Named columns of numbers (names lower-cased; `column1`, … without a header row).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NumericColumns {
    pub names: Vec<String>,
    pub columns: Vec<Vec<f64>>,
    /// Data rows seen and rejected.
    pub rows: u64,
    pub rejected: u64,
}

impl NumericColumns {
    /// The first column called any of `names`.
    pub fn get(&self, names: &[&str]) -> Option<&[f64]> {
        let i = self
            .names
            .iter()
            .position(|n| names.contains(&n.as_str()))?;
        Some(&self.columns[i])
    }

    /// A cohort survival curve: the column named `alive`, `active`, `customers`, `subscribers`
    /// or `survival`, else the last column.
    pub fn survival_curve(&self) -> Option<&[f64]> {
        self.get(&["alive", "active", "customers", "subscribers", "survival"])
            .or(self.columns.last().map(Vec::as_slice))
    }
}

/// A finite number, or why not.
fn finite(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Parsed CSV records with their 1-based line numbers.
fn records(name: &str, input: impl Read) -> Result<Vec<(u64, csv::StringRecord)>, DataError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut out = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| DataError::csv(Path::new(name), e))?;
        let line = record.position().map_or(out.len() as u64 + 1, |p| p.line());
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        out.push((line, record));
    }
    Ok(out)
}

/// Read a small CSV of numbers into columns. The first row is a header when any of its fields
/// is not a number. A row with a field that is not a finite number is rejected whole.
pub fn read_numeric_columns(
    name: &str,
    input: impl Read,
    rejects: &mut RejectLog,
) -> Result<NumericColumns, DataError> {
    let records = records(name, input)?;
    let Some((_, first)) = records.first() else {
        return Err(DataError::Empty(name.to_string()));
    };
    let has_header = first.iter().any(|v| finite(v.trim()).is_none());
    let names: Vec<String> = if has_header {
        first
            .iter()
            .map(|v| v.trim().to_ascii_lowercase())
            .collect()
    } else {
        (1..=first.len()).map(|i| format!("column{i}")).collect()
    };
    let mut out = NumericColumns {
        columns: vec![Vec::new(); names.len()],
        names,
        ..Default::default()
    };
    let mut row = Vec::with_capacity(out.names.len());
    for (line, record) in records.iter().skip(usize::from(has_header)) {
        out.rows += 1;
        row.clear();
        let bad = (0..out.names.len()).find_map(|i| {
            let text = record.get(i).unwrap_or("").trim();
            match finite(text) {
                Some(v) => {
                    row.push(v);
                    None
                }
                None => Some((i, text)),
            }
        });
        match bad {
            None => {
                for (column, v) in out.columns.iter_mut().zip(&row) {
                    column.push(*v);
                }
            }
            Some((i, text)) => {
                out.rejected += 1;
                rejects.record(Reject {
                    file: name.to_string(),
                    line: *line,
                    column: out.names[i].clone(),
                    value: text.to_string(),
                    reason: RejectReason::BadNumber,
                })?;
            }
        }
    }
    Ok(out)
}

/// True when a header line names a per-customer summary (`frequency` and `recency` columns)
/// rather than an order log.
pub fn is_summary_header(first_line: &str) -> bool {
    let line = first_line.to_ascii_lowercase();
    line.contains("frequency") && line.contains("recency")
}

/// Subscriptions as a file gives them.
#[derive(Debug, Clone, PartialEq)]
pub enum Subscriptions {
    /// A cohort survival curve: the cohort size first, then those still subscribed at the start
    /// of each later period.
    Curve(Vec<f64>),
    /// (start, end) per subscriber in shop-local seconds; no end while still subscribed.
    Spans(Vec<(i64, Option<i64>)>),
}

const START_NAMES: [&str; 6] = [
    "start",
    "started",
    "start_date",
    "subscribed",
    "signup",
    "created",
];
const END_NAMES: [&str; 7] = [
    "end",
    "ended",
    "end_date",
    "cancelled",
    "canceled",
    "churned",
    "churn_date",
];

/// Read subscriptions: one row per subscriber when the header has a start and an end column
/// (an empty end: still subscribed), else a survival curve. Rows with an unreadable date or an
/// end before the start are rejected.
pub fn read_subscriptions(
    name: &str,
    mut input: impl Read,
    dates: &DateParser,
    rejects: &mut RejectLog,
) -> Result<Subscriptions, DataError> {
    let mut text = Vec::new();
    input
        .read_to_end(&mut text)
        .map_err(|e| DataError::io(Path::new(name), e))?;
    let records = records(name, text.as_slice())?;
    let Some((_, first)) = records.first() else {
        return Err(DataError::Empty(name.to_string()));
    };
    let headers: Vec<String> = first
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let find = |names: &[&str]| headers.iter().position(|h| names.contains(&h.as_str()));
    let (Some(start_col), Some(end_col)) = (find(&START_NAMES), find(&END_NAMES)) else {
        let columns = read_numeric_columns(name, text.as_slice(), rejects)?;
        let curve = columns.survival_curve().unwrap_or_default().to_vec();
        return Ok(Subscriptions::Curve(curve));
    };
    let mut spans = Vec::with_capacity(records.len());
    for (line, record) in &records[1..] {
        let field = |c: usize| record.get(c).unwrap_or("").trim();
        let start = dates.parse(field(start_col).as_bytes());
        let end_text = field(end_col);
        let end = (!end_text.is_empty()).then(|| dates.parse(end_text.as_bytes()));
        let problem = match (start, end) {
            (None, _) => Some((start_col, field(start_col), RejectReason::BadDate)),
            (_, Some(None)) => Some((end_col, end_text, RejectReason::BadDate)),
            (Some(s), Some(Some(e))) if e < s => {
                Some((end_col, end_text, RejectReason::EndBeforeStart))
            }
            _ => None,
        };
        match (problem, start) {
            (None, Some(s)) => spans.push((s, end.flatten())),
            (Some((column, value, reason)), _) => rejects.record(Reject {
                file: name.to_string(),
                line: *line,
                column: headers[column].clone(),
                value: value.to_string(),
                reason,
            })?,
            (None, None) => unreachable!("a missing start is a problem"),
        }
    }
    Ok(Subscriptions::Spans(spans))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Columns read from `text`, and the rejected (line, column, value) triples.
    fn check(text: &str, want: &[(&str, &[f64])], rejected: &[(u64, &str, &str)]) {
        let mut rejects = RejectLog::new(false);
        let got = read_numeric_columns("t.csv", text.as_bytes(), &mut rejects).unwrap();
        for (name, values) in want {
            assert_eq!(got.get(&[name]), Some(*values), "{text:?}: {name}");
        }
        let seen: Vec<(u64, &str, &str)> = rejects
            .examples()
            .iter()
            .map(|r| (r.line, r.column.as_str(), r.value.as_str()))
            .collect();
        assert_eq!(seen, rejected, "{text:?}");
        assert_eq!(got.rejected, rejected.len() as u64);
    }

    #[test]
    fn numbers_are_read_and_non_numbers_rejected_with_their_place() {
        check(
            "frequency,recency,periods\n1,2,6\n0,0,6\n",
            &[("frequency", &[1.0, 0.0]), ("periods", &[6.0, 6.0])],
            &[],
        );
        // NaN parses as a float in Rust; it is not a number of purchases.
        check(
            "frequency,recency,periods\n1,2,6\nNaN,0,6\n2,inf,6\n\n3,3,6\n",
            &[("frequency", &[1.0, 3.0]), ("recency", &[2.0, 3.0])],
            &[(3, "frequency", "NaN"), (4, "recency", "inf")],
        );
        // No header: the columns are numbered.
        check("100\n80\n", &[("column1", &[100.0, 80.0])], &[]);
    }

    #[test]
    fn subscriber_rows_and_curves() {
        let utc = DateParser::utc();
        let mut rejects = RejectLog::new(false);
        let text = "id,start,end\n1,2024-01-01,2024-03-01\n2,2024-01-01,\n3,2024-02-01,2024-01-01\n4,soon,\n";
        let got = read_subscriptions("s.csv", text.as_bytes(), &utc, &mut rejects).unwrap();
        let day = |d: &str| utc.parse(d.as_bytes()).unwrap();
        assert_eq!(
            got,
            Subscriptions::Spans(vec![
                (day("2024-01-01"), Some(day("2024-03-01"))),
                (day("2024-01-01"), None)
            ])
        );
        let reasons: Vec<_> = rejects
            .examples()
            .iter()
            .map(|r| (r.line, r.reason))
            .collect();
        assert_eq!(
            reasons,
            [
                (4, RejectReason::EndBeforeStart),
                (5, RejectReason::BadDate)
            ]
        );
        let mut rejects = RejectLog::new(false);
        let curve =
            read_subscriptions("c.csv", "alive\n1000\n631\n".as_bytes(), &utc, &mut rejects);
        assert_eq!(curve.unwrap(), Subscriptions::Curve(vec![1000.0, 631.0]));
    }
}
