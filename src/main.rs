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

/// mimalloc: at a million customers the work is dominated by a few hundred MB of short-lived
/// arenas and tables, and glibc's malloc spent a tenth of `clv summary`'s time in page faults
/// and unmapping for them (1.3 s -> 1.05 s wall, BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Commit memory as it is used and give freed memory back at once: mimalloc's defaults (commit
/// whole arenas up front, purge after 10 ms) took `clv score` at 1,000,000 customers to 401 MB
/// peak RSS; with these, 318 MB (and `clv summary` 228 MB), and both ran faster for touching
/// fewer pages. It runs as a constructor, before the first allocation creates an arena: set in
/// `main`, the commit option came too late.
extern "C" fn configure_allocator() {
    // Option numbers from mimalloc.h (the Rust bindings name only a few of them).
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets two allocator options; runs before main, on the only thread.
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
    }
}

#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static CONFIGURE_ALLOCATOR: extern "C" fn() = configure_allocator;

fn main() -> ExitCode {
    #[cfg(not(target_os = "linux"))]
    configure_allocator();
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
