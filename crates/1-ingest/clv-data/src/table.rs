//! Column-oriented output tables (one per command result) and their CSV, JSON and terminal
//! renderings. Parquet output lives in `clv-parquet`, which reads the same [`Table`].

use crate::precision::significant;
use std::borrow::Cow;
use std::io::{self, Write};
use std::ops::Range;

/// One column's values. Text may borrow (customer ids from the ledger's arena), so a million-row
/// table does not allocate a million strings.
#[derive(Debug, Clone, PartialEq)]
pub enum Values<'a> {
    Text(Vec<Cow<'a, str>>),
    Int(Vec<i64>),
    Float(Vec<f64>),
    /// Single-precision floats (about 7 significant digits), for approximate values such as
    /// interval bounds: half the memory and shorter text.
    Float32(Vec<f32>),
    /// Floats that may be absent (written as an empty field / JSON null).
    MaybeFloat(Vec<Option<f64>>),
    /// Calendar dates as shop-local seconds at midnight; written `YYYY-MM-DD`.
    Date(Vec<i64>),
    /// Dates that may be absent (an empty field / JSON null).
    MaybeDate(Vec<Option<i64>>),
}

impl<'a> Values<'a> {
    /// Owned text values.
    pub fn text(values: Vec<String>) -> Self {
        Values::Text(values.into_iter().map(Cow::Owned).collect())
    }

    /// Amounts of money, in cents unless finer ([`crate::precision::money`]).
    pub fn money(mut values: Vec<f64>) -> Self {
        crate::precision::round_money(&mut values);
        Values::Float(values)
    }

    pub fn len(&self) -> usize {
        match self {
            Values::Text(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Float(v) => v.len(),
            Values::Float32(v) => v.len(),
            Values::MaybeFloat(v) => v.len(),
            Values::Date(v) => v.len(),
            Values::MaybeDate(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The JSON text of the value at `row`, as [`Table::json_rows`] writes it.
    pub fn json_text(&self, row: usize) -> String {
        String::from_utf8_lossy(Cell::default().render(self, row, true)).into_owned()
    }
}

/// A named, typed column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column<'a> {
    pub name: String,
    pub values: Values<'a>,
}

/// Columns of equal length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table<'a> {
    pub columns: Vec<Column<'a>>,
}

impl<'a> Table<'a> {
    pub fn new() -> Self {
        Table::default()
    }

    /// Add a column (builder style). Panics if its length differs from the others: that is a bug.
    pub fn with(mut self, name: &str, values: Values<'a>) -> Self {
        if let Some(first) = self.columns.first() {
            assert_eq!(first.values.len(), values.len(), "column {name} length");
        }
        self.columns.push(Column {
            name: name.to_string(),
            values,
        });
        self
    }

    pub fn rows(&self) -> usize {
        self.columns.first().map_or(0, |c| c.values.len())
    }

    pub fn column(&self, name: &str) -> Option<&Values<'a>> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| &c.values)
    }

    /// The rows at `rows` (in that order), as a new table.
    pub fn select(&self, rows: &[usize]) -> Table<'a> {
        fn pick<T: Clone>(v: &[T], rows: &[usize]) -> Vec<T> {
            rows.iter().map(|&r| v[r].clone()).collect()
        }
        Table {
            columns: self
                .columns
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    values: match &c.values {
                        Values::Text(v) => Values::Text(pick(v, rows)),
                        Values::Int(v) => Values::Int(pick(v, rows)),
                        Values::Float(v) => Values::Float(pick(v, rows)),
                        Values::Float32(v) => Values::Float32(pick(v, rows)),
                        Values::MaybeFloat(v) => Values::MaybeFloat(pick(v, rows)),
                        Values::Date(v) => Values::Date(pick(v, rows)),
                        Values::MaybeDate(v) => Values::MaybeDate(pick(v, rows)),
                    },
                })
                .collect(),
        }
    }

    /// Only the named columns, in that order (names that do not exist are skipped).
    pub fn project(&self, names: &[&str]) -> Table<'a> {
        Table {
            columns: names
                .iter()
                .filter_map(|n| self.columns.iter().find(|c| c.name == *n).cloned())
                .collect(),
        }
    }

    /// RFC 4180 CSV with a header row; floats to [`crate::precision::SIGNIFICANT_DIGITS`]
    /// significant digits, in the shortest text that reads back as that value. Rows are formatted in
    /// chunks on `threads` threads (0 and 1: this one) and written in order.
    pub fn write_csv(&self, out: impl Write, threads: usize) -> io::Result<()> {
        write_csv_rows(
            out,
            &self.columns,
            self.rows(),
            threads,
            &|rows, formatter, buf| formatter.csv_rows(self, rows, buf),
        )
    }

    /// A JSON array of row objects.
    pub fn write_json(&self, mut out: impl Write) -> io::Result<()> {
        let keys = self.json_keys();
        let mut scratch = Cell::default();
        out.write_all(b"[")?;
        for row in 0..self.rows() {
            out.write_all(if row == 0 { b"\n" } else { b",\n" })?;
            self.write_json_row(row, &keys, &mut scratch, &mut out)?;
        }
        out.write_all(b"\n]\n")?;
        out.flush()
    }

    /// Each row as its own JSON object, in the text [`Table::write_json`] writes.
    pub fn json_rows(&self) -> Vec<String> {
        let keys = self.json_keys();
        let mut scratch = Cell::default();
        let mut text = Vec::new();
        (0..self.rows())
            .map(|row| {
                text.clear();
                self.write_json_row(row, &keys, &mut scratch, &mut text)
                    .expect("writing to memory");
                String::from_utf8_lossy(&text).into_owned()
            })
            .collect()
    }

    /// Each row as a JSON array of its values, in column order (the values' text as in
    /// [`Table::json_rows`]): the compact form when the names are kept once, elsewhere.
    pub fn json_value_rows(&self) -> Vec<String> {
        self.json_value_rows_except(&[])
    }

    /// [`Table::json_value_rows`] without the columns named in `left_out` (kept elsewhere).
    pub fn json_value_rows_except(&self, left_out: &[&str]) -> Vec<String> {
        let kept: Vec<&Column<'_>> = (self.columns.iter())
            .filter(|c| !left_out.contains(&c.name.as_ref()))
            .collect();
        let mut scratch = Cell::default();
        let mut text = Vec::new();
        (0..self.rows())
            .map(|row| {
                text.clear();
                text.push(b'[');
                for (i, c) in kept.iter().enumerate() {
                    if i > 0 {
                        text.push(b',');
                    }
                    text.extend_from_slice(scratch.render(&c.values, row, true));
                }
                text.push(b']');
                String::from_utf8_lossy(&text).into_owned()
            })
            .collect()
    }

    /// The columns' names, in order.
    pub fn names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_ref()).collect()
    }

    fn json_keys(&self) -> Vec<String> {
        self.columns
            .iter()
            .map(|c| serde_json::to_string(&c.name).expect("string serialises"))
            .collect()
    }

    fn write_json_row(
        &self,
        row: usize,
        keys: &[String],
        scratch: &mut Cell,
        out: &mut impl Write,
    ) -> io::Result<()> {
        out.write_all(b"{")?;
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            out.write_all(keys[i].as_bytes())?;
            out.write_all(b":")?;
            out.write_all(scratch.render(&c.values, row, true))?;
        }
        out.write_all(b"}")
    }

    /// An aligned plain-text table of the first `max_rows` rows, for the terminal.
    pub fn render_text(&self, max_rows: usize) -> String {
        let shown = self.rows().min(max_rows);
        let cells: Vec<Vec<String>> = self
            .columns
            .iter()
            .map(|c| {
                std::iter::once(c.name.clone())
                    .chain((0..shown).map(|r| text_cell(&c.values, r)))
                    .collect()
            })
            .collect();
        let widths: Vec<usize> = cells
            .iter()
            .map(|col| col.iter().map(|s| s.chars().count()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for r in 0..=shown {
            let line: Vec<String> = cells
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (col, w))| {
                    if i == 0 {
                        format!("{:<w$}", col[r], w = *w)
                    } else {
                        format!("{:>w$}", col[r], w = *w)
                    }
                })
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
        if self.rows() > shown {
            out.push_str(&format!(
                "… {} more rows (write them all with --format csv|json|parquet -o FILE)\n",
                self.rows() - shown
            ));
        }
        out
    }
}

/// A CSV field, quoted when it holds a comma, quote or line break.
fn push_csv_text(out: &mut Vec<u8>, text: &[u8]) {
    if text
        .iter()
        .any(|&c| matches!(c, b',' | b'"' | b'\n' | b'\r'))
    {
        out.push(b'"');
        for &c in text {
            if c == b'"' {
                out.push(b'"');
            }
            out.push(c);
        }
        out.push(b'"');
    } else {
        out.extend_from_slice(text);
    }
}

/// 1234567 → "1,234,567": counts for people.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A table built a run of rows at a time, for outputs too large to hold whole: CSV is formatted
/// straight from each run (on every core) and the whole table never exists in memory.
pub struct ChunkedTable<'a> {
    rows: usize,
    build: Box<dyn Fn(Range<usize>) -> Table<'a> + Sync + 'a>,
}

impl<'a> ChunkedTable<'a> {
    /// A table of `rows` rows; `build(range)` makes the rows in `range` (every call must give the
    /// same columns).
    pub fn new(rows: usize, build: impl Fn(Range<usize>) -> Table<'a> + Sync + 'a) -> Self {
        ChunkedTable {
            rows,
            build: Box::new(build),
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Every row as one table, for the formats that need it whole.
    pub fn whole(&self) -> Table<'a> {
        (self.build)(0..self.rows)
    }

    /// The same text as [`Table::write_csv`] on [`ChunkedTable::whole`].
    pub fn write_csv(&self, out: impl Write, threads: usize) -> io::Result<()> {
        let header = (self.build)(0..0);
        write_csv_rows(
            out,
            &header.columns,
            self.rows,
            threads,
            &|rows, formatter, buf| {
                let run = (self.build)(rows.clone());
                formatter.csv_rows(&run, 0..rows.len(), buf)
            },
        )
    }
}

/// Formats a run of rows as CSV into a buffer, with a worker's formatter.
type FormatRows<'f> = dyn Fn(Range<usize>, &mut CsvFormatter, &mut Vec<u8>) + Sync + 'f;

/// Rows per formatting job of the CSV writer.
const CSV_CHUNK: usize = 16 * 1024;

/// Writes a CSV header for `columns`, then `rows` rows formatted by `format(range, …)` on
/// `threads` threads, chunk by chunk, in order.
fn write_csv_rows(
    mut out: impl Write,
    columns: &[Column<'_>],
    rows: usize,
    threads: usize,
    format: &FormatRows<'_>,
) -> io::Result<()> {
    let mut line = Vec::new();
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        push_csv_text(&mut line, c.name.as_bytes());
    }
    line.push(b'\n');
    out.write_all(&line)?;
    let chunks = rows.div_ceil(CSV_CHUNK);
    let workers = threads.min(chunks.max(1));
    let width = columns.len();
    if workers <= 1 {
        let (mut formatter, mut buf) = (CsvFormatter::new(width), Vec::new());
        for chunk in 0..chunks {
            let from = chunk * CSV_CHUNK;
            buf.clear();
            format(from..(from + CSV_CHUNK).min(rows), &mut formatter, &mut buf);
            out.write_all(&buf)?;
        }
        return out.flush();
    }
    // Workers format chunks round-robin (worker w takes chunks w, w + workers, …) and hand
    // them over in order; this thread writes while they format the next ones.
    // Written buffers go back to their worker, so formatting reuses warm memory.
    std::thread::scope(|scope| -> io::Result<()> {
        let lanes: Vec<_> = (0..workers)
            .map(|w| {
                let (send, receive) = std::sync::mpsc::sync_channel::<Vec<u8>>(2);
                let (recycle, recycled) = std::sync::mpsc::channel::<Vec<u8>>();
                scope.spawn(move || {
                    let mut formatter = CsvFormatter::new(width);
                    for chunk in (w..chunks).step_by(workers) {
                        let from = chunk * CSV_CHUNK;
                        let mut buf = recycled
                            .try_recv()
                            .unwrap_or_else(|_| Vec::with_capacity(CSV_CHUNK * 64));
                        buf.clear();
                        format(from..(from + CSV_CHUNK).min(rows), &mut formatter, &mut buf);
                        if send.send(buf).is_err() {
                            return; // the writer failed and hung up
                        }
                    }
                });
                (receive, recycle)
            })
            .collect();
        for chunk in 0..chunks {
            let (receive, recycle) = &lanes[chunk % workers];
            let buf = receive.recv().expect("formatting worker ended early");
            out.write_all(&buf)?;
            // The worker may be done already; then the buffer is simply dropped.
            let _ = recycle.send(buf);
        }
        Ok(())
    })?;
    out.flush()
}

/// One formatting worker's state, kept from chunk to chunk.
struct CsvFormatter {
    cell: Cell,
    memos: Vec<Memo>,
}

impl CsvFormatter {
    fn new(columns: usize) -> Self {
        CsvFormatter {
            cell: Cell::default(),
            memos: (0..columns).map(|_| Memo::default()).collect(),
        }
    }

    fn csv_rows(&mut self, table: &Table<'_>, rows: Range<usize>, out: &mut Vec<u8>) {
        let CsvFormatter { cell, memos } = self;
        for row in rows {
            for (i, c) in table.columns.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match &c.values {
                    Values::Text(v) => push_csv_text(out, v[row].as_bytes()),
                    Values::Float(v) => memos[i].float(v[row], out, &mut cell.ryu),
                    // Interval bounds: straight into the output, not through the cell buffer
                    // (half the columns of a scored table with intervals).
                    Values::Float32(v) => {
                        if v[row].is_finite() {
                            push_finite_float(&mut cell.ryu, v[row], out);
                        }
                    }
                    Values::Int(v) => out.extend_from_slice(cell.itoa.format(v[row]).as_bytes()),
                    Values::Date(v) => memos[i].date(v[row], out),
                    values => out.extend_from_slice(cell.render(values, row, false)),
                }
            }
            out.push(b'\n');
        }
    }
}

/// Recently formatted values of one column. Columns such as recency and T in weeks, or purchase
/// dates, repeat a few hundred values across a million rows, and a lookup costs far less than
/// formatting.
struct Memo {
    /// Direct-mapped by the value's bits: (bits, length, text); length 0 marks an empty slot.
    slots: Box<[(u64, u8, [u8; 24])]>,
}

impl Default for Memo {
    fn default() -> Self {
        Memo {
            slots: vec![(0, 0, [0; 24]); 512].into_boxed_slice(),
        }
    }
}

impl Memo {
    /// Append the text of the value with these `bits`, formatting it with `render` (into an empty
    /// buffer) the first time; text longer than a slot is written through.
    fn write(&mut self, bits: u64, out: &mut Vec<u8>, render: impl FnOnce(&mut Vec<u8>)) {
        let slot = &mut self.slots[(bits.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 55) as usize];
        if slot.1 == 0 || slot.0 != bits {
            let from = out.len();
            render(out);
            let text = &out[from..];
            if (1..=slot.2.len()).contains(&text.len()) {
                slot.1 = text.len() as u8;
                slot.2[..text.len()].copy_from_slice(text);
                slot.0 = bits;
            }
            return;
        }
        // A fixed-size copy, then the surplus cut off: cheaper than a call to copy a few bytes.
        out.extend_from_slice(&slot.2);
        out.truncate(out.len() - (slot.2.len() - slot.1 as usize));
    }

    /// Append `x` as [`Cell::float`] would (empty when not finite).
    fn float(&mut self, x: f64, out: &mut Vec<u8>, ryu: &mut ryu::Buffer) {
        if x.is_finite() {
            self.write(x.to_bits(), out, |out| {
                push_finite_f64(ryu, significant(x), out)
            });
        }
    }

    /// Append the date of `t` as [`crate::time::write_date`] would.
    fn date(&mut self, t: i64, out: &mut Vec<u8>) {
        self.write(t as u64, out, |out| crate::time::write_date(t, out));
    }
}

/// Reusable formatting buffers for one cell.
#[derive(Default)]
struct Cell {
    buf: Vec<u8>,
    ryu: ryu::Buffer,
    itoa: itoa::Buffer,
}

impl Cell {
    fn render(&mut self, values: &Values<'_>, row: usize, json: bool) -> &[u8] {
        self.buf.clear();
        let null: &[u8] = if json { b"null" } else { b"" };
        match values {
            Values::Text(v) => {
                if json {
                    serde_json::to_writer(&mut self.buf, v[row].as_ref()).expect("writes to a Vec");
                } else {
                    self.buf.extend_from_slice(v[row].as_bytes());
                }
            }
            Values::Int(v) => self
                .buf
                .extend_from_slice(self.itoa.format(v[row]).as_bytes()),
            Values::Float(v) => self.float(significant(v[row]), v[row].is_finite(), null),
            Values::Float32(v) => self.float(v[row], v[row].is_finite(), null),
            Values::MaybeFloat(v) => match v[row] {
                Some(x) => self.float(significant(x), x.is_finite(), null),
                None => self.buf.extend_from_slice(null),
            },
            Values::Date(v) => self.date(v[row], json),
            Values::MaybeDate(v) => match v[row] {
                Some(t) => self.date(t, json),
                None => self.buf.extend_from_slice(null),
            },
        }
        &self.buf
    }

    fn date(&mut self, t: i64, json: bool) {
        if json {
            self.buf.push(b'"');
        }
        crate::time::write_date(t, &mut self.buf);
        if json {
            self.buf.push(b'"');
        }
    }

    /// A float of either width in shortest round-trip form; `null` when it is not `finite`.
    fn float<F: ryu::Float>(&mut self, x: F, finite: bool, null: &[u8]) {
        if finite {
            push_finite_float(&mut self.ryu, x, &mut self.buf);
        } else {
            // Never reached by clv's own tables (they guard against non-finite values); kept so a
            // bug shows as a missing value instead of text no reader accepts.
            self.buf.extend_from_slice(null);
        }
    }
}

/// Append a finite float of either width in shortest round-trip form, without a trailing `.0`.
fn push_finite_float<F: ryu::Float>(ryu: &mut ryu::Buffer, x: F, out: &mut Vec<u8>) {
    let s = ryu.format_finite(x);
    out.extend_from_slice(s.strip_suffix(".0").unwrap_or(s).as_bytes());
}

/// [`push_finite_float`] for an `f64`, without `ryu` for whole cents (most money values: 81% of
/// the summary's `monetary_value` and 88% of its `revenue` at 1,000,000 customers).
///
/// When `c = round(100 x)` gives back `x` as `c / 100` (one correctly rounded division), the
/// decimal `c / 100` reads back as `x`, so it round-trips. Below 2^40, where `x`'s neighbours are
/// closer than 0.0003, no other decimal with as few digits does (those differ from it by at least
/// 0.01), so it is also the shortest text, the one `ryu` writes.
fn push_finite_f64(ryu: &mut ryu::Buffer, x: f64, out: &mut Vec<u8>) {
    const LIMIT: f64 = (1u64 << 40) as f64;
    let cents = (x * 100.0).round();
    if x.abs() < LIMIT && (cents / 100.0).to_bits() == x.to_bits() {
        let cents = cents.abs() as u64;
        if x.is_sign_negative() {
            out.push(b'-');
        }
        let mut digits = itoa::Buffer::new();
        out.extend_from_slice(digits.format(cents / 100).as_bytes());
        let fraction = cents % 100;
        if fraction != 0 {
            let (tenths, hundredths) = ((fraction / 10) as u8, (fraction % 10) as u8);
            out.push(b'.');
            out.push(b'0' + tenths);
            if hundredths != 0 {
                out.push(b'0' + hundredths);
            }
        }
    } else {
        push_finite_float(ryu, x, out);
    }
}

fn text_cell(values: &Values<'_>, row: usize) -> String {
    let float = |x: f64| {
        let s = format!("{x:.4}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        if s == "-0" {
            "0".to_string()
        } else {
            s.to_string()
        }
    };
    match values {
        Values::Text(v) => v[row].to_string(),
        Values::Int(v) => v[row].to_string(),
        Values::Float(v) => float(v[row]),
        Values::Float32(v) => float(v[row] as f64),
        Values::MaybeFloat(v) => v[row].map(float).unwrap_or_else(|| "-".into()),
        Values::Date(v) => crate::time::format_date(v[row]),
        Values::MaybeDate(v) => v[row]
            .map(crate::time::format_date)
            .unwrap_or_else(|| "-".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table<'static> {
        Table::new()
            .with("id", Values::text(vec!["a".into(), "b\"q".into()]))
            .with("n", Values::Int(vec![1, -2]))
            .with("x", Values::Float(vec![0.1, 38.857142857142854]))
            .with("m", Values::MaybeFloat(vec![None, Some(2.0)]))
            .with("d", Values::Date(vec![0, 86_400 * 365]))
    }

    #[test]
    fn csv_and_json_round_trip_values() {
        let mut csv = Vec::new();
        sample().write_csv(&mut csv, 2).unwrap();
        assert_eq!(
            String::from_utf8(csv).unwrap(),
            "id,n,x,m,d\na,1,0.1,,1970-01-01\n\"b\"\"q\",-2,38.8571428571,2,1971-01-01\n"
        );
        let mut json = Vec::new();
        sample().write_json(&mut json).unwrap();
        let parsed: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(parsed[1]["id"], "b\"q");
        assert_eq!(parsed[1]["x"], 38.8571428571, "12 significant digits");
        assert!(parsed[0]["m"].is_null());
        assert_eq!(parsed[0]["d"], "1970-01-01");
    }

    /// Enough rows for several formatting chunks, with values that repeat (memo hits) and more
    /// distinct values than memo slots (evictions), against `format!` and chrono.
    #[test]
    fn chunked_csv_equals_whole_and_naive_formatting() {
        let n = 2 * CSV_CHUNK + 1234;
        let ids: Vec<String> = (0..n).map(|i| format!("c{i}")).collect();
        let x: Vec<f64> = (0..n).map(|i| (i % 997) as f64 / 7.0).collect();
        let days: Vec<i64> = (0..n).map(|i| (i as i64 % 800 - 100) * 86_400).collect();
        let whole = Table::new()
            .with("id", Values::text(ids.clone()))
            .with("x", Values::Float(x.clone()))
            .with("d", Values::Date(days.clone()));
        let chunked = ChunkedTable::new(n, |rows| whole.select(&rows.collect::<Vec<_>>()));
        let mut naive = String::from("id,x,d\n");
        for i in 0..n {
            let date = chrono::DateTime::from_timestamp(days[i], 0).unwrap();
            // 12 significant digits, rounded through decimal text.
            let rounded: f64 = format!("{:.11e}", x[i]).parse().unwrap();
            naive += &format!("{},{},{}\n", ids[i], rounded, date.format("%Y-%m-%d"));
        }
        let (mut from_whole, mut from_chunks) = (Vec::new(), Vec::new());
        whole.write_csv(&mut from_whole, 2).unwrap();
        chunked.write_csv(&mut from_chunks, 1).unwrap();
        assert_eq!(String::from_utf8(from_whole).unwrap(), naive);
        assert_eq!(String::from_utf8(from_chunks).unwrap(), naive);
        assert_eq!(chunked.whole(), whole);
    }

    #[test]
    fn whole_cents_are_written_as_ryu_writes_them() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut values = vec![
            0.0,
            -0.0,
            0.01,
            0.1,
            0.5,
            1.0,
            100.0,
            -12.5,
            0.1 + 0.2,
            1e-5,
            0.005,
            0.015,
            1e12,
            1099511627775.99,
            1099511627776.0,
            1e16,
            9.99,
            10.0,
            99.99,
        ];
        for _ in 0..200_000 {
            let cents = random() % 100_000_000;
            let x = cents as f64 / 100.0;
            values.push(x);
            // Sums and means of money: often just off whole cents.
            values.push(x + (random() % 10_000) as f64 / 100.0);
            values.push(-x / 3.0);
            values.push(f64::from_bits(random() >> 2));
        }
        let (mut ryu, mut fast, mut slow) = (ryu::Buffer::new(), Vec::new(), Vec::new());
        for x in values.into_iter().filter(|x| x.is_finite()) {
            fast.clear();
            slow.clear();
            push_finite_f64(&mut ryu, x, &mut fast);
            push_finite_float(&mut ryu, x, &mut slow);
            assert_eq!(fast, slow, "{x:?}");
        }
    }

    #[test]
    fn select_and_project() {
        let t = sample().select(&[1, 0]).project(&["n", "id", "missing"]);
        assert_eq!(t.columns.len(), 2);
        assert_eq!(t.column("n"), Some(&Values::Int(vec![-2, 1])));
        assert_eq!(
            t.column("id"),
            Some(&Values::text(vec!["b\"q".into(), "a".into()]))
        );
    }

    #[test]
    fn text_rendering_is_aligned_and_truncated() {
        let text = sample().render_text(1);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "id  n    x  m           d");
        assert_eq!(lines[1], "a   1  0.1  -  1970-01-01");
        assert!(lines[2].starts_with("… 1 more rows"));
    }
}
