//! `clv`: the command-line front end. It parses arguments into the libraries' typed configs,
//! calls the library crates, and is the only place that talks to the terminal.

mod cli;
mod commands;
mod demo;
mod input;
mod modeling;
mod output;
mod progress;
mod segments;
mod serve;

use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

/// mimalloc where it is built (Linux with glibc): at a million customers the work is dominated by
/// a few hundred MB of short-lived arenas and tables, and glibc's malloc spent a tenth of
/// `clv summary`'s time in page faults and unmapping for them (1.3 s -> 1.05 s wall,
/// BENCHMARKS.md). Other targets use the system allocator.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Commit memory as it is used and give freed memory back at once: mimalloc's defaults (commit
/// whole arenas up front, purge after 10 ms) took `clv score` at 1,000,000 customers to 401 MB
/// peak RSS; with these, 318 MB (and `clv summary` 228 MB), and both ran faster for touching
/// fewer pages. It runs as a constructor, before the first allocation creates an arena: set in
/// `main`, the commit option came too late.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
extern "C" fn configure_allocator() {
    // Option numbers from mimalloc.h (the Rust bindings name only a few of them).
    const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;
    const PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
    // SAFETY: sets two allocator options; runs before main, on the only thread. One of the two
    // documented uses of `unsafe` (ARCHITECTURE.md).
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0);
        libmimalloc_sys::mi_option_set(PURGE_DELAY, 0);
    }
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[used]
#[allow(unsafe_code)] // the constructor above: the same documented use
#[unsafe(link_section = ".init_array")]
static CONFIGURE_ALLOCATOR: extern "C" fn() = configure_allocator;

/// The threads `--threads` allows: every core by default.
pub fn threads(cli: &Cli) -> usize {
    let cores = || std::thread::available_parallelism().map_or(1, |n| n.get());
    cli.threads.unwrap_or_else(cores).max(1)
}

/// Run one parsed command line.
pub fn run(cli: &Cli) -> anyhow::Result<()> {
    let threads = threads(cli);
    match &cli.command {
        Command::Summary(args) => commands::summary(args, threads),
        Command::Metrics(args) => commands::metrics(args, threads),
        Command::Fit(args) => modeling::fit(args, threads),
        Command::Score(args) => modeling::score(args, threads),
        Command::Validate(args) => modeling::validate(args, threads),
        Command::Retention(args) => modeling::retention(args, threads),
        Command::Segments(args) => segments::segments(args, threads),
        Command::Customer(args) => segments::customer(args, threads),
        Command::Replenish(args) => segments::replenish(args, threads),
        Command::CrossSell(args) => segments::cross_sell(args, threads),
        Command::Report(args) => segments::report(args, threads),
        Command::Simulate(args) => commands::simulate(args, threads),
        Command::Serve(args) => serve::serve(args, threads),
        Command::Shop(command) => serve::shop(command),
        Command::Store(command) => serve::store(command),
        Command::Journeys(command) => serve::journeys(command),
        Command::Import(args) => serve::import(args, threads),
        Command::Demo => demo::demo(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    use std::io::IsTerminal;
    let logs = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // Colour only on a terminal: a redirected log stays plain text.
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| level.into()),
        );
    match &cli.command {
        Command::Serve(args) if args.log_json => logs.json().init(),
        _ => logs.init(),
    }
    match progress::watching(|| run(&cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // A closed pipe (`clv summary … | head`) is not an error worth reporting.
            let broken = |io: &std::io::Error| io.kind() == std::io::ErrorKind::BrokenPipe;
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>().is_some_and(broken)
                    || matches!(c.downcast_ref(), Some(clv_data::DataError::Io { cause, .. }) if broken(cause))
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
