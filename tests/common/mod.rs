//! What the binary's test files share: running `clv`, where the committed data is and how the
//! CDNOW sample is read.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `clv ARGS`, run to the end.
pub fn clv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_clv"))
        .args(args)
        .output()
        .expect("clv runs")
}

/// A file under `tests/data`.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The CDNOW sample's columns: whitespace-separated master id, customer id, yyyymmdd, CDs,
/// dollars, no header.
pub const CDNOW_COLUMNS: [&str; 6] = [
    "--customer-col",
    "2",
    "--date-col",
    "3",
    "--amount-col",
    "5",
];
