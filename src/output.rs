//! Writing a result table where and in the format the user asked for.

use crate::cli::OutputArgs;
use anyhow::{bail, Context, Result};
use clv_data::{ChunkedTable, Table};
use clv_parquet::{Rows, TableFormat};
use std::io::{self, BufWriter};

/// Rows shown by `--format table` on the terminal.
const TERMINAL_ROWS: usize = 20;

/// The explicit `--format`, else what the `-o` extension says, else a terminal table.
pub fn resolve_format(out: &OutputArgs) -> TableFormat {
    let by_extension = || out.output.as_deref().map(TableFormat::of);
    out.format.or_else(by_extension).unwrap_or(TableFormat::Text)
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

fn write_timed(rows: Rows<'_, '_>, out: &OutputArgs, threads: usize) -> Result<bool> {
    let started = std::time::Instant::now();
    let format = resolve_format(out);
    match &out.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let file = BufWriter::with_capacity(1 << 20, file);
            clv_parquet::write_rows(rows, format, file, threads, &path.display().to_string())?;
            let n = clv_data::thousands(rows.len() as u64);
            eprintln!("wrote {n} rows to {}", path.display());
        }
        None => match (format, rows) {
            (TableFormat::Text, Rows::Whole(t)) => print!("{}", t.render_text(TERMINAL_ROWS)),
            (TableFormat::Text, Rows::Chunked(t)) => {
                print!("{}", t.whole().render_text(TERMINAL_ROWS))
            }
            (TableFormat::Parquet, _) => {
                bail!("--format parquet needs an output file: add -o FILE.parquet")
            }
            _ => {
                let stdout = BufWriter::with_capacity(1 << 20, io::stdout());
                clv_parquet::write_rows(rows, format, stdout, threads, "stdout")?;
            }
        },
    }
    tracing::info!(elapsed = ?started.elapsed(), "write");
    Ok(out.output.is_some())
}
