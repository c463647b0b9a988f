//! Streaming reader for delimited order logs: CSV, TSV, `;`/`|`-separated and whitespace-aligned
//! text (like the CDNOW sample). Detects the delimiter and the header row unless told, maps
//! columns, and hands each accepted line to a sink without keeping rows in memory.

use crate::columns::{ColumnMapping, ColumnSpec};
use crate::line::{parse_number, LineBuilder, OrderLine};
use crate::reject::{Reject, RejectLog};
use crate::time::DateParser;
use crate::DataError;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::str::FromStr;

/// How fields are separated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delimiter {
    Byte(u8),
    /// Runs of spaces or tabs; no quoting.
    Whitespace,
}

impl FromStr for Delimiter {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "," | "comma" => Ok(Delimiter::Byte(b',')),
            "\\t" | "\t" | "tab" | "tsv" => Ok(Delimiter::Byte(b'\t')),
            ";" | "semicolon" => Ok(Delimiter::Byte(b';')),
            "|" | "pipe" => Ok(Delimiter::Byte(b'|')),
            "whitespace" | "space" | " " => Ok(Delimiter::Whitespace),
            s if s.len() == 1 && s.is_ascii() => Ok(Delimiter::Byte(s.as_bytes()[0])),
            other => Err(format!(
                "unknown delimiter `{other}`: use a single character, tab, or whitespace"
            )),
        }
    }
}

impl std::fmt::Display for Delimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Delimiter::Byte(b'\t') => f.write_str("tab"),
            Delimiter::Byte(b) => write!(f, "'{}'", *b as char),
            Delimiter::Whitespace => f.write_str("whitespace"),
        }
    }
}

/// How to read a delimited file. `None` means detect.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub delimiter: Option<Delimiter>,
    pub has_header: Option<bool>,
    pub columns: ColumnSpec,
    pub decimal_comma: bool,
}

/// What a read saw.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReadReport {
    pub file: String,
    #[serde(skip)]
    pub delimiter: Option<Delimiter>,
    pub header: bool,
    pub mapping: ColumnMapping,
    /// Data rows seen (header excluded, blank lines skipped).
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
}

/// Called now and then with the number of bytes read so far.
pub type Progress<'p> = &'p mut dyn FnMut(u64);

const PROGRESS_EVERY: u64 = 1 << 16;

/// Read `path`, sending every accepted line to `sink` and every bad row to `rejects`.
pub fn read_delimited(
    path: &Path,
    options: &ReadOptions,
    dates: &DateParser,
    rejects: &mut RejectLog,
    progress: Progress<'_>,
    sink: &mut dyn FnMut(&OrderLine<'_>),
) -> Result<ReadReport, DataError> {
    let name = path.display().to_string();
    let open = || File::open(path).map_err(|e| DataError::io(path, e));
    let mut head = Vec::with_capacity(64 * 1024);
    open()?
        .take(64 * 1024)
        .read_to_end(&mut head)
        .map_err(|e| DataError::io(path, e))?;
    let sample = first_lines(&head, 20);
    if sample.is_empty() {
        return Err(DataError::Empty(name));
    }
    let delimiter = match options.delimiter {
        Some(d) => d,
        None => sniff_delimiter(&sample).ok_or_else(|| {
            DataError::Delimiter(format!(
                "{name}: could not detect the field delimiter; pass --delimiter (',', tab, ';', '|' or whitespace)"
            ))
        })?,
    };
    let first = split_fields(&sample[0], delimiter);
    let header = options
        .has_header
        .unwrap_or_else(|| looks_like_header(&first, dates));
    let header_names: Option<Vec<String>> = header.then(|| {
        first
            .iter()
            .map(|f| String::from_utf8_lossy(f).trim().to_string())
            .collect()
    });
    let mapping = ColumnMapping::resolve(&options.columns, header_names.as_deref(), first.len())?;
    let builder = LineBuilder::new(&name, &mapping, dates.clone(), options.decimal_comma);
    let mut report = ReadReport {
        file: name,
        delimiter: Some(delimiter),
        header,
        mapping,
        rows: 0,
        accepted: 0,
        rejected: 0,
    };
    let reader = BufReader::with_capacity(1 << 20, open()?);
    match delimiter {
        Delimiter::Whitespace => read_whitespace(
            reader,
            header,
            &builder,
            rejects,
            progress,
            sink,
            &mut report,
        )?,
        Delimiter::Byte(b) => read_csv(
            reader,
            b,
            header,
            &builder,
            rejects,
            progress,
            sink,
            &mut report,
        )?,
    }
    Ok(report)
}

/// Count one built row: hand an accepted line to `sink`, record a rejected one. Every reader
/// goes through here, so the counts in the report always add up.
pub fn accept(
    result: Result<OrderLine<'_>, Reject>,
    rejects: &mut RejectLog,
    sink: &mut dyn FnMut(&OrderLine<'_>),
    report: &mut ReadReport,
) -> Result<(), DataError> {
    report.rows += 1;
    match result {
        Ok(line) => {
            report.accepted += 1;
            sink(&line);
            Ok(())
        }
        Err(reject) => {
            report.rejected += 1;
            rejects.record(reject)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn read_csv(
    reader: impl Read,
    delimiter: u8,
    header: bool,
    builder: &LineBuilder,
    rejects: &mut RejectLog,
    progress: Progress<'_>,
    sink: &mut dyn FnMut(&OrderLine<'_>),
    report: &mut ReadReport,
) -> Result<(), DataError> {
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(header)
        .flexible(true)
        .buffer_capacity(1 << 20)
        .from_reader(reader);
    let mut record = csv::ByteRecord::new();
    loop {
        match csv.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let pos = record.position().expect("csv records carry a position");
                let line = pos.line();
                if record.len() == 1 && record[0].trim_ascii().is_empty() {
                    continue;
                }
                let built = builder.build(|i| record.get(i), record.len(), line);
                accept(built, rejects, sink, report)?;
                if report.rows.is_multiple_of(PROGRESS_EVERY) {
                    progress(pos.byte());
                }
            }
            // Byte records of flexible width cannot fail to parse; what is left is I/O.
            Err(e) => return Err(DataError::csv(Path::new(builder.file()), e)),
        }
    }
    progress(csv.position().byte());
    Ok(())
}

fn read_whitespace(
    mut reader: impl BufRead,
    header: bool,
    builder: &LineBuilder,
    rejects: &mut RejectLog,
    progress: Progress<'_>,
    sink: &mut dyn FnMut(&OrderLine<'_>),
    report: &mut ReadReport,
) -> Result<(), DataError> {
    let mut buf = Vec::with_capacity(256);
    let mut fields: Vec<(usize, usize)> = Vec::with_capacity(16);
    let mut line_no = 0u64;
    let mut bytes = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| DataError::io(Path::new(builder.file()), e))?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        line_no += 1;
        if line_no == 1 && header {
            continue;
        }
        fields.clear();
        let mut start = None;
        for (i, &c) in buf.iter().enumerate() {
            let space = c.is_ascii_whitespace();
            match (start, space) {
                (None, false) => start = Some(i),
                (Some(s), true) => {
                    fields.push((s, i));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            fields.push((s, buf.len()));
        }
        if fields.is_empty() {
            continue;
        }
        let built = builder.build(
            |i| fields.get(i).map(|&(s, e)| &buf[s..e]),
            fields.len(),
            line_no,
        );
        accept(built, rejects, sink, report)?;
        if report.rows.is_multiple_of(PROGRESS_EVERY) {
            progress(bytes);
        }
    }
    progress(bytes);
    Ok(())
}

/// Up to `n` non-empty lines from the start of the file (the last may be cut off, so it is dropped
/// when the sample filled the buffer).
fn first_lines(head: &[u8], n: usize) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = head
        .split(|&c| c == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l).to_vec())
        .filter(|l| !l.trim_ascii().is_empty())
        .collect();
    if head.len() == 64 * 1024 && lines.len() > 1 {
        lines.pop();
    }
    lines.truncate(n);
    lines
}

/// Count of `d` outside double quotes.
fn count_outside_quotes(line: &[u8], d: u8) -> usize {
    let mut quoted = false;
    line.iter()
        .filter(|&&c| {
            if c == b'"' {
                quoted = !quoted;
            }
            !quoted && c == d
        })
        .count()
}

/// The delimiter that splits most sampled lines (80%, so a few malformed rows do not defeat it)
/// into as many fields as the first line has (more than one), preferring more fields; whitespace
/// when no separator character does.
pub fn sniff_delimiter(lines: &[Vec<u8>]) -> Option<Delimiter> {
    let agrees = |counts: &[usize]| {
        let n = counts[0];
        let same = counts.iter().filter(|&&c| c == n).count();
        n > 0 && same * 5 >= counts.len() * 4
    };
    let mut best: Option<(usize, u8)> = None;
    for d in [b',', b'\t', b';', b'|'] {
        let counts: Vec<usize> = lines.iter().map(|l| count_outside_quotes(l, d)).collect();
        if agrees(&counts) && best.is_none_or(|(m, _)| counts[0] > m) {
            best = Some((counts[0], d));
        }
    }
    if let Some((_, d)) = best {
        return Some(Delimiter::Byte(d));
    }
    let gaps: Vec<usize> = lines
        .iter()
        .map(|l| {
            split_fields(l, Delimiter::Whitespace)
                .len()
                .saturating_sub(1)
        })
        .collect();
    agrees(&gaps).then_some(Delimiter::Whitespace)
}

/// Split one line (used only on the sample, for sniffing and the header).
fn split_fields(line: &[u8], delimiter: Delimiter) -> Vec<Vec<u8>> {
    match delimiter {
        Delimiter::Whitespace => line
            .split(|c| c.is_ascii_whitespace())
            .filter(|f| !f.is_empty())
            .map(<[u8]>::to_vec)
            .collect(),
        Delimiter::Byte(d) => {
            let mut r = csv::ReaderBuilder::new()
                .delimiter(d)
                .has_headers(false)
                .flexible(true)
                .from_reader(line);
            let mut rec = csv::ByteRecord::new();
            match r.read_byte_record(&mut rec) {
                Ok(true) => rec.iter().map(<[u8]>::to_vec).collect(),
                _ => vec![line.to_vec()],
            }
        }
    }
}

/// A first row is a header when none of its fields reads as a number or a date.
fn looks_like_header(first: &[Vec<u8>], dates: &DateParser) -> bool {
    !first
        .iter()
        .any(|f| parse_number(f, false).is_some() || dates.parse(f).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<Vec<u8>> {
        first_lines(text.as_bytes(), 20)
    }

    #[test]
    fn sniffing() {
        let cases: &[(&str, Option<Delimiter>)] = &[
            ("a,b,c\n1,2,3\n", Some(Delimiter::Byte(b','))),
            ("a\tb\tc\n1\t2\t3\n", Some(Delimiter::Byte(b'\t'))),
            ("a;b;c\n1;\"2,5\";3\n", Some(Delimiter::Byte(b';'))),
            ("\"x,y\"|b\n1|2\n", Some(Delimiter::Byte(b'|'))),
            (
                " 00004 0001 19970101  2   29.33\n 00004 0001 19970118  2   29.73\n",
                Some(Delimiter::Whitespace),
            ),
            ("justonecolumn\nvalue\n", None),
            (
                "a,b,c\n1,2,3\n1,2\n4,5,6\n7,8,9\n1,1,1\n",
                Some(Delimiter::Byte(b',')),
            ),
        ];
        for (text, want) in cases {
            assert_eq!(sniff_delimiter(&lines(text)), *want, "{text:?}");
        }
    }

    #[test]
    fn header_detection() {
        let utc = DateParser::utc();
        let row = |s: &str| split_fields(s.as_bytes(), Delimiter::Byte(b','));
        assert!(looks_like_header(&row("customer,date,amount"), &utc));
        assert!(!looks_like_header(&row("c1,2024-01-01,10"), &utc));
        assert!(!looks_like_header(&row("c1,20240101,x"), &utc));
    }
}
