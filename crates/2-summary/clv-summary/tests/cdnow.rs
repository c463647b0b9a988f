//! The CDNOW sample against lifetimes' own summaries (fixtures written by
//! `tools/fixtures/summary_fixtures.py`) and the figures the literature quotes for it.

use clv_data::{read_delimited_sharded, ColumnSpec, DateParser, ReadOptions, RejectLog, TimeUnit};
use clv_summary::{summary_rows, Histories, Ledger, LedgerOptions, SummaryOptions, SummaryRow};
use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../tests/data")
        .join(name)
}

fn cdnow(calibration_end: Option<&str>, observation_end: &str) -> Histories {
    let dates = DateParser::utc();
    let options = ReadOptions {
        columns: ColumnSpec {
            customer: Some("2".into()),
            date: Some("3".into()),
            amount: Some("5".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut ledger = Ledger::new(LedgerOptions {
        period: clv_data::Period::Day,
        observation_end: dates.parse_end_bound(observation_end),
        calibration_end: calibration_end.and_then(|c| dates.parse_end_bound(c)),
        threads: 2,
    });
    let mut rejects = RejectLog::new(true);
    let report = read_delimited_sharded(
        &data("CDNOW_sample.txt"),
        &options,
        &dates,
        &mut rejects,
        &mut |_| {},
        &mut ledger,
    )
    .expect("CDNOW reads cleanly");
    assert_eq!(
        (report.rows, report.accepted, report.header),
        (6919, 6919, false)
    );
    ledger.finish().expect("orders")
}

fn weekly(histories: &Histories) -> Vec<SummaryRow<'_>> {
    summary_rows(
        histories,
        SummaryOptions {
            time_unit: TimeUnit::Week,
            include_first: false,
            threads: 2,
        },
    )
}

type Fixture = BTreeMap<String, BTreeMap<String, f64>>;

fn fixture(name: &str) -> Fixture {
    let mut reader = csv::Reader::from_path(data(name)).expect("fixture exists");
    let headers = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            let values = headers
                .iter()
                .zip(r.iter())
                .skip(1)
                .map(|(h, v)| (h.to_string(), v.parse::<f64>().unwrap()))
                .collect();
            (r[0].to_string(), values)
        })
        .collect()
}

fn assert_close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: clv {got} vs lifetimes {want}"
    );
}

/// Every customer's row equals lifetimes' `(column in clv, column in lifetimes)`.
fn compare(rows: &[SummaryRow], fixture: &Fixture, suffix: &str, holdout: bool) {
    assert_eq!(rows.len(), fixture.len());
    for row in rows {
        let want = &fixture[row.customer_id];
        let col = |name: &str| want[&format!("{name}{suffix}")];
        let id = &row.customer_id;
        assert_close(
            &format!("{id} frequency"),
            row.frequency as f64,
            col("frequency"),
        );
        assert_close(&format!("{id} recency"), row.recency, col("recency"));
        assert_close(&format!("{id} T"), row.t, col("T"));
        assert_close(
            &format!("{id} monetary"),
            row.monetary_value,
            col("monetary_value"),
        );
        if holdout {
            let h = row.holdout.expect("holdout columns");
            assert_close(
                &format!("{id} f_h"),
                h.frequency as f64,
                want["frequency_holdout"],
            );
            assert_close(
                &format!("{id} m_h"),
                h.monetary_value,
                want["monetary_value_holdout"],
            );
            assert_close(&format!("{id} d_h"), h.duration, want["duration_holdout"]);
        }
    }
}

#[test]
fn calibration_and_holdout_match_lifetimes() {
    let histories = cdnow(Some("1997-09-30"), "1998-06-30");
    let rows = weekly(&histories);
    // The figures the issue and the BG/NBD literature quote for this split.
    assert_eq!(rows.len(), 2357);
    assert_eq!(rows.iter().map(|r| r.frequency).sum::<u64>(), 2457);
    let holdout: u64 = rows.iter().map(|r| r.holdout.unwrap().frequency).sum();
    assert_eq!(holdout, 1882);
    let distinct: HashSet<(u64, u64, u64)> = rows
        .iter()
        .map(|r| (r.frequency, r.recency.to_bits(), r.t.to_bits()))
        .collect();
    assert_eq!(distinct.len(), 1016);
    let first_day = rows
        .iter()
        .find(|r| r.first_purchase == 852_076_800)
        .unwrap();
    assert!((first_day.t - 38.857).abs() < 5e-4, "{}", first_day.t);
    compare(
        &rows,
        &fixture("cdnow_calibration_holdout_lifetimes.csv"),
        "_cal",
        true,
    );
}

#[test]
fn full_period_summary_matches_lifetimes() {
    let histories = cdnow(None, "1998-06-30");
    let rows = weekly(&histories);
    compare(&rows, &fixture("cdnow_summary_lifetimes.csv"), "", false);
    // Revenue is every dollar the customer spent, first purchase included.
    let raw_total: f64 = std::fs::read_to_string(data("CDNOW_sample.txt"))
        .unwrap()
        .lines()
        .map(|l| l.split_whitespace().nth(4).unwrap().parse::<f64>().unwrap())
        .sum();
    let revenue: f64 = rows.iter().map(|r| r.revenue).sum();
    assert!(
        (revenue - raw_total).abs() < 1e-6,
        "{revenue} vs {raw_total}"
    );
}

#[test]
fn monthly_activity_matches_a_count_of_the_raw_lines() {
    let histories = cdnow(None, "1998-06-30");
    let months = clv_summary::monthly(&histories);
    // The file's lines by month (YYYYMMDD dates): revenue, distinct buyers, buyers seen first.
    let text = std::fs::read_to_string(data("CDNOW_sample.txt")).unwrap();
    let mut naive: BTreeMap<String, (f64, HashSet<String>, HashSet<String>)> = BTreeMap::new();
    let mut seen = HashSet::new();
    let mut lines: Vec<(String, String, f64)> = text
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let month = format!("{}-{}", &f[2][..4], &f[2][4..6]);
            (month, f[1].to_string(), f[4].parse().unwrap())
        })
        .collect();
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    for (month, customer, value) in lines {
        let e = naive.entry(month).or_default();
        e.0 += value;
        if seen.insert(customer.clone()) {
            e.2.insert(customer.clone());
        }
        e.1.insert(customer);
    }
    // January 1997 to June 1998: every month, in order.
    assert_eq!(months.len(), 18);
    assert_eq!(months.first().unwrap().month, "1997-01");
    assert_eq!(months.last().unwrap().month, "1998-06");
    for m in &months {
        let (revenue, active, new) = &naive[&m.month];
        assert!(
            (m.revenue - revenue).abs() < 1e-6,
            "{}: {} vs {revenue}",
            m.month,
            m.revenue
        );
        assert_eq!(m.active_customers, active.len() as u64, "{}", m.month);
        assert_eq!(m.new_customers, new.len() as u64, "{}", m.month);
    }
}
