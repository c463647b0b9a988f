//! Property test: the streaming, partitioned ledger gives exactly what a naive recomputation of
//! the documented rules gives, on random logs with same-period orders, multi-line orders, refunds
//! with and without order ids, free orders, a calibration cut and an observation end, in any
//! input order, fed line by line or read back from a CSV file in blocks on every core.

use clv_data::time::DAY;
use clv_data::{
    read_delimited_sharded, ColumnSpec, DateParser, OrderLine, Period, ReadOptions, RejectLog,
    SerialFeed, TimeUnit,
};
use clv_summary::{
    summary_chunked, summary_rows, summary_table, Ledger, LedgerOptions, SummaryOptions,
};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone)]
struct Line {
    customer: String,
    time: i64,
    value: f64,
    order: Option<String>,
}

/// What the summary should say for one customer.
#[derive(Debug, Clone, PartialEq)]
struct Expected {
    frequency: u64,
    recency_days: f64,
    t_days: f64,
    monetary: f64,
    orders: u64,
    revenue: f64,
    holdout_frequency: u64,
    holdout_monetary: f64,
}

/// Counted purchase periods (period start day -> net value) of one customer's window, plus
/// orders and revenue, by the README's rules applied line by line. `known` holds the order ids
/// of the customer's purchases in both windows.
fn window(lines: &[&Line], known: &BTreeSet<&String>) -> (BTreeMap<i64, f64>, u64, f64) {
    let revenue = lines.iter().map(|l| l.value).sum();
    let purchases: Vec<&&Line> = lines
        .iter()
        .filter(|l| !l.value.is_sign_negative())
        .collect();
    let mut value: BTreeMap<i64, f64> = BTreeMap::new();
    let mut refunded: BTreeSet<i64> = BTreeSet::new();
    for p in &purchases {
        *value.entry(p.time.div_euclid(DAY)).or_default() += p.value;
    }
    for r in lines.iter().filter(|l| l.value.is_sign_negative()) {
        let latest_before = || {
            purchases
                .iter()
                .filter(|p| p.time <= r.time)
                .max_by_key(|p| p.time)
        };
        let target = match &r.order {
            // Into the order's earliest line; an order of the other window: unmatched.
            Some(o) if known.contains(o) => purchases
                .iter()
                .filter(|p| p.order.as_ref() == Some(o))
                .min_by_key(|p| p.time),
            // An order id no purchase has, or none: the latest purchase on or before it.
            _ => latest_before(),
        };
        if let Some(p) = target {
            let day = p.time.div_euclid(DAY);
            *value.get_mut(&day).unwrap() += r.value;
            refunded.insert(day);
        }
    }
    value.retain(|day, v| *v > 0.0 || (*v == 0.0 && !refunded.contains(day)));
    let with_id: BTreeSet<&String> = purchases.iter().filter_map(|p| p.order.as_ref()).collect();
    let orders =
        with_id.len() as u64 + purchases.iter().filter(|p| p.order.is_none()).count() as u64;
    (value, orders, revenue)
}

fn naive(lines: &[Line], calibration_end: i64, observation_end: i64) -> BTreeMap<String, Expected> {
    let mut by_customer: BTreeMap<&str, Vec<&Line>> = BTreeMap::new();
    for l in lines.iter().filter(|l| l.time <= observation_end) {
        by_customer.entry(&l.customer).or_default().push(l);
    }
    let mut out = BTreeMap::new();
    for (id, lines) in by_customer {
        let (main, hold): (Vec<&Line>, Vec<&Line>) =
            lines.iter().partition(|l| l.time <= calibration_end);
        let known: BTreeSet<&String> = lines
            .iter()
            .filter(|l| !l.value.is_sign_negative())
            .filter_map(|l| l.order.as_ref())
            .collect();
        let (periods, orders, revenue) = window(&main, &known);
        let (holdout, _, _) = window(&hold, &known);
        let Some((&first, _)) = periods.first_key_value() else {
            continue;
        };
        let last = *periods.last_key_value().unwrap().0;
        let repeat: Vec<f64> = periods.values().skip(1).copied().collect();
        let mean = |v: &[f64]| {
            if v.is_empty() {
                0.0
            } else {
                v.iter().sum::<f64>() / v.len() as f64
            }
        };
        let holdout_values: Vec<f64> = holdout.values().copied().collect();
        out.insert(
            id.to_string(),
            Expected {
                frequency: repeat.len() as u64,
                recency_days: (last - first) as f64,
                t_days: (calibration_end.div_euclid(DAY) - first) as f64,
                monetary: mean(&repeat),
                orders,
                revenue,
                holdout_frequency: holdout.len() as u64,
                holdout_monetary: mean(&holdout_values),
            },
        );
    }
    out
}

/// How the lines reach the ledger.
#[derive(Debug, Clone, Copy)]
enum Feed {
    /// One at a time, on this thread.
    Direct,
    /// Written to a CSV file and read back on every core in blocks of this many bytes.
    File { block_bytes: usize },
}

fn streamed(
    lines: &[Line],
    calibration_end: i64,
    observation_end: i64,
    feed: Feed,
) -> BTreeMap<String, Expected> {
    let mut ledger = Ledger::new(LedgerOptions {
        period: Period::Day,
        observation_end: Some(observation_end),
        calibration_end: Some(calibration_end),
        threads: 2,
    });
    match feed {
        Feed::Direct => {
            let mut feed = SerialFeed::new(&mut ledger);
            for l in lines {
                feed.push(&OrderLine {
                    description: None,
                    customer: l.customer.as_bytes(),
                    time: l.time,
                    value: l.value,
                    order: l.order.as_deref().map(str::as_bytes),
                    sku: None,
                    quantity: 1.0,
                });
            }
        }
        Feed::File { block_bytes } => {
            let mut text = String::from("customer,time,amount,order\n");
            for l in lines {
                let time = chrono::DateTime::from_timestamp(l.time, 0).unwrap();
                text += &format!(
                    "{},{},{},{}\n",
                    l.customer,
                    time.format("%Y-%m-%dT%H:%M:%S"),
                    l.value,
                    l.order.as_deref().unwrap_or("")
                );
            }
            let mut file = tempfile::NamedTempFile::new().unwrap();
            std::io::Write::write_all(&mut file, text.as_bytes()).unwrap();
            let options = ReadOptions {
                columns: ColumnSpec {
                    date: Some("time".into()),
                    order: Some("order".into()),
                    ..Default::default()
                },
                block_bytes: Some(block_bytes),
                threads: 2,
                ..Default::default()
            };
            let mut rejects = RejectLog::new(true);
            let report = read_delimited_sharded(
                file.path(),
                &options,
                &DateParser::utc(),
                &mut rejects,
                &mut |_| {},
                &mut ledger,
            )
            .unwrap();
            assert_eq!(report.accepted, lines.len() as u64);
        }
    }
    let Some(h) = ledger.finish() else {
        return BTreeMap::new();
    };
    let options = SummaryOptions {
        time_unit: TimeUnit::Day,
        include_first: false,
        threads: 2,
    };
    // Walking the customers as stored gives the same histories as walking them in id order,
    // and the summary written run by run is the whole table's text.
    let mut stored: Vec<_> = h.iter_stored().collect();
    let mut in_order: Vec<_> = h.iter().collect();
    let ids: Vec<&str> = in_order.iter().map(|c| c.id).collect();
    let mut want_ids = ids.clone();
    want_ids.sort_by(|a, b| naive_id_order(a, b));
    assert_eq!(ids, want_ids);
    stored.sort_by_key(|c| c.id);
    in_order.sort_by_key(|c| c.id);
    assert_eq!(stored, in_order);
    // The tallies counted while netting equal counting the histories.
    let repeat: usize = in_order.iter().map(|c| c.main.periods.len() - 1).sum();
    let holdout: usize = in_order
        .iter()
        .map(|c| c.holdout.map_or(0, |w| w.periods.len()))
        .sum();
    assert_eq!(h.repeat_purchases(), repeat as u64);
    assert_eq!(h.holdout_purchases(), holdout as u64);
    let n = h.len();
    assert_eq!(h.range(1.min(n)..n + 3).len(), n - 1.min(n));
    assert_eq!(h.range(n + 2..n + 1).len(), 0);
    let (mut whole, mut chunked) = (Vec::new(), Vec::new());
    summary_table(&h, options).write_csv(&mut whole, 2).unwrap();
    summary_chunked(&h, options)
        .write_csv(&mut chunked, 2)
        .unwrap();
    assert_eq!(whole, chunked);
    summary_rows(&h, options)
        .into_iter()
        .map(|r| {
            let hold = r.holdout.unwrap();
            (
                r.customer_id.to_string(),
                Expected {
                    frequency: r.frequency,
                    recency_days: r.recency,
                    t_days: r.t,
                    monetary: r.monetary_value,
                    orders: r.orders,
                    revenue: r.revenue,
                    holdout_frequency: hold.frequency,
                    holdout_monetary: hold.monetary_value,
                },
            )
        })
        .collect()
}

/// The documented output order: ids of up to 38 digits by numeric value (equal values by their
/// text), before all other ids, which go by their bytes.
fn naive_id_order(a: &str, b: &str) -> std::cmp::Ordering {
    let number = |s: &str| {
        (!s.is_empty() && s.len() <= 38 && s.bytes().all(|c| c.is_ascii_digit()))
            .then(|| s.parse::<u128>().unwrap())
    };
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.cmp(&y).then(a.cmp(b)),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => a.cmp(b),
    }
}

/// Enough customers for every partition to hold a long run: the merge into id order against a
/// plain sort, with numeric, zero-padded, long (beyond the 15-byte key) and short text ids.
#[test]
fn id_order_of_many_customers() {
    let mut ledger = Ledger::new(LedgerOptions {
        period: Period::Day,
        observation_end: None,
        calibration_end: None,
        threads: 2,
    });
    let mut ids: Vec<String> = (0..40_000u64)
        .map(|i| {
            let n = i.wrapping_mul(2_654_435_761) % 1_000_003;
            match i % 7 {
                0 => format!("{n}"),
                1 => format!("{n:09}"),
                2 => format!("customer-with-a-long-prefix-{n}"),
                3 => format!("{}", u128::from(n) * 10u128.pow(30)),
                // Around the 16 bytes a hash-table slot holds: the same first 8 or 16 bytes.
                4 => format!("{n:016}"),
                5 => format!("{n:017}"),
                _ => format!("x{n}"),
            }
        })
        .collect();
    {
        let mut feed = SerialFeed::new(&mut ledger);
        for id in &ids {
            feed.push(&OrderLine {
                description: None,
                customer: id.as_bytes(),
                time: 0,
                value: 1.0,
                order: None,
                sku: None,
                quantity: 1.0,
            });
        }
    }
    let h = ledger.finish().unwrap();
    ids.sort_by(|a, b| naive_id_order(a, b));
    ids.dedup();
    let got: Vec<&str> = h.iter().map(|c| c.id).collect();
    assert_eq!(got, ids);
}

fn line() -> impl Strategy<Value = Line> {
    (
        0u32..12,
        0i64..40 * DAY,
        // A small menu of amounts so refunds cancel whole periods exactly now and then.
        prop::sample::select(vec![0u32, 500, 750, 1000, 2000, 1999]),
        any::<bool>(),
        prop::option::of(0u32..4),
    )
        .prop_map(|(c, time, cents, is_return, order)| {
            let amount = cents as f64 / 100.0;
            Line {
                // Numeric ids (some with leading zeros) sort by value, before text ids.
                customer: match c % 3 {
                    0 => format!("{c}"),
                    1 => format!("0{c}"),
                    _ => format!("c{c}"),
                },
                time,
                value: if is_return && amount > 0.0 {
                    -amount
                } else {
                    amount
                },
                order: order.map(|o| format!("o{c}-{o}")),
            }
        })
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * (1.0 + a.abs().max(b.abs()))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn streaming_equals_naive(
        mut lines in prop::collection::vec(line(), 1..120),
        calibration_day in 10i64..30,
        reverse in any::<bool>(),
        block_bytes in 1usize..400,
    ) {
        // Returns are dated after some purchase more often than not; keep the raw order random.
        if reverse {
            lines.reverse();
        }
        let calibration_end = calibration_day * DAY + DAY - 1;
        let observation_end = 36 * DAY - 1;
        let want = naive(&lines, calibration_end, observation_end);
        for feed in [Feed::Direct, Feed::File { block_bytes }] {
        let got = streamed(&lines, calibration_end, observation_end, feed);
        prop_assert_eq!(want.keys().collect::<Vec<_>>(), got.keys().collect::<Vec<_>>());
        for (id, w) in &want {
            let g = &got[id];
            prop_assert_eq!((g.frequency, g.orders, g.holdout_frequency), (w.frequency, w.orders, w.holdout_frequency), "{}", id);
            for (a, b) in [
                (g.recency_days, w.recency_days),
                (g.t_days, w.t_days),
                (g.monetary, w.monetary),
                (g.revenue, w.revenue),
                (g.holdout_monetary, w.holdout_monetary),
            ] {
                prop_assert!(close(a, b), "{}: {:?} vs {:?} ({:?})", id, g, w, feed);
            }
        }
        }
    }
}
