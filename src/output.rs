//! Writing a result table in the format the user asked for.

use crate::cli::{OutputArgs, OutputFormat};
use anyhow::{bail, Context, Result};
use clv_data::{ChunkedTable, Table};
use std::fs::File;
use std::io::{self, BufWriter, Write};

/// Rows shown by `--format table` on the terminal.
const TERMINAL_ROWS: usize = 20;

/// The explicit `--format`, else what the `-o` extension says, else a terminal table.
pub fn resolve_format(out: &OutputArgs) -> OutputFormat {
    let by_extension = || {
        let ext = out.output.as_ref()?.extension()?.to_str()?.to_ascii_lowercase();
        Some(match ext.as_str() {
            "json" => OutputFormat::Json,
            "parquet" | "pq" => OutputFormat::Parquet,
            "txt" => OutputFormat::Table,
            _ => OutputFormat::Csv,
        })
    };
    out.format.or_else(by_extension).unwrap_or(OutputFormat::Table)
}

/// A result table to write: whole, or built a run of rows at a time.
enum Rows<'t, 'a> {
    Whole(&'t Table<'a>),
    Chunked(&'t ChunkedTable<'a>),
}

/// Write `table` (CSV formatted on `threads` threads); `--format table` prints the first rows.
/// Returns true when it went to a file.
pub fn write_table(table: &Table<'_>, out: &OutputArgs, threads: usize) -> Result<bool> {
    write_timed(Rows::Whole(table), out, threads)
}

/// Like [`write_table`]; CSV is formatted run by run without building the whole table.
pub fn write_chunked(table: &ChunkedTable<'_>, out: &OutputArgs, threads: usize) -> Result<bool> {
    write_timed(Rows::Chunked(table), out, threads)
}

/// Write a rendered page (a terminal table or a JSON document) to `-o`, else stdout.
pub fn write_text(out: &OutputArgs, text: &str) -> Result<()> {
    match &out.output {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

/// Write `table` to `path`, in the format its extension says.
pub fn write_to(table: &Table<'_>, path: &std::path::Path, threads: usize) -> Result<bool> {
    let out = OutputArgs { format: None, output: Some(path.to_path_buf()) };
    write_table(table, &out, threads)
}

fn write_timed(result: Rows<'_, '_>, out: &OutputArgs, threads: usize) -> Result<bool> {
    let started = std::time::Instant::now();
    let written = write_untimed(result, out, threads);
    tracing::info!(elapsed = ?started.elapsed(), "write");
    written
}

fn write_untimed(result: Rows<'_, '_>, out: &OutputArgs, threads: usize) -> Result<bool> {
    let to_file = |f: &dyn Fn(&mut dyn Write) -> io::Result<()>| -> Result<()> {
        match &out.output {
            Some(path) => {
                let mut w = BufWriter::with_capacity(
                    1 << 20,
                    File::create(path)
                        .with_context(|| format!("cannot create {}", path.display()))?,
                );
                f(&mut w)
                    .and_then(|_| w.flush())
                    .with_context(|| format!("writing {}", path.display()))
            }
            None => {
                let stdout = io::stdout();
                let mut w = BufWriter::with_capacity(1 << 20, stdout.lock());
                f(&mut w).and_then(|_| w.flush()).context("writing to stdout")
            }
        }
    };
    let format = resolve_format(out);
    if let (Rows::Chunked(table), OutputFormat::Csv) = (&result, format) {
        to_file(&|w| table.write_csv(w, threads))?;
        return Ok(wrote(table.rows(), out));
    }
    let whole;
    let table = match result {
        Rows::Whole(table) => table,
        Rows::Chunked(table) => {
            whole = table.whole();
            &whole
        }
    };
    match format {
        OutputFormat::Table => match &out.output {
            Some(_) => to_file(&|w| w.write_all(table.render_text(usize::MAX).as_bytes()))?,
            None => print!("{}", table.render_text(TERMINAL_ROWS)),
        },
        OutputFormat::Csv => to_file(&|w| table.write_csv(w, threads))?,
        OutputFormat::Json => to_file(&|w| table.write_json(w))?,
        OutputFormat::Parquet => match &out.output {
            Some(path) => clv_parquet::write_parquet(table, path)?,
            None => bail!("--format parquet needs an output file: add -o FILE.parquet"),
        },
    }
    Ok(wrote(table.rows(), out))
}

/// Tell the user where the rows went; true when they went to a file.
fn wrote(rows: usize, out: &OutputArgs) -> bool {
    if let Some(path) = &out.output {
        eprintln!("wrote {} rows to {}", clv_data::thousands(rows as u64), path.display());
    }
    out.output.is_some()
}
