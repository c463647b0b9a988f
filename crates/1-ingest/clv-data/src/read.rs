//! Streaming reader for delimited order logs: CSV, TSV, `;`/`|`-separated and whitespace-aligned
//! text (like the CDNOW sample). Detects the delimiter and the header row unless told, maps
//! columns, and hands each accepted line to a sink without keeping rows in memory.

use crate::columns::{ColumnMapping, ColumnSpec, Role};
use crate::decimal::{DecimalChoice, DecimalMark};
use crate::line::{parse_number, LineBuilder, OrderLine};
use crate::reject::{Reject, RejectLog};
use crate::rules::{CustomerMap, RowFilter};
use crate::text::{decode, Encoding, TextSource};
use crate::time::DateParser;
use crate::DataError;
use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read};
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
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self, DataError> {
        match s {
            "," | "comma" => Ok(Delimiter::Byte(b',')),
            "\\t" | "\t" | "tab" | "tsv" => Ok(Delimiter::Byte(b'\t')),
            ";" | "semicolon" => Ok(Delimiter::Byte(b';')),
            "|" | "pipe" => Ok(Delimiter::Byte(b'|')),
            "whitespace" | "space" | " " => Ok(Delimiter::Whitespace),
            s if s.len() == 1 && s.is_ascii() => Ok(Delimiter::Byte(s.as_bytes()[0])),
            other => Err(DataError::Delimiter(format!(
                "unknown delimiter `{other}`: use a single character, tab, or whitespace"
            ))),
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
    /// The amounts' decimal mark; `None` detects it from the values.
    pub decimal: Option<DecimalMark>,
    /// Bytes per block for [`read_delimited_sharded`] (default [`BLOCK_BYTES`]; tests use tiny
    /// blocks to exercise the cuts).
    pub block_bytes: Option<usize>,
    /// Threads [`read_delimited_sharded`] parses on (0 and 1: the calling thread only).
    pub threads: usize,
    /// Keep only rows every filter keeps; the others are counted as left out, not rejected.
    pub filters: Vec<RowFilter>,
    /// Map customer ids to the person they stand for; ids it lacks are rejected.
    pub customer_map: Option<std::sync::Arc<CustomerMap>>,
    /// The text encoding; `None` detects UTF-8 or Windows-1252 from the first 64 KB.
    pub encoding: Option<Encoding>,
}

/// What a read saw.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReadReport {
    pub file: String,
    #[serde(skip)]
    pub delimiter: Option<Delimiter>,
    pub header: bool,
    pub mapping: ColumnMapping,
    /// The decimal mark the amounts were read with (none for typed Parquet columns).
    pub decimal: Option<DecimalChoice>,
    /// Data rows seen (header excluded, blank lines skipped).
    pub rows: u64,
    pub accepted: u64,
    pub rejected: u64,
    /// Rows the filters left out.
    pub filtered: u64,
    /// How the bytes became text (none for Parquet).
    pub text: Option<TextSource>,
}

/// Called now and then with the number of bytes read so far.
pub type Progress<'p> = &'p mut dyn FnMut(u64);

const PROGRESS_EVERY: u64 = 1 << 16;

/// A file opened for reading: its delimiter, header and column mapping settled.
struct Opened {
    delimiter: Delimiter,
    header: bool,
    builder: LineBuilder,
    report: ReadReport,
}

/// The decoded text of an input: the head read for detection, then the rest.
type Text<'r> = std::io::Chain<Cursor<Vec<u8>>, Box<dyn Read + 'r>>;

/// Unpack and decode `input` ([`decode`]), detect its layout from the head
/// ([`open_delimited`]), and give back the whole text again, head first.
fn open_text<'r>(
    name: &str,
    input: impl Read + 'r,
    options: &ReadOptions,
    dates: &DateParser,
) -> Result<(Opened, Text<'r>), DataError> {
    let (mut input, text) = decode(name, input, options.encoding, HEAD_BYTES)?;
    let (mut opened, head) = open_delimited(name, &mut input, options, dates)?;
    opened.report.text = Some(text);
    Ok((opened, Cursor::new(head).chain(input)))
}

/// Bytes read from the start of the input to detect the delimiter and the header.
const HEAD_BYTES: u64 = 64 * 1024;

/// Settle the delimiter, header and column mapping of `input` from its first bytes, which are
/// returned for the caller to read again.
fn open_delimited(
    name: &str,
    input: &mut impl Read,
    options: &ReadOptions,
    dates: &DateParser,
) -> Result<(Opened, Vec<u8>), DataError> {
    let mut head = Vec::with_capacity(HEAD_BYTES as usize);
    input
        .take(HEAD_BYTES)
        .read_to_end(&mut head)
        .map_err(|e| DataError::io(Path::new(name), e))?;
    let sample = first_lines(&head, 20);
    if sample.is_empty() {
        return Err(DataError::Empty(name.to_string()));
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
    let decimal = match options.decimal {
        Some(mark) => DecimalChoice {
            mark,
            detected: false,
            example: None,
        },
        None => detect_decimal(&head, delimiter, header, &mapping)?,
    };
    let filters =
        ColumnMapping::resolve_filters(&options.filters, header_names.as_deref(), first.len())?;
    let builder = LineBuilder::with_rules(
        name,
        &mapping,
        dates.clone(),
        decimal.mark,
        filters,
        options.customer_map.clone(),
    );
    let opened = Opened {
        delimiter,
        header,
        builder,
        report: ReadReport {
            file: name.to_string(),
            delimiter: Some(delimiter),
            header,
            mapping,
            decimal: Some(decimal),
            rows: 0,
            accepted: 0,
            rejected: 0,
            filtered: 0,
            text: None,
        },
    };
    Ok((opened, head))
}

/// The decimal mark of the amount and price columns, from every whole line of the head.
fn detect_decimal(
    head: &[u8],
    delimiter: Delimiter,
    header: bool,
    mapping: &ColumnMapping,
) -> Result<DecimalChoice, DataError> {
    // Whole lines only (the head may end mid-line), each with its physical line number.
    let whole = match memchr::memrchr(b'\n', head) {
        Some(end) if head.len() as u64 == HEAD_BYTES => &head[..end],
        _ => head,
    };
    let whole = whole.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(whole);
    let mut rows: Vec<(u64, Vec<Vec<u8>>)> = whole
        .split(|&c| c == b'\n')
        .enumerate()
        .map(|(i, l)| (i as u64 + 1, l.strip_suffix(b"\r").unwrap_or(l)))
        .filter(|(_, l)| !l.trim_ascii().is_empty())
        .map(|(n, l)| (n, split_fields(l, delimiter)))
        .collect();
    if header && !rows.is_empty() {
        rows.remove(0);
    }
    let mut choice = DecimalChoice {
        mark: DecimalMark::Point,
        detected: true,
        example: None,
    };
    for role in [Role::Amount, Role::Price] {
        let Some(column) = mapping.get(role) else {
            continue;
        };
        let values = rows
            .iter()
            .filter_map(|(line, r)| r.get(column.index).map(|v| (*line, v.as_slice())));
        let found = crate::decimal::detect(&column.name, values)?;
        if found.example.is_some() {
            if choice.example.is_some() && choice.mark != found.mark {
                return Err(DataError::Decimal(
                    "the amount and price columns use different decimal marks; pass --decimal-comma or --decimal-point".into(),
                ));
            }
            choice = found;
        }
    }
    Ok(choice)
}

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
    read_delimited_from(&name, open(path)?, options, dates, rejects, progress, sink)
}

/// [`read_delimited`] from any reader (an upload, a database export, a decompressor); `name`
/// stands for the file in reports and rejects.
pub fn read_delimited_from(
    name: &str,
    input: impl Read,
    options: &ReadOptions,
    dates: &DateParser,
    rejects: &mut RejectLog,
    progress: Progress<'_>,
    sink: &mut dyn FnMut(&OrderLine<'_>),
) -> Result<ReadReport, DataError> {
    let (
        Opened {
            delimiter,
            header,
            builder,
            mut report,
        },
        input,
    ) = open_text(name, input, options, dates)?;
    let reader = BufReader::with_capacity(1 << 20, input);
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
            CsvStart::FileStart { header },
            b,
            &builder,
            rejects,
            progress,
            sink,
            &mut report,
        )?,
    }
    Ok(report)
}

fn open(path: &Path) -> Result<File, DataError> {
    File::open(path).map_err(|e| DataError::io(path, e))
}

/// A consumer of order lines that several reading threads feed at once.
///
/// The reader cuts the file into blocks and each block into one slice per core; every thread
/// pushes its slice's lines into its own shard, then [`ShardedSink::absorb`] receives the block's
/// shards in file order (so each customer's lines still arrive in file order).
pub trait ShardedSink {
    type Shard: Send;
    /// An empty shard. Shards are reused from block to block.
    fn shard(&self) -> Self::Shard;
    /// Add one accepted line to a shard.
    fn push(shard: &mut Self::Shard, line: &OrderLine<'_>);
    /// Take in the shards of one block, in file order, leaving them empty.
    fn absorb(&mut self, shards: &mut [Self::Shard]);
    /// A hint, given before the first `absorb` when the reader can tell: about this many lines
    /// will arrive in all (extrapolated from the first block and the file's size), so the sink
    /// can reserve memory once instead of growing it step by step.
    fn expect_lines(&mut self, _lines: u64) {}
}

/// Feeds a [`ShardedSink`] one line at a time from a single thread (for sources that cannot be
/// split, and for callers that also need each line themselves).
pub struct SerialFeed<'s, S: ShardedSink> {
    sink: &'s mut S,
    shard: [S::Shard; 1],
    pending: usize,
}

impl<'s, S: ShardedSink> SerialFeed<'s, S> {
    const BATCH: usize = 1 << 16;

    pub fn new(sink: &'s mut S) -> Self {
        let shard = [sink.shard()];
        SerialFeed {
            sink,
            shard,
            pending: 0,
        }
    }

    pub fn push(&mut self, line: &OrderLine<'_>) {
        S::push(&mut self.shard[0], line);
        self.pending += 1;
        if self.pending >= Self::BATCH {
            self.flush();
        }
    }

    /// Hand what is pending to the sink. Also done on drop.
    pub fn flush(&mut self) {
        if self.pending > 0 {
            self.sink.absorb(&mut self.shard);
            self.pending = 0;
        }
    }
}

impl<S: ShardedSink> Drop for SerialFeed<'_, S> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Bytes per block of [`read_delimited_sharded`] unless [`ReadOptions::block_bytes`] says. Small
/// enough that a block's lines, once a sink has sorted them into its own buffers, are still in
/// the cores' caches when it takes them up (8 MB blocks took 16 MB more memory and were no
/// faster).
pub const BLOCK_BYTES: usize = 2 << 20;

/// Read `path` like [`read_delimited`], parsing on [`ReadOptions::threads`] threads: plain
/// delimited text (no quotes) is cut into blocks at line ends and each block's slices are parsed
/// at once. From the first block with a quote or a bare carriage return on, the rest of the file
/// goes through the CSV parser on one thread (a quoted field may hold a line break, so such text
/// cannot be cut blindly). Whitespace-aligned files are read on one thread too.
pub fn read_delimited_sharded<S: ShardedSink>(
    path: &Path,
    options: &ReadOptions,
    dates: &DateParser,
    rejects: &mut RejectLog,
    progress: Progress<'_>,
    sink: &mut S,
) -> Result<ReadReport, DataError> {
    let file = open(path)?;
    let size = file.metadata().ok().map(|m| m.len());
    let name = path.display().to_string();
    read_delimited_sharded_from(&name, file, size, options, dates, rejects, progress, sink)
}

/// [`read_delimited_sharded`] from any reader; `size` (bytes in all, when known) lets the sink
/// reserve its memory once.
#[allow(clippy::too_many_arguments)]
pub fn read_delimited_sharded_from<S: ShardedSink>(
    name: &str,
    input: impl Read,
    size: Option<u64>,
    options: &ReadOptions,
    dates: &DateParser,
    rejects: &mut RejectLog,
    progress: Progress<'_>,
    sink: &mut S,
) -> Result<ReadReport, DataError> {
    let (
        Opened {
            delimiter,
            header,
            builder,
            mut report,
        },
        input,
    ) = open_text(name, input, options, dates)?;
    // A compressed file's size says little about the text it holds.
    let packed = report
        .text
        .as_ref()
        .is_some_and(|t| t.compression.is_some());
    let size = size.filter(|_| !packed);
    match delimiter {
        Delimiter::Whitespace => {
            let mut feed = SerialFeed::new(sink);
            read_whitespace(
                BufReader::with_capacity(1 << 20, input),
                header,
                &builder,
                rejects,
                progress,
                &mut |line| feed.push(line),
                &mut report,
            )?;
        }
        Delimiter::Byte(d) => {
            let blocks = Blocks {
                bytes: options.block_bytes.unwrap_or(BLOCK_BYTES).max(1),
                threads: options.threads.max(1),
            };
            read_blocks(
                input,
                size,
                blocks,
                d,
                header,
                &builder,
                rejects,
                progress,
                sink,
                &mut report,
            )?;
        }
    }
    Ok(report)
}

#[derive(Debug, Clone, Copy)]
struct Blocks {
    bytes: usize,
    threads: usize,
}

/// What parsing one slice of a block produced.
#[derive(Default)]
struct SliceOutcome {
    rows: u64,
    accepted: u64,
    filtered: u64,
    /// Line numbers relative to the slice's first line (1-based).
    rejects: Vec<Reject>,
    /// Line breaks in the slice.
    lines: u64,
}

/// Parse one slice of whole lines (no quotes, no bare `\r`) into `shard`.
fn parse_slice<S: ShardedSink>(
    text: &[u8],
    delimiter: u8,
    builder: &LineBuilder,
    shard: &mut S::Shard,
) -> SliceOutcome {
    let mut out = SliceOutcome::default();
    let mut fields: Vec<(usize, usize)> = Vec::with_capacity(16);
    let mut scratch = Vec::new();
    let mut start = 0;
    let mut line_no = 0u64;
    // Exports sorted by time repeat a date over many lines in a row: each is parsed once.
    let date_column = builder.date_column();
    let mut last_date: (&[u8], i64) = (b"", 0);
    let ends = memchr::memchr_iter(b'\n', text).chain(
        // A last line without a line break.
        (text.last().is_some_and(|&c| c != b'\n')).then_some(text.len()),
    );
    for end in ends {
        line_no += 1;
        let raw = &text[start..end];
        start = end + 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        fields.clear();
        let mut field_start = 0;
        // Fields are short: a plain loop beats a vectorised search started per field.
        for (at, &c) in line.iter().enumerate() {
            if c == delimiter {
                fields.push((field_start, at));
                field_start = at + 1;
            }
        }
        fields.push((field_start, line.len()));
        if fields.len() == 1 && line.trim_ascii().is_empty() {
            continue;
        }
        out.rows += 1;
        let date = fields
            .get(date_column)
            .map_or(&b""[..], |&(s, e)| &line[s..e]);
        let known_time = (!date.is_empty() && date == last_date.0).then_some(last_date.1);
        let built = builder.build_with_time(
            |i| fields.get(i).map(|&(s, e)| &line[s..e]),
            fields.len(),
            line_no,
            known_time,
            &mut scratch,
        );
        match built {
            Ok(Some(line)) => {
                if known_time.is_none() {
                    last_date = (date, line.time);
                }
                out.accepted += 1;
                S::push(shard, &line);
            }
            Ok(None) => out.filtered += 1,
            Err(reject) => out.rejects.push(reject),
        }
    }
    out.lines = line_no - u64::from(text.last().is_some_and(|&c| c != b'\n'));
    out
}

/// True when `block` needs the full CSV parser: it has a quote, or a `\r` that does not end a
/// line.
fn needs_csv_parser(block: &[u8]) -> bool {
    memchr::memchr2_iter(b'"', b'\r', block)
        .any(|i| block[i] == b'"' || block.get(i + 1) != Some(&b'\n'))
}

/// `text` cut into up to `parts` slices of whole lines.
fn slices(text: &[u8], parts: usize) -> Vec<&[u8]> {
    let mut out = Vec::with_capacity(parts);
    let mut rest = text;
    for k in (1..=parts).rev() {
        if k == 1 || rest.is_empty() {
            out.push(rest);
            break;
        }
        let target = rest.len() / k;
        let cut = memchr::memchr(b'\n', &rest[target..]).map_or(rest.len(), |i| target + i + 1);
        let (head, tail) = rest.split_at(cut);
        out.push(head);
        rest = tail;
    }
    out
}

/// The bytes of the file not yet parsed. Its memory is zeroed once and reused, not re-zeroed
/// for every block.
struct BlockBuffer {
    memory: Vec<u8>,
    len: usize,
}

impl BlockBuffer {
    fn bytes(&self) -> &[u8] {
        &self.memory[..self.len]
    }

    /// Read more of `input` until `want` bytes are held or it ends; true at the end.
    fn fill(&mut self, input: &mut impl Read, want: usize, path: &str) -> Result<bool, DataError> {
        if self.memory.len() < want {
            self.memory.resize(want, 0);
        }
        while self.len < want {
            let n = input
                .read(&mut self.memory[self.len..want])
                .map_err(|e| DataError::io(Path::new(path), e))?;
            if n == 0 {
                return Ok(true);
            }
            self.len += n;
        }
        Ok(false)
    }

    /// Drop the first `n` bytes.
    fn consume(&mut self, n: usize) {
        self.memory.copy_within(n..self.len, 0);
        self.len -= n;
    }
}

#[allow(clippy::too_many_arguments)]
fn read_blocks<S: ShardedSink>(
    mut input: impl Read,
    size: Option<u64>,
    blocks: Blocks,
    delimiter: u8,
    header: bool,
    builder: &LineBuilder,
    rejects: &mut RejectLog,
    progress: Progress<'_>,
    sink: &mut S,
    report: &mut ReadReport,
) -> Result<(), DataError> {
    let path = builder.file().to_string();
    let file_bytes = size.unwrap_or(0);
    let mut buf = BlockBuffer {
        memory: Vec::new(),
        len: 0,
    };
    let mut shards: Vec<S::Shard> = (0..blocks.threads).map(|_| sink.shard()).collect();
    // File offset and line number of `buf[0]`.
    let mut offset = 0u64;
    let mut line = 1u64;
    let mut want = blocks.bytes;
    let mut at_start = true;
    loop {
        let eof = buf.fill(&mut input, want, &path)?;
        let end = match memchr::memrchr(b'\n', buf.bytes()) {
            _ if eof => buf.len,
            Some(i) => i + 1,
            None => {
                // A line longer than the block: read on until it ends.
                want = buf.len * 2;
                continue;
            }
        };
        want = blocks.bytes;
        if end == 0 {
            break;
        }
        if needs_csv_parser(&buf.bytes()[..end]) {
            let start = if at_start {
                CsvStart::FileStart { header }
            } else {
                CsvStart::Within { offset, line }
            };
            // The CSV parser takes over at `offset`: the unparsed bytes held, then the rest.
            let rest = Cursor::new(buf.bytes().to_vec()).chain(input);
            let mut feed = SerialFeed::new(sink);
            return read_csv(
                BufReader::with_capacity(1 << 20, rest),
                start,
                delimiter,
                builder,
                rejects,
                progress,
                &mut |l| feed.push(l),
                report,
            );
        }
        let mut block = &buf.bytes()[..end];
        let mut skipped = 0u64;
        if at_start {
            at_start = false;
            block = block.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(block);
            if header {
                // The header is the first line that is not blank, as for the CSV parser.
                while !block.is_empty() {
                    let n = memchr::memchr(b'\n', block).map_or(block.len(), |i| i + 1);
                    let first = &block[..n];
                    block = &block[n..];
                    skipped += 1;
                    let first = first.strip_suffix(b"\n").unwrap_or(first);
                    if !first.strip_suffix(b"\r").unwrap_or(first).is_empty() {
                        break;
                    }
                }
            }
        }
        let parts = slices(block, blocks.threads);
        let outcomes: Vec<SliceOutcome> = std::thread::scope(|scope| {
            let mut shard_iter = shards.iter_mut();
            let (first_part, first_shard) = (parts[0], shard_iter.next().expect("a shard"));
            let handles: Vec<_> = parts[1..]
                .iter()
                .zip(shard_iter)
                .map(|(&part, shard)| {
                    scope.spawn(move || parse_slice::<S>(part, delimiter, builder, shard))
                })
                .collect();
            let mut outcomes = vec![parse_slice::<S>(
                first_part,
                delimiter,
                builder,
                first_shard,
            )];
            outcomes.extend(
                handles
                    .into_iter()
                    .map(|h| h.join().expect("parsing thread panicked")),
            );
            outcomes
        });
        if offset == 0 && file_bytes > 0 {
            let accepted: u64 = outcomes.iter().map(|o| o.accepted).sum();
            let share = end as f64 / file_bytes.max(end as u64) as f64;
            sink.expect_lines((accepted as f64 / share).ceil() as u64);
        }
        line += skipped;
        for outcome in outcomes {
            report.rows += outcome.rows;
            report.accepted += outcome.accepted;
            report.filtered += outcome.filtered;
            report.rejected += outcome.rejects.len() as u64;
            for mut reject in outcome.rejects {
                reject.line += line - 1;
                rejects.record(reject)?;
            }
            line += outcome.lines;
        }
        sink.absorb(&mut shards[..parts.len()]);
        offset += end as u64;
        buf.consume(end);
        progress(offset);
        if eof {
            break;
        }
    }
    Ok(())
}

/// Count one built row: hand an accepted line to `sink`, record a rejected one. Every reader
/// goes through here, so the counts in the report always add up.
pub fn accept(
    result: Result<Option<OrderLine<'_>>, Reject>,
    rejects: &mut RejectLog,
    sink: &mut dyn FnMut(&OrderLine<'_>),
    report: &mut ReadReport,
) -> Result<(), DataError> {
    report.rows += 1;
    match result {
        Ok(Some(line)) => {
            report.accepted += 1;
            sink(&line);
            Ok(())
        }
        Ok(None) => {
            report.filtered += 1;
            Ok(())
        }
        Err(reject) => {
            report.rejected += 1;
            rejects.record(reject)
        }
    }
}

/// The CSV parser (quotes, escaped quotes, line breaks inside quoted fields), on one thread.
///
/// Line numbers are counted here, from the bytes the parser consumes: a record's line is the one
/// holding its first byte. (The `csv` crate's record positions drift after blank lines and on
/// CRLF files, so it is not used for them.)
#[allow(clippy::too_many_arguments)]
fn read_csv(
    mut reader: impl Read,
    start: CsvStart,
    delimiter: u8,
    builder: &LineBuilder,
    rejects: &mut RejectLog,
    progress: Progress<'_>,
    sink: &mut dyn FnMut(&OrderLine<'_>),
    report: &mut ReadReport,
) -> Result<(), DataError> {
    use csv_core::ReadRecordResult;
    let (mut header, mut consumed, mut newlines) = match start {
        CsvStart::FileStart { header } => (header, 0, 0),
        CsvStart::Within { offset, line } => (false, offset, line - 1),
    };
    let io_error = |e| DataError::io(Path::new(builder.file()), e);
    let mut parser = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
    let mut input = vec![0u8; 1 << 20];
    let (mut at, mut filled) = (0, 0);
    let mut eof = false;
    let mut output = vec![0u8; 4 << 10];
    let mut ends = vec![0usize; 64];
    let (mut out_len, mut ends_len) = (0, 0);
    let mut record_line: Option<u64> = None;
    let mut scratch = Vec::new();
    let mut at_file_start = matches!(start, CsvStart::FileStart { .. });
    loop {
        if at == filled && !eof {
            filled = reader.read(&mut input).map_err(io_error)?;
            at = 0;
            eof = filled == 0;
            if at_file_start {
                at_file_start = false;
                if input[..filled].starts_with(b"\xEF\xBB\xBF") {
                    at = 3;
                    consumed += 3;
                }
            }
        }
        let chunk = &input[at..filled];
        let (result, read, written, ended) =
            parser.read_record(chunk, &mut output[out_len..], &mut ends[ends_len..]);
        let used = &chunk[..read];
        let mut i = 0;
        if record_line.is_none() {
            // Line breaks before a record's first byte end earlier lines or blank ones.
            while i < used.len() && matches!(used[i], b'\n' | b'\r') {
                newlines += u64::from(used[i] == b'\n');
                i += 1;
            }
            if i < used.len() {
                record_line = Some(newlines + 1);
            }
        }
        newlines += memchr::memchr_iter(b'\n', &used[i..]).count() as u64;
        at += read;
        consumed += read as u64;
        out_len += written;
        ends_len += ended;
        match result {
            ReadRecordResult::InputEmpty => {}
            ReadRecordResult::OutputFull => output.resize(output.len() * 2, 0),
            ReadRecordResult::OutputEndsFull => ends.resize(ends.len() * 2, 0),
            ReadRecordResult::Record => {
                let line = record_line.take().unwrap_or(newlines);
                let fields = &ends[..ends_len];
                let field = |i: usize| {
                    let end = *fields.get(i)?;
                    let start = if i == 0 { 0 } else { fields[i - 1] };
                    Some(&output[start..end])
                };
                let blank = ends_len == 1 && output[..out_len].trim_ascii().is_empty();
                if std::mem::take(&mut header) || blank {
                    (out_len, ends_len) = (0, 0);
                    continue;
                }
                let built = builder.build(field, ends_len, line, &mut scratch);
                accept(built, rejects, sink, report)?;
                (out_len, ends_len) = (0, 0);
                if report.rows.is_multiple_of(PROGRESS_EVERY) {
                    progress(consumed);
                }
            }
            ReadRecordResult::End => break,
        }
    }
    progress(consumed);
    Ok(())
}

/// Where the CSV parser starts: at the top of the file, or at a line start further in (after
/// blocks read in parallel).
#[derive(Debug, Clone, Copy)]
enum CsvStart {
    FileStart { header: bool },
    Within { offset: u64, line: u64 },
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
    let mut scratch = Vec::new();
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
            &mut scratch,
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

/// A number with either decimal mark.
fn is_number(field: &[u8]) -> bool {
    [DecimalMark::Point, DecimalMark::Comma]
        .into_iter()
        .any(|mark| parse_number(field, mark).is_some())
}

/// A first row is a header when none of its fields reads as a number or a date.
fn looks_like_header(first: &[Vec<u8>], dates: &DateParser) -> bool {
    !first
        .iter()
        .any(|f| is_number(f) || dates.parse(f).is_some())
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
