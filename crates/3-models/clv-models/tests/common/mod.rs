//! Shared test data: the CDNOW 39-week calibration summary written by lifetimes'
//! `calibration_and_holdout_data` (tools/fixtures/summary_fixtures.py).
#![allow(dead_code)] // each test file uses a subset

use clv_models::{Patterns, SpendPattern};
use std::collections::HashMap;

/// A file under the repository's tests/data.
pub fn data_file(name: &str) -> String {
    format!("{}/../../../tests/data/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// One map per customer: column name → value.
fn cdnow_rows() -> Vec<HashMap<String, f64>> {
    let mut reader =
        csv::Reader::from_path(data_file("cdnow_calibration_holdout_lifetimes.csv")).unwrap();
    reader
        .deserialize::<HashMap<String, String>>()
        .map(|r| {
            r.unwrap()
                .into_iter()
                .filter_map(|(k, v)| v.parse::<f64>().ok().map(|v| (k, v)))
                .collect()
        })
        .collect()
}

/// CDNOW (x, t_x, T) in weeks, compressed.
pub fn cdnow() -> Patterns {
    Patterns::compress(
        cdnow_rows()
            .iter()
            .map(|r| (r["frequency_cal"], r["recency_cal"], r["T_cal"])),
    )
}

/// CDNOW's repeat buyers: repeat purchases and mean repeat spend.
pub fn cdnow_repeat_buyers() -> Vec<SpendPattern> {
    cdnow_rows()
        .iter()
        .filter(|r| r["frequency_cal"] > 0.0)
        .map(|r| SpendPattern {
            x: r["frequency_cal"],
            m: r["monetary_value_cal"],
            weight: 1.0,
        })
        .collect()
}

/// The donations data (Fader, Hardie & Shang 2010): (x, t_x, n) patterns with their counts.
pub fn donations() -> Vec<clv_models::Pattern> {
    let mut reader = csv::Reader::from_path(data_file("donations.csv")).unwrap();
    reader
        .deserialize::<HashMap<String, f64>>()
        .map(|r| {
            let r = r.unwrap();
            clv_models::Pattern {
                x: r["frequency"],
                t_x: r["recency"],
                t: r["periods"],
                weight: r["weights"],
            }
        })
        .collect()
}

/// `got` within `tolerance` (relative) of `want`.
pub fn close(what: &str, got: f64, want: f64, tolerance: f64) {
    assert!(
        (got - want).abs() <= tolerance * want.abs().max(1e-12),
        "{what}: clv {got} vs {want}"
    );
}
