//! `clv`: the command-line front end. It parses arguments, calls the library crates, and is the
//! only place that talks to the terminal.

mod bootstrap;
mod cli;
mod commands;
mod input;
mod modeling;
mod output;
mod report;
mod segments;
mod validate;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

/// glibc raises its mmap threshold each time a large block is freed, after which the ledger's
/// partition arenas land on the brk heap and are never returned: peak RSS of a 1,000,000-customer
/// summary went from 243 MB to 325 MB that way. A fixed threshold keeps large arenas mmapped, so
/// memory freed after aggregation really goes back (BENCHMARKS.md).
fn keep_large_allocations_returnable() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

fn main() -> ExitCode {
    keep_large_allocations_returnable();
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into()),
        )
        .init();
    let result = match &cli.command {
        Command::Summary(args) => commands::summary(args),
        Command::Metrics(args) => commands::metrics(args),
        Command::Fit(args) => modeling::fit(args),
        Command::Score(args) => modeling::score(args),
        Command::Validate(args) => validate::validate(args),
        Command::Retention(args) => modeling::retention(args),
        Command::Segments(args) => segments::segments(args),
        Command::Customer(args) => segments::customer(args),
        Command::Replenish(args) => segments::replenish(args),
        Command::CrossSell(args) => segments::cross_sell(args),
        Command::Report(args) => report::report(args),
        Command::Simulate(args) => commands::simulate(args),
        Command::Demo => commands::demo(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`clv summary … | head`) is not an error worth reporting.
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
