//! Every rejection reason and every returns rule, each on a small malformed file, checked through
//! the reader and the ledger together (one data-driven helper, one table of cases).

use clv_data::{
    read_delimited, read_delimited_sharded, read_delimited_sharded_from, ColumnSpec, DateParser,
    Period, ReadOptions, RejectLog, SerialFeed, TimeUnit,
};
use clv_summary::{summary_rows, Ledger, LedgerOptions, SummaryOptions};
use std::io::Write;

struct Case {
    name: &'static str,
    csv: &'static str,
    observation_end: Option<&'static str>,
    /// (line, column, value, reason code)
    rejects: &'static [(u64, &'static str, &'static str, &'static str)],
    /// (customer, frequency, monetary_value, revenue, orders)
    customers: &'static [(&'static str, u64, f64, f64, u64)],
    /// Non-zero ledger counters by name; every other counter must be zero.
    stats: &'static [(&'static str, f64)],
}

const CASES: &[Case] = &[
    Case {
        name: "byte-order mark, CRLF, a blank line, and quoted fields part-way through",
        csv: "\u{feff}customer,date,amount\r\n\
              c1,2024-01-01,10\r\n\
              \r\n\
              c2,2024-01-02,5\r\n\
              c1,2024-01-03,\"1,000.50\"\r\n\
              \"c,3\",2024-01-04,2\r\n\
              c2,x,1\r\n",
        observation_end: None,
        rejects: &[(7, "date", "x", "bad_date")],
        customers: &[
            ("c,3", 0, 0.0, 2.0, 1),
            ("c1", 1, 1000.5, 1010.5, 2),
            ("c2", 0, 0.0, 5.0, 1),
        ],
        stats: &[("lines", 4.0)],
    },
    Case {
        name: "each reject reason",
        csv: "customer,date,quantity,price\n\
              c1,2024-01-01,1,10\n\
              ,2024-01-02,1,10\n\
              c1,02/01/2024,1,10\n\
              c1,2024-01-03,x,10\n\
              c1,2024-01-04,1,ten\n\
              c1,2024-01-05\n\
              c1,2024-01-06,2,5.5\n",
        observation_end: None,
        rejects: &[
            (3, "customer", "", "missing_customer"),
            (4, "date", "02/01/2024", "bad_date"),
            (5, "quantity", "x", "bad_quantity"),
            (6, "price", "ten", "bad_price"),
            (7, "quantity", "", "short_row"),
        ],
        customers: &[("c1", 1, 11.0, 21.0, 2)],
        stats: &[("lines", 2.0)],
    },
    Case {
        name: "bad amount, and rows after the observation end are counted, not rejected",
        csv: "customer_id,order_date,total\nc1,2024-01-01,10\nc1,2024-01-02,N/A\nc1,2024-02-01,7\nc1,2024-03-01,9\n",
        observation_end: Some("2024-02-15"),
        rejects: &[(3, "total", "N/A", "bad_amount")],
        customers: &[("c1", 1, 7.0, 17.0, 2)],
        stats: &[
            ("lines", 3.0),
            ("after_observation_end", 1.0),
            ("value_after_observation_end", 9.0),
        ],
    },
    Case {
        name: "a refund with an order id nets into its order's day, not the refund's",
        csv: "customer,order_id,date,amount\n\
              c1,A,2024-01-01,50\n\
              c1,B,2024-01-10,30\n\
              c1,A,2024-01-20,-20\n",
        observation_end: None,
        rejects: &[],
        // Days: Jan 1 (50 − 20 = 30), Jan 10 (30). No Jan 20 purchase.
        customers: &[("c1", 1, 30.0, 60.0, 2)],
        stats: &[("lines", 3.0), ("return_lines", 1.0), ("returns_matched_by_order", 1.0)],
    },
    Case {
        name: "a full refund cancels the purchase period",
        csv: "customer,order_id,date,amount\n\
              c1,A,2024-01-01,50\n\
              c1,B,2024-01-10,30\n\
              c1,B,2024-01-12,-30\n",
        observation_end: None,
        rejects: &[],
        customers: &[("c1", 0, 0.0, 50.0, 2)],
        stats: &[
            ("lines", 3.0),
            ("return_lines", 1.0),
            ("returns_matched_by_order", 1.0),
            ("periods_cancelled_by_returns", 1.0),
        ],
    },
    Case {
        name: "without order ids a refund nets into the latest earlier purchase; an orphan only lowers revenue",
        csv: "customer,date,amount\n\
              c1,2024-01-01,40\n\
              c1,2024-01-05,25\n\
              c1,2024-01-07,-5\n\
              c2,2024-01-03,-8\n\
              c2,2024-01-04,12\n",
        observation_end: None,
        rejects: &[],
        customers: &[("c1", 1, 20.0, 60.0, 2), ("c2", 0, 0.0, 4.0, 1)],
        stats: &[
            ("lines", 5.0),
            ("return_lines", 2.0),
            ("returns_matched_by_date", 1.0),
            ("returns_unmatched", 1.0),
        ],
    },
    Case {
        name: "negative quantity marks a return even with a positive amount; free orders count",
        csv: "customer,date,quantity,amount\n\
              c1,2024-01-01,2,20\n\
              c1,2024-01-02,-1,10\n\
              c1,2024-01-09,1,0\n\
              c2,2024-01-02,-1,5\n",
        observation_end: None,
        rejects: &[],
        // c1: Jan 1 nets to 10; Jan 9 is a free order (0) and still a purchase. c2 only returned.
        customers: &[("c1", 1, 0.0, 10.0, 2)],
        stats: &[
            ("lines", 4.0),
            ("return_lines", 2.0),
            ("returns_matched_by_date", 1.0),
            ("returns_unmatched", 1.0),
            ("customers_without_purchase", 1.0),
            ("value_of_customers_left_out", -5.0),
        ],
    },
    Case {
        name: "a cancellation nets into the latest earlier purchase of its SKU, not a later one",
        csv: "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n\
              536365,85123A,6,2024-01-01 08:26,2.55,17850\n\
              536366,71053,6,2024-01-03 08:28,3.39,17850\n\
              C536379,85123A,-6,2024-01-04 09:41,2.55,17850\n\
              C536380,22633,-1,2024-01-05 09:45,1.85,17850\n",
        observation_end: None,
        rejects: &[],
        // The heart holders of Jan 1 are cancelled whole: Jan 1 nets to 0 and is no purchase. The
        // hand warmer was never bought: it nets into the latest earlier purchase (Jan 3, 20.34 −
        // 1.85). One purchase period is left: frequency 0.
        customers: &[("17850", 0, 0.0, 18.49, 2)],
        stats: &[
            ("lines", 4.0),
            ("return_lines", 2.0),
            ("returns_matched_by_date", 2.0),
            ("returns_by_date_order_not_found", 2.0),
            ("returns_matched_by_sku", 1.0),
            ("periods_cancelled_by_returns", 1.0),
        ],
    },
    Case {
        name: "a cancellation numbered on its own (C536379) nets into the latest earlier purchase",
        csv: "InvoiceNo,StockCode,Quantity,InvoiceDate,UnitPrice,CustomerID\n\
              536365,85123A,6,2024-01-01 08:26,2.55,17850\n\
              536366,71053,6,2024-01-03 08:28,3.39,17850\n\
              C536379,71053,-2,2024-01-04 09:41,3.39,17850\n\
              C536380,22633,-1,2024-01-04 09:45,1.85,13047\n",
        observation_end: None,
        rejects: &[],
        // 17850: Jan 1 (15.30), Jan 3 (20.34 − 6.78 = 13.56). 13047 only cancelled.
        customers: &[("17850", 1, 13.56, 28.86, 2)],
        stats: &[
            ("lines", 4.0),
            ("return_lines", 2.0),
            ("returns_matched_by_date", 1.0),
            ("returns_by_date_order_not_found", 1.0),
            ("returns_matched_by_sku", 1.0),
            ("returns_unmatched", 1.0),
            ("customers_without_purchase", 1.0),
            ("value_of_customers_left_out", -1.85),
        ],
    },
    Case {
        name: "same-day orders merge into one purchase period; lines of one order are one order",
        csv: "customer,order,date,amount\n\
              c1,A,2024-01-01T09:00:00,10\n\
              c1,A,2024-01-01T09:00:00,5\n\
              c1,B,2024-01-01T18:30:00,7\n\
              c1,C,2024-01-03,4\n",
        observation_end: None,
        rejects: &[],
        customers: &[("c1", 1, 4.0, 26.0, 3)],
        stats: &[("lines", 4.0)],
    },
];

/// How a case's file is read: by the CSV parser on one thread, or in blocks of `n` bytes on every
/// core (tiny blocks cut lines, headers and quoted fields at every possible place).
/// `Memory(n)` reads blocks from an in-memory reader that hands out at most `n` bytes per
/// call (an upload or a decompressor, not a file), on one thread for `n` odd.
#[derive(Debug, Clone, Copy)]
enum Reader {
    Serial,
    Blocks(usize),
    Memory(usize),
}

const READERS: [Reader; 7] = [
    Reader::Serial,
    Reader::Blocks(1),
    Reader::Blocks(7),
    Reader::Blocks(40),
    Reader::Blocks(1 << 22),
    Reader::Memory(3),
    Reader::Memory(1 << 20),
];

/// A reader over bytes that returns at most `step` bytes per call.
struct Trickle<'a> {
    bytes: &'a [u8],
    step: usize,
}

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.step).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// Read `bytes` through `reader` into `ledger` (the serial reader feeds it line by line).
fn read_with(
    reader: Reader,
    path: &std::path::Path,
    bytes: &[u8],
    options: &mut ReadOptions,
    rejects: &mut RejectLog,
    ledger: &mut Ledger,
) -> Result<clv_data::ReadReport, clv_data::DataError> {
    let dates = DateParser::utc();
    match reader {
        Reader::Serial => {
            let mut feed = SerialFeed::new(ledger);
            read_delimited(path, options, &dates, rejects, &mut |_| {}, &mut |l| {
                feed.push(l)
            })
        }
        Reader::Blocks(n) => {
            options.block_bytes = Some(n);
            read_delimited_sharded(path, options, &dates, rejects, &mut |_| {}, ledger)
        }
        Reader::Memory(n) => {
            options.block_bytes = Some(64);
            options.threads = if n % 2 == 1 { 1 } else { 2 };
            let name = path.display().to_string();
            let input = Trickle { bytes, step: n };
            read_delimited_sharded_from(
                &name,
                input,
                None,
                options,
                &dates,
                rejects,
                &mut |_| {},
                ledger,
            )
        }
    }
}

fn run(case: &Case, reader: Reader) {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(case.csv.as_bytes()).unwrap();
    let dates = DateParser::utc();
    let mut ledger = Ledger::new(LedgerOptions {
        period: Period::Day,
        observation_end: case.observation_end.and_then(|d| dates.parse_end_bound(d)),
        calibration_end: None,
        threads: 2,
    });
    let rejects_file = tempfile::NamedTempFile::new().unwrap();
    let mut rejects = RejectLog::new(false).write_to(rejects_file.path()).unwrap();
    let mut options = ReadOptions {
        columns: ColumnSpec::default(),
        threads: 2,
        ..Default::default()
    };
    read_with(
        reader,
        file.path(),
        case.csv.as_bytes(),
        &mut options,
        &mut rejects,
        &mut ledger,
    )
    .unwrap_or_else(|e| panic!("{} ({reader:?}): {e}", case.name));
    let name = format!("{} ({reader:?})", case.name);
    rejects.finish().unwrap();

    let got: Vec<(u64, String, String, String)> = rejects
        .examples()
        .iter()
        .map(|r| {
            (
                r.line,
                r.column.clone(),
                r.value.clone(),
                r.reason.code().to_string(),
            )
        })
        .collect();
    let want: Vec<(u64, String, String, String)> = case
        .rejects
        .iter()
        .map(|(l, c, v, r)| (*l, c.to_string(), v.to_string(), r.to_string()))
        .collect();
    assert_eq!(got, want, "{}", name);
    // The rejects file holds the same rows.
    let written = std::fs::read_to_string(rejects_file.path()).unwrap();
    assert_eq!(written.lines().count(), 1 + case.rejects.len(), "{}", name);
    for (line, _, _, reason) in case.rejects {
        assert!(
            written.contains(&format!(",{line},")) && written.contains(reason),
            "{}",
            name
        );
    }

    let h = ledger.finish().expect("some orders");
    let stats = serde_json::to_value(&h.stats).unwrap();
    // The total of the lines is checked against the customers below, not listed per case.
    let counters = stats
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| *k != "value_in_window");
    for (key, value) in counters {
        let want = case
            .stats
            .iter()
            .find(|(n, _)| n == key)
            .map_or(0.0, |(_, v)| *v);
        let got = value.as_f64().unwrap();
        assert!((got - want).abs() < 1e-9, "{name}: {key}: {got} vs {want}");
    }
    let rows = summary_rows(
        &h,
        SummaryOptions {
            time_unit: TimeUnit::Day,
            include_first: false,
            threads: 2,
        },
    );
    let got: Vec<(String, u64, f64, f64, u64)> = rows
        .iter()
        .map(|r| {
            (
                r.customer_id.to_string(),
                r.frequency,
                r.monetary_value,
                r.revenue,
                r.orders,
            )
        })
        .collect();
    let want: Vec<(String, u64, f64, f64, u64)> = case
        .customers
        .iter()
        .map(|(id, f, m, r, o)| (id.to_string(), *f, *m, *r, *o))
        .collect();
    // Revenue reconciles: the customers' net revenue and the value of those left out add up to
    // the lines read (the file's amounts up to the observation end).
    let revenue: f64 = rows.iter().map(|r| r.revenue).sum();
    let left_out = h.stats.value_of_customers_left_out;
    let lines = h.stats.value_in_window;
    assert!(
        (revenue + left_out - lines).abs() < 1e-9,
        "{name}: {revenue} + {left_out} vs {lines}"
    );
    // Money sums carry float noise (20.34 − 6.78 = 13.559999999999999): close, not equal.
    let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
    let same = got.len() == want.len()
        && got.iter().zip(&want).all(|(g, w)| {
            g.0 == w.0 && g.1 == w.1 && close(g.2, w.2) && close(g.3, w.3) && g.4 == w.4
        });
    assert!(same, "{name}: {got:?} vs {want:?}");
}

#[test]
fn rejects_and_returns_policy() {
    for case in CASES {
        for reader in READERS {
            run(case, reader);
        }
    }
}

#[test]
fn strict_stops_at_the_first_bad_row_and_says_where() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"customer,date,amount\nc1,2024-01-01,10\nc1,someday,10\nc1,2024-01-05,x\n")
        .unwrap();
    for reader in READERS {
        let mut rejects = RejectLog::new(true);
        let mut ledger = Ledger::new(LedgerOptions {
            period: Period::Day,
            observation_end: None,
            calibration_end: None,
            threads: 2,
        });
        let mut options = ReadOptions {
            threads: 2,
            ..Default::default()
        };
        let bytes = std::fs::read(file.path()).unwrap();
        let err = read_with(
            reader,
            file.path(),
            &bytes,
            &mut options,
            &mut rejects,
            &mut ledger,
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(":3: column `date` value `someday`: bad_date"),
            "{reader:?}: {err}"
        );
        assert!(err.contains("--date-format"), "{reader:?}: {err}");
    }
}
